//! Attacks through installed units and the CLI, against the sandboxed real systemd: a job that
//! names an installed unit must not hand it the job's power (its loader variables, a drop-in
//! systemd drops, an exec as the unit's root user, an alias of a forbidden unit), and the CLI
//! must not act on units that are not its tasks. Each test asserts the safe outcome.

mod support;

use std::path::Path;
use std::time::Duration;

use nomad_systemd::core::UnitName;
use rmpv::Value;
use support::plugin::{Alloc, Plugin, cty_object, strings, unit_config};
use support::units::{UNIT_DIR, active_state, dropin_dir, dropin_file, install, systemctl};

const SHORT: Duration = Duration::from_secs(15);

/// Asserts the unit was left as installed: not started, no drop-in of ours.
fn assert_untouched(unit: &str) {
    assert_eq!(active_state(unit), "inactive", "{unit} was started");
    assert!(!dropin_file(unit).exists(), "{unit}'s drop-in is left");
}

/// A service running as root (no `User=`) that records the environment it was started with
/// into `record`, then stays up.
fn recording_unit(record: &Path) -> String {
    format!(
        "[Service]\nExecStart=/bin/bash -c 'env > {}; exec sleep 300'\n",
        record.display()
    )
}

#[tokio::test]
async fn a_root_unit_gets_nomads_variables_and_the_allowed_names_never_loader_or_shell_ones() {
    let record = Path::new("/run/nsa-env.record");
    let _ = std::fs::remove_file(record);
    install(&[("nsa-env.service", &recording_unit(record))]);
    // The operator's patterns are broad on purpose: loader variables pass none the less.
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allow_units", strings(&["nsa-env.service"])),
        (
            "unit_env_allow",
            strings(&["APP_*", "LD_*", "BASH_ENV", "PYTHON*"]),
        ),
    ])
    .await;
    let alloc = Alloc::new("env");
    // The job plants a script in its own local/ and points bash at it: run as root, it would
    // leave the marker behind.
    let marker = Path::new("/run/nsa-env.pwned");
    let _ = std::fs::remove_file(marker);
    let planted = alloc.path("env/local/evil.sh");
    std::fs::write(&planted, format!("touch {}\n", marker.display())).unwrap();
    let mut task = alloc.task_config(unit_config("nsa-env.service"));
    for (k, v) in [
        ("NOMAD_PORT_http", "8080".to_string()),
        ("APP_MODE", "blue".to_string()),
        ("OTHER_SETTING", "x".to_string()),
        (
            "LD_PRELOAD",
            alloc.path("env/local/evil.so").display().to_string(),
        ),
        ("BASH_ENV", planted.display().to_string()),
        ("ENV", planted.display().to_string()),
        ("PYTHONSTARTUP", planted.display().to_string()),
        ("PATH", alloc.path("env/local").display().to_string()),
    ] {
        task.env.insert(k.into(), v);
    }
    conn.start(task.clone()).await.expect("StartTask");
    let env = support::wait_for_file(record, support::READY);
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for present in [
        "NOMAD_PORT_http",
        "NOMAD_ALLOC_ID",
        "NOMAD_TASK_NAME",
        "APP_MODE",
    ] {
        assert!(names.contains(&present), "{present} missing:\n{env}");
    }
    assert!(env.contains("NOMAD_PORT_http=8080"), "{env}");
    for absent in [
        "OTHER_SETTING",
        "LD_PRELOAD",
        "BASH_ENV",
        "ENV",
        "PYTHONSTARTUP",
    ] {
        assert!(
            !names.contains(&absent),
            "{absent} reached the unit:\n{env}"
        );
    }
    // Only Nomad's own directory variables point into the allocation (PATH stays systemd's).
    let local = alloc.path("env/local").display().to_string();
    let leaked: Vec<&str> = env
        .lines()
        .filter(|l| l.contains(&local) && !l.starts_with("NOMAD_"))
        .collect();
    assert!(
        leaked.is_empty(),
        "a path into the job's local/ reached the unit: {leaked:?}"
    );
    assert!(!marker.exists(), "the job's BASH_ENV script ran as root");
    conn.destroy(&task.id).await;
    assert_untouched("nsa-env.service");
}

#[tokio::test]
async fn a_value_systemd_would_not_read_is_refused_naming_env_and_nothing_is_left() {
    install(&[("nsa-big.service", "[Service]\nExecStart=/bin/sleep 300\n")]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nsa-big.service"]))]).await;
    let alloc = Alloc::new("big");
    let mut task = alloc.task_config(unit_config("nsa-big.service"));
    // Meta values reach the task as NOMAD_META_*, which an installed unit does get.
    task.env
        .insert("NOMAD_META_blob".into(), "x".repeat(2 << 20));
    let e = conn.start(task).await.unwrap_err();
    assert!(
        e.message().contains("env") && e.message().contains("NOMAD_META_blob"),
        "{e:?}"
    );
    assert_untouched("nsa-big.service");
    assert!(!dropin_dir("nsa-big.service").exists());
}

#[tokio::test]
async fn a_setting_systemd_ignores_fails_the_start_and_removes_the_drop_in() {
    install(&[("nsa-io.service", "[Service]\nExecStart=/bin/sleep 300\n")]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nsa-io.service"]))]).await;
    let alloc = Alloc::new("io");
    // A device path with a space: systemd reads `IOReadBandwidthMax=/dev/my disk 1048576` as
    // the device `/dev/my` and the limit `disk 1048576`, logs "Invalid IO limit, ignoring"
    // and would run the unit without the limit.
    let config = cty_object(&[
        ("unit", Value::from("nsa-io.service")),
        (
            "io_read_bandwidth_max",
            Value::Map(vec![(Value::from("/dev/my disk"), Value::from("1M"))]),
        ),
    ]);
    let e = conn.start(alloc.task_config(config)).await.unwrap_err();
    assert!(e.message().contains("IOReadBandwidthMax"), "{e:?}");
    assert_untouched("nsa-io.service");
    assert!(!dropin_dir("nsa-io.service").exists());

    // An administrator's drop-in sorting after ours takes the memory limit away: refused too.
    let admin = dropin_dir("nsa-io.service");
    std::fs::create_dir_all(&admin).unwrap();
    std::fs::write(
        admin.join("zzz-local.conf"),
        "[Service]\nMemoryMax=infinity\n",
    )
    .unwrap();
    systemctl(&["daemon-reload"]);
    let e = conn
        .start(alloc.task_config(unit_config("nsa-io.service")))
        .await
        .unwrap_err();
    assert!(e.message().contains("MemoryMax"), "{e:?}");
    assert_untouched("nsa-io.service");
    std::fs::remove_dir_all(&admin).unwrap();
    systemctl(&["daemon-reload"]);
}

#[tokio::test]
async fn an_exec_into_an_installed_unit_running_as_root_needs_allow_root() {
    install(&[("nsa-root.service", "[Service]\nExecStart=/bin/sleep 300\n")]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nsa-root.service"]))]).await;
    let alloc = Alloc::new("rootexec");
    let task = alloc.task_config(unit_config("nsa-root.service"));
    conn.start(task.clone()).await.expect("StartTask");
    let marker = Path::new("/run/nsa-root.pwned");
    let _ = std::fs::remove_file(marker);
    let touch = format!("touch {}", marker.display());
    let e = conn
        .exec(&task.id, &["/bin/sh", "-c", &touch], Some(SHORT))
        .await
        .unwrap_err();
    assert!(
        e.message().contains("root") && e.message().contains("allow_root"),
        "{e:?}"
    );
    assert!(!marker.exists(), "the exec ran as root");
    let execs = systemctl(&[
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        "nsa-root-exec-*",
    ]);
    assert!(execs.is_empty(), "{execs}");
    assert_eq!(active_state("nsa-root.service"), "active");
    conn.destroy(&task.id).await;

    // With allow_root the operator grants it: the same exec runs, as root.
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allow_units", strings(&["nsa-root.service"])),
        ("allow_root", Value::from(true)),
    ])
    .await;
    let task = alloc.task_config(unit_config("nsa-root.service"));
    conn.start(task.clone()).await.expect("StartTask");
    let out = conn
        .exec(&task.id, &["/usr/bin/id", "-u"], Some(SHORT))
        .await
        .expect("ExecTask");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    conn.destroy(&task.id).await;
}

#[tokio::test]
async fn an_alias_is_checked_as_the_unit_it_names() {
    let target = "systemd-nsa-target.service";
    install(&[
        (target, "[Service]\nExecStart=/bin/sleep 300\n"),
        (
            "nsa-secret.service",
            "[Service]\nExecStart=/bin/sleep 300\n",
        ),
        ("nsa-plain.service", "[Service]\nExecStart=/bin/sleep 300\n"),
    ]);
    for (alias, real) in [
        ("nsa-evil.service", target),
        ("nsa-alias.service", "nsa-secret.service"),
        ("nsa-other-name.service", "nsa-plain.service"),
    ] {
        let link = Path::new(UNIT_DIR).join(alias);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(real, &link).unwrap();
    }
    systemctl(&["daemon-reload"]);
    let (_plugin, mut conn) = Plugin::configured_with(&[
        (
            "allow_units",
            strings(&[
                "nsa-evil.service",
                "nsa-alias.service",
                "nsa-other-name.service",
            ]),
        ),
        ("deny_units", strings(&["nsa-secret*"])),
    ])
    .await;
    let alloc = Alloc::new("alias");

    // An alias of an always-denied unit.
    let e = conn
        .start(alloc.task_config(unit_config("nsa-evil.service")))
        .await
        .unwrap_err();
    assert!(
        e.message().contains(target) && e.message().contains("always denied"),
        "{e:?}"
    );
    assert_untouched(target);
    assert_untouched("nsa-evil.service");

    // An alias of a unit deny_units names.
    let e = conn
        .start(alloc.task_config(unit_config("nsa-alias.service")))
        .await
        .unwrap_err();
    assert!(
        e.message().contains("nsa-secret.service") && e.message().contains("deny_units"),
        "{e:?}"
    );
    assert_untouched("nsa-secret.service");

    // An alias of a unit allow_units does not name: allowing the name is not allowing it.
    let e = conn
        .start(alloc.task_config(unit_config("nsa-other-name.service")))
        .await
        .unwrap_err();
    assert!(
        e.message().contains("nsa-plain.service") && e.message().contains("allow_units"),
        "{e:?}"
    );
    assert_untouched("nsa-plain.service");

    // The CLI, run by an operator, is held to the always-denied list the same way.
    let cli = support::cli(&["run", "--unit", "nsa-evil.service"]);
    assert_eq!(cli.code(), 1, "{}", cli.stderr());
    assert!(cli.stderr().contains(target), "{}", cli.stderr());
    assert_untouched(target);
}

#[tokio::test]
async fn the_cli_refuses_to_stop_or_exec_into_a_unit_that_is_not_its_task() {
    install(&[(
        "nsa-service.service",
        "[Service]\nExecStart=/bin/sleep 300\n",
    )]);
    systemctl(&["start", "nsa-service.service"]);
    let pid = systemctl(&["show", "-P", "MainPID", "nsa-service.service"]);

    let stop = support::cli(&["stop", "nsa-service.service"]);
    assert_eq!(stop.code(), 1, "{}", stop.stderr());
    assert!(
        stop.stderr().contains("nsa-service.service")
            && stop.stderr().contains("not a nomad-systemd task"),
        "{}",
        stop.stderr()
    );

    let marker = Path::new("/run/nsa-cli.pwned");
    let _ = std::fs::remove_file(marker);
    let touch = format!("touch {}", marker.display());
    let exec = support::cli(&["exec", "-T", "nsa-service", "--", "/bin/sh", "-c", &touch]);
    assert_eq!(exec.code(), 1, "{}", exec.stderr());
    assert!(
        exec.stderr().contains("not a nomad-systemd task"),
        "{}",
        exec.stderr()
    );
    assert!(!marker.exists());

    assert_eq!(active_state("nsa-service.service"), "active");
    assert_eq!(
        systemctl(&["show", "-P", "MainPID", "nsa-service.service"]),
        pid
    );
    systemctl(&["stop", "nsa-service.service"]);

    // Its own tasks it still stops.
    let run = support::cli(&["run", "--", "/bin/sleep", "300"]);
    let unit = UnitName::parse(run.ok().trim()).unwrap();
    support::cli(&["stop", unit.as_str()]).ok();
    assert_ne!(active_state(unit.as_str()), "active");
}
