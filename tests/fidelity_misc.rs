//! Smaller places where the plugin now does what Nomad's client expects or its exec driver
//! does: the next Nomad's Init and Shutdown, the fingerprint's wording and `err`, volume
//! propagation and SELinux labels, mounts on the user bus, and an exec session's `HOME` and
//! end of input on a tty. Through the real plugin binary, against the sandboxed systemd.

mod support;

use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver::{
    self as pb, ExecTaskStreamingIoOperation as Io, ExecTaskStreamingRequest as Req,
    driver_capabilities::MountConfigs, exec_task_streaming_request::Setup,
    fingerprint_response::HealthState,
};
use rmpv::Value;
use support::plugin::{Alloc, Connection, Plugin, shell_config, task_running, task_unit};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);

async fn capabilities(conn: &mut Connection) -> pb::DriverCapabilities {
    conn.driver
        .capabilities(pb::CapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .capabilities
        .unwrap()
}

fn unit_exists(unit: &nomad_systemd::core::UnitName) -> bool {
    let out = std::process::Command::new("systemctl")
        .args(["show", "-P", "LoadState", unit.as_str()])
        .output()
        .expect("systemctl runs");
    String::from_utf8_lossy(&out.stdout).trim() == "loaded"
}

// --- Nomad main: Init, Shutdown, FingerprintResponse.err -------------------------------

#[tokio::test]
async fn init_and_shutdown_succeed_and_the_task_keeps_running() {
    let (_plugin, mut conn, _alloc, id) = task_running("lifecycle").await;
    conn.driver.init(pb::InitRequest {}).await.expect("Init");
    conn.driver
        .shutdown(pb::ShutdownRequest {})
        .await
        .expect("Shutdown");
    // The task is systemd's: it still runs, and the plugin still answers for it.
    let inspected = conn
        .driver
        .inspect_task(pb::InspectTaskRequest {
            task_id: id.clone(),
        })
        .await
        .expect("InspectTask after Shutdown")
        .into_inner();
    assert_eq!(inspected.task.unwrap().state, pb::TaskState::Running as i32);
    conn.destroy(&id).await;
}

#[tokio::test]
async fn init_before_set_config_succeeds() {
    let plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    conn.driver
        .init(pb::InitRequest {})
        .await
        .expect("Init before SetConfig");
}

#[tokio::test]
async fn a_healthy_fingerprint_says_healthy_as_nomad_does_and_sets_no_err() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let first = conn.first_fingerprint().await;
    assert_eq!(first.health, HealthState::Healthy as i32);
    // Nomad's drivers.DriverHealthy.
    assert_eq!(first.health_description, "Healthy");
    assert_eq!(first.err, "");
}

// --- Volume mounts: propagation_mode, selinux_label, user bus ------------------------------

/// A task that reads a file in the volume bound at `/local/vol`.
fn volume_task(
    alloc: &Alloc,
    host: &std::path::Path,
    propagation: &str,
    selinux: &str,
) -> pb::TaskConfig {
    let mut task = alloc.task_config(shell_config("cat /local/vol/hello; echo END", &[]));
    task.mounts = vec![pb::Mount {
        host_path: host.display().to_string(),
        task_path: "/local/vol".into(),
        readonly: true,
        propagation_mode: propagation.into(),
        selinux_label: selinux.into(),
        request_name: "data".into(),
    }];
    task
}

fn volume(alloc: &Alloc) -> std::path::PathBuf {
    let host = alloc.path("volume");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("hello"), "from the volume\n").unwrap();
    host
}

#[tokio::test]
async fn private_and_host_to_task_volumes_are_bound() {
    let (_plugin, mut conn) = Plugin::configured().await;
    for (name, mode) in [("volpriv", "private"), ("volh2t", "host-to-task")] {
        let alloc = Alloc::new(name);
        let host = volume(&alloc);
        let task = volume_task(&alloc, &host, mode, "");
        let id = task.id.clone();
        conn.start(task)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e:?}"));
        let out = alloc.wait_for_stdout("END", SHORT);
        assert!(out.contains("from the volume"), "{mode}: {out}");
        conn.destroy(&id).await;
    }
}

#[tokio::test]
async fn bidirectional_propagation_is_refused_naming_it_and_nothing_is_made() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("volbidi");
    let host = volume(&alloc);
    let task = volume_task(&alloc, &host, "bidirectional", "");
    let unit = task_unit(&task);
    let e = conn.start(task).await.expect_err("bidirectional refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("propagation_mode"), "{}", e.message());
    assert!(e.message().contains("bidirectional"), "{}", e.message());
    assert!(!unit_exists(&unit), "{unit} was created");
}

#[tokio::test]
async fn an_selinux_label_is_refused_naming_it_and_nothing_is_made() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("volselinux");
    let host = volume(&alloc);
    let task = volume_task(&alloc, &host, "private", "Z");
    let unit = task_unit(&task);
    let e = conn.start(task).await.expect_err("selinux_label refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("selinux_label"), "{}", e.message());
    assert!(!unit_exists(&unit), "{unit} was created");
}

#[tokio::test]
async fn mounts_are_advertised_on_the_system_bus_and_not_on_the_user_bus() {
    let (_plugin, mut conn) = Plugin::configured().await;
    assert_eq!(
        capabilities(&mut conn).await.mount_configs,
        MountConfigs::UnknownMounts as i32
    );
    let (_plugin, mut conn) = Plugin::configured_with(&[("bus", Value::from("user"))]).await;
    assert_eq!(
        capabilities(&mut conn).await.mount_configs,
        MountConfigs::NoMounts as i32
    );
}

// --- Exec sessions: HOME, and the end of a tty's input --------------------------------------

#[tokio::test]
async fn an_exec_session_has_the_task_users_home() {
    let (_plugin, mut conn, _alloc, id) = task_running("exechome").await;
    let home = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("nobody exists")
        .dir;
    let response = conn
        .exec(
            &id,
            &[
                "/bin/sh",
                "-c",
                "echo \"HOME=$HOME USER=$USER LOGNAME=$LOGNAME\"",
            ],
            Some(SHORT),
        )
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&response.stdout),
        format!("HOME={} USER=nobody LOGNAME=nobody\n", home.display())
    );
    conn.destroy(&id).await;
}

/// Opens a tty session running `command` and returns the sender and the replies.
async fn tty_session(
    conn: &mut Connection,
    id: &str,
    command: &[&str],
) -> (
    mpsc::Sender<Req>,
    tonic::Streaming<pb::ExecTaskStreamingResponse>,
) {
    let (tx, rx) = mpsc::channel(16);
    tx.send(Req {
        setup: Some(Setup {
            task_id: id.into(),
            command: command.iter().map(|c| c.to_string()).collect(),
            tty: true,
        }),
        ..Req::default()
    })
    .await
    .unwrap();
    let replies = conn
        .driver
        .exec_task_streaming(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    (tx, replies)
}

#[tokio::test]
async fn closing_a_tty_sessions_stdin_ends_its_input() {
    let (_plugin, mut conn, _alloc, id) = task_running("ttyeof").await;
    let (tx, mut replies) = tty_session(
        &mut conn,
        &id,
        &["/bin/sh", "-c", "n=$(wc -l); echo lines=$n; exit 7"],
    )
    .await;
    tx.send(Req {
        stdin: Some(Io {
            data: b"one\ntwo\n".to_vec(),
            close: true,
        }),
        ..Req::default()
    })
    .await
    .unwrap();
    let deadline = Instant::now() + SHORT;
    let mut output = Vec::new();
    let code = loop {
        assert!(
            Instant::now() < deadline,
            "input never ended: {:?}",
            String::from_utf8_lossy(&output)
        );
        let reply = tokio::time::timeout(SHORT, replies.message())
            .await
            .expect("a reply: the command waits for end of input")
            .unwrap()
            .expect("an exited reply before the end");
        if let Some(out) = &reply.stdout {
            output.extend_from_slice(&out.data);
        }
        if reply.exited {
            break reply.result.unwrap().exit_code;
        }
    };
    assert_eq!(code, 7, "{:?}", String::from_utf8_lossy(&output));
    assert!(
        String::from_utf8_lossy(&output).contains("lines=2"),
        "{:?}",
        String::from_utf8_lossy(&output)
    );
    conn.destroy(&id).await;
}

#[tokio::test]
async fn a_task_has_its_users_home_over_the_jobs_as_under_nomads_exec() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("taskhome");
    let mut task = alloc.task_config(shell_config("echo \"HOME=$HOME\"; echo END", &[]));
    task.env.insert("HOME".into(), "/from/the/job".into());
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let out = alloc.wait_for_stdout("END", SHORT);
    conn.destroy(&id).await;
    let home = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("nobody exists")
        .dir;
    assert!(out.contains(&format!("HOME={}\n", home.display())), "{out}");
}
