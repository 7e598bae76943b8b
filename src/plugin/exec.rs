//! Nomad's ExecTask (script checks) and ExecTaskStreaming (`nomad alloc exec`) over the core's
//! exec.
//!
//! Streaming protocol, as Nomad's client speaks it: the first message is `setup`; then stdin
//! data, a stdin close (with a tty: the terminal's EOF character), terminal sizes (the latest
//! wins) and empty heartbeats (ignored). We
//! answer with stdout/stderr data, one close per stream at its end, and finally `exited` with
//! the result. With a tty there is one stream, sent as stdout. The session ends when the lead
//! process exits; if the client goes away first, the command is killed.
//!
//! A command exec'd into a task runs as the task's unit runs. For a transient task that is the
//! user the operator's policy allowed at start; an installed unit runs as its own unit file
//! says (often root), which the job never had to ask for. So an exec into an installed unit
//! is held to the identity rules a task's `user` and `group` are ([`check_identity`]): root
//! (uid or gid 0) only with `allow_root`, another user only if `allowed_users` matches it, any
//! group besides the user's primary one (`Group=`, `SupplementaryGroups=`, the user's
//! memberships) only if `allowed_groups` grants it, nothing `denied_host_uids`/`denied_host_gids`
//! lists, and a unit holding ambient capabilities (root's powers without uid 0) only within
//! `allowed_ambient_capabilities` or with `allow_root`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::config::PluginConfig;
use super::policy;
use super::proto::driver::{
    self as pb, ExecTaskStreamingIoOperation as IoOperation, ExecTaskStreamingResponse as Reply,
};
use super::status;
use crate::core::capability::CapSet;
use crate::core::exec::{self, Exec, ExecIo, ExecStreams};
use crate::core::property::Value;
use crate::core::systemd::ExecContext;
use crate::core::{Bus, Engine, Error, ExitResult, UnitName};

/// Most output an ExecTask keeps per stream; a check's output is a status line or two.
const MAX_CAPTURE: usize = 4 << 20;
/// How long output may keep arriving after the lead process exited.
const DRAIN: Duration = Duration::from_secs(5);
/// Read size, as Nomad's own executor reads.
const CHUNK: usize = 1024;
/// The size a tty starts with until the client sends its own.
const DEFAULT_ROWS: u16 = 24;
const DEFAULT_COLS: u16 = 80;

/// Where a command runs: the task's unit and, for an installed unit, the operator's config
/// whose identity rules the unit's user must meet.
pub struct Target {
    pub unit: UnitName,
    pub installed: Option<PluginConfig>,
    /// The assignments the task got through the environment loader, recorded in its handle.
    pub loader_env: Vec<String>,
}

/// Refuses, before anything runs, an exec into an installed unit whose user or groups a
/// task could not have asked for (see the module docs). A transient task passes: its user
/// was checked when it started.
pub async fn check_identity(engine: &Engine, target: &Target) -> Result<(), Status> {
    let Some(plugin) = &target.installed else {
        return Ok(());
    };
    if plugin.bus == Bus::User {
        // A user manager runs everything as its own user.
        return Ok(());
    }
    if target.unit.unit_type() != "service" {
        // A timer, socket or path unit runs nothing to exec into: the core refuses the exec
        // and says so, which is more use to the job than its (absent) identity.
        return Ok(());
    }
    let snapshot = engine
        .systemd()
        .snapshot(&target.unit)
        .await
        .map_err(|e| status::from_core(&e))?;
    identity_allowed(&target.unit, &snapshot.exec_context, plugin)
        .map_err(|e| status::from_core(&e))
}

/// The identity rules of a task's `user` and `group` applied to what the installed unit runs
/// as: its user (root needs `allow_root`, anyone else `allowed_users`), its ambient
/// capabilities, and every group an exec'd command would hold: `Group=` (else the user's
/// primary group), `SupplementaryGroups=` and the user's own memberships, which systemd adds
/// with `initgroups` ([`policy::supplementary`]). A group other than the user's primary one
/// needs `allowed_groups`, root's group `allow_root`; a unit running as root (allowed) holds
/// every group's access anyway. `denied_host_uids`/`denied_host_gids` refuse the user and any
/// of those groups, or the user's primary group, whatever else allows them.
fn identity_allowed(
    unit: &UnitName,
    ctx: &ExecContext,
    plugin: &PluginConfig,
) -> Result<(), Error> {
    let dynamic = ctx
        .sandbox
        .iter()
        .any(|p| p.name == "DynamicUser" && matches!(p.value, Value::Bool(true)));
    let refuse = |what: String, knob: &str| {
        Err(Error::invalid(
            "exec",
            format!(
                "{unit} {what}; a command exec'd into it would too, which this node does not \
                 allow a job ({knob})"
            ),
        ))
    };
    // No User= runs the service as the manager's user: root.
    let user = if ctx.user.is_empty() {
        "root"
    } else {
        &ctx.user
    };
    let account = if dynamic { None } else { policy::account(user) };
    let as_root = account.as_ref().is_some_and(|a| a.uid == 0);
    if !dynamic {
        if as_root {
            if !plugin.allow_root {
                let setting = if ctx.user.is_empty() {
                    "its unit file sets no User=".to_string()
                } else {
                    format!("User={}", ctx.user)
                };
                return refuse(
                    format!("runs as root ({setting})"),
                    "set allow_root = true in the plugin's config",
                );
            }
        } else if !plugin.allowed_users.iter().any(|p| p.matches(user)) {
            return refuse(
                format!("runs as '{user}'"),
                "add it to allowed_users in the plugin's config",
            );
        }
        if let Some(a) = &account
            && plugin.denied_host_uids.contains(a.uid)
        {
            return refuse(
                format!("runs as '{user}' (uid {})", a.uid),
                "denied_host_uids in the plugin's config denies it",
            );
        }
    }
    // The unit's ambient capabilities are what an exec'd command would hold: the same grant a
    // task's `ambient_capabilities` needs, unless root is allowed anyway.
    let ambient = ctx
        .sandbox
        .iter()
        .find_map(|p| match (&*p.name, &p.value) {
            ("AmbientCapabilities", Value::U64(bits)) => Some(CapSet(*bits)),
            _ => None,
        })
        .unwrap_or_default();
    if !plugin.allow_root
        && !ambient
            .without(plugin.allowed_ambient_capabilities)
            .is_empty()
    {
        return refuse(
            "holds ambient capabilities (AmbientCapabilities=) beyond what a task may hold".into(),
            "add them to allowed_ambient_capabilities, or set allow_root = true, in the plugin's \
             config",
        );
    }
    let own = account.as_ref().and_then(|a| a.gid);
    // Every group the command would hold, with where it comes from.
    let mut held: Vec<(u32, String)> = Vec::new();
    for (setting, names) in [
        ("Group=", std::slice::from_ref(&ctx.group)),
        ("SupplementaryGroups=", &ctx.supplementary_groups[..]),
    ] {
        for name in names.iter().filter(|g| !g.is_empty()) {
            // A group the host does not know fails the unit's own start (216/GROUP).
            if let Some(gid) = gid_of(name) {
                held.push((gid, format!("{setting}{name}")));
            }
        }
    }
    let primary = if ctx.group.is_empty() {
        own
    } else {
        gid_of(&ctx.group)
    };
    if let (Some(a), Some(gid)) = (&account, primary) {
        for gid in policy::supplementary(a, gid)? {
            held.push((
                gid,
                format!("its user's membership in {}", policy::shown_group(gid)),
            ));
        }
        // Nomad's check covers all of the user's groups, its primary one included.
        if let Some(own) = own {
            for gid in policy::memberships(a, own)? {
                if plugin.denied_host_gids.contains(gid) {
                    return refuse(
                        format!("runs as '{user}', a member of {}", policy::shown_group(gid)),
                        "denied_host_gids in the plugin's config denies it",
                    );
                }
            }
        }
    }
    for (gid, from) in held {
        if plugin.denied_host_gids.contains(gid) {
            return refuse(
                format!("runs with group {} ({from})", policy::shown_group(gid)),
                "denied_host_gids in the plugin's config denies it",
            );
        }
        if gid == 0 && !plugin.allow_root {
            return refuse(
                format!("runs with the root group ({from})"),
                "set allow_root = true in the plugin's config",
            );
        }
        if !as_root && Some(gid) != own && !policy::group_granted(gid, plugin) {
            return refuse(
                format!("runs with group {} ({from})", policy::shown_group(gid)),
                "add the group to allowed_groups in the plugin's config",
            );
        }
    }
    Ok(())
}

/// The gid `group` (a name or a number) names on this host, if any.
fn gid_of(group: &str) -> Option<u32> {
    policy::resolve_group(group).ok().map(|(gid, _)| gid)
}

/// Runs `argv` to completion (or until `timeout`, then kills it) with stdin closed.
pub async fn run_once(
    engine: &Engine,
    target: &Target,
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<pb::ExecTaskResponse, Status> {
    check_identity(engine, target).await?;
    let Exec { unit, streams } = engine
        .exec_with_env(&target.unit, argv, ExecIo::Pipes, &target.loader_env)
        .await
        .map_err(|e| status::from_core(&e))?;
    let ExecStreams::Pipes {
        stdin,
        stdout,
        stderr,
    } = streams
    else {
        return Err(Status::internal("exec with pipes returned a terminal"));
    };
    drop(stdin);
    let (stdout, stderr) = (capture(stdout), capture(stderr));
    let waited = match timeout {
        Some(limit) => tokio::time::timeout(limit, engine.exec_wait(&unit))
            .await
            .ok(),
        None => Some(engine.exec_wait(&unit).await),
    };
    let result = match waited {
        Some(exit) => exit.map_err(|e| status::from_core(&e))?,
        None => {
            engine
                .exec_kill(&unit)
                .await
                .map_err(|e| status::from_core(&e))?;
            // Killed for running too long: reported as a death by SIGKILL.
            ExitResult {
                exit_code: 128 + 9,
                signal: 9,
                oom_killed: false,
            }
        }
    };
    Ok(pb::ExecTaskResponse {
        stdout: stdout.await.unwrap_or_default(),
        stderr: stderr.await.unwrap_or_default(),
        result: Some(exit_result(result)),
    })
}

/// Serves one `nomad alloc exec` session; `find` maps the setup's task id to its target.
pub async fn stream(
    engine: Engine,
    mut input: Streaming<pb::ExecTaskStreamingRequest>,
    find: impl FnOnce(&str) -> Result<Target, Status>,
) -> Result<ReceiverStream<Result<Reply, Status>>, Status> {
    let setup = input
        .message()
        .await?
        .and_then(|m| m.setup)
        .ok_or_else(|| Status::invalid_argument("first message should always be setup"))?;
    let target = find(&setup.task_id)?;
    check_identity(&engine, &target).await?;
    let task = target.unit;
    let loader_env = target.loader_env;
    let io = if setup.tty {
        ExecIo::Tty {
            rows: DEFAULT_ROWS,
            cols: DEFAULT_COLS,
        }
    } else {
        ExecIo::Pipes
    };
    let Exec { unit, streams } = engine
        .exec_with_env(&task, &setup.command, io, &loader_env)
        .await
        .map_err(|e| status::from_core(&e))?;
    let (tx, rx) = mpsc::channel(32);
    let wired = wire(streams, &tx);
    let (stdin, terminal, readers) = match wired {
        Ok(wired) => wired,
        Err(e) => {
            let _ = engine.exec_kill(&unit).await;
            return Err(e);
        }
    };
    tokio::spawn(feed(input, spawn_writer(stdin), terminal));
    tokio::spawn(supervise(engine, unit, tx, readers));
    Ok(ReceiverStream::new(rx))
}

/// Our ends of the command's streams: where stdin goes, the terminal to resize (tty only) and
/// the tasks forwarding output to the client.
type Wired = (OwnedFd, Option<OwnedFd>, Vec<tokio::task::JoinHandle<()>>);

fn wire(streams: ExecStreams, tx: &mpsc::Sender<Result<Reply, Status>>) -> Result<Wired, Status> {
    Ok(match streams {
        ExecStreams::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            stdin,
            None,
            vec![
                forward(stdout, tx.clone(), stdout_reply),
                forward(stderr, tx.clone(), stderr_reply),
            ],
        ),
        ExecStreams::Tty { master } => {
            let reader = master.try_clone().map_err(io_status)?;
            let writer = master.try_clone().map_err(io_status)?;
            (
                writer,
                Some(master),
                vec![forward(reader, tx.clone(), stdout_reply)],
            )
        }
    })
}

/// Copies the client's stdin and terminal sizes to the command until the client is done.
async fn feed(
    mut input: Streaming<pb::ExecTaskStreamingRequest>,
    mut writer: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    terminal: Option<OwnedFd>,
) {
    while let Ok(Some(message)) = input.message().await {
        if let Some(size) = message.tty_size
            && let Some(master) = &terminal
        {
            let rows = u16::try_from(size.height).unwrap_or(DEFAULT_ROWS);
            let cols = u16::try_from(size.width).unwrap_or(DEFAULT_COLS);
            if let Err(e) = exec::resize(master, rows, cols) {
                tracing::debug!(error = %e, "exec resize failed");
            }
        }
        if let Some(stdin) = message.stdin {
            if !stdin.data.is_empty()
                && let Some(w) = &writer
            {
                let _ = w.send(stdin.data);
            }
            // End of input: close a pipe. A terminal's input stays open (closing the master
            // would hang the session up and lose its output); it gets the terminal's
            // end-of-file character (^D), which makes a reader on it see end of file, as
            // typing ^D does. Later data and closes are dropped: the input has ended.
            if stdin.close {
                if let (Some(master), Some(w)) = (&terminal, &writer) {
                    let _ = w.send(vec![exec::eof_char(master)]);
                }
                writer = None;
            }
        }
    }
}

/// Waits for the lead process (or for the client to leave, then kills the command), lets the
/// output drain, and sends the final `exited` reply.
async fn supervise(
    engine: Engine,
    unit: UnitName,
    tx: mpsc::Sender<Result<Reply, Status>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
) {
    let exit = tokio::select! {
        exit = engine.exec_wait(&unit) => exit,
        () = tx.closed() => {
            if let Err(e) = engine.exec_kill(&unit).await {
                tracing::warn!(unit = %unit, error = %e, "could not kill an abandoned exec");
            }
            return;
        }
    };
    let _ = tokio::time::timeout(DRAIN, futures_util::future::join_all(readers)).await;
    let reply = match exit {
        Ok(exit) => Ok(Reply {
            exited: true,
            result: Some(exit_result(exit)),
            ..Reply::default()
        }),
        Err(e) => Err(status::from_core(&e)),
    };
    let _ = tx.send(reply).await;
}

fn stdout_reply(op: IoOperation) -> Reply {
    Reply {
        stdout: Some(op),
        ..Reply::default()
    }
}

fn stderr_reply(op: IoOperation) -> Reply {
    Reply {
        stderr: Some(op),
        ..Reply::default()
    }
}

/// Sends what `fd` yields as replies built by `wrap`, then a close at its end.
fn forward(
    fd: OwnedFd,
    tx: mpsc::Sender<Result<Reply, Status>>,
    wrap: fn(IoOperation) -> Reply,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let mut file = File::from(fd);
        let mut buf = [0u8; CHUNK];
        // A pty master ends with EIO once the command's side is closed: also an end.
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            let data = IoOperation {
                data: buf[..n].to_vec(),
                close: false,
            };
            if tx.blocking_send(Ok(wrap(data))).is_err() {
                return;
            }
        }
        let close = IoOperation {
            data: Vec::new(),
            close: true,
        };
        let _ = tx.blocking_send(Ok(wrap(close)));
    })
}

/// A thread writing into the command's stdin; dropping the sender closes it.
fn spawn_writer(fd: OwnedFd) -> Option<std::sync::mpsc::Sender<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut file = File::from(fd);
        for chunk in rx {
            if file.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    Some(tx)
}

/// Reads a stream to its end, keeping at most [`MAX_CAPTURE`] bytes.
fn capture(fd: OwnedFd) -> tokio::task::JoinHandle<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut file = File::from(fd);
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = MAX_CAPTURE.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room)]);
        }
        out
    })
}

fn io_status(e: std::io::Error) -> Status {
    Status::internal(format!("cannot set up the exec session: {e}"))
}

pub fn exit_result(exit: ExitResult) -> pb::ExitResult {
    pb::ExitResult {
        exit_code: exit.exit_code,
        signal: exit.signal,
        oom_killed: exit.oom_killed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pattern::Pattern;
    use crate::core::property::Property;
    use crate::plugin::id_ranges::IdRanges;

    fn ctx(user: &str, group: &str) -> ExecContext {
        ExecContext {
            user: user.into(),
            group: group.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_installed_unit_running_as_root_needs_allow_root() {
        let unit = UnitName::parse("web.service").unwrap();
        let plugin = PluginConfig::default();
        for (user, group) in [
            ("", ""),
            ("root", ""),
            ("0", ""),
            ("nobody", "root"),
            ("nobody", "0"),
        ] {
            let e = identity_allowed(&unit, &ctx(user, group), &plugin).unwrap_err();
            assert!(e.to_string().contains("allow_root"), "{user}/{group}: {e}");
        }
        assert!(identity_allowed(&unit, &ctx("nobody", ""), &plugin).is_ok());
        let root_ok = PluginConfig {
            allow_root: true,
            ..PluginConfig::default()
        };
        assert!(identity_allowed(&unit, &ctx("", ""), &root_ok).is_ok());
        let mut capable = ctx("nobody", "");
        capable.sandbox = vec![Property::new("AmbientCapabilities", Value::U64(1 << 21))];
        let e = identity_allowed(&unit, &capable, &plugin).unwrap_err();
        assert!(e.to_string().contains("ambient"), "{e}");
        let granted = PluginConfig {
            allowed_ambient_capabilities: CapSet(1 << 21),
            ..PluginConfig::default()
        };
        assert!(identity_allowed(&unit, &capable, &granted).is_ok());
        let mut dynamic = ctx("", "");
        dynamic.sandbox = vec![Property::new("DynamicUser", Value::Bool(true))];
        assert!(identity_allowed(&unit, &dynamic, &plugin).is_ok());
    }

    #[test]
    fn an_installed_units_groups_need_allowed_groups_and_denied_ids_win() {
        let unit = UnitName::parse("web.service").unwrap();
        let plugin = PluginConfig::default();
        let mut extra = ctx("nobody", "");
        extra.supplementary_groups = vec!["shadow".into()];
        for c in [ctx("nobody", "shadow"), ctx("nobody", "42"), extra.clone()] {
            let e = identity_allowed(&unit, &c, &plugin)
                .unwrap_err()
                .to_string();
            assert!(e.contains("shadow") && e.contains("allowed_groups"), "{e}");
        }
        // The user's own primary group needs nothing.
        assert!(identity_allowed(&unit, &ctx("nobody", "65534"), &plugin).is_ok());
        let granted = PluginConfig {
            allowed_groups: vec![Pattern::parse("shadow").unwrap()],
            ..PluginConfig::default()
        };
        assert!(identity_allowed(&unit, &ctx("nobody", "shadow"), &granted).is_ok());
        assert!(identity_allowed(&unit, &extra, &granted).is_ok());
        let denied = |uids: &str, gids: &str| PluginConfig {
            denied_host_uids: IdRanges::parse("denied_host_uids", uids).unwrap(),
            denied_host_gids: IdRanges::parse("denied_host_gids", gids).unwrap(),
            ..granted.clone()
        };
        for (plugin, c, knob) in [
            (denied("65534", ""), ctx("nobody", ""), "denied_host_uids"),
            (
                denied("", "40-50"),
                ctx("nobody", "shadow"),
                "denied_host_gids",
            ),
            (denied("", "40-50"), extra.clone(), "denied_host_gids"),
            (
                denied("", "65534"),
                ctx("nobody", "shadow"),
                "denied_host_gids",
            ),
        ] {
            let e = identity_allowed(&unit, &c, &plugin)
                .unwrap_err()
                .to_string();
            assert!(e.contains(knob), "{e}");
        }
        let root = PluginConfig {
            allow_root: true,
            ..denied("0", "")
        };
        let e = identity_allowed(&unit, &ctx("", ""), &root)
            .unwrap_err()
            .to_string();
        assert!(e.contains("denied_host_uids"), "{e}");
    }

    #[test]
    fn an_installed_units_user_must_be_an_allowed_user() {
        let unit = UnitName::parse("web.service").unwrap();
        let plugin = PluginConfig {
            allowed_users: vec![Pattern::parse("app-*").unwrap()],
            ..PluginConfig::default()
        };
        let e = identity_allowed(&unit, &ctx("nobody", ""), &plugin).unwrap_err();
        assert!(e.to_string().contains("allowed_users"), "{e}");
        assert!(identity_allowed(&unit, &ctx("app-web", ""), &plugin).is_ok());
    }
}
