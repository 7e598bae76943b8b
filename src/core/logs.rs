//! Reading a task's output back from the journal (tasks started with [`Stdio::Journal`]).
//!
//! Entries are read through `journalctl -o json`, which handles journal namespaces,
//! compression and access rights exactly as operators see them. stdout and stderr are told
//! apart by the priority their streams were opened with; an installed unit logs both at its
//! own priority, so its lines carry no stream ([`LogQuery::mixed`], see
//! [`crate::core::log_output`]).
//!
//! [`Stdio::Journal`]: crate::core::stdio::Stdio::Journal

use std::process::Stdio as ProcessStdio;
use std::time::Duration;

use serde_json::Value as Json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::engine::Engine;
use super::error::{Error, Result};
use super::stdio::{STDERR_PRIORITY, STDOUT_PRIORITY};
use super::systemd::ActiveState;
use super::systemd::Bus;
use super::unit_name::UnitName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogQuery {
    pub unit: UnitName,
    pub bus: Bus,
    /// Keep reading new lines until the task has exited, then read what remained.
    pub follow: bool,
    /// Only this stream; both when `None`.
    pub stream: Option<Stream>,
    /// Only the last N lines.
    pub lines: Option<u64>,
    /// Only lines logged at or after this time (µs since the epoch).
    pub since_us: Option<u64>,
    /// Only lines logged at or before this time (µs since the epoch).
    pub until_us: Option<u64>,
    /// The unit's streams reach the journal as one (an installed unit logging both there):
    /// lines carry no stream, and `stream` must be `None`.
    pub mixed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The stream the line was written to; `None` when the journal cannot say
    /// ([`LogQuery::mixed`]).
    pub stream: Option<Stream>,
    /// When journald received the line, µs since the epoch.
    pub realtime_us: u64,
    /// The line as the task wrote it, without its newline; not necessarily UTF-8.
    pub message: Vec<u8>,
    /// The journal's cursor of the entry, to resume after it.
    pub cursor: String,
}

/// How often `follow` checks whether the task has exited.
const EXIT_POLL: Duration = Duration::from_millis(250);

impl Engine {
    /// Feeds the task's lines to `sink` in order and returns how many it took. Stops early,
    /// without error, when `sink` fails (a closed pipe downstream). With `follow`, keeps
    /// reading until the unit has exited (or is gone), then reads the lines logged before
    /// its end that were not read yet, and returns.
    pub async fn read_logs(
        &self,
        query: &LogQuery,
        mut sink: impl FnMut(LogLine) -> std::io::Result<()>,
    ) -> Result<u64> {
        let mut count = 0;
        let mut last_cursor = None;
        if query.follow {
            let mut child = spawn(&journalctl_args(query, None, true))?;
            let stdout = child.stdout.take().expect("stdout is piped");
            let mut lines = BufReader::new(stdout).lines();
            let mut poll = tokio::time::interval(EXIT_POLL);
            loop {
                tokio::select! {
                    line = lines.next_line() => {
                        let Some(line) = line.map_err(|e| Error::io("cannot read journalctl's output", e))? else {
                            return finish(child, count).await;
                        };
                        if let Some(entry) = parse_entry(&line, query) {
                            last_cursor = Some(entry.cursor.clone());
                            count += 1;
                            if sink(entry).is_err() {
                                return Ok(count);
                            }
                        }
                    }
                    _ = poll.tick() => {
                        if self.has_ended(&query.unit).await {
                            break;
                        }
                    }
                }
            }
            let _ = child.kill().await;
            // journald takes a closed stream's last lines asynchronously; a sync request is
            // served after the messages already queued.
            if query.bus == Bus::System {
                let _ = Command::new("journalctl")
                    .arg("--sync")
                    .stdout(ProcessStdio::null())
                    .stderr(ProcessStdio::null())
                    .status()
                    .await;
            }
        }
        let mut child = spawn(&journalctl_args(query, last_cursor.as_deref(), false))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines
            .next_line()
            .await
            .map_err(|e| Error::io("cannot read journalctl's output", e))?
        {
            if let Some(entry) = parse_entry(&line, query) {
                count += 1;
                if sink(entry).is_err() {
                    return Ok(count);
                }
            }
        }
        finish(child, count).await
    }

    /// Whether the unit's main process is done: the unit is gone, inactive, failed, or
    /// remains after its exit.
    async fn has_ended(&self, unit: &UnitName) -> bool {
        match self.systemd().snapshot(unit).await {
            Ok(s) => {
                matches!(
                    s.active_state,
                    Some(ActiveState::Inactive | ActiveState::Failed)
                ) || s.sub_state == "exited"
            }
            Err(Error::NotFound(_)) => true,
            Err(_) => false,
        }
    }
}

/// The units the journal holds stdout lines of whose names start with `prefix` (journal
/// field values, so units long removed are found too).
pub async fn journal_units(bus: Bus, prefix: &str) -> Result<Vec<UnitName>> {
    let field = match bus {
        Bus::System => "_SYSTEMD_UNIT",
        Bus::User => "_SYSTEMD_USER_UNIT",
    };
    let mut cmd = Command::new("journalctl");
    cmd.args(["--no-pager", "--quiet"]);
    if bus == Bus::User {
        cmd.arg("--user");
    }
    let output = cmd
        .arg(format!("--field={field}"))
        .stderr(ProcessStdio::null())
        .output()
        .await
        .map_err(|e| Error::io("cannot run journalctl", e))?;
    let mut units: Vec<UnitName> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|u| u.starts_with(prefix))
        .filter_map(|u| UnitName::parse(u).ok())
        .collect();
    units.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    units.dedup();
    Ok(units)
}

/// journalctl's arguments for `query`: following new lines or not, resuming after `cursor`.
pub fn journalctl_args(query: &LogQuery, cursor: Option<&str>, follow: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--no-pager",
        "--quiet",
        "--all",
        "--output=json",
        "--output-fields=MESSAGE,PRIORITY",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match query.bus {
        Bus::System => args.push(format!("_SYSTEMD_UNIT={}", query.unit)),
        Bus::User => {
            args.push("--user".into());
            args.push(format!("_SYSTEMD_USER_UNIT={}", query.unit));
        }
    }
    args.push("_TRANSPORT=stdout".into());
    if let Some(stream) = query.stream {
        let priority = match stream {
            Stream::Stdout => STDOUT_PRIORITY,
            Stream::Stderr => STDERR_PRIORITY,
        };
        args.push(format!("PRIORITY={priority}"));
    }
    // Whole seconds, widened; the exact bounds are applied to each entry (`parse_entry`).
    // After a cursor, which is past `since` already, journalctl takes no `--since`.
    if let (Some(since), None) = (query.since_us, cursor) {
        args.push(format!("--since=@{}", since / 1_000_000));
    }
    if let Some(until) = query.until_us {
        args.push(format!("--until=@{}", until.div_ceil(1_000_000)));
    }
    match cursor {
        Some(cursor) => args.push(format!("--after-cursor={cursor}")),
        None => args.push(format!(
            "--lines={}",
            query.lines.map_or("all".to_string(), |n| n.to_string())
        )),
    }
    if follow {
        args.push("--follow".into());
    }
    args
}

/// Runs journalctl in a process group of its own, so that a Ctrl-C typed at the caller's
/// terminal reaches only the caller, which may still want the lines (`run --wait` stopping
/// its task shows how the task ends); it ends with the caller all the same: dropped, or
/// SIGTERM when the caller dies (`PR_SET_PDEATHSIG`).
fn spawn(args: &[String]) -> Result<Child> {
    let caller = nix::unistd::getpid();
    let mut command = Command::new("journalctl");
    command
        .args(args)
        .stdout(ProcessStdio::piped())
        .stderr(ProcessStdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // SAFETY: between fork and exec only prctl and getppid, both async-signal-safe, and
    // neither allocates.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
            if nix::unistd::getppid() != caller {
                // The caller died before the death signal was armed.
                return Err(std::io::Error::other("the caller has exited"));
            }
            Ok(())
        });
    }
    command
        .spawn()
        .map_err(|e| Error::io("cannot run journalctl", e))
}

/// Waits for journalctl; its failure is an error carrying its own words.
async fn finish(child: Child, count: u64) -> Result<u64> {
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| Error::io("journalctl failed", e))?;
    if !output.status.success() {
        let mut why = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if why.is_empty() {
            why = output.status.to_string();
        }
        return Err(Error::io("journalctl failed", std::io::Error::other(why)));
    }
    Ok(count)
}

/// One `journalctl -o json` line → a log line, or `None` for an entry without a message or
/// outside the query's time bounds. `MESSAGE` is a string, or an array of bytes when it is
/// not valid UTF-8.
pub fn parse_entry(line: &str, query: &LogQuery) -> Option<LogLine> {
    let entry: Json = serde_json::from_str(line).ok()?;
    let message = match entry.get("MESSAGE")? {
        Json::String(s) => s.clone().into_bytes(),
        Json::Array(bytes) => bytes
            .iter()
            .map(|b| b.as_u64().map(|b| b as u8))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let realtime_us = entry
        .get("__REALTIME_TIMESTAMP")
        .and_then(Json::as_str)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if query.since_us.is_some_and(|since| realtime_us < since)
        || query.until_us.is_some_and(|until| realtime_us > until)
    {
        return None;
    }
    let stream = (!query.mixed).then(|| match entry.get("PRIORITY").and_then(Json::as_str) {
        Some(p) if p == STDERR_PRIORITY.to_string() => Stream::Stderr,
        _ => Stream::Stdout,
    });
    let cursor = entry
        .get("__CURSOR")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    Some(LogLine {
        stream,
        realtime_us,
        message,
        cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> LogQuery {
        LogQuery {
            unit: UnitName::parse("nomad-a1-web-i1.service").unwrap(),
            bus: Bus::System,
            follow: false,
            stream: None,
            lines: None,
            since_us: None,
            until_us: None,
            mixed: false,
        }
    }

    #[test]
    fn text_and_binary_messages_are_decoded_with_their_stream_and_time() {
        let out = parse_entry(
            r#"{"MESSAGE":"hello","PRIORITY":"6","__REALTIME_TIMESTAMP":"1000","__CURSOR":"c1"}"#,
            &query(),
        )
        .unwrap();
        assert_eq!(
            (
                out.stream,
                out.message.as_slice(),
                out.realtime_us,
                out.cursor.as_str()
            ),
            (Some(Stream::Stdout), &b"hello"[..], 1000, "c1")
        );
        let err = parse_entry(r#"{"MESSAGE":[104,255],"PRIORITY":"3"}"#, &query()).unwrap();
        assert_eq!(
            (err.stream, err.message),
            (Some(Stream::Stderr), vec![104, 255])
        );
    }

    #[test]
    fn mixed_streams_carry_no_stream() {
        let mixed = LogQuery {
            mixed: true,
            ..query()
        };
        let line = parse_entry(r#"{"MESSAGE":"x","PRIORITY":"3"}"#, &mixed).unwrap();
        assert_eq!(line.stream, None);
    }

    #[test]
    fn entries_outside_the_time_bounds_are_dropped() {
        let bounded = LogQuery {
            since_us: Some(2_000_000),
            until_us: Some(3_000_000),
            ..query()
        };
        let at = |t: u64| format!(r#"{{"MESSAGE":"m","__REALTIME_TIMESTAMP":"{t}"}}"#);
        assert!(parse_entry(&at(1_999_999), &bounded).is_none());
        assert!(parse_entry(&at(2_000_000), &bounded).is_some());
        assert!(parse_entry(&at(3_000_000), &bounded).is_some());
        assert!(parse_entry(&at(3_000_001), &bounded).is_none());
        let args = journalctl_args(&bounded, None, false);
        assert!(args.contains(&"--since=@2".to_string()), "{args:?}");
        assert!(args.contains(&"--until=@3".to_string()), "{args:?}");
    }

    #[test]
    fn a_resumed_read_starts_after_the_cursor_without_a_line_limit() {
        let q = LogQuery {
            lines: Some(5),
            ..query()
        };
        let args = journalctl_args(&q, Some("s=abc"), false);
        assert!(args.contains(&"--after-cursor=s=abc".to_string()));
        assert!(!args.iter().any(|a| a.starts_with("--lines")));
        assert!(journalctl_args(&q, None, true).contains(&"--lines=5".to_string()));
        // journalctl refuses --since together with a cursor; the entries' own bounds remain.
        let since = LogQuery {
            since_us: Some(2_000_000),
            ..query()
        };
        let args = journalctl_args(&since, Some("s=abc"), false);
        assert!(!args.iter().any(|a| a.starts_with("--since")), "{args:?}");
    }

    #[test]
    fn entries_without_a_message_are_skipped() {
        assert!(parse_entry(r#"{"MESSAGE":null}"#, &query()).is_none());
        assert!(parse_entry("not json", &query()).is_none());
    }
}
