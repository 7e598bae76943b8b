//! Naming tasks on the command line against a real systemd: every command that takes a task
//! finds it by unit name, allocation id prefix, job/task, task name or glob, refuses a name
//! that fits several tasks with the candidates listed, and `ps` fits 80 columns.

mod support;

use std::time::{Duration, Instant};

use nomad_systemd::core::UnitName;
use support::*;

/// Three running tasks, in two jobs, under allocation ids sharing a prefix: `front` and
/// `back` of job one, and a second `front` in job two.
struct Tasks {
    tag: String,
    prefix: String,
    front: Started,
    back: Started,
    other_front: Started,
}

struct Started {
    unit: UnitName,
    alloc_id: String,
}

impl Tasks {
    fn start() -> Tasks {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_string();
        // Six random hex digits, then the two that set the allocations apart.
        let prefix = tag.clone();
        let start = |job: &str, task: &str, tail: &str| {
            let alloc_id = format!("{prefix}{tail}-0000-4000-8000-000000000000");
            let stdout = cli(&[
                "run",
                "--job",
                job,
                "--name",
                task,
                "--alloc-id",
                &alloc_id,
                "--",
                "/bin/sh",
                "-c",
                &format!("echo hello from {job}/{task}; exec sleep 300"),
            ])
            .ok();
            Started {
                unit: UnitName::parse(stdout.trim()).expect("run prints the unit name"),
                alloc_id,
            }
        };
        Tasks {
            front: start(&format!("one-{tag}"), &format!("front-{tag}"), "a1"),
            back: start(&format!("one-{tag}"), &format!("back-{tag}"), "b2"),
            other_front: start(&format!("two-{tag}"), &format!("front-{tag}"), "c3"),
            prefix,
            tag,
        }
    }

    fn all(&self) -> [&Started; 3] {
        [&self.front, &self.back, &self.other_front]
    }
}

/// Asserts `stats NAME` finds one task and prints its usage.
fn stats_ok(name: &str) {
    let out = cli(&["stats", name]);
    assert_eq!(out.code(), 0, "stats {name}: {}", out.stderr());
    assert!(out.stdout().contains("CPU"), "{}", out.stdout());
}

/// Asserts `args` fails naming every one of `candidates` and what they have in common.
fn assert_ambiguous(args: &[&str], candidates: &[&Started]) {
    let out = cli(args);
    assert_eq!(out.code(), 1, "{args:?} must fail: {}", out.stdout());
    let err = out.stderr();
    assert!(
        err.contains(&format!("matches {} tasks", candidates.len())),
        "{args:?}: {err}"
    );
    for c in candidates {
        assert!(
            err.contains(c.unit.as_str()),
            "{args:?} lists {}: {err}",
            c.unit
        );
        assert!(
            err.contains(&format!("alloc {}", &c.alloc_id[..8])),
            "{err}"
        );
    }
}

#[tokio::test]
async fn every_command_names_a_task_by_prefix_job_task_name_or_glob() {
    let engine = engine().await;
    let t = Tasks::start();
    let tag = &t.tag;

    // stats: each rule on its own.
    stats_ok(&t.front.alloc_id[..8]);
    stats_ok(&t.front.alloc_id);
    stats_ok(t.back.unit.as_str());
    stats_ok(t.back.unit.as_str().trim_end_matches(".service"));
    stats_ok(&format!("one-{tag}/front-{tag}"));
    stats_ok(&format!("{}/front-{tag}", &t.other_front.alloc_id[..8]));
    stats_ok(&format!("back-{tag}"));
    stats_ok(&format!("nomad-{}c3*", t.prefix));
    stats_ok(&format!("two-{tag}/*"));

    // A name fitting several tasks is refused with the candidates, whichever rule matched.
    assert_ambiguous(&["stats", &t.prefix], &t.all());
    assert_ambiguous(
        &["stats", &format!("front-{tag}")],
        &[&t.front, &t.other_front],
    );
    assert_ambiguous(&["stats", &format!("one-{tag}/*")], &[&t.front, &t.back]);
    let err = cli(&["stats", &format!("front-{tag}")]).stderr();
    assert!(
        err.contains(&format!("one-{tag}/front-{tag}"))
            && err.contains(&format!("two-{tag}/front-{tag}")),
        "the candidates show job/task: {err}"
    );

    // No match says what was looked for and where to look.
    let missing = cli(&["stats", &format!("nosuch-{tag}")]);
    assert_eq!(missing.code(), 1);
    assert!(
        missing.stderr().contains(&format!("'nosuch-{tag}'"))
            && missing.stderr().contains("nomad-systemd ps"),
        "{}",
        missing.stderr()
    );
    // One character is too short for an allocation id prefix, as in Nomad.
    let short = cli(&["stats", &t.prefix[..1]]);
    assert_eq!(short.code(), 1, "{}", short.stdout());

    // logs and exec resolve the same way.
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = format!("hello from two-{tag}/front-{tag}");
    loop {
        let logs = cli(&["logs", &format!("two-{tag}/front-{tag}")]);
        assert_eq!(logs.code(), 0, "{}", logs.stderr());
        if logs.stdout().contains(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no '{want}' in {}",
            logs.stdout()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let exec = cli(&["exec", &format!("back-{tag}"), "--", "/bin/echo", "inside"]);
    assert_eq!(exec.code(), 0, "{}", exec.stderr());
    assert_eq!(exec.stdout(), "inside\n");
    assert_ambiguous(
        &["exec", &format!("front-{tag}"), "--", "/bin/true"],
        &[&t.front, &t.other_front],
    );
    assert_ambiguous(&["logs", &t.prefix], &t.all());

    // stop: an ambiguous plain name stops nothing; a glob may stop several.
    assert_ambiguous(
        &["stop", &format!("front-{tag}")],
        &[&t.front, &t.other_front],
    );
    let listed = engine.list().await.unwrap();
    for s in t.all() {
        assert!(
            listed.iter().any(|l| l.unit == s.unit),
            "{} survives a refused stop",
            s.unit
        );
    }
    // A glob matching several asks first; -y answers beforehand (tests/cli_stop.rs).
    let stop = cli(&["stop", "-y", &format!("one-{tag}/*")]).ok();
    assert!(
        stop.contains(t.front.unit.as_str()) && stop.contains(t.back.unit.as_str()),
        "{stop}"
    );
    assert!(!stop.contains(t.other_front.unit.as_str()), "{stop}");
    assert_no_unit(&engine, &t.front.unit).await;
    assert_no_unit(&engine, &t.back.unit).await;
    // The remaining `front` is no longer ambiguous.
    cli(&["stop", &format!("front-{tag}")]).ok();
    assert_no_unit(&engine, &t.other_front.unit).await;
}

#[tokio::test]
async fn ps_fits_80_columns_with_short_ids_and_no_trunc_shows_them_whole() {
    let engine = engine().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let alloc_id = format!("{tag}-1111-4000-8000-000000000000");
    let job = format!("a-job-whose-name-goes-on-and-on-{tag}");
    let task = format!("a-task-whose-name-is-even-longer-than-that-{tag}");
    let stdout = cli(&[
        "run",
        "--job",
        &job,
        "--name",
        &task,
        "--alloc-id",
        &alloc_id,
        "--",
        "/bin/sleep",
        "300",
    ])
    .ok();
    let unit = UnitName::parse(stdout.trim()).unwrap();

    for args in [&["ps"][..], &["ps", "--all"]] {
        let ps = cli(args).ok();
        for line in ps.lines() {
            assert!(
                line.chars().count() <= 80,
                "{args:?}: {} columns: {line}",
                line.chars().count()
            );
        }
        let row = ps
            .lines()
            .find(|l| l.starts_with(&format!("{tag} ")))
            .unwrap_or_else(|| panic!("ps lists the 8-character alloc id {tag}: {ps}"));
        assert!(row.contains("running"), "{row}");
        assert!(!ps.contains(&alloc_id), "the id is shortened: {ps}");
    }
    assert!(cli(&["ps"]).ok().starts_with("ALLOC"));

    let full = cli(&["ps", "--no-trunc"]).ok();
    assert!(
        full.contains(&alloc_id) && full.contains(unit.as_str()) && full.contains(&task),
        "{full}"
    );
    let wide = cli(&["ps", "-o", "wide"]).ok();
    assert!(wide.lines().next().unwrap().contains("PID"), "{wide}");

    let json: serde_json::Value = serde_json::from_str(&cli(&["ps", "-o", "json"]).ok()).unwrap();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["unit"] == unit.as_str())
        .expect("ps -o json lists the task");
    assert_eq!(entry["alloc_id"], alloc_id.as_str());
    assert!(entry["main_pid"].as_u64().is_some_and(|p| p > 0), "{entry}");
    assert!(entry["exited_at_us"].is_null(), "{entry}");
    assert!(entry["exit"].is_null(), "{entry}");

    // The short id from the table names the task.
    cli(&["stop", &tag]).ok();
    assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn a_given_slice_narrows_the_tasks_ps_and_names_see() {
    let engine = engine().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let slice = format!("addr{tag}.slice");
    let alloc_id = format!("{tag}-2222-4000-8000-000000000000");
    let stdout = cli(&[
        "run",
        "--slice",
        &slice,
        "--alloc-id",
        &alloc_id,
        "--",
        "/bin/sleep",
        "300",
    ])
    .ok();
    let unit = UnitName::parse(stdout.trim()).unwrap();
    let listed = |args: &[&str]| {
        cli(args)
            .ok()
            .lines()
            .any(|l| l.starts_with(&format!("{tag} ")))
    };

    assert!(listed(&["ps"]), "without --slice, ps sees every slice");
    assert!(listed(&["ps", "--slice", &slice]));
    assert!(!listed(&["ps", "--slice", "system-nomad.slice"]));
    let json = cli(&["ps", "--slice", "system-nomad.slice", "-o", "json"]).ok();
    assert!(!json.contains(&alloc_id), "{json}");

    let elsewhere = cli(&["stats", "--slice", "system-nomad.slice", &tag]);
    assert_eq!(elsewhere.code(), 1, "{}", elsewhere.stdout());
    assert!(
        elsewhere.stderr().contains("no task"),
        "{}",
        elsewhere.stderr()
    );
    stats_ok(&tag);
    cli(&["stop", "--slice", &slice, &tag]).ok();
    assert_no_unit(&engine, &unit).await;
}
