//! `command` + `args` → `ExecStart`.
//!
//! The argv is handed to systemd as a list, never through a shell, and every `$` in it stays
//! literal (see [`ExecCommand`]): Nomad has already interpolated `${...}` in the job.
//! systemd needs an absolute path, so a relative command is resolved here the way Nomad's
//! executors do it: first under the task's `local/` directory (where artifacts land), then, for
//! a bare name, on the task's `PATH`.
//!
//! A task with a `runtime` (a WebAssembly module's) runs `[runtime, module, args...]`: the
//! runtime is found like a command, the module is a file, absolute or under `local/`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::core::error::{Error, Result};
use crate::core::property::{ExecCommand, Property};
use crate::core::task::{TaskSpec, mount_points};

pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The kernel's limit on one argument or environment string, its NUL included
/// (`MAX_ARG_STRLEN`, 32 pages): `execve` fails with `E2BIG` past it.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// The most the argument and environment strings may take together, pointers included. The
/// kernel allows a quarter of the stack limit (2 MiB under the default 8 MiB); systemd adds
/// variables of its own, for which a margin is kept.
pub const MAX_ARGS_TOTAL: usize = (2 << 20) - (64 << 10);

pub fn properties(spec: &TaskSpec) -> Result<Vec<Property>> {
    let head = match &spec.runtime {
        None => vec![resolve(spec, &spec.command, "command")?],
        Some(runtime) => vec![resolve(spec, runtime, "wasm_runtime")?, module(spec)?],
    };
    let path = head[0].clone();
    for arg in &spec.args {
        if arg.contains('\0') {
            return Err(Error::invalid("args", "an argument contains a NUL byte"));
        }
    }
    let argv: Vec<String> = head.into_iter().chain(spec.args.iter().cloned()).collect();
    let env: Vec<String> = spec
        .unit_env()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    check_exec_size("args", &argv, &env)?;
    let exec = ExecCommand { path, argv };
    Ok(vec![exec.start_property()])
}

/// Refuses an argv (`setting` names it) that the kernel would refuse to execute together with
/// `env`: systemd would start the unit, fail `execve` with `E2BIG` and report only exit status
/// 203.
pub fn check_exec_size(setting: &str, argv: &[String], env: &[String]) -> Result<()> {
    if let Some((i, arg)) = argv
        .iter()
        .enumerate()
        .find(|(_, a)| a.len() >= MAX_ARG_STRLEN)
    {
        let which = if i == 0 {
            "the command".to_string()
        } else {
            format!("argument {i}")
        };
        return Err(Error::invalid(
            setting,
            format!(
                "{which} is {} bytes; the kernel executes no argument of {MAX_ARG_STRLEN} bytes \
                 or more (MAX_ARG_STRLEN); pass large data in a file under local/ instead",
                arg.len()
            ),
        ));
    }
    if let Some(var) = env.iter().find(|e| e.len() >= MAX_ARG_STRLEN) {
        let name = var.split('=').next().unwrap_or_default();
        return Err(Error::invalid(
            format!("env.{name}"),
            format!(
                "is {} bytes; the kernel executes no environment string of {MAX_ARG_STRLEN} \
                 bytes or more (MAX_ARG_STRLEN); pass large data in a file instead",
                var.len()
            ),
        ));
    }
    let pointer = std::mem::size_of::<usize>();
    let total: usize = argv.iter().chain(env).map(|s| s.len() + 1 + pointer).sum();
    if total > MAX_ARGS_TOTAL {
        return Err(Error::invalid(
            setting,
            format!(
                "the arguments and environment take {total} bytes; the kernel executes at most \
                 about 2 MiB of them (ARG_MAX, a quarter of the default stack limit), less \
                 what systemd adds"
            ),
        ));
    }
    Ok(())
}

/// The module a runtime is given, as the task will see it: the command, absolute or a file
/// under `local/`.
fn module(spec: &TaskSpec) -> Result<String> {
    let command = spec.command.as_str();
    if command.starts_with('/') {
        return Ok(command.to_string());
    }
    match &spec.dirs {
        Some(dirs) if dirs.local.join(command).is_file() && !command.contains("..") => {
            Ok(format!("{}/{command}", mount_points::LOCAL))
        }
        _ => Err(Error::invalid(
            "command",
            format!("module '{command}' is not a file in the task's local/ directory"),
        )),
    }
}

/// The absolute path of the program `command` (the option `setting`) as the task will see it.
fn resolve(spec: &TaskSpec, command: &str, setting: &str) -> Result<String> {
    if command.is_empty() {
        return Err(Error::invalid(setting, "is required"));
    }
    if command.contains('\0') {
        return Err(Error::invalid(setting, "contains a NUL byte"));
    }
    if command.starts_with('/') {
        return Ok(command.to_string());
    }
    if let Some(dirs) = &spec.dirs
        && is_executable(&dirs.local.join(command))
    {
        return Ok(format!("{}/{command}", mount_points::LOCAL));
    }
    if !command.contains('/') {
        let search = spec.env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
        if let Some(found) = search_path(command, search) {
            return Ok(found.to_string_lossy().into_owned());
        }
    }
    let place = if spec.dirs.is_some() {
        "in the task's local/ directory"
    } else {
        "(the task has no local/ directory to look in)"
    };
    let on_path = if command.contains('/') {
        ""
    } else {
        " or on PATH"
    };
    Err(Error::invalid(
        setting,
        format!("'{command}' is not an executable file {place}{on_path}"),
    ))
}

pub(crate) fn search_path(name: &str, search: &str) -> Option<PathBuf> {
    search
        .split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_kernel_would_not_execute_is_refused_naming_the_limit() {
        let argv = |arg: String| vec!["/bin/echo".to_string(), arg];
        assert!(check_exec_size("args", &argv("x".repeat(MAX_ARG_STRLEN - 1)), &[]).is_ok());
        let e = check_exec_size("args", &argv("x".repeat(1 << 20)), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("args") && e.contains("argument 1") && e.contains("MAX_ARG_STRLEN"),
            "{e}"
        );
        let env = vec![format!("BIG={}", "x".repeat(MAX_ARG_STRLEN))];
        let e = check_exec_size("args", &argv("x".into()), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("env.BIG"), "{e}");
        let many: Vec<String> = (0..20).map(|_| "x".repeat(120 << 10)).collect();
        let e = check_exec_size("args", &many, &[]).unwrap_err().to_string();
        assert!(e.contains("ARG_MAX"), "{e}");
    }
    use crate::core::mapping::test_spec;
    use crate::core::task::TaskDirs;

    fn exec_of(spec: &TaskSpec) -> ExecCommand {
        let props = properties(spec).unwrap();
        crate::core::property::start_command(&props)
            .expect("no ExecStart")
            .clone()
    }

    #[test]
    fn absolute_command_is_kept_with_its_args_literal() {
        let mut spec = test_spec();
        spec.command = "/bin/echo".into();
        spec.args = vec!["$HOME".into(), "a b".into()];
        let exec = exec_of(&spec);
        assert_eq!(exec.path, "/bin/echo");
        assert_eq!(exec.argv, ["/bin/echo", "$HOME", "a b"]);
        assert_eq!(exec.wire_argv(), ["/bin/echo", "$$HOME", "a b"]);
    }

    #[test]
    fn relative_command_resolves_under_local() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::nomad_layout(tmp.path(), "web").unwrap();
        std::fs::create_dir_all(dirs.local.join("bin")).unwrap();
        let tool = dirs.local.join("bin/tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut spec = test_spec();
        spec.dirs = Some(dirs);
        spec.command = "bin/tool".into();
        assert_eq!(exec_of(&spec).path, "/local/bin/tool");
    }

    #[test]
    fn a_module_runs_through_its_runtime() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::nomad_layout(tmp.path(), "web").unwrap();
        std::fs::create_dir_all(&dirs.local).unwrap();
        std::fs::write(dirs.local.join("app.wasm"), b"\0asm").unwrap();
        let mut spec = test_spec();
        spec.dirs = Some(dirs);
        spec.command = "app.wasm".into();
        spec.args = vec!["--port".into(), "80".into()];
        spec.runtime = Some("sh".into());
        let exec = exec_of(&spec);
        assert!(exec.path.ends_with("/sh"));
        assert_eq!(exec.argv[1..], ["/local/app.wasm", "--port", "80"]);
        spec.command = "missing.wasm".into();
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("module")
        );
        spec.command = "/abs/app.wasm".into();
        spec.runtime = Some("no-such-runtime-xyz".into());
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("wasm_runtime")
        );
    }

    #[test]
    fn bare_name_falls_back_to_path() {
        let mut spec = test_spec();
        spec.command = "sh".into();
        assert!(exec_of(&spec).path.ends_with("/sh"));
    }

    #[test]
    fn missing_or_empty_command_is_a_clear_error() {
        let mut spec = test_spec();
        spec.command = "".into();
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("command: is required")
        );
        spec.command = "no-such-program-xyz".into();
        let err = properties(&spec).unwrap_err().to_string();
        assert!(
            err.contains("'no-such-program-xyz' is not an executable file"),
            "{err}"
        );
        spec.command = "/bin/echo".into();
        spec.args = vec!["a\0b".into()];
        assert!(properties(&spec).is_err());
    }
}
