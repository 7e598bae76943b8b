//! `properties = { Name = "value" }` → any further unit property, typed.
//!
//! A property's D-Bus type comes from [`KNOWN`] or is declared in its key as `Name:type`
//! (`b`, `i`, `u`, `t`, `s`, `as`): systemd refuses a whole unit whose property has the wrong
//! type, so an untyped unknown name is an error here instead. Properties the driver sets
//! itself or that would undo a sandbox setting ([`is_reserved`]) cannot be set this way;
//! their own task options (and the operator's policy on them) apply.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::sandbox::{ExtraProperty, TypedValue};

/// Properties whose type the job need not declare.
const KNOWN: &[(&str, &str)] = &[
    ("LimitCORE", "t"),
    ("LimitMEMLOCK", "t"),
    ("LimitNOFILE", "t"),
    ("LimitNPROC", "t"),
    ("LimitSTACK", "t"),
    ("LockPersonality", "b"),
    ("MemoryDenyWriteExecute", "b"),
    ("Nice", "i"),
    ("OOMPolicy", "s"),
    ("PrivateIPC", "b"),
    ("PrivateNetwork", "b"),
    ("PrivateUsers", "b"),
    ("ProcSubset", "s"),
    ("ProtectClock", "b"),
    ("ProtectControlGroups", "b"),
    ("ProtectHostname", "b"),
    ("ProtectKernelLogs", "b"),
    ("ProtectKernelModules", "b"),
    ("ProtectKernelTunables", "b"),
    ("ProtectProc", "s"),
    ("RemoveIPC", "b"),
    ("RestrictRealtime", "b"),
    ("RestrictSUIDSGID", "b"),
    ("SyslogIdentifier", "s"),
    ("TimerSlackNSec", "t"),
    ("UMask", "u"),
];

/// Property names no job may set through `properties`: identity, privileges, file-system
/// views, devices, the command, its I/O, dependencies and the unit's life.
const RESERVED: &[&str] = &[
    "AmbientCapabilities",
    "AppArmorProfile",
    "BindPaths",
    "BindReadOnlyPaths",
    "CapabilityBoundingSet",
    "Delegate",
    "DeviceAllow",
    "DevicePolicy",
    "DynamicUser",
    "Environment",
    "EnvironmentFiles",
    "Group",
    "InaccessiblePaths",
    "KillMode",
    "KillSignal",
    "MountImages",
    "NetworkNamespacePath",
    "NoNewPrivileges",
    "PAMName",
    "PassEnvironment",
    "PrivateDevices",
    "PrivateTmp",
    "ProtectHome",
    "ProtectSystem",
    "ReadOnlyPaths",
    "ReadWritePaths",
    "RemainAfterExit",
    "RootDirectory",
    "RootImage",
    "RootImageOptions",
    "SecureBits",
    "SELinuxContext",
    "SendSIGKILL",
    "Slice",
    "SmackProcessLabel",
    "SupplementaryGroups",
    "SystemCallFilter",
    "TemporaryFileSystem",
    "Type",
    "User",
    "WorkingDirectory",
];

/// Families of reserved names: commands, restarts, credentials, standard I/O, terminals,
/// dependencies and ordering, extensions.
const RESERVED_PREFIXES: &[&str] = &[
    "Exec",
    "Restart",
    "Timeout",
    "LoadCredential",
    "SetCredential",
    "ImportCredential",
    "Standard",
    "TTY",
    "Extension",
    "Requires",
    "Requisite",
    "Wants",
    "BindsTo",
    "PartOf",
    "Upholds",
    "Conflicts",
    "Before",
    "After",
    "OnFailure",
    "OnSuccess",
    "Propagates",
    "JoinsNamespaceOf",
];

/// Whether `name` is one the driver keeps for itself.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Reads one `properties` entry: `key` is `Name` or `Name:type`, `value` its text (`yes`/`no`
/// for booleans, `infinity` for the largest `t`, space-separated words for `as`).
pub fn parse(key: &str, value: &str) -> Result<ExtraProperty> {
    let setting = format!("properties.{key}");
    let (name, declared) = match key.split_once(':') {
        Some((name, ty)) => (name, Some(ty)),
        None => (key, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            setting,
            "is not a systemd property name (letters and digits, e.g. LimitNOFILE)",
        ));
    }
    if is_reserved(name) {
        return Err(Error::invalid(
            setting,
            format!(
                "{name} is managed by the driver or its sandbox options and cannot be set \
                 through `properties`"
            ),
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid(setting, "contains a NUL byte"));
    }
    let known = KNOWN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    let ty = match (declared, known) {
        (Some(d), Some(k)) if d != k => {
            return Err(Error::invalid(
                setting,
                format!("{name} has D-Bus type '{k}', not '{d}'"),
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err(Error::invalid(
                setting,
                format!(
                    "the D-Bus type of {name} is not known to the driver; declare it in the \
                     key, e.g. \"{name}:t\" (one of b, i, u, t, s, as)"
                ),
            ));
        }
    };
    let bad = |what: &str| Error::invalid(setting.clone(), format!("'{value}' is not {what}"));
    let value = match ty {
        "b" => TypedValue::Bool(match value {
            "yes" | "true" | "on" | "1" => true,
            "no" | "false" | "off" | "0" => false,
            _ => return Err(bad("a boolean (yes or no)")),
        }),
        "i" => TypedValue::I32(value.parse().map_err(|_| bad("a 32-bit integer"))?),
        "u" => TypedValue::U32(parse_u32(value).ok_or_else(|| bad("an unsigned 32-bit integer"))?),
        "t" if value == "infinity" => TypedValue::U64(u64::MAX),
        "t" => TypedValue::U64(
            value
                .parse()
                .map_err(|_| bad("an unsigned 64-bit integer"))?,
        ),
        "s" => TypedValue::Str(value.to_string()),
        "as" => TypedValue::Strings(value.split_whitespace().map(str::to_string).collect()),
        other => {
            return Err(Error::invalid(
                setting,
                format!("type '{other}' is not one of b, i, u, t, s, as"),
            ));
        }
    };
    Ok(ExtraProperty {
        name: name.to_string(),
        value,
    })
}

/// Decimal, or octal with a leading 0 (as `UMask=0027` is written).
fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix('0') {
        Some(octal) if !octal.is_empty() => u32::from_str_radix(octal, 8).ok(),
        _ => text.parse().ok(),
    }
}

pub fn properties(extra: &[ExtraProperty]) -> Vec<Property> {
    extra
        .iter()
        .map(|p| {
            let value = match &p.value {
                TypedValue::Bool(b) => Value::Bool(*b),
                TypedValue::I32(i) => Value::I32(*i),
                TypedValue::U32(u) => Value::U32(*u),
                TypedValue::U64(u) => Value::U64(*u),
                TypedValue::Str(s) => Value::Str(s.clone()),
                TypedValue::Strings(v) => Value::Strings(v.clone()),
            };
            Property::named(p.name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(key: &str, value: &str) -> (String, &'static str) {
        let p = parse(key, value).unwrap();
        let props = properties(&[p]);
        (props[0].name.to_string(), props[0].value.signature())
    }

    #[test]
    fn known_names_carry_their_type() {
        assert_eq!(typed("LimitNOFILE", "4096"), ("LimitNOFILE".into(), "t"));
        assert_eq!(typed("Nice", "-5"), ("Nice".into(), "i"));
        assert_eq!(typed("UMask", "0027"), ("UMask".into(), "u"));
        assert_eq!(typed("ProtectClock", "yes"), ("ProtectClock".into(), "b"));
        assert_eq!(
            parse("UMask", "0027").unwrap().value,
            TypedValue::U32(0o027)
        );
        assert_eq!(
            parse("LimitCORE", "infinity").unwrap().value,
            TypedValue::U64(u64::MAX)
        );
    }

    #[test]
    fn unknown_names_need_a_declared_type() {
        let e = parse("CoredumpFilter", "0x33").unwrap_err().to_string();
        assert!(
            e.contains("properties.CoredumpFilter") && e.contains("CoredumpFilter:t"),
            "{e}"
        );
        assert_eq!(typed("IPAccounting:b", "yes"), ("IPAccounting".into(), "b"));
        assert_eq!(typed("Foo:as", "a b"), ("Foo".into(), "as"));
        assert!(parse("Foo:x", "1").is_err());
        assert!(
            parse("LimitNOFILE:s", "1")
                .unwrap_err()
                .to_string()
                .contains("type 't'")
        );
    }

    #[test]
    fn reserved_names_are_refused_even_when_typed() {
        for key in [
            "User",
            "DynamicUser:b",
            "CapabilityBoundingSet:t",
            "ExecStartPre:as",
            "StandardInputFile:s",
            "Requires:as",
            "RestartUSec:t",
            "ReadWritePaths:as",
        ] {
            let e = parse(key, "x").unwrap_err().to_string();
            assert!(e.contains("managed by the driver"), "{key}: {e}");
        }
    }

    #[test]
    fn bad_values_name_the_property() {
        for (k, v) in [
            ("Nice", "x"),
            ("LockPersonality", "maybe"),
            ("LimitNPROC", "-1"),
        ] {
            let e = parse(k, v).unwrap_err().to_string();
            assert!(e.contains(&format!("properties.{k}")), "{e}");
        }
        assert!(parse("Bad-Name:s", "x").is_err());
    }
}
