//! `stop --all` and `signal` against a real systemd: `--all` takes only what its filters and
//! `--slice` select, leaves the tasks Nomad's plugin started unless `--include-nomad`, asks on
//! a terminal and refuses without one unless `--yes`, as `stop` with a glob matching several
//! tasks does; `signal` reaches a task and leaves it running.
//!
//! `stop --all` acts on every task on the bus, so the tests of this file take turns
//! ([`turn`]): one test's `stop --all` must not stop another test's tasks.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use nomad_systemd::core::{Engine, TaskState, UnitName};
use support::plugin::{Alloc, task_running, task_unit};
use support::*;
use tokio::sync::{Mutex, MutexGuard};

static TURNS: Mutex<()> = Mutex::const_new(());

async fn turn() -> MutexGuard<'static, ()> {
    TURNS.lock().await
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// A task started by `nomad-systemd run` as `job`/`name` in allocation `alloc_id`, with Nomad's
/// directories, running `script` after writing `alloc/up`; `extra` goes before `--`.
fn run_task(job: &str, name: &str, alloc_id: &str, extra: &[&str], script: &str) -> UnitName {
    let script = format!("{script}echo up > /alloc/up; while :; do sleep 0.1; done");
    let mut args = vec![
        "run",
        "--job",
        job,
        "--name",
        name,
        "--alloc-id",
        alloc_id,
        "--task-dir",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "/bin/sh", "-c", &script]);
    let unit = UnitName::parse(cli(&args).ok().trim()).expect("run prints the unit name");
    wait_for_file(&alloc_file(alloc_id, "up"), support::READY);
    unit
}

/// A file in the allocation's shared `alloc/` directory, where `run --task-dir` puts it.
fn alloc_file(alloc_id: &str, name: &str) -> PathBuf {
    PathBuf::from(format!(
        "/var/lib/nomad-systemd/alloc/{alloc_id}/alloc/{name}"
    ))
}

fn alloc_id(tag: &str, n: u8) -> String {
    format!("{tag}-000{n}-4000-8000-000000000000")
}

async fn assert_running(engine: &Engine, unit: &UnitName) {
    let status = engine
        .status(unit)
        .await
        .unwrap_or_else(|e| panic!("{unit} should still run: {e}"));
    assert_eq!(status.state, TaskState::Running, "{unit}");
}

#[tokio::test]
async fn stop_all_leaves_tasks_nomad_started_unless_asked_to() {
    let _turn = turn().await;
    let engine = engine().await;
    let (_plugin, mut conn, alloc, id) = task_running("keeper").await;
    let nomads = plugin_unit(&alloc, &id);
    let t = tag();
    let mine = run_task(&format!("job-{t}"), "mine", &alloc_id(&t, 1), &[], "");

    let out = cli(&["stop", "--all", "--yes"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains(mine.as_str()), "{}", out.stdout());
    assert!(!out.stdout().contains(nomads.as_str()), "{}", out.stdout());
    assert!(
        out.stderr().contains("started by Nomad") && out.stderr().contains("--include-nomad"),
        "{}",
        out.stderr()
    );
    assert_no_unit(&engine, &mine).await;
    assert_running(&engine, &nomads).await;

    // Asked for, it goes too.
    let out = cli(&[
        "stop",
        "--all",
        "--yes",
        "--include-nomad",
        "--alloc",
        &alloc.id[..8],
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains(nomads.as_str()), "{}", out.stdout());
    assert_no_unit(&engine, &nomads).await;
    conn.destroy(&id).await;
}

#[tokio::test]
async fn stop_all_filters_take_only_the_tasks_they_match() {
    let _turn = turn().await;
    let engine = engine().await;
    let t = tag();
    let (one, two) = (format!("one-{t}"), format!("two-{t}"));
    let (first, second) = (alloc_id(&t, 1), alloc_id(&t, 2));
    let web = run_task(&one, "web", &first, &[], "");
    let db = run_task(&one, "db", &first, &[], "");
    let other_web = run_task(&two, "web", &second, &[], "");
    let third = alloc_id(&t, 3);
    let spare = run_task(&two, "spare", &third, &[], "");

    let stopped = |args: &[&str]| {
        let mut all = vec!["stop", "--all", "--yes", "-o", "json"];
        all.extend_from_slice(args);
        let out = cli(&all);
        let json: serde_json::Value = serde_json::from_str(&out.ok()).unwrap();
        let mut units: Vec<String> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["unit"].as_str().unwrap().to_string())
            .collect();
        units.sort();
        units
    };

    // Filters combine: job two's web only.
    assert_eq!(
        stopped(&["--job", &two, "--task", "web"]),
        [other_web.to_string()]
    );
    assert_running(&engine, &web).await;
    assert_running(&engine, &spare).await;
    // An allocation id prefix: both tasks of the first allocation.
    let mut both = vec![web.to_string(), db.to_string()];
    both.sort();
    assert_eq!(stopped(&["--alloc", &first[..13]]), both);
    assert_running(&engine, &spare).await;
    // A filter matching nothing stops nothing, and says so.
    let out = cli(&["stop", "--all", "--yes", "--job", &one]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("no task to stop"), "{}", out.stderr());
    // An allocation prefix too short to name anything, or a filter without --all, is refused.
    let out = cli(&["stop", "--all", "--yes", "--alloc", "a"]);
    assert_eq!(out.code(), 1);
    assert!(out.stderr().contains("at least 2"), "{}", out.stderr());
    assert_eq!(cli(&["stop", spare.as_str(), "--job", &two]).code(), 2);
    assert_running(&engine, &spare).await;
    assert_eq!(
        stopped(&["--task", "spare", "--job", &two]),
        [spare.to_string()]
    );
}

#[tokio::test]
async fn stop_all_takes_only_the_tasks_in_the_slice_given() {
    let _turn = turn().await;
    let engine = engine().await;
    let t = tag();
    let slice = format!("system-stop{t}.slice");
    let job = format!("sliced-{t}");
    let inside = run_task(&job, "inside", &alloc_id(&t, 1), &["--slice", &slice], "");
    let outside = run_task(&job, "outside", &alloc_id(&t, 2), &[], "");

    let out = cli(&["stop", "--all", "--yes", "--slice", &slice]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_no_unit(&engine, &inside).await;
    assert_running(&engine, &outside).await;
    cli(&["stop", outside.as_str()]).ok();
}

#[tokio::test]
async fn stop_all_without_a_terminal_or_yes_is_refused_and_stops_nothing() {
    let _turn = turn().await;
    let engine = engine().await;
    let t = tag();
    let job = format!("asked-{t}");
    let unit = run_task(&job, "web", &alloc_id(&t, 1), &[], "");

    let out = cli(&["stop", "--all", "--job", &job]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    assert!(
        out.stderr().contains("not a terminal") && out.stderr().contains("--yes"),
        "{}",
        out.stderr()
    );
    assert!(out.stdout().is_empty(), "{}", out.stdout());
    assert_running(&engine, &unit).await;
    cli(&["stop", unit.as_str()]).ok();
}

/// `stop ARGS` on a terminal, `answer` typed at its question.
fn stop_on_a_terminal(args: &[&str], answer: &str) -> (Option<i32>, String) {
    let args: Vec<&str> = std::iter::once("stop")
        .chain(args.iter().copied())
        .collect();
    support::terminal::run_on_terminal(&args, None, answer)
}

#[tokio::test]
async fn stop_all_on_a_terminal_lists_the_tasks_and_asks() {
    let _turn = turn().await;
    let engine = engine().await;
    let t = tag();
    let job = format!("tty-{t}");
    let unit = run_task(&job, "web", &alloc_id(&t, 1), &[], "");

    let (code, seen) = stop_on_a_terminal(&["--all", "--job", &job], "n\r");
    assert_eq!(code, Some(1), "{seen}");
    assert!(seen.contains(unit.as_str()), "the task is listed: {seen}");
    assert!(seen.contains(&format!("{job}/web")), "{seen}");
    assert!(seen.contains("Stop 1 task(s)? [y/N]"), "{seen}");
    assert!(seen.contains("nothing stopped"), "{seen}");
    assert_running(&engine, &unit).await;

    let (code, seen) = stop_on_a_terminal(&["--all", "--job", &job], "y\r");
    assert_eq!(code, Some(0), "{seen}");
    assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn a_glob_naming_several_tasks_asks_first_as_stop_all_does() {
    let _turn = turn().await;
    let engine = engine().await;
    let t = tag();
    let job = format!("glob-{t}");
    let web = run_task(&job, "web", &alloc_id(&t, 1), &[], "");
    let db = run_task(&job, "db", &alloc_id(&t, 2), &[], "");
    let glob = format!("{job}/*");

    // No terminal and no --yes: refused, saying how to go on; nothing stopped.
    let out = cli(&["stop", &glob]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    let err = out.stderr();
    assert!(
        err.contains("not a terminal") && err.contains("--yes") && err.contains(&glob),
        "{err}"
    );
    assert!(out.stdout().is_empty(), "{}", out.stdout());
    assert_running(&engine, &web).await;
    assert_running(&engine, &db).await;

    // On a terminal: both listed and asked about; no is no.
    let (code, seen) = stop_on_a_terminal(&[&glob], "n\r");
    assert_eq!(code, Some(1), "{seen}");
    assert!(
        seen.contains(web.as_str()) && seen.contains(db.as_str()),
        "{seen}"
    );
    assert!(seen.contains("Stop 2 task(s)? [y/N]"), "{seen}");
    assert!(seen.contains("nothing stopped"), "{seen}");
    assert_running(&engine, &web).await;
    assert_running(&engine, &db).await;

    // A glob matching one task, like a task named alone, is stopped without a question.
    let (code, seen) = stop_on_a_terminal(&[&format!("{job}/w*")], "");
    assert_eq!(code, Some(0), "{seen}");
    assert!(!seen.contains("[y/N]"), "{seen}");
    assert_no_unit(&engine, &web).await;

    // -y answers beforehand.
    let web = run_task(&job, "web", &alloc_id(&t, 3), &[], "");
    let out = cli(&["stop", "-y", &glob]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_no_unit(&engine, &web).await;
    assert_no_unit(&engine, &db).await;
}

#[tokio::test]
async fn signal_reaches_the_task_which_keeps_running() {
    let _turn = turn().await;
    let engine = engine().await;
    let t = tag();
    let job = format!("reload-{t}");
    let alloc = alloc_id(&t, 1);
    let unit = run_task(
        &job,
        "server",
        &alloc,
        &[],
        "trap 'echo reloaded >> /alloc/hup' HUP; ",
    );

    let out = cli(&["signal", &format!("{job}/server"), "HUP"]).ok();
    assert!(
        out.contains(unit.as_str()) && out.contains("SIGHUP"),
        "{out}"
    );
    let hup = wait_for_file(&alloc_file(&alloc, "hup"), support::READY);
    assert_eq!(hup, "reloaded\n");
    assert_running(&engine, &unit).await;
    // By allocation id prefix and signal number, again.
    cli(&["signal", &alloc[..8], "1"]).ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(alloc_file(&alloc, "hup")).unwrap() != "reloaded\nreloaded\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "second SIGHUP not seen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_running(&engine, &unit).await;

    // Not a signal, or not one of our tasks: refused, nothing sent.
    let bad = cli(&["signal", unit.as_str(), "SIGNOPE"]);
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    let other = cli(&["signal", "systemd-journald.service", "HUP"]);
    assert_eq!(other.code(), 1);
    assert!(
        other.stderr().contains("not a nomad-systemd task"),
        "{}",
        other.stderr()
    );
    cli(&["stop", unit.as_str()]).ok();
}

/// A task the plugin started is one `signal` reaches too (it is one of ours).
#[tokio::test]
async fn signal_reaches_a_task_nomad_started() {
    let _turn = turn().await;
    let engine = engine().await;
    let (_plugin, mut conn, alloc, id) = task_running("signalled").await;
    let unit = plugin_unit(&alloc, &id);
    cli(&["signal", unit.as_str(), "CONT"]).ok();
    assert_running(&engine, &unit).await;
    conn.destroy(&id).await;
}

/// The unit the plugin runs the task `id` of `alloc` as.
fn plugin_unit(alloc: &Alloc, id: &str) -> UnitName {
    let mut task = alloc.task_config(Vec::new());
    task.id = id.to_string();
    task_unit(&task)
}
