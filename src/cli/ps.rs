//! `nomad-systemd ps`: the task units, like `docker ps`.

use std::process::ExitCode;

use clap::Args;

use super::format;
use super::{GlobalArgs, OutputFormat};
use crate::core::{Error, TaskState};

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Include tasks that have exited.
    #[arg(long, short = 'a')]
    all: bool,
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: PsArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let tasks: Vec<_> = engine
        .list()
        .await?
        .into_iter()
        .filter(|t| args.all || t.state != TaskState::Exited)
        .collect();
    match args.output {
        OutputFormat::Json => format::print_json(&tasks)?,
        OutputFormat::Table => {
            let mut table = format::table(&[
                "UNIT", "TASK", "ALLOC", "STATE", "PID", "CPU", "MEMORY", "UPTIME", "EXIT",
            ]);
            for t in &tasks {
                table.add_row(vec![
                    t.unit.to_string(),
                    t.task.clone(),
                    t.alloc_id.chars().take(8).collect(),
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
    }
    Ok(ExitCode::SUCCESS)
}
