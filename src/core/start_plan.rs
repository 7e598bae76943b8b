//! What [`Engine::start`] would send to systemd for a task, computed without sending it:
//! the dry run (`run --dry-run`) shows it, and the start itself builds its call from the same
//! functions ([`mapping::plan`] for a transient unit, [`host_unit::dropin`] for an installed
//! one), so the two cannot drift apart.
//!
//! Planning has no side effects: it creates no unit, file, directory or user record and opens
//! no output. What the start does before it calls systemd is named in
//! [`StartPlan::steps`] instead.

use std::path::PathBuf;

use super::engine::Engine;
use super::error::Result;
use super::host_unit::{self, DropIn};
use super::mapping::filesystem::Dirs;
use super::mapping::{self, UnitPlan, logging};
use super::stdio::Stdio;
use super::task::TaskSpec;
use super::workload_user;

/// Where a transient task's stdout and stderr go: the value of one of
/// [`logging::OUTPUT_PROPERTIES`], a file descriptor the start opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOutput {
    /// The property, e.g. `StandardOutputFileDescriptor` (D-Bus type `h`).
    pub property: &'static str,
    /// What the descriptor is, in words.
    pub target: String,
}

/// What starting the task would send.
#[derive(Debug, Clone)]
pub enum Sent {
    /// A transient service, created with its own slice in one `StartTransientUnit` call; its
    /// output properties come last, as [`PlannedOutput`]s.
    Transient {
        plan: UnitPlan,
        output: Vec<PlannedOutput>,
    },
    /// An installed unit, started with a runtime drop-in after a reload.
    Installed(DropIn),
}

/// A start, planned.
#[derive(Debug, Clone)]
pub struct StartPlan {
    pub sent: Sent,
    /// What the start does on the host before it calls systemd, in words, in order.
    pub steps: Vec<String>,
}

impl StartPlan {
    /// Adjustments made rather than refusals, as the start reports them.
    pub fn warnings(&self) -> &[String] {
        match &self.sent {
            Sent::Transient { plan, .. } => &plan.warnings,
            Sent::Installed(d) => &d.warnings,
        }
    }
}

impl Engine {
    /// Plans [`Engine::start`] of `spec` with output to `stdio`, making the checks the start
    /// makes before it changes anything (for an installed unit: installed, loaded, not denied,
    /// not running, which reads the bus) and returning the same errors.
    pub async fn plan_start(&self, spec: &TaskSpec, stdio: &Stdio) -> Result<StartPlan> {
        if let Some(unit) = &spec.host_unit {
            let dropin = host_unit::dropin(spec, unit, self.systemd().bus())?;
            self.check_host_unit(unit).await?;
            let steps = vec![
                format!("write {}", dropin.path.display()),
                "reload systemd and check every setting of the drop-in took effect".into(),
            ];
            return Ok(StartPlan {
                sent: Sent::Installed(dropin),
                steps,
            });
        }
        plan_transient(spec, self.slice(), stdio, Dirs::Present)
    }
}

/// [`Engine::plan_start`] of a transient task (no [`TaskSpec::host_unit`]) in `slice`: pure,
/// needing no bus. `dirs` says whether the task directories exist to be checked.
pub fn plan_transient(
    spec: &TaskSpec,
    slice: &str,
    stdio: &Stdio,
    dirs: Dirs,
) -> Result<StartPlan> {
    let plan = mapping::plan_with(spec, slice, dirs)?;
    let mut steps = Vec::new();
    if let Some(id) = spec.workload_user {
        steps.push(format!(
            "give workload user {} (uid/gid {id}) a user record unless the host has one",
            workload_user::name(id)
        ));
    }
    let (stdout, stderr) = output_targets(spec, stdio);
    for (what, target) in [("stdout", &stdout), ("stderr", &stderr)] {
        steps.push(format!("open the task's {what}: {target}"));
    }
    for (path, _) in &plan.files {
        steps.push(format!("write {}", path.display()));
    }
    let output = logging::OUTPUT_PROPERTIES
        .iter()
        .zip([stdout, stderr])
        .map(|(&property, target)| PlannedOutput { property, target })
        .collect();
    Ok(StartPlan {
        sent: Sent::Transient { plan, output },
        steps,
    })
}

/// What [`Engine::start`] opens for the task's stdout and stderr.
fn output_targets(spec: &TaskSpec, stdio: &Stdio) -> (String, String) {
    let journal = |stream: &str| {
        format!(
            "a journal stream, identifier '{}', {stream} priority",
            spec.name
        )
    };
    let file = |p: &PathBuf| format!("{} (appended to, created if missing)", p.display());
    let fifo = |p: &PathBuf| format!("Nomad's log FIFO {}", p.display());
    match stdio {
        Stdio::Journal => (journal("info"), journal("err")),
        Stdio::Files { stdout, stderr } => (file(stdout), file(stderr)),
        Stdio::Fifos { stdout, stderr } => (fifo(stdout), fifo(stderr)),
        Stdio::To(_) => (
            "a descriptor the caller opened".into(),
            "a descriptor the caller opened".into(),
        ),
        Stdio::Inherit => ("the caller's stdout".into(), "the caller's stderr".into()),
    }
}
