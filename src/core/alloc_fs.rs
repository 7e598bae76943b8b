//! Every file operation the driver does as root on a path inside an allocation directory.
//!
//! Nomad's agent picks the allocation directory, so its location is trusted; everything
//! *below* it is the job's: a task, a previous run of it or an artifact can put a symlink, a
//! FIFO or a directory anywhere in there. So an operation on a path below a [`Beneath`] root:
//! - resolves the path inside the root with [`pathrs`] (`openat2(2)` with `RESOLVE_IN_ROOT`,
//!   or its `O_PATH` walk where the kernel has no `openat2`), so it never leaves the root;
//! - follows **no** symlink at all, in any component, the last one included
//!   (`RESOLVE_NO_SYMLINKS`): a symlink is refused, not followed, even one pointing inside;
//! - checks the type of what it found (a FIFO must be a FIFO, a directory a directory, a
//!   file a regular file) on the descriptor it then uses, so nothing can be swapped in
//!   between the check and the use;
//! - creates files only under a fresh name (`O_EXCL`) and renames them into place, so an
//!   existing name (a symlink, a FIFO) is replaced, never written through.
//!
//! Refusals are [`Error::InvalidConfig`] naming the setting and the reason, and change nothing.
//!
//! [`component`] is the one check for names that become path components.

use std::fs::{File, Permissions};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::stat::{SFlag, fchmod, fstat};
use pathrs::flags::{OpenFlags, RenameFlags, ResolverFlags};
use pathrs::{Handle, Root};

use super::error::{Error, Result};

/// Between the first attempts to open a FIFO that has no reader yet; doubled up to
/// [`FIFO_MAX_PAUSE`].
const FIFO_FIRST_PAUSE: Duration = Duration::from_millis(5);
const FIFO_MAX_PAUSE: Duration = Duration::from_millis(100);

/// What a path is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Fifo,
    /// Anything that exists (it is only required to be reached without symlinks).
    Any,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Dir => "a directory",
            Kind::File => "a regular file",
            Kind::Fifo => "a FIFO",
            Kind::Any => "there",
        }
    }

    fn matches(self, mode: SFlag) -> bool {
        match self {
            Kind::Dir => mode == SFlag::S_IFDIR,
            Kind::File => mode == SFlag::S_IFREG,
            Kind::Fifo => mode == SFlag::S_IFIFO,
            Kind::Any => true,
        }
    }
}

/// Checks that `name` (the setting `setting`) can be used as exactly one path component:
/// not empty, no `/`, not `.` or `..`, no NUL. Every name joined onto a path goes through
/// this first.
pub fn component<'a>(setting: &str, name: &'a str) -> Result<&'a str> {
    let reason = if name.is_empty() {
        "is empty"
    } else if name.contains('/') {
        "contains '/'"
    } else if name == "." || name == ".." {
        "is '.' or '..'"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else {
        return Ok(name);
    };
    Err(Error::invalid(
        setting,
        format!(
            "'{}' {reason}, so it cannot be used as a directory name",
            name.escape_debug()
        ),
    ))
}

/// A trusted directory (an allocation directory, or `/` for host paths) inside which paths
/// are resolved without following symlinks.
#[derive(Debug)]
pub struct Beneath {
    root: Root,
    dir: PathBuf,
}

impl Beneath {
    /// Opens the trusted directory `dir` itself (following symlinks: its location is not the
    /// job's). `setting` names what the refusal of a missing directory is about.
    pub fn open(setting: &str, dir: &Path) -> Result<Beneath> {
        let root = Root::open(dir).map_err(|e| match errno(&e) {
            Some(nix::libc::ENOENT | nix::libc::ENOTDIR) => Error::invalid(
                setting,
                format!("'{}' does not exist or is not a directory", dir.display()),
            ),
            _ => Error::io(format!("cannot open {}", dir.display()), io_error(e)),
        })?;
        Ok(Beneath {
            root: root.with_resolver_flags(ResolverFlags::NO_SYMLINKS),
            dir: dir.to_path_buf(),
        })
    }

    /// The directory paths are resolved in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `path` relative to this directory, if it is lexically below it (or is it) and has no
    /// `..` component; `None` otherwise.
    pub fn relative<'a>(&self, path: &'a Path) -> Option<&'a Path> {
        let rel = path.strip_prefix(&self.dir).ok()?;
        rel.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
            .then_some(rel)
    }

    /// Resolves `path` (absolute below this directory, or relative to it) and checks that it
    /// is `kind`. The handle is an `O_PATH` descriptor of exactly what was checked.
    pub fn expect(&self, setting: &str, path: &Path, kind: Kind) -> Result<Handle> {
        let rel = self.rel_or_refuse(setting, path)?;
        let handle = self
            .root
            .resolve(rel)
            .map_err(|e| self.refusal(setting, path, e))?;
        let mode = file_type(&handle, path)?;
        if !kind.matches(mode) {
            return Err(Error::invalid(
                setting,
                format!(
                    "'{}' is not {} (it is {})",
                    path.display(),
                    kind.describe(),
                    type_name(mode)
                ),
            ));
        }
        Ok(handle)
    }

    /// Opens the FIFO at `path` write-only for a task's output, as Nomad's own `fifo`
    /// package opens its writer: blocking until a reader is there (Nomad's logmon opens its
    /// end asynchronously, maybe after the task's start was asked for), but for at most
    /// `wait`. The open is retried without blocking until then, so no thread is left hanging
    /// on a FIFO nobody reads, and the descriptor the task gets is an ordinary blocking,
    /// appending one. Anything that is not a FIFO is refused before it is opened for writing;
    /// every attempt reopens the one handle that was checked.
    ///
    /// Errors: [`Error::NotReady`] when no reader opened the FIFO within `wait` (worth a
    /// retry); [`Error::InvalidConfig`] when the path is not a FIFO reached without symlinks.
    pub fn open_fifo(&self, setting: &str, path: &Path, wait: Duration) -> Result<OwnedFd> {
        let handle = self.expect(setting, path, Kind::Fifo)?;
        let deadline = Instant::now() + wait;
        let mut pause = FIFO_FIRST_PAUSE;
        let file = loop {
            match handle.reopen(OpenFlags::O_WRONLY | OpenFlags::O_NONBLOCK) {
                Ok(file) => break file,
                Err(e) if errno(&e) == Some(nix::libc::ENXIO) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::NotReady {
                            what: format!("the {setting} {}", path.display()),
                            seconds: wait.as_secs(),
                            reason: "no reader opened it (its log collector was not reading \
                                     yet)"
                                .into(),
                        });
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(FIFO_MAX_PAUSE);
                }
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot open {} for the task's output", path.display()),
                        io_error(e),
                    ));
                }
            }
        };
        let fd = OwnedFd::from(file);
        fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_APPEND))
            .map_err(|e| Error::io(format!("cannot set flags on {}", path.display()), e.into()))?;
        Ok(fd)
    }

    /// Writes `contents` as the regular file `path` (mode 0644, root's): written under a
    /// fresh name in the same directory, then renamed over `path`, so whatever was there (a
    /// symlink included) is replaced and never written through. The directory must be a real
    /// directory reached without symlinks.
    pub fn write_file(&self, setting: &str, path: &Path, contents: &str) -> Result<()> {
        let rel = self.rel_or_refuse(setting, path)?;
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(Error::invalid(
                setting,
                format!("'{}' names no file", path.display()),
            ));
        };
        self.expect(setting, &self.dir.join(parent), Kind::Dir)?;
        let temp = parent.join(format!(
            ".{}.{}",
            name.to_string_lossy(),
            uuid::Uuid::new_v4().simple()
        ));
        let cannot = |e| Error::io(format!("cannot write {}", path.display()), e);
        let mut file: File = self
            .root
            .create_file(
                &temp,
                OpenFlags::O_WRONLY | OpenFlags::O_EXCL | OpenFlags::O_NOFOLLOW,
                &Permissions::from_mode(0o644),
            )
            .map_err(|e| self.refusal(setting, path, e))?;
        let written = file
            .write_all(contents.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(cannot)
            .and_then(|()| {
                fchmod(
                    file.as_fd(),
                    nix::sys::stat::Mode::from_bits_truncate(0o644),
                )
                .map_err(|e| cannot(e.into()))
            })
            .and_then(|()| {
                self.root
                    .rename(&temp, rel, RenameFlags::empty())
                    .map_err(|e| self.refusal(setting, path, e))
            });
        if written.is_err() {
            let _ = self.root.remove_file(&temp);
        }
        written
    }

    /// Creates the directory `path` with `mode` and its missing parents with 0755 below this
    /// directory; existing ones must be real directories and keep their mode.
    pub fn create_dir_all(&self, setting: &str, path: &Path, mode: u32) -> Result<()> {
        let rel = self.rel_or_refuse(setting, path)?;
        let mut at = PathBuf::new();
        let parts: Vec<_> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let mode = if i + 1 == parts.len() { mode } else { 0o755 };
            let full = self.dir.join(&at);
            match self.root.resolve(&at) {
                Err(e) if errno(&e) == Some(nix::libc::ENOENT) => {}
                Err(e) => return Err(self.refusal(setting, &full, e)),
                Ok(_) => {
                    self.expect(setting, &full, Kind::Dir)?;
                    continue;
                }
            }
            let handle = self
                .root
                .mkdir_all(&at, &Permissions::from_mode(mode))
                .map_err(|e| self.refusal(setting, &full, e))?;
            let dir = handle
                .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                .map_err(|e| Error::io(format!("cannot open {}", full.display()), io_error(e)))?;
            fchmod(dir.as_fd(), nix::sys::stat::Mode::from_bits_truncate(mode)).map_err(|e| {
                Error::io(
                    format!("cannot set permissions on {}", full.display()),
                    e.into(),
                )
            })?;
        }
        Ok(())
    }

    /// Removes `path` and everything below it, as `rm -r` would but never following a
    /// symlink: the path is resolved without any ([`pathrs`]), and below it every entry is
    /// removed through its parent's descriptor, a symlink as itself, not what it points at.
    /// A missing `path` is no error.
    pub fn remove_all(&self, setting: &str, path: &Path) -> Result<()> {
        let rel = self.rel_or_refuse(setting, path)?;
        let full = self.dir.join(rel);
        match self.root.remove_all(rel) {
            Err(e) if errno(&e) == Some(nix::libc::ENOENT) => Ok(()),
            Err(e) => Err(self.refusal(setting, &full, e)),
            Ok(()) => Ok(()),
        }
    }

    fn rel_or_refuse<'a>(&self, setting: &str, path: &'a Path) -> Result<&'a Path> {
        let rel = if path.is_absolute() {
            self.relative(path)
        } else {
            Some(path).filter(|p| p.components().all(|c| matches!(c, Component::Normal(_))))
        };
        rel.ok_or_else(|| {
            Error::invalid(
                setting,
                format!(
                    "'{}' is not below {} (or has a '..' component)",
                    path.display(),
                    self.dir.display()
                ),
            )
        })
    }

    fn refusal(&self, setting: &str, path: &Path, e: pathrs::error::Error) -> Error {
        let reason = match errno(&e) {
            Some(nix::libc::ELOOP) => format!(
                "'{}' is a symbolic link or passes through one below {}; the driver follows \
                 none there",
                path.display(),
                self.dir.display()
            ),
            Some(nix::libc::ENOENT) => format!("'{}' does not exist", path.display()),
            Some(nix::libc::ENOTDIR) => format!(
                "'{}' passes through something that is not a directory",
                path.display()
            ),
            Some(nix::libc::EXDEV) => {
                format!("'{}' leads out of {}", path.display(), self.dir.display())
            }
            _ if e.kind() == pathrs::error::ErrorKind::SafetyViolation => format!(
                "'{}' changed while it was being resolved: {e}",
                path.display()
            ),
            _ => return Error::io(format!("cannot resolve {}", path.display()), io_error(e)),
        };
        Error::invalid(setting, reason)
    }
}

/// The task output FIFO `path` (the stream `setting`), opened for writing within `wait` (see
/// [`Beneath::open_fifo`]) beneath `alloc_dir` when it is below it; otherwise (no allocation
/// directory, or Nomad put the FIFO elsewhere) its parent directory is the trusted one, and
/// the FIFO itself still must not be a symlink.
pub fn open_log_fifo(
    alloc_dir: Option<&Path>,
    setting: &str,
    path: &Path,
    wait: Duration,
) -> Result<OwnedFd> {
    log_fifo_dir(alloc_dir, setting, path)?.open_fifo(setting, path, wait)
}

/// Checks, without opening it for writing, that the output FIFO `path` is a FIFO reached as
/// [`open_log_fifo`] would reach it: for a FIFO opened later (by a journal follower), so a
/// task whose FIFO is not one is refused before it starts. A FIFO's reader sees nothing.
pub fn check_log_fifo(alloc_dir: Option<&Path>, setting: &str, path: &Path) -> Result<()> {
    log_fifo_dir(alloc_dir, setting, path)?.expect(setting, path, Kind::Fifo)?;
    Ok(())
}

fn log_fifo_dir(alloc_dir: Option<&Path>, setting: &str, path: &Path) -> Result<Beneath> {
    let under_alloc = alloc_dir.filter(|dir| path.starts_with(dir));
    let root = match under_alloc {
        Some(dir) => dir,
        None => path.parent().unwrap_or(Path::new("/")),
    };
    Beneath::open(setting, root).map_err(|e| match e {
        Error::InvalidConfig { reason, .. } => Error::io(
            format!(
                "cannot open {} for the task's output: {reason}",
                path.display()
            ),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ),
        other => other,
    })
}

fn file_type(handle: &Handle, path: &Path) -> Result<SFlag> {
    let st = fstat(handle.as_fd())
        .map_err(|e| Error::io(format!("cannot stat {}", path.display()), e.into()))?;
    Ok(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

fn type_name(mode: SFlag) -> &'static str {
    match mode {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFSOCK => "a socket",
        _ => "of an unknown type",
    }
}

fn errno(e: &pathrs::error::Error) -> Option<i32> {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(n) => n,
        _ => None,
    }
}

fn io_error(e: pathrs::error::Error) -> std::io::Error {
    match errno(&e) {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn refused(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(Error::InvalidConfig { setting, reason }) => format!("{setting}: {reason}"),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn components_are_single_names() {
        for bad in ["", "/abs", "a/b", ".", "..", "a\0b"] {
            assert!(
                refused(component("name", bad)).starts_with("name: "),
                "{bad}"
            );
        }
        for good in ["web", "a.b", "...", "-x", "ünï"] {
            assert_eq!(component("name", good).unwrap(), good);
        }
    }

    #[test]
    fn symlinks_anywhere_below_the_root_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("t/real")).unwrap();
        symlink(outside.path(), tmp.path().join("t/local")).unwrap();
        symlink("real", tmp.path().join("t/inside")).unwrap();
        let b = Beneath::open("x", tmp.path()).unwrap();
        for link in ["t/local", "t/inside", "t/inside/."] {
            let e = refused(b.expect("x", &tmp.path().join(link), Kind::Dir));
            assert!(e.contains("symbolic link"), "{link}: {e}");
        }
        b.expect("x", &tmp.path().join("t/real"), Kind::Dir)
            .unwrap();
        let e = refused(b.expect("x", &tmp.path().join("t/real"), Kind::File));
        assert!(e.contains("not a regular file"), "{e}");
        let e = refused(b.expect("x", Path::new("/etc"), Kind::Dir));
        assert!(e.contains("not below"), "{e}");
        let e = refused(b.expect("x", &tmp.path().join("t/../../etc"), Kind::Dir));
        assert!(e.contains("not below"), "{e}");
    }

    #[test]
    fn a_fifo_must_be_a_fifo() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, "secret").unwrap();
        let fifo = tmp.path().join("out.fifo");
        symlink(&target, &fifo).unwrap();
        let e = refused(open_log_fifo(
            Some(tmp.path()),
            "stdout FIFO",
            &fifo,
            Duration::ZERO,
        ));
        assert!(
            e.contains("stdout FIFO") && e.contains("symbolic link"),
            "{e}"
        );
        std::fs::remove_file(&fifo).unwrap();
        std::fs::write(&fifo, "").unwrap();
        let e = refused(open_log_fifo(
            Some(tmp.path()),
            "stdout FIFO",
            &fifo,
            Duration::ZERO,
        ));
        assert!(e.contains("not a FIFO"), "{e}");
        let e = refused(check_log_fifo(Some(tmp.path()), "stdout FIFO", &fifo));
        assert!(e.contains("not a FIFO"), "{e}");
        // Outside the allocation directory the FIFO itself still must not be a symlink.
        let e = refused(open_log_fifo(
            None,
            "stdout FIFO",
            &tmp.path().join("none"),
            Duration::ZERO,
        ));
        assert!(e.contains("does not exist"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret");
    }

    #[test]
    fn a_fifo_opens_once_its_reader_does_within_the_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("out.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let started = Instant::now();
        let e = open_log_fifo(
            Some(tmp.path()),
            "stdout FIFO",
            &fifo,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::NotReady { .. }) && e.is_transient(),
            "{e}"
        );
        assert!(e.to_string().contains("no reader"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // A reader that opens while the writer waits: the open succeeds.
        let late = fifo.clone();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags_nonblock()
                .open(&late)
                .unwrap()
        });
        let fd = open_log_fifo(
            Some(tmp.path()),
            "stdout FIFO",
            &fifo,
            Duration::from_secs(5),
        )
        .unwrap();
        let _reader = reader.join().unwrap();
        let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).unwrap());
        assert!(flags.contains(OFlag::O_APPEND) && !flags.contains(OFlag::O_NONBLOCK));
    }

    trait NonBlock {
        fn custom_flags_nonblock(&mut self) -> &mut Self;
    }
    impl NonBlock for std::fs::OpenOptions {
        fn custom_flags_nonblock(&mut self) -> &mut Self {
            use std::os::unix::fs::OpenOptionsExt;
            self.custom_flags(nix::libc::O_NONBLOCK)
        }
    }

    #[test]
    fn files_are_written_by_replacing_never_through() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("passwd");
        std::fs::write(&target, "root").unwrap();
        std::fs::create_dir(tmp.path().join("t")).unwrap();
        let conf = tmp.path().join("t/resolv.conf");
        symlink(&target, &conf).unwrap();
        let b = Beneath::open("dns", tmp.path()).unwrap();
        b.write_file("dns", &conf, "nameserver 1.1.1.1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root");
        let meta = std::fs::symlink_metadata(&conf).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            "nameserver 1.1.1.1\n"
        );
        assert_eq!(std::fs::read_dir(tmp.path().join("t")).unwrap().count(), 1);
        // A symlinked directory is refused and nothing is created behind it.
        std::fs::remove_dir_all(tmp.path().join("t")).unwrap();
        symlink(outside.path(), tmp.path().join("t")).unwrap();
        let e = refused(b.write_file("dns", &conf, "x"));
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn directories_are_created_without_following_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let b = Beneath::open("name", tmp.path()).unwrap();
        b.create_dir_all("name", &tmp.path().join("a/web/local"), 0o777)
            .unwrap();
        let mode = |p: &str| {
            std::fs::metadata(tmp.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!((mode("a/web"), mode("a/web/local")), (0o755, 0o777));
        b.create_dir_all("name", &tmp.path().join("a/web/local"), 0o777)
            .unwrap();
        symlink(outside.path(), tmp.path().join("a/evil")).unwrap();
        let e = refused(b.create_dir_all("name", &tmp.path().join("a/evil/secrets"), 0o777));
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
