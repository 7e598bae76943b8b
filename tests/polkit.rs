//! The polkit rule the project ships (`packaging/polkit/50-nomad-systemd.rules`) against a real
//! systemd and polkitd: the one user it names manages the driver's units on the system bus
//! (`nomad-*.service`, their `system-nomad-*.slice`) and nothing else; any other user gets
//! nothing. Starting a task as that user needs a systemd that names the unit to polkit when it
//! creates one (v257 and later): on older versions the rule refuses, and the CLI says why.
//!
//! The rule is installed naming a system user of its own, [`USER`] (created in the sandbox's
//! copy-on-write root on first use; not `nobody`, which tasks run as by default and which must
//! never hold the grant); `daemon` stands for every other user.

mod support;

use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::units::{active_state, install, systemctl};

/// The user the installed rule names, and its group (of the same name).
const USER: &str = "nsd-polkit-test";
const GROUP: &str = USER;
/// Any other unprivileged user.
const OTHER: &str = "daemon";

const RULE: &str = include_str!("../packaging/polkit/50-nomad-systemd.rules");
const RULE_PATH: &str = "/etc/polkit-1/rules.d/50-nomad-systemd.rules";
const POLKITD: &str = "/usr/lib/polkit-1/polkitd";
/// The first systemd whose StartTransientUnit names the unit (and verb `start`) to polkit
/// (systemd's pull request 34651, in v257).
const FIRST_NAMING_START: u32 = 257;

/// Creates [`USER`] if absent, installs the rule naming it and (re)starts polkitd so that it
/// has read it. Once per test binary.
fn polkit() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        assert!(
            std::path::Path::new(POLKITD).exists(),
            "{POLKITD} is missing: install the Debian package polkitd (tools/deps does)"
        );
        if nix::unistd::User::from_name(USER).unwrap().is_none() {
            let out = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    USER,
                ])
                .output()
                .unwrap();
            assert!(out.status.success(), "useradd {USER}: {out:?}");
        }
        let named = RULE.replace(
            "var NOMAD_USER = \"nomad\";",
            &format!("var NOMAD_USER = \"{USER}\";"),
        );
        assert_ne!(
            named, RULE,
            "the rule names its user in `var NOMAD_USER = \"nomad\";`"
        );
        std::fs::create_dir_all("/etc/polkit-1/rules.d").unwrap();
        std::fs::write(RULE_PATH, named).unwrap();
        let out = Command::new("systemctl")
            .args(["restart", "polkit.service"])
            .output()
            .unwrap();
        assert!(out.status.success(), "polkit.service: {out:?}");
    });
}

/// `args` run as `user` (with its own group and no supplementary groups), never asking for a
/// password.
fn as_user(user: &str, group: &str, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={group}"),
            "--clear-groups",
            "--reset-env",
        ])
        .args(args)
        .current_dir("/")
        .output()
        .expect("run setpriv")
}

fn allowed(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} was refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that `out` failed because polkit did not authorize the call.
fn refused(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} was allowed");
    assert!(
        stderr.contains("Interactive authentication required") || stderr.contains("Access denied"),
        "{what} failed, but not for want of authorization: {stderr}"
    );
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// Starts, as root, a long-running transient unit `unit`, in `slice` if given.
fn start_as_root(unit: &str, slice: Option<&str>, command: &[&str]) {
    let mut args = vec!["--unit", unit, "--collect", "--quiet"];
    if let Some(slice) = slice {
        args.extend(["--slice", slice]);
    }
    let out = Command::new("systemd-run")
        .args(&args)
        .args(command)
        .output()
        .unwrap();
    assert!(out.status.success(), "systemd-run {unit}: {out:?}");
}

fn wait_for_state(unit: &str, state: &str) {
    let deadline = Instant::now() + support::READY;
    while active_state(unit) != state {
        assert!(
            Instant::now() < deadline,
            "{unit} never became {state} (is {})",
            active_state(unit)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// systemd's major version, from `systemctl --version`.
fn systemd_version() -> u32 {
    let out = Command::new("systemctl").arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no version in {text:?}"))
}

#[test]
fn the_rules_user_signals_changes_and_stops_a_task_unit_and_its_slice() {
    polkit();
    let t = tag();
    let unit = format!("nomad-{t}-web-1.service");
    let slice = format!("system-nomad-{t}_web_1.slice");
    start_as_root(&unit, Some(&slice), &["/bin/sleep", "600"]);
    wait_for_state(&unit, "active");

    let kill = as_user(
        USER,
        GROUP,
        &[
            "systemctl",
            "--no-ask-password",
            "kill",
            "-s",
            "SIGCONT",
            &unit,
        ],
    );
    allowed(&kill, "kill of a task unit");
    let change = as_user(
        USER,
        GROUP,
        &[
            "systemctl",
            "--no-ask-password",
            "set-property",
            "--runtime",
            &unit,
            "CPUWeight=50",
        ],
    );
    allowed(&change, "set-property of a task unit");
    assert_eq!(systemctl(&["show", "-P", "CPUWeight", &unit]), "50");
    let stop = as_user(
        USER,
        GROUP,
        &["systemctl", "--no-ask-password", "stop", &unit],
    );
    allowed(&stop, "stop of a task unit");
    assert_ne!(active_state(&unit), "active");
    let stop = as_user(
        USER,
        GROUP,
        &["systemctl", "--no-ask-password", "stop", &slice],
    );
    allowed(&stop, "stop of a task's slice");
    assert_ne!(active_state(&slice), "active");
}

#[test]
fn the_rules_user_resets_a_failed_task_unit() {
    polkit();
    let unit = format!("nomad-{}-bad-1.service", tag());
    let out = Command::new("systemd-run")
        .args(["--unit", &unit, "--quiet", "/bin/false"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_for_state(&unit, "failed");
    let reset = as_user(
        USER,
        GROUP,
        &["systemctl", "--no-ask-password", "reset-failed", &unit],
    );
    allowed(&reset, "reset-failed of a task unit");
    assert_ne!(active_state(&unit), "failed");
}

#[test]
fn the_rules_user_is_refused_every_other_unit() {
    polkit();
    let t = tag();
    // A stand-in for the host's ssh.service (the sandbox's root has none installed).
    let ssh = format!("ssh-{t}.service");
    install(&[(ssh.as_str(), "[Service]\nExecStart=/bin/sleep 600\n")]);
    systemctl(&["start", &ssh]);
    wait_for_state(&ssh, "active");
    let no = |args: &[&str], what: &str| {
        let mut full = vec!["systemctl", "--no-ask-password"];
        full.extend_from_slice(args);
        refused(&as_user(USER, GROUP, &full), what);
    };
    no(&["stop", &ssh], "stop of another service");
    no(&["kill", &ssh], "kill of another service");
    no(&["restart", "dbus.service"], "restart of dbus.service");
    no(&["start", "dbus.service"], "start of dbus.service");
    no(
        &["set-property", "--runtime", &ssh, "CPUWeight=50"],
        "set-property of another service",
    );
    no(
        &["stop", "system-nomad.slice"],
        "stop of the tasks' parent slice",
    );
    no(&["daemon-reload"], "daemon-reload");
    assert_eq!(active_state(&ssh), "active");
    let other = as_user(
        USER,
        GROUP,
        &[
            "systemd-run",
            "--no-ask-password",
            "--unit",
            &format!("other-{t}"),
            "/bin/true",
        ],
    );
    refused(&other, "a transient unit not named like a task");
    systemctl(&["stop", &ssh]);
}

#[test]
fn the_drivers_units_are_refused_to_any_other_user() {
    polkit();
    let unit = format!("nomad-{}-web-1.service", tag());
    start_as_root(&unit, None, &["/bin/sleep", "600"]);
    wait_for_state(&unit, "active");
    for args in [vec!["stop", &unit], vec!["kill", &unit]] {
        let mut full = vec!["systemctl", "--no-ask-password"];
        full.extend(args);
        refused(
            &as_user(OTHER, OTHER, &full),
            "another user's call on a task unit",
        );
    }
    assert_eq!(active_state(&unit), "active");
    systemctl(&["stop", &unit]);
}

/// Where systemd names no unit to polkit when one is created (v256 and older), the rule cannot
/// tell a task's unit from any other and refuses; the CLI says what is missing. Where it does,
/// the rule's user runs a task with `run --wait`.
#[test]
fn starting_a_task_as_the_rules_user_depends_on_systemd_naming_the_unit() {
    polkit();
    let t = tag();
    let unit = format!("nomad-{t}-direct-1");
    let direct = as_user(
        USER,
        GROUP,
        &[
            "systemd-run",
            "--no-ask-password",
            "--unit",
            &unit,
            "/bin/true",
        ],
    );
    let cli = as_user(
        USER,
        GROUP,
        &[
            env!("CARGO_BIN_EXE_nomad-systemd"),
            "run",
            "--wait",
            "--name",
            &format!("polkit-{t}"),
            "--",
            "/bin/true",
        ],
    );
    if systemd_version() < FIRST_NAMING_START {
        refused(&direct, "a transient task unit on systemd < 257");
        let stderr = String::from_utf8_lossy(&cli.stderr);
        assert!(!cli.status.success(), "run --wait was allowed");
        assert!(
            stderr.contains("polkit") && stderr.contains("50-nomad-systemd.rules"),
            "run --wait does not say what polkit needs: {stderr}"
        );
    } else {
        allowed(&direct, "a transient task unit");
        allowed(&cli, "run --wait");
    }
}

/// The plugin run by the rule's user on the system bus, as when Nomad's agent runs as that
/// user: it binds Nomad's directories as a root-run plugin does, advertises no dynamic
/// workload users (their records need root), refuses a task that would run as its own user,
/// and starts a task only where systemd names the
/// unit to polkit; elsewhere StartTask fails saying what polkit needs, and nothing is left.
#[tokio::test]
async fn the_plugin_as_the_rules_user_on_the_system_bus() {
    use support::plugin::{Alloc, Plugin, nomad_config, shell_config, task_unit};
    polkit();
    let user = nix::unistd::User::from_name(USER)
        .unwrap()
        .expect("the rule's user");
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    let dir = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let plugin = Plugin::launch_as(
        uid,
        gid,
        env!("CARGO_BIN_EXE_nomad-systemd").as_ref(),
        &[
            ("HOME", "/"),
            ("PLUGIN_UNIX_SOCKET_DIR", dir.path().to_str().unwrap()),
        ],
    );
    let mut conn = plugin.connect().await;
    conn.set_config(Vec::new(), nomad_config())
        .await
        .expect("SetConfig");
    let caps = conn
        .driver
        .capabilities(nomad_systemd::plugin::proto::driver::CapabilitiesRequest {})
        .await
        .expect("Capabilities")
        .into_inner()
        .capabilities
        .expect("capabilities");
    assert!(!caps.dynamic_workload_users, "{caps:?}");
    assert_eq!(
        caps.fs_isolation,
        nomad_systemd::plugin::proto::driver::driver_capabilities::FsIsolation::Image as i32
    );

    // Where no rule can grant it task starts, the driver says so to Nomad, which then places
    // no task here.
    let fp = conn.first_fingerprint().await;
    let unhealthy =
        nomad_systemd::plugin::proto::driver::fingerprint_response::HealthState::Unhealthy;
    if systemd_version() < FIRST_NAMING_START {
        assert_eq!(fp.health, unhealthy as i32, "{fp:?}");
        assert!(fp.health_description.contains("polkit"), "{fp:?}");
    } else {
        assert_ne!(fp.health, unhealthy as i32, "{fp:?}");
    }
    let alloc = Alloc::new("polkit");
    alloc.hand_to(uid, gid);
    // A task never runs as the user polkit grants the driver's units.
    let mut own = alloc.task_config(shell_config("true", &[]));
    own.user = USER.into();
    let status = conn
        .start(own)
        .await
        .expect_err("a task as the plugin's own user");
    assert!(
        status.message().contains("the user this plugin runs as"),
        "{}",
        status.message()
    );
    let task = alloc.task_config(shell_config(
        "touch /alloc/written; ls -d /local /secrets; echo END",
        &[],
    ));
    let unit = task_unit(&task);
    let started = conn.start(task.clone()).await;
    if systemd_version() < FIRST_NAMING_START {
        let status = started.expect_err("StartTask was allowed");
        assert!(
            status.message().contains("polkit")
                && status.message().contains("50-nomad-systemd.rules"),
            "StartTask does not say what polkit needs: {}",
            status.message()
        );
        assert_eq!(
            systemctl(&["show", "-P", "LoadState", unit.as_str()]),
            "not-found"
        );
        return;
    }
    started.expect("StartTask");
    let exit = conn.wait(&task.id).await;
    assert_eq!(exit.result.map(|r| r.exit_code), Some(0), "{exit:?}");
    assert!(alloc.path("alloc/written").exists(), "/alloc is not bound");
    alloc.wait_for_stdout("END", support::READY);
    support::plugin::stop(&mut conn.driver, &task.id, "SIGTERM", 5)
        .await
        .expect("StopTask");
    conn.destroy(&task.id).await;
}

/// The CLI run by the rule's user on the system bus: `ps` lists a task root started, `signal`
/// reaches it and `stop` stops it, each through the rule.
#[test]
fn the_cli_as_the_rules_user_lists_signals_and_stops_a_task() {
    polkit();
    let name = format!("polkit-cli-{}", tag());
    let unit = support::cli(&["run", "--name", &name, "--", "/bin/sleep", "600"])
        .ok()
        .trim()
        .to_string();
    wait_for_state(&unit, "active");
    let cli = |args: &[&str]| {
        let mut full = vec![env!("CARGO_BIN_EXE_nomad-systemd")];
        full.extend_from_slice(args);
        as_user(USER, GROUP, &full)
    };
    let ps = cli(&["ps"]);
    allowed(&ps, "ps");
    // The allocation id's short form, as `ps` shows it (names are cut to fit).
    let alloc = &unit["nomad-".len().."nomad-".len() + 8];
    assert!(
        String::from_utf8_lossy(&ps.stdout).contains(alloc),
        "ps does not list {unit}: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
    allowed(&cli(&["signal", &unit, "SIGCONT"]), "signal");
    assert_eq!(active_state(&unit), "active");
    allowed(&cli(&["stop", &unit]), "stop");
    assert_ne!(active_state(&unit), "active");
}
