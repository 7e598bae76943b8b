//! Faithful to Nomad's exec driver: environment variables Nomad accepts reach the task and its
//! exec sessions byte for byte; the capabilities the driver advertises follow its switches.
//! Through the real plugin binary, against the sandboxed systemd.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver as pb;
use rmpv::Value;
use support::plugin::{Alloc, Connection, Plugin, cty_object, driver_config};

const SHORT: Duration = Duration::from_secs(10);

/// systemd 252 cannot read a transient unit's `ExecStartEx=` back after a reload, so a task
/// whose start job is pending during one fails. The tests that reload hold this for writing,
/// all others for reading.
static RELOAD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The variables Nomad's exec passes through and systemd's `Environment=` refuses, next to
/// ones it takes, with `$` and `%` that must stay literal.
fn hostile_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("app.name", "x"),
        ("my-var", "$HOME ${X} $$ %n"),
        ("NOMAD_META_team.owner", "ops"),
        ("1ST", "digit first"),
        ("MULTI", "line one\nline two\r\nthree"),
        ("ESC", "\u{1b}[31mred"),
        ("LITERAL", "$HOME %n %% ${X} $$"),
        ("PLAIN", "tab\there"),
    ]
}

/// `NAME=VALUE` entries of a NUL-separated environment block.
fn entries(block: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    block
        .split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let i = e.iter().position(|&b| b == b'=').expect("NAME=VALUE");
            (e[..i].to_vec(), e[i + 1..].to_vec())
        })
        .collect()
}

fn assert_has_exactly(env: &BTreeMap<Vec<u8>, Vec<u8>>, want: &[(&str, &str)], what: &str) {
    for (name, value) in want {
        assert_eq!(
            env.get(name.as_bytes())
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            Some(value.to_string()),
            "{what}: {name}"
        );
    }
    assert!(
        !env.contains_key(b"CREDENTIALS_DIRECTORY".as_slice()),
        "{what}: nothing of the loader's own"
    );
}

fn with_env(task: &mut pb::TaskConfig, vars: &[(&str, &str)]) {
    for (k, v) in vars {
        task.env.insert(k.to_string(), v.to_string());
    }
}

/// Starts `sh -c 'cat /proc/$$/environ > /alloc/env; ...'` and returns the bytes.
async fn task_env(
    conn: &mut Connection,
    alloc: &Alloc,
    vars: &[(&str, &str)],
) -> (String, Vec<u8>) {
    let mut task = alloc.task_config(driver_config(
        "/bin/sh",
        &[
            "-c",
            "cat /proc/$$/environ > /alloc/env.tmp && mv /alloc/env.tmp /alloc/env; \
             while :; do sleep 0.1; done",
        ],
    ));
    with_env(&mut task, vars);
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    support::wait_for_file(&alloc.path("alloc/env"), support::READY);
    (id, std::fs::read(alloc.path("alloc/env")).unwrap())
}

#[tokio::test]
async fn names_and_values_nomad_accepts_reach_the_task_and_its_exec_sessions_exactly() {
    let _serial = RELOAD.write().await;
    let (_plugin, mut conn) = Plugin::configured_with(&[]).await;
    let alloc = Alloc::new("envtask");
    let vars = hostile_env();
    let (id, block) = task_env(&mut conn, &alloc, &vars).await;
    let env = entries(&block);
    assert_has_exactly(&env, &vars, "task");
    assert_eq!(
        env.get(b"NOMAD_TASK_NAME".as_slice()).map(Vec::as_slice),
        Some(b"envtask".as_slice())
    );

    // systemd before v254 cannot read back the ExecStartEx= of its transient unit file after
    // a reload: the exec must not depend on it.
    std::process::Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .unwrap();
    let exec = conn
        .exec(&id, &["/bin/cat", "/proc/self/environ"], Some(SHORT))
        .await
        .expect("ExecTask");
    assert_eq!(
        exec.result.as_ref().map(|r| r.exit_code),
        Some(0),
        "{exec:?}"
    );
    let exec_env = entries(&exec.stdout);
    assert_has_exactly(&exec_env, &vars, "exec session");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn only_what_the_kernel_cannot_carry_is_refused_naming_env_and_no_unit_is_left() {
    let _serial = RELOAD.read().await;
    let (_plugin, mut conn) = Plugin::configured_with(&[]).await;
    for (name, value) in [("A=B", "v"), ("", "v"), ("NUL", "a\0b")] {
        let alloc = Alloc::new("badenv");
        let mut task = alloc.task_config(driver_config("/bin/true", &[]));
        with_env(&mut task, &[(name, value)]);
        let unit = support::plugin::task_unit(&task);
        let err = conn.start(task).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        assert!(
            err.message().contains("env") && err.message().contains("no process environment"),
            "{}",
            err.message()
        );
        let engine = support::engine().await;
        support::assert_no_unit(&engine, &unit).await;
    }
}

#[tokio::test]
async fn a_task_with_its_own_root_and_a_name_systemd_refuses_is_refused_naming_the_variable() {
    let _serial = RELOAD.read().await;
    let (_plugin, mut conn) = Plugin::configured_with(&[]).await;
    let alloc = Alloc::new("rooted");
    std::fs::create_dir(alloc.path("rooted/local/rootfs")).unwrap();
    let mut task = alloc.task_config(cty_object(&[
        ("args", Value::Array(vec![])),
        ("command", "/bin/true".into()),
        ("root_directory", "rootfs".into()),
    ]));
    with_env(&mut task, &[("app.name", "x")]);
    let err = conn.start(task).await.unwrap_err();
    assert!(err.message().contains("env.app.name"), "{}", err.message());
}

/// The loader's cost: start-to-running latency of a task with and without it, a few runs.
#[tokio::test]
async fn the_loader_costs_little_at_start() {
    let _serial = RELOAD.read().await;
    let (_plugin, mut conn) = Plugin::configured_with(&[]).await;
    let median = |runs: &mut Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let mut plain = Vec::new();
    let mut loaded = Vec::new();
    for i in 0..10 {
        for (vars, out) in [
            (vec![("PLAIN", "x")], &mut plain),
            (vec![("app.name", "x")], &mut loaded),
        ] {
            let alloc = Alloc::new(&format!("cost{i}"));
            let started = Instant::now();
            let (id, _) = task_env(&mut conn, &alloc, &vars).await;
            out.push(started.elapsed());
            conn.destroy(&id).await;
        }
    }
    let (p, l) = (median(&mut plain), median(&mut loaded));
    eprintln!("start to running, median of 10: without loader {p:?}, with loader {l:?}");
    assert!(l < p + Duration::from_millis(250), "{p:?} vs {l:?}");
}

/// An installed unit's drop-in has no loader: a variable systemd refuses is left out of it
/// (even when `unit_env_allow` names it), the unit starts, and a task event says so.
#[tokio::test]
async fn an_installed_unit_leaves_out_what_systemd_refuses_and_says_so() {
    let _serial = RELOAD.write().await;
    let record = std::path::Path::new("/run/fidelity-env.record");
    let _ = std::fs::remove_file(record);
    std::fs::write(
        "/run/systemd/system/fidelity-env.service",
        format!(
            "[Service]\nExecStart=/bin/sh -c 'env > {}; exec sleep 300'\n",
            record.display()
        ),
    )
    .unwrap();
    std::process::Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .unwrap();
    let strings = |v: &[&str]| Value::Array(v.iter().map(|s| Value::from(*s)).collect());
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allow_root", true.into()),
        ("allow_units", strings(&["fidelity-env.service"])),
        ("unit_env_allow", strings(&["app*", "APP_*"])),
    ])
    .await;
    let mut events = conn
        .driver
        .task_events(pb::TaskEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    let alloc = Alloc::new("installed");
    let mut task = alloc.task_config(cty_object(&[("unit", "fidelity-env.service".into())]));
    with_env(&mut task, &[("app.name", "x"), ("APP_MODE", "blue")]);
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    let env = support::wait_for_file(record, support::READY);
    assert!(env.contains("APP_MODE=blue"), "{env}");
    assert!(!env.contains("app.name"), "{env}");
    let event = tokio::time::timeout(SHORT, events.message())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    assert_eq!(event.alloc_id, alloc.id);
    assert_eq!(event.task_name, "installed");
    assert!(event.message.contains("app.name"), "{}", event.message);
    conn.destroy(&id).await;
}

async fn capabilities(conn: &mut Connection) -> pb::DriverCapabilities {
    conn.driver
        .capabilities(pb::CapabilitiesRequest {})
        .await
        .expect("Capabilities")
        .into_inner()
        .capabilities
        .expect("capabilities")
}

/// The capabilities Nomad acts on follow the operator's switches and the bus: it allocates
/// `nomad-<N>` users only when told the agent's pool is on, starts no logmon when log
/// collection is off, and interpolates `/alloc`, `/local`, `/secrets` only where they are
/// bound.
#[tokio::test]
async fn capabilities_reflect_the_switches_and_the_bus() {
    let _serial = RELOAD.read().await;
    use pb::driver_capabilities::FsIsolation;
    let (_plugin, mut conn) = Plugin::configured_with(&[]).await;
    let caps = capabilities(&mut conn).await;
    assert!(caps.dynamic_workload_users, "{caps:?}");
    assert!(!caps.disable_log_collection, "{caps:?}");
    assert_eq!(caps.fs_isolation, FsIsolation::Image as i32);

    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("dynamic_workload_users", false.into()),
        ("disable_log_collection", true.into()),
    ])
    .await;
    let caps = capabilities(&mut conn).await;
    assert!(!caps.dynamic_workload_users, "{caps:?}");
    assert!(caps.disable_log_collection, "{caps:?}");
    assert_eq!(caps.fs_isolation, FsIsolation::Image as i32);

    // A user manager binds nothing and runs every task as its own user.
    let (_plugin, mut conn) = Plugin::configured_with(&[("bus", "user".into())]).await;
    let caps = capabilities(&mut conn).await;
    assert_eq!(caps.fs_isolation, FsIsolation::None as i32, "{caps:?}");
    assert!(!caps.dynamic_workload_users, "{caps:?}");
}

/// With `dynamic_workload_users = false` the client sends no user, and the task runs as
/// `default_user`, as the README says.
#[tokio::test]
async fn without_workload_users_a_task_without_user_runs_as_default_user() {
    let _serial = RELOAD.read().await;
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("dynamic_workload_users", false.into()),
        ("default_user", "daemon".into()),
    ])
    .await;
    let alloc = Alloc::new("deflt");
    let task = alloc.task_config(driver_config("/bin/sh", &["-c", "id -u > /alloc/uid"]));
    assert!(task.user.is_empty());
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    conn.wait(&id).await;
    let daemon = nix::unistd::User::from_name("daemon").unwrap().unwrap().uid;
    assert_eq!(
        std::fs::read_to_string(alloc.path("alloc/uid"))
            .unwrap()
            .trim(),
        daemon.to_string()
    );
    conn.destroy(&id).await;
}

/// With `disable_log_collection` Nomad starts no logmon, so the FIFOs it names do not exist:
/// the task still starts, whatever its `logging`, and its output is in the journal.
#[tokio::test]
async fn with_log_collection_disabled_output_goes_to_the_journal_and_no_fifo_is_needed() {
    let _serial = RELOAD.read().await;
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("disable_log_collection", true.into())]).await;
    for logging in ["nomad", "both"] {
        let alloc = Alloc::new("nolog");
        let marker = format!("no-logmon-{logging}-{}", alloc.id);
        let mut task = alloc.task_config(cty_object(&[
            (
                "args",
                Value::Array(vec!["-c".into(), format!("echo {marker}").into()]),
            ),
            ("command", "/bin/sh".into()),
            (
                "logging",
                Value::Map(vec![("driver".into(), logging.into())]),
            ),
        ]));
        let logs = alloc.path("alloc/logs");
        task.stdout_path = logs.join(".absent.stdout.fifo").display().to_string();
        task.stderr_path = logs.join(".absent.stderr.fifo").display().to_string();
        let unit = support::plugin::task_unit(&task);
        let id = task.id.clone();
        conn.start(task).await.expect("StartTask");
        let exit = conn.wait(&id).await;
        assert_eq!(exit.result.map(|r| r.exit_code), Some(0));
        let deadline = Instant::now() + SHORT;
        loop {
            let journal = std::process::Command::new("journalctl")
                .args(["--no-pager", "-o", "cat", &format!("_SYSTEMD_UNIT={unit}")])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&journal.stdout).contains(&marker) {
                break;
            }
            assert!(Instant::now() < deadline, "{marker} not in the journal");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!logs.join(".absent.stdout.fifo").exists());
        conn.destroy(&id).await;
    }
}

/// The SIGPIPE disposition (bit 13 of `SigIgn` in `/proc/<pid>/status`) the task's shell got.
async fn sigpipe_ignored(
    conn: &mut Connection,
    vars: &[(&str, &str)],
    properties: &[(&str, &str)],
) -> bool {
    let alloc = Alloc::new("sigpipe");
    let mut task = alloc.task_config(cty_object(&[
        (
            "args",
            Value::Array(vec![
                "-c".into(),
                "grep SigIgn /proc/$$/status > /alloc/s".into(),
            ]),
        ),
        ("command", "/bin/sh".into()),
        (
            "properties",
            Value::Map(
                properties
                    .iter()
                    .map(|(k, v)| (Value::from(*k), Value::from(*v)))
                    .collect(),
            ),
        ),
    ]));
    with_env(&mut task, vars);
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    conn.wait(&id).await;
    let line = std::fs::read_to_string(alloc.path("alloc/s")).unwrap();
    conn.destroy(&id).await;
    let mask = u64::from_str_radix(line.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    mask & (1 << (13 - 1)) != 0
}

/// The loader's runtime ignores SIGPIPE; the program gets systemd's setting, not that.
#[tokio::test]
async fn the_loader_passes_on_systemds_sigpipe_setting() {
    let _serial = RELOAD.read().await;
    let (_plugin, mut conn) = Plugin::configured_with(&[(
        "allow_properties",
        Value::Array(vec!["IgnoreSIGPIPE".into()]),
    )])
    .await;
    for no in [false, true] {
        let props: &[(&str, &str)] = if no {
            &[("IgnoreSIGPIPE:b", "no")]
        } else {
            &[]
        };
        let plain = sigpipe_ignored(&mut conn, &[], props).await;
        let loaded = sigpipe_ignored(&mut conn, &[("app.name", "x")], props).await;
        assert_eq!(plain, !no, "systemd's own setting");
        assert_eq!(
            loaded,
            plain,
            "IgnoreSIGPIPE={}",
            if no { "no" } else { "yes" }
        );
    }
}
