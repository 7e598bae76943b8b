//! One consistent read of a task unit's state: what systemd says right now.

use std::collections::HashMap;

use zbus::OwnedVariant;

use crate::core::exit::ExitResult;
use crate::core::property::{BindMount, DeviceAccess, Property, Value};

/// systemd's `ActiveState`, with room for states newer systemd versions add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveState {
    Active,
    Reloading,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Unknown(String),
}

impl ActiveState {
    pub fn parse(s: &str) -> ActiveState {
        match s {
            "active" => ActiveState::Active,
            "reloading" => ActiveState::Reloading,
            "inactive" => ActiveState::Inactive,
            "failed" => ActiveState::Failed,
            "activating" => ActiveState::Activating,
            "deactivating" => ActiveState::Deactivating,
            other => ActiveState::Unknown(other.to_string()),
        }
    }
}

/// The properties of a service unit the driver reads. Counters systemd does not have (not
/// accounted, or unknown to this systemd version) are `None`.
#[derive(Debug, Clone, Default)]
pub struct UnitSnapshot {
    pub load_state: String,
    pub active_state: Option<ActiveState>,
    pub sub_state: String,
    pub description: String,
    /// The service's `Result`: `success`, `exit-code`, `signal`, `oom-kill`, …
    pub result: String,
    pub main_pid: u32,
    pub exec_main_code: i32,
    pub exec_main_status: i32,
    /// Realtime µs; 0 when the main process never started.
    pub exec_main_start_us: u64,
    /// Realtime µs; 0 while the main process has not exited.
    pub exec_main_exit_us: u64,
    pub cpu_ns: Option<u64>,
    pub memory_current: Option<u64>,
    pub memory_peak: Option<u64>,
    pub tasks_current: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
    pub control_group: String,
    /// The slice the unit runs in.
    pub slice: String,
    /// `KEY=value` fields the unit adds to its journal entries (ours carry the Nomad ids).
    pub log_fields: HashMap<String, String>,
    /// Whether a job (start, stop) is queued or running for the unit.
    pub job_pending: bool,
    /// The stop signal the unit was created with (the task's `kill_signal`).
    pub kill_signal: Option<i32>,
    /// The stop timeout the unit was created with, in µs (the task's `kill_timeout`);
    /// `u64::MAX` is systemd's `infinity`.
    pub stop_timeout_us: Option<u64>,
    pub exec_context: ExecContext,
    /// The current activation's id as 32 hex digits (the journal's `_SYSTEMD_INVOCATION_ID`);
    /// empty before the unit was first started.
    pub invocation_id: String,
    /// The service's `Restart=` setting (`no`, `always`, …); empty for other unit types.
    pub restart: String,
}

/// What a command exec'd into the unit must share with it: identity, environment, working
/// directory, file-system binds and network namespace, as systemd applies them to the unit.
#[derive(Debug, Clone, Default)]
pub struct ExecContext {
    pub user: String,
    pub group: String,
    pub supplementary_groups: Vec<String>,
    /// `KEY=value` assignments.
    pub environment: Vec<String>,
    /// `KEY=value` assignments the unit's command gets through the environment loader
    /// ([`crate::core::env_loader`]), read from its `ExecStart`; empty without the loader.
    pub loader_environment: Vec<String>,
    pub working_directory: String,
    pub bind_paths: Vec<BindMount>,
    pub bind_read_only_paths: Vec<BindMount>,
    pub network_namespace_path: String,
    /// The task's confinement, as settings an exec unit repeats: its sandbox switches,
    /// capabilities, system call filter, path restrictions, root and device access.
    pub sandbox: Vec<Property>,
    /// Per-process settings an exec unit repeats: resource limits (`Limit*`), `Nice`,
    /// `UMask`, `OOMScoreAdjust`, `/proc` restrictions, private IPC and network.
    pub process: Vec<Property>,
    /// The unit's own cgroup limits (memory, swap, tasks, CPU quota and set, IO bandwidth),
    /// which an exec unit repeats on its own cgroup.
    pub limits: Vec<Property>,
}

impl ExecContext {
    fn from_properties(service: &HashMap<String, OwnedVariant>) -> ExecContext {
        ExecContext {
            user: string(service, "User"),
            group: string(service, "Group"),
            supplementary_groups: strings(service, "SupplementaryGroups"),
            environment: strings(service, "Environment"),
            loader_environment: loader_environment(service),
            working_directory: string(service, "WorkingDirectory"),
            bind_paths: binds(service, "BindPaths"),
            bind_read_only_paths: binds(service, "BindReadOnlyPaths"),
            network_namespace_path: string(service, "NetworkNamespacePath"),
            sandbox: sandbox(service),
            process: process(service),
            limits: limits(service),
        }
    }
}

/// Switches that confine a process, as booleans.
const SANDBOX_SWITCHES: &[&str] = &[
    "DynamicUser",
    "PrivateDevices",
    "NoNewPrivileges",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectClock",
    "ProtectHostname",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "LockPersonality",
    "MemoryDenyWriteExecute",
];
/// Confining settings that are words; empty means unset.
const SANDBOX_WORDS: &[&str] = &[
    "ProtectSystem",
    "ProtectHome",
    "RootDirectory",
    "RootImage",
    "DevicePolicy",
];
/// The largest errno systemd accepts for `SystemCallErrorNumber`.
const MAX_ERRNO: i32 = 4095;
/// Path lists; empty means unset.
const SANDBOX_PATHS: &[&str] = &["ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths"];

/// The kernel's resource limits, each as systemd reads and sets it: `Limit<NAME>` (setting it
/// sets the soft and the hard limit) and `Limit<NAME>Soft`.
const RLIMITS: &[&str] = &[
    "CPU",
    "FSIZE",
    "DATA",
    "STACK",
    "CORE",
    "RSS",
    "NOFILE",
    "AS",
    "NPROC",
    "MEMLOCK",
    "LOCKS",
    "SIGPENDING",
    "MSGQUEUE",
    "NICE",
    "RTPRIO",
    "RTTIME",
];

/// Per-process settings an exec'd command shares with the task, with their D-Bus types.
/// Read back from a unit that did not set them, they are the manager's own defaults, which an
/// exec unit gets anyway.
const PROCESS_SETTINGS: &[(&str, &str)] = &[
    ("Nice", "i"),
    ("UMask", "u"),
    ("OOMScoreAdjust", "i"),
    ("ProtectProc", "s"),
    ("ProcSubset", "s"),
    ("PrivateIPC", "b"),
    ("PrivateNetwork", "b"),
];

/// Cgroup limits an exec'd command is held to, as the task is: `t` values (`u64::MAX` is
/// systemd's `infinity`), then the CPU set and per-device IO limits.
const LIMIT_NUMBERS: &[&str] = &[
    "MemoryMax",
    "MemoryHigh",
    "MemorySwapMax",
    "TasksMax",
    "CPUQuotaPerSecUSec",
];
const LIMIT_DEVICES: &[&str] = &[
    "IOReadBandwidthMax",
    "IOWriteBandwidthMax",
    "IOReadIOPSMax",
    "IOWriteIOPSMax",
];

/// The [`PROCESS_SETTINGS`] and [`RLIMITS`] the unit reports, as properties to start another
/// unit with.
fn process(service: &HashMap<String, OwnedVariant>) -> Vec<Property> {
    let mut props = Vec::new();
    for (name, ty) in PROCESS_SETTINGS {
        let value = match *ty {
            "b" => number::<bool>(service, name).map(Value::Bool),
            "i" => number::<i32>(service, name).map(Value::I32),
            "u" => number::<u32>(service, name).map(Value::U32),
            "t" => number::<u64>(service, name).map(Value::U64),
            _ => service
                .contains_key(*name)
                .then(|| Value::Str(string(service, name))),
        };
        if let Some(value) = value {
            props.push(Property::named(name.to_string(), value));
        }
    }
    for limit in RLIMITS {
        for name in [format!("Limit{limit}"), format!("Limit{limit}Soft")] {
            if let Some(n) = number::<u64>(service, &name) {
                props.push(Property::named(name, Value::U64(n)));
            }
        }
    }
    props
}

/// The unit's cgroup limits, as properties to start another unit with.
fn limits(service: &HashMap<String, OwnedVariant>) -> Vec<Property> {
    let mut props = Vec::new();
    for name in LIMIT_NUMBERS {
        if let Some(n) = number::<u64>(service, name) {
            props.push(Property::new(name, Value::U64(n)));
        }
    }
    let cpus = service
        .get("AllowedCPUs")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<u8>::try_from(v).ok())
        .unwrap_or_default();
    if cpus.iter().any(|b| *b != 0) {
        props.push(Property::new("AllowedCPUs", Value::Bytes(cpus)));
    }
    for name in LIMIT_DEVICES {
        let devices = service
            .get(*name)
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| Vec::<(String, u64)>::try_from(v).ok())
            .unwrap_or_default();
        if !devices.is_empty() {
            props.push(Property::new(name, Value::DeviceLimits(devices)));
        }
    }
    props
}

/// The task's confinement as properties to start another unit with. Defaults read back from
/// systemd are repeated as they are (harmless); unset words and lists are left out.
fn sandbox(service: &HashMap<String, OwnedVariant>) -> Vec<Property> {
    let mut props = Vec::new();
    for name in SANDBOX_SWITCHES {
        if let Some(on) = number::<bool>(service, name) {
            props.push(Property::new(name, Value::Bool(on)));
        }
    }
    for name in SANDBOX_WORDS {
        let word = string(service, name);
        if !word.is_empty() {
            props.push(Property::new(name, Value::Str(word)));
        }
    }
    for name in SANDBOX_PATHS {
        let paths = strings(service, name);
        if !paths.is_empty() {
            props.push(Property::new(name, Value::Strings(paths)));
        }
    }
    if let Some(set) = number::<u64>(service, "CapabilityBoundingSet") {
        props.push(Property::new("CapabilityBoundingSet", Value::U64(set)));
    }
    if let Some(set) = number::<u64>(service, "AmbientCapabilities").filter(|s| *s != 0) {
        props.push(Property::new("AmbientCapabilities", Value::U64(set)));
    }
    let filter = service
        .get("SystemCallFilter")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| <(bool, Vec<String>)>::try_from(v).ok());
    if let Some((allow, names)) = filter.filter(|(_, names)| !names.is_empty()) {
        props.push(Property::new(
            "SystemCallFilter",
            Value::SyscallFilter(allow, names),
        ));
    }
    // systemd reports a large sentinel when a filtered call kills; only a real errno is kept.
    if let Some(errno) =
        number::<i32>(service, "SystemCallErrorNumber").filter(|n| (1..=MAX_ERRNO).contains(n))
    {
        props.push(Property::new("SystemCallErrorNumber", Value::I32(errno)));
    }
    let devices = service
        .get("DeviceAllow")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<(String, String)>::try_from(v).ok())
        .unwrap_or_default();
    if !devices.is_empty() {
        props.push(Property::new(
            "DeviceAllow",
            Value::Devices(
                devices
                    .into_iter()
                    .map(|(device, access)| DeviceAccess { device, access })
                    .collect(),
            ),
        ));
    }
    props
}

impl UnitSnapshot {
    pub(super) fn from_properties(
        unit: &HashMap<String, OwnedVariant>,
        service: &HashMap<String, OwnedVariant>,
    ) -> UnitSnapshot {
        let log_fields = service
            .get("LogExtraFields")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| Vec::<Vec<u8>>::try_from(v).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|field| {
                let field = String::from_utf8_lossy(&field).into_owned();
                field
                    .split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let job_pending = unit
            .get("Job")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| <(u32, zbus::OwnedObjectPath)>::try_from(v).ok())
            .is_some_and(|(id, _)| id != 0);
        UnitSnapshot {
            load_state: string(unit, "LoadState"),
            active_state: unit
                .get("ActiveState")
                .map(|_| ActiveState::parse(&string(unit, "ActiveState"))),
            sub_state: string(unit, "SubState"),
            description: string(unit, "Description"),
            result: result(unit, service),
            main_pid: number(service, "MainPID").unwrap_or(0),
            exec_main_code: number(service, "ExecMainCode").unwrap_or(0),
            exec_main_status: number(service, "ExecMainStatus").unwrap_or(0),
            exec_main_start_us: counter(service, "ExecMainStartTimestamp").unwrap_or(0),
            exec_main_exit_us: counter(service, "ExecMainExitTimestamp").unwrap_or(0),
            cpu_ns: counter(service, "CPUUsageNSec"),
            memory_current: counter(service, "MemoryCurrent"),
            memory_peak: counter(service, "MemoryPeak"),
            tasks_current: counter(service, "TasksCurrent"),
            io_read_bytes: counter(service, "IOReadBytes"),
            io_write_bytes: counter(service, "IOWriteBytes"),
            control_group: string(service, "ControlGroup"),
            slice: string(service, "Slice"),
            log_fields,
            job_pending,
            kill_signal: number(service, "KillSignal"),
            stop_timeout_us: number(service, "TimeoutStopUSec"),
            exec_context: ExecContext::from_properties(service),
            invocation_id: unit
                .get("InvocationID")
                .and_then(|v| v.try_clone().ok())
                .and_then(|v| Vec::<u8>::try_from(v).ok())
                .map(|id| id.iter().map(|b| format!("{b:02x}")).collect())
                .unwrap_or_default(),
            restart: string(service, "Restart"),
        }
    }

    /// Whether systemd knows the unit. A unit whose definition failed to load again (after a
    /// `daemon-reload` systemd re-reads transient units from their saved files; a setting it
    /// cannot read back makes the unit `bad-setting`, as `ExecStartEx=` did before v254, see
    /// `ExecCommand`) is still there, its processes still running, and is treated as such.
    pub fn is_loaded(&self) -> bool {
        !self.load_state.is_empty() && self.load_state != "not-found"
    }

    /// The main process has run and is gone (or the unit ended without ever running it).
    pub fn has_exited(&self) -> bool {
        let ended = matches!(
            self.active_state,
            Some(ActiveState::Inactive | ActiveState::Failed)
        );
        (self.exec_main_exit_us != 0 && self.main_pid == 0) || (ended && !self.job_pending)
    }

    /// How the main process ended; `None` while it runs.
    pub fn exit_result(&self) -> Option<ExitResult> {
        self.has_exited().then(|| {
            ExitResult::from_main_process(self.exec_main_code, self.exec_main_status, &self.result)
        })
    }
}

/// The service's `Result`; for a unit without one (a timer, socket or path unit has no main
/// process) `success` unless the unit failed, so its end reads as Nomad expects.
fn result(unit: &HashMap<String, OwnedVariant>, service: &HashMap<String, OwnedVariant>) -> String {
    if service.contains_key("Result") {
        return string(service, "Result");
    }
    match string(unit, "ActiveState").as_str() {
        "failed" => "failed".into(),
        _ => "success".into(),
    }
}

fn string(props: &HashMap<String, OwnedVariant>, name: &str) -> String {
    props
        .get(name)
        .and_then(|v| v.downcast_ref::<&str>().ok().map(str::to_string))
        .unwrap_or_default()
}

fn number<T>(props: &HashMap<String, OwnedVariant>, name: &str) -> Option<T>
where
    T: for<'a> TryFrom<&'a zbus::Variant<'a>>,
    for<'a> <T as TryFrom<&'a zbus::Variant<'a>>>::Error: Into<zbus::Error>,
{
    props.get(name).and_then(|v| v.downcast_ref::<T>().ok())
}

fn strings(props: &HashMap<String, OwnedVariant>, name: &str) -> Vec<String> {
    props
        .get(name)
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<String>::try_from(v).ok())
        .unwrap_or_default()
}

/// The loader's assignments in the first `ExecStart` command (`a(sasbttttuii)`).
fn loader_environment(props: &HashMap<String, OwnedVariant>) -> Vec<String> {
    type Command = (String, Vec<String>, bool, u64, u64, u64, u64, u32, i32, i32);
    props
        .get("ExecStart")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<Command>::try_from(v).ok())
        .and_then(|cmds| cmds.into_iter().next())
        .and_then(|c| crate::core::env_loader::assignments(&c.1))
        .unwrap_or_default()
}

/// An `a(ssbt)` bind list: source, destination, ignore a missing source, mount flags.
fn binds(props: &HashMap<String, OwnedVariant>, name: &str) -> Vec<BindMount> {
    props
        .get(name)
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<(String, String, bool, u64)>::try_from(v).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(source, destination, ignore_missing, flags)| BindMount {
            source,
            destination,
            ignore_missing,
            recursive: flags & nix::libc::MS_REC != 0,
        })
        .collect()
}

/// A `t` property where `UINT64_MAX` means "not available".
fn counter(props: &HashMap<String, OwnedVariant>, name: &str) -> Option<u64> {
    number::<u64>(props, name).filter(|v| *v != u64::MAX)
}
