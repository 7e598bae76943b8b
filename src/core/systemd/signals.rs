//! systemd's change signals, received once per connection and shared by every waiter.
//!
//! A match rule per waiting task would cost the bus daemon a rule each (the system bus allows
//! a few hundred per connection) and us a stream each. Instead one `PropertiesChanged` rule
//! for all unit objects and one `JobRemoved` subscription feed two broadcast channels; a
//! waiter subscribes, then filters by object path or job. `UnitRemoved` joins the changes: a unit
//! systemd collects changes no property first. A change carries the values systemd
//! sent, so a waiter can follow a unit without reading it again (see `followed`); a waiter
//! that falls behind is told so and simply re-reads the state.
//!
//! systemd sends unit signals only to clients that called `Subscribe`. When its bus name gets
//! a new owner (systemd re-executed itself), the subscription is made again: systemd 262 does
//! not carry it across `daemon-reexec` (earlier versions do), and a waiter would otherwise hear
//! nothing until its safety re-read. Waiters are then told to re-read.

use std::collections::HashMap;
use std::sync::Arc;

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

/// Signals in flight a slow waiter may miss before it has to re-read.
const BACKLOG: usize = 1024;

/// One `PropertiesChanged` signal of a unit object: the interface it is about, the values
/// systemd sent and the names of properties it only says changed (without their values). A
/// `UnitRemoved` signal arrives as an unreadable change of the unit's object.
#[derive(Debug)]
pub struct Change {
    pub path: OwnedObjectPath,
    pub interface: String,
    pub changed: HashMap<String, OwnedVariant>,
    pub invalidated: Vec<String>,
    /// The body could not be read: only the path is known, so whoever follows the unit must
    /// read it again.
    pub unreadable: bool,
}

/// What `PropertiesChanged` carries: interface, changed values, invalidated names.
type ChangedBody = (String, HashMap<String, OwnedVariant>, Vec<String>);

impl Change {
    /// systemd unloaded the unit (`UnitRemoved`): whoever follows it must read it again, and
    /// finds it gone (or loaded anew).
    fn unloaded(path: OwnedObjectPath) -> Change {
        Change {
            path,
            interface: String::new(),
            changed: HashMap::new(),
            invalidated: Vec::new(),
            unreadable: true,
        }
    }

    fn of(path: OwnedObjectPath, message: &zbus::Message) -> Change {
        match message.body().deserialize::<ChangedBody>() {
            Ok((interface, changed, invalidated)) => Change {
                path,
                interface,
                changed,
                invalidated,
                unreadable: false,
            },
            Err(_) => Change {
                path,
                interface: String::new(),
                changed: HashMap::new(),
                invalidated: Vec::new(),
                unreadable: true,
            },
        }
    }
}

/// A finished job: its object path and result (`done`, `failed`, …).
#[derive(Debug, Clone)]
pub struct JobDone {
    pub job: OwnedObjectPath,
    pub result: String,
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
    tasks: Vec<JoinHandle<()>>,
    /// Subscribes again whenever systemd's bus name gets a new owner.
    resubscribe: JoinHandle<()>,
}

impl Signals {
    pub async fn start(
        conn: &Connection,
        manager: &ManagerProxy<'static>,
    ) -> zbus::Result<Arc<Signals>> {
        let rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.freedesktop.DBus.Properties")
            .member("PropertiesChanged")
            .path_namespace("/org/freedesktop/systemd1/unit")
            .build()?;
        let messages =
            MessageStream::for_match_rule(rule, conn, std::num::NonZeroUsize::new(BACKLOG)).await?;
        let unloaded = manager.receive_unit_removed().await?;
        let mut removed = manager.receive_job_removed().await?;
        let mut owners = manager.inner().receive_owner_changed().await?;
        let (changes, _) = broadcast::channel(BACKLOG);
        let (jobs, _) = broadcast::channel(BACKLOG);
        let forward_changes = {
            let changes = changes.clone();
            let properties = messages.map(|message| {
                let message = message.ok()?;
                let path = message.header().path()?.to_owned().into();
                Some(Change::of(path, &message))
            });
            let unloaded = unloaded.map(|signal| {
                let path = signal.args().ok()?.unit.clone();
                Some(Change::unloaded(path))
            });
            let mut both = futures_util::stream::select(properties, unloaded);
            tokio::spawn(async move {
                while let Some(change) = both.next().await {
                    if let Some(change) = change {
                        let _ = changes.send(Feed::Signal(Arc::new(change)));
                    }
                }
                let _ = changes.send(Feed::Lost);
            })
        };
        let forward_jobs = {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                while let Some(signal) = removed.next().await {
                    if let Ok(args) = signal.args() {
                        let _ = jobs.send(Feed::Signal(JobDone {
                            job: args.job.clone(),
                            result: args.result.clone(),
                        }));
                    }
                }
                let _ = jobs.send(Feed::Lost);
            })
        };
        let resubscribe = {
            let changes = changes.clone();
            let jobs = jobs.clone();
            let manager = manager.clone();
            tokio::spawn(async move {
                while let Some(owner) = owners.next().await {
                    if owner.is_some() {
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
            tasks: vec![forward_changes, forward_jobs],
            resubscribe,
        }))
    }

    /// Changes of units' properties, from now on.
    pub fn changes(&self) -> broadcast::Receiver<Feed<Arc<Change>>> {
        self.changes.subscribe()
    }

    /// Whether both feeds still run; they end when the connection does.
    pub fn is_alive(&self) -> bool {
        self.tasks.iter().all(|t| !t.is_finished())
    }

    /// Jobs that finished, from now on.
    pub fn jobs(&self) -> broadcast::Receiver<Feed<JobDone>> {
        self.jobs.subscribe()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
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
