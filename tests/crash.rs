//! A plugin crash with many tasks: 100 keep running and 20 end while no plugin runs; a new
//! plugin recovers every handle, controls the 100 and reports the 20 exactly. In its own
//! binary, so its unit counts see no other test's units.

mod support;

use std::time::Duration;

use nomad_systemd::plugin::proto::driver as pb;
use support::plugin::{Alloc, Plugin, driver_config, stop, task_unit};

const RUNNING: usize = 100;
const ENDING: usize = 20;

#[tokio::test]
async fn after_kill_9_every_task_is_recovered_and_nothing_runs_twice() {
    let engine = support::engine().await;
    let (mut plugin, conn) = Plugin::configured().await;
    let alloc = Alloc::new("crash");
    let go = alloc.path("alloc/go");
    let mut tasks = Vec::new();
    for i in 0..RUNNING + ENDING {
        let script = if i < RUNNING {
            "while :; do sleep 0.2; done".to_string()
        } else {
            // Ends, with its own code, once /alloc/go appears.
            format!(
                "while [ ! -e /alloc/go ]; do sleep 0.05; done; exit {}",
                10 + i - RUNNING
            )
        };
        let mut task = alloc.task_config(driver_config("/bin/sh", &["-c", &script]));
        task.stdout_path = "/dev/null".into();
        task.stderr_path = "/dev/null".into();
        tasks.push(task);
    }
    let starts = tasks.iter().map(|t| {
        let mut driver = conn.driver.clone();
        let task = t.clone();
        async move {
            driver
                .start_task(pb::StartTaskRequest { task: Some(task) })
                .await
                .expect("StartTask")
                .into_inner()
                .handle
                .expect("a handle")
        }
    });
    let handles = futures_util::future::join_all(starts).await;
    let pattern = format!("nomad-{}-*", &alloc.id[..8]);
    let units = engine.systemd().list_units(&[&pattern]).await.unwrap();
    assert_eq!(units.len(), RUNNING + ENDING);

    plugin.kill_9();
    std::fs::write(&go, "").unwrap();
    for task in &tasks[RUNNING..] {
        let unit = task_unit(task);
        engine.wait(&unit).await.unwrap();
    }

    let (_plugin, conn) = Plugin::configured().await;
    for handle in &handles {
        conn.driver
            .clone()
            .recover_task(pb::RecoverTaskRequest {
                task_id: String::new(),
                handle: Some(handle.clone()),
            })
            .await
            .expect("RecoverTask");
    }
    for (i, task) in tasks[RUNNING..].iter().enumerate() {
        let waited = conn
            .driver
            .clone()
            .wait_task(pb::WaitTaskRequest {
                task_id: task.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            waited.result.unwrap().exit_code,
            10 + i as i32,
            "{}",
            task.id
        );
    }
    // The 100 are still running, once each, and answer to the new plugin.
    let units = engine.systemd().list_units(&[&pattern]).await.unwrap();
    assert_eq!(units.len(), RUNNING + ENDING, "nothing started twice");
    let mut driver = conn.driver.clone();
    let first = &tasks[0].id;
    driver
        .signal_task(pb::SignalTaskRequest {
            task_id: first.clone(),
            signal: "SIGCONT".into(),
        })
        .await
        .unwrap();
    let mut stats = driver
        .task_stats(pb::TaskStatsRequest {
            task_id: first.clone(),
            collection_interval: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stats.message().await.unwrap().unwrap().stats.is_some());
    let stops = tasks[..RUNNING].iter().map(|t| {
        let mut driver = conn.driver.clone();
        let id = t.id.clone();
        async move {
            stop(&mut driver, &id, "SIGTERM", 5)
                .await
                .expect("StopTask");
            let result = driver
                .wait_task(pb::WaitTaskRequest { task_id: id })
                .await
                .unwrap()
                .into_inner()
                .result
                .unwrap();
            assert_eq!(result.signal, 15);
        }
    });
    tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(stops),
    )
    .await
    .expect("all stopped");
    for task in &tasks {
        conn.driver
            .clone()
            .destroy_task(pb::DestroyTaskRequest {
                task_id: task.id.clone(),
                force: true,
            })
            .await
            .unwrap();
    }
    assert!(
        engine
            .systemd()
            .list_units(&[&pattern])
            .await
            .unwrap()
            .is_empty()
    );
}
