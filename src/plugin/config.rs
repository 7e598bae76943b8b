//! The agent's `plugin "nomad-systemd" { config { ... } }` block: its schema and its values.

use super::hclspec::{defaulted, object};
use super::id_ranges::IdRanges;
use super::proto::hclspec::Spec;
use crate::core::capability::{CapSet, DEFAULT_NAMES};
use crate::core::cty::{ConfigError, Object};
use crate::core::pattern::Pattern;
use crate::core::unit_policy::UnitPolicy;
use crate::core::{Bus, EngineOptions};

/// The first and last uid/gid of Nomad's dynamic workload users by default, as the agent's
/// `dynamic_user_min` and `dynamic_user_max` default.
pub const DYNAMIC_USER_RANGE: (u32, u32) = (80_000, 89_999);

/// The sandbox defaults a job may weaken when the operator lists them in `allow_relax`.
pub const RELAXABLE: &[&str] = &["no_new_privileges", "private_tmp"];

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
    /// Globs of the job's environment variable names an installed unit gets besides Nomad's
    /// `NOMAD_*`; none by default, and never a loader or shell variable
    /// ([`crate::core::unit_env::NEVER_PASSED`]).
    pub unit_env_allow: Vec<Pattern>,
    /// Globs (`*`, `?`) of the user names a job may ask for; the default user and Nomad's
    /// dynamic workload users (`nomad-<N>` with N in the dynamic range) need no entry.
    pub allowed_users: Vec<Pattern>,
    /// Whether the driver advertises Nomad's dynamic workload users (`dynamic_workload_users`):
    /// a 1.8+ client then sends `nomad-<N>` for every task without `user`, and fails such
    /// tasks when its own pool is off (`dynamic_user_min = -1`). Off: such tasks run as
    /// `default_user`. Only on the system bus, where a task can run as another uid.
    pub dynamic_workload_users: bool,
    /// Whether Nomad's log collection is off for this driver (`disable_log_collection`, as
    /// Nomad's docker and podman drivers have it): the client starts no logmon, and every
    /// task's output goes to the journal only.
    pub disable_log_collection: bool,
    /// The uids Nomad's client hands out as dynamic workload users (the agent's
    /// `dynamic_user_min`/`dynamic_user_max`), inclusive; `nomad-<N>` outside is refused.
    pub dynamic_users: (u32, u32),
    /// Patterns of the groups (names or gids) a job may name in `group` besides its user's
    /// own primary group; gid 0 needs `allow_root` as well.
    pub allowed_groups: Vec<Pattern>,
    /// uids no task may run as (Nomad's exec driver's option of the same name and syntax):
    /// checked against the task's user after the allow-lists, and it wins over them.
    pub denied_host_uids: IdRanges,
    /// gids no task may hold: its `group` and every group of its user (primary and
    /// memberships), as Nomad's exec driver checks them; wins over `allowed_groups`.
    pub denied_host_gids: IdRanges,
    /// What a task's bounding set may hold: its default (Nomad's usual set, within this) and
    /// what `cap_add` may ask for.
    pub allowed_capabilities: CapSet,
    /// What `ambient_capabilities` may ask for (each also needs `allowed_capabilities`);
    /// none by default.
    pub allowed_ambient_capabilities: CapSet,
    /// Host path prefixes a job may use in `root_directory`, `root_image` and
    /// `read_write_paths`; the task's own directories are always allowed.
    pub allowed_host_paths: Vec<String>,
    /// Sandbox defaults ([`RELAXABLE`]) a job may switch off.
    pub allow_relax: Vec<String>,
    /// Globs of the unit property names a job may set with `properties`; none by default.
    pub allow_properties: Vec<Pattern>,
    /// The program that runs a `.wasm` command (`[runtime, module, args...]`); `None`
    /// refuses such commands.
    pub wasm_runtime: Option<String>,
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
            unit_env_allow: Vec::new(),
            allowed_users: vec![Pattern::everything()],
            dynamic_workload_users: true,
            disable_log_collection: false,
            dynamic_users: DYNAMIC_USER_RANGE,
            allowed_groups: Vec::new(),
            denied_host_uids: IdRanges::default(),
            denied_host_gids: IdRanges::default(),
            allowed_capabilities: CapSet::default_set(),
            allowed_ambient_capabilities: CapSet::default(),
            allowed_host_paths: Vec::new(),
            allow_relax: Vec::new(),
            allow_properties: Vec::new(),
            wasm_runtime: None,
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
        (
            "unit_env_allow",
            defaulted("unit_env_allow", "list(string)", "[]"),
        ),
        (
            "allowed_users",
            defaulted("allowed_users", "list(string)", "[\"*\"]"),
        ),
        (
            "dynamic_workload_users",
            defaulted("dynamic_workload_users", "bool", "true"),
        ),
        (
            "disable_log_collection",
            defaulted("disable_log_collection", "bool", "false"),
        ),
        (
            "dynamic_user_min",
            defaulted(
                "dynamic_user_min",
                "number",
                &DYNAMIC_USER_RANGE.0.to_string(),
            ),
        ),
        (
            "dynamic_user_max",
            defaulted(
                "dynamic_user_max",
                "number",
                &DYNAMIC_USER_RANGE.1.to_string(),
            ),
        ),
        (
            "allowed_groups",
            defaulted("allowed_groups", "list(string)", "[]"),
        ),
        (
            "denied_host_uids",
            defaulted("denied_host_uids", "string", "\"\""),
        ),
        (
            "denied_host_gids",
            defaulted("denied_host_gids", "string", "\"\""),
        ),
        (
            "allowed_capabilities",
            defaulted(
                "allowed_capabilities",
                "list(string)",
                &format!("[\"{}\"]", DEFAULT_NAMES.join("\", \"")),
            ),
        ),
        (
            "allowed_ambient_capabilities",
            defaulted("allowed_ambient_capabilities", "list(string)", "[]"),
        ),
        (
            "allowed_host_paths",
            defaulted("allowed_host_paths", "list(string)", "[]"),
        ),
        (
            "allow_relax",
            defaulted("allow_relax", "list(string)", "[]"),
        ),
        (
            "allow_properties",
            defaulted("allow_properties", "list(string)", "[]"),
        ),
        ("wasm_runtime", defaulted("wasm_runtime", "string", "\"\"")),
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
        let list = |key: &str, default: Vec<String>| -> Result<Vec<String>, ConfigError> {
            Ok(o.get_strings(key)?.unwrap_or(default))
        };
        let caps = |key: &str, default: CapSet| -> Result<CapSet, ConfigError> {
            match o.get_strings(key)? {
                None => Ok(default),
                Some(names) => CapSet::parse(key, &names).map_err(|e| ConfigError {
                    path: key.into(),
                    reason: e.to_string(),
                }),
            }
        };
        let allowed_capabilities = caps("allowed_capabilities", d.allowed_capabilities)?;
        let allowed_ambient_capabilities = caps(
            "allowed_ambient_capabilities",
            d.allowed_ambient_capabilities,
        )?;
        let beyond = allowed_ambient_capabilities.without(allowed_capabilities);
        if !beyond.is_empty() {
            return Err(ConfigError {
                path: "allowed_ambient_capabilities".into(),
                reason: format!(
                    "{beyond} is not in allowed_capabilities, and an ambient capability must \
                     also be in the bounding set; add it there too or remove it here"
                ),
            });
        }
        let dynamic_users = dynamic_user_range(&o, d.dynamic_users)?;
        let ids = |key: &str| -> Result<IdRanges, ConfigError> {
            IdRanges::parse(key, o.string(key)?.as_deref().unwrap_or(""))
        };
        let denied_host_uids = ids("denied_host_uids")?;
        let denied_host_gids = ids("denied_host_gids")?;
        let allow_relax = list("allow_relax", d.allow_relax)?;
        if let Some(bad) = allow_relax
            .iter()
            .find(|r| !RELAXABLE.contains(&r.as_str()))
        {
            return Err(ConfigError {
                path: "allow_relax".into(),
                reason: format!("\"{bad}\" is not one of {}", RELAXABLE.join(", ")),
            });
        }
        let allowed_host_paths = list("allowed_host_paths", d.allowed_host_paths)?;
        if let Some(bad) = allowed_host_paths
            .iter()
            .find(|p| !p.starts_with('/') || p.split('/').any(|c| c == ".."))
        {
            return Err(ConfigError {
                path: "allowed_host_paths".into(),
                reason: format!("\"{bad}\" is not an absolute path without '..'"),
            });
        }
        let wasm_runtime = o.string("wasm_runtime")?.filter(|r| !r.is_empty());
        if let Some(r) = &wasm_runtime
            && !r.starts_with('/')
        {
            return Err(ConfigError {
                path: "wasm_runtime".into(),
                reason: format!("\"{r}\" must be the runtime's absolute path"),
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
            dynamic_workload_users: o
                .bool("dynamic_workload_users")?
                .unwrap_or(d.dynamic_workload_users),
            disable_log_collection: o
                .bool("disable_log_collection")?
                .unwrap_or(d.disable_log_collection),
            units: UnitPolicy {
                allow: rules(&o, "allow_units")?,
                deny: rules(&o, "deny_units")?,
            },
            unit_env_allow: rules(&o, "unit_env_allow")?,
            allowed_users: patterns_or(&o, "allowed_users", d.allowed_users)?,
            dynamic_users,
            allowed_groups: patterns_or(&o, "allowed_groups", d.allowed_groups)?,
            denied_host_uids,
            denied_host_gids,
            allowed_capabilities,
            allowed_ambient_capabilities,
            allowed_host_paths,
            allow_relax,
            allow_properties: patterns_or(&o, "allow_properties", d.allow_properties)?,
            wasm_runtime,
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

/// `dynamic_user_min`/`dynamic_user_max`: a range of uids above root's and below 2^31 (Nomad
/// parses workload ids as 32-bit signed), without the 16-bit `(uid_t) -1`, 65535.
fn dynamic_user_range(o: &Object, default: (u32, u32)) -> Result<(u32, u32), ConfigError> {
    let bound = |key: &str, default: u32| -> Result<u32, ConfigError> {
        let Some(n) = o.integer(key)? else {
            return Ok(default);
        };
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=i32::MAX as u32).contains(n))
            .ok_or_else(|| ConfigError {
                path: key.into(),
                reason: format!("{n} is not a uid from 1 to {}", i32::MAX),
            })
    };
    let min = bound("dynamic_user_min", default.0)?;
    let max = bound("dynamic_user_max", default.1)?;
    if min > max {
        return Err(ConfigError {
            path: "dynamic_user_max".into(),
            reason: format!("{max} is below dynamic_user_min ({min})"),
        });
    }
    if (min..=max).contains(&65535) {
        return Err(ConfigError {
            path: "dynamic_user_min".into(),
            reason: format!(
                "the range {min}-{max} holds 65535, which is not a valid uid; keep the range \
                 clear of it"
            ),
        });
    }
    Ok((min, max))
}

/// A list of name patterns (globs, or regexes after `re:`); a bad one is an error naming it.
fn rules(o: &Object, key: &str) -> Result<Vec<Pattern>, ConfigError> {
    o.strings(key)?
        .iter()
        .map(|text| {
            Pattern::parse(text).map_err(|reason| ConfigError {
                path: key.into(),
                reason,
            })
        })
        .collect()
}

/// [`rules`], or `default` when the setting is absent.
fn patterns_or(o: &Object, key: &str, default: Vec<Pattern>) -> Result<Vec<Pattern>, ConfigError> {
    match o.get_strings(key)? {
        Some(_) => rules(o, key),
        None => Ok(default),
    }
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
            ("unit_env_allow", rmpv::Value::Array(vec!["APP_*".into()])),
        ]))
        .unwrap();
        assert_eq!(c.unit_env_allow[0].text(), "APP_*");
        assert_eq!(c.units.allow.len(), 2);
        assert_eq!(c.units.deny[0].text(), "*secret*");
        assert!(!c.enabled && c.allow_root);
        assert_eq!(c.bus, Bus::User);
        assert_eq!(c.engine_options().slice, "batch.slice");
        assert_eq!(c.default_user, "app");
    }

    #[test]
    fn reads_the_policy_settings() {
        let strings = |v: &[&str]| rmpv::Value::Array(v.iter().map(|s| (*s).into()).collect());
        let c = PluginConfig::decode(&encode(&[
            ("allowed_users", strings(&["app-*"])),
            (
                "allowed_capabilities",
                strings(&["net_bind_service", "CAP_NET_ADMIN"]),
            ),
            ("allowed_host_paths", strings(&["/srv/images"])),
            ("allow_relax", strings(&["private_tmp"])),
            ("allow_properties", strings(&["Limit*"])),
            ("wasm_runtime", "/usr/bin/wasmtime".into()),
            ("dynamic_user_min", 100_000.into()),
            ("dynamic_user_max", 199_999.into()),
            ("allowed_groups", strings(&["app-*", "1001"])),
            (
                "allowed_ambient_capabilities",
                strings(&["net_bind_service"]),
            ),
            ("denied_host_uids", "0-999,1500".into()),
            ("denied_host_gids", "27".into()),
        ]))
        .unwrap();
        assert!(c.denied_host_uids.contains(999) && c.denied_host_uids.contains(1500));
        assert!(!c.denied_host_uids.contains(1000));
        assert!(c.denied_host_gids.contains(27) && !c.denied_host_gids.contains(0));
        let texts = |p: &[Pattern]| p.iter().map(|p| p.text().to_string()).collect::<Vec<_>>();
        assert_eq!(texts(&c.allowed_users), ["app-*"]);
        assert_eq!(
            c.allowed_capabilities.to_string(),
            "CAP_NET_BIND_SERVICE, CAP_NET_ADMIN"
        );
        assert_eq!(c.allowed_host_paths, ["/srv/images"]);
        assert_eq!(c.allow_relax, ["private_tmp"]);
        assert_eq!(texts(&c.allow_properties), ["Limit*"]);
        assert_eq!(c.wasm_runtime.as_deref(), Some("/usr/bin/wasmtime"));
        assert_eq!(c.dynamic_users, (100_000, 199_999));
        assert_eq!(texts(&c.allowed_groups), ["app-*", "1001"]);
        assert_eq!(
            c.allowed_ambient_capabilities.to_string(),
            "CAP_NET_BIND_SERVICE"
        );
    }

    #[test]
    fn the_schema_defaults_decode_to_the_defaults() {
        let strings = |v: &[&str]| rmpv::Value::Array(v.iter().map(|s| (*s).into()).collect());
        let c = PluginConfig::decode(&encode(&[
            ("allowed_users", strings(&["*"])),
            ("allowed_capabilities", strings(DEFAULT_NAMES)),
            ("allowed_host_paths", strings(&[])),
            ("allow_relax", strings(&[])),
            ("allow_properties", strings(&[])),
            ("wasm_runtime", "".into()),
            ("dynamic_user_min", 80_000.into()),
            ("dynamic_user_max", 89_999.into()),
            ("allowed_groups", strings(&[])),
            ("allowed_ambient_capabilities", strings(&[])),
            ("denied_host_uids", "".into()),
            ("denied_host_gids", "".into()),
        ]))
        .unwrap();
        assert_eq!(c, PluginConfig::default());
        assert!(c.allowed_ambient_capabilities.is_empty());
    }

    #[test]
    fn bad_values_name_the_setting() {
        let strings = |v: &[&str]| rmpv::Value::Array(v.iter().map(|s| (*s).into()).collect());
        for (key, value) in [
            ("allowed_capabilities", strings(&["cap_fly"])),
            ("allow_relax", strings(&["protect_system"])),
            ("allowed_host_paths", strings(&["srv"])),
            ("wasm_runtime", "wasmtime".into()),
            ("allowed_users", strings(&["app-["])),
            ("allow_properties", strings(&["re:("])),
            ("allowed_groups", strings(&["re:("])),
            ("allowed_ambient_capabilities", strings(&["cap_fly"])),
            // Ambient beyond the bounding list would grant what that list withholds.
            ("allowed_ambient_capabilities", strings(&["sys_admin"])),
            ("dynamic_user_min", 0.into()),
            ("dynamic_user_min", (-5).into()),
            ("dynamic_user_max", 4_294_967_295u64.into()),
            ("dynamic_user_max", 70_000.into()),
            ("dynamic_user_min", "lots".into()),
            ("unit_env_allow", strings(&["re:("])),
            ("denied_host_uids", "100-1".into()),
            ("denied_host_uids", "0-999, 1500".into()),
            ("denied_host_gids", "disk".into()),
            ("denied_host_gids", 6.into()),
        ] {
            let e = PluginConfig::decode(&encode(&[(key, value)])).unwrap_err();
            assert_eq!(e.path, key);
        }
        let e = PluginConfig::decode(&encode(&[
            ("dynamic_user_min", 60_000.into()),
            ("dynamic_user_max", 70_000.into()),
        ]))
        .unwrap_err();
        assert!(e.reason.contains("65535"), "{}", e.reason);
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
