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
use crate::core::sandbox::{Device, Dns, Sandbox};
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
    sandbox.mounts = super::mounts::from_nomad(&task.mounts)?;
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
///
/// The bounding set only limits what a process could gain; an ambient capability is held by
/// the task's (non-root) processes outright, so it is privilege of its own: it needs
/// `allowed_ambient_capabilities`, and, since it is also put in the bounding set,
/// `allowed_capabilities` too. Neither list alone grants an ambient capability.
fn capabilities(config: &DriverConfig, plugin: &PluginConfig) -> Result<Capabilities> {
    let request = &config.capabilities;
    if plugin.bus == Bus::User {
        return Ok(Capabilities::default());
    }
    // An ambient capability needs both lists; the config refuses an ambient list beyond the
    // bounding one, and this check holds without that.
    for (option, asked, allowed, list) in [
        (
            "cap_add",
            request.add,
            plugin.allowed_capabilities,
            "allowed_capabilities",
        ),
        (
            "ambient_capabilities",
            request.ambient,
            plugin.allowed_ambient_capabilities,
            "allowed_ambient_capabilities",
        ),
        (
            "ambient_capabilities",
            request.ambient,
            plugin.allowed_capabilities,
            "allowed_capabilities",
        ),
    ] {
        let denied = asked.without(allowed);
        if !denied.is_empty() {
            return Err(Error::invalid(
                option,
                format!(
                    "{denied} is not allowed on this node; add it to {list} in the plugin's \
                     config"
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
    /// The group as a numeric gid, checked against the policy; `None` for the user's own.
    pub group: Option<String>,
    /// Run as an ephemeral user systemd allocates (`DynamicUser`), as the job asked.
    pub dynamic: bool,
    /// Nomad's dynamic workload user N: `user` and `group` are both `"N"`.
    pub workload: Option<u32>,
}

/// The task's user and group. The job's `user`, else the operator's default (system bus
/// only). Root is refused unless `allow_root`, and so is the plugin's own user when it is not
/// root (the user a polkit rule grants the driver's units); a job's own user must match
/// `allowed_users`.
/// With `dynamic_user` systemd picks the user, so a job's `user` is refused and Nomad's is
/// left out.
///
/// Nomad's dynamic workload users, `nomad-<N>` exactly as Nomad writes them, run as uid N and
/// gid N (see [`crate::core::workload_user`]) when N is in the operator's `dynamic_user_min`..
/// `dynamic_user_max`; any other N is refused, as is an N the host already uses (at start).
/// Every other name, `nomad-` prefixed or not, is an ordinary user for `allowed_users`.
///
/// A job's `group` is resolved to its gid, and allowed when it is the user's own primary
/// group or matches `allowed_groups` (by its name or its gid); gid 0 also needs `allow_root`.
///
/// `allowed_users` grants a user, not its groups: systemd gives a `User=` process the
/// account's supplementary groups too (`initgroups`, see [`held_groups_allowed`]), so each of
/// them must be allowed as a `group` would be. The operator's `default_user` is exempt, as
/// it is from `allowed_users`. Last, `denied_host_uids`/`denied_host_gids` refuse the user
/// and every group it has or asks for, whatever the allow-lists say ([`not_denied`]).
pub fn identity(requested: &str, config: &DriverConfig, plugin: &PluginConfig) -> Result<Identity> {
    let workload_id = dynamic_workload_id(requested);
    if config.sandbox.dynamic_user {
        if !requested.is_empty() && workload_id.is_none() {
            return Err(Error::invalid(
                "user",
                format!("'{requested}' cannot be combined with dynamic_user; remove one of them"),
            ));
        }
        dynamic_user_not_denied(plugin)?;
        return Ok(Identity {
            user: None,
            group: config.group.clone(),
            dynamic: true,
            workload: None,
        });
    }
    let nobody = Identity {
        user: None,
        group: None,
        dynamic: false,
        workload: None,
    };
    if plugin.bus == Bus::User {
        if !requested.is_empty() && workload_id.is_none() {
            return Err(Error::invalid(
                "user",
                format!(
                    "'{requested}' cannot be used: a user service manager (bus = \"user\" in the \
                     plugin's config) runs every task as its own user; remove `user`"
                ),
            ));
        }
        return Ok(nobody);
    }
    if let Some(id) = workload_id {
        let (min, max) = plugin.dynamic_users;
        if !(min..=max).contains(&id) {
            return Err(Error::invalid(
                "user",
                format!(
                    "'{requested}' has the form of one of Nomad's dynamic workload users, but \
                     {id} is outside this node's range {min}-{max} (dynamic_user_min and \
                     dynamic_user_max in the plugin's config, which must match the agent's)"
                ),
            ));
        }
        let group = match &config.group {
            None => id,
            Some(group) => group_allowed(group, Some(id), plugin)?,
        };
        let account = Account {
            name: Some(crate::core::workload_user::name(id)),
            uid: id,
            gid: Some(id),
        };
        held_groups_allowed(requested, &account, group, plugin)?;
        not_denied(
            requested,
            &account,
            config.group.as_ref().map(|_| group),
            plugin,
        )?;
        return Ok(Identity {
            user: Some(id.to_string()),
            group: Some(group.to_string()),
            workload: Some(id),
            ..nobody
        });
    }
    let user = if requested.is_empty() {
        plugin.default_user.clone()
    } else if matches_any(&plugin.allowed_users, requested) {
        requested.to_string()
    } else {
        return Err(Error::invalid(
            "user",
            format!(
                "'{requested}' is not allowed on this node; add it (or a glob matching it) to \
                 allowed_users in the plugin's config"
            ),
        ));
    };
    let account = account(&user);
    if !plugin.allow_root && account.as_ref().is_some_and(|a| a.uid == 0) {
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' is root, which this node does not allow; run the task as another \
                 user, or set allow_root = true in the plugin's config"
            ),
        ));
    }
    let own = nix::unistd::geteuid();
    if !plugin.allow_root
        && !own.is_root()
        && account.as_ref().is_some_and(|a| a.uid == own.as_raw())
    {
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' is the user this plugin runs as, whom polkit may let manage every \
                 task's unit (and so run code as root through one); run the task as another \
                 user, or set allow_root = true in the plugin's config"
            ),
        ));
    }
    let group = config
        .group
        .as_deref()
        .map(|g| group_allowed(g, account.as_ref().and_then(|a| a.gid), plugin))
        .transpose()?;
    if let Some(account) = &account {
        if !requested.is_empty()
            && let Some(gid) = group.or(account.gid)
        {
            held_groups_allowed(&user, account, gid, plugin)?;
        }
        not_denied(&user, account, group, plugin)?;
    }
    Ok(Identity {
        user: Some(user),
        group: group.map(|g| g.to_string()),
        ..nobody
    })
}

/// A host account as systemd resolves `User=`: its name (looked up for a uid), uid and
/// primary gid. A uid the host does not know has neither name nor primary group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Account {
    pub name: Option<String>,
    pub uid: u32,
    pub gid: Option<u32>,
}

/// The account of `user` (a name or a uid); `None` for a name the host does not know
/// (refused when the unit is built).
pub(super) fn account(user: &str) -> Option<Account> {
    if let Ok(uid) = user.parse::<u32>() {
        let found = nix::unistd::User::from_uid(uid.into()).ok().flatten();
        return Some(Account {
            name: found.as_ref().map(|u| u.name.clone()),
            uid,
            gid: found.map(|u| u.gid.as_raw()),
        });
    }
    match nix::unistd::User::from_name(user) {
        Ok(Some(u)) => Some(Account {
            name: Some(u.name),
            uid: u.uid.as_raw(),
            gid: Some(u.gid.as_raw()),
        }),
        _ => None,
    }
}

/// The groups `initgroups(account, gid)` sets: `gid` and every group the host's group
/// database (`/etc/group`, and whatever else NSS reads) lists the account as a member of.
/// An account without a name has just `gid`.
pub(super) fn memberships(account: &Account, gid: u32) -> Result<Vec<u32>> {
    let Some(name) = &account.name else {
        return Ok(vec![gid]);
    };
    let failed = |why: String| {
        Error::invalid(
            "user",
            format!("cannot look up the groups of '{name}': {why}"),
        )
    };
    let c_name = std::ffi::CString::new(name.as_str()).map_err(|e| failed(e.to_string()))?;
    let gids = nix::unistd::getgrouplist(&c_name, gid.into()).map_err(|e| failed(e.to_string()))?;
    Ok(gids.into_iter().map(|g| g.as_raw()).collect())
}

/// The groups besides `gid` that systemd gives a process running as `account` with primary
/// group `gid`. systemd (`exec_child` → `get_supplementary_groups`, v252 and later) calls
/// `initgroups(user, gid)` for every `User=` unless `gid` is 0, so these are the account's
/// memberships then, and none with root's group.
pub(super) fn supplementary(account: &Account, gid: u32) -> Result<Vec<u32>> {
    if gid == 0 {
        return Ok(Vec::new());
    }
    let mut gids = memberships(account, gid)?;
    gids.retain(|g| *g != gid);
    gids.sort_unstable();
    gids.dedup();
    Ok(gids)
}

/// Whether `allowed_groups` grants gid `gid` (by the number or by the host's name for it)
/// and, for gid 0, `allow_root` too.
pub(super) fn group_granted(gid: u32, plugin: &PluginConfig) -> bool {
    let listed = matches_any(&plugin.allowed_groups, &gid.to_string())
        || group_name(gid).is_some_and(|n| matches_any(&plugin.allowed_groups, &n));
    listed && (gid != 0 || plugin.allow_root)
}

/// The host's name for gid `gid`, if it has one.
pub(super) fn group_name(gid: u32) -> Option<String> {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map(|g| g.name)
}

/// `'name' (gid N)` for messages.
pub(super) fn shown_group(gid: u32) -> String {
    match group_name(gid) {
        Some(name) => format!("'{name}' (gid {gid})"),
        None => format!("gid {gid}"),
    }
}

/// Refuses `user` when the account holds a supplementary group (see [`supplementary`]) that
/// is not its own primary group and that `allowed_groups` (plus `allow_root` for gid 0) does
/// not grant: the task would hold that group too.
fn held_groups_allowed(
    user: &str,
    account: &Account,
    gid: u32,
    plugin: &PluginConfig,
) -> Result<()> {
    for held in supplementary(account, gid)? {
        if Some(held) == account.gid || group_granted(held, plugin) {
            continue;
        }
        let grant = if held == 0 {
            "set allow_root = true and add the group to allowed_groups"
        } else {
            "add the group (or a pattern matching it) to allowed_groups"
        };
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' is a member of group {}, which systemd would give the task too, and \
                 that group is not allowed on this node (allowed_users grants a user, not its \
                 groups); run the task as another user, or {grant} in the plugin's config",
                shown_group(held)
            ),
        ));
    }
    Ok(())
}

/// Nomad's `denied_host_uids`/`denied_host_gids`: refuses the account's uid, its primary
/// group and every group it is a member of, and the job's `group` (and memberships under
/// it). Applies whatever the allow-lists say.
fn not_denied(
    user: &str,
    account: &Account,
    group: Option<u32>,
    plugin: &PluginConfig,
) -> Result<()> {
    if plugin.denied_host_uids.contains(account.uid) {
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' is uid {}, which this node denies its tasks (denied_host_uids in the \
                 plugin's config); run the task as another user",
                account.uid
            ),
        ));
    }
    if plugin.denied_host_gids.is_empty() {
        return Ok(());
    }
    if let Some(gid) = group
        && plugin.denied_host_gids.contains(gid)
    {
        return Err(Error::invalid(
            "group",
            format!(
                "{} is denied to tasks on this node (denied_host_gids in the plugin's config); \
                 remove `group` or name another",
                shown_group(gid)
            ),
        ));
    }
    let mut gids = Vec::new();
    for primary in account.gid.into_iter().chain(group) {
        gids.extend(memberships(account, primary)?);
    }
    if let Some(denied) = gids
        .into_iter()
        .find(|g| plugin.denied_host_gids.contains(*g))
    {
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' belongs to group {}, which is denied to tasks on this node \
                 (denied_host_gids in the plugin's config); run the task as another user",
                shown_group(denied)
            ),
        ));
    }
    Ok(())
}

/// With `dynamic_user` systemd picks a uid and gid from its range for them when the task
/// starts, so no id of that range may be denied.
fn dynamic_user_not_denied(plugin: &PluginConfig) -> Result<()> {
    let (low, high) = DYNAMIC_USER_IDS;
    for (ids, option) in [
        (&plugin.denied_host_uids, "denied_host_uids"),
        (&plugin.denied_host_gids, "denied_host_gids"),
    ] {
        if ids.overlaps(low, high) {
            return Err(Error::invalid(
                "dynamic_user",
                format!(
                    "systemd picks the task's ids from {low}-{high}, and this node denies some of \
                     them ({option} in the plugin's config); remove dynamic_user"
                ),
            ));
        }
    }
    Ok(())
}

/// The uids and gids systemd allocates for `DynamicUser=` (its compiled-in default range).
pub(super) const DYNAMIC_USER_IDS: (u32, u32) = (61184, 65519);

/// The job's `group` as the gid the task gets, if the policy allows it: the user's own
/// primary group (`primary`), or one `allowed_groups` matches by its name (the host's name
/// for the gid, however the job spelled it) or its number. gid 0 needs `allow_root` too.
fn group_allowed(group: &str, primary: Option<u32>, plugin: &PluginConfig) -> Result<u32> {
    let (gid, name) = resolve_group(group)?;
    let shown = match &name {
        Some(name) if name != group => format!("'{group}' ({name}, gid {gid})"),
        _ => format!("'{group}' (gid {gid})"),
    };
    if gid == 0 && !plugin.allow_root {
        return Err(Error::invalid(
            "group",
            format!(
                "{shown} is root's group, which this node does not allow; remove `group`, or \
                 set allow_root = true (and list the group in allowed_groups) in the plugin's \
                 config"
            ),
        ));
    }
    let listed = matches_any(&plugin.allowed_groups, &gid.to_string())
        || name
            .as_deref()
            .is_some_and(|n| matches_any(&plugin.allowed_groups, n));
    if primary == Some(gid) || listed {
        return Ok(gid);
    }
    Err(Error::invalid(
        "group",
        format!(
            "{shown} is not the user's own group and is not allowed on this node; remove \
             `group`, or add the group (or a pattern matching it) to allowed_groups in the \
             plugin's config"
        ),
    ))
}

/// A group name or gid as `(gid, the host's name for it)`; an unknown name is an error.
pub(super) fn resolve_group(group: &str) -> Result<(u32, Option<String>)> {
    let looked_up = |r: nix::Result<Option<nix::unistd::Group>>| {
        r.map_err(|e| Error::invalid("group", format!("cannot look up '{group}': {e}")))
    };
    if !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()) {
        let gid = group
            .parse::<u32>()
            .ok()
            .filter(|g| *g != u32::MAX)
            .ok_or_else(|| Error::invalid("group", format!("'{group}' is not a valid gid")))?;
        let name = looked_up(nix::unistd::Group::from_gid(gid.into()))?.map(|g| g.name);
        return Ok((gid, name));
    }
    if group.contains('\0') {
        return Err(Error::invalid(
            "group",
            format!("'{}' is not a valid group name", group.escape_debug()),
        ));
    }
    let Some(found) = looked_up(nix::unistd::Group::from_name(group))? else {
        return Err(Error::invalid(
            "group",
            format!("unknown group '{group}'; create it on this host or set another group"),
        ));
    };
    let gid = found.gid.as_raw();
    // The host's own name for the gid: an alias sharing a gid is checked as the gid's group.
    let name = looked_up(nix::unistd::Group::from_gid(gid.into()))?.map_or(found.name, |g| g.name);
    Ok((gid, Some(name)))
}

/// N of a `nomad-<N>` user as Nomad's client writes it (`helper/users/dynamic`): ASCII
/// digits, at most 2^31 - 1.
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
        for (option, list_name) in [
            ("cap_add", "to allowed_capabilities"),
            ("ambient_capabilities", "to allowed_ambient_capabilities"),
        ] {
            let c = config(vec![(option, list(&["sys_admin"]))]);
            let e = denied(&task, &c, &PluginConfig::default());
            assert!(
                e.contains(option) && e.contains("CAP_SYS_ADMIN") && e.contains(list_name),
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
    fn ambient_capabilities_need_their_own_list_and_the_bounding_one() {
        let task = pb::TaskConfig::default();
        // In the default bounding list, yet no ambient capability is granted by default.
        for cap in ["dac_override", "setuid", "chown", "net_bind_service"] {
            let c = config(vec![("ambient_capabilities", list(&[cap]))]);
            let e = denied(&task, &c, &PluginConfig::default());
            assert!(
                e.contains("ambient_capabilities") && e.contains("allowed_ambient_capabilities"),
                "{cap}: {e}"
            );
        }
        let parse = |n: &[&str]| CapSet::parse("x", n).unwrap();
        let plugin = PluginConfig {
            allowed_ambient_capabilities: parse(&["net_bind_service"]),
            ..PluginConfig::default()
        };
        let c = config(vec![("ambient_capabilities", list(&["net_bind_service"]))]);
        let caps = sandbox(&task, &c, &plugin).unwrap().capabilities;
        assert_eq!(caps.ambient, parse(&["net_bind_service"]));
        let c = config(vec![("ambient_capabilities", list(&["dac_override"]))]);
        assert!(denied(&task, &c, &plugin).contains("allowed_ambient_capabilities"));
        // The ambient list does not widen the bounding list either.
        let narrow = PluginConfig {
            allowed_capabilities: parse(&["kill"]),
            allowed_ambient_capabilities: parse(&["net_raw"]),
            ..PluginConfig::default()
        };
        let c = config(vec![("ambient_capabilities", list(&["net_raw"]))]);
        let e = denied(&task, &c, &narrow);
        assert!(
            e.contains("CAP_NET_RAW") && e.contains("to allowed_capabilities"),
            "{e}"
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
    fn nomads_workload_users_run_as_their_number_inside_the_dynamic_range() {
        let c = config(vec![]);
        let plugin = PluginConfig {
            allowed_users: vec![],
            ..PluginConfig::default()
        };
        let id = identity("nomad-80001", &c, &plugin).unwrap();
        assert_eq!(id.user.as_deref(), Some("80001"));
        assert_eq!(id.group.as_deref(), Some("80001"));
        assert_eq!(id.workload, Some(80001));
        assert!(!id.dynamic);
        for edge in ["nomad-80000", "nomad-89999"] {
            assert!(identity(edge, &c, &plugin).is_ok(), "{edge}");
        }
        // Outside the range: an existing account (42 is _apt, group shadow's gid), root,
        // nobody, or just past the edges. Refused, not run as an ordinary user.
        for outside in [
            "nomad-42",
            "nomad-0",
            "nomad-65534",
            "nomad-79999",
            "nomad-90000",
        ] {
            let e = identity(outside, &c, &PluginConfig::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("user")
                    && e.contains(outside)
                    && e.contains("80000-89999")
                    && e.contains("dynamic_user_min"),
                "{e}"
            );
        }
        // The operator's range, matching the agent's.
        let moved = PluginConfig {
            dynamic_users: (100_000, 100_009),
            ..PluginConfig::default()
        };
        assert!(identity("nomad-80001", &c, &moved).is_err());
        assert_eq!(
            identity("nomad-100009", &c, &moved).unwrap().workload,
            Some(100_009)
        );
        // Not Nomad's form: an ordinary name, subject to allowed_users.
        for ordinary in [
            "nomad-x",
            "nomad-",
            "nomad-+80001",
            "nomad-80001 ",
            "nomad-2147483648",
        ] {
            let e = identity(ordinary, &c, &plugin).unwrap_err().to_string();
            assert!(e.contains("allowed_users"), "{ordinary}: {e}");
        }
    }

    #[test]
    fn a_workload_users_group_is_its_own_unless_the_policy_allows_another() {
        let own = config(vec![("group", "80001".into())]);
        let id = identity("nomad-80001", &own, &PluginConfig::default()).unwrap();
        assert_eq!(id.group.as_deref(), Some("80001"));
        let shadow = config(vec![("group", "shadow".into())]);
        let e = identity("nomad-80001", &shadow, &PluginConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("group") && e.contains("allowed_groups"), "{e}");
    }

    #[test]
    fn groups_follow_allowed_groups_and_root_needs_allow_root() {
        let with_group = |g: &str| config(vec![("group", Value::from(g))]);
        let group_of = |g: &str, plugin: &PluginConfig| {
            identity("", &with_group(g), plugin).map(|i| i.group.unwrap_or_default())
        };
        let default = PluginConfig::default();
        // The default user's own primary group (nobody's is gid 65534), by name or number.
        assert_eq!(group_of("65534", &default).unwrap(), "65534");
        let nobody_group = nix::unistd::Group::from_gid(65534.into())
            .unwrap()
            .unwrap()
            .name;
        assert_eq!(group_of(&nobody_group, &default).unwrap(), "65534");
        assert_eq!(identity("", &config(vec![]), &default).unwrap().group, None);
        for group in ["shadow", "42", "disk", "6"] {
            let e = group_of(group, &default).unwrap_err().to_string();
            assert!(
                e.contains("group") && e.contains(group) && e.contains("allowed_groups"),
                "{group}: {e}"
            );
        }
        for root in ["root", "0"] {
            let e = group_of(root, &default).unwrap_err().to_string();
            assert!(
                e.contains("group") && e.contains("allow_root"),
                "{root}: {e}"
            );
        }
        // Listed by name or number, the group is checked as its gid whatever the job wrote.
        for listed in ["shadow", "42", "sha*"] {
            let plugin = PluginConfig {
                allowed_groups: vec![Pattern::parse(listed).unwrap()],
                ..PluginConfig::default()
            };
            assert_eq!(group_of("shadow", &plugin).unwrap(), "42", "{listed}");
            assert_eq!(group_of("42", &plugin).unwrap(), "42", "{listed}");
            assert!(group_of("disk", &plugin).is_err(), "{listed}");
        }
        // Root's group needs allow_root even when listed, and a listing when allowed.
        let listed_root = PluginConfig {
            allowed_groups: vec![Pattern::parse("root").unwrap()],
            ..PluginConfig::default()
        };
        for root in ["root", "0"] {
            let e = group_of(root, &listed_root).unwrap_err().to_string();
            assert!(e.contains("allow_root"), "{e}");
        }
        let root_allowed = PluginConfig {
            allow_root: true,
            ..PluginConfig::default()
        };
        assert!(
            group_of("0", &root_allowed)
                .unwrap_err()
                .to_string()
                .contains("allowed_groups")
        );
        let both = PluginConfig {
            allow_root: true,
            ..listed_root
        };
        assert_eq!(group_of("0", &both).unwrap(), "0");
        assert_eq!(group_of("root", &both).unwrap(), "0");
        // Root itself, allowed, has root's group as its own.
        let as_root = identity("root", &with_group("root"), &root_allowed).unwrap();
        assert_eq!(as_root.group.as_deref(), Some("0"));
        // Unknown or malformed groups are named.
        for bad in ["no-such-group-x", "4294967295", "a\0b"] {
            let e = group_of(bad, &default).unwrap_err().to_string();
            assert!(e.contains("group"), "{e}");
        }
    }

    #[test]
    fn denied_host_ids_win_over_every_allowance() {
        use crate::plugin::id_ranges::IdRanges;
        let denied = |uids: &str, gids: &str| PluginConfig {
            denied_host_uids: IdRanges::parse("denied_host_uids", uids).unwrap(),
            denied_host_gids: IdRanges::parse("denied_host_gids", gids).unwrap(),
            allowed_groups: vec![Pattern::parse("shadow").unwrap()],
            ..PluginConfig::default()
        };
        let c = config(vec![]);
        let shadow = config(vec![("group", "shadow".into())]);
        // The user's uid (the operator's default too, as Nomad checks "nobody"), by name or
        // uid, and workload users.
        for (user, uids) in [
            ("", "65534"),
            ("nobody", "65000-65534"),
            ("65534", "65534"),
            ("nomad-80001", "80000-80010"),
        ] {
            let e = identity(user, &c, &denied(uids, ""))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("user") && e.contains("denied_host_uids"),
                "{user}: {e}"
            );
        }
        // The user's primary group, even when the job asks for another.
        for job in [&c, &shadow] {
            let e = identity("nobody", job, &denied("", "65534"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("denied_host_gids"), "{e}");
        }
        // The job's group, though allowed_groups lists it.
        for user in ["nobody", "nomad-80001"] {
            let e = identity(user, &shadow, &denied("", "42"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("group") && e.contains("shadow") && e.contains("denied_host_gids"),
                "{e}"
            );
        }
        let e = identity("nomad-80001", &c, &denied("", "80001"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("denied_host_gids"), "{e}");
        // Ids outside the sets are fine.
        let id = identity("nobody", &shadow, &denied("0-999", "0-41,43-999")).unwrap();
        assert_eq!(id.group.as_deref(), Some("42"));
        // dynamic_user's ids are picked by systemd from its range: none may be denied.
        let dynamic = config(vec![("dynamic_user", true.into())]);
        for (uids, gids) in [("61184", ""), ("", "60000-70000")] {
            let e = identity("", &dynamic, &denied(uids, gids))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("dynamic_user") && e.contains("denied_host"),
                "{e}"
            );
        }
        assert!(identity("", &dynamic, &denied("0-61183", "65520-70000")).is_ok());
    }

    #[test]
    fn the_groups_systemd_adds_are_the_accounts_memberships_unless_the_gid_is_root() {
        let nobody = account("nobody").unwrap();
        assert_eq!((nobody.uid, nobody.gid), (65534, Some(65534)));
        assert_eq!(account("65534"), Some(nobody.clone()));
        assert_eq!(memberships(&nobody, 42).unwrap()[0], 42);
        assert!(supplementary(&nobody, 0).unwrap().is_empty());
        let unnamed = Account {
            name: None,
            uid: 4_000_000,
            gid: None,
        };
        assert_eq!(memberships(&unnamed, 7).unwrap(), [7]);
        assert!(supplementary(&unnamed, 7).unwrap().is_empty());
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
