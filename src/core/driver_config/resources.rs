//! The resource options of a job's `config` block: limits beyond Nomad's own `resources`
//! (swap, a hard CPU cap, a process limit, IO weight and bandwidth), applied on top of what
//! Nomad allots.

use super::super::cty::{ConfigError, Object};
use super::super::task::{DeviceLimit, Resources, SwapLimit};

/// What a job's config says about resources; the defaults change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceOptions {
    pub memory_swap: SwapLimit,
    pub cpu_hard_limit: bool,
    pub pids_limit: u64,
    pub io_weight: u64,
    pub io_read_bandwidth_max: Vec<DeviceLimit>,
    pub io_write_bandwidth_max: Vec<DeviceLimit>,
}

impl ResourceOptions {
    pub fn decode(o: &Object) -> Result<ResourceOptions, ConfigError> {
        let error = |path: &str, reason: String| ConfigError {
            path: path.into(),
            reason,
        };
        let memory_swap = match o.integer("memory_swap")? {
            None => SwapLimit::None,
            Some(mb) => SwapLimit::from_mb(mb).ok_or_else(|| {
                error(
                    "memory_swap",
                    format!("{mb} is neither -1 (no limit) nor a size in MiB"),
                )
            })?,
        };
        let unsigned = |key: &str| -> Result<u64, ConfigError> {
            match o.integer(key)? {
                None => Ok(0),
                Some(n) => u64::try_from(n).map_err(|_| error(key, format!("{n} is negative"))),
            }
        };
        Ok(ResourceOptions {
            memory_swap,
            cpu_hard_limit: o.bool("cpu_hard_limit")?.unwrap_or(false),
            pids_limit: unsigned("pids_limit")?,
            io_weight: unsigned("io_weight")?,
            io_read_bandwidth_max: bandwidths(o, "io_read_bandwidth_max")?,
            io_write_bandwidth_max: bandwidths(o, "io_write_bandwidth_max")?,
        })
    }

    /// Sets these options on the resources Nomad allotted.
    pub fn apply(&self, res: &mut Resources) {
        res.swap = self.memory_swap;
        res.cpu_hard_limit = self.cpu_hard_limit;
        res.pids_limit = self.pids_limit;
        res.io_weight = self.io_weight;
        res.io_read_bandwidth = self.io_read_bandwidth_max.clone();
        res.io_write_bandwidth = self.io_write_bandwidth_max.clone();
    }
}

/// A `map(string)` of device → rate such as `{ "/dev/sda" = "20M" }`.
fn bandwidths(o: &Object, key: &str) -> Result<Vec<DeviceLimit>, ConfigError> {
    o.string_map(key)?
        .into_iter()
        .map(|(device, rate)| {
            let bytes_per_second = parse_rate(&rate).ok_or_else(|| ConfigError {
                path: format!("{key}.{device}"),
                reason: format!(
                    "'{rate}' is not a rate: give bytes per second, optionally with K, M, G or \
                     T (powers of 1024), e.g. \"20M\""
                ),
            })?;
            Ok(DeviceLimit {
                device,
                bytes_per_second,
            })
        })
        .collect()
}

/// Bytes per second with systemd's 1024-based suffixes: `"512"`, `"64K"`, `"20M"`, `"1G"`.
fn parse_rate(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 10),
        (i, 'M' | 'm') => (&text[..i], 20),
        (i, 'G' | 'g') => (&text[..i], 30),
        (i, 'T' | 't') => (&text[..i], 40),
        _ => (text, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn decode(pairs: Vec<(&str, Value)>) -> Result<ResourceOptions, ConfigError> {
        let map = Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect());
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &map).unwrap();
        ResourceOptions::decode(&Object::decode(&bytes).unwrap())
    }

    #[test]
    fn absent_options_change_nothing() {
        assert_eq!(decode(vec![]).unwrap(), ResourceOptions::default());
        let mut res = Resources::default();
        ResourceOptions::default().apply(&mut res);
        assert_eq!(res, Resources::default());
    }

    #[test]
    fn every_option_is_read() {
        let rates = |pairs: &[(&str, &str)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (Value::from(*k), Value::from(*v)))
                    .collect(),
            )
        };
        let o = decode(vec![
            ("memory_swap", Value::from(-1)),
            ("cpu_hard_limit", true.into()),
            ("pids_limit", 100.into()),
            ("io_weight", "200".into()),
            ("io_read_bandwidth_max", rates(&[("/dev/sda", "20M")])),
            ("io_write_bandwidth_max", rates(&[("/dev/sdb", "512")])),
        ])
        .unwrap();
        assert_eq!(o.memory_swap, SwapLimit::Unlimited);
        assert!(o.cpu_hard_limit);
        assert_eq!((o.pids_limit, o.io_weight), (100, 200));
        assert_eq!(o.io_read_bandwidth_max[0].bytes_per_second, 20 << 20);
        assert_eq!(o.io_write_bandwidth_max[0].device, "/dev/sdb");
    }

    #[test]
    fn bad_values_name_the_option() {
        let path = |pairs| decode(pairs).unwrap_err().path;
        assert_eq!(path(vec![("memory_swap", Value::from(-2))]), "memory_swap");
        assert_eq!(path(vec![("pids_limit", Value::from(-1))]), "pids_limit");
        assert_eq!(
            path(vec![("cpu_hard_limit", "yes".into())]),
            "cpu_hard_limit"
        );
        let rate = Value::Map(vec![("/dev/sda".into(), "fast".into())]);
        assert_eq!(
            path(vec![("io_read_bandwidth_max", rate)]),
            "io_read_bandwidth_max./dev/sda"
        );
    }

    #[test]
    fn rates_take_1024_based_suffixes() {
        assert_eq!(parse_rate("512"), Some(512));
        assert_eq!(parse_rate("64K"), Some(64 << 10));
        assert_eq!(parse_rate("1g"), Some(1 << 30));
        assert_eq!(parse_rate("M"), None);
        assert_eq!(parse_rate("-1M"), None);
        assert_eq!(parse_rate("99999999999T"), None);
    }
}
