//! Facts about the host's service manager that a scheduler may want to know.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::Result;
use super::systemd::Systemd;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the cgroup hierarchies are mounted; resource limits are enforced only on v2.
///
/// On hybrid and v1 hosts every controller sits on a v1 hierarchy, so both enforce the same:
/// see [`crate::core::host_check`] for what that leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// The unified hierarchy only.
    V2,
    /// v1 controllers with the unified hierarchy beside them (systemd's "hybrid").
    Hybrid,
    /// v1 controllers only.
    V1,
}

impl CgroupMode {
    pub fn detect() -> CgroupMode {
        CgroupMode::detect_at(Path::new(CGROUP_ROOT))
    }

    fn detect_at(root: &Path) -> CgroupMode {
        if root.join("cgroup.controllers").exists() {
            CgroupMode::V2
        } else if root.join("unified/cgroup.controllers").exists() {
            CgroupMode::Hybrid
        } else {
            CgroupMode::V1
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CgroupMode::V2 => "v2",
            CgroupMode::Hybrid => "hybrid",
            CgroupMode::V1 => "v1",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    /// systemd's version string, e.g. `252.39-1~deb12u1`.
    pub systemd_version: String,
    pub cgroup: CgroupMode,
}

impl HostInfo {
    /// systemd's major version (`252`), if the version string starts with one.
    pub fn systemd_major(&self) -> Option<u32> {
        super::host_check::major_version(&self.systemd_version)
    }
}

/// The speed of one core in MHz, as the kernel reports it (the first `cpu MHz` of
/// `/proc/cpuinfo`); `None` where it does not. The CLI's stand-in for Nomad's topology.
pub fn core_mhz() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "cpu MHz")
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .filter(|mhz| *mhz >= 1.0)
        .map(|mhz| mhz.round() as u64)
}

/// The cores of Nomad's shared CPU partition, the ones no task has reserved, as a cpuset
/// list (`"0-3,6"`): [`partition_cpuset`] of [`shared_partition`]. `None` when Nomad manages
/// no cpusets there.
pub fn shared_cpuset(cpuset_cgroup: &Path) -> Option<String> {
    partition_cpuset(&shared_partition(cpuset_cgroup)?)
}

/// The directory of Nomad's shared CPU partition for a task without reserved cores.
/// `cpuset_cgroup` is Nomad's `LinuxResources.cpuset_cgroup`: the task's own scope in the
/// partition on cgroup v2 (`…/nomad.slice/share.slice/<alloc>.<task>.scope`), the partition
/// itself on v1. Nomad rewrites the partition's `cpuset.cpus` whenever an allocation reserves
/// or releases cores, so its tasks follow it for their whole life.
pub fn shared_partition(cpuset_cgroup: &Path) -> Option<PathBuf> {
    let is_task_scope = cpuset_cgroup
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".scope"));
    let partition = if is_task_scope {
        cpuset_cgroup.parent()?
    } else {
        cpuset_cgroup
    };
    Some(partition.to_path_buf())
}

/// The cores a partition directory holds now: its `cpuset.cpus.effective`, else its
/// `cpuset.cpus` (cgroup v1), trimmed; `None` when neither is there or both are empty.
pub fn partition_cpuset(partition: &Path) -> Option<String> {
    ["cpuset.cpus.effective", "cpuset.cpus"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(partition.join(f)).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

/// Asks the service manager for its version; an error means it does not answer.
pub async fn probe(systemd: &Systemd) -> Result<HostInfo> {
    Ok(HostInfo {
        systemd_version: systemd.version().await?,
        cgroup: CgroupMode::detect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_partition_is_the_parent_of_a_task_scope() {
        let root = tempfile::tempdir().unwrap();
        let share = root.path().join("nomad.slice/share.slice");
        let scope = share.join("a1.web.scope");
        std::fs::create_dir_all(&scope).unwrap();
        std::fs::write(share.join("cpuset.cpus.effective"), "0-1,3\n").unwrap();
        assert_eq!(shared_cpuset(&scope).as_deref(), Some("0-1,3"));
        assert_eq!(shared_cpuset(&share).as_deref(), Some("0-1,3"));
        assert_eq!(shared_partition(&scope).as_deref(), Some(share.as_path()));
        assert_eq!(shared_partition(&share).as_deref(), Some(share.as_path()));
        std::fs::remove_file(share.join("cpuset.cpus.effective")).unwrap();
        std::fs::write(share.join("cpuset.cpus"), "2\n").unwrap();
        assert_eq!(partition_cpuset(&share).as_deref(), Some("2"), "cgroup v1");
        std::fs::remove_file(share.join("cpuset.cpus")).unwrap();
        assert_eq!(shared_cpuset(&root.path().join("nowhere.scope")), None);
        std::fs::write(share.join("cpuset.cpus.effective"), "\n").unwrap();
        assert_eq!(shared_cpuset(&scope), None);
    }

    #[test]
    fn major_version_is_the_leading_number() {
        let info = |v: &str| HostInfo {
            systemd_version: v.into(),
            cgroup: CgroupMode::V2,
        };
        assert_eq!(info("252.39-1~deb12u1").systemd_major(), Some(252));
        assert_eq!(info("257").systemd_major(), Some(257));
        assert_eq!(info("v257").systemd_major(), None);
    }

    #[test]
    fn cgroup_mode_follows_the_mounted_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(CgroupMode::detect_at(dir.path()), CgroupMode::V1);
        std::fs::create_dir(dir.path().join("unified")).unwrap();
        std::fs::write(dir.path().join("unified/cgroup.controllers"), "").unwrap();
        assert_eq!(CgroupMode::detect_at(dir.path()), CgroupMode::Hybrid);
        std::fs::write(dir.path().join("cgroup.controllers"), "").unwrap();
        assert_eq!(CgroupMode::detect_at(dir.path()), CgroupMode::V2);
    }
}
