//! Benchmarks of the plugin and the CLI, each against a baseline measured in the same run on
//! the same systemd. Needs systemd as PID 1 and root: `bench/run` boots the sandbox and runs
//! this with `cargo bench --bench plugin`. Arguments pick sections (`start`, `rss`, `stats`,
//! `ps`, `fifo`); none runs them all.

// The test harness: launching the plugin as Nomad does. Benchmarks use part of it.
#[allow(dead_code)]
#[path = "../tests/support/plugin.rs"]
mod plugin;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver as pb;
use plugin::{Alloc, Plugin, driver_config};

const TASKS: usize = 200;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "{} · {} cores · {}",
        systemd_version(),
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
    let baseline_rate = if want("start") {
        systemd_run_rate()
    } else {
        f64::NAN
    };
    let (plugin, mut conn) = Plugin::configured().await;
    let pid = plugin.pid();
    let idle_kib = plugin.rss_kib();

    // 200 concurrent StartTask on one connection, as a Nomad client sends them.
    let allocs: Vec<Alloc> = (0..TASKS).map(|i| Alloc::new(&format!("b{i}"))).collect();
    let configs: Vec<pb::TaskConfig> = allocs
        .iter()
        .map(|a| pb::TaskConfig {
            stdout_path: "/dev/null".into(),
            stderr_path: "/dev/null".into(),
            ..a.task_config(driver_config("/bin/sleep", &["600"]))
        })
        .collect();
    let pid1_before = cpu_ticks(1);
    let ours_before = cpu_ticks(pid);
    let started = Instant::now();
    let starts = configs.iter().map(|task| {
        let mut c = conn.driver.clone();
        let task = task.clone();
        async move {
            c.start_task(pb::StartTaskRequest { task: Some(task) })
                .await
        }
    });
    for outcome in futures_util::future::join_all(starts).await {
        outcome.expect("StartTask");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ours_rate = TASKS as f64 / elapsed;
    let pid1_ms = (cpu_ticks(1) - pid1_before) as f64 / ticks_per_second() * 1000.0;
    println!(
        "  burst of {elapsed:.2} s: {:.1} ms of PID 1 CPU a start, the plugin {:.2} s in all",
        pid1_ms / TASKS as f64,
        (cpu_ticks(pid) - ours_before) as f64 / ticks_per_second(),
    );
    if want("start") {
        report(
            &format!("{TASKS} concurrent StartTask (tasks/s)"),
            ours_rate,
            baseline_rate,
            "≥ 3×",
            ours_rate >= 3.0 * baseline_rate,
        );
    }

    // Nomad keeps a WaitTask open per task.
    let waits: Vec<_> = configs
        .iter()
        .map(|task| {
            let mut c = conn.driver.clone();
            let id = task.id.clone();
            tokio::spawn(async move { c.wait_task(pb::WaitTaskRequest { task_id: id }).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy_kib = plugin.rss_kib();
    let per_task = (busy_kib.saturating_sub(idle_kib)) as f64 / TASKS as f64;
    if want("rss") {
        println!(
            "plugin RSS: idle {:.1} MiB (target ≤ 15 MiB) {}; with {TASKS} tasks {:.1} MiB, {per_task:.1} KiB per task (target ≤ 64 KiB) {}",
            idle_kib as f64 / 1024.0,
            verdict(idle_kib <= 15 * 1024),
            busy_kib as f64 / 1024.0,
            verdict(per_task <= 64.0),
        );
    }

    if want("stats") {
        task_stats_cpu(&conn, &configs, pid).await;
    }
    if want("ps") {
        ps_against_systemctl();
    }
    for (task, wait) in configs.iter().zip(waits) {
        conn.destroy(&task.id).await;
        wait.abort();
    }
    if want("fifo") {
        fifo_throughput(&plugin, &mut conn).await;
    }
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window = Duration::from_secs(10);
    let before = cpu_ticks(pid);
    tokio::time::sleep(window).await;
    let used = cpu_ticks(pid) - before;
    let percent = used as f64 / ticks_per_second() / window.as_secs_f64() * 100.0;
    println!(
        "TaskStats for {TASKS} tasks at 1 s: plugin CPU {percent:.2} % of a core (target ≤ 1 %) {}",
        verdict(percent <= 1.0)
    );
    for s in streams {
        s.abort();
    }
}

/// `ps` with 200 units against `systemctl list-units`.
fn ps_against_systemctl() {
    let bin = env!("CARGO_BIN_EXE_nomad-systemd");
    let ps = median_ms(21, || {
        let mut c = Command::new(bin);
        c.arg("ps");
        c
    });
    let list = median_ms(21, || {
        let mut c = Command::new("systemctl");
        c.args(["list-units", "--no-pager", "nomad-*"]);
        c
    });
    report(
        &format!("`nomad-systemd ps` with {TASKS} units (ms, median of 21)"),
        ps,
        list,
        "≤ 1.5×",
        ps <= 1.5 * list,
    );
}

/// Starts 200 `sleep` units with `systemd-run`, one after another and all at once; returns
/// the better rate (units/s).
fn systemd_run_rate() -> f64 {
    let start = |name: String| {
        let mut c = Command::new("systemd-run");
        c.args(["--quiet", "--collect", "--unit", &name, "/bin/sleep", "600"])
            .stdout(Stdio::null());
        c
    };
    let pid1_before = cpu_ticks(1);
    let t = Instant::now();
    for i in 0..TASKS {
        assert!(start(format!("bench-seq-{i}")).status().unwrap().success());
    }
    let sequential = TASKS as f64 / t.elapsed().as_secs_f64();
    let pid1_ms = (cpu_ticks(1) - pid1_before) as f64 / ticks_per_second() * 1000.0;
    let t = Instant::now();
    let children: Vec<_> = (0..TASKS)
        .map(|i| start(format!("bench-par-{i}")).spawn().unwrap())
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let parallel = TASKS as f64 / t.elapsed().as_secs_f64();
    let _ = Command::new("systemctl")
        .args(["stop", "bench-seq-*", "bench-par-*"])
        .status();
    println!(
        "baseline systemd-run: {sequential:.0} units/s sequential ({:.1} ms of PID 1 CPU a start), \
         {parallel:.0} units/s parallel",
        pid1_ms / TASKS as f64
    );
    sequential.max(parallel)
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

fn systemd_version() -> String {
    let out = Command::new("systemctl").arg("--version").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
