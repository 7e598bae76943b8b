//! The unit's life: `Type=exec`, never restarted by systemd, kept after exit, stoppable the way
//! the task asks, and accounted.
//!
//! - `Type=exec`: the start job finishes only once the program was executed, so a missing
//!   binary or unknown user fails the start instead of a task that "ran" for 0 ms.
//! - `Restart=no`, always: Nomad owns restarts. No task setting can change it.
//! - `RemainAfterExit=yes`: the exit code, signal and OOM result stay readable until the task is
//!   destroyed, across plugin restarts.
//! - `KillSignal` / `TimeoutStopUSec`: the spec's `kill_signal` and `kill_timeout`, which a
//!   stop by systemd itself (`systemctl stop`, a destroy) uses, sending the signal to every
//!   process of the unit. For `nomad-systemd run` these are the run's own; a Nomad task gets
//!   SIGINT and 5 s, as Nomad's executors default, because Nomad sends the job's
//!   `kill_signal` and `kill_timeout` only with StopTask, which signals the main process
//!   itself and does not read these.
//! - Accounting on for CPU, memory, tasks and IO, so stats are there to read.

use crate::core::description;
use crate::core::property::{Property, Value};
use crate::core::task::TaskSpec;

pub fn properties(spec: &TaskSpec, slice: &str) -> Vec<Property> {
    let timeout_us = u64::try_from(spec.kill_timeout.as_micros()).unwrap_or(u64::MAX);
    let description =
        description::describe(&spec.name, &spec.job_name, &spec.alloc_id, spec.origin);
    vec![
        Property::new("Description", Value::Str(description)),
        Property::new("Type", Value::Str("exec".into())),
        Property::new("Restart", Value::Str("no".into())),
        Property::new("RemainAfterExit", Value::Bool(true)),
        Property::new("Slice", Value::Str(slice.to_string())),
        Property::new("KillSignal", Value::I32(spec.kill_signal.number())),
        Property::new("TimeoutStopUSec", Value::U64(timeout_us)),
        Property::new("SendSIGKILL", Value::Bool(true)),
        Property::new("CPUAccounting", Value::Bool(true)),
        Property::new("MemoryAccounting", Value::Bool(true)),
        Property::new("TasksAccounting", Value::Bool(true)),
        Property::new("IOAccounting", Value::Bool(true)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;

    #[test]
    fn systemd_never_restarts_and_keeps_the_exit_result() {
        let props = properties(&test_spec(), "system-nomad.slice");
        assert!(matches!(find(&props, "Restart"), Some(Value::Str(s)) if s == "no"));
        assert!(matches!(
            find(&props, "RemainAfterExit"),
            Some(Value::Bool(true))
        ));
        assert!(matches!(find(&props, "Type"), Some(Value::Str(s)) if s == "exec"));
        assert!(matches!(find(&props, "Slice"), Some(Value::Str(s)) if s == "system-nomad.slice"));
    }

    #[test]
    fn kill_settings_follow_the_task() {
        let props = properties(&test_spec(), "s.slice");
        assert!(matches!(find(&props, "KillSignal"), Some(Value::I32(15))));
        assert!(matches!(
            find(&props, "TimeoutStopUSec"),
            Some(Value::U64(5_000_000))
        ));
        assert_eq!(find(&props, "KillSignal").unwrap().signature(), "i");
    }
}
