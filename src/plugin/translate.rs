//! Nomad's TaskConfig (plus the job's driver config and the operator's policy) as a core
//! [`TaskSpec`], and the task's log FIFOs as its output.

use std::path::{Path, PathBuf};

use super::config::PluginConfig;
use super::policy;
use super::proto::driver as pb;
use crate::core::description::Origin;
use crate::core::driver_config::{DriverConfig, LogDriver, UnitConfig};
use crate::core::task::DEFAULT_KILL_TIMEOUT;
use crate::core::{
    Bus, Engine, Error, MemoryMax, Resources, Result, Signal, Stdio, TaskDirs, TaskSpec, UnitName,
};
use crate::core::{alloc_fs, host_unit, unit_policy};

/// The task's `HOME`, as Nomad's executor sets it after the task's own environment: the home
/// directory of the user's account entry (`/nonexistent` for a workload user, nobody's on
/// most hosts, which systemd would leave empty). `None` where systemd's own is right or the
/// driver has none to give: no user switch (the manager's own user), a `DynamicUser`, an
/// installed unit (which never gets `HOME` from a job's environment).
fn home(identity: &policy::Identity, installed: bool) -> Option<String> {
    if installed || identity.dynamic {
        return None;
    }
    if identity.workload.is_some() {
        return Some(crate::core::workload_user::HOME.to_string());
    }
    crate::core::mapping::identity::home_of(identity.user.as_deref()?)
}

/// Nomad's path for a stream the job disabled (`logs { disabled = true }`).
const DEV_NULL: &str = "/dev/null";

/// The core task for one StartTask, within the operator's policy ([`policy`]). Errors are
/// [`Error::InvalidConfig`] naming the setting.
pub fn task_spec(
    task: &pb::TaskConfig,
    config: &DriverConfig,
    plugin: &PluginConfig,
) -> Result<TaskSpec> {
    if task.id.is_empty() || task.name.is_empty() || task.alloc_id.is_empty() {
        return Err(Error::invalid(
            "task",
            "Nomad sent a task without id, name or alloc_id",
        ));
    }
    // The name becomes the task's directory under the allocation directory.
    alloc_fs::component("name", &task.name)?;
    let host_unit = config
        .unit
        .as_ref()
        .map(|u| installed_unit(u, &task.alloc_id, plugin))
        .transpose()?;
    let identity = policy::identity(&task.user, config, plugin)?;
    let mut sandbox = policy::sandbox(task, config, plugin)?;
    sandbox.dynamic_user |= identity.dynamic;
    let home = home(&identity, host_unit.is_some());
    let mut spec = TaskSpec {
        id: task.id.clone(),
        name: task.name.clone(),
        alloc_id: task.alloc_id.clone(),
        job_name: task.job_name.clone(),
        group_name: task.task_group_name.clone(),
        command: config.command.clone(),
        args: config.args.clone(),
        env: task
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        user: identity.user,
        group: identity.group,
        workload_user: identity.workload,
        working_dir: config.working_dir.as_ref().map(PathBuf::from),
        resources: resources(task.resources.as_ref(), config)?,
        dirs: (!task.alloc_dir.is_empty())
            .then(|| TaskDirs::nomad_layout(Path::new(&task.alloc_dir), &task.name))
            .transpose()?,
        // A user manager cannot create the bind mount points in the host's root.
        dirs_at_host_paths: plugin.bus == Bus::User,
        network_namespace: network_namespace(task.network_isolation_spec.as_ref())?,
        sandbox,
        runtime: policy::runtime(&config.command, plugin)?,
        // What systemd itself sends if it ever stops the unit (DestroyTask of a running task);
        // StopTask names its own signal. Nomad's executors use SIGINT when a job sets none.
        kill_signal: Signal::INT,
        kill_timeout: DEFAULT_KILL_TIMEOUT,
        host_unit,
        unit_env_allow: plugin
            .unit_env_allow
            .iter()
            .map(|p| p.text().to_string())
            .collect(),
        origin: Origin::Nomad,
    };
    if let Some(home) = home {
        spec.env.insert("HOME".to_string(), home);
    }
    Ok(spec)
}

/// The installed unit a task names, a template's instance defaulting to the allocation id,
/// if the operator's `allow_units`/`deny_units` let a job manage it.
fn installed_unit(unit: &UnitConfig, alloc_id: &str, plugin: &PluginConfig) -> Result<UnitName> {
    let name = host_unit::resolve(&unit.name, unit.instance.as_deref(), alloc_id)?;
    plugin
        .units
        .check(&name, unit_policy::own_unit().as_deref())?;
    Ok(name)
}

/// The operator's `allow_units`/`deny_units` over the unit systemd resolves the task's
/// installed unit to, before anything is started: an alias is checked as the unit it names
/// (see [`unit_policy::ResolvedUnit`]). Nothing to check for a transient task; a unit that
/// is not installed is left for the start to report.
pub async fn check_installed_unit(
    engine: &Engine,
    spec: &TaskSpec,
    plugin: &PluginConfig,
) -> Result<()> {
    let Some(unit) = &spec.host_unit else {
        return Ok(());
    };
    let resolved = match engine.resolve_installed(unit).await {
        Err(Error::NotFound(_)) => return Ok(()),
        other => other?,
    };
    plugin
        .units
        .check_resolved(unit, &resolved, unit_policy::own_unit().as_deref())
}

/// The namespace of the allocation's group network (`network { mode = "bridge" }` or CNI),
/// which Nomad's client has created; `None` for host networking.
fn network_namespace(spec: Option<&pb::NetworkIsolationSpec>) -> Result<Option<PathBuf>> {
    use pb::network_isolation_spec::NetworkIsolationMode as Mode;
    let Some(spec) = spec else {
        return Ok(None);
    };
    match Mode::try_from(spec.mode) {
        Ok(Mode::Host) => Ok(None),
        Ok(Mode::Group) if !spec.path.is_empty() => Ok(Some(PathBuf::from(&spec.path))),
        _ => Err(Error::invalid(
            "network",
            format!(
                "network isolation mode {} (path '{}') is not supported; use host or group \
                 (bridge/CNI) networking",
                spec.mode, spec.path
            ),
        )),
    }
}

fn resources(r: Option<&pb::Resources>, config: &DriverConfig) -> Result<Resources> {
    let allocated = r.and_then(|r| r.allocated_resources.as_ref());
    let linux = r.and_then(|r| r.linux_resources.as_ref());
    let cpu = allocated
        .and_then(|a| a.cpu.as_ref())
        .map(|c| c.cpu_shares)
        .or(linux.map(|l| l.cpu_shares))
        .unwrap_or(0);
    let memory = allocated.and_then(|a| a.memory.as_ref());
    let memory_mb = memory.map_or(0, |m| m.memory_mb);
    let memory_max_mb = memory.map_or(0, |m| m.memory_max_mb);
    let non_negative = |setting: &str, v: i64| {
        u64::try_from(v).map_err(|_| Error::invalid(setting, format!("{v} is negative")))
    };
    let mut resources = Resources {
        cpu_mhz: non_negative("resources.cpu", cpu)?,
        cores: cores(linux),
        memory_mb: non_negative("resources.memory", memory_mb)?,
        memory_max: MemoryMax::from_nomad(memory_max_mb).ok_or_else(|| {
            Error::invalid(
                "resources.memory_max",
                format!("{memory_max_mb} is neither -1 nor a size in MiB"),
            )
        })?,
        oom_score_adjust: config.oom_score_adj,
        ..Resources::default()
    };
    config.resources.apply(&mut resources);
    Ok(resources)
}

/// The task's cores: those reserved for it, else Nomad's shared partition, so a task never runs
/// on cores Nomad reserved for others; empty (any core) where Nomad manages no cpusets.
fn cores(linux: Option<&pb::LinuxResources>) -> String {
    let Some(linux) = linux else {
        return String::new();
    };
    if !linux.cpuset_cpus.trim().is_empty() {
        return linux.cpuset_cpus.clone();
    }
    if linux.cpuset_cgroup.is_empty() {
        return String::new();
    }
    crate::core::host::shared_cpuset(Path::new(&linux.cpuset_cgroup)).unwrap_or_default()
}

/// Nomad's shared CPU partition when the task has no reserved cores and Nomad manages
/// cpusets (see [`crate::core::host::shared_partition`]); `None` otherwise. The plugin keeps
/// such a task's cores following the partition.
pub fn shared_partition(task: &pb::TaskConfig) -> Option<PathBuf> {
    let linux = task.resources.as_ref()?.linux_resources.as_ref()?;
    if !linux.cpuset_cpus.trim().is_empty() || linux.cpuset_cgroup.is_empty() {
        return None;
    }
    crate::core::host::shared_partition(Path::new(&linux.cpuset_cgroup))
}

/// Where the task writes: Nomad's FIFOs (the core opens them write-only, beneath the
/// allocation directory and only if they are FIFOs, and hands them to systemd, so the plugin
/// is never in the log path), `/dev/null` for a disabled stream, or
/// the journal (`journald`, and `both`, whose lines the plugin then follows into the FIFOs).
pub fn stdio(task: &pb::TaskConfig, logging: LogDriver) -> Stdio {
    if matches!(logging, LogDriver::Journald | LogDriver::Both) {
        return Stdio::Journal;
    }
    let (stdout, stderr) = log_paths(task);
    Stdio::Fifos { stdout, stderr }
}

/// Nomad's stdout and stderr FIFOs for the task (`/dev/null` for a disabled stream).
pub fn log_paths(task: &pb::TaskConfig) -> (PathBuf, PathBuf) {
    let path = |p: &str| PathBuf::from(if p.is_empty() { DEV_NULL } else { p });
    (path(&task.stdout_path), path(&task.stderr_path))
}

/// Whether the task's output reaches Nomad only by following the journal: an installed unit
/// (whose output stays where its unit file sends it) or `logging { driver = "both" }`.
pub fn follows_journal(spec: &TaskSpec, logging: LogDriver) -> bool {
    spec.host_unit.is_some() || logging == LogDriver::Both
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> pb::TaskConfig {
        pb::TaskConfig {
            id: "f0e1d2c3-0000-0000-0000-000000000000/web/0a1b2c3d".into(),
            name: "web".into(),
            alloc_id: "f0e1d2c3-0000-0000-0000-000000000000".into(),
            job_name: "shop".into(),
            task_group_name: "front".into(),
            alloc_dir: "/var/lib/nomad/alloc/f0e1d2c3".into(),
            resources: Some(pb::Resources {
                allocated_resources: Some(pb::AllocatedTaskResources {
                    cpu: Some(pb::AllocatedCpuResources { cpu_shares: 500 }),
                    memory: Some(pb::AllocatedMemoryResources {
                        memory_mb: 256,
                        memory_max_mb: -1,
                    }),
                    networks: vec![],
                }),
                linux_resources: Some(pb::LinuxResources {
                    cpuset_cpus: "1".into(),
                    ..Default::default()
                }),
                ports: vec![],
            }),
            ..Default::default()
        }
    }

    fn driver_config() -> DriverConfig {
        DriverConfig {
            command: "/bin/true".into(),
            unit: None,
            args: vec![],
            working_dir: None,
            group: None,
            oom_score_adj: 0,
            logging: LogDriver::Nomad,
            resources: Default::default(),
            sandbox: Default::default(),
            capabilities: Default::default(),
        }
    }

    #[test]
    fn nomad_fields_land_in_the_task_spec() {
        let spec = task_spec(&task(), &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(spec.group_name, "front");
        assert_eq!(spec.resources.cpu_mhz, 500);
        assert_eq!(spec.resources.cores, "1");
        assert_eq!(spec.resources.memory_mb, 256);
        assert_eq!(spec.resources.memory_max, MemoryMax::Unlimited);
        let dirs = spec.dirs.unwrap();
        assert_eq!(
            dirs.local,
            Path::new("/var/lib/nomad/alloc/f0e1d2c3/web/local")
        );
        assert_eq!(spec.kill_signal, Signal::INT);
    }

    #[test]
    fn a_task_without_user_runs_as_the_default_user() {
        let spec = task_spec(&task(), &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(spec.user.as_deref(), Some("nobody"));
    }

    #[test]
    fn home_is_the_users_as_nomads_executor_sets_it_over_the_jobs() {
        let mut t = task();
        t.env.insert("HOME".into(), "/job/home".into());
        let spec = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap();
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert_eq!(
            spec.env.get("HOME").map(String::as_str),
            Some(nobody.dir.to_str().unwrap())
        );
        t.user = "nomad-80001".into();
        let spec = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(
            spec.env.get("HOME").map(String::as_str),
            Some(crate::core::workload_user::HOME)
        );
    }

    #[test]
    fn on_the_user_bus_home_is_the_managers() {
        let plugin = PluginConfig {
            bus: Bus::User,
            ..PluginConfig::default()
        };
        let spec = task_spec(&task(), &driver_config(), &plugin).unwrap();
        assert_eq!(spec.env.get("HOME"), None);
    }

    #[test]
    fn root_needs_the_operators_permission() {
        let mut t = task();
        for name in ["root", "0"] {
            t.user = name.into();
            let e = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap_err();
            assert!(e.to_string().contains("allow_root"), "{e}");
            let allowed = PluginConfig {
                allow_root: true,
                ..PluginConfig::default()
            };
            assert!(task_spec(&t, &driver_config(), &allowed).is_ok());
        }
    }

    #[test]
    fn a_workload_user_runs_as_its_number_with_its_record_asked_for() {
        let mut t = task();
        t.user = "nomad-80001".into();
        let spec = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(spec.user.as_deref(), Some("80001"));
        assert_eq!(spec.group.as_deref(), Some("80001"));
        assert_eq!(spec.workload_user, Some(80001));
        assert!(!spec.sandbox.dynamic_user, "not systemd's DynamicUser");
        t.user = "nomad-42".into();
        let e = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap_err();
        assert!(e.to_string().contains("dynamic_user_min"), "{e}");
        t.user = "nobody".into();
        let spec = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(spec.workload_user, None);
    }

    #[test]
    fn negative_resources_are_refused() {
        let mut t = task();
        let mem = t
            .resources
            .as_mut()
            .and_then(|r| r.allocated_resources.as_mut())
            .and_then(|a| a.memory.as_mut())
            .unwrap();
        mem.memory_max_mb = -2;
        let e = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap_err();
        assert!(e.to_string().contains("memory_max"), "{e}");
    }

    #[test]
    fn a_group_network_is_joined_and_other_modes_refused() {
        use pb::network_isolation_spec::NetworkIsolationMode as Mode;
        let mut t = task();
        let plugin = PluginConfig::default();
        t.network_isolation_spec = Some(pb::NetworkIsolationSpec {
            mode: Mode::Group as i32,
            path: "/var/run/netns/f0e1d2c3".into(),
            ..Default::default()
        });
        let spec = task_spec(&t, &driver_config(), &plugin).unwrap();
        assert_eq!(
            spec.network_namespace.as_deref(),
            Some(Path::new("/var/run/netns/f0e1d2c3"))
        );
        t.network_isolation_spec.as_mut().unwrap().mode = Mode::Task as i32;
        assert!(task_spec(&t, &driver_config(), &plugin).is_err());
    }

    #[test]
    fn a_task_without_reserved_cores_gets_nomads_shared_partition() {
        let root = tempfile::tempdir().unwrap();
        let share = root.path().join("nomad.slice/share.slice");
        let scope = share.join("f0e1d2c3.web.scope");
        std::fs::create_dir_all(&scope).unwrap();
        std::fs::write(share.join("cpuset.cpus.effective"), "0,2-3\n").unwrap();
        let mut t = task();
        let linux = t
            .resources
            .as_mut()
            .and_then(|r| r.linux_resources.as_mut())
            .unwrap();
        linux.cpuset_cpus.clear();
        linux.cpuset_cgroup = scope.display().to_string();
        let spec = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(spec.resources.cores, "0,2-3");
        assert_eq!(shared_partition(&t).as_deref(), Some(share.as_path()));
        assert_eq!(shared_partition(&task()), None, "reserved cores stay");
        // Reserved cores win; no cpuset information means any core.
        assert_eq!(
            task_spec(&task(), &driver_config(), &PluginConfig::default())
                .unwrap()
                .resources
                .cores,
            "1"
        );
        let mut t = task();
        t.resources.as_mut().unwrap().linux_resources = None;
        let spec = task_spec(&t, &driver_config(), &PluginConfig::default()).unwrap();
        assert_eq!(spec.resources.cores, "");
    }

    #[test]
    fn the_jobs_resource_options_reach_the_task() {
        let mut config = driver_config();
        config.resources.pids_limit = 64;
        config.resources.cpu_hard_limit = true;
        let spec = task_spec(&task(), &config, &PluginConfig::default()).unwrap();
        assert_eq!(spec.resources.pids_limit, 64);
        assert!(spec.resources.cpu_hard_limit);
    }

    #[test]
    fn a_task_without_identity_is_refused() {
        let mut t = task();
        t.id.clear();
        assert!(task_spec(&t, &driver_config(), &PluginConfig::default()).is_err());
    }

    #[test]
    fn a_template_unit_runs_as_the_allocations_instance_if_allowed() {
        let config = DriverConfig {
            command: String::new(),
            unit: Some(UnitConfig {
                name: "web@.service".into(),
                instance: None,
            }),
            ..driver_config()
        };
        let e = task_spec(&task(), &config, &PluginConfig::default()).unwrap_err();
        assert!(e.to_string().contains("allow_units"), "{e}");
        let allowed = PluginConfig {
            units: crate::core::unit_policy::UnitPolicy {
                allow: vec![crate::core::pattern::Pattern::parse("web@*").unwrap()],
                deny: vec![],
            },
            ..PluginConfig::default()
        };
        let spec = task_spec(&task(), &config, &allowed).unwrap();
        assert_eq!(
            spec.unit_name().as_str(),
            "web@f0e1d2c3\\x2d0000\\x2d0000\\x2d0000\\x2d000000000000.service"
        );
    }
}
