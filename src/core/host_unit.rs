//! Installed units as tasks: a packaged service, a unit file from configuration management,
//! or an instance of a template (`web@.service` → `web@<alloc id>.service`).
//!
//! Nomad's view holds as for transient tasks: while Nomad manages the unit, one drop-in of
//! ours (`zz-nomad-systemd.conf` in the runtime unit directory, named to sort after an
//! administrator's `override.conf`) gives it Nomad's environment, resources, kill settings,
//! journal fields and description, `Restart=no` and `RemainAfterExit=yes` (so its exit result
//! stays readable, as a transient task's does). The unit's own `ExecStart`, user, sandboxing
//! and `StandardOutput` are left alone; its output is read back from the journal.
//!
//! The unit is the operator's program, often run as root, so it does not inherit the job's
//! power:
//! - its environment is Nomad's `NOMAD_*` variables and the names the operator allows, never
//!   a loader or shell variable ([`crate::core::unit_env`]);
//! - the name a task asks for is resolved first: every name of the unit it stands for must
//!   pass the always-denied list (the caller checks its own rules the same way, see
//!   [`crate::core::unit_policy::ResolvedUnit`]);
//! - a setting systemd would not read whole (a line over [`dropin::MAX_LINE`], an environment
//!   string over the kernel's [`MAX_ENV_STRING`]) is refused before anything is written;
//! - once systemd has read the drop-in, every setting it carries is read back over the bus
//!   ([`crate::core::readback`]) before the unit is started, and again once it runs: a
//!   setting systemd ignored, or one a later drop-in overrides, fails the start, and the
//!   unit is stopped (if it got that far) and the drop-in removed.
//!
//! **Nomad never stops what it did not start**: a unit that is already active when a task
//! asks for it is refused, so a job can never take over (and later stop) a running service.
//! Destroying the task stops the unit, removes the drop-in and resets its failed state.

use std::path::{Path, PathBuf};

use super::dropin;
use super::engine::{Engine, Started};
use super::error::{Error, Result};
use super::mapping::{self, environment, lifecycle, logging, network};
use super::property::Property;
use super::readback;
use super::systemd::{ActiveState, Bus, UnitSnapshot};
use super::task::TaskSpec;
use super::unit_env;
use super::unit_name::UnitName;
use super::unit_policy::{self, ResolvedUnit};

/// Unit types a task may name: those that can be started and run until stopped.
pub const STARTABLE_TYPES: &[&str] = &["service", "timer", "socket", "path"];
/// The drop-in's file name.
const DROPIN_NAME: &str = "zz-nomad-systemd.conf";
/// systemd's runtime unit directory for the system manager.
const SYSTEM_RUNTIME_DIR: &str = "/run/systemd/system";
/// Lifecycle settings the unit keeps as its own file says: its type and its slice.
const KEPT_FROM_UNIT: &[&str] = &["Type", "Slice"];
/// The longest `NAME=value` string the kernel passes to a program, NUL excluded
/// (`MAX_ARG_STRLEN`, 32 pages): with a longer one `execve` fails and the unit cannot start.
pub const MAX_ENV_STRING: usize = 32 * 4096 - 1;

/// The unit a task config names: `unit` itself, or for a template its instance `instance`,
/// by default `alloc_id` (escaped like `systemd-escape`). Errors name `unit` or
/// `unit_instance`.
pub fn resolve(unit: &str, instance: Option<&str>, alloc_id: &str) -> Result<UnitName> {
    if let Some((_, suffix)) = unit.rsplit_once('.')
        && UNIT_TYPES.contains(&suffix)
        && !STARTABLE_TYPES.contains(&suffix)
    {
        return Err(not_startable(unit, suffix));
    }
    let name = if unit.contains("@.") {
        let instance = instance.unwrap_or(alloc_id);
        if instance.is_empty() {
            return Err(Error::invalid(
                "unit_instance",
                "a template unit needs an instance string",
            ));
        }
        UnitName::instance(unit, instance)?
    } else {
        if instance.is_some_and(|i| !i.is_empty()) {
            return Err(Error::invalid(
                "unit_instance",
                format!("'{unit}' is not a template (name@.type), so it takes no instance"),
            ));
        }
        let parsed = UnitName::parse(unit)?;
        if parsed.as_str() != unit {
            return Err(Error::invalid(
                "unit",
                format!("'{unit}' needs its type suffix, e.g. '{parsed}'"),
            ));
        }
        parsed
    };
    if !STARTABLE_TYPES.contains(&name.unit_type()) {
        return Err(not_startable(unit, name.unit_type()));
    }
    Ok(name)
}

/// Every unit type systemd has.
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "device",
    "mount",
    "automount",
    "swap",
    "target",
    "path",
    "timer",
    "slice",
    "scope",
];

fn not_startable(unit: &str, unit_type: &str) -> Error {
    Error::invalid(
        "unit",
        format!(
            "'{unit}' is a {unit_type} unit; a task can run a {} unit",
            STARTABLE_TYPES.join(", ")
        ),
    )
}

/// What the drop-in sets for a task on a service, and warnings for what cannot apply. Other
/// unit types (timers, sockets, paths) run no process of their own: nothing is set on them.
pub fn properties(spec: &TaskSpec, unit: &UnitName) -> Result<(Vec<Property>, Vec<String>)> {
    if unit.unit_type() != "service" {
        return Ok((
            Vec::new(),
            vec![format!(
                "{unit} is a {} unit: the task's environment and resources apply only to \
                 services, so the units it triggers run as installed",
                unit.unit_type()
            )],
        ));
    }
    let (mut env, mut warnings) = unit_env::filter(&spec.env, &spec.unit_env_allow)?;
    // Nomad points these at /alloc, /local and /secrets, binds that only transient tasks
    // get; an installed unit sees the host's paths.
    if let Some(dirs) = &spec.dirs {
        env.extend(dirs.host_env().map(|(k, v)| (k.to_string(), v)));
    }
    if let Some((name, value)) = env
        .iter()
        .find(|(k, v)| k.len() + 1 + v.len() > MAX_ENV_STRING)
    {
        return Err(Error::invalid(
            "env",
            format!(
                "'{name}' is {} bytes with its value; the kernel passes no environment string \
                 over {MAX_ENV_STRING} bytes to a program, so the unit could not start",
                name.len() + 1 + value.len()
            ),
        ));
    }
    let (mut props, env_warnings) = environment::dropin_properties(&env)?;
    warnings.extend(env_warnings);
    props.extend(mapping::resources(&spec.resources)?);
    props.extend(network::properties(spec)?);
    props.extend(
        logging::properties(spec)
            .into_iter()
            .filter(|p| p.name == "LogExtraFields"),
    );
    props.extend(
        lifecycle::properties(spec, "")
            .into_iter()
            .filter(|p| !KEPT_FROM_UNIT.contains(&p.name.as_ref())),
    );
    Ok((props, warnings))
}

/// The drop-in a start writes for `spec` on the installed `unit` (a service or not), and
/// where: pure, so that a dry run shows exactly what a start writes.
#[derive(Debug, Clone)]
pub struct DropIn {
    pub unit: UnitName,
    pub path: PathBuf,
    /// The file's text, as written.
    pub text: String,
    /// What it sets, as read back over the bus once systemd has loaded it.
    pub properties: Vec<Property>,
    pub warnings: Vec<String>,
}

/// Plans the drop-in for `spec` on `unit` under `bus`'s manager; errors are those of
/// [`properties`], [`dropin::render`] and [`dropin_path`].
pub fn dropin(spec: &TaskSpec, unit: &UnitName, bus: Bus) -> Result<DropIn> {
    let (properties, warnings) = properties(spec, unit)?;
    let header = format!(
        "Written by nomad-systemd for Nomad task {} (alloc {}); removed when the task is destroyed.",
        spec.name, spec.alloc_id
    );
    let text = dropin::render(&header, &properties)?;
    Ok(DropIn {
        unit: unit.clone(),
        path: dropin_path(bus, unit)?,
        text,
        properties,
        warnings,
    })
}

/// Where the drop-in for `unit` lives on `bus`'s manager.
pub fn dropin_path(bus: Bus, unit: &UnitName) -> Result<PathBuf> {
    Ok(runtime_dir(bus)?
        .join(format!("{unit}.d"))
        .join(DROPIN_NAME))
}

/// The manager's runtime unit directory, where our drop-ins go.
fn runtime_dir(bus: Bus) -> Result<PathBuf> {
    Ok(match bus {
        Bus::System => PathBuf::from(SYSTEM_RUNTIME_DIR),
        Bus::User => std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| Path::new(&d).join("systemd/user"))
            .ok_or_else(|| {
                Error::invalid("unit", "XDG_RUNTIME_DIR is not set, so the user manager's runtime directory is unknown")
            })?,
    })
}

/// The names of the units that carry our drop-in on `bus`'s manager (installed units this
/// tool started and has not removed), read from the runtime directory; `None` when it cannot
/// be read. Only names systemd's unit-name rules allow are returned.
pub fn units_with_dropin(bus: Bus) -> Option<Vec<UnitName>> {
    let dir = runtime_dir(bus).ok()?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    let mut units = Vec::new();
    for entry in entries {
        let name = entry.ok()?.file_name();
        let Some(unit) = name.to_str().and_then(|n| n.strip_suffix(".d")) else {
            continue;
        };
        let Ok(unit) = UnitName::parse(unit) else {
            continue;
        };
        if dir.join(&name).join(DROPIN_NAME).exists() {
            units.push(unit);
        }
    }
    Some(units)
}

fn is_running(s: &UnitSnapshot) -> bool {
    !matches!(
        s.active_state,
        Some(ActiveState::Inactive | ActiveState::Failed) | None
    )
}

impl Engine {
    /// Starts the installed unit `unit` as the task `spec` (see the module docs). Errors:
    /// [`Error::InvalidConfig`] for a unit that is not installed, masked, broken or already
    /// running (nothing changed); [`Error::StartFailed`] when its start job failed (the
    /// drop-in is removed again).
    pub(super) async fn start_host_unit(
        &self,
        spec: &TaskSpec,
        unit: &UnitName,
    ) -> Result<Started> {
        let DropIn {
            path,
            text,
            properties: props,
            warnings,
            ..
        } = dropin(spec, unit, self.systemd().bus())?;
        self.check_host_unit(unit).await?;
        write_dropin(&path, &text)?;
        match self.launch_host_unit(unit, &props).await {
            Ok(None) => Ok(Started {
                unit: unit.clone(),
                slice: None,
                warnings,
            }),
            Ok(Some(reason)) => {
                self.destroy_host_unit(unit).await?;
                Err(Error::StartFailed {
                    unit: unit.to_string(),
                    reason,
                })
            }
            Err(e) => {
                // Best effort: the error that stopped the start is the one worth reporting.
                let _ = self.destroy_host_unit(unit).await;
                Err(e)
            }
        }
    }

    /// The checks a start makes on an installed unit before it changes anything: installed,
    /// loaded, none of its names always denied, not running. Reads the bus only.
    pub(super) async fn check_host_unit(&self, unit: &UnitName) -> Result<()> {
        let snapshot = match self.systemd().snapshot(unit).await {
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid(
                    "unit",
                    format!("'{unit}' is not installed on this node (no unit file found)"),
                ));
            }
            other => other?,
        };
        if snapshot.load_state != "loaded" {
            return Err(Error::invalid(
                "unit",
                format!(
                    "'{unit}' cannot be started: its load state is '{}'",
                    snapshot.load_state
                ),
            ));
        }
        let resolved = self.resolve_installed(unit).await?;
        unit_policy::check_always_denied_resolved(
            unit,
            &resolved,
            unit_policy::own_unit().as_deref(),
        )?;
        if is_running(&snapshot) {
            return Err(Error::invalid(
                "unit",
                format!(
                    "'{unit}' is already running, started by something other than this \
                     task; a task never takes over a unit it did not start, since stopping the \
                     task would stop it (stop it first, or run another instance)"
                ),
            ));
        }
        Ok(())
    }

    /// The unit systemd resolves `unit` to: its id and all its names (an alias's target and
    /// the target's other aliases). [`Error::NotFound`] when no such unit is installed.
    pub async fn resolve_installed(&self, unit: &UnitName) -> Result<ResolvedUnit> {
        let props = self.systemd().unit_properties(unit).await?;
        let text = |name: &str| {
            props
                .unit
                .get(name)
                .and_then(|v| v.downcast_ref::<&str>().ok().map(str::to_string))
                .unwrap_or_default()
        };
        if matches!(text("LoadState").as_str(), "not-found" | "") {
            return Err(Error::NotFound(unit.to_string()));
        }
        let names = props
            .unit
            .get("Names")
            .and_then(|v| v.try_clone().ok())
            .and_then(|v| Vec::<String>::try_from(v).ok())
            .unwrap_or_default();
        let id = text("Id");
        if id.is_empty() {
            return Err(Error::invalid(
                "unit",
                format!("systemd reports no id for '{unit}'"),
            ));
        }
        Ok(ResolvedUnit { id, names })
    }

    /// Reloads systemd with our drop-in in place, checks every setting of it took effect,
    /// starts the unit and checks again. `Ok(Some)`: why the start failed (the unit was not
    /// started when a setting did not take effect before the start).
    async fn launch_host_unit(
        &self,
        unit: &UnitName,
        props: &[Property],
    ) -> Result<Option<String>> {
        self.systemd().reload().await?;
        let read = self.systemd().unit_properties(unit).await?;
        if let Some(why) = readback::first_not_applied(props, &read) {
            return Ok(Some(format!(
                "the unit was not started: {why}. systemd ignored the setting (its journal \
                 says why) or a drop-in sorting after {DROPIN_NAME} overrides it"
            )));
        }
        // The previous run's failed state would otherwise read as this run's result.
        match self.systemd().reset_failed(unit).await {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let job = self
            .systemd()
            .start_unit(unit, super::engine::JOB_TIMEOUT)
            .await?;
        if job == "done" {
            // Read back once more now that it runs: a reload by someone else between our
            // check and the start could have changed what systemd applied. The caller stops
            // the unit and removes the drop-in on a difference.
            let read = self.systemd().unit_properties(unit).await?;
            return Ok(readback::first_not_applied(props, &read)
                .map(|why| format!("the unit was stopped again: {why} once it had started")));
        }
        let result = self
            .systemd()
            .snapshot(unit)
            .await
            .map(|s| s.result)
            .unwrap_or_default();
        Ok(Some(format!(
            "systemd's start job ended with '{job}' (result '{result}')"
        )))
    }

    /// Stops the installed unit, removes our drop-in (systemd reloaded without it) and resets
    /// its failed state. The unit itself stays installed. Safe to repeat.
    pub(super) async fn destroy_host_unit(&self, unit: &UnitName) -> Result<()> {
        match self
            .systemd()
            .stop_unit(unit, super::engine::JOB_TIMEOUT)
            .await
        {
            Ok(_) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let path = dropin_path(self.systemd().bus(), unit)?;
        let removed = match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()), e)),
        };
        if let Some(dir) = path.parent() {
            // Only when empty: an administrator's own drop-ins may live there too.
            let _ = std::fs::remove_dir(dir);
        }
        if removed {
            self.systemd().reload().await?;
        }
        match self.systemd().reset_failed(unit).await {
            Ok(()) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn write_dropin(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    // Mode 0600: the environment may carry secrets (tokens from Nomad's templates).
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::{Value, find};

    #[test]
    fn templates_take_an_instance_and_plain_units_none() {
        assert_eq!(
            resolve("web@.service", None, "a1-b2").unwrap().as_str(),
            "web@a1\\x2db2.service"
        );
        assert_eq!(
            resolve("web@.service", Some("blue"), "a1")
                .unwrap()
                .as_str(),
            "web@blue.service"
        );
        assert_eq!(
            resolve("db.timer", None, "a1").unwrap().as_str(),
            "db.timer"
        );
        let e = resolve("web@.service", Some(""), "a1").unwrap_err();
        assert!(e.to_string().contains("unit_instance"), "{e}");
        assert!(resolve("db.service", Some("x"), "a1").is_err());
        assert!(
            resolve("db", None, "a1")
                .unwrap_err()
                .to_string()
                .contains("db.service")
        );
        assert!(
            resolve("basic.target", None, "a1")
                .unwrap_err()
                .to_string()
                .contains("target")
        );
        assert!(resolve("x.slice", None, "a1").is_err());
        for (unit, kind) in [("dev-sda.device", "device"), ("dev-sda2.swap", "swap")] {
            let e = resolve(unit, None, "a1").unwrap_err().to_string();
            assert!(
                e.contains(&format!("is a {kind} unit")) && !e.contains("suffix"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_service_gets_nomads_settings_and_keeps_its_type_and_slice() {
        let mut spec = test_spec();
        spec.env.insert("NOMAD_PORT_http".into(), "8080".into());
        spec.resources.memory_mb = 64;
        let unit = UnitName::parse("web@a1.service").unwrap();
        let (props, _) = properties(&spec, &unit).unwrap();
        assert!(matches!(find(&props, "Restart"), Some(Value::Str(s)) if s == "no"));
        assert!(matches!(
            find(&props, "RemainAfterExit"),
            Some(Value::Bool(true))
        ));
        assert!(
            matches!(find(&props, "Environment"), Some(Value::Strings(e)) if e.contains(&"NOMAD_PORT_http=8080".to_string()))
        );
        assert!(find(&props, "MemoryMax").is_some());
        assert!(find(&props, "LogExtraFields").is_some());
        for kept in [
            "Type",
            "Slice",
            "SyslogIdentifier",
            "ExecStart",
            "ExecStartEx",
        ] {
            assert!(find(&props, kept).is_none(), "{kept}");
        }
        assert!(dropin::render("h", &props).is_ok());
    }

    #[test]
    fn a_timer_is_left_as_installed_with_a_warning() {
        let unit = UnitName::parse("backup.timer").unwrap();
        let (props, warnings) = properties(&test_spec(), &unit).unwrap();
        assert!(props.is_empty());
        assert_eq!(warnings.len(), 1);
    }
}
