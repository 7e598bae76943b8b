//! The systemd D-Bus client: one bus connection, shared by every task.
//!
//! Contracts:
//! - Every call that creates or removes something waits for systemd's job to finish, so when a
//!   method returns, systemd has done it (or said why not).
//! - State is followed through `PropertiesChanged` signals: a waiter reads the unit once and
//!   applies the values the signals carry; it reads again after a signal without them, after
//!   falling behind or a resync, and on a timer, so a lost signal delays an answer and never
//!   loses it.
//! - Errors are classified into [`Error`] variants a caller can act on; systemd's own message
//!   is kept.

mod bus_info;
mod busy;
mod followed;
mod signals;
mod snapshot;
mod variant;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, Semaphore, broadcast};
use zbus::{Connection, OwnedObjectPath};
use zbus_systemd::systemd1::ManagerProxy;

use followed::{Applied, Followed};
use signals::{Feed, Signals};

pub use snapshot::{ActiveState, ExecContext, UnitSnapshot};

use super::error::{Error, Result};
use super::property::Property;
use super::unit_name::UnitName;

const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";
const SLICE_INTERFACE: &str = "org.freedesktop.systemd1.Slice";
const JOB_INTERFACE: &str = "org.freedesktop.systemd1.Job";
/// How often a waiter re-reads state when no signal arrives: a safety net only, since every
/// change is signalled on a connection that stays up.
const POLL_INTERVAL: Duration = Duration::from_secs(60);
/// How long a unit may read as missing, or systemd as unreachable, before a waiter believes
/// it (systemd re-executing itself takes a moment to come back with its units).
const SETTLE: Duration = Duration::from_secs(5);
const SETTLE_STEP: Duration = Duration::from_millis(200);
/// How often a job's existence is checked while its end is awaited (a missed `JobRemoved`).
const JOB_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Method calls in flight at once on our connection. The bus daemon refuses more than its
/// `max_replies_per_connection` (128 on Debian's system bus); the rest queue here.
const MAX_CALLS_IN_FLIGHT: usize = 64;
/// Jobs of ours queued in systemd at once. systemd watches the client that queued a job with
/// a bus match of the job's own, and the bus daemon allows PID 1's connection a fixed number
/// of matches (dbus-daemon's system bus: 512) for every client's jobs, unit references and
/// subscriptions together. Past it, systemd loses its bus connection: a burst of 1000
/// StartTask with every start queued at once took PID 1 off the bus at the 512th job. The
/// rest wait here, which costs no throughput (PID 1 runs one job at a time).
const MAX_JOBS_QUEUED: usize = 128;
/// How long a call that queues no job is made again while the bus refuses it for lack of room.
const BUSY_PATIENCE: Duration = Duration::from_secs(10);

/// Which service manager to talk to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bus {
    /// PID 1, on the system bus (needs root to start units).
    #[default]
    System,
    /// The calling user's `systemd --user`, on the session bus.
    User,
}

impl Bus {
    pub fn name(self) -> &'static str {
        match self {
            Bus::System => "system",
            Bus::User => "user",
        }
    }
}

/// One unit as `ListUnitsByPatterns` describes it.
#[derive(Debug, Clone)]
pub struct ListedUnit {
    pub name: UnitName,
    pub description: String,
    pub active_state: ActiveState,
    pub sub_state: String,
}

/// A connection to one service manager.
#[derive(Clone)]
pub struct Systemd {
    conn: Connection,
    manager: ManagerProxy<'static>,
    bus: Bus,
    /// Started on first need: one-shot readers (`ps`) never pay for the subscription.
    signals: Arc<OnceCell<Arc<Signals>>>,
    calls: Arc<Semaphore>,
    jobs: Arc<Semaphore>,
}

impl Systemd {
    /// Connects and subscribes to systemd's signals.
    pub async fn connect(bus: Bus) -> Result<Systemd> {
        let unreachable = |e: zbus::Error| Error::Unreachable {
            bus: bus.name(),
            reason: e.to_string(),
        };
        let conn = match bus {
            Bus::System => Connection::system().await,
            Bus::User => Connection::session().await,
        }
        .map_err(unreachable)?;
        let manager = ManagerProxy::new(&conn).await.map_err(unreachable)?;
        Ok(Systemd {
            conn,
            manager,
            bus,
            signals: Arc::new(OnceCell::new()),
            calls: Arc::new(Semaphore::new(MAX_CALLS_IN_FLIGHT)),
            jobs: Arc::new(Semaphore::new(MAX_JOBS_QUEUED)),
        })
    }

    /// The shared signal feeds, subscribing to systemd's signals on first use.
    async fn signals(&self) -> Result<&Arc<Signals>> {
        self.signals
            .get_or_try_init(|| async {
                // Both at once: nothing is started or waited on before both are answered, so
                // a signal sent before the match rules are in place concerns nothing followed.
                let (_, signals) = tokio::try_join!(
                    signals::subscribe(&self.manager),
                    Signals::start(&self.conn, &self.manager)
                )?;
                Ok(signals)
            })
            .await
            .map_err(|e| self.classify("watch", "the manager", e))
    }

    /// Whether the connection is known to be lost (its signal feeds ended). A connection
    /// that has not needed signals yet counts as alive.
    pub fn is_alive(&self) -> bool {
        self.signals.get().is_none_or(|s| s.is_alive())
    }

    /// Waits for room among the calls in flight; the permit is released when dropped.
    async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.calls.acquire().await.ok()
    }

    pub fn bus(&self) -> Bus {
        self.bus
    }

    /// systemd's version string, e.g. `252.38-1~deb12u1`.
    pub async fn version(&self) -> Result<String> {
        let _slot = self.slot().await;
        self.manager
            .version()
            .await
            .map_err(|e| self.classify("query", "the manager", e))
    }

    /// Creates and starts a transient unit, waiting until its start job is finished.
    /// Returns systemd's job result: `done` on success, else `failed`, `timeout`, ….
    pub async fn start_transient(
        &self,
        name: &UnitName,
        props: &[Property],
        timeout: Duration,
    ) -> Result<String> {
        self.start_transient_with(name, props, None, timeout).await
    }

    /// [`Systemd::start_transient`], creating the transient unit `aux` (a slice the unit
    /// goes into, say) in the same call: systemd loads both in one transaction and starts the
    /// auxiliary unit as the main one's dependency, one round trip instead of two.
    pub async fn start_transient_with(
        &self,
        name: &UnitName,
        props: &[Property],
        aux: Option<(&UnitName, &[Property])>,
        timeout: Duration,
    ) -> Result<String> {
        let wire = variant::to_wire(props).map_err(|e| self.classify("start", name.as_str(), e))?;
        let aux = match aux {
            Some((unit, props)) => vec![(
                unit.to_string(),
                variant::to_wire(props).map_err(|e| self.classify("start", unit.as_str(), e))?,
            )],
            None => Vec::new(),
        };
        let call = || {
            self.manager.start_transient_unit(
                name.to_string(),
                "fail".into(),
                wire.clone(),
                aux.clone(),
            )
        };
        self.run_job(name, "start", call, timeout).await
    }

    /// Starts an installed unit (`StartUnit`, mode `fail`: refused while a conflicting job is
    /// queued) and waits for its start job. Returns systemd's job result, as
    /// [`Systemd::start_transient`] does.
    pub async fn start_unit(&self, name: &UnitName, timeout: Duration) -> Result<String> {
        let call = || self.manager.start_unit(name.to_string(), "fail".into());
        self.run_job(name, "start", call, timeout).await
    }

    /// Queues a job with the call `call` makes (a manager method returning the job's path) and
    /// waits until it is finished; returns systemd's job result. The job-removed feed is
    /// subscribed to before the call, so a job that finishes at once is not missed. At most
    /// [`MAX_JOBS_QUEUED`] of ours are queued at once; the call waits for room before it is
    /// made, and is made again while the bus refuses it for lack of room (within `timeout`).
    async fn run_job<Fut>(
        &self,
        name: &UnitName,
        action: &'static str,
        call: impl FnMut() -> Fut,
        timeout: Duration,
    ) -> Result<String>
    where
        Fut: std::future::Future<Output = zbus::Result<OwnedObjectPath>>,
    {
        let _queued = self.jobs.acquire().await.ok();
        let mut jobs = self.signals().await?.jobs();
        let job = {
            let _slot = self.slot().await;
            busy::retry_while_full(timeout, call)
                .await
                .map_err(|e| self.classify(action, name.as_str(), e))?
        };
        self.wait_for_job(&mut jobs, &job, action, name, timeout)
            .await
    }

    /// Makes systemd re-read unit files and drop-ins (`daemon-reload`); returns once it has.
    pub async fn reload(&self) -> Result<()> {
        let _slot = self.slot().await;
        self.manager
            .reload()
            .await
            .map_err(|e| self.classify("reload", "the manager", e))
    }

    /// Stops a unit (systemd's own stop: KillSignal, then SIGKILL after TimeoutStopSec) and
    /// waits for the stop job.
    pub async fn stop_unit(&self, name: &UnitName, timeout: Duration) -> Result<String> {
        let call = || self.manager.stop_unit(name.to_string(), "replace".into());
        self.run_job(name, "stop", call, timeout).await
    }

    /// Sends `signal` to the unit's `main` process or to `all` its processes.
    pub async fn kill(&self, name: &UnitName, whom: Whom, signal: i32) -> Result<()> {
        let _slot = self.slot().await;
        let call = || {
            self.manager
                .kill_unit(name.to_string(), whom.as_str().into(), signal)
        };
        busy::retry_while_full(BUSY_PATIENCE, call)
            .await
            .map_err(|e| self.classify("signal", name.as_str(), e))
    }

    /// Changes resource-control properties of a loaded unit until it is unloaded
    /// (`SetUnitProperties` with `runtime` true: nothing outlives a reboot). systemd applies
    /// them to the unit's cgroup at once.
    pub async fn set_runtime_properties(&self, name: &UnitName, props: &[Property]) -> Result<()> {
        let wire =
            variant::to_wire(props).map_err(|e| self.classify("change", name.as_str(), e))?;
        let _slot = self.slot().await;
        self.manager
            .set_unit_properties(name.to_string(), true, wire)
            .await
            .map_err(|e| self.classify("change", name.as_str(), e))
    }

    /// Drops the reference `AddRef` took when the unit was started, so that systemd can
    /// collect it once it has ended.
    pub async fn unref(&self, name: &UnitName) -> Result<()> {
        let _slot = self.slot().await;
        self.manager
            .unref_unit(name.to_string())
            .await
            .map_err(|e| self.classify("release", name.as_str(), e))
    }

    /// Forgets a failed unit's state so that systemd can unload it.
    pub async fn reset_failed(&self, name: &UnitName) -> Result<()> {
        let _slot = self.slot().await;
        self.manager
            .reset_failed_unit(name.to_string())
            .await
            .map_err(|e| self.classify("reset", name.as_str(), e))
    }

    /// Units whose names match any of the shell-style `patterns`, loaded in any state.
    pub async fn list_units(&self, patterns: &[&str]) -> Result<Vec<UnitName>> {
        Ok(self
            .list_unit_states(patterns)
            .await?
            .into_iter()
            .map(|u| u.name)
            .collect())
    }

    /// [`Systemd::list_units`] with what systemd's listing says of each: one call for all.
    pub async fn list_unit_states(&self, patterns: &[&str]) -> Result<Vec<ListedUnit>> {
        let patterns = patterns.iter().map(|p| p.to_string()).collect();
        let _slot = self.slot().await;
        let units = self
            .manager
            .list_units_by_patterns(vec![], patterns)
            .await
            .map_err(|e| self.classify("list", "units", e))?;
        Ok(units
            .into_iter()
            .filter_map(|u| {
                Some(ListedUnit {
                    name: UnitName::parse(&u.0).ok()?,
                    description: u.1,
                    active_state: ActiveState::parse(&u.3),
                    sub_state: u.4,
                })
            })
            .collect())
    }

    /// The D-Bus type (`t`, `as`, …) systemd gives the service property `name`, from the
    /// introspection data of a loaded service unit; `None` when systemd reports no such
    /// property or no service is loaded. Reads only: nothing is loaded to answer it.
    pub async fn service_property_type(&self, name: &str) -> Option<String> {
        let listed = {
            let _slot = self.slot().await;
            self.manager
                .list_units_by_patterns(vec!["active".into()], vec!["*.service".into()])
                .await
                .ok()?
        };
        let path = listed.into_iter().next()?.6;
        let xml = {
            let proxy = zbus::fdo::IntrospectableProxy::builder(&self.conn)
                .destination("org.freedesktop.systemd1")
                .path(path)
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await
                .ok()?;
            let _slot = self.slot().await;
            proxy.introspect().await.ok()?
        };
        property_type(&xml, SERVICE_INTERFACE, name)
    }

    /// A reader of the unit's D-Bus properties, uncached: every read asks systemd.
    async fn properties_of(&self, name: &UnitName) -> Result<zbus::fdo::PropertiesProxy<'static>> {
        self.properties_at(object_path(name))
            .await
            .map_err(|e| self.classify("read", name.as_str(), e))
    }

    /// A reader of the properties of systemd's object at `path` (a unit or a job), uncached.
    async fn properties_at<P>(&self, path: P) -> zbus::Result<zbus::fdo::PropertiesProxy<'static>>
    where
        P: TryInto<zbus::ObjectPath<'static>>,
        P::Error: Into<zbus::Error>,
    {
        zbus::fdo::PropertiesProxy::builder(&self.conn)
            .destination("org.freedesktop.systemd1")
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
    }

    /// The cgroup of a slice, as systemd names it (`/system.slice/x.slice`); empty when the
    /// slice has none (yet).
    pub async fn slice_cgroup(&self, name: &UnitName) -> Result<String> {
        let props = self.properties_of(name).await?;
        let iface = zbus::names::InterfaceName::from_static_str_unchecked(SLICE_INTERFACE);
        let _slot = self.slot().await;
        let value = props
            .get(iface, "ControlGroup")
            .await
            .map_err(|e| self.classify("read", name.as_str(), e.into()))?;
        Ok(String::try_from(value).unwrap_or_default())
    }

    /// Reads a unit's state. [`Error::NotFound`] if systemd has no such unit loaded.
    pub async fn snapshot(&self, name: &UnitName) -> Result<UnitSnapshot> {
        Ok(self.read(name).await?.snapshot())
    }

    /// A snapshot of only the named properties of the unit's `Unit` and `Service` interfaces
    /// (`LoadState` always), each read with its own `Get`, in parallel; every other field is
    /// its default. For callers that need a few: `GetAll` makes PID 1 serialise every
    /// property of the interface, counters it must compute among them. [`Error::NotFound`] if
    /// systemd has no such unit loaded.
    pub async fn partial_snapshot(
        &self,
        name: &UnitName,
        of_unit: &[&str],
        of_service: &[&str],
    ) -> Result<UnitSnapshot> {
        Ok(self
            .partial_read(name, of_unit, of_service)
            .await?
            .snapshot())
    }

    /// [`Systemd::partial_snapshot`]'s read, to follow.
    async fn partial_read(
        &self,
        name: &UnitName,
        of_unit: &[&str],
        of_service: &[&str],
    ) -> Result<Followed> {
        let props = self.properties_of(name).await?;
        let wanted = std::iter::once((UNIT_INTERFACE, "LoadState"))
            .chain(of_unit.iter().map(|p| (UNIT_INTERFACE, *p)))
            .chain(of_service.iter().map(|p| (SERVICE_INTERFACE, *p)));
        let reads = wanted.map(|(iface, property)| {
            let props = &props;
            async move {
                let interface = zbus::names::InterfaceName::from_static_str_unchecked(iface);
                let _slot = self.slot().await;
                (iface, property, props.get(interface, property).await)
            }
        });
        let mut unit = std::collections::HashMap::new();
        let mut service = std::collections::HashMap::new();
        for (iface, property, value) in futures_util::future::join_all(reads).await {
            let value = match value {
                Ok(v) => v,
                // A property this systemd does not have stays at its default.
                Err(zbus::fdo::Error::UnknownProperty(_) | zbus::fdo::Error::InvalidArgs(_)) => {
                    continue;
                }
                Err(e) => return Err(self.classify("read", name.as_str(), e.into())),
            };
            let map = if iface == UNIT_INTERFACE {
                &mut unit
            } else {
                &mut service
            };
            map.insert(property.to_string(), value);
        }
        let followed = Followed::new(unit, service);
        if !followed.snapshot().is_loaded() {
            return Err(Error::NotFound(name.to_string()));
        }
        Ok(followed)
    }

    /// Reads what a waiter follows of a unit ([`followed::UNIT_STATE`],
    /// [`followed::SERVICE_STATE`]). [`Error::NotFound`] if systemd has no such unit loaded.
    async fn read_state(&self, name: &UnitName) -> Result<Followed> {
        self.partial_read(name, followed::UNIT_STATE, followed::SERVICE_STATE)
            .await
    }

    /// Reads a unit's `Unit` and `Service` properties. [`Error::NotFound`] if
    /// systemd has no such unit loaded.
    async fn read(&self, name: &UnitName) -> Result<Followed> {
        let props = self.properties_of(name).await?;
        let unit_iface = zbus::names::InterfaceName::from_static_str_unchecked(UNIT_INTERFACE);
        let service_iface =
            zbus::names::InterfaceName::from_static_str_unchecked(SERVICE_INTERFACE);
        let (unit, service) = {
            let _slots = self.calls.acquire_many(2).await.ok();
            futures_util::join!(props.get_all(unit_iface), props.get_all(service_iface))
        };
        let unit = unit.map_err(|e| self.classify("read", name.as_str(), e.into()))?;
        let followed = Followed::new(unit, service.unwrap_or_default());
        if !followed.snapshot().is_loaded() {
            return Err(Error::NotFound(name.to_string()));
        }
        Ok(followed)
    }

    /// Everything systemd reports of a unit now: its `Unit` interface's properties and its
    /// type's (`Service`, `Timer`, ...; empty for a type without one). Unlike
    /// [`Systemd::snapshot`], a unit systemd could not find is returned as it is (its
    /// `LoadState` says so), for checks made before anything is started.
    pub async fn unit_properties(&self, name: &UnitName) -> Result<UnitProperties> {
        let props = self.properties_of(name).await?;
        let unit_iface = zbus::names::InterfaceName::from_static_str_unchecked(UNIT_INTERFACE);
        let type_iface = format!("org.freedesktop.systemd1.{}", type_interface(name));
        let type_iface = zbus::names::InterfaceName::try_from(type_iface.as_str())
            .map_err(|e| self.classify("read", name.as_str(), e))?;
        let (unit, of_type) = {
            let _slots = self.calls.acquire_many(2).await.ok();
            futures_util::join!(props.get_all(unit_iface), props.get_all(type_iface))
        };
        Ok(UnitProperties {
            unit: unit.map_err(|e| self.classify("read", name.as_str(), e.into()))?,
            of_type: of_type.unwrap_or_default(),
        })
    }

    /// Waits until `done` holds for the unit's state, following it through its change signals
    /// (and re-reading it, as a safety net, every [`POLL_INTERVAL`]). Returns the last
    /// snapshot and whether `done` held before `timeout` (`None`, or one too long to
    /// represent, waits forever). The snapshot holds the unit's state: load and active state,
    /// job, main process, exit status, result and slice ([`followed`]); its counters and
    /// settings are defaults (read them with [`Systemd::snapshot`]).
    /// [`Error::NotFound`] if the unit disappears for good: while systemd reloads or
    /// re-executes itself a unit can read as missing for a moment, so a unit is declared gone
    /// only when it stays missing for [`SETTLE`].
    pub async fn wait_until(
        &self,
        name: &UnitName,
        timeout: Option<Duration>,
        done: impl Fn(&UnitSnapshot) -> bool,
    ) -> Result<(UnitSnapshot, bool)> {
        self.wait_for(name, timeout, true, done).await
    }

    /// Waits until systemd has unloaded the unit; `false` if it is still loaded at `timeout`.
    pub async fn wait_until_unloaded(&self, name: &UnitName, timeout: Duration) -> Result<bool> {
        match self.wait_for(name, Some(timeout), false, |_| false).await {
            Err(Error::NotFound(_)) => Ok(true),
            Err(e) => Err(e),
            Ok(_) => Ok(false),
        }
    }

    /// A read that tolerates systemd being briefly away or its unit briefly unknown (a
    /// reload or re-execution), retrying for up to [`SETTLE`] before giving the error.
    async fn settled_read(&self, name: &UnitName) -> Result<Followed> {
        let deadline = Instant::now() + SETTLE;
        loop {
            match self.read_state(name).await {
                Err(Error::NotFound(_) | Error::Unreachable { .. })
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(SETTLE_STEP).await;
                }
                other => return other,
            }
        }
    }

    async fn wait_for(
        &self,
        name: &UnitName,
        timeout: Option<Duration>,
        settle: bool,
        done: impl Fn(&UnitSnapshot) -> bool,
    ) -> Result<(UnitSnapshot, bool)> {
        let path = object_path(name);
        // Subscribed before the first read, so no change between the two is missed.
        let mut changes = self.signals().await?.changes();
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let mut followed = if settle {
                self.settled_read(name).await?
            } else {
                // Waiting for the unit to go: only its presence matters.
                self.partial_read(name, &[], &[]).await?
            };
            // The safety re-read: no later than POLL_INTERVAL after this read.
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let wake =
                tokio::time::Instant::now() + left.map_or(POLL_INTERVAL, |l| l.min(POLL_INTERVAL));
            loop {
                let snapshot = followed.snapshot();
                if done(&snapshot) {
                    return Ok((snapshot, true));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok((snapshot, false));
                }
                let read_again = tokio::select! {
                    change = changes.recv() => match change {
                        Ok(Feed::Signal(change)) if change.path.as_str() == path => {
                            // Waiting for the unit to go needs a read to see it gone.
                            !settle || followed.apply(&change) == Applied::NeedsRead
                        }
                        Ok(Feed::Signal(_)) => false,
                        Ok(Feed::Resync) => true,
                        Ok(Feed::Lost) => return Err(self.lost_connection()),
                        // Fell behind: something may have changed unheard; read again.
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => return Err(self.lost_connection()),
                    },
                    () = tokio::time::sleep_until(wake) => true,
                };
                if read_again {
                    break;
                }
            }
        }
    }

    /// Waits for `job` to leave systemd's queue and returns its result. A missed signal is
    /// caught by checking whether the job object still exists.
    async fn wait_for_job(
        &self,
        jobs: &mut broadcast::Receiver<Feed<signals::JobDone>>,
        job: &OwnedObjectPath,
        action: &'static str,
        unit: &UnitName,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            tokio::select! {
                finished = jobs.recv() => match finished {
                    Ok(Feed::Signal(done)) if done.job == *job => return Ok(done.result),
                    Ok(Feed::Lost) => return Err(self.lost_connection()),
                    // A resync or lag: the job poll below finds a job that ended unheard.
                    Ok(Feed::Signal(_) | Feed::Resync)
                    | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Err(self.lost_connection()),
                },
                () = tokio::time::sleep(JOB_POLL_INTERVAL) => {
                    if !self.job_exists(job).await {
                        return Ok("done".into());
                    }
                    if Instant::now() >= deadline {
                        return Err(Error::Timeout { action, unit: unit.to_string(), seconds: timeout.as_secs() });
                    }
                }
            }
        }
    }

    async fn job_exists(&self, job: &OwnedObjectPath) -> bool {
        let Ok(proxy) = self.properties_at(job.clone()).await else {
            return false;
        };
        let iface = zbus::names::InterfaceName::from_static_str_unchecked(JOB_INTERFACE);
        let _slot = self.slot().await;
        proxy.get(iface, "State").await.is_ok()
    }

    fn lost_connection(&self) -> Error {
        Error::Unreachable {
            bus: self.bus.name(),
            reason: "the connection to systemd was closed".into(),
        }
    }

    /// Sorts a D-Bus error into what the caller can do about it.
    fn classify(&self, action: &'static str, unit: &str, e: zbus::Error) -> Error {
        if let zbus::Error::MethodError(name, message, _) = &e {
            let message = message.clone().unwrap_or_else(|| name.to_string());
            return match name.as_str() {
                "org.freedesktop.systemd1.NoSuchUnit" => Error::NotFound(unit.to_string()),
                "org.freedesktop.systemd1.UnitExists" => Error::AlreadyExists(unit.to_string()),
                "org.freedesktop.systemd1.NoSuchProcess" => Error::NoSuchProcess(unit.to_string()),
                _ => Error::Refused {
                    action,
                    unit: unit.to_string(),
                    message,
                },
            };
        }
        // zbus turns the `org.freedesktop.DBus.Error.*` names into `fdo` variants.
        if let zbus::Error::FDO(fdo) = &e {
            match fdo.as_ref() {
                zbus::fdo::Error::UnknownObject(_) => return Error::NotFound(unit.to_string()),
                zbus::fdo::Error::ServiceUnknown(message)
                | zbus::fdo::Error::LimitsExceeded(message)
                | zbus::fdo::Error::NoReply(message)
                | zbus::fdo::Error::Disconnected(message) => {
                    return Error::Unreachable {
                        bus: self.bus.name(),
                        reason: message.clone(),
                    };
                }
                // polkit said no (root is never asked): name what would grant it.
                zbus::fdo::Error::InteractiveAuthorizationRequired(message)
                | zbus::fdo::Error::AccessDenied(message)
                    if self.bus == Bus::System =>
                {
                    return Error::Refused {
                        action,
                        unit: unit.to_string(),
                        message: format!("{message} ({NOT_AUTHORIZED})"),
                    };
                }
                _ => {}
            }
        }
        match e {
            zbus::Error::InputOutput(_)
            | zbus::Error::Connection(..)
            | zbus::Error::Handshake(_) => Error::Unreachable {
                bus: self.bus.name(),
                reason: e.to_string(),
            },
            other => Error::Refused {
                action,
                unit: unit.to_string(),
                message: other.to_string(),
            },
        }
    }
}

/// What a refusal by polkit means for a caller that is not root on the system bus.
const NOT_AUTHORIZED: &str = "this user is not root, and polkit did not grant it \
     org.freedesktop.systemd1.manage-units for this unit: install the project's polkit rule \
     (50-nomad-systemd.rules) naming this user; it grants the driver's units only, and on \
     systemd v256 and older, which name no unit to polkit when one is created, it cannot grant \
     starting a task, so run as root there";

/// A unit's raw D-Bus properties; see [`Systemd::unit_properties`].
#[derive(Debug, Default)]
pub struct UnitProperties {
    /// `org.freedesktop.systemd1.Unit`: `Id`, `Names`, `LoadState`, `Description`, ...
    pub unit: std::collections::HashMap<String, zbus::OwnedVariant>,
    /// The interface of the unit's type (`Service`, ...): its settings.
    pub of_type: std::collections::HashMap<String, zbus::OwnedVariant>,
}

/// The D-Bus interface (after `org.freedesktop.systemd1.`) of a unit's type.
fn type_interface(name: &UnitName) -> String {
    let t = name.unit_type();
    let mut chars = t.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The `type` of property `name` of `interface` in D-Bus introspection XML.
fn property_type(xml: &str, interface: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<interface name=\"{interface}\""))?;
    let section = &xml[start..];
    let section = &section[..section.find("</interface>")?];
    let at = section.find(&format!("<property name=\"{name}\" type=\""))?;
    let rest = &section[at..];
    let rest = &rest[rest.find("type=\"")? + "type=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Whose processes a signal goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whom {
    Main,
    All,
}

impl Whom {
    fn as_str(self) -> &'static str {
        match self {
            Whom::Main => "main",
            Whom::All => "all",
        }
    }
}

/// The unit's D-Bus object path, escaped as `sd_bus_path_encode` does.
fn object_path(name: &UnitName) -> String {
    let mut path = String::from("/org/freedesktop/systemd1/unit/");
    for (i, b) in name.as_str().bytes().enumerate() {
        if b.is_ascii_alphabetic() || (b.is_ascii_digit() && i > 0) {
            path.push(b as char);
        } else {
            path.push_str(&format!("_{b:02x}"));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_are_escaped_like_systemd() {
        let name = UnitName::parse("nomad-a1-web-i1.service").unwrap();
        assert_eq!(
            object_path(&name),
            "/org/freedesktop/systemd1/unit/nomad_2da1_2dweb_2di1_2eservice"
        );
    }

    /// Against the real system bus (the suite runs in the sandbox): the bus daemon's own errors
    /// reach us as zbus `fdo` variants, and mean the bus, not systemd, could not be reached.
    #[tokio::test]
    async fn the_bus_daemons_errors_are_unreachable_not_refusals() {
        let systemd = Systemd::connect(Bus::System).await.expect("the system bus");
        let nobody = zbus::Proxy::new(
            &systemd.conn,
            "org.example.NoSuchService",
            "/org/example",
            "org.example.Nothing",
        )
        .await
        .unwrap();
        let e = nobody.call::<_, _, ()>("Anything", &()).await.unwrap_err();
        let classified = systemd.classify("start", "x.service", e);
        assert!(
            matches!(classified, Error::Unreachable { .. }),
            "{classified:?}"
        );
        let full = zbus::Error::FDO(Box::new(zbus::fdo::Error::LimitsExceeded("full".into())));
        let classified = systemd.classify("start", "x.service", full);
        assert!(
            matches!(classified, Error::Unreachable { .. }),
            "{classified:?}"
        );
    }

    #[test]
    fn a_property_type_is_read_from_its_interface_only() {
        let xml = r#"<node>
 <interface name="org.freedesktop.systemd1.Unit">
  <property name="Id" type="s" access="read"></property>
 </interface>
 <interface name="org.freedesktop.systemd1.Service">
  <property name="Type" type="s" access="read"></property>
  <property name="IPAccounting" type="b" access="read"></property>
 </interface>
</node>"#;
        let ty = |name| property_type(xml, SERVICE_INTERFACE, name);
        assert_eq!(ty("IPAccounting").as_deref(), Some("b"));
        assert_eq!(ty("Id"), None);
        assert_eq!(ty("IP"), None);
    }
}
