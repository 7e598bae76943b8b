//! Benchmarks of the plugin and the CLI, each against a baseline measured in the same run on
//! the same systemd. Needs systemd as PID 1 and root: `bench/run` boots the sandbox and runs
//! this with `cargo bench --bench plugin`. Arguments pick sections (`start`, `rss`, `stats`,
//! `ps`, `recover` of the node of 1000 tasks, and `fifo`); none runs them all.

// The test harness: launching the plugin as Nomad does. Benchmarks use part of it.
#[allow(dead_code)]
#[path = "../tests/support/plugin.rs"]
mod plugin;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver as pb;
use plugin::{Alloc, Plugin, driver_config};

/// The node: this many tasks running at once through one plugin.
const TASKS: usize = 1000;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "{} · cgroup {} · {} cores · {}",
        systemd_version(),
        cgroup_mode(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    );
    runtime.block_on(run());
}

async fn run() {
    let picked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |section: &str| picked.is_empty() || picked.iter().any(|p| p == section);
    let node_wanted = ["start", "rss", "stats", "ps", "recover"]
        .iter()
        .any(|s| want(s));
    if node_wanted {
        node(&want).await;
    }
    if want("fifo") {
        let (plugin, mut conn) = Plugin::configured().await;
        fifo_throughput(&plugin, &mut conn).await;
    }
}

/// A node of [`TASKS`] tasks: the start burst against PID 1's ceiling, the plugin's memory
/// with a WaitTask open for each, TaskStats for all, `ps` against `systemctl list-units`, and
/// recovery of every handle after a `kill -9` of the plugin.
async fn node(want: &impl Fn(&str) -> bool) {
    let (mut plugin, mut conn) = Plugin::configured().await;
    let idle_kib = plugin.rss_kib();
    let parent = std::env::temp_dir();
    let allocs: Vec<Alloc> = (0..TASKS)
        .map(|i| Alloc::without_logs(&format!("n{i}"), &parent))
        .collect();
    let configs: Vec<pb::TaskConfig> = allocs
        .iter()
        .map(|a| pb::TaskConfig {
            stdout_path: "/dev/null".into(),
            stderr_path: "/dev/null".into(),
            ..a.task_config(driver_config("/bin/sleep", &["3600"]))
        })
        .collect();

    // All StartTask calls at once on one connection, as a Nomad client sends them when it
    // gets a node's worth of allocations.
    let pid1_before = cpu_ticks(1);
    let ours_before = cpu_ticks(plugin.pid());
    let started = Instant::now();
    let starts = configs.iter().map(|task| {
        let mut c = conn.driver.clone();
        let task = task.clone();
        async move {
            c.start_task(pb::StartTaskRequest { task: Some(task) })
                .await
                .map(|r| r.into_inner().handle.expect("a handle"))
        }
    });
    let handles: Vec<pb::TaskHandle> = futures_util::future::join_all(starts)
        .await
        .into_iter()
        .map(|h| h.expect("StartTask"))
        .collect();
    let burst = started.elapsed().as_secs_f64();
    let pid1_s = (cpu_ticks(1) - pid1_before) as f64 / ticks_per_second();
    let rate = TASKS as f64 / burst;
    // PID 1 is one thread: its ceiling is one start per (its CPU time per start).
    let ceiling = TASKS as f64 / pid1_s;
    if want("start") {
        println!(
            "start burst of {TASKS}: {burst:.1} s, {rate:.0} tasks/s; PID 1 {:.2} ms of CPU a \
             start, a ceiling of {ceiling:.0} starts/s; the burst ran at {:.0} % of that \
             ceiling; the plugin used {:.1} s of CPU",
            pid1_s * 1000.0 / TASKS as f64,
            rate / ceiling * 100.0,
            (cpu_ticks(plugin.pid()) - ours_before) as f64 / ticks_per_second(),
        );
    }

    let after_burst_kib = plugin.rss_kib();
    // Nomad keeps a WaitTask open per task.
    let waits = wait_all(&conn, &configs);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy_kib = plugin.rss_kib();
    let per_task = busy_kib.saturating_sub(idle_kib) as f64 / TASKS as f64;
    if want("rss") {
        println!(
            "plugin RSS: idle {:.1} MiB; after the burst {:.1} MiB; with {TASKS} tasks and a \
             WaitTask each {:.1} MiB (target ≤ 48 MiB) {}, {per_task:.1} KiB a task (target \
             ≤ 40 KiB) {}; {} threads",
            idle_kib as f64 / 1024.0,
            after_burst_kib as f64 / 1024.0,
            busy_kib as f64 / 1024.0,
            verdict(busy_kib <= 48 * 1024),
            verdict(per_task <= 40.0),
            plugin.threads(),
        );
    }
    if want("stats") {
        task_stats_cpu(&conn, &configs, plugin.pid()).await;
    }
    if want("ps") {
        ps_against_systemctl();
    }
    if want("recover") {
        for wait in waits {
            wait.abort();
        }
        plugin.kill_9();
        let (recovered, again, took) = recover_all(&configs, &handles).await;
        println!(
            "kill -9 of the plugin with {TASKS} tasks: a new plugin launched, configured, every \
             handle recovered and every task answering InspectTask in {took:.2} s (target ≤ \
             3 s) {}; its RSS then {:.1} MiB",
            verdict(took <= 3.0),
            recovered.rss_kib() as f64 / 1024.0,
        );
        (plugin, conn) = (recovered, again);
        // The WaitTasks sent to the new plugin answer: each returns its task's end.
        let waits = wait_all(&conn, &configs);
        destroy_all(&conn, &configs).await;
        let mut answered = 0;
        for wait in waits {
            let response = tokio::time::timeout(Duration::from_secs(60), wait)
                .await
                .expect("WaitTask answers once its task is destroyed")
                .expect("the WaitTask call")
                .expect("WaitTask");
            if response.result.is_some() {
                answered += 1;
            }
        }
        println!(
            "  after recovery: {answered} of {TASKS} WaitTask answered with their task's exit"
        );
        assert_eq!(answered, TASKS, "every recovered task's WaitTask answers");
    } else {
        destroy_all(&conn, &configs).await;
        for wait in waits {
            wait.abort();
        }
    }
    drop(plugin);
}

type WaitCall = tokio::task::JoinHandle<Result<pb::WaitTaskResponse, tonic::Status>>;

/// A WaitTask for every task, each in flight on the shared connection.
fn wait_all(conn: &plugin::Connection, configs: &[pb::TaskConfig]) -> Vec<WaitCall> {
    configs
        .iter()
        .map(|task| {
            let mut c = conn.driver.clone();
            let id = task.id.clone();
            tokio::spawn(async move {
                c.wait_task(pb::WaitTaskRequest { task_id: id })
                    .await
                    .map(tonic::Response::into_inner)
            })
        })
        .collect()
}

/// DestroyTask (forced) of every task, all at once.
async fn destroy_all(conn: &plugin::Connection, configs: &[pb::TaskConfig]) {
    let destroys = configs.iter().map(|task| {
        let mut c = conn.driver.clone();
        let id = task.id.clone();
        async move {
            c.destroy_task(pb::DestroyTaskRequest {
                task_id: id,
                force: true,
            })
            .await
        }
    });
    for outcome in futures_util::future::join_all(destroys).await {
        outcome.expect("DestroyTask");
    }
}

/// What Nomad's client does after its plugin died: launches a new one, configures it,
/// RecoverTask for every handle it kept, then WaitTask and InspectTask. Returns the plugin,
/// its connection and the seconds from launch until every task answered InspectTask as
/// running.
async fn recover_all(
    configs: &[pb::TaskConfig],
    handles: &[pb::TaskHandle],
) -> (Plugin, plugin::Connection, f64) {
    let t = Instant::now();
    let (plugin, conn) = Plugin::configured().await;
    let recovers = configs.iter().zip(handles).map(|(task, handle)| {
        let mut c = conn.driver.clone();
        let (id, handle) = (task.id.clone(), handle.clone());
        async move {
            c.recover_task(pb::RecoverTaskRequest {
                task_id: id.clone(),
                handle: Some(handle),
            })
            .await?;
            c.inspect_task(pb::InspectTaskRequest { task_id: id }).await
        }
    });
    for outcome in futures_util::future::join_all(recovers).await {
        let status = outcome
            .expect("RecoverTask and InspectTask")
            .into_inner()
            .task
            .expect("a task status");
        assert_eq!(
            status.state(),
            pb::TaskState::Running,
            "a recovered task is running"
        );
    }
    let took = t.elapsed().as_secs_f64();
    (plugin, conn, took)
}

/// Plugin CPU while it serves a TaskStats stream per task at Nomad's default 1 s interval.
async fn task_stats_cpu(conn: &plugin::Connection, configs: &[pb::TaskConfig], pid: u32) {
    let streams: Vec<_> = configs
        .iter()
        .map(|task| {
            let mut c = conn.driver.clone();
            let id = task.id.clone();
            tokio::spawn(async move {
                let mut s = c
                    .task_stats(pb::TaskStatsRequest {
                        task_id: id,
                        collection_interval: Some(prost_types::Duration {
                            seconds: 1,
                            nanos: 0,
                        }),
                    })
                    .await
                    .expect("TaskStats")
                    .into_inner();
                while let Ok(Some(_)) = s.message().await {}
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let window = Duration::from_secs(30);
    let before = cpu_ticks(pid);
    tokio::time::sleep(window).await;
    let used = cpu_ticks(pid) - before;
    let percent = used as f64 / ticks_per_second() / window.as_secs_f64() * 100.0;
    println!(
        "TaskStats for {TASKS} tasks at 1 s: plugin CPU {percent:.2} % of a core (target ≤ 2 %) {}",
        verdict(percent <= 2.0)
    );
    for s in streams {
        s.abort();
    }
}

/// `ps` over the node's task units against `systemctl list-units` over the same units.
fn ps_against_systemctl() {
    let bin = plugin::program();
    let ps = median_ms(21, || {
        let mut c = Command::new(&bin);
        c.arg("ps");
        c
    });
    let list = median_ms(21, || {
        let mut c = Command::new("systemctl");
        c.args(["list-units", "--no-pager", "--type=service", "nomad-*"]);
        c
    });
    report(
        &format!("`nomad-systemd ps` with {TASKS} tasks (ms, median of 21)"),
        ps,
        list,
        "≤ 1.2×",
        ps <= 1.2 * list,
    );
}

/// A task writing 1 GiB to stdout through a Nomad log FIFO, against `head` writing into the
/// same kind of FIFO (nine of each, interleaved; throughput from the reader's first byte to
/// its last, the median); and how much of it passed through the plugin (nothing should).
async fn fifo_throughput(plugin: &Plugin, conn: &mut plugin::Connection) {
    const BYTES: u64 = 1 << 30;
    const ROUNDS: usize = 9;
    let script = format!("head -c {BYTES} /dev/zero");
    let mib_per_s = |took: Duration| BYTES as f64 / took.as_secs_f64() / (1 << 20) as f64;
    let (mut ours, mut baseline, mut copied) = (Vec::new(), Vec::new(), 0);
    for round in 0..ROUNDS {
        let alloc = Alloc::new(&format!("firehose{round}"));
        let mut task = alloc.task_config(driver_config("/bin/sh", &["-c", &script]));
        // This measures the log path, not CPU policy: no CPU weight, like the baseline's
        // writer (a 100 MHz task would get a weight of 4 against the reader's 100).
        task.resources = None;
        let io_before = plugin_io(plugin.pid());
        conn.start(task.clone()).await.expect("start");
        ours.push(mib_per_s(
            alloc.wait_for_stdout_bytes(BYTES, Duration::from_secs(120)),
        ));
        conn.wait(&task.id).await;
        copied += plugin_io(plugin.pid()).saturating_sub(io_before);
        conn.destroy(&task.id).await;

        let base = Alloc::new(&format!("cat{round}"));
        let fifo = base.path(&format!("alloc/logs/.cat{round}.stdout.fifo"));
        let status = Command::new("/bin/sh")
            .args(["-c", &format!("{script} > {}", fifo.display())])
            .status()
            .unwrap();
        assert!(status.success());
        baseline.push(mib_per_s(
            base.wait_for_stdout_bytes(BYTES, Duration::from_secs(120)),
        ));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, baseline) = (median(&mut ours), median(&mut baseline));
    report(
        "1 GiB through the stdout FIFO (MiB/s, median of 9)",
        ours,
        baseline,
        "≥ 0.9×",
        ours >= 0.9 * baseline,
    );
    println!(
        "bytes the plugin read or wrote during the nine runs: {copied} (target: none of the \
         9 GiB) {}",
        verdict(copied < (1 << 20))
    );
}

fn report(what: &str, ours: f64, baseline: f64, target: &str, met: bool) {
    println!(
        "{what}: ours {ours:.1}, baseline {baseline:.1}, ratio {:.2}× (target {target}) {}",
        ours / baseline,
        verdict(met)
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}

fn median_ms(runs: usize, command: impl Fn() -> Command) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let out = command().stdout(Stdio::null()).status().unwrap();
            assert!(out.success());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// Bytes a process has read and written through system calls (`rchar` + `wchar`).
fn plugin_io(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            matches!(k, "rchar" | "wchar").then(|| v.parse::<u64>().ok())?
        })
        .sum()
}

fn cgroup_mode() -> &'static str {
    // Only a unified (pure v2) hierarchy has its controllers listed at the mount's root.
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else {
        "v1/hybrid"
    }
}

fn systemd_version() -> String {
    let out = Command::new("systemctl").arg("--version").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
