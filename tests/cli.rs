//! The `nomad-systemd` binary against a real systemd, as an operator uses it.

mod support;

use std::time::Duration;

use nomad_systemd::core::UnitName;
use support::*;

fn unit_of(stdout: &str) -> UnitName {
    UnitName::parse(stdout.trim()).expect("run prints the unit name")
}

#[tokio::test]
async fn run_wait_exits_with_the_tasks_status_and_removes_the_unit() {
    let engine = engine().await;
    let ok = cli(&["run", "--wait", "--", "/bin/true"]);
    assert_eq!(ok.code(), 0, "{}", ok.stderr());
    let failed = cli(&["run", "--wait", "--", "/bin/sh", "-c", "exit 7"]);
    assert_eq!(failed.code(), 7);
    assert!(
        failed.stderr().contains("Finished: exit code 7"),
        "{}",
        failed.stderr()
    );
    let line = failed.stderr().lines().next().unwrap().to_string();
    let unit = UnitName::parse(line.trim_start_matches("Running as unit: ")).unwrap();
    assert_no_unit(&engine, &unit).await;
    // Its own slice goes with it.
    assert_slice_gone(&unit.task_slice("system-nomad.slice").unwrap()).await;
}

#[tokio::test]
async fn run_ps_stats_stop_round_trip() {
    let engine = engine().await;
    let unit = unit_of(
        &cli(&[
            "run",
            "--name",
            "spinner",
            "--task-dir",
            "--memory",
            "64",
            "--",
            "/bin/sh",
            "-c",
            "while :; do :; done",
        ])
        .ok(),
    );

    // The default table shortens unit names to fit 80 columns; --no-trunc shows them whole.
    let ps = cli(&["ps", "--no-trunc"]).ok();
    let row = ps
        .lines()
        .find(|l| l.contains(unit.as_str()))
        .expect("ps lists the unit");
    assert!(row.contains("spinner") && row.contains("running"), "{row}");
    let json: serde_json::Value = serde_json::from_str(&cli(&["ps", "-o", "json"]).ok()).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|t| t["unit"] == unit.as_str())
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats: serde_json::Value =
        serde_json::from_str(&cli(&["stats", unit.as_str(), "-o", "json"]).ok()).unwrap();
    assert!(stats["cpu_total_ns"].as_u64().unwrap_or(0) > 0, "{stats}");
    assert!(cli(&["stats", unit.as_str()]).ok().contains("CPU"));

    let stop = cli(&["stop", unit.as_str()]).ok();
    assert!(stop.contains("killed by SIGTERM (exit code 143)"), "{stop}");
    assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn logs_keep_stdout_and_stderr_apart() {
    let unit = unit_of(
        &cli(&[
            "run",
            "--name",
            "talker",
            "--",
            "/bin/sh",
            "-c",
            "echo to-out; echo to-err >&2; exec sleep 300",
        ])
        .ok(),
    );
    let mut both = cli(&["logs", unit.as_str()]);
    for _ in 0..50 {
        if both.stdout().contains("to-out") && both.stderr().contains("to-err") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        both = cli(&["logs", unit.as_str()]);
    }
    assert_eq!(
        (both.stdout().as_str(), both.stderr().as_str()),
        ("to-out\n", "to-err\n")
    );
    assert_eq!(
        cli(&["logs", "--stderr", unit.as_str()]).output.stderr,
        b"to-err\n"
    );
    let only_out = cli(&["logs", "--stdout", unit.as_str()]);
    assert_eq!(
        (only_out.stdout().as_str(), only_out.stderr().as_str()),
        ("to-out\n", "")
    );
    cli(&["stop", unit.as_str()]).ok();
}

#[tokio::test]
async fn run_writes_output_to_the_files_given() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let (out_arg, err_arg) = (out.to_str().unwrap(), err.to_str().unwrap());
    cli(&[
        "run",
        "--wait",
        "--stdout",
        out_arg,
        "--stderr",
        err_arg,
        "--",
        "/bin/sh",
        "-c",
        "echo o; echo e >&2",
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "o\n");
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "e\n");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_creates_nothing() {
    let engine = engine().await;
    let before = engine.list().await.unwrap().len();
    let bad_env = cli(&["run", "-e", "A-B=1", "--", "/bin/true"]);
    assert_eq!(bad_env.code(), 2);
    assert!(
        bad_env
            .stderr()
            .contains("'A-B' is not a name systemd accepts"),
        "{}",
        bad_env.stderr()
    );

    let no_command = cli(&["run"]);
    assert_eq!(no_command.code(), 1);
    assert!(
        no_command.stderr().contains("CMD: no program to run"),
        "{}",
        no_command.stderr()
    );

    let unknown_user = cli(&["run", "--user", "no-such-user-xyz", "--", "/bin/true"]);
    assert_eq!(unknown_user.code(), 1);
    assert!(
        unknown_user
            .stderr()
            .contains("--user: unknown user 'no-such-user-xyz'"),
        "{}",
        unknown_user.stderr()
    );

    let escaping_name = cli(&[
        "run",
        "--task-dir",
        "--name",
        "../../etc",
        "--",
        "/bin/true",
    ]);
    assert_eq!(escaping_name.code(), 1);
    assert!(
        escaping_name
            .stderr()
            .contains("cannot be used as a directory name"),
        "{}",
        escaping_name.stderr()
    );

    let missing = cli(&["stop", "nomad-nosuch"]);
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr().contains("ps --all"),
        "the error says what to do next: {}",
        missing.stderr()
    );

    let no_signal = cli(&["stop", "--signal", "SIGNOPE", "nomad-nosuch"]);
    assert_eq!(no_signal.code(), 2);

    // Other tests run in parallel, so compare only the units this test could have created.
    let leftovers: Vec<_> = engine
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| ["true", "../../etc"].contains(&t.task.as_str()))
        .collect();
    assert!(
        leftovers.is_empty(),
        "{leftovers:?} (had {before} units before)"
    );
}

/// A task started with `run`, up and writing its marker before the test goes on.
fn exec_target(name: &str) -> UnitName {
    let unit = unit_of(
        &cli(&[
            "run",
            "--name",
            name,
            "--task-dir",
            "--user",
            "nobody",
            "--",
            "/bin/sh",
            "-c",
            "echo up > /alloc/up; exec sleep 300",
        ])
        .ok(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cli(&["exec", unit.as_str(), "--", "cat", "/alloc/up"]).stdout() != "up\n" {
        assert!(std::time::Instant::now() < deadline, "{unit} never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    unit
}

#[tokio::test]
async fn exec_runs_inside_the_task_and_exits_with_the_commands_status() {
    let unit = exec_target("exec-cli");
    let ran = cli(&[
        "exec",
        unit.as_str(),
        "--",
        "/bin/sh",
        "-c",
        "id -un; echo to-stderr >&2; exit 5",
    ]);
    assert_eq!(ran.code(), 5, "{}", ran.stderr());
    assert_eq!(ran.stdout(), "nobody\n");
    assert_eq!(ran.stderr(), "to-stderr\n");

    let mut cat = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .args(["exec", unit.as_str(), "--", "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    cat.stdin.take().unwrap().write_all(b"piped in\n").unwrap();
    let out = cat.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"piped in\n"[..])
    );
    cli(&["stop", unit.as_str(), "--signal", "KILL"]).ok();
}

#[tokio::test]
async fn exec_from_a_terminal_gets_a_terminal_of_the_same_size() {
    let unit = exec_target("exec-tty");
    let (code, seen) = support::terminal::run_on_terminal(
        &[
            "exec",
            unit.as_str(),
            "--",
            "/bin/sh",
            "-c",
            "stty size; read x; echo \"got $x\"; exit 3",
        ],
        Some((30, 100)),
        "typed\r",
    );
    assert_eq!(code, Some(3), "{seen:?}");
    assert!(seen.contains("30 100\r\n"), "{seen:?}");
    assert!(seen.contains("got typed"), "{seen:?}");
    cli(&["stop", unit.as_str(), "--signal", "KILL"]).ok();
}

#[tokio::test]
async fn run_reads_a_task_file_checked_like_a_nomad_job() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/batch.task.hcl");
    let ran = cli(&["run", "--wait", "--task-dir", "-f", example]);
    assert_eq!(ran.code(), 3, "{}", ran.stderr());
    assert!(ran.stderr().contains("-generate-"), "{}", ran.stderr());

    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.task.hcl");
    std::fs::write(
        &typo,
        "task \"t\" {\n  config {\n    comand = \"/bin/true\"\n  }\n}\n",
    )
    .unwrap();
    let refused = cli(&["run", "--wait", "-f", typo.to_str().unwrap()]);
    assert_eq!(refused.code(), 1);
    assert!(
        refused
            .stderr()
            .contains(&format!("-f {}: config.comand", typo.display())),
        "{}",
        refused.stderr()
    );
    // A file that does not parse is named too.
    std::fs::write(&typo, "task \"t\" {\n  config {\n").unwrap();
    let refused = cli(&["run", "--dry-run", "-f", typo.to_str().unwrap()]);
    assert_eq!(refused.code(), 1);
    assert!(
        refused
            .stderr()
            .contains(&format!("-f {}: task file:", typo.display())),
        "{}",
        refused.stderr()
    );
}

#[tokio::test]
async fn a_spinner_shows_on_a_terminal_and_is_cleared() {
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .args(["run", "--name", "spin", "--wait", "--", "/bin/true"])
        .stderr(std::process::Stdio::from(pty.slave.try_clone().unwrap()))
        .output()
        .unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let seen = String::from_utf8_lossy(&seen);
    assert_eq!(out.status.code(), Some(0), "{seen}");
    assert!(seen.contains("| starting spin"), "{seen:?}");
    assert!(seen.contains("\r\x1b[2K"), "the line is cleared: {seen:?}");
}

/// Sizes take units, bare durations are seconds, and cores this host lacks are refused before
/// anything starts.
#[test]
fn run_takes_sizes_with_units_seconds_and_only_online_cores() {
    let unit = cli(&[
        "run",
        "--memory",
        "1G",
        "--kill-timeout",
        "7",
        "--",
        "/bin/sleep",
        "30",
    ])
    .ok()
    .trim()
    .to_string();
    let show = |property: &str| {
        let out = std::process::Command::new("systemctl")
            .args(["show", "-P", property, &unit])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (memory, timeout) = (show("MemoryMax"), show("TimeoutStopUSec"));
    cli(&["stop", &unit]).ok();
    assert_eq!(memory, (1u64 << 30).to_string());
    assert_eq!(timeout, "7s");

    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let absent = online
        .trim()
        .rsplit(['-', ','])
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap()
        + 1;
    let refused = cli(&["run", "--cores", &absent.to_string(), "--", "/bin/true"]);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(
        refused
            .stderr()
            .contains(&format!("CPU {absent} is not online on this host")),
        "{}",
        refused.stderr()
    );
    let bad = cli(&["run", "--memory", "1X", "--", "/bin/true"]);
    assert!(bad.stderr().contains("is not a size"), "{}", bad.stderr());
}

/// What the operator typed is an argument, not a task config: each error names the option (or
/// the task name) and the reason, and what was refused changed nothing.
#[tokio::test]
async fn errors_about_arguments_name_the_option_not_a_task_config() {
    let engine = engine().await;
    let unit = unit_of(&cli(&["run", "--name", "argue", "--", "/bin/sleep", "300"]).ok());
    let task = unit.as_str();
    let not_a_signal = "'SIGFOO' is not a signal name or number";
    for (args, code, says) in [
        (
            &["signal", task, "SIGFOO"][..],
            2,
            vec!["'<SIG>'", not_a_signal],
        ),
        (
            &["stop", "--signal", "SIGFOO", task][..],
            2,
            vec!["'--signal <SIG>'", not_a_signal],
        ),
        (
            &["run", "--kill-signal", "SIGFOO", "--", "/bin/true"][..],
            2,
            vec!["'--kill-signal <SIG>'", not_a_signal],
        ),
        (
            &["run", "--memory", "1X", "--", "/bin/true"][..],
            2,
            vec!["'--memory <SIZE>'", "'1X' is not a size"],
        ),
        (
            &["stop", "--timeout", "soon", task][..],
            2,
            vec!["'--timeout <DURATION>'", "'soon' is not a duration"],
        ),
        (
            &[
                "run",
                "--memory",
                "10",
                "--memory-max",
                "5",
                "--",
                "/bin/true",
            ][..],
            1,
            vec!["--memory-max: 5 MiB is below memory (10 MiB)"],
        ),
        (
            &["exec", "-T", task, "no-such-program-xyz"][..],
            127,
            vec!["CMD: 'no-such-program-xyz' is not on PATH"],
        ),
        (
            &["signal", "no-such-task-xyz", "HUP"][..],
            1,
            vec!["no task with that unit name", "'no-such-task-xyz'"],
        ),
        (
            &["stop", "no-such-task-xyz"][..],
            1,
            vec!["no task with that unit name", "'no-such-task-xyz'"],
        ),
    ] {
        let out = cli(args);
        let err = out.stderr();
        assert_eq!(out.code(), code, "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: no {s:?} in {err}");
        }
        assert!(!err.contains("task config"), "{args:?}: {err}");
        assert!(!err.contains("tools/"), "{args:?}: {err}");
    }
    let status = engine.status(&unit).await.expect("the task is untouched");
    assert_eq!(status.state, nomad_systemd::core::TaskState::Running);
    cli(&["stop", task]).ok();
}

/// `exec` takes the command right after the task or after `--`, and a command that cannot be
/// run exits as a shell's would: 127 for no such program, 126 for one it cannot execute.
#[test]
fn exec_runs_a_command_without_dashes_and_reports_126_and_127() {
    let unit = cli(&["run", "--", "/bin/sleep", "30"])
        .ok()
        .trim()
        .to_string();
    let plain = cli(&["exec", "-T", &unit, "/bin/echo", "-n", "hi"]);
    let dashed = cli(&["exec", "-T", &unit, "--", "/bin/echo", "hi"]);
    let missing = cli(&["exec", "-T", &unit, "--", "/no/such/program"]);
    let not_on_path = cli(&["exec", "-T", &unit, "no-such-program-xyz"]);
    let directory = cli(&["exec", "-T", &unit, "/etc"]);
    cli(&["stop", &unit]).ok();
    assert_eq!(plain.ok(), "hi");
    assert_eq!(dashed.ok(), "hi\n");
    assert_eq!(missing.code(), 127, "{}", missing.stderr());
    assert_eq!(not_on_path.code(), 127, "{}", not_on_path.stderr());
    assert_eq!(directory.code(), 126, "{}", directory.stderr());
    assert!(directory.stderr().contains("could not be executed"));
}
