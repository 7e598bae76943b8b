//! The plugin driven the way Nomad drives it: the built binary, launched with Nomad's
//! environment, spoken to over its socket with gRPC, against the sandboxed real systemd.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::base as base_pb;
use nomad_systemd::plugin::proto::driver::{self as pb, fingerprint_response::HealthState};
use nomad_systemd::plugin::proto::goplugin as goplugin_pb;
use nomad_systemd::plugin::proto::goplugin::grpc_broker_client::GrpcBrokerClient;
use nomad_systemd::plugin::proto::goplugin::grpc_stdio_client::GrpcStdioClient;
use rmpv::Value;
use support::plugin::{
    Alloc, COOKIE_KEY, Plugin, cty_object, driver_config, handle_unit, stop, task_unit,
};
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);

fn shell(script: &str) -> Vec<u8> {
    driver_config("/bin/sh", &["-c", script])
}

#[test]
fn without_nomads_cookie_the_plugin_explains_itself_and_exits_1() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .arg("plugin")
        .env_remove(COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nomad task-driver plugin"));
}

#[tokio::test]
async fn the_handshake_names_a_private_socket_that_serves_plugin_info() {
    let plugin = Plugin::launch();
    assert!(
        plugin.handshake.ends_with("|grpc|\n"),
        "{}",
        plugin.handshake
    );
    let mode = std::fs::metadata(&plugin.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut conn = plugin.connect().await;
    let info = conn
        .base
        .plugin_info(base_pb::PluginInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.r#type, base_pb::PluginType::Driver as i32);
    assert_eq!(info.plugin_api_versions, ["v0.1.0"]);
    assert_eq!(info.name, "systemd");
    assert_eq!(info.plugin_version.split('.').count(), 3);
    let schema = conn
        .base
        .config_schema(base_pb::ConfigSchemaRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.spec.is_some());

    // go-plugin's side services: health says "plugin" is serving; stdio and broker streams
    // open and stay silent.
    let mut health = tonic_health::pb::health_client::HealthClient::new(conn.channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let mut stdio = GrpcStdioClient::new(conn.channel.clone())
        .stream_stdio(())
        .await
        .unwrap()
        .into_inner();
    let (_broker_tx, broker_rx) = tokio::sync::mpsc::channel::<goplugin_pb::ConnInfo>(1);
    let mut broker = GrpcBrokerClient::new(conn.channel.clone())
        .start_stream(tokio_stream::wrappers::ReceiverStream::new(broker_rx))
        .await
        .unwrap()
        .into_inner();
    let quiet = Duration::from_millis(200);
    assert!(tokio::time::timeout(quiet, stdio.message()).await.is_err());
    assert!(tokio::time::timeout(quiet, broker.message()).await.is_err());
    // Every stderr line is hclog JSON with string reserved keys.
    let stderr = plugin.stderr();
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        for key in ["@level", "@message", "@timestamp", "@module"] {
            assert!(v[key].is_string(), "{key} in {line}");
        }
    }
}

#[tokio::test]
async fn validation_launch_has_no_effect_and_the_real_config_makes_the_driver_healthy() {
    let plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    // As Nomad's loader encodes an agent config with nils, a compact int and a numeric string
    // for attributes the schema does not have (ignored, as Go drivers ignore them).
    let config = cty_object(&[
        ("allow_root", Value::Nil),
        ("bus", Value::from("system")),
        ("default_user", Value::Nil),
        ("enabled", Value::from(true)),
        ("extra_number", Value::from(300)),
        ("extra_string_number", Value::from("42")),
        ("slice", Value::Nil),
    ]);
    for _ in 0..2 {
        conn.set_config(config.clone(), None).await.unwrap();
    }
    let mut stream = conn
        .driver
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.health, HealthState::Undetected as i32);
    let err = conn
        .start(Alloc::new("web").task_config(shell("true")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");

    conn.set_config(config, support::plugin::nomad_config())
        .await
        .unwrap();
    let mut stream = conn
        .driver
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner();
    let healthy = tokio::time::timeout(SHORT, stream.message())
        .await
        .expect("the first fingerprint comes at once")
        .unwrap()
        .unwrap();
    assert_eq!(healthy.health, HealthState::Healthy as i32, "{healthy:?}");
    assert!(healthy.attributes.contains_key("driver.systemd.version"));
    assert!(healthy.attributes.contains_key("driver.systemd.cgroup"));
    // The stream stays open: nothing more arrives soon, and it has not ended.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stream.message())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn bad_plugin_configs_are_refused_with_the_setting_named() {
    let plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    for (bytes, setting) in [
        (cty_object(&[("bus", Value::from("session"))]), "bus"),
        (cty_object(&[("enabled", Value::from("yes"))]), "enabled"),
        (vec![0x85, 0xa3, b'b', b'u'], "msgpack"),
    ] {
        let err = conn.set_config(bytes, None).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(setting), "{err}");
    }
}

#[tokio::test]
async fn a_task_logs_to_nomads_fifos_takes_signals_and_stops_with_the_signal_given() {
    let (plugin, mut conn) = Plugin::configured().await;
    let engine = support::engine().await;
    let alloc = Alloc::new("web");
    let task = alloc.task_config(shell(
        "trap 'echo got-hup' HUP; echo hello-out; echo hello-err >&2; \
         echo ready > /alloc/ready; while :; do sleep 0.1; done",
    ));
    let id = task.id.clone();
    let handle = conn.start(task.clone()).await.unwrap();
    assert!(handle.version >= 1);
    assert_eq!(
        handle.config.as_ref().unwrap(),
        &task,
        "the handle echoes the TaskConfig"
    );
    let unit = handle_unit(&handle);
    alloc.wait_for_stdout("hello-out", SHORT);
    alloc.wait_for_stderr("hello-err", SHORT);
    support::wait_for_file(&alloc.path("alloc/ready"), support::READY);

    conn.driver
        .signal_task(pb::SignalTaskRequest {
            task_id: id.clone(),
            signal: "SIGHUP".into(),
        })
        .await
        .unwrap();
    alloc.wait_for_stdout("got-hup", SHORT);

    let inspect = conn
        .driver
        .inspect_task(pb::InspectTaskRequest {
            task_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(inspect.state, pb::TaskState::Running as i32);
    assert!(inspect.started_at.unwrap().seconds > 0);
    assert!(inspect.completed_at.unwrap().seconds < 0, "Go's zero time");
    assert!(inspect.result.is_some());

    let waiter = conn.wait_in_background(&id);
    stop(&mut conn.driver, &id, "SIGTERM", 5).await.unwrap();
    let waited = waiter.await.unwrap();
    let result = waited.result.unwrap();
    assert_eq!(
        (result.exit_code, result.signal),
        (143, 15),
        "{}",
        waited.err
    );
    // WaitTask after the exit answers at once, as often as asked.
    for _ in 0..2 {
        let again = tokio::time::timeout(SHORT, conn.wait(&id)).await.unwrap();
        assert_eq!(again.result.unwrap().signal, 15);
    }
    conn.destroy(&id).await;
    support::assert_no_unit(&engine, &unit).await;
    let gone = conn
        .driver
        .wait_task(pb::WaitTaskRequest { task_id: id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    drop(plugin);
}

#[tokio::test]
async fn stop_without_a_signal_sends_sigint_and_kills_after_the_timeout() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("stubborn");
    let task = alloc.task_config(shell(
        "trap 'echo got-int' INT; trap '' TERM; echo ready > /alloc/ready; \
         while :; do sleep 0.1; done",
    ));
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    support::wait_for_file(&alloc.path("alloc/ready"), support::READY);
    let started = Instant::now();
    stop(&mut conn.driver, &id, "", 1).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    alloc.wait_for_stdout("got-int", SHORT);
    let result = conn.wait(&id).await.result.unwrap();
    assert_eq!((result.exit_code, result.signal), (137, 9));
    conn.destroy(&id).await;
}

#[tokio::test]
async fn exit_codes_come_back_through_wait_task() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("batch");
    let task = alloc.task_config(shell("echo done; exit 3"));
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let waited = conn.wait(&id).await;
    assert_eq!(waited.result.unwrap().exit_code, 3);
    assert!(waited.err.is_empty());
    alloc.wait_for_stdout("done", SHORT);
    conn.destroy(&id).await;
    // DestroyTask of a forgotten task is not an error: Nomad ignores it and retries cleanup.
    conn.destroy(&id).await;
}

#[tokio::test]
async fn the_task_runs_as_the_default_user_with_nomads_directories() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("who");
    let task = alloc.task_config(shell(
        "echo \"$(id -un) $PWD $NOMAD_TASK_DIR\" > /alloc/who; ls /local /secrets >/dev/null",
    ));
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    assert_eq!(conn.wait(&id).await.result.unwrap().exit_code, 0);
    let who = std::fs::read_to_string(alloc.path("alloc/who")).unwrap();
    assert_eq!(who.trim(), "nobody /local /local");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn task_stats_stream_samples_with_every_part_set() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("busy");
    let task = alloc.task_config(shell("while :; do :; done"));
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let mut stream = conn
        .driver
        .task_stats(pb::TaskStatsRequest {
            task_id: id.clone(),
            collection_interval: Some(prost_types::Duration {
                seconds: 0,
                nanos: 200_000_000,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let started = Instant::now();
    let mut last = None;
    for _ in 0..4 {
        let sample = stream.message().await.unwrap().unwrap().stats.unwrap();
        assert!(sample.timestamp.is_some());
        last = sample.agg_resource_usage;
    }
    // The first sample comes at once and the next on the shared 200 ms tick, which may be
    // right after it; the last two are a full interval apart each.
    assert!(started.elapsed() >= Duration::from_millis(380));
    let usage = last.unwrap();
    let cpu = usage.cpu.unwrap();
    assert!(
        cpu.measured_fields
            .contains(&(pb::cpu_usage::Fields::Percent as i32))
    );
    assert!(cpu.percent > 10.0, "a busy loop uses CPU: {cpu:?}");
    assert!(
        cpu.total_ticks > 0.0,
        "ticks from the configured topology: {cpu:?}"
    );
    assert!(usage.memory.is_some());
    conn.destroy(&id).await;
}

#[tokio::test]
async fn meta_keys_with_dots_reach_the_task_as_nomads_exec_passes_them() {
    // Routing of the task events installed units raise for left-out variables:
    // tests/fidelity_env.rs::an_installed_unit_leaves_out_what_systemd_refuses_and_says_so.
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("meta");
    let mut task = alloc.task_config(shell("cat /proc/$$/environ > /alloc/m"));
    task.env
        .insert("NOMAD_META_release.channel".into(), "beta".into());
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    conn.wait(&id).await;
    let env = std::fs::read(alloc.path("alloc/m")).unwrap();
    assert!(
        env.split(|&b| b == 0)
            .any(|e| e == b"NOMAD_META_release.channel=beta"),
        "{}",
        String::from_utf8_lossy(&env)
    );
    conn.destroy(&id).await;
}

#[tokio::test]
async fn after_kill_9_a_new_plugin_recovers_running_and_exited_tasks() {
    let engine = support::engine().await;
    let (mut plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("survivor");
    let long = alloc.task_config(shell(
        "echo ready > /alloc/long; while :; do sleep 0.1; done",
    ));
    let short = alloc.task_config(shell(
        "while [ ! -e /alloc/go ]; do sleep 0.05; done; exit 7",
    ));
    let long_handle = conn.start(long.clone()).await.unwrap();
    let short_handle = conn.start(short.clone()).await.unwrap();
    support::wait_for_file(&alloc.path("alloc/long"), support::READY);

    plugin.kill_9();
    // The second task exits while no plugin runs.
    std::fs::write(alloc.path("alloc/go"), "").unwrap();
    let short_unit = handle_unit(&short_handle);
    engine.wait(&short_unit).await.unwrap();

    let (_plugin, mut conn) = Plugin::configured().await;
    for handle in [&long_handle, &short_handle] {
        for _ in 0..2 {
            // Nomad never sets task_id; a repeated recover of a tracked task is a success.
            conn.driver
                .recover_task(pb::RecoverTaskRequest {
                    task_id: String::new(),
                    handle: Some(handle.clone()),
                })
                .await
                .unwrap();
        }
    }
    assert_eq!(conn.wait(&short.id).await.result.unwrap().exit_code, 7);
    let inspect = conn
        .driver
        .inspect_task(pb::InspectTaskRequest {
            task_id: long.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inspect.task.unwrap().state, pb::TaskState::Running as i32);
    stop(&mut conn.driver, &long.id, "SIGKILL", 5)
        .await
        .unwrap();
    assert_eq!(conn.wait(&long.id).await.result.unwrap().signal, 9);
    for id in [&long.id, &short.id] {
        conn.destroy(id).await;
    }
    support::assert_no_unit(&engine, &handle_unit(&long_handle)).await;
}

#[tokio::test]
async fn recovering_a_task_whose_unit_is_gone_is_a_specific_error() {
    let engine = support::engine().await;
    let (mut plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("lost");
    let task = alloc.task_config(shell("exit 0"));
    let handle = conn.start(task.clone()).await.unwrap();
    conn.wait(&task.id).await;
    plugin.kill_9();
    engine.destroy(&handle_unit(&handle)).await.unwrap();
    let (_plugin, mut conn) = Plugin::configured().await;
    let err = conn
        .driver
        .recover_task(pb::RecoverTaskRequest {
            task_id: String::new(),
            handle: Some(handle),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("no longer exists"), "{err}");
}

#[tokio::test]
async fn a_second_connection_sees_the_same_plugin_and_tasks() {
    let (plugin, mut first) = Plugin::configured().await;
    let alloc = Alloc::new("shared");
    let task = alloc.task_config(shell("exit 5"));
    first.start(task.clone()).await.unwrap();
    drop(first);
    // An agent that crashed reconnects without SetConfig.
    let mut second = plugin.connect().await;
    assert_eq!(second.wait(&task.id).await.result.unwrap().exit_code, 5);
    second.destroy(&task.id).await;
}

#[tokio::test]
async fn hostile_requests_get_clear_errors_and_leave_no_unit() {
    let engine = support::engine().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("hostile");
    let cases: Vec<(&str, pb::TaskConfig, Code, &str)> = vec![
        (
            "garbage msgpack",
            alloc.task_config(vec![0x85, 0xa7, b'c']),
            Code::InvalidArgument,
            "msgpack",
        ),
        (
            "args of the wrong type",
            alloc.task_config(cty_object(&[
                ("command", Value::from("/bin/true")),
                ("args", Value::from(5)),
            ])),
            Code::InvalidArgument,
            "args",
        ),
        (
            "no command",
            alloc.task_config(cty_object(&[("command", Value::Nil)])),
            Code::InvalidArgument,
            "command",
        ),
        (
            "a negative oom_score_adj",
            alloc.task_config(cty_object(&[
                ("command", Value::from("/bin/true")),
                ("oom_score_adj", Value::from(-500)),
            ])),
            Code::InvalidArgument,
            "oom_score_adj",
        ),
        (
            "root without the operator's permission",
            pb::TaskConfig {
                user: "root".into(),
                ..alloc.task_config(shell("true"))
            },
            Code::InvalidArgument,
            "allow_root",
        ),
        (
            "an environment name no process can hold",
            {
                let mut t = alloc.task_config(shell("true"));
                t.env.insert("BAD=NAME".into(), "x".into());
                t
            },
            Code::InvalidArgument,
            "BAD=NAME",
        ),
        (
            "an unknown user",
            pb::TaskConfig {
                user: "no-such-user-here".into(),
                ..alloc.task_config(shell("true"))
            },
            Code::InvalidArgument,
            "no-such-user-here",
        ),
    ];
    for (what, task, code, mentions) in cases {
        let unit = task_unit(&task);
        let err = conn.start(task).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {err}");
        assert!(err.message().contains(mentions), "{what}: {err}");
        support::assert_no_unit(&engine, &unit).await;
    }

    for (what, result) in [
        (
            "WaitTask",
            conn.driver
                .wait_task(pb::WaitTaskRequest {
                    task_id: "nope".into(),
                })
                .await
                .map(drop),
        ),
        (
            "StopTask",
            conn.driver
                .stop_task(pb::StopTaskRequest {
                    task_id: "nope".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "SignalTask",
            conn.driver
                .signal_task(pb::SignalTaskRequest {
                    task_id: "nope".into(),
                    signal: "SIGHUP".into(),
                })
                .await
                .map(drop),
        ),
        (
            "InspectTask",
            conn.driver
                .inspect_task(pb::InspectTaskRequest {
                    task_id: "nope".into(),
                })
                .await
                .map(drop),
        ),
    ] {
        assert_eq!(result.unwrap_err().code(), Code::NotFound, "{what}");
    }

    let task = alloc.task_config(shell("sleep 30"));
    conn.start(task.clone()).await.unwrap();
    let twice = conn.start(task.clone()).await.unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists, "{twice}");
    // An unknown signal name is SIGINT, as Nomad's exec driver sends it (tests/fidelity.rs).
    conn.driver
        .signal_task(pb::SignalTaskRequest {
            task_id: task.id.clone(),
            signal: "SIGNOPE".into(),
        })
        .await
        .expect("an unknown signal falls back to SIGINT");
    conn.destroy(&task.id).await;
}

#[tokio::test]
async fn shutdown_ends_the_process_within_two_seconds_and_removes_the_socket() {
    let (mut plugin, mut conn) = Plugin::configured().await;
    // A long-lived stream is open, as Nomad's Fingerprint always is.
    let _stream = conn
        .driver
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap();
    conn.controller
        .shutdown(goplugin_pb::Empty {})
        .await
        .unwrap();
    assert!(plugin.exited_within(Duration::from_secs(2)));
    assert!(!plugin.socket.exists());
}

#[tokio::test]
async fn without_systemd_on_the_bus_the_driver_is_undetected_and_starts_are_retryable() {
    let plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    // Root in the sandbox has no user manager, so the user bus has no systemd to answer.
    conn.set_config(
        cty_object(&[("bus", Value::from("user"))]),
        support::plugin::nomad_config(),
    )
    .await
    .unwrap();
    let fingerprint = conn.first_fingerprint().await;
    assert_eq!(fingerprint.health, HealthState::Undetected as i32);
    assert!(
        fingerprint.health_description.contains("user bus"),
        "{}",
        fingerprint.health_description
    );
    let err = conn
        .start(Alloc::new("later").task_config(shell("true")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    // Nomad restarts the task only if this detail says so.
    let details =
        <nomad_systemd::plugin::proto::rpc::Status as prost::Message>::decode(err.details())
            .unwrap();
    assert_eq!(details.code, Code::FailedPrecondition as i32);
    assert!(
        details.details[0]
            .type_url
            .ends_with("shared.structs.RecoverableError")
    );
}

#[tokio::test]
async fn a_task_config_larger_than_grpcs_default_limit_is_read() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("big");
    // 5 MiB of config: over tonic's 4 MiB default, far under go-plugin's 2 GiB.
    let config = cty_object(&[
        ("command", Value::Nil),
        ("args", Value::Array(vec![Value::from("x".repeat(5 << 20))])),
    ]);
    let err = conn.start(alloc.task_config(config)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("command"), "{err}");
}

#[tokio::test]
async fn a_plugin_whose_agent_died_keeps_serving_although_it_cannot_log() {
    let mut plugin = Plugin::launch_orphaned();
    let mut conn = plugin.connect().await;
    conn.set_config(Vec::new(), support::plugin::nomad_config())
        .await
        .unwrap();
    let alloc = Alloc::new("orphan");
    let task = alloc.task_config(shell("exit 4"));
    // Starting and destroying log lines, into a pipe nobody reads any more.
    conn.start(task.clone()).await.unwrap();
    assert_eq!(conn.wait(&task.id).await.result.unwrap().exit_code, 4);
    conn.destroy(&task.id).await;
    assert!(plugin.is_running());
}

#[tokio::test]
async fn the_socket_goes_where_go_plugin_says() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::launch_with_socket_dir(dir.path());
    assert_eq!(plugin.socket.parent(), Some(dir.path()));
    plugin.connect().await;
}

#[tokio::test]
async fn a_job_with_logs_disabled_writes_to_dev_null() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("quiet");
    let task = pb::TaskConfig {
        stdout_path: "/dev/null".into(),
        stderr_path: "/dev/null".into(),
        ..alloc.task_config(shell("echo nobody reads this; echo nor this >&2"))
    };
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    assert_eq!(conn.wait(&id).await.result.unwrap().exit_code, 0);
    conn.destroy(&id).await;
}

#[tokio::test]
async fn journald_logging_sends_output_to_the_journal_and_none_to_nomad() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("journaled");
    let config = cty_object(&[
        (
            "args",
            Value::Array(vec!["-c".into(), "echo to-the-journal".into()]),
        ),
        ("command", Value::from("/bin/sh")),
        (
            "logging",
            Value::Map(vec![("driver".into(), "journald".into())]),
        ),
    ]);
    let task = alloc.task_config(config);
    let id = task.id.clone();
    let handle = conn.start(task).await.unwrap();
    assert_eq!(conn.wait(&id).await.result.unwrap().exit_code, 0);
    let unit = handle_unit(&handle).to_string();
    let deadline = Instant::now() + SHORT;
    loop {
        let logs = support::cli(&["logs", &unit]).stdout();
        if logs.contains("to-the-journal") {
            break;
        }
        assert!(Instant::now() < deadline, "not in the journal: {logs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    conn.destroy(&id).await;
    assert!(!alloc.has_stdout(), "Nomad's FIFO received output");
}

#[tokio::test]
async fn a_task_whose_logs_nobody_reads_never_blocks_the_plugin() {
    use std::os::unix::fs::OpenOptionsExt;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("flood");
    let fifo = alloc.path("alloc/logs/stalled.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // A reader that is there but never reads: the pipe fills and the task blocks in write().
    let _stalled = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let task = pb::TaskConfig {
        stdout_path: fifo.display().to_string(),
        ..alloc.task_config(shell("while :; do echo flooding-the-log-with-lines; done"))
    };
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The plugin is not in the log path, so it answers at once and starts other tasks.
    let started = Instant::now();
    let other = alloc.task_config(shell("exit 0"));
    conn.start(other.clone()).await.unwrap();
    assert_eq!(conn.wait(&other.id).await.result.unwrap().exit_code, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    stop(&mut conn.driver, &id, "SIGTERM", 1).await.unwrap();
    assert!(conn.wait(&id).await.result.unwrap().signal > 0);
    conn.destroy(&id).await;
    conn.destroy(&other.id).await;
}
