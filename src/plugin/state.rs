//! What one plugin process holds for its whole life: the operator's settings, the connection
//! to systemd, the tasks it tracks and the event feed.
//!
//! A Nomad agent may reconnect to a live plugin (after the agent crashed) without calling
//! SetConfig again, so all of it lives here, shared by every gRPC connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::broadcast;

use super::config::PluginConfig;
use super::handle::DriverState;
use super::memory;
use super::proto::driver as pb;
use super::stats_hub::StatsHub;
use super::status;
use crate::core::{Engine, Error};

/// How many task events a slow TaskEvents reader may fall behind before it skips some.
const EVENT_BACKLOG: usize = 256;

/// The node's CPU capacity, from the topology Nomad sends, for Nomad's CPU "ticks" (MHz).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Compute {
    /// MHz over all of the node's cores (Nomad's `TotalCompute`), disabled ones included.
    pub total_mhz: u64,
    pub cores: u32,
}

impl Compute {
    /// MHz of one core; 0 when the topology is unknown.
    pub fn core_mhz(&self) -> u64 {
        if self.cores == 0 {
            0
        } else {
            self.total_mhz / u64::from(self.cores)
        }
    }
}

/// The real configuration: what SetConfig received when Nomad's settings came with it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: PluginConfig,
    pub compute: Compute,
}

pub struct PluginState {
    settings: RwLock<Option<Settings>>,
    engine: tokio::sync::Mutex<Option<Engine>>,
    tasks: Mutex<HashMap<String, Arc<DriverState>>>,
    events: broadcast::Sender<pb::DriverTaskEvent>,
    /// Whether the shared CPU partition watcher has been started (see [`super::partition`]).
    partition_watch: AtomicBool,
    /// Returns the memory a burst of lifecycle calls freed (see [`super::memory`]).
    memory: Arc<memory::Keeper>,
    /// Samples every TaskStats stream (see [`super::stats_hub`]).
    stats_hub: StatsHub,
}

impl Default for PluginState {
    fn default() -> PluginState {
        PluginState {
            settings: RwLock::new(None),
            engine: tokio::sync::Mutex::new(None),
            tasks: Mutex::new(HashMap::new()),
            events: broadcast::channel(EVENT_BACKLOG).0,
            partition_watch: AtomicBool::new(false),
            memory: memory::Keeper::start(),
            stats_hub: StatsHub::default(),
        }
    }
}

impl PluginState {
    /// Stores the configuration of a real launch. A later call replaces it and reconnects.
    pub async fn configure(&self, settings: Settings) {
        *write(&self.settings) = Some(settings);
        *self.engine.lock().await = None;
    }

    /// Counts a lifecycle call (start, recovery, stop, destroy) as in flight until the guard
    /// is dropped; once none is, the memory they freed is returned.
    pub fn busy(&self) -> memory::Busy {
        self.memory.busy()
    }

    pub fn stats_hub(&self) -> &StatsHub {
        &self.stats_hub
    }

    pub fn settings(&self) -> Option<Settings> {
        read(&self.settings).clone()
    }

    /// The engine, connected on first use. Fails with FAILED_PRECONDITION before the plugin
    /// is configured, and with the core's error (recoverable) when systemd does not answer.
    pub async fn engine(&self) -> Result<Engine, tonic::Status> {
        let settings = self.settings().ok_or_else(status::not_configured)?;
        self.connect(&settings)
            .await
            .map_err(|e| status::from_core(&e))
    }

    /// [`PluginState::engine`] for callers that report the core error themselves.
    pub async fn connect(&self, settings: &Settings) -> Result<Engine, Error> {
        let mut slot = self.engine.lock().await;
        // A lost connection (the bus daemon restarted) is replaced on next use.
        if let Some(engine) = slot.as_ref().filter(|e| e.is_alive()) {
            return Ok(engine.clone());
        }
        let engine = Engine::connect(settings.config.engine_options()).await?;
        *slot = Some(engine.clone());
        Ok(engine)
    }

    /// Forgets the connection, so the next use reconnects (systemd went away).
    pub async fn disconnect(&self) {
        *self.engine.lock().await = None;
    }

    pub fn task(&self, id: &str) -> Result<Arc<DriverState>, tonic::Status> {
        lock(&self.tasks)
            .get(id)
            .cloned()
            .ok_or_else(|| status::unknown_task(id))
    }

    pub fn is_tracked(&self, id: &str) -> bool {
        lock(&self.tasks).contains_key(id)
    }

    /// Tracks a task; `false` (and nothing changed) when its id is already tracked.
    pub fn track(&self, id: &str, state: DriverState) -> bool {
        let mut tasks = lock(&self.tasks);
        if tasks.contains_key(id) {
            return false;
        }
        tasks.insert(id.to_string(), Arc::new(state));
        true
    }

    /// Every tracked task now, by id.
    pub fn tracked(&self) -> Vec<(String, Arc<DriverState>)> {
        lock(&self.tasks)
            .iter()
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect()
    }

    /// `true` exactly once per process: for the caller that is to start the partition
    /// watcher.
    pub fn claim_partition_watch(&self) -> bool {
        !self.partition_watch.swap(true, Ordering::SeqCst)
    }

    pub fn forget(&self, id: &str) {
        lock(&self.tasks).remove(id);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<pb::DriverTaskEvent> {
        self.events.subscribe()
    }

    /// Publishes an event to every TaskEvents stream; dropped when none is open.
    pub fn emit(&self, event: pb::DriverTaskEvent) {
        let _ = self.events.send(event);
    }
}

// A panic while holding one of these locks leaves plain data behind; carry on with it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
