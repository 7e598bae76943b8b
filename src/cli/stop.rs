//! `nomad-systemd stop`: stop tasks the way Nomad does and remove their units. Only this
//! tool's own task units ([`super::own_task`]).
//!
//! `--all` takes every task seen (in `--slice` when one is given, see [`super::listing`])
//! that passes the filters ([`super::selection`]), leaving out the tasks Nomad started unless
//! `--include-nomad`. Before stopping tasks that way, or several tasks a glob matched, it lists
//! them and asks, when someone can answer ([`super::confirm`]); without a terminal it needs
//! `--yes`. Tasks named one by one are stopped without a question. The tasks stop in parallel,
//! each with its own kill signal and timeout unless `--signal` / `--timeout` say otherwise.
//!
//! A task `run --task-dir` created directories for loses them with its unit, unless `--keep`
//! ([`crate::core::standalone::remove_task_dirs`]: nothing the task planted there is followed). Only
//! directories recorded on the unit as the CLI's are removed, never Nomad's.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::progress::Progress;
use super::selection::Selection;
use super::{GlobalArgs, OutputFormat};
use super::{confirm, listing, own_task, resolve};
use crate::core::description::Origin;
use crate::core::standalone::Destroyed;
use crate::core::{Engine, Error, ExitResult, Signal, TaskSummary, UnitName};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The tasks to stop: unit names, allocation id prefixes, job/task, task names, or
    /// globs, each of which may match several units (see `nomad-systemd --help`).
    #[arg(
        value_name = "TASK",
        required_unless_present = "all",
        add = clap_complete::ArgValueCompleter::new(super::candidates::tasks)
    )]
    tasks: Vec<String>,
    /// Stop every task the filters select (in --slice when given); tasks started by Nomad
    /// only with --include-nomad. Lists them and asks first on a terminal.
    #[arg(long, conflicts_with = "tasks")]
    all: bool,
    /// With --all: only the tasks of this job (its exact name).
    #[arg(long, value_name = "JOB", conflicts_with = "tasks", add = clap_complete::ArgValueCandidates::new(super::candidates::jobs))]
    job: Option<String>,
    /// With --all: only the tasks of allocations whose id starts so (2+ characters).
    #[arg(long, value_name = "ALLOC_ID_PREFIX", conflicts_with = "tasks", add = clap_complete::ArgValueCandidates::new(super::candidates::allocs))]
    alloc: Option<String>,
    /// With --all: only the tasks of this name (exact).
    #[arg(long, value_name = "TASK_NAME", conflicts_with = "tasks", add = clap_complete::ArgValueCandidates::new(super::candidates::task_names))]
    task: Option<String>,
    /// With --all: also stop the tasks Nomad's plugin started (Nomad then sees them fail and
    /// reschedules them). Without it --all takes only the tasks `nomad-systemd run` started.
    #[arg(long, conflicts_with = "tasks")]
    include_nomad: bool,
    /// Do not ask before stopping what --all or a glob matching several tasks selected;
    /// needed for those when stdin is not a terminal.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Signal to send first [default: the task's kill signal].
    #[arg(long, short = 's', value_name = "SIG", add = clap_complete::ArgValueCompleter::new(super::candidates::signals), value_parser = super::input::signal)]
    signal: Option<Signal>,
    /// How long to wait before SIGKILL: seconds, or e.g. 500ms [default: the task's kill timeout].
    #[arg(long, short = 't', value_name = "DURATION", value_parser = super::input::duration)]
    timeout: Option<Duration>,
    /// Leave the stopped unit loaded, so `ps --all` and `status` still show it, and the task
    /// directories `run --task-dir` created for it in place.
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
    let selection = Selection {
        job: args.job.clone(),
        alloc: args.alloc.clone(),
        task: args.task.clone(),
        include_nomad: args.include_nomad,
    };
    // Filters are checked before anything is asked of systemd.
    selection.check()?;
    let engine = global.engine().await?;
    let units = if args.all {
        match select_all(&engine, global, &args, &selection).await? {
            Some(units) => units,
            None => return Ok(ExitCode::FAILURE),
        }
    } else {
        // Every task named is resolved and checked before any is stopped.
        let named = resolve::many(&engine, global.scope(), &args.tasks).await?;
        for task in &named.tasks {
            own_task::require(&engine, &task.unit).await?;
        }
        if let Some(glob) = &named.widened_by
            && !args.yes
        {
            let tasks: Vec<&TaskSummary> = named.tasks.iter().collect();
            if !confirmed(&tasks, &format!("'{glob}' matches several tasks"))? {
                return Ok(ExitCode::FAILURE);
            }
        }
        named.tasks.into_iter().map(|t| t.unit).collect()
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
        // Any task may be one `run --task-dir` made directories for.
        engine
            .destroy_with_task_dirs(Destroyed::Named(unit), true)
            .await?;
    }
    Ok(exit)
}

/// The units `stop --all` is to stop, once confirmed; `None` when the operator said no or
/// could not be asked (the reason is printed).
async fn select_all(
    engine: &Engine,
    global: &GlobalArgs,
    args: &StopArgs,
    selection: &Selection,
) -> Result<Option<Vec<UnitName>>, Error> {
    let tasks: Vec<TaskSummary> = listing::tasks(engine, global.scope())
        .await?
        .into_iter()
        .filter(|t| own_task::named_ours(engine, &t.unit))
        .collect();
    let selected = selection.select(&tasks);
    if !selected.nomads_left.is_empty() {
        eprintln!(
            "nomad-systemd: leaving {} task(s) started by Nomad; --include-nomad stops them \
             too (Nomad then reschedules them)",
            selected.nomads_left.len()
        );
    }
    let units: Vec<UnitName> = selected.taken.iter().map(|t| t.unit.clone()).collect();
    if units.is_empty() {
        eprintln!("nomad-systemd: no task to stop");
    }
    if units.is_empty() || args.yes {
        return Ok(Some(units));
    }
    Ok(confirmed(&selected.taken, "--all")?.then_some(units))
}

/// Whether the operator, asked, said to stop `tasks`, which `why` selected (`--all`, a glob
/// matching several). Lists them and asks on a terminal; without one, says to pass `--yes`
/// and is `false`, as is any answer but yes.
fn confirmed(tasks: &[&TaskSummary], why: &str) -> Result<bool, Error> {
    if !confirm::can_ask() {
        eprintln!(
            "nomad-systemd: not stopping {} task(s) without confirmation ({why}): stdin is not \
             a terminal; pass --yes to stop them",
            tasks.len()
        );
        return Ok(false);
    }
    let question = format!("Stop {} task(s)?", tasks.len());
    let mut stderr = std::io::stderr();
    eprintln!("{}", table(tasks));
    let yes = confirm::ask(&question, &mut std::io::stdin().lock(), &mut stderr)
        .map_err(|e| Error::io("cannot read the answer", e))?;
    if !yes {
        eprintln!("nomad-systemd: nothing stopped");
    }
    Ok(yes)
}

/// The tasks about to be stopped, one a line: unit, job/task, short allocation id, state
/// and who started it.
fn table(tasks: &[&TaskSummary]) -> String {
    let by = |t: &TaskSummary| match t.origin {
        Origin::Nomad => "started by Nomad",
        Origin::Cli => "started by hand",
    };
    resolve::task_lines(tasks, by).join("\n")
}
