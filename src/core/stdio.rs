//! Where a task's stdout and stderr go.
//!
//! Every destination ends up as a pair of file descriptors that systemd receives with the unit
//! and keeps open for the task's life:
//! - [`Output::files`]: files or FIFOs an operator names, opened write-only;
//! - [`Output::fifos`]: Nomad's log FIFOs, opened write-only beneath the allocation directory
//!   without following symlinks, and only if they are FIFOs;
//! - [`Output::journal`]: two streams into journald, the same protocol systemd uses for
//!   `StandardOutput=journal`, but one stream per output with its own priority (stdout at
//!   `info`, stderr at `err`), so the journal still tells them apart. journald attributes each
//!   line to the unit of the process that wrote it;
//! - [`Output::inherited`]: the calling process's own stdin, stdout and stderr, as
//!   `systemd-run --pipe` passes them; the only destination that gives the task a stdin
//!   (every other task reads `/dev/null`);
//! - [`Output::terminal`]: a new pseudo-terminal for all three, whose other end the caller
//!   relays, as `systemd-run --pty` does.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::alloc_fs;
use super::error::{Error, Result};
use super::unit_name::UnitName;

const DEV_NULL: &str = "/dev/null";
/// How long a task's start waits for the reader of Nomad's log FIFOs. Nomad's logmon opens
/// them asynchronously just before StartTask, so a reader normally comes within
/// milliseconds; one that never comes fails the start as worth retrying.
pub const LOG_FIFO_WAIT: Duration = Duration::from_secs(10);
/// journald's socket for stream logging.
const JOURNAL_STDOUT_SOCKET: &str = "/run/systemd/journal/stdout";
/// syslog priorities the two journal streams are logged at.
pub const STDOUT_PRIORITY: u8 = 6;
pub const STDERR_PRIORITY: u8 = 3;

/// The task's stdout and stderr, as descriptors to hand to systemd, and its stdin if it gets
/// one.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: Arc<OwnedFd>,
    pub stderr: Arc<OwnedFd>,
    /// The task's stdin; `None`: `/dev/null`, systemd's default.
    pub stdin: Option<Arc<OwnedFd>>,
    /// The terminal the three are, for systemd's `TTYPath` ([`Output::terminal`]).
    pub tty_path: Option<PathBuf>,
}

impl Output {
    pub fn from_fds(stdout: OwnedFd, stderr: OwnedFd) -> Output {
        Output {
            stdout: Arc::new(stdout),
            stderr: Arc::new(stderr),
            stdin: None,
            tty_path: None,
        }
    }

    /// A new pseudo-terminal of `rows` × `cols` as the task's stdin, stdout and stderr and its
    /// `TTYPath`, as `systemd-run --pty` gives one; returns the master end, through which the
    /// caller relays the task's input and output (see [`crate::core::exec::resize`]).
    pub fn terminal(rows: u16, cols: u16) -> Result<(Output, OwnedFd)> {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None)
            .map_err(|e| Error::io("cannot open a pseudo-terminal", e.into()))?;
        let path = nix::unistd::ttyname(&pty.slave)
            .map_err(|e| Error::io("cannot name the pseudo-terminal", e.into()))?;
        let slave = Arc::new(pty.slave);
        let output = Output {
            stdout: slave.clone(),
            stderr: slave.clone(),
            stdin: Some(slave),
            tty_path: Some(path),
        };
        Ok((output, pty.master))
    }

    /// The calling process's stdin, stdout and stderr (duplicated), for a task run in the
    /// foreground of a command line as `systemd-run --pipe` runs it: the task reads what the
    /// caller's stdin gives and writes where the caller's output goes, through no process of
    /// ours. The task holds them until it exits, so a reader of the caller's output sees its
    /// end only then.
    pub fn inherited() -> Result<Output> {
        use std::os::fd::AsFd;
        let dup = |fd: std::os::fd::BorrowedFd<'_>, name: &str| {
            fd.try_clone_to_owned()
                .map_err(|e| Error::io(format!("cannot pass on {name}"), e))
        };
        let mut output = Output::from_fds(
            dup(std::io::stdout().as_fd(), "stdout")?,
            dup(std::io::stderr().as_fd(), "stderr")?,
        );
        output.stdin = Some(Arc::new(dup(std::io::stdin().as_fd(), "stdin")?));
        Ok(output)
    }

    /// Both streams to `/dev/null`.
    pub fn discard() -> Result<Output> {
        let null = Path::new(DEV_NULL);
        Ok(Output::from_fds(
            open_for_writing(null)?,
            open_for_writing(null)?,
        ))
    }

    /// Appends to files (created if missing) or writes into FIFOs, following symlinks: for
    /// paths an operator names (the CLI). A FIFO must already have a reader. Nomad's FIFOs,
    /// which are in the job's hands, go through [`Output::fifos`].
    pub fn files(stdout: &Path, stderr: &Path) -> Result<Output> {
        Ok(Output::from_fds(
            open_for_writing(stdout)?,
            open_for_writing(stderr)?,
        ))
    }

    /// Writes into Nomad's log FIFOs, waiting (blocking) up to `wait` in all for their reader,
    /// which Nomad's logmon opens asynchronously. Each is opened beneath `alloc_dir`, following
    /// no symlink, and only if it is a FIFO (see [`alloc_fs::open_log_fifo`]): the job controls
    /// what is at those paths. A path of `/dev/null` (a disabled stream) is `/dev/null`. A
    /// reader that does not come is [`Error::NotReady`].
    pub fn fifos(
        alloc_dir: Option<&Path>,
        stdout: &Path,
        stderr: &Path,
        wait: Duration,
    ) -> Result<Output> {
        let deadline = Instant::now() + wait;
        let open = |setting: &str, path: &Path| {
            if path == Path::new(DEV_NULL) {
                open_for_writing(path)
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                alloc_fs::open_log_fifo(alloc_dir, setting, path, left)
            }
        };
        Ok(Output::from_fds(
            open("stdout FIFO", stdout)?,
            open("stderr FIFO", stderr)?,
        ))
    }

    /// [`Output::fifos`] with [`LOG_FIFO_WAIT`], on a thread of its own, for async callers: the
    /// wait for a reader blocks.
    pub async fn wait_for_fifos(
        alloc_dir: Option<PathBuf>,
        stdout: PathBuf,
        stderr: PathBuf,
    ) -> Result<Output> {
        tokio::task::spawn_blocking(move || {
            Output::fifos(alloc_dir.as_deref(), &stdout, &stderr, LOG_FIFO_WAIT)
        })
        .await
        .map_err(|e| Error::io("cannot open the task's log FIFOs", std::io::Error::other(e)))?
    }

    /// Checks Nomad's log FIFOs as [`Output::fifos`] would open them, without opening them
    /// for writing: for output that a journal follower opens once the task runs.
    pub fn check_fifos(alloc_dir: Option<&Path>, stdout: &Path, stderr: &Path) -> Result<()> {
        for (setting, path) in [("stdout FIFO", stdout), ("stderr FIFO", stderr)] {
            if path != Path::new(DEV_NULL) {
                alloc_fs::check_log_fifo(alloc_dir, setting, path)?;
            }
        }
        Ok(())
    }

    /// Two journald streams logged under `identifier`, attributed to `unit`.
    pub fn journal(identifier: &str, unit: &UnitName) -> Result<Output> {
        Ok(Output::from_fds(
            journal_stream(identifier, unit, STDOUT_PRIORITY)?,
            journal_stream(identifier, unit, STDERR_PRIORITY)?,
        ))
    }
}

fn open_for_writing(path: &Path) -> Result<OwnedFd> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc_nonblock())
        .open(path)
        .map_err(|e| {
            let hint = if e.raw_os_error() == Some(nix::libc::ENXIO) {
                " (a FIFO with no reader)"
            } else {
                ""
            };
            Error::io(
                format!("cannot open {} for the task's output{hint}", path.display()),
                e,
            )
        })?;
    let fd = OwnedFd::from(file);
    // Non-blocking only for the open (a FIFO without a reader fails instead of hanging); the
    // task gets an ordinary blocking descriptor.
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_APPEND))
        .map_err(|e| Error::io(format!("cannot set flags on {}", path.display()), e.into()))?;
    Ok(fd)
}

fn libc_nonblock() -> i32 {
    OFlag::O_NONBLOCK.bits()
}

fn journal_stream(identifier: &str, unit: &UnitName, priority: u8) -> Result<OwnedFd> {
    let unreachable = |e| {
        Error::io(
            format!("cannot connect to journald at {JOURNAL_STDOUT_SOCKET}"),
            e,
        )
    };
    let mut stream = UnixStream::connect(JOURNAL_STDOUT_SOCKET).map_err(unreachable)?;
    let identifier: String = identifier.chars().filter(|c| !c.is_control()).collect();
    // identifier, unit, priority, level prefix, forward to syslog, kmsg, console
    let header = format!("{identifier}\n{unit}\n{priority}\n0\n0\n0\n0\n");
    stream.write_all(header.as_bytes()).map_err(unreachable)?;
    stream
        .shutdown(std::net::Shutdown::Read)
        .map_err(unreachable)?;
    Ok(OwnedFd::from(stream))
}

/// Where a task's output should go, as a caller asks for it.
#[derive(Debug)]
pub enum Stdio {
    /// Into the journal, stdout and stderr as separate streams (see the module docs).
    Journal,
    /// Appended to files or written into FIFOs, opened (see [`Output::files`]) only once the
    /// task has been validated: a FIFO's reader sees no open and close for a task that never
    /// starts (Nomad's logmon stops reading at the first close).
    Files { stdout: PathBuf, stderr: PathBuf },
    /// Into Nomad's log FIFOs (or `/dev/null`), opened beneath the task's allocation
    /// directory as [`Output::fifos`] does, only once the task has been validated.
    Fifos { stdout: PathBuf, stderr: PathBuf },
    /// Into descriptors the caller opened.
    To(Output),
    /// The caller's own stdin, stdout and stderr ([`Output::inherited`]).
    Inherit,
}
