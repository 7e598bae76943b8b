//! Resource limits as the kernel enforces them: memory, swap, CPU quota, processes, cpusets
//! and IO weight, on a real systemd over a pure cgroup v2 hierarchy.
//!
//! Enforcement needs cgroup v2 with its controllers delegated to systemd, which hybrid hosts
//! (and the sandbox `tools/test` boots on them) do not have. This file is built only with the
//! `cgroup-v2-tests` feature; `tools/test-cgroup-v2` runs it inside a throw-away VM whose PID 1
//! is systemd on cgroup v2. Every test first checks for cgroup v2 and fails, never passes,
//! without it.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use nomad_systemd::core::stats::CGROUP_ROOT;
use nomad_systemd::core::task::SwapLimit;
use nomad_systemd::core::{Engine, Signal, Stdio, TaskSpec, UnitName};
use support::*;

/// Fails the test unless this machine runs cgroup v2 with the controllers the limits need.
fn require_cgroup_v2() {
    let controllers = std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers"))
        .unwrap_or_else(|_| {
            panic!(
                "no cgroup v2 hierarchy at {CGROUP_ROOT}: these tests need one; run them with \
                 tools/test-cgroup-v2"
            )
        });
    for needed in ["cpu", "cpuset", "io", "memory", "pids"] {
        assert!(
            controllers.split_whitespace().any(|c| c == needed),
            "cgroup v2 controller '{needed}' is not available (have: {controllers})"
        );
    }
}

/// The cgroup v2 directory of a running task's unit, as systemd reports it.
fn cgroup_dir(unit: &UnitName) -> std::path::PathBuf {
    let out = std::process::Command::new("systemctl")
        .args(["show", "--property=ControlGroup", "--value", unit.as_str()])
        .output()
        .expect("systemctl runs");
    let cgroup = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!cgroup.is_empty(), "{unit} has no cgroup");
    Path::new(CGROUP_ROOT).join(cgroup.trim_start_matches('/'))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

async fn start(engine: &Engine, spec: &TaskSpec) -> UnitName {
    engine
        .start(spec, Stdio::Journal)
        .await
        .expect("task starts")
        .unit
}

#[tokio::test]
async fn a_task_past_memory_max_is_oom_killed_and_reported_so() {
    require_cgroup_v2();
    let engine = engine().await;
    let (mut spec, _root) = shell_task(
        "hog",
        "python3 -c 'import time; x = bytearray(256 << 20); time.sleep(30)'",
    );
    spec.resources.memory_mb = 64;
    let unit = start(&engine, &spec).await;
    let exit = tokio::time::timeout(Duration::from_secs(60), engine.wait(&unit))
        .await
        .expect("the OOM killer ends the task")
        .expect("wait");
    engine.destroy(&unit).await.expect("destroy");
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.signal, Signal::KILL.number(), "{exit:?}");
}

#[tokio::test]
async fn memory_and_swap_limits_land_in_the_cgroup() {
    require_cgroup_v2();
    let engine = engine().await;
    let (mut spec, _root) = shell_task("limits", "exec sleep 60");
    spec.resources.memory_mb = 64;
    spec.resources.memory_max = nomad_systemd::core::MemoryMax::Mb(128);
    let unit = start(&engine, &spec).await;
    let dir = cgroup_dir(&unit);
    let limits = (
        read(&dir, "memory.low"),
        read(&dir, "memory.max"),
        read(&dir, "memory.swap.max"),
        read(&dir, "memory.oom.group"),
    );
    engine.destroy(&unit).await.expect("destroy");
    assert_eq!(
        limits,
        (
            (64u64 << 20).to_string(),
            (128u64 << 20).to_string(),
            "0".to_string(),
            "1".to_string()
        )
    );

    let (mut spec, _root) = shell_task("swappy", "exec sleep 60");
    spec.resources.memory_mb = 64;
    spec.resources.swap = SwapLimit::Mb(32);
    let unit = start(&engine, &spec).await;
    let swap = read(&cgroup_dir(&unit), "memory.swap.max");
    engine.destroy(&unit).await.expect("destroy");
    assert_eq!(swap, (32u64 << 20).to_string());
}

#[tokio::test]
async fn a_cpu_hard_limit_throttles_a_busy_loop() {
    require_cgroup_v2();
    let engine = engine().await;
    let (mut spec, _root) = shell_task("spinner", "while :; do :; done");
    // 100 MHz on 1000 MHz cores: 100 ms of CPU per second.
    spec.resources.cpu_mhz = 100;
    spec.resources.core_mhz = 1000;
    spec.resources.cpu_hard_limit = true;
    let unit = start(&engine, &spec).await;
    let dir = cgroup_dir(&unit);
    let quota = read(&dir, "cpu.max");
    let t = Instant::now();
    let before = engine.stats(&unit).await.expect("stats");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = engine.stats(&unit).await.expect("stats");
    let elapsed = t.elapsed();
    engine.destroy(&unit).await.expect("destroy");

    assert_eq!(quota, "10000 100000");
    let used = after.cpu_total_ns.unwrap() - before.cpu_total_ns.unwrap();
    let share = used as f64 / elapsed.as_nanos() as f64;
    assert!(share < 0.2, "the loop got {:.0}% of a core", share * 100.0);
    let throttled = |s: &nomad_systemd::core::stats::TaskStats| {
        (
            s.cpu_throttled_periods.unwrap(),
            s.cpu_throttled_ns.unwrap(),
        )
    };
    let (periods_before, ns_before) = throttled(&before);
    let (periods_after, ns_after) = throttled(&after);
    assert!(periods_after > periods_before, "no throttled periods");
    assert!(ns_after > ns_before, "throttled time did not grow");
}

/// Forks 100 sleepers, counting the forks that worked and those the kernel refused.
const FORK_BOMB: &str = r#"
import os, time
made = refused = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    except OSError:
        refused += 1
open("/alloc/forks", "w").write(f"{made} {refused}")
time.sleep(60)
"#;

#[tokio::test]
async fn pids_limit_stops_a_fork_bomb() {
    require_cgroup_v2();
    let engine = engine().await;
    let (mut spec, _root) = shell_task("forks", &format!("exec python3 -c '{FORK_BOMB}'"));
    spec.resources.pids_limit = 16;
    let unit = start(&engine, &spec).await;
    let forks = wait_for_file(&alloc_dir(&spec).join("forks"), support::READY);
    let dir = cgroup_dir(&unit);
    let (max, current) = (read(&dir, "pids.max"), read(&dir, "pids.current"));
    engine.destroy(&unit).await.expect("destroy");
    let counts: Vec<u64> = forks
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(max, "16");
    // The python process itself is one of the 16.
    assert!(counts[0] <= 15 && counts[1] >= 85, "made, refused: {forks}");
    let current: u64 = current.parse().unwrap();
    assert!(current <= 16, "{current} processes");
}

#[tokio::test]
async fn reserved_cores_pin_the_task() {
    require_cgroup_v2();
    let engine = engine().await;
    let (mut spec, _root) = shell_task(
        "pinned",
        "grep Cpus_allowed_list /proc/self/status > /alloc/cpus; exec sleep 60",
    );
    spec.resources.cores = "1".into();
    let unit = start(&engine, &spec).await;
    let cpus = wait_for_file(&alloc_dir(&spec).join("cpus"), support::READY);
    let effective = read(&cgroup_dir(&unit), "cpuset.cpus.effective");
    engine.destroy(&unit).await.expect("destroy");
    assert_eq!(cpus.split_whitespace().last(), Some("1"), "{cpus}");
    assert_eq!(effective, "1");
}

#[tokio::test]
async fn io_weight_lands_in_the_cgroup() {
    require_cgroup_v2();
    let engine = engine().await;
    let (mut spec, _root) = shell_task("weighted", "exec sleep 60");
    spec.resources.io_weight = 500;
    let unit = start(&engine, &spec).await;
    let weight = read(&cgroup_dir(&unit), "io.weight");
    engine.destroy(&unit).await.expect("destroy");
    assert_eq!(weight, "default 500");
}

#[tokio::test]
async fn stats_on_cgroup_v2_measure_memory_peak_and_swap() {
    require_cgroup_v2();
    let engine = engine().await;
    let (spec, _root) = shell_task("measured", "exec sleep 60");
    let unit = start(&engine, &spec).await;
    let stats = engine.stats(&unit).await.expect("stats");
    engine.destroy(&unit).await.expect("destroy");
    assert!(stats.memory_usage.is_some() && stats.memory_rss.is_some());
    assert!(stats.memory_peak.is_some(), "{stats:?}");
    assert!(stats.memory_swap.is_some(), "{stats:?}");
    assert!(stats.cpu_user_ns.is_some() && stats.cpu_system_ns.is_some());
}

/// Nomad's view of an OOM kill: the plugin, driven over gRPC as Nomad drives it, reports it in
/// WaitTask's result.
#[tokio::test]
async fn waittask_reports_an_oom_kill_to_nomad() {
    use support::plugin::{Alloc, Plugin, driver_config};
    require_cgroup_v2();
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("hog");
    // Alloc's task config gives the task Nomad's `memory = 64`.
    let task = alloc.task_config(driver_config(
        "/usr/bin/python3",
        &[
            "-c",
            "import time; x = bytearray(256 << 20); time.sleep(30)",
        ],
    ));
    conn.start(task.clone()).await.expect("StartTask");
    let result = tokio::time::timeout(Duration::from_secs(60), conn.wait(&task.id))
        .await
        .expect("the OOM killer ends the task")
        .result
        .expect("an exit result");
    conn.destroy(&task.id).await;
    assert!(result.oom_killed, "{result:?}");
    assert_eq!(result.signal, Signal::KILL.number(), "{result:?}");
}
