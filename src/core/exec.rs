//! Running a command inside a running task: `nomad alloc exec`, script checks, `exec`.
//!
//! **Mechanism: a sibling transient service.** The command runs as its own unit, built from
//! what systemd reports of the task's unit (its `ExecContext`: user, groups, environment,
//! working directory, `BindPaths`, network namespace) and placed in the task's own slice. So
//! it sees the task's `/alloc`, `/local` and `/secrets`, runs as the task's user, and the
//! slice accounts for task and exec together. Its stdin/stdout/stderr are pipes, or one pty,
//! handed to systemd as file descriptors (the `systemd-run --pipe`/`--pty` pattern).
//!
//! Why not enter the task's namespaces and `AttachProcessesToUnit`: that needs `Delegate=yes`
//! on every task (which changes its OOM policy and hands its cgroup subtree to the task), a
//! fork-and-setns dance in a multi-threaded process, and a window in which the command runs
//! outside the task's cgroup; and it would still have to copy the task's sandboxing by hand.
//! A sibling unit gets all of that from systemd, and works the same for the CLI, which only
//! knows the unit's name.
//!
//! **Limits.** A transient task's own slice carries the task's cgroup limits (see
//! [`crate::core::mapping::slice_properties`]), so the task and every exec in it share one
//! memory, tasks, CPU and IO budget, as processes exec'd into a Nomad `exec` task share its
//! cgroup. The exec unit also repeats the task unit's own limits, per-process settings
//! (`Limit*`, `Nice`, `UMask`, `OOMScoreAdjust`, …) and sandbox, so a task whose slice carries
//! no limits (an installed unit's, or a task started by an older version) still holds each
//! exec'd command to them.
//!
//! **Life of an exec unit.** `Type=exec` (a command that cannot be executed fails the start),
//! `RemainAfterExit=no` (when the lead process exits, systemd kills what it left behind, which
//! ends a tty session the way `nomad alloc exec` expects), `AddRef` + `CollectMode=
//! inactive-or-failed` (systemd keeps the ended unit, and its exit status, while we hold the
//! reference, and collects it once we drop it or our bus connection ends, so a plugin crash
//! leaks nothing), `KillSignal=SIGKILL` (a shell ignores SIGTERM; a client that went away
//! must not leave anything running).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::pty::{Winsize, openpty};

use super::engine::Engine;
use super::error::{Error, Result};
use super::exit::ExitResult;
use super::mapping::command::{DEFAULT_PATH, check_exec_size, search_path};
use super::property::{ExecCommand, Property, Value};
use super::signal::Signal;
use super::systemd::{Bus, ExecContext, UnitSnapshot};
use super::unit_name::UnitName;

/// How long systemd may take to start or stop an exec unit.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// The terminal type a tty session gets when the task's environment names none.
const DEFAULT_TERM: &str = "xterm-256color";

/// How the command's standard streams are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecIo {
    /// Three pipes: stdin, stdout and stderr stay apart.
    Pipes,
    /// One pseudo-terminal of this size for all three.
    Tty { rows: u16, cols: u16 },
}

/// Our ends of the command's streams.
#[derive(Debug)]
pub enum ExecStreams {
    Pipes {
        /// Write end of the command's stdin; drop it to send EOF.
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// The pty's master: read the command's output, write its input, resize it.
    Tty { master: OwnedFd },
}

/// What a command exec'd into a task gets otherwise than the task: `docker exec`'s and
/// `nomad alloc exec`'s `-e`, `-w` and `-u`. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Variables set on top of the task's, in order; later ones win.
    pub env: Vec<(String, String)>,
    /// The working directory, an absolute path as the task sees its file system.
    pub workdir: Option<String>,
    /// The user to run as (a name or a numeric id), with that user's own groups; root only
    /// when named. `None`: the task's user.
    pub user: Option<String>,
}

impl ExecOptions {
    /// Changes the exec unit's properties `props` (built from the task `task`) as asked.
    fn apply(&self, task: &UnitSnapshot, bus: Bus, props: &mut Vec<Property>) -> Result<()> {
        let mut environment = match props
            .iter()
            .find(|p| p.name == "Environment")
            .map(|p| &p.value)
        {
            Some(Value::Strings(env)) => env.clone(),
            _ => Vec::new(),
        };
        for (key, value) in &self.env {
            check_env(key, value)?;
            environment.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key.as_str()));
            environment.push(format!("{key}={value}"));
        }
        if let Some(dir) = &self.workdir {
            if !dir.starts_with('/') || dir.contains('\0') {
                return Err(Error::invalid(
                    "workdir",
                    format!(
                        "'{dir}' is not an absolute path; give the directory as the task \
                         sees it, e.g. /local"
                    ),
                ));
            }
            set(props, "WorkingDirectory", Value::Str(dir.clone()));
        }
        if let Some(user) = &self.user {
            let home = check_user(user, task, bus)?;
            set(props, "User", Value::Str(user.clone()));
            // The user's own groups, as `docker exec -u` gives them, not the task's.
            props.retain(|p| p.name != "Group" && p.name != "SupplementaryGroups");
            environment.retain(|e| !e.starts_with("HOME=") && !e.starts_with("USER="));
            if let Some(home) = home {
                environment.push(format!("HOME={home}"));
            }
        }
        set(props, "Environment", Value::Strings(environment));
        Ok(())
    }
}

/// Sets `name` to `value` in `props`, replacing what was there.
fn set(props: &mut Vec<Property>, name: &'static str, value: Value) {
    props.retain(|p| p.name != name);
    props.push(Property::new(name, value));
}

/// A variable for `-e`: a name systemd accepts, a value without NUL.
fn check_env(key: &str, value: &str) -> Result<()> {
    if !super::mapping::environment::is_valid_name(key) {
        return Err(Error::invalid(
            "env",
            format!(
                "'{key}' is not a name systemd accepts (letters, digits and '_', not starting \
                 with a digit)"
            ),
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid(
            "env",
            format!("the value of '{key}' contains a NUL byte"),
        ));
    }
    Ok(())
}

/// Whether the command can run as `user` in `task`, as a task's own user is checked: it
/// must exist on the host, and a task with a dynamic user, or on a user service manager,
/// runs every command as that user. Returns the user's home directory.
fn check_user(user: &str, task: &UnitSnapshot, bus: Bus) -> Result<Option<String>> {
    if bus == Bus::User {
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' cannot be used: a user service manager runs every command as its \
                 own user; leave out --user"
            ),
        ));
    }
    let dynamic = task
        .exec_context
        .sandbox
        .iter()
        .any(|p| p.name == "DynamicUser" && matches!(p.value, Value::Bool(true)));
    if dynamic {
        return Err(Error::invalid(
            "user",
            format!(
                "'{user}' cannot be used: the task runs as a dynamic user, which its commands \
                 share; leave out --user"
            ),
        ));
    }
    if user.is_empty() || user.contains(['\0', '/', ':']) {
        return Err(Error::invalid(
            "user",
            format!("'{user}' is not a user name"),
        ));
    }
    let found = match user.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(user),
    }
    .map_err(|e| Error::io(format!("cannot look up user '{user}'"), e.into()))?;
    let Some(found) = found else {
        return Err(Error::invalid(
            "user",
            format!("'{user}' is no user on this host"),
        ));
    };
    Ok(Some(found.dir.to_string_lossy().into_owned()))
}

/// A command running in a task.
#[derive(Debug)]
pub struct Exec {
    pub unit: UnitName,
    pub streams: ExecStreams,
}

impl Engine {
    /// Starts `argv` in the context of the running task `task`. Returns once the program has
    /// been executed. Errors: [`Error::NotFound`] for no such task, [`Error::InvalidConfig`]
    /// for an exited task or an unusable command, [`Error::StartFailed`] when systemd could
    /// not run it.
    pub async fn exec(&self, task: &UnitName, argv: &[String], io: ExecIo) -> Result<Exec> {
        self.exec_with_env(task, argv, io, &[]).await
    }

    /// [`Engine::exec`] with the `NAME=VALUE` assignments the task got through the
    /// environment loader ([`crate::core::env_loader`]), as its caller recorded them when it
    /// started the task. Empty: they are read from the task's `ExecStart`, which systemd
    /// before v254 no longer knows after a reload.
    pub async fn exec_with_env(
        &self,
        task: &UnitName,
        argv: &[String],
        io: ExecIo,
        loader_env: &[String],
    ) -> Result<Exec> {
        self.exec_with(task, argv, io, loader_env, &ExecOptions::default())
            .await
    }

    /// [`Engine::exec_with_env`] with the command's environment, working directory or user
    /// changed as `options` say (`docker exec -e/-w/-u`). What cannot be applied is an
    /// [`Error::InvalidConfig`] naming the option, before anything starts.
    pub async fn exec_with(
        &self,
        task: &UnitName,
        argv: &[String],
        io: ExecIo,
        loader_env: &[String],
        options: &ExecOptions,
    ) -> Result<Exec> {
        if task.unit_type() != "service" {
            return Err(Error::invalid(
                "task",
                format!(
                    "{task} is a {} unit: it runs no process of its own to exec into; exec \
                     needs a service",
                    task.unit_type()
                ),
            ));
        }
        let snapshot = self.systemd().snapshot(task).await?;
        if snapshot.has_exited() {
            return Err(Error::invalid(
                "task",
                format!("{task} has exited; exec needs a running task"),
            ));
        }
        let unit = exec_unit_name(task);
        let (theirs, streams) = open_streams(io)?;
        let mut props = properties(&snapshot, task, argv, &theirs, loader_env)?;
        options.apply(&snapshot, self.systemd().bus(), &mut props)?;
        drop(theirs);
        // `launch` consumes the properties, closing our copies of the command's stdio.
        match self
            .launch(&unit, &props, None, &argv[0], JOB_TIMEOUT)
            .await
        {
            Ok(None) => Ok(Exec { unit, streams }),
            Ok(Some(reason)) => {
                self.release(&unit).await;
                Err(Error::StartFailed {
                    unit: unit.to_string(),
                    reason,
                })
            }
            Err(e) => {
                self.release(&unit).await;
                Err(e)
            }
        }
    }

    /// Waits until the command's lead process has exited and returns how it ended; systemd
    /// then ends whatever it left behind and collects the unit.
    pub async fn exec_wait(&self, exec: &UnitName) -> Result<ExitResult> {
        let (snapshot, _) = self
            .systemd()
            .wait_until(exec, None, |s| s.has_exited() && !s.job_pending)
            .await?;
        let exit = snapshot.exit_result().unwrap_or_default();
        self.release(exec).await;
        Ok(exit)
    }

    /// Kills the command and everything it started, and lets systemd collect its unit.
    pub async fn exec_kill(&self, exec: &UnitName) -> Result<()> {
        let stopped = self.systemd().stop_unit(exec, JOB_TIMEOUT).await;
        self.release(exec).await;
        match stopped {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Drops our reference and failed state; systemd collects the unit once it has ended.
    async fn release(&self, exec: &UnitName) {
        let _ = self.systemd().reset_failed(exec).await;
        let _ = self.systemd().unref(exec).await;
    }
}

/// Sets the terminal size of a tty session.
pub fn resize(master: &OwnedFd, rows: u16, cols: u16) -> Result<()> {
    nix::ioctl_write_ptr_bad!(set_window_size, nix::libc::TIOCSWINSZ, Winsize);
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which is valid for the call.
    unsafe { set_window_size(master.as_raw_fd(), &size) }
        .map(drop)
        .map_err(|e| Error::io("cannot resize the exec terminal", e.into()))
}

/// The character that ends a tty session's input, as typing it does: the terminal's `VEOF`
/// (`^D` unless the command changed it), or `^D` when the terminal cannot be read. In
/// canonical mode it makes a pending read return what was typed so far, or end of file on
/// an empty line; a program in raw mode reads it as a byte.
pub fn eof_char(master: &OwnedFd) -> u8 {
    use nix::sys::termios::{SpecialCharacterIndices, tcgetattr};
    const CONTROL_D: u8 = 0x04;
    tcgetattr(master)
        .map(|t| t.control_chars[SpecialCharacterIndices::VEOF as usize])
        .ok()
        .filter(|c| *c != 0)
        .unwrap_or(CONTROL_D)
}

/// The exec unit's name: the task's, with a fresh `-exec-<id>` part. A template instance's
/// `@` is escaped (`\x40`, as `systemd-escape` writes it): `web@1-exec-<id>.service` would be
/// another instance of the installed template, which systemd loads from its file and so
/// refuses to create as a transient unit.
fn exec_unit_name(task: &UnitName) -> UnitName {
    let stem = task
        .as_str()
        .trim_end_matches(".service")
        .replace('@', "\\x40");
    let id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let name = format!("{stem}-exec-{id}.service");
    // A task name at the length limit leaves no room; fall back to a name of our own.
    UnitName::parse(&name).unwrap_or_else(|_| UnitName::for_task("exec", task.as_str(), id))
}

/// The descriptors the unit gets (stdin, stdout, stderr) and the ends we keep.
fn open_streams(io: ExecIo) -> Result<([Arc<OwnedFd>; 3], ExecStreams)> {
    match io {
        ExecIo::Pipes => {
            let pipe = || {
                nix::unistd::pipe2(OFlag::O_CLOEXEC)
                    .map_err(|e| Error::io("cannot create a pipe", e.into()))
            };
            let (stdin_r, stdin_w) = pipe()?;
            let (stdout_r, stdout_w) = pipe()?;
            let (stderr_r, stderr_w) = pipe()?;
            Ok((
                [Arc::new(stdin_r), Arc::new(stdout_w), Arc::new(stderr_w)],
                ExecStreams::Pipes {
                    stdin: stdin_w,
                    stdout: stdout_r,
                    stderr: stderr_r,
                },
            ))
        }
        ExecIo::Tty { rows, cols } => {
            let size = Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            let pty = openpty(Some(&size), None)
                .map_err(|e| Error::io("cannot open a pseudo-terminal", e.into()))?;
            let slave = Arc::new(pty.slave);
            Ok((
                [slave.clone(), slave.clone(), slave],
                ExecStreams::Tty { master: pty.master },
            ))
        }
    }
}

/// The exec unit's properties: the task's context, the command, the streams.
fn properties(
    task: &UnitSnapshot,
    task_unit: &UnitName,
    argv: &[String],
    stdio: &[Arc<OwnedFd>; 3],
    loader_env: &[String],
) -> Result<Vec<Property>> {
    let ctx = &task.exec_context;
    let tty = Arc::ptr_eq(&stdio[0], &stdio[1]);
    let mut environment = ctx.environment.clone();
    if tty && !environment.iter().any(|e| e.starts_with("TERM=")) {
        environment.push(format!("TERM={DEFAULT_TERM}"));
    }
    if !environment.iter().any(|e| e.starts_with("HOME="))
        && let Some(home) = super::mapping::identity::home_of(&ctx.user)
    {
        environment.push(format!("HOME={home}"));
    }
    let program = resolve(argv, ctx)?;
    let mut command = ExecCommand {
        path: program,
        argv: argv.to_vec(),
    };
    // The variables the task got through the loader, the same way.
    let loader_env = if loader_env.is_empty() {
        &ctx.loader_environment[..]
    } else {
        loader_env
    };
    // Or arguments systemd would not read back literally after a reload, where the loader is
    // within reach (not under the task's own root).
    let own_root = ctx
        .sandbox
        .iter()
        .any(|p| p.name == "RootDirectory" || p.name == "RootImage");
    let loader = crate::core::env_loader::program().and_then(|p| p.to_str());
    let encode = !own_root && loader.is_some() && crate::core::env_loader::needs_encoding(&command);
    if !loader_env.is_empty() || encode {
        let loader = loader.ok_or_else(|| {
            Error::invalid(
                "env",
                "the task's environment needs the driver's loader, whose path is unknown",
            )
        })?;
        // SIGPIPE as the exec unit will have it: ignored unless its process settings, the
        // task's, say IgnoreSIGPIPE=no.
        let sigpipe_default = ctx
            .process
            .iter()
            .any(|p| p.name == "IgnoreSIGPIPE" && matches!(p.value, Value::Bool(false)));
        command = crate::core::env_loader::wrap(loader, &command, loader_env, sigpipe_default);
    }
    let mut props = vec![
        Property::new(
            "Description",
            Value::Str(format!("exec in {task_unit}: {}", argv.join(" "))),
        ),
        command.start_property(),
        Property::new("Environment", Value::Strings(environment)),
        Property::new("StandardInputFileDescriptor", Value::Fd(stdio[0].clone())),
        Property::new("StandardOutputFileDescriptor", Value::Fd(stdio[1].clone())),
        Property::new("StandardErrorFileDescriptor", Value::Fd(stdio[2].clone())),
    ];
    let strings = [
        ("User", &ctx.user),
        ("Group", &ctx.group),
        ("WorkingDirectory", &ctx.working_directory),
        ("NetworkNamespacePath", &ctx.network_namespace_path),
    ];
    for (name, value) in strings {
        if !value.is_empty() {
            props.push(Property::new(name, Value::Str(value.clone())));
        }
    }
    if !ctx.supplementary_groups.is_empty() {
        props.push(Property::new(
            "SupplementaryGroups",
            Value::Strings(ctx.supplementary_groups.clone()),
        ));
    }
    if !ctx.bind_paths.is_empty() {
        props.push(Property::new(
            "BindPaths",
            Value::Binds(ctx.bind_paths.clone()),
        ));
    }
    if !ctx.bind_read_only_paths.is_empty() {
        props.push(Property::new(
            "BindReadOnlyPaths",
            Value::Binds(ctx.bind_read_only_paths.clone()),
        ));
    }
    // A command exec'd into the task is confined exactly as the task is, and held to its
    // limits.
    props.extend(ctx.sandbox.iter().cloned());
    props.extend(ctx.process.iter().cloned());
    props.extend(ctx.limits.iter().cloned());
    if tty && let Ok(path) = nix::unistd::ttyname(stdio[0].as_ref()) {
        props.push(Property::new(
            "TTYPath",
            Value::Str(path.to_string_lossy().into_owned()),
        ));
    }
    props.extend([
        Property::new("Type", Value::Str("exec".into())),
        Property::new("Restart", Value::Str("no".into())),
        Property::new("RemainAfterExit", Value::Bool(false)),
        Property::new("AddRef", Value::Bool(true)),
        Property::new("CollectMode", Value::Str("inactive-or-failed".into())),
        Property::new("KillSignal", Value::I32(Signal::KILL.number())),
        Property::new("Slice", Value::Str(task.slice.clone())),
        // The task's own /tmp, not a third one.
        Property::new("PrivateTmp", Value::Bool(true)),
        Property::new(
            "JoinsNamespaceOf",
            Value::Strings(vec![task_unit.to_string()]),
        ),
        Property::new("CPUAccounting", Value::Bool(true)),
        Property::new("MemoryAccounting", Value::Bool(true)),
        Property::new("TasksAccounting", Value::Bool(true)),
    ]);
    Ok(props)
}

/// The program to run: an absolute path as given, a bare name looked up on the task's `PATH`.
fn resolve(argv: &[String], ctx: &ExecContext) -> Result<String> {
    let Some(command) = argv.first().filter(|c| !c.is_empty()) else {
        return Err(Error::invalid("command", "exec needs a command to run"));
    };
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(Error::invalid("command", "an argument contains a NUL byte"));
    }
    check_exec_size("command", argv, &ctx.environment)?;
    if command.starts_with('/') {
        return Ok(command.clone());
    }
    if command.contains('/') {
        return Err(Error::invalid(
            "command",
            format!("'{command}' is relative; give an absolute path or a name on PATH"),
        ));
    }
    let path = ctx
        .environment
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    search_path(command, path)
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid("command", format!("'{command}' is not on PATH ({path})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::{BindMount, find};

    fn task() -> UnitSnapshot {
        UnitSnapshot {
            slice: "system-nomad-a_web_1.slice".into(),
            exec_context: ExecContext {
                user: "nobody".into(),
                environment: vec!["NOMAD_TASK_NAME=web".into()],
                working_directory: "/local".into(),
                bind_paths: vec![BindMount {
                    source: "/data/alloc".into(),
                    destination: "/alloc".into(),
                    ignore_missing: false,
                    recursive: true,
                }],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn props(io: ExecIo, argv: &[&str]) -> Result<Vec<Property>> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let (theirs, _ours) = open_streams(io).unwrap();
        let unit = UnitName::parse("nomad-a-web-1.service").unwrap();
        properties(&task(), &unit, &argv, &theirs, &[])
    }

    #[test]
    fn the_exec_unit_shares_the_tasks_context_and_slice() {
        let p = props(ExecIo::Pipes, &["/bin/sh", "-c", "id"]).unwrap();
        assert!(matches!(find(&p, "User"), Some(Value::Str(u)) if u == "nobody"));
        assert!(matches!(find(&p, "WorkingDirectory"), Some(Value::Str(d)) if d == "/local"));
        assert!(
            matches!(find(&p, "Slice"), Some(Value::Str(s)) if s == "system-nomad-a_web_1.slice")
        );
        assert!(matches!(find(&p, "BindPaths"), Some(Value::Binds(b)) if b.len() == 1));
        assert!(matches!(find(&p, "Restart"), Some(Value::Str(r)) if r == "no"));
        assert!(matches!(find(&p, "AddRef"), Some(Value::Bool(true))));
        assert!(find(&p, "TTYPath").is_none());
        assert!(find(&p, "Group").is_none());
        for prop in &p {
            prop.value.signature();
        }
    }

    #[test]
    fn a_tty_session_gets_one_terminal_and_a_term() {
        let p = props(ExecIo::Tty { rows: 24, cols: 80 }, &["/bin/sh"]).unwrap();
        assert!(matches!(find(&p, "TTYPath"), Some(Value::Str(t)) if t.starts_with("/dev/pts/")));
        let Some(Value::Strings(env)) = find(&p, "Environment") else {
            panic!("no environment")
        };
        assert!(env.iter().any(|e| e == "TERM=xterm-256color"));
    }

    #[test]
    fn commands_are_absolute_or_found_on_path() {
        let p = props(ExecIo::Pipes, &["sh", "-c", "true"]).unwrap();
        let cmd = crate::core::property::start_command(&p).expect("no ExecStart");
        assert!(cmd.path.ends_with("/sh") && cmd.path.starts_with('/'));
        assert_eq!(cmd.argv, ["sh", "-c", "true"]);
        for bad in [
            &[][..],
            &[""],
            &["./x"],
            &["no-such-program-here"],
            &["/bin/sh", "a\0b"],
        ] {
            assert!(props(ExecIo::Pipes, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exec_units_are_named_after_their_task() {
        let task = UnitName::parse("nomad-a-web-1.service").unwrap();
        let exec = exec_unit_name(&task);
        assert!(exec.as_str().starts_with("nomad-a-web-1-exec-"), "{exec}");
        assert_ne!(exec, exec_unit_name(&task));
        let instance = UnitName::parse("web@a1.service").unwrap();
        let exec = exec_unit_name(&instance);
        assert!(
            exec.as_str().starts_with("web\\x40a1-exec-") && exec.template().is_none(),
            "{exec}"
        );
    }
}
