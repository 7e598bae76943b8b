//! `nomad-systemd stop`: stop tasks the way Nomad does and remove their units. Only this
//! tool's own task units ([`super::own_task`]).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::progress::Progress;
use super::{GlobalArgs, OutputFormat};
use super::{own_task, resolve};
use crate::core::{Engine, Error, ExitResult, Signal, UnitName};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The tasks to stop: unit names, allocation id prefixes, job/task, task names, or
    /// globs, each of which may match several units (see `nomad-systemd --help`).
    #[arg(value_name = "TASK", required_unless_present = "all")]
    tasks: Vec<String>,
    /// Stop every task unit.
    #[arg(long, conflicts_with = "tasks")]
    all: bool,
    /// Signal to send first [default: the task's kill signal].
    #[arg(long, short = 's', value_name = "SIG", value_parser = |s: &str| s.parse::<Signal>().map_err(|e| e.to_string()))]
    signal: Option<Signal>,
    /// How long to wait before SIGKILL, e.g. 10s [default: the task's kill timeout].
    #[arg(long, short = 't', value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Leave the stopped unit loaded, so `ps --all` still shows it.
    #[arg(long)]
    keep: bool,
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

#[derive(Debug, Serialize)]
struct Stopped {
    unit: UnitName,
    exit: ExitResult,
}

pub async fn run(global: &GlobalArgs, args: StopArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let units = if args.all {
        engine
            .list()
            .await?
            .into_iter()
            .map(|t| t.unit)
            .filter(|u| own_task::named_ours(&engine, u))
            .collect()
    } else {
        // Every task named is resolved and checked before any is stopped.
        let units = resolve::many(&engine, global.scope(), &args.tasks).await?;
        for unit in &units {
            own_task::require(&engine, unit).await?;
        }
        units
    };
    let stops = units.iter().map(|unit| stop_one(&engine, &args, unit));
    let outcomes = {
        let _progress = Progress::show(format!("stopping {} task(s)", units.len()));
        futures_util::future::join_all(stops).await
    };
    let mut stopped = Vec::new();
    let mut failed = false;
    for (unit, outcome) in units.iter().zip(outcomes) {
        match outcome {
            Ok(exit) => stopped.push(Stopped {
                unit: unit.clone(),
                exit,
            }),
            Err(e) => {
                eprintln!("nomad-systemd: {}", super::render(&e));
                failed = true;
            }
        }
    }
    match args.output {
        OutputFormat::Json => super::format::print_json(&stopped)?,
        OutputFormat::Table => {
            for s in &stopped {
                println!("{}: {}", s.unit, s.exit);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn stop_one(engine: &Engine, args: &StopArgs, unit: &UnitName) -> Result<ExitResult, Error> {
    let exit = engine
        .stop_with_defaults(unit, args.signal, args.timeout)
        .await?;
    if !args.keep {
        engine.destroy(unit).await?;
    }
    Ok(exit)
}
