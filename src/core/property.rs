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

/// One command of `ExecStart` (`a(sasb)`): the program and its full argv (argv\[0\] included),
/// each string exactly as the process receives it.
///
/// systemd expands `$VAR` in `ExecStart` arguments at exec time, so on the wire every `$` of
/// the argv is doubled (`$$`, systemd's literal dollar, in every version): a `$` that reaches
/// the driver is literal, Nomad having interpolated the job already. `ExecStartEx` and its
/// `no-env-expand` flag would say the same, but systemd before v254 saves a transient unit's
/// `ExecStartEx=` in a form it cannot read back, so a `daemon-reload` turned such a unit
/// `bad-setting` and failed a start job still pending on it; systemd before v243 has no
/// `ExecStartEx` at all. `ExecStart` is read back cleanly by every version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    pub path: String,
    pub argv: Vec<String>,
}

impl ExecCommand {
    /// The `ExecStart` property that runs this command.
    pub fn start_property(self) -> Property {
        Property::new("ExecStart", Value::Exec(vec![self]))
    }

    /// The argv as `ExecStart` carries it: each `$` doubled so systemd passes it on literally.
    pub fn wire_argv(&self) -> Vec<String> {
        self.argv.iter().map(|a| a.replace('$', "$$")).collect()
    }
}

/// The command the `ExecStart` in `props` runs.
pub fn start_command(props: &[Property]) -> Option<&ExecCommand> {
    props.iter().find_map(|p| match (&*p.name, &p.value) {
        ("ExecStart", Value::Exec(cmds)) => cmds.first(),
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
    /// `a(sasb)`: `ExecStart`'s commands (see [`ExecCommand`] for how `$` travels).
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
    fn a_command_goes_as_exec_start_with_every_dollar_doubled() {
        let argv = ["sh", "-c", "echo $HOME ${X} $$ 100%", "$", "a$"];
        let cmd = ExecCommand {
            path: "/bin/sh".into(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
        };
        assert_eq!(
            cmd.wire_argv(),
            ["sh", "-c", "echo $$HOME $${X} $$$$ 100%", "$$", "a$$"]
        );
        let prop = cmd.clone().start_property();
        assert_eq!(
            (&*prop.name, prop.value.signature()),
            ("ExecStart", "a(sasb)")
        );
        assert_eq!(start_command(&[prop]), Some(&cmd));
    }
}
