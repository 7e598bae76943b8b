//! `nomad-systemd status`: one task in full ([`crate::core::inspect`]), as `systemctl
//! status` shows a unit, with `systemctl status`'s exit statuses: 0 running, 3 not running,
//! 4 no such task.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::terminal::printable;
use super::{GlobalArgs, OutputFormat};
use super::{format, listing, log_time, resolve};
use crate::core::inspect::TaskDetail;
use crate::core::{Error, TaskState};

/// The task runs (or is starting or stopping).
const RUNNING: u8 = 0;
/// The task's main process has ended (`systemctl status`: "program is not running").
const NOT_RUNNING: u8 = 3;
/// No task answers to the name (`systemctl status`: "no such unit").
const NO_SUCH_TASK: u8 = 4;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The task: its unit name, an allocation id prefix, job/task, the task name or a glob
    /// matching one unit (see `nomad-systemd --help`).
    #[arg(value_name = "TASK")]
    task: String,
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<ExitCode, Error> {
    let engine = global.engine().await?;
    let tasks = listing::tasks(&engine, global.scope()).await?;
    let unit = match resolve::one(&engine, global.scope(), &args.task).await {
        Ok(unit) => unit,
        // Nothing answers to the name (rather than several tasks, or a bad glob).
        Err(e @ Error::Unresolved(_))
            if resolve::matching(&args.task, &tasks).is_ok_and(|m| m.is_empty()) =>
        {
            eprintln!("nomad-systemd: {}", super::render(&e));
            return Ok(ExitCode::from(NO_SUCH_TASK));
        }
        Err(e) => return Err(e),
    };
    let detail = match engine.inspect(&unit).await {
        Ok(detail) => detail,
        Err(e @ Error::NotFound(_)) => {
            eprintln!("nomad-systemd: {}", super::render(&e));
            return Ok(ExitCode::from(NO_SUCH_TASK));
        }
        Err(e) => return Err(e),
    };
    match args.output {
        OutputFormat::Json => format::print_json(&detail)?,
        OutputFormat::Table => print!("{}", text(&detail, log_time::now_us())),
    }
    Ok(ExitCode::from(match detail.state {
        TaskState::Exited => NOT_RUNNING,
        _ => RUNNING,
    }))
}

/// The detail as `systemctl status` lays a unit out: one `Label: value` line each.
fn text(d: &TaskDetail, now_us: u64) -> String {
    let mut lines = vec![format!(
        "{} {}",
        if d.state == TaskState::Exited {
            "○"
        } else {
            "●"
        },
        d.unit
    )];
    // Values the job author chose (names, command, user) are shown, never sent, to the
    // terminal.
    let mut line = |label: &str, value: String| {
        lines.push(format!("{label:>9}: {}", printable(&value)));
    };
    line("Task", format!("{}/{}", d.job, d.task));
    line(
        "Group",
        d.task_group
            .clone()
            .unwrap_or_else(|| "-".into())
            .to_string(),
    );
    line("Alloc", d.alloc_id.clone());
    line(
        "Origin",
        match d.origin {
            crate::core::description::Origin::Cli => "started by hand (nomad-systemd run)",
            crate::core::description::Origin::Nomad => "started by Nomad",
        }
        .into(),
    );
    let since = |us: u64| {
        format!(
            "{} ({} ago)",
            log_time::format_utc(us),
            format::duration(Duration::from_micros(now_us.saturating_sub(us)))
        )
    };
    let state = match (d.exited_at_us, d.started_at_us) {
        (Some(end), _) => format!("exited since {}", since(end)),
        (None, Some(start)) => format!("{} since {}", format::state(d.state), since(start)),
        (None, None) => format::state(d.state).to_string(),
    };
    line(
        "State",
        format!("{state} [systemd: {}/{}]", d.active_state, d.sub_state),
    );
    if let Some(exit) = &d.exit {
        line("Exit", exit.to_string());
    }
    line(
        "Main PID",
        d.main_pid.map_or_else(|| "-".into(), |p| p.to_string()),
    );
    line(
        "Command",
        if d.command.is_empty() {
            "-".into()
        } else {
            d.command.join(" ")
        },
    );
    let user = match (&d.user, d.dynamic_user) {
        (_, true) => "a dynamic user".to_string(),
        (Some(user), false) => user.clone(),
        (None, false) => "the service manager's own user".into(),
    };
    line(
        "User",
        match &d.group {
            Some(group) => format!("{user} (group {group})"),
            None => user,
        },
    );
    if let Some(dir) = &d.working_directory {
        line("Workdir", dir.clone());
    }
    line("Slice", d.slice.clone());
    let asked = &d.asked;
    line(
        "Asked",
        format!(
            "cpu {}, memory {}, memory max {}",
            asked
                .cpu_mhz
                .map_or_else(|| "-".into(), |n| format!("{n} MHz")),
            asked
                .memory_mib
                .map_or_else(|| "-".into(), |n| format!("{n} MiB")),
            asked
                .memory_max_mib
                .map_or_else(|| "-".into(), |n| format!("{n} MiB")),
        ),
    );
    line("Limits", settings(&d.limits));
    let u = &d.usage;
    line(
        "Usage",
        format!(
            "memory {} (peak {}), cpu {} (user {}, system {}), tasks {}",
            format::optional(u.memory_usage, format::bytes),
            format::optional(u.memory_peak, format::bytes),
            format::optional(u.cpu_total_ns, format::cpu_time),
            format::optional(u.cpu_user_ns, format::cpu_time),
            format::optional(u.cpu_system_ns, format::cpu_time),
            format::optional(u.tasks, |n| n.to_string()),
        ),
    );
    line("Sandbox", settings(&d.sandbox));
    if let Some(dir) = &d.task_dir {
        line("Task dir", dir.display().to_string());
    }
    lines.join("\n") + "\n"
}

fn settings(map: &std::collections::BTreeMap<String, String>) -> String {
    if map.is_empty() {
        return "-".into();
    }
    let pad = " ".repeat(11);
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(&format!("\n{pad}"))
}
