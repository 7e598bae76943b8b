//! `run --pty`: the task's own pseudo-terminal, relayed to the operator's, as `systemd-run
//! --pty` and an interactive `exec` do. The operator's terminal is in raw mode while the task
//! runs, so every key, Ctrl-C included, goes to the task; the command itself is stopped only
//! by a signal sent to it (then as `run --wait` stops a task, see [`super::foreground`]).

use std::future::Future;
use std::io::IsTerminal;
use std::os::fd::{AsFd, OwnedFd};

use super::{exec, terminal};
use crate::core::stdio::Output;
use crate::core::{Error, ExitResult};

/// The terminal type the task gets when the operator's environment names none.
const DEFAULT_TERM: &str = "xterm-256color";

/// A pseudo-terminal of the operator's terminal's size (80×24 when there is none) for the
/// task, and its master end.
pub fn terminal() -> Result<(Output, OwnedFd), Error> {
    let (rows, cols) = terminal::size(std::io::stdout())
        .or_else(|| terminal::size(std::io::stdin()))
        .unwrap_or((24, 80));
    Output::terminal(rows, cols)
}

/// `TERM` for the task, as the operator's (as `systemd-run --pty` passes it on), unless the
/// task sets its own.
pub fn add_term(env: &mut Vec<(String, String)>) {
    if env.iter().any(|(k, _)| k == "TERM") {
        return;
    }
    let term = std::env::var("TERM").unwrap_or_else(|_| DEFAULT_TERM.to_string());
    env.push(("TERM".into(), term));
}

/// Relays the operator's stdin to the task's terminal and the terminal to stdout while
/// `waiting` runs, then the output that remains. `waiting` should end with the task's unit
/// removed: systemd holds the terminal's other end until then, and the last output is read
/// up to where the terminal closes.
pub async fn run(
    master: OwnedFd,
    waiting: impl Future<Output = Result<ExitResult, Error>>,
) -> Result<ExitResult, Error> {
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| Error::io("cannot duplicate the task's terminal", e))
    };
    let (reader, writer) = (dup(&master)?, dup(&master)?);
    let stdin = std::io::stdin();
    let raw = if stdin.is_terminal() {
        Some(
            terminal::RawMode::enter(stdin.as_fd())
                .map_err(|e| Error::io("cannot put the terminal in raw mode", e.into()))?,
        )
    } else {
        None
    };
    exec::copy_in(writer);
    let output = exec::copy_out(reader, Box::new(std::io::stdout()));
    let resizing = tokio::spawn(exec::follow_resizes(master));
    let exit = waiting.await;
    resizing.abort();
    exec::drain([output]).await;
    drop(raw);
    exit
}
