//! `nomad-systemd ps`: the task units, like `docker ps`.
//!
//! The short table comes from systemd's unit listing alone (one call, however many tasks),
//! plus one read per exited task for its exit status; `--long` and JSON read every unit.

use std::process::ExitCode;

use clap::Args;

use super::format;
use super::{GlobalArgs, OutputFormat};
use crate::core::{Engine, Error, TaskState, TaskStatus, TaskSummary};

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Include tasks that have exited.
    #[arg(long, short = 'a')]
    all: bool,
    /// Add each task's main PID, CPU time, memory and uptime (reads every unit).
    #[arg(long, short = 'l')]
    long: bool,
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: PsArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let shown = |state: TaskState| args.all || state != TaskState::Exited;
    match (args.output, args.long) {
        (OutputFormat::Json, _) => {
            let tasks: Vec<TaskStatus> = engine
                .list_status()
                .await?
                .into_iter()
                .filter(|t| shown(t.state))
                .collect();
            format::print_json(&tasks)?;
        }
        (OutputFormat::Table, true) => {
            let tasks = engine.list_status().await?;
            long_table(tasks.iter().filter(|t| shown(t.state)));
        }
        (OutputFormat::Table, false) => {
            let tasks: Vec<TaskSummary> = engine
                .list()
                .await?
                .into_iter()
                .filter(|t| shown(t.state))
                .collect();
            short_table(&engine, &tasks).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn short_table(engine: &Engine, tasks: &[TaskSummary]) {
    let mut table = format::table(&["UNIT", "TASK", "ALLOC", "JOB", "STATE", "EXIT"]);
    for t in tasks {
        let exit = if t.state == TaskState::Exited {
            engine.status(&t.unit).await.ok().and_then(|s| s.exit)
        } else {
            None
        };
        table.add_row(vec![
            t.unit.to_string(),
            t.task.clone(),
            format::short_id(&t.alloc_id),
            t.job.clone(),
            format::state(t.state).to_string(),
            format::exit(exit),
        ]);
    }
    println!("{table}");
}

fn long_table<'a>(tasks: impl Iterator<Item = &'a TaskStatus>) {
    let mut table = format::table(&[
        "UNIT", "TASK", "ALLOC", "STATE", "PID", "CPU", "MEMORY", "UPTIME", "EXIT",
    ]);
    for t in tasks {
        table.add_row(vec![
            t.unit.to_string(),
            t.task.clone(),
            format::short_id(&t.alloc_id),
            format::state(t.state).to_string(),
            if t.main_pid == 0 {
                "-".into()
            } else {
                t.main_pid.to_string()
            },
            format::optional(t.cpu_ns, format::cpu_time),
            format::optional(t.memory_bytes, format::bytes),
            format::uptime(t),
            format::exit(t.exit),
        ]);
    }
    println!("{table}");
}
