//! Following a unit's journal into Nomad's log FIFOs, for tasks whose output goes to the
//! journal: installed units (their own `StandardOutput` stays untouched) and transient tasks
//! with `logging { driver = "both" }` (the journal keeps the host's copy).
//!
//! **Mechanism.** A `journalctl --output=json --follow` child (no shell) filtered to the unit's
//! stdout/stderr stream entries — for an installed unit, to this activation only
//! (`_SYSTEMD_INVOCATION_ID`), so an earlier run's lines are never replayed. Entries at
//! priority `err` or more severe go to the stderr FIFO, the rest to stdout.
//!
//! **No duplicates across plugin restarts.** After each delivered batch the journal cursor of
//! the last entry is saved (write and rename) in a small state file under the runtime
//! directory; a new follower resumes `--after-cursor` it. Delivery is at least once: a crash
//! between writing a line and saving its cursor repeats that batch, nothing more.

use std::path::{Path, PathBuf};
use std::process::Stdio as ProcessStdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::engine::Engine;
use super::error::{Error, Result};
use super::logs::{Stream, parse_entry};
use super::systemd::Bus;
use super::unit_name::{UnitName, escape_instance};

/// The system manager's state directory for followers' cursors.
const SYSTEM_STATE_DIR: &str = "/run/nomad-systemd/journal";
/// Between attempts to reopen a FIFO without a reader, or to rerun journalctl.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// What a follower remembers across plugin restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Only entries of this activation (`_SYSTEMD_INVOCATION_ID`); `None` follows the unit.
    pub invocation_id: Option<String>,
    /// The last delivered entry's cursor; `None` starts at the activation's first entry.
    pub cursor: Option<String>,
}

/// One task's follower: run it with [`Follower::run`], stop it by dropping (aborting) it.
#[derive(Debug, Clone)]
pub struct Follower {
    unit: UnitName,
    bus: Bus,
    stdout: PathBuf,
    stderr: PathBuf,
    state_file: PathBuf,
    position: Position,
}

impl Engine {
    /// The follower for task `task_id` of `unit`, resuming where a previous follower of the
    /// same task stopped. For a fresh task, `this_activation` limits it to the unit's current
    /// activation (read now) and persists that choice.
    pub async fn log_follower(
        &self,
        task_id: &str,
        unit: &UnitName,
        this_activation: bool,
        stdout: &Path,
        stderr: &Path,
    ) -> Result<Follower> {
        let bus = self.systemd().bus();
        let state_file = state_file(bus, task_id)?;
        let position = match read_position(&state_file) {
            Some(p) => p,
            None => {
                let invocation_id = if this_activation {
                    Some(self.systemd().snapshot(unit).await?.invocation_id)
                        .filter(|id| !id.is_empty())
                } else {
                    None
                };
                let fresh = Position {
                    invocation_id,
                    cursor: None,
                };
                save_position(&state_file, &fresh)?;
                fresh
            }
        };
        Ok(Follower {
            unit: unit.clone(),
            bus,
            stdout: stdout.to_path_buf(),
            stderr: stderr.to_path_buf(),
            state_file,
            position,
        })
    }
}

/// Forgets a task's follower position (the task was destroyed). Missing state is fine.
pub fn forget(bus: Bus, task_id: &str) -> Result<()> {
    let path = state_file(bus, task_id)?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("cannot remove {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

impl Follower {
    /// Delivers the unit's lines for as long as it is not dropped, rerunning journalctl and
    /// reopening FIFOs when they fail; `on_error` hears why (once per failure).
    pub async fn run(mut self, on_error: impl Fn(&Error)) {
        let mut sinks = Sinks::default();
        loop {
            if let Err(e) = self.follow_once(&mut sinks).await {
                on_error(&e);
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// One journalctl run, until it ends or a write fails.
    async fn follow_once(&mut self, sinks: &mut Sinks) -> Result<()> {
        let mut child = self
            .command()
            .spawn()
            .map_err(|e| Error::io("cannot run journalctl", e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::io("journalctl", std::io::Error::other("no stdout pipe")))?;
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            let n = lines
                .read_line(&mut line)
                .await
                .map_err(|e| Error::io("cannot read journalctl's output", e))?;
            if n == 0 {
                let status = child.wait().await.ok();
                return Err(Error::io(
                    "journalctl ended",
                    std::io::Error::other(format!("{status:?}")),
                ));
            }
            let Some(cursor) = cursor_of(&line) else {
                continue;
            };
            if let Some(entry) = parse_entry(&line) {
                let path = match entry.stream {
                    Stream::Stdout => &self.stdout,
                    Stream::Stderr => &self.stderr,
                };
                let mut message = entry.message;
                message.push(b'\n');
                sinks.write(entry.stream, path, &message).await?;
            }
            self.position.cursor = Some(cursor);
            if lines.buffer().is_empty() {
                save_position(&self.state_file, &self.position)?;
            }
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("journalctl");
        cmd.args([
            "--no-pager",
            "--quiet",
            "--all",
            "--follow",
            "--no-tail",
            "--output=json",
            "--output-fields=MESSAGE,PRIORITY",
        ]);
        match self.bus {
            Bus::System => cmd.arg(format!("_SYSTEMD_UNIT={}", self.unit)),
            Bus::User => cmd
                .arg("--user")
                .arg(format!("_SYSTEMD_USER_UNIT={}", self.unit)),
        };
        cmd.arg("_TRANSPORT=stdout");
        if let Some(id) = &self.position.invocation_id {
            cmd.arg(format!("_SYSTEMD_INVOCATION_ID={id}"));
        }
        if let Some(cursor) = &self.position.cursor {
            cmd.arg(format!("--after-cursor={cursor}"));
        }
        cmd.stdin(ProcessStdio::null())
            .stdout(ProcessStdio::piped())
            .stderr(ProcessStdio::null())
            .kill_on_drop(true);
        cmd
    }
}

/// The open write ends of the two FIFOs, opened on first use and again after a failure.
#[derive(Default)]
struct Sinks {
    stdout: Option<tokio::fs::File>,
    stderr: Option<tokio::fs::File>,
}

impl Sinks {
    /// Writes `bytes` whole, waiting (without losing them) while the FIFO has no reader.
    async fn write(&mut self, stream: Stream, path: &Path, bytes: &[u8]) -> Result<()> {
        let slot = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        loop {
            if slot.is_none() {
                match open_for_writing(path) {
                    Ok(f) => *slot = Some(f),
                    Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::io(format!("cannot open {}", path.display()), e));
                    }
                }
            }
            let Some(file) = slot.as_mut() else { continue };
            match async {
                file.write_all(bytes).await?;
                file.flush().await
            }
            .await
            {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    *slot = None;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(Error::io(format!("cannot write {}", path.display()), e)),
            }
        }
    }
}

/// Opens a FIFO (or file) for writing without blocking when it has no reader (`ENXIO`).
fn open_for_writing(path: &Path) -> std::io::Result<tokio::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    // Blocking writes from here on (in tokio's blocking pool): a slow reader slows the
    // follower, never drops lines.
    nix::fcntl::fcntl(
        &file,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_APPEND),
    )?;
    Ok(tokio::fs::File::from_std(file))
}

fn cursor_of(line: &str) -> Option<String> {
    let entry: Json = serde_json::from_str(line).ok()?;
    entry.get("__CURSOR")?.as_str().map(str::to_string)
}

fn state_dir(bus: Bus) -> Result<PathBuf> {
    match bus {
        Bus::System => Ok(PathBuf::from(SYSTEM_STATE_DIR)),
        Bus::User => std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| Path::new(&d).join("nomad-systemd/journal"))
            .ok_or_else(|| {
                Error::io(
                    "no runtime directory for the journal follower's state",
                    std::io::Error::other("XDG_RUNTIME_DIR is not set"),
                )
            }),
    }
}

/// One file per task; the id's `/` and other bytes are escaped so any id is one file name.
fn state_file(bus: Bus, task_id: &str) -> Result<PathBuf> {
    Ok(state_dir(bus)?.join(format!("{}.json", escape_instance(task_id))))
}

fn read_position(path: &Path) -> Option<Position> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn save_position(path: &Path, position: &Position) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(position).unwrap_or_default();
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("cannot save {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_read_from_json_entries() {
        let line = r#"{"__CURSOR":"s=1;i=2","MESSAGE":"hi","PRIORITY":"6"}"#;
        assert_eq!(cursor_of(line).as_deref(), Some("s=1;i=2"));
        assert_eq!(cursor_of("{}"), None);
    }

    #[test]
    fn positions_survive_a_round_trip_and_ids_make_one_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let p = Position {
            invocation_id: Some("abc".into()),
            cursor: Some("s=1".into()),
        };
        save_position(&path, &p).unwrap();
        assert_eq!(read_position(&path), Some(p));
        let file = state_file(Bus::System, "a1-b/web/0a1b").unwrap();
        assert_eq!(file.parent(), Some(Path::new(SYSTEM_STATE_DIR)));
        assert_eq!(
            file.file_name().unwrap().to_str(),
            Some("a1\\x2db-web-0a1b.json")
        );
    }
}
