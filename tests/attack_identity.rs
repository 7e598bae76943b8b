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
use support::cap_mask;
use support::plugin::{
    Alloc, Connection, Plugin, cty_object, nomad_config, run_task_as, shell_config, strings,
    task_unit,
};
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);

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
        let task = alloc.task_config(shell_config("id; echo END", &[]));
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
        let (_plugin, mut conn) = Plugin::configured_with(&[
            ("dynamic_user_min", id.into()),
            ("dynamic_user_max", id.into()),
        ])
        .await;
        let alloc = Alloc::new("taken");
        let user = format!("nomad-{id}");
        let task = alloc.task_config(shell_config("id; echo END", &[]));
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
    let task = alloc.task_config(shell_config(&script, &[]));
    let out = run_task_as(&mut conn, &alloc, task, "nomad-80123").await;
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
    let task = alloc.task_config(shell_config(
        "echo again=$(id -u):$(id -g) $(getent passwd 80123 | cut -d: -f1); echo END",
        &[],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "nomad-80123").await;
    assert!(out.contains("again=80123:80123 nomad-80123"), "{out}");
    assert!(!record("nomad-80123.user").exists());
}

#[tokio::test]
async fn a_command_executed_in_a_workload_users_task_runs_as_that_user() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("workload-exec");
    let mut task = alloc.task_config(shell_config("echo up; exec sleep 300", &[]));
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
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allowed_users", strings(&["app-*"]))]).await;
    let alloc = Alloc::new("lookalike");
    for user in ["nomad-x", "nomad-80123x", "nomad--1", "nomad-"] {
        let task = alloc.task_config(shell_config("id; echo END", &[]));
        refused(&mut conn, task, user, &["user", "allowed_users"]).await;
    }
}

#[tokio::test]
async fn an_account_outside_allowed_users_is_refused_by_name_or_uid() {
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allowed_users", strings(&["app-*"]))]).await;
    let alloc = Alloc::new("accounts");
    for user in ["_apt", "42", "nobody", "65534"] {
        let task = alloc.task_config(shell_config("id; echo END", &[]));
        refused(&mut conn, task, user, &["user", user, "allowed_users"]).await;
    }
    for user in ["root", "0"] {
        let task = alloc.task_config(shell_config("id; echo END", &[]));
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
            let task = alloc.task_config(shell_config("id; echo END", &[("group", group.into())]));
            refused(&mut conn, task, user, &["group", group, setting]).await;
        }
    }
    assert!(!alloc.has_stdout(), "no task ran");
    // The user's own primary group is always fine.
    let task = alloc.task_config(shell_config(
        "echo gid=$(id -g); echo END",
        &[("group", "nogroup".into())],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    assert_eq!(printed(&out, "gid"), "65534", "{out}");
}

#[tokio::test]
async fn allowed_groups_grants_the_group_it_lists_and_root_still_needs_allow_root() {
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allowed_groups", strings(&["shadow", "root"]))]).await;
    let shadow = nix::unistd::Group::from_name("shadow")
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    for spelled in ["shadow", &shadow.to_string()] {
        let alloc = Alloc::new("granted");
        let task = alloc.task_config(shell_config(
            "echo gid=$(id -g); echo END",
            &[("group", spelled.into())],
        ));
        let out = run_task_as(&mut conn, &alloc, task, "").await;
        assert_eq!(printed(&out, "gid"), shadow.to_string(), "{spelled}: {out}");
    }
    let alloc = Alloc::new("granted");
    for root in ["root", "0"] {
        let task = alloc.task_config(shell_config("id; echo END", &[("group", root.into())]));
        refused(&mut conn, task, "", &["group", "allow_root"]).await;
    }
    let task = alloc.task_config(shell_config("id; echo END", &[("group", "disk".into())]));
    refused(&mut conn, task, "", &["group", "allowed_groups"]).await;

    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allowed_groups", strings(&["root"])),
        ("allow_root", true.into()),
    ])
    .await;
    let alloc = Alloc::new("root-group");
    let task = alloc.task_config(shell_config(
        "echo gid=$(id -g) uid=$(id -u); echo END",
        &[("group", "root".into())],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    assert_eq!(printed(&out, "gid"), "0", "{out}");
    assert_eq!(printed(&out, "uid"), "65534", "{out}");
}

#[tokio::test]
async fn ambient_capabilities_are_refused_by_default_and_shadow_stays_unreadable() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("ambient");
    // All three are in the default bounding list; none is an ambient grant.
    for cap in ["dac_override", "setuid", "chown", "CAP_DAC_READ_SEARCH"] {
        let task = alloc.task_config(shell_config(
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
    let task = alloc.task_config(shell_config(
        probe,
        &[("cap_add", strings(&["dac_override"]))],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    assert_ne!(printed(&out, "shadow_rc"), "0", "{out}");
    assert_eq!(cap_mask(&out, "CapEff") & DAC_OVERRIDE, 0, "{out}");
    assert_eq!(cap_mask(&out, "CapAmb"), 0, "{out}");
}

#[tokio::test]
async fn net_bind_service_works_as_an_ambient_capability_when_the_operator_allows_it() {
    let (_plugin, mut conn) = Plugin::configured_with(&[(
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
        let task = alloc.task_config(shell_config(probe, &granted));
        let out = run_task_as(&mut conn, &alloc, task, user).await;
        assert_eq!(cap_mask(&out, "CapAmb"), NET_BIND_SERVICE, "{user}: {out}");
        assert_eq!(cap_mask(&out, "CapEff"), NET_BIND_SERVICE, "{user}: {out}");
        assert!(out.contains("bound"), "{user}: {out}");
        assert_ne!(printed(&out, "shadow_rc"), "0", "{user}: {out}");
    }
    // Without the grant the same program cannot bind a low port.
    let alloc = Alloc::new("bind");
    let task = alloc.task_config(shell_config(probe, &[]));
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    assert!(out.contains("bind: Permission denied"), "{out}");
    // The ambient list grants nothing else.
    let task = alloc.task_config(shell_config(
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

/// useradd and groupadd lock the account files; this binary's tests take turns.
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `name`, made unique to this test run (account names stay under 32 bytes).
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn as_root(program: &str, args: &[&str]) {
    let _turn = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    support::command_ok(program, args);
}

/// Creates group `name` in the sandbox's throw-away root; returns its gid.
fn add_group(name: &str) -> u32 {
    as_root("groupadd", &[name]);
    nix::unistd::Group::from_name(name)
        .unwrap()
        .expect("the new group")
        .gid
        .as_raw()
}

/// Creates a login account `name` (its own primary group) that is a member of `groups`, as
/// a host's admin would (`useradd -G`); returns its uid and primary gid.
fn add_user(name: &str, groups: &[&str]) -> (u32, u32) {
    let mut args = vec!["--no-create-home", "--shell", "/bin/sh"];
    let joined = groups.join(",");
    if !groups.is_empty() {
        args.extend(["--groups", &joined]);
    }
    args.push(name);
    as_root("useradd", &args);
    let user = nix::unistd::User::from_name(name)
        .unwrap()
        .expect("the new user");
    (user.uid.as_raw(), user.gid.as_raw())
}

fn gid_of(name: &str) -> u32 {
    nix::unistd::Group::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("group {name}"))
        .gid
        .as_raw()
}

/// The gids a task printed as `groups=a,b,c`, sorted.
fn groups_printed(out: &str) -> Vec<u32> {
    let mut gids: Vec<u32> = printed(out, "groups")
        .split(',')
        .map(|g| g.parse().unwrap())
        .collect();
    gids.sort_unstable();
    gids
}

const PROBE_GROUPS: &str = "echo uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ,); \
                            cat /etc/shadow >/dev/null 2>&1; echo shadow_rc=$?; echo END";

#[tokio::test]
async fn a_login_users_supplementary_groups_need_allowed_groups() {
    // A host account in shadow and disk, and in a group made for the test: what `useradd -G`
    // does for an admin. allowed_users = ["*"] (the default) lets a job name it.
    let fresh = unique("ai-crew");
    let fresh_gid = add_group(&fresh);
    let user = unique("ai-login");
    let (uid, own_gid) = add_user(&user, &["shadow", "disk", &fresh]);
    let (shadow, disk) = (gid_of("shadow"), gid_of("disk"));

    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("members");
    for (options, first) in [
        (vec![], "'disk' (gid 6)"),
        // Its own primary group, spelled out, changes nothing.
        (
            vec![("group", Value::from(user.as_str()))],
            "'disk' (gid 6)",
        ),
    ] {
        let task = alloc.task_config(shell_config(PROBE_GROUPS, &options));
        refused(
            &mut conn,
            task,
            &user,
            &["user", &user, first, "allowed_groups"],
        )
        .await;
        let task = alloc.task_config(shell_config(PROBE_GROUPS, &options));
        refused(
            &mut conn,
            task,
            &uid.to_string(),
            &["user", first, "allowed_groups"],
        )
        .await;
    }
    assert!(!alloc.has_stdout(), "no task ran");

    // Listing some of its groups is not enough: every one must be allowed.
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allowed_groups", strings(&["shadow", "disk"]))]).await;
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
    refused(&mut conn, task, &user, &["user", &fresh, "allowed_groups"]).await;
    // Nor does asking for an allowed group instead: systemd still adds the memberships.
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[("group", "shadow".into())]));
    refused(&mut conn, task, &user, &["user", &fresh, "allowed_groups"]).await;
    assert!(!alloc.has_stdout(), "no task ran");

    // All of them listed (by name or gid): the task runs and really holds them.
    let (_plugin, mut conn) = Plugin::configured_with(&[(
        "allowed_groups",
        strings(&["shadow", &disk.to_string(), "ai-crew-*"]),
    )])
    .await;
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
    let out = run_task_as(&mut conn, &alloc, task, &user).await;
    assert_eq!(printed(&out, "uid"), uid.to_string(), "{out}");
    assert_eq!(printed(&out, "gid"), own_gid.to_string(), "{out}");
    let mut expected = vec![own_gid, shadow, disk, fresh_gid];
    expected.sort_unstable();
    assert_eq!(groups_printed(&out), expected, "{out}");
    assert_eq!(
        printed(&out, "shadow_rc"),
        "0",
        "the shadow group is real: {out}"
    );
}

#[tokio::test]
async fn a_login_user_in_roots_group_needs_allow_root_and_the_listing() {
    let user = unique("ai-wheel");
    add_user(&user, &["root"]);
    let alloc = Alloc::new("wheel");
    for settings in [
        vec![],
        vec![("allowed_groups", strings(&["root"]))],
        vec![("allow_root", true.into())],
    ] {
        let (_plugin, mut conn) = Plugin::configured_with(&settings).await;
        let knob = if settings.is_empty() || settings[0].0 == "allowed_groups" {
            "allow_root"
        } else {
            "allowed_groups"
        };
        let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
        refused(
            &mut conn,
            task,
            &user,
            &["user", &user, "'root' (gid 0)", knob],
        )
        .await;
    }
    assert!(!alloc.has_stdout(), "no task ran");
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allowed_groups", strings(&["root"])),
        ("allow_root", true.into()),
    ])
    .await;
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
    let out = run_task_as(&mut conn, &alloc, task, &user).await;
    assert!(groups_printed(&out).contains(&0), "{out}");
}

#[tokio::test]
async fn systemd_adds_no_memberships_when_the_group_is_roots() {
    // systemd skips initgroups for gid 0; the policy mirrors that, and this checks the claim.
    let user = unique("ai-rootgrp");
    let (uid, _) = add_user(&user, &["disk"]);
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allowed_groups", strings(&["root"])),
        ("allow_root", true.into()),
    ])
    .await;
    let alloc = Alloc::new("rootgrp");
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[("group", "root".into())]));
    let out = run_task_as(&mut conn, &alloc, task, &user).await;
    assert_eq!(printed(&out, "uid"), uid.to_string(), "{out}");
    assert_eq!(groups_printed(&out), [0], "no disk membership: {out}");
}

#[tokio::test]
async fn denied_host_uids_refuse_the_user_whatever_allows_it() {
    let user = unique("ai-denied");
    let (uid, _) = add_user(&user, &[]);
    let around = format!("{}-{}", uid - 1, uid + 1);
    let (_plugin, mut conn) = Plugin::configured_with(&[
        (
            "denied_host_uids",
            Value::from(format!("0-10,{around},80100-80199")),
        ),
        ("allowed_users", strings(&[&user, &uid.to_string()])),
    ])
    .await;
    let alloc = Alloc::new("denied-uid");
    for (user, uid) in [
        (user.as_str(), uid),
        (&uid.to_string(), uid),
        ("nomad-80150", 80150),
    ] {
        let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
        refused(
            &mut conn,
            task,
            user,
            &["user", &format!("uid {uid}"), "denied_host_uids"],
        )
        .await;
    }
    assert!(!alloc.has_stdout(), "no task ran");
    // Outside the set: nobody (the default) and another workload user run.
    for user in ["", "nomad-80200"] {
        let alloc = Alloc::new("denied-uid");
        let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
        let out = run_task_as(&mut conn, &alloc, task, user).await;
        assert!(out.contains("uid="), "{user}: {out}");
    }
    // Nomad checks the default user too.
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("denied_host_uids", "65534".into())]).await;
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
    refused(&mut conn, task, "", &["user", "nobody", "denied_host_uids"]).await;
}

#[tokio::test]
async fn denied_host_gids_refuse_any_group_the_task_would_hold_whatever_allows_it() {
    let fresh = unique("ai-deny");
    let fresh_gid = add_group(&fresh);
    let user = unique("ai-member");
    let (_, own_gid) = add_user(&user, &[&fresh]);
    let alloc = Alloc::new("denied-gid");
    let allow_all = ("allowed_groups", strings(&["*"]));
    // A membership, the user's primary group, the job's group: each denied though allowed.
    for (denied, group, option) in [
        (fresh_gid, None, "user"),
        (own_gid, None, "user"),
        (own_gid, Some("shadow"), "user"),
        (gid_of("shadow"), Some("shadow"), "group"),
    ] {
        let (_plugin, mut conn) = Plugin::configured_with(&[
            allow_all.clone(),
            ("denied_host_gids", Value::from(format!("0,{denied}"))),
        ])
        .await;
        let options: Vec<(&str, Value)> = group.map(|g| ("group", g.into())).into_iter().collect();
        let task = alloc.task_config(shell_config(PROBE_GROUPS, &options));
        refused(
            &mut conn,
            task,
            &user,
            &[option, &format!("gid {denied}"), "denied_host_gids"],
        )
        .await;
    }
    // A workload user's own gid.
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("denied_host_gids", "80000-80999".into())]).await;
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
    refused(
        &mut conn,
        task,
        "nomad-80160",
        &["gid 80160", "denied_host_gids"],
    )
    .await;
    assert!(!alloc.has_stdout(), "no task ran");
    // Not in the set: runs.
    let (_plugin, mut conn) =
        Plugin::configured_with(&[allow_all, ("denied_host_gids", Value::from("0-5,7-41"))]).await;
    let task = alloc.task_config(shell_config(PROBE_GROUPS, &[]));
    let out = run_task_as(&mut conn, &alloc, task, &user).await;
    let mut expected = vec![own_gid, fresh_gid];
    expected.sort_unstable();
    assert_eq!(groups_printed(&out), expected, "{out}");
}

#[tokio::test]
async fn a_bad_denied_id_list_is_a_config_error_naming_the_option() {
    for option in ["denied_host_uids", "denied_host_gids"] {
        for (bad, piece) in [
            ("100-1", "\"100-1\""),
            ("0-999, 1500", "\" 1500\""),
            ("1-2-3", "\"1-2-3\""),
            ("root", "\"root\""),
            ("1,,2", "\"\""),
            ("-5", "\"-5\""),
            ("4294967296", "\"4294967296\""),
        ] {
            let plugin = Plugin::launch();
            let mut conn = plugin.connect().await;
            let err = conn
                .set_config(cty_object(&[(option, bad.into())]), nomad_config())
                .await
                .unwrap_err();
            assert!(
                err.message().contains(option) && err.message().contains(piece),
                "{option} = {bad:?}: {err}"
            );
        }
    }
}

/// Writes `text` as installed unit `name` and makes systemd read it.
fn install_unit(name: &str, text: &str) {
    std::fs::write(Path::new("/run/systemd/system").join(name), text).unwrap();
    let status = std::process::Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn an_exec_into_an_installed_unit_is_held_to_the_group_policy() {
    let fresh = unique("ai-svc");
    let fresh_gid = add_group(&fresh);
    let user = unique("ai-svcuser");
    let (uid, own_gid) = add_user(&user, &["disk", &fresh]);
    // Its user's memberships, and the groups its unit file adds.
    let units = [
        (
            "nai-member.service",
            format!("[Service]\nUser={user}\nExecStart=/bin/sleep 300\n"),
            "'disk' (gid 6)",
        ),
        (
            "nai-extra.service",
            "[Service]\nUser=nobody\nSupplementaryGroups=shadow\nExecStart=/bin/sleep 300\n"
                .to_string(),
            "shadow",
        ),
        (
            "nai-group.service",
            "[Service]\nUser=nobody\nGroup=disk\nExecStart=/bin/sleep 300\n".to_string(),
            "'disk' (gid 6)",
        ),
    ];
    let names: Vec<&str> = units.iter().map(|(n, _, _)| *n).collect();
    for (name, text, _) in &units {
        install_unit(name, text);
    }
    let probe = ["/bin/sh", "-c", "echo groups=$(id -G | tr ' ' ,)"];
    let (_plugin, mut conn) = Plugin::configured_with(&[("allow_units", strings(&names))]).await;
    for (name, _, group) in &units {
        let alloc = Alloc::new("unit-groups");
        let task = alloc.task_config(cty_object(&[("unit", Value::from(*name))]));
        conn.start(task.clone()).await.expect("StartTask");
        let e = conn
            .exec(&task.id, &probe, Some(SHORT))
            .await
            .expect_err("the exec ran");
        assert!(
            e.message().contains(name)
                && e.message().contains(group)
                && e.message().contains("allowed_groups"),
            "{name}: {e:?}"
        );
        conn.destroy(&task.id).await;
    }
    // Granted, the exec runs with exactly those groups.
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allow_units", strings(&names)),
        ("allowed_groups", strings(&["disk", "shadow", &fresh])),
    ])
    .await;
    let mut member = vec![own_gid, gid_of("disk"), fresh_gid];
    member.sort_unstable();
    let mut extra = vec![65534, gid_of("shadow")];
    extra.sort_unstable();
    for (name, expected) in [
        ("nai-member.service", member),
        ("nai-extra.service", extra),
        ("nai-group.service", vec![gid_of("disk")]),
    ] {
        let alloc = Alloc::new("unit-groups");
        let task = alloc.task_config(cty_object(&[("unit", Value::from(name))]));
        conn.start(task.clone()).await.expect("StartTask");
        let out = conn
            .exec(&task.id, &probe, Some(SHORT))
            .await
            .expect("ExecTask");
        conn.destroy(&task.id).await;
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(groups_printed(&out), expected, "{name}: {out}");
    }
    // Deny wins over the grant.
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allow_units", strings(&names)),
        ("allowed_groups", strings(&["*"])),
        ("denied_host_uids", Value::from(uid.to_string())),
        ("denied_host_gids", Value::from(fresh_gid.to_string())),
    ])
    .await;
    for (name, knob) in [
        ("nai-member.service", "denied_host_uids"),
        ("nai-extra.service", ""),
    ] {
        let alloc = Alloc::new("unit-groups");
        let task = alloc.task_config(cty_object(&[("unit", Value::from(name))]));
        conn.start(task.clone()).await.expect("StartTask");
        let result = conn.exec(&task.id, &probe, Some(SHORT)).await;
        conn.destroy(&task.id).await;
        match knob {
            "" => assert!(result.is_ok(), "{name}: {result:?}"),
            knob => assert!(
                result.as_ref().unwrap_err().message().contains(knob),
                "{name}: {result:?}"
            ),
        }
    }
}
