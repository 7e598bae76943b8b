//! The sandbox switches → `DynamicUser`, `ProtectSystem`, `ProtectHome`, `PrivateTmp`,
//! `PrivateDevices`, `NoNewPrivileges` and `SystemCallFilter`.
//!
//! Every switch is always sent, defaults included, so the unit says what the task got no
//! matter which systemd defaults apply.
//!
//! A filtered system call fails with `EPERM` (`SystemCallErrorNumber`), as it does under
//! container runtimes' seccomp profiles; systemd's own default would kill the whole process
//! with `SIGSYS`, so a program probing for an optional call (`uname`, `ptrace`, ...) would die
//! instead of handling the error.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::sandbox::Sandbox;
use crate::core::task::TaskSpec;
use crate::core::unit_name::UnitName;

/// What systemd's private `/tmp` directory name (`systemd-private-<boot id>-<unit>-XXXXXX`,
/// under `/tmp` and `/var/tmp`) holds besides the unit's name.
const PRIVATE_TMP_NAME_OVERHEAD: usize = "systemd-private-".len() + 32 + 1 + 1 + 6;
/// The longest unit name whose private `/tmp` directory name fits a file name (255 bytes).
pub const MAX_UNIT_NAME_WITH_PRIVATE_TMP: usize = 255 - PRIVATE_TMP_NAME_OVERHEAD;

/// Refuses a task whose unit name is too long for systemd to create its private `/tmp`: the
/// start would fail in the namespace setup with nothing but exit status 226.
pub fn check_unit_name(sandbox: &Sandbox, unit: &UnitName) -> Result<()> {
    let len = unit.as_str().len();
    if !sandbox.private_tmp || len <= MAX_UNIT_NAME_WITH_PRIVATE_TMP {
        return Ok(());
    }
    Err(Error::invalid(
        "name",
        format!(
            "the task name makes its unit name {unit} {len} bytes; with a private /tmp at most \
             {MAX_UNIT_NAME_WITH_PRIVATE_TMP} fit, because systemd names that directory \
             systemd-private-<boot id>-<unit>-<random> and a file name holds 255 bytes. \
             Shorten the task name by at least {} bytes (a byte outside A-Z a-z 0-9 : _ . - counts as 4)",
            len - MAX_UNIT_NAME_WITH_PRIVATE_TMP
        ),
    ))
}

/// Refuses a task that would not see its own directories: where they are not bound (a user
/// manager, [`TaskSpec::dirs_at_host_paths`]) the task finds them at their host paths, and a
/// private `/tmp` (which a user manager applies from systemd 257 on) hides whatever lies under
/// `/tmp` or `/var/tmp` — the task would start and fail on a missing directory instead.
pub fn check_dirs_visible(spec: &TaskSpec) -> Result<()> {
    let Some(dirs) = spec.dirs.as_ref() else {
        return Ok(());
    };
    if !spec.sandbox.private_tmp || !spec.dirs_at_host_paths {
        return Ok(());
    }
    let alloc_dir = dirs.alloc_dir();
    match PRIVATE_TMP_DIRS
        .iter()
        .find(|tmp| alloc_dir.starts_with(tmp))
    {
        None => Ok(()),
        Some(tmp) => Err(Error::invalid(
            "alloc_dir",
            format!(
                "{} is below {tmp}, which the task's private /tmp and /var/tmp hide from it: \
                 under a user manager the task's directories are not bound but used at their \
                 host paths. Put the allocation directories (Nomad's data_dir, the CLI's \
                 --alloc-dir-root) outside /tmp and /var/tmp",
                alloc_dir.display()
            ),
        )),
    }
}

/// The directories systemd replaces for a unit with `PrivateTmp=yes`.
const PRIVATE_TMP_DIRS: [&str; 2] = ["/tmp", "/var/tmp"];

pub fn properties(sandbox: &Sandbox) -> Vec<Property> {
    let mut props = vec![
        Property::new("DynamicUser", Value::Bool(sandbox.dynamic_user)),
        Property::new(
            "ProtectSystem",
            Value::Str(sandbox.protect_system.as_str().to_string()),
        ),
        Property::new(
            "ProtectHome",
            Value::Str(sandbox.protect_home.as_str().to_string()),
        ),
        Property::new("PrivateTmp", Value::Bool(sandbox.private_tmp)),
        Property::new("PrivateDevices", Value::Bool(sandbox.private_devices)),
        Property::new("NoNewPrivileges", Value::Bool(sandbox.no_new_privileges)),
    ];
    if !sandbox.system_call_filter.is_empty() {
        let deny = sandbox.system_call_filter[0].starts_with('~');
        let names = sandbox
            .system_call_filter
            .iter()
            .map(|n| n.trim_start_matches('~').to_string())
            .collect();
        props.push(Property::new(
            "SystemCallFilter",
            Value::SyscallFilter(!deny, names),
        ));
        props.push(Property::new(
            "SystemCallErrorNumber",
            Value::I32(nix::libc::EPERM),
        ));
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::find;
    use crate::core::sandbox::{ProtectHome, ProtectSystem};
    use crate::core::task::TaskDirs;
    use std::path::Path;

    #[test]
    fn unbound_dirs_under_a_private_tmp_are_refused_naming_the_setting() {
        let mut spec = crate::core::mapping::test_spec();
        for (alloc, bound_ok, unbound_ok) in [
            ("/tmp/nomad/alloc/a1", true, false),
            ("/var/tmp/a1", true, false),
            ("/tmpfs/a1", true, true),
            ("/opt/nomad/data/alloc/a1", true, true),
        ] {
            spec.dirs = Some(TaskDirs::nomad_layout(Path::new(alloc), "web").unwrap());
            spec.dirs_at_host_paths = false;
            assert_eq!(check_dirs_visible(&spec).is_ok(), bound_ok, "{alloc} bound");
            spec.dirs_at_host_paths = true;
            match check_dirs_visible(&spec) {
                Ok(()) => assert!(unbound_ok, "{alloc} unbound was allowed"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(!unbound_ok, "{alloc}: {e}");
                    assert!(e.contains("alloc_dir") && e.contains(alloc), "{e}");
                }
            }
        }
        // Without a private /tmp nothing is hidden.
        spec.dirs = Some(TaskDirs::nomad_layout(Path::new("/tmp/a1"), "web").unwrap());
        spec.sandbox.private_tmp = false;
        assert!(check_dirs_visible(&spec).is_ok());
    }

    #[test]
    fn a_task_name_too_long_for_its_private_tmp_is_refused_naming_the_limit() {
        let unit = |task: &str| UnitName::for_task("1a2b3c4d", task, "0a1b2c3d");
        let fits = unit(&"x".repeat(167));
        assert_eq!(fits.as_str().len(), MAX_UNIT_NAME_WITH_PRIVATE_TMP);
        assert!(check_unit_name(&Sandbox::default(), &fits).is_ok());
        let long = unit(&"x".repeat(168));
        let e = check_unit_name(&Sandbox::default(), &long)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("name") && e.contains("199") && e.contains("at least 1 "),
            "{e}"
        );
        let no_tmp = Sandbox {
            private_tmp: false,
            ..Sandbox::default()
        };
        assert!(check_unit_name(&no_tmp, &long).is_ok());
    }

    #[test]
    fn the_default_sandbox_is_spelled_out() {
        let props = properties(&Sandbox::default());
        let shown: Vec<String> = props
            .iter()
            .map(|p| format!("{}:{}", p.name, p.value.signature()))
            .collect();
        assert_eq!(
            shown,
            [
                "DynamicUser:b",
                "ProtectSystem:s",
                "ProtectHome:s",
                "PrivateTmp:b",
                "PrivateDevices:b",
                "NoNewPrivileges:b"
            ]
        );
        assert!(matches!(
            find(&props, "PrivateTmp"),
            Some(Value::Bool(true))
        ));
        assert!(matches!(
            find(&props, "NoNewPrivileges"),
            Some(Value::Bool(true))
        ));
        assert!(matches!(find(&props, "ProtectSystem"), Some(Value::Str(s)) if s == "no"));
    }

    #[test]
    fn the_jobs_choices_are_mapped() {
        let sandbox = Sandbox {
            dynamic_user: true,
            protect_system: ProtectSystem::Strict,
            protect_home: ProtectHome::ReadOnly,
            private_devices: true,
            ..Sandbox::default()
        };
        let props = properties(&sandbox);
        assert!(matches!(
            find(&props, "DynamicUser"),
            Some(Value::Bool(true))
        ));
        assert!(matches!(find(&props, "ProtectSystem"), Some(Value::Str(s)) if s == "strict"));
        assert!(matches!(find(&props, "ProtectHome"), Some(Value::Str(s)) if s == "read-only"));
        assert!(matches!(
            find(&props, "PrivateDevices"),
            Some(Value::Bool(true))
        ));
    }

    #[test]
    fn a_syscall_filter_is_an_allow_or_a_deny_list() {
        let mut sandbox = Sandbox {
            system_call_filter: vec!["@system-service".into(), "ptrace".into()],
            ..Sandbox::default()
        };
        let props = properties(&sandbox);
        let filter = find(&props, "SystemCallFilter").unwrap();
        assert_eq!(filter.signature(), "(bas)");
        assert!(
            matches!(filter, Value::SyscallFilter(true, n) if n == &["@system-service", "ptrace"])
        );
        let errno = find(&props, "SystemCallErrorNumber").unwrap();
        assert_eq!(errno.signature(), "i");
        assert!(matches!(errno, Value::I32(e) if *e == nix::libc::EPERM));
        assert!(find(&properties(&Sandbox::default()), "SystemCallErrorNumber").is_none());
        sandbox.system_call_filter = vec!["~@mount".into(), "~reboot".into()];
        let props = properties(&sandbox);
        assert!(matches!(
            find(&props, "SystemCallFilter"),
            Some(Value::SyscallFilter(false, n)) if n == &["@mount", "reboot"]
        ));
    }
}
