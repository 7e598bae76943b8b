//! `nomad-systemd exec`: run a command inside a running task, interactively when stdin is a
//! terminal, and exit with the command's status. Only into this tool's own task units
//! ([`super::own_task`]).

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use super::{GlobalArgs, format, terminal};
use super::{own_task, resolve};
use crate::core::exec::{self, Exec, ExecIo, ExecOptions, ExecStreams};
use crate::core::{Engine, Error, ExitResult, UnitName};

/// How long output may keep arriving after the command exited.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The task: its unit name, an allocation id prefix, job/task, the task name or a glob
    /// matching one unit (see `nomad-systemd --help`).
    #[arg(value_name = "TASK", add = clap_complete::ArgValueCompleter::new(super::candidates::tasks))]
    task: String,
    /// Give the command a terminal [default: when stdin is one].
    #[arg(long, short = 't', conflicts_with = "no_tty")]
    tty: bool,
    /// Never give the command a terminal: stdout and stderr stay apart.
    #[arg(long, short = 'T')]
    no_tty: bool,
    /// Set an environment variable for the command, on top of the task's; repeat for more.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = super::run::parse_env)]
    env: Vec<(String, String)>,
    /// Run the command in this directory, an absolute path as the task sees it
    /// [default: the task's working directory].
    #[arg(long, short = 'w', value_name = "DIR")]
    workdir: Option<String>,
    /// Run the command as this user (a name or uid) with its own groups [default: the task's
    /// user]. Root only when named; refused for a task with a dynamic user and on --bus user.
    #[arg(long, short = 'u', value_name = "USER", add = clap_complete::ArgValueCandidates::new(super::candidates::users))]
    user: Option<String>,
    /// The command and its arguments, run without a shell; after `--` or right after TASK.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD [ARGS]..."
    )]
    argv: Vec<String>,
}

/// The core's error worded for the command line: what it says of the exec's `command` is
/// about CMD, of the `task` about TASK; both are arguments here, not a task's config.
fn worded(e: Error) -> Error {
    match e {
        Error::InvalidConfig { setting, reason } => match setting.as_str() {
            "command" => Error::argument("CMD", reason),
            "task" => Error::argument("TASK", reason),
            _ => Error::InvalidConfig { setting, reason },
        },
        other => other,
    }
}

/// The shell's status for a command that cannot be run: 127 when there is no such program,
/// 126 when there is one but it cannot be executed (a directory, no execute bit, a bad
/// format), as `sh`, `docker exec` and `env` report them; `None` for any other error. A
/// program path is looked up on the host, which is the task's view but for its bound
/// directories.
fn not_runnable(e: &Error, program: &str) -> Option<u8> {
    match e {
        Error::InvalidArgument { argument, .. } if argument == "CMD" => Some(127),
        Error::StartFailed { reason, .. } if reason.contains("could not be executed") => {
            Some(if std::path::Path::new(program).exists() {
                126
            } else {
                127
            })
        }
        _ => None,
    }
}

pub async fn run(global: &GlobalArgs, args: ExecArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let target = resolve::one(&engine, global.scope(), &args.task).await?;
    own_task::require(&engine, &target).await?;
    let interactive = std::io::stdin().is_terminal();
    let tty = args.tty || (interactive && !args.no_tty);
    let io = if tty {
        let (rows, cols) = terminal::size(std::io::stdout())
            .or_else(|| terminal::size(std::io::stdin()))
            .unwrap_or((24, 80));
        ExecIo::Tty { rows, cols }
    } else {
        ExecIo::Pipes
    };
    let options = ExecOptions {
        env: args.env,
        workdir: args.workdir,
        user: args.user,
    };
    let exec = engine
        .exec_with(&target, &args.argv, io, &[], &options)
        .await
        .map_err(worded);
    let Exec { unit, streams } = match exec {
        Ok(exec) => exec,
        Err(e) => match not_runnable(&e, &args.argv[0]) {
            Some(status) => {
                eprintln!("nomad-systemd: {}", super::render(&e));
                return Ok(ExitCode::from(status));
            }
            None => return Err(e),
        },
    };
    let exit = match streams {
        ExecStreams::Pipes {
            stdin,
            stdout,
            stderr,
        } => {
            copy_in(stdin);
            let outputs = [
                copy_out(stdout, Box::new(std::io::stdout())),
                copy_out(stderr, Box::new(std::io::stderr())),
            ];
            let exit = wait_or_interrupt(&engine, &unit).await?;
            drain(outputs).await;
            exit
        }
        ExecStreams::Tty { master } => {
            let dup = |fd: &OwnedFd| {
                fd.try_clone()
                    .map_err(|e| Error::io("cannot duplicate the exec terminal", e))
            };
            let (reader, writer) = (dup(&master)?, dup(&master)?);
            let stdin = std::io::stdin();
            let raw = if interactive {
                Some(
                    terminal::RawMode::enter(stdin.as_fd())
                        .map_err(|e| Error::io("cannot put the terminal in raw mode", e.into()))?,
                )
            } else {
                None
            };
            copy_in(writer);
            let output = copy_out(reader, Box::new(std::io::stdout()));
            let resizing = tokio::spawn(follow_resizes(master));
            let exit = wait_or_interrupt(&engine, &unit).await;
            resizing.abort();
            drain([output]).await;
            drop(raw);
            exit?
        }
    };
    Ok(ExitCode::from(format::exit_status(&exit)))
}

/// Waits for the command; Ctrl-C (outside a terminal session, where it reaches the command
/// itself) kills it instead.
async fn wait_or_interrupt(engine: &Engine, unit: &UnitName) -> Result<ExitResult, Error> {
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| Error::io("cannot watch for Ctrl-C", e))?;
    tokio::select! {
        exit = engine.exec_wait(unit) => exit,
        _ = interrupt.recv() => {
            engine.exec_kill(unit).await?;
            Ok(ExitResult { exit_code: 128 + 2, signal: 2, oom_killed: false })
        }
    }
}

/// Keeps the remote terminal as large as ours.
pub(super) async fn follow_resizes(master: OwnedFd) {
    let Ok(mut changes) = signal(SignalKind::window_change()) else {
        return;
    };
    while changes.recv().await.is_some() {
        if let Some((rows, cols)) = terminal::size(std::io::stdout()) {
            let _ = exec::resize(&master, rows, cols);
        }
    }
}

/// Copies our stdin into the command until our stdin ends (then the command sees EOF).
pub(super) fn copy_in(fd: OwnedFd) {
    std::thread::spawn(move || {
        let mut remote = File::from(fd);
        let mut local = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        while let Ok(n) = local.read(&mut buf) {
            if n == 0 || remote.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
}

/// Copies one of the command's streams to ours until it ends.
pub(super) fn copy_out(fd: OwnedFd, mut local: Box<dyn Write + Send>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut remote = File::from(fd);
        let mut buf = [0u8; 4096];
        // A pty master ends with EIO once the command's side is closed.
        while let Ok(n) = remote.read(&mut buf) {
            if n == 0
                || local
                    .write_all(&buf[..n])
                    .and_then(|()| local.flush())
                    .is_err()
            {
                return;
            }
        }
    })
}

pub(super) async fn drain<const N: usize>(outputs: [JoinHandle<()>; N]) {
    let joined = tokio::task::spawn_blocking(move || {
        for output in outputs {
            let _ = output.join();
        }
    });
    let _ = tokio::time::timeout(DRAIN, joined).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exec_command_and_task_are_arguments() {
        let e = worded(Error::invalid("command", "'nosuch' is not on PATH (/bin)"));
        assert_eq!(e.to_string(), "CMD: 'nosuch' is not on PATH (/bin)");
        assert_eq!(not_runnable(&e, "nosuch"), Some(127));
        let e = worded(Error::invalid("task", "x.service has exited"));
        assert_eq!(e.to_string(), "TASK: x.service has exited");
        assert!(matches!(
            worded(Error::invalid("env", "bad")),
            Error::InvalidConfig { .. }
        ));
    }
}
