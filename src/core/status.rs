//! What `ps` and Nomad's InspectTask show about a task unit.

use serde::Serialize;

use super::exit::ExitResult;
use super::mapping::logging::{FIELD_ALLOC_ID, FIELD_JOB_NAME, FIELD_TASK_NAME};
use super::systemd::{ActiveState, UnitSnapshot};
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
