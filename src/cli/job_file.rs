//! `run -f JOB.nomad.hcl`: a whole Nomad job file, from which one task is picked and made
//! ready for the task-file reader the way Nomad's client would prepare it.
//!
//! Picking: `--task GROUP/TASK`, or `--task TASK` when only one group has it, or nothing when
//! the job has one task; otherwise an error listing the tasks there are. Preparing: the
//! runtime variables Nomad interpolates into a task's `config` and `env`
//! (`${NOMAD_TASK_NAME}`, `${NOMAD_ALLOC_ID}`, `${NOMAD_JOB_NAME}`, `${NOMAD_GROUP_NAME}`,
//! `${NOMAD_PORT_<label>}` and its kin, `${meta.X}`, `${env.X}`) are replaced, each network
//! port getting its static number or a free one picked here. What a by-hand run cannot do as
//! Nomad would (templates, artifacts, services, restarts...) is listed as a difference.

use std::collections::BTreeMap;
use std::net::TcpListener;

use serde_json::{Map, Value};

use super::task_file;
use crate::core::{Error, Result};

/// Settings whose effect a by-hand run has anyway, or which are read here.
const TASK_SILENT: &[&str] = &["meta"];
const GROUP_SILENT: &[&str] = &["task", "meta", "count", "network"];

/// One task of a job file, ready for the task-file reader.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTask {
    pub job: String,
    pub group: String,
    pub task: String,
    /// The task block, its `config` and `env` interpolated, without what is not read.
    pub body: Map<String, Value>,
    /// `NOMAD_PORT_<label>` and its kin for each of the group's ports.
    pub port_env: Vec<(String, String)>,
    /// What Nomad would do that this run will not, one sentence each.
    pub differences: Vec<String>,
}

/// Whether a parsed file is a job file (a top-level `job "name" { ... }`).
pub fn is_job(tree: &Value) -> bool {
    tree.get("job").is_some()
}

/// Picks the task `wanted` names (or the only one) from a parsed job file and prepares it for
/// the allocation `alloc_id`.
pub fn pick(tree: &Value, wanted: Option<&str>, alloc_id: &str) -> Result<JobTask> {
    let (job, job_body) = single_labelled(tree.get("job"), "job")?;
    let mut all = Vec::new();
    for (group, group_body) in labelled(job_body.get("group"), "group")? {
        for (task, task_body) in labelled(group_body.get("task"), "task")? {
            all.push((group.clone(), group_body, task, task_body));
        }
    }
    let listing = || {
        all.iter()
            .map(|(g, _, t, b)| {
                let driver = b.get("driver").and_then(Value::as_str).unwrap_or("?");
                format!("{g}/{t} (driver {driver})")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen: Vec<_> = all
        .iter()
        .filter(|(g, _, t, _)| match wanted {
            None => true,
            Some(w) => match w.split_once('/') {
                Some((wg, wt)) => wg == g && wt == t,
                None => w == t,
            },
        })
        .collect();
    let (group, group_body, task, task_body) = match (chosen.as_slice(), wanted) {
        ([(g, gb, t, tb)], _) => (g, *gb, t, *tb),
        ([], None) => return Err(Error::invalid("job", "has no task")),
        ([], Some(w)) => {
            return Err(Error::argument(
                "--task",
                format!("{job} has no task {w}; its tasks: {}", listing()),
            ));
        }
        (_, None) => {
            return Err(Error::argument(
                "--task",
                format!(
                    "{job} has several tasks; name one with --task GROUP/TASK: {}",
                    listing()
                ),
            ));
        }
        (_, Some(w)) => {
            return Err(Error::argument(
                "--task",
                format!(
                    "{w} is in several groups; name it as GROUP/TASK: {}",
                    listing()
                ),
            ));
        }
    };

    let mut differences = Vec::new();
    for key in group_body.keys() {
        if !GROUP_SILENT.contains(&key.as_str()) {
            differences.push(format!("group.{key}: not rehearsed by a run by hand"));
        }
    }
    let mut body = Map::new();
    for (key, value) in task_body {
        // What the task-file reader takes; everything else in a task is a difference.
        if task_file::SETTINGS.contains(&key.as_str()) {
            body.insert(key.clone(), value.clone());
        } else if !TASK_SILENT.contains(&key.as_str()) {
            differences.push(format!("task.{key}: {}", not_done(key)));
        }
    }

    let ports = ports(group_body)?;
    if !ports.is_empty() {
        differences.push(format!(
            "ports: {} picked on this host, not reserved, and no network namespace",
            ports
                .iter()
                .map(|(l, p)| format!("{l}={p}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut vars = BTreeMap::new();
    vars.insert("NOMAD_TASK_NAME".to_string(), task.clone());
    vars.insert("NOMAD_ALLOC_ID".to_string(), alloc_id.to_string());
    vars.insert("NOMAD_JOB_NAME".to_string(), job.clone());
    vars.insert("NOMAD_GROUP_NAME".to_string(), group.clone());
    let mut port_env = Vec::new();
    for (label, port) in &ports {
        for (key, value) in [
            (format!("NOMAD_PORT_{label}"), port.to_string()),
            (format!("NOMAD_HOST_PORT_{label}"), port.to_string()),
            (format!("NOMAD_IP_{label}"), "127.0.0.1".to_string()),
            (format!("NOMAD_ADDR_{label}"), format!("127.0.0.1:{port}")),
        ] {
            vars.insert(key.clone(), value.clone());
            port_env.push((key, value));
        }
    }
    for level in [job_body, group_body, task_body] {
        if let Some(Value::Object(meta)) = level.get("meta") {
            for (k, v) in meta {
                let v = text(v).unwrap_or_default();
                vars.insert(format!("meta.{k}"), v.clone());
                vars.insert(format!("NOMAD_META_{k}"), v);
            }
        }
    }
    if let Some(Value::Object(env)) = body.get("env") {
        for (k, v) in env {
            if let Some(v) = text(v) {
                vars.insert(format!("env.{k}"), v);
            }
        }
    }
    let mut unknown = Vec::new();
    for key in ["config", "env"] {
        if let Some(value) = body.get_mut(key) {
            interpolate(value, &vars, &mut unknown);
        }
    }
    unknown.sort();
    unknown.dedup();
    for name in unknown {
        differences.push(format!(
            "${{{name}}}: not known to a run by hand; left as written"
        ));
    }
    Ok(JobTask {
        job,
        group: group.clone(),
        task: task.clone(),
        body,
        port_env,
        differences,
    })
}

fn not_done(key: &str) -> &'static str {
    match key {
        "template" => "templates are not rendered",
        "artifact" => "artifacts are not downloaded",
        "service" => "services are not registered",
        "vault" | "identity" | "consul" => "no workload identity or secrets",
        "lifecycle" => "runs alone, not in its group's order",
        _ => "not rehearsed by a run by hand",
    }
}

/// The group's `network { port "label" { static = N } }`: the static number, or a free one.
fn ports(group: &Map<String, Value>) -> Result<Vec<(String, u16)>> {
    let Some(network) = group.get("network") else {
        return Ok(Vec::new());
    };
    let blocks = match network {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for block in blocks {
        for (label, body) in labelled(block.get("port"), "network.port")? {
            let port = match body.get("static").and_then(Value::as_u64) {
                Some(p) => u16::try_from(p).map_err(|_| {
                    Error::invalid(
                        format!("network.port.{label}.static"),
                        format!("{p} is not a port"),
                    )
                })?,
                None => free_port()?,
            };
            out.push((label, port));
        }
    }
    Ok(out)
}

/// A TCP port nothing listens on now (the kernel's pick); not reserved.
fn free_port() -> Result<u16> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::io("cannot pick a free port", e))
}

/// Replaces each `${NAME}` whose NAME is known in every string below `value`.
fn interpolate(value: &mut Value, vars: &BTreeMap<String, String>, unknown: &mut Vec<String>) {
    match value {
        Value::String(s) => *s = replace(s, vars, unknown),
        Value::Array(items) => items.iter_mut().for_each(|v| interpolate(v, vars, unknown)),
        Value::Object(map) => map.values_mut().for_each(|v| interpolate(v, vars, unknown)),
        _ => {}
    }
}

fn replace(s: &str, vars: &BTreeMap<String, String>, unknown: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                unknown.push(name.to_string());
                out.push_str(&rest[start..start + 2 + end + 1]);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `kind "label" { ... }` blocks as (label, body) pairs.
fn labelled<'a>(
    value: Option<&'a Value>,
    kind: &str,
) -> Result<Vec<(String, &'a Map<String, Value>)>> {
    let mut out = Vec::new();
    let items = match value {
        None => return Ok(out),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    };
    for item in items {
        let Value::Object(map) = item else {
            return Err(Error::invalid(
                kind,
                "must be a block: kind \"label\" { ... }",
            ));
        };
        for (label, body) in map {
            let Value::Object(body) = body else {
                return Err(Error::invalid(format!("{kind}.{label}"), "must be a block"));
            };
            out.push((label.clone(), body));
        }
    }
    Ok(out)
}

fn single_labelled<'a>(
    value: Option<&'a Value>,
    kind: &str,
) -> Result<(String, &'a Map<String, Value>)> {
    let mut all = labelled(value, kind)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(Error::invalid(
            kind,
            format!("the file must hold exactly one {kind} \"name\" {{ ... }}, not {n}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Value {
        hcl::from_str(text).unwrap()
    }

    #[test]
    fn the_only_task_is_picked_and_its_ports_interpolated() {
        let tree = job(include_str!("../../examples/web.nomad.hcl"));
        let t = pick(&tree, None, "a1").unwrap();
        assert_eq!(
            (t.job.as_str(), t.group.as_str(), t.task.as_str()),
            ("hello-web", "web", "server")
        );
        let args = t.body["config"]["args"].as_array().unwrap();
        let port = t.port_env[0].1.clone();
        assert_eq!(args[2], Value::String(port));
        assert!(t.differences.iter().any(|d| d.starts_with("task.template")));
        assert!(t.differences.iter().any(|d| d.starts_with("group.service")));
        assert!(t.differences.iter().any(|d| d.starts_with("ports: http=")));
    }

    #[test]
    fn a_static_port_is_its_number_and_names_and_meta_interpolate() {
        let tree = job(r#"job "j" {
  meta { tier = "gold" }
  group "g" {
    network {
      port "http" {
        static = 8123
      }
    }
    task "t" {
      driver = "systemd"
      env { A = "x" }
      config {
        command = "/bin/echo"
        args = ["${NOMAD_JOB_NAME}/${NOMAD_GROUP_NAME}/${NOMAD_TASK_NAME}", "${NOMAD_ALLOC_ID}",
                "${meta.tier}", "${env.A}", "${NOMAD_PORT_http}", "${node.unique.id}"]
      }
    }
  }
}"#);
        let t = pick(&tree, Some("g/t"), "a1").unwrap();
        assert_eq!(
            t.body["config"]["args"],
            serde_json::json!(["j/g/t", "a1", "gold", "x", "8123", "${node.unique.id}"])
        );
        assert!(
            t.differences
                .iter()
                .any(|d| d.contains("${node.unique.id}"))
        );
    }

    #[test]
    fn a_wrong_or_ambiguous_task_lists_the_tasks() {
        let tree = job(r#"job "j" {
  group "a" {
    task "t" { driver = "systemd" }
  }
  group "b" {
    task "t" { driver = "docker" }
    task "u" { driver = "systemd" }
  }
}"#);
        for wanted in [None, Some("t"), Some("nope"), Some("a/u")] {
            let e = pick(&tree, wanted, "x").unwrap_err().to_string();
            assert!(
                e.contains("a/t (driver systemd), b/t (driver docker), b/u"),
                "{e}"
            );
        }
        assert_eq!(pick(&tree, Some("u"), "x").unwrap().group, "b");
        assert_eq!(pick(&tree, Some("b/t"), "x").unwrap().task, "t");
    }
}
