//! What `ps` and Nomad's InspectTask show about a task unit.

use serde::Serialize;

use super::description::{Identity, Origin};
use super::exit::ExitResult;
use super::mapping::logging::{FIELD_ALLOC_ID, FIELD_JOB_NAME, FIELD_TASK_NAME};
use super::systemd::{ActiveState, ListedUnit, UnitSnapshot};
use super::unit_name::UnitName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Starting,
    Running,
    Stopping,
    Exited,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub unit: UnitName,
    pub task: String,
    pub alloc_id: String,
    pub job: String,
    pub state: TaskState,
    pub main_pid: u32,
    /// Realtime µs when the main process started; 0 if it never did.
    pub started_at_us: u64,
    /// Realtime µs when it exited; 0 while it runs.
    pub exited_at_us: u64,
    pub cpu_ns: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub exit: Option<ExitResult>,
}

impl TaskStatus {
    pub fn from_snapshot(unit: UnitName, s: &UnitSnapshot) -> TaskStatus {
        let exit = s.exit_result();
        let state = if exit.is_some() {
            TaskState::Exited
        } else {
            match s.active_state {
                Some(ActiveState::Activating) => TaskState::Starting,
                Some(ActiveState::Deactivating) => TaskState::Stopping,
                _ => TaskState::Running,
            }
        };
        let field = |k: &str| s.log_fields.get(k).cloned().unwrap_or_default();
        TaskStatus {
            unit,
            task: field(FIELD_TASK_NAME),
            alloc_id: field(FIELD_ALLOC_ID),
            job: field(FIELD_JOB_NAME),
            state,
            main_pid: s.main_pid,
            started_at_us: s.exec_main_start_us,
            exited_at_us: s.exec_main_exit_us,
            cpu_ns: s.cpu_ns,
            memory_bytes: s.memory_current,
            exit,
        }
    }
}

/// A task as systemd's unit listing shows it: who it is and its state, without its numbers.
#[derive(Debug, Clone, Serialize)]
pub struct TaskSummary {
    pub unit: UnitName,
    pub task: String,
    pub alloc_id: String,
    pub job: String,
    pub state: TaskState,
    /// Who started the task, as its description says.
    pub origin: Origin,
}

impl TaskSummary {
    /// A listed unit that is one of our tasks (its description says so), else `None`.
    pub fn from_listing(unit: ListedUnit, identity: Identity) -> TaskSummary {
        // Our units remain after their main process exits (RemainAfterExit): "active" with
        // sub-state "exited"; a failed or stopped unit has ended too.
        let state = match (&unit.active_state, unit.sub_state.as_str()) {
            (ActiveState::Active, "exited") => TaskState::Exited,
            (ActiveState::Failed | ActiveState::Inactive, _) => TaskState::Exited,
            (ActiveState::Activating, _) => TaskState::Starting,
            (ActiveState::Deactivating, _) => TaskState::Stopping,
            _ => TaskState::Running,
        };
        TaskSummary {
            unit: unit.name,
            task: identity.task,
            alloc_id: identity.alloc_id,
            job: identity.job,
            state,
            origin: identity.origin,
        }
    }
}
