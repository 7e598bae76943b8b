//! Tasks started by hand, outside Nomad, shaped the way Nomad would shape them: ids, the
//! `NOMAD_*` environment, and optionally a scratch allocation directory with Nomad's layout,
//! so that a task config can be debugged without a cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::alloc_fs;
use super::description::Origin;
use super::error::{Error, Result};
use super::sandbox::Sandbox;
use super::signal::Signal;
use super::task::{DEFAULT_KILL_TIMEOUT, MemoryMax, Resources, TaskDirs, TaskSpec, mount_points};

/// What an operator gives for a by-hand run. Empty ids are generated.
#[derive(Debug, Clone, Default)]
pub struct StandaloneTask {
    pub name: Option<String>,
    pub alloc_id: Option<String>,
    pub job_name: Option<String>,
    pub group_name: Option<String>,
    pub command: String,
    pub args: Vec<String>,
    /// Variables set on top of the `NOMAD_*` ones, in order; later ones win.
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_dir: Option<PathBuf>,
    pub resources: Resources,
    /// Create Nomad's directories for the task under `<root>/<alloc_id>` and bind them in.
    pub alloc_dir_root: Option<PathBuf>,
    pub kill_signal: Option<Signal>,
    pub kill_timeout: Option<Duration>,
    /// The task's sandbox; no policy applies to a by-hand run.
    pub sandbox: Sandbox,
}

impl StandaloneTask {
    /// Builds the task spec, creating the scratch directories if asked for.
    pub fn build(self) -> Result<TaskSpec> {
        self.build_with(true)
    }

    /// Builds the task spec as [`StandaloneTask::build`] does, with the scratch directories'
    /// paths but without creating them: for a dry run. [`task_dirs`] lists what `build`
    /// would create.
    pub fn plan(self) -> Result<TaskSpec> {
        self.build_with(false)
    }

    fn build_with(self, create: bool) -> Result<TaskSpec> {
        let alloc_id = self
            .alloc_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let name = match self.name {
            Some(n) => n,
            None => default_name(&self.command),
        };
        let job_name = self.job_name.unwrap_or_else(|| name.clone());
        let group_name = self.group_name.unwrap_or_else(|| name.clone());
        let instance = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let dirs = match &self.alloc_dir_root {
            Some(root) if create => Some(create_task_dirs(root, &alloc_id, &name)?),
            Some(root) => Some(task_dir_layout(root, &alloc_id, &name)?),
            None => None,
        };
        let mut env = nomad_env(&alloc_id, &name, &job_name, &group_name, &self.resources);
        if dirs.is_some() {
            env.insert("NOMAD_ALLOC_DIR".into(), mount_points::ALLOC.into());
            env.insert("NOMAD_TASK_DIR".into(), mount_points::LOCAL.into());
            env.insert("NOMAD_SECRETS_DIR".into(), mount_points::SECRETS.into());
        }
        env.extend(self.env);
        Ok(TaskSpec {
            id: format!("{alloc_id}/{name}/{instance}"),
            name,
            alloc_id,
            job_name,
            group_name,
            command: self.command,
            args: self.args,
            env,
            user: self.user,
            group: self.group,
            workload_user: None,
            working_dir: self.working_dir,
            resources: self.resources,
            dirs,
            dirs_at_host_paths: false,
            network_namespace: None,
            sandbox: self.sandbox,
            runtime: None,
            kill_signal: self.kill_signal.unwrap_or(Signal::TERM),
            kill_timeout: self.kill_timeout.unwrap_or(DEFAULT_KILL_TIMEOUT),
            host_unit: None,
            unit_env_allow: Vec::new(),
            origin: Origin::Cli,
        })
    }
}

fn default_name(command: &str) -> String {
    let base = Path::new(command)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned());
    base.filter(|b| !b.is_empty())
        .unwrap_or_else(|| "task".into())
}

/// The runtime variables Nomad gives every task.
fn nomad_env(
    alloc_id: &str,
    task: &str,
    job: &str,
    group: &str,
    res: &Resources,
) -> BTreeMap<String, String> {
    let short: String = alloc_id.chars().take(8).collect();
    let memory_max = match res.memory_max {
        MemoryMax::Mb(mb) => mb.to_string(),
        MemoryMax::Unset | MemoryMax::Unlimited => res.memory_mb.to_string(),
    };
    [
        ("NOMAD_ALLOC_ID", alloc_id.to_string()),
        ("NOMAD_SHORT_ALLOC_ID", short),
        ("NOMAD_ALLOC_NAME", format!("{job}.{group}[0]")),
        ("NOMAD_ALLOC_INDEX", "0".into()),
        ("NOMAD_TASK_NAME", task.to_string()),
        ("NOMAD_GROUP_NAME", group.to_string()),
        ("NOMAD_JOB_NAME", job.to_string()),
        ("NOMAD_JOB_ID", job.to_string()),
        ("NOMAD_NAMESPACE", "default".into()),
        ("NOMAD_CPU_LIMIT", res.cpu_mhz.to_string()),
        ("NOMAD_MEMORY_LIMIT", res.memory_mb.to_string()),
        ("NOMAD_MEMORY_MAX_LIMIT", memory_max),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Nomad's layout: `alloc/{logs,tmp,data}` shared, `<task>/{local,secrets,tmp,private}`, all
/// world-writable as Nomad makes them, so a task running as any user can use them. They are
/// created below `root` (the operator's, trusted) without following symlinks (see
/// [`alloc_fs`]): an earlier task may have left anything in an allocation directory it reuses.
fn create_task_dirs(root: &Path, alloc_id: &str, task: &str) -> Result<TaskDirs> {
    let dirs = task_dir_layout(root, alloc_id, task)?;
    std::fs::create_dir_all(root)
        .map_err(|e| Error::io(format!("cannot create {}", root.display()), e))?;
    let beneath = alloc_fs::Beneath::open("alloc_dir_root", root)?;
    for dir in &task_dirs(&dirs) {
        beneath.create_dir_all("name", dir, 0o777)?;
    }
    Ok(dirs)
}

fn task_dir_layout(root: &Path, alloc_id: &str, task: &str) -> Result<TaskDirs> {
    alloc_fs::component("alloc_id", alloc_id)?;
    TaskDirs::nomad_layout(&root.join(alloc_id), task)
}

/// Every directory [`StandaloneTask::build`] creates for `dirs`, parents first.
pub fn task_dirs(dirs: &TaskDirs) -> Vec<PathBuf> {
    let task_dir = dirs.task_dir().to_path_buf();
    vec![
        dirs.alloc.clone(),
        dirs.alloc.join("logs"),
        dirs.alloc.join("tmp"),
        dirs.alloc.join("data"),
        dirs.local.clone(),
        dirs.secrets.clone(),
        task_dir.join("tmp"),
        task_dir.join("private"),
    ]
}

/// The task [`super::engine::Engine::destroy_with_task_dirs`] removes.
#[derive(Debug, Clone, Copy)]
pub enum Destroyed<'a> {
    /// A task named by its unit.
    Named(&'a super::unit_name::UnitName),
    /// The task this caller started.
    Started(&'a super::engine::Started),
}

impl super::engine::Engine {
    /// Removes a task's unit ([`super::engine::Engine::destroy`], or
    /// [`super::engine::Engine::destroy_started`] for the task this caller started) and then
    /// the directories [`StandaloneTask::build`] created for it, as the unit records them
    /// (read before it goes; see [`remove_task_dirs`]). With `made_dirs` false the caller
    /// knows none were made, and nothing is read.
    pub async fn destroy_with_task_dirs(&self, task: Destroyed<'_>, made_dirs: bool) -> Result<()> {
        let unit = match task {
            Destroyed::Named(unit) => unit,
            Destroyed::Started(started) => &started.unit,
        };
        let task_dir = match made_dirs {
            true => self.created_task_dir(unit).await?,
            false => None,
        };
        match task {
            Destroyed::Named(unit) => self.destroy(unit).await?,
            Destroyed::Started(started) => self.destroy_started(started).await?,
        }
        match task_dir {
            Some(dir) => remove_task_dirs(&dir),
            None => Ok(()),
        }
    }

    /// The task directory [`StandaloneTask::build`] created for the task of `unit`, as its
    /// unit records it; `None` for a task without one, and for every task Nomad started.
    pub async fn created_task_dir(
        &self,
        unit: &super::unit_name::UnitName,
    ) -> Result<Option<PathBuf>> {
        let snapshot = self
            .systemd()
            .partial_snapshot(unit, &["Description"], &["LogExtraFields"])
            .await?;
        let ours = super::description::parse(&snapshot.description)
            .is_some_and(|i| i.origin == Origin::Cli);
        Ok(snapshot
            .log_fields
            .get(super::mapping::logging::FIELD_TASK_DIR)
            .filter(|d| ours && !d.is_empty())
            .map(PathBuf::from))
    }
}

/// Removes the task directory `task_dir` (`<root>/<alloc_id>/<task>`, as recorded on the
/// unit of a task [`StandaloneTask::build`] created it for, see
/// [`crate::core::mapping::logging::FIELD_TASK_DIR`]) with everything the task left in it,
/// and then the allocation directory too when no other task's directory is left in it.
///
/// `<root>/<alloc_id>` is the operator's; everything below it is the task's, so nothing there
/// is followed: removal goes through [`alloc_fs::Beneath::remove_all`], which unlinks a
/// planted symlink rather than the directory it points at. Call it once the task's processes
/// are gone. A directory already gone is no error.
pub fn remove_task_dirs(task_dir: &Path) -> Result<()> {
    if !task_dir.is_absolute() {
        return Err(Error::invalid(
            "task_dir",
            format!("'{}' is not an absolute path", task_dir.display()),
        ));
    }
    let (Some(alloc_dir), Some(name)) = (task_dir.parent(), task_dir.file_name()) else {
        return Err(Error::invalid(
            "task_dir",
            format!("'{}' is not a task directory", task_dir.display()),
        ));
    };
    let name = alloc_fs::component("task_dir", &name.to_string_lossy())?.to_string();
    if !alloc_dir.is_dir() {
        return Ok(());
    }
    let beneath = alloc_fs::Beneath::open("task_dir", alloc_dir)?;
    beneath.remove_all("task_dir", Path::new(&name))?;
    // The shared alloc/ goes with the last task of the allocation.
    let others = std::fs::read_dir(alloc_dir)
        .map_err(|e| Error::io(format!("cannot list {}", alloc_dir.display()), e))?
        .filter_map(|entry| entry.ok())
        .any(|entry| entry.file_name() != "alloc");
    if others {
        return Ok(());
    }
    beneath.remove_all("task_dir", Path::new("alloc"))?;
    drop(beneath);
    match std::fs::remove_dir(alloc_dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // Something new arrived meanwhile (another task of the allocation): it stays.
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) => Err(Error::io(
            format!("cannot remove {}", alloc_dir.display()),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_task_dirs_unlinks_planted_symlinks_and_keeps_their_targets() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        let spec = StandaloneTask {
            command: "/bin/true".into(),
            name: Some("web".into()),
            alloc_id: Some("a1".into()),
            alloc_dir_root: Some(root.path().to_path_buf()),
            ..Default::default()
        }
        .build()
        .unwrap();
        let dirs = spec.dirs.unwrap();
        std::os::unix::fs::symlink(outside.path(), dirs.local.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dirs.alloc.join("data/escape")).unwrap();
        remove_task_dirs(dirs.task_dir()).unwrap();
        assert!(
            !root.path().join("a1").exists(),
            "the allocation directory goes too"
        );
        assert!(outside.path().join("keep").exists());
        remove_task_dirs(dirs.task_dir()).unwrap();
    }

    #[test]
    fn ids_and_nomad_env_are_filled_in() {
        let spec = StandaloneTask {
            command: "/bin/sleep".into(),
            env: vec![("NOMAD_JOB_NAME".into(), "override".into())],
            ..Default::default()
        }
        .build()
        .unwrap();
        assert_eq!(spec.name, "sleep");
        assert_eq!(spec.id.split('/').count(), 3);
        assert!(spec.id.starts_with(&spec.alloc_id));
        assert_eq!(spec.env["NOMAD_ALLOC_ID"], spec.alloc_id);
        assert_eq!(spec.env["NOMAD_JOB_NAME"], "override", "user env wins");
        assert!(!spec.env.contains_key("NOMAD_TASK_DIR"));
        assert_eq!(spec.kill_signal, Signal::TERM);
    }

    #[test]
    fn scratch_dirs_follow_nomads_layout() {
        let root = tempfile::tempdir().unwrap();
        let spec = StandaloneTask {
            name: Some("web".into()),
            alloc_id: Some("a1".into()),
            command: "/bin/true".into(),
            alloc_dir_root: Some(root.path().into()),
            ..Default::default()
        }
        .build()
        .unwrap();
        let dirs = spec.dirs.unwrap();
        assert_eq!(dirs.local, root.path().join("a1/web/local"));
        assert!(dirs.alloc.join("logs").is_dir() && dirs.secrets.is_dir());
        assert_eq!(spec.env["NOMAD_TASK_DIR"], "/local");
    }

    #[test]
    fn a_task_name_cannot_escape_the_alloc_dir() {
        let root = tempfile::tempdir().unwrap();
        let task = StandaloneTask {
            name: Some("../evil".into()),
            command: "/bin/true".into(),
            alloc_dir_root: Some(root.path().into()),
            ..Default::default()
        };
        assert!(task.build().unwrap_err().to_string().contains("name"));
    }

    #[test]
    fn a_planted_symlink_in_a_reused_alloc_dir_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a1/web")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("a1/web/local")).unwrap();
        let task = StandaloneTask {
            name: Some("web".into()),
            alloc_id: Some("a1".into()),
            command: "/bin/true".into(),
            alloc_dir_root: Some(root.path().into()),
            ..Default::default()
        };
        let e = task.build().unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
