//! Reading a task's output back from the journal (tasks started with [`Stdio::Journal`]).
//!
//! Entries are read through `journalctl -o json`, which handles journal namespaces,
//! compression and access rights exactly as operators see them. stdout and stderr are told
//! apart by the priority their streams were opened with.
//!
//! [`Stdio::Journal`]: crate::core::stdio::Stdio::Journal

use std::process::Stdio as ProcessStdio;

use serde_json::Value as Json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::error::{Error, Result};
use super::stdio::{STDERR_PRIORITY, STDOUT_PRIORITY};
use super::systemd::Bus;
use super::unit_name::UnitName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub struct LogQuery {
    pub unit: UnitName,
    pub bus: Bus,
    /// Keep reading new lines until the reader stops.
    pub follow: bool,
    /// Only this stream; both when `None`.
    pub stream: Option<Stream>,
    /// Only the last N lines.
    pub lines: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: Stream,
    /// The line as the task wrote it, without its newline; not necessarily UTF-8.
    pub message: Vec<u8>,
}

/// Feeds the task's lines to `sink` in order. Stops early, without error, when `sink` fails
/// (a closed pipe downstream); with `follow`, runs until then.
pub async fn read(
    query: &LogQuery,
    mut sink: impl FnMut(LogLine) -> std::io::Result<()>,
) -> Result<()> {
    let mut cmd = Command::new("journalctl");
    cmd.args([
        "--no-pager",
        "--quiet",
        "--all",
        "--output=json",
        "--output-fields=MESSAGE,PRIORITY",
    ]);
    match query.bus {
        Bus::System => cmd.arg(format!("_SYSTEMD_UNIT={}", query.unit)),
        Bus::User => cmd
            .arg("--user")
            .arg(format!("_SYSTEMD_USER_UNIT={}", query.unit)),
    };
    cmd.arg("_TRANSPORT=stdout");
    if let Some(stream) = query.stream {
        let priority = match stream {
            Stream::Stdout => STDOUT_PRIORITY,
            Stream::Stderr => STDERR_PRIORITY,
        };
        cmd.arg(format!("PRIORITY={priority}"));
    }
    if query.follow {
        cmd.arg("--follow");
    }
    cmd.arg(format!(
        "--lines={}",
        query.lines.map_or("all".to_string(), |n| n.to_string())
    ));
    cmd.stdout(ProcessStdio::piped())
        .stderr(ProcessStdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io("cannot run journalctl", e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| Error::io("cannot read journalctl's output", e))?
    {
        if let Some(entry) = parse_entry(&line)
            && sink(entry).is_err()
        {
            return Ok(());
        }
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| Error::io("journalctl failed", e))?;
    if !output.status.success() {
        let why = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(Error::io("journalctl failed", std::io::Error::other(why)));
    }
    Ok(())
}

/// One `journalctl -o json` line → a log line. `MESSAGE` is a string, or an array of bytes
/// when it is not valid UTF-8.
pub fn parse_entry(line: &str) -> Option<LogLine> {
    let entry: Json = serde_json::from_str(line).ok()?;
    let message = match entry.get("MESSAGE")? {
        Json::String(s) => s.clone().into_bytes(),
        Json::Array(bytes) => bytes
            .iter()
            .map(|b| b.as_u64().map(|b| b as u8))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let stream = match entry.get("PRIORITY").and_then(Json::as_str) {
        Some(p) if p == STDERR_PRIORITY.to_string() => Stream::Stderr,
        _ => Stream::Stdout,
    };
    Some(LogLine { stream, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_messages_are_decoded_with_their_stream() {
        let out = parse_entry(r#"{"MESSAGE":"hello","PRIORITY":"6"}"#).unwrap();
        assert_eq!(
            (out.stream, out.message.as_slice()),
            (Stream::Stdout, &b"hello"[..])
        );
        let err = parse_entry(r#"{"MESSAGE":[104,255],"PRIORITY":"3"}"#).unwrap();
        assert_eq!((err.stream, err.message), (Stream::Stderr, vec![104, 255]));
    }

    #[test]
    fn entries_without_a_message_are_skipped() {
        assert!(parse_entry(r#"{"MESSAGE":null}"#).is_none());
        assert!(parse_entry("not json").is_none());
    }
}
