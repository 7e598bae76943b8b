//! Unit properties as systemd's D-Bus API types them.
//!
//! The mapping modules build [`Property`] values; only [`crate::core::systemd`] turns them into
//! D-Bus variants. Every value carries its D-Bus type, so a wrong type is caught by a unit test
//! instead of by systemd rejecting the whole `StartTransientUnit` call.

use std::os::fd::OwnedFd;
use std::sync::Arc;

/// One `(name, value)` pair of `StartTransientUnit`'s `a(sv)` argument.
#[derive(Debug, Clone)]
pub struct Property {
    pub name: &'static str,
    pub value: Value,
}

impl Property {
    pub fn new(name: &'static str, value: Value) -> Property {
        Property { name, value }
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

#[derive(Debug, Clone)]
pub enum Value {
    Bool(bool),
    I32(i32),
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
    /// `h`: a file descriptor handed to systemd (shared so properties stay cloneable).
    Fd(Arc<OwnedFd>),
}

impl Value {
    /// The D-Bus type signature systemd expects for this value.
    pub fn signature(&self) -> &'static str {
        match self {
            Value::Bool(_) => "b",
            Value::I32(_) => "i",
            Value::U64(_) => "t",
            Value::Str(_) => "s",
            Value::Strings(_) => "as",
            Value::Bytes(_) => "ay",
            Value::ByteStrings(_) => "aay",
            Value::ExecEx(_) => "a(sasas)",
            Value::Exec(_) => "a(sasb)",
            Value::Binds(_) => "a(ssbt)",
            Value::DeviceLimits(_) => "a(st)",
            Value::Fd(_) => "h",
        }
    }
}

/// Looks a property up by name; for tests and for readers of a built property list.
pub fn find<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
    props.iter().find(|p| p.name == name).map(|p| &p.value)
}
