//! Nomad's volume mounts, devices and DNS → bind mounts and `DeviceAllow`.
//!
//! - a mount (`volume_mount`, CSI) binds its host path at its task path, read-only when Nomad
//!   says so;
//! - a device is bound at its task path and allowed in the unit's device cgroup with its
//!   permissions (`rwm` when Nomad gives none);
//! - a DNS config becomes a `resolv.conf` in the task's directory (see [`resolv_conf`]),
//!   bound read-only at `/etc/resolv.conf`.

use std::path::{Path, PathBuf};

use super::paths::has_own_root;
use crate::core::alloc_fs::{Beneath, Kind};
use crate::core::error::{Error, Result};
use crate::core::property::{BindMount, DeviceAccess, Property, Value};
use crate::core::sandbox::Dns;
use crate::core::task::{TaskSpec, mount_points};

/// Where a generated resolv.conf appears inside the task.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The task's extra bind mounts, read-write and read-only.
#[derive(Debug, Default)]
pub struct Binds {
    pub read_write: Vec<BindMount>,
    pub read_only: Vec<BindMount>,
}

/// The bind mounts for the task's mounts, devices and DNS. The resolv.conf itself is written
/// by the caller (see [`resolv_conf_file`]).
pub fn binds(spec: &TaskSpec) -> Result<Binds> {
    let mut binds = Binds::default();
    for m in &spec.sandbox.mounts {
        check_path("mounts", &m.host_path)?;
        check_path("mounts", &m.task_path)?;
        check_destination(spec, "mounts", &m.host_path, &m.task_path)?;
        let bind = bind(&m.host_path, &m.task_path);
        if m.read_only {
            binds.read_only.push(bind);
        } else {
            binds.read_write.push(bind);
        }
    }
    for d in &spec.sandbox.devices {
        check_path("devices", &d.host_path)?;
        check_path("devices", &d.task_path)?;
        check_destination(spec, "devices", &d.host_path, &d.task_path)?;
        binds.read_write.push(bind(&d.host_path, &d.task_path));
    }
    if let Some((path, _)) = resolv_conf_file(spec)? {
        binds
            .read_only
            .push(bind(&path.to_string_lossy(), RESOLV_CONF));
    }
    Ok(binds)
}

/// `DeviceAllow` for the task's devices; nothing when it has none.
pub fn properties(spec: &TaskSpec) -> Result<Vec<Property>> {
    let devices = spec
        .sandbox
        .devices
        .iter()
        .map(|d| {
            let access = if d.permissions.is_empty() {
                "rwm".to_string()
            } else {
                d.permissions.clone()
            };
            if !access.chars().all(|c| "rwm".contains(c)) {
                return Err(Error::invalid(
                    "devices",
                    format!(
                        "permissions '{access}' for {} must be made of r, w and m",
                        d.host_path
                    ),
                ));
            }
            Ok(DeviceAccess {
                device: d.host_path.clone(),
                access,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Property::new("DeviceAllow", Value::Devices(devices))])
}

/// The generated resolv.conf's host path and contents, when the task has a DNS config.
pub fn resolv_conf_file(spec: &TaskSpec) -> Result<Option<(PathBuf, String)>> {
    let Some(dns) = &spec.sandbox.dns else {
        return Ok(None);
    };
    let Some(task_dir) = spec.dirs.as_ref().and_then(|d| d.local.parent()) else {
        return Err(Error::invalid(
            "dns",
            "a DNS config needs the task's directory to write its resolv.conf into",
        ));
    };
    Ok(Some((task_dir.join("resolv.conf"), resolv_conf(dns)?)))
}

/// resolv.conf(5) text for `dns`. Entries with whitespace or control characters are refused:
/// they would break the file's line format.
pub fn resolv_conf(dns: &Dns) -> Result<String> {
    let words = dns.servers.iter().chain(&dns.searches).chain(&dns.options);
    if let Some(bad) = words
        .clone()
        .find(|w| w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(Error::invalid(
            "dns",
            format!("'{}' is not a single word", bad.escape_debug()),
        ));
    }
    let mut text = String::new();
    for server in &dns.servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !dns.searches.is_empty() {
        text.push_str(&format!("search {}\n", dns.searches.join(" ")));
    }
    if !dns.options.is_empty() {
        text.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    Ok(text)
}

fn bind(source: &str, destination: &str) -> BindMount {
    BindMount {
        source: source.to_string(),
        destination: destination.to_string(),
        ignore_missing: false,
        recursive: true,
    }
}

/// A bind's destination is in the task's mount namespace, which is the host's root file
/// system (unless the task has its own root): systemd creates a missing destination there, on
/// the host, and leaves it behind (`/etc/nologin` would lock users out). So a destination
/// must be under the task's bound `/alloc`, `/local` or `/secrets` (created inside the
/// allocation directory), inside the task's own root, or already exist on the host, reached
/// without symlinks (systemd would follow one and create its target).
fn check_destination(
    spec: &TaskSpec,
    setting: &str,
    source: &str,
    destination: &str,
) -> Result<()> {
    if has_own_root(&spec.sandbox) {
        return Ok(());
    }
    let bound = spec.dirs.is_some() && !spec.dirs_at_host_paths;
    let in_task_dirs = [
        mount_points::ALLOC,
        mount_points::LOCAL,
        mount_points::SECRETS,
    ]
    .iter()
    .any(|d| Path::new(destination).starts_with(d));
    if bound && in_task_dirs {
        return Ok(());
    }
    match Beneath::open(setting, Path::new("/"))?.expect(setting, Path::new(destination), Kind::Any)
    {
        Ok(_) => Ok(()),
        Err(Error::InvalidConfig { reason, .. }) => Err(Error::invalid(
            setting,
            format!(
                "cannot bind '{source}' at '{destination}': {reason}; a destination must \
                 exist on the host (systemd would create it there and leave it behind) or be \
                 under /alloc, /local or /secrets"
            ),
        )),
        Err(e) => Err(e),
    }
}

fn check_path(setting: &str, path: &str) -> Result<()> {
    let p = Path::new(path);
    if !p.is_absolute() || path.split('/').any(|c| c == "..") || path.contains(['\0', ':']) {
        return Err(Error::invalid(
            setting,
            format!(
                "'{}' must be an absolute path without '..' or ':'",
                path.escape_debug()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;
    use crate::core::sandbox::{Device, Mount};
    use crate::core::task::TaskDirs;

    #[test]
    fn mounts_are_bound_with_their_read_only_flag() {
        let mut spec = test_spec();
        spec.sandbox.mounts = vec![
            Mount {
                host_path: "/srv/data".into(),
                task_path: "/local/data".into(),
                read_only: true,
            },
            Mount {
                host_path: "/srv/scratch".into(),
                task_path: "/alloc/scratch".into(),
                read_only: false,
            },
        ];
        spec.dirs = Some(TaskDirs::nomad_layout(Path::new("/a"), "t").unwrap());
        let b = binds(&spec).unwrap();
        assert_eq!(b.read_only.len(), 1);
        assert_eq!(b.read_only[0].destination, "/local/data");
        assert_eq!(b.read_write[0].source, "/srv/scratch");
        spec.sandbox.mounts[0].task_path = "data".into();
        assert!(binds(&spec).unwrap_err().to_string().contains("mounts"));
    }

    #[test]
    fn a_destination_is_never_created_on_the_host() {
        let mut spec = test_spec();
        spec.dirs = Some(TaskDirs::nomad_layout(Path::new("/a"), "t").unwrap());
        for (at, ok) in [
            ("/etc/nologin-nomad-systemd-test", false),
            ("/usr", true),
            ("/local/x/y", true),
            ("/secrets/x", true),
            ("/localx", false),
        ] {
            spec.sandbox.mounts = vec![Mount {
                host_path: "/srv".into(),
                task_path: at.into(),
                read_only: false,
            }];
            match binds(&spec) {
                Ok(_) => assert!(ok, "{at} was allowed"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(!ok, "{at}: {e}");
                    assert!(
                        e.contains("mounts") && e.contains(at) && e.contains("exist"),
                        "{e}"
                    );
                }
            }
        }
        // Unbound task dirs (a user manager) are not there to create the destination in.
        spec.dirs_at_host_paths = true;
        spec.sandbox.mounts[0].task_path = "/local/x".into();
        assert!(binds(&spec).is_err());
        spec.sandbox.mounts.clear();
        spec.sandbox.devices = vec![Device {
            host_path: "/dev/null".into(),
            task_path: "/dev/nomad-systemd-test".into(),
            permissions: String::new(),
        }];
        assert!(binds(&spec).unwrap_err().to_string().contains("devices"));
    }

    #[test]
    fn devices_are_bound_and_allowed() {
        let mut spec = test_spec();
        spec.sandbox.devices = vec![Device {
            host_path: "/dev/fuse".into(),
            task_path: "/dev/null".into(),
            permissions: String::new(),
        }];
        let props = properties(&spec).unwrap();
        let allow = find(&props, "DeviceAllow").unwrap();
        assert_eq!(allow.signature(), "a(ss)");
        assert!(
            matches!(allow, Value::Devices(d) if d[0].device == "/dev/fuse" && d[0].access == "rwm")
        );
        assert_eq!(binds(&spec).unwrap().read_write[0].destination, "/dev/null");
        spec.sandbox.devices[0].permissions = "rx".into();
        assert!(properties(&spec).is_err());
        assert!(properties(&test_spec()).unwrap().is_empty());
    }

    #[test]
    fn dns_becomes_a_resolv_conf_in_the_task_dir() {
        let dns = Dns {
            servers: vec!["10.0.0.2".into(), "1.1.1.1".into()],
            searches: vec!["svc.local".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(&dns).unwrap(),
            "nameserver 10.0.0.2\nnameserver 1.1.1.1\nsearch svc.local\noptions ndots:2\n"
        );
        let mut spec = test_spec();
        spec.sandbox.dns = Some(dns);
        assert!(binds(&spec).unwrap_err().to_string().contains("dns"));
        spec.dirs = Some(TaskDirs::nomad_layout(Path::new("/a"), "t").unwrap());
        let (path, _) = resolv_conf_file(&spec).unwrap().unwrap();
        assert_eq!(path, Path::new("/a/t/resolv.conf"));
        let b = binds(&spec).unwrap();
        assert_eq!(b.read_only[0].destination, "/etc/resolv.conf");
        let bad = Dns {
            servers: vec!["1.1.1.1\nnameserver 6.6.6.6".into()],
            ..Dns::default()
        };
        assert!(resolv_conf(&bad).is_err());
    }
}
