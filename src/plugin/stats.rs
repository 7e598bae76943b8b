//! A core stats sample as Nomad's TaskStats message, with Nomad's CPU arithmetic.
//!
//! `percent` is of one core; `total_ticks` is the MHz that percent represents on this node
//! (percent/100 × total compute / cores). `measured_fields` lists exactly what was sampled,
//! since Nomad publishes a listed zero but hides an unlisted one.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use super::proto::driver::{
    CpuUsage, MemoryUsage, TaskResourceUsage, TaskStats, cpu_usage, memory_usage,
};
use super::state::Compute;
use super::timestamp;
use crate::core::cpu_meter::CpuPercent;
use crate::core::stats::TaskStats as Sample;

/// When a stream sampling every `interval` should tick next: on the next multiple of the
/// interval since the plugin's first stream. Streams with the same interval then wake
/// together, one timer for all of them instead of one wake-up each, spread over the second.
pub fn aligned_start(interval: Duration) -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let period = interval.as_nanos().max(1);
    let elapsed = Instant::now().saturating_duration_since(epoch).as_nanos();
    let next = (elapsed / period + 1) * period;
    epoch + Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

/// The TaskStats message for one sample; `agg_resource_usage` and its parts are always set.
pub fn task_stats(id: &str, sample: &Sample, cpu: CpuPercent, compute: Compute) -> TaskStats {
    TaskStats {
        id: id.to_string(),
        timestamp: Some(timestamp::from_ns(sample.timestamp_ns)),
        agg_resource_usage: Some(TaskResourceUsage {
            cpu: Some(cpu_usage(sample, cpu, compute)),
            memory: Some(memory(sample)),
        }),
        resource_usage_by_pid: HashMap::new(),
    }
}

fn cpu_usage(sample: &Sample, cpu: CpuPercent, compute: Compute) -> CpuUsage {
    use cpu_usage::Fields;
    let mut usage = CpuUsage::default();
    let mut measured = Vec::new();
    if let Some(p) = cpu.total {
        usage.percent = p;
        measured.push(Fields::Percent);
        if compute.cores > 0 && compute.total_mhz > 0 {
            usage.total_ticks = p / 100.0 * compute.total_mhz as f64 / f64::from(compute.cores);
            measured.push(Fields::TotalTicks);
        }
    }
    if let Some(p) = cpu.user {
        usage.user_mode = p;
        measured.push(Fields::UserMode);
    }
    if let Some(p) = cpu.system {
        usage.system_mode = p;
        measured.push(Fields::SystemMode);
    }
    if let Some(n) = sample.cpu_throttled_periods {
        usage.throttled_periods = n;
        measured.push(Fields::ThrottledPeriods);
    }
    if let Some(ns) = sample.cpu_throttled_ns {
        usage.throttled_time = ns;
        measured.push(Fields::ThrottledTime);
    }
    usage.measured_fields = measured.into_iter().map(|f| f as i32).collect();
    usage
}

fn memory(sample: &Sample) -> MemoryUsage {
    use memory_usage::Fields;
    let mut usage = MemoryUsage::default();
    let mut measured = Vec::new();
    for (value, field, slot) in [
        (sample.memory_rss, Fields::Rss, &mut usage.rss),
        (sample.memory_cache, Fields::Cache, &mut usage.cache),
        (sample.memory_swap, Fields::Swap, &mut usage.swap),
        (sample.memory_usage, Fields::Usage, &mut usage.usage),
        (sample.memory_peak, Fields::MaxUsage, &mut usage.max_usage),
    ] {
        if let Some(v) = value {
            *slot = v;
            measured.push(field as i32);
        }
    }
    usage.measured_fields = measured;
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_with_one_interval_tick_together() {
        let interval = Duration::from_secs(3600);
        let first = aligned_start(interval);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(aligned_start(interval), first);
        assert!(first > Instant::now());
    }

    #[test]
    fn ticks_are_the_mhz_the_percentage_stands_for() {
        let cpu = CpuPercent {
            total: Some(50.0),
            user: None,
            system: None,
        };
        let compute = Compute {
            total_mhz: 8000,
            cores: 4,
        };
        let s = task_stats("t", &Sample::default(), cpu, compute);
        let usage = s.agg_resource_usage.unwrap().cpu.unwrap();
        assert_eq!(usage.total_ticks, 1000.0);
        assert_eq!(
            usage.measured_fields,
            [
                cpu_usage::Fields::Percent as i32,
                cpu_usage::Fields::TotalTicks as i32
            ]
        );
    }

    #[test]
    fn only_sampled_fields_are_listed_but_every_part_is_present() {
        let sample = Sample {
            memory_usage: Some(0),
            ..Sample::default()
        };
        let s = task_stats("t", &sample, CpuPercent::default(), Compute::default());
        assert!(s.timestamp.is_some());
        let agg = s.agg_resource_usage.unwrap();
        assert!(agg.cpu.unwrap().measured_fields.is_empty());
        assert_eq!(
            agg.memory.unwrap().measured_fields,
            [memory_usage::Fields::Usage as i32]
        );
    }
}
