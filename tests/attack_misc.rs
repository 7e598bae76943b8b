//! Attacks on what a job's `properties`, exec sessions and config bytes can reach, through the
//! real plugin binary against the sandboxed systemd: each asserts the safe outcome — a refusal
//! naming the setting and the reason, nothing left behind, limits that hold for exec'd
//! commands, a plugin that keeps answering.

mod support;

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use nomad_systemd::core::{Error, UnitName};
use nomad_systemd::plugin::proto::driver as pb;
use rmpv::Value;
use support::plugin::{
    Alloc, Connection, Plugin, cty_object, shell_config, string_map, strings, task_unit,
};
use tonic::Code;

/// Starts `task`, which must be refused with `code` and a message containing every one of
/// `mentions`; no unit may be left.
async fn assert_refused(
    conn: &mut Connection,
    task: pb::TaskConfig,
    code: Code,
    mentions: &[&str],
) {
    let engine = support::engine().await;
    let unit = task_unit(&task);
    match conn.start(task).await {
        Ok(_) => panic!("{unit} was started; expected a refusal mentioning {mentions:?}"),
        Err(e) => assert!(
            e.code() == code && mentions.iter().all(|m| e.message().contains(m)),
            "expected {code:?} mentioning {mentions:?}, got {:?}: {}",
            e.code(),
            e.message()
        ),
    }
    support::assert_no_unit(&engine, &unit).await;
    support::assert_slice_gone(&unit.task_slice("system-nomad.slice").unwrap()).await;
}

/// `systemctl show` of `properties` of `unit`.
fn show(unit: &str, properties: &[&str]) -> HashMap<String, String> {
    let out = Command::new("systemctl")
        .arg("show")
        .arg(unit)
        .args(properties.iter().map(|p| format!("--property={p}")))
        .output()
        .expect("systemctl show");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_broad_allow_properties_never_grants_a_host_directory() {
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_properties", strings(&["*"]))]).await;
    let name = format!("attack-misc-{}", std::process::id());
    let host_dir = std::path::Path::new("/var/lib").join(&name);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::set_permissions(&host_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(host_dir.join("keep"), "root's").unwrap();
    let alloc = Alloc::new("statedir");
    for key in [
        "StateDirectory:as",
        "RuntimeDirectory:as",
        "CacheDirectory:as",
        "LogsDirectory:as",
        "ConfigurationDirectory:as",
    ] {
        let task = alloc.task_config(shell_config(
            "true",
            &[("properties", string_map(&[(key, &name)]))],
        ));
        assert_refused(
            &mut conn,
            task,
            Code::InvalidArgument,
            &[&format!("properties.{key}"), "outside the allocation"],
        )
        .await;
    }
    let meta = std::fs::metadata(&host_dir).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o700));
    assert_eq!(
        std::fs::read_to_string(host_dir.join("keep")).unwrap(),
        "root's"
    );
    std::fs::remove_dir_all(&host_dir).unwrap();
}

#[tokio::test]
async fn a_broad_allow_properties_never_opens_probes_or_hooks_the_host_as_root() {
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_properties", strings(&["*"]))]).await;
    let alloc = Alloc::new("hostreach");
    // Each would have root act on the host for the task: hand it an open /etc/shadow, tell it
    // through the start's outcome whether a root-only path exists, attach pinned BPF
    // programs, or put it into the host firewall's sets.
    for (key, value, reason) in [
        ("OpenFile:as", "/etc/shadow:shadow:read-only", "open file"),
        ("ConditionPathExists:as", "/root/.ssh/id_ed25519", "as root"),
        ("AssertPathIsDirectory:as", "/root", "as root"),
        ("BPFProgram:as", "egress:/sys/fs/bpf/x", "BPF"),
        ("IPIngressFilterPath:as", "/sys/fs/bpf/x", "BPF"),
        ("NFTSet:as", "cgroup:inet:filter:trusted", "nftables"),
    ] {
        let task = alloc.task_config(shell_config(
            "true",
            &[("properties", string_map(&[(key, value)]))],
        ));
        assert_refused(
            &mut conn,
            task,
            Code::InvalidArgument,
            &[&format!("properties.{key}"), reason],
        )
        .await;
    }
}

#[tokio::test]
async fn a_broad_allow_properties_never_grants_power_actions_or_realtime_priority() {
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_properties", strings(&["*"]))]).await;
    let alloc = Alloc::new("privileged");
    for (key, value, reason) in [
        ("SuccessAction:s", "reboot-force", "reboot"),
        ("FailureAction:s", "poweroff-force", "power off"),
        ("StartLimitAction:s", "reboot-force", "reboot"),
        ("JobTimeoutAction:s", "poweroff-force", "reboot"),
        ("CPUSchedulingPolicy", "fifo", "realtime"),
        ("CPUSchedulingPolicy", "rr", "realtime"),
        ("CPUSchedulingPriority", "50", "realtime"),
        ("Nice", "-10", "negative nice"),
        ("OOMScoreAdjust", "-1000", "OOM killer"),
        ("IOSchedulingClass", "realtime", "realtime IO"),
        ("LimitRTPRIO", "99", "realtime"),
        ("LoadCredential:as", "shadow:/etc/shadow", "as root"),
        ("PIDFile:s", "/etc/shadow", "delete"),
        ("Delegate:b", "yes", "cgroup"),
        ("TasksMax:t", "infinity", "resources"),
    ] {
        let task = alloc.task_config(shell_config(
            "true",
            &[("properties", string_map(&[(key, value)]))],
        ));
        let name = key.split(':').next().unwrap();
        assert_refused(
            &mut conn,
            task,
            Code::InvalidArgument,
            &[&format!("properties.{key}"), name, reason],
        )
        .await;
    }
    // What stays on the task's own side of the fence is still granted.
    let task = alloc.task_config(shell_config(
        "cat /proc/self/limits > /alloc/limits; nice > /alloc/nice",
        &[(
            "properties",
            string_map(&[
                ("Nice", "5"),
                ("CPUSchedulingPolicy", "idle"),
                ("LimitNOFILE", "321"),
            ]),
        )],
    ));
    let id = task.id.clone();
    conn.start(task).await.expect("harmless properties start");
    assert_eq!(conn.wait(&id).await.result.unwrap().exit_code, 0);
    assert_eq!(
        std::fs::read_to_string(alloc.path("alloc/nice")).unwrap(),
        "5\n"
    );
    let limits = std::fs::read_to_string(alloc.path("alloc/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 321 ")),
        "{limits}"
    );
    conn.destroy(&id).await;
}

#[tokio::test]
async fn an_exec_session_is_held_to_the_tasks_limits_and_properties() {
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_properties", strings(&["LimitNOFILE", "Nice"]))]).await;
    let alloc = Alloc::new("execlimits");
    let task = alloc.task_config(shell_config(
        "echo up > /alloc/up; while :; do sleep 0.1; done",
        &[
            ("pids_limit", Value::from(16)),
            (
                "properties",
                string_map(&[("LimitNOFILE", "321"), ("Nice", "7")]),
            ),
        ],
    ));
    let id = task.id.clone();
    let unit = task_unit(&task);
    let slice = unit.task_slice("system-nomad.slice").unwrap();
    conn.start(task).await.expect("task starts");
    support::wait_for_file(&alloc.path("alloc/up"), support::READY);

    // The task's own slice carries its limits, so task and exec share one budget.
    let shown = show(slice.as_str(), &["MemoryMax", "TasksMax", "MemorySwapMax"]);
    assert_eq!(shown["MemoryMax"], (64u64 << 20).to_string(), "{shown:?}");
    assert_eq!(shown["TasksMax"], "16", "{shown:?}");

    // And the exec unit itself repeats them, with the job's per-process properties.
    let mut exec_conn = conn.driver.clone();
    let session = tokio::spawn({
        let id = id.clone();
        async move {
            exec_conn
                .exec_task(pb::ExecTaskRequest {
                    task_id: id,
                    command: vec![
                        "/bin/sh".into(),
                        "-c".into(),
                        "grep 'open files' /proc/self/limits; nice; sleep 3".into(),
                    ],
                    timeout: None,
                })
                .await
                .map(tonic::Response::into_inner)
        }
    });
    let stem = unit.as_str().trim_end_matches(".service");
    let mut exec_shown = HashMap::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listed = Command::new("systemctl")
            .args(["list-units", "--plain", "--no-legend", "--all"])
            .arg(format!("{stem}-exec-*"))
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        if let Some(exec_unit) = listed.split_whitespace().next() {
            exec_shown = show(
                exec_unit,
                &["MemoryMax", "TasksMax", "LimitNOFILE", "Nice", "Slice"],
            );
            break;
        }
    }
    assert_eq!(
        exec_shown.get("Slice").map(String::as_str),
        Some(slice.as_str()),
        "{exec_shown:?}"
    );
    assert_eq!(
        exec_shown["MemoryMax"],
        (64u64 << 20).to_string(),
        "{exec_shown:?}"
    );
    assert_eq!(exec_shown["TasksMax"], "16", "{exec_shown:?}");
    assert_eq!(exec_shown["LimitNOFILE"], "321", "{exec_shown:?}");
    let reply = session.await.unwrap().expect("exec runs");
    let out = String::from_utf8_lossy(&reply.stdout).into_owned();
    assert!(
        out.contains(" 321 ") && out.lines().last() == Some("7"),
        "{out}"
    );
    conn.destroy(&id).await;
    support::assert_slice_gone(&slice).await;
}

/// `depth` lists inside one another around a nil, as the value of `args`.
fn nested_config(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x82, 0xa7];
    bytes.extend(b"command\xa7/bin/sh\xa4args");
    bytes.extend(std::iter::repeat_n(0x91, depth));
    bytes.push(0xc0);
    bytes
}

/// A config whose `args` is `count` empty strings.
fn empty_strings_config(count: u32) -> Vec<u8> {
    let mut bytes = vec![0x82, 0xa7];
    bytes.extend(b"command\xa7/bin/sh\xa4args\xdd");
    bytes.extend(count.to_be_bytes());
    bytes.extend(std::iter::repeat_n(0xa0, count as usize));
    bytes
}

#[tokio::test]
async fn deeply_nested_or_huge_configs_are_refused_and_the_plugin_keeps_answering() {
    let (mut plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("bounds");
    let before = plugin.rss_kib();
    for (what, config, mentions) in [
        ("nested 100000 deep", nested_config(100_000), "levels deep"),
        (
            "2 MiB less 1 KiB of empty strings",
            empty_strings_config((2 << 20) - 1024),
            "values",
        ),
        (
            "4 MiB less 1 KiB of empty strings",
            empty_strings_config((4 << 20) - 1024),
            "values",
        ),
    ] {
        let mut task = alloc.task_config(Vec::new());
        task.msgpack_driver_config = config;
        let unit = task_unit(&task);
        match conn.start(task).await {
            Ok(_) => panic!("{what}: started"),
            Err(e) => assert!(
                e.code() == Code::InvalidArgument
                    && e.message().contains("task config")
                    && e.message().contains(mentions),
                "{what}: {:?} {}",
                e.code(),
                e.message()
            ),
        }
        support::assert_no_unit(&support::engine().await, &unit).await;
        assert!(plugin.is_running(), "{what}: the plugin died");
    }
    let grown = plugin.rss_kib().saturating_sub(before);
    assert!(grown < 48 << 10, "the plugin grew by {grown} KiB");
    let huge = cty_object(&[
        ("command", Value::from("/bin/echo")),
        ("args", strings(&[&"x".repeat(17 << 20)])),
    ]);
    let e = conn.start(alloc.task_config(huge)).await.unwrap_err();
    assert!(
        e.code() == Code::InvalidArgument && e.message().contains("bytes"),
        "{e}"
    );
    // Still answering: a valid task starts and ends.
    let task = alloc.task_config(shell_config("exit 0", &[]));
    let id = task.id.clone();
    conn.start(task)
        .await
        .expect("a valid task after the attacks");
    assert_eq!(conn.wait(&id).await.result.unwrap().exit_code, 0);
    conn.destroy(&id).await;
}

#[tokio::test]
async fn unclear_refusals_name_the_setting_and_the_reason() {
    let (_plugin, mut conn) = Plugin::configured_with(&[
        ("allow_properties", strings(&["*"])),
        ("allow_units", strings(&["*"])),
    ])
    .await;
    let alloc = Alloc::new("unclear");

    // A device or swap unit is not something a task can run; no advice to add a suffix.
    for (unit, kind) in [("dev-sda.device", "device"), ("dev-sda2.swap", "swap")] {
        let task = alloc.task_config(cty_object(&[("unit", Value::from(unit))]));
        assert_refused(
            &mut conn,
            task,
            Code::InvalidArgument,
            &["unit", &format!("is a {kind} unit"), "service"],
        )
        .await;
    }

    // A property whose declared type is not systemd's: named, with the right type.
    let task = alloc.task_config(shell_config(
        "true",
        &[("properties", string_map(&[("IPAccounting:s", "yes")]))],
    ));
    assert_refused(
        &mut conn,
        task,
        Code::InvalidArgument,
        &["properties.IPAccounting", "'b'", "IPAccounting:b"],
    )
    .await;

    // An argument the kernel would not execute (exit 203 otherwise).
    let big = "x".repeat(1 << 20);
    let task = alloc.task_config(cty_object(&[
        ("command", Value::from("/bin/echo")),
        ("args", strings(&[&big])),
    ]));
    assert_refused(
        &mut conn,
        task,
        Code::InvalidArgument,
        &["args", "MAX_ARG_STRLEN"],
    )
    .await;

    // A task name too long for its private /tmp directory's name (exit 226 otherwise).
    let long = Alloc::new(&"n".repeat(200));
    let task = long.task_config(shell_config("true", &[]));
    assert_refused(
        &mut conn,
        task,
        Code::InvalidArgument,
        &["name", "199", "/tmp"],
    )
    .await;
}

#[tokio::test]
async fn exec_into_a_unit_without_a_process_says_so() {
    let engine = support::engine().await;
    for name in [
        "attack-misc.timer",
        "attack-misc.socket",
        "attack-misc.path",
    ] {
        let unit = UnitName::parse(name).unwrap();
        let e = engine
            .exec(
                &unit,
                &["/bin/true".to_string()],
                nomad_systemd::core::exec::ExecIo::Pipes,
            )
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, Error::InvalidConfig { .. })
                && text.contains(name)
                && text.contains("no process of its own"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_exec_argument_the_kernel_would_not_execute_is_refused_before_systemd() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("execbig");
    let task = alloc.task_config(shell_config(
        "echo up > /alloc/up; while :; do sleep 0.1; done",
        &[],
    ));
    let id = task.id.clone();
    conn.start(task).await.expect("task starts");
    support::wait_for_file(&alloc.path("alloc/up"), support::READY);
    let big = "x".repeat(1 << 20);
    let e = conn
        .exec(&id, &["/bin/echo", &big], None)
        .await
        .unwrap_err();
    assert!(
        e.code() == Code::InvalidArgument && e.message().contains("MAX_ARG_STRLEN"),
        "{:?}: {}",
        e.code(),
        e.message()
    );
    conn.destroy(&id).await;
}

#[tokio::test]
async fn the_drivers_known_property_types_are_systemds() {
    let engine = support::engine().await;
    let mut wrong = Vec::new();
    for (name, ours) in nomad_systemd::core::mapping::properties::KNOWN {
        let theirs = engine.systemd().service_property_type(name).await;
        if theirs.as_deref() != Some(*ours) {
            wrong.push(format!("{name}: ours '{ours}', systemd's {theirs:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn exec_into_a_timer_task_says_it_has_no_process() {
    let dir = std::path::Path::new("/run/systemd/system");
    std::fs::write(
        dir.join("attack-misc-tick.service"),
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("attack-misc-tick.timer"),
        "[Timer]\nOnActiveSec=1h\n",
    )
    .unwrap();
    assert!(
        Command::new("systemctl")
            .arg("daemon-reload")
            .status()
            .unwrap()
            .success()
    );
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["attack-misc-*"]))]).await;
    let alloc = Alloc::new("timer");
    let task = alloc.task_config(cty_object(&[(
        "unit",
        Value::from("attack-misc-tick.timer"),
    )]));
    let id = task.id.clone();
    conn.start(task).await.expect("the timer starts");
    let e = conn.exec(&id, &["/bin/true"], None).await.unwrap_err();
    assert!(
        e.code() == Code::InvalidArgument
            && e.message()
                .contains("attack-misc-tick.timer is a timer unit")
            && e.message().contains("no process of its own"),
        "{:?}: {}",
        e.code(),
        e.message()
    );
    conn.destroy(&id).await;
    for unit in ["attack-misc-tick.service", "attack-misc-tick.timer"] {
        std::fs::remove_file(dir.join(unit)).unwrap();
    }
    Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .unwrap();
}

/// A job author's names reach the operator's terminal through `ps`, `status` and the errors
/// that list tasks: an escape sequence in a job name (one that would retitle the terminal and
/// clear it) and a newline (a forged row) are shown as `\xNN`, never sent.
#[tokio::test]
async fn a_jobs_names_never_send_control_characters_to_the_operators_terminal() {
    let (_plugin, mut conn) = Plugin::configured().await;
    let task_name = format!("esc{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let hostile_job = "shop\x1b]0;owned\x07\x1b[2J\nnomad-fake  forged  running";
    let mut ids = Vec::new();
    let mut units = Vec::new();
    let mut allocs = Vec::new();
    for _ in 0..2 {
        let alloc = Alloc::new(&task_name);
        let mut task = alloc.task_config(shell_config("sleep 600", &[]));
        task.job_name = hostile_job.into();
        task.job_id = hostile_job.into();
        ids.push(task.id.clone());
        units.push(task_unit(&task));
        conn.start(task).await.expect("start");
        allocs.push(alloc);
    }
    let unit = &units[0];
    let outputs = [
        support::cli(&["ps"]),
        support::cli(&["ps", "-o", "wide"]),
        support::cli(&["status", unit.as_str()]),
        // Two tasks answer to the task's name: the error lists both.
        support::cli(&["status", &task_name]),
    ];
    for id in &ids {
        conn.destroy(id).await;
    }
    for out in &outputs {
        let text = format!("{}{}", out.stdout(), out.stderr());
        assert!(
            !text.contains(['\x1b', '\x07']) && !text.contains("\nnomad-fake"),
            "a control character reached the terminal: {text:?}"
        );
        // Shown, escaped (ps may cut the name to fit).
        assert!(text.contains("shop\\x1b"), "{text}");
    }
}
