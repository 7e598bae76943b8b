//! `nomad-systemd logs`: a task's output from the journal, stdout to stdout and stderr to
//! stderr (or, with `-o json`, one JSON object per line on stdout).
//!
//! What is said instead of printing nothing:
//! - a name that names no task is an error (see [`resolve`]); a task already removed whose
//!   lines are still in the journal is found there by its unit name or allocation id prefix;
//! - a stream that does not go to the journal (a file, a FIFO, `/dev/null`) is an error
//!   saying where it goes when it is all that was asked for, a note on stderr otherwise;
//! - `--stdout`/`--stderr` for an installed unit logging both streams to the journal is an
//!   error: the journal cannot tell them apart.
//!
//! A task that exists and whose journal is empty (nothing written yet, or nothing within
//! `--since`/`--until`) prints nothing and exits 0: that is the true answer.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{GlobalArgs, listing, log_time, resolve, terminal};
use crate::core::description::{self, Origin};
use crate::core::log_output::{Destination, OutputRoute};
use crate::core::logs::{self, LogLine, LogQuery, Stream};
use crate::core::{Bus, Engine, Error, UnitName};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task: its unit name, an allocation id prefix, job/task, the task name or a glob
    /// matching one unit (see `nomad-systemd --help`).
    #[arg(value_name = "TASK", add = clap_complete::ArgValueCompleter::new(super::candidates::tasks))]
    task: String,
    /// Keep printing new output until the task has exited (or Ctrl-C).
    #[arg(long, short = 'f', conflicts_with = "until")]
    follow: bool,
    /// Only the task's stdout.
    #[arg(long, conflicts_with = "stderr")]
    stdout: bool,
    /// Only the task's stderr.
    #[arg(long)]
    stderr: bool,
    /// Only the last N lines.
    #[arg(long, short = 'n', value_name = "N")]
    lines: Option<u64>,
    /// Only output logged at or after TIME: `YYYY-MM-DD [HH:MM[:SS]]`, `HH:MM[:SS]` (local
    /// time; ` UTC` or `Z` appended for UTC), `now`, `today`, `yesterday`, `-5m`, `+1h`,
    /// `'5min ago'` or `@SECONDS`, as journalctl spells them.
    #[arg(long, short = 'S', value_name = "TIME", value_parser = parse_time,
          allow_hyphen_values = true)]
    since: Option<u64>,
    /// Only output logged at or before TIME (forms as for --since).
    #[arg(long, short = 'U', value_name = "TIME", value_parser = parse_time,
          allow_hyphen_values = true)]
    until: Option<u64>,
    /// Prefix each line with the time journald received it (RFC 3339, UTC, µs).
    #[arg(long, short = 't')]
    timestamps: bool,
    /// `cat`: the lines as written; `json`: one object per line on stdout with `time`,
    /// `stream` (`stdout`, `stderr`, or null when the journal cannot tell), `message` and
    /// `unit`.
    #[arg(long, short = 'o', value_name = "FORMAT", default_value = "cat")]
    output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Cat,
    Json,
}

fn parse_time(text: &str) -> Result<u64, String> {
    log_time::parse(text, log_time::now_us())
}

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> Result<ExitCode, Error> {
    let filter = match (args.stdout, args.stderr) {
        (true, _) => Some(Stream::Stdout),
        (_, true) => Some(Stream::Stderr),
        _ => None,
    };
    let engine = global.engine().await?;
    let (unit, route, origin) = match task_or_gone(&engine, global, &args.task).await? {
        Found::Task(unit) => {
            let route = engine.output_route(&unit).await?;
            let snapshot = engine.systemd().snapshot(&unit).await?;
            let origin = description::parse(&snapshot.description).map(|d| d.origin);
            (unit, route, origin)
        }
        Found::Gone(unit) => {
            let unknown = OutputRoute {
                stdout: Destination::Unknown,
                stderr: Destination::Unknown,
                mixed: false,
            };
            (unit, unknown, None)
        }
    };
    let label = streams_shown(&unit, &route, filter, origin)?;
    let mut query = LogQuery {
        unit: unit.clone(),
        bus: global.bus(),
        follow: args.follow,
        stream: filter,
        lines: args.lines,
        since_us: args.since,
        until_us: args.until,
        mixed: route.mixed,
    };
    if route.mixed {
        // Every journal line is one stream, or the journal cannot say (refused above when a
        // stream was asked for).
        query.stream = None;
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    // The job author's output reaches the operator's terminal shown, not obeyed.
    let (out_tty, err_tty) = (out.is_terminal(), err.is_terminal());
    let follow = args.follow;
    engine
        .read_logs(&query, |mut line| {
            if route.mixed {
                line.stream = label;
            }
            let (sink, tty): (&mut dyn Write, bool) = match (args.output, line.stream) {
                (Format::Cat, Some(Stream::Stderr)) => (&mut err, err_tty),
                _ => (&mut out, out_tty),
            };
            match args.output {
                Format::Cat => {
                    if args.timestamps {
                        write!(sink, "{} ", log_time::format_utc(line.realtime_us))?;
                    }
                    if tty {
                        sink.write_all(terminal::visible(&line.message).as_bytes())?;
                    } else {
                        sink.write_all(&line.message)?;
                    }
                    sink.write_all(b"\n")?;
                }
                Format::Json => {
                    serde_json::to_writer(&mut *sink, &json_line(&unit, &line))?;
                    sink.write_all(b"\n")?;
                }
            }
            if follow {
                sink.flush()?;
            }
            Ok(())
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

enum Found {
    /// A task systemd has.
    Task(UnitName),
    /// A task removed already whose lines the journal still has.
    Gone(UnitName),
}

/// The task `name` designates, or one the journal alone still knows (see the module
/// documentation); otherwise the resolver's error.
async fn task_or_gone(engine: &Engine, global: &GlobalArgs, name: &str) -> Result<Found, Error> {
    let tasks = listing::tasks(engine, global.scope()).await?;
    if !resolve::matching(name, &tasks)?.is_empty() {
        return resolve::one(engine, global.scope(), name)
            .await
            .map(Found::Task);
    }
    let gone = gone_tasks(global.bus(), name).await?;
    match gone.as_slice() {
        [unit] => Ok(Found::Gone(unit.clone())),
        [] => resolve::one(engine, global.scope(), name)
            .await
            .map(Found::Task),
        several => {
            let mut message = format!(
                "'{name}' matches {} removed tasks in the journal; name one by its unit:",
                several.len()
            );
            for unit in several {
                message.push_str(&format!("\n  {unit}"));
            }
            Err(Error::Unresolved(message))
        }
    }
}

/// Removed tasks whose stdout lines the journal holds, named by unit name or allocation id
/// prefix (the unit name carries the id's first 8 characters).
async fn gone_tasks(bus: Bus, name: &str) -> Result<Vec<UnitName>, Error> {
    if resolve::is_glob(name) {
        return Ok(Vec::new());
    }
    if let Ok(unit) = UnitName::parse(name)
        && unit.is_task_unit()
    {
        let found = logs::journal_units(bus, unit.as_str()).await?;
        return Ok(found.into_iter().filter(|u| *u == unit).collect());
    }
    let is_id = name.len() >= resolve::MIN_ALLOC_PREFIX
        && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !is_id {
        return Ok(Vec::new());
    }
    let head: String = name.to_ascii_lowercase().chars().take(8).collect();
    logs::journal_units(bus, &format!("nomad-{head}")).await
}

/// Where a stream that is not in the journal goes, in words; `None` for one that may be. A
/// FIFO is Nomad's log FIFO only for a task Nomad started: a task run by hand writes into
/// whatever FIFO its operator named.
fn elsewhere(destination: &Destination, origin: Option<Origin>) -> Option<String> {
    match destination {
        Destination::Elsewhere(to) => Some(to.clone()),
        Destination::Fifo(path) if origin == Some(Origin::Nomad) => Some(format!(
            "the FIFO {path} (Nomad's log FIFO: `nomad alloc logs` shows it)"
        )),
        Destination::Fifo(path) => Some(format!("the FIFO {path}")),
        Destination::Journal | Destination::Unknown => None,
    }
}

/// Checks that what was asked for can be shown, noting on stderr a stream that goes
/// elsewhere; returns the stream every journal line belongs to when the journal's priority
/// cannot say ([`OutputRoute::mixed`]) but only one stream goes there.
fn streams_shown(
    unit: &UnitName,
    route: &OutputRoute,
    filter: Option<Stream>,
    origin: Option<Origin>,
) -> Result<Option<Stream>, Error> {
    let wanted: Vec<Stream> = filter.map_or(vec![Stream::Stdout, Stream::Stderr], |s| vec![s]);
    let elsewhere: Vec<(Stream, String)> = wanted
        .iter()
        .filter_map(|s| Some((*s, elsewhere(route.of(*s), origin)?)))
        .collect();
    let said = |list: &[(Stream, String)]| {
        list.iter()
            .map(|(s, to)| format!("its {} goes to {to}", s.name()))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    if elsewhere.len() == wanted.len() {
        return Err(Error::Unresolved(format!(
            "{unit} has no output in the journal: {}",
            said(&elsewhere)
        )));
    }
    if !elsewhere.is_empty() {
        eprintln!("note: {unit}: {}, not to the journal", said(&elsewhere));
    }
    if !route.mixed {
        return Ok(None);
    }
    let in_journal: Vec<Stream> = [Stream::Stdout, Stream::Stderr]
        .into_iter()
        .filter(|s| route.of(*s).reaches_journal())
        .collect();
    match (in_journal.as_slice(), filter) {
        ([only], _) => Ok(Some(*only)),
        (_, Some(_)) => Err(Error::Unresolved(format!(
            "{unit} sends stdout and stderr to the journal together (an installed unit's \
             StandardOutput=journal with StandardError=inherit or journal), and the journal \
             cannot tell them apart: leave out --stdout/--stderr"
        ))),
        _ => Ok(None),
    }
}

fn json_line(unit: &UnitName, line: &LogLine) -> serde_json::Value {
    let message = match std::str::from_utf8(&line.message) {
        Ok(text) => serde_json::Value::from(text),
        // As journalctl prints a message that is not UTF-8: an array of its bytes.
        Err(_) => serde_json::Value::from(line.message.clone()),
    };
    serde_json::json!({
        "time": log_time::format_utc(line.realtime_us),
        "stream": line.stream.map(Stream::name),
        "message": message,
        "unit": unit.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> UnitName {
        UnitName::parse("app.service").unwrap()
    }

    fn route(stdout: Destination, stderr: Destination, mixed: bool) -> OutputRoute {
        OutputRoute {
            stdout,
            stderr,
            mixed,
        }
    }

    #[test]
    fn output_that_went_elsewhere_is_said_not_shown_as_nothing() {
        let file = |p: &str| Destination::Elsewhere(format!("the file {p}"));
        let r = route(file("/o"), file("/e"), false);
        let err = streams_shown(&unit(), &r, None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stdout goes to the file /o") && err.contains("/e"),
            "{err}"
        );
        let r = route(Destination::Journal, file("/e"), false);
        assert!(streams_shown(&unit(), &r, Some(Stream::Stderr), None).is_err());
        assert_eq!(streams_shown(&unit(), &r, None, None).unwrap(), None);
    }

    #[test]
    fn only_a_task_nomad_started_has_its_fifo_called_nomads() {
        let fifo = || Destination::Fifo("/a/.web.stdout.fifo".into());
        let r = route(fifo(), fifo(), false);
        let by_hand = streams_shown(&unit(), &r, None, Some(Origin::Cli))
            .unwrap_err()
            .to_string();
        assert!(
            by_hand.contains("stdout goes to the FIFO /a/.web.stdout.fifo"),
            "{by_hand}"
        );
        assert!(!by_hand.contains("Nomad"), "{by_hand}");
        let nomads = streams_shown(&unit(), &r, None, Some(Origin::Nomad))
            .unwrap_err()
            .to_string();
        assert!(nomads.contains("`nomad alloc logs` shows it"), "{nomads}");
    }

    #[test]
    fn an_installed_units_journal_cannot_be_split_by_stream() {
        let r = route(Destination::Journal, Destination::Journal, true);
        let err = streams_shown(&unit(), &r, Some(Stream::Stdout), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot tell them apart"), "{err}");
        assert_eq!(streams_shown(&unit(), &r, None, None).unwrap(), None);
        let r = route(
            Destination::Journal,
            Destination::Elsewhere("/dev/null".into()),
            true,
        );
        assert_eq!(
            streams_shown(&unit(), &r, Some(Stream::Stdout), None).unwrap(),
            Some(Stream::Stdout)
        );
    }

    #[test]
    fn json_lines_carry_time_stream_message_and_unit() {
        let line = LogLine {
            stream: Some(Stream::Stderr),
            realtime_us: 1_000_001,
            message: b"hi".to_vec(),
            cursor: String::new(),
        };
        let json = json_line(&unit(), &line);
        assert_eq!(json["time"], "1970-01-01T00:00:01.000001Z");
        assert_eq!(json["stream"], "stderr");
        assert_eq!(json["message"], "hi");
        assert_eq!(json["unit"], "app.service");
        let binary = LogLine {
            stream: None,
            message: vec![255],
            ..line
        };
        let json = json_line(&unit(), &binary);
        assert!(json["stream"].is_null());
        assert_eq!(json["message"], serde_json::json!([255]));
    }
}
