//! `nomad-systemd doctor` and the plugin's fingerprint against a real systemd: both report
//! this host as it is (systemd's own `systemctl --version`, the cgroup file system the kernel
//! mounted), and the same verdict. `--bus user` runs as `nobody` under its own user manager
//! (`user@65534.service`, started here), as `tests/user_bus.rs` runs the plugin.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver::fingerprint_response::HealthState;
use nomad_systemd::plugin::proto::structs::attribute::Value as AttrValue;
use serde_json::Value;
use support::plugin::Plugin;
use support::*;

/// systemd's version as `systemctl --version` prints it: `systemd 252 (252.39-1~deb12u1)`
/// gives (252, "252.39-1~deb12u1").
fn systemctl_version() -> (u64, String) {
    let out = Command::new("systemctl")
        .arg("--version")
        .output()
        .expect("run systemctl --version");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = text
        .lines()
        .next()
        .expect("systemctl --version prints a line");
    let mut words = first.split_whitespace();
    assert_eq!(words.next(), Some("systemd"), "{first}");
    let major: u64 = words.next().and_then(|w| w.parse().ok()).expect(first);
    let full = first
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or_else(|| major.to_string(), |(v, _)| v.to_string());
    (major, full)
}

/// The cgroup mode as the mounted file systems tell it, independently of the code under test:
/// cgroup2 at /sys/fs/cgroup is v2, cgroup2 at /sys/fs/cgroup/unified is hybrid, else v1.
fn mounted_cgroup_mode() -> &'static str {
    let fs_type = |path: &str| {
        let out = Command::new("stat")
            .args(["-f", "-c", "%T", path])
            .output()
            .expect("run stat");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    if fs_type("/sys/fs/cgroup") == "cgroup2fs" {
        "v2"
    } else if Path::new("/sys/fs/cgroup/unified").is_dir()
        && fs_type("/sys/fs/cgroup/unified") == "cgroup2fs"
    {
        "hybrid"
    } else {
        "v1"
    }
}

/// The names of the programs running now, from `/proc/*/comm`.
fn running_programs() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

fn doctor_json() -> Value {
    let run = cli(&["doctor", "-o", "json"]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    serde_json::from_str(&run.stdout()).expect("doctor -o json prints JSON")
}

#[test]
fn doctor_reports_systemds_version_and_the_mounted_cgroup_mode_and_exits_0() {
    let (major, full) = systemctl_version();
    let run = cli(&["doctor"]);
    let out = run.stdout();
    assert_eq!(run.code(), 0, "{out}\n{}", run.stderr());
    let systemd_row = out
        .lines()
        .find(|l| l.starts_with("systemd "))
        .expect("a systemd row");
    assert!(systemd_row.contains(&full), "{systemd_row} vs {full}");
    let cgroup_row = out
        .lines()
        .find(|l| l.starts_with("cgroup "))
        .expect("a cgroup row");
    assert!(
        cgroup_row.contains(&format!(" {} (", mounted_cgroup_mode())),
        "{cgroup_row}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("fingerprint") && l.ends_with("healthy")),
        "{out}"
    );
    let json = doctor_json();
    assert_eq!(json["facts"]["systemd_version"], Value::from(full.clone()));
    assert_eq!(
        json["facts"]["systemd_version"]
            .as_str()
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse::<u64>().ok()),
        Some(major)
    );
    assert_eq!(json["facts"]["cgroup"], mounted_cgroup_mode());
}

#[test]
fn doctor_json_names_the_bus_daemon_the_controllers_and_a_healthy_verdict() {
    let json = doctor_json();
    assert_eq!(json["health"]["health"], "healthy", "{json:#}");
    assert_eq!(json["tasks_would_fail"], false, "{json:#}");
    assert_eq!(json["facts"]["bus"], "system");
    let daemon = json["facts"]["bus_daemon"].as_str().expect("a bus daemon");
    assert!(["dbus-daemon", "dbus-broker"].contains(&daemon), "{daemon}");
    assert!(running_programs().iter().any(|p| p == daemon), "{daemon}");
    let available = json["facts"]["controllers"]["available"]
        .as_array()
        .expect("controllers");
    for needed in ["memory", "cpu", "pids"] {
        assert!(
            available.iter().any(|c| c == needed),
            "{needed} in {available:?}"
        );
    }
    assert_eq!(
        json["facts"]["controllers"]["slice_cgroup"]
            .as_str()
            .map(|s| s.ends_with("/system.slice/system-nomad.slice")),
        Some(true),
        "{json:#}"
    );
    let findings = json["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .all(|f| f["severity"] == "warning" && !f["fix"].as_str().unwrap().is_empty()),
        "{findings:?}"
    );
}

#[tokio::test]
async fn the_fingerprint_reports_what_doctor_sees() {
    let json = doctor_json();
    let (_plugin, mut conn) = Plugin::configured().await;
    let fingerprint = conn.first_fingerprint().await;
    assert_eq!(fingerprint.health, HealthState::Healthy as i32);
    assert_eq!(fingerprint.health_description, "Healthy");
    let attr = |key: &str| {
        fingerprint
            .attributes
            .get(&format!("driver.systemd.{key}"))
            .and_then(|a| a.value.clone())
            .unwrap_or_else(|| panic!("{key} in {:?}", fingerprint.attributes))
    };
    let AttrValue::StringVal(full) = attr("version_full") else {
        panic!("version_full is a string");
    };
    assert_eq!(json["facts"]["systemd_version"], Value::from(full));
    let AttrValue::IntVal(major) = attr("version") else {
        panic!("version is an integer");
    };
    assert_eq!(major as u64, systemctl_version().0);
    let AttrValue::StringVal(cgroup) = attr("cgroup") else {
        panic!("cgroup is a string");
    };
    assert_eq!(json["facts"]["cgroup"], Value::from(cgroup));
    assert_eq!(json["health"]["health"], "healthy");
}

const NOBODY: u32 = 65534;

/// Starts nobody's user manager and returns its runtime directory once its bus is there.
fn nobodys_user_manager() -> String {
    let status = Command::new("systemctl")
        .args(["start", &format!("user@{NOBODY}.service")])
        .status()
        .expect("systemctl runs");
    assert!(status.success(), "nobody's user manager did not start");
    let runtime = format!("/run/user/{NOBODY}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Path::new(&runtime).join("bus").exists() {
        assert!(Instant::now() < deadline, "no session bus in {runtime}");
        std::thread::sleep(Duration::from_millis(50));
    }
    runtime
}

#[test]
fn doctor_on_a_user_bus_finds_the_user_manager_and_the_same_systemd() {
    let runtime = nobodys_user_manager();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = dir.path().join("nomad-systemd");
    install_executable(env!("CARGO_BIN_EXE_nomad-systemd").as_ref(), &program);
    let out = Command::new(&program)
        .args(["doctor", "--bus", "user", "-o", "json"])
        .env_clear()
        .env("HOME", "/")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={runtime}/bus"),
        )
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("run doctor as nobody");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("doctor -o json prints JSON");
    let facts = &json["facts"];
    assert_eq!(facts["bus"], "user");
    assert_eq!(facts["systemd_version"], Value::from(systemctl_version().1));
    assert_eq!(facts["uid"], NOBODY);
    let manager = &facts["user_manager"];
    assert_eq!(manager["runtime_dir"], Value::from(runtime.clone()));
    assert_eq!(manager["runtime_dir_exists"], true);
    assert!(
        manager["cgroup"]
            .as_str()
            .is_some_and(|c| c.ends_with(&format!("/user@{NOBODY}.service"))),
        "{manager}"
    );
    // nobody is not made to linger: said, but no task fails for it.
    assert_eq!(manager["lingering"], false);
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["topic"] == "user manager" && f["severity"] == "warning"),
        "{json:#}"
    );
    assert_eq!(json["health"]["health"], "healthy");
    assert!(
        facts["controllers"]["slice_cgroup"]
            .as_str()
            .is_some_and(|c| c.ends_with("/app.slice/app-nomad.slice")),
        "{facts:#}"
    );
}

#[test]
fn a_slice_that_is_not_a_slice_is_refused_naming_the_option() {
    let run = cli(&["doctor", "--slice", "nomad.service"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(
        run.stderr().contains("slice") && run.stderr().contains("not a slice unit name"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.stdout(), "", "nothing is reported for a bad slice");
}
