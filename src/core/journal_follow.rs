//! Following a unit's journal into Nomad's log FIFOs, for tasks whose output goes to the
//! journal: installed units (their own `StandardOutput` stays untouched) and transient tasks
//! with `logging { driver = "both" }` (the journal keeps the host's copy).
//!
//! **Mechanism: two log units per task.** Each is a transient service running
//! `journalctl --follow --output=cat` (argv, no shell) over the task unit's stdout/stderr
//! stream entries — for an installed unit only this activation's (`_SYSTEMD_INVOCATION_ID`),
//! so an earlier run's lines are never replayed — with its stdout on one of Nomad's FIFOs,
//! handed to systemd as a descriptor like a transient task's output. Entries at priority
//! `err` or more severe go to the stderr FIFO, the others to stdout (an installed unit logs
//! both streams at its default priority, so they arrive on stdout).
//!
//! **Why not a follower inside the plugin, with a saved cursor:** Nomad's log collector stops
//! reading a FIFO at the first close, and a plugin that dies closes its FIFOs: logs would end
//! at the first plugin crash however carefully a cursor resumed them. systemd holds the log
//! units' FIFOs across plugin crashes and restarts, so lines are neither lost nor repeated,
//! and there is no cursor to keep: a recovered task's log units simply keep running.

use std::path::{Path, PathBuf};

use super::engine::{Engine, JOB_TIMEOUT};
use super::error::{Error, Result};
use super::mapping::command::{DEFAULT_PATH, search_path};
use super::mapping::logging;
use super::property::{ExecCommand, Property, Value};
use super::stdio::Output;
use super::systemd::Bus;
use super::task::TaskSpec;
use super::unit_name::UnitName;

const DEV_NULL: &str = "/dev/null";

/// One of the task's two output streams, as a log unit carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    Stdout,
    Stderr,
}

impl Carried {
    const BOTH: [Carried; 2] = [Carried::Stdout, Carried::Stderr];

    fn name(self) -> &'static str {
        match self {
            Carried::Stdout => "out",
            Carried::Stderr => "err",
        }
    }

    /// journalctl's `--priority` range for the stream: `err` and worse is stderr.
    fn priorities(self) -> &'static str {
        match self {
            Carried::Stdout => "4..7",
            Carried::Stderr => "0..3",
        }
    }
}

/// The log unit carrying `stream` of the task `spec`: the task's transient unit name with the
/// stream added to its instance part (`nomad-<alloc>-<task>-<instance>out.service`), so it is
/// one of ours (never allowed to jobs, never listed as a task) and unique to this run.
fn log_unit(spec: &TaskSpec, stream: Carried) -> UnitName {
    let instance = spec.id.rsplit('/').next().unwrap_or_default();
    UnitName::for_task(
        &spec.alloc_id,
        &spec.name,
        &format!("{instance}{}", stream.name()),
    )
}

/// [`log_unit`] from Nomad's task id alone (see [`UnitName::for_task_id`]).
fn log_unit_of_id(id: &str, stream: Carried) -> Option<UnitName> {
    UnitName::for_task_id(&format!("{id}{}", stream.name()))
}

impl Engine {
    /// Starts the task's log units, which copy `unit`'s journal into `stdout` and `stderr`
    /// (Nomad's FIFOs) until [`Engine::stop_following`]; with `this_activation`, only the
    /// unit's current activation. A stream whose path is `/dev/null` (disabled) gets none.
    /// Log units already running for the task (a retried start) are kept.
    pub async fn follow_journal(
        &self,
        spec: &TaskSpec,
        unit: &UnitName,
        this_activation: bool,
        stdout: &Path,
        stderr: &Path,
    ) -> Result<()> {
        let invocation = if this_activation {
            let id = self.systemd().snapshot(unit).await?.invocation_id;
            (!id.is_empty()).then_some(id)
        } else {
            None
        };
        let journalctl = search_path("journalctl", DEFAULT_PATH)
            .ok_or_else(|| Error::invalid("logging", "journalctl is not installed"))?
            .to_string_lossy()
            .into_owned();
        for (stream, fifo) in [(Carried::Stdout, stdout), (Carried::Stderr, stderr)] {
            if fifo == Path::new(DEV_NULL) {
                continue;
            }
            let argv = self.follow_argv(&journalctl, unit, invocation.as_deref(), stream);
            let name = log_unit(spec, stream);
            // The job controls what is at the FIFO's path: opened here, beneath the allocation
            // directory and only if it is a FIFO, and handed to the log unit as a descriptor.
            let alloc_dir = spec.dirs.as_ref().map(|d| d.alloc_dir().to_path_buf());
            let output =
                Output::wait_for_fifos(alloc_dir, fifo.to_path_buf(), PathBuf::from(DEV_NULL))
                    .await?;
            let mut props = vec![
                Property::new(
                    "Description",
                    Value::Str(format!("Nomad's copy of {unit}'s std{}", stream.name())),
                ),
                ExecCommand {
                    path: journalctl.clone(),
                    argv,
                }
                .start_property(),
                Property::new("Type", Value::Str("exec".into())),
                Property::new("Restart", Value::Str("no".into())),
                Property::new("Slice", Value::Str(self.slice().to_string())),
            ];
            if self.systemd().bus() == Bus::System {
                // journalctl only reads the journal's files, which root owns: it needs no
                // capability and no way to gain one.
                props.push(Property::new("NoNewPrivileges", Value::Bool(true)));
                props.push(Property::new("CapabilityBoundingSet", Value::U64(0)));
            }
            props.extend(logging::output(&output));
            let failure = match self
                .launch(&name, &props, None, &journalctl, JOB_TIMEOUT)
                .await
            {
                Ok(None) | Err(Error::AlreadyExists(_)) => continue,
                Ok(Some(reason)) => Error::StartFailed {
                    unit: name.to_string(),
                    reason,
                },
                Err(e) => e,
            };
            // No half-followed task: the other stream's log unit goes too.
            self.stop_following(spec).await?;
            return Err(failure);
        }
        Ok(())
    }

    /// [`Engine::stop_following`] for a task known only by Nomad's task id (one this process
    /// did not start or recover); an id without the task id's shape has none.
    pub async fn stop_following_id(&self, id: &str) -> Result<()> {
        for stream in Carried::BOTH {
            if let Some(unit) = log_unit_of_id(id, stream) {
                self.destroy(&unit).await?;
            }
        }
        Ok(())
    }

    /// Stops and removes the task's log units; none running is fine.
    pub async fn stop_following(&self, spec: &TaskSpec) -> Result<()> {
        for stream in Carried::BOTH {
            self.destroy(&log_unit(spec, stream)).await?;
        }
        Ok(())
    }

    fn follow_argv(
        &self,
        journalctl: &str,
        unit: &UnitName,
        invocation: Option<&str>,
        stream: Carried,
    ) -> Vec<String> {
        let mut argv: Vec<String> = [
            journalctl,
            "--no-pager",
            "--quiet",
            "--all",
            "--follow",
            "--no-tail",
            "--output=cat",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push(format!("--priority={}", stream.priorities()));
        argv.push(match self.systemd().bus() {
            Bus::System => format!("_SYSTEMD_UNIT={unit}"),
            Bus::User => format!("_SYSTEMD_USER_UNIT={unit}"),
        });
        if self.systemd().bus() == Bus::User {
            argv.push("--user".into());
        }
        argv.push("_TRANSPORT=stdout".into());
        if let Some(id) = invocation {
            argv.push(format!("_SYSTEMD_INVOCATION_ID={id}"));
        }
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;

    #[test]
    fn log_units_are_ours_unique_per_stream_and_not_tasks() {
        let spec = test_spec();
        let (out, err) = (
            log_unit(&spec, Carried::Stdout),
            log_unit(&spec, Carried::Stderr),
        );
        assert_eq!(out.as_str(), "nomad-a1-web-i1out.service");
        assert_ne!(out, err);
        assert_ne!(out, spec.unit_name());
        assert!(out.is_task_unit());
        // Found again from Nomad's task id alone, for a task this process does not track.
        for stream in Carried::BOTH {
            assert_eq!(
                log_unit_of_id(&spec.id, stream),
                Some(log_unit(&spec, stream))
            );
        }
    }
}
