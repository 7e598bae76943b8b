//! Which units the CLI acts on: its own task units, recognised the way `ps` lists them.
//!
//! `stop` and `exec` change or enter what they are pointed at, and the unit name on the
//! command line can be any unit on the bus. So they act only on a unit that is one of ours:
//! described as a Nomad task ([`crate::core::description`]) and either a transient task unit
//! (`nomad-….service`) or an installed unit carrying this driver's drop-in. Anything else is
//! refused with a message saying so; `systemctl` is the tool for other units.

use crate::core::{Engine, Error, UnitName, description, host_unit};

/// `Ok` when `unit` is a task unit of this tool; [`Error::NotFound`] when no such unit is
/// loaded; otherwise an error naming the unit and why it is not one (about the name given,
/// not a task config).
pub async fn require(engine: &Engine, unit: &UnitName) -> Result<(), Error> {
    let snapshot = engine.systemd().snapshot(unit).await?;
    let described = description::parse(&snapshot.description).is_some();
    if described && named_ours(engine, unit) {
        return Ok(());
    }
    Err(Error::Unresolved(format!(
        "{unit} is not a nomad-systemd task (`nomad-systemd ps --all` lists them), and this \
         command acts only on its own tasks; use systemctl for other units"
    )))
}

/// The name half of the rule: a transient task unit, or an installed unit with our drop-in.
/// For units already described as tasks (`ps`'s listing).
pub fn named_ours(engine: &Engine, unit: &UnitName) -> bool {
    unit.is_task_unit()
        || host_unit::dropin_path(engine.systemd().bus(), unit).is_ok_and(|p| p.exists())
}
