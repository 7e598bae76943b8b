//! How a task is fenced in: the sandbox settings of a [`crate::core::TaskSpec`], as plain
//! data. The job's `config` block fills most of it ([`crate::core::driver_config`]); Nomad's
//! volume mounts, devices and DNS come from Nomad itself. Who may ask for what is decided
//! before a `Sandbox` is built (the plugin's policy); [`crate::core::mapping`] turns it into
//! unit properties without asking again.

use serde::{Deserialize, Serialize};

use super::capability::Capabilities;

/// A task's sandbox. [`Sandbox::default`] is what a task gets when nobody says anything:
/// a private `/tmp` and `NoNewPrivileges`, the rest of the host visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sandbox {
    /// Run as an ephemeral user systemd allocates for the unit (`DynamicUser`).
    pub dynamic_user: bool,
    pub protect_system: ProtectSystem,
    pub protect_home: ProtectHome,
    pub private_tmp: bool,
    pub private_devices: bool,
    pub no_new_privileges: bool,
    pub capabilities: Capabilities,
    /// systemd's syscall names and `@groups`; all allowed, or (each with a leading `~`) all
    /// denied.
    pub system_call_filter: Vec<String>,
    /// Paths as the task sees them; a leading `-` ignores a missing path, as in unit files.
    pub read_only_paths: Vec<String>,
    pub read_write_paths: Vec<String>,
    pub inaccessible_paths: Vec<String>,
    /// A directory tree to run in: absolute on the host, or relative to the task's `local/`.
    pub root_directory: Option<String>,
    /// A disk image to run in (a portable-service image), located like `root_directory`.
    pub root_image: Option<String>,
    /// Host paths bound into the task (Nomad's `volume_mount`s and CSI volumes).
    pub mounts: Vec<Mount>,
    /// Host devices made available to the task.
    pub devices: Vec<Device>,
    /// Name servers for a generated `/etc/resolv.conf`; `None` keeps the host's.
    pub dns: Option<Dns>,
    /// Further unit properties the job spelled out, typed.
    pub properties: Vec<ExtraProperty>,
}

impl Default for Sandbox {
    fn default() -> Sandbox {
        Sandbox {
            dynamic_user: false,
            protect_system: ProtectSystem::No,
            protect_home: ProtectHome::No,
            private_tmp: true,
            private_devices: false,
            no_new_privileges: true,
            capabilities: Capabilities::default(),
            system_call_filter: Vec::new(),
            read_only_paths: Vec::new(),
            read_write_paths: Vec::new(),
            inaccessible_paths: Vec::new(),
            root_directory: None,
            root_image: None,
            mounts: Vec::new(),
            devices: Vec::new(),
            dns: None,
            properties: Vec::new(),
        }
    }
}

/// systemd's `ProtectSystem=`, weakest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtectSystem {
    #[default]
    No,
    /// `/usr` and `/boot` read-only.
    Yes,
    /// And `/etc`.
    Full,
    /// The whole file system read-only but for `/dev`, `/proc`, `/sys` and the task's binds.
    Strict,
}

/// systemd's `ProtectHome=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtectHome {
    #[default]
    No,
    /// `/home`, `/root` and `/run/user` empty and inaccessible.
    Yes,
    ReadOnly,
    /// Empty tmpfs over them.
    Tmpfs,
}

impl ProtectSystem {
    /// The job's spelling, which is systemd's.
    pub fn parse(s: &str) -> Option<ProtectSystem> {
        Some(match s {
            "no" | "false" => ProtectSystem::No,
            "yes" | "true" => ProtectSystem::Yes,
            "full" => ProtectSystem::Full,
            "strict" => ProtectSystem::Strict,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtectSystem::No => "no",
            ProtectSystem::Yes => "yes",
            ProtectSystem::Full => "full",
            ProtectSystem::Strict => "strict",
        }
    }
}

impl ProtectHome {
    pub fn parse(s: &str) -> Option<ProtectHome> {
        Some(match s {
            "no" | "false" => ProtectHome::No,
            "yes" | "true" => ProtectHome::Yes,
            "read-only" => ProtectHome::ReadOnly,
            "tmpfs" => ProtectHome::Tmpfs,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtectHome::No => "no",
            ProtectHome::Yes => "yes",
            ProtectHome::ReadOnly => "read-only",
            ProtectHome::Tmpfs => "tmpfs",
        }
    }
}

/// A host path bound into the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub host_path: String,
    pub task_path: String,
    pub read_only: bool,
}

/// A host device node made available to the task, at `task_path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub host_path: String,
    pub task_path: String,
    /// cgroup device access: some of `r`, `w`, `m`.
    pub permissions: String,
}

/// Nomad's `dns { servers searches options }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// One unit property a job set through `properties`, with its D-Bus type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraProperty {
    pub name: String,
    pub value: TypedValue,
}

/// A value of one of the simple D-Bus types `properties` can carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypedValue {
    Bool(bool),
    I32(i32),
    U32(u32),
    U64(u64),
    Str(String),
    Strings(Vec<String>),
}
