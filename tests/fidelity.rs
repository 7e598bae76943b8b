//! Behaviours a real Nomad client relies on, as Nomad's own client and exec driver define them
//! (issue 15): log FIFOs whose reader opens late, a StartTask retried after a plugin crash,
//! DestroyTask of a task the plugin does not track, a forced destroy, unknown signal names.
//! Each drives the real plugin binary against the real systemd.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver as pb;
use nomad_systemd::plugin::proto::{rpc, structs};
use prost::Message;
use support::plugin::{Alloc, Connection, Plugin, driver_config, stop, task_unit};
use tonic::Code;

/// The test that takes the bus daemon away runs alone; the others share the bus.
static BUS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn shell(script: &str) -> Vec<u8> {
    driver_config("/bin/sh", &["-c", script])
}

/// A FIFO with no reader yet, in the allocation's log directory as logmon makes them.
fn fifo_without_reader(alloc: &Alloc, name: &str) -> PathBuf {
    let path = alloc.path(&format!("alloc/logs/{name}"));
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    path
}

/// Opens `path` for reading after `delay`, blocking in open() as Nomad's logmon does, and
/// collects what arrives.
fn read_late(path: &Path, delay: Duration) -> Arc<Mutex<Vec<u8>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mut fifo = std::fs::File::open(&path).expect("open the FIFO's read end");
        let mut buf = [0u8; 4096];
        while let Ok(n) = fifo.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    seen
}

/// Whether `err` carries the RecoverableError detail Nomad's restart policy retries.
fn is_recoverable(err: &tonic::Status) -> bool {
    let Ok(details) = rpc::Status::decode(err.details()) else {
        return false;
    };
    err.code() == Code::FailedPrecondition
        && details.code == Code::FailedPrecondition as i32
        && details.details.iter().any(|d| {
            d.type_url.ends_with("shared.structs.RecoverableError")
                && structs::RecoverableError::decode(&d.value[..]).is_ok_and(|r| r.recoverable)
        })
}

/// The task units of `alloc` systemd has loaded.
async fn units_of(alloc: &Alloc) -> usize {
    let engine = support::engine().await;
    let pattern = format!("nomad-{}-*", &alloc.id[..8]);
    engine
        .systemd()
        .list_units(&[&pattern])
        .await
        .unwrap()
        .len()
}

async fn main_pid(task: &pb::TaskConfig) -> u32 {
    let engine = support::engine().await;
    engine
        .systemd()
        .snapshot(&task_unit(task))
        .await
        .unwrap()
        .main_pid
}

async fn wait_result(conn: &mut Connection, id: &str) -> pb::ExitResult {
    let waited = tokio::time::timeout(Duration::from_secs(20), conn.wait(id))
        .await
        .expect("WaitTask answers");
    assert!(waited.err.is_empty(), "{}", waited.err);
    waited.result.unwrap()
}

#[tokio::test]
async fn a_fifo_whose_reader_opens_a_second_after_start_still_gets_the_output() {
    let _turn = BUS.read().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("late");
    let fifo = fifo_without_reader(&alloc, ".late-reader.stdout.fifo");
    let mut task = alloc.task_config(shell("echo hello from a late reader"));
    task.stdout_path = fifo.display().to_string();
    let seen = read_late(&fifo, Duration::from_secs(1));
    let asked = Instant::now();
    conn.start(task.clone())
        .await
        .expect("StartTask waits for the reader");
    assert!(asked.elapsed() >= Duration::from_millis(900));
    assert_eq!(wait_result(&mut conn, &task.id).await.exit_code, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        if text.contains("hello from a late reader") {
            break;
        }
        assert!(Instant::now() < deadline, "no output arrived: {text:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    conn.destroy(&task.id).await;
}

#[tokio::test]
async fn a_fifo_no_reader_opens_is_a_retryable_error_within_the_bound_and_no_unit() {
    let _turn = BUS.read().await;
    let engine = support::engine().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("deaf");
    let fifo = fifo_without_reader(&alloc, ".deaf-reader.stdout.fifo");
    let mut task = alloc.task_config(shell("echo never"));
    task.stdout_path = fifo.display().to_string();
    let asked = Instant::now();
    let err = conn.start(task.clone()).await.unwrap_err();
    let took = asked.elapsed();
    assert!(is_recoverable(&err), "{err:?}");
    assert!(err.message().contains("no reader"), "{err}");
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "{took:?}"
    );
    support::assert_no_unit(&engine, &task_unit(&task)).await;
    assert_eq!(units_of(&alloc).await, 0);
}

#[tokio::test]
async fn a_start_retried_by_a_new_plugin_after_kill_9_adopts_the_running_unit() {
    let _turn = BUS.read().await;
    let alloc = Alloc::new("retried");
    let task = alloc.task_config(shell("echo up; while :; do sleep 0.1; done"));
    let (mut first, mut conn) = Plugin::configured().await;
    conn.start(task.clone()).await.expect("first StartTask");
    alloc.wait_for_stdout("up", Duration::from_secs(10));
    let pid = main_pid(&task).await;
    first.kill_9();

    // Nomad's task runner sends the very same TaskConfig to the plugin it launches anew.
    let (_second, mut conn) = Plugin::configured().await;
    let handle = conn.start(task.clone()).await.expect("retried StartTask");
    assert_eq!(handle.config.unwrap().id, task.id);
    assert_eq!(units_of(&alloc).await, 1, "one unit, not a second copy");
    assert_eq!(
        main_pid(&task).await,
        pid,
        "the running process was adopted"
    );
    stop_and_destroy(&mut conn, &task, &alloc).await;
}

#[tokio::test]
async fn a_start_under_the_same_id_with_another_config_is_refused_and_the_unit_kept() {
    let _turn = BUS.read().await;
    let alloc = Alloc::new("clash");
    let task = alloc.task_config(shell("while :; do sleep 0.1; done"));
    let (mut first, mut conn) = Plugin::configured().await;
    conn.start(task.clone()).await.expect("first StartTask");
    let pid = main_pid(&task).await;
    first.kill_9();

    let (_second, mut conn) = Plugin::configured().await;
    let other = pb::TaskConfig {
        msgpack_driver_config: shell("echo something else"),
        ..task.clone()
    };
    let err = conn.start(other).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err}");
    assert_eq!(units_of(&alloc).await, 1);
    assert_eq!(main_pid(&task).await, pid, "the running task is left alone");
    // This plugin never tracked the task; destroying it by id still removes its unit.
    conn.destroy(&task.id).await;
    assert_eq!(units_of(&alloc).await, 0);
}

#[tokio::test]
async fn destroy_from_a_new_plugin_whose_recovery_failed_removes_the_unit() {
    let _turn = BUS.read().await;
    let engine = support::engine().await;
    let alloc = Alloc::new("orphan");
    let task = alloc.task_config(shell("while :; do sleep 0.1; done"));
    let (mut first, mut conn) = Plugin::configured().await;
    let handle = conn.start(task.clone()).await.expect("StartTask");
    first.kill_9();

    let (_second, mut conn) = Plugin::configured().await;
    // A handle the new plugin cannot use: RecoverTask fails, so Nomad destroys the task
    // (force) before it starts another copy.
    let unusable = pb::TaskHandle {
        driver_state: b"not a handle".to_vec(),
        ..handle
    };
    conn.driver
        .recover_task(pb::RecoverTaskRequest {
            task_id: task.id.clone(),
            handle: Some(unusable),
        })
        .await
        .unwrap_err();
    let running = conn
        .driver
        .destroy_task(pb::DestroyTaskRequest {
            task_id: task.id.clone(),
            force: false,
        })
        .await
        .unwrap_err();
    assert_eq!(running.code(), Code::FailedPrecondition, "{running}");
    assert_eq!(units_of(&alloc).await, 1);
    conn.destroy(&task.id).await;
    support::assert_no_unit(&engine, &task_unit(&task)).await;
    assert_eq!(units_of(&alloc).await, 0);
    // Destroying it again, or an id of no task at all, is success.
    conn.destroy(&task.id).await;
    conn.destroy("not/a-task").await;
}

#[tokio::test]
async fn destroy_from_a_new_plugin_releases_a_workload_users_record() {
    let _turn = BUS.read().await;
    let engine = support::engine().await;
    let alloc = Alloc::new("orphanuser");
    let mut task = alloc.task_config(shell("while :; do sleep 0.1; done"));
    task.user = "nomad-80777".into();
    let record = Path::new(nomad_systemd::core::workload_user::RECORD_DIR).join("nomad-80777.user");
    let (mut first, mut conn) = Plugin::configured().await;
    conn.start(task.clone()).await.expect("StartTask");
    assert!(
        record.exists(),
        "the workload user's record is written at start"
    );
    first.kill_9();

    // The successor never recovered the task: Nomad destroys it by id.
    let (_second, mut conn) = Plugin::configured().await;
    conn.driver
        .destroy_task(pb::DestroyTaskRequest {
            task_id: task.id.clone(),
            force: true,
        })
        .await
        .expect("DestroyTask");
    support::assert_no_unit(&engine, &task_unit(&task)).await;
    assert!(!record.exists(), "the record outlived its task");
}

#[tokio::test]
async fn destroy_with_force_kills_a_task_ignoring_its_signals_at_once() {
    let _turn = BUS.read().await;
    let engine = support::engine().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("stubborn");
    let task = alloc.task_config(shell(
        "trap '' INT TERM HUP; echo ready; while :; do sleep 0.1; done",
    ));
    conn.start(task.clone()).await.expect("StartTask");
    alloc.wait_for_stdout("ready", Duration::from_secs(10));
    let asked = Instant::now();
    conn.destroy(&task.id).await;
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    support::assert_no_unit(&engine, &task_unit(&task)).await;
}

#[tokio::test]
async fn an_unknown_signal_name_is_sigint_as_in_nomads_exec() {
    let _turn = BUS.read().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let script = "trap 'exit 42' INT; echo ready; while :; do sleep 0.1; done";

    let alloc = Alloc::new("stopped");
    let task = alloc.task_config(shell(script));
    conn.start(task.clone()).await.expect("StartTask");
    alloc.wait_for_stdout("ready", Duration::from_secs(10));
    stop(&mut conn.driver, &task.id, "SIGNOPE", 10)
        .await
        .expect("StopTask with an unknown signal");
    let result = wait_result(&mut conn, &task.id).await;
    assert_eq!((result.exit_code, result.signal), (42, 0), "{result:?}");
    conn.destroy(&task.id).await;

    let alloc = Alloc::new("signalled");
    let task = alloc.task_config(shell(script));
    conn.start(task.clone()).await.expect("StartTask");
    alloc.wait_for_stdout("ready", Duration::from_secs(10));
    conn.driver
        .signal_task(pb::SignalTaskRequest {
            task_id: task.id.clone(),
            signal: "NOSUCHSIGNAL".into(),
        })
        .await
        .expect("SignalTask with an unknown signal");
    let result = wait_result(&mut conn, &task.id).await;
    assert_eq!((result.exit_code, result.signal), (42, 0), "{result:?}");
    conn.destroy(&task.id).await;
}

fn systemctl(args: &[&str]) {
    let done = std::process::Command::new("systemctl")
        .args(args)
        .status()
        .unwrap();
    assert!(done.success(), "systemctl {args:?}");
}

#[tokio::test]
async fn recovery_waits_out_the_bus_daemon_being_away() {
    let _turn = BUS.write().await;
    let alloc = Alloc::new("outage");
    let task = alloc.task_config(shell("while :; do sleep 0.1; done"));
    let (mut first, mut conn) = Plugin::configured().await;
    let handle = conn.start(task.clone()).await.expect("StartTask");
    first.kill_9();

    let (_second, mut conn) = Plugin::configured().await;
    // No bus for two seconds: the plugin can reach systemd neither on its connection nor
    // on a new one.
    systemctl(&["stop", "dbus.socket", "dbus.service"]);
    let mut driver = conn.driver.clone();
    let recovering = tokio::spawn(async move {
        driver
            .recover_task(pb::RecoverTaskRequest {
                task_id: String::new(),
                handle: Some(handle),
            })
            .await
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    systemctl(&["start", "dbus.socket", "dbus.service"]);
    let recovered = tokio::time::timeout(Duration::from_secs(30), recovering)
        .await
        .expect("RecoverTask answers")
        .unwrap();
    assert!(recovered.is_ok(), "{recovered:?}");
    stop_and_destroy(&mut conn, &task, &alloc).await;
}

/// Stops a running task with SIGTERM as Nomad does, checks WaitTask reports that signal,
/// destroys it and checks the allocation has no unit left.
async fn stop_and_destroy(conn: &mut Connection, task: &pb::TaskConfig, alloc: &Alloc) {
    let waiter = conn.wait_in_background(&task.id);
    stop(&mut conn.driver, &task.id, "SIGTERM", 5)
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("WaitTask answers")
        .unwrap();
    assert_eq!(waited.result.unwrap().signal, 15);
    conn.destroy(&task.id).await;
    assert_eq!(units_of(alloc).await, 0);
}
