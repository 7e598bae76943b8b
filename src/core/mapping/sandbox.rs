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

use crate::core::property::{Property, Value};
use crate::core::sandbox::Sandbox;

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
