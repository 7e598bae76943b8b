//! `nomad-systemd stats`: a task's resource usage, once or every second.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{GlobalArgs, OutputFormat};
use super::{format, resolve};
use crate::core::Error;
use crate::core::stats::TaskStats;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The task: its unit name, an allocation id prefix, job/task, the task name or a glob
    /// matching one unit (see `nomad-systemd --help`).
    #[arg(value_name = "TASK", add = clap_complete::ArgValueCompleter::new(super::candidates::tasks))]
    task: String,
    /// Print a new sample every second until interrupted, with CPU as a percentage of a core.
    #[arg(long, short = 'w')]
    watch: bool,
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: StatsArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let unit = resolve::one(&engine, global.scope(), &args.task).await?;
    let mut previous: Option<TaskStats> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        let sample = engine.stats(&unit).await?;
        let percent = previous.as_ref().and_then(|p| cpu_percent(p, &sample));
        match args.output {
            OutputFormat::Json if args.watch => {
                let line = serde_json::json!({ "cpu_percent": percent, "sample": sample });
                println!("{line}");
            }
            OutputFormat::Json => format::print_json(&sample)?,
            OutputFormat::Table => print_table(&sample, percent, previous.is_none()),
        }
        if !args.watch {
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
