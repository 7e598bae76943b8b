//! The sandbox options of a job's `config` block, checked for form (not for permission: that
//! is the plugin's policy).

use super::super::capability::{CapSet, CapabilityRequest};
use super::super::cty::{ConfigError, Object};
use super::super::error::Error;
use super::super::mapping::properties;
use super::super::sandbox::{ProtectHome, ProtectSystem, Sandbox};

type Result<T> = std::result::Result<T, ConfigError>;

/// The sandbox a job asks for (capabilities aside: they depend on the operator's base set)
/// and its capability request.
pub fn decode(o: &Object) -> Result<(Sandbox, CapabilityRequest)> {
    let d = Sandbox::default();
    let protect_system = match o.string("protect_system")? {
        None => d.protect_system,
        Some(s) => ProtectSystem::parse(&s).ok_or_else(|| {
            invalid(
                "protect_system",
                format!("must be no, yes, full or strict, not \"{s}\""),
            )
        })?,
    };
    let protect_home = match o.string("protect_home")? {
        None => d.protect_home,
        Some(s) => ProtectHome::parse(&s).ok_or_else(|| {
            invalid(
                "protect_home",
                format!("must be no, yes, read-only or tmpfs, not \"{s}\""),
            )
        })?,
    };
    let caps =
        |key: &str| -> Result<CapSet> { CapSet::parse(key, &o.strings(key)?).map_err(from_core) };
    let request = CapabilityRequest {
        add: caps("cap_add")?,
        drop: caps("cap_drop")?,
        ambient: caps("ambient_capabilities")?,
    };
    let properties = o
        .string_map("properties")?
        .iter()
        .map(|(k, v)| properties::parse(k, v))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(from_core)?;
    let sandbox = Sandbox {
        dynamic_user: o.bool("dynamic_user")?.unwrap_or(d.dynamic_user),
        protect_system,
        protect_home,
        private_tmp: o.bool("private_tmp")?.unwrap_or(d.private_tmp),
        private_devices: o.bool("private_devices")?.unwrap_or(d.private_devices),
        no_new_privileges: o.bool("no_new_privileges")?.unwrap_or(d.no_new_privileges),
        system_call_filter: syscall_filter(o.strings("system_call_filter")?)?,
        read_only_paths: paths(o, "read_only_paths")?,
        read_write_paths: paths(o, "read_write_paths")?,
        inaccessible_paths: paths(o, "inaccessible_paths")?,
        root_directory: root(o, "root_directory")?,
        root_image: root(o, "root_image")?,
        properties,
        ..d
    };
    if sandbox.root_directory.is_some() && sandbox.root_image.is_some() {
        return Err(invalid(
            "root_image",
            "cannot be combined with root_directory; choose one",
        ));
    }
    Ok((sandbox, request))
}

/// Syscall names or `@groups`: all plain (an allow-list) or all `~`-prefixed (a deny-list).
fn syscall_filter(entries: Vec<String>) -> Result<Vec<String>> {
    let denied = entries.iter().filter(|e| e.starts_with('~')).count();
    if denied != 0 && denied != entries.len() {
        return Err(invalid(
            "system_call_filter",
            "mixes allowed and ~denied entries; use one list of either kind",
        ));
    }
    for e in &entries {
        let name = e.trim_start_matches('~');
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@_:-".contains(&b));
        if !ok {
            return Err(invalid(
                "system_call_filter",
                format!("'{}' is not a system call or @group name", e.escape_debug()),
            ));
        }
    }
    Ok(entries)
}

/// Absolute paths without `..`; a leading `-` (ignore if missing) is kept for systemd.
fn paths(o: &Object, key: &str) -> Result<Vec<String>> {
    let list = o.strings(key)?;
    for p in &list {
        let path = p.strip_prefix('-').unwrap_or(p);
        if !path.starts_with('/') || !is_clean(path) {
            return Err(invalid(
                key,
                format!(
                    "'{}' must be an absolute path without '..'",
                    p.escape_debug()
                ),
            ));
        }
    }
    Ok(list)
}

/// An absolute host path, or one relative to the task's `local/`; never with `..`.
fn root(o: &Object, key: &str) -> Result<Option<String>> {
    let Some(path) = o.string(key)?.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if !is_clean(&path) {
        return Err(invalid(
            key,
            format!("'{}' must be a path without '..'", path.escape_debug()),
        ));
    }
    Ok(Some(path))
}

fn is_clean(path: &str) -> bool {
    !path.split('/').any(|c| c == "..") && !path.chars().any(char::is_control)
}

fn invalid(path: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        reason: reason.into(),
    }
}

fn from_core(e: Error) -> ConfigError {
    match e {
        Error::InvalidConfig { setting, reason } => ConfigError {
            path: setting,
            reason,
        },
        other => invalid("", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn object(pairs: Vec<(&str, Value)>) -> Object {
        let map = Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect());
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &map).unwrap();
        Object::decode(&out).unwrap()
    }

    fn list(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|s| Value::from(*s)).collect())
    }

    #[test]
    fn nothing_given_is_the_default_sandbox() {
        let (s, caps) = decode(&object(vec![("dynamic_user", Value::Nil)])).unwrap();
        assert_eq!(s, Sandbox::default());
        assert!(s.private_tmp && s.no_new_privileges);
        assert!(caps.is_empty());
    }

    #[test]
    fn every_option_is_read() {
        let (s, caps) = decode(&object(vec![
            ("dynamic_user", true.into()),
            ("protect_system", "strict".into()),
            ("protect_home", "read-only".into()),
            ("private_tmp", false.into()),
            ("private_devices", true.into()),
            ("no_new_privileges", false.into()),
            ("cap_add", list(&["net_admin"])),
            ("cap_drop", list(&["CAP_CHOWN"])),
            ("ambient_capabilities", list(&["net_bind_service"])),
            ("system_call_filter", list(&["@system-service"])),
            ("read_only_paths", list(&["/etc"])),
            ("read_write_paths", list(&["-/var/lib/app"])),
            ("inaccessible_paths", list(&["/root"])),
            ("root_image", "app.raw".into()),
            (
                "properties",
                Value::Map(vec![("LimitNOFILE".into(), "1024".into())]),
            ),
        ]))
        .unwrap();
        assert!(s.dynamic_user && s.private_devices && !s.private_tmp && !s.no_new_privileges);
        assert_eq!(s.protect_system, ProtectSystem::Strict);
        assert_eq!(s.protect_home, ProtectHome::ReadOnly);
        assert_eq!(caps.add.to_string(), "CAP_NET_ADMIN");
        assert_eq!(caps.drop.to_string(), "CAP_CHOWN");
        assert_eq!(caps.ambient.to_string(), "CAP_NET_BIND_SERVICE");
        assert_eq!(s.system_call_filter, ["@system-service"]);
        assert_eq!(s.read_write_paths, ["-/var/lib/app"]);
        assert_eq!(s.root_image.as_deref(), Some("app.raw"));
        assert_eq!(s.properties[0].name, "LimitNOFILE");
    }

    #[test]
    fn malformed_values_name_the_option() {
        for (key, value) in [
            ("protect_system", Value::from("everything")),
            ("protect_home", Value::from("ro")),
            ("cap_add", list(&["superpowers"])),
            ("system_call_filter", list(&["read", "~write"])),
            ("system_call_filter", list(&["a b"])),
            ("read_only_paths", list(&["etc"])),
            ("inaccessible_paths", list(&["/a/../b"])),
            ("root_directory", Value::from("../escape")),
            (
                "properties",
                Value::Map(vec![("User".into(), "root".into())]),
            ),
        ] {
            let e = decode(&object(vec![(key, value)])).unwrap_err();
            assert!(e.path.starts_with(key), "{key}: {e}");
        }
        let e = decode(&object(vec![
            ("root_directory", "a".into()),
            ("root_image", "b".into()),
        ]))
        .unwrap_err();
        assert_eq!(e.path, "root_image");
    }
}
