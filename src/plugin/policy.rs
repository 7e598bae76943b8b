//! The operator's policy: what a job may ask of the sandbox, the user it runs as, and what
//! Nomad hands over (mounts, devices, DNS), checked before anything is created.
//!
//! Tightening is always allowed. Anything else needs a plugin setting, and a refusal is an
//! [`Error::InvalidConfig`] naming the job's option and the setting that would allow it. On
//! a user service manager (`bus = "user"`), options it cannot apply are refused too.

use super::config::PluginConfig;
use super::proto::driver as pb;
use crate::core::capability::{CapSet, Capabilities};
use crate::core::driver_config::DriverConfig;
use crate::core::pattern::Pattern;
use crate::core::sandbox::{Device, Dns, Mount, Sandbox};
use crate::core::task::mount_points;
use crate::core::{Bus, Error, Result};

/// The sandbox the task gets: the job's, with capabilities resolved from the operator's
/// base set, and Nomad's mounts, devices and DNS.
pub fn sandbox(
    task: &pb::TaskConfig,
    config: &DriverConfig,
    plugin: &PluginConfig,
) -> Result<Sandbox> {
    let mut sandbox = config.sandbox.clone();
    let defaults = Sandbox::default();
    for (option, relaxed) in [
        (
            "no_new_privileges",
            defaults.no_new_privileges && !sandbox.no_new_privileges,
        ),
        ("private_tmp", defaults.private_tmp && !sandbox.private_tmp),
    ] {
        if relaxed && !plugin.allow_relax.iter().any(|r| r == option) {
            return Err(Error::invalid(
                option,
                format!(
                    "switching it off is not allowed on this node; add \"{option}\" to \
                     allow_relax in the plugin's config"
                ),
            ));
        }
    }
    sandbox.capabilities = capabilities(config, plugin)?;
    for (option, path) in [
        ("root_directory", &sandbox.root_directory),
        ("root_image", &sandbox.root_image),
    ] {
        if let Some(path) = path {
            host_path_allowed(option, path, true, plugin)?;
        }
    }
    for path in &sandbox.read_write_paths {
        host_path_allowed(
            "read_write_paths",
            path.trim_start_matches('-'),
            false,
            plugin,
        )?;
    }
    if let Some(p) = sandbox
        .properties
        .iter()
        .find(|p| !matches_any(&plugin.allow_properties, &p.name))
    {
        return Err(Error::invalid(
            format!("properties.{}", p.name),
            format!(
                "setting unit properties is not allowed on this node; add \"{}\" (or a glob \
                 matching it) to allow_properties in the plugin's config",
                p.name
            ),
        ));
    }
    sandbox.mounts = task
        .mounts
        .iter()
        .map(|m| Mount {
            host_path: m.host_path.clone(),
            task_path: m.task_path.clone(),
            read_only: m.readonly,
        })
        .collect();
    sandbox.devices = task
        .devices
        .iter()
        .map(|d| Device {
            host_path: d.host_path.clone(),
            task_path: d.task_path.clone(),
            permissions: d.cgroup_permissions.clone(),
        })
        .collect();
    sandbox.dns = task
        .dns
        .as_ref()
        .filter(|d| !(d.servers.is_empty() && d.searches.is_empty() && d.options.is_empty()))
        .map(|d| Dns {
            servers: d.servers.clone(),
            searches: d.searches.clone(),
            options: d.options.clone(),
        });
    if plugin.bus == Bus::User {
        user_manager_limits(&sandbox, config)?;
    }
    Ok(sandbox)
}

/// The task's capabilities: Nomad's default set within `allowed_capabilities`, plus what
/// the job adds, minus what it drops. None on a user manager, which cannot change them.
fn capabilities(config: &DriverConfig, plugin: &PluginConfig) -> Result<Capabilities> {
    let request = &config.capabilities;
    if plugin.bus == Bus::User {
        return Ok(Capabilities::default());
    }
    for (option, asked) in [
        ("cap_add", request.add),
        ("ambient_capabilities", request.ambient),
    ] {
        let denied = asked.without(plugin.allowed_capabilities);
        if !denied.is_empty() {
            return Err(Error::invalid(
                option,
                format!(
                    "{denied} is not allowed on this node; add it to allowed_capabilities in \
                     the plugin's config"
                ),
            ));
        }
    }
    Ok(request.resolve(CapSet::default_set().intersection(plugin.allowed_capabilities)))
}

/// What a user service manager cannot do, as errors naming the option.
fn user_manager_limits(sandbox: &Sandbox, config: &DriverConfig) -> Result<()> {
    let refuse = |option: &str, what: &str| {
        Err(Error::invalid(
            option,
            format!(
                "{what}, which a user service manager (bus = \"user\" in the plugin's config) \
                 cannot do; remove it or run the plugin on the system bus"
            ),
        ))
    };
    if sandbox.dynamic_user {
        return refuse("dynamic_user", "asks for an ephemeral user");
    }
    if !config.capabilities.is_empty() {
        return refuse(
            "cap_add",
            "cap_add, cap_drop and ambient_capabilities change capabilities",
        );
    }
    if !sandbox.devices.is_empty() {
        return refuse("devices", "the task's devices need the device cgroup");
    }
    if !sandbox.mounts.is_empty() {
        return refuse(
            "volume_mount",
            "the task's volumes are bound at paths that would have to be created in the \
             host's root",
        );
    }
    if config.group.is_some() {
        return refuse("group", "asks for another group");
    }
    Ok(())
}

/// A host path a job names: relative ones (under `local/`, for roots) and the task's own
/// directories are always allowed, others must be under an `allowed_host_paths` prefix.
fn host_path_allowed(
    option: &str,
    path: &str,
    relative_ok: bool,
    plugin: &PluginConfig,
) -> Result<()> {
    if relative_ok && !path.starts_with('/') {
        return Ok(());
    }
    let task_dirs = [
        mount_points::ALLOC,
        mount_points::LOCAL,
        mount_points::SECRETS,
    ];
    let under = |prefix: &str| {
        let prefix = prefix.trim_end_matches('/');
        path == prefix || path.starts_with(&format!("{prefix}/"))
    };
    if task_dirs.iter().any(|d| under(d)) || plugin.allowed_host_paths.iter().any(|p| under(p)) {
        return Ok(());
    }
    Err(Error::invalid(
        option,
        format!(
            "'{path}' is outside the host paths this node allows; add a prefix of it to \
             allowed_host_paths in the plugin's config"
        ),
    ))
}

/// Who the task runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: Option<String>,
    pub group: Option<String>,
    /// Run as an ephemeral user systemd allocates (`DynamicUser`).
    pub dynamic: bool,
}

/// The task's user and group. The job's `user`, else the operator's default (system bus
/// only). Root is refused unless `allow_root`; a job's own user must match `allowed_users`.
/// With `dynamic_user` systemd picks the user, so a job's `user` is refused and Nomad's is
/// left out.
///
/// Nomad's dynamic workload users (`nomad-<N>`) have no passwd entry, and systemd cannot run
/// a uid it cannot look up (the unit fails with 217/USER): such a task runs as uid N when
/// the host resolves N, and otherwise as a systemd dynamic user, which gives the same
/// guarantee (an unprivileged uid of its own, released when the task stops).
pub fn identity(requested: &str, config: &DriverConfig, plugin: &PluginConfig) -> Result<Identity> {
    let workload_id = dynamic_workload_id(requested);
    let dynamic = Identity {
        user: None,
        group: config.group.clone(),
        dynamic: true,
    };
    if config.sandbox.dynamic_user {
        if !requested.is_empty() && workload_id.is_none() {
            return Err(Error::invalid(
                "user",
                format!("'{requested}' cannot be combined with dynamic_user; remove one of them"),
            ));
        }
        return Ok(dynamic);
    }
    let (user, group) = match (requested, workload_id, plugin.bus) {
        (_, Some(_), Bus::User) | ("", None, Bus::User) => {
            return Ok(Identity {
                user: None,
                group: None,
                dynamic: false,
            });
        }
        (_, None, Bus::User) => {
            return Err(Error::invalid(
                "user",
                format!(
                    "'{requested}' cannot be used: a user service manager (bus = \"user\" in the \
                     plugin's config) runs every task as its own user; remove `user`"
                ),
            ));
        }
        (_, Some(id), Bus::System) if id != 0 && !uid_resolves(id) => return Ok(dynamic),
        (_, Some(id), Bus::System) => (
            id.to_string(),
            config.group.clone().or(Some(id.to_string())),
        ),
        ("", None, Bus::System) => (plugin.default_user.clone(), config.group.clone()),
        (name, None, Bus::System) => {
            if !matches_any(&plugin.allowed_users, name) {
                return Err(Error::invalid(
                    "user",
                    format!(
                        "'{name}' is not allowed on this node; add it (or a glob matching it) to \
                         allowed_users in the plugin's config"
                    ),
                ));
            }
            (name.to_string(), config.group.clone())
        }
    };
    if !plugin.allow_root && is_root(&user) {
        return Err(Error::invalid(
            "user",
            format!(
                "'{requested}' is root, which this node does not allow; run the task as another \
                 user, or set allow_root = true in the plugin's config",
                requested = if requested.is_empty() {
                    &user
                } else {
                    requested
                }
            ),
        ));
    }
    Ok(Identity {
        user: Some(user),
        group,
        dynamic: false,
    })
}

fn uid_resolves(uid: u32) -> bool {
    matches!(nix::unistd::User::from_uid(uid.into()), Ok(Some(_)))
}

/// N of a `nomad-<N>` user Nomad's client allocated (`helper/users/dynamic`).
fn dynamic_workload_id(user: &str) -> Option<u32> {
    let digits = user.strip_prefix("nomad-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u32>()
        .ok()
        .filter(|n| i32::try_from(*n).is_ok())
}

fn is_root(user: &str) -> bool {
    if let Ok(uid) = user.parse::<u32>() {
        return uid == 0;
    }
    matches!(nix::unistd::User::from_name(user), Ok(Some(u)) if u.uid.is_root())
}

/// The runtime for a `.wasm` command: `wasm_runtime`, or an error saying to set it.
pub fn runtime(command: &str, plugin: &PluginConfig) -> Result<Option<String>> {
    if !command.ends_with(".wasm") {
        return Ok(None);
    }
    match &plugin.wasm_runtime {
        Some(r) => Ok(Some(r.clone())),
        None => Err(Error::invalid(
            "command",
            format!(
                "'{command}' is a WebAssembly module and this node has no runtime for it; set \
                 wasm_runtime in the plugin's config"
            ),
        )),
    }
}

fn matches_any(patterns: &[Pattern], text: &str) -> bool {
    patterns.iter().any(|p| p.matches(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::driver_config::DriverConfig;
    use rmpv::Value;

    fn config(pairs: Vec<(&str, Value)>) -> DriverConfig {
        let mut pairs = pairs;
        pairs.push(("command", "/bin/true".into()));
        let map = Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect());
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &map).unwrap();
        DriverConfig::decode(&out).unwrap()
    }

    fn list(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|s| Value::from(*s)).collect())
    }

    fn denied(task: &pb::TaskConfig, c: &DriverConfig, plugin: &PluginConfig) -> String {
        sandbox(task, c, plugin).unwrap_err().to_string()
    }

    #[test]
    fn relaxing_a_default_needs_allow_relax() {
        let task = pb::TaskConfig::default();
        for option in ["no_new_privileges", "private_tmp"] {
            let c = config(vec![(option, false.into())]);
            let e = denied(&task, &c, &PluginConfig::default());
            assert!(e.contains(option) && e.contains("allow_relax"), "{e}");
            let plugin = PluginConfig {
                allow_relax: vec![option.to_string()],
                ..PluginConfig::default()
            };
            assert!(sandbox(&task, &c, &plugin).is_ok());
        }
        // Tightening needs nothing.
        let c = config(vec![
            ("protect_system", "strict".into()),
            ("private_devices", true.into()),
            ("dynamic_user", true.into()),
            ("cap_drop", list(&["all"])),
            ("system_call_filter", list(&["@system-service"])),
            ("read_only_paths", list(&["/"])),
        ]);
        assert!(sandbox(&task, &c, &PluginConfig::default()).is_ok());
    }

    #[test]
    fn capabilities_beyond_the_allowed_set_are_refused() {
        let task = pb::TaskConfig::default();
        for option in ["cap_add", "ambient_capabilities"] {
            let c = config(vec![(option, list(&["sys_admin"]))]);
            let e = denied(&task, &c, &PluginConfig::default());
            assert!(
                e.contains(option)
                    && e.contains("CAP_SYS_ADMIN")
                    && e.contains("allowed_capabilities"),
                "{e}"
            );
        }
        let c = config(vec![
            ("cap_add", list(&["net_admin"])),
            ("cap_drop", list(&["chown"])),
        ]);
        let plugin = PluginConfig {
            allowed_capabilities: CapSet::parse("x", &["chown", "kill", "net_admin"]).unwrap(),
            ..PluginConfig::default()
        };
        let caps = sandbox(&task, &c, &plugin).unwrap().capabilities;
        assert_eq!(
            caps.bounding.unwrap().to_string(),
            "CAP_KILL, CAP_NET_ADMIN"
        );
    }

    #[test]
    fn host_paths_need_allowed_host_paths_unless_they_are_the_tasks_own() {
        let task = pb::TaskConfig::default();
        for (option, value) in [
            ("root_directory", Value::from("/srv/roots/app")),
            ("root_image", Value::from("/srv/images/app.raw")),
            ("read_write_paths", list(&["/var/lib/app"])),
        ] {
            let c = config(vec![(option, value)]);
            let e = denied(&task, &c, &PluginConfig::default());
            assert!(
                e.contains(option) && e.contains("allowed_host_paths"),
                "{e}"
            );
            let plugin = PluginConfig {
                allowed_host_paths: vec!["/srv".into(), "/var/lib/app/".into()],
                ..PluginConfig::default()
            };
            assert!(sandbox(&task, &c, &plugin).is_ok(), "{option}");
        }
        let own = config(vec![
            ("root_image", "app.raw".into()),
            ("read_write_paths", list(&["/alloc/data", "-/local"])),
        ]);
        assert!(sandbox(&task, &own, &PluginConfig::default()).is_ok());
        let sneaky = config(vec![("read_write_paths", list(&["/localhost"]))]);
        assert!(sandbox(&task, &sneaky, &PluginConfig::default()).is_err());
    }

    #[test]
    fn properties_need_allow_properties() {
        let task = pb::TaskConfig::default();
        let c = config(vec![(
            "properties",
            Value::Map(vec![("LimitNOFILE".into(), "1024".into())]),
        )]);
        let e = denied(&task, &c, &PluginConfig::default());
        assert!(
            e.contains("properties.LimitNOFILE") && e.contains("allow_properties"),
            "{e}"
        );
        let plugin = PluginConfig {
            allow_properties: vec![Pattern::parse("Limit*").unwrap()],
            ..PluginConfig::default()
        };
        assert_eq!(sandbox(&task, &c, &plugin).unwrap().properties.len(), 1);
    }

    #[test]
    fn nomads_mounts_devices_and_dns_are_carried_over() {
        let task = pb::TaskConfig {
            mounts: vec![pb::Mount {
                task_path: "/data".into(),
                host_path: "/srv/vol".into(),
                readonly: true,
                ..Default::default()
            }],
            devices: vec![pb::Device {
                task_path: "/dev/fuse".into(),
                host_path: "/dev/fuse".into(),
                cgroup_permissions: "rw".into(),
            }],
            dns: Some(pb::DnsConfig {
                servers: vec!["10.0.0.2".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = sandbox(&task, &config(vec![]), &PluginConfig::default()).unwrap();
        assert!(s.mounts[0].read_only);
        assert_eq!(s.devices[0].permissions, "rw");
        assert_eq!(s.dns.unwrap().servers, ["10.0.0.2"]);
        let none = pb::TaskConfig {
            dns: Some(pb::DnsConfig::default()),
            ..Default::default()
        };
        assert!(
            sandbox(&none, &config(vec![]), &PluginConfig::default())
                .unwrap()
                .dns
                .is_none()
        );
    }

    #[test]
    fn a_user_manager_refuses_what_it_cannot_apply() {
        let user_bus = PluginConfig {
            bus: Bus::User,
            ..PluginConfig::default()
        };
        let task = pb::TaskConfig::default();
        for (option, value) in [
            ("dynamic_user", Value::from(true)),
            ("cap_add", list(&["chown"])),
            ("cap_drop", list(&["chown"])),
            ("group", Value::from("users")),
        ] {
            let c = config(vec![(option, value)]);
            let e = denied(&task, &c, &user_bus);
            assert!(e.contains("bus = \"user\""), "{option}: {e}");
        }
        let with_device = pb::TaskConfig {
            devices: vec![pb::Device {
                task_path: "/dev/fuse".into(),
                host_path: "/dev/fuse".into(),
                cgroup_permissions: String::new(),
            }],
            ..Default::default()
        };
        assert!(denied(&with_device, &config(vec![]), &user_bus).contains("devices"));
        let s = sandbox(&task, &config(vec![]), &user_bus).unwrap();
        assert_eq!(s.capabilities.bounding, None);
        let e = identity("www", &config(vec![]), &user_bus)
            .unwrap_err()
            .to_string();
        assert!(e.contains("user") && e.contains("bus = \"user\""), "{e}");
        let as_manager = identity("nomad-80001", &config(vec![]), &user_bus).unwrap();
        assert_eq!((as_manager.user, as_manager.dynamic), (None, false));
    }

    #[test]
    fn users_follow_allowed_users_and_root_needs_allow_root() {
        let plugin = PluginConfig {
            allowed_users: vec![Pattern::parse("app-*").unwrap()],
            ..PluginConfig::default()
        };
        let c = config(vec![]);
        assert_eq!(
            identity("app-web", &c, &plugin).unwrap().user.as_deref(),
            Some("app-web")
        );
        let e = identity("www-data", &c, &plugin).unwrap_err().to_string();
        assert!(e.contains("user") && e.contains("allowed_users"), "{e}");
        // The operator's own default needs no entry.
        assert_eq!(
            identity("", &c, &plugin).unwrap().user.as_deref(),
            Some("nobody")
        );
        for root in ["root", "0"] {
            let e = identity(root, &c, &PluginConfig::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("allow_root"), "{e}");
        }
    }

    #[test]
    fn nomads_dynamic_workload_users_run_as_their_number() {
        let c = config(vec![]);
        let plugin = PluginConfig {
            allowed_users: vec![],
            ..PluginConfig::default()
        };
        // No passwd entry for 80001 here: systemd's dynamic user stands in.
        let unresolved = identity("nomad-80001", &c, &plugin).unwrap();
        assert_eq!((unresolved.user, unresolved.dynamic), (None, true));
        // A uid the host knows (nobody's) runs as itself, its group defaulting to the same.
        let known = identity("nomad-65534", &c, &plugin).unwrap();
        assert_eq!(known.user.as_deref(), Some("65534"));
        assert_eq!(known.group.as_deref(), Some("65534"));
        assert!(!known.dynamic);
        let e = identity("nomad-0", &c, &plugin).unwrap_err().to_string();
        assert!(
            e.contains("'nomad-0' is root") && e.contains("allow_root"),
            "{e}"
        );
        // Not Nomad's form: an ordinary name, subject to allowed_users.
        assert!(identity("nomad-x", &c, &plugin).is_err());
    }

    #[test]
    fn dynamic_user_replaces_nomads_user_but_not_a_jobs() {
        let c = config(vec![("dynamic_user", true.into())]);
        let plugin = PluginConfig::default();
        for requested in ["", "nomad-80001"] {
            let id = identity(requested, &c, &plugin).unwrap();
            assert_eq!((id.user, id.dynamic), (None, true));
        }
        let e = identity("www", &c, &plugin).unwrap_err().to_string();
        assert!(e.contains("dynamic_user"), "{e}");
    }

    #[test]
    fn wasm_commands_need_a_runtime() {
        assert_eq!(
            runtime("/bin/true", &PluginConfig::default()).unwrap(),
            None
        );
        let e = runtime("app.wasm", &PluginConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("command") && e.contains("wasm_runtime"), "{e}");
        let plugin = PluginConfig {
            wasm_runtime: Some("/usr/bin/wasmtime".into()),
            ..PluginConfig::default()
        };
        assert_eq!(
            runtime("app.wasm", &plugin).unwrap().as_deref(),
            Some("/usr/bin/wasmtime")
        );
    }
}
