//! The tasks the CLI sees: what `ps` lists and task names are looked up in
//! ([`super::resolve`]).
//!
//! Every task unit on the bus ([`Engine::list`]), whatever slice the plugin put it in, unless
//! the operator gave a slice (`--slice` or `NOMAD_SYSTEMD_SLICE`): then only the tasks in
//! that slice, directly or in their own task slice under it ([`UnitName::task_slice`]).

use crate::core::{Engine, Error, TaskStatus, TaskSummary, UnitName};

/// The task units seen, sorted by unit name. With a `slice`, each task's slice is read (one
/// call per task); tasks gone meanwhile are left out.
pub async fn tasks(engine: &Engine, slice: Option<&str>) -> Result<Vec<TaskSummary>, Error> {
    let tasks = engine.list().await?;
    let Some(slice) = slice else {
        return Ok(tasks);
    };
    let reads = tasks.iter().map(|t| engine.systemd().snapshot(&t.unit));
    let snapshots = futures_util::future::join_all(reads).await;
    let mut seen = Vec::new();
    for (task, snapshot) in tasks.into_iter().zip(snapshots) {
        match snapshot {
            Ok(s) if in_slice(&task.unit, &s.slice, slice) => seen.push(task),
            Ok(_) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(seen)
}

/// [`tasks`] with each task's full status (one read of each unit).
pub async fn statuses(engine: &Engine, slice: Option<&str>) -> Result<Vec<TaskStatus>, Error> {
    if slice.is_none() {
        return engine.list_status().await;
    }
    engine.statuses(&tasks(engine, slice).await?).await
}

/// Whether `unit`, running in `unit_slice`, is in `slice`: placed there directly, or in its
/// own task slice under it.
pub fn in_slice(unit: &UnitName, unit_slice: &str, slice: &str) -> bool {
    unit_slice == slice
        || unit
            .task_slice(slice)
            .is_ok_and(|own| own.as_str() == unit_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_in_the_slice_it_or_its_own_slice_is_in() {
        let unit = UnitName::parse("nomad-1a2b3c4d-web-0a1b2c3d.service").unwrap();
        let own = unit.task_slice("system-nomad.slice").unwrap();
        assert!(in_slice(&unit, own.as_str(), "system-nomad.slice"));
        assert!(in_slice(&unit, "system-nomad.slice", "system-nomad.slice"));
        assert!(!in_slice(&unit, own.as_str(), "system-other.slice"));
        assert!(!in_slice(&unit, "system.slice", "system-nomad.slice"));
    }
}
