//! `properties = { Name = "value" }` → any further unit property, typed.
//!
//! A property's D-Bus type comes from [`KNOWN`] or is declared in its key as `Name:type`
//! (`b`, `i`, `u`, `t`, `s`, `as`): systemd refuses a whole unit whose property has the wrong
//! type, so an untyped unknown name is an error here instead. Properties the driver sets
//! itself, and properties that reach beyond the task (host directories, power actions, other
//! units, realtime scheduling, …), are refused whatever the operator allows: [`refused`] is
//! the one list of them, with a reason for each.

pub mod refused;

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::sandbox::{ExtraProperty, TypedValue};

/// Properties whose type the job need not declare, with systemd's D-Bus type for each.
pub const KNOWN: &[(&str, &str)] = &[
    ("CPUSchedulingPolicy", "i"),
    ("CPUSchedulingPriority", "i"),
    ("CPUSchedulingResetOnFork", "b"),
    ("IOSchedulingClass", "i"),
    ("IOSchedulingPriority", "i"),
    ("KeyringMode", "s"),
    ("LimitAS", "t"),
    ("LimitCORE", "t"),
    ("LimitCPU", "t"),
    ("LimitDATA", "t"),
    ("LimitFSIZE", "t"),
    ("LimitLOCKS", "t"),
    ("LimitMEMLOCK", "t"),
    ("LimitNOFILE", "t"),
    ("LimitMSGQUEUE", "t"),
    ("LimitNICE", "t"),
    ("LimitNPROC", "t"),
    ("LimitRSS", "t"),
    ("LimitRTPRIO", "t"),
    ("LimitRTTIME", "t"),
    ("LimitSIGPENDING", "t"),
    ("LimitSTACK", "t"),
    ("LockPersonality", "b"),
    ("MemoryDenyWriteExecute", "b"),
    ("Nice", "i"),
    ("OOMPolicy", "s"),
    ("OOMScoreAdjust", "i"),
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

/// Words some integer properties take besides their numbers, as unit files write them.
const WORDS: &[(&str, &[(&str, i32)])] = &[
    (
        "CPUSchedulingPolicy",
        &[
            ("other", 0),
            ("fifo", 1),
            ("rr", 2),
            ("batch", 3),
            ("idle", 5),
        ],
    ),
    (
        "IOSchedulingClass",
        &[
            ("none", 0),
            ("realtime", 1),
            ("best-effort", 2),
            ("idle", 3),
        ],
    ),
];

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
    if let Some(reason) = refused::by_name(name) {
        return Err(Error::invalid(
            setting,
            format!("{name} cannot be set through `properties`: {reason}"),
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
        "i" => TypedValue::I32(match word(name, value) {
            Some(n) => n,
            None => value.parse().map_err(|_| bad("a 32-bit integer"))?,
        }),
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
    if let Some((which, reason)) = refused::by_value(name, &value) {
        return Err(Error::invalid(
            setting,
            format!("{name} {which} cannot be set through `properties`: {reason}"),
        ));
    }
    Ok(ExtraProperty {
        name: name.to_string(),
        value,
    })
}

/// The number a word stands for in an integer property that takes words.
fn word(name: &str, value: &str) -> Option<i32> {
    let (_, words) = WORDS.iter().find(|(n, _)| *n == name)?;
    words.iter().find(|(w, _)| *w == value).map(|(_, n)| *n)
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
        assert_eq!(typed("Nice", "5"), ("Nice".into(), "i"));
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
            assert!(
                e.contains("cannot be set through `properties`"),
                "{key}: {e}"
            );
        }
    }

    #[test]
    fn what_reaches_beyond_the_task_is_refused_with_its_reason() {
        for (key, value, reason) in [
            ("StateDirectory:as", "ssh", "outside the allocation"),
            ("RuntimeDirectory:as", "x", "outside the allocation"),
            ("CacheDirectory:as", "x", "outside the allocation"),
            ("LogsDirectory:as", "x", "outside the allocation"),
            ("ConfigurationDirectory:as", "x", "outside the allocation"),
            ("StateDirectoryMode:u", "0777", "outside the allocation"),
            ("SuccessAction:s", "reboot-force", "reboot"),
            ("FailureAction:s", "poweroff-force", "power off"),
            ("StartLimitAction:s", "reboot-force", "reboot"),
            ("JobTimeoutAction:s", "poweroff-force", "reboot"),
            ("SuccessActionExitStatus:i", "1", "reboot"),
            ("CPUSchedulingPolicy", "fifo", "realtime"),
            ("CPUSchedulingPolicy", "rr", "realtime"),
            ("CPUSchedulingPolicy", "1", "realtime"),
            ("CPUSchedulingPriority", "99", "realtime"),
            ("Nice", "-20", "negative nice"),
            ("OOMScoreAdjust", "-1000", "OOM killer"),
            ("IOSchedulingClass", "realtime", "realtime IO"),
            ("LimitNICE", "40", "below 0"),
            ("LimitRTPRIO", "99", "realtime"),
            ("KeyringMode", "inherit", "keyring"),
            ("MemoryMin:t", "1000000000", "resources"),
            ("TasksMax:t", "infinity", "resources"),
            ("CPUQuotaPerSecUSec:t", "infinity", "resources"),
            ("LoadCredential:as", "x:/etc/shadow", "as root"),
            ("PIDFile:s", "/etc/shadow", "delete"),
            ("MountFlags:s", "shared", "onto the host"),
            ("Delegate:b", "yes", "cgroup"),
            ("RefuseManualStop:b", "yes", "stoppable"),
        ] {
            let e = parse(key, value).unwrap_err().to_string();
            let name = key.split(':').next().unwrap();
            assert!(
                e.contains(&format!("properties.{key}")) && e.contains(name) && e.contains(reason),
                "{key} = {value}: {e}"
            );
        }
    }

    #[test]
    fn harmless_values_of_guarded_properties_are_kept() {
        for (key, value, want) in [
            ("Nice", "19", TypedValue::I32(19)),
            ("CPUSchedulingPolicy", "idle", TypedValue::I32(5)),
            ("CPUSchedulingPolicy", "batch", TypedValue::I32(3)),
            ("CPUSchedulingPriority", "0", TypedValue::I32(0)),
            ("IOSchedulingClass", "idle", TypedValue::I32(3)),
            ("OOMScoreAdjust", "500", TypedValue::I32(500)),
            ("LimitNICE", "20", TypedValue::U64(20)),
            ("LimitRTPRIO", "0", TypedValue::U64(0)),
            ("KeyringMode", "private", TypedValue::Str("private".into())),
            ("IPAccounting:b", "yes", TypedValue::Bool(true)),
            ("RestrictNamespaces:t", "0", TypedValue::U64(0)),
        ] {
            assert_eq!(parse(key, value).unwrap().value, want, "{key}");
        }
    }

    #[test]
    fn the_readme_lists_every_refused_property() {
        use refused::{Names, REFUSED};
        let readme = include_str!("../../../README.md");
        let mut missing = Vec::new();
        for entry in REFUSED {
            let shown: Vec<String> = match entry.names {
                Names::Exact(n) => n.iter().map(|n| format!("`{n}`")).collect(),
                Names::Prefix(n) => n.iter().map(|n| format!("`{n}*`")).collect(),
                Names::Suffix(n) => n.iter().map(|n| format!("`*{n}`")).collect(),
            };
            missing.extend(shown.into_iter().filter(|s| !readme.contains(s.as_str())));
        }
        assert!(missing.is_empty(), "README.md does not list {missing:?}");
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
