//! Attacks on who a task runs as and what it holds: a job picking a host account through
//! Nomad's workload-user form, a privileged group, an ambient capability out of the default
//! bounding list. The plugin is driven over gRPC as Nomad drives it, against the sandboxed real
//! systemd, with the default plugin config unless a test says otherwise; each task reports
//! what it sees on its stdout FIFO, and each refusal must leave no unit.

mod support;

use std::path::Path;
use std::time::Duration;

use nomad_systemd::plugin::proto::driver as pb;
use rmpv::Value;
use support::plugin::{Alloc, Connection, Plugin, cty_object, nomad_config, task_unit};
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);

/// A plugin configured with the agent's `config { ... }` given as attribute pairs.
async fn plugin_with(settings: &[(&str, Value)]) -> (Plugin, Connection) {
    let plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    conn.set_config(cty_object(settings), nomad_config())
        .await
        .expect("SetConfig");
    (plugin, conn)
}

/// A job's `config` running `sh -c script`, with further options.
fn shell_with(script: &str, options: &[(&str, Value)]) -> Vec<u8> {
    let mut pairs = vec![
        ("command", Value::from("/bin/sh")),
        ("args", strings(&["-c", script])),
    ];
    pairs.extend(options.iter().cloned());
    cty_object(&pairs)
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

/// Starts the task as `user`, waits for its exit and returns what it printed up to `END`.
async fn run(conn: &mut Connection, alloc: &Alloc, mut task: pb::TaskConfig, user: &str) -> String {
    task.user = user.into();
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    conn.wait(&id).await;
    let out = alloc.wait_for_stdout("END", SHORT);
    conn.destroy(&id).await;
    out
}

/// Starts the task as `user` and expects a refusal of the job's input whose message names
/// every one of `mentions`; asserts that no unit was left behind.
async fn refused(conn: &mut Connection, mut task: pb::TaskConfig, user: &str, mentions: &[&str]) {
    let engine = support::engine().await;
    task.user = user.into();
    let unit = task_unit(&task);
    let what = format!("user {user:?}, config {:?}", task.msgpack_driver_config);
    match conn.start(task).await {
        Ok(_) => panic!("{what}: started"),
        Err(e) => {
            assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e}");
            for m in mentions {
                assert!(
                    e.message().contains(m),
                    "{what}: {m:?} not in {}",
                    e.message()
                );
            }
        }
    }
    support::assert_no_unit(&engine, &unit).await;
}

/// The value a task printed as `key=value`.
fn printed<'a>(out: &'a str, key: &str) -> &'a str {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {out:?}"))
}

/// The bits of a `/proc/self/status` capability line (`CapEff:\t00000000a80425fb`).
fn cap_mask(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status:?}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

const DAC_OVERRIDE: u64 = 1 << 1;
const NET_BIND_SERVICE: u64 = 1 << 10;

fn record(name: &str) -> std::path::PathBuf {
    Path::new("/run/userdb").join(name)
}

#[tokio::test]
async fn a_workload_user_outside_the_dynamic_range_is_refused_naming_user() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("outside");
    // 42 is a system account here (_apt; gid 42 is shadow), 0 is root, 65534 nobody, and the
    // rest sit just outside Nomad's default 80000-89999.
    for user in [
        "nomad-42",
        "nomad-0",
        "nomad-65534",
        "nomad-79999",
        "nomad-90000",
        "nomad-2147483647",
    ] {
        let task = alloc.task_config(shell_with("id; echo END", &[]));
        refused(
            &mut conn,
            task,
            user,
            &["user", user, "80000-89999", "dynamic_user_min"],
        )
        .await;
        let id = user.trim_start_matches("nomad-");
        assert!(!record(&format!("{id}.user")).exists(), "{user}");
    }
    assert!(!alloc.has_stdout(), "no task ran");
}

#[tokio::test]
async fn a_workload_user_whose_uid_or_gid_the_host_uses_is_refused() {
    use nix::unistd::{Gid, Group, Uid, User};
    // The operator's range may overlap accounts by mistake; the host's owner still wins.
    let group_only = (1..60000)
        .find(|&n| {
            matches!(Group::from_gid(Gid::from_raw(n)), Ok(Some(_)))
                && matches!(User::from_uid(Uid::from_raw(n)), Ok(None))
        })
        .expect("a gid with no user of the same number");
    let shadow = Group::from_name("shadow")
        .unwrap()
        .expect("group shadow")
        .gid;
    let cases = [
        (shadow.as_raw(), "belongs to"),
        (65534, "uid 65534 belongs to the user"),
        (group_only, "belongs to the group"),
    ];
    for (id, why) in cases {
        let (_plugin, mut conn) = plugin_with(&[
            ("dynamic_user_min", id.into()),
            ("dynamic_user_max", id.into()),
        ])
        .await;
        let alloc = Alloc::new("taken");
        let user = format!("nomad-{id}");
        let task = alloc.task_config(shell_with("id; echo END", &[]));
        refused(&mut conn, task, &user, &["user", &user, why]).await;
        assert!(!record(&format!("{id}.user")).exists(), "{user}");
        assert!(!alloc.has_stdout(), "{user} ran");
    }
}

#[tokio::test]
async fn a_workload_user_runs_as_uid_and_gid_n_with_the_jobs_sandbox() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("workload");
    let marker = format!("attack-identity-{}", std::process::id());
    let script = format!(
        "echo uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ,) name=$(id -un) home=$HOME; \
         grep -E '^(NoNewPrivs|CapEff|CapAmb)' /proc/self/status; \
         echo from-the-task > /tmp/{marker} && echo tmp=written; \
         cat /etc/shadow >/dev/null 2>&1; echo shadow_rc=$?; \
         id -u > /local/uid; echo END"
    );
    let task = alloc.task_config(shell_with(&script, &[]));
    let out = run(&mut conn, &alloc, task, "nomad-80123").await;
    assert_eq!(printed(&out, "uid"), "80123", "{out}");
    assert_eq!(printed(&out, "gid"), "80123", "{out}");
    assert_eq!(printed(&out, "groups"), "80123", "no other group: {out}");
    assert_eq!(printed(&out, "name"), "nomad-80123", "{out}");
    assert_eq!(printed(&out, "home"), "/nonexistent", "as in Nomad: {out}");
    // Not systemd's DynamicUser: the job's sandbox is what applies.
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert_eq!(cap_mask(&out, "CapEff"), 0, "{out}");
    assert_eq!(cap_mask(&out, "CapAmb"), 0, "{out}");
    assert_ne!(printed(&out, "shadow_rc"), "0", "{out}");
    assert!(out.contains("tmp=written"), "{out}");
    assert!(
        !Path::new("/tmp").join(&marker).exists(),
        "private_tmp applies: the task's /tmp is its own"
    );
    let written = std::fs::read_to_string(alloc.path("workload/local/uid")).unwrap();
    assert_eq!(written.trim(), "80123");
    let owner = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(alloc.path("workload/local/uid")).unwrap(),
    );
    assert_eq!(owner, 80123, "files it creates are uid N's");

    // Destroying the task removes uid N's record; a restart with the same N provides it again.
    assert!(
        !record("nomad-80123.user").exists(),
        "the record outlived the task"
    );
    assert!(
        !record("80123.group").exists(),
        "the record outlived the task"
    );
    let alloc = Alloc::new("workload");
    let task = alloc.task_config(shell_with(
        "echo again=$(id -u):$(id -g) $(getent passwd 80123 | cut -d: -f1); echo END",
        &[],
    ));
    let out = run(&mut conn, &alloc, task, "nomad-80123").await;
    assert!(out.contains("again=80123:80123 nomad-80123"), "{out}");
    assert!(!record("nomad-80123.user").exists());
}

#[tokio::test]
async fn a_command_executed_in_a_workload_users_task_runs_as_that_user() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("workload-exec");
    let mut task = alloc.task_config(shell_with("echo up; exec sleep 300", &[]));
    task.user = "nomad-80127".into();
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    alloc.wait_for_stdout("up", SHORT);
    let response = conn
        .exec(
            &id,
            &[
                "/bin/sh",
                "-c",
                "echo uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ,); \
                 grep ^CapEff /proc/self/status",
            ],
            Some(SHORT),
        )
        .await
        .expect("ExecTask");
    conn.destroy(&id).await;
    let out = String::from_utf8_lossy(&response.stdout).into_owned();
    assert_eq!(response.result.unwrap().exit_code, 0, "{out}");
    assert_eq!(printed(&out, "uid"), "80127", "{out}");
    assert_eq!(printed(&out, "gid"), "80127", "{out}");
    assert_eq!(printed(&out, "groups"), "80127", "{out}");
    assert_eq!(cap_mask(&out, "CapEff"), 0, "{out}");
}

#[tokio::test]
async fn a_nomad_prefixed_name_not_in_nomads_form_is_an_ordinary_user() {
    let (_plugin, mut conn) = plugin_with(&[("allowed_users", strings(&["app-*"]))]).await;
    let alloc = Alloc::new("lookalike");
    for user in ["nomad-x", "nomad-80123x", "nomad--1", "nomad-"] {
        let task = alloc.task_config(shell_with("id; echo END", &[]));
        refused(&mut conn, task, user, &["user", "allowed_users"]).await;
    }
}

#[tokio::test]
async fn an_account_outside_allowed_users_is_refused_by_name_or_uid() {
    let (_plugin, mut conn) = plugin_with(&[("allowed_users", strings(&["app-*"]))]).await;
    let alloc = Alloc::new("accounts");
    for user in ["_apt", "42", "nobody", "65534"] {
        let task = alloc.task_config(shell_with("id; echo END", &[]));
        refused(&mut conn, task, user, &["user", user, "allowed_users"]).await;
    }
    for user in ["root", "0"] {
        let task = alloc.task_config(shell_with("id; echo END", &[]));
        refused(&mut conn, task, user, &["user", "allow"]).await;
    }
    assert!(!alloc.has_stdout(), "no task ran");
}

#[tokio::test]
async fn a_privileged_group_is_refused_naming_group_and_the_setting() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("groups");
    for (group, setting) in [
        ("shadow", "allowed_groups"),
        ("42", "allowed_groups"),
        ("disk", "allowed_groups"),
        ("0", "allow_root"),
        ("root", "allow_root"),
    ] {
        for user in ["", "nomad-80124"] {
            let task = alloc.task_config(shell_with("id; echo END", &[("group", group.into())]));
            refused(&mut conn, task, user, &["group", group, setting]).await;
        }
    }
    assert!(!alloc.has_stdout(), "no task ran");
    // The user's own primary group is always fine.
    let task = alloc.task_config(shell_with(
        "echo gid=$(id -g); echo END",
        &[("group", "nogroup".into())],
    ));
    let out = run(&mut conn, &alloc, task, "").await;
    assert_eq!(printed(&out, "gid"), "65534", "{out}");
}

#[tokio::test]
async fn allowed_groups_grants_the_group_it_lists_and_root_still_needs_allow_root() {
    let (_plugin, mut conn) =
        plugin_with(&[("allowed_groups", strings(&["shadow", "root"]))]).await;
    let shadow = nix::unistd::Group::from_name("shadow")
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    for spelled in ["shadow", &shadow.to_string()] {
        let alloc = Alloc::new("granted");
        let task = alloc.task_config(shell_with(
            "echo gid=$(id -g); echo END",
            &[("group", spelled.into())],
        ));
        let out = run(&mut conn, &alloc, task, "").await;
        assert_eq!(printed(&out, "gid"), shadow.to_string(), "{spelled}: {out}");
    }
    let alloc = Alloc::new("granted");
    for root in ["root", "0"] {
        let task = alloc.task_config(shell_with("id; echo END", &[("group", root.into())]));
        refused(&mut conn, task, "", &["group", "allow_root"]).await;
    }
    let task = alloc.task_config(shell_with("id; echo END", &[("group", "disk".into())]));
    refused(&mut conn, task, "", &["group", "allowed_groups"]).await;

    let (_plugin, mut conn) = plugin_with(&[
        ("allowed_groups", strings(&["root"])),
        ("allow_root", true.into()),
    ])
    .await;
    let alloc = Alloc::new("root-group");
    let task = alloc.task_config(shell_with(
        "echo gid=$(id -g) uid=$(id -u); echo END",
        &[("group", "root".into())],
    ));
    let out = run(&mut conn, &alloc, task, "").await;
    assert_eq!(printed(&out, "gid"), "0", "{out}");
    assert_eq!(printed(&out, "uid"), "65534", "{out}");
}

#[tokio::test]
async fn ambient_capabilities_are_refused_by_default_and_shadow_stays_unreadable() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("ambient");
    // All three are in the default bounding list; none is an ambient grant.
    for cap in ["dac_override", "setuid", "chown", "CAP_DAC_READ_SEARCH"] {
        let task = alloc.task_config(shell_with(
            "cat /etc/shadow; echo END",
            &[("ambient_capabilities", strings(&[cap]))],
        ));
        for user in ["", "nomad-80125"] {
            refused(
                &mut conn,
                task.clone(),
                user,
                &["ambient_capabilities", "allowed_ambient_capabilities"],
            )
            .await;
        }
    }
    assert!(!alloc.has_stdout(), "no task ran");
    let probe = "cat /etc/shadow >/dev/null 2>&1; echo shadow_rc=$?; \
                 grep -E '^Cap(Eff|Amb)' /proc/self/status; echo END";
    let task = alloc.task_config(shell_with(
        probe,
        &[("cap_add", strings(&["dac_override"]))],
    ));
    let out = run(&mut conn, &alloc, task, "").await;
    assert_ne!(printed(&out, "shadow_rc"), "0", "{out}");
    assert_eq!(cap_mask(&out, "CapEff") & DAC_OVERRIDE, 0, "{out}");
    assert_eq!(cap_mask(&out, "CapAmb"), 0, "{out}");
}

#[tokio::test]
async fn net_bind_service_works_as_an_ambient_capability_when_the_operator_allows_it() {
    let (_plugin, mut conn) = plugin_with(&[(
        "allowed_ambient_capabilities",
        strings(&["net_bind_service"]),
    )])
    .await;
    let probe = "grep -E '^Cap(Eff|Amb)' /proc/self/status; \
                 perl -MSocket -e 'socket(S, PF_INET, SOCK_STREAM, 0) or die \"socket: $!\"; \
                 bind(S, sockaddr_in(917, inet_aton(\"127.0.0.1\"))) or die \"bind: $!\"; \
                 print \"bound\\n\"' 2>&1; \
                 cat /etc/shadow >/dev/null 2>&1; echo shadow_rc=$?; echo END";
    let granted = [("ambient_capabilities", strings(&["net_bind_service"]))];
    for user in ["", "nomad-80126"] {
        let alloc = Alloc::new("bind");
        let task = alloc.task_config(shell_with(probe, &granted));
        let out = run(&mut conn, &alloc, task, user).await;
        assert_eq!(cap_mask(&out, "CapAmb"), NET_BIND_SERVICE, "{user}: {out}");
        assert_eq!(cap_mask(&out, "CapEff"), NET_BIND_SERVICE, "{user}: {out}");
        assert!(out.contains("bound"), "{user}: {out}");
        assert_ne!(printed(&out, "shadow_rc"), "0", "{user}: {out}");
    }
    // Without the grant the same program cannot bind a low port.
    let alloc = Alloc::new("bind");
    let task = alloc.task_config(shell_with(probe, &[]));
    let out = run(&mut conn, &alloc, task, "").await;
    assert!(out.contains("bind: Permission denied"), "{out}");
    // The ambient list grants nothing else.
    let task = alloc.task_config(shell_with(
        probe,
        &[("ambient_capabilities", strings(&["dac_override"]))],
    ));
    refused(
        &mut conn,
        task,
        "",
        &["ambient_capabilities", "allowed_ambient_capabilities"],
    )
    .await;
}

#[tokio::test]
async fn an_ambient_list_beyond_the_bounding_list_is_a_config_error() {
    let plugin = Plugin::launch();
    let mut conn = plugin.connect().await;
    let err = conn
        .set_config(
            cty_object(&[
                ("allowed_capabilities", strings(&["kill"])),
                (
                    "allowed_ambient_capabilities",
                    strings(&["net_bind_service"]),
                ),
            ]),
            nomad_config(),
        )
        .await
        .unwrap_err();
    assert!(
        err.message().contains("allowed_ambient_capabilities")
            && err.message().contains("allowed_capabilities"),
        "{err}"
    );
}
