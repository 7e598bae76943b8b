//! `run -f JOB.nomad.hcl` against a real systemd: a whole job file is taken, its task picked
//! (`--task`), Nomad's runtime variables interpolated, the plugin's defaults applied (user
//! nobody, kill signal SIGINT, as for a one-task file), and what a run by hand cannot do
//! printed as differences.

mod support;

use std::path::PathBuf;

use support::*;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

/// The value column of the property `name` in a dry run's table.
fn row<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} row in {out}"))
        .trim_start()
}

#[test]
fn every_example_job_running_a_command_dry_runs_as_the_plugin_would_run_it() {
    // (file, the user it runs as, the kill signal's number, what must differ from Nomad)
    for (file, user, signal, differences) in [
        ("batch.nomad.hcl", Some("nobody"), 2, &["group.restart"][..]),
        (
            "web.nomad.hcl",
            Some("nobody"),
            15,
            &["task.template", "group.service", "ports: http="][..],
        ),
        (
            "script-check.nomad.hcl",
            Some("nobody"),
            2,
            &["group.service", "ports: http="][..],
        ),
        (
            "sandboxed.nomad.hcl",
            None,
            2,
            &["task.template", "ports: http=80"][..],
        ),
    ] {
        let run = cli(&["run", "-f", &example(file), "--dry-run"]);
        let out = run.ok();
        let err = run.stderr();
        if let Some(user) = user {
            assert_eq!(
                row(&out, "User"),
                format!("s        \"{user}\""),
                "{file}: {out}"
            );
        } else {
            assert_eq!(row(&out, "DynamicUser"), "b        true", "{file}: {out}");
        }
        assert_eq!(
            row(&out, "KillSignal"),
            format!("i        {signal}"),
            "{file}: {out}"
        );
        let exec = row(&out, "ExecStart");
        assert!(!exec.contains("${"), "{file}: uninterpolated: {exec}");
        for d in differences {
            assert!(
                err.contains(&format!("differs from Nomad: {d}")),
                "{file}: no difference {d} in {err}"
            );
        }
    }
}

#[test]
fn the_port_nomad_would_give_is_interpolated_into_args_and_env() {
    let run = cli(&["run", "-f", &example("web.nomad.hcl"), "--dry-run"]);
    let out = run.ok();
    let err = run.stderr();
    let port = err
        .split("ports: http=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no port in {err}"));
    assert!(port.parse::<u16>().is_ok(), "{port}");
    assert!(
        row(&out, "ExecStart").contains(&format!("\"http.server\", \"{port}\"")),
        "{out}"
    );
    assert!(out.contains(&format!("NOMAD_PORT_http={port}")), "{out}");
}

#[test]
fn a_wrong_or_missing_task_lists_the_tasks_there_are() {
    let run = cli(&[
        "run",
        "-f",
        &example("web.nomad.hcl"),
        "--task",
        "web/nope",
        "--dry-run",
    ]);
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr().contains("web/server (driver systemd)"),
        "{}",
        run.stderr()
    );

    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("two.nomad.hcl");
    std::fs::write(
        &job,
        r#"job "two" {
  group "a" {
    task "one" {
      driver = "systemd"
      config {
        command = "/bin/true"
      }
    }
    task "two" {
      driver = "systemd"
      config {
        command = "/bin/false"
      }
    }
  }
}
"#,
    )
    .unwrap();
    let job = job.display().to_string();
    let run = cli(&["run", "-f", &job, "--dry-run"]);
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr()
            .contains("a/one (driver systemd), a/two (driver systemd)"),
        "{}",
        run.stderr()
    );
    let out = cli(&["run", "-f", &job, "--task", "two", "--dry-run"]).ok();
    assert!(row(&out, "ExecStart").contains("/bin/false"), "{out}");
}

#[test]
fn a_job_files_task_runs_as_nobody_with_its_names_interpolated() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("who.nomad.hcl");
    std::fs::write(
        &job,
        r#"job "who" {
  group "g" {
    task "t" {
      driver = "systemd"
      config {
        command = "/bin/sh"
        args = ["-c", "test \"$(id -un)\" = nobody && test \"$1\" = who/g/t && exit 3", "sh",
                "${NOMAD_JOB_NAME}/${NOMAD_GROUP_NAME}/${NOMAD_TASK_NAME}"]
      }
    }
  }
}
"#,
    )
    .unwrap();
    let job = job.display().to_string();
    let run = cli(&["run", "-f", &job, "--wait"]);
    assert_eq!(run.code(), 3, "{}", run.stderr());
}

#[test]
fn a_task_file_defaults_as_a_job_files_task_and_the_plugin_do() {
    let dry = |args: &[&str]| {
        let mut all = vec!["run", "--dry-run"];
        all.extend_from_slice(args);
        cli(&all).ok()
    };
    let batch = example("batch.task.hcl");
    // The file names neither: the plugin's default user, Nomad's SIGINT.
    let out = dry(&["-f", &batch, "--task-dir"]);
    assert_eq!(row(&out, "User"), "s        \"nobody\"", "{out}");
    assert_eq!(row(&out, "KillSignal"), "i        2", "{out}");
    // What the file says stays (web.task.toml: SIGTERM); the command line wins over both.
    let out = dry(&["-f", &example("web.task.toml")]);
    assert_eq!(row(&out, "KillSignal"), "i        15", "{out}");
    let out = dry(&["-f", &batch, "--user", "root", "--kill-signal", "TERM"]);
    assert_eq!(row(&out, "User"), "s        \"root\"", "{out}");
    assert_eq!(row(&out, "KillSignal"), "i        15", "{out}");
    // Without a file, run is systemd-run's: the manager's user, SIGTERM.
    let out = dry(&["--", "/bin/true"]);
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with("User ")),
        "{out}"
    );
    assert_eq!(row(&out, "KillSignal"), "i        15", "{out}");

    // What a run by hand leaves out is said, as for a job file's task.
    let without_dirs = cli(&["run", "--dry-run", "-f", &batch]);
    assert!(
        without_dirs
            .stderr()
            .contains("differs from Nomad: task directories"),
        "{}",
        without_dirs.stderr()
    );
    let with_dirs = cli(&["run", "--dry-run", "--task-dir", "-f", &batch]);
    assert!(
        !with_dirs.stderr().contains("differs"),
        "{}",
        with_dirs.stderr()
    );

    // And it runs so.
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("who.task.hcl");
    std::fs::write(
        &task,
        r#"task "who" {
  driver = "systemd"
  config {
    command = "/bin/sh"
    args = ["-c", "test \"$(id -un)\" = nobody && exit 3"]
  }
}
"#,
    )
    .unwrap();
    let run = cli(&["run", "-f", &task.display().to_string(), "--wait"]);
    assert_eq!(run.code(), 3, "{}", run.stderr());
}
