//! CPU usage as a percentage, from successive cumulative samples.
//!
//! systemd and the cgroup count CPU time since the unit started; a rate needs two samples.
//! The convention is Nomad's: percent of one core, so a task busy on two cores reads 200.

use super::stats::TaskStats;

/// CPU percentages between two samples; `None` where a counter was not measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuPercent {
    pub total: Option<f64>,
    pub user: Option<f64>,
    pub system: Option<f64>,
}

/// Remembers the previous sample of one task.
#[derive(Debug, Default)]
pub struct CpuMeter {
    last: Option<TaskStats>,
}

impl CpuMeter {
    /// The usage since the previous call; 0 for the first sample of a counter that exists
    /// (there is no interval yet), `None` for a counter that was not measured.
    pub fn update(&mut self, now: &TaskStats) -> CpuPercent {
        let previous = self.last.replace(now.clone());
        let wall = previous
            .as_ref()
            .map(|p| now.timestamp_ns.saturating_sub(p.timestamp_ns))
            .filter(|ns| *ns > 0);
        let rate = |get: fn(&TaskStats) -> Option<u64>| {
            let current = get(now)?;
            let (Some(p), Some(wall)) = (previous.as_ref(), wall) else {
                return Some(0.0);
            };
            let before = get(p).unwrap_or(current);
            Some(current.saturating_sub(before) as f64 / wall as f64 * 100.0)
        };
        CpuPercent {
            total: rate(|s| s.cpu_total_ns),
            user: rate(|s| s.cpu_user_ns),
            system: rate(|s| s.cpu_system_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, total_ms: u64, user_ms: Option<u64>) -> TaskStats {
        TaskStats {
            timestamp_ns: at_ms * 1_000_000,
            cpu_total_ns: Some(total_ms * 1_000_000),
            cpu_user_ns: user_ms.map(|u| u * 1_000_000),
            ..TaskStats::default()
        }
    }

    #[test]
    fn the_first_sample_reads_zero_and_unmeasured_stays_none() {
        let p = CpuMeter::default().update(&sample(1000, 500, None));
        assert_eq!(p.total, Some(0.0));
        assert_eq!(p.user, None);
        assert_eq!(p.system, None);
    }

    #[test]
    fn percent_is_of_one_core() {
        let mut m = CpuMeter::default();
        m.update(&sample(1000, 0, Some(0)));
        let p = m.update(&sample(2000, 1500, Some(500)));
        assert_eq!(p.total, Some(150.0));
        assert_eq!(p.user, Some(50.0));
    }

    #[test]
    fn a_counter_that_goes_back_or_a_clock_that_stands_still_reads_zero() {
        let mut m = CpuMeter::default();
        m.update(&sample(1000, 900, None));
        assert_eq!(m.update(&sample(2000, 100, None)).total, Some(0.0));
        assert_eq!(m.update(&sample(2000, 200, None)).total, Some(0.0));
    }
}
