//! File-system views → `ReadOnlyPaths`, `ReadWritePaths`, `InaccessiblePaths`, and the root
//! the task runs in → `RootDirectory` / `RootImage`.
//!
//! A relative `root_directory` or `root_image` is under the task's `local/` directory, where
//! Nomad's `artifact` puts what it fetched; it must exist before the unit is created. The
//! task's `/alloc`, `/local` and `/secrets` are bound inside the new root too.

use std::path::{Path, PathBuf};

use crate::core::alloc_fs::{Beneath, Kind};
use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::sandbox::Sandbox;
use crate::core::task::{TaskSpec, mount_points};

pub fn properties(spec: &TaskSpec) -> Result<Vec<Property>> {
    let sandbox = &spec.sandbox;
    let mut props = Vec::new();
    for (name, list) in [
        ("ReadOnlyPaths", &sandbox.read_only_paths),
        ("ReadWritePaths", &sandbox.read_write_paths),
        ("InaccessiblePaths", &sandbox.inaccessible_paths),
    ] {
        if !list.is_empty() {
            props.push(Property::new(name, Value::Strings(list.clone())));
        }
    }
    for (setting, property, path, kind) in [
        (
            "root_directory",
            "RootDirectory",
            &sandbox.root_directory,
            Kind::Dir,
        ),
        ("root_image", "RootImage", &sandbox.root_image, Kind::File),
    ] {
        if let Some(path) = path {
            let path = checked_root(spec, setting, path, kind)?;
            props.push(Property::new(property, Value::Str(text(&path))));
        }
    }
    Ok(props)
}

/// The host path of a `root_directory` (`kind` a directory) or `root_image` (a regular
/// file), checked to be what it should be and reached without any symlink: one below the
/// allocation directory is the job's, and systemd would follow it as root (a symlinked root
/// used to fail only when the unit started, with exit 226).
fn checked_root(spec: &TaskSpec, setting: &str, path: &str, kind: Kind) -> Result<PathBuf> {
    let host = host_path(spec, setting, path)?;
    let within = match &spec.dirs {
        Some(dirs) if host.starts_with(dirs.alloc_dir()) => dirs.alloc_dir().to_path_buf(),
        _ => PathBuf::from("/"),
    };
    Beneath::open(setting, &within)?
        .expect(setting, &host, kind)
        .map_err(|e| match e {
            Error::InvalidConfig { reason, .. } if reason.contains("does not exist") => {
                Error::invalid(
                    setting,
                    format!(
                        "'{}' does not exist or is not {}",
                        host.display(),
                        kind_name(kind)
                    ),
                )
            }
            other => other,
        })?;
    Ok(host)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Dir => "a directory",
        _ => "a file",
    }
}

/// Where a `root_directory` or `root_image` is on the host: under the task's `local/` when
/// relative; an absolute path in the task's `/alloc`, `/local` or `/secrets` is in those
/// directories on the host; other absolute paths are host paths. A `..` is refused.
pub fn host_path(spec: &TaskSpec, setting: &str, path: &str) -> Result<PathBuf> {
    if path.split('/').any(|c| c == "..") || path.contains('\0') {
        return Err(Error::invalid(
            setting,
            format!("'{}' must not contain '..' or NUL", path.escape_debug()),
        ));
    }
    if path.starts_with('/') {
        if let Some(dirs) = &spec.dirs {
            for (mount_point, host) in [
                (mount_points::ALLOC, &dirs.alloc),
                (mount_points::LOCAL, &dirs.local),
                (mount_points::SECRETS, &dirs.secrets),
            ] {
                if let Ok(rest) = Path::new(path).strip_prefix(mount_point) {
                    return Ok(host.join(rest));
                }
            }
        }
        return Ok(PathBuf::from(path));
    }
    match &spec.dirs {
        Some(dirs) => Ok(dirs.local.join(path)),
        None => Err(Error::invalid(
            setting,
            format!("'{path}' is relative, but the task has no local/ directory to find it in"),
        )),
    }
}

/// Whether the sandbox replaces the host's root file system.
pub fn has_own_root(sandbox: &Sandbox) -> bool {
    sandbox.root_directory.is_some() || sandbox.root_image.is_some()
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;
    use crate::core::task::TaskDirs;

    #[test]
    fn path_lists_are_passed_as_string_arrays() {
        let mut spec = test_spec();
        spec.sandbox.read_only_paths = vec!["/etc".into()];
        spec.sandbox.read_write_paths = vec!["-/var/lib/app".into()];
        spec.sandbox.inaccessible_paths = vec!["/root".into()];
        let props = properties(&spec).unwrap();
        assert_eq!(props.len(), 3);
        assert!(props.iter().all(|p| p.value.signature() == "as"));
        assert!(matches!(
            find(&props, "ReadWritePaths"),
            Some(Value::Strings(v)) if v == &["-/var/lib/app"]
        ));
        assert!(properties(&test_spec()).unwrap().is_empty());
    }

    #[test]
    fn a_relative_root_is_under_local_and_must_exist() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::nomad_layout(tmp.path(), "t").unwrap();
        std::fs::create_dir_all(dirs.local.join("rootfs")).unwrap();
        std::fs::write(dirs.local.join("app.raw"), b"").unwrap();
        let mut spec = test_spec();
        spec.dirs = Some(dirs.clone());
        spec.sandbox.root_directory = Some("rootfs".into());
        let props = properties(&spec).unwrap();
        assert!(matches!(
            find(&props, "RootDirectory"),
            Some(Value::Str(p)) if *p == dirs.local.join("rootfs").display().to_string()
        ));
        spec.sandbox.root_directory = None;
        spec.sandbox.root_image = Some("app.raw".into());
        assert_eq!(
            find(&properties(&spec).unwrap(), "RootImage")
                .unwrap()
                .signature(),
            "s"
        );
        spec.sandbox.root_image = Some("missing.raw".into());
        let e = properties(&spec).unwrap_err().to_string();
        assert!(
            e.contains("root_image") && e.contains("does not exist"),
            "{e}"
        );
        // A symlink planted in local/ is refused, pointing inside or out.
        std::os::unix::fs::symlink("rootfs", dirs.local.join("link")).unwrap();
        std::os::unix::fs::symlink("/", dirs.local.join("host")).unwrap();
        spec.sandbox.root_image = None;
        for link in ["link", "host", "/local/host"] {
            spec.sandbox.root_directory = Some(link.into());
            let e = properties(&spec).unwrap_err().to_string();
            assert!(
                e.contains("root_directory") && e.contains("symbolic link"),
                "{link}: {e}"
            );
        }
        spec.sandbox.root_directory = Some("/local/rootfs".into());
        assert!(properties(&spec).is_ok());
        spec.sandbox.root_directory = Some("rootfs/../../..".into());
        assert!(properties(&spec).unwrap_err().to_string().contains(".."));
        spec.sandbox.root_directory = None;
        spec.dirs = None;
        spec.sandbox.root_image = Some("app.raw".into());
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("no local/")
        );
    }
}
