//! Nomad's Driver service: every task RPC, translated to core calls.
//!
//! Contracts Nomad relies on (a 1.8–1.10 client crashes or loses tasks otherwise): WaitTask
//! and InspectTask always carry a result; StartTask's handle echoes the TaskConfig it got and
//! holds all recovery needs; a StartTask retried with the same task id by a new plugin process
//! adopts the unit the first attempt started; RecoverTask reads the id from
//! `handle.config.id`, treats an already-tracked id as success and waits out systemd being
//! briefly away; the Fingerprint and TaskEvents streams never end on their own; DestroyTask
//! forgets the task, and removes the unit of an id it does not track (Nomad destroys a task
//! whose recovery failed).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::config::PluginConfig;
use super::exec::{self, exit_result};
use super::fingerprint::{self, fingerprint};
use super::handle::{self, DriverState};
use super::proto::driver::{self as pb, driver_server};
use super::state::PluginState;
use super::stats_hub::Subscriber;
use super::task_config;
use super::{partition, status, timestamp, translate};
use crate::core::driver_config::{DriverConfig, LogDriver};
use crate::core::task::DEFAULT_KILL_TIMEOUT;
use crate::core::{Bus, Engine, Error, ExitResult, Output, Signal, TaskState, UnitName};

/// How long RecoverTask keeps retrying while systemd does not answer, before Nomad is told
/// the task cannot be recovered (and destroys it and starts another copy).
const RECOVER_PATIENCE: Duration = Duration::from_secs(15);
const RECOVER_FIRST_PAUSE: Duration = Duration::from_millis(250);
const RECOVER_MAX_PAUSE: Duration = Duration::from_secs(2);
/// Between attempts to reach systemd again while a WaitTask is outstanding.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);
/// Nomad's default stats interval, for a request that names none.
const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest stats interval we honour; each sample is a few D-Bus calls.
const MIN_STATS_INTERVAL: Duration = Duration::from_millis(100);

const NO_NETWORK_CREATION: &str =
    "the systemd driver does not create networks (must_create_network is false)";

type Stream<T> = ReceiverStream<Result<T, Status>>;

pub struct Driver {
    pub state: Arc<PluginState>,
}

#[tonic::async_trait]
impl driver_server::Driver for Driver {
    /// Nomad 1.12+ calls it once the plugin is dispensed and configured; an error makes the
    /// client kill the plugin. SetConfig has already set everything up, and whether systemd
    /// answers is the fingerprint's to tell (the client retries that), so Init succeeds, also
    /// before any SetConfig.
    async fn init(
        &self,
        _: Request<pb::InitRequest>,
    ) -> Result<Response<pb::InitResponse>, Status> {
        tracing::debug!(
            configured = self.state.settings().is_some(),
            "initialised by the Nomad client"
        );
        Ok(Response::new(pb::InitResponse {}))
    }

    async fn task_config_schema(
        &self,
        _: Request<pb::TaskConfigSchemaRequest>,
    ) -> Result<Response<pb::TaskConfigSchemaResponse>, Status> {
        Ok(Response::new(pb::TaskConfigSchemaResponse {
            spec: Some(task_config::schema()),
        }))
    }

    async fn capabilities(
        &self,
        _: Request<pb::CapabilitiesRequest>,
    ) -> Result<Response<pb::CapabilitiesResponse>, Status> {
        let config = self.state.settings().map(|s| s.config).unwrap_or_default();
        Ok(Response::new(pb::CapabilitiesResponse {
            capabilities: Some(capabilities(&config)),
        }))
    }

    type FingerprintStream = Stream<pb::FingerprintResponse>;

    async fn fingerprint(
        &self,
        _: Request<pb::FingerprintRequest>,
    ) -> Result<Response<Self::FingerprintStream>, Status> {
        let (tx, rx) = mpsc::channel(1);
        let state = self.state.clone();
        tokio::spawn(async move {
            loop {
                let response = fingerprint(&state).await;
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(fingerprint::INTERVAL) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn recover_task(
        &self,
        request: Request<pb::RecoverTaskRequest>,
    ) -> Result<Response<pb::RecoverTaskResponse>, Status> {
        let _busy = self.state.busy();
        let handle = request
            .into_inner()
            .handle
            .ok_or_else(|| Status::invalid_argument("RecoverTask without a task handle"))?;
        let id = handle
            .config
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        if id.is_empty() {
            return Err(Status::invalid_argument("task handle without a task id"));
        }
        if self.state.is_tracked(&id) {
            return Ok(Response::new(pb::RecoverTaskResponse {}));
        }
        let driver_state = DriverState::decode(handle.version, &handle.driver_state)
            .map_err(|reason| Status::invalid_argument(format!("task {id}: {reason}")))?;
        // A failure here makes Nomad destroy the task and start another copy, so systemd
        // being briefly away (its bus restarting, a busy manager) is waited out first.
        let mut pause = RECOVER_FIRST_PAUSE;
        let deadline = tokio::time::Instant::now() + RECOVER_PATIENCE;
        let found = loop {
            let outcome = match self.state.settings() {
                None => return Err(status::not_configured()),
                Some(settings) => match self.state.connect(&settings).await {
                    Ok(engine) => engine.status(&driver_state.unit).await,
                    Err(e) => Err(e),
                },
            };
            match outcome {
                Err(e) if e.is_transient() && tokio::time::Instant::now() + pause < deadline => {
                    tracing::warn!(task = id, error = %e, "cannot recover the task yet; retrying");
                    if matches!(e, Error::Unreachable { .. }) {
                        self.state.disconnect().await;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECOVER_MAX_PAUSE);
                }
                other => break other,
            }
        };
        match found {
            Ok(s) => tracing::info!(task = id, unit = %s.unit, state = ?s.state, "recovered task"),
            Err(Error::NotFound(_)) => {
                return Err(Status::not_found(format!(
                    "task {id}: its unit {} no longer exists, so its exit result is lost",
                    driver_state.unit
                )));
            }
            Err(e) => return Err(status::from_core(&e)),
        }
        self.track(&id, driver_state);
        Ok(Response::new(pb::RecoverTaskResponse {}))
    }

    async fn start_task(
        &self,
        request: Request<pb::StartTaskRequest>,
    ) -> Result<Response<pb::StartTaskResponse>, Status> {
        let _busy = self.state.busy();
        let task = request
            .into_inner()
            .task
            .ok_or_else(|| Status::invalid_argument("StartTask without a task config"))?;
        // A task this process started or recovered: Nomad's exec answers an error too (Nomad
        // retries a start only after the plugin died, which a live process has not).
        if self.state.is_tracked(&task.id) {
            return Err(Status::already_exists(format!(
                "task {} is already running",
                task.id
            )));
        }
        let settings = self.state.settings().ok_or_else(status::not_configured)?;
        let config = DriverConfig::decode(&task.msgpack_driver_config)
            .map_err(|e| status::from_config("task config", &e))?;
        let mut spec = translate::task_spec(&task, &config, &settings.config)
            .map_err(|e| status::from_core(&e))?;
        spec.resources.core_mhz = settings.compute.core_mhz();
        // With Nomad's log collection off no logmon reads the FIFOs (nor creates them): the
        // output goes to the journal only, whatever the job's `logging` says.
        let collect = !settings.config.disable_log_collection;
        let logging = if collect {
            config.logging
        } else {
            LogDriver::Journald
        };
        let engine = self.state.engine().await?;
        // Nomad retries StartTask with the same task id after the plugin crashed; the first
        // attempt may have started the unit. That unit is this task: adopt it, as RecoverTask
        // would, instead of starting a second copy next to it.
        let adopted = engine
            .adopt(&spec)
            .await
            .map_err(|e| status::from_core(&e))?;
        let (unit, started_at_us) = match adopted {
            Some(unit) => {
                let started_at_us = engine
                    .status(&unit)
                    .await
                    .map(|s| s.started_at_us)
                    .unwrap_or_else(|_| now_us());
                tracing::info!(task = task.id, unit = %unit, "adopted the task's running unit");
                (unit, started_at_us)
            }
            None => {
                if collect && translate::follows_journal(&spec, logging) {
                    // The follower opens the FIFOs once the task runs; what is at their paths
                    // is the job's, so a task whose FIFO is not one never starts.
                    let (stdout, stderr) = translate::log_paths(&task);
                    let alloc_dir = spec.dirs.as_ref().map(|d| d.alloc_dir());
                    Output::check_fifos(alloc_dir, &stdout, &stderr)
                        .map_err(|e| status::from_core(&e))?;
                }
                translate::check_installed_unit(&engine, &spec, &settings.config)
                    .await
                    .map_err(|e| status::from_core(&e))?;
                let started = engine
                    .start(&spec, translate::stdio(&task, logging))
                    .await
                    .map_err(|e| status::from_core(&e))?;
                tracing::info!(task = task.id, unit = %started.unit, "started task");
                for warning in &started.warnings {
                    self.state.emit(event(&task, warning));
                }
                (started.unit, now_us())
            }
        };
        let driver_state = DriverState {
            unit,
            started_at_us,
            logging,
            log_collection_disabled: !collect,
            spec,
            shared_partition: translate::shared_partition(&task),
        };
        self.follow_logs(&engine, &task, &driver_state).await;
        let response = started_response(task.clone(), &driver_state);
        self.track(&task.id, driver_state);
        Ok(Response::new(response))
    }

    async fn wait_task(
        &self,
        request: Request<pb::WaitTaskRequest>,
    ) -> Result<Response<pb::WaitTaskResponse>, Status> {
        let id = request.into_inner().task_id;
        let task = self.state.task(&id)?;
        // Nomad reads `result` unconditionally; a failure travels in `err` beside it.
        let (result, err) = match self.wait_through_outages(&task.unit).await {
            Ok(exit) => (exit, String::new()),
            Err(e) => (ExitResult::default(), e.to_string()),
        };
        Ok(Response::new(pb::WaitTaskResponse {
            result: Some(exit_result(result)),
            err,
        }))
    }

    async fn stop_task(
        &self,
        request: Request<pb::StopTaskRequest>,
    ) -> Result<Response<pb::StopTaskResponse>, Status> {
        let _busy = self.state.busy();
        let request = request.into_inner();
        let task = self.state.task(&request.task_id)?;
        // A job without kill_signal sends "", which Nomad's own executors read as SIGINT; a
        // name we do not know is SIGINT too, as Nomad's exec driver treats it in SignalTask
        // (an error would only make Nomad retry the stop for minutes).
        let signal = signal_or_int(&request.task_id, &request.signal);
        let timeout = request
            .timeout
            .and_then(duration)
            .unwrap_or(DEFAULT_KILL_TIMEOUT);
        let engine = self.state.engine().await?;
        match engine.stop(&task.unit, signal, timeout).await {
            Ok(_) | Err(Error::NotFound(_)) => Ok(Response::new(pb::StopTaskResponse {})),
            Err(e) => Err(status::from_core(&e)),
        }
    }

    async fn destroy_task(
        &self,
        request: Request<pb::DestroyTaskRequest>,
    ) -> Result<Response<pb::DestroyTaskResponse>, Status> {
        let _busy = self.state.busy();
        let request = request.into_inner();
        let Ok(task) = self.state.task(&request.task_id) else {
            return self.destroy_untracked(&request).await;
        };
        let engine = self.state.engine().await?;
        if !request.force {
            match engine.status(&task.unit).await {
                Ok(s) if s.state != TaskState::Exited => {
                    return Err(Status::failed_precondition(format!(
                        "task {} is still running; stop it first or destroy with force",
                        request.task_id
                    )));
                }
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(status::from_core(&e)),
            }
        }
        if !task.log_collection_disabled && translate::follows_journal(&task.spec, task.logging) {
            engine
                .stop_following(&task.spec)
                .await
                .map_err(|e| status::from_core(&e))?;
        }
        if request.force {
            // Nomad's exec kills a destroyed task at once, without a grace period.
            engine
                .kill_now(&task.unit)
                .await
                .map_err(|e| status::from_core(&e))?;
        }
        engine
            .destroy(&task.unit)
            .await
            .map_err(|e| status::from_core(&e))?;
        if let Some(id) = task.spec.workload_user {
            crate::core::workload_user::release(id);
        }
        self.state.forget(&request.task_id);
        tracing::info!(task = request.task_id, unit = %task.unit, "destroyed task");
        Ok(Response::new(pb::DestroyTaskResponse {}))
    }

    async fn inspect_task(
        &self,
        request: Request<pb::InspectTaskRequest>,
    ) -> Result<Response<pb::InspectTaskResponse>, Status> {
        let id = request.into_inner().task_id;
        let task = self.state.task(&id)?;
        let engine = self.state.engine().await?;
        let s = engine
            .status(&task.unit)
            .await
            .map_err(|e| status::from_core(&e))?;
        let state = match s.state {
            TaskState::Exited => pb::TaskState::Exited,
            _ => pb::TaskState::Running,
        };
        Ok(Response::new(pb::InspectTaskResponse {
            task: Some(pb::TaskStatus {
                id,
                name: task.spec.name.clone(),
                state: state as i32,
                started_at: Some(timestamp::from_us(s.started_at_us)),
                completed_at: Some(timestamp::from_us(s.exited_at_us)),
                result: Some(exit_result(s.exit.unwrap_or_default())),
            }),
            driver: Some(pb::TaskDriverStatus {
                attributes: HashMap::from([("unit".to_string(), task.unit.to_string())]),
            }),
            network_override: None,
        }))
    }

    type TaskStatsStream = Stream<pb::TaskStatsResponse>;

    /// Samples the task every interval until Nomad closes the stream. A sample that fails
    /// (the unit is gone, systemd does not answer) ends the stream with that error: Nomad's
    /// client logs it and reopens the stream after its interval (its stats hook), so an error
    /// costs one log line per interval and never a stream that goes on sending errors.
    async fn task_stats(
        &self,
        request: Request<pb::TaskStatsRequest>,
    ) -> Result<Response<Self::TaskStatsStream>, Status> {
        let request = request.into_inner();
        let task = self.state.task(&request.task_id)?;
        let engine = self.state.engine().await?;
        let compute = self.state.settings().map(|s| s.compute).unwrap_or_default();
        let interval = request
            .collection_interval
            .and_then(duration)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_STATS_INTERVAL)
            .max(MIN_STATS_INTERVAL);
        let sampler = engine
            .stats_sampler(&task.unit)
            .await
            .map_err(|e| status::from_core(&e))?
            .without_task_count();
        let (tx, rx) = mpsc::channel(1);
        let subscriber = Subscriber::new(request.task_id, engine, sampler, compute, tx);
        self.state.stats_hub().add(interval, subscriber);
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type TaskEventsStream = Stream<pb::DriverTaskEvent>;

    async fn task_events(
        &self,
        _: Request<pb::TaskEventsRequest>,
    ) -> Result<Response<Self::TaskEventsStream>, Status> {
        let mut events = self.state.subscribe();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    received = events.recv() => received,
                    () = tx.closed() => return,
                };
                match event {
                    Ok(event) => {
                        if tx.send(Ok(event)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "task events reader fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// Nomad 1.12+ calls it, best effort and within 2 s, before it kills the plugin. Tasks
    /// are systemd's units and keep running; every task's state is in its handle and in
    /// systemd, so there is nothing to save. The plugin keeps serving until it is killed.
    async fn shutdown(
        &self,
        _: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        tracing::info!("the Nomad client is stopping the plugin; tasks keep running");
        Ok(Response::new(pb::ShutdownResponse {}))
    }

    async fn signal_task(
        &self,
        request: Request<pb::SignalTaskRequest>,
    ) -> Result<Response<pb::SignalTaskResponse>, Status> {
        let request = request.into_inner();
        let task = self.state.task(&request.task_id)?;
        let signal = signal_or_int(&request.task_id, &request.signal);
        let engine = self.state.engine().await?;
        engine
            .signal(&task.unit, signal)
            .await
            .map_err(|e| status::from_core(&e))?;
        Ok(Response::new(pb::SignalTaskResponse {}))
    }

    async fn exec_task(
        &self,
        request: Request<pb::ExecTaskRequest>,
    ) -> Result<Response<pb::ExecTaskResponse>, Status> {
        let request = request.into_inner();
        let task = self.state.task(&request.task_id)?;
        let engine = self.state.engine().await?;
        let timeout = request.timeout.and_then(duration).filter(|d| !d.is_zero());
        let target = self.exec_target(&task)?;
        exec::run_once(&engine, &target, &request.command, timeout)
            .await
            .map(Response::new)
    }

    type ExecTaskStreamingStream = Stream<pb::ExecTaskStreamingResponse>;

    async fn exec_task_streaming(
        &self,
        request: Request<Streaming<pb::ExecTaskStreamingRequest>>,
    ) -> Result<Response<Self::ExecTaskStreamingStream>, Status> {
        let engine = self.state.engine().await?;
        let state = self.state.clone();
        exec::stream(engine, request.into_inner(), |id| {
            let task = state.task(id)?;
            self.exec_target(&task)
        })
        .await
        .map(Response::new)
    }

    async fn create_network(
        &self,
        _: Request<pb::CreateNetworkRequest>,
    ) -> Result<Response<pb::CreateNetworkResponse>, Status> {
        Err(Status::unimplemented(NO_NETWORK_CREATION))
    }

    async fn destroy_network(
        &self,
        _: Request<pb::DestroyNetworkRequest>,
    ) -> Result<Response<pb::DestroyNetworkResponse>, Status> {
        Err(Status::unimplemented(NO_NETWORK_CREATION))
    }
}

/// What the driver tells Nomad it can do under the operator's `config`, each flag only where
/// it is true (Nomad acts on them: it interpolates paths, allocates users, starts logmon).
pub fn capabilities(config: &PluginConfig) -> pb::DriverCapabilities {
    use pb::driver_capabilities::{FsIsolation, MountConfigs};
    use pb::network_isolation_spec::NetworkIsolationMode;
    let system = config.bus == Bus::System;
    pb::DriverCapabilities {
        send_signals: true,
        exec: true,
        // On the system bus a transient task sees /alloc, /local and /secrets bound into its
        // own mount namespace, so Nomad sets NOMAD_*_DIR to those paths (and interpolates
        // them into args and templates) and keeps the host's env out. A user manager cannot
        // bind: the task sees the host paths, which is what NONE tells Nomad to use.
        fs_isolation: if system {
            FsIsolation::Image
        } else {
            FsIsolation::None
        } as i32,
        // Group networks (bridge, CNI): the task joins the namespace Nomad made.
        network_isolation_modes: vec![
            NetworkIsolationMode::Host as i32,
            NetworkIsolationMode::Group as i32,
        ],
        must_create_network: false,
        // Volume mounts and CSI volumes are bound into the task (BindPaths); Nomad reads 0
        // (UNKNOWN_MOUNTS, aliased ANY_MOUNTS) as "any". A user manager binds nothing.
        mount_configs: if system {
            MountConfigs::UnknownMounts
        } else {
            MountConfigs::NoMounts
        } as i32,
        disable_log_collection: config.disable_log_collection,
        // Without a `user`, Nomad allocates `nomad-<N>`; the task runs as uid/gid N. Only
        // when the operator says the agent's pool is on, where a task can change uid, and
        // when the plugin is root: the uid's user record goes into /run/userdb, which only
        // root may write (a plugin run by a polkit-granted user leaves such tasks to
        // `default_user`).
        dynamic_workload_users: config.dynamic_workload_users
            && system
            && nix::unistd::geteuid().is_root(),
    }
}

impl Driver {
    /// Tracks a started or recovered task; one without reserved cores follows Nomad's shared
    /// CPU partition from now on.
    fn track(&self, id: &str, state: DriverState) {
        let shared = state.shared_partition.is_some();
        if self.state.track(id, state) && shared {
            partition::ensure_watching(&self.state);
        }
    }

    /// DestroyTask of a task id this process does not track: Nomad destroys a task whose
    /// RecoverTask failed, and a crashed plugin's successor never learnt of it. Its unit is
    /// found by the name the task id gives it (and its log units likewise) and removed with
    /// the same rules as a tracked task's; no such unit is success.
    async fn destroy_untracked(
        &self,
        request: &pb::DestroyTaskRequest,
    ) -> Result<Response<pb::DestroyTaskResponse>, Status> {
        let done = Response::new(pb::DestroyTaskResponse {});
        let Some(unit) = UnitName::for_task_id(&request.task_id) else {
            return Ok(done);
        };
        let engine = self.state.engine().await?;
        match engine.status(&unit).await {
            Err(Error::NotFound(_)) => {}
            Ok(s) if s.state != TaskState::Exited && !request.force => {
                return Err(Status::failed_precondition(format!(
                    "task {} is still running; stop it first or destroy with force",
                    request.task_id
                )));
            }
            Ok(_) => {
                // A workload user's task runs as its numeric uid; its user record goes with it,
                // as a tracked task's does (release removes only this driver's own records).
                let uid = engine
                    .systemd()
                    .snapshot(&unit)
                    .await
                    .ok()
                    .and_then(|s| s.exec_context.user.parse::<u32>().ok());
                engine
                    .kill_now(&unit)
                    .await
                    .map_err(|e| status::from_core(&e))?;
                engine
                    .destroy(&unit)
                    .await
                    .map_err(|e| status::from_core(&e))?;
                if let Some(id) = uid {
                    crate::core::workload_user::release(id);
                }
                tracing::info!(task = request.task_id, unit = %unit, "destroyed untracked task");
            }
            Err(e) => return Err(status::from_core(&e)),
        }
        engine
            .stop_following_id(&request.task_id)
            .await
            .map_err(|e| status::from_core(&e))?;
        Ok(done)
    }

    /// Where an exec into `task` runs, with the operator's identity rules for an installed
    /// unit (see [`exec::check_identity`]).
    fn exec_target(&self, task: &DriverState) -> Result<exec::Target, Status> {
        let installed = match task.spec.host_unit {
            Some(_) => Some(
                self.state
                    .settings()
                    .ok_or_else(status::not_configured)?
                    .config,
            ),
            None => None,
        };
        // An installed unit has no loader; a transient task's loader variables are those of
        // its environment systemd could not carry.
        let loader_env = match installed {
            Some(_) => Vec::new(),
            None => crate::core::mapping::environment::split(&task.spec.unit_env())
                .map(|s| s.loader)
                .unwrap_or_default(),
        };
        Ok(exec::Target {
            unit: task.unit.clone(),
            installed,
            loader_env,
        })
    }

    /// Starts following the task's journal into its FIFOs when that is how its logs reach
    /// Nomad (see [`crate::core::journal_follow`]; the followers are units of their own and
    /// outlive a plugin restart). A follower that cannot start costs the task its Nomad logs,
    /// not its life: that becomes a task event.
    async fn follow_logs(&self, engine: &Engine, task: &pb::TaskConfig, state: &DriverState) {
        if state.log_collection_disabled || !translate::follows_journal(&state.spec, state.logging)
        {
            return;
        }
        let (stdout, stderr) = translate::log_paths(task);
        let this_activation = state.spec.host_unit.is_some();
        if let Err(e) = engine
            .follow_journal(&state.spec, &state.unit, this_activation, &stdout, &stderr)
            .await
        {
            tracing::warn!(task = task.id, error = %e, "cannot follow the task's journal");
            self.state.emit(event(
                task,
                &format!("logs will not reach Nomad: cannot follow the journal: {e}"),
            ));
        }
    }

    /// Waits for the task's exit across losses of the bus (the bus daemon restarted, systemd
    /// away): reconnects and waits again, since an answer now would tell Nomad the task ended
    /// when it did not. Other errors (the unit is gone) are final.
    async fn wait_through_outages(&self, unit: &UnitName) -> Result<ExitResult, Error> {
        loop {
            let Some(settings) = self.state.settings() else {
                return Err(Error::invalid(
                    "plugin",
                    "not configured by the Nomad client",
                ));
            };
            let outcome = match self.state.connect(&settings).await {
                Ok(engine) => engine.wait(unit).await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(Error::Unreachable { reason, .. }) => {
                    tracing::warn!(unit = %unit, reason, "lost systemd while waiting; reconnecting");
                    self.state.disconnect().await;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
                other => return other,
            }
        }
    }
}

/// A protobuf duration as a std one; `None` for a negative one.
fn duration(d: prost_types::Duration) -> Option<Duration> {
    Duration::try_from(d).ok()
}

/// The signal `name` names; SIGINT (with a warning) for an empty or unknown name, as
/// Nomad's exec driver does.
fn signal_or_int(task_id: &str, name: &str) -> Signal {
    if name.is_empty() {
        return Signal::INT;
    }
    Signal::from_str(name).unwrap_or_else(|_| {
        tracing::warn!(
            task = task_id,
            signal = name,
            "unknown signal for the task, using SIGINT instead"
        );
        Signal::INT
    })
}

/// StartTask's answer for a running task: the handle echoes Nomad's config and carries what
/// recovery needs.
fn started_response(task: pb::TaskConfig, state: &DriverState) -> pb::StartTaskResponse {
    pb::StartTaskResponse {
        result: pb::start_task_response::Result::Success as i32,
        driver_error_msg: String::new(),
        handle: Some(pb::TaskHandle {
            version: handle::VERSION,
            config: Some(task),
            state: pb::TaskState::Running as i32,
            driver_state: state.encode(),
        }),
        network_override: None,
    }
}

/// A task event Nomad routes to the task by alloc id and task name.
fn event(task: &pb::TaskConfig, message: &str) -> pb::DriverTaskEvent {
    pb::DriverTaskEvent {
        task_id: task.id.clone(),
        alloc_id: task.alloc_id.clone(),
        task_name: task.name.clone(),
        timestamp: Some(timestamp::now()),
        message: message.to_string(),
        annotations: HashMap::new(),
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
