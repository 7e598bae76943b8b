//! What the plugin stores in Nomad's task handle (`driver_state`) to find a task again.
//!
//! Nomad keeps these bytes unchanged for the task's life and hands them back in RecoverTask,
//! after a plugin crash or an agent restart — when the job's driver config is no longer sent.
//! So they hold everything recovery needs: the unit, when it started and the resolved task.
//! The encoding is JSON, versioned by the handle's `version`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::driver_config::LogDriver;
use crate::core::{TaskSpec, UnitName};

/// The handle version this plugin writes and reads. Nomad reserves 0.
pub const VERSION: i32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverState {
    pub unit: UnitName,
    /// Realtime µs when StartTask succeeded.
    pub started_at_us: u64,
    pub logging: LogDriver,
    /// Nomad's log collection was off (`disable_log_collection`) when the task started: no
    /// journal follower runs for it, whatever `logging` and an installed unit would imply.
    #[serde(default)]
    pub log_collection_disabled: bool,
    pub spec: TaskSpec,
    /// Nomad's shared CPU partition, for a task without reserved cores: the plugin keeps the
    /// task's cores equal to the partition's as Nomad changes it (see
    /// [`super::partition`]). Absent from handles written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_partition: Option<PathBuf>,
}

impl DriverState {
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain owned data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a handle this plugin wrote. Errors say why it cannot be used.
    pub fn decode(version: i32, bytes: &[u8]) -> Result<DriverState, String> {
        if version != VERSION {
            return Err(format!(
                "task handle version {version} is not one this plugin wrote (it writes {VERSION})"
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("task handle is unreadable: {e}"))
    }
}
