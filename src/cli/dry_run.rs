//! `run --dry-run`: what a start would send to systemd, and the plugin's verdict under an
//! operator's plugin config, without starting anything. The plan and the verdict come from
//! the core ([`crate::core::start_plan`]) and the plugin ([`crate::plugin::rehearsal`]); this
//! module only prints them.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value as Json, json};

use super::OutputFormat;
use super::format;
use crate::core::driver_config::DriverConfig;
use crate::core::mapping::filesystem::Dirs;
use crate::core::property::{Property, Value};
use crate::core::start_plan::{self, PlannedOutput, Sent, StartPlan};
use crate::core::{Engine, EngineOptions, Error, Stdio, TaskSpec};
use crate::plugin::rehearsal::Policy;

/// A dry run's input: the task as `run` built it, without creating anything.
pub struct DryRun {
    pub spec: TaskSpec,
    pub stdio: Stdio,
    /// The job's `config` block the task stands for.
    pub config: DriverConfig,
    /// The job's `user`, if it sets one.
    pub user: Option<String>,
    /// The operator's plugin config to judge the task under.
    pub plugin_config: Option<PathBuf>,
    /// What `run` does before the start (creating task directories), in words.
    pub steps: Vec<String>,
    pub options: EngineOptions,
    pub output: OutputFormat,
}

pub async fn run(dry: DryRun) -> Result<ExitCode, Error> {
    let (spec, options) = match &dry.plugin_config {
        None => (dry.spec.clone(), dry.options.clone()),
        Some(path) => {
            let policy = Policy::read(path).map_err(|e| plugin_config_error(path, e))?;
            match judge(&policy, &dry).await {
                Ok(spec) => (spec, policy.engine_options()),
                Err(e) => return Ok(refused(&dry, &e)),
            }
        }
    };
    let plan = if spec.host_unit.is_some() {
        let engine = Engine::connect(options).await?;
        engine.plan_start(&spec, &dry.stdio).await
    } else {
        // The directories `run` would create are not there to be checked.
        let dirs = match &spec.dirs {
            Some(d) if !d.alloc_dir().is_dir() => Dirs::CreatedByTheStart,
            _ => Dirs::Present,
        };
        start_plan::plan_transient(&spec, &options.slice, &dry.stdio, dirs)
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e @ Error::InvalidConfig { .. }) if dry.plugin_config.is_some() => {
            return Ok(refused(&dry, &e));
        }
        Err(e) => return Err(e),
    };
    let mut steps = dry.steps.clone();
    steps.extend(plan.steps.iter().cloned());
    match dry.output {
        OutputFormat::Json => format::print_json(&to_json(&plan, &steps, &dry))?,
        OutputFormat::Table => print!("{}", text(&plan, &steps, &dry)),
    }
    Ok(ExitCode::SUCCESS)
}

/// An error reading the `--plugin-config` file, about that file and the setting in it: the
/// operator's plugin config is not a task config.
fn plugin_config_error(path: &std::path::Path, e: Error) -> Error {
    let Error::InvalidConfig { setting, reason } = e else {
        return e;
    };
    let setting = setting
        .strip_prefix("plugin config")
        .unwrap_or(&setting)
        .trim();
    let why = if setting.is_empty() {
        reason
    } else {
        format!("{setting}: {reason}")
    };
    Error::argument(format!("--plugin-config {}", path.display()), why)
}

/// The task StartTask would run under `policy`, with StartTask's errors.
async fn judge(policy: &Policy, dry: &DryRun) -> Result<TaskSpec, Error> {
    let spec = policy.task_spec(&dry.spec, dry.user.as_deref(), &dry.config)?;
    if spec.host_unit.is_some() {
        let engine = Engine::connect(policy.engine_options()).await?;
        policy.check_installed_unit(&engine, &spec).await?;
    }
    Ok(spec)
}

/// Reports the plugin's refusal, as Nomad would show it, and fails.
fn refused(dry: &DryRun, e: &Error) -> ExitCode {
    let config = dry
        .plugin_config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let OutputFormat::Json = dry.output {
        let verdict = json!({"policy": {"plugin_config": config, "verdict": "refused", "error": e.to_string()}});
        let _ = format::print_json(&verdict);
    }
    eprintln!("nomad-systemd: the plugin would refuse this task under {config}: {e}");
    ExitCode::FAILURE
}

fn verdict(dry: &DryRun) -> String {
    match &dry.plugin_config {
        Some(p) => format!(
            "allowed: the plugin would start this task under {}",
            p.display()
        ),
        None => "not checked (give --plugin-config FILE for the plugin's verdict; run itself applies no policy)".into(),
    }
}

fn text(plan: &StartPlan, steps: &[String], dry: &DryRun) -> String {
    let mut out = String::from("Dry run: nothing was started and nothing was created.\n\n");
    match &plan.sent {
        Sent::Transient { plan: unit, output } => {
            out += &format!(
                "Unit {}: a transient service, created with StartTransientUnit\n\n",
                unit.name
            );
            out += "Properties:\n";
            out += &table(&unit.properties, output);
            out += &format!("\nAux unit {} (created in the same call):\n", unit.slice);
            out += &table(&unit.slice_properties, &[]);
        }
        Sent::Installed(d) => {
            out += &format!(
                "Unit {}: installed, started with the drop-in {}\n\n",
                d.unit,
                d.path.display()
            );
            out += "Drop-in:\n";
            for line in d.text.lines() {
                out += &format!("  {line}\n");
            }
            out += "\nProperties (checked over the bus once systemd has loaded the drop-in):\n";
            out += &table(&d.properties, &[]);
        }
    }
    out += "\nBefore calling systemd, the start would:\n";
    for step in steps {
        out += &format!("  - {step}\n");
    }
    for warning in plan.warnings() {
        out += &format!("\nwarning: {warning}\n");
    }
    out += &format!("\nPolicy: {}\n", verdict(dry));
    out
}

/// Properties as `NAME  TYPE  VALUE` rows, the value as D-Bus carries it.
fn table(props: &[Property], output: &[PlannedOutput]) -> String {
    let rows: Vec<(String, &str, String)> = props
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.value.signature(),
                value_text(&p.value),
            )
        })
        .chain(
            output
                .iter()
                .map(|o| (o.property.to_string(), "h", format!("fd of {}", o.target))),
        )
        .collect();
    let name_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let sig_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(name, sig, value)| format!("  {name:name_width$}  {sig:sig_width$}  {value}\n"))
        .collect()
}

/// A value in a busctl-like notation: strings quoted and escaped, arrays in `[]`, structs in
/// `()`.
fn value_text(value: &Value) -> String {
    let list = |items: Vec<String>| format!("[{}]", items.join(", "));
    let bytes = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("{b:?}"),
    };
    match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::Strings(v) => list(v.iter().map(|s| format!("{s:?}")).collect()),
        Value::Bytes(b) => bytes(b),
        Value::ByteStrings(v) => list(v.iter().map(|b| bytes(b)).collect()),
        Value::Exec(cmds) => list(
            cmds.iter()
                .map(|c| format!("({:?}, {:?}, false)", c.path, c.wire_argv()))
                .collect(),
        ),
        Value::Binds(binds) => list(
            binds
                .iter()
                .map(|b| {
                    format!(
                        "({:?}, {:?}, {}, {})",
                        b.source,
                        b.destination,
                        b.ignore_missing,
                        bind_flags(b.recursive)
                    )
                })
                .collect(),
        ),
        Value::DeviceLimits(v) => list(v.iter().map(|(d, n)| format!("({d:?}, {n})")).collect()),
        Value::SyscallFilter(allow, names) => format!("({allow}, {names:?})"),
        Value::Devices(v) => list(
            v.iter()
                .map(|d| format!("({:?}, {:?})", d.device, d.access))
                .collect(),
        ),
        Value::Fd(_) => "a file descriptor".into(),
    }
}

fn bind_flags(recursive: bool) -> u64 {
    if recursive { nix::libc::MS_REC } else { 0 }
}

/// A value as JSON: structs as arrays, byte strings as strings where they are UTF-8.
fn value_json(value: &Value) -> Json {
    let bytes = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!(b),
    };
    match value {
        Value::Bool(b) => json!(b),
        Value::I32(n) => json!(n),
        Value::U32(n) => json!(n),
        Value::U64(n) => json!(n),
        Value::Str(s) => json!(s),
        Value::Strings(v) => json!(v),
        Value::Bytes(b) => bytes(b),
        Value::ByteStrings(v) => Json::Array(v.iter().map(|b| bytes(b)).collect()),
        Value::Exec(cmds) => Json::Array(
            cmds.iter()
                .map(|c| json!([c.path, c.wire_argv(), false]))
                .collect(),
        ),
        Value::Binds(binds) => Json::Array(
            binds
                .iter()
                .map(|b| {
                    json!([
                        b.source,
                        b.destination,
                        b.ignore_missing,
                        bind_flags(b.recursive)
                    ])
                })
                .collect(),
        ),
        Value::DeviceLimits(v) => json!(v),
        Value::SyscallFilter(allow, names) => json!([allow, names]),
        Value::Devices(v) => Json::Array(v.iter().map(|d| json!([d.device, d.access])).collect()),
        Value::Fd(_) => json!(null),
    }
}

fn props_json(props: &[Property], output: &[PlannedOutput]) -> Json {
    let rows = props
        .iter()
        .map(|p| json!({"name": p.name, "signature": p.value.signature(), "value": value_json(&p.value)}))
        .chain(output.iter().map(
            |o| json!({"name": o.property, "signature": "h", "value": null, "fd": o.target}),
        ));
    Json::Array(rows.collect())
}

fn to_json(plan: &StartPlan, steps: &[String], dry: &DryRun) -> Json {
    let policy = match &dry.plugin_config {
        Some(p) => json!({"plugin_config": p.display().to_string(), "verdict": "allowed"}),
        None => json!({"plugin_config": null, "verdict": "not checked"}),
    };
    let mut doc = match &plan.sent {
        Sent::Transient { plan: unit, output } => json!({
            "unit": unit.name.as_str(),
            "kind": "transient",
            "properties": props_json(&unit.properties, output),
            "aux": [{"unit": unit.slice.as_str(), "properties": props_json(&unit.slice_properties, &[])}],
        }),
        Sent::Installed(d) => json!({
            "unit": d.unit.as_str(),
            "kind": "installed",
            "properties": props_json(&d.properties, &[]),
            "dropins": [{"path": d.path.display().to_string(), "text": d.text}],
        }),
    };
    doc["steps"] = json!(steps);
    doc["warnings"] = json!(plan.warnings());
    doc["policy"] = policy;
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::{BindMount, ExecCommand};

    #[test]
    fn a_bad_plugin_config_is_named_by_its_option_and_setting() {
        let path = std::path::Path::new("agent.hcl");
        let e = Policy::parse("bogus = 1", "hcl").unwrap_err();
        let e = plugin_config_error(path, e);
        assert_eq!(
            e.to_string(),
            "--plugin-config agent.hcl: bogus: is not a setting of this plugin"
        );
        let e = plugin_config_error(path, Policy::parse("[1]", "json").unwrap_err());
        assert!(
            e.to_string().starts_with("--plugin-config agent.hcl: "),
            "{e}"
        );
        assert!(!e.to_string().contains("task config"), "{e}");
    }

    #[test]
    fn values_print_as_dbus_carries_them() {
        let exec = Value::Exec(vec![ExecCommand {
            path: "/bin/sh".into(),
            argv: vec!["sh".into(), "-c".into(), "echo $HOME".into()],
        }]);
        assert_eq!(
            value_text(&exec),
            r#"[("/bin/sh", ["sh", "-c", "echo $$HOME"], false)]"#
        );
        assert_eq!(
            value_json(&exec),
            json!([["/bin/sh", ["sh", "-c", "echo $$HOME"], false]])
        );
        assert_eq!(value_text(&Value::Str("no".into())), r#""no""#);
        assert_eq!(
            value_text(&Value::Str("a\nb\x1b".into())),
            r#""a\nb\u{1b}""#
        );
        let bind = Value::Binds(vec![BindMount {
            source: "/a".into(),
            destination: "/b".into(),
            ignore_missing: false,
            recursive: true,
        }]);
        assert_eq!(
            value_text(&bind),
            format!(r#"[("/a", "/b", false, {})]"#, nix::libc::MS_REC)
        );
        assert_eq!(
            value_json(&Value::ByteStrings(vec![b"A=1".to_vec(), vec![0xff]])),
            json!(["A=1", [255]])
        );
    }

    #[test]
    fn the_table_aligns_names_and_types_and_ends_with_the_output() {
        let props = vec![
            Property::new("Restart", Value::Str("no".into())),
            Property::new("MemoryMax", Value::U64(1024)),
        ];
        let output = [PlannedOutput {
            property: "StandardOutputFileDescriptor",
            target: "a journal stream".into(),
        }];
        let text = table(&props, &output);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("  Restart "), "{text}");
        assert!(lines[0].ends_with(r#"s  "no""#), "{text}");
        assert!(lines[1].ends_with("t  1024"), "{text}");
        assert!(lines[2].ends_with("h  fd of a journal stream"), "{text}");
        assert_eq!(lines[0].find(" s ").unwrap(), lines[1].find(" t ").unwrap());
    }
}
