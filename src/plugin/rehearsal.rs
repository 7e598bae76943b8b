//! The plugin's verdict on a task, given on the node without Nomad: the operator's plugin
//! config read from a file, and a task the CLI has built turned into the [`TaskSpec`]
//! StartTask would build from it ([`translate::task_spec`], the operator's policy included),
//! with the very errors StartTask returns to Nomad.

use std::path::Path;

use serde_json::{Map, Value};

use super::config::{self, PluginConfig};
use super::proto::driver as pb;
use super::proto::hclspec::spec::Block;
use super::translate;
use crate::core::driver_config::DriverConfig;
use crate::core::{Engine, EngineOptions, Error, MemoryMax, Result, TaskSpec};

impl Default for Policy {
    /// The plugin's config when the operator gives none.
    fn default() -> Policy {
        Policy {
            config: PluginConfig::default(),
        }
    }
}

/// The operator's plugin config as a checked task is judged under.
#[derive(Debug, Clone)]
pub struct Policy {
    config: PluginConfig,
}

impl Policy {
    /// The user a task that names none runs as: the config's `default_user`.
    pub fn default_user(&self) -> &str {
        &self.config.default_user
    }

    /// Reads the agent's plugin config from `path`: JSON if it ends in `.json`, TOML if in
    /// `.toml`, else HCL. The file holds the `config` block's settings, the block itself, or
    /// the agent's whole `plugin "nomad-systemd" { config { ... } }`. Unknown settings are
    /// errors, as they are to Nomad.
    pub fn read(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        Policy::parse(&text, ext)
    }

    /// [`Policy::read`] of a file's text, `ext` its name's extension.
    pub fn parse(text: &str, ext: &str) -> Result<Policy> {
        let bad = |e: String| Error::invalid("plugin config", e);
        let tree: Value = match ext {
            "json" => serde_json::from_str(text).map_err(|e| bad(e.to_string()))?,
            "toml" => toml::from_str::<toml::Value>(text)
                .map_err(|e| bad(e.to_string()))
                .and_then(|v| serde_json::to_value(v).map_err(|e| bad(e.to_string())))?,
            _ => hcl::from_str::<hcl::Value>(text)
                .map_err(|e| bad(e.to_string()))
                .and_then(|v| serde_json::to_value(v).map_err(|e| bad(e.to_string())))?,
        };
        let settings = unwrap_blocks(tree)?;
        let known = known_settings();
        if let Some(unknown) = settings.keys().find(|k| !known.contains(k)) {
            return Err(Error::invalid(
                format!("plugin config {unknown}"),
                "is not a setting of this plugin",
            ));
        }
        let bytes = crate::core::cty::msgpack_from_json(&Value::Object(settings));
        let config = PluginConfig::decode(&bytes)
            .map_err(|e| Error::invalid(format!("plugin config {}", e.path), e.reason))?;
        Ok(Policy { config })
    }

    /// Where this config puts tasks: its bus and slice.
    pub fn engine_options(&self) -> EngineOptions {
        self.config.engine_options()
    }

    /// The task StartTask would run for `cli`, a task the CLI built (its ids, environment,
    /// resources and directories are what Nomad would send), `user` the job's `user`
    /// (`None`: the job sets none) and `config` its `config` block. Errors are StartTask's.
    pub fn task_spec(
        &self,
        cli: &TaskSpec,
        user: Option<&str>,
        config: &DriverConfig,
    ) -> Result<TaskSpec> {
        let task = task_config(cli, user);
        let mut spec = translate::task_spec(&task, config, &self.config)?;
        spec.resources.core_mhz = cli.resources.core_mhz;
        Ok(spec)
    }

    /// The operator's `allow_units`/`deny_units` over the unit systemd resolves an installed
    /// unit to, as StartTask checks it (see [`translate::check_installed_unit`]).
    pub async fn check_installed_unit(&self, engine: &Engine, spec: &TaskSpec) -> Result<()> {
        translate::check_installed_unit(engine, spec, &self.config).await
    }
}

/// The config block's settings out of `plugin "name" { config { ... } }` or `config { ... }`.
fn unwrap_blocks(tree: Value) -> Result<Map<String, Value>> {
    let Value::Object(mut map) = tree else {
        return Err(Error::invalid("plugin config", "is not a set of settings"));
    };
    if map.len() == 1
        && let Some(Value::Object(plugins)) = map.remove("plugin")
    {
        let block = match plugins.len() {
            1 => plugins.into_iter().next().map(|(_, v)| v),
            _ => plugins.get("nomad-systemd").cloned(),
        };
        let Some(Value::Object(block)) = block else {
            return Err(Error::invalid(
                "plugin config",
                "names several plugins but not \"nomad-systemd\"",
            ));
        };
        map = block;
    }
    if map.len() == 1
        && let Some(Value::Object(config)) = map.get("config")
    {
        return Ok(config.clone());
    }
    Ok(map)
}

fn known_settings() -> Vec<String> {
    match config::schema().block {
        Some(Block::Object(object)) => object.attributes.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// What Nomad would send in StartTask for the CLI's task.
fn task_config(cli: &TaskSpec, user: Option<&str>) -> pb::TaskConfig {
    let memory_max_mb = match cli.resources.memory_max {
        MemoryMax::Unset => 0,
        MemoryMax::Unlimited => -1,
        MemoryMax::Mb(mb) => i64::try_from(mb).unwrap_or(i64::MAX),
    };
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    pb::TaskConfig {
        id: cli.id.clone(),
        name: cli.name.clone(),
        alloc_id: cli.alloc_id.clone(),
        job_name: cli.job_name.clone(),
        task_group_name: cli.group_name.clone(),
        user: user.unwrap_or_default().to_string(),
        env: cli
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        alloc_dir: cli
            .dirs
            .as_ref()
            .map(|d| d.alloc_dir().display().to_string())
            .unwrap_or_default(),
        resources: Some(pb::Resources {
            allocated_resources: Some(pb::AllocatedTaskResources {
                cpu: Some(pb::AllocatedCpuResources {
                    cpu_shares: signed(cli.resources.cpu_mhz),
                }),
                memory: Some(pb::AllocatedMemoryResources {
                    memory_mb: signed(cli.resources.memory_mb),
                    memory_max_mb,
                }),
                networks: vec![],
            }),
            linux_resources: Some(pb::LinuxResources {
                cpuset_cpus: cli.resources.cores.clone(),
                ..Default::default()
            }),
            ports: vec![],
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_plugin_block_the_config_block_and_bare_settings_read_alike() {
        let forms = [
            (
                "plugin \"nomad-systemd\" {\n  config {\n    allow_root = true\n  }\n}\n",
                "hcl",
            ),
            ("config {\n  allow_root = true\n}\n", "hcl"),
            ("allow_root = true\n", "hcl"),
            ("allow_root = true\n", "toml"),
            (
                "{\"plugin\": {\"nomad-systemd\": {\"config\": {\"allow_root\": true}}}}",
                "json",
            ),
        ];
        for (text, ext) in forms {
            let policy = Policy::parse(text, ext).unwrap();
            assert!(policy.config.allow_root, "{text}");
        }
        assert!(!Policy::parse("", "hcl").unwrap().config.allow_root);
    }

    #[test]
    fn an_unknown_or_bad_setting_is_named() {
        let e = Policy::parse("allow_rot = true", "hcl").unwrap_err();
        assert!(e.to_string().contains("allow_rot"), "{e}");
        let e = Policy::parse("bus = \"session\"", "hcl").unwrap_err();
        assert!(e.to_string().contains("bus"), "{e}");
    }
}
