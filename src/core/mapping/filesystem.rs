//! Task directories → `BindPaths`, and the working directory.
//!
//! Nomad's `alloc/`, `local/` and `secrets/` are bind-mounted at `/alloc`, `/local` and
//! `/secrets` inside the unit (Nomad's "image" file-system isolation), which is where Nomad's
//! `NOMAD_ALLOC_DIR`, `NOMAD_TASK_DIR` and `NOMAD_SECRETS_DIR` point for such drivers; with
//! `dirs_at_host_paths` (a user service manager) they are not bound and the task works in its
//! host `local/` directory, its environment pointing at the host paths. The
//! binds of Nomad's volume mounts, devices and DNS ([`super::mounts`]) join them, read-only
//! ones in `BindReadOnlyPaths`.

use std::path::Path;

use super::mounts;
use crate::core::alloc_fs::{Beneath, Kind};
use crate::core::error::{Error, Result};
use crate::core::property::{BindMount, Property, Value};
use crate::core::task::{TaskSpec, mount_points};

pub fn properties(spec: &TaskSpec) -> Result<Vec<Property>> {
    properties_with(spec, Dirs::Present)
}

/// Whether the task's directories are there to be checked when the task is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dirs {
    /// They exist (Nomad made them, or the CLI did): each bind is checked to be a real
    /// directory below the allocation directory.
    Present,
    /// A dry run of a start that would create them first: the binds are planned unchecked.
    CreatedByTheStart,
}

/// [`properties`], with the task directories checked or not (see [`Dirs`]).
pub fn properties_with(spec: &TaskSpec, dirs_state: Dirs) -> Result<Vec<Property>> {
    let mut props = Vec::new();
    let mut binds = Vec::new();
    if let Some(dirs) = spec.dirs.as_ref().filter(|_| !spec.dirs_at_host_paths) {
        let beneath = match dirs_state {
            Dirs::Present => Some(Beneath::open("task directories", dirs.alloc_dir())?),
            Dirs::CreatedByTheStart => None,
        };
        binds = [
            (&dirs.alloc, mount_points::ALLOC),
            (&dirs.local, mount_points::LOCAL),
            (&dirs.secrets, mount_points::SECRETS),
        ]
        .into_iter()
        .map(|(source, destination)| bind(beneath.as_ref(), source, destination))
        .collect::<Result<Vec<_>>>()?;
    }
    let extra = mounts::binds(spec)?;
    binds.extend(extra.read_write);
    if !binds.is_empty() {
        props.push(Property::new("BindPaths", Value::Binds(binds)));
    }
    if !extra.read_only.is_empty() {
        props.push(Property::new(
            "BindReadOnlyPaths",
            Value::Binds(extra.read_only),
        ));
    }
    let working_dir = match (&spec.working_dir, &spec.dirs) {
        (Some(dir), _) => Some(dir.to_string_lossy().into_owned()),
        (None, Some(dirs)) if spec.dirs_at_host_paths => {
            Some(dirs.local.to_string_lossy().into_owned())
        }
        (None, Some(_)) => Some(mount_points::LOCAL.to_string()),
        (None, None) => None,
    };
    if let Some(dir) = working_dir {
        if !dir.starts_with('/') || dir.split('/').any(|c| c == "..") || dir.contains('\0') {
            return Err(Error::invalid(
                "work_dir",
                format!(
                    "'{}' must be an absolute path without '..'",
                    dir.escape_debug()
                ),
            ));
        }
        props.push(Property::new("WorkingDirectory", Value::Str(dir)));
    }
    Ok(props)
}

/// A task directory's bind: it must be a real directory below the allocation directory,
/// reached without symlinks (a `local/` the job replaced by a symlink to `/etc` is refused,
/// not bound).
fn bind(beneath: Option<&Beneath>, source: &Path, destination: &str) -> Result<BindMount> {
    let text = source.to_string_lossy();
    if !source.is_absolute() || text.split('/').any(|c| c == "..") {
        return Err(Error::invalid(
            "task directories",
            format!("'{text}' must be an absolute path without '..'"),
        ));
    }
    if let Some(beneath) = beneath {
        beneath
            .expect("task directories", source, Kind::Dir)
            .map_err(|e| match e {
                Error::InvalidConfig { setting, reason } => {
                    Error::invalid(setting, format!("{reason} (for {destination})"))
                }
                other => other,
            })?;
    }
    Ok(BindMount {
        source: text.into_owned(),
        destination: destination.to_string(),
        ignore_missing: false,
        recursive: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;
    use crate::core::task::TaskDirs;

    #[test]
    fn task_dirs_are_bound_and_local_is_the_default_workdir() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::nomad_layout(tmp.path(), "t").unwrap();
        for d in [&dirs.alloc, &dirs.local, &dirs.secrets] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut spec = test_spec();
        spec.dirs = Some(dirs.clone());
        let props = properties(&spec).unwrap();
        let Some(Value::Binds(binds)) = find(&props, "BindPaths") else {
            panic!()
        };
        let pairs: Vec<_> = binds
            .iter()
            .map(|b| (b.source.clone(), b.destination.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                (dirs.alloc.display().to_string(), "/alloc"),
                (dirs.local.display().to_string(), "/local"),
                (dirs.secrets.display().to_string(), "/secrets"),
            ]
        );
        assert_eq!(find(&props, "BindPaths").unwrap().signature(), "a(ssbt)");
        assert!(matches!(find(&props, "WorkingDirectory"), Some(Value::Str(d)) if d == "/local"));
    }

    #[test]
    fn a_symlinked_task_dir_is_refused_not_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::nomad_layout(tmp.path(), "t").unwrap();
        for d in [&dirs.alloc, &dirs.secrets] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::symlink("/etc", &dirs.local).unwrap();
        let mut spec = test_spec();
        spec.dirs = Some(dirs);
        let e = properties(&spec).unwrap_err().to_string();
        assert!(
            e.contains("task directories") && e.contains("symbolic link") && e.contains("/local"),
            "{e}"
        );
    }

    #[test]
    fn unbound_task_dirs_are_used_at_their_host_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::nomad_layout(tmp.path(), "t").unwrap();
        let mut spec = test_spec();
        spec.dirs = Some(dirs.clone());
        spec.dirs_at_host_paths = true;
        spec.env.insert("NOMAD_TASK_DIR".into(), "/local".into());
        let props = properties(&spec).unwrap();
        assert!(find(&props, "BindPaths").is_none());
        assert!(
            matches!(find(&props, "WorkingDirectory"), Some(Value::Str(d)) if *d == dirs.local.display().to_string())
        );
        assert_eq!(
            spec.unit_env()["NOMAD_TASK_DIR"],
            dirs.local.display().to_string()
        );
    }

    #[test]
    fn missing_dirs_and_relative_workdirs_are_refused() {
        let mut spec = test_spec();
        spec.dirs = Some(TaskDirs::nomad_layout(Path::new("/nonexistent-xyz"), "t").unwrap());
        assert!(
            properties(&spec)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let mut spec = test_spec();
        spec.working_dir = Some("rel/dir".into());
        assert!(properties(&spec).is_err());
        spec.working_dir = Some("/a/../b".into());
        assert!(properties(&spec).is_err());
    }
}
