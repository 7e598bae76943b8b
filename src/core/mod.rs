//! The core: Nomad-shaped tasks as systemd transient units.
//!
//! It knows systemd and nothing of its callers: the plugin and the CLI translate their inputs
//! into [`TaskSpec`]s and call the [`Engine`].

pub mod alloc_fs;
pub mod capability;
pub mod cpu_meter;
pub mod cty;
pub mod description;
pub mod driver_config;
pub mod dropin;
pub mod engine;
pub mod env_loader;
pub mod error;
pub mod exec;
pub mod exit;
pub mod host;
pub mod host_check;
pub mod host_probe;
pub mod host_unit;
pub mod inspect;
pub mod journal_follow;
pub mod log_output;
pub mod logs;
pub mod mapping;
pub mod pattern;
pub mod property;
pub mod readback;
pub mod sandbox;
pub mod signal;
pub mod standalone;
pub mod start_plan;
pub mod stats;
pub mod status;
pub mod stdio;
pub mod systemd;
pub mod task;
pub mod unit_env;
pub mod unit_name;
pub mod unit_policy;
pub mod workload_user;

pub use engine::{Engine, EngineOptions, Started};
pub use error::{Error, Result};
pub use exit::ExitResult;
pub use host::HostInfo;
pub use signal::Signal;
pub use status::{TaskState, TaskStatus, TaskSummary};
pub use stdio::{Output, Stdio};
pub use systemd::Bus;
pub use task::{MemoryMax, Resources, TaskDirs, TaskSpec};
pub use unit_name::UnitName;
