//! Values as operators type them on the command line: sizes with units, durations in plain
//! seconds, cores this host has, signals. Each parser is a clap `value_parser`; its error
//! names the reason, clap names the option (`invalid value 'SIGFOO' for '--signal <SIG>': ...`),
//! so none of them speaks of a task config.

use std::time::Duration;

use crate::core::Signal;
use crate::core::mapping::cpu::cpuset_mask;

/// A signal: a name with or without `SIG`, any case, or a number.
pub fn signal(s: &str) -> Result<Signal, String> {
    s.parse().map_err(|e: crate::core::Error| e.reason())
}

/// A size in MiB, as Nomad's `resources.memory` counts: a plain number is MiB (as Nomad's
/// jobs say it), or a number with systemd's suffixes `K`, `M`, `G`, `T` (powers of 1024, an
/// optional `iB` or `B` after them, any case), rounded up to whole MiB. Written by hand: the
/// size crates read `G` as 10⁹ or take no bare numbers, and systemd and Nomad mean 1024.
pub fn size_mib(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let kib: f64 = match unit {
        "" | "M" => 1024.0,
        "K" => 1.0,
        "G" => 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("'{s}' is not a size (e.g. 512, 512M, 1G, 1.5G)")),
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("'{s}' is not a size (e.g. 512, 512M, 1G, 1.5G)"))?;
    let mib = (value * kib / 1024.0).ceil();
    if mib > (u64::MAX >> 20) as f64 {
        return Err(format!("'{s}' is larger than any memory"));
    }
    Ok(mib as u64)
}

/// A duration: a plain number is seconds (as `systemctl`'s and `timeout`'s), else a
/// humantime duration such as `500ms`, `1m30s`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("'{s}' is not a duration ({e}; e.g. 10, 10s, 1m30s)"))
}

/// A cpuset list whose every CPU is online on this host (`/sys/devices/system/cpu/online`).
pub fn cores(s: &str) -> Result<String, String> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map_err(|e| format!("cannot read this host's online CPUs: {e}"))?;
    cores_within(s, online.trim())
}

/// [`cores`] against the online list `online`.
fn cores_within(s: &str, online: &str) -> Result<String, String> {
    let want = cpuset_mask(s).map_err(|e| e.to_string())?;
    let have = cpuset_mask(online).map_err(|e| e.to_string())?;
    let missing: Vec<usize> = (0..want.len() * 8)
        .filter(|&cpu| want[cpu / 8] & (1 << (cpu % 8)) != 0)
        .filter(|&cpu| have.get(cpu / 8).is_none_or(|b| b & (1 << (cpu % 8)) == 0))
        .collect();
    match missing.first() {
        None => Ok(s.to_string()),
        Some(cpu) => Err(format!(
            "CPU {cpu} is not online on this host (online: {online})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_mib_by_default_and_take_binary_suffixes() {
        assert_eq!(size_mib("512"), Ok(512));
        assert_eq!(size_mib("512M"), Ok(512));
        assert_eq!(size_mib("1G"), Ok(1024));
        assert_eq!(size_mib("1gib"), Ok(1024));
        assert_eq!(size_mib("1.5G"), Ok(1536));
        assert_eq!(size_mib("1500K"), Ok(2));
        assert_eq!(size_mib("2T"), Ok(2 << 20));
        for bad in ["", "G", "1X", "-1", "1.2.3", "1 GB extra"] {
            assert!(size_mib(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bare_duration_is_seconds() {
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(duration("soon").unwrap_err().contains("e.g. 10, 10s"));
    }

    #[test]
    fn a_bad_signal_gives_the_reason_not_a_task_config() {
        assert_eq!(signal("hup"), Ok(Signal::from_number(1).unwrap()));
        let e = signal("SIGFOO").unwrap_err();
        assert!(e.contains("'SIGFOO' is not a signal name or number"), "{e}");
        assert!(!e.contains("task config"), "{e}");
    }

    #[test]
    fn cores_must_be_online() {
        assert_eq!(cores_within("0-1", "0-1"), Ok("0-1".into()));
        assert_eq!(cores_within("1,3", "0-3"), Ok("1,3".into()));
        let err = cores_within("99", "0-1").unwrap_err();
        assert!(
            err.contains("CPU 99 is not online") && err.contains("0-1"),
            "{err}"
        );
        assert!(cores_within("2", "0-1,3").is_err());
        assert!(cores_within("x", "0-1").is_err());
    }
}
