//! `run -f FILE`: a task written like a Nomad task, in HCL or TOML, decoded and checked the way
//! the plugin decodes and checks a job's task.
//!
//! The `config` block goes through the plugin's own decoder
//! ([`crate::core::driver_config`], fed the msgpack Nomad would send), so a file that runs here
//! is a `config` block Nomad would run. Around it: `name` (or HCL's `task "name" { ... }`),
//! `driver` (must be `systemd`), `user`, `env { ... }`, `resources { cpu, memory,
//! memory_max }`, `kill_signal`, `kill_timeout`. Unknown names are errors, as they are to
//! Nomad's own parser.
//!
//! A whole job file (`job "name" { group ... { task ... } }`) is read too: one task is picked
//! and prepared by [`super::job_file`], and what a by-hand run cannot rehearse is listed in
//! [`TaskFile::job`]'s differences.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::job_file;
use crate::core::driver_config::{self, DriverConfig};
use crate::core::{Error, MemoryMax, Result, Signal};

/// A task's settings this reader takes, besides its `name` (a whole job file's task reader
/// takes the same ones).
pub(super) const SETTINGS: &[&str] = &[
    "driver",
    "user",
    "env",
    "resources",
    "kill_signal",
    "kill_timeout",
    "config",
];
const RESOURCES: &[&str] = &["cpu", "memory", "memory_max"];

/// What a task file says.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFile {
    pub name: Option<String>,
    pub config: DriverConfig,
    pub user: Option<String>,
    pub env: Vec<(String, String)>,
    pub cpu_mhz: u64,
    pub memory_mb: u64,
    pub memory_max: MemoryMax,
    pub kill_signal: Option<Signal>,
    pub kill_timeout: Option<Duration>,
    /// Set when the file is a whole job file.
    pub job: Option<JobOrigin>,
}

/// Where a task picked from a job file came from, and how a run by hand differs from Nomad.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOrigin {
    pub job: String,
    pub group: String,
    /// What Nomad would do that this run will not, one sentence each.
    pub differences: Vec<String>,
}

/// Reads a task file: HCL unless its name ends in `.toml`. For a job file, `task` picks the
/// task (`GROUP/TASK` or `TASK`) and `alloc_id` is what `${NOMAD_ALLOC_ID}` becomes.
pub fn read(path: &Path, task: Option<&str>, alloc_id: &str) -> Result<TaskFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let toml = path.extension().is_some_and(|e| e == "toml");
    parse_file(&text, toml, task, alloc_id)
}

/// Parses a task file's text (TOML or HCL).
#[cfg(test)]
pub fn parse(text: &str, toml: bool) -> Result<TaskFile> {
    parse_file(text, toml, None, "")
}

fn parse_file(text: &str, toml: bool, task: Option<&str>, alloc_id: &str) -> Result<TaskFile> {
    let tree = if toml {
        toml::from_str::<toml::Value>(text)
            .map_err(|e| Error::invalid("task file", e.to_string()))
            .and_then(|v| to_json(&v))?
    } else {
        hcl::from_str::<hcl::Value>(text)
            .map_err(|e| Error::invalid("task file", e.to_string()))
            .and_then(|v| to_json(&v))?
    };
    let (name, body, job) = if job_file::is_job(&tree) {
        let picked = job_file::pick(&tree, task, alloc_id)?;
        let origin = JobOrigin {
            job: picked.job,
            group: picked.group,
            differences: picked.differences,
        };
        // The port variables come first, as Nomad's do: the task's env may use or override them.
        let mut body = picked.body;
        if !picked.port_env.is_empty() {
            let mut env: Map<String, Value> = picked
                .port_env
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            if let Some(Value::Object(own)) = body.remove("env") {
                env.extend(own);
            }
            body.insert("env".into(), Value::Object(env));
        }
        (Some(picked.task), body, Some(origin))
    } else {
        if let Some(task) = task {
            return Err(Error::argument(
                "--task",
                format!("picks a task from a job file; this file is one task, not {task:?}"),
            ));
        }
        let (name, body) = unwrap_task_block(tree)?;
        (name, body, None)
    };
    let top: Vec<&str> = std::iter::once("name")
        .chain(SETTINGS.iter().copied())
        .collect();
    known(&body, &top, "")?;
    if let Some(driver) = body.get("driver")
        && driver != "systemd"
    {
        return Err(Error::invalid(
            "driver",
            format!("{driver} is not this driver; this file is for driver = \"systemd\""),
        ));
    }
    let config = match body.get("config") {
        Some(Value::Object(c)) => c,
        _ => {
            return Err(Error::invalid(
                "config",
                "the task file needs a config { command = ... } block",
            ));
        }
    };
    known(config, driver_config::OPTIONS, "config.")?;
    let config = DriverConfig::decode(&msgpack(&Value::Object(config.clone())))
        .map_err(|e| Error::invalid(format!("config.{}", e.path), e.reason))?;
    let resources = match body.get("resources") {
        Some(Value::Object(r)) => r.clone(),
        None => Map::new(),
        Some(_) => return Err(Error::invalid("resources", "must be a block")),
    };
    known(&resources, RESOURCES, "resources.")?;
    let memory_max = integer(&resources, "memory_max")?.unwrap_or(0);
    Ok(TaskFile {
        name: name.or(string(&body, "name")?),
        config,
        user: string(&body, "user")?,
        env: env(&body)?,
        cpu_mhz: unsigned(&resources, "cpu")?,
        memory_mb: unsigned(&resources, "memory")?,
        memory_max: MemoryMax::from_nomad(memory_max).ok_or_else(|| {
            Error::invalid(
                "resources.memory_max",
                format!("{memory_max} is neither -1 nor a size in MiB"),
            )
        })?,
        kill_signal: string(&body, "kill_signal")?
            .map(|s| {
                s.parse::<Signal>()
                    .map_err(|e| Error::invalid("kill_signal", e.reason()))
            })
            .transpose()?,
        kill_timeout: string(&body, "kill_timeout")?
            .map(|t| {
                humantime::parse_duration(&t)
                    .map_err(|e| Error::invalid("kill_timeout", e.to_string()))
            })
            .transpose()?,
        job,
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::invalid("task file", e.to_string()))
}

/// HCL's `task "web" { ... }` (one task) or a file whose top level is the task.
fn unwrap_task_block(tree: Value) -> Result<(Option<String>, Map<String, Value>)> {
    let Value::Object(mut top) = tree else {
        return Err(Error::invalid("task file", "is not a set of settings"));
    };
    match top.remove("task") {
        None => Ok((None, top)),
        Some(Value::Object(labelled)) if labelled.len() == 1 && top.is_empty() => {
            let (name, body) = labelled.into_iter().next().unwrap_or_default();
            match body {
                Value::Object(body) => Ok((Some(name), body)),
                _ => Err(Error::invalid(
                    "task",
                    "must be a block: task \"name\" { ... }",
                )),
            }
        }
        Some(_) => Err(Error::invalid(
            "task",
            "the file must hold exactly one task \"name\" { ... } block and nothing beside it",
        )),
    }
}

fn known(map: &Map<String, Value>, names: &[&str], prefix: &str) -> Result<()> {
    match map.keys().find(|k| !names.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(Error::invalid(
            format!("{prefix}{unknown}"),
            format!("is not an option here (known: {})", names.join(", ")),
        )),
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::invalid(
            key,
            format!("expected a string, got {other}"),
        )),
    }
}

fn integer(map: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(other) => Err(Error::invalid(
            format!("resources.{key}"),
            format!("expected a whole number, got {other}"),
        )),
    }
}

fn unsigned(map: &Map<String, Value>, key: &str) -> Result<u64> {
    let n = integer(map, key)?.unwrap_or(0);
    u64::try_from(n)
        .map_err(|_| Error::invalid(format!("resources.{key}"), format!("{n} is negative")))
}

/// `env { KEY = "value" }`; numbers and booleans become their text, as in a Nomad job.
fn env(body: &Map<String, Value>) -> Result<Vec<(String, String)>> {
    let Some(env) = body.get("env") else {
        return Ok(Vec::new());
    };
    let Value::Object(env) = env else {
        return Err(Error::invalid("env", "must be a block of KEY = \"value\""));
    };
    env.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(Error::invalid(
                        format!("env.{k}"),
                        format!("expected text, got {other}"),
                    ));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// A JSON-shaped value as msgpack, the way go-cty would lay it out for the plugin.
fn msgpack(value: &Value) -> Vec<u8> {
    crate::core::cty::msgpack_from_json(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::capability::CapSet;
    use crate::core::driver_config::LogDriver;

    const HCL: &str = r#"
task "web" {
  driver = "systemd"
  user   = "nobody"
  config {
    command = "/usr/bin/python3"
    args    = ["-m", "http.server", "8080"]
    oom_score_adj = 300
    logging {
      driver = "journald"
    }
  }
  env {
    GREETING = "hello"
    WORKERS  = 4
  }
  resources {
    cpu        = 200
    memory     = 64
    memory_max = -1
  }
  kill_signal  = "SIGINT"
  kill_timeout = "10s"
}
"#;

    #[test]
    fn an_hcl_task_block_reads_like_a_nomad_task() {
        let f = parse(HCL, false).unwrap();
        assert_eq!(f.name.as_deref(), Some("web"));
        assert_eq!(f.config.command, "/usr/bin/python3");
        assert_eq!(f.config.args, ["-m", "http.server", "8080"]);
        assert_eq!(f.config.oom_score_adj, 300);
        assert_eq!(f.config.logging, LogDriver::Journald);
        assert_eq!(f.user.as_deref(), Some("nobody"));
        assert!(f.env.contains(&("WORKERS".into(), "4".into())));
        assert_eq!(
            (f.cpu_mhz, f.memory_mb, f.memory_max),
            (200, 64, MemoryMax::Unlimited)
        );
        assert_eq!(f.kill_signal, Some(Signal::INT));
        assert_eq!(f.kill_timeout, Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_toml_file_says_the_same() {
        let f = parse(
            r#"
name = "batch"
[config]
command = "/bin/sh"
args = ["-c", "exit 3"]
[resources]
memory = 32
"#,
            true,
        )
        .unwrap();
        assert_eq!(f.name.as_deref(), Some("batch"));
        assert_eq!(f.config.args, ["-c", "exit 3"]);
        assert_eq!(f.memory_mb, 32);
    }

    #[test]
    fn the_example_task_files_are_valid() {
        let hcl = parse(include_str!("../../examples/batch.task.hcl"), false).unwrap();
        assert_eq!(hcl.name.as_deref(), Some("generate"));
        let toml = parse(include_str!("../../examples/web.task.toml"), true).unwrap();
        assert_eq!(toml.config.command, "/usr/bin/python3");
    }

    #[test]
    fn the_sandboxed_example_jobs_config_is_valid() {
        let job: Value = hcl::from_str(include_str!("../../examples/sandboxed.nomad.hcl")).unwrap();
        let config = &job["job"]["sandboxed-web"]["group"]["web"]["task"]["server"]["config"];
        let Value::Object(options) = config else {
            panic!("no config block in {job}")
        };
        known(options, driver_config::OPTIONS, "config.").unwrap();
        let c = DriverConfig::decode(&msgpack(config)).unwrap();
        assert!(c.sandbox.dynamic_user);
        let caps = c.capabilities.resolve(CapSet::default_set());
        assert_eq!(caps.bounding.unwrap().to_string(), "CAP_NET_BIND_SERVICE");
    }

    #[test]
    fn mistakes_name_the_setting() {
        for (text, setting) in [
            (
                "config {\n command = \"x\"\n comand = \"y\"\n}",
                "config.comand",
            ),
            (
                "config {\n command = \"x\"\n args = \"-c\"\n}",
                "config.args",
            ),
            (
                "config {\n command = \"x\"\n oom_score_adj = -5\n}",
                "config.oom_score_adj",
            ),
            ("config { args = [] }", "config.command"),
            ("driver = \"docker\"\nconfig { command = \"x\" }", "driver"),
            (
                "config { command = \"x\" }\nresources { cpu = -1 }",
                "resources.cpu",
            ),
            (
                "config { command = \"x\" }\nresources { disk = 1 }",
                "resources.disk",
            ),
            (
                "config { command = \"x\" }\nkill_timeout = \"soon\"",
                "kill_timeout",
            ),
            (
                "config { command = \"x\" }\nkill_signal = \"SIGFOO\"",
                "kill_signal",
            ),
            ("config { command = \"x\" }\nimage = \"y\"", "image"),
            ("user = \"x\"", "config"),
        ] {
            match parse(text, false) {
                Err(Error::InvalidConfig { setting: s, .. }) => assert_eq!(s, setting, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
