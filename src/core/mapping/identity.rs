//! `user` / `group` → `User` / `Group`.
//!
//! Names are looked up before the unit is created, so an unknown user is a clear error instead
//! of a unit that fails with status 217/USER. Numeric ids are passed through unchecked (systemd
//! still needs the user database to resolve them). With `dynamic_user` systemd makes the user
//! up; a named one would be reused if it exists, so a task with both is refused. A dynamic user
//! is named after the unit ([`UnitName::dynamic_user`]), so that exec units share it.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::task::TaskSpec;
#[cfg(doc)]
use crate::core::unit_name::UnitName;

pub fn properties(spec: &TaskSpec) -> Result<Vec<Property>> {
    let mut props = Vec::new();
    if spec.sandbox.dynamic_user {
        if spec.user.is_some() || spec.group.is_some() {
            return Err(Error::invalid(
                "dynamic_user",
                "cannot be combined with a user or group: systemd would run the task as that \
                 user if it exists; remove `user`/`group` or dynamic_user",
            ));
        }
        props.push(Property::new(
            "User",
            Value::Str(spec.unit_name().dynamic_user()),
        ));
        return Ok(props);
    }
    if let Some(user) = spec.user.as_deref().filter(|u| !u.is_empty()) {
        check(user, "user", |n| {
            nix::unistd::User::from_name(n).map(|u| u.is_some())
        })?;
        props.push(Property::new("User", Value::Str(user.to_string())));
    }
    if let Some(group) = spec.group.as_deref().filter(|g| !g.is_empty()) {
        check(group, "group", |n| {
            nix::unistd::Group::from_name(n).map(|g| g.is_some())
        })?;
        props.push(Property::new("Group", Value::Str(group.to_string())));
    }
    Ok(props)
}

fn check(name: &str, setting: &str, exists: impl Fn(&str) -> nix::Result<bool>) -> Result<()> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse::<u32>()
            .map(drop)
            .map_err(|_| Error::invalid(setting, format!("'{name}' is not a valid numeric id")));
    }
    let plausible = name.len() <= 256
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-$".contains(&b));
    if !plausible {
        return Err(Error::invalid(
            setting,
            format!("'{}' is not a valid {setting} name", name.escape_debug()),
        ));
    }
    match exists(name) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::invalid(
            setting,
            format!("unknown {setting} '{name}'; create it on this host or set another {setting}"),
        )),
        Err(e) => Err(Error::invalid(
            setting,
            format!("cannot look up {setting} '{name}': {e}"),
        )),
    }
}

/// The home directory of a task's user (its `User=`: a name or a uid), as the user database
/// has it, for the task's and its exec sessions' `HOME`: Nomad's executor sets `HOME` from the task user's entry, and
/// systemd leaves it empty for a home of `/nonexistent` (nobody's, Nomad's workload users'),
/// which makes shells complain. `None` for no `User=` (the manager's own user, whose `HOME`
/// systemd sets) or a user that does not resolve (systemd will refuse to run it anyway).
pub fn home_of(user: &str) -> Option<String> {
    if user.is_empty() {
        return None;
    }
    let entry = match user.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(user),
    };
    entry
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;

    #[test]
    fn known_user_and_group_are_set() {
        let mut spec = test_spec();
        spec.user = Some("root".into());
        spec.group = Some("0".into());
        let props = properties(&spec).unwrap();
        assert!(matches!(find(&props, "User"), Some(Value::Str(u)) if u == "root"));
        assert!(matches!(find(&props, "Group"), Some(Value::Str(g)) if g == "0"));
    }

    #[test]
    fn a_dynamic_user_is_named_after_the_unit_and_takes_no_job_user() {
        let mut spec = test_spec();
        spec.sandbox.dynamic_user = true;
        let props = properties(&spec).unwrap();
        let expected = spec.unit_name().dynamic_user();
        assert!(matches!(find(&props, "User"), Some(Value::Str(u)) if *u == expected));
        assert!(expected.len() <= 31, "too long for a user name: {expected}");
        spec.user = Some("nobody".into());
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("dynamic_user")
        );
    }

    #[test]
    fn no_user_sets_nothing() {
        assert!(properties(&test_spec()).unwrap().is_empty());
    }

    #[test]
    fn unknown_or_malformed_users_are_clear_errors() {
        let mut spec = test_spec();
        spec.user = Some("no-such-user-xyz".into());
        let err = properties(&spec).unwrap_err().to_string();
        assert!(err.contains("unknown user 'no-such-user-xyz'"), "{err}");
        spec.user = Some("bad name;rm".into());
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("not a valid user name")
        );
        spec.user = Some("99999999999".into());
        assert!(properties(&spec).is_err());
    }
}
