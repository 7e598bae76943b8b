//! File-system views → `ReadOnlyPaths`, `ReadWritePaths`, `InaccessiblePaths`, and the root
//! the task runs in → `RootDirectory` / `RootImage`.
//!
//! A relative `root_directory` or `root_image` is under the task's `local/` directory, where
//! Nomad's `artifact` puts what it fetched; it must exist before the unit is created. The
//! task's `/alloc`, `/local` and `/secrets` are bound inside the new root too.

use std::path::{Path, PathBuf};

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::sandbox::Sandbox;
use crate::core::task::TaskSpec;

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
    if let Some(dir) = &sandbox.root_directory {
        let path = host_path(spec, "root_directory", dir)?;
        if !path.is_dir() {
            return Err(Error::invalid(
                "root_directory",
                format!("'{}' does not exist or is not a directory", path.display()),
            ));
        }
        props.push(Property::new("RootDirectory", Value::Str(text(&path))));
    }
    if let Some(image) = &sandbox.root_image {
        let path = host_path(spec, "root_image", image)?;
        if !path.is_file() {
            return Err(Error::invalid(
                "root_image",
                format!("'{}' does not exist or is not a file", path.display()),
            ));
        }
        props.push(Property::new("RootImage", Value::Str(text(&path))));
    }
    Ok(props)
}

/// Where a `root_directory` or `root_image` is on the host: as given when absolute, else
/// under the task's `local/`.
pub fn host_path(spec: &TaskSpec, setting: &str, path: &str) -> Result<PathBuf> {
    if path.starts_with('/') {
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
        let dirs = TaskDirs::nomad_layout(tmp.path(), "t");
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
