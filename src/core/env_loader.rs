//! The exec-time loader: how a variable or an argument systemd cannot carry literally reaches
//! the task.
//!
//! systemd's `Environment=` (and `EnvironmentFile=`) take only names of letters, digits and
//! `_` and values without control characters other than tab and newline; Nomad's exec driver
//! passes any name and value the kernel can carry (`app.name`, `my-var`, meta keys with dots,
//! a value with CR). Such variables are handed to this binary instead: the unit's command
//! becomes
//!
//! ```text
//! <this binary> --nomad-systemd-loader NAME=VALUE… -- <program> <argv0> <args>…
//! ```
//!
//! and [`main`] adds the assignments to the environment systemd built and `execve`s the
//! program with its own argv, never through a shell. The assignments are the unit's own
//! `ExecStart` arguments: set by the driver over D-Bus, out of the task's reach, and no more
//! visible than `Environment=` already is (both are unit properties).
//!
//! Arguments take the same way when they hold a byte systemd does not carry through a
//! `daemon-reload` ([`needs_encoding`]): after a reload systemd re-reads a transient unit from
//! the file it saved, and it saves `$` and `;` in `ExecStart=` arguments in forms its own
//! parser reads back altered (v252: `\$`, `\;`; v257: `$$`). A running task is unaffected,
//! but a start job still pending at the reload runs the altered command. Every string after
//! the mark is therefore percent-encoded ([`encode`]) in an alphabet every version saves and
//! reads back unchanged, and the loader decodes it. A task whose variables all fit
//! `Environment=` and whose arguments need no encoding runs without the loader.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use crate::core::property::ExecCommand;

/// The first argument that makes this binary the loader; the strings after it are encoded
/// ([`encode`]).
pub const MARK: &str = "--nomad-systemd-loader";
/// The same, for a unit that does not ignore SIGPIPE (`IgnoreSIGPIPE=no`): the loader's
/// runtime ignores it, so it restores the default before `execve`.
pub const MARK_SIGPIPE_DEFAULT: &str = "--nomad-systemd-loader-sigpipe-default";
/// The marks of earlier releases, whose strings are not encoded: a unit they started may
/// still run (an exec session reads its assignments back) or start after an upgrade.
const RAW_MARKS: [&str; 2] = [
    "--nomad-systemd-env-loader",
    "--nomad-systemd-env-loader-sigpipe-default",
];
/// Ends the assignments; what follows is the program and its argv.
const END: &str = "--";
/// The exit status when the loader cannot run the program (systemd's 203, `EXIT_EXEC`).
const EXIT_EXEC: u8 = 203;

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes `path` the loader instead of this executable, for a program that links the driver's
/// library but is not its binary (a test); has no effect once the loader was named.
pub fn use_program(path: PathBuf) {
    let _ = PROGRAM.set(path);
}

/// The loader's path: this executable, as the kernel knows it (or what [`use_program`] set). After a package upgrade
/// replaced the file the kernel names it `<path> (deleted)`; the new binary at `<path>` is
/// then the loader (its protocol is this one).
pub fn program() -> Option<&'static PathBuf> {
    if let Some(p) = PROGRAM.get() {
        return Some(p);
    }
    let exe = std::env::current_exe().ok()?;
    let exe = match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
        Some(path) => PathBuf::from(path),
        None => exe,
    };
    Some(PROGRAM.get_or_init(|| exe))
}

/// Refuses a loader the task's user could not execute: the unit would fail with only
/// systemd's exit status 203. The binary must be executable by others (as a packaged
/// `/usr/bin/nomad-systemd` is).
pub fn check_executable(loader: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(loader).map_err(|e| {
        format!(
            "the driver's loader {} cannot be read: {e}",
            loader.display()
        )
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o001 == 0 {
        return Err(format!(
            "the driver's loader {} is not a file every user may execute (mode o+x)",
            loader.display()
        ));
    }
    // A task runs with its own /tmp and /var/tmp (PrivateTmp), where the binary is not.
    if loader.starts_with("/tmp") || loader.starts_with("/var/tmp") {
        return Err(format!(
            "the driver's loader {} is under /tmp or /var/tmp, which tasks see privately; \
             install the driver elsewhere",
            loader.display()
        ));
    }
    for dir in loader.ancestors().skip(1) {
        let mode = std::fs::metadata(dir).map(|m| m.permissions().mode());
        if mode.is_ok_and(|m| m & 0o001 == 0) {
            return Err(format!(
                "the driver's loader {} is below {}, which not every user may enter (mode \
                 o+x); install the driver where tasks can reach it",
                loader.display(),
                dir.display()
            ));
        }
    }
    Ok(())
}

/// Whether this process was started as the loader (its first argument is [`MARK`]).
pub fn invoked() -> bool {
    let first = std::env::args_os().nth(1);
    let first = first.as_deref().and_then(OsStr::to_str);
    first.is_some_and(|f| mark(f).is_some())
}

/// How the strings after `first` are written: `Some(true)` encoded, `Some(false)` raw (an
/// earlier release's mark), `None` when `first` is no mark.
fn mark(first: &str) -> Option<bool> {
    if first == MARK || first == MARK_SIGPIPE_DEFAULT {
        Some(true)
    } else if RAW_MARKS.contains(&first) {
        Some(false)
    } else {
        None
    }
}

/// Whether `byte` may not reach systemd as it is: `$` and `;` (altered through a reload, see
/// the module docs), `\` and `%` (escaped by systemd when saved; encoded so no version's
/// escaping matters), control characters, and `+`, the encoding's own escape.
fn needs_escape(byte: u8) -> bool {
    matches!(byte, b'$' | b';' | b'\\' | b'%' | b'+') || byte < 0x20 || byte == 0x7f
}

/// Whether `command` has an argument that must go through the loader to stay literal across
/// a `daemon-reload`. The program and argv\[0\] do not count: a program whose name holds
/// such bytes is left to fail its start plainly, as it would without the loader.
pub fn needs_encoding(command: &ExecCommand) -> bool {
    command
        .argv
        .iter()
        .skip(1)
        .any(|a| a.bytes().any(|b| needs_escape(b) && b != b'+'))
}

/// `s` with each byte [`needs_escape`] names written `+HH` (upper-case hex).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && needs_escape(c as u8) {
            out.push_str(&format!("+{:02X}", c as u8));
        } else {
            out.push(c);
        }
    }
    out
}

/// The bytes [`encode`] wrote `s` from; `None` for a malformed `+` escape.
fn decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'+' {
            let hex = std::str::from_utf8(s.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// `command` run through the loader with `assignments` (`NAME=VALUE`) added to its
/// environment; `sigpipe_default` when the unit does not ignore SIGPIPE.
pub fn wrap(
    loader: &str,
    command: &ExecCommand,
    assignments: &[String],
    sigpipe_default: bool,
) -> ExecCommand {
    let mut argv = Vec::with_capacity(assignments.len() + command.argv.len() + 4);
    argv.push(loader.to_string());
    argv.push(
        if sigpipe_default {
            MARK_SIGPIPE_DEFAULT
        } else {
            MARK
        }
        .to_string(),
    );
    argv.extend(assignments.iter().map(|a| encode(a)));
    argv.push(END.to_string());
    argv.push(encode(&command.path));
    argv.extend(command.argv.iter().map(|a| encode(a)));
    ExecCommand {
        path: loader.to_string(),
        argv,
    }
}

/// The assignments a loader command line carries, or `None` when `argv` is not one.
pub fn assignments(argv: &[String]) -> Option<Vec<String>> {
    let encoded = mark(argv.get(1)?)?;
    let rest = &argv[2..];
    let end = rest.iter().position(|a| a == END)?;
    rest[..end]
        .iter()
        .map(|a| match encoded {
            true => String::from_utf8(decode(a.as_bytes())?).ok(),
            false => Some(a.clone()),
        })
        .collect()
}

/// The task's own argv (argv\[0\] first) in a loader command line, the loader's part taken
/// off and decoded; `None` when `argv` is not one.
pub fn wrapped_command(argv: &[String]) -> Option<Vec<String>> {
    let encoded = mark(argv.get(1)?)?;
    let rest = &argv[2..];
    let end = rest.iter().position(|a| a == END)?;
    // After the end mark: the program's path, then its argv.
    rest.get(end + 2..)?
        .iter()
        .map(|a| match encoded {
            true => String::from_utf8(decode(a.as_bytes())?).ok(),
            false => Some(a.clone()),
        })
        .collect()
}

/// The loader: parses its argv, builds the environment and `execve`s the program. Returns
/// only on failure, with a message on stderr (the task's log) and exit status 203.
pub fn main() -> ExitCode {
    let first = std::env::args_os().nth(1).unwrap_or_default();
    let first = first.to_str().unwrap_or_default();
    let sigpipe_default = first == MARK_SIGPIPE_DEFAULT || first == RAW_MARKS[1];
    let mut args: Vec<OsString> = std::env::args_os().skip(2).collect();
    if mark(first) == Some(true) {
        for a in args.iter_mut() {
            match decode(a.as_bytes()) {
                Some(bytes) => *a = OsString::from_vec(bytes),
                None => return fail("a malformed '+' escape in an argument"),
            }
        }
    }
    let Some(end) = args.iter().position(|a| a == END) else {
        return fail("no '--' before the program");
    };
    let (assigned, rest) = args.split_at(end);
    let rest = &rest[1..];
    if rest.len() < 2 {
        return fail("no program and argv after '--'");
    }
    let mut names: Vec<&[u8]> = Vec::with_capacity(assigned.len());
    for a in assigned {
        match a.as_bytes().iter().position(|&b| b == b'=') {
            Some(i) if i > 0 => names.push(&a.as_bytes()[..i]),
            _ => return fail("an assignment without a name"),
        }
    }
    // systemd's variables first, less any the assignments replace, then the assignments.
    let mut env: Vec<CString> = Vec::new();
    for (k, v) in std::env::vars_os() {
        if names.contains(&k.as_bytes()) {
            continue;
        }
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        match CString::new(kv) {
            Ok(c) => env.push(c),
            Err(_) => return fail("a NUL byte in systemd's environment"),
        }
    }
    for a in assigned {
        match CString::new(a.as_bytes()) {
            Ok(c) => env.push(c),
            Err(_) => return fail("a NUL byte in an assignment"),
        }
    }
    let cstrings = |v: &[OsString]| -> Option<Vec<CString>> {
        v.iter().map(|a| CString::new(a.as_bytes()).ok()).collect()
    };
    let (Some(path), Some(argv)) = (cstrings(&rest[..1]), cstrings(&rest[1..])) else {
        return fail("a NUL byte in the command");
    };
    if sigpipe_default {
        use nix::sys::signal::{SigHandler, Signal, signal};
        // SAFETY: single-threaded, just before execve; no handler is installed.
        if let Err(e) = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) } {
            return fail(&format!("cannot restore SIGPIPE: {e}"));
        }
    }
    let err = match nix::unistd::execve(&path[0], &argv, &env) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    fail(&format!(
        "cannot execute {}: {err}",
        rest[0].to_string_lossy()
    ))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("nomad-systemd environment loader: {message}");
    ExitCode::from(EXIT_EXEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loader_others_cannot_execute_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path, m| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        // Not under /tmp, which tasks see privately.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        mode(dir.path(), 0o755);
        let file = dir.path().join("loader");
        std::fs::write(&file, "").unwrap();
        mode(&file, 0o750);
        assert!(check_executable(&file).unwrap_err().contains("o+x"));
        mode(&file, 0o755);
        assert!(check_executable(&file).is_ok());
        assert!(check_executable(dir.path()).is_err());
        assert!(check_executable(&dir.path().join("absent")).is_err());
        mode(dir.path(), 0o750);
        let closed = check_executable(&file).unwrap_err();
        assert!(closed.contains("not every user may enter"), "{closed}");
        mode(dir.path(), 0o755);
        let private = tempfile::tempdir_in("/tmp").unwrap();
        let in_tmp = private.path().join("loader");
        std::fs::write(&in_tmp, "").unwrap();
        mode(private.path(), 0o755);
        mode(&in_tmp, 0o755);
        assert!(check_executable(&in_tmp).unwrap_err().contains("/tmp"));
    }

    #[test]
    fn a_wrapped_command_carries_its_assignments_and_its_own_argv() {
        let cmd = ExecCommand {
            path: "/bin/sh".into(),
            argv: vec!["sh".into(), "-c".into(), "echo $x".into()],
        };
        let vars = vec!["app.name=x".to_string(), "--=y".to_string()];
        let w = wrap("/usr/bin/nomad-systemd", &cmd, &vars, false);
        assert_eq!(w.path, "/usr/bin/nomad-systemd");
        assert_eq!(
            w.argv,
            [
                "/usr/bin/nomad-systemd",
                MARK,
                "app.name=x",
                "--=y",
                "--",
                "/bin/sh",
                "sh",
                "-c",
                "echo +24x"
            ]
        );
        assert_eq!(assignments(&w.argv).unwrap(), vars);
        assert_eq!(assignments(&cmd.argv), None);
        let d = wrap("/usr/bin/nomad-systemd", &cmd, &vars, true);
        assert_eq!(d.argv[1], MARK_SIGPIPE_DEFAULT);
        assert_eq!(assignments(&d.argv).unwrap(), vars);
    }

    #[test]
    fn encoding_leaves_only_bytes_systemd_reads_back_and_decodes_exactly() {
        let hostile = "$HOME ${X} $$ a;b \\ %n + é\n\t\x7f\"'";
        let encoded = encode(hostile);
        assert!(
            !encoded.bytes().any(|b| needs_escape(b) && b != b'+'),
            "{encoded}"
        );
        assert_eq!(decode(encoded.as_bytes()).unwrap(), hostile.as_bytes());
        assert_eq!(encode("plain -x=1 /a/b"), "plain -x=1 /a/b");
        assert_eq!(decode(b"+2"), None);
        assert_eq!(decode(b"+zz"), None);
        let cmd = |arg: &str| ExecCommand {
            path: "/bin/sh".into(),
            argv: vec!["sh".into(), arg.into()],
        };
        assert!(needs_encoding(&cmd("a;b")));
        let odd_program = ExecCommand {
            path: "/bin/a;b".into(),
            argv: vec!["/bin/a;b".into(), "x".into()],
        };
        assert!(!needs_encoding(&odd_program));
        assert!(needs_encoding(&cmd("$x")));
        assert!(!needs_encoding(&cmd("1+1 'q' \"d\"")));
    }
}
