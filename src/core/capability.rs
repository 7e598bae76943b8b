//! Linux capabilities by name, and the sets a task's bounding and ambient sets are made of.
//!
//! Names are accepted the way Nomad's drivers and systemd spell them: `CAP_NET_BIND_SERVICE`,
//! `net_bind_service`, any case. `ALL` stands for every capability the table knows.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// The kernel's capability numbers, in order (`linux/capability.h`).
const NAMES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// What a task's bounding set holds unless the job or the operator says otherwise: the
/// set Nomad's `exec` and `docker` drivers give a task by default.
pub const DEFAULT_NAMES: &[&str] = &[
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
];

/// A set of capabilities, as the bitmask systemd's `CapabilityBoundingSet` and
/// `AmbientCapabilities` take (bit n = capability n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapSet(pub u64);

impl CapSet {
    /// Every capability the table knows.
    pub fn all() -> CapSet {
        CapSet((1u64 << NAMES.len()) - 1)
    }

    /// The default bounding set, [`DEFAULT_NAMES`].
    pub fn default_set() -> CapSet {
        CapSet::parse("default", DEFAULT_NAMES).unwrap_or_default()
    }

    /// Parses names (`CAP_CHOWN`, `chown`, `ALL`); `setting` names the option in errors.
    pub fn parse<S: AsRef<str>>(setting: &str, names: &[S]) -> Result<CapSet> {
        let mut set = CapSet::default();
        for name in names {
            let name = name.as_ref();
            let lower = name.to_ascii_lowercase();
            let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
            if bare == "all" {
                set = set.union(CapSet::all());
                continue;
            }
            let Some(bit) = NAMES.iter().position(|n| *n == bare) else {
                return Err(Error::invalid(
                    setting,
                    format!(
                        "'{}' is not a Linux capability (e.g. CAP_NET_BIND_SERVICE or \
                         net_bind_service)",
                        name.escape_debug()
                    ),
                ));
            };
            set.0 |= 1 << bit;
        }
        Ok(set)
    }

    pub fn union(self, other: CapSet) -> CapSet {
        CapSet(self.0 | other.0)
    }

    pub fn intersection(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    pub fn without(self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for CapSet {
    /// Lower-case `CAP_` names, comma-separated, the way errors show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, n)| format!("CAP_{}", n.to_ascii_uppercase()))
            .collect();
        f.write_str(&names.join(", "))
    }
}

/// What a job asks of capabilities: `cap_add`, `cap_drop`, `ambient_capabilities`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityRequest {
    pub add: CapSet,
    pub drop: CapSet,
    pub ambient: CapSet,
}

impl CapabilityRequest {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.drop.is_empty() && self.ambient.is_empty()
    }

    /// The task's sets, starting from `base` (what a task gets when the job says nothing):
    /// bounding = (base − drop) + add + ambient, so `cap_drop = ["all"]` with a `cap_add`
    /// keeps just what was added, as in Nomad's docker driver.
    pub fn resolve(&self, base: CapSet) -> Capabilities {
        Capabilities {
            bounding: Some(base.without(self.drop).union(self.add).union(self.ambient)),
            ambient: self.ambient,
        }
    }
}

/// A task's capability sets. `bounding: None` leaves the service manager's own (a user
/// manager cannot change it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub bounding: Option<CapSet>,
    pub ambient: CapSet,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_spelling() {
        let set =
            CapSet::parse("cap_add", &["CAP_NET_BIND_SERVICE", "chown", "Sys_Admin"]).unwrap();
        assert_eq!(set.0, 1 << 10 | 1 | 1 << 21);
        assert_eq!(
            set.to_string(),
            "CAP_CHOWN, CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN"
        );
        assert_eq!(CapSet::parse("cap_drop", &["ALL"]).unwrap(), CapSet::all());
        assert_eq!(CapSet::all().0.count_ones() as usize, NAMES.len());
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_the_option() {
        let e = CapSet::parse("cap_add", &["net_bind"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cap_add") && e.contains("'net_bind'"), "{e}");
    }

    #[test]
    fn the_default_set_is_nomads() {
        let d = CapSet::default_set();
        assert_eq!(d.0.count_ones() as usize, DEFAULT_NAMES.len());
        assert!(d.to_string().contains("CAP_NET_BIND_SERVICE"));
        assert!(!d.to_string().contains("CAP_SYS_ADMIN"));
    }

    #[test]
    fn resolve_drops_from_the_base_then_adds() {
        let parse = |n: &[&str]| CapSet::parse("x", n).unwrap();
        let request = CapabilityRequest {
            add: parse(&["net_admin"]),
            drop: parse(&["chown"]),
            ambient: parse(&["net_raw"]),
        };
        let caps = request.resolve(parse(&["chown", "kill"]));
        assert_eq!(
            caps.bounding,
            Some(parse(&["kill", "net_admin", "net_raw"]))
        );
        assert_eq!(caps.ambient, parse(&["net_raw"]));
        let only_what_is_added = CapabilityRequest {
            drop: parse(&["all"]),
            ambient: parse(&["net_bind_service"]),
            ..Default::default()
        };
        let caps = only_what_is_added.resolve(CapSet::default_set());
        assert_eq!(caps.bounding, Some(parse(&["net_bind_service"])));
    }
}
