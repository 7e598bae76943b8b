//! `nomad-systemd logs` against a real systemd: it says what happened instead of printing
//! nothing, keeps stdout and stderr apart, ends `-f` when the task exits, and filters and
//! formats as journalctl spells it.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nomad_systemd::core::UnitName;
use support::*;

fn unit_of(stdout: &str) -> UnitName {
    UnitName::parse(stdout.trim()).expect("run prints the unit name")
}

/// Starts `script` under `sh -c` as a task and returns its unit.
fn start(script: &str) -> UnitName {
    unit_of(&cli(&["run", "--", "/bin/sh", "-c", script]).ok())
}

/// `logs ARGS` until its stdout holds `want` (journald takes lines asynchronously).
async fn logs_until(args: &[&str], want: &str) -> CliRun {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = cli(args);
        if run.stdout().contains(want) || Instant::now() > deadline {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[tokio::test]
async fn a_name_that_names_no_task_fails_with_a_message() {
    for name in [
        "no-such-task-7f3e",
        "nomad-0000ffff-nosuch-0a1b2c3d",
        "foo@bar baz",
    ] {
        let run = cli(&["logs", name]);
        assert_ne!(run.code(), 0, "{name}: {}", run.stdout());
        assert!(run.stdout().is_empty(), "{name}: {}", run.stdout());
        assert!(!run.stderr().trim().is_empty(), "{name}: no message");
    }
    let typo = cli(&["logs", "no-such-task-7f3e"]);
    assert!(typo.stderr().contains("no task"), "{}", typo.stderr());
}

#[tokio::test]
async fn streams_are_apart_and_json_says_which_is_which() {
    let unit = start("echo to-out; echo to-err >&2; exec sleep 300");
    let json = logs_until(&["logs", "-o", "json", unit.as_str()], "to-err").await;
    let lines = json_lines(&json.ok());
    let stream_of = |message: &str| {
        let line = lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("{message} in {lines:?}"));
        assert_eq!(line["unit"], unit.as_str());
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
        line["stream"].as_str().unwrap().to_string()
    };
    assert_eq!(stream_of("to-out"), "stdout");
    assert_eq!(stream_of("to-err"), "stderr");
    let err = cli(&["logs", "--stderr", unit.as_str()]);
    assert_eq!((err.ok().as_str(), err.stderr().as_str()), ("", "to-err\n"));
    let out = cli(&["logs", "--stdout", "-t", unit.as_str()]);
    let printed = out.ok();
    assert!(printed.ends_with("Z to-out\n"), "{printed}");
    assert_eq!(printed.lines().count(), 1, "{printed}");
    cli(&["stop", unit.as_str()]).ok();
}

#[tokio::test]
async fn follow_returns_once_the_task_has_exited_with_everything_printed() {
    let unit = start("echo first; sleep 2; echo last");
    let mut follow = Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .args(["logs", "-f", unit.as_str()])
        .env_remove("NOMAD_SYSTEMD_BUS")
        .env_remove("NOMAD_SYSTEMD_SLICE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A safety net against a follower that never ends, not a measure of speed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while follow.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            follow.kill().unwrap();
            panic!("logs -f still running a minute after the task exited");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = follow.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "first\nlast\n");
    cli(&["stop", unit.as_str()]).ok();
}

#[tokio::test]
async fn since_and_until_filter_by_time() {
    let unit = start("echo early; sleep 2; echo late; exec sleep 300");
    let all = logs_until(&["logs", "-o", "json", unit.as_str()], "late").await;
    let lines = json_lines(&all.ok());
    let late = lines.iter().find(|l| l["message"] == "late").unwrap();
    // The late line's second, in a form journalctl takes: `YYYY-MM-DD HH:MM:SS UTC`.
    let second = late["time"].as_str().unwrap()[..19].replace('T', " ") + " UTC";
    let since = cli(&["logs", "--since", &second, unit.as_str()]);
    assert_eq!(since.ok(), "late\n");
    let until = cli(&["logs", "--until", &second, unit.as_str()]);
    assert!(until.ok().starts_with("early\n"), "{}", until.stdout());
    assert_eq!(
        cli(&["logs", "--since", "-1h", unit.as_str()]).ok(),
        "early\nlate\n"
    );
    // A true answer of nothing: the task exists, nothing was logged since.
    assert_eq!(cli(&["logs", "--since", "+1h", unit.as_str()]).ok(), "");
    let bad = cli(&["logs", "--since", "soonish", unit.as_str()]);
    assert_ne!(bad.code(), 0);
    assert!(bad.stderr().contains("YYYY-MM-DD"), "{}", bad.stderr());
    cli(&["stop", unit.as_str()]).ok();
}

#[tokio::test]
async fn a_task_whose_output_went_to_files_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let unit = unit_of(
        &cli(&[
            "run",
            "--stdout",
            out.to_str().unwrap(),
            "--stderr",
            err.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            "echo o; exec sleep 300",
        ])
        .ok(),
    );
    let run = cli(&["logs", unit.as_str()]);
    assert_ne!(run.code(), 0, "{}", run.stdout());
    let message = run.stderr();
    assert!(message.contains(out.to_str().unwrap()), "{message}");
    assert!(message.contains(err.to_str().unwrap()), "{message}");
    let only_err = cli(&["logs", "--stderr", unit.as_str()]);
    assert_ne!(only_err.code(), 0);
    assert!(only_err.stderr().contains(err.to_str().unwrap()));
    cli(&["stop", unit.as_str()]).ok();
}

#[tokio::test]
async fn a_removed_task_is_still_read_from_the_journal_by_its_unit_name() {
    let done = cli(&["run", "--wait", "--", "/bin/sh", "-c", "echo goodbye"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    let line = done.stderr().lines().next().unwrap().to_string();
    let unit = UnitName::parse(line.trim_start_matches("Running as unit: ")).unwrap();
    assert_no_unit(&engine().await, &unit).await;
    let run = logs_until(&["logs", unit.as_str()], "goodbye").await;
    assert_eq!(run.ok(), "goodbye\n");
}

#[tokio::test]
async fn a_removed_task_is_found_in_the_journal_by_its_allocation_id_prefix() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let alloc_id = format!("{tag}-0000-4000-8000-000000000000");
    let done = cli(&[
        "run",
        "--wait",
        "--alloc-id",
        &alloc_id,
        "--",
        "/bin/sh",
        "-c",
        "echo farewell",
    ]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    let run = logs_until(&["logs", &tag[..6]], "farewell").await;
    assert_eq!(run.ok(), "farewell\n");
}

/// An installed unit run as a task (described as one in a drop-in where the plugin writes
/// its own), with `output` lines in its `[Service]` section.
fn installed(tag: &str, name: &str, output: &str) -> String {
    let unit = format!("logs-{name}-{tag}.service");
    let text = format!(
        "[Service]\nExecStart=/bin/sh -c 'echo to-out; echo to-err >&2; exec sleep 300'\n{output}"
    );
    std::fs::create_dir_all(units::dropin_dir(&unit)).unwrap();
    std::fs::write(
        units::dropin_file(&unit),
        format!(
            "[Unit]\nDescription=Nomad task {name}-{tag} of job logs-{tag} (alloc {tag}-0000-4000-8000-000000000000)\n"
        ),
    )
    .unwrap();
    units::install(&[(unit.as_str(), text.as_str())]);
    units::systemctl(&["start", &unit]);
    assert_eq!(units::active_state(&unit), "active");
    unit
}

#[tokio::test]
async fn an_installed_units_streams_are_not_split_where_the_journal_cannot_tell_them_apart() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let both = installed(&tag, "both", "StandardOutput=journal\n");
    let shown = logs_until(&["logs", &both], "to-err").await;
    assert_eq!(shown.ok(), "to-out\nto-err\n");
    let refused = cli(&["logs", "--stdout", &both]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused.stderr().contains("cannot tell them apart"),
        "{}",
        refused.stderr()
    );
    let json = json_lines(&cli(&["logs", "-o", "json", &both]).ok());
    assert!(json.iter().all(|l| l["stream"].is_null()), "{json:?}");

    let file = format!("/run/logs-{tag}.out");
    let split = installed(
        &tag,
        "split",
        &format!("StandardOutput=append:{file}\nStandardError=journal\n"),
    );
    let err = logs_until(&["logs", "-o", "json", "--stderr", &split], "to-err").await;
    let lines = json_lines(&err.ok());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["stream"], "stderr");
    let out = cli(&["logs", "--stdout", &split]);
    assert_ne!(out.code(), 0);
    assert!(out.stderr().contains(&file), "{}", out.stderr());
    for unit in [&both, &split] {
        units::systemctl(&["stop", unit]);
        let _ = std::fs::remove_dir_all(units::dropin_dir(unit));
    }
    let _ = std::fs::remove_file(file);
}
