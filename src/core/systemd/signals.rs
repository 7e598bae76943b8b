//! systemd's change signals, received once per connection and shared by every waiter.
//!
//! A match rule per waiting task would cost the bus daemon a rule each (the system bus allows
//! a few hundred per connection) and us a stream each. Instead one rule takes every signal
//! systemd sends on its objects, in the order sent, and one task feeds two broadcast channels:
//! units' `PropertiesChanged` (and `UnitRemoved`, since a unit systemd collects changes no
//! property first) and `JobRemoved`; a waiter subscribes, then filters by object path or job.
//! A change carries the values systemd sent, so a waiter can follow a unit without reading it
//! again (see `followed`); a waiter that falls behind is told so and simply re-reads the state.
//!
//! The rule names systemd's bus name as the sender: any client may broadcast a signal on any
//! path, and a task's process is a client; the bus daemon delivers only what the name's owner
//! sent. The streams are plain match-rule streams, not zbus's proxy signal streams: with a
//! proxy stream for `UnitRemoved` beside the one for `JobRemoved`, two plugins bursting 400
//! starts each stopped reading their bus sockets for good (zbus's socket reader waits while
//! any stream's queue is full; which one was never drained is not known).
//!
//! systemd sends unit signals only to clients that called `Subscribe`. When its bus name gets
//! a new owner (systemd re-executed itself), the subscription is made again: systemd 262 does
//! not carry it across `daemon-reexec` (earlier versions do), and a waiter would otherwise hear
//! nothing until its safety re-read. Waiters are then told to re-read.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant};
use zbus_systemd::systemd1::ManagerProxy;

/// The error systemd answers `Subscribe` with when it already counts this client among its
/// subscribers.
const ALREADY_SUBSCRIBED: &str = "org.freedesktop.systemd1.AlreadySubscribed";

/// Asks systemd to send this connection its unit and job signals. Being subscribed already is
/// success: systemd keeps its subscribers' bus names across a re-exec and across a restart of
/// the bus daemon, and a new daemon that hands out unique names from the start again may give
/// a new connection the very name systemd kept (seen with dbus-broker).
pub async fn subscribe(manager: &ManagerProxy<'_>) -> zbus::Result<()> {
    match manager.subscribe().await {
        Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == ALREADY_SUBSCRIBED => Ok(()),
        other => other,
    }
}

/// systemd's bus name, the sender of every signal the feeds carry.
const SYSTEMD: &str = "org.freedesktop.systemd1";
/// The manager's object; every other object of systemd's is below it.
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
/// Where units' objects are.
const UNIT_PATHS: &str = "/org/freedesktop/systemd1/unit/";

/// Signals in flight a slow waiter may miss before it has to re-read.
const BACKLOG: usize = 1024;

/// One `PropertiesChanged` signal of a unit object, or a `UnitRemoved` signal as an unreadable
/// change of the unit's object. The body is decoded when first asked for, once: every
/// waiter sees every unit's signals and wants those of its own unit only, so a change nobody
/// follows costs its header alone.
#[derive(Debug)]
pub struct Change {
    pub path: OwnedObjectPath,
    /// The `PropertiesChanged` message; `None` for `UnitRemoved`.
    message: Option<zbus::Message>,
    body: OnceLock<Option<ChangedBody>>,
}

/// What `PropertiesChanged` carries: the interface it is about, the values systemd sent and
/// the names of properties it only says changed (without their values).
#[derive(Debug)]
pub struct ChangedBody {
    pub interface: String,
    pub changed: HashMap<String, OwnedVariant>,
    pub invalidated: Vec<String>,
}

impl Change {
    /// systemd unloaded the unit (`UnitRemoved`): whoever follows it must read it again, and
    /// finds it gone (or loaded anew).
    fn unloaded(path: OwnedObjectPath) -> Change {
        Change::decoded(path, None)
    }

    fn of(path: OwnedObjectPath, message: &zbus::Message) -> Change {
        Change {
            path,
            message: Some(message.clone()),
            body: OnceLock::new(),
        }
    }

    /// A change with this body already decoded (`None`: unreadable).
    pub(super) fn decoded(path: OwnedObjectPath, body: Option<ChangedBody>) -> Change {
        Change {
            path,
            message: None,
            body: OnceLock::from(body),
        }
    }

    /// The signal's body; `None` when it could not be read (or the unit was unloaded): only
    /// the path is known, so whoever follows the unit must read it again.
    pub fn body(&self) -> Option<&ChangedBody> {
        self.body
            .get_or_init(|| {
                let message = self.message.as_ref()?;
                let (interface, changed, invalidated) = message
                    .body()
                    .deserialize::<(String, HashMap<String, OwnedVariant>, Vec<String>)>()
                    .ok()?;
                Some(ChangedBody {
                    interface,
                    changed,
                    invalidated,
                })
            })
            .as_ref()
    }
}

/// A finished job: its object path and result (`done`, `failed`, …).
#[derive(Debug, Clone)]
pub struct JobDone {
    pub job: OwnedObjectPath,
    pub result: String,
}

/// One of systemd's signals that a feed carries.
enum Signal {
    Change(Change),
    JobDone(JobDone),
}

impl Signal {
    /// `PropertiesChanged` of a unit, `UnitRemoved` (as a change of the unit that needs a read)
    /// and `JobRemoved`; `None` for the rest (jobs' own properties, `UnitNew`, `JobNew`, …).
    fn of(message: &zbus::Message) -> Option<Signal> {
        let header = message.header();
        let path = header.path()?;
        match header.member()?.as_str() {
            "PropertiesChanged" if path.as_str().starts_with(UNIT_PATHS) => {
                Some(Signal::Change(Change::of(path.to_owned().into(), message)))
            }
            "UnitRemoved" if path.as_str() == MANAGER_PATH => {
                let body = message.body();
                let (_, unit) = body.deserialize::<(&str, OwnedObjectPath)>().ok()?;
                Some(Signal::Change(Change::unloaded(unit)))
            }
            "JobRemoved" if path.as_str() == MANAGER_PATH => {
                let body = message.body();
                let (_, job, _, result) = body
                    .deserialize::<(u32, OwnedObjectPath, &str, &str)>()
                    .ok()?;
                Some(Signal::JobDone(JobDone {
                    job,
                    result: result.to_string(),
                }))
            }
            _ => None,
        }
    }
}

/// What a feed carries: a signal, or word that the connection is gone and no more will come
/// (the bus daemon restarted, say), so waiters stop waiting on it.
#[derive(Debug, Clone)]
pub enum Feed<T> {
    Signal(T),
    Lost,
    /// systemd came back under a new bus connection: anything may have changed unheard.
    Resync,
}

/// The two feeds. Dropping the last handle stops the receivers, which releases the connection.
pub struct Signals {
    changes: broadcast::Sender<Feed<Arc<Change>>>,
    jobs: broadcast::Sender<Feed<JobDone>>,
    /// Feeds both from the one stream of systemd's signals.
    forward: JoinHandle<()>,
    /// Subscribes again whenever systemd's bus name gets a new owner.
    resubscribe: JoinHandle<()>,
}

impl Signals {
    /// Starts the feeds: one match rule for every signal systemd sends on its own objects, in
    /// the order sent, and one for its bus name changing owner.
    pub async fn start(
        conn: &Connection,
        manager: &ManagerProxy<'static>,
    ) -> zbus::Result<Arc<Signals>> {
        // Sent by systemd's connection only: the bus daemon matches the sender against the
        // name's current owner, so another client's broadcast on these paths (any client may
        // send signals) never reaches us.
        let from_systemd = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender(SYSTEMD)
            .path_namespace(MANAGER_PATH)
            .build()?;
        let mut messages =
            MessageStream::for_match_rule(from_systemd, conn, std::num::NonZeroUsize::new(BACKLOG))
                .await?;
        let owner_changed = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender("org.freedesktop.DBus")
            .path("/org/freedesktop/DBus")
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .add_arg(SYSTEMD)
            .build()?;
        let mut owners = MessageStream::for_match_rule(owner_changed, conn, None).await?;
        let (changes, _) = broadcast::channel(BACKLOG);
        let (jobs, _) = broadcast::channel(BACKLOG);
        let forward = {
            let changes = changes.clone();
            let jobs = jobs.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = messages.next().await {
                    match Signal::of(&message) {
                        Some(Signal::Change(change)) => {
                            let _ = changes.send(Feed::Signal(Arc::new(change)));
                        }
                        Some(Signal::JobDone(done)) => {
                            let _ = jobs.send(Feed::Signal(done));
                        }
                        None => {}
                    }
                }
                let _ = changes.send(Feed::Lost);
                let _ = jobs.send(Feed::Lost);
            })
        };
        let resubscribe = {
            let changes = changes.clone();
            let jobs = jobs.clone();
            let manager = manager.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = owners.next().await {
                    let owned = message
                        .body()
                        .deserialize::<(&str, &str, &str)>()
                        .is_ok_and(|(_, _, new_owner)| !new_owner.is_empty());
                    if owned {
                        // A failure leaves the safety re-read.
                        let _ = subscribe(&manager).await;
                        let _ = changes.send(Feed::Resync);
                        let _ = jobs.send(Feed::Resync);
                    }
                }
            })
        };
        Ok(Arc::new(Signals {
            changes,
            jobs,
            forward,
            resubscribe,
        }))
    }

    /// Changes of units' properties, from now on.
    pub fn changes(&self) -> broadcast::Receiver<Feed<Arc<Change>>> {
        self.changes.subscribe()
    }

    /// Whether the feeds still run; they end when the connection does.
    pub fn is_alive(&self) -> bool {
        !self.forward.is_finished()
    }

    /// Jobs that finished, from now on.
    pub fn jobs(&self) -> broadcast::Receiver<Feed<JobDone>> {
        self.jobs.subscribe()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.forward.abort();
        self.resubscribe.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the real manager on the system bus (the suite runs in the sandbox): systemd
    /// answers a second `Subscribe` from the same client with `AlreadySubscribed`, which is
    /// what a connection gets when systemd kept its bus name from before a bus restart.
    #[tokio::test]
    async fn a_client_systemd_already_counts_as_subscribed_is_subscribed() {
        let conn = Connection::system().await.expect("the system bus");
        let manager = ManagerProxy::new(&conn).await.expect("systemd's manager");
        manager.subscribe().await.expect("the first Subscribe");
        let again = manager.subscribe().await;
        assert!(
            matches!(&again, Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == ALREADY_SUBSCRIBED),
            "systemd's answer to a second Subscribe: {again:?}"
        );
        subscribe(&manager)
            .await
            .expect("being subscribed already is success");
    }
}
