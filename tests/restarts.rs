//! Tasks across systemd reloading and re-executing itself. In their own test binary: binaries
//! run one after another, so no other test is mid-call while systemd restarts.

mod support;

use std::time::Duration;

use nomad_systemd::core::{Signal, Stdio, TaskState};
use support::*;

/// The tests here restart systemd, so they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_wait_survives_systemd_reloading_and_reexecuting_itself() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let engine = engine().await;
    let (spec, _root) = shell_task("reexec", "sleep 2; exit 6");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let waiting = {
        let engine = engine.clone();
        let unit = started.unit.clone();
        tokio::spawn(async move { engine.wait(&unit).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    command_ok("systemctl", &["daemon-reload"]);
    command_ok("systemctl", &["daemon-reexec"]);
    // The exit comes at ~2 s; the waiter must hear of it through the re-executed manager,
    // not from the minute-long safety re-read.
    let exit = tokio::time::timeout(Duration::from_secs(15), waiting)
        .await
        .expect("the wait ends soon after the task")
        .unwrap()
        .unwrap();
    assert_eq!(exit.exit_code, 6);
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn a_task_stays_controllable_after_a_reload() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let engine = engine().await;
    let (spec, _root) = shell_task(
        "reloaded",
        "trap 'echo hup > /alloc/hup' HUP; echo up > /alloc/up; while :; do sleep 0.1; done",
    );
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    wait_for_file(&alloc_dir(&spec).join("up"), support::READY);
    command_ok("systemctl", &["daemon-reload"]);
    assert_eq!(
        engine.status(&started.unit).await.unwrap().state,
        TaskState::Running
    );
    engine
        .signal(&started.unit, Signal::from_number(1).unwrap())
        .await
        .unwrap();
    wait_for_file(&alloc_dir(&spec).join("hup"), support::READY);
    let exit = engine
        .stop(&started.unit, Signal::TERM, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(exit.signal, 15);
    engine.destroy(&started.unit).await.unwrap();
    assert_no_unit(&engine, &started.unit).await;
}

#[tokio::test]
async fn a_plugin_waits_through_a_bus_daemon_restart_and_reconnects() {
    use support::plugin::{Alloc, Plugin, driver_config};
    let _turn = ONE_AT_A_TIME.lock().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("busless");
    let task = alloc.task_config(driver_config("/bin/sh", &["-c", "sleep 3; exit 4"]));
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let waiting = conn.wait_in_background(&id);
    tokio::time::sleep(Duration::from_millis(300)).await;
    command_ok("systemctl", &["restart", "dbus.service"]);
    let waited = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("WaitTask answers once the task ends")
        .unwrap();
    assert_eq!(
        (waited.result.unwrap().exit_code, waited.err.as_str()),
        (4, "")
    );
    // A restart with nothing waiting: the next StartTask connects anew by itself.
    command_ok("systemctl", &["restart", "dbus.service"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let next = Alloc::new("busless-next");
    let again = next.task_config(driver_config("/bin/true", &[]));
    conn.start(again.clone()).await.unwrap();
    assert_eq!(conn.wait(&again.id).await.result.unwrap().exit_code, 0);
    conn.destroy(&again.id).await;
    conn.destroy(&id).await;
}

/// A `daemon-reload` makes systemd re-read each transient unit from the file it saved; a start
/// job still pending then runs what it read back. systemd before v254 could not read back a
/// saved `ExecStartEx=` (the start failed, about one in six under back-to-back reloads, and
/// running tasks showed `bad-setting`), and every version reads a saved `$` or `;` in
/// `ExecStart=` arguments back altered (the task ran a different command). Each task here
/// has both in its script and must run it exactly and stay `loaded`.
#[tokio::test]
async fn tasks_start_while_systemd_reloads_and_load_cleanly_after() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let engine = engine().await;
    let reloading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let reloader = {
        let reloading = reloading.clone();
        std::thread::spawn(move || {
            for _ in 0..200 {
                if !reloading.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                command_ok("systemctl", &["daemon-reload"]);
            }
        })
    };
    let mut started = Vec::new();
    let mut failed = Vec::new();
    let mut roots = Vec::new();
    for i in 0..20 {
        let (spec, root) = shell_task(
            &format!("reload{i}"),
            "echo \"$0;\" > \"$NOMAD_ALLOC_DIR/ran\"; exec sleep 30",
        );
        match engine.start(&spec, Stdio::Journal).await {
            Ok(s) => started.push((s.unit, alloc_dir(&spec).join("ran"))),
            Err(e) => failed.push(e.to_string()),
        }
        roots.push(root);
    }
    reloading.store(false, std::sync::atomic::Ordering::Relaxed);
    reloader.join().unwrap();
    command_ok("systemctl", &["daemon-reload"]);
    let mut bad = Vec::new();
    for (unit, ran) in &started {
        let said = wait_for_file(ran, support::READY);
        if said != "/bin/sh;\n" {
            bad.push(format!("{unit} ran its command altered: {said:?}"));
        }
        let load = std::process::Command::new("systemctl")
            .args(["show", "-P", "LoadState", unit.as_str()])
            .output()
            .unwrap();
        let load = String::from_utf8_lossy(&load.stdout).trim().to_string();
        if load != "loaded" {
            bad.push(format!("{unit}: {load}"));
        }
        engine.destroy(unit).await.unwrap();
    }
    assert!(
        failed.is_empty(),
        "starts failed during reloads: {failed:#?}"
    );
    assert!(bad.is_empty(), "not loaded after a reload: {bad:#?}");
}

/// A `$`, `%` or `;` in an argument reaches the task literally, and the task's unit is still
/// `loaded` after a `daemon-reload` (with `ExecStartEx`, systemd before v254 failed to read it
/// back: `bad-setting`).
#[tokio::test]
async fn literal_dollars_reach_the_task_and_survive_a_reload() {
    const ALLOC: &str = "5d0f3a8e-6c41-4b0e-9a57-2f1e8c3b7d90";
    let _turn = ONE_AT_A_TIME.lock().await;
    let root = tempfile::tempdir().unwrap();
    let literal = [
        "$HOME", "$$", "${X}", "$", "a$b", "%n", "$X y", "a;b", "\\", "\"q\"",
    ];
    let script = "printf '%s\\n' \"$@\" > \"$NOMAD_ALLOC_DIR/t\" \
                  && mv \"$NOMAD_ALLOC_DIR/t\" \"$NOMAD_ALLOC_DIR/args\"; exec sleep 60";
    let mut args = vec![
        "run",
        "--task-dir",
        "--alloc-dir-root",
        root.path().to_str().unwrap(),
        "--alloc-id",
        ALLOC,
        "--",
        "/bin/sh",
        "-c",
        script,
        "sh",
    ];
    args.extend(literal);
    let unit = cli(&args).ok().trim().to_string();
    let written = wait_for_file(&root.path().join(ALLOC).join("alloc/args"), support::READY);
    assert_eq!(written.lines().collect::<Vec<_>>(), literal);

    command_ok("systemctl", &["daemon-reload"]);
    let load = std::process::Command::new("systemctl")
        .args(["show", "-P", "LoadState", &unit])
        .output()
        .unwrap();
    cli(&["stop", &unit]).ok();
    assert_eq!(
        String::from_utf8_lossy(&load.stdout).trim(),
        "loaded",
        "{unit} after a daemon-reload"
    );
}
