//! Looks at this host for everything [`crate::core::host_check`] judges: the service manager on
//! a bus, the cgroup hierarchy and controllers, the bus daemon, polkit, the user manager,
//! nss-systemd and Nomad's CPU partitions. Reads files and asks the bus; changes nothing.

use std::path::{Path, PathBuf};

use nix::unistd::{Uid, User};

use super::error::Error;
use super::host::{self, CgroupMode};
use super::host_check::{Controllers, HostFacts, NssSystemd, Partition, UserManager};
use super::systemd::{Bus, Systemd};
use super::unit_name::UnitName;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const NSSWITCH: &str = "/etc/nsswitch.conf";
const POLKIT: &str = "org.freedesktop.PolicyKit1";
/// Where `loginctl enable-linger` leaves its mark, one file per user.
const LINGER_DIR: &str = "/var/lib/systemd/linger";
/// Where the dynamic loader finds NSS modules, across distributions' layouts.
const LIBRARY_DIRS: [&str; 4] = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];
const NSS_LIBRARY: &str = "libnss_systemd.so.2";

/// Everything there is to see for tasks on `bus` placed in `slice`. What cannot be seen stays
/// `None` (an unreachable manager is itself a fact); the only error is a `slice` that is not a
/// slice unit's name ([`Error::InvalidConfig`]).
pub async fn examine(bus: Bus, slice: &str) -> Result<HostFacts, Error> {
    if !slice.ends_with(".slice") || UnitName::parse(slice).is_err() {
        return Err(Error::invalid(
            "slice",
            format!("'{slice}' is not a slice unit name"),
        ));
    }
    let uid = Uid::effective();
    let cgroup = CgroupMode::detect();
    let mut facts = HostFacts {
        bus,
        cgroup: Some(cgroup),
        uid: Some(uid.as_raw()),
        partitions: partitions(Path::new(CGROUP_ROOT), cgroup),
        ..HostFacts::default()
    };
    let user = User::from_uid(uid).ok().flatten().map(|u| u.name);
    let mut manager_cgroup = None;
    match Systemd::connect(bus).await {
        Ok(systemd) => {
            match systemd.version().await {
                Ok(v) => facts.systemd_version = Some(v),
                Err(e) => facts.unreachable = Some(reason(e)),
            }
            manager_cgroup = systemd.manager_cgroup().await.ok();
            facts.bus_daemon = match systemd.bus_daemon_pid().await {
                Some(pid) => process_name(pid),
                None => None,
            };
            if bus == Bus::System {
                facts.polkit = systemd.name_available(POLKIT).await;
            }
        }
        Err(e) => facts.unreachable = Some(reason(e)),
    }
    if facts.systemd_version.is_some() {
        facts.controllers = Some(controllers(
            Path::new(CGROUP_ROOT),
            cgroup,
            manager_cgroup.as_deref().unwrap_or_default(),
            slice,
        ));
    }
    match bus {
        Bus::System => facts.nss_systemd = Some(nss_systemd()),
        Bus::User => {
            let runtime_dir = std::env::var("XDG_RUNTIME_DIR").ok();
            facts.user_manager = Some(UserManager {
                runtime_dir_exists: runtime_dir
                    .as_deref()
                    .is_some_and(|d| Path::new(d).is_dir()),
                runtime_dir,
                cgroup: manager_cgroup,
                lingering: user
                    .as_deref()
                    .map(|u| Path::new(LINGER_DIR).join(u).exists()),
                user,
            });
        }
    }
    Ok(facts)
}

/// Why a manager did not answer, without the bus (which the finding names itself).
fn reason(e: Error) -> String {
    match e {
        Error::Unreachable { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// The program a process runs, from `/proc/PID/comm`.
fn process_name(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim().to_string()).filter(|c| !c.is_empty())
}

/// A slice's cgroup path relative to its manager's, as systemd nests slices by the dashes of
/// their names: `system-nomad.slice` is `system.slice/system-nomad.slice`, `-.slice` the root.
pub fn slice_path(slice: &str) -> PathBuf {
    let stem = slice.strip_suffix(".slice").unwrap_or(slice);
    let mut path = PathBuf::new();
    if stem == "-" || stem.is_empty() {
        return path;
    }
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    path
}

/// The controllers the manager whose cgroup is `manager_cgroup` can give the task slice, and
/// those its children have now, under the cgroup mount `root`.
fn controllers(root: &Path, mode: CgroupMode, manager_cgroup: &str, slice: &str) -> Controllers {
    let manager = root.join(manager_cgroup.trim_start_matches('/'));
    let rel = Path::new(manager_cgroup.trim_start_matches('/')).join(slice_path(slice));
    let slice_cgroup = format!("/{}", rel.display());
    if mode == CgroupMode::V2 {
        let words = |file: PathBuf| {
            std::fs::read_to_string(file)
                .ok()
                .map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>())
        };
        return Controllers {
            available: words(manager.join("cgroup.controllers")).unwrap_or_default(),
            enabled: words(root.join(&rel).join("cgroup.subtree_control")),
            slice_cgroup,
        };
    }
    let available = std::fs::read_to_string("/proc/cgroups")
        .map(|s| v1_enabled(&s))
        .unwrap_or_default();
    let mut enabled = Vec::new();
    let hierarchies = std::fs::read_dir(root).into_iter().flatten().flatten();
    for dir in hierarchies {
        let name = dir.file_name().to_string_lossy().into_owned();
        if name == "unified" || name == "systemd" || !dir.path().join(&rel).is_dir() {
            continue;
        }
        enabled.extend(
            name.split(',')
                .filter(|c| available.iter().any(|a| a == c))
                .map(String::from),
        );
    }
    enabled.sort();
    enabled.dedup();
    Controllers {
        slice_cgroup,
        available,
        enabled: (!enabled.is_empty()).then_some(enabled),
    }
}

/// The v1 controllers `/proc/cgroups` lists as enabled and mounted (hierarchy not 0).
fn v1_enabled(proc_cgroups: &str) -> Vec<String> {
    proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[1] != "0" && f[3] == "1").then(|| f[0].to_string())
        })
        .collect()
}

/// Whether NSS would ask nss-systemd for users and groups.
fn nss_systemd() -> NssSystemd {
    let conf = std::fs::read_to_string(NSSWITCH).unwrap_or_default();
    NssSystemd {
        passwd: nss_source(&conf, "passwd", "systemd"),
        group: nss_source(&conf, "group", "systemd"),
        library: nss_library_installed(),
    }
}

/// Whether `source` is one of the sources of `database` in an nsswitch.conf (actions such as
/// `[NOTFOUND=return]` and comments are skipped).
fn nss_source(conf: &str, database: &str, source: &str) -> bool {
    conf.lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .filter_map(|l| l.split_once(':'))
        .filter(|(db, _)| db.trim() == database)
        .any(|(_, sources)| {
            sources
                .split_whitespace()
                .filter(|w| !w.starts_with('['))
                .any(|w| w == source)
        })
}

/// Whether `libnss_systemd.so.2` is in a library directory or a multiarch one below it
/// (`/usr/lib/x86_64-linux-gnu`).
fn nss_library_installed() -> bool {
    LIBRARY_DIRS.iter().any(|dir| {
        let dir = Path::new(dir);
        dir.join(NSS_LIBRARY).exists()
            || std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("-linux-"))
                .any(|e| e.path().join(NSS_LIBRARY).exists())
    })
}

/// Nomad's share and reserve partitions at its default cgroup parent: `nomad.slice/*.slice`
/// on cgroup v2, `cpuset/nomad/*` on v1 and hybrid (which Nomad treats as v1).
fn partitions(root: &Path, mode: CgroupMode) -> Vec<Partition> {
    let (parent, share, reserve) = match mode {
        CgroupMode::V2 => (root.join("nomad.slice"), "share.slice", "reserve.slice"),
        CgroupMode::Hybrid | CgroupMode::V1 => (root.join("cpuset/nomad"), "share", "reserve"),
    };
    [("share", share), ("reserve", reserve)]
        .into_iter()
        .map(|(name, dir)| {
            let path = parent.join(dir);
            Partition {
                name,
                exists: path.is_dir(),
                cpus: host::partition_cpuset(&path),
                path: path.display().to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_nest_by_their_dashes() {
        assert_eq!(
            slice_path("system-nomad.slice"),
            Path::new("system.slice/system-nomad.slice")
        );
        assert_eq!(
            slice_path("app-nomad.slice"),
            Path::new("app.slice/app-nomad.slice")
        );
        assert_eq!(slice_path("top.slice"), Path::new("top.slice"));
        assert_eq!(slice_path("-.slice"), Path::new(""));
    }

    #[test]
    fn nsswitch_sources_are_read_per_database() {
        let conf = "# comment systemd\npasswd:  files systemd\ngroup: files [SUCCESS=merge] \
                    sss\nshadow: files systemd\n";
        assert!(nss_source(conf, "passwd", "systemd"));
        assert!(!nss_source(conf, "group", "systemd"));
        assert!(!nss_source(
            "passwd: files # systemd\n",
            "passwd",
            "systemd"
        ));
    }

    #[test]
    fn v1_controllers_are_those_mounted_and_enabled() {
        let proc = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\n\
                    cpu\t4\t90\t1\nmemory\t0\t1\t1\npids\t5\t80\t0\n";
        assert_eq!(v1_enabled(proc), ["cpuset", "cpu"]);
    }

    #[test]
    fn v2_controllers_come_from_the_manager_and_the_slice() {
        let root = tempfile::tempdir().unwrap();
        let manager = root
            .path()
            .join("user.slice/user-1000.slice/user@1000.service");
        let slice = manager.join("app.slice/app-nomad.slice");
        std::fs::create_dir_all(&slice).unwrap();
        std::fs::write(manager.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(slice.join("cgroup.subtree_control"), "memory\n").unwrap();
        let c = controllers(
            root.path(),
            CgroupMode::V2,
            "/user.slice/user-1000.slice/user@1000.service",
            "app-nomad.slice",
        );
        assert_eq!(c.available, ["cpu", "memory", "pids"]);
        assert_eq!(c.enabled, Some(vec!["memory".to_string()]));
        assert_eq!(
            c.slice_cgroup,
            "/user.slice/user-1000.slice/user@1000.service/app.slice/app-nomad.slice"
        );
        let fresh = controllers(root.path(), CgroupMode::V2, "", "system-nomad.slice");
        assert_eq!(fresh.enabled, None);
        assert_eq!(fresh.slice_cgroup, "/system.slice/system-nomad.slice");
    }

    #[test]
    fn partitions_follow_nomads_layout_per_mode() {
        let root = tempfile::tempdir().unwrap();
        let share = root.path().join("nomad.slice/share.slice");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join("cpuset.cpus.effective"), "0-3\n").unwrap();
        let p = partitions(root.path(), CgroupMode::V2);
        assert_eq!((p[0].name, p[0].exists), ("share", true));
        assert_eq!(p[0].cpus.as_deref(), Some("0-3"));
        assert_eq!((p[1].name, p[1].exists), ("reserve", false));
        let v1 = partitions(root.path(), CgroupMode::Hybrid);
        assert!(v1[0].path.ends_with("cpuset/nomad/share"), "{}", v1[0].path);
    }
}
