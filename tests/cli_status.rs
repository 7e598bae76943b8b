//! `status`, `stop`'s removal of task directories, `stats --watch`'s end and `exec -e/-w/-u`
//! against a real systemd, through the built binary.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nomad_systemd::core::UnitName;
use serde_json::Value;
use support::*;

const ALLOC_ROOT: &str = "/var/lib/nomad-systemd/alloc";

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

fn alloc_id(tag: &str) -> String {
    format!("{tag}-0000-4000-8000-000000000000")
}

/// A task started by `nomad-systemd run --task-dir` as `name` in a new allocation, running
/// `script`; `extra` goes before `--`.
fn run(name: &str, alloc: &str, extra: &[&str], script: &str) -> UnitName {
    let mut args = vec!["run", "--name", name, "--alloc-id", alloc, "--task-dir"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "/bin/sh", "-c", script]);
    UnitName::parse(cli(&args).ok().trim()).expect("run prints the unit name")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Waits until `status` reports the task exited (exit status 3).
fn wait_exited(unit: &UnitName) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while cli(&["status", unit.as_str()]).code() != 3 {
        assert!(Instant::now() < deadline, "{unit} did not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn status_shows_a_running_task_in_full() {
    let engine = engine().await;
    let t = tag();
    let name = format!("st-{t}");
    let unit = run(
        &name,
        &alloc_id(&t),
        &["--memory", "64", "--cpu", "200"],
        "echo up > /alloc/up; exec sleep 600",
    );
    wait_for_file(
        &PathBuf::from(format!("{ALLOC_ROOT}/{}/alloc/up", alloc_id(&t))),
        support::READY,
    );

    let out = cli(&["status", &name]);
    assert_eq!(out.code(), 0, "running is 0: {}", out.stderr());
    let text = out.stdout();
    for expected in [
        unit.as_str(),
        &format!("{name}/{name}"),
        "running since",
        "Main PID",
        "sleep 600",
        "cpu 200 MHz, memory 64 MiB",
        "MemoryMax=",
        "NoNewPrivileges=yes",
        "started by hand",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("Exit:"),
        "a running task has no exit:\n{text}"
    );

    let detail = json(&cli(&["status", "-o", "json", unit.as_str()]).ok());
    assert_eq!(detail["state"], "running", "{detail}");
    assert!(detail["main_pid"].as_u64().unwrap() > 0, "{detail}");
    assert_eq!(
        detail["command"],
        serde_json::json!(["/bin/sh", "-c", "echo up > /alloc/up; exec sleep 600"])
    );
    assert_eq!(detail["asked"]["memory_mib"], 64);
    assert!(detail["exit"].is_null(), "{detail}");
    assert!(detail["exited_at_us"].is_null(), "null, not 0: {detail}");
    assert!(
        detail["usage"]["cpu_total_ns"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{detail}"
    );
    // Memory is measured where the host accounts it per unit; never reported as 0.
    let memory = &detail["usage"]["memory_usage"];
    assert!(memory.is_null() || memory.as_u64() > Some(0), "{detail}");
    assert_eq!(
        detail["task_dir"],
        format!("{ALLOC_ROOT}/{}/{name}", alloc_id(&t))
    );

    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn status_of_an_exited_task_shows_its_exit_and_exits_3() {
    let engine = engine().await;
    let t = tag();
    let unit = run(&format!("ex-{t}"), &alloc_id(&t), &[], "exit 7");
    wait_exited(&unit);

    let out = cli(&["status", unit.as_str()]);
    assert_eq!(out.code(), 3);
    assert!(out.stdout().contains("exit code 7"), "{}", out.stdout());
    assert!(out.stdout().contains("exited since"), "{}", out.stdout());
    let detail = json(&cli(&["status", "-o", "json", unit.as_str()]).stdout());
    assert_eq!(detail["state"], "exited");
    assert_eq!(detail["exit"]["exit_code"], 7, "{detail}");
    assert_eq!(detail["exit"]["signal"], 0);
    assert!(detail["main_pid"].is_null(), "{detail}");

    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
}

#[test]
fn status_of_an_unknown_task_exits_4_with_a_message() {
    let out = cli(&["status", &format!("nosuch-{}", tag())]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    assert!(out.stderr().contains("no task"), "{}", out.stderr());
    assert!(out.stdout().is_empty());
}

#[tokio::test]
async fn stop_removes_the_task_dirs_without_following_planted_symlinks() {
    let engine = engine().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious"), "keep me").unwrap();
    let target = outside.path().display().to_string();
    let t = tag();
    let alloc = alloc_id(&t);
    // The task plants links to the outside in its own and the shared directory.
    let script = format!(
        "ln -s {target} /local/escape; ln -s {target} /alloc/data/escape; \
         ln -s {target}/precious /secrets/file; echo up > /alloc/up; exec sleep 600"
    );
    let name = format!("rm-{t}");
    let unit = run(&name, &alloc, &[], &script);
    let alloc_dir = PathBuf::from(format!("{ALLOC_ROOT}/{alloc}"));
    wait_for_file(&alloc_dir.join("alloc/up"), support::READY);
    assert!(alloc_dir.join(&name).join("local/escape").is_symlink());

    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
    assert!(!alloc_dir.exists(), "{} is left", alloc_dir.display());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("precious")).unwrap(),
        "keep me",
        "the symlinks' target survives"
    );
}

#[tokio::test]
async fn stop_leaves_the_allocation_directory_of_a_task_nomad_started() {
    let engine = engine().await;
    let (_plugin, mut conn, alloc, id) = support::plugin::task_running("nomadtask").await;
    let mut task = alloc.task_config(Vec::new());
    task.id = id.clone();
    let unit = support::plugin::task_unit(&task);
    let detail = json(&cli(&["status", "-o", "json", unit.as_str()]).ok());
    assert_eq!(detail["origin"], "nomad");
    assert!(detail["task_dir"].is_null(), "{detail}");

    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
    assert!(
        alloc.dir.path().join("alloc/up").is_file(),
        "Nomad's directory stays"
    );
    assert!(alloc.dir.path().join(&alloc.task).join("local").is_dir());
    conn.destroy(&id).await;
}

#[tokio::test]
async fn stop_keep_keeps_the_task_dirs_and_a_later_stop_removes_them() {
    let engine = engine().await;
    let t = tag();
    let alloc = alloc_id(&t);
    let name = format!("kp-{t}");
    let unit = run(&name, &alloc, &[], "echo up > /alloc/up; exec sleep 600");
    let alloc_dir = PathBuf::from(format!("{ALLOC_ROOT}/{alloc}"));
    wait_for_file(&alloc_dir.join("alloc/up"), support::READY);

    cli(&["stop", "--keep", unit.as_str()]).ok();
    assert!(alloc_dir.join(&name).join("local").is_dir());
    assert!(alloc_dir.join("alloc/up").is_file());
    assert_eq!(cli(&["status", unit.as_str()]).code(), 3);

    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
    assert!(!alloc_dir.exists());
}

#[tokio::test]
async fn stop_leaves_the_other_tasks_of_the_allocation_their_dirs() {
    let engine = engine().await;
    let t = tag();
    let alloc = alloc_id(&t);
    let alloc_dir = PathBuf::from(format!("{ALLOC_ROOT}/{alloc}"));
    let first = run(&format!("a-{t}"), &alloc, &[], "exec sleep 600");
    let second = run(&format!("b-{t}"), &alloc, &[], "exec sleep 600");
    cli(&["stop", first.as_str()]).ok();
    assert!(!alloc_dir.join(format!("a-{t}")).exists());
    assert!(alloc_dir.join(format!("b-{t}/local")).is_dir());
    assert!(alloc_dir.join("alloc").is_dir(), "the shared dir stays");
    cli(&["stop", second.as_str()]).ok();
    assert!(!alloc_dir.exists());
    assert_no_unit(&engine, &second).await;
}

#[tokio::test]
async fn stats_watch_ends_when_the_task_ends() {
    let engine = engine().await;
    let t = tag();
    let unit = run(&format!("sw-{t}"), &alloc_id(&t), &[], "sleep 3");
    let out = cli(&["stats", "--watch", "-o", "json", unit.as_str()]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let lines: Vec<Value> = out.stdout().lines().map(json).collect();
    assert!(lines.len() >= 2, "{}", out.stdout());
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for line in &lines {
        assert_eq!(keys(line), keys(&lines[0]), "one shape for every line");
    }
    assert!(lines[0]["cpu_percent"].is_null(), "unknown is null");
    assert!(lines[0]["exit"].is_null());
    let last = lines.last().unwrap();
    assert_eq!(last["state"], "exited", "{last}");
    assert_eq!(last["exit"]["exit_code"], 0, "{last}");

    let once = json(&cli(&["stats", "-o", "json", unit.as_str()]).ok());
    assert_eq!(keys(&once), keys(&lines[0]), "the same shape once");

    let table = cli(&["stats", "--watch", unit.as_str()]).ok();
    assert!(
        table
            .lines()
            .last()
            .unwrap()
            .contains("the task ended: exit code 0"),
        "{table}"
    );
    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn exec_takes_env_workdir_and_user() {
    let engine = engine().await;
    let t = tag();
    let unit = run(&format!("xe-{t}"), &alloc_id(&t), &[], "exec sleep 600");
    let out = cli(&[
        "exec",
        "-T",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        unit.as_str(),
        "/bin/sh",
        "-c",
        "echo $A; pwd; id -u",
    ]);
    assert_eq!(out.ok(), "1\n/tmp\n65534\n");
    // Without -u, the task's own user (root here, as the task was started).
    let plain = cli(&["exec", "-T", unit.as_str(), "/bin/sh", "-c", "id -u; pwd"]).ok();
    assert_eq!(plain, "0\n/local\n");
    // Root only when named.
    let root = cli(&[
        "exec",
        "-T",
        "-u",
        "root",
        unit.as_str(),
        "/bin/sh",
        "-c",
        "id -u",
    ]);
    assert_eq!(root.ok(), "0\n");

    for (args, setting) in [
        (["-u", "nosuchuser-xyz"], "user"),
        (["-w", "relative/dir"], "workdir"),
        (["-e", "1BAD=x"], "env"),
    ] {
        let mut all = vec!["exec", "-T"];
        all.extend_from_slice(&args);
        all.extend_from_slice(&[unit.as_str(), "/bin/true"]);
        let out = cli(&all);
        assert_eq!(out.code(), if setting == "env" { 2 } else { 1 }, "{args:?}");
        assert!(out.stderr().contains(setting), "{args:?}: {}", out.stderr());
    }
    let missing = cli(&[
        "exec",
        "-T",
        "-w",
        "/no/such/dir",
        unit.as_str(),
        "/bin/true",
    ]);
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr().contains("working directory"),
        "{}",
        missing.stderr()
    );

    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn run_wait_removes_its_task_dirs_with_its_unit_unless_keep() {
    let engine = engine().await;
    let t = tag();
    let alloc = alloc_id(&t);
    let alloc_dir = PathBuf::from(format!("{ALLOC_ROOT}/{alloc}"));
    // The task plants a link to a directory outside; only the link may go.
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("precious"), "x").unwrap();
    let name = format!("rw-{t}");
    let done = cli(&[
        "run",
        "--wait",
        "--name",
        &name,
        "--alloc-id",
        &alloc,
        "--task-dir",
        "--",
        "/bin/sh",
        "-c",
        &format!(
            "ln -s {} /local/out; echo done > /alloc/done",
            outside.path().display()
        ),
    ]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert!(
        !alloc_dir.exists(),
        "run --wait left {}",
        alloc_dir.display()
    );
    assert!(
        outside.path().join("precious").is_file(),
        "a planted link was followed"
    );

    let alloc = alloc_id(&tag());
    let alloc_dir = PathBuf::from(format!("{ALLOC_ROOT}/{alloc}"));
    let kept = cli(&[
        "run",
        "--wait",
        "--keep",
        "--name",
        &name,
        "--alloc-id",
        &alloc,
        "--task-dir",
        "--",
        "/bin/sh",
        "-c",
        "echo done > /alloc/done",
    ]);
    assert_eq!(kept.code(), 0, "{}", kept.stderr());
    assert!(alloc_dir.join("alloc/done").is_file());
    let unit = UnitName::parse(
        kept.stderr()
            .lines()
            .find_map(|l| l.strip_prefix("Running as unit: "))
            .expect("the unit is named"),
    )
    .unwrap();
    assert_eq!(
        cli(&["status", unit.as_str()]).code(),
        3,
        "the ended unit stays loaded"
    );
    cli(&["stop", unit.as_str()]).ok();
    assert_no_unit(&engine, &unit).await;
    assert!(!alloc_dir.exists());

    let refused = cli(&["run", "--keep", "--", "/bin/true"]);
    assert_eq!(refused.code(), 1);
    assert!(refused.stderr().contains("--keep"), "{}", refused.stderr());
}
