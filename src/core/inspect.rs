//! One task in full, as `nomad-systemd status` shows it: who it is, its state, its process,
//! what it asked for and uses, how it is confined and how it ended.
//!
//! Everything is read from systemd (the unit, its own task slice, which carries a transient
//! task's cgroup limits, see [`crate::core::mapping::slice_properties`]) and from the
//! unit's cgroup ([`crate::core::stats`]). A value nobody reports is `None`, never 0.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use zbus::OwnedVariant;

use super::capability::CapSet;
use super::description::{self, Origin};
use super::engine::Engine;
use super::error::Result;
use super::exit::ExitResult;
use super::mapping::logging::{
    FIELD_ALLOC_ID, FIELD_GROUP_NAME, FIELD_JOB_NAME, FIELD_TASK_DIR, FIELD_TASK_NAME,
};
use super::property::{Property, Value};
use super::stats::{self, TaskStats};
use super::status::{TaskState, TaskStatus};
use super::systemd::UnitSnapshot;
use super::unit_name::UnitName;

/// The cgroup limits read from the unit and from its slice, as systemd names them.
const LIMITS: &[&str] = &[
    "MemoryHigh",
    "MemoryMax",
    "MemorySwapMax",
    "TasksMax",
    "CPUWeight",
    "CPUQuotaPerSecUSec",
];
/// systemd's `infinity` for a `t` limit.
const INFINITY: u64 = u64::MAX;
/// What systemd reports for a `CPUWeight` nobody set.
const CPU_WEIGHT_UNSET: u64 = u64::MAX;

/// A task in full. Times are realtime µs; `None` where systemd reports nothing.
#[derive(Debug, Clone, Serialize)]
pub struct TaskDetail {
    pub unit: UnitName,
    pub task: String,
    pub job: String,
    /// The task group.
    pub task_group: Option<String>,
    pub alloc_id: String,
    /// Who started it: `nomad` (the plugin) or `cli` (`nomad-systemd run`).
    pub origin: Origin,
    pub state: TaskState,
    /// systemd's `ActiveState` and `SubState`.
    pub active_state: String,
    pub sub_state: String,
    pub started_at_us: Option<u64>,
    pub exited_at_us: Option<u64>,
    pub main_pid: Option<u32>,
    /// The program and its arguments, as the task runs them (the environment loader's
    /// wrapping taken off); empty for an installed unit whose command is not readable.
    pub command: Vec<String>,
    /// The user and group it runs as; `None` is the service manager's own user.
    pub user: Option<String>,
    pub group: Option<String>,
    pub dynamic_user: bool,
    pub working_directory: Option<String>,
    pub slice: String,
    /// What the job asked for, in Nomad's terms (`NOMAD_CPU_LIMIT` MHz,
    /// `NOMAD_MEMORY_LIMIT` and `NOMAD_MEMORY_MAX_LIMIT` MiB); `None` where not given.
    pub asked: Asked,
    /// The cgroup limits in effect (the unit's, or its slice's where the unit sets none),
    /// by systemd's name; values as systemd reads them (`infinity` for none).
    pub limits: BTreeMap<String, String>,
    /// Measured now; `None` fields were not measured.
    pub usage: TaskStats,
    /// The confinement in effect, by systemd's name: switches that are on, words other than
    /// systemd's defaults, capability sets by name, path and device lists.
    pub sandbox: BTreeMap<String, String>,
    /// How the main process ended; `None` while it runs.
    pub exit: Option<ExitResult>,
    /// The task directory `nomad-systemd run --task-dir` created for it.
    pub task_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Asked {
    pub cpu_mhz: Option<u64>,
    pub memory_mib: Option<u64>,
    pub memory_max_mib: Option<u64>,
}

impl Engine {
    /// `unit` in full ([`TaskDetail`]). [`super::Error::NotFound`] when no such unit is
    /// loaded.
    pub async fn inspect(&self, unit: &UnitName) -> Result<TaskDetail> {
        let props = self.systemd().unit_properties(unit).await?;
        let snapshot = self.systemd().snapshot(unit).await?;
        let slice = match UnitName::parse(&snapshot.slice) {
            Ok(name) if !snapshot.slice.is_empty() => self
                .systemd()
                .unit_properties(&name)
                .await
                .map(|p| p.of_type)
                .unwrap_or_default(),
            _ => Default::default(),
        };
        Ok(detail(unit, &snapshot, &props.of_type, &slice))
    }
}

/// The detail of `unit` from its snapshot, its service properties and its slice's.
fn detail(
    unit: &UnitName,
    s: &UnitSnapshot,
    service: &std::collections::HashMap<String, OwnedVariant>,
    slice: &std::collections::HashMap<String, OwnedVariant>,
) -> TaskDetail {
    let status = TaskStatus::from_snapshot(unit.clone(), s);
    let identity = description::parse(&s.description);
    let field = |k: &str| s.log_fields.get(k).filter(|v| !v.is_empty()).cloned();
    let ctx = &s.exec_context;
    let env = |k: &str| {
        ctx.environment
            .iter()
            .find_map(|e| e.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let nonempty = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let mut limits = BTreeMap::new();
    for name in LIMITS {
        let own = number(service, name).filter(|n| !unset(name, *n));
        let theirs = number(slice, name).filter(|n| !unset(name, *n));
        if let Some(n) = own.or(theirs) {
            limits.insert(name.to_string(), limit_text(name, n));
        }
    }
    let usage = if s.has_exited() && s.main_pid == 0 && s.control_group.is_empty() {
        TaskStats::default()
    } else {
        stats::collect(s)
    };
    TaskDetail {
        unit: unit.clone(),
        task: field(FIELD_TASK_NAME)
            .or_else(|| Some(identity.as_ref()?.task.clone()))
            .unwrap_or_default(),
        job: field(FIELD_JOB_NAME)
            .or_else(|| Some(identity.as_ref()?.job.clone()))
            .unwrap_or_default(),
        task_group: field(FIELD_GROUP_NAME),
        alloc_id: field(FIELD_ALLOC_ID)
            .or_else(|| Some(identity.as_ref()?.alloc_id.clone()))
            .unwrap_or_default(),
        origin: identity.map(|i| i.origin).unwrap_or_default(),
        state: status.state,
        active_state: active_state(s),
        sub_state: s.sub_state.clone(),
        started_at_us: (s.exec_main_start_us != 0).then_some(s.exec_main_start_us),
        exited_at_us: (s.exec_main_exit_us != 0).then_some(s.exec_main_exit_us),
        main_pid: (s.main_pid != 0).then_some(s.main_pid),
        command: command(service),
        user: nonempty(&ctx.user),
        group: nonempty(&ctx.group),
        dynamic_user: ctx
            .sandbox
            .iter()
            .any(|p| p.name == "DynamicUser" && matches!(p.value, Value::Bool(true))),
        working_directory: nonempty(&ctx.working_directory),
        slice: s.slice.clone(),
        asked: Asked {
            cpu_mhz: env("NOMAD_CPU_LIMIT").filter(|n| *n != 0),
            memory_mib: env("NOMAD_MEMORY_LIMIT").filter(|n| *n != 0),
            memory_max_mib: env("NOMAD_MEMORY_MAX_LIMIT").filter(|n| *n != 0),
        },
        limits,
        usage,
        sandbox: ctx
            .sandbox
            .iter()
            .filter(|p| in_effect(p))
            .map(setting)
            .collect(),
        exit: status.exit,
        task_dir: field(FIELD_TASK_DIR)
            .filter(|_| identity_is_cli(s))
            .map(PathBuf::from),
    }
}

fn identity_is_cli(s: &UnitSnapshot) -> bool {
    description::parse(&s.description).is_some_and(|i| i.origin == Origin::Cli)
}

fn active_state(s: &UnitSnapshot) -> String {
    use super::systemd::ActiveState;
    match &s.active_state {
        Some(ActiveState::Active) => "active",
        Some(ActiveState::Reloading) => "reloading",
        Some(ActiveState::Inactive) => "inactive",
        Some(ActiveState::Failed) => "failed",
        Some(ActiveState::Activating) => "activating",
        Some(ActiveState::Deactivating) => "deactivating",
        Some(ActiveState::Unknown(other)) => other,
        None => "",
    }
    .to_string()
}

fn unset(name: &str, n: u64) -> bool {
    match name {
        "CPUWeight" => n == CPU_WEIGHT_UNSET,
        _ => n == INFINITY,
    }
}

fn limit_text(name: &str, n: u64) -> String {
    match name {
        "CPUQuotaPerSecUSec" => format!("{}%", n / 10_000),
        _ => n.to_string(),
    }
}

fn number(props: &std::collections::HashMap<String, OwnedVariant>, name: &str) -> Option<u64> {
    props.get(name).and_then(|v| v.downcast_ref::<u64>().ok())
}

/// The task's program and arguments from its first `ExecStart` command, unwrapped from the
/// environment loader when it runs through it.
fn command(service: &std::collections::HashMap<String, OwnedVariant>) -> Vec<String> {
    type Command = (String, Vec<String>, bool, u64, u64, u64, u64, u32, i32, i32);
    let argv = service
        .get("ExecStart")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<Command>::try_from(v).ok())
        .and_then(|cmds| cmds.into_iter().next())
        .map(|c| c.1)
        .unwrap_or_default();
    super::env_loader::wrapped_command(&argv).unwrap_or(argv)
}

/// Whether a sandbox setting confines anything: a switch that is on, a word other than
/// systemd's default (`ProtectSystem=no`, `DevicePolicy=auto`), any list.
fn in_effect(p: &Property) -> bool {
    match &p.value {
        Value::Bool(on) => *on,
        Value::Str(word) => !matches!(word.as_str(), "" | "no" | "auto"),
        _ => true,
    }
}

/// A sandbox setting as `name` and text.
fn setting(p: &Property) -> (String, String) {
    let text = match &p.value {
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) if p.name.ends_with("Capabilities") || p.name.ends_with("BoundingSet") => {
            CapSet(*n).to_string()
        }
        Value::U64(n) => n.to_string(),
        Value::Str(s) => s.clone(),
        Value::Strings(v) => v.join(" "),
        Value::SyscallFilter(allow, names) => {
            format!("{}{}", if *allow { "" } else { "~" }, names.join(" "))
        }
        Value::Devices(v) => v
            .iter()
            .map(|d| format!("{}:{}", d.device, d.access))
            .collect::<Vec<_>>()
            .join(" "),
        other => format!("{other:?}"),
    };
    (p.name.to_string(), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_limits_are_left_out_and_quota_reads_as_percent() {
        assert!(unset("MemoryMax", u64::MAX));
        assert!(!unset("MemoryMax", 1 << 20));
        assert!(unset("CPUWeight", u64::MAX));
        assert_eq!(limit_text("CPUQuotaPerSecUSec", 500_000), "50%");
        assert_eq!(limit_text("TasksMax", 64), "64");
    }

    #[test]
    fn only_settings_that_confine_are_in_effect() {
        assert!(!in_effect(&Property::new(
            "PrivateDevices",
            Value::Bool(false)
        )));
        assert!(!in_effect(&Property::new(
            "ProtectSystem",
            Value::Str("no".into())
        )));
        assert!(!in_effect(&Property::new(
            "DevicePolicy",
            Value::Str("auto".into())
        )));
        assert!(in_effect(&Property::new(
            "ProtectSystem",
            Value::Str("strict".into())
        )));
        assert!(in_effect(&Property::new(
            "NoNewPrivileges",
            Value::Bool(true)
        )));
    }

    #[test]
    fn sandbox_settings_read_as_text() {
        let p = Property::new("NoNewPrivileges", Value::Bool(true));
        assert_eq!(setting(&p), ("NoNewPrivileges".into(), "yes".into()));
        let caps = Property::new("CapabilityBoundingSet", Value::U64(1 << 10));
        assert_eq!(setting(&caps).1, "CAP_NET_BIND_SERVICE");
    }
}
