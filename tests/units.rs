//! Installed and template units run as Nomad tasks, through the plugin's gRPC, against the
//! sandboxed real systemd: the unit files are written into its runtime unit directory.

mod support;

use std::time::Duration;

use nomad_systemd::core::UnitName;
use nomad_systemd::plugin::proto::driver as pb;
use rmpv::Value;
use support::plugin::{Alloc, Plugin, cty_object, handle_unit, stop, strings, unit_config};
use support::units::{active_state, dropin_file, install, systemctl};

const SHORT: Duration = Duration::from_secs(15);

/// A template whose instances print their Nomad port, then a numbered tick every 100 ms,
/// restart themselves (unless Nomad says otherwise) and exit 7 on SIGTERM.
const TICKER: &str = "[Unit]\nDescription=ticker %i\n[Service]\n\
    ExecStart=/bin/sh -c 'trap \"echo got-term; exit 7\" TERM; echo \"port=$${NOMAD_PORT_http}\"; \
    i=0; while :; do i=$$((i+1)); echo \"tick $$i\"; sleep 0.1; done'\n\
    Restart=always\n";

fn with_port(mut task: pb::TaskConfig, port: &str) -> pb::TaskConfig {
    task.env.insert("NOMAD_PORT_http".into(), port.into());
    task
}

#[tokio::test]
async fn template_instances_run_side_by_side_and_stop_with_nomads_signal() {
    install(&[("nst-web@.service", TICKER)]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nst-web@.service"]))]).await;
    let (a, b) = (Alloc::new("web"), Alloc::new("web"));
    let ta = with_port(a.task_config(unit_config("nst-web@.service")), "8001");
    let tb = with_port(b.task_config(unit_config("nst-web@.service")), "8002");
    let ha = conn.start(ta.clone()).await.unwrap();
    let hb = conn.start(tb.clone()).await.unwrap();
    let (ua, ub) = (handle_unit(&ha), handle_unit(&hb));
    assert_eq!(ua.template().as_deref(), Some("nst-web@.service"));
    assert!(ua.as_str().contains(&a.id[..8]), "{ua}");
    // Each instance has its own Nomad port, and its stdout reaches its own FIFO.
    a.wait_for_stdout("port=8001", SHORT);
    b.wait_for_stdout("port=8002", SHORT);
    a.wait_for_stdout("tick 3", SHORT);
    assert!(dropin_file(ua.as_str()).exists());
    assert_eq!(systemctl(&["show", "-P", "Restart", ua.as_str()]), "no");

    let listed: Vec<UnitName> = support::engine()
        .await
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.unit)
        .collect();
    assert!(listed.contains(&ua) && listed.contains(&ub), "{listed:?}");

    stop(&mut conn.driver, &ta.id, "SIGTERM", 5).await.unwrap();
    let result = conn.wait(&ta.id).await.result.unwrap();
    assert_eq!((result.exit_code, result.signal), (7, 0));
    a.wait_for_stdout("got-term", SHORT);
    // Restart=no held: the stopped instance stays down while the other runs on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ne!(active_state(ua.as_str()), "activating");
    assert_eq!(active_state(ub.as_str()), "active");

    conn.destroy(&ta.id).await;
    conn.destroy(&tb.id).await;
    for unit in [&ua, &ub] {
        assert!(
            !dropin_file(unit.as_str()).exists(),
            "{unit}'s drop-in is left"
        );
        assert_eq!(active_state(unit.as_str()), "inactive");
    }
}

#[tokio::test]
async fn a_restarted_plugin_recovers_an_instance_and_repeats_no_log_line() {
    install(&[("nst-rec@.service", TICKER)]);
    let (mut plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nst-rec@*"]))]).await;
    let alloc = Alloc::new("rec");
    let task = with_port(alloc.task_config(unit_config("nst-rec@.service")), "8003");
    let handle = conn.start(task.clone()).await.unwrap();
    let unit = handle_unit(&handle);
    alloc.wait_for_stdout("tick 5", SHORT);
    plugin.kill_9();

    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nst-rec@*"]))]).await;
    conn.recover(&task.id, handle).await.expect("RecoverTask");
    let seen = alloc.wait_for_stdout("tick 25", SHORT);
    let ticks: Vec<&str> = seen.lines().filter(|l| l.starts_with("tick ")).collect();
    let expected: Vec<String> = (1..=ticks.len()).map(|i| format!("tick {i}")).collect();
    assert_eq!(ticks, expected, "lines lost or repeated across the restart");
    assert_eq!(seen.matches("port=8003").count(), 1);

    conn.destroy(&task.id).await;
    assert!(!dropin_file(unit.as_str()).exists());
    assert_eq!(active_state(unit.as_str()), "inactive");
    // The journal followers (units of their own) went with the task.
    let pattern = format!("nomad-{}*", &alloc.id[..8]);
    let left = systemctl(&["list-units", "--all", "--plain", "--no-legend", &pattern]);
    assert!(left.is_empty(), "{left}");
}

#[tokio::test]
async fn a_unit_the_operator_did_not_allow_or_that_runs_already_is_refused_and_untouched() {
    install(&[
        ("nst-other.service", "[Service]\nExecStart=/bin/sleep 300\n"),
        ("nst-busy.service", "[Service]\nExecStart=/bin/sleep 300\n"),
    ]);
    systemctl(&["start", "nst-busy.service"]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nst-busy.service", "*journald*"]))])
            .await;
    let alloc = Alloc::new("deny");

    let not_allowed = conn
        .start(alloc.task_config(unit_config("nst-other.service")))
        .await
        .unwrap_err();
    assert!(
        not_allowed.message().contains("allow_units"),
        "{not_allowed:?}"
    );
    assert_eq!(active_state("nst-other.service"), "inactive");

    let journald = conn
        .start(alloc.task_config(unit_config("systemd-journald.service")))
        .await
        .unwrap_err();
    assert!(journald.message().contains("always denied"), "{journald:?}");

    let pid_before = systemctl(&["show", "-P", "MainPID", "nst-busy.service"]);
    let busy = conn
        .start(alloc.task_config(unit_config("nst-busy.service")))
        .await
        .unwrap_err();
    assert!(busy.message().contains("already running"), "{busy:?}");
    assert_eq!(active_state("nst-busy.service"), "active");
    assert_eq!(
        systemctl(&["show", "-P", "MainPID", "nst-busy.service"]),
        pid_before
    );
    let busy_unit = UnitName::parse("nst-busy.service").unwrap();
    assert!(!dropin_file(busy_unit.as_str()).exists());
    assert!(
        !dropin_file(
            UnitName::parse("systemd-journald.service")
                .unwrap()
                .as_str()
        )
        .exists()
    );
    systemctl(&["stop", "nst-busy.service"]);
}

#[tokio::test]
async fn a_timer_unit_starts_reports_running_and_stops() {
    install(&[
        (
            "nst-tick.service",
            "[Service]\nType=oneshot\nExecStart=/bin/true\n",
        ),
        ("nst-tick.timer", "[Timer]\nOnActiveSec=1h\n"),
    ]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nst-tick.timer"]))]).await;
    let alloc = Alloc::new("timer");
    let task = alloc.task_config(unit_config("nst-tick.timer"));
    conn.start(task.clone()).await.unwrap();
    assert_eq!(active_state("nst-tick.timer"), "active");
    let status = conn
        .driver
        .inspect_task(pb::InspectTaskRequest {
            task_id: task.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(status.state, pb::TaskState::Running as i32);
    stop(&mut conn.driver, &task.id, "", 5).await.unwrap();
    let result = conn.wait(&task.id).await.result.unwrap();
    assert_eq!(result.exit_code, 0);
    conn.destroy(&task.id).await;
    assert_eq!(active_state("nst-tick.timer"), "inactive");
}

#[tokio::test]
async fn logging_driver_both_reaches_the_journal_and_nomad() {
    let (_plugin, mut conn) = Plugin::configured_with(&[("allow_units", strings(&[]))]).await;
    let alloc = Alloc::new("both");
    let config = cty_object(&[
        ("command", Value::from("/bin/sh")),
        (
            "args",
            Value::Array(vec![
                "-c".into(),
                "echo both-out; echo both-err >&2; sleep 30".into(),
            ]),
        ),
        (
            "logging",
            Value::Map(vec![("driver".into(), "both".into())]),
        ),
    ]);
    let task = alloc.task_config(config);
    let handle = conn.start(task.clone()).await.unwrap();
    let unit = handle_unit(&handle);
    alloc.wait_for_stdout("both-out", SHORT);
    alloc.wait_for_stderr("both-err", SHORT);
    let journal = std::process::Command::new("journalctl")
        .args(["--no-pager", "-o", "cat", &format!("_SYSTEMD_UNIT={unit}")])
        .output()
        .unwrap();
    let journal = String::from_utf8_lossy(&journal.stdout);
    assert!(
        journal.contains("both-out") && journal.contains("both-err"),
        "{journal}"
    );
    conn.destroy(&task.id).await;
}

#[tokio::test]
async fn the_cli_runs_a_template_instance_by_hand_and_stop_removes_the_drop_in() {
    install(&[("nst-cli@.service", TICKER)]);
    let run = support::cli(&[
        "run",
        "--unit",
        "nst-cli@.service",
        "--unit-instance",
        "one",
        "-e",
        "NOMAD_PORT_http=9001",
    ]);
    let unit = UnitName::parse(run.ok().trim()).unwrap();
    assert_eq!(unit.as_str(), "nst-cli@one.service");
    assert_eq!(active_state(unit.as_str()), "active");
    let env = systemctl(&["show", "-P", "Environment", unit.as_str()]);
    assert!(env.contains("NOMAD_PORT_http=9001"), "{env}");
    support::cli(&["stop", unit.as_str()]).ok();
    assert!(!dropin_file(unit.as_str()).exists());
    assert_eq!(active_state(unit.as_str()), "inactive");
    let denied = support::cli(&["run", "--unit", "systemd-journald.service"]);
    assert_eq!(denied.code(), 1);
    assert!(
        denied.stderr().contains("always denied"),
        "{}",
        denied.stderr()
    );
}

#[tokio::test]
async fn an_exec_into_a_template_instance_sees_its_environment_and_returns_its_exit_code() {
    // Run as nobody: an exec into a unit running as root would need allow_root.
    let ticker = TICKER.replace("[Service]\n", "[Service]\nUser=nobody\n");
    install(&[("nst-exec@.service", &ticker)]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nst-exec@.service"]))]).await;
    let alloc = Alloc::new("exec");
    let task = with_port(alloc.task_config(unit_config("nst-exec@.service")), "8005");
    let handle = conn.start(task.clone()).await.unwrap();
    let unit = handle_unit(&handle);
    alloc.wait_for_stdout("tick 1", SHORT);
    let report = "echo port=$NOMAD_PORT_http alloc=$NOMAD_ALLOC_ID; echo oops >&2; exit 3";
    let response = conn
        .exec(
            &task.id,
            &["/bin/sh", "-c", report],
            Some(Duration::from_secs(10)),
        )
        .await
        .expect("ExecTask");
    let stdout = String::from_utf8_lossy(&response.stdout);
    assert_eq!(stdout, format!("port=8005 alloc={}\n", alloc.id));
    assert_eq!(String::from_utf8_lossy(&response.stderr), "oops\n");
    let result = response.result.expect("an exit result");
    assert_eq!(result.exit_code, 3);
    // The instance ran on, untouched by the exec.
    assert_eq!(active_state(unit.as_str()), "active");
    conn.destroy(&task.id).await;
    assert_eq!(active_state(unit.as_str()), "inactive");
}
