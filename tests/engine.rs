//! The core engine against a real systemd: each test pins one behaviour a Nomad operator
//! relies on.

mod support;

use std::time::{Duration, Instant};

use nomad_systemd::core::standalone::StandaloneTask;
use nomad_systemd::core::systemd::ActiveState;
use nomad_systemd::core::{Error, Output, Signal, Stdio, TaskState};
use support::*;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn exit_codes_are_reported_exactly() {
    let engine = engine().await;
    for code in [0, 7] {
        let (spec, _root) = shell_task("exits", &format!("exit {code}"));
        let started = engine.start(&spec, Stdio::Journal).await.unwrap();
        let exit = engine.wait(&started.unit).await.unwrap();
        assert_eq!(
            (exit.exit_code, exit.signal, exit.oom_killed),
            (code, 0, false)
        );
        engine.destroy(&started.unit).await.unwrap();
    }
}

#[tokio::test]
async fn death_by_sigkill_reports_the_signal_and_128_plus_signo() {
    let engine = engine().await;
    let (spec, _root) = shell_task("killed", "kill -9 $$");
    let exit = run_to_exit(&engine, &spec).await;
    assert_eq!((exit.signal, exit.exit_code), (9, 137));
}

#[tokio::test]
async fn wait_returns_at_once_and_repeatedly_for_an_exited_task() {
    let engine = engine().await;
    let (spec, _root) = shell_task("waited", "exit 3");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let first = engine.wait(&started.unit).await.unwrap();
    let t = Instant::now();
    let second = engine.wait(&started.unit).await.unwrap();
    assert_eq!(first, second);
    assert!(t.elapsed() < SECOND);
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn stop_honours_sigterm_and_reports_it() {
    let engine = engine().await;
    let (spec, _root) = shell_task("sleeper", "exec sleep 300");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let t = Instant::now();
    let exit = engine
        .stop(&started.unit, Signal::TERM, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!((exit.signal, exit.exit_code), (15, 143));
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn stop_kills_a_task_that_ignores_sigterm_after_the_timeout() {
    let engine = engine().await;
    let (spec, _root) = shell_task(
        "stubborn",
        "trap '' TERM; echo ready > /alloc/ready; while :; do sleep 0.1; done",
    );
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    wait_for_file(&alloc_dir(&spec).join("ready"), support::READY);
    let t = Instant::now();
    let exit = engine
        .stop(&started.unit, Signal::TERM, SECOND)
        .await
        .unwrap();
    let took = t.elapsed();
    assert!(
        took >= SECOND && took < Duration::from_secs(8),
        "stop took {took:?}: {exit:?}"
    );
    assert_eq!(exit.signal, 9);
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn stop_uses_the_tasks_own_kill_signal_by_default() {
    let engine = engine().await;
    let root = tempfile::tempdir().unwrap();
    let spec = StandaloneTask {
        name: Some("interrupted".into()),
        command: "/bin/sleep".into(),
        args: vec!["300".into()],
        alloc_dir_root: Some(root.path().into()),
        kill_signal: Some(Signal::INT),
        ..Default::default()
    }
    .build()
    .unwrap();
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let exit = engine
        .stop_with_defaults(&started.unit, None, None)
        .await
        .unwrap();
    assert_eq!(exit.signal, Signal::INT.number());
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn signals_reach_the_task() {
    let engine = engine().await;
    let (spec, _root) = shell_task(
        "trapper",
        "trap 'echo got-usr1 > /alloc/usr1' USR1; echo ready > /alloc/ready; \
         while :; do sleep 0.1; done",
    );
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    wait_for_file(&alloc_dir(&spec).join("ready"), support::READY);
    engine
        .signal(&started.unit, "SIGUSR1".parse().unwrap())
        .await
        .unwrap();
    let text = wait_for_file(&alloc_dir(&spec).join("usr1"), support::READY);
    assert_eq!(text.trim(), "got-usr1");
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn task_sees_its_env_nomad_vars_and_task_dirs() {
    let engine = engine().await;
    let root = tempfile::tempdir().unwrap();
    let spec = StandaloneTask {
        name: Some("envy".into()),
        command: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "test -d /alloc && test -d /local && test -d /secrets && \
             echo \"$FOO|$NOMAD_TASK_NAME|$NOMAD_ALLOC_ID|$NOMAD_TASK_DIR|$(pwd)|$1\" > /alloc/env"
                .into(),
            "argv0".into(),
            "$FOO".into(),
        ],
        env: vec![("FOO".into(), "bar baz".into())],
        alloc_dir_root: Some(root.path().into()),
        ..Default::default()
    }
    .build()
    .unwrap();
    assert!(run_to_exit(&engine, &spec).await.successful());
    let text = std::fs::read_to_string(alloc_dir(&spec).join("env")).unwrap();
    let expected = format!("bar baz|envy|{}|/local|/local|$FOO\n", spec.alloc_id);
    assert_eq!(text, expected, "arguments must reach the task unexpanded");
}

#[tokio::test]
async fn task_runs_as_the_requested_user() {
    let engine = engine().await;
    let (mut spec, _root) = shell_task("nobody", "id -un > /alloc/user");
    spec.user = Some("nobody".into());
    assert!(run_to_exit(&engine, &spec).await.successful());
    assert_eq!(
        std::fs::read_to_string(alloc_dir(&spec).join("user"))
            .unwrap()
            .trim(),
        "nobody"
    );
}

#[tokio::test]
async fn relative_command_runs_from_local() {
    let engine = engine().await;
    let (mut spec, _root) = shell_task("artifact", "");
    let local = spec.dirs.as_ref().unwrap().local.clone();
    std::fs::create_dir_all(local.join("bin")).unwrap();
    let script = local.join("bin/hello");
    write_executable(&script, "#!/bin/sh\necho \"from $0\" > /alloc/hello\n");
    spec.command = "bin/hello".into();
    spec.args = vec![];
    assert!(run_to_exit(&engine, &spec).await.successful());
    let text = std::fs::read_to_string(alloc_dir(&spec).join("hello")).unwrap();
    assert_eq!(text.trim(), "from /local/bin/hello");
}

#[tokio::test]
async fn stdout_and_stderr_go_to_the_descriptors_given() {
    let engine = engine().await;
    let (spec, root) = shell_task("piped", "echo to-out; echo to-err >&2");
    let (out, err) = (root.path().join("out.log"), root.path().join("err.log"));
    let output = Output::files(&out, &err).unwrap();
    let started = engine.start(&spec, Stdio::To(output)).await.unwrap();
    assert!(engine.wait(&started.unit).await.unwrap().successful());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "to-out\n");
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "to-err\n");
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn output_reaches_a_fifo_whose_reader_is_already_waiting() {
    let engine = engine().await;
    let (spec, root) = shell_task("fifo", "echo through-the-fifo");
    let fifo = root.path().join("stdout.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read_to_string(reader_path).unwrap());
    let writer = loop {
        match Output::files(&fifo, &root.path().join("err.log")) {
            Ok(output) => break output,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let started = engine.start(&spec, Stdio::To(writer)).await.unwrap();
    engine.wait(&started.unit).await.unwrap();
    engine.destroy(&started.unit).await.unwrap();
    assert_eq!(
        reader.join().unwrap(),
        "through-the-fifo\n",
        "the reader sees EOF once the unit is gone"
    );
}

#[tokio::test]
async fn stats_measure_a_busy_task() {
    let engine = engine().await;
    let (spec, _root) = shell_task("busy", "while :; do :; done");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = engine.stats(&started.unit).await.unwrap();
    assert!(stats.cpu_total_ns.unwrap_or(0) > 0, "{stats:?}");
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn destroy_leaves_no_unit_and_is_idempotent() {
    let engine = engine().await;
    let (spec, _root) = shell_task("doomed", "exec sleep 300");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    engine.destroy(&started.unit).await.unwrap();
    assert_no_unit(&engine, &started.unit).await;
    engine.destroy(&started.unit).await.unwrap();

    let (spec, _root) = shell_task("failed", "exit 9");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    engine.wait(&started.unit).await.unwrap();
    engine.destroy(&started.unit).await.unwrap();
    assert_no_unit(&engine, &started.unit).await;
}

#[tokio::test]
async fn list_shows_running_and_exited_tasks() {
    let engine = engine().await;
    let (running, _r1) = shell_task("listed-running", "exec sleep 300");
    let (exited, _r2) = shell_task("listed-exited", "exit 4");
    let a = engine.start(&running, Stdio::Journal).await.unwrap();
    let b = engine.start(&exited, Stdio::Journal).await.unwrap();
    engine.wait(&b.unit).await.unwrap();
    let tasks = engine.list().await.unwrap();
    let find = |u| tasks.iter().find(|t| &t.unit == u).expect("listed");
    assert_eq!(find(&a.unit).task, "listed-running");
    assert_eq!(find(&a.unit).alloc_id, running.alloc_id);
    assert_eq!(find(&a.unit).state, TaskState::Running);
    assert_eq!(find(&b.unit).state, TaskState::Exited);
    let statuses = engine.list_status().await.unwrap();
    let full = |u| statuses.iter().find(|t| &t.unit == u).expect("listed");
    assert!(full(&a.unit).main_pid > 0);
    assert_eq!(full(&b.unit).exit.unwrap().exit_code, 4);
    engine.destroy(&a.unit).await.unwrap();
    engine.destroy(&b.unit).await.unwrap();
}

#[tokio::test]
async fn invalid_configs_are_refused_before_any_unit_exists() {
    let engine = engine().await;
    type Breaker = Box<dyn Fn(&mut nomad_systemd::core::TaskSpec)>;
    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "bad-env",
            Box::new(|s| {
                s.env.insert("A=B".into(), "1".into());
            }),
            "'A=B' has '=' in its name",
        ),
        (
            "no-command",
            Box::new(|s| s.command.clear()),
            "command: is required",
        ),
        (
            "unknown-user",
            Box::new(|s| s.user = Some("no-such-user-xyz".into())),
            "unknown user",
        ),
        (
            "bad-value",
            Box::new(|s| {
                s.env.insert("A".into(), "a\0b".into());
            }),
            "a NUL byte",
        ),
        (
            "bad-cores",
            Box::new(|s| s.resources.cores = "3-1".into()),
            "runs backwards",
        ),
    ];
    for (name, break_it, message) in cases {
        let (mut spec, _root) = shell_task(name, "exit 0");
        break_it(&mut spec);
        let err = engine.start(&spec, Stdio::Journal).await.unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{name}: {err}");
        assert!(err.to_string().contains(message), "{name}: {err}");
        assert_no_unit(&engine, &spec.unit_name()).await;
    }
}

#[tokio::test]
async fn a_command_that_cannot_be_executed_fails_the_start_and_leaves_no_unit() {
    let engine = engine().await;
    let (mut spec, _root) = shell_task("noexec", "");
    spec.command = "/nonexistent/program".into();
    let err = engine.start(&spec, Stdio::Journal).await.unwrap_err();
    assert!(matches!(err, Error::StartFailed { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("could not be executed '/nonexistent/program'"),
        "{err}"
    );
    assert_no_unit(&engine, &spec.unit_name()).await;
}

#[tokio::test]
async fn hostile_task_names_run_under_an_escaped_unit_name() {
    let engine = engine().await;
    let spec = StandaloneTask {
        name: Some("web@evil; rm -rf $HOME".into()),
        command: "/bin/true".into(),
        ..Default::default()
    }
    .build()
    .unwrap();
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    assert!(
        started.unit.as_str().contains("web\\x40evil\\x3b\\x20rm"),
        "{}",
        started.unit
    );
    assert!(engine.wait(&started.unit).await.unwrap().successful());
    let status = engine.status(&started.unit).await.unwrap();
    assert_eq!(status.task, "web@evil; rm -rf $HOME");
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn starting_the_same_run_twice_is_refused() {
    let engine = engine().await;
    let (spec, _root) = shell_task("twice", "exec sleep 300");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let err = engine.start(&spec, Stdio::Journal).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err}");
    assert!(
        engine.status(&started.unit).await.is_ok(),
        "the first run is untouched"
    );
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn signalling_an_exited_task_is_a_specific_error_and_stop_still_reports_its_end() {
    let engine = engine().await;
    let (spec, _root) = shell_task("gone", "exit 5");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    engine.wait(&started.unit).await.unwrap();
    let err = engine
        .signal(&started.unit, Signal::TERM)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchProcess(_)), "{err}");
    let exit = engine
        .stop(&started.unit, Signal::TERM, SECOND)
        .await
        .unwrap();
    assert_eq!(exit.exit_code, 5);
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn a_stop_timeout_too_long_to_represent_waits_without_overflowing() {
    let engine = engine().await;
    let (spec, _root) = shell_task("patient", "exec sleep 300");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let exit = engine
        .stop(&started.unit, Signal::TERM, Duration::MAX)
        .await
        .unwrap();
    assert_eq!(exit.signal, 15);
    engine.destroy(&started.unit).await.unwrap();
}

#[tokio::test]
async fn each_task_runs_in_its_own_slice_which_destroy_removes() {
    let engine = support::engine().await;
    let (spec, _root) = support::shell_task("sliced", "sleep 30");
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    let slice = started.unit.task_slice("system-nomad.slice").unwrap();
    let snapshot = engine.systemd().snapshot(&started.unit).await.unwrap();
    assert_eq!(snapshot.slice, slice.as_str());
    engine
        .status(&slice)
        .await
        .expect("the task's slice is loaded");
    engine.destroy(&started.unit).await.unwrap();
    support::assert_no_unit(&engine, &started.unit).await;
    // Reading a slice by name loads it again, so "gone" shows as inactive and empty.
    let after = engine.systemd().snapshot(&slice).await.unwrap();
    assert_eq!(after.active_state, Some(ActiveState::Inactive));
}

/// A start job that systemd never runs (queued behind another unit's endless start job) fails
/// the start with a timeout instead of hanging it, and leaves no unit that could start later.
#[tokio::test]
async fn a_stuck_start_job_times_out_and_leaves_no_unit() {
    use nomad_systemd::core::{Bus, Engine, EngineOptions};
    let mut options = EngineOptions::for_bus(Bus::System);
    options.start_timeout = Duration::from_secs(3);
    use_driver_loader();
    let engine = Engine::connect(options).await.expect("systemd answers");
    let (spec, _root) = shell_task("stuck", "exec sleep 300");
    let unit = spec.unit_name();
    // A oneshot whose start never finishes, ordered before our unit: our start job waits for it.
    let blocker = format!("blocker-{}.service", std::process::id());
    command_ok(
        "systemd-run",
        &[
            "--no-block",
            &format!("--unit={blocker}"),
            "--property=Type=oneshot",
            &format!("--property=Before={unit}"),
            "/bin/sleep",
            "300",
        ],
    );
    let result = engine.start(&spec, Stdio::Journal).await;
    match result {
        Err(Error::Timeout { action, .. }) => assert_eq!(action, "start"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The job was cancelled: once the blocker is gone, nothing starts and the unit is unloaded.
    let status = engine.status(&unit).await;
    command_ok("systemctl", &["stop", &blocker]);
    let _ = std::process::Command::new("systemctl")
        .args(["reset-failed", &blocker])
        .status();
    assert!(
        matches!(&status, Ok(s) if s.state != TaskState::Running)
            || matches!(status, Err(Error::NotFound(_))),
        "{status:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(engine.status(&unit).await, Err(Error::NotFound(_))) {
        assert!(
            Instant::now() < deadline,
            "{unit} is still loaded: {:?}",
            engine.status(&unit).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
