//! Tasks without reserved cores follow Nomad's shared CPU partition for their whole life.
//!
//! Nomad's client keeps the cores no allocation has reserved in its share partition
//! (`nomad.slice/share.slice` on cgroup v2) and rewrites the partition's `cpuset.cpus` each
//! time an allocation reserves or releases cores; its exec tasks sit in cgroups below it and
//! so follow at once. Our tasks are units of their own, started with the partition's cores of
//! that moment as `AllowedCPUs`; this watcher carries every later change over to each running
//! shared task (its unit and its own slice, see [`crate::core::Engine::follow_cores`]).
//! Tasks with reserved cores are never touched.
//!
//! The partition is polled every [`POLL`] rather than watched with inotify: the kernel raises
//! no inotify event when it recomputes `cpuset.cpus.effective` (a parent's change, CPU
//! hotplug), only for writes through the file system, and a poll works the same on cgroup v1,
//! v2 and a plain directory. One poll reads one small file per distinct partition (normally
//! one per node), a few microseconds; systemd is asked only when the cores differ.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::state::PluginState;
use crate::core::host;

/// How often the partition is read; a shared task runs at most this long (plus systemd's
/// answer) on cores another allocation has just reserved.
pub const POLL: Duration = Duration::from_secs(1);

/// Starts the watcher, once per plugin process, when the first shared task is tracked.
pub fn ensure_watching(state: &Arc<PluginState>) {
    if state.claim_partition_watch() {
        tokio::spawn(watch(state.clone()));
    }
}

async fn watch(state: Arc<PluginState>) {
    let mut followed = Followed::default();
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        followed.round(&state).await;
    }
}

/// What the watcher last applied to each task, and which failures it already reported.
#[derive(Default)]
struct Followed {
    /// Task id → the cores last given to it (absent: not yet set by this process).
    cores: HashMap<String, String>,
    warned: HashSet<String>,
}

impl Followed {
    /// One poll: reads each partition once and moves every shared task whose cores differ.
    async fn round(&mut self, state: &PluginState) {
        let tasks: Vec<_> = state
            .tracked()
            .into_iter()
            .filter(|(_, t)| t.shared_partition.is_some())
            .collect();
        self.cores
            .retain(|id, _| tasks.iter().any(|(t, _)| t == id));
        self.warned.retain(|id| tasks.iter().any(|(t, _)| t == id));
        let mut partitions: HashMap<PathBuf, Option<String>> = HashMap::new();
        for (id, task) in tasks {
            let Some(dir) = &task.shared_partition else {
                continue;
            };
            let now = partitions
                .entry(dir.clone())
                .or_insert_with(|| host::partition_cpuset(dir))
                .clone();
            // A partition that cannot be read (Nomad's client restarting) changes nothing.
            let Some(now) = now else {
                continue;
            };
            // A task seen for the first time is set once whatever its start said: an adopted
            // or recovered unit may carry cores an earlier plugin gave it since.
            let before = match self.cores.get(&id) {
                Some(cores) if *cores == now => continue,
                Some(cores) => cores.clone(),
                None => task.spec.resources.cores.clone(),
            };
            let Some(settings) = state.settings() else {
                return;
            };
            let outcome = match state.connect(&settings).await {
                Ok(engine) => engine.follow_cores(&task.unit, &now).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(changed) => {
                    if changed && before != now {
                        tracing::info!(
                            task = id, unit = %task.unit, cores = now,
                            "the task follows Nomad's shared CPU partition"
                        );
                    }
                    self.warned.remove(&id);
                    self.cores.insert(id, now);
                }
                // Tried again next poll; said once.
                Err(e) => {
                    if self.warned.insert(id.clone()) {
                        tracing::warn!(
                            task = id, unit = %task.unit, error = %e,
                            "cannot move the task onto Nomad's shared CPU partition; retrying"
                        );
                    }
                }
            }
        }
    }
}
