//! Where a unit's stdout and stderr go, as far as reading them back from the journal needs
//! to know: into the journal (and whether the journal can tell the two apart), or elsewhere.
//!
//! - A transient task's streams are descriptors handed to systemd, so systemd cannot say
//!   where they lead (it even reports its default `StandardOutput=` for them); while the task runs, its main process's descriptors
//!   1 and 2 do: a socket is a journal stream ([`crate::core::stdio::Output::journal`], stdout
//!   and stderr apart by priority), a path is a file or FIFO (Nomad's, for plugin tasks).
//!   Once it has exited nothing says, and the journal is read as it is.
//! - An installed unit's streams are its `StandardOutput=`/`StandardError=` settings. When
//!   both go to the journal they arrive as one stream at the unit's own priority: the journal
//!   cannot tell stdout from stderr.

use std::collections::HashMap;

use zbus::OwnedVariant;

use super::engine::Engine;
use super::error::Result;
use super::logs::Stream;
use super::unit_name::UnitName;

/// Where one stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Into the journal.
    Journal,
    /// Not into the journal: the words say where (`file /var/log/x`, `the FIFO …`,
    /// `/dev/null`, `the terminal`, …).
    Elsewhere(String),
    /// Not into the journal but into this FIFO (its path, control characters escaped), whose
    /// reader is whoever started the task: Nomad's log collector for the plugin's tasks.
    Fifo(String),
    /// Not known (a transient task that has exited); its journal is read as it is.
    Unknown,
}

impl Destination {
    /// Whether the journal may hold the stream's lines.
    pub fn reaches_journal(&self) -> bool {
        !matches!(self, Destination::Elsewhere(_) | Destination::Fifo(_))
    }
}

/// Where a unit's two streams go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRoute {
    pub stdout: Destination,
    pub stderr: Destination,
    /// The journal's priority does not say which stream a line came from: an installed
    /// unit's streams reach it at the unit's own priority (as one stream when both go
    /// there), unlike a transient task's two streams at their own priorities.
    pub mixed: bool,
}

impl OutputRoute {
    /// Where `stream` goes.
    pub fn of(&self, stream: Stream) -> &Destination {
        match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }
}

impl Engine {
    /// Where `unit`'s stdout and stderr go (see the module documentation).
    pub async fn output_route(&self, unit: &UnitName) -> Result<OutputRoute> {
        let props = self.systemd().unit_properties(unit).await?;
        let service = &props.of_type;
        let setting = |name: &str| string(service, name);
        let (stdout, stderr) = (setting("StandardOutput"), setting("StandardError"));
        // systemd keeps descriptors passed with a transient unit aside, and still reports
        // the default `StandardOutput=` for it: every transient unit is taken as started
        // with descriptors, as this tool starts them.
        let transient = props
            .unit
            .get("Transient")
            .and_then(|v| v.downcast_ref::<bool>().ok())
            .unwrap_or(false);
        let pid = service
            .get("MainPID")
            .and_then(|v| v.downcast_ref::<u32>().ok())
            .unwrap_or(0);
        // Where descriptor `fd` of the running main process leads.
        let link = |fd: u32| {
            (pid != 0)
                .then(|| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok())
                .flatten()
                .map_or(Destination::Unknown, |target| {
                    from_descriptor(&target.to_string_lossy())
                })
        };
        if transient || stdout == "fd" || stderr == "fd" {
            return Ok(OutputRoute {
                stdout: link(1),
                stderr: link(2),
                mixed: false,
            });
        }
        // systemd does not report a `file:`/`append:` setting's path; the running process's
        // descriptor shows it.
        let with_path =
            |name: &str, value: &str, destination: Destination, fd: u32| match (value, link(fd)) {
                ("file" | "append" | "truncate", Destination::Elsewhere(to)) => {
                    Destination::Elsewhere(format!("{to} ({name}={value})"))
                }
                _ => destination,
            };
        let input = setting("StandardInput");
        let stdout_to = with_path(
            "StandardOutput",
            &stdout,
            from_setting(
                &stdout,
                &setting("StandardOutputFileDescriptorName"),
                &input,
            ),
            1,
        );
        let stderr_to = if stderr == "inherit" {
            stdout_to.clone()
        } else {
            with_path(
                "StandardError",
                &stderr,
                from_setting(&stderr, &setting("StandardErrorFileDescriptorName"), &input),
                2,
            )
        };
        Ok(OutputRoute {
            stdout: stdout_to,
            stderr: stderr_to,
            mixed: true,
        })
    }
}

/// A stream's destination from systemd's `StandardOutput=`-style setting; `name` is the
/// file's path or the descriptor's name that goes with it (D-Bus reports `file:/x` as
/// `file` plus `/x`), `input` the `StandardInput=` that `inherit` refers to.
pub fn from_setting(setting: &str, name: &str, input: &str) -> Destination {
    let (kind, inline) = setting.split_once(':').unwrap_or((setting, ""));
    let path = if inline.is_empty() { name } else { inline };
    let elsewhere = |s: String| Destination::Elsewhere(s);
    match kind {
        "journal" | "journal+console" | "syslog" | "syslog+console" => Destination::Journal,
        "kmsg" | "kmsg+console" => elsewhere("the kernel log buffer (kmsg)".into()),
        "inherit" if input.is_empty() || input == "null" => {
            elsewhere("/dev/null (StandardOutput=inherit from StandardInput=null)".into())
        }
        "inherit" => elsewhere(format!("wherever its standard input is ({input})")),
        "null" => elsewhere("/dev/null".into()),
        "tty" | "tty-force" | "tty-fail" => elsewhere("a terminal (tty)".into()),
        "file" | "append" | "truncate" if path.is_empty() => {
            elsewhere(format!("a file (StandardOutput={kind})"))
        }
        "file" => elsewhere(format!("the file {path}")),
        "append" => elsewhere(format!("the file {path} (appended)")),
        "truncate" => elsewhere(format!("the file {path} (truncated)")),
        "socket" => elsewhere("the socket it was activated by".into()),
        "fd" => elsewhere(format!("the file descriptor named {path}")),
        other => elsewhere(format!("{other} {path}").trim().to_string()),
    }
}

/// A stream's destination from the target of a process's descriptor, as `/proc/PID/fd/N`
/// shows it: a socket (the journal's stream socket, the only socket a task is started
/// with), a pipe, or a path. The task may have replaced the descriptor with a file of its
/// own naming: control characters in it are escaped, never printed to a terminal.
pub fn from_descriptor(target: &str) -> Destination {
    let target: String = target
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    let target = target.as_str();
    if target.starts_with("socket:") {
        Destination::Journal
    } else if target.starts_with("pipe:") {
        Destination::Elsewhere("a pipe to the process that started it".into())
    } else if target == "/dev/null" {
        Destination::Elsewhere("/dev/null".into())
    } else if target.ends_with(".fifo") {
        Destination::Fifo(target.to_string())
    } else {
        Destination::Elsewhere(format!("the file {target}"))
    }
}

fn string(props: &HashMap<String, OwnedVariant>, name: &str) -> String {
    props
        .get(name)
        .and_then(|v| v.downcast_ref::<&str>().ok().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_say_whether_the_journal_has_the_stream_and_where_else_it_went() {
        assert_eq!(from_setting("journal", "", "null"), Destination::Journal);
        assert_eq!(
            from_setting("journal+console", "", "null"),
            Destination::Journal
        );
        assert_eq!(
            from_setting("append", "/var/log/app.log", "null"),
            Destination::Elsewhere("the file /var/log/app.log (appended)".into())
        );
        assert_eq!(
            from_setting("file:/var/log/x", "", "null"),
            Destination::Elsewhere("the file /var/log/x".into())
        );
        assert_eq!(
            from_setting("null", "", "null"),
            Destination::Elsewhere("/dev/null".into())
        );
        assert!(!from_setting("inherit", "", "null").reaches_journal());
        assert!(!from_setting("tty", "", "tty").reaches_journal());
    }

    #[test]
    fn descriptors_say_whether_the_journal_has_the_stream() {
        assert_eq!(from_descriptor("socket:[1234]"), Destination::Journal);
        assert_eq!(
            from_descriptor("/tmp/out"),
            Destination::Elsewhere("the file /tmp/out".into())
        );
        let fifo = from_descriptor("/var/nomad/alloc/a/alloc/logs/.web.stdout.fifo");
        assert_eq!(
            fifo,
            Destination::Fifo("/var/nomad/alloc/a/alloc/logs/.web.stdout.fifo".into())
        );
        assert!(!fifo.reaches_journal());
        assert!(!from_descriptor("pipe:[99]").reaches_journal());
        assert_eq!(
            from_descriptor("/tmp/\x1b[2Jx"),
            Destination::Elsewhere("the file /tmp/\\u{1b}[2Jx".into())
        );
        assert!(Destination::Unknown.reaches_journal());
    }
}
