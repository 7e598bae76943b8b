//! Load: 1000 start/stop cycles, 50 at a time, through the plugin. Afterwards no unit and no
//! slice of theirs remains, and the plugin holds no more descriptors or memory than after the
//! first hundred. In its own binary, so its counts see no other test's units. And bursts: more
//! starts at once than systemd can track on the bus, and two clients' bursts at once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use nomad_systemd::plugin::proto::driver as pb;
use support::plugin::{Alloc, Plugin, driver_config, stop};
use tokio::sync::Semaphore;

const CYCLES: usize = 1000;
/// Each test loads PID 1 on its own: what one measures (descriptors, units left) is not
/// blurred by another's load.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const CONCURRENT: usize = 50;
const WARM_UP: usize = 100;

async fn cycles(conn: &support::plugin::Connection, alloc: &Alloc, count: usize) {
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let runs = (0..count).map(|_| {
        let mut task = alloc.task_config(driver_config("/bin/sleep", &["60"]));
        task.alloc_dir.clear();
        task.stdout_path = "/dev/null".into();
        task.stderr_path = "/dev/null".into();
        let mut driver = conn.driver.clone();
        let slots = slots.clone();
        async move {
            let _slot = slots.acquire().await.unwrap();
            let id = task.id.clone();
            driver
                .start_task(pb::StartTaskRequest { task: Some(task) })
                .await
                .expect("StartTask");
            stop(&mut driver, &id, "SIGTERM", 5)
                .await
                .expect("StopTask");
            let waited = driver
                .wait_task(pb::WaitTaskRequest {
                    task_id: id.clone(),
                })
                .await
                .expect("WaitTask")
                .into_inner();
            assert_eq!(waited.result.unwrap().signal, 15);
            driver
                .destroy_task(pb::DestroyTaskRequest {
                    task_id: id,
                    force: true,
                })
                .await
                .expect("DestroyTask");
        }
    });
    futures_util::future::join_all(runs).await;
}

#[tokio::test]
async fn a_thousand_start_stop_cycles_leave_nothing_behind() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let engine = support::engine().await;
    let (plugin, conn) = Plugin::configured().await;
    let alloc = Alloc::new("load");
    cycles(&conn, &alloc, WARM_UP).await;
    let (fds_before, rss_before) = (plugin.open_fds(), plugin.rss_kib());
    cycles(&conn, &alloc, CYCLES - WARM_UP).await;
    let (fds_after, rss_after) = (plugin.open_fds(), plugin.rss_kib());

    let short = &alloc.id[..8];
    let units = engine
        .systemd()
        .list_units(&[&format!("nomad-{short}-*")])
        .await
        .unwrap();
    assert!(units.is_empty(), "units left: {units:?}");
    // Stopped slices are collected by systemd shortly after; none may stay active.
    let pattern = format!("system-nomad-{short}_*");
    let mut active = Vec::new();
    for _ in 0..50 {
        active = engine
            .systemd()
            .list_unit_states(&[&pattern])
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.active_state != nomad_systemd::core::systemd::ActiveState::Inactive)
            .map(|u| u.name)
            .collect();
        if active.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(active.is_empty(), "slices left active: {active:?}");
    assert!(
        fds_after <= fds_before + 2,
        "descriptors grew from {fds_before} to {fds_after}"
    );
    assert!(
        rss_after <= rss_before + 4096,
        "RSS grew from {rss_before} KiB to {rss_after} KiB over {} cycles",
        CYCLES - WARM_UP
    );
    eprintln!(
        "after {CYCLES} cycles: {fds_after} descriptors (was {fds_before}), RSS {rss_after} KiB (was {rss_before})"
    );
}

/// Starts `count` tasks of `alloc` at once through `conn`, then destroys them; returns the
/// errors of the starts that failed.
async fn burst(conn: &support::plugin::Connection, alloc: &Alloc, count: usize) -> Vec<String> {
    let tasks: Vec<pb::TaskConfig> = (0..count)
        .map(|_| {
            let mut task = alloc.task_config(driver_config("/bin/sleep", &["600"]));
            task.alloc_dir.clear();
            task.stdout_path = "/dev/null".into();
            task.stderr_path = "/dev/null".into();
            task
        })
        .collect();
    let starts = tasks.iter().map(|task| {
        let mut driver = conn.driver.clone();
        let task = task.clone();
        async move {
            driver
                .start_task(pb::StartTaskRequest { task: Some(task) })
                .await
        }
    });
    let failed: Vec<String> = futures_util::future::join_all(starts)
        .await
        .into_iter()
        .filter_map(|outcome| outcome.err().map(|e| e.message().to_string()))
        .collect();
    let destroys = tasks.iter().map(|task| {
        let mut driver = conn.driver.clone();
        let task_id = task.id.clone();
        async move {
            driver
                .destroy_task(pb::DestroyTaskRequest {
                    task_id,
                    force: true,
                })
                .await
        }
    });
    futures_util::future::join_all(destroys).await;
    failed
}

fn assert_all_started(failed: &[String], count: usize) {
    assert!(
        failed.is_empty(),
        "{} of {count} starts failed, the first: {:?}",
        failed.len(),
        failed.first()
    );
}

/// More StartTask at once than the system bus lets PID 1 watch clients: systemd tracks the
/// client of every queued job with a bus match of its own, and dbus-daemon allows its
/// connection 512. Every task starts, and systemd stays on the bus (it answers afterwards).
#[tokio::test]
async fn a_burst_of_starts_beyond_the_bus_daemons_match_limit_keeps_systemd_on_the_bus() {
    const BURST: usize = 600;
    let _turn = ONE_AT_A_TIME.lock().await;
    let engine = support::engine().await;
    let (_plugin, conn) = Plugin::configured().await;
    let failed = burst(&conn, &Alloc::new("burst"), BURST).await;
    assert_all_started(&failed, BURST);
    engine
        .systemd()
        .version()
        .await
        .expect("systemd still answers on the bus");
}

/// Two plugins (two bus clients) bursting at once fill the bus daemon's queue towards PID 1,
/// which then refuses calls with `LimitsExceeded` instead of delivering them. Such a call never
/// reached systemd: the plugin makes it again, and every task starts.
#[tokio::test]
async fn two_clients_bursting_at_once_both_start_every_task() {
    const BURST: usize = 400;
    let _turn = ONE_AT_A_TIME.lock().await;
    let (_first, first) = Plugin::configured().await;
    let (_second, second) = Plugin::configured().await;
    let (one, two) = (Alloc::new("burst-a"), Alloc::new("burst-b"));
    let (failed_one, failed_two) =
        tokio::join!(burst(&first, &one, BURST), burst(&second, &two, BURST));
    assert_all_started(&failed_one, BURST);
    assert_all_started(&failed_two, BURST);
}
