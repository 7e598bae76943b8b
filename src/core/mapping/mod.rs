//! Task → unit properties, one module per concern. A newcomer asking "where is memory_max
//! handled?" finds it in [`memory`].
//!
//! [`plan`] validates the whole task before anything is sent to systemd: a bad task config is
//! an [`Error::InvalidConfig`](crate::core::Error::InvalidConfig) and creates no unit.

pub mod capabilities;
pub mod command;
pub mod cpu;
pub mod environment;
pub mod filesystem;
pub mod identity;
pub mod io;
pub mod lifecycle;
pub mod logging;
pub mod memory;
pub mod mounts;
pub mod network;
pub mod paths;
pub mod properties;
pub mod sandbox;
pub mod tasks;

use std::path::PathBuf;

use super::error::{Error, Result};
use super::property::{self, Property, Value};
use super::stdio::Output;
use super::task::{Resources, TaskSpec};
use super::unit_name::UnitName;

/// Everything needed to start one task's unit.
#[derive(Debug, Clone)]
pub struct UnitPlan {
    pub name: UnitName,
    pub properties: Vec<Property>,
    /// The task's own slice, created first with [`UnitPlan::slice_properties`]: the unit and
    /// the units that exec into it run there and share its limits.
    pub slice: UnitName,
    pub slice_properties: Vec<Property>,
    /// Things that were adjusted rather than refused, for the task's events or the terminal.
    pub warnings: Vec<String>,
    /// Files the unit's binds expect on the host (a generated resolv.conf): path and
    /// contents, to be written before the unit is created.
    pub files: Vec<(PathBuf, String)>,
}

impl UnitPlan {
    /// Connects the task's stdout and stderr; the plan is complete only with them.
    pub fn with_output(mut self, output: &Output) -> UnitPlan {
        self.properties.extend(logging::output(output));
        self
    }
}

/// Maps a task onto a transient service in its own slice below `slice` (see
/// [`crate::core::UnitName::task_slice`]), output aside (see [`UnitPlan::with_output`]).
/// Lifecycle properties come last among the task's settings so that nothing before them can
/// override `Restart=no`; a job's `properties` may not name any property set here.
pub fn plan(spec: &TaskSpec, slice: &str) -> Result<UnitPlan> {
    plan_with(spec, slice, filesystem::Dirs::Present)
}

/// [`plan`], for a dry run of a start that creates the task directories first
/// ([`filesystem::Dirs`]).
pub fn plan_with(spec: &TaskSpec, slice: &str, dirs: filesystem::Dirs) -> Result<UnitPlan> {
    if spec.name.is_empty() {
        return Err(Error::invalid("name", "a task needs a name"));
    }
    let (env, loader_env) = environment::properties(&spec.unit_env())?;
    let warnings = Vec::new();
    let mut properties = command::properties(spec)?;
    properties.extend(env);
    properties.extend(identity::properties(spec)?);
    properties.extend(resources(&spec.resources)?);
    properties.extend(filesystem::properties_with(spec, dirs)?);
    properties.extend(network::properties(spec)?);
    properties.extend(sandbox::properties(&spec.sandbox));
    properties.extend(capabilities::properties(&spec.sandbox.capabilities));
    properties.extend(paths::properties(spec)?);
    properties.extend(mounts::properties(spec)?);
    properties.extend(logging::properties(spec));
    let name = spec.unit_name();
    sandbox::check_unit_name(&spec.sandbox, &name)?;
    sandbox::check_dirs_visible(spec)?;
    let task_slice = name.task_slice(slice)?;
    let lifecycle = lifecycle::properties(spec, task_slice.as_str());
    let extra = properties::properties(&spec.sandbox.properties);
    if let Some(taken) = extra.iter().find(|e| {
        properties
            .iter()
            .chain(&lifecycle)
            .any(|p| p.name == e.name)
    }) {
        return Err(Error::invalid(
            format!("properties.{}", taken.name),
            "is already set by the driver from the task's settings",
        ));
    }
    properties.extend(extra);
    through_loader(spec, &mut properties, &loader_env)?;
    properties.extend(lifecycle);
    Ok(UnitPlan {
        slice_properties: slice_properties(spec, &name)?,
        slice: task_slice,
        name,
        properties,
        warnings,
        files: mounts::resolv_conf_file(spec)?.into_iter().collect(),
    })
}

/// Runs the task's command through the loader ([`crate::core::env_loader`]) when it has to:
/// with `assignments` (variables `Environment=` cannot carry), or when an argument holds a
/// byte systemd does not read back literally after a `daemon-reload`. The loader is this
/// binary on the host, which a task with its own root does not see: such a task is refused
/// naming the variable, while its arguments go as they are (`$` doubled, see
/// [`crate::core::property::ExecCommand`]; only a start pending across a reload would see
/// them altered).
fn through_loader(
    spec: &TaskSpec,
    properties: &mut [Property],
    assignments: &[String],
) -> Result<()> {
    let needs_encoding =
        property::start_command(properties).is_some_and(crate::core::env_loader::needs_encoding);
    if assignments.is_empty() && !needs_encoding {
        return Ok(());
    }
    let loader = match loader(spec) {
        Ok(loader) => loader,
        Err(_) if assignments.is_empty() => return Ok(()),
        Err(reason) => {
            let first = assignments[0].split('=').next().unwrap_or_default();
            return Err(Error::invalid(
                format!("env.{first}"),
                format!("systemd's Environment= cannot carry this variable and {reason}"),
            ));
        }
    };
    // The loader's runtime ignores SIGPIPE, which the program would inherit; systemd's
    // setting (IgnoreSIGPIPE, yes unless the job's `properties` say no) is passed on.
    let sigpipe_default = properties
        .iter()
        .any(|p| p.name == "IgnoreSIGPIPE" && matches!(p.value, Value::Bool(false)));
    for p in properties.iter_mut() {
        if let Value::Exec(cmds) = &mut p.value {
            for c in cmds.iter_mut() {
                *c = crate::core::env_loader::wrap(loader, c, assignments, sigpipe_default);
                command::check_exec_size("args", &c.argv, &[])?;
            }
        }
    }
    Ok(())
}

/// The loader's path when `spec`'s command can run through it, else why not.
fn loader(spec: &TaskSpec) -> std::result::Result<&'static str, String> {
    if spec.sandbox.root_directory.is_some() || spec.sandbox.root_image.is_some() {
        return Err(
            "the driver's loader is not inside root_directory/root_image; use a name \
                    of letters, digits and '_' and a value without control characters"
                .into(),
        );
    }
    let loader = crate::core::env_loader::program()
        .and_then(|p| p.to_str())
        .ok_or("the driver cannot name its own executable to load it")?;
    crate::core::env_loader::check_executable(std::path::Path::new(loader))?;
    Ok(loader)
}

/// Every limit from the task's resources: memory and OOM handling, CPU, processes and IO. The
/// same for a transient task and for an installed unit's drop-in.
pub fn resources(res: &Resources) -> Result<Vec<Property>> {
    let mut properties = memory::properties(res)?;
    properties.extend(cpu::properties(res)?);
    properties.extend(tasks::properties(res));
    properties.extend(io::properties(res)?);
    Ok(properties)
}

/// The task's own slice: its cgroup limits (the same as the unit's, OOM settings aside, which
/// are per process), so that the task and every command exec'd into it share one budget, and
/// accounting on, so the slice's usage can be read.
pub fn slice_properties(spec: &TaskSpec, unit: &UnitName) -> Result<Vec<Property>> {
    let mut props = vec![Property::new(
        "Description",
        Value::Str(format!(
            "Limits shared by Nomad task {} and its exec sessions ({unit})",
            spec.name
        )),
    )];
    props.extend(
        resources(&spec.resources)?
            .into_iter()
            .filter(|p| !p.name.starts_with("OOM")),
    );
    props.extend([
        Property::new("CPUAccounting", Value::Bool(true)),
        Property::new("MemoryAccounting", Value::Bool(true)),
        Property::new("TasksAccounting", Value::Bool(true)),
        Property::new("IOAccounting", Value::Bool(true)),
    ]);
    Ok(props)
}

#[cfg(test)]
pub(crate) fn test_spec() -> TaskSpec {
    use std::time::Duration;
    TaskSpec {
        id: "a1/web/i1".into(),
        name: "web".into(),
        alloc_id: "a1".into(),
        job_name: "job".into(),
        group_name: "group".into(),
        command: "/bin/true".into(),
        args: vec![],
        env: Default::default(),
        user: None,
        group: None,
        workload_user: None,
        working_dir: None,
        resources: Default::default(),
        dirs: None,
        dirs_at_host_paths: false,
        network_namespace: None,
        sandbox: Default::default(),
        runtime: None,
        kill_signal: super::signal::Signal::TERM,
        kill_timeout: Duration::from_secs(5),
        host_unit: None,
        unit_env_allow: Vec::new(),
        origin: crate::core::description::Origin::Nomad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::{find, start_command};

    #[test]
    fn only_a_task_with_variables_systemd_refuses_runs_through_the_loader() {
        let mut spec = test_spec();
        spec.env.insert("PLAIN".into(), "1".into());
        let plain = plan(&spec, "s.slice").unwrap();
        let cmd = start_command(&plain.properties).expect("no ExecStart");
        assert_eq!(cmd.path, "/bin/true");
        spec.env.insert("app.name".into(), "x".into());
        let loaded = plan(&spec, "s.slice").unwrap();
        let cmd = start_command(&loaded.properties).expect("no ExecStart");
        assert_eq!(
            crate::core::env_loader::assignments(&cmd.argv).unwrap(),
            ["app.name=x"]
        );
        let Some(Value::Strings(env)) = find(&loaded.properties, "Environment") else {
            panic!("no Environment")
        };
        assert_eq!(env, &["PLAIN=1"]);
        spec.sandbox.root_directory = Some("/tmp".into());
        let err = plan(&spec, "s.slice").unwrap_err().to_string();
        assert!(err.contains("env.app.name"), "{err}");
    }

    #[test]
    fn plan_sets_restart_no_exactly_once_and_last() {
        let plan = plan(&test_spec(), "s.slice")
            .unwrap()
            .with_output(&Output::discard().unwrap());
        let restarts: Vec<_> = plan
            .properties
            .iter()
            .filter(|p| p.name == "Restart")
            .collect();
        assert_eq!(restarts.len(), 1);
        assert_eq!(plan.name.as_str(), "nomad-a1-web-i1.service");
    }

    #[test]
    fn extra_properties_cannot_override_the_drivers_own() {
        let mut spec = test_spec();
        spec.sandbox.properties = vec![properties::parse("Description:s", "x").unwrap()];
        let e = plan(&spec, "s.slice").unwrap_err().to_string();
        assert!(e.contains("properties.Description"), "{e}");
        spec.sandbox.properties = vec![properties::parse("LimitNOFILE", "64").unwrap()];
        let plan = plan(&spec, "s.slice").unwrap();
        let names: Vec<_> = plan.properties.iter().map(|p| p.name.as_ref()).collect();
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(at("LimitNOFILE") < at("Restart"));
    }

    #[test]
    fn the_tasks_slice_carries_its_limits_for_its_execs_too() {
        let mut spec = test_spec();
        spec.resources.memory_mb = 64;
        spec.resources.pids_limit = 16;
        spec.resources.oom_score_adjust = 500;
        let plan = plan(&spec, "system-nomad.slice").unwrap();
        assert_eq!(plan.slice.as_str(), "system-nomad-a1_web_i1.slice");
        let p = &plan.slice_properties;
        assert!(matches!(find(p, "MemoryMax"), Some(Value::U64(n)) if *n == 64 << 20));
        assert!(matches!(find(p, "TasksMax"), Some(Value::U64(16))));
        assert!(matches!(find(p, "MemorySwapMax"), Some(Value::U64(0))));
        assert!(find(p, "OOMPolicy").is_none() && find(p, "OOMScoreAdjust").is_none());
        assert!(
            matches!(find(&plan.properties, "Slice"), Some(Value::Str(s)) if s == plan.slice.as_str())
        );
    }

    #[test]
    fn every_property_name_appears_once() {
        let plan = plan(&test_spec(), "s.slice")
            .unwrap()
            .with_output(&Output::discard().unwrap());
        let mut names: Vec<_> = plan.properties.iter().map(|p| p.name.clone()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
