//! Where Nomad's client and its exec driver define what happens to a task's CPUs and stats
//! stream, through the real plugin binary against the sandboxed systemd: shared tasks follow
//! Nomad's share partition as it changes, reserved ones keep their cores, and a stats stream
//! whose unit is gone ends with an error for Nomad's client to reopen.
//!
//! Nomad's partition is faked as the plugin finds it: a directory whose `cpuset.cpus.effective`
//! holds the cores, the parent of the task's `cpuset_cgroup` scope. The sandbox mounts hybrid
//! cgroups, so systemd's `AllowedCPUs` property is asserted, not the kernel's enforcement.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver as pb;
use support::plugin::{Alloc, Connection, Plugin, shell_config, task_unit};
use support::units::systemctl;
use tonic::Code;

/// How long a partition change may take to reach a running task: the plugin polls every
/// second; the rest is slack for a loaded machine.
const FOLLOW_BOUND: Duration = Duration::from_secs(5);

/// Nomad's cgroup v2 layout under a temporary root: `nomad.slice/{share,reserve}.slice`.
struct Partitions {
    root: tempfile::TempDir,
}

impl Partitions {
    fn new(share_cores: &str) -> Partitions {
        let root = tempfile::tempdir().expect("temp dir");
        for p in ["nomad.slice/share.slice", "nomad.slice/reserve.slice"] {
            std::fs::create_dir_all(root.path().join(p)).unwrap();
        }
        let partitions = Partitions { root };
        partitions.set_share(share_cores);
        partitions
    }

    fn share(&self) -> PathBuf {
        self.root.path().join("nomad.slice/share.slice")
    }

    /// What Nomad's client does when an allocation reserves or releases cores.
    fn set_share(&self, cores: &str) {
        std::fs::write(
            self.share().join("cpuset.cpus.effective"),
            format!("{cores}\n"),
        )
        .unwrap();
    }

    /// The `cpuset_cgroup` Nomad sends for `task`: its scope in the share partition, or in
    /// the reserve partition when it has `reserved` cores.
    fn task_cgroup(&self, task: &pb::TaskConfig, reserved: bool) -> String {
        let partition = if reserved {
            "reserve.slice"
        } else {
            "share.slice"
        };
        let scope = format!("{}.{}.scope", task.alloc_id, task.name);
        self.root
            .path()
            .join("nomad.slice")
            .join(partition)
            .join(scope)
            .display()
            .to_string()
    }
}

fn linux(task: &mut pb::TaskConfig) -> &mut pb::LinuxResources {
    task.resources
        .as_mut()
        .and_then(|r| r.linux_resources.as_mut())
        .expect("linux resources")
}

/// systemd's `AllowedCPUs` of `unit` and of the slice it runs in.
fn allowed_cpus(unit: &str) -> (String, String) {
    let slice = systemctl(&["show", "-P", "Slice", unit]);
    (
        systemctl(&["show", "-P", "AllowedCPUs", unit]),
        systemctl(&["show", "-P", "AllowedCPUs", &slice]),
    )
}

/// Waits until both the unit and its slice allow exactly `cores`; returns how long it took.
fn wait_for_cores(unit: &str, cores: &str) -> Duration {
    let started = Instant::now();
    loop {
        let now = allowed_cpus(unit);
        if now.0 == cores && now.1 == cores {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < FOLLOW_BOUND,
            "{unit} did not follow the partition to '{cores}' within {FOLLOW_BOUND:?}: unit and \
             slice allow {now:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts a `sleep` task; `reserved` cores go in `cpuset_cpus` as Nomad sends them.
async fn start_sleeper(
    conn: &mut Connection,
    alloc: &Alloc,
    partitions: &Partitions,
    reserved: Option<&str>,
) -> pb::TaskConfig {
    let mut task = alloc.task_config(shell_config("exec sleep 300", &[]));
    let cgroup = partitions.task_cgroup(&task, reserved.is_some());
    let linux = linux(&mut task);
    linux.cpuset_cgroup = cgroup;
    linux.cpuset_cpus = reserved.unwrap_or_default().to_string();
    conn.start(task.clone()).await.expect("StartTask");
    task
}

#[tokio::test]
async fn shared_tasks_follow_nomads_partition_and_reserved_ones_keep_their_cores() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let partitions = Partitions::new("1");
    let shared_alloc = Alloc::new("shared");
    let reserved_alloc = Alloc::new("reserved");
    let shared = start_sleeper(&mut conn, &shared_alloc, &partitions, None).await;
    let reserved = start_sleeper(&mut conn, &reserved_alloc, &partitions, Some("0")).await;
    let (shared_unit, reserved_unit) = (task_unit(&shared), task_unit(&reserved));
    assert_eq!(allowed_cpus(shared_unit.as_str()), ("1".into(), "1".into()));
    assert_eq!(
        allowed_cpus(reserved_unit.as_str()),
        ("0".into(), "0".into())
    );

    // The reserving allocation goes: Nomad gives core 0 back to the partition.
    partitions.set_share("0-1");
    let took = wait_for_cores(shared_unit.as_str(), "0-1");
    eprintln!("the shared task followed the partition in {took:?}");
    // Another allocation reserves core 1: the shared task leaves it.
    partitions.set_share("0");
    wait_for_cores(shared_unit.as_str(), "0");
    assert_eq!(
        allowed_cpus(reserved_unit.as_str()),
        ("0".into(), "0".into()),
        "a task with reserved cores keeps them"
    );
    // An unreadable partition (Nomad's client restarting) changes nothing.
    std::fs::remove_file(partitions.share().join("cpuset.cpus.effective")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(allowed_cpus(shared_unit.as_str()), ("0".into(), "0".into()));

    let shared_slice = systemctl(&["show", "-P", "Slice", shared_unit.as_str()]);
    conn.destroy(&shared.id).await;
    conn.destroy(&reserved.id).await;
    // The runtime change went with the transient unit and slice: no drop-in outlives them.
    for unit in [shared_unit.as_str(), shared_slice.as_str()] {
        for dir in ["/run/systemd/system.control", "/run/systemd/transient"] {
            let dropins = Path::new(dir).join(format!("{unit}.d"));
            assert!(!dropins.exists(), "{} was left behind", dropins.display());
        }
    }
}

#[tokio::test]
async fn a_shared_task_started_by_an_earlier_plugin_follows_after_recovery() {
    let partitions = Partitions::new("0");
    let alloc = Alloc::new("recovered");
    let mut plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    conn.set_config(Vec::new(), support::plugin::nomad_config())
        .await
        .expect("SetConfig");
    let mut task = alloc.task_config(shell_config("exec sleep 300", &[]));
    linux(&mut task).cpuset_cgroup = partitions.task_cgroup(&task, false);
    let handle = conn.start(task.clone()).await.expect("StartTask");
    let unit = task_unit(&task);
    plugin.kill_9();

    let (_plugin, mut conn) = Plugin::configured().await;
    conn.recover(&task.id, handle).await.expect("RecoverTask");
    partitions.set_share("1");
    wait_for_cores(unit.as_str(), "1");
    conn.destroy(&task.id).await;
}

#[tokio::test]
async fn a_stats_stream_whose_unit_is_gone_ends_with_an_error() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("vanish");
    let task = alloc.task_config(shell_config("exec sleep 300", &[]));
    let id = task.id.clone();
    conn.start(task.clone()).await.expect("StartTask");
    let request = pb::TaskStatsRequest {
        task_id: id.clone(),
        collection_interval: Some(prost_types::Duration {
            seconds: 0,
            nanos: 200_000_000,
        }),
    };
    let mut stream = conn
        .driver
        .task_stats(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().unwrap().stats.is_some());

    // Someone removes the unit behind the plugin's back.
    let unit = task_unit(&task);
    systemctl(&["stop", unit.as_str()]);
    systemctl(&["reset-failed", unit.as_str()]);

    // The stream ends with the error, as Nomad's client expects, instead of sampling on.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ended within 10 s");
    let status = ended.expect_err("the stream ends with an error status, not a clean end");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains(unit.as_str()), "{status:?}");

    // Nomad's client reopens the stream after its interval: that ends with the error at once.
    let reopened = tokio::time::timeout(Duration::from_secs(10), async {
        match conn.driver.task_stats(request).await {
            Err(status) => Err(status),
            Ok(s) => s.into_inner().message().await.map(|_| ()),
        }
    })
    .await
    .expect("the reopened stream answered within 10 s");
    assert_eq!(reopened.unwrap_err().code(), Code::NotFound);
    conn.destroy(&id).await;
}

#[tokio::test]
async fn a_start_retried_after_the_partition_changed_adopts_the_unit_and_moves_it() {
    let partitions = Partitions::new("0");
    let alloc = Alloc::new("retried");
    let mut task = alloc.task_config(shell_config("exec sleep 300", &[]));
    linux(&mut task).cpuset_cgroup = partitions.task_cgroup(&task, false);
    let unit = task_unit(&task);
    let mut first = Plugin::launch();
    let mut conn = first.connect().await;
    conn.set_config(Vec::new(), support::plugin::nomad_config())
        .await
        .expect("SetConfig");
    conn.start(task.clone()).await.expect("first StartTask");
    let pid = systemctl(&["show", "-P", "MainPID", unit.as_str()]);
    first.kill_9();

    // Another allocation reserved core 0 while Nomad brought up a new plugin; Nomad retries
    // the same StartTask. The partition is state, not the task's config: the running unit
    // is still this task, and is moved.
    partitions.set_share("1");
    let (_second, mut conn) = Plugin::configured().await;
    conn.start(task.clone()).await.expect("retried StartTask");
    assert_eq!(
        systemctl(&["show", "-P", "MainPID", unit.as_str()]),
        pid,
        "the running process was adopted"
    );
    wait_for_cores(unit.as_str(), "1");
    conn.destroy(&task.id).await;
}
