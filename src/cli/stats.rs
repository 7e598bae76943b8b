//! `nomad-systemd stats`: a task's resource usage, once or every second.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{GlobalArgs, OutputFormat};
use serde::Serialize;

use super::{format, resolve};
use crate::core::stats::TaskStats;
use crate::core::{Error, ExitResult, TaskState, UnitName};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The task: its unit name, an allocation id prefix, job/task, the task name or a glob
    /// matching one unit (see `nomad-systemd --help`).
    #[arg(value_name = "TASK", add = clap_complete::ArgValueCompleter::new(super::candidates::tasks))]
    task: String,
    /// Print a new sample every second, with CPU as a percentage of a core, until the task
    /// ends (then a last line says how, and stats exits 0) or Ctrl-C.
    #[arg(long, short = 'w')]
    watch: bool,
    /// A table, or JSON: one object per sample (one a line with --watch, JSON Lines), the
    /// same shape either way, with null for what was not measured.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

/// One line of `stats -o json`, the same with and without `--watch` (then one a line, JSON
/// Lines). A value not measured is `null`, never 0: `cpu_percent` needs two samples, so it
/// is `null` in the first and without `--watch`.
#[derive(Debug, Serialize)]
struct Sample<'a> {
    unit: &'a UnitName,
    state: TaskState,
    /// How the task ended, once it has; `null` while it runs.
    exit: Option<ExitResult>,
    cpu_percent: Option<f64>,
    #[serde(flatten)]
    stats: &'a TaskStats,
}

pub async fn run(global: &GlobalArgs, args: StatsArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let unit = resolve::one(&engine, global.scope(), &args.task).await?;
    let mut previous: Option<TaskStats> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        let read =
            async { Ok::<_, Error>((engine.status(&unit).await?, engine.stats(&unit).await?)) };
        let (status, sample) = match read.await {
            Ok(read) => read,
            // Removed meanwhile (`stop` without --keep): the task has ended.
            Err(Error::NotFound(_)) if previous.is_some() => {
                eprintln!("{unit}: the task ended and its unit was removed");
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => return Err(e),
        };
        let percent = previous.as_ref().and_then(|p| cpu_percent(p, &sample));
        match args.output {
            OutputFormat::Json => {
                let line = Sample {
                    unit: &unit,
                    state: status.state,
                    exit: status.exit,
                    cpu_percent: percent,
                    stats: &sample,
                };
                let text = serde_json::to_string(&line)
                    .map_err(|e| Error::io("cannot encode the sample", std::io::Error::other(e)))?;
                println!("{text}");
            }
            OutputFormat::Table => print_table(&sample, percent, previous.is_none()),
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(exit) = status.exit {
            if let OutputFormat::Table = args.output {
                println!("{unit}: the task ended: {exit}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        previous = Some(sample);
    }
}

fn print_table(s: &TaskStats, percent: Option<f64>, header: bool) {
    let row = [
        format::optional(s.cpu_total_ns, format::cpu_time),
        percent.map_or_else(|| "-".into(), |p| format!("{p:.1}%")),
        format::optional(s.cpu_user_ns, format::cpu_time),
        format::optional(s.cpu_system_ns, format::cpu_time),
        format::optional(s.memory_usage, format::bytes),
        format::optional(s.memory_rss, format::bytes),
        format::optional(s.memory_cache, format::bytes),
        format::optional(s.memory_peak, format::bytes),
        format::optional(s.tasks, |n| n.to_string()),
        format::optional(s.io_read_bytes, format::bytes),
        format::optional(s.io_write_bytes, format::bytes),
    ];
    const HEADER: [&str; 11] = [
        "CPU", "CPU%", "USER", "SYSTEM", "MEMORY", "RSS", "CACHE", "PEAK", "TASKS", "IO READ",
        "IO WRITE",
    ];
    let mut table = format::table(&HEADER);
    table.add_row(row.to_vec());
    if header {
        println!("{table}");
    } else {
        // Later samples: the row alone, lined up under the first one's header.
        let text = table.to_string();
        println!("{}", text.lines().nth(1).unwrap_or_default());
    }
}

/// CPU used between two samples as a percentage of one core.
fn cpu_percent(before: &TaskStats, after: &TaskStats) -> Option<f64> {
    let used = after.cpu_total_ns?.checked_sub(before.cpu_total_ns?)?;
    let wall = after.timestamp_ns.checked_sub(before.timestamp_ns)?;
    (wall > 0).then(|| used as f64 * 100.0 / wall as f64)
}
