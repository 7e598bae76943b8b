//! Unit properties as systemd's D-Bus API types them.
//!
//! The mapping modules build [`Property`] values; only [`crate::core::systemd`] turns them into
//! D-Bus variants. Every value carries its D-Bus type, so a wrong type is caught by a unit test
//! instead of by systemd rejecting the whole `StartTransientUnit` call.

use std::borrow::Cow;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// One `(name, value)` pair of `StartTransientUnit`'s `a(sv)` argument.
#[derive(Debug, Clone)]
pub struct Property {
    /// systemd's property name; owned only for names a job spells out (`properties`).
    pub name: Cow<'static, str>,
    pub value: Value,
}

impl Property {
    pub fn new(name: &'static str, value: Value) -> Property {
        Property {
            name: Cow::Borrowed(name),
            value,
        }
    }

    /// A property whose name is not known at compile time.
    pub fn named(name: String, value: Value) -> Property {
        Property {
            name: Cow::Owned(name),
            value,
        }
    }
}

/// One entry of `ExecStartEx` (`a(sasas)`): the program, its full argv (argv\[0\] included)
/// and execution flags such as `no-env-expand`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    pub path: String,
    pub argv: Vec<String>,
    pub flags: Vec<String>,
}

/// The flag that keeps `$` in arguments literal; plain `ExecStart` has no way to say it.
const NO_ENV_EXPAND: &str = "no-env-expand";

impl ExecCommand {
    /// The property that runs this command, in the plainest form that says it exactly:
    /// `ExecStart` (`a(sasb)`) when its only flag is `no-env-expand` and no argument holds a
    /// `$` for systemd to expand, else `ExecStartEx`. systemd before v254 saves a transient
    /// unit's `ExecStartEx=` in a form it cannot read back, so a `daemon-reload` turns such a
    /// unit `bad-setting` and fails a start job still pending on it; `ExecStart` survives it.
    pub fn start_property(self) -> Property {
        let plain = self.flags.iter().all(|f| f == NO_ENV_EXPAND)
            && !self.path.contains('$')
            && !self.argv.iter().any(|a| a.contains('$'));
        if plain {
            Property::new("ExecStart", Value::Exec(vec![self]))
        } else {
            Property::new("ExecStartEx", Value::ExecEx(vec![self]))
        }
    }
}

/// The command `ExecStart` or `ExecStartEx` in `props` runs (see
/// [`ExecCommand::start_property`]).
pub fn start_command(props: &[Property]) -> Option<&ExecCommand> {
    props.iter().find_map(|p| match (&*p.name, &p.value) {
        ("ExecStart", Value::Exec(cmds)) | ("ExecStartEx", Value::ExecEx(cmds)) => cmds.first(),
        _ => None,
    })
}

/// One entry of `BindPaths`/`BindReadOnlyPaths` (`a(ssbt)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: String,
    pub destination: String,
    /// Skip the mount instead of failing when the source is missing.
    pub ignore_missing: bool,
    /// Recursive bind (`MS_REC`), as `BindPaths=` in unit files does by default.
    pub recursive: bool,
}

/// One entry of `DeviceAllow` (`a(ss)`): a device node or class and its access (`rwm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAccess {
    pub device: String,
    pub access: String,
}

#[derive(Debug, Clone)]
pub enum Value {
    Bool(bool),
    I32(i32),
    U32(u32),
    U64(u64),
    Str(String),
    /// `as`
    Strings(Vec<String>),
    /// `ay`
    Bytes(Vec<u8>),
    /// `aay`
    ByteStrings(Vec<Vec<u8>>),
    /// `a(sasas)`
    ExecEx(Vec<ExecCommand>),
    /// `a(sasb)`: the older `ExecStart` form, for systemd without `ExecStartEx`.
    Exec(Vec<ExecCommand>),
    /// `a(ssbt)`
    Binds(Vec<BindMount>),
    /// `a(st)`: a limit per device path, as `IOReadBandwidthMax` takes it.
    DeviceLimits(Vec<(String, u64)>),
    /// `(bas)`: `SystemCallFilter`, an allow-list when the flag is true, else a deny-list.
    SyscallFilter(bool, Vec<String>),
    /// `a(ss)`
    Devices(Vec<DeviceAccess>),
    /// `h`: a file descriptor handed to systemd (shared so properties stay cloneable).
    Fd(Arc<OwnedFd>),
}

impl Value {
    /// The D-Bus type signature systemd expects for this value.
    pub fn signature(&self) -> &'static str {
        match self {
            Value::Bool(_) => "b",
            Value::I32(_) => "i",
            Value::U32(_) => "u",
            Value::U64(_) => "t",
            Value::Str(_) => "s",
            Value::Strings(_) => "as",
            Value::Bytes(_) => "ay",
            Value::ByteStrings(_) => "aay",
            Value::ExecEx(_) => "a(sasas)",
            Value::Exec(_) => "a(sasb)",
            Value::Binds(_) => "a(ssbt)",
            Value::DeviceLimits(_) => "a(st)",
            Value::SyscallFilter(..) => "(bas)",
            Value::Devices(_) => "a(ss)",
            Value::Fd(_) => "h",
        }
    }
}

/// Looks a property up by name; for tests and for readers of a built property list.
pub fn find<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
    props.iter().find(|p| p.name == name).map(|p| &p.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_goes_as_plain_exec_start_unless_it_needs_the_ex_form() {
        let cmd = |argv: &[&str], flags: &[&str]| ExecCommand {
            path: "/bin/sh".into(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
        };
        let plain = cmd(&["sh", "-c", "echo 100%"], &["no-env-expand"]).start_property();
        assert_eq!(
            (&*plain.name, plain.value.signature()),
            ("ExecStart", "a(sasb)")
        );
        // A `$` stays literal only through the flag, which plain ExecStart cannot carry.
        let dollar = cmd(&["sh", "-c", "echo $HOME"], &["no-env-expand"]).start_property();
        assert_eq!(
            (&*dollar.name, dollar.value.signature()),
            ("ExecStartEx", "a(sasas)")
        );
        let flagged = cmd(&["sh"], &["ignore-failure"]).start_property();
        assert_eq!(&*flagged.name, "ExecStartEx");
        let props = [plain, dollar];
        assert_eq!(start_command(&props).unwrap().argv[2], "echo 100%");
    }
}
