//! `nomad-systemd signal`: send a signal to a running task without stopping it (a reload,
//! a log reopen), as `nomad alloc signal` does.
//!
//! The signal goes to the task's main process only, as Nomad's own SignalTask does (its
//! executor signals the process it started, and this driver's plugin does the same through
//! [`Engine::signal`]); a task that wants its children told passes it on. Only this tool's
//! own tasks ([`super::own_task`]), named as every command names them
//! ([`super::resolve`]).

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;
use super::{own_task, resolve};
use crate::core::{Engine, Error, Signal};

#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The task: a unit name, allocation id prefix, job/task, task name, or a glob matching
    /// one task (see `nomad-systemd --help`).
    #[arg(value_name = "TASK", add = clap_complete::ArgValueCompleter::new(super::candidates::tasks))]
    task: String,
    /// The signal: a name (SIGHUP, HUP, hup) or a number.
    #[arg(value_name = "SIG", add = clap_complete::ArgValueCompleter::new(super::candidates::signals), value_parser = super::input::signal)]
    signal: Signal,
}

pub async fn run(global: &GlobalArgs, args: SignalArgs) -> Result<ExitCode, Error> {
    let engine: Engine = global.engine().await?;
    let unit = resolve::one(&engine, global.scope(), &args.task).await?;
    own_task::require(&engine, &unit).await?;
    engine.signal(&unit, args.signal).await?;
    println!("{unit}: sent {} to the main process", args.signal);
    Ok(ExitCode::SUCCESS)
}
