//! Tasks as the listing reports them, for the tests of what works on that list (resolution,
//! selection, completion); no systemd involved.

use crate::core::description::Origin;
use crate::core::{TaskState, TaskSummary, UnitName};

/// A running task `name` of `job` in allocation `alloc`, started by `origin`.
pub fn task(alloc: &str, job: &str, name: &str, origin: Origin) -> TaskSummary {
    TaskSummary {
        unit: UnitName::for_task(alloc, name, "0a1b2c3d"),
        task: name.into(),
        alloc_id: alloc.into(),
        job: job.into(),
        state: TaskState::Running,
        origin,
    }
}

/// [`task`], started by hand.
pub fn by_hand(alloc: &str, job: &str, name: &str) -> TaskSummary {
    task(alloc, job, name, Origin::Cli)
}
