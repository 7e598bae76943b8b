//! Shell completion against a real systemd: a running task is offered wherever a TASK goes,
//! by its unit name, allocation id prefix, job/task and task name, in the slice and on the
//! bus the command line selects; signal names complete for SIG; and without a systemd to
//! ask, nothing is offered and nothing is said.
//!
//! The queries are the ones the committed scripts make: the binary run with the words after
//! `--` and `_NOMAD_SYSTEMD_COMPLETE` set, and for bash the script itself, sourced and called
//! as bash calls it on TAB.

#[path = "support/completion.rs"]
mod completion;
mod support;

use completion::{bash_complete, query};
use nomad_systemd::core::UnitName;
use support::cli;

/// A running task started by `nomad-systemd run` as `job`/`name` in allocation `alloc_id`;
/// stopped and removed when dropped.
struct Task {
    unit: UnitName,
}

impl Task {
    fn start(job: &str, name: &str, alloc_id: &str) -> Task {
        let out = cli(&[
            "run",
            "--job",
            job,
            "--name",
            name,
            "--alloc-id",
            alloc_id,
            "--",
            "/bin/sleep",
            "600",
        ]);
        let unit = UnitName::parse(out.ok().trim()).expect("run prints the unit name");
        Task { unit }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _ = cli(&["stop", self.unit.as_str()]);
    }
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

fn values(words: &[&str]) -> Vec<String> {
    query(words, &[]).0
}

#[test]
fn a_running_task_is_offered_by_unit_alloc_prefix_job_task_and_name() {
    let t = tag();
    let alloc_id = format!("{t}-0001-4000-8000-000000000000");
    let job = format!("job-{t}");
    let name = format!("web{t}");
    let task = Task::start(&job, &name, &alloc_id);
    let job_task = format!("{job}/{name}");

    for sub in ["stats", "logs", "stop", "signal", "exec"] {
        let all = values(&["nomad-systemd", sub, ""]);
        for expected in [task.unit.as_str(), &job_task, &t, &name] {
            assert!(
                all.iter().any(|v| v == expected),
                "`{sub} <TAB>` should offer {expected}: {all:?}"
            );
        }
    }
    assert_eq!(
        values(&["nomad-systemd", "stats", &t[..4]]),
        [t.as_str()],
        "an allocation id prefix completes to the short id"
    );
    assert_eq!(
        values(&["nomad-systemd", "logs", &format!("job-{t}/w")]),
        [job_task.as_str()]
    );
    assert_eq!(
        values(&["nomad-systemd", "stop", &format!("nomad-{t}")]),
        [task.unit.as_str().to_string()]
    );
    // stop --all's filters offer the values of the tasks listed.
    let job_prefix = format!("job-{t}");
    let name_prefix = format!("web{t}");
    for (option, typed, expected) in [
        ("--job", job_prefix.as_str(), job.as_str()),
        ("--alloc", &t[..4], t.as_str()),
        ("--task", name_prefix.as_str(), name.as_str()),
    ] {
        let offered = values(&["nomad-systemd", "stop", "--all", option, typed]);
        assert_eq!(offered, [expected], "stop --all {option} {typed}<TAB>");
    }
    // The globals typed before the subcommand choose where to look.
    let elsewhere = values(&[
        "nomad-systemd",
        "--slice",
        "system-other.slice",
        "stats",
        &t,
    ]);
    assert!(
        elsewhere.is_empty(),
        "another slice has no such task: {elsewhere:?}"
    );
}

#[test]
fn bash_completes_a_running_task_and_a_signal_through_the_committed_script() {
    let t = tag();
    let alloc_id = format!("{t}-0002-4000-8000-000000000000");
    let job = format!("job-{t}");
    let task = Task::start(&job, "db", &alloc_id);

    let by_prefix = bash_complete(&["nomad-systemd", "signal", &t[..3]]);
    assert_eq!(by_prefix, [t.as_str()]);
    let by_job = bash_complete(&["nomad-systemd", "stats", &format!("{job}/")]);
    assert_eq!(by_job, [format!("{job}/db")]);
    let by_unit = bash_complete(&["nomad-systemd", "exec", &format!("nomad-{t}-")]);
    assert_eq!(by_unit, [task.unit.as_str().to_string()]);
    let signals = bash_complete(&["nomad-systemd", "signal", &t, "HU"]);
    assert_eq!(signals, ["HUP"]);
    let signals = bash_complete(&["nomad-systemd", "stop", "--signal", "sigte"]);
    assert_eq!(signals, ["sigterm"]);
}

#[test]
fn without_a_systemd_to_ask_no_task_is_offered_and_nothing_said() {
    let runtime = tempfile::tempdir().expect("temp dir");
    let bus = runtime.path().join("bus");
    let address = format!("unix:path={}", bus.display());
    let runtime_dir = runtime.path().to_str().unwrap();
    let (all, stderr) = query(
        &["nomad-systemd", "--bus", "user", "stats", "nomad-"],
        &[
            ("XDG_RUNTIME_DIR", runtime_dir),
            ("DBUS_SESSION_BUS_ADDRESS", &address),
        ],
    );
    assert!(all.is_empty(), "offered {all:?}");
    assert!(stderr.is_empty(), "said {stderr:?}");
}
