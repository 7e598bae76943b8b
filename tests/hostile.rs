//! A table of malformed and hostile task configs sent through the plugin as Nomad would send
//! them: each gets a specific error naming what is wrong, and no unit is left behind.

mod support;

use nomad_systemd::plugin::proto::driver::{
    self as pb, network_isolation_spec::NetworkIsolationMode,
};
use rmpv::Value;
use support::plugin::{Alloc, Plugin, cty_object, driver_config, task_unit};
use tonic::Code;

/// The driver config of a task whose one attribute `key` is `value`, the rest valid.
fn with(key: &str, value: Value) -> Vec<u8> {
    let mut pairs = vec![("command", Value::from("/bin/true"))];
    pairs.retain(|(k, _)| *k != key);
    pairs.push((key, value));
    cty_object(&pairs)
}

/// A msgpack string whose bytes are not UTF-8.
fn raw_string(bytes: &[u8]) -> Value {
    let mut encoded = vec![0xa0 | bytes.len() as u8];
    encoded.extend_from_slice(bytes);
    rmpv::decode::read_value(&mut encoded.as_slice()).unwrap()
}

type Edit = Box<dyn Fn(&mut pb::TaskConfig)>;

fn config(bytes: Vec<u8>) -> Edit {
    Box::new(move |t| t.msgpack_driver_config = bytes.clone())
}

fn env(name: &str, value: &str) -> Edit {
    let (name, value) = (name.to_string(), value.to_string());
    Box::new(move |t| {
        t.env.insert(name.clone(), value.clone());
    })
}

fn memory(mb: i64, max: i64) -> Edit {
    Box::new(move |t| {
        let m = t
            .resources
            .as_mut()
            .and_then(|r| r.allocated_resources.as_mut())
            .and_then(|a| a.memory.as_mut())
            .unwrap();
        m.memory_mb = mb;
        m.memory_max_mb = max;
    })
}

fn cases() -> Vec<(&'static str, Edit, Code, &'static str)> {
    use Code::InvalidArgument as Bad;
    let huge = Value::from(u64::MAX);
    vec![
        ("no config at all", config(Vec::new()), Bad, "command"),
        ("a nil config", config(vec![0xc0]), Bad, "command"),
        (
            "trailing garbage",
            config(vec![0xc1, 0xff]),
            Bad,
            "unexpected bytes",
        ),
        (
            "a truncated map",
            config(vec![0x85, 0xa7, b'c']),
            Bad,
            "msgpack",
        ),
        (
            "a list instead of a block",
            config(vec![0x91, 0x01]),
            Bad,
            "block",
        ),
        (
            "a string instead of a block",
            config(vec![0xa1, b'x']),
            Bad,
            "block",
        ),
        (
            "a number as map key",
            config(vec![0x81, 0x01, 0x02]),
            Bad,
            "key",
        ),
        (
            "command as a number",
            config(with("command", Value::from(5))),
            Bad,
            "command",
        ),
        (
            "command as a bool",
            config(with("command", Value::from(true))),
            Bad,
            "command",
        ),
        (
            "command as a list",
            config(with("command", Value::Array(vec![]))),
            Bad,
            "command",
        ),
        (
            "an empty command",
            config(with("command", Value::from(""))),
            Bad,
            "command",
        ),
        (
            "a NUL in the command",
            config(with("command", Value::from("/bin/tr\0ue"))),
            Bad,
            "command",
        ),
        (
            "a command that is not UTF-8",
            config(with("command", raw_string(b"/bin/\xff"))),
            Bad,
            "`command`",
        ),
        (
            "a relative command that is missing",
            config(with("command", Value::from("./nope"))),
            Bad,
            "command",
        ),
        (
            "a command on no PATH",
            config(with("command", Value::from("no-such-program-x"))),
            Bad,
            "command",
        ),
        (
            "shell metacharacters",
            config(with("command", Value::from("/bin/sh; touch /tmp/pwned"))),
            Code::Internal,
            "could not be executed",
        ),
        (
            "a command substitution",
            config(with("command", Value::from("$(reboot)"))),
            Bad,
            "command",
        ),
        (
            "args as a string",
            config(with("args", Value::from("-c"))),
            Bad,
            "args",
        ),
        (
            "a number among args",
            config(with("args", Value::Array(vec!["a".into(), 1.into()]))),
            Bad,
            "args[1]",
        ),
        (
            "a NUL in an argument",
            config(with("args", Value::Array(vec!["a\0b".into()]))),
            Bad,
            "args",
        ),
        (
            "an argument that is not UTF-8",
            config(with("args", Value::Array(vec![raw_string(b"\xc3")]))),
            Bad,
            "args[0]",
        ),
        (
            "args as a map",
            config(with("args", Value::Map(vec![]))),
            Bad,
            "args",
        ),
        (
            "a relative working_dir",
            config(with("working_dir", Value::from("local"))),
            Bad,
            "absolute",
        ),
        (
            "a working_dir climbing out",
            config(with("working_dir", Value::from("/local/../../etc"))),
            Bad,
            "..",
        ),
        (
            "working_dir as a number",
            config(with("working_dir", Value::from(7))),
            Bad,
            "working_dir",
        ),
        (
            "an unknown group",
            config(with("group", Value::from("no-such-group-x"))),
            Bad,
            "no-such-group-x",
        ),
        (
            "group as a number",
            config(with("group", Value::from(0))),
            Bad,
            "group",
        ),
        (
            "a negative oom_score_adj",
            config(with("oom_score_adj", Value::from(-1))),
            Bad,
            "oom_score_adj",
        ),
        (
            "oom_score_adj above 1000",
            config(with("oom_score_adj", Value::from(1001))),
            Bad,
            "oom_score_adj",
        ),
        (
            "a fractional oom_score_adj",
            config(with("oom_score_adj", Value::F64(1.5))),
            Bad,
            "oom_score_adj",
        ),
        (
            "oom_score_adj as words",
            config(with("oom_score_adj", Value::from("lots"))),
            Bad,
            "oom_score_adj",
        ),
        (
            "oom_score_adj beyond 64 bits",
            config(with("oom_score_adj", huge)),
            Bad,
            "oom_score_adj",
        ),
        (
            "oom_score_adj as 1e30",
            config(with("oom_score_adj", Value::from("1e30"))),
            Bad,
            "oom_score_adj",
        ),
        (
            "an unknown log driver",
            config(with(
                "logging",
                Value::Map(vec![("driver".into(), "syslog".into())]),
            )),
            Bad,
            "logging.driver",
        ),
        (
            "logging as a string",
            config(with("logging", Value::from("journald"))),
            Bad,
            "logging",
        ),
        (
            "log driver as a number",
            config(with(
                "logging",
                Value::Map(vec![("driver".into(), 3.into())]),
            )),
            Bad,
            "logging.driver",
        ),
        (
            "user root",
            Box::new(|t| t.user = "root".into()),
            Bad,
            "allow_root",
        ),
        (
            "user uid 0",
            Box::new(|t| t.user = "0".into()),
            Bad,
            "allow_root",
        ),
        (
            "an unknown user",
            Box::new(|t| t.user = "no-such-user-x".into()),
            Bad,
            "no-such-user-x",
        ),
        (
            "a user name with a colon",
            Box::new(|t| t.user = "a:b".into()),
            Bad,
            "a:b",
        ),
        // Any other name or value reaches the task, as with Nomad's exec driver
        // (tests/fidelity_env.rs); only what no process environment can hold is refused.
        (
            "a NUL in a variable name",
            env("BAD\0NAME", "x"),
            Bad,
            "no process environment",
        ),
        (
            "a name that is only '='",
            env("=", "x"),
            Bad,
            "'=' in its name",
        ),
        ("a '=' in a variable name", env("A=B", "x"), Bad, "A=B"),
        ("an empty variable name", env("", "x"), Bad, "variable"),
        (
            "a '=' in a NOMAD_ name",
            env("NOMAD_META_a=b", "x"),
            Bad,
            "NOMAD_META_a=b",
        ),
        (
            "a NUL at the start of a value",
            env("GOOD", "\0"),
            Bad,
            "GOOD",
        ),
        ("a NUL in a value", env("GOOD", "a\0b"), Bad, "GOOD"),
        ("memory_max -2", memory(64, -2), Bad, "memory_max"),
        ("memory_max below memory", memory(64, 32), Bad, "memory_max"),
        ("negative memory", memory(-64, 0), Bad, "memory"),
        (
            "memory beyond any machine",
            memory(i64::MAX, 0),
            Bad,
            "memory",
        ),
        (
            "negative cpu",
            Box::new(|t| {
                t.resources
                    .as_mut()
                    .and_then(|r| r.allocated_resources.as_mut())
                    .and_then(|a| a.cpu.as_mut())
                    .unwrap()
                    .cpu_shares = -5;
            }),
            Bad,
            "cpu",
        ),
        (
            "a cpuset that is not one",
            Box::new(|t| {
                t.resources
                    .as_mut()
                    .and_then(|r| r.linux_resources.as_mut())
                    .unwrap()
                    .cpuset_cpus = "zero-two".into();
            }),
            Bad,
            "zero-two",
        ),
        (
            "a relative alloc_dir",
            Box::new(|t| t.alloc_dir = "relative/alloc".into()),
            Bad,
            "task directories",
        ),
        (
            "an alloc_dir that does not exist",
            Box::new(|t| t.alloc_dir = "/no/such/alloc".into()),
            Bad,
            "does not exist",
        ),
        ("no task id", Box::new(|t| t.id.clear()), Bad, "id"),
        ("no task name", Box::new(|t| t.name.clear()), Bad, "name"),
        (
            "a task network mode",
            Box::new(|t| {
                t.network_isolation_spec = Some(pb::NetworkIsolationSpec {
                    mode: NetworkIsolationMode::Task as i32,
                    ..Default::default()
                });
            }),
            Bad,
            "network",
        ),
        (
            "a group network without a namespace",
            Box::new(|t| {
                t.network_isolation_spec = Some(pb::NetworkIsolationSpec {
                    mode: NetworkIsolationMode::Group as i32,
                    ..Default::default()
                });
            }),
            Bad,
            "network",
        ),
        (
            "a log path in no directory",
            Box::new(|t| t.stdout_path = "/no/such/dir/out.fifo".into()),
            Code::Internal,
            "cannot open",
        ),
    ]
}

#[tokio::test]
async fn every_hostile_task_config_gets_a_specific_error_and_no_unit() {
    let engine = support::engine().await;
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("hostile");
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for (what, edit, code, mentions) in &cases {
        let mut task = alloc.task_config(driver_config("/bin/true", &[]));
        edit(&mut task);
        let unit = task_unit(&task);
        match conn.start(task).await {
            Ok(_) => wrong.push(format!("{what}: started")),
            Err(e) if e.code() != *code || !e.message().contains(mentions) => {
                wrong.push(format!("{what}: {:?} {:?}", e.code(), e.message()));
            }
            Err(_) => {}
        }
        support::assert_no_unit(&engine, &unit).await;
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases went wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    assert!(
        !std::path::Path::new("/tmp/pwned").exists(),
        "nothing ran through a shell"
    );
}
