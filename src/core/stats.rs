//! Resource usage of a task: systemd's accounting first, the unit's cgroup for the rest.
//!
//! systemd's counters (`CPUUsageNSec`, `MemoryCurrent`, …) send no change signals and some are
//! missing on older versions (`MemoryPeak` before v255), and none splits CPU into user and
//! system time. So every sample reads the unit's properties and then fills the gaps from the
//! cgroup files systemd points at (`ControlGroup`), on cgroup v2 or v1.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

use serde::Serialize;

use super::systemd::UnitSnapshot;

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// More than any cgroup file read here holds.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// `USER_HZ`, the unit of cgroup v1's `cpuacct.stat`.
const USER_HZ: u64 = 100;

/// One sample. A `None` field was not measured; callers must not report it as 0.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskStats {
    /// Realtime ns when the sample was taken.
    pub timestamp_ns: u64,
    pub cpu_total_ns: Option<u64>,
    pub cpu_user_ns: Option<u64>,
    pub cpu_system_ns: Option<u64>,
    pub cpu_throttled_periods: Option<u64>,
    pub cpu_throttled_ns: Option<u64>,
    /// All memory charged to the unit.
    pub memory_usage: Option<u64>,
    /// Anonymous memory.
    pub memory_rss: Option<u64>,
    /// Page cache.
    pub memory_cache: Option<u64>,
    pub memory_swap: Option<u64>,
    pub memory_peak: Option<u64>,
    pub tasks: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
}

/// Builds a sample from a fresh snapshot of the unit.
pub fn collect(s: &UnitSnapshot) -> TaskStats {
    let mut stats = TaskStats {
        timestamp_ns: now_ns(),
        cpu_total_ns: s.cpu_ns,
        memory_usage: s.memory_current,
        memory_peak: s.memory_peak,
        tasks: s.tasks_current,
        io_read_bytes: s.io_read_bytes,
        io_write_bytes: s.io_write_bytes,
        ..TaskStats::default()
    };
    if !s.control_group.is_empty() {
        fill_from_cgroup(&mut stats, Path::new(CGROUP_ROOT), &s.control_group);
    }
    stats
}

/// Where one task's cgroup files are, found once and held open: a TaskStats stream samples
/// the same task every second, and resolving `/sys/fs/cgroup/…/nomad-….service/cpu.stat`
/// from the root each time was most of a sample's cost (the kernel's path walk through
/// cgroupfs, two thirds of the plugin's CPU with 1000 streams); a held directory resolves
/// one name.
#[derive(Debug, Clone)]
pub struct CgroupFiles {
    /// A full cgroup v2 directory.
    v2: Option<CgroupDir>,
    /// Hybrid hosts: the unified directory, whose cpu.stat counts CPU time.
    unified_cpu: Option<CgroupDir>,
    cpuacct: Option<CgroupDir>,
    memory: Option<CgroupDir>,
    /// Where `pids.current` is read: the v2 directory itself on a v2 host.
    pids: Option<CgroupDir>,
}

/// A cgroup directory held open (`O_PATH`: no read access is taken, nothing is listed). Its
/// files are opened relative to it; once the cgroup is removed they are gone and reads fail.
#[derive(Debug, Clone)]
struct CgroupDir(Arc<OwnedFd>);

impl CgroupDir {
    fn open(path: &Path) -> Option<CgroupDir> {
        let flags = nix::libc::O_PATH | nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
            .ok()?;
        Some(CgroupDir(Arc::new(dir.into())))
    }

    /// The whole of the file `name` in this directory.
    fn read(&self, name: &str) -> Option<String> {
        let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        let fd = openat(self.0.as_fd(), name, flags, Mode::empty()).ok()?;
        // Every file read here fits in a page or two (memory.stat is the longest). Read as a
        // plain stream: `File`'s own read_to_string asks for the size and position first,
        // two system calls that cgroupfs answers with nothing useful.
        let mut text = String::with_capacity(4096);
        Read::by_ref(&mut File::from(fd))
            .take(MAX_FILE_BYTES)
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    }
}

impl CgroupFiles {
    /// The directories of the cgroup at `cgroup` (a path as systemd reports it) under `root`,
    /// on a cgroup v2, hybrid or v1 host.
    pub fn locate(root: &Path, cgroup: &str) -> CgroupFiles {
        let rel = cgroup.trim_start_matches('/');
        if root.join("cgroup.controllers").exists() {
            let dir = CgroupDir::open(&root.join(rel));
            return CgroupFiles {
                pids: dir.clone(),
                v2: dir,
                unified_cpu: None,
                cpuacct: None,
                memory: None,
            };
        }
        CgroupFiles {
            v2: None,
            unified_cpu: CgroupDir::open(&root.join("unified").join(rel)),
            cpuacct: first_dir(root, &["cpuacct", "cpu,cpuacct"], rel),
            memory: first_dir(root, &["memory"], rel),
            pids: first_dir(root, &["pids"], rel),
        }
    }

    /// Stops reading the count of processes (`pids.current`).
    pub fn forget_task_count(&mut self) {
        self.pids = None;
    }

    /// A sample from the files alone; `None` when they are gone (the task has exited).
    pub fn sample(&self) -> Option<TaskStats> {
        let mut stats = TaskStats {
            timestamp_ns: now_ns(),
            ..TaskStats::default()
        };
        self.fill(&mut stats);
        (stats.cpu_total_ns.is_some() || stats.memory_usage.is_some()).then_some(stats)
    }

    /// Fills the fields still `None`. On a hybrid host the unified hierarchy comes first: its
    /// `cpu.stat` counts CPU time even where no controller is enabled in it.
    pub fn fill(&self, stats: &mut TaskStats) {
        if let Some(dir) = &self.pids {
            set(&mut stats.tasks, number(dir, "pids.current"));
        }
        if let Some(dir) = &self.v2 {
            fill_v2(stats, dir);
            return;
        }
        if let Some(dir) = &self.unified_cpu {
            fill_v2_cpu(stats, dir);
        }
        fill_v1(stats, self);
    }
}

/// How many processes the kernel's OOM killer has killed in the cgroup at `cgroup` under `root`
/// and below it (cgroup v2 `memory.events`, v1 `memory.oom_control`); `None` where no memory
/// controller counts it.
pub fn oom_kills(root: &Path, cgroup: &str) -> Option<u64> {
    let files = CgroupFiles::locate(root, cgroup);
    match (&files.v2, &files.memory) {
        (Some(dir), _) => read(dir, "memory.events").and_then(|t| keyed(&t, "oom_kill")),
        (None, Some(dir)) => read(dir, "memory.oom_control").and_then(|t| keyed(&t, "oom_kill")),
        (None, None) => None,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Fills the fields still `None` from the cgroup at `cgroup` under `root`.
pub fn fill_from_cgroup(stats: &mut TaskStats, root: &Path, cgroup: &str) {
    CgroupFiles::locate(root, cgroup).fill(stats);
}

fn fill_v2(stats: &mut TaskStats, dir: &CgroupDir) {
    fill_v2_cpu(stats, dir);
    let key = |text: &Option<String>, k: &str| text.as_deref().and_then(|t| keyed(t, k));
    let mem = read(dir, "memory.stat");
    set(&mut stats.memory_usage, number(dir, "memory.current"));
    set(&mut stats.memory_peak, number(dir, "memory.peak"));
    set(&mut stats.memory_rss, key(&mem, "anon"));
    set(&mut stats.memory_cache, key(&mem, "file"));
    set(&mut stats.memory_swap, number(dir, "memory.swap.current"));
}

fn fill_v2_cpu(stats: &mut TaskStats, dir: &CgroupDir) {
    let cpu = read(dir, "cpu.stat");
    let key = |k: &str| cpu.as_deref().and_then(|t| keyed(t, k));
    let usec = |k| key(k).map(|v| v.saturating_mul(1000));
    set(&mut stats.cpu_total_ns, usec("usage_usec"));
    set(&mut stats.cpu_user_ns, usec("user_usec"));
    set(&mut stats.cpu_system_ns, usec("system_usec"));
    set(&mut stats.cpu_throttled_periods, key("nr_throttled"));
    set(&mut stats.cpu_throttled_ns, usec("throttled_usec"));
}

fn fill_v1(stats: &mut TaskStats, dirs: &CgroupFiles) {
    // On a hybrid host the unified cpu.stat has already said all there is about CPU.
    let cpu_known = stats.cpu_total_ns.is_some() && stats.cpu_user_ns.is_some();
    if let Some(dir) = dirs.cpuacct.as_ref().filter(|_| !cpu_known) {
        set(&mut stats.cpu_total_ns, number(dir, "cpuacct.usage"));
        let ticks = read(dir, "cpuacct.stat");
        let ns = |k| {
            ticks
                .as_deref()
                .and_then(|t| keyed(t, k))
                .map(|v| v * 1_000_000_000 / USER_HZ)
        };
        set(&mut stats.cpu_user_ns, ns("user"));
        set(&mut stats.cpu_system_ns, ns("system"));
    }
    if let Some(dir) = &dirs.memory {
        let mem = read(dir, "memory.stat");
        let key = |k| mem.as_deref().and_then(|t| keyed(t, k));
        set(
            &mut stats.memory_usage,
            number(dir, "memory.usage_in_bytes"),
        );
        set(
            &mut stats.memory_peak,
            number(dir, "memory.max_usage_in_bytes"),
        );
        set(&mut stats.memory_rss, key("rss"));
        set(&mut stats.memory_cache, key("cache"));
        set(&mut stats.memory_swap, key("swap"));
    }
}

fn first_dir(root: &Path, hierarchies: &[&str], rel: &str) -> Option<CgroupDir> {
    hierarchies
        .iter()
        .find_map(|h| CgroupDir::open(&root.join(h).join(rel)))
}

fn set(field: &mut Option<u64>, value: Option<u64>) {
    if field.is_none() {
        *field = value;
    }
}

fn read(dir: &CgroupDir, file: &str) -> Option<String> {
    dir.read(file)
}

fn number(dir: &CgroupDir, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed cgroup file (`key value` per line).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn oom_kills_are_counted_on_v2_and_v1() {
        let v2 = tempfile::tempdir().unwrap();
        write(v2.path(), "cgroup.controllers", "memory\n");
        let slice = v2.path().join("x.slice");
        write(
            &slice,
            "memory.events",
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
        );
        assert_eq!(oom_kills(v2.path(), "/x.slice"), Some(1));
        assert_eq!(oom_kills(v2.path(), "/gone.slice"), None);
        let v1 = tempfile::tempdir().unwrap();
        let memory = v1.path().join("memory/x.slice");
        write(
            &memory,
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        assert_eq!(oom_kills(v1.path(), "/x.slice"), Some(2));
    }

    #[test]
    fn cgroup_v2_files_fill_missing_fields_only() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "cgroup.controllers", "cpu memory pids\n");
        let dir = root.path().join("system.slice/x.service");
        write(
            &dir,
            "cpu.stat",
            "usage_usec 300\nuser_usec 200\nsystem_usec 100\nnr_throttled 4\nthrottled_usec 5\n",
        );
        write(&dir, "memory.current", "4096\n");
        write(&dir, "memory.stat", "anon 1024\nfile 2048\n");
        write(&dir, "pids.current", "3\n");
        let mut stats = TaskStats {
            cpu_total_ns: Some(999),
            ..Default::default()
        };
        fill_from_cgroup(&mut stats, root.path(), "/system.slice/x.service");
        assert_eq!(stats.cpu_total_ns, Some(999));
        assert_eq!(
            (stats.cpu_user_ns, stats.cpu_system_ns),
            (Some(200_000), Some(100_000))
        );
        assert_eq!(
            (stats.cpu_throttled_periods, stats.cpu_throttled_ns),
            (Some(4), Some(5000))
        );
        assert_eq!(
            (stats.memory_usage, stats.memory_rss, stats.memory_cache),
            (Some(4096), Some(1024), Some(2048))
        );
        assert_eq!(stats.tasks, Some(3));
        assert_eq!(stats.memory_peak, None, "absent files stay unmeasured");

        let mut files = CgroupFiles::locate(root.path(), "/system.slice/x.service");
        files.forget_task_count();
        let sample = files.sample().expect("a sample from the held directory");
        assert_eq!((sample.memory_usage, sample.tasks), (Some(4096), None));
    }

    #[test]
    fn hybrid_hosts_read_cpu_from_the_unified_hierarchy_and_memory_from_v1() {
        let root = tempfile::tempdir().unwrap();
        let rel = "system.slice/x.service";
        write(
            &root.path().join("unified").join(rel),
            "cpu.stat",
            "usage_usec 7\nuser_usec 5\nsystem_usec 2\n",
        );
        write(
            &root.path().join("memory").join(rel),
            "memory.usage_in_bytes",
            "100\n",
        );
        let mut stats = TaskStats::default();
        fill_from_cgroup(&mut stats, root.path(), "/system.slice/x.service");
        assert_eq!(
            (stats.cpu_total_ns, stats.cpu_user_ns),
            (Some(7000), Some(5000))
        );
        assert_eq!(stats.memory_usage, Some(100));
    }

    #[test]
    fn cgroup_v1_hierarchies_are_read_per_controller() {
        let root = tempfile::tempdir().unwrap();
        let rel = "system.slice/x.service";
        write(
            &root.path().join("cpuacct").join(rel),
            "cpuacct.usage",
            "5000\n",
        );
        write(
            &root.path().join("cpuacct").join(rel),
            "cpuacct.stat",
            "user 3\nsystem 1\n",
        );
        write(
            &root.path().join("memory").join(rel),
            "memory.usage_in_bytes",
            "100\n",
        );
        write(
            &root.path().join("memory").join(rel),
            "memory.stat",
            "cache 10\nrss 20\nswap 0\n",
        );
        let mut stats = TaskStats::default();
        fill_from_cgroup(&mut stats, root.path(), "/system.slice/x.service");
        assert_eq!(stats.cpu_total_ns, Some(5000));
        assert_eq!(stats.cpu_user_ns, Some(30_000_000));
        assert_eq!(
            (stats.memory_usage, stats.memory_rss, stats.memory_cache),
            (Some(100), Some(20), Some(10))
        );
    }
}
