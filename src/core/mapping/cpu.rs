//! `cpu` (MHz shares) → `CPUWeight`, reserved `cores` → `AllowedCPUs`, and with
//! `cpu_hard_limit` a hard cap → `CPUQuotaPerSecUSec`.
//!
//! The cap is the task's MHz as a share of one core's MHz (Nomad's docker driver does the
//! same sum): 500 MHz on 2000 MHz cores is 250 ms of CPU time per second, whatever the
//! node's load. The kernel enforces no less than 1 ms per 100 ms period, so smaller caps are
//! raised to that.
//!
//! The weight uses runc's cgroup v1 shares → v2 weight conversion, the one Nomad's executors
//! apply, so a task gets the same relative CPU share under this driver as under `exec`.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::task::Resources;

/// The smallest quota the kernel accepts per 100 ms period, per second.
const MIN_QUOTA_US_PER_S: u64 = 10_000;

/// More CPUs than any cpuset we accept can name; guards the bitmap's size.
const MAX_CPU: usize = 8192;

pub fn properties(res: &Resources) -> Result<Vec<Property>> {
    let mut props = Vec::new();
    if res.cpu_mhz > 0 {
        props.push(Property::new(
            "CPUWeight",
            Value::U64(weight_from_shares(res.cpu_mhz)),
        ));
    }
    if !res.cores.trim().is_empty() {
        props.push(Property::new(
            "AllowedCPUs",
            Value::Bytes(cpuset_mask(&res.cores)?),
        ));
    }
    if res.cpu_hard_limit {
        props.push(Property::new(
            "CPUQuotaPerSecUSec",
            Value::U64(quota_per_second(res)?),
        ));
    }
    Ok(props)
}

/// CPU time per second that `cpu_mhz` is worth on cores of `core_mhz`.
fn quota_per_second(res: &Resources) -> Result<u64> {
    if res.cpu_mhz == 0 {
        return Err(Error::invalid(
            "cpu_hard_limit",
            "needs resources.cpu: the cap is the task's CPU in MHz",
        ));
    }
    if res.core_mhz == 0 {
        return Err(Error::invalid(
            "cpu_hard_limit",
            "this node's CPU speed is unknown (no CPU topology was given or found), so MHz \
             cannot be turned into CPU time",
        ));
    }
    let us = u128::from(res.cpu_mhz) * 1_000_000 / u128::from(res.core_mhz);
    Ok(u64::try_from(us)
        .unwrap_or(u64::MAX)
        .max(MIN_QUOTA_US_PER_S))
}

/// runc's `ConvertCPUSharesToCgroupV2Value`: shares in \[2, 262144\] map linearly onto weights
/// in \[1, 10000\].
pub fn weight_from_shares(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// A cpuset list such as `0-2,5` as systemd's `AllowedCPUs` bitmap: bit `n % 8` of byte `n / 8`
/// is CPU `n`.
pub fn cpuset_mask(list: &str) -> Result<Vec<u8>> {
    let bad = |why: String| Error::invalid("cores", why);
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse = |s: &str| {
            s.parse::<usize>()
                .ok()
                .filter(|n| *n < MAX_CPU)
                .ok_or_else(|| bad(format!("'{part}' is not a CPU number or range")))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(bad(format!("range '{part}' runs backwards")));
        }
        for cpu in lo..=hi {
            if mask.len() <= cpu / 8 {
                mask.resize(cpu / 8 + 1, 0);
            }
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::find;

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(weight_from_shares(2), 1);
        assert_eq!(weight_from_shares(1024), 39);
        assert_eq!(weight_from_shares(262_144), 10_000);
        assert_eq!(weight_from_shares(1), 1);
        assert_eq!(weight_from_shares(u64::MAX), 10_000);
    }

    #[test]
    fn cores_become_a_bitmap() {
        assert_eq!(cpuset_mask("0").unwrap(), [0b1]);
        assert_eq!(cpuset_mask("0-2,5").unwrap(), [0b0010_0111]);
        assert_eq!(cpuset_mask("9").unwrap(), [0, 0b10]);
        assert!(cpuset_mask("2-1").is_err());
        assert!(cpuset_mask("x").is_err());
        assert!(cpuset_mask("99999").is_err());
    }

    #[test]
    fn a_hard_limit_is_the_share_of_one_core() {
        let quota = |cpu_mhz, core_mhz| {
            let res = Resources {
                cpu_mhz,
                core_mhz,
                cpu_hard_limit: true,
                ..Default::default()
            };
            properties(&res).map(|p| match find(&p, "CPUQuotaPerSecUSec") {
                Some(Value::U64(v)) => *v,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(quota(500, 2000).unwrap(), 250_000);
        assert_eq!(quota(6000, 2000).unwrap(), 3_000_000);
        assert_eq!(quota(1, 3000).unwrap(), 10_000);
        assert!(quota(500, 0).unwrap_err().to_string().contains("CPU speed"));
        assert!(quota(0, 2000).is_err());
        let soft = Resources {
            cpu_mhz: 500,
            core_mhz: 2000,
            ..Default::default()
        };
        assert!(find(&properties(&soft).unwrap(), "CPUQuotaPerSecUSec").is_none());
    }

    #[test]
    fn properties_have_systemds_types() {
        let res = Resources {
            cpu_mhz: 500,
            cores: "1".into(),
            ..Default::default()
        };
        let props = properties(&res).unwrap();
        assert_eq!(find(&props, "CPUWeight").unwrap().signature(), "t");
        assert_eq!(find(&props, "AllowedCPUs").unwrap().signature(), "ay");
        assert!(properties(&Resources::default()).unwrap().is_empty());
    }
}
