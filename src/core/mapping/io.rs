//! `io_weight` → `IOWeight`; `io_read_bandwidth_max` / `io_write_bandwidth_max` →
//! `IOReadBandwidthMax` / `IOWriteBandwidthMax`, one entry per device.
//!
//! Devices are named by path; systemd resolves a file system path to the block device under
//! it. Only paths are checked here (absolute, no `..`): whether the device exists is the host's
//! business and systemd logs, rather than fails on, a missing one.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::task::{DeviceLimit, Resources};

/// The cgroup v2 `io.weight` range.
const WEIGHT_RANGE: std::ops::RangeInclusive<u64> = 1..=10_000;

pub fn properties(res: &Resources) -> Result<Vec<Property>> {
    let mut props = Vec::new();
    if res.io_weight != 0 {
        if !WEIGHT_RANGE.contains(&res.io_weight) {
            return Err(Error::invalid(
                "io_weight",
                format!("{} is outside 1..10000", res.io_weight),
            ));
        }
        props.push(Property::new("IOWeight", Value::U64(res.io_weight)));
    }
    for (name, setting, limits) in [
        (
            "IOReadBandwidthMax",
            "io_read_bandwidth_max",
            &res.io_read_bandwidth,
        ),
        (
            "IOWriteBandwidthMax",
            "io_write_bandwidth_max",
            &res.io_write_bandwidth,
        ),
    ] {
        if !limits.is_empty() {
            props.push(Property::new(
                name,
                Value::DeviceLimits(device_limits(limits, setting)?),
            ));
        }
    }
    Ok(props)
}

fn device_limits(limits: &[DeviceLimit], setting: &str) -> Result<Vec<(String, u64)>> {
    limits
        .iter()
        .map(|l| {
            let path = &l.device;
            if !path.starts_with('/') || path.split('/').any(|c| c == "..") || path.contains('\0') {
                return Err(Error::invalid(
                    setting,
                    format!(
                        "'{}' must be an absolute device path without '..'",
                        path.escape_debug()
                    ),
                ));
            }
            if l.bytes_per_second == 0 {
                return Err(Error::invalid(
                    setting,
                    format!("a limit of 0 bytes/s would stall every IO on '{path}'"),
                ));
            }
            Ok((path.clone(), l.bytes_per_second))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::property::find;

    fn limit(device: &str, bytes_per_second: u64) -> DeviceLimit {
        DeviceLimit {
            device: device.into(),
            bytes_per_second,
        }
    }

    #[test]
    fn weight_and_bandwidth_have_systemds_types() {
        let props = properties(&Resources {
            io_weight: 500,
            io_read_bandwidth: vec![limit("/dev/sda", 10 << 20)],
            io_write_bandwidth: vec![limit("/var/lib", 1 << 20)],
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(find(&props, "IOWeight"), Some(Value::U64(500))));
        let Some(Value::DeviceLimits(read)) = find(&props, "IOReadBandwidthMax") else {
            panic!()
        };
        assert_eq!(read, &[("/dev/sda".to_string(), 10 << 20)]);
        assert_eq!(
            find(&props, "IOWriteBandwidthMax").unwrap().signature(),
            "a(st)"
        );
        assert!(properties(&Resources::default()).unwrap().is_empty());
    }

    #[test]
    fn bad_weights_and_devices_name_the_option() {
        let bad = |res: Resources| properties(&res).unwrap_err().to_string();
        assert!(
            bad(Resources {
                io_weight: 10_001,
                ..Default::default()
            })
            .contains("io_weight")
        );
        assert!(
            bad(Resources {
                io_read_bandwidth: vec![limit("sda", 1)],
                ..Default::default()
            })
            .contains("io_read_bandwidth_max")
        );
        assert!(
            bad(Resources {
                io_write_bandwidth: vec![limit("/dev/../etc", 1)],
                ..Default::default()
            })
            .contains("io_write_bandwidth_max")
        );
        assert!(
            bad(Resources {
                io_write_bandwidth: vec![limit("/dev/sda", 0)],
                ..Default::default()
            })
            .contains("stall")
        );
    }
}
