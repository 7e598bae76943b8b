//! The task model: what Nomad (or an operator) asks to run, in Nomad's own terms.
//!
//! A [`TaskSpec`] is plain data: it can be stored (the plugin keeps it in the task handle for
//! recovery) and it says nothing about systemd. [`crate::core::mapping`] turns it into unit
//! properties.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alloc_fs;
use super::description::Origin;
use super::error::Result;
use super::sandbox::Sandbox;
use super::signal::Signal;
use super::unit_name::UnitName;

/// Nomad's default `kill_timeout`.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// One run of a Nomad task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Nomad's task id, `<alloc_id>/<task_name>/<instance>`; new on every (re)start.
    pub id: String,
    /// The task's name in the job.
    pub name: String,
    pub alloc_id: String,
    pub job_name: String,
    pub group_name: String,
    /// The program to run: an absolute path, a path relative to the task's `local/` directory,
    /// or a bare name looked up in `local/` and then on `PATH`.
    pub command: String,
    pub args: Vec<String>,
    /// The complete environment of the task (Nomad's `NOMAD_*` variables included).
    pub env: BTreeMap<String, String>,
    /// The user to run as; `None` runs as the service manager's own user.
    pub user: Option<String>,
    pub group: Option<String>,
    /// Set when `user` and `group` are Nomad's dynamic workload user N (both `"N"`): the
    /// engine gives the id a user record first ([`super::workload_user::provide`]).
    #[serde(default)]
    pub workload_user: Option<u32>,
    /// Working directory as seen by the task; defaults to `/local` when the task has task
    /// directories, else systemd's default.
    pub working_dir: Option<PathBuf>,
    pub resources: Resources,
    /// Nomad's task directories on the host, bind-mounted at `/alloc`, `/local` and `/secrets`
    /// unless `dirs_at_host_paths`.
    pub dirs: Option<TaskDirs>,
    /// The task sees its directories at their host paths, unbound (Nomad's environment is
    /// pointed there): for a user service manager, which cannot create `/alloc`, `/local` and
    /// `/secrets` in the host's root to bind them on.
    #[serde(default)]
    pub dirs_at_host_paths: bool,
    /// A network namespace to join (Nomad's group network: `/var/run/netns/<alloc_id>`);
    /// `None` shares the host's network.
    #[serde(default)]
    pub network_namespace: Option<PathBuf>,
    /// How the task is fenced in; the default is a private /tmp and `NoNewPrivileges`.
    #[serde(default)]
    pub sandbox: Sandbox,
    /// A program the command is handed to (a WebAssembly runtime for a `.wasm` module): the
    /// unit runs `[runtime, command, args...]`.
    #[serde(default)]
    pub runtime: Option<String>,
    /// The signal a stop sends first.
    pub kill_signal: Signal,
    /// How long a stop waits after `kill_signal` before it sends SIGKILL.
    #[serde(with = "duration_ms")]
    pub kill_timeout: Duration,
    /// An installed unit to start instead of `command` (resolved: a template's instance, see
    /// [`crate::core::host_unit`]); `None` for a transient task.
    #[serde(default)]
    pub host_unit: Option<UnitName>,
    /// For an installed unit: patterns (see [`crate::core::pattern`]) of the job's variables
    /// it gets beyond Nomad's `NOMAD_*`; loader and shell variables never pass (see
    /// [`crate::core::unit_env`]). Unused for a transient task, which gets all of `env`.
    #[serde(default)]
    pub unit_env_allow: Vec<String>,
    /// Who starts the task; its unit's description says so ([`super::description`]).
    #[serde(default)]
    pub origin: Origin,
}

impl TaskSpec {
    /// The task's environment as its unit gets it: Nomad's, with the directory variables
    /// pointing at the host paths when the directories are not bound.
    pub fn unit_env(&self) -> std::borrow::Cow<'_, BTreeMap<String, String>> {
        match (&self.dirs, self.dirs_at_host_paths) {
            (Some(dirs), true) => {
                let mut env = self.env.clone();
                env.extend(dirs.host_env().map(|(k, v)| (k.to_string(), v)));
                std::borrow::Cow::Owned(env)
            }
            _ => std::borrow::Cow::Borrowed(&self.env),
        }
    }

    /// A digest of the whole resolved task, which its unit carries (see
    /// [`crate::core::mapping::logging::FIELD_TASK_CONFIG`]): a start retried with the same
    /// task id compares it to tell "this very task" from "another task under this id". Equal
    /// specs give equal digests in every process of one build. The cores are left out: a
    /// task without reserved cores gets those of Nomad's shared partition at the moment,
    /// which another allocation may change between a start and its retry.
    pub fn fingerprint(&self) -> String {
        let mut spec = self.clone();
        spec.resources.cores.clear();
        // Every map in a spec is ordered, so the encoding is deterministic.
        let encoded = serde_json::to_vec(&spec).unwrap_or_default();
        format!("{:016x}", super::unit_name::fnv1a(&encoded))
    }

    /// The unit this run of the task is started as.
    pub fn unit_name(&self) -> UnitName {
        if let Some(unit) = &self.host_unit {
            return unit.clone();
        }
        let instance = self.id.rsplit('/').next().unwrap_or_default();
        UnitName::for_task(&self.alloc_id, &self.name, instance)
    }
}

/// What Nomad allots to the task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in MHz, Nomad's `resources.cpu` (its `cpu_shares`); 0 leaves CPU weight alone.
    pub cpu_mhz: u64,
    /// Reserved cores as a cpuset list (`"0-2,5"`), Nomad's `cpuset_cpus`; empty for none.
    pub cores: String,
    /// Nomad's `resources.memory` in MiB; 0 sets no memory limits.
    pub memory_mb: u64,
    /// Nomad's `resources.memory_max`.
    pub memory_max: MemoryMax,
    /// The kernel's OOM-killer bias for the task, -1000 (never) to 1000 (first); 0 leaves the
    /// default.
    #[serde(default)]
    pub oom_score_adjust: i32,
    /// Swap the task may use on top of its memory; none unless the job allows it.
    #[serde(default)]
    pub swap: SwapLimit,
    /// Caps CPU time at `cpu_mhz` worth of cores instead of only weighting it (the name Nomad's
    /// docker driver uses).
    #[serde(default)]
    pub cpu_hard_limit: bool,
    /// MHz of one core of this node (Nomad's topology); what `cpu_hard_limit` divides by. 0 when
    /// unknown.
    #[serde(default)]
    pub core_mhz: u64,
    /// Most processes and threads the task may have at once; 0 for systemd's default.
    #[serde(default)]
    pub pids_limit: u64,
    /// Relative IO weight, 1 to 10000 (100 is everyone's default); 0 leaves it alone.
    #[serde(default)]
    pub io_weight: u64,
    /// Read bandwidth caps, bytes per second per block device.
    #[serde(default)]
    pub io_read_bandwidth: Vec<DeviceLimit>,
    /// Write bandwidth caps, bytes per second per block device.
    #[serde(default)]
    pub io_write_bandwidth: Vec<DeviceLimit>,
}

/// A limit for one block device, named by its path (`/dev/sda`) or a file system path on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLimit {
    pub device: String,
    pub bytes_per_second: u64,
}

/// The job's `memory_swap`: how much swap the task may use beyond its memory limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SwapLimit {
    /// No swap at all: a task past its memory limit is OOM-killed, not slowed to a crawl.
    #[default]
    None,
    /// Up to this many MiB of swap.
    Mb(u64),
    /// `-1`: as much swap as the host has.
    Unlimited,
}

impl SwapLimit {
    /// The job's encoding: 0 none, -1 unlimited, else MiB. Other negatives are invalid.
    pub fn from_mb(mb: i64) -> Option<SwapLimit> {
        match mb {
            0 => Some(SwapLimit::None),
            -1 => Some(SwapLimit::Unlimited),
            n if n > 0 => Some(SwapLimit::Mb(n as u64)),
            _ => None,
        }
    }
}

/// Nomad's `memory_max`: the hard limit when a task may use more than its reservation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryMax {
    /// Not set: `memory` is the hard limit.
    #[default]
    Unset,
    /// A hard limit in MiB above the reservation.
    Mb(u64),
    /// `-1`: no hard limit at all.
    Unlimited,
}

impl MemoryMax {
    /// Nomad's encoding: 0 unset, -1 unlimited, else MiB. Other negatives are invalid.
    pub fn from_nomad(mb: i64) -> Option<MemoryMax> {
        match mb {
            0 => Some(MemoryMax::Unset),
            -1 => Some(MemoryMax::Unlimited),
            n if n > 0 => Some(MemoryMax::Mb(n as u64)),
            _ => None,
        }
    }
}

/// Nomad's directories for one task, as host paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDirs {
    /// The allocation's shared directory, `<alloc_dir>/alloc`.
    pub alloc: PathBuf,
    /// The task's `local/` directory.
    pub local: PathBuf,
    /// The task's `secrets/` directory.
    pub secrets: PathBuf,
}

impl TaskDirs {
    /// Nomad's directory variables pointing at the host paths, for a task that does not get
    /// the binds.
    pub fn host_env(&self) -> [(&'static str, String); 3] {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        [
            ("NOMAD_ALLOC_DIR", path(&self.alloc)),
            ("NOMAD_TASK_DIR", path(&self.local)),
            ("NOMAD_SECRETS_DIR", path(&self.secrets)),
        ]
    }

    /// Nomad's layout under an allocation directory (`<data_dir>/alloc/<alloc_id>`). The
    /// task's name must be one path component (see [`alloc_fs::component`]): an absolute
    /// name or `..` would put the task's directories in another allocation's.
    pub fn nomad_layout(alloc_dir: &Path, task_name: &str) -> Result<TaskDirs> {
        let task_dir = alloc_dir.join(alloc_fs::component("name", task_name)?);
        Ok(TaskDirs {
            alloc: alloc_dir.join("alloc"),
            local: task_dir.join("local"),
            secrets: task_dir.join("secrets"),
        })
    }

    /// The allocation directory the task's directories are in (Nomad's, trusted; everything
    /// below it is the job's, see [`alloc_fs`]).
    pub fn alloc_dir(&self) -> &Path {
        self.alloc.parent().unwrap_or(&self.alloc)
    }

    /// The task's own directory, `<alloc_dir>/<task>`.
    pub fn task_dir(&self) -> &Path {
        self.local.parent().unwrap_or(&self.local)
    }
}

/// Where the task directories appear inside the unit.
pub mod mount_points {
    pub const ALLOC: &str = "/alloc";
    pub const LOCAL: &str = "/local";
    pub const SECRETS: &str = "/secrets";
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().try_into().unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
