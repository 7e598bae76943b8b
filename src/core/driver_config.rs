//! A job's `config { ... }` block for `driver = "systemd"`, as values: what the plugin receives
//! from Nomad (cty msgpack) and what `run -f` reads from a task file, decoded and checked the
//! same way. The plugin's schema for it lives with the plugin.

mod program;
mod resources;
mod sandbox;

use serde::{Deserialize, Serialize};

use super::capability::CapabilityRequest;
use super::cty::{ConfigError, Object};
use super::sandbox::Sandbox;
pub use program::UnitConfig;
pub use resources::ResourceOptions;

/// The option names of the block, as the plugin's schema declares them.
pub const OPTIONS: &[&str] = &[
    "command",
    "args",
    "working_dir",
    "group",
    "oom_score_adj",
    "logging",
    // Resource limits, read by `resources`.
    "memory_swap",
    "cpu_hard_limit",
    "pids_limit",
    "io_weight",
    "io_read_bandwidth_max",
    "io_write_bandwidth_max",
    "unit",
    "unit_instance",
    "dynamic_user",
    "protect_system",
    "protect_home",
    "private_tmp",
    "private_devices",
    "no_new_privileges",
    "cap_add",
    "cap_drop",
    "ambient_capabilities",
    "system_call_filter",
    "read_only_paths",
    "read_write_paths",
    "inaccessible_paths",
    "root_directory",
    "root_image",
    "properties",
];

/// What a job's task config says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// The program to run; empty when `unit` is set.
    pub command: String,
    /// An installed unit to start instead of a program.
    pub unit: Option<UnitConfig>,
    pub args: Vec<String>,
    /// Working directory inside the task; `/local` when unset.
    pub working_dir: Option<String>,
    /// Group to run as; the user's own group when unset.
    pub group: Option<String>,
    /// The OOM killer's bias, 0 (default) to 1000 (killed first).
    pub oom_score_adj: i32,
    pub logging: LogDriver,
    /// Limits beyond Nomad's `resources`.
    pub resources: ResourceOptions,
    /// The sandbox options (see [`crate::core::sandbox`]); its capabilities are unset.
    pub sandbox: Sandbox,
    /// `cap_add`, `cap_drop`, `ambient_capabilities`.
    pub capabilities: CapabilityRequest,
}

/// Where the task's output goes (`logging { driver = ... }`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogDriver {
    /// Into Nomad's log FIFOs: `nomad alloc logs` shows it.
    #[default]
    Nomad,
    /// Into the journal, with the task's NOMAD_* fields; Nomad receives nothing.
    Journald,
    /// Into the journal, and followed from there into Nomad's log FIFOs: both see it.
    Both,
}

impl DriverConfig {
    /// Reads the config Nomad encoded with [`schema`].
    pub fn decode(bytes: &[u8]) -> Result<DriverConfig, ConfigError> {
        let o = Object::decode(bytes)?;
        let (command, unit) = program::decode(&o)?;
        let logging = match o.block("logging")? {
            None => LogDriver::default(),
            Some(b) => match b.string("driver")?.as_deref() {
                None | Some("nomad") => LogDriver::Nomad,
                Some("journald") => LogDriver::Journald,
                Some("both") => LogDriver::Both,
                Some(other) => {
                    return Err(ConfigError {
                        path: "logging.driver".into(),
                        reason: format!(
                            "must be \"nomad\", \"journald\" or \"both\", not \"{other}\""
                        ),
                    });
                }
            },
        };
        let oom_score_adj = match o.integer("oom_score_adj")? {
            None => 0,
            Some(n @ 0..=1000) => n as i32,
            Some(n) if n < 0 => {
                return Err(ConfigError {
                    path: "oom_score_adj".into(),
                    reason: format!(
                        "{n} would shield the task from the OOM killer at other tasks' \
                         expense; a job may only raise it (0 to 1000)"
                    ),
                });
            }
            Some(n) => {
                return Err(ConfigError {
                    path: "oom_score_adj".into(),
                    reason: format!("{n} is above the kernel's maximum of 1000"),
                });
            }
        };
        let (sandbox, capabilities) = sandbox::decode(&o)?;
        Ok(DriverConfig {
            command,
            unit,
            args: o.strings("args")?,
            working_dir: o.string("working_dir")?.filter(|s| !s.is_empty()),
            group: o.string("group")?.filter(|s| !s.is_empty()),
            oom_score_adj,
            logging,
            resources: ResourceOptions::decode(&o)?,
            sandbox,
            capabilities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn encode(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &v).unwrap();
        out
    }

    fn config(pairs: Vec<(&str, Value)>) -> Vec<u8> {
        encode(Value::Map(
            pairs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }

    #[test]
    fn a_full_config_with_nils_for_absent_attributes() {
        let c = DriverConfig::decode(&config(vec![
            ("args", Value::Array(vec!["-c".into(), "exit 3".into()])),
            ("command", "/bin/sh".into()),
            ("group", Value::Nil),
            (
                "logging",
                Value::Map(vec![("driver".into(), "journald".into())]),
            ),
            ("working_dir", Value::Nil),
        ]))
        .unwrap();
        assert_eq!(c.command, "/bin/sh");
        assert_eq!(c.args, ["-c", "exit 3"]);
        assert_eq!((c.group, c.working_dir), (None, None));
        assert_eq!(c.logging, LogDriver::Journald);
    }

    #[test]
    fn oom_score_adj_accepts_any_number_encoding_but_only_0_to_1000() {
        let with = |v: Value| {
            DriverConfig::decode(&config(vec![("command", "x".into()), ("oom_score_adj", v)]))
        };
        assert_eq!(with(Value::from(500)).unwrap().oom_score_adj, 500);
        assert_eq!(with(Value::from("300")).unwrap().oom_score_adj, 300);
        assert_eq!(with(Value::F64(1000.0)).unwrap().oom_score_adj, 1000);
        assert_eq!(with(Value::Nil).unwrap().oom_score_adj, 0);
        for bad in [
            Value::from(-1),
            Value::from(1001),
            Value::F64(0.5),
            Value::from("x"),
        ] {
            assert_eq!(with(bad).unwrap_err().path, "oom_score_adj");
        }
    }

    #[test]
    fn command_is_required() {
        for bytes in [
            config(vec![("command", Value::Nil)]),
            config(vec![("command", "".into())]),
            Vec::new(),
        ] {
            assert_eq!(DriverConfig::decode(&bytes).unwrap_err().path, "command");
        }
    }

    #[test]
    fn an_absent_logging_block_means_nomad() {
        let c = DriverConfig::decode(&config(vec![
            ("command", "x".into()),
            ("logging", Value::Nil),
        ]))
        .unwrap();
        assert_eq!(c.logging, LogDriver::Nomad);
    }

    #[test]
    fn an_unknown_log_driver_is_refused() {
        let e = DriverConfig::decode(&config(vec![
            ("command", "x".into()),
            (
                "logging",
                Value::Map(vec![("driver".into(), "syslog".into())]),
            ),
        ]))
        .unwrap_err();
        assert_eq!(e.path, "logging.driver");
    }

    #[test]
    fn a_unit_replaces_command_and_takes_an_instance() {
        let c = DriverConfig::decode(&config(vec![
            ("command", Value::Nil),
            ("unit", "web@.service".into()),
            ("unit_instance", "blue".into()),
        ]))
        .unwrap();
        assert_eq!(c.command, "");
        assert_eq!(
            c.unit,
            Some(UnitConfig {
                name: "web@.service".into(),
                instance: Some("blue".into())
            })
        );
    }

    #[test]
    fn exactly_one_of_command_and_unit() {
        let both = config(vec![("command", "x".into()), ("unit", "a.service".into())]);
        assert_eq!(DriverConfig::decode(&both).unwrap_err().path, "unit");
        let instance_alone = config(vec![("command", "x".into()), ("unit_instance", "i".into())]);
        assert_eq!(
            DriverConfig::decode(&instance_alone).unwrap_err().path,
            "unit_instance"
        );
        let unit_with_args = config(vec![
            ("unit", "a.service".into()),
            ("args", Value::Array(vec!["x".into()])),
        ]);
        assert_eq!(
            DriverConfig::decode(&unit_with_args).unwrap_err().path,
            "args"
        );
    }

    #[test]
    fn the_both_log_driver_is_read() {
        let c = DriverConfig::decode(&config(vec![
            ("command", "x".into()),
            (
                "logging",
                Value::Map(vec![("driver".into(), "both".into())]),
            ),
        ]))
        .unwrap();
        assert_eq!(c.logging, LogDriver::Both);
    }
}
