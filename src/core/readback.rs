//! Whether the settings of our drop-in took effect on an installed unit, read back from
//! systemd.
//!
//! systemd applies a unit file's settings one by one and only logs one it cannot parse ("…,
//! ignoring"); a line too long makes it skip the whole file; an administrator's drop-in that
//! sorts after ours overrides what ours sets. Any of these would start the unit without the
//! task's limits, `Restart=no` or Nomad's variables, with nothing to see. So after systemd has
//! read the drop-in, every setting it carries is compared with what systemd reports on the
//! bus, and the first that differs is named.

use std::collections::HashMap;

use zbus::OwnedVariant;

use super::property::{Property, Value};
use super::systemd::UnitProperties;

/// Properties that live on the `Unit` interface; all others on the unit type's.
const UNIT_INTERFACE_PROPERTIES: &[&str] = &["Description"];

/// Switches that newer systemd retired because what they turned on is always on: systemd 258
/// deprecated `CPUAccounting=` (CPU accounting is always available on cgroup v2), ignores it
/// in unit files and no longer has the property on the bus. Set to `true` and absent from the
/// bus, such a setting is in effect; any other value still has to read back.
const RETIRED_ALWAYS_ON: &[&str] = &["CPUAccounting"];

/// The first of `props` that systemd does not report as set, with what it reports instead;
/// `None` when every one took effect.
pub fn first_not_applied(props: &[Property], unit: &UnitProperties) -> Option<String> {
    props.iter().find_map(|p| {
        let source = if UNIT_INTERFACE_PROPERTIES.contains(&p.name.as_ref()) {
            &unit.unit
        } else {
            &unit.of_type
        };
        match applied(p, source) {
            Ok(()) => None,
            Err(actual) => Some(format!(
                "{}= reads back as {actual}, not as the drop-in sets it ({})",
                p.name,
                shown(&p.value)
            )),
        }
    })
}

/// `Ok` when systemd reports `p` as set; else what it reports.
fn applied(p: &Property, source: &HashMap<String, OwnedVariant>) -> Result<(), String> {
    let Some(actual) = source.get(p.name.as_ref()) else {
        if RETIRED_ALWAYS_ON.contains(&p.name.as_ref()) && matches!(p.value, Value::Bool(true)) {
            return Ok(());
        }
        return Err("nothing (systemd does not know the setting)".into());
    };
    let mismatch = |what: String| Err(what);
    match &p.value {
        Value::Bool(want) => match actual.downcast_ref::<bool>() {
            Ok(got) if got == *want => Ok(()),
            Ok(got) => mismatch(got.to_string()),
            Err(_) => mismatch("another type".into()),
        },
        Value::I32(want) => match actual.downcast_ref::<i32>() {
            Ok(got) if got == *want => Ok(()),
            Ok(got) => mismatch(got.to_string()),
            Err(_) => mismatch("another type".into()),
        },
        Value::U32(want) => match actual.downcast_ref::<u32>() {
            Ok(got) if got == *want => Ok(()),
            Ok(got) => mismatch(got.to_string()),
            Err(_) => mismatch("another type".into()),
        },
        Value::U64(want) => {
            // The file form of a CPU quota is a percentage to 0.01 % (see `dropin`).
            let want = if p.name == "CPUQuotaPerSecUSec" && *want != u64::MAX {
                want / 100 * 100
            } else {
                *want
            };
            match actual.downcast_ref::<u64>() {
                Ok(got) if got == want => Ok(()),
                Ok(got) => mismatch(got.to_string()),
                Err(_) => mismatch("another type".into()),
            }
        }
        Value::Str(want) => match actual.downcast_ref::<&str>() {
            Ok(got) if got == want => Ok(()),
            Ok(got) => mismatch(format!("'{got}'")),
            Err(_) => mismatch("another type".into()),
        },
        Value::Strings(want) if p.name == "Environment" => {
            let got = owned::<Vec<String>>(actual).unwrap_or_default();
            environment_applied(want, &got)
        }
        Value::Strings(want) => {
            let got = owned::<Vec<String>>(actual).unwrap_or_default();
            contains_all(want, &got, |s| s.clone())
        }
        Value::ByteStrings(want) => {
            let got = owned::<Vec<Vec<u8>>>(actual).unwrap_or_default();
            contains_all(want, &got, |b| String::from_utf8_lossy(b).into_owned())
        }
        Value::Bytes(want) => {
            let got = owned::<Vec<u8>>(actual).unwrap_or_default();
            if trimmed(want) == trimmed(&got) {
                Ok(())
            } else {
                mismatch(format!("{got:?}"))
            }
        }
        Value::DeviceLimits(want) => {
            let got: Vec<(String, u64)> = owned::<Vec<(String, u64)>>(actual)
                .unwrap_or_default()
                .into_iter()
                .map(|(d, n)| (simplified(&d), n))
                .collect();
            let want: Vec<(String, u64)> = want.iter().map(|(d, n)| (simplified(d), *n)).collect();
            contains_all(&want, &got, |(d, n)| format!("{d} {n}"))
        }
        Value::SyscallFilter(..)
        | Value::Devices(_)
        | Value::Exec(_)
        | Value::Binds(_)
        | Value::Fd(_) => mismatch("a value this driver cannot compare".into()),
    }
}

/// Each of our `NAME=value` assignments is the last one systemd has for `NAME` (a later one,
/// from a drop-in sorting after ours, would win when the unit starts).
fn environment_applied(want: &[String], got: &[String]) -> Result<(), String> {
    for assignment in want {
        let name = assignment
            .split_once('=')
            .map_or(assignment.as_str(), |(n, _)| n);
        let last = got
            .iter()
            .rev()
            .find(|a| a.split_once('=').is_some_and(|(n, _)| n == name));
        match last {
            Some(a) if a == assignment => {}
            Some(_) => return Err(format!("another value for {name}")),
            None => return Err(format!("no {name}")),
        }
    }
    Ok(())
}

fn contains_all<T: PartialEq>(
    want: &[T],
    got: &[T],
    show: impl Fn(&T) -> String,
) -> Result<(), String> {
    match want.iter().find(|w| !got.contains(w)) {
        None => Ok(()),
        Some(missing) => Err(format!("a list without {}", show(missing))),
    }
}

fn owned<T>(v: &OwnedVariant) -> Option<T>
where
    T: TryFrom<OwnedVariant>,
{
    v.try_clone().ok().and_then(|v| T::try_from(v).ok())
}

/// A CPU bitmap without its trailing zero bytes (systemd sizes its own).
fn trimmed(mask: &[u8]) -> &[u8] {
    let end = mask.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &mask[..end]
}

/// A path as systemd stores it: no repeated `/`, no `.` component, no trailing `/`.
fn simplified(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// A value as a person reads it, shortened.
fn shown(v: &Value) -> String {
    let text = match v {
        Value::Str(s) => format!("'{s}'"),
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::Strings(s) => format!("{} entries", s.len()),
        Value::ByteStrings(s) => format!("{} entries", s.len()),
        Value::DeviceLimits(l) => l
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        other => format!("{other:?}"),
    };
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::Variant as ZValue;

    fn variant(v: ZValue<'_>) -> OwnedVariant {
        OwnedVariant::try_from(v).unwrap()
    }

    fn service(pairs: Vec<(&str, OwnedVariant)>) -> UnitProperties {
        UnitProperties {
            unit: HashMap::new(),
            of_type: pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    #[test]
    fn matching_values_pass_and_the_first_difference_is_named() {
        let unit = service(vec![
            ("Restart", variant(ZValue::from("no"))),
            ("MemoryMax", variant(ZValue::from(64u64 << 20))),
            (
                "Environment",
                variant(ZValue::from(vec!["A=1".to_string(), "B=2".to_string()])),
            ),
        ]);
        let ours = [
            Property::new("Restart", Value::Str("no".into())),
            Property::new("MemoryMax", Value::U64(64 << 20)),
            Property::new("Environment", Value::Strings(vec!["B=2".into()])),
        ];
        assert_eq!(first_not_applied(&ours, &unit), None);
        let limit = [Property::new("MemoryMax", Value::U64(32 << 20))];
        let why = first_not_applied(&limit, &unit).unwrap();
        assert!(
            why.starts_with("MemoryMax= reads back as 67108864"),
            "{why}"
        );
        let missing = [Property::new("TasksMax", Value::U64(16))];
        assert!(first_not_applied(&missing, &unit).is_some());
    }

    #[test]
    fn an_always_on_switch_that_systemd_retired_is_applied_when_absent() {
        let unit = service(vec![("MemoryAccounting", variant(ZValue::from(true)))]);
        let on = [Property::new("CPUAccounting", Value::Bool(true))];
        assert_eq!(first_not_applied(&on, &unit), None);
        let off = [Property::new("CPUAccounting", Value::Bool(false))];
        assert!(first_not_applied(&off, &unit).is_some());
        let other = [Property::new("TasksAccounting", Value::Bool(true))];
        assert!(first_not_applied(&other, &unit).is_some());
    }

    #[test]
    fn a_later_assignment_of_our_variable_is_a_difference() {
        let got = ["A=ours".to_string(), "A=theirs".to_string()];
        assert!(environment_applied(&["A=ours".into()], &got).is_err());
        assert!(environment_applied(&["A=theirs".into()], &got).is_ok());
        assert!(environment_applied(&["B=1".into()], &got).is_err());
    }

    #[test]
    fn paths_and_bitmaps_compare_as_systemd_stores_them() {
        assert_eq!(simplified("/dev//sda/./"), "/dev/sda");
        assert_eq!(trimmed(&[1, 0, 0]), &[1]);
    }
}
