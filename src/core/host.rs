//! Facts about the host's service manager that a scheduler may want to know.

use std::path::Path;

use serde::Serialize;

use super::error::Result;
use super::systemd::Systemd;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the cgroup hierarchies are mounted; resource limits are enforced only on v2.
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
        let digits: String = self
            .systemd_version
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }
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
