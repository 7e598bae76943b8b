//! Which hosts the driver supports, and what on this one would make a task fail later.
//!
//! [`findings`] turns [`HostFacts`] (what [`crate::core::host_probe`] saw) into [`Finding`]s,
//! each naming what to change; [`health`] turns those into the driver's health. The plugin's
//! fingerprint and `nomad-systemd doctor` both call these two functions, so what the operator
//! reads is what Nomad schedules by. The fingerprint probes only what it needs every 30 s (the
//! manager's version and the cgroup mode); a fact left `None` was not looked at and yields no
//! finding.
//!
//! The combinations, and why:
//!
//! | host | health | why |
//! |---|---|---|
//! | no systemd on the bus | undetected | nothing to run tasks with |
//! | systemd < [`MIN_SYSTEMD`] | unhealthy | see [`MIN_SYSTEMD`] |
//! | cgroup v2, system or user bus | healthy | everything is enforced (a user manager only what `user@.service` delegates: warnings name the rest) |
//! | hybrid or v1, system bus | healthy, warning | every controller is a v1 one: systemd applies `MemoryMax`, `CPUWeight`, `CPUQuota`, `TasksMax` and IO limits through them (stats and OOM counts read the v1 files), but not `MemoryLow`, `MemorySwapMax` or `AllowedCPUs`, and `OOMPolicy=kill` never fires; no task fails for it |
//! | hybrid or v1, user bus | healthy, warning | a user manager cannot write v1 controllers: no limit is enforced, tasks still run |
//! | `dbus-daemon` or `dbus-broker` | healthy | both serve systemd's API alike |
//! | not root on the system bus, systemd < [`POLKIT_NAMES_TRANSIENT_UNITS`] | unhealthy | systemd names no unit to polkit when one is created, so no rule can grant task starts to this user alone |
//!
//! Findings that fail only some tasks (no nss-systemd for workload users, no polkit for a
//! caller that is not root, no `XDG_RUNTIME_DIR`) leave the driver healthy, since other tasks
//! run; `doctor` exits 1 for them.

use serde::Serialize;

use super::host::{CgroupMode, HostInfo};
use super::systemd::Bus;

/// The oldest systemd the driver supports: 247, Debian 11 (bullseye), the oldest version the
/// host matrix tests. Older managers are refused as unhealthy rather than left to fail tasks
/// one by one later:
///
/// - Nothing older is in the host matrix (RHEL 8's 239, Ubuntu 20.04's 245): a version no test
///   has run on is not one this driver can vouch for.
/// - Below 244 there is no `AllowedCPUs`, so a task with reserved `cores` (and every task
///   pinned to Nomad's shared partition) fails to start.
/// - Nomad's dynamic workload users are JSON records in `/run/userdb` for nss-systemd, which
///   older releases resolve partly or not at all.
pub const MIN_SYSTEMD: u32 = 247;

/// What was seen on the host. `None`: not looked at (or, for the version, nothing answered).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostFacts {
    pub bus: Bus,
    /// The manager's version string; `None` when no manager answered on [`Self::bus`].
    pub systemd_version: Option<String>,
    /// Why no manager answered, when none did.
    pub unreachable: Option<String>,
    pub cgroup: Option<CgroupMode>,
    pub controllers: Option<Controllers>,
    /// The program serving the bus (`dbus-daemon`, `dbus-broker`), from the bus's own pid.
    pub bus_daemon: Option<String>,
    /// The caller's effective uid.
    pub uid: Option<u32>,
    /// On the system bus: whether polkit (`org.freedesktop.PolicyKit1`) is there or can be
    /// started.
    pub polkit: Option<bool>,
    /// On a user bus: the user manager the tasks would run under.
    pub user_manager: Option<UserManager>,
    /// On the system bus: whether workload users' records can be resolved.
    pub nss_systemd: Option<NssSystemd>,
    /// Nomad's CPU partitions (share, reserve), at Nomad's default cgroup parent.
    pub partitions: Vec<Partition>,
}

/// The cgroup controllers the task slice can have and has.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Controllers {
    /// The task slice's cgroup directory, under `/sys/fs/cgroup` (v1: under each hierarchy).
    pub slice_cgroup: String,
    /// Controllers the manager can hand to its units: on v2 its own cgroup's
    /// `cgroup.controllers` (for a user manager, what `user@.service` delegates); on v1 and
    /// hybrid the mounted v1 hierarchies.
    pub available: Vec<String>,
    /// Controllers on for the task slice's children now (v2: its `cgroup.subtree_control`; v1:
    /// the hierarchies holding the slice); `None` when the slice has no cgroup yet (systemd
    /// creates it, and turns controllers on, with the first task that needs them).
    pub enabled: Option<Vec<String>>,
}

/// The user manager behind a user bus.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct UserManager {
    /// `XDG_RUNTIME_DIR`, as set in the environment.
    pub runtime_dir: Option<String>,
    /// Whether that directory exists.
    pub runtime_dir_exists: bool,
    /// The manager's own cgroup (`…/user@1000.service`), when it answered.
    pub cgroup: Option<String>,
    /// Whether the user lingers (`loginctl enable-linger`): its manager outlives its logins.
    pub lingering: Option<bool>,
    /// The user's name, for the advice.
    pub user: Option<String>,
}

/// Whether NSS resolves the user records in `/run/userdb` (nss-systemd).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NssSystemd {
    /// `systemd` is a source on the `passwd:` line of `/etc/nsswitch.conf`.
    pub passwd: bool,
    /// `systemd` is a source on the `group:` line.
    pub group: bool,
    /// `libnss_systemd.so.2` is installed.
    pub library: bool,
}

/// One of Nomad's CPU partition cgroups.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Partition {
    /// `share` or `reserve`.
    pub name: &'static str,
    pub path: String,
    pub exists: bool,
    /// Its cores now, as a cpuset list.
    pub cpus: Option<String>,
}

impl HostFacts {
    /// The facts the fingerprint has after a successful probe: the manager's version and the
    /// cgroup mode, on `bus`.
    pub fn from_info(bus: Bus, info: &HostInfo) -> HostFacts {
        HostFacts {
            bus,
            systemd_version: Some(info.systemd_version.clone()),
            cgroup: Some(info.cgroup),
            uid: Some(nix::unistd::geteuid().as_raw()),
            ..HostFacts::default()
        }
    }
}

/// Everything `doctor` says: the facts, what they mean, and the health Nomad would see.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub facts: HostFacts,
    pub findings: Vec<Finding>,
    pub health: Health,
    /// Whether a finding would make some task fail ([`tasks_would_fail`]).
    pub tasks_would_fail: bool,
}

impl Report {
    pub fn of(facts: HostFacts) -> Report {
        let findings = findings(&facts);
        Report {
            health: health(&findings),
            tasks_would_fail: tasks_would_fail(&findings),
            findings,
            facts,
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Tasks run, but something a job can ask for is not enforced here.
    Warning,
    /// Tasks of some kind fail (or every start is refused for this caller).
    TasksFail,
    /// The host is outside what the driver supports: the driver is unhealthy.
    Unsupported,
    /// No service manager answers: the driver is undetected.
    NoSystemd,
}

/// One thing that is wrong or weaker than it should be, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What it is about (`systemd`, `cgroup`, `controllers`, `polkit`, …).
    pub topic: &'static str,
    /// What is wrong and what it does to tasks.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

/// The driver's health as the fingerprint reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "health", content = "reason", rename_all = "lowercase")]
pub enum Health {
    Healthy,
    /// systemd answers but the host is unsupported; the reason says what to change.
    Unhealthy(String),
    /// No systemd to talk to.
    Undetected(String),
}

/// The controllers a job's resources need on cgroup v2, each with what goes unenforced
/// without it.
const V2_CONTROLLERS: [(&str, &str); 5] = [
    ("memory", "memory, memory_max and swap limits"),
    ("cpu", "cpu weights and cpu_hard_limit"),
    ("pids", "pids_limit"),
    ("io", "io_weight and IO bandwidth limits"),
    (
        "cpuset",
        "reserved cores and pinning to Nomad's shared partition",
    ),
];

/// The v1 hierarchies systemd applies a task's limits through.
const V1_CONTROLLERS: [(&str, &str); 4] = [
    ("memory", "memory and memory_max limits"),
    ("cpu", "cpu weights and cpu_hard_limit"),
    ("pids", "pids_limit"),
    ("blkio", "io_weight and IO bandwidth limits"),
];

/// Every finding the facts support, worst first.
pub fn findings(facts: &HostFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    systemd(facts, &mut out);
    cgroup(facts, &mut out);
    controllers(facts, &mut out);
    polkit(facts, &mut out);
    user_manager(facts, &mut out);
    nss(facts, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// The driver's health from its findings: undetected without systemd, unhealthy when the
/// host is unsupported (the description names each reason and its fix), else healthy.
/// Findings that fail only some tasks leave it healthy: the node still runs the others.
pub fn health(findings: &[Finding]) -> Health {
    let reasons = |severity: Severity| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| format!("{}; {}", f.problem, f.fix))
            .collect()
    };
    let none = reasons(Severity::NoSystemd);
    if !none.is_empty() {
        return Health::Undetected(none.join(". "));
    }
    let unsupported = reasons(Severity::Unsupported);
    if !unsupported.is_empty() {
        return Health::Unhealthy(unsupported.join(". "));
    }
    Health::Healthy
}

/// Whether anything found would make a task fail: `doctor`'s exit status.
pub fn tasks_would_fail(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity >= Severity::TasksFail)
}

/// systemd's major version (`252` of `252.39-1~deb12u1`), if the string starts with one.
pub fn major_version(version: &str) -> Option<u32> {
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn finding(severity: Severity, topic: &'static str, problem: String, fix: &str) -> Finding {
    Finding {
        severity,
        topic,
        problem,
        fix: fix.to_string(),
    }
}

fn systemd(facts: &HostFacts, out: &mut Vec<Finding>) {
    let Some(version) = &facts.systemd_version else {
        let why = facts.unreachable.as_deref().unwrap_or("nothing answered");
        let fix = match facts.bus {
            Bus::System => {
                "run the plugin on a host whose init is systemd, with the system bus \
                            (dbus) running"
            }
            Bus::User => {
                "start the user's manager and keep it running (`loginctl \
                          enable-linger USER` starts user@UID.service at boot), and set \
                          XDG_RUNTIME_DIR=/run/user/UID for the plugin"
            }
        };
        out.push(finding(
            Severity::NoSystemd,
            "systemd",
            format!("no systemd answers on the {} bus: {why}", facts.bus.name()),
            fix,
        ));
        return;
    };
    match major_version(version) {
        Some(major) if major >= MIN_SYSTEMD => {}
        Some(major) => out.push(finding(
            Severity::Unsupported,
            "systemd",
            format!(
                "systemd {major} is older than {MIN_SYSTEMD}, the oldest version this driver \
                 supports and tests (older ones lack AllowedCPUs or nss-systemd's \
                 /run/userdb records, which tasks rely on)"
            ),
            "upgrade systemd to 247 or later (Debian 11, Ubuntu 22.04, RHEL 9 and newer ship \
             it), or run these jobs with Nomad's exec driver",
        )),
        None => out.push(finding(
            Severity::Warning,
            "systemd",
            format!("systemd's version '{version}' does not start with a number"),
            "nothing to change if it is 247 or later; the driver could not check",
        )),
    }
}

fn cgroup(facts: &HostFacts, out: &mut Vec<Finding>) {
    let Some(mode) = facts.cgroup else {
        return;
    };
    if mode == CgroupMode::V2 {
        return;
    }
    out.push(finding(
        Severity::Warning,
        "cgroup",
        format!(
            "cgroup {} (no controllers on the unified hierarchy): tasks run, and systemd \
             applies memory limits, cpu weights, cpu_hard_limit, pids_limit and IO limits \
             through the v1 controllers, but not memory reservations (MemoryLow with \
             memory_max), swap limits (MemorySwapMax) or reserved cores (AllowedCPUs), and \
             OOMPolicy=kill does not act: an OOM kill of one process leaves the rest of the \
             task running",
            mode.name()
        ),
        "boot with the unified hierarchy (systemd.unified_cgroup_hierarchy=1 on the kernel \
         command line) to have them enforced",
    ));
    if facts.bus == Bus::User {
        out.push(finding(
            Severity::Warning,
            "cgroup",
            format!(
                "cgroup {} with --bus user: a user manager cannot apply limits through v1 \
                 controllers, so no resource limit of a task is enforced",
                mode.name()
            ),
            "use the unified hierarchy (cgroup v2), or the system bus",
        ));
    }
}

fn controllers(facts: &HostFacts, out: &mut Vec<Finding>) {
    let (Some(mode), Some(c)) = (facts.cgroup, &facts.controllers) else {
        return;
    };
    let (wanted, fix): (&[(&str, &str)], &str) = match (mode, facts.bus) {
        (CgroupMode::V2, Bus::User) => (
            &V2_CONTROLLERS,
            "delegate it to user managers: a drop-in for user@.service with \
             `[Service]` `Delegate=cpu cpuset io memory pids`, then restart user@UID.service",
        ),
        (CgroupMode::V2, Bus::System) => (
            &V2_CONTROLLERS,
            "the kernel does not offer it: check the kernel's config and cgroup_disable= on \
             its command line",
        ),
        // A user manager on v1 enforces nothing at all; said once by `cgroup`.
        (_, Bus::User) => return,
        (_, Bus::System) => (
            &V1_CONTROLLERS,
            "mount its v1 hierarchy (check cgroup_disable= on the kernel command line)",
        ),
    };
    for (name, what) in wanted {
        if !c.available.iter().any(|a| a == name) {
            out.push(finding(
                Severity::Warning,
                "controllers",
                format!("the {name} controller is not available to the task slice: {what} are not enforced"),
                fix,
            ));
        }
    }
}

/// The first systemd whose `StartTransientUnit` names the unit to polkit (systemd's pull
/// request 34651): before it, a polkit rule cannot grant a caller that is not root the
/// driver's units without granting every unit.
pub const POLKIT_NAMES_TRANSIENT_UNITS: u32 = 257;

fn polkit(facts: &HostFacts, out: &mut Vec<Finding>) {
    if facts.bus != Bus::System || facts.uid == Some(0) || facts.uid.is_none() {
        return;
    }
    let uid = facts.uid.unwrap_or_default();
    let major = facts.systemd_version.as_deref().and_then(major_version);
    if let Some(v) = major.filter(|v| *v < POLKIT_NAMES_TRANSIENT_UNITS) {
        out.push(finding(
            Severity::Unsupported,
            "polkit",
            format!(
                "not root (uid {uid}) on the system bus, and systemd {v} names no unit to polkit \
                 when one is created (v{POLKIT_NAMES_TRANSIENT_UNITS} and later do): no polkit \
                 rule can grant this user task starts without granting it every unit"
            ),
            "run the plugin as root, use bus = \"user\", or upgrade to systemd \
             257 or later and install the polkit rule 50-nomad-systemd.rules naming this user",
        ));
        return;
    }
    match facts.polkit {
        Some(false) => out.push(finding(
            Severity::TasksFail,
            "polkit",
            format!(
                "not root (uid {uid}) and no polkit on the system bus: systemd refuses every \
                 task start from this user"
            ),
            "run the plugin as root (Nomad's client runs as root), or install polkit and \
             allow org.freedesktop.systemd1.manage-units to this user",
        )),
        Some(true) => out.push(finding(
            Severity::Warning,
            "polkit",
            format!(
                "not root (uid {uid}): systemd asks polkit for every task start, which \
                 refuses it unless a rule allows it"
            ),
            "run as root, or install the polkit rule 50-nomad-systemd.rules naming this user \
             (it allows org.freedesktop.systemd1.manage-units for the driver's units only)",
        )),
        None => {}
    }
}

fn user_manager(facts: &HostFacts, out: &mut Vec<Finding>) {
    let Some(m) = &facts.user_manager else {
        return;
    };
    if facts.bus != Bus::User {
        return;
    }
    let user = m.user.as_deref().unwrap_or("USER");
    if m.runtime_dir.is_none() || !m.runtime_dir_exists {
        out.push(finding(
            Severity::TasksFail,
            "user manager",
            match &m.runtime_dir {
                None => "XDG_RUNTIME_DIR is not set: the user bus cannot be found".to_string(),
                Some(dir) => format!("XDG_RUNTIME_DIR {dir} does not exist"),
            },
            "set XDG_RUNTIME_DIR=/run/user/UID for the plugin; the directory exists while \
             user@UID.service runs (`loginctl enable-linger USER`)",
        ));
    }
    if m.lingering == Some(false) {
        out.push(Finding {
            severity: Severity::Warning,
            topic: "user manager",
            problem: format!(
                "{user} does not linger: its user manager, and every task under it, stops at \
                 its last logout and does not start at boot"
            ),
            fix: format!("loginctl enable-linger {user}"),
        });
    }
}

fn nss(facts: &HostFacts, out: &mut Vec<Finding>) {
    let Some(n) = &facts.nss_systemd else {
        return;
    };
    if facts.bus != Bus::System {
        return;
    }
    let mut missing = Vec::new();
    if !n.passwd {
        missing.push("`systemd` on the passwd: line of /etc/nsswitch.conf");
    }
    if !n.group {
        missing.push("`systemd` on the group: line of /etc/nsswitch.conf");
    }
    if !n.library {
        missing.push("libnss_systemd.so.2");
    }
    if missing.is_empty() {
        return;
    }
    out.push(finding(
        Severity::TasksFail,
        "nss-systemd",
        format!(
            "missing {}: Nomad's dynamic workload users (nomad-<N>, sent by Nomad 1.8+ for \
             every task without `user`) cannot be resolved, so such tasks are refused",
            missing.join(", ")
        ),
        "install nss-systemd (Debian/Ubuntu: libnss-systemd) and add `systemd` to the passwd \
         and group lines of /etc/nsswitch.conf, or set dynamic_workload_users = false in the \
         plugin config",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy_system() -> HostFacts {
        HostFacts {
            bus: Bus::System,
            systemd_version: Some("252.39-1~deb12u1".into()),
            cgroup: Some(CgroupMode::V2),
            controllers: Some(Controllers {
                slice_cgroup: "/system.slice/system-nomad.slice".into(),
                available: ["cpuset", "cpu", "io", "memory", "pids"]
                    .map(String::from)
                    .to_vec(),
                enabled: None,
            }),
            uid: Some(0),
            polkit: Some(false),
            nss_systemd: Some(NssSystemd {
                passwd: true,
                group: true,
                library: true,
            }),
            ..HostFacts::default()
        }
    }

    #[test]
    fn a_supported_host_has_no_findings_and_is_healthy() {
        let f = findings(&healthy_system());
        assert_eq!(f, vec![]);
        assert_eq!(health(&f), Health::Healthy);
        assert!(!tasks_would_fail(&f));
    }

    #[test]
    fn systemd_below_the_minimum_is_unhealthy_with_the_reason_and_the_fix() {
        let facts = HostFacts {
            systemd_version: Some("246.5".into()),
            ..healthy_system()
        };
        let f = findings(&facts);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Unsupported);
        let Health::Unhealthy(reason) = health(&f) else {
            panic!("{:?}", health(&f));
        };
        assert!(
            reason.contains("systemd 246 is older than 247") && reason.contains("upgrade"),
            "{reason}"
        );
        assert!(tasks_would_fail(&f));
        let at_minimum = HostFacts {
            systemd_version: Some(MIN_SYSTEMD.to_string()),
            ..healthy_system()
        };
        assert_eq!(health(&findings(&at_minimum)), Health::Healthy);
    }

    #[test]
    fn no_systemd_is_undetected() {
        let facts = HostFacts {
            bus: Bus::User,
            unreachable: Some("No such file or directory".into()),
            ..HostFacts::default()
        };
        let f = findings(&facts);
        let Health::Undetected(reason) = health(&f) else {
            panic!("{f:?}");
        };
        assert!(
            reason.contains("user bus") && reason.contains("enable-linger"),
            "{reason}"
        );
        assert!(tasks_would_fail(&f));
    }

    #[test]
    fn an_unnumbered_version_is_only_a_warning() {
        let facts = HostFacts {
            systemd_version: Some("v257".into()),
            ..healthy_system()
        };
        let f = findings(&facts);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(health(&f), Health::Healthy);
    }

    #[test]
    fn legacy_and_hybrid_cgroups_run_tasks_with_a_warning_naming_what_is_not_enforced() {
        for mode in [CgroupMode::V1, CgroupMode::Hybrid] {
            let facts = HostFacts {
                cgroup: Some(mode),
                controllers: Some(Controllers {
                    available: ["cpu", "cpuacct", "memory", "pids", "blkio", "cpuset"]
                        .map(String::from)
                        .to_vec(),
                    ..Controllers::default()
                }),
                ..healthy_system()
            };
            let f = findings(&facts);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].severity, Severity::Warning);
            assert!(f[0].problem.contains("AllowedCPUs"), "{}", f[0].problem);
            assert_eq!(health(&f), Health::Healthy);
            assert!(!tasks_would_fail(&f));
        }
    }

    #[test]
    fn missing_controllers_are_warnings_with_the_delegation_fix_on_a_user_bus() {
        let facts = HostFacts {
            bus: Bus::User,
            controllers: Some(Controllers {
                available: ["cpu", "memory", "pids"].map(String::from).to_vec(),
                ..Controllers::default()
            }),
            nss_systemd: None,
            ..healthy_system()
        };
        let f = findings(&facts);
        let topics: Vec<_> = f.iter().map(|f| (f.topic, f.severity)).collect();
        assert_eq!(
            topics,
            [
                ("controllers", Severity::Warning),
                ("controllers", Severity::Warning)
            ]
        );
        assert!(f.iter().all(|f| f.fix.contains("Delegate=")), "{f:?}");
        assert!(f[1].problem.contains("cpuset"), "{f:?}");
    }

    #[test]
    fn without_nss_systemd_workload_user_tasks_fail_but_the_driver_stays_healthy() {
        let facts = HostFacts {
            nss_systemd: Some(NssSystemd {
                passwd: true,
                group: false,
                library: true,
            }),
            ..healthy_system()
        };
        let f = findings(&facts);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::TasksFail);
        assert!(
            f[0].problem.contains("group: line") && f[0].fix.contains("dynamic_workload_users"),
            "{f:?}"
        );
        assert_eq!(health(&f), Health::Healthy);
        assert!(tasks_would_fail(&f));
    }

    #[test]
    fn polkit_matters_only_to_a_caller_that_is_not_root() {
        let not_root = |polkit| HostFacts {
            uid: Some(1000),
            polkit: Some(polkit),
            systemd_version: Some("257.9-1~deb13u1".into()),
            ..healthy_system()
        };
        let f = findings(&not_root(false));
        assert_eq!(f[0].severity, Severity::TasksFail, "{f:?}");
        let f = findings(&not_root(true));
        assert_eq!(f[0].severity, Severity::Warning, "{f:?}");
        assert!(f[0].fix.contains("50-nomad-systemd.rules"), "{f:?}");
        assert!(findings(&healthy_system()).is_empty());
    }

    #[test]
    fn a_caller_that_is_not_root_is_unsupported_where_polkit_sees_no_unit_name() {
        for polkit in [None, Some(true)] {
            let facts = HostFacts {
                uid: Some(1000),
                polkit,
                ..healthy_system()
            };
            let f = findings(&facts);
            assert_eq!(f[0].severity, Severity::Unsupported, "{f:?}");
            assert!(f[0].problem.contains("systemd 252"), "{f:?}");
            assert!(matches!(health(&f), Health::Unhealthy(r) if r.contains("v257")));
        }
    }

    #[test]
    fn a_user_bus_needs_its_runtime_dir_and_should_linger() {
        let facts = HostFacts {
            bus: Bus::User,
            nss_systemd: None,
            user_manager: Some(UserManager {
                runtime_dir: None,
                lingering: Some(false),
                user: Some("nomad".into()),
                ..UserManager::default()
            }),
            ..healthy_system()
        };
        let f = findings(&facts);
        assert_eq!(f[0].severity, Severity::TasksFail, "{f:?}");
        assert!(f[0].problem.contains("XDG_RUNTIME_DIR"));
        assert_eq!(f[1].fix, "loginctl enable-linger nomad");
    }

    #[test]
    fn the_major_version_is_the_leading_number() {
        assert_eq!(major_version("252.39-1~deb12u1"), Some(252));
        assert_eq!(major_version("257~rc1"), Some(257));
        assert_eq!(major_version("v257"), None);
    }
}
