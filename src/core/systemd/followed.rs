//! A unit's properties as last read, kept current by its change signals.
//!
//! With every `PropertiesChanged` of a unit systemd sends the values of all the properties of
//! that interface it announces on change: load and active state, job, invocation, main
//! process, exit status and result. So a waiter reads the few properties its answer depends
//! on once ([`UNIT_STATE`], [`SERVICE_STATE`]; one `Get` each, where `GetAll` would make PID 1
//! serialise some 300 properties, computing counters among them) and then applies the
//! signals, instead of asking again after each one. A signal that could not be read, or that
//! names a state property without its value, asks for a new read.

use std::collections::HashMap;

use zbus::OwnedVariant;

use super::signals::Change;
use super::snapshot::UnitSnapshot;
use super::{SERVICE_INTERFACE, UNIT_INTERFACE};

/// The `Unit` properties a waiter's answer depends on ([`UnitSnapshot::has_exited`], the
/// unit's presence), besides `LoadState`; all announced with their values.
pub(super) const UNIT_STATE: &[&str] = &["ActiveState", "SubState", "Job", "InvocationID"];
/// The `Service` properties a waiter's answer depends on ([`UnitSnapshot::exit_result`], and
/// the task's slice, where an OOM kill systemd missed is looked for); all but `Slice`, which
/// never changes, announced with their values.
pub(super) const SERVICE_STATE: &[&str] = &[
    "Result",
    "MainPID",
    "ExecMainCode",
    "ExecMainStatus",
    "ExecMainStartTimestamp",
    "ExecMainExitTimestamp",
    "Slice",
];

/// Whether a waiter's answer depends on property `name`.
fn is_state(name: &str) -> bool {
    name == "LoadState" || UNIT_STATE.contains(&name) || SERVICE_STATE.contains(&name)
}

/// What applying a change did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Applied {
    /// The properties are current (or the change was about an interface not followed).
    Current,
    /// The change did not carry what it changed: read the unit again.
    NeedsRead,
}

/// The `Unit` and `Service` properties of one unit.
#[derive(Debug, Default)]
pub(super) struct Followed {
    unit: HashMap<String, OwnedVariant>,
    service: HashMap<String, OwnedVariant>,
}

impl Followed {
    pub(super) fn new(
        unit: HashMap<String, OwnedVariant>,
        service: HashMap<String, OwnedVariant>,
    ) -> Followed {
        Followed { unit, service }
    }

    pub(super) fn snapshot(&self) -> UnitSnapshot {
        UnitSnapshot::from_properties(&self.unit, &self.service)
    }

    /// Applies a change signalled for this unit's object.
    pub(super) fn apply(&mut self, change: &Change) -> Applied {
        let Some(change) = change.body() else {
            return Applied::NeedsRead;
        };
        let properties = match change.interface.as_str() {
            UNIT_INTERFACE => &mut self.unit,
            SERVICE_INTERFACE => &mut self.service,
            // A timer's, socket's or path's own interface: its state is in `Unit`'s.
            _ => return Applied::Current,
        };
        if change.invalidated.iter().any(|name| is_state(name)) {
            return Applied::NeedsRead;
        }
        for (name, value) in &change.changed {
            // Only a value holding a file descriptor cannot be copied; no state property does.
            let Ok(value) = value.try_clone() else {
                return Applied::NeedsRead;
            };
            properties.insert(name.clone(), value);
        }
        Applied::Current
    }
}

#[cfg(test)]
mod tests {
    use super::super::signals::ChangedBody;
    use super::*;
    use zbus::{OwnedObjectPath, Variant as Value};

    fn owned(v: Value<'_>) -> OwnedVariant {
        v.try_into_owned().unwrap()
    }

    fn path() -> OwnedObjectPath {
        OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/x_2eservice").unwrap()
    }

    fn change(interface: &str, changed: &[(&str, Value<'_>)], invalidated: &[&str]) -> Change {
        let body = ChangedBody {
            interface: interface.into(),
            changed: changed
                .iter()
                .map(|(k, v)| (k.to_string(), owned(v.clone())))
                .collect(),
            invalidated: invalidated.iter().map(|s| s.to_string()).collect(),
        };
        Change::decoded(path(), Some(body))
    }

    fn running() -> Followed {
        Followed::new(
            [
                ("LoadState", owned(Value::from("loaded"))),
                ("ActiveState", owned(Value::from("active"))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            [
                ("MainPID", owned(Value::U32(42))),
                ("MemoryCurrent", owned(Value::U64(4096))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        )
    }

    #[test]
    fn an_exit_is_read_from_the_signals_alone() {
        let mut unit = running();
        assert!(!unit.snapshot().has_exited());
        let service = change(
            SERVICE_INTERFACE,
            &[
                ("MainPID", Value::U32(0)),
                ("ExecMainCode", Value::I32(1)),
                ("ExecMainStatus", Value::I32(3)),
                ("ExecMainExitTimestamp", Value::U64(1_000)),
                ("Result", Value::from("exit-code")),
            ],
            &["ExecStart"],
        );
        assert_eq!(unit.apply(&service), Applied::Current);
        let state = change(
            UNIT_INTERFACE,
            &[("ActiveState", Value::from("failed"))],
            &["Conditions", "Asserts"],
        );
        assert_eq!(unit.apply(&state), Applied::Current);
        let snapshot = unit.snapshot();
        let exit = snapshot.exit_result().expect("exited");
        assert_eq!(exit.exit_code, 3);
        // What systemd does not announce stays as read.
        assert_eq!(snapshot.memory_current, Some(4096));
    }

    #[test]
    fn a_state_property_without_its_value_or_an_unreadable_signal_asks_for_a_read() {
        let mut unit = running();
        let bare = change(UNIT_INTERFACE, &[], &["ActiveState"]);
        assert_eq!(unit.apply(&bare), Applied::NeedsRead);
        let garbled = Change::decoded(path(), None);
        assert_eq!(unit.apply(&garbled), Applied::NeedsRead);
        // Another type's interface changes nothing here.
        let timer = change(
            "org.freedesktop.systemd1.Timer",
            &[("Result", Value::from("x"))],
            &[],
        );
        assert_eq!(unit.apply(&timer), Applied::Current);
        assert_eq!(unit.snapshot().result, "success");
    }
}
