//! The core's API: start, wait for, signal, stop, destroy, list and measure tasks.
//!
//! Both doors (the Nomad plugin and the CLI) call this and nothing below it. Every method is
//! safe to call concurrently; all share one bus connection.

use std::path::Path;
use std::time::Duration;

use super::alloc_fs;
use super::description;
use super::error::{Error, Result};
use super::exit::ExitResult;
use super::host::{self, HostInfo};
use super::host_unit;
use super::mapping;
use super::property::Property;
use super::signal::Signal;
use super::stats::{self, TaskStats};
use super::status::{TaskStatus, TaskSummary};
use super::stdio::{Output, Stdio};
use super::systemd::{ActiveState, Bus, Systemd, UnitSnapshot, Whom};
use super::task::{DEFAULT_KILL_TIMEOUT, TaskSpec};
use super::unit_name::UnitName;
use super::workload_user;

/// How long systemd may take to run a start or stop job before we give up.
pub(super) const JOB_TIMEOUT: Duration = Duration::from_secs(60);
/// After SIGKILL, how long to wait for the kernel and systemd to notice.
const KILL_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub bus: Bus,
    /// The slice task units go into.
    pub slice: String,
    /// How long a task's start job may wait in systemd's queue and run before the start
    /// fails with [`Error::Timeout`] (and the unit is removed, so it never starts later).
    pub start_timeout: Duration,
}

impl EngineOptions {
    /// The defaults for a bus: `system-nomad.slice` under PID 1 (a child of `system.slice`,
    /// and clear of the `nomad.slice` cgroup Nomad's client manages itself), `app-nomad.slice`
    /// under a user manager.
    pub fn for_bus(bus: Bus) -> EngineOptions {
        let slice = match bus {
            Bus::System => "system-nomad.slice",
            Bus::User => "app-nomad.slice",
        };
        EngineOptions {
            bus,
            slice: slice.to_string(),
            start_timeout: JOB_TIMEOUT,
        }
    }
}

/// Whether `name` holds a character `ListUnitsByPatterns` reads as a glob or an escape.
fn has_glob_char(name: &str) -> bool {
    name.contains(['*', '?', '[', ']', '\\'])
}

/// What removing a task unit takes; see `Engine::removal_of`.
#[derive(Debug, Default)]
struct Removal {
    /// The task's own slice, stopped with the unit.
    slice: Option<UnitName>,
    /// Whether the unit had ended (inactive or failed, no job pending) when read.
    ended: bool,
}

/// Where repeated samples of one task are read from; see [`Engine::stats_sampler`].
#[derive(Debug, Clone)]
pub struct StatsSampler {
    unit: UnitName,
    files: Option<stats::CgroupFiles>,
}

impl StatsSampler {
    /// Samples without the count of the task's processes (`tasks` stays `None`), one file
    /// fewer to read each time, for callers that do not report it (Nomad's TaskStats has no
    /// such field).
    pub fn without_task_count(mut self) -> StatsSampler {
        if let Some(files) = &mut self.files {
            files.forget_task_count();
        }
        self
    }
}

/// A task whose unit is running.
#[derive(Debug, Clone)]
pub struct Started {
    pub unit: UnitName,
    /// The task's own slice, which the unit was started in; `None` for an installed unit.
    pub slice: Option<UnitName>,
    /// Adjustments made to the task config (dropped variables, …), worth showing the user.
    pub warnings: Vec<String>,
}

#[derive(Clone)]
pub struct Engine {
    systemd: Systemd,
    options: EngineOptions,
}

impl Engine {
    pub async fn connect(options: EngineOptions) -> Result<Engine> {
        if !options.slice.ends_with(".slice") || UnitName::parse(&options.slice).is_err() {
            return Err(Error::invalid(
                "slice",
                format!("'{}' is not a slice unit name", options.slice),
            ));
        }
        let systemd = Systemd::connect(options.bus).await?;
        Ok(Engine { systemd, options })
    }

    /// The slice task units go into.
    pub fn slice(&self) -> &str {
        &self.options.slice
    }

    pub fn systemd(&self) -> &Systemd {
        &self.systemd
    }

    /// Whether the bus connection is known to be lost; a caller keeping an engine should
    /// then connect a new one.
    pub fn is_alive(&self) -> bool {
        self.systemd.is_alive()
    }

    /// The service manager's version and the host's cgroup layout; an error means systemd
    /// does not answer on the bus.
    pub async fn host_info(&self) -> Result<HostInfo> {
        host::probe(&self.systemd).await
    }

    /// Validates the task, creates its unit and waits until the program has been executed.
    /// A task naming an installed unit ([`TaskSpec::host_unit`]) starts that unit instead
    /// (see [`crate::core::host_unit`]); `stdio` is then unused, as the unit's output stays
    /// where its own file sends it (see [`crate::core::journal_follow`]). A task run as
    /// Nomad's workload user ([`TaskSpec::workload_user`]) first gets that user's record.
    ///
    /// Errors: [`Error::InvalidConfig`] before any unit is created; [`Error::StartFailed`]
    /// when systemd could not run the program (the unit is removed again);
    /// [`Error::AlreadyExists`] when this run's unit name is taken; [`Error::Timeout`] when
    /// systemd did not run the start job within [`EngineOptions::start_timeout`] (a job stuck
    /// behind another one): the job is cancelled and the unit removed, so a task Nomad has
    /// given up on never starts behind its back.
    pub async fn start(&self, spec: &TaskSpec, stdio: Stdio) -> Result<Started> {
        if let Some(unit) = &spec.host_unit {
            return self.start_host_unit(spec, unit).await;
        }
        let unit = spec.unit_name();
        // Everything is validated before journal streams are opened or systemd is asked.
        let plan = mapping::plan(spec, &self.options.slice)?;
        if let Some(id) = spec.workload_user {
            workload_user::provide(id)?;
        }
        let output = match stdio {
            Stdio::Journal => Output::journal(&spec.name, &unit)?,
            Stdio::Files { stdout, stderr } => Output::files(&stdout, &stderr)?,
            Stdio::Fifos { stdout, stderr } => {
                let alloc_dir = spec.dirs.as_ref().map(|d| d.alloc_dir().to_path_buf());
                Output::wait_for_fifos(alloc_dir, stdout, stderr).await?
            }
            Stdio::To(output) => output,
            Stdio::Inherit => Output::inherited()?,
        };
        let plan = plan.with_output(&output);
        if let (false, Some(dirs)) = (plan.files.is_empty(), &spec.dirs) {
            // In the job's directory: written without following its symlinks.
            let beneath = alloc_fs::Beneath::open("task directories", dirs.alloc_dir())?;
            for (path, contents) in &plan.files {
                beneath.write_file("dns", path, contents)?;
            }
        }
        // The task's slice, with its limits, is created in the same call as the unit. Where
        // a slice of that name is loaded already (the same run started again), it is left
        // as it is and the unit's own start decides.
        let mut created_slice = true;
        let mut launched = self
            .launch(
                &unit,
                &plan.properties,
                Some((&plan.slice, &plan.slice_properties)),
                &spec.command,
                self.options.start_timeout,
            )
            .await;
        if matches!(launched, Err(Error::AlreadyExists(_)))
            && self.systemd.snapshot(&plan.slice).await.is_ok()
        {
            created_slice = false;
            launched = self
                .launch(
                    &unit,
                    &plan.properties,
                    None,
                    &spec.command,
                    self.options.start_timeout,
                )
                .await;
        }
        let failure = match launched {
            Ok(None) => {
                return Ok(Started {
                    unit,
                    slice: Some(plan.slice),
                    warnings: plan.warnings,
                });
            }
            // Removing the unit stops its slice too.
            Ok(Some(reason)) => {
                self.remove(&unit).await?;
                return Err(Error::StartFailed {
                    unit: unit.to_string(),
                    reason,
                });
            }
            Err(timeout @ Error::Timeout { .. }) => {
                // Stopping cancels the queued job. A unit another unit's dependency still
                // names stays loaded (inactive, nothing queued) until that reference goes;
                // not an error.
                match self.remove(&unit).await {
                    Ok(()) | Err(Error::Timeout { .. }) => {}
                    Err(e) => return Err(e),
                }
                return Err(timeout);
            }
            Err(Error::Refused {
                action,
                unit: name,
                message,
            }) => match self.mistyped_property(spec, &message).await {
                Some(e) => e,
                None => Error::Refused {
                    action,
                    unit: name,
                    message,
                },
            },
            Err(e) => e,
        };
        // systemd created no unit; a slice made for it goes again (one that was there
        // already holds the run that is there already).
        if created_slice {
            let _ = self.systemd.stop_unit(&plan.slice, JOB_TIMEOUT).await;
        }
        Err(failure)
    }

    /// The unit of this very task when it is already there: a start retried with the same
    /// task id (Nomad retries StartTask after the plugin crashed, and the first attempt may
    /// have created the unit) adopts it instead of starting a second copy. `Ok(None)` when
    /// no unit of the task's name is loaded; [`Error::AlreadyExists`] when one is but it was
    /// started from another config (its [`TaskSpec::fingerprint`] differs), which is left
    /// alone. An installed unit ([`TaskSpec::host_unit`]) is not named by the task id and is
    /// never adopted.
    pub async fn adopt(&self, spec: &TaskSpec) -> Result<Option<UnitName>> {
        if spec.host_unit.is_some() {
            return Ok(None);
        }
        let unit = spec.unit_name();
        let snapshot = match self.systemd.snapshot(&unit).await {
            Ok(s) => s,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let digest = snapshot.log_fields.get(mapping::logging::FIELD_TASK_CONFIG);
        if digest.map(String::as_str) == Some(spec.fingerprint().as_str()) {
            Ok(Some(unit))
        } else {
            Err(Error::AlreadyExists(unit.to_string()))
        }
    }

    /// When systemd refused a task's unit for a value of the wrong D-Bus type, the error
    /// naming the job's property whose declared type is not the one systemd gives it.
    async fn mistyped_property(&self, spec: &TaskSpec, message: &str) -> Option<Error> {
        if spec.sandbox.properties.is_empty() {
            return None;
        }
        for extra in mapping::properties::properties(&spec.sandbox.properties) {
            let declared = extra.value.signature();
            let Some(actual) = self.systemd.service_property_type(&extra.name).await else {
                continue;
            };
            if actual != declared {
                return Some(Error::invalid(
                    format!("properties.{}", extra.name),
                    format!(
                        "systemd gives {name} the D-Bus type '{actual}', but it was declared \
                         '{declared}' (systemd said: {message}); write the key as \
                         \"{name}:{actual}\"",
                        name = extra.name
                    ),
                ));
            }
        }
        None
    }

    /// Creates a transient unit from `props` and waits for its start job. `Ok(None)`: the program ran. `Ok(Some)`:
    /// why systemd could not set it up or execute it; the unit is left for the caller to
    /// remove. A program that exits within milliseconds can fail the start job although it
    /// ran; its exit result is then what a wait reports, so only a failure to set up or
    /// execute it counts.
    pub(super) async fn launch(
        &self,
        unit: &UnitName,
        props: &[Property],
        aux: Option<(&UnitName, &[Property])>,
        command: &str,
        timeout: Duration,
    ) -> Result<Option<String>> {
        let job = self
            .systemd
            .start_transient_with(unit, props, aux, timeout)
            .await?;
        if job == "done" {
            return Ok(None);
        }
        Ok(match self.systemd.snapshot(unit).await {
            Ok(s) => start_failure(&s, &job, command),
            Err(_) => Some(format!("systemd's start job ended with '{job}'")),
        })
    }

    /// Waits until the task's main process has exited and returns how it ended. Returns at
    /// once for a task that already exited; may be called any number of times.
    pub async fn wait(&self, unit: &UnitName) -> Result<ExitResult> {
        let (snapshot, _) = self
            .systemd
            .wait_until(unit, None, UnitSnapshot::has_exited)
            .await?;
        Ok(self.exit_of(unit, &snapshot).await)
    }

    /// How the task's main process ended, `None` while it runs. `oom_killed` comes from
    /// systemd's `Result=oom-kill`; where a SIGKILL left systemd unaware of the OOM killer
    /// (systemd not watching its events, or a kill inside the task that systemd did not
    /// attribute), the OOM kill counter of the task's own slice decides.
    async fn exit_of(&self, unit: &UnitName, snapshot: &UnitSnapshot) -> ExitResult {
        let mut exit = snapshot.exit_result().unwrap_or_default();
        if exit.signal == Signal::KILL.number() && !exit.oom_killed {
            exit.oom_killed = self.slice_saw_oom_kill(unit, snapshot).await;
        }
        exit
    }

    async fn slice_saw_oom_kill(&self, unit: &UnitName, snapshot: &UnitSnapshot) -> bool {
        if !unit.owns_slice(&snapshot.slice) {
            return false;
        }
        let Ok(slice) = UnitName::parse(&snapshot.slice) else {
            return false;
        };
        match self.systemd.slice_cgroup(&slice).await {
            Ok(cgroup) if !cgroup.is_empty() => {
                stats::oom_kills(Path::new(stats::CGROUP_ROOT), &cgroup).unwrap_or(0) > 0
            }
            _ => false,
        }
    }

    /// Sends `signal` to the task's main process.
    pub async fn signal(&self, unit: &UnitName, signal: Signal) -> Result<()> {
        self.systemd.kill(unit, Whom::Main, signal.number()).await
    }

    /// Stops the task the way Nomad does: `signal` to the main process, up to `timeout` for it
    /// to exit, then SIGKILL to every process of the unit. Returns the exit result; a task that
    /// already exited just reports it.
    pub async fn stop(
        &self,
        unit: &UnitName,
        signal: Signal,
        timeout: Duration,
    ) -> Result<ExitResult> {
        let snapshot = self.systemd.snapshot(unit).await?;
        self.stop_from(unit, &snapshot, signal, timeout).await
    }

    /// [`Engine::stop`], given a fresh read of the unit's state.
    async fn stop_from(
        &self,
        unit: &UnitName,
        snapshot: &UnitSnapshot,
        signal: Signal,
        timeout: Duration,
    ) -> Result<ExitResult> {
        if snapshot.has_exited() {
            return Ok(self.exit_of(unit, snapshot).await);
        }
        if unit.unit_type() != "service" {
            // A timer, socket or path unit has no process to signal: systemd stops it.
            self.systemd.stop_unit(unit, timeout + KILL_GRACE).await?;
            let snapshot = self.systemd.snapshot(unit).await?;
            return Ok(self.exit_of(unit, &snapshot).await);
        }
        self.kill_tolerating_exit(unit, Whom::Main, signal).await?;
        let (snapshot, exited) = self
            .systemd
            .wait_until(unit, Some(timeout), UnitSnapshot::has_exited)
            .await?;
        if exited {
            return Ok(self.exit_of(unit, &snapshot).await);
        }
        self.kill_tolerating_exit(unit, Whom::All, Signal::KILL)
            .await?;
        let (snapshot, exited) = self
            .systemd
            .wait_until(unit, Some(KILL_GRACE), UnitSnapshot::has_exited)
            .await?;
        if !exited {
            return Err(Error::Timeout {
                action: "kill",
                unit: unit.to_string(),
                seconds: KILL_GRACE.as_secs(),
            });
        }
        Ok(self.exit_of(unit, &snapshot).await)
    }

    /// [`Engine::stop`], with the task's own kill signal and timeout (those it was started
    /// with) for whichever of the two is not given.
    pub async fn stop_with_defaults(
        &self,
        unit: &UnitName,
        signal: Option<Signal>,
        timeout: Option<Duration>,
    ) -> Result<ExitResult> {
        let snapshot = self.systemd.snapshot(unit).await?;
        let signal = signal
            .or_else(|| snapshot.kill_signal.and_then(Signal::from_number))
            .unwrap_or(Signal::TERM);
        let timeout = timeout
            .or_else(|| snapshot.stop_timeout_us.map(Duration::from_micros))
            .unwrap_or(DEFAULT_KILL_TIMEOUT);
        self.stop_from(unit, &snapshot, signal, timeout).await
    }

    /// Removes the task's unit: processes still running are killed with the task's kill
    /// signal and timeout (systemd's own stop), failed state is reset, and the unit is gone
    /// when this returns. An installed unit (any name but a task unit's) is stopped and
    /// stays installed, without our drop-in. Destroying a unit that no longer exists succeeds.
    pub async fn destroy(&self, unit: &UnitName) -> Result<()> {
        if !unit.is_task_unit() {
            return self.destroy_host_unit(unit).await;
        }
        match self.removal_of(unit).await {
            Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
            Ok(removal) => self.remove_with(unit, removal).await,
        }
    }

    /// [`Engine::destroy`] of a task this engine started ([`Started`]): a task in its own
    /// slice is removed with it, without reading first what the removal takes.
    pub async fn destroy_started(&self, started: &Started) -> Result<()> {
        match &started.slice {
            Some(slice) => {
                let removal = Removal {
                    slice: Some(slice.clone()),
                    ended: false,
                };
                self.remove_with(&started.unit, removal).await
            }
            None => self.destroy(&started.unit).await,
        }
    }

    /// Sends SIGKILL to every process of a running service unit at once, as Nomad's exec
    /// driver does when a task is destroyed with force (no grace after a first signal); a
    /// unit that is gone or has exited is left as it is.
    pub async fn kill_now(&self, unit: &UnitName) -> Result<()> {
        if unit.unit_type() != "service" {
            return Ok(());
        }
        match self.systemd.snapshot(unit).await {
            Ok(s) if !s.has_exited() => {
                self.kill_tolerating_exit(unit, Whom::All, Signal::KILL)
                    .await
            }
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn status(&self, unit: &UnitName) -> Result<TaskStatus> {
        let snapshot = self.systemd.snapshot(unit).await?;
        Ok(TaskStatus::from_snapshot(unit.clone(), &snapshot))
    }

    /// Every task unit this tool created or manages (described as a Nomad task: transient
    /// `nomad-*.service` units and installed units carrying our drop-in), running or exited,
    /// in any slice: an operator's `ps` should see the plugin's tasks whatever slice it was
    /// configured with. One call to systemd, however many tasks.
    pub async fn list(&self) -> Result<Vec<TaskSummary>> {
        // PID 1 filters by name: our transient units, and the installed units our drop-in is
        // on. Where those cannot be named exactly as patterns, every unit is listed.
        let installed = host_unit::units_with_dropin(self.systemd.bus())
            .filter(|units| units.iter().all(|u| !has_glob_char(u.as_str())));
        let names: Vec<String> = match &installed {
            Some(units) => std::iter::once(super::unit_name::TASK_UNIT_PATTERN.to_string())
                .chain(units.iter().map(|u| u.to_string()))
                .collect(),
            None => Vec::new(),
        };
        let patterns: Vec<&str> = names.iter().map(String::as_str).collect();
        let units = self.systemd.list_unit_states(&patterns).await?;
        let mut tasks: Vec<TaskSummary> = units
            .into_iter()
            .filter_map(|u| {
                let identity = description::parse(&u.description)?;
                Some(TaskSummary::from_listing(u, identity))
            })
            .collect();
        tasks.sort_by(|a, b| a.unit.cmp(&b.unit));
        Ok(tasks)
    }

    /// [`Engine::list`] with each task's full status (one read of each unit). Tasks that go
    /// away meanwhile are left out.
    pub async fn list_status(&self) -> Result<Vec<TaskStatus>> {
        let tasks = self.list().await?;
        self.statuses(&tasks).await
    }

    /// The full status of each of `tasks` (one read of each unit, all at once). Tasks that
    /// go away meanwhile are left out.
    pub async fn statuses(&self, tasks: &[TaskSummary]) -> Result<Vec<TaskStatus>> {
        let reads = tasks.iter().map(|t| self.status(&t.unit));
        let mut statuses = Vec::new();
        for status in futures_util::future::join_all(reads).await {
            match status {
                Ok(s) => statuses.push(s),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(statuses)
    }

    /// Resource usage now: from systemd's accounting, completed from the unit's cgroup.
    pub async fn stats(&self, unit: &UnitName) -> Result<TaskStats> {
        let snapshot = self.systemd.snapshot(unit).await?;
        Ok(stats::collect(&snapshot))
    }

    /// For sampling one task again and again (Nomad's TaskStats stream): asks systemd once
    /// where the task's cgroup is.
    pub async fn stats_sampler(&self, unit: &UnitName) -> Result<StatsSampler> {
        let snapshot = self.systemd.snapshot(unit).await?;
        let files = (!snapshot.control_group.is_empty()).then(|| {
            stats::CgroupFiles::locate(Path::new(stats::CGROUP_ROOT), &snapshot.control_group)
        });
        Ok(StatsSampler {
            unit: unit.clone(),
            files,
        })
    }

    /// A sample read from the task's cgroup files alone, which costs no D-Bus call; once the
    /// cgroup is gone (the task exited) it is [`Engine::stats`] again.
    pub async fn sample(&self, sampler: &StatsSampler) -> Result<TaskStats> {
        if let Some(sample) = sampler.files.as_ref().and_then(stats::CgroupFiles::sample) {
            return Ok(sample);
        }
        self.stats(&sampler.unit).await
    }

    /// Moves a running task onto `cores` (a cpuset list such as `0-3,6`): its unit's and its
    /// own slice's `AllowedCPUs` change for the units' lifetime (execs in the slice follow
    /// the slice). For a task without reserved cores whose shared partition changed (see
    /// [`crate::core::host::shared_partition`]). Returns whether anything was changed: a
    /// task that has exited or is gone, and an installed unit (whose settings live in its
    /// drop-in), are left alone, so nothing here loads a unit again or leaves a runtime
    /// drop-in behind (a transient unit's go with it).
    pub async fn follow_cores(&self, unit: &UnitName, cores: &str) -> Result<bool> {
        let props = [Property::new(
            "AllowedCPUs",
            super::property::Value::Bytes(mapping::cpu::cpuset_mask(cores)?),
        )];
        if !unit.is_task_unit() {
            return Ok(false);
        }
        let snapshot = match self.systemd.snapshot(unit).await {
            Ok(s) if !s.has_exited() => s,
            Ok(_) | Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if unit.owns_slice(&snapshot.slice) {
            let slice = UnitName::parse(&snapshot.slice)?;
            self.systemd.set_runtime_properties(&slice, &props).await?;
        }
        self.systemd.set_runtime_properties(unit, &props).await?;
        Ok(true)
    }

    async fn kill_tolerating_exit(
        &self,
        unit: &UnitName,
        whom: Whom,
        signal: Signal,
    ) -> Result<()> {
        match self.systemd.kill(unit, whom, signal.number()).await {
            // The process exited between our read and the signal: nothing left to signal.
            Err(Error::NoSuchProcess(_)) => Ok(()),
            other => other,
        }
    }

    /// Stops the unit (with the task's own slice and any exec still running in it), resets it
    /// and waits until systemd has unloaded it.
    async fn remove(&self, unit: &UnitName) -> Result<()> {
        let removal = match self.removal_of(unit).await {
            Ok(removal) => removal,
            Err(Error::NotFound(_)) => Removal::default(),
            Err(e) => return Err(e),
        };
        self.remove_with(unit, removal).await
    }

    /// What removing the unit takes, read in one go: its own slice, if it runs in one (an
    /// installed unit, or a unit of an earlier version, may not), and whether it has ended
    /// already. [`Error::NotFound`] if systemd has no such unit.
    async fn removal_of(&self, unit: &UnitName) -> Result<Removal> {
        let s = self
            .systemd
            .partial_snapshot(unit, &["ActiveState", "Job"], &["Slice"])
            .await?;
        let slice = if unit.owns_slice(&s.slice) {
            Some(UnitName::parse(&s.slice)?)
        } else {
            None
        };
        let ended = matches!(
            s.active_state,
            Some(ActiveState::Inactive | ActiveState::Failed)
        ) && !s.job_pending;
        Ok(Removal { slice, ended })
    }

    /// [`Engine::remove`] with what it takes already known. A unit in a slice of its own is
    /// stopped with its slice, in one job: the unit requires its slice, so systemd stops the
    /// unit (with its kill signal and timeout) and everything else in the slice (an exec still
    /// running) first, then the slice. A stopped slice is collected by systemd; it is not
    /// watched until unloaded, because asking for a slice by name loads it again.
    async fn remove_with(&self, unit: &UnitName, removal: Removal) -> Result<()> {
        let stop = match &removal.slice {
            Some(slice) => Some(slice),
            None if !removal.ended => Some(unit),
            // A stop job for an ended unit is a round trip to PID 1 that changes nothing.
            None => None,
        };
        if let Some(stop) = stop {
            match self.systemd.stop_unit(stop, JOB_TIMEOUT).await {
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.unload(unit).await
    }

    /// Resets the stopped unit's failed state and waits until systemd has unloaded it.
    async fn unload(&self, unit: &UnitName) -> Result<()> {
        match self.systemd.reset_failed(unit).await {
            Ok(()) => {}
            // Not loaded: systemd has collected it already, and a read would load it again.
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        // A transient unit is unloaded once stopped and reset; wait until systemd has done so.
        if self.systemd.wait_until_unloaded(unit, KILL_GRACE).await? {
            Ok(())
        } else {
            Err(Error::Timeout {
                action: "unload",
                unit: unit.to_string(),
                seconds: KILL_GRACE.as_secs(),
            })
        }
    }
}

/// Why a failed start job means the program never ran, in words an operator can act on;
/// `None` when the program did run (and simply ended quickly).
fn start_failure(s: &UnitSnapshot, job_result: &str, command: &str) -> Option<String> {
    const CLD_EXITED: i32 = 1;
    const EXIT_EXEC: i32 = 203;
    const EXIT_NETWORK: i32 = 225;
    if s.exec_main_code == CLD_EXITED
        && let Some(what) = spawn_step(s.exec_main_status)
    {
        let about = match s.exec_main_status {
            EXIT_EXEC => format!(" '{command}'"),
            EXIT_NETWORK => format!(" '{}'", s.exec_context.network_namespace_path),
            _ => String::new(),
        };
        return Some(format!(
            "{what}{about} (systemd exit status {})",
            s.exec_main_status
        ));
    }
    (s.exec_main_start_us == 0).then(|| {
        format!(
            "systemd's start job ended with '{job_result}' (result '{}')",
            s.result
        )
    })
}

/// systemd's exit statuses for a failure while setting up the process (`systemd.exec(5)`).
fn spawn_step(status: i32) -> Option<&'static str> {
    Some(match status {
        200 => "the working directory could not be entered",
        203 => "the command could not be executed",
        204 => "out of memory while starting",
        208 | 209 | 222 => "standard input or output could not be set up",
        216 => "the group could not be set",
        217 => "the user could not be set",
        218 => "capabilities could not be set",
        219 => "the unit's cgroup could not be set up",
        225 => "the network namespace could not be joined",
        226 => "the file system namespace (task directory binds) could not be set up",
        227 => "no_new_privileges could not be set",
        228 => "the system call filter could not be applied",
        _ => return None,
    })
}
