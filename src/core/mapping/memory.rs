//! `memory` / `memory_max` → `MemoryMax` / `MemoryLow`, as Nomad's own executors apply them on
//! cgroup v2:
//! - `memory` alone: `MemoryMax = memory`;
//! - with `memory_max`: `MemoryLow = memory` (a protected reservation that never throttles)
//!   and `MemoryMax = memory_max`;
//! - `memory_max = -1`: `MemoryLow = memory` and `MemoryMax = infinity`.
//!
//! `swap` → `MemorySwapMax`: 0 unless the job allows swap, so a task past its limit is
//! OOM-killed at once instead of thrashing the node (swap is not something Nomad schedules).
//!
//! `OOMPolicy=kill`, always: when the kernel's OOM killer picks any process of the task, the
//! whole task is killed (`memory.oom.group`) and ends with `Result=oom-kill`, which Nomad sees
//! as `oom_killed`. A half-killed task that keeps running is what Nomad cannot restart.
//!
//! `oom_score_adjust` → `OOMScoreAdjust`, when not 0.
//!
//! `MemoryHigh` is deliberately not used: it throttles a task at its reservation, which is not
//! what a Nomad job author asked for when allowing oversubscription.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::task::{MemoryMax, Resources, SwapLimit};

const MIB: u64 = 1024 * 1024;
/// systemd's `infinity` for byte limits.
const INFINITY: u64 = u64::MAX;
/// Larger limits would overflow when turned into bytes.
const MAX_MB: u64 = u64::MAX / MIB;
/// The kernel's range for `oom_score_adj`.
const OOM_SCORE_RANGE: std::ops::RangeInclusive<i32> = -1000..=1000;

pub fn properties(res: &Resources) -> Result<Vec<Property>> {
    let memory = bytes(res.memory_mb, "memory")?;
    let mut props = Vec::new();
    match res.memory_max {
        MemoryMax::Unset if res.memory_mb > 0 => {
            props.push(Property::new("MemoryMax", Value::U64(memory)));
        }
        MemoryMax::Unset => {}
        MemoryMax::Mb(max_mb) => {
            if max_mb < res.memory_mb {
                return Err(Error::invalid(
                    "memory_max",
                    format!("{max_mb} MiB is below memory ({} MiB)", res.memory_mb),
                ));
            }
            props.push(Property::new("MemoryLow", Value::U64(memory)));
            props.push(Property::new(
                "MemoryMax",
                Value::U64(bytes(max_mb, "memory_max")?),
            ));
        }
        MemoryMax::Unlimited => {
            props.push(Property::new("MemoryLow", Value::U64(memory)));
            props.push(Property::new("MemoryMax", Value::U64(INFINITY)));
        }
    }
    let swap = match res.swap {
        SwapLimit::None => 0,
        SwapLimit::Mb(mb) => bytes(mb, "memory_swap")?,
        SwapLimit::Unlimited => INFINITY,
    };
    props.push(Property::new("MemorySwapMax", Value::U64(swap)));
    props.push(Property::new("OOMPolicy", Value::Str("kill".into())));
    if res.oom_score_adjust != 0 {
        if !OOM_SCORE_RANGE.contains(&res.oom_score_adjust) {
            return Err(Error::invalid(
                "oom_score_adjust",
                format!("{} is outside -1000..1000", res.oom_score_adjust),
            ));
        }
        props.push(Property::new(
            "OOMScoreAdjust",
            Value::I32(res.oom_score_adjust),
        ));
    }
    Ok(props)
}

fn bytes(mb: u64, setting: &str) -> Result<u64> {
    if mb > MAX_MB {
        return Err(Error::invalid(setting, format!("{mb} MiB is too large")));
    }
    Ok(mb * MIB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::find;

    fn limits(memory_mb: u64, memory_max: MemoryMax) -> (Option<u64>, Option<u64>) {
        let res = Resources {
            memory_mb,
            memory_max,
            ..Resources::default()
        };
        let props = properties(&res).unwrap();
        let get = |n| match find(&props, n) {
            Some(Value::U64(v)) => Some(*v),
            None => None,
            other => panic!("{n}: {other:?}"),
        };
        (get("MemoryLow"), get("MemoryMax"))
    }

    #[test]
    fn memory_alone_is_the_hard_limit() {
        assert_eq!(limits(256, MemoryMax::Unset), (None, Some(256 * MIB)));
    }

    #[test]
    fn memory_max_makes_memory_a_reservation() {
        assert_eq!(
            limits(256, MemoryMax::Mb(512)),
            (Some(256 * MIB), Some(512 * MIB))
        );
    }

    #[test]
    fn memory_max_minus_one_means_no_hard_limit() {
        assert_eq!(
            limits(256, MemoryMax::Unlimited),
            (Some(256 * MIB), Some(u64::MAX))
        );
        assert_eq!(MemoryMax::from_nomad(-1), Some(MemoryMax::Unlimited));
        assert_eq!(MemoryMax::from_nomad(-2), None);
    }

    #[test]
    fn no_memory_sets_no_limit() {
        assert_eq!(limits(0, MemoryMax::Unset), (None, None));
    }

    #[test]
    fn inconsistent_or_huge_values_are_refused() {
        let below = Resources {
            memory_mb: 512,
            memory_max: MemoryMax::Mb(256),
            ..Default::default()
        };
        assert!(
            properties(&below)
                .unwrap_err()
                .to_string()
                .contains("below memory")
        );
        let huge = Resources {
            memory_mb: u64::MAX,
            ..Default::default()
        };
        assert!(properties(&huge).is_err());
    }

    #[test]
    fn swap_is_off_unless_allowed_and_an_oom_kills_the_whole_task() {
        let swap_of = |swap| {
            let props = properties(&Resources {
                swap,
                ..Resources::default()
            })
            .unwrap();
            assert!(matches!(find(&props, "OOMPolicy"), Some(Value::Str(p)) if p == "kill"));
            match find(&props, "MemorySwapMax") {
                Some(Value::U64(v)) => *v,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(swap_of(SwapLimit::None), 0);
        assert_eq!(swap_of(SwapLimit::Mb(64)), 64 * MIB);
        assert_eq!(swap_of(SwapLimit::Unlimited), u64::MAX);
        assert_eq!(SwapLimit::from_mb(-1), Some(SwapLimit::Unlimited));
        assert_eq!(SwapLimit::from_mb(-5), None);
    }

    #[test]
    fn oom_score_adjust_is_set_only_when_asked_and_in_range() {
        let res = |oom_score_adjust| Resources {
            oom_score_adjust,
            ..Default::default()
        };
        assert!(find(&properties(&res(0)).unwrap(), "OOMScoreAdjust").is_none());
        let props = properties(&res(500)).unwrap();
        assert!(matches!(
            find(&props, "OOMScoreAdjust"),
            Some(Value::I32(500))
        ));
        assert_eq!(find(&props, "OOMScoreAdjust").unwrap().signature(), "i");
        assert!(properties(&res(1001)).is_err());
        assert!(properties(&res(-1001)).is_err());
    }
}
