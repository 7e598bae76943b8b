//! Unprivileged mode: the plugin run by a non-root user with `bus = "user"` in its config,
//! its tasks under that user's own `systemd --user`, as when Nomad's agent runs as that user.
//!
//! The user is `nobody` (no account is created on the host); its user manager is started with
//! `systemctl start user@65534.service`, which gives it a runtime directory and a session bus.
//!
//! systemd 257 and later (not 252; those between are untested) give a user manager's services
//! the `PrivateTmp=` they ask for (each task its own /tmp and /var/tmp), which hides an
//! allocation directory below either: the driver refuses such directories on a user manager,
//! and these tests keep theirs in a data directory of their own.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nomad_systemd::core::UnitName;
use rmpv::Value;
use support::plugin::{
    Alloc, Connection, Plugin, cty_object, nomad_config, shell_config, task_unit,
};
use tonic::Code;

const NOBODY: u32 = 65534;
const SHORT: Duration = Duration::from_secs(10);

/// Starts nobody's user manager and returns its runtime directory once its bus is there.
fn user_manager() -> PathBuf {
    let status = std::process::Command::new("systemctl")
        .args(["start", &format!("user@{NOBODY}.service")])
        .status()
        .expect("systemctl runs");
    assert!(status.success(), "nobody's user manager did not start");
    let runtime = PathBuf::from(format!("/run/user/{NOBODY}"));
    let deadline = Instant::now() + SHORT;
    while !runtime.join("bus").exists() {
        assert!(
            Instant::now() < deadline,
            "no session bus at {}",
            runtime.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    runtime
}

/// Where these tests put allocation directories and the binary: as Nomad's data_dir would be,
/// outside /tmp and /var/tmp, which the tasks' private /tmp hides from them under a user
/// manager (the driver refuses such directories; see
/// `allocation_dirs_under_tmp_are_refused_before_anything_starts`).
fn data_dir() -> &'static Path {
    let dir = Path::new("/var/lib/nomad-systemd-tests");
    std::fs::create_dir_all(dir).expect("create the tests' data dir");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// What every test here shares, set up once: nobody's user manager (its runtime directory)
/// and a copy of the binary nobody can run (the build directory need not be readable to it).
///
/// Once, so that the tests share one user manager and one copy.
fn setup() -> &'static (PathBuf, PathBuf) {
    static SETUP: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let runtime = user_manager();
        let dir = tempfile::tempdir_in(data_dir()).expect("temp dir").keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let program = dir.join("nomad-systemd");
        support::install_executable(env!("CARGO_BIN_EXE_nomad-systemd").as_ref(), &program);
        (runtime, program)
    })
}

/// The plugin as nobody, configured for its user manager. Keeps the directory its socket is
/// in.
async fn plugin_as_nobody() -> (Plugin, Connection, tempfile::TempDir) {
    let (runtime, program) = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bus = format!("unix:path={}", runtime.join("bus").display());
    let plugin = Plugin::launch_as(
        NOBODY,
        NOBODY,
        program,
        &[
            ("HOME", "/"),
            ("XDG_RUNTIME_DIR", runtime.to_str().unwrap()),
            ("DBUS_SESSION_BUS_ADDRESS", &bus),
            ("PLUGIN_UNIX_SOCKET_DIR", dir.path().to_str().unwrap()),
        ],
    );
    let mut conn = plugin.connect().await;
    conn.set_config(cty_object(&[("bus", "user".into())]), nomad_config())
        .await
        .expect("SetConfig");
    (plugin, conn, dir)
}

/// What nobody's manager says of `unit` (`systemctl --user show`, run as nobody).
fn user_unit_state(unit: &UnitName) -> String {
    use std::os::unix::process::CommandExt;
    let runtime = format!("/run/user/{NOBODY}");
    let out = std::process::Command::new("systemctl")
        .args([
            "--user",
            "show",
            "--property=LoadState",
            "--value",
            unit.as_str(),
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={runtime}/bus"),
        )
        .uid(NOBODY)
        .gid(NOBODY)
        .current_dir("/")
        .output()
        .expect("systemctl runs");
    assert!(
        out.status.success(),
        "systemctl --user: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn a_task_runs_as_the_agents_user_under_its_own_service_manager() {
    let (_plugin, mut conn, _dir) = plugin_as_nobody().await;
    let alloc = Alloc::new_in("unprivileged", data_dir());
    alloc.hand_to(NOBODY, NOBODY);
    let task = alloc.task_config(shell_config(
        "echo uid=$(id -u); echo \"dir=$NOMAD_TASK_DIR pwd=$PWD\"; \
         touch \"$NOMAD_ALLOC_DIR/written\"; cat /proc/self/cgroup; echo END",
        &[],
    ));
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    let exit = conn.wait(&id).await.result.expect("an exit result");
    let out = alloc.wait_for_stdout("END", SHORT);
    conn.destroy(&id).await;
    assert_eq!(exit.exit_code, 0, "{out}");
    assert!(out.contains(&format!("uid={NOBODY}")), "{out}");
    assert!(
        out.contains(&format!("user@{NOBODY}.service")),
        "the task is not under nobody's manager: {out}"
    );
    // No binds under a user manager: the task works in its directories at their host paths.
    let local = alloc.path("unprivileged/local").display().to_string();
    assert!(out.contains(&format!("dir={local} pwd={local}")), "{out}");
    assert!(alloc.path("alloc/written").exists(), "{out}");
}

#[tokio::test]
async fn what_a_user_manager_cannot_apply_is_refused_naming_the_option() {
    let (_plugin, mut conn, _dir) = plugin_as_nobody().await;
    let alloc = Alloc::new_in("overreach", data_dir());
    alloc.hand_to(NOBODY, NOBODY);
    let mut named_user = alloc.task_config(shell_config("echo ran", &[]));
    named_user.user = "root".into();
    let cases = [
        ("user", named_user),
        (
            "cap_add",
            alloc.task_config(shell_config(
                "echo ran",
                &[("cap_add", Value::Array(vec!["net_admin".into()]))],
            )),
        ),
        (
            "dynamic_user",
            alloc.task_config(shell_config("echo ran", &[("dynamic_user", true.into())])),
        ),
    ];
    for (option, task) in cases {
        let unit = task_unit(&task);
        let err = conn.start(task).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{option}: {err}");
        assert!(
            err.message().contains(option),
            "{option}: {}",
            err.message()
        );
        assert_eq!(
            user_unit_state(&unit),
            "not-found",
            "{option} created {unit}"
        );
    }
    assert!(!alloc.has_stdout(), "a refused task ran");
}

#[tokio::test]
async fn allocation_dirs_under_tmp_are_refused_before_anything_starts() {
    let (_plugin, mut conn, _dir) = plugin_as_nobody().await;
    let alloc = Alloc::new_in("hidden", Path::new("/tmp"));
    alloc.hand_to(NOBODY, NOBODY);
    let task = alloc.task_config(shell_config("echo ran", &[]));
    let unit = task_unit(&task);
    let err = conn.start(task).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(
        err.message().contains("alloc_dir") && err.message().contains("/tmp"),
        "{}",
        err.message()
    );
    assert_eq!(user_unit_state(&unit), "not-found", "created {unit}");
    assert!(!alloc.has_stdout(), "a refused task ran");
}
