//! Nomad's ExecTask (script checks) and ExecTaskStreaming (`nomad alloc exec`) over the core's
//! exec.
//!
//! Streaming protocol, as Nomad's client speaks it: the first message is `setup`; then stdin
//! data, a stdin close, terminal sizes (the latest wins) and empty heartbeats (ignored). We
//! answer with stdout/stderr data, one close per stream at its end, and finally `exited` with
//! the result. With a tty there is one stream, sent as stdout. The session ends when the lead
//! process exits; if the client goes away first, the command is killed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::proto::driver::{
    self as pb, ExecTaskStreamingIoOperation as IoOperation, ExecTaskStreamingResponse as Reply,
};
use super::status;
use crate::core::exec::{self, Exec, ExecIo, ExecStreams};
use crate::core::{Engine, ExitResult, UnitName};

/// Most output an ExecTask keeps per stream; a check's output is a status line or two.
const MAX_CAPTURE: usize = 4 << 20;
/// How long output may keep arriving after the lead process exited.
const DRAIN: Duration = Duration::from_secs(5);
/// Read size, as Nomad's own executor reads.
const CHUNK: usize = 1024;
/// The size a tty starts with until the client sends its own.
const DEFAULT_ROWS: u16 = 24;
const DEFAULT_COLS: u16 = 80;

/// Runs `argv` to completion (or until `timeout`, then kills it) with stdin closed.
pub async fn run_once(
    engine: &Engine,
    task: &UnitName,
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<pb::ExecTaskResponse, Status> {
    let Exec { unit, streams } = engine
        .exec(task, argv, ExecIo::Pipes)
        .await
        .map_err(|e| status::from_core(&e))?;
    let ExecStreams::Pipes {
        stdin,
        stdout,
        stderr,
    } = streams
    else {
        return Err(Status::internal("exec with pipes returned a terminal"));
    };
    drop(stdin);
    let (stdout, stderr) = (capture(stdout), capture(stderr));
    let waited = match timeout {
        Some(limit) => tokio::time::timeout(limit, engine.exec_wait(&unit))
            .await
            .ok(),
        None => Some(engine.exec_wait(&unit).await),
    };
    let result = match waited {
        Some(exit) => exit.map_err(|e| status::from_core(&e))?,
        None => {
            engine
                .exec_kill(&unit)
                .await
                .map_err(|e| status::from_core(&e))?;
            // Killed for running too long: reported as a death by SIGKILL.
            ExitResult {
                exit_code: 128 + 9,
                signal: 9,
                oom_killed: false,
            }
        }
    };
    Ok(pb::ExecTaskResponse {
        stdout: stdout.await.unwrap_or_default(),
        stderr: stderr.await.unwrap_or_default(),
        result: Some(exit_result(result)),
    })
}

/// Serves one `nomad alloc exec` session; `find` maps the setup's task id to its unit.
pub async fn stream(
    engine: Engine,
    mut input: Streaming<pb::ExecTaskStreamingRequest>,
    find: impl FnOnce(&str) -> Result<UnitName, Status>,
) -> Result<ReceiverStream<Result<Reply, Status>>, Status> {
    let setup = input
        .message()
        .await?
        .and_then(|m| m.setup)
        .ok_or_else(|| Status::invalid_argument("first message should always be setup"))?;
    let task = find(&setup.task_id)?;
    let io = if setup.tty {
        ExecIo::Tty {
            rows: DEFAULT_ROWS,
            cols: DEFAULT_COLS,
        }
    } else {
        ExecIo::Pipes
    };
    let Exec { unit, streams } = engine
        .exec(&task, &setup.command, io)
        .await
        .map_err(|e| status::from_core(&e))?;
    let (tx, rx) = mpsc::channel(32);
    let wired = wire(streams, &tx);
    let (stdin, terminal, readers) = match wired {
        Ok(wired) => wired,
        Err(e) => {
            let _ = engine.exec_kill(&unit).await;
            return Err(e);
        }
    };
    tokio::spawn(feed(input, spawn_writer(stdin), terminal));
    tokio::spawn(supervise(engine, unit, tx, readers));
    Ok(ReceiverStream::new(rx))
}

/// Our ends of the command's streams: where stdin goes, the terminal to resize (tty only) and
/// the tasks forwarding output to the client.
type Wired = (OwnedFd, Option<OwnedFd>, Vec<tokio::task::JoinHandle<()>>);

fn wire(streams: ExecStreams, tx: &mpsc::Sender<Result<Reply, Status>>) -> Result<Wired, Status> {
    Ok(match streams {
        ExecStreams::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            stdin,
            None,
            vec![
                forward(stdout, tx.clone(), stdout_reply),
                forward(stderr, tx.clone(), stderr_reply),
            ],
        ),
        ExecStreams::Tty { master } => {
            let reader = master.try_clone().map_err(io_status)?;
            let writer = master.try_clone().map_err(io_status)?;
            (
                writer,
                Some(master),
                vec![forward(reader, tx.clone(), stdout_reply)],
            )
        }
    })
}

/// Copies the client's stdin and terminal sizes to the command until the client is done.
async fn feed(
    mut input: Streaming<pb::ExecTaskStreamingRequest>,
    mut writer: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    terminal: Option<OwnedFd>,
) {
    while let Ok(Some(message)) = input.message().await {
        if let Some(size) = message.tty_size
            && let Some(master) = &terminal
        {
            let rows = u16::try_from(size.height).unwrap_or(DEFAULT_ROWS);
            let cols = u16::try_from(size.width).unwrap_or(DEFAULT_COLS);
            if let Err(e) = exec::resize(master, rows, cols) {
                tracing::debug!(error = %e, "exec resize failed");
            }
        }
        if let Some(stdin) = message.stdin {
            if !stdin.data.is_empty()
                && let Some(w) = &writer
            {
                let _ = w.send(stdin.data);
            }
            // End of input: close a pipe. A terminal has no such thing; its input stays open.
            if stdin.close && terminal.is_none() {
                writer = None;
            }
        }
    }
}

/// Waits for the lead process (or for the client to leave, then kills the command), lets the
/// output drain, and sends the final `exited` reply.
async fn supervise(
    engine: Engine,
    unit: UnitName,
    tx: mpsc::Sender<Result<Reply, Status>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
) {
    let exit = tokio::select! {
        exit = engine.exec_wait(&unit) => exit,
        () = tx.closed() => {
            if let Err(e) = engine.exec_kill(&unit).await {
                tracing::warn!(unit = %unit, error = %e, "could not kill an abandoned exec");
            }
            return;
        }
    };
    let _ = tokio::time::timeout(DRAIN, futures_util::future::join_all(readers)).await;
    let reply = match exit {
        Ok(exit) => Ok(Reply {
            exited: true,
            result: Some(exit_result(exit)),
            ..Reply::default()
        }),
        Err(e) => Err(status::from_core(&e)),
    };
    let _ = tx.send(reply).await;
}

fn stdout_reply(op: IoOperation) -> Reply {
    Reply {
        stdout: Some(op),
        ..Reply::default()
    }
}

fn stderr_reply(op: IoOperation) -> Reply {
    Reply {
        stderr: Some(op),
        ..Reply::default()
    }
}

/// Sends what `fd` yields as replies built by `wrap`, then a close at its end.
fn forward(
    fd: OwnedFd,
    tx: mpsc::Sender<Result<Reply, Status>>,
    wrap: fn(IoOperation) -> Reply,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let mut file = File::from(fd);
        let mut buf = [0u8; CHUNK];
        // A pty master ends with EIO once the command's side is closed: also an end.
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            let data = IoOperation {
                data: buf[..n].to_vec(),
                close: false,
            };
            if tx.blocking_send(Ok(wrap(data))).is_err() {
                return;
            }
        }
        let close = IoOperation {
            data: Vec::new(),
            close: true,
        };
        let _ = tx.blocking_send(Ok(wrap(close)));
    })
}

/// A thread writing into the command's stdin; dropping the sender closes it.
fn spawn_writer(fd: OwnedFd) -> Option<std::sync::mpsc::Sender<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut file = File::from(fd);
        for chunk in rx {
            if file.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    Some(tx)
}

/// Reads a stream to its end, keeping at most [`MAX_CAPTURE`] bytes.
fn capture(fd: OwnedFd) -> tokio::task::JoinHandle<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut file = File::from(fd);
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = MAX_CAPTURE.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room)]);
        }
        out
    })
}

fn io_status(e: std::io::Error) -> Status {
    Status::internal(format!("cannot set up the exec session: {e}"))
}

pub fn exit_result(exit: ExitResult) -> pb::ExitResult {
    pb::ExitResult {
        exit_code: exit.exit_code,
        signal: exit.signal,
        oom_killed: exit.oom_killed,
    }
}
