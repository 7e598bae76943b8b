//! The agent's `plugin "nomad-systemd" { config { ... } }` block: its schema and its values.

use super::hclspec::{defaulted, object};
use super::proto::hclspec::Spec;
use crate::core::cty::{ConfigError, Object};
use crate::core::unit_policy::{Rule, UnitPolicy};
use crate::core::{Bus, EngineOptions};

/// The operator's settings for this plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    /// `false` makes the driver report itself undetected: no task is placed on this node.
    pub enabled: bool,
    /// Which service manager runs the tasks.
    pub bus: Bus,
    /// The slice task units go into; the bus's default when `None`.
    pub slice: Option<String>,
    /// Who a task runs as when the job sets no `user` (system bus only).
    pub default_user: String,
    /// Whether a job may run its task as root (`user = "root"` or any uid 0 user).
    pub allow_root: bool,
    /// Which installed units a job may start (`allow_units`, `deny_units`); none by default.
    pub units: UnitPolicy,
}

impl Default for PluginConfig {
    fn default() -> PluginConfig {
        PluginConfig {
            enabled: true,
            bus: Bus::System,
            slice: None,
            default_user: "nobody".to_string(),
            allow_root: false,
            units: UnitPolicy::default(),
        }
    }
}

/// The schema Nomad decodes the `config` block with; defaults match [`PluginConfig::default`].
pub fn schema() -> Spec {
    object([
        ("enabled", defaulted("enabled", "bool", "true")),
        ("bus", defaulted("bus", "string", "\"system\"")),
        ("slice", defaulted("slice", "string", "\"\"")),
        (
            "default_user",
            defaulted("default_user", "string", "\"nobody\""),
        ),
        ("allow_root", defaulted("allow_root", "bool", "false")),
        (
            "allow_units",
            defaulted("allow_units", "list(string)", "[]"),
        ),
        ("deny_units", defaulted("deny_units", "list(string)", "[]")),
    ])
}

impl PluginConfig {
    /// Reads the config Nomad encoded with [`schema`]. Absent or null values take the
    /// defaults, so an agent without a `config` block gets [`PluginConfig::default`].
    pub fn decode(bytes: &[u8]) -> Result<PluginConfig, ConfigError> {
        let o = Object::decode(bytes)?;
        let d = PluginConfig::default();
        let bus = match o.string("bus")?.as_deref() {
            None | Some("system") => Bus::System,
            Some("user") => Bus::User,
            Some(other) => {
                return Err(ConfigError {
                    path: "bus".into(),
                    reason: format!("must be \"system\" or \"user\", not \"{other}\""),
                });
            }
        };
        let slice = o.string("slice")?.filter(|s| !s.is_empty());
        if let Some(s) = &slice
            && !s.ends_with(".slice")
        {
            return Err(ConfigError {
                path: "slice".into(),
                reason: format!("\"{s}\" is not a slice name (it must end in .slice)"),
            });
        }
        Ok(PluginConfig {
            enabled: o.bool("enabled")?.unwrap_or(d.enabled),
            bus,
            slice,
            default_user: o
                .string("default_user")?
                .filter(|u| !u.is_empty())
                .unwrap_or(d.default_user),
            allow_root: o.bool("allow_root")?.unwrap_or(d.allow_root),
            units: UnitPolicy {
                allow: rules(&o, "allow_units")?,
                deny: rules(&o, "deny_units")?,
            },
        })
    }

    pub fn engine_options(&self) -> EngineOptions {
        let mut options = EngineOptions::for_bus(self.bus);
        if let Some(slice) = &self.slice {
            options.slice = slice.clone();
        }
        options
    }
}

/// A list of unit rules (globs, or regexes after `re:`); a bad one is an error naming it.
fn rules(o: &Object, key: &str) -> Result<Vec<Rule>, ConfigError> {
    o.strings(key)?
        .iter()
        .map(|text| {
            Rule::parse(text).map_err(|reason| ConfigError {
                path: key.into(),
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(pairs: &[(&str, rmpv::Value)]) -> Vec<u8> {
        let map = rmpv::Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (rmpv::Value::from(*k), v.clone()))
                .collect(),
        );
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &map).unwrap();
        out
    }

    #[test]
    fn no_config_block_is_the_defaults() {
        assert_eq!(PluginConfig::decode(&[]).unwrap(), PluginConfig::default());
        let nils = encode(&[("bus", rmpv::Value::Nil), ("enabled", rmpv::Value::Nil)]);
        assert_eq!(
            PluginConfig::decode(&nils).unwrap(),
            PluginConfig::default()
        );
    }

    #[test]
    fn reads_every_setting() {
        let c = PluginConfig::decode(&encode(&[
            ("enabled", false.into()),
            ("bus", "user".into()),
            ("slice", "batch.slice".into()),
            ("default_user", "app".into()),
            ("allow_root", true.into()),
            (
                "allow_units",
                rmpv::Value::Array(vec!["web@.service".into(), "re:db-[0-9]+\\.service".into()]),
            ),
            ("deny_units", rmpv::Value::Array(vec!["*secret*".into()])),
        ]))
        .unwrap();
        assert_eq!(c.units.allow.len(), 2);
        assert_eq!(c.units.deny[0].text(), "*secret*");
        assert!(!c.enabled && c.allow_root);
        assert_eq!(c.bus, Bus::User);
        assert_eq!(c.engine_options().slice, "batch.slice");
        assert_eq!(c.default_user, "app");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = PluginConfig::decode(&encode(&[("bus", "session".into())])).unwrap_err();
        assert_eq!(e.path, "bus");
        let e = PluginConfig::decode(&encode(&[("slice", "nomad".into())])).unwrap_err();
        assert_eq!(e.path, "slice");
        let bad_rule = rmpv::Value::Array(vec!["re:(".into()]);
        let e = PluginConfig::decode(&encode(&[("allow_units", bad_rule)])).unwrap_err();
        assert_eq!(e.path, "allow_units");
        let e = PluginConfig::decode(&encode(&[("enabled", "yes".into())])).unwrap_err();
        assert_eq!(e.path, "enabled");
    }
}
