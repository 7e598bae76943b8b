//! Attacks through paths: everything inside an allocation directory is the job's, symlinks
//! included, and names become path components. Each test plants what a hostile task (or a
//! previous run of it, or an artifact) could plant, sends the task through the real plugin
//! binary as Nomad does, against the sandboxed real systemd, and asserts the safe outcome:
//! the start is refused naming the setting and the reason (or the plant is replaced, never
//! written through), the file outside is unchanged, nothing new exists outside, and no unit
//! is left.

mod support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nomad_systemd::core::UnitName;
use nomad_systemd::plugin::proto::driver as pb;
use rmpv::Value;
use support::plugin::{Alloc, Connection, Plugin, shell_config, task_unit};
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);
const SECRET: &str = "root-only contents\n";

/// A root-owned 0600 file outside every allocation directory, as `/etc/shadow` is.
struct Secret {
    dir: tempfile::TempDir,
}

impl Secret {
    fn new() -> Secret {
        let dir = tempfile::tempdir().unwrap();
        let secret = Secret { dir };
        std::fs::write(secret.file(), SECRET).unwrap();
        std::fs::set_permissions(secret.file(), std::fs::Permissions::from_mode(0o600)).unwrap();
        secret
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("shadow")
    }

    /// A name in the same directory that does not exist (a dangling symlink's target).
    fn missing(&self) -> PathBuf {
        self.dir.path().join("created-by-root")
    }

    /// The file is as it was, and nothing was created beside it.
    fn assert_untouched(&self) {
        assert_eq!(std::fs::read_to_string(self.file()).unwrap(), SECRET);
        let mode = std::fs::metadata(self.file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600);
        let names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["shadow"], "something was created outside");
    }
}

fn logging_both() -> (&'static str, Value) {
    (
        "logging",
        Value::Map(vec![("driver".into(), "both".into())]),
    )
}

/// Replaces `path` (a FIFO, file or directory) by a symlink to `target`.
fn plant_symlink(path: &Path, target: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).unwrap(),
        Ok(_) => std::fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
    symlink(target, path).unwrap();
}

/// The journal follower units a `logging = both` task would get.
fn follower_units(task: &pb::TaskConfig) -> [UnitName; 2] {
    let instance = task.id.rsplit('/').next().unwrap_or_default();
    ["out", "err"]
        .map(|s| UnitName::for_task(&task.alloc_id, &task.name, &format!("{instance}{s}")))
}

/// Starts `task`, which must be refused as invalid with a message containing every one of
/// `words`; no unit may be left, the task's or a follower's.
async fn assert_refused(conn: &mut Connection, task: pb::TaskConfig, words: &[&str]) -> String {
    let engine = support::engine().await;
    let units = [task_unit(&task)]
        .into_iter()
        .chain(follower_units(&task))
        .collect::<Vec<_>>();
    let err = match conn.start(task).await {
        Err(err) => err,
        Ok(_) => panic!("the task was started as {}; it should be refused", units[0]),
    };
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    for word in words {
        assert!(
            err.message().contains(word),
            "no {word:?} in: {}",
            err.message()
        );
    }
    for unit in &units {
        support::assert_no_unit(&engine, unit).await;
    }
    err.message().to_string()
}

#[tokio::test]
async fn a_stdout_fifo_replaced_by_a_symlink_is_refused_and_its_target_untouched() {
    let (_plugin, mut conn) = Plugin::configured().await;
    for both in [false, true] {
        let options: Vec<_> = both.then(logging_both).into_iter().collect();
        // Pointing at a root-only file: root would have appended the task's output to it.
        let secret = Secret::new();
        let alloc = Alloc::new("web");
        let fifo = alloc.path("alloc/logs/.web.stdout.fifo");
        plant_symlink(&fifo, &secret.file());
        let task = alloc.task_config(shell_config("echo pwned; echo pwned >&2", &options));
        assert_refused(&mut conn, task, &["stdout FIFO", "symbolic link"]).await;
        secret.assert_untouched();

        // Dangling: root would have created a file of its own there.
        let alloc = Alloc::new("web");
        let fifo = alloc.path("alloc/logs/.web.stdout.fifo");
        plant_symlink(&fifo, &secret.missing());
        let task = alloc.task_config(shell_config("echo pwned", &options));
        assert_refused(&mut conn, task, &["stdout FIFO", "symbolic link"]).await;
        assert!(!secret.missing().exists(), "logging both: {both}");
        secret.assert_untouched();

        // The directory above it replaced: the same.
        let alloc = Alloc::new("web");
        plant_symlink(&alloc.path("alloc/logs"), secret.dir.path());
        let task = alloc.task_config(shell_config("echo pwned", &options));
        assert_refused(&mut conn, task, &["stdout FIFO", "symbolic link"]).await;
        secret.assert_untouched();
    }
}

#[tokio::test]
async fn a_log_fifo_replaced_by_a_hard_link_or_a_file_is_refused_unwritten() {
    let (_plugin, mut conn) = Plugin::configured().await;
    for both in [false, true] {
        let options: Vec<_> = both.then(logging_both).into_iter().collect();
        let secret = Secret::new();
        let alloc = Alloc::new("web");
        // A hard link to the root-only file (the worst a task could get past
        // protected_hardlinks): the same inode, so not a FIFO.
        let fifo = alloc.path("alloc/logs/.web.stderr.fifo");
        std::fs::remove_file(&fifo).unwrap();
        std::fs::hard_link(secret.file(), &fifo).unwrap();
        let task = alloc.task_config(shell_config("echo pwned >&2", &options));
        let message = assert_refused(&mut conn, task, &["stderr FIFO", "not a FIFO"]).await;
        assert!(message.contains("regular file"), "{message}");
        std::fs::remove_file(&fifo).unwrap();
        secret.assert_untouched();
    }
}

#[tokio::test]
async fn a_symlinked_task_directory_is_refused_not_bound() {
    let (_plugin, mut conn) = Plugin::configured().await;
    for dir in ["web/local", "web/secrets", "alloc"] {
        let secret = Secret::new();
        let alloc = Alloc::new("web");
        plant_symlink(&alloc.path(dir), secret.dir.path());
        let task = alloc.task_config(shell_config(
            "echo pwned > /local/x; echo pwned > /secrets/x",
            &[],
        ));
        let message = assert_refused(&mut conn, task, &["symbolic link"]).await;
        assert!(
            message.contains("task directories") || message.contains("FIFO"),
            "{dir}: {message}"
        );
        secret.assert_untouched();
    }
}

#[tokio::test]
async fn a_planted_resolv_conf_symlink_is_replaced_never_written_through() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let secret = Secret::new();
    let alloc = Alloc::new("web");
    let conf = alloc.path("web/resolv.conf");
    plant_symlink(&conf, &secret.file());
    let mut task = alloc.task_config(shell_config("cat /etc/resolv.conf; echo END", &[]));
    task.dns = Some(pb::DnsConfig {
        servers: vec!["192.0.2.53".into()],
        ..Default::default()
    });
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    conn.wait(&id).await;
    let out = alloc.wait_for_stdout("END", SHORT);
    conn.destroy(&id).await;
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    assert!(!out.contains("root-only"), "{out}");
    secret.assert_untouched();
    let meta = std::fs::symlink_metadata(&conf).unwrap();
    assert!(
        meta.is_file(),
        "the symlink was replaced by the driver's own file"
    );

    // With the task's directory itself a symlink to the outside, nothing is written there.
    let alloc = Alloc::new("web");
    plant_symlink(&alloc.path("web"), secret.dir.path());
    let mut task = alloc.task_config(shell_config("echo pwned", &[]));
    task.dns = Some(pb::DnsConfig {
        servers: vec!["192.0.2.53".into()],
        ..Default::default()
    });
    assert_refused(&mut conn, task, &["symbolic link"]).await;
    secret.assert_untouched();
}

#[tokio::test]
async fn a_task_name_that_is_not_one_path_component_is_refused() {
    let (_plugin, mut conn) = Plugin::configured().await;
    // Another allocation's task directory, named by an absolute task name: joined onto this
    // allocation's directory it would have bound the other one's secrets/.
    let victim = Alloc::new("db");
    std::fs::write(victim.path("db/secrets/token"), "victim's token").unwrap();
    let alloc = Alloc::new("web");
    for name in [
        victim.path("db").display().to_string(),
        "/abs".to_string(),
        "..".to_string(),
        "../db".to_string(),
        ".".to_string(),
    ] {
        let mut task = alloc.task_config(shell_config(
            "cat /secrets/token; echo pwned > /secrets/x",
            &[],
        ));
        task.name = name.clone();
        let message = assert_refused(&mut conn, task, &["name", &name]).await;
        assert!(message.contains("directory name"), "{message}");
    }
    let left: Vec<_> = std::fs::read_dir(victim.path("db/secrets"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["token"]);
}

#[tokio::test]
async fn a_mount_destination_missing_on_the_host_is_refused_and_not_created() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let nologin = Path::new("/etc/nologin");
    assert!(
        !nologin.exists(),
        "the test host has no /etc/nologin to begin with"
    );
    let volume = tempfile::tempdir().unwrap();
    let alloc = Alloc::new("web");
    let mut task = alloc.task_config(shell_config("echo ran", &[]));
    task.mounts = vec![pb::Mount {
        host_path: volume.path().display().to_string(),
        task_path: "/etc/nologin".into(),
        readonly: true,
        ..Default::default()
    }];
    assert_refused(
        &mut conn,
        task,
        &["mounts", "/etc/nologin", "exist on the host"],
    )
    .await;
    assert!(!nologin.exists(), "/etc/nologin was created on the host");

    // A device's destination is held to the same rule.
    let created = Path::new("/dev/nomad-systemd-attack");
    let mut task = alloc.task_config(shell_config("echo ran", &[]));
    task.devices = vec![pb::Device {
        task_path: created.display().to_string(),
        host_path: "/dev/zero".into(),
        cgroup_permissions: "r".into(),
    }];
    assert_refused(&mut conn, task, &["devices", "/dev/nomad-systemd-attack"]).await;
    assert!(!created.exists());

    // A destination through a symlink the host has (systemd would follow it and create the
    // target) is refused too.
    let linkdir = tempfile::tempdir().unwrap();
    let link = linkdir.path().join("to-etc");
    symlink("/etc", &link).unwrap();
    let at = link.join("nologin").display().to_string();
    let mut task = alloc.task_config(shell_config("echo ran", &[]));
    task.mounts = vec![pb::Mount {
        host_path: volume.path().display().to_string(),
        task_path: at.clone(),
        readonly: true,
        ..Default::default()
    }];
    assert_refused(&mut conn, task, &["mounts", &at, "symbolic link"]).await;
    assert!(!nologin.exists());
}

#[tokio::test]
async fn a_symlinked_root_directory_or_image_is_refused_at_start_naming_it() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("web");
    // The host's root, through a symlink in local/: used to fail only once started (226).
    plant_symlink(&alloc.path("web/local/rootfs"), Path::new("/"));
    let task = alloc.task_config(shell_config(
        "echo ran",
        &[("root_directory", "rootfs".into())],
    ));
    assert_refused(
        &mut conn,
        task,
        &["root_directory", "rootfs", "symbolic link"],
    )
    .await;
    let task = alloc.task_config(shell_config(
        "echo ran",
        &[("root_directory", "/local/rootfs".into())],
    ));
    assert_refused(&mut conn, task, &["root_directory", "symbolic link"]).await;

    let secret = Secret::new();
    plant_symlink(&alloc.path("web/local/app.raw"), &secret.file());
    let task = alloc.task_config(shell_config(
        "echo ran",
        &[("root_image", "app.raw".into())],
    ));
    assert_refused(&mut conn, task, &["root_image", "app.raw", "symbolic link"]).await;
    secret.assert_untouched();
}
