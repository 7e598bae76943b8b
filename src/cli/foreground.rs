//! A task run in the foreground (`run --wait`): its output shown as it runs, and Ctrl-C
//! handled as an operator expects from a program in the foreground.
//!
//! **Output.** On a terminal the task's journal is followed (the core's
//! [`Engine::read_logs`], as `logs -f` does), rather than the task writing to the terminal
//! itself: the task runs exactly as under Nomad (no terminal, output in the journal, where
//! `logs` still finds it afterwards), and a terminal that goes away or stops reading never
//! blocks or kills it. `--pipe` hands the task this command's own descriptors instead
//! ([`crate::core::stdio::Output::inherited`]); `--pty` a terminal of its own, relayed by
//! [`super::relay`].
//!
//! **Ctrl-C.** The first Ctrl-C (or SIGTERM) stops the task the way Nomad does, with its kill
//! signal and, after its kill timeout, SIGKILL; the second kills it at once. Either way the
//! command waits for the task's end and exits with the task's result, so what a script sees
//! is how the task ended.

use std::io::Write;
use std::time::Duration;

use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};
use tokio::sync::Notify;

use super::format;
use crate::core::logs::{LogLine, LogQuery, Stream};
use crate::core::{Engine, Error, ExitResult, Signal, UnitName};

/// How long the task's last lines may take to be shown once it has exited.
const DRAIN: Duration = Duration::from_secs(10);

/// How the task is stopped when the operator interrupts.
#[derive(Debug, Clone, Copy)]
pub struct Stopping {
    pub signal: Signal,
    pub timeout: Duration,
}

/// Waits for `unit` to exit, showing its journal lines as they come when `follow` is given,
/// and stopping it on the `interrupts` (see the module documentation); those that came
/// before count, so a Ctrl-C while the task was starting stops it once started. Returns how
/// the task ended.
pub async fn wait(
    engine: &Engine,
    unit: &UnitName,
    stopping: Stopping,
    follow: Option<LogQuery>,
    mut interrupts: Interrupts,
) -> Result<ExitResult, Error> {
    let ended = Notify::new();
    let ending = async {
        let exit = until_exit(engine, unit, stopping, &mut interrupts).await;
        ended.notify_one();
        exit
    };
    let showing = async {
        let Some(query) = follow else { return };
        let reading = engine.read_logs(&query, show_line);
        tokio::pin!(reading);
        let shown = tokio::select! {
            shown = &mut reading => shown,
            () = ended.notified() => match tokio::time::timeout(DRAIN, reading).await {
                Ok(shown) => shown,
                Err(_) => return,
            },
        };
        if let Err(e) = shown {
            eprintln!("warning: cannot show the task's output: {e}");
        }
    };
    let (exit, ()) = tokio::join!(ending, showing);
    exit
}

async fn until_exit(
    engine: &Engine,
    unit: &UnitName,
    stopping: Stopping,
    interrupts: &mut Interrupts,
) -> Result<ExitResult, Error> {
    tokio::select! {
        exit = engine.wait(unit) => return exit,
        () = interrupts.next() => {}
    }
    say(&format!(
        "Stopping {unit} with {}: waiting {}, then SIGKILL (Ctrl-C again to kill now)",
        stopping.signal,
        format::duration(stopping.timeout)
    ));
    tokio::select! {
        exit = engine.stop(unit, stopping.signal, stopping.timeout) => exit,
        () = interrupts.next() => {
            say(&format!("Killing {unit} with SIGKILL"));
            engine.kill_now(unit).await?;
            engine.wait(unit).await
        }
    }
}

/// A line on stderr, ended as the terminal needs it: with a carriage return too while it is
/// in raw mode (`run --pty`), where a newline alone does not return to the first column.
fn say(text: &str) {
    use nix::sys::termios::{OutputFlags, tcgetattr};
    let raw =
        tcgetattr(std::io::stderr()).is_ok_and(|t| !t.output_flags.contains(OutputFlags::OPOST));
    let end = if raw { "\r\n" } else { "\n" };
    let _ = write!(std::io::stderr(), "{text}{end}");
}

/// One journal line, on stdout or stderr as the task wrote it, made harmless to the terminal
/// ([`super::terminal::visible`]). An error (a closed pipe) ends the showing, not the task.
fn show_line(line: LogLine) -> std::io::Result<()> {
    let mut sink: Box<dyn Write> = match line.stream {
        Some(Stream::Stderr) => Box::new(std::io::stderr().lock()),
        _ => Box::new(std::io::stdout().lock()),
    };
    sink.write_all(super::terminal::visible(&line.message).as_bytes())?;
    sink.write_all(b"\n")?;
    sink.flush()
}

/// Ctrl-C and SIGTERM, from the moment they are watched: the command no longer dies of them.
pub struct Interrupts {
    int: SignalStream,
    term: SignalStream,
}

impl Interrupts {
    pub fn watch() -> Result<Interrupts, Error> {
        let watch = |kind| signal(kind).map_err(|e| Error::io("cannot watch for Ctrl-C", e));
        Ok(Interrupts {
            int: watch(SignalKind::interrupt())?,
            term: watch(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
