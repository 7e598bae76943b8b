//! Nomad's dynamic workload users on this host: uid N and gid N, named `nomad-<N>`.
//!
//! Nomad's client gives a task that names no `user` a uid/gid of its own from a reserved range
//! (`helper/users/dynamic`), which no entry of the host's user database holds; Nomad's exec2
//! driver runs such a task as uid N, gid N directly. systemd resolves `User=`/`Group=` through
//! NSS before it runs anything and fails a uid it cannot resolve (status 217/USER), so
//! [`provide`] gives the uid a systemd user record and group record: JSON drop-ins in
//! [`RECORD_DIR`], which `nss-systemd` reads. The unit then says `User=N` and `Group=N`.
//! systemd's `DynamicUser` is not used: it brings sandbox settings of its own that would
//! override the job's.
//!
//! Contract: [`provide`] never vouches for an id the host already uses. If uid N, gid N or the
//! name `nomad-<N>` resolves to anything but this module's own record, it refuses and writes
//! nothing. [`release`] removes the records when the task is destroyed (Nomad destroys a task
//! before it restarts it, and a restart provides them again); whatever a crash leaves goes at
//! the next boot (`/run` is a tmpfs), and grants nothing: the ids are Nomad's, unused by the
//! host.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

use super::error::{Error, Result};

/// Where `nss-systemd` reads user and group records from that exist until reboot.
pub const RECORD_DIR: &str = "/run/userdb";

/// The home directory a workload user is given: one that does not exist, as in Nomad.
pub const HOME: &str = "/nonexistent";

const SHELL: &str = "/usr/sbin/nologin";
const REAL_NAME: &str = "Nomad workload user";

/// The user and group name of workload id `id`, `nomad-<id>`.
pub fn name(id: u32) -> String {
    format!("nomad-{id}")
}

/// Makes uid `id` / gid `id` resolvable as `nomad-<id>` for systemd, unless the host already
/// uses that uid, gid or name. Errors are [`Error::InvalidConfig`] for `user`; nothing is left
/// behind by a refusal.
pub fn provide(id: u32) -> Result<()> {
    let dir = Path::new(RECORD_DIR);
    let ours = is_ours(dir, id);
    if let Some(conflict) = conflict(id, &lookup(id)?, ours) {
        return Err(Error::invalid(
            "user",
            format!(
                "'{}' is one of Nomad's workload users, but {conflict} on this host; a workload \
                 user must be unknown to the host (check the agent's dynamic_user_min and \
                 dynamic_user_max and the plugin's settings of the same names)",
                name(id)
            ),
        ));
    }
    if ours {
        return Ok(());
    }
    let written = write_records(dir, id);
    let resolved = written.and_then(|()| lookup(id));
    match resolved {
        Ok(found)
            if found
                .user_by_id
                .as_ref()
                .is_some_and(|u| u.name == name(id))
                && found
                    .group_by_id
                    .as_ref()
                    .is_some_and(|g| g.name == name(id)) =>
        {
            Ok(())
        }
        other => {
            remove_records(dir, id);
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => format!(
                    "the host does not resolve users from {RECORD_DIR}: add `systemd` to the \
                     passwd and group lines of /etc/nsswitch.conf (nss-systemd, package \
                     libnss-systemd on Debian)"
                ),
            };
            Err(Error::invalid(
                "user",
                format!("cannot run as Nomad's workload user '{}': {why}", name(id)),
            ))
        }
    }
}

/// Removes the records [`provide`] wrote for `id`, if they are still exactly this module's; a
/// process already running as uid `id` keeps running (resolution happens at start only).
pub fn release(id: u32) {
    let dir = Path::new(RECORD_DIR);
    if is_ours(dir, id) {
        remove_records(dir, id);
    }
}

/// One entry of the user or group database, as far as ownership is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub id: u32,
    /// A user's home directory and GECOS field; empty for a group.
    pub home: String,
    pub real_name: String,
}

/// What the host's databases say about workload id `id` and its name.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub user_by_id: Option<Entry>,
    pub group_by_id: Option<Entry>,
    pub user_by_name: Option<Entry>,
    pub group_by_name: Option<Entry>,
}

/// Why `id` cannot be a workload user given what the host's databases hold, `None` when it can:
/// nothing resolves, or only this module's own record does (`ours`).
pub fn conflict(id: u32, found: &Lookup, ours: bool) -> Option<String> {
    let own = name(id);
    let is_own_user = |e: &Entry| {
        ours && e.name == own && e.id == id && e.home == HOME && e.real_name == REAL_NAME
    };
    let is_own_group = |e: &Entry| ours && e.name == own && e.id == id;
    if let Some(u) = found.user_by_id.as_ref().filter(|u| !is_own_user(u)) {
        return Some(format!("uid {id} belongs to the user '{}'", u.name));
    }
    if let Some(g) = found.group_by_id.as_ref().filter(|g| !is_own_group(g)) {
        return Some(format!("gid {id} belongs to the group '{}'", g.name));
    }
    if let Some(u) = found.user_by_name.as_ref().filter(|u| !is_own_user(u)) {
        return Some(format!("the user '{own}' exists with uid {}", u.id));
    }
    if let Some(g) = found.group_by_name.as_ref().filter(|g| !is_own_group(g)) {
        return Some(format!("the group '{own}' exists with gid {}", g.id));
    }
    None
}

fn lookup(id: u32) -> Result<Lookup> {
    let failed = |what: &str, e: nix::Error| {
        Error::invalid(
            "user",
            format!("cannot look up {what} of '{}': {e}", name(id)),
        )
    };
    let user = |u: User| Entry {
        name: u.name,
        id: u.uid.as_raw(),
        home: u.dir.display().to_string(),
        real_name: u.gecos.to_string_lossy().into_owned(),
    };
    let group = |g: Group| Entry {
        name: g.name,
        id: g.gid.as_raw(),
        home: String::new(),
        real_name: String::new(),
    };
    Ok(Lookup {
        user_by_id: User::from_uid(Uid::from_raw(id))
            .map_err(|e| failed("the uid", e))?
            .map(user),
        group_by_id: Group::from_gid(Gid::from_raw(id))
            .map_err(|e| failed("the gid", e))?
            .map(group),
        user_by_name: User::from_name(&name(id))
            .map_err(|e| failed("the user", e))?
            .map(user),
        group_by_name: Group::from_name(&name(id))
            .map_err(|e| failed("the group", e))?
            .map(group),
    })
}

fn user_record(id: u32) -> String {
    serde_json::json!({
        "userName": name(id),
        "uid": id,
        "gid": id,
        "realName": REAL_NAME,
        "homeDirectory": HOME,
        "shell": SHELL,
    })
    .to_string()
}

fn group_record(id: u32) -> String {
    serde_json::json!({ "groupName": name(id), "gid": id }).to_string()
}

/// The record files of `id`: `(by name, by id, contents)` for the user, then the group.
fn records(dir: &Path, id: u32) -> [(PathBuf, PathBuf, String); 2] {
    let own = name(id);
    [
        (
            dir.join(format!("{own}.user")),
            dir.join(format!("{id}.user")),
            user_record(id),
        ),
        (
            dir.join(format!("{own}.group")),
            dir.join(format!("{id}.group")),
            group_record(id),
        ),
    ]
}

/// Whether `dir` holds exactly the records this module writes for `id`.
fn is_ours(dir: &Path, id: u32) -> bool {
    records(dir, id).iter().all(|(by_name, by_id, contents)| {
        fs::read_to_string(by_name).is_ok_and(|c| c == *contents)
            && fs::read_link(by_id).is_ok_and(|t| Some(t.as_os_str()) == by_name.file_name())
    })
}

/// Writes `id`'s records, each file and link replaced whole (written aside under a name of
/// its own, then renamed), so a concurrent reader or writer never sees half a record.
fn write_records(dir: &Path, id: u32) -> Result<()> {
    let io = |what: &Path, e| Error::io(format!("cannot write {}", what.display()), e);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| io(dir, e))?;
    for (by_name, by_id, contents) in records(dir, id) {
        let aside = |p: &Path| {
            let mut name = p.file_name().unwrap_or_default().to_os_string();
            name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
            dir.join(name)
        };
        let tmp = aside(&by_name);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .and_then(|()| fs::rename(&tmp, &by_name));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(&by_name, e));
        }
        let link = aside(&by_id);
        let target = by_name.file_name().unwrap_or_default();
        if let Err(e) =
            std::os::unix::fs::symlink(target, &link).and_then(|()| fs::rename(&link, &by_id))
        {
            let _ = fs::remove_file(&link);
            return Err(io(&by_id, e));
        }
    }
    Ok(())
}

fn remove_records(dir: &Path, id: u32) {
    for (by_name, by_id, _) in records(dir, id) {
        let _ = fs::remove_file(by_id);
        let _ = fs::remove_file(by_name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_user(id: u32) -> Entry {
        Entry {
            name: name(id),
            id,
            home: HOME.into(),
            real_name: REAL_NAME.into(),
        }
    }

    fn own_group(id: u32) -> Entry {
        Entry {
            name: name(id),
            id,
            home: String::new(),
            real_name: String::new(),
        }
    }

    #[test]
    fn an_id_nothing_resolves_is_free() {
        assert_eq!(conflict(80123, &Lookup::default(), false), None);
    }

    #[test]
    fn an_id_the_host_uses_is_refused_whoever_holds_it() {
        let shadow = Entry {
            name: "shadow".into(),
            id: 42,
            home: String::new(),
            real_name: String::new(),
        };
        let by_gid = Lookup {
            group_by_id: Some(shadow.clone()),
            ..Lookup::default()
        };
        let why = conflict(42, &by_gid, false).unwrap();
        assert!(why.contains("gid 42") && why.contains("shadow"), "{why}");
        // Even our own record files do not make a host entry ours.
        assert!(conflict(42, &by_gid, true).is_some());
        let named = Lookup {
            user_by_name: Some(Entry {
                name: name(80123),
                id: 1001,
                home: "/home/x".into(),
                real_name: String::new(),
            }),
            ..Lookup::default()
        };
        assert!(conflict(80123, &named, true).unwrap().contains("uid 1001"));
    }

    #[test]
    fn our_own_record_is_not_a_conflict_but_a_lookalike_is() {
        let found = Lookup {
            user_by_id: Some(own_user(80123)),
            group_by_id: Some(own_group(80123)),
            user_by_name: Some(own_user(80123)),
            group_by_name: Some(own_group(80123)),
        };
        assert_eq!(conflict(80123, &found, true), None);
        // The same entries without our record files are someone else's.
        assert!(conflict(80123, &found, false).is_some());
    }

    #[test]
    fn records_are_written_whole_and_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let records_dir = dir.path().join("userdb");
        assert!(!is_ours(&records_dir, 80123));
        write_records(&records_dir, 80123).unwrap();
        assert!(is_ours(&records_dir, 80123));
        assert!(!is_ours(&records_dir, 80124));
        let user: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(records_dir.join("80123.user")).unwrap())
                .unwrap();
        assert_eq!(user["uid"], 80123);
        assert_eq!(user["gid"], 80123);
        assert_eq!(user["userName"], "nomad-80123");
        let names: Vec<_> = fs::read_dir(&records_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 4, "no temporary file is left: {names:?}");
        // Rewriting replaces, and a changed file is no longer ours.
        write_records(&records_dir, 80123).unwrap();
        assert!(is_ours(&records_dir, 80123));
        fs::write(records_dir.join("nomad-80123.user"), "{}").unwrap();
        assert!(!is_ours(&records_dir, 80123));
        remove_records(&records_dir, 80123);
        assert_eq!(fs::read_dir(&records_dir).unwrap().count(), 0);
    }
}
