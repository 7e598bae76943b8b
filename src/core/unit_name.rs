//! Unit names for tasks: deterministic, always valid, never an injection.
//!
//! A task's unit is named `nomad-<alloc>-<task>-<instance>.service`:
//! - `<alloc>` is the first eight alphanumerics of the allocation id (what `nomad alloc status`
//!   shows as the short id);
//! - `<task>` is the task name, escaped like `systemd-escape` (every byte outside
//!   `[A-Za-z0-9:_.-]` becomes `\xNN`, and so does a leading `.`), so `@`, `/`, spaces or shell
//!   metacharacters can never make it a template instance, a path or anything but one name;
//! - `<instance>` is the last part of Nomad's task id (`<alloc>/<task>/<instance>`), new on every
//!   start, so a restarted task never collides with its predecessor's unit.
//!
//! The alloc and instance parts hold no `-`, so the name reads back unambiguously. Names that
//! would pass systemd's 255-byte limit keep a prefix of the task part and end it with a hash of
//! the whole task name, so they stay unique and deterministic.

use std::fmt;

use super::error::{Error, Result};

/// systemd's limit on a unit name's length, suffix included (`UNIT_NAME_MAX - 1`).
const MAX_LEN: usize = 255;
const PREFIX: &str = "nomad-";
const SUFFIX: &str = ".service";
/// A `ListUnitsByPatterns` pattern matching every task unit this tool names.
pub const TASK_UNIT_PATTERN: &str = "nomad-*.service";

/// A valid systemd unit name. Built only by [`UnitName::for_task`] or [`UnitName::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct UnitName(String);

impl UnitName {
    /// The unit name for one start of a task. Any input yields a valid name.
    pub fn for_task(alloc_id: &str, task_name: &str, instance: &str) -> UnitName {
        let alloc = short_component(alloc_id, 8);
        let instance = short_component(instance, 16);
        let mut task = escape(task_name);
        let budget = MAX_LEN - PREFIX.len() - alloc.len() - instance.len() - SUFFIX.len() - 2;
        if task.len() > budget {
            let hash = format!("{:016x}", fnv1a(task_name.as_bytes()));
            let mut keep = budget - hash.len() - 1;
            while !task.is_char_boundary(keep) {
                keep -= 1;
            }
            task = format!("{}_{hash}", &task[..keep]);
        }
        UnitName(format!("{PREFIX}{alloc}-{task}-{instance}{SUFFIX}"))
    }

    /// The unit [`UnitName::for_task`] names for Nomad's task id
    /// `<alloc_id>/<task_name>/<instance>` (the name is what lies between the first and the
    /// last `/`); `None` for an id without that shape.
    pub fn for_task_id(id: &str) -> Option<UnitName> {
        let (alloc, rest) = id.split_once('/')?;
        let (name, instance) = rest.rsplit_once('/')?;
        if alloc.is_empty() || name.is_empty() || instance.is_empty() {
            return None;
        }
        Some(UnitName::for_task(alloc, name, instance))
    }

    /// Accepts a unit name given by a person or read back from systemd. A name without a type
    /// suffix is taken as a `.service`. Rejects anything systemd would not accept as a plain
    /// unit name or a template's instance (`name@instance.type`); a bare template
    /// (`name@.type`) cannot be loaded and is refused too (see [`UnitName::instance`]).
    pub fn parse(name: &str) -> Result<UnitName> {
        let full = if name.contains('.') && name.rsplit('.').next().is_some_and(is_unit_type) {
            name.to_string()
        } else {
            format!("{name}{SUFFIX}")
        };
        let (stem, _) = full.rsplit_once('.').unwrap_or((&full, ""));
        let instance_ok = match stem.split_once('@') {
            None => true,
            Some((prefix, instance)) => {
                !prefix.is_empty() && !instance.is_empty() && !instance.contains('@')
            }
        };
        let valid = !stem.is_empty()
            && full.len() <= MAX_LEN
            && instance_ok
            && full
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_.-\\@".contains(&b));
        if !valid {
            return Err(Error::invalid(
                "unit",
                format!("'{name}' is not a valid systemd unit name"),
            ));
        }
        Ok(UnitName(full))
    }

    /// The instance `instance` of the template `template` (`web@.service` →
    /// `web@<escaped instance>.service`), the instance escaped like `systemd-escape`. A
    /// `template` that is not a template unit name is an error naming `unit`.
    pub fn instance(template: &str, instance: &str) -> Result<UnitName> {
        let Some((prefix, suffix)) = template.split_once("@.") else {
            return Err(Error::invalid(
                "unit",
                format!("'{template}' is not a template unit name (name@.type)"),
            ));
        };
        UnitName::parse(&format!("{prefix}@{}.{suffix}", escape_instance(instance))).map_err(|_| {
            Error::invalid(
                "unit",
                format!("'{template}' with instance '{instance}' is not a valid unit name"),
            )
        })
    }

    /// For a template's instance, the template's own name (`web@x.service` → `web@.service`).
    pub fn template(&self) -> Option<String> {
        let (stem, suffix) = self.0.rsplit_once('.')?;
        let (prefix, _) = stem.split_once('@')?;
        Some(format!("{prefix}@.{suffix}"))
    }

    /// The unit's type: `service`, `timer`, ….
    pub fn unit_type(&self) -> &str {
        self.0.rsplit_once('.').map_or("", |(_, t)| t)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this name has the shape of a unit this tool creates for tasks.
    pub fn is_task_unit(&self) -> bool {
        self.0.starts_with(PREFIX) && self.0.ends_with(SUFFIX)
    }

    /// The slice of this task alone, a child of `parent`: the task's unit and the units that
    /// exec into it run there, so the slice accounts for all of them. For
    /// `nomad-1a2b3c4d-web-0a1b2c3d.service` under `system-nomad.slice` it is
    /// `system-nomad-1a2b3c4d_web_0a1b2c3d.slice` (a `-` in a slice name is a level of the
    /// hierarchy, so the unit's own dashes become `_`).
    pub fn task_slice(&self, parent: &str) -> Result<UnitName> {
        let Some(parent_stem) = parent.strip_suffix(".slice").filter(|s| !s.is_empty()) else {
            return Err(Error::invalid(
                "slice",
                format!("'{parent}' is not a slice unit name"),
            ));
        };
        let mut component = self.slice_component();
        let fixed = parent_stem.len() + 1 + ".slice".len();
        if fixed + component.len() > MAX_LEN {
            component = format!("{:016x}", fnv1a(self.0.as_bytes()));
        }
        UnitName::parse(&format!("{parent_stem}-{component}.slice"))
    }

    /// The name of the ephemeral user a `dynamic_user` task runs as. Naming it (instead of
    /// letting systemd derive one from the unit name, which may be too long for a user name)
    /// lets an exec unit ask for the same dynamic user, so it runs with the task's uid.
    pub fn dynamic_user(&self) -> String {
        format!("nomad-{:016x}", fnv1a(self.0.as_bytes()))
    }

    /// Whether `slice` is this task's own slice (see [`UnitName::task_slice`]), under any parent.
    pub fn owns_slice(&self, slice: &str) -> bool {
        let Some(stem) = slice.strip_suffix(".slice") else {
            return false;
        };
        let Some((parent, _)) = stem.rsplit_once('-') else {
            return false;
        };
        self.task_slice(&format!("{parent}.slice"))
            .is_ok_and(|own| own.as_str() == slice)
    }

    fn slice_component(&self) -> String {
        let stem = self.0.rsplit_once('.').map_or(self.0.as_str(), |(s, _)| s);
        stem.strip_prefix(PREFIX).unwrap_or(stem).replace('-', "_")
    }
}

/// Reading a stored name validates it again, so a stored name is as safe as a fresh one.
impl<'de> serde::Deserialize<'de> for UnitName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<UnitName, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(d)?;
        UnitName::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_unit_type(suffix: &str) -> bool {
    matches!(
        suffix,
        "service" | "socket" | "timer" | "path" | "scope" | "slice" | "target" | "mount"
    )
}

/// Escapes like `systemd-escape` without the `/` → `-` rule: the result matches
/// `[A-Za-z0-9:_.\\-]+` and is never empty.
pub fn escape(s: &str) -> String {
    if s.is_empty() {
        return "_".to_string();
    }
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b":_-".contains(&b) || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escapes exactly like `systemd-escape STRING`: `/` becomes `-`, bytes outside
/// `[A-Za-z0-9:_.]` (and a leading `.`) become `\xNN`; an empty string stays empty.
pub fn escape_instance(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        if b == b'/' {
            out.push('-');
        } else if b.is_ascii_alphanumeric() || b":_".contains(&b) || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Up to `max` ASCII alphanumerics of `s`, lower-cased; `0` when it has none.
fn short_component(s: &str, max: usize) -> String {
    let short: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(max)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if short.is_empty() { "0".into() } else { short }
}

/// FNV-1a: a stable hash, so truncated names stay the same across builds and machines.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_names_the_unit_its_task_runs_as() {
        let unit = UnitName::for_task_id("1a2b3c4d-9999/web/0a1b2c3d").unwrap();
        assert_eq!(unit, UnitName::for_task("1a2b3c4d-9999", "web", "0a1b2c3d"));
        // A name holding a '/' is what lies between the first and the last one.
        let odd = UnitName::for_task_id("1a2b3c4d/a/b/0a1b2c3d").unwrap();
        assert_eq!(odd, UnitName::for_task("1a2b3c4d", "a/b", "0a1b2c3d"));
        for bad in ["", "nope", "a/b", "/web/1", "a//1", "a/web/"] {
            assert_eq!(UnitName::for_task_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_task_slice_is_one_level_below_its_parent() {
        let unit = UnitName::for_task("1a2b3c4d-aaaa", "web-api", "0a1b2c3d");
        let slice = unit.task_slice("system-nomad.slice").unwrap();
        assert_eq!(
            slice.as_str(),
            "system-nomad-1a2b3c4d_web_api_0a1b2c3d.slice"
        );
        assert!(unit.owns_slice(slice.as_str()));
        assert!(!unit.owns_slice("system-nomad.slice"));
        let other = UnitName::for_task("1a2b3c4d", "web", "ffff");
        assert!(!other.owns_slice(slice.as_str()));
        assert!(unit.task_slice("nomad").is_err());
    }

    #[test]
    fn a_long_task_name_still_makes_a_valid_slice() {
        let unit = UnitName::for_task("1a2b3c4d", &"x".repeat(400), "0a1b2c3d");
        let slice = unit.task_slice("system-nomad.slice").unwrap();
        assert!(slice.as_str().len() <= MAX_LEN);
        assert!(unit.owns_slice(slice.as_str()));
    }

    #[test]
    fn plain_task_reads_naturally() {
        let name = UnitName::for_task(
            "0b5f4c4e-1111-2222-3333-444455556666",
            "web-api",
            "3f9a1c2b",
        );
        assert_eq!(name.as_str(), "nomad-0b5f4c4e-web-api-3f9a1c2b.service");
        assert!(name.is_task_unit());
    }

    #[test]
    fn hostile_task_names_are_escaped_into_one_plain_name() {
        for hostile in [
            "a@b",
            "../../etc",
            "x; rm -rf /",
            ".hidden",
            "tab\there",
            "ünï",
            "",
            "a/b",
        ] {
            let name = UnitName::for_task("alloc", hostile, "i1");
            assert_eq!(UnitName::parse(name.as_str()).unwrap(), name, "{hostile}");
            assert!(!name.as_str().contains('@') && !name.as_str().contains('/'));
            assert!(!name.as_str().contains(' ') && !name.as_str().contains(';'));
        }
        assert_eq!(escape("a@b"), "a\\x40b");
        assert_eq!(escape(".x"), "\\x2ex");
    }

    #[test]
    fn same_inputs_give_same_name_and_instances_differ() {
        let a = UnitName::for_task("alloc", "task", "one");
        assert_eq!(a, UnitName::for_task("alloc", "task", "one"));
        assert_ne!(a, UnitName::for_task("alloc", "task", "two"));
    }

    #[test]
    fn long_names_are_cut_to_systemds_limit_and_stay_unique() {
        let long_a = "a".repeat(400);
        let long_b = format!("{}b", "a".repeat(399));
        let a = UnitName::for_task("alloc", &long_a, "i");
        let b = UnitName::for_task("alloc", &long_b, "i");
        assert!(a.as_str().len() <= MAX_LEN);
        assert_ne!(a, b);
        let multibyte = UnitName::for_task("alloc", &"é".repeat(200), "i");
        assert!(multibyte.as_str().len() <= MAX_LEN);
    }

    #[test]
    fn parse_accepts_bare_names_and_rejects_templates_and_junk() {
        assert_eq!(
            UnitName::parse("nomad-x").unwrap().as_str(),
            "nomad-x.service"
        );
        assert_eq!(UnitName::parse("foo.timer").unwrap().as_str(), "foo.timer");
        assert!(UnitName::parse("foo@.service").is_err());
        assert!(UnitName::parse("@x.service").is_err());
        assert_eq!(
            UnitName::parse("foo@a\\x2db.service").unwrap().as_str(),
            "foo@a\\x2db.service"
        );
        assert!(UnitName::parse("foo bar").is_err());
        assert!(UnitName::parse("").is_err());
        assert!(UnitName::parse(&"x".repeat(300)).is_err());
    }

    #[test]
    fn template_instances_are_escaped_like_systemd_escape() {
        assert_eq!(escape_instance("f0e1-d2/x y.z"), "f0e1\\x2dd2-x\\x20y.z");
        assert_eq!(escape_instance(".a"), "\\x2ea");
        let unit = UnitName::instance("web@.service", "f0e1d2c3-0000").unwrap();
        assert_eq!(unit.as_str(), "web@f0e1d2c3\\x2d0000.service");
        assert_eq!(unit.template().as_deref(), Some("web@.service"));
        assert_eq!(unit.unit_type(), "service");
        assert!(UnitName::instance("web.service", "x").is_err());
        assert!(UnitName::instance("web@.service", "").is_err());
        assert_eq!(UnitName::parse("db.timer").unwrap().template(), None);
    }
}
