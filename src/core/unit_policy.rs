//! Which existing units a job may start (the operator's `allow_units` / `deny_units`).
//!
//! A rule is a shell-style glob (`*`, `?`, `[...]`) over the whole unit name, or, with a `re:`
//! prefix, a regular expression that must match the whole name. For a template's instance
//! both the instance (`web@1a2b.service`) and the template (`web@.service`) are checked: a
//! rule matching either allows (or denies) it. Deny wins over allow, nothing is allowed by
//! default, and some units are never allowed whatever the rules say: Nomad itself, the bus,
//! systemd's own units, this driver's task units and the unit the driver runs in.
//!
//! A name can be an alias (a symlink in a unit directory: Debian's `kmod.service` is
//! `systemd-modules-load.service`), so the rules are checked against the unit systemd
//! resolves the name to ([`ResolvedUnit`]): every name it has must pass `deny_units` and the
//! always-denied list, and the unit itself (its id) must be allowed, not only the name asked
//! for. Allowing a name never allows the unit it aliases.

use super::error::{Error, Result};
use super::pattern::Pattern;
use super::unit_name::UnitName;

/// Units no rule can allow, as globs.
pub const ALWAYS_DENIED: &[&str] = &["nomad.service", "nomad-*", "dbus*", "systemd-*"];

/// The operator's rules; the default allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitPolicy {
    pub allow: Vec<Pattern>,
    pub deny: Vec<Pattern>,
}

impl UnitPolicy {
    /// Whether a job may manage `unit`. `own_unit` is the unit this process runs in, never
    /// allowed. Errors are [`Error::InvalidConfig`] for `unit`, naming the rule or the plugin
    /// setting that decides.
    pub fn check(&self, unit: &UnitName, own_unit: Option<&str>) -> Result<()> {
        check_always_denied(unit, own_unit)?;
        let template = unit.template();
        let names: Vec<&str> = std::iter::once(unit.as_str())
            .chain(template.as_deref())
            .collect();
        if let Some(rule) = self.deny.iter().find(|r| r.matches_any(&names)) {
            return Err(Error::invalid(
                "unit",
                format!(
                    "'{unit}' is denied by the rule '{}' in the plugin's deny_units",
                    rule.text()
                ),
            ));
        }
        if !self.allow.iter().any(|r| r.matches_any(&names)) {
            let suggest = template.as_deref().unwrap_or(unit.as_str());
            return Err(Error::invalid(
                "unit",
                format!(
                    "'{unit}' is not allowed on this node; the operator can add it to the \
                     plugin's allow_units (e.g. allow_units = [\"{suggest}\"])"
                ),
            ));
        }
        Ok(())
    }
}

/// The unit systemd resolves a name to: its `Id` (the name of its unit file) and all its
/// `Names` (aliases included), as read from systemd before anything is started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUnit {
    pub id: String,
    pub names: Vec<String>,
}

impl ResolvedUnit {
    /// The id and every other name, each once.
    fn all(&self) -> Vec<&str> {
        let mut all = vec![self.id.as_str()];
        for n in &self.names {
            if !all.contains(&n.as_str()) {
                all.push(n);
            }
        }
        all
    }
}

impl UnitPolicy {
    /// [`UnitPolicy::check`] over the unit `requested` resolves to: its id is checked as
    /// `requested` is, and its other names against `deny_units` and the always-denied list.
    /// Errors name the resolved unit.
    pub fn check_resolved(
        &self,
        requested: &UnitName,
        resolved: &ResolvedUnit,
        own_unit: Option<&str>,
    ) -> Result<()> {
        self.check(requested, own_unit)?;
        for name in resolved.all() {
            if name == requested.as_str() {
                continue;
            }
            let unit = parsed(requested, name)?;
            let outcome = if name == resolved.id {
                self.check(&unit, own_unit)
            } else {
                check_always_denied(&unit, own_unit).and_then(|()| self.check_denied(&unit))
            };
            outcome.map_err(|e| as_alias(requested, resolved, e))?;
        }
        Ok(())
    }

    /// The `deny_units` half of [`UnitPolicy::check`].
    fn check_denied(&self, unit: &UnitName) -> Result<()> {
        let template = unit.template();
        let names: Vec<&str> = std::iter::once(unit.as_str())
            .chain(template.as_deref())
            .collect();
        match self.deny.iter().find(|r| r.matches_any(&names)) {
            Some(rule) => Err(Error::invalid(
                "unit",
                format!(
                    "'{unit}' is denied by the rule '{}' in the plugin's deny_units",
                    rule.text()
                ),
            )),
            None => Ok(()),
        }
    }
}

/// [`check_always_denied`] over every name of the unit `requested` resolves to.
pub fn check_always_denied_resolved(
    requested: &UnitName,
    resolved: &ResolvedUnit,
    own_unit: Option<&str>,
) -> Result<()> {
    check_always_denied(requested, own_unit)?;
    for name in resolved.all() {
        if name != requested.as_str() {
            check_always_denied(&parsed(requested, name)?, own_unit)
                .map_err(|e| as_alias(requested, resolved, e))?;
        }
    }
    Ok(())
}

fn parsed(requested: &UnitName, name: &str) -> Result<UnitName> {
    UnitName::parse(name).map_err(|_| {
        Error::invalid(
            "unit",
            format!("'{requested}' resolves to a unit named '{name}', which is not a unit name"),
        )
    })
}

/// A refusal of one of the resolved unit's names, said of the name the job asked for.
fn as_alias(requested: &UnitName, resolved: &ResolvedUnit, e: Error) -> Error {
    match e {
        Error::InvalidConfig { setting, reason } => Error::invalid(
            setting,
            format!(
                "'{requested}' is another name of the unit '{}' (names: {}), and {reason}; \
                 allowing a name never allows the unit behind it",
                resolved.id,
                resolved.all().join(", ")
            ),
        ),
        other => other,
    }
}

/// Refuses the units no rule can allow (see [`ALWAYS_DENIED`]) and `own_unit`; the one check
/// that also binds an operator at the command line.
pub fn check_always_denied(unit: &UnitName, own_unit: Option<&str>) -> Result<()> {
    let template = unit.template();
    let names: Vec<&str> = std::iter::once(unit.as_str())
        .chain(template.as_deref())
        .collect();
    let mut builtin = ALWAYS_DENIED.iter().filter_map(|g| Pattern::parse(g).ok());
    if own_unit.is_some_and(|own| names.contains(&own)) || builtin.any(|r| r.matches_any(&names)) {
        return Err(Error::invalid(
            "unit",
            format!(
                "'{unit}' may never be managed as a task: Nomad, D-Bus, systemd's own units \
                 and this driver's units ({}) are always denied",
                ALWAYS_DENIED.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The unit this process runs in, from `/proc/self/cgroup`; `None` when it cannot be told.
pub fn own_unit() -> Option<String> {
    own_unit_from(&std::fs::read_to_string("/proc/self/cgroup").ok()?)
}

/// The innermost `.service` or `.scope` in the systemd hierarchy of a `/proc/<pid>/cgroup`.
fn own_unit_from(cgroup: &str) -> Option<String> {
    let line = cgroup
        .lines()
        .find(|l| l.contains(":name=systemd:"))
        .or_else(|| cgroup.lines().find(|l| l.starts_with("0::")))?;
    let path = line.splitn(3, ':').nth(2)?;
    path.rsplit('/')
        .find(|c| c.ends_with(".service") || c.ends_with(".scope"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> UnitPolicy {
        let rules = |v: &[&str]| v.iter().map(|r| Pattern::parse(r).unwrap()).collect();
        UnitPolicy {
            allow: rules(allow),
            deny: rules(deny),
        }
    }

    fn unit(name: &str) -> UnitName {
        UnitName::parse(name).unwrap()
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let e = UnitPolicy::default()
            .check(&unit("postgresql.service"), None)
            .unwrap_err();
        assert!(e.to_string().contains("allow_units"), "{e}");
    }

    #[test]
    fn globs_and_regexes_match_whole_names_and_templates() {
        let p = policy(
            &["web@.service", "re:db-[0-9]+\\.service", "cache?.timer"],
            &[],
        );
        assert!(p.check(&unit("web@a1b2.service"), None).is_ok());
        assert!(p.check(&unit("db-12.service"), None).is_ok());
        assert!(p.check(&unit("cache1.timer"), None).is_ok());
        assert!(p.check(&unit("db-12.service.x.service"), None).is_err());
        assert!(p.check(&unit("xdb-1.service"), None).is_err());
        assert!(p.check(&unit("web.service"), None).is_err());
        let star = policy(&["app-[!x]*"], &[]);
        assert!(star.check(&unit("app-a.service"), None).is_ok());
        assert!(star.check(&unit("app-x.service"), None).is_err());
    }

    #[test]
    fn deny_wins_and_names_its_rule() {
        let p = policy(&["*"], &["secret*"]);
        let e = p.check(&unit("secret-db.service"), None).unwrap_err();
        assert!(e.to_string().contains("'secret*'"), "{e}");
        assert!(p.check(&unit("web.service"), None).is_ok());
    }

    #[test]
    fn nomad_dbus_systemd_and_our_own_units_are_always_denied() {
        let p = policy(&["*", "re:.*"], &[]);
        for name in [
            "nomad.service",
            "dbus.service",
            "dbus-broker.service",
            "systemd-journald.service",
            "nomad-1a2b3c4d-web-0a1b.service",
            "nomad-x@y.service",
        ] {
            let e = p.check(&unit(name), None).unwrap_err();
            assert!(e.to_string().contains("always denied"), "{name}: {e}");
        }
        assert!(
            p.check(&unit("agent.service"), Some("agent.service"))
                .is_err()
        );
    }

    #[test]
    fn an_alias_is_checked_as_the_unit_it_names() {
        let resolved = |id: &str, names: &[&str]| ResolvedUnit {
            id: id.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        let p = policy(
            &["evil.service", "web.service", "kmod.service"],
            &["secret*"],
        );
        let always = resolved("systemd-journald.service", &["evil.service"]);
        let e = p
            .check_resolved(&unit("evil.service"), &always, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("systemd-journald.service") && e.contains("always denied"),
            "{e}"
        );
        let unlisted = resolved("real.service", &["real.service", "evil.service"]);
        let e = p
            .check_resolved(&unit("evil.service"), &unlisted, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("real.service") && e.contains("allow_units"),
            "{e}"
        );
        let denied_alias = resolved("web.service", &["web.service", "secret-web.service"]);
        let e = p
            .check_resolved(&unit("web.service"), &denied_alias, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret*"), "{e}");
        let plain = resolved("web.service", &["web.service"]);
        assert!(p.check_resolved(&unit("web.service"), &plain, None).is_ok());
        let e = check_always_denied_resolved(&unit("kmod.service"), &always, None).unwrap_err();
        assert!(e.to_string().contains("systemd-journald.service"), "{e}");
    }

    #[test]
    fn bad_rules_are_reported() {
        assert!(Pattern::parse("re:(").is_err());
        assert!(Pattern::parse("web[").is_err());
    }

    #[test]
    fn the_own_unit_is_read_from_the_cgroup_file() {
        let v2 = "0::/system.slice/nomad.service\n";
        assert_eq!(own_unit_from(v2).as_deref(), Some("nomad.service"));
        let hybrid = "12:cpu:/\n1:name=systemd:/system.slice/x.scope/sub\n0::/other.service\n";
        assert_eq!(own_unit_from(hybrid).as_deref(), Some("x.scope"));
        assert_eq!(own_unit_from("0::/\n"), None);
    }
}
