//! The one list of unit properties a job may never set through `properties`, whatever the
//! operator's `allow_properties` says, each with the reason. `allow_properties = ["*"]` grants
//! every property *not* listed here.
//!
//! Two kinds of entry: properties the driver sets itself from the task's own options (where the
//! operator's policy on those options applies), and properties that reach beyond the task —
//! onto the host's files, other units, the machine's power state, or other processes' share of
//! the CPU, disk and memory. Some of the latter are refused only for their privileged values
//! (`Nice` below 0, a realtime `CPUSchedulingPolicy`).
//!
//! README.md ("Unit properties a job can never set") lists the same entries; a unit test keeps
//! the two in step.

use crate::core::sandbox::TypedValue;

/// Which property names an entry covers.
#[derive(Debug, Clone, Copy)]
pub enum Names {
    /// Exactly these names.
    Exact(&'static [&'static str]),
    /// Every name that starts with one of these.
    Prefix(&'static [&'static str]),
    /// Every name that ends with one of these.
    Suffix(&'static [&'static str]),
}

impl Names {
    fn covers(self, name: &str) -> bool {
        match self {
            Names::Exact(names) => names.contains(&name),
            Names::Prefix(prefixes) => prefixes.iter().any(|p| name.starts_with(p)),
            Names::Suffix(suffixes) => suffixes.iter().any(|s| name.ends_with(s)),
        }
    }
}

/// When a covered property is refused.
#[derive(Debug, Clone, Copy)]
pub enum When {
    /// Whatever its value.
    Always,
    /// Only for values the function picks; the text names them ("below 0").
    Value(fn(&TypedValue) -> bool, &'static str),
}

/// One entry of [`REFUSED`].
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub names: Names,
    pub when: When,
    pub reason: &'static str,
}

const fn always(names: Names, reason: &'static str) -> Refusal {
    Refusal {
        names,
        when: When::Always,
        reason,
    }
}

const fn when(
    names: Names,
    values: fn(&TypedValue) -> bool,
    which: &'static str,
    reason: &'static str,
) -> Refusal {
    Refusal {
        names,
        when: When::Value(values, which),
        reason,
    }
}

fn negative(v: &TypedValue) -> bool {
    matches!(v, TypedValue::I32(n) if *n < 0)
}

fn nonzero(v: &TypedValue) -> bool {
    !matches!(
        v,
        TypedValue::I32(0) | TypedValue::U64(0) | TypedValue::U32(0)
    )
}

/// `SCHED_OTHER` (0), `SCHED_BATCH` (3) and `SCHED_IDLE` (5) share the CPU fairly or yield it.
fn not_fair_scheduling(v: &TypedValue) -> bool {
    !matches!(v, TypedValue::I32(0 | 3 | 5))
}

/// `IOPRIO_CLASS_RT`.
fn realtime_io(v: &TypedValue) -> bool {
    matches!(v, TypedValue::I32(1))
}

/// An `RLIMIT_NICE` above 20 lets a process lower its nice value below 0.
fn above_20(v: &TypedValue) -> bool {
    matches!(v, TypedValue::U64(n) if *n > 20)
}

fn not_private(v: &TypedValue) -> bool {
    !matches!(v, TypedValue::Str(s) if s == "private")
}

/// Every property no job may set, in the order they are checked.
pub const REFUSED: &[Refusal] = &[
    always(
        Names::Exact(&[
            "User",
            "Group",
            "DynamicUser",
            "SupplementaryGroups",
            "PAMName",
        ]),
        "who the task runs as comes from the task's `user` and `group`, under the operator's \
         allowed_users and allow_root",
    ),
    always(
        Names::Exact(&[
            "AmbientCapabilities",
            "CapabilityBoundingSet",
            "NoNewPrivileges",
            "SecureBits",
        ]),
        "the task's privileges come from cap_add, cap_drop, ambient_capabilities and \
         no_new_privileges, under the operator's policy",
    ),
    always(
        Names::Exact(&["AppArmorProfile", "SELinuxContext", "SmackProcessLabel"]),
        "a security label decides what the kernel lets the task do; it is the host's to choose",
    ),
    always(
        Names::Prefix(&[
            "StateDirectory",
            "RuntimeDirectory",
            "CacheDirectory",
            "LogsDirectory",
            "ConfigurationDirectory",
        ]),
        "systemd would create or take over this directory on the host, outside the \
         allocation, hand it to the task's user and may delete it",
    ),
    always(
        Names::Prefix(&["LoadCredential", "SetCredential", "ImportCredential"]),
        "systemd would read host files or the host's credentials as root and hand them to the \
         task",
    ),
    always(
        Names::Exact(&["PIDFile"]),
        "systemd would read, and on stop delete, this host file as root",
    ),
    always(
        Names::Prefix(&["OpenFile"]),
        "systemd would open this host path (or socket) as root and hand the task the open \
         file, whatever its permissions",
    ),
    always(
        Names::Prefix(&["Condition", "Assert"]),
        "systemd would test host paths, files and state as root for the task and report the \
         answer through the start's success or failure",
    ),
    always(
        Names::Exact(&["BPFProgram", "IPIngressFilterPath", "IPEgressFilterPath"]),
        "systemd would attach BPF programs pinned on the host to the task's cgroup",
    ),
    always(
        Names::Exact(&["NFTSet"]),
        "systemd would add the task's cgroup, user or group to the host's nftables sets, \
         which the host's firewall rules act on",
    ),
    always(
        Names::Prefix(&["UtmpIdentifier", "UtmpMode"]),
        "systemd would write the host's login records (utmp, wtmp) for the task",
    ),
    always(
        Names::Exact(&["LogNamespace"]),
        "systemd would start a journald instance on the host for the task's logs",
    ),
    always(
        Names::Suffix(&["Action", "ActionExitStatus", "RebootArgument"]),
        "it would reboot, power off or halt the host, or exit the service manager, when the \
         task ends, fails or times out",
    ),
    always(
        Names::Exact(&[
            "BindPaths",
            "BindReadOnlyPaths",
            "TemporaryFileSystem",
            "ReadOnlyPaths",
            "ReadWritePaths",
            "InaccessiblePaths",
            "MountImages",
            "PrivateTmp",
            "PrivateDevices",
            "ProtectSystem",
            "ProtectHome",
            "WorkingDirectory",
        ]),
        "the task's file-system view comes from its own options (volume mounts, \
         read_write_paths, root_directory, private_tmp, …), under allowed_host_paths and \
         allow_relax",
    ),
    always(
        Names::Prefix(&["Root", "Extension"]),
        "the task's root file system comes from root_directory and root_image, under \
         allowed_host_paths",
    ),
    always(
        Names::Exact(&["MountFlags"]),
        "the mount propagation of the task's namespace is the driver's: `shared` would carry \
         the task's mounts onto the host",
    ),
    always(
        Names::Exact(&["DeviceAllow", "DevicePolicy"]),
        "the task's devices come from Nomad's device plugins",
    ),
    always(
        Names::Exact(&["NetworkNamespacePath", "IPCNamespacePath"]),
        "the task joins the namespaces Nomad created for its allocation",
    ),
    always(
        Names::Exact(&["SystemCallFilter"]),
        "set it with the task's system_call_filter option",
    ),
    always(
        Names::Prefix(&["Environment", "PassEnvironment", "UnsetEnvironment"]),
        "the task's environment is Nomad's; PassEnvironment would hand it the service \
         manager's own",
    ),
    always(
        Names::Prefix(&["Exec", "Standard", "TTY"]),
        "the command and its input and output are the driver's (command, args, logging)",
    ),
    always(
        Names::Exact(&[
            "Type",
            "RemainAfterExit",
            "KillMode",
            "KillSignal",
            "SendSIGKILL",
        ]),
        "how the task runs and stops is the driver's (kill_signal, kill_timeout)",
    ),
    always(
        Names::Prefix(&["Restart", "Timeout", "Slice"]),
        "Nomad restarts and stops tasks, never systemd, and the driver places them in their \
         slice",
    ),
    always(
        Names::Exact(&[
            "CollectMode",
            "AddRef",
            "RefuseManualStart",
            "RefuseManualStop",
            "StopWhenUnneeded",
            "AllowIsolate",
            "IgnoreOnIsolate",
            "DefaultDependencies",
            "SurviveFinalKillSignal",
        ]),
        "the unit's life is the driver's: it must stay stoppable and readable until Nomad \
         destroys the task",
    ),
    always(
        Names::Prefix(&["Delegate"]),
        "it would hand the task its own cgroup subtree, and with it control of its limits",
    ),
    always(
        Names::Prefix(&[
            "Requires",
            "Requisite",
            "Wants",
            "BindsTo",
            "PartOf",
            "Upholds",
            "Conflicts",
            "Before",
            "After",
            "OnFailure",
            "OnSuccess",
            "Propagates",
            "JoinsNamespaceOf",
            "Sockets",
        ]),
        "it would start, stop or order other units on the host",
    ),
    always(
        Names::Exact(&[
            "MemoryMin",
            "MemoryLow",
            "MemoryHigh",
            "MemoryMax",
            "MemorySwapMax",
            "MemoryZSwapMax",
            "MemoryLimit",
            "DefaultMemoryMin",
            "DefaultMemoryLow",
            "TasksMax",
            "CPUWeight",
            "CPUShares",
            "AllowedCPUs",
            "AllowedMemoryNodes",
            "CPUAffinity",
            "CPUAffinityFromNUMA",
            "NUMAPolicy",
            "NUMAMask",
            "IOWeight",
            "IODeviceWeight",
            "IOReadBandwidthMax",
            "IOWriteBandwidthMax",
            "IOReadIOPSMax",
            "IOWriteIOPSMax",
            "IODeviceLatencyTargetUSec",
            "CPUAccounting",
            "MemoryAccounting",
            "TasksAccounting",
            "IOAccounting",
        ]),
        "the task's resources (and so what Nomad scheduled) come from its resources block and \
         its resource options (pids_limit, memory_swap, cpu_hard_limit, io_*)",
    ),
    always(
        Names::Prefix(&["CPUQuota", "Startup", "BlockIO", "ManagedOOM"]),
        "the task's resources (and so what Nomad scheduled) come from its resources block and \
         its resource options (pids_limit, memory_swap, cpu_hard_limit, io_*)",
    ),
    when(
        Names::Exact(&["Nice"]),
        negative,
        "below 0",
        "a negative nice value takes CPU time from every other process on the host (0 to 19 \
         are allowed)",
    ),
    when(
        Names::Exact(&["OOMScoreAdjust"]),
        negative,
        "below 0",
        "a negative OOM score shields the task from the OOM killer at other processes' \
         expense (oom_score_adj takes 0 to 1000)",
    ),
    when(
        Names::Exact(&["CPUSchedulingPolicy"]),
        not_fair_scheduling,
        "other than other, batch or idle",
        "realtime scheduling (fifo, rr) can starve every other process on the host",
    ),
    when(
        Names::Exact(&["CPUSchedulingPriority"]),
        nonzero,
        "other than 0",
        "a static priority applies only to realtime scheduling, which is refused",
    ),
    when(
        Names::Exact(&["IOSchedulingClass"]),
        realtime_io,
        "realtime",
        "realtime IO scheduling takes disk time from every other process on the host",
    ),
    when(
        Names::Exact(&["LimitNICE"]),
        above_20,
        "above 20",
        "it lets the task lower its own nice value below 0",
    ),
    when(
        Names::Exact(&["LimitRTPRIO", "LimitRTTIME"]),
        nonzero,
        "other than 0",
        "it lets the task give itself realtime scheduling",
    ),
    when(
        Names::Exact(&["KeyringMode"]),
        not_private,
        "other than private",
        "the task would share a kernel keyring with the service manager or its user's other \
         processes",
    ),
];

/// Why `name` is refused whatever its value, if it is.
pub fn by_name(name: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|r| matches!(r.when, When::Always) && r.names.covers(name))
        .map(|r| r.reason)
}

/// Why `name` with `value` is refused, if it is: `(which values, reason)`.
pub fn by_value(name: &str, value: &TypedValue) -> Option<(&'static str, &'static str)> {
    REFUSED.iter().find_map(|r| match r.when {
        When::Value(refused, which) if r.names.covers(name) && refused(value) => {
            Some((which, r.reason))
        }
        _ => None,
    })
}
