//! The sandbox a job asks for, and the operator's policy over it, seen from inside the task:
//! the plugin driven over gRPC as Nomad drives it, against the sandboxed real systemd, each
//! task reporting what it sees on its stdout FIFO.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nomad_systemd::plugin::proto::driver as pb;
use rmpv::Value;
use support::cap_mask;
use support::plugin::{
    Alloc, Connection, Plugin, cty_object, run_task_as, shell_config, strings, task_unit,
};
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn protect_system_strict_keeps_even_root_from_writing_usr() {
    let (_plugin, mut conn) = Plugin::configured_with(&[("allow_root", true.into())]).await;
    let alloc = Alloc::new("strict");
    let script = concat!(
        "touch /usr/nomad-systemd-probe 2>&1; echo rc=$?; ",
        "touch /local/ok && echo local=ok; echo END"
    );
    let task = alloc.task_config(shell_config(script, &[("protect_system", "strict".into())]));
    let out = run_task_as(&mut conn, &alloc, task, "root").await;
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    assert!(
        out.contains("local=ok"),
        "the task's own directories stay writable: {out}"
    );
    assert!(!std::path::Path::new("/usr/nomad-systemd-probe").exists());
}

#[tokio::test]
async fn dynamic_user_runs_as_an_ephemeral_uid() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("ephemeral");
    let task = alloc.task_config(shell_config(
        "echo uid=$(id -u) name=$(id -un); echo END",
        &[("dynamic_user", true.into())],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    let uid = printed_uid(&out);
    assert!(uid != 0 && uid != 65534, "uid {uid}: {out}");
    assert!(DYNAMIC_UIDS.contains(&uid), "uid {uid}: {out}");
}

/// The uid a task printed as `uid=N`.
fn printed_uid(out: &str) -> u32 {
    out.split("uid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no uid in {out:?}"))
}

/// systemd's range for dynamic users.
const DYNAMIC_UIDS: std::ops::RangeInclusive<u32> = 61184..=65519;

#[tokio::test]
async fn a_dropped_capability_is_gone_from_the_effective_and_bounding_sets() {
    let (_plugin, mut conn) = Plugin::configured_with(&[("allow_root", true.into())]).await;
    const CHOWN: u64 = 1 << 0;
    const KILL: u64 = 1 << 5;
    const SYS_ADMIN: u64 = 1 << 21;
    let alloc = Alloc::new("capless");
    let task = alloc.task_config(shell_config(
        "grep ^Cap /proc/self/status; echo END",
        &[("cap_drop", strings(&["CAP_CHOWN"]))],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "root").await;
    for field in ["CapEff", "CapBnd"] {
        let mask = cap_mask(&out, field);
        assert_eq!(mask & CHOWN, 0, "{field} still has CAP_CHOWN: {out}");
        assert_eq!(
            mask & KILL,
            KILL,
            "{field} lost a default capability: {out}"
        );
        assert_eq!(
            mask & SYS_ADMIN,
            0,
            "{field} has more than the default set: {out}"
        );
    }
}

#[tokio::test]
async fn no_new_privileges_is_on_unless_the_operator_lets_a_job_relax_it() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("nnp");
    let probe = "grep ^NoNewPrivs /proc/self/status; echo END";
    let out = run_task_as(
        &mut conn,
        &alloc,
        alloc.task_config(shell_config(probe, &[])),
        "",
    )
    .await;
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");

    let (_plugin, mut relaxed) =
        Plugin::configured_with(&[("allow_relax", strings(&["no_new_privileges"]))]).await;
    let alloc = Alloc::new("nnp-off");
    let task = alloc.task_config(shell_config(probe, &[("no_new_privileges", false.into())]));
    let out = run_task_as(&mut relaxed, &alloc, task, "").await;
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
}

#[tokio::test]
async fn nomad_mounts_are_read_only_inside_when_nomad_says_so() {
    let (_plugin, mut conn) = Plugin::configured_with(&[("allow_root", true.into())]).await;
    let alloc = Alloc::new("volumes");
    let volumes = tempfile::tempdir().unwrap();
    let (ro, rw) = (volumes.path().join("ro"), volumes.path().join("rw"));
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::write(ro.join("seed"), "from the host").unwrap();
    let mut task = alloc.task_config(shell_config(
        "cat /local/ro/seed; echo; touch /local/ro/x 2>&1; echo ro_rc=$?; touch /local/rw/x; \
         echo rw_rc=$?; echo END",
        &[],
    ));
    let mount = |host: &std::path::Path, at: &str, readonly| pb::Mount {
        host_path: host.display().to_string(),
        task_path: at.into(),
        readonly,
        ..Default::default()
    };
    // Under the task's directories: a destination missing on the host is not created there.
    task.mounts = vec![
        mount(&ro, "/local/ro", true),
        mount(&rw, "/local/rw", false),
    ];
    let out = run_task_as(&mut conn, &alloc, task, "root").await;
    assert!(out.contains("from the host"), "{out}");
    assert!(
        out.contains("Read-only file system") && out.contains("ro_rc=1"),
        "{out}"
    );
    assert!(out.contains("rw_rc=0"), "{out}");
    assert!(rw.join("x").exists() && !ro.join("x").exists());
}

#[tokio::test]
async fn nomads_dns_config_is_the_tasks_resolv_conf() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("dns");
    let mut task = alloc.task_config(shell_config("cat /etc/resolv.conf; echo END", &[]));
    task.dns = Some(pb::DnsConfig {
        servers: vec!["192.0.2.53".into()],
        searches: vec!["service.consul".into()],
        options: vec!["ndots:2".into()],
    });
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    assert!(
        out.contains("nameserver 192.0.2.53\nsearch service.consul\noptions ndots:2\n"),
        "{out}"
    );
}

#[tokio::test]
async fn a_denied_option_names_the_plugin_setting_and_creates_no_unit() {
    let engine = support::engine().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("denied");
    let cases = [
        ("cap_add", strings(&["sys_admin"]), "allowed_capabilities"),
        ("private_tmp", false.into(), "allow_relax"),
        ("root_directory", "/srv/rootfs".into(), "allowed_host_paths"),
        (
            "properties",
            Value::Map(vec![("LimitNOFILE".into(), "64".into())]),
            "allow_properties",
        ),
    ];
    for (option, value, setting) in cases {
        let task = alloc.task_config(shell_config("echo ran; echo END", &[(option, value)]));
        let unit = task_unit(&task);
        let err = conn.start(task).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{option}: {err}");
        assert!(
            err.message().contains(option) && err.message().contains(setting),
            "{option}: {}",
            err.message()
        );
        support::assert_no_unit(&engine, &unit).await;
    }
    let mut root = alloc.task_config(shell_config("echo ran; echo END", &[]));
    root.user = "root".into();
    let err = conn.start(root).await.unwrap_err();
    assert!(err.message().contains("allow_root"), "{}", err.message());
    assert!(!alloc.has_stdout(), "a refused task ran");
}

/// `nomad alloc exec` and script checks into a sandboxed task are confined as the task is:
/// same dynamic uid, same read-only `/usr`, same capability sets, no new privileges.
#[tokio::test]
async fn an_exec_into_a_sandboxed_task_is_confined_like_the_task() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("confined");
    let report = "echo uid=$(id -u); grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; \
                  touch /usr/nomad-systemd-probe 2>&1; echo rc=$?";
    let (task_saw, exec_saw) = task_and_exec_report(
        &mut conn,
        &alloc,
        report,
        &[
            ("dynamic_user", true.into()),
            ("protect_system", "strict".into()),
            ("cap_drop", strings(&["all"])),
        ],
    )
    .await;

    assert_eq!(printed_uid(&exec_saw), printed_uid(&task_saw), "{exec_saw}");
    assert!(DYNAMIC_UIDS.contains(&printed_uid(&exec_saw)), "{exec_saw}");
    assert_eq!(cap_mask(&exec_saw, "CapBnd"), cap_mask(&task_saw, "CapBnd"));
    assert_eq!(cap_mask(&exec_saw, "CapBnd"), 0, "{exec_saw}");
    assert!(exec_saw.contains("NoNewPrivs:\t1"), "{exec_saw}");
    assert!(
        exec_saw.contains("rc=1"),
        "/usr is writable in exec: {exec_saw}"
    );
}

/// Starts a task that prints `probe`'s report, then stays up; runs `probe` again through
/// ExecTask and returns what the task and the exec printed. The task is destroyed.
async fn task_and_exec_report(
    conn: &mut Connection,
    alloc: &Alloc,
    probe: &str,
    options: &[(&str, Value)],
) -> (String, String) {
    let task = alloc.task_config(shell_config(
        &format!("{probe}; echo END; exec sleep 60"),
        options,
    ));
    let id = task.id.clone();
    conn.start(task).await.expect("StartTask");
    let task_saw = alloc.wait_for_stdout("END", SHORT);
    let response = conn
        .exec(&id, &["/bin/sh", "-c", probe], Some(SHORT))
        .await
        .expect("ExecTask");
    conn.destroy(&id).await;
    let exec_saw = String::from_utf8_lossy(&response.stdout).into_owned()
        + &String::from_utf8_lossy(&response.stderr);
    (task_saw, exec_saw)
}

/// systemd's default for a filtered call is to kill the process with SIGSYS (the shell
/// reported `rc=159`); the driver makes it fail with EPERM, in exec sessions too.
#[tokio::test]
async fn a_denied_system_call_fails_with_eperm_and_the_task_runs_on() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("nouname");
    let probe = "uname -s 2>&1; echo rc=$?; echo alive";
    let (task_saw, exec_saw) = task_and_exec_report(
        &mut conn,
        &alloc,
        probe,
        &[("system_call_filter", strings(&["~uname"]))],
    )
    .await;
    for (who, out) in [("task", &task_saw), ("exec", &exec_saw)] {
        assert!(
            out.contains("Operation not permitted") && out.contains("rc=1\n"),
            "{who}: {out}"
        );
        assert!(
            out.contains("alive") && !out.contains("Linux"),
            "{who}: {out}"
        );
    }
}

#[tokio::test]
async fn an_allow_list_of_system_service_calls_still_runs_a_shell_under_seccomp() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("allowlist");
    let task = alloc.task_config(shell_config(
        "grep ^Seccomp: /proc/self/status; uname -s; echo END",
        &[("system_call_filter", strings(&["@system-service"]))],
    ));
    let out = run_task_as(&mut conn, &alloc, task, "").await;
    // Mode 2 is a seccomp filter: the list was applied, and the shell lives with it.
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("Linux"), "{out}");
}

/// A statically linked busybox (Debian's busybox-static), enough for a root of one file.
const BUSYBOX: &str = "/usr/bin/busybox";

#[tokio::test]
async fn a_root_directory_under_local_runs_its_own_tree_with_the_task_dirs_bound() {
    let engine = support::engine().await;
    let alloc = Alloc::new("rooted");
    let rootfs = alloc.path("rooted/local/rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    assert!(
        std::path::Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: this test makes a task's whole root of Debian's statically \
         linked busybox; install it with `apt-get install busybox-static` (tools/deps does)"
    );
    support::install_executable(std::path::Path::new(BUSYBOX), &rootfs.join("bin/busybox"));
    // Only busybox's builtins: the root has no other program.
    let script = "[ -e /bin/sh ] && echo host-root-visible; [ -x /bin/busybox ] && echo own-root; \
                  for d in /local /alloc /secrets; do [ -d $d ] && echo bound=$d; done; \
                  echo from-the-root > /alloc/data/proof; echo END";
    let config = |root: &str| {
        cty_object(&[
            ("command", Value::from("/bin/busybox")),
            ("args", strings(&["sh", "-c", script])),
            ("root_directory", Value::from(root)),
        ])
    };
    let (_plugin, mut conn) = Plugin::configured().await;
    let out = run_task_as(&mut conn, &alloc, alloc.task_config(config("rootfs")), "").await;
    assert!(out.contains("own-root"), "{out}");
    assert!(!out.contains("host-root-visible"), "{out}");
    for dir in ["/local", "/alloc", "/secrets"] {
        assert!(out.contains(&format!("bound={dir}\n")), "{dir}: {out}");
    }
    assert_eq!(
        std::fs::read_to_string(alloc.path("alloc/data/proof")).unwrap(),
        "from-the-root\n"
    );

    // The same tree named by its host path is outside every allowed prefix.
    let absolute = rootfs.display().to_string();
    let task = alloc.task_config(config(&absolute));
    let unit = task_unit(&task);
    let err = conn.start(task).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(
        err.message().contains("root_directory")
            && err.message().contains(&absolute)
            && err.message().contains("allowed_host_paths"),
        "{}",
        err.message()
    );
    support::assert_no_unit(&engine, &unit).await;
}

#[tokio::test]
async fn a_wasm_module_runs_through_the_operators_runtime_with_its_args() {
    // A stand-in runtime that reports its argv and the module it was handed. Not under /tmp:
    // the task's /tmp is its own.
    let bin = tempfile::Builder::new()
        .prefix("nomad-systemd-wasm")
        .tempdir_in("/run")
        .unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = bin.path().join("wasm-runtime");
    support::write_executable(
        &runtime,
        "#!/bin/sh\nfor a in \"$0\" \"$@\"; do echo \"argv=$a\"; done\ncat \"$1\"; echo END\n",
    );
    let runtime = runtime.display().to_string();
    let alloc = Alloc::new("wasm");
    std::fs::write(alloc.path("wasm/local/app.wasm"), "(module)\n").unwrap();
    let config = cty_object(&[
        ("command", Value::from("app.wasm")),
        ("args", strings(&["--listen", "a b"])),
    ]);

    let (_plugin, mut conn) =
        Plugin::configured_with(&[("wasm_runtime", runtime.as_str().into())]).await;
    let out = run_task_as(&mut conn, &alloc, alloc.task_config(config.clone()), "").await;
    let argv: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("argv="))
        .collect();
    assert_eq!(
        argv,
        [runtime.as_str(), "/local/app.wasm", "--listen", "a b"],
        "{out}"
    );
    assert!(out.contains("(module)"), "the module is readable: {out}");

    let engine = support::engine().await;
    let (_plugin, mut plain) = Plugin::configured().await;
    let task = alloc.task_config(config);
    let unit = task_unit(&task);
    let err = plain.start(task).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(
        err.message().contains("app.wasm") && err.message().contains("wasm_runtime"),
        "{}",
        err.message()
    );
    support::assert_no_unit(&engine, &unit).await;
}

/// A character device with no driver (1:12 was `/dev/oldmem`): opening it fails with ENXIO
/// where the device cgroup lets it through, with EPERM where the cgroup denies it. The
/// allocation directory must be on a filesystem that allows device nodes: on a `nodev` one
/// (a tmpfs /tmp, as trixie mounts it) every open fails with EACCES, which proves nothing.
fn driverless_device(at: &std::path::Path) {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    use nix::sys::statvfs::{FsFlags, statvfs};
    let dir = at.parent().expect("a node in a directory");
    let flags = statvfs(dir)
        .expect("statvfs of the allocation directory")
        .flags();
    assert!(
        !flags.contains(FsFlags::ST_NODEV),
        "{} is on a nodev mount, where no device node opens; set TMPDIR to a directory on \
         a filesystem that allows them (e.g. /srv/tmp)",
        dir.display()
    );
    mknod(
        at,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, 12),
    )
    .expect("mknod (the tests run as root)");
}

/// Nomad's device is bound at its task path and usable; with a device list systemd's
/// device cgroup (`DevicePolicy=auto`) denies every other device node but the standard
/// pseudo-devices. On a hybrid host that is cgroup v1's devices controller, on a unified one
/// a BPF program.
#[tokio::test]
async fn a_nomad_device_is_usable_at_its_task_path_and_others_are_denied() {
    let (_plugin, mut conn) = Plugin::configured_with(&[("allow_root", true.into())]).await;
    // At a node the host has (/dev/full): a missing destination would be created on the host.
    let probe = "head -c 4 /dev/full | od -An -tx1; echo x > /dev/full; \
                 echo write_rc=$?; cat /local/probe 2>&1; echo END";
    let zero_at_task_path = pb::Device {
        task_path: "/dev/full".into(),
        host_path: "/dev/zero".into(),
        cgroup_permissions: "rw".into(),
    };

    let alloc = Alloc::new("devices");
    driverless_device(&alloc.path("devices/local/probe"));
    let mut task = alloc.task_config(shell_config(probe, &[]));
    task.devices = vec![zero_at_task_path];
    let out = run_task_as(&mut conn, &alloc, task, "root").await;
    assert!(out.contains(" 00 00 00 00\n"), "{out}");
    assert!(out.contains("write_rc=0"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");

    // Without a device list, the same node reaches the kernel, which has no driver for it.
    let alloc = Alloc::new("nodevices");
    driverless_device(&alloc.path("nodevices/local/probe"));
    let out = run_task_as(
        &mut conn,
        &alloc,
        alloc.task_config(shell_config(probe, &[])),
        "root",
    )
    .await;
    assert!(out.contains("No such device or address"), "{out}");
}
