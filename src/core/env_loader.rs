//! The exec-time environment loader: how a variable systemd cannot carry reaches the task.
//!
//! systemd's `Environment=` (and `EnvironmentFile=`) take only names of letters, digits and
//! `_` and values without control characters other than tab and newline; Nomad's exec driver
//! passes any name and value the kernel can carry (`app.name`, `my-var`, meta keys with dots,
//! a value with CR). Such variables are handed to this binary instead: the unit's command
//! becomes
//!
//! ```text
//! <this binary> --nomad-systemd-env-loader NAME=VALUE… -- <program> <argv0> <args>…
//! ```
//!
//! and [`main`] adds the assignments to the environment systemd built and `execve`s the
//! program with its own argv, never through a shell. The assignments are the unit's own
//! `ExecStart` arguments: set by the driver over D-Bus, out of the task's reach, and no more
//! visible than `Environment=` already is (both are unit properties). A doubled `$` keeps
//! `$` literal (`ExecCommand`) and systemd does not expand `%` in arguments given over D-Bus. A task whose
//! variables all fit `Environment=` runs without the loader.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use crate::core::property::ExecCommand;

/// The first argument that makes this binary the loader.
pub const MARK: &str = "--nomad-systemd-env-loader";
/// The same, for a unit that does not ignore SIGPIPE (`IgnoreSIGPIPE=no`): the loader's
/// runtime ignores it, so it restores the default before `execve`.
pub const MARK_SIGPIPE_DEFAULT: &str = "--nomad-systemd-env-loader-sigpipe-default";
/// Ends the assignments; what follows is the program and its argv.
const END: &str = "--";
/// The exit status when the loader cannot run the program (systemd's 203, `EXIT_EXEC`).
const EXIT_EXEC: u8 = 203;

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// The loader's path: this executable, as the kernel knows it. After a package upgrade
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
    Ok(())
}

/// Whether this process was started as the loader (its first argument is [`MARK`]).
pub fn invoked() -> bool {
    let first = std::env::args_os().nth(1);
    [MARK, MARK_SIGPIPE_DEFAULT]
        .iter()
        .any(|m| first.as_deref() == Some(OsStr::new(m)))
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
    argv.extend(assignments.iter().cloned());
    argv.push(END.to_string());
    argv.push(command.path.clone());
    argv.extend(command.argv.iter().cloned());
    ExecCommand {
        path: loader.to_string(),
        argv,
    }
}

/// The assignments a loader command line carries, or `None` when `argv` is not one.
pub fn assignments(argv: &[String]) -> Option<Vec<String>> {
    let first = argv.get(1).map(String::as_str);
    if first != Some(MARK) && first != Some(MARK_SIGPIPE_DEFAULT) {
        return None;
    }
    let rest = &argv[2..];
    let end = rest.iter().position(|a| a == END)?;
    Some(rest[..end].to_vec())
}

/// The loader: parses its argv, builds the environment and `execve`s the program. Returns
/// only on failure, with a message on stderr (the task's log) and exit status 203.
pub fn main() -> ExitCode {
    let sigpipe_default =
        std::env::args_os().nth(1).as_deref() == Some(OsStr::new(MARK_SIGPIPE_DEFAULT));
    let args: Vec<OsString> = std::env::args_os().skip(2).collect();
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
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("loader");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(check_executable(&file).unwrap_err().contains("o+x"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_executable(&file).is_ok());
        assert!(check_executable(dir.path()).is_err());
        assert!(check_executable(&dir.path().join("absent")).is_err());
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
                "echo $x"
            ]
        );
        assert_eq!(assignments(&w.argv).unwrap(), vars);
        assert_eq!(assignments(&cmd.argv), None);
        let d = wrap("/usr/bin/nomad-systemd", &cmd, &vars, true);
        assert_eq!(d.argv[1], MARK_SIGPIPE_DEFAULT);
        assert_eq!(assignments(&d.argv).unwrap(), vars);
    }
}
