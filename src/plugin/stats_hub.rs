//! One timer per collection interval for every TaskStats stream.
//!
//! Nomad keeps a TaskStats stream open for each running task, all at its `collection_interval`
//! (1 s by default). A timer and a task per stream cost the plugin a wake-up each per second;
//! with 1000 tasks that was a tenth of its CPU for stats. Streams of one interval are instead
//! sampled together by one task on one timer (aligned, see [`stats::aligned_start`]): each
//! tick samples every stream's task and offers the message to its stream without waiting. A
//! stream whose reader has not taken the previous message skips that tick (Nomad wants the
//! latest usage, not a backlog); a closed stream, or a sample that fails, ends it, the failure
//! sent as the stream's last message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;
use tonic::Status;

use super::proto::driver as pb;
use super::state::Compute;
use super::{stats, status};
use crate::core::Engine;
use crate::core::cpu_meter::CpuMeter;
use crate::core::engine::StatsSampler;

/// What a stream's reader receives.
pub type Message = Result<pb::TaskStatsResponse, Status>;

/// One task's TaskStats stream.
pub struct Subscriber {
    task_id: String,
    engine: Engine,
    sampler: StatsSampler,
    compute: Compute,
    tx: mpsc::Sender<Message>,
    meter: CpuMeter,
}

impl Subscriber {
    pub fn new(
        task_id: String,
        engine: Engine,
        sampler: StatsSampler,
        compute: Compute,
        tx: mpsc::Sender<Message>,
    ) -> Subscriber {
        Subscriber {
            task_id,
            engine,
            sampler,
            compute,
            tx,
            meter: CpuMeter::default(),
        }
    }

    /// Samples the task and offers the message; `false` once the stream is over.
    async fn tick(&mut self) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        let message = match self.engine.sample(&self.sampler).await {
            Ok(sample) => Ok(pb::TaskStatsResponse {
                stats: Some(stats::task_stats(
                    &self.task_id,
                    &sample,
                    self.meter.update(&sample),
                    self.compute,
                )),
            }),
            Err(e) => Err(status::from_core(&e)),
        };
        let failed = message.is_err();
        match self.tx.try_send(message) {
            Ok(()) => !failed,
            // The reader has not taken the last one yet: it gets the next tick's, or, when
            // this was the failure that ends the stream, this one once it has room.
            Err(mpsc::error::TrySendError::Full(message)) => {
                if failed {
                    let tx = self.tx.clone();
                    tokio::spawn(async move { tx.send(message).await });
                }
                !failed
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The sampling tasks, one per interval in use.
#[derive(Default)]
pub struct StatsHub {
    tickers: Mutex<HashMap<Duration, mpsc::UnboundedSender<Subscriber>>>,
}

impl StatsHub {
    /// Adds a stream sampled every `interval`; its first message goes out at once.
    pub fn add(&self, interval: Duration, subscriber: Subscriber) {
        let mut tickers = self.tickers.lock().unwrap_or_else(|e| e.into_inner());
        let sender = tickers
            .entry(interval)
            .or_insert_with(|| start_ticker(interval));
        if let Err(mpsc::error::SendError(subscriber)) = sender.send(subscriber) {
            // The ticker ended (its runtime is shutting down); a new one takes the stream.
            let fresh = start_ticker(interval);
            let _ = fresh.send(subscriber);
            tickers.insert(interval, fresh);
        }
    }
}

fn start_ticker(interval: Duration) -> mpsc::UnboundedSender<Subscriber> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(ticker(interval, rx));
    tx
}

/// Samples every stream of one interval on each tick, and each new stream when it arrives.
async fn ticker(interval: Duration, mut arrivals: mpsc::UnboundedReceiver<Subscriber>) {
    let mut streams: Vec<Subscriber> = Vec::new();
    let mut ticks = tokio::time::interval_at(stats::aligned_start(interval), interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let alive = futures_util::future::join_all(streams.iter_mut().map(Subscriber::tick)).await;
                let mut alive = alive.into_iter();
                streams.retain(|_| alive.next().unwrap_or(false));
            }
            arrived = arrivals.recv() => match arrived {
                Some(mut stream) => {
                    if stream.tick().await {
                        streams.push(stream);
                    }
                }
                None => return,
            },
        }
    }
}
