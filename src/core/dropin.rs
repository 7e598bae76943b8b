//! Properties as a unit-file drop-in: how settings reach a unit that is not transient.
//!
//! systemd's `SetUnitProperties` changes only resource-control settings of an installed unit
//! (`CPUWeight`, `MemoryMax`, …); `Environment`, `Restart`, `KillSignal` and the rest are
//! refused ("Cannot set property"), and even the accepted ones are written as files under
//! `system.control/` that only `RevertUnitFiles` removes — which would also remove an
//! administrator's own drop-ins. So everything Nomad applies to an installed unit goes into
//! one drop-in file of ours, rendered here from the same [`Property`] values the transient
//! path sends over D-Bus, and removing that one file undoes all of it.

use super::error::{Error, Result};
use super::property::{Property, Value};
use super::signal::Signal;

/// The `[Unit]` section's settings; all others belong to `[Service]`.
const UNIT_SECTION: &[&str] = &["Description"];
/// The longest line systemd reads from a unit file: its `LONG_LINE_MAX` (1 MiB, in
/// `src/basic/fileio.h`) less one, as `read_line` refuses a line of that many bytes. A longer
/// line does not just lose its setting: the parser gives up on the whole file, so every
/// setting of the drop-in (limits, `Restart=no`, Nomad's variables) would silently be gone.
pub const MAX_LINE: usize = 1024 * 1024 - 1;

/// The drop-in text for `props` under `header` (a comment line saying whose file it is).
/// Errors name the property that has no unit-file form (file descriptors, exec lines) or
/// whose line would be longer than systemd reads ([`MAX_LINE`]; `env` and the variable for
/// an environment variable).
pub fn render(header: &str, props: &[Property]) -> Result<String> {
    let mut unit = String::new();
    let mut service = String::new();
    for p in props {
        let Some(line) = line(p)? else { continue };
        if let Some(long) = line.lines().find(|l| l.len() > MAX_LINE) {
            return Err(Error::invalid(
                p.name.as_ref(),
                format!(
                    "its line in the unit's drop-in would be {} bytes; systemd reads at most \
                     {MAX_LINE} and would drop the whole drop-in",
                    long.len()
                ),
            ));
        }
        let section = if UNIT_SECTION.contains(&p.name.as_ref()) {
            &mut unit
        } else {
            &mut service
        };
        section.push_str(&line);
        section.push('\n');
    }
    let comment: String = header.chars().filter(|c| !c.is_control()).collect();
    let mut out = format!("# {comment}\n");
    if !unit.is_empty() {
        out.push_str("[Unit]\n");
        out.push_str(&unit);
    }
    if !service.is_empty() {
        out.push_str("[Service]\n");
        out.push_str(&service);
    }
    Ok(out)
}

/// One `Name=value` line; `None` for an empty list, which in a unit file would reset the
/// unit's own setting instead of adding nothing.
fn line(p: &Property) -> Result<Option<String>> {
    // `...USec` properties are `...Sec` settings in unit files.
    let name = p
        .name
        .strip_suffix("USec")
        .map_or_else(|| p.name.to_string(), |stem| format!("{stem}Sec"));
    let value = match &p.value {
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::I32(n) if p.name == "KillSignal" => {
            Signal::from_number(*n).map_or(n.to_string(), |s| s.to_string())
        }
        Value::I32(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::SyscallFilter(_, names) if names.is_empty() => return Ok(None),
        // A deny-list is the same words behind one `~`.
        Value::SyscallFilter(allow, names) => {
            let words = names
                .iter()
                .map(|n| plain(&p.name, n))
                .collect::<Result<Vec<_>>>()?
                .join(" ");
            if *allow { words } else { format!("~{words}") }
        }
        Value::Devices(devices) => {
            let entries = devices.iter().map(|d| (&d.device, d.access.clone()));
            return per_device(&name, &p.name, entries);
        }
        Value::U64(u64::MAX) => "infinity".into(),
        // No `CPUQuotaPerSecSec=` exists: the file form is a percentage, to 0.01 %.
        Value::U64(n) if p.name == "CPUQuotaPerSecUSec" => {
            let permyriad = n / 100;
            return Ok(Some(format!(
                "CPUQuota={}.{:02}%",
                permyriad / 100,
                permyriad % 100
            )));
        }
        Value::U64(n) if p.name.ends_with("USec") => format!("{n}us"),
        Value::U64(n) => n.to_string(),
        Value::Str(s) => plain(&p.name, s)?,
        Value::Strings(words) if words.is_empty() => return Ok(None),
        // One line per variable: each has systemd's whole line length to itself.
        Value::Strings(words) if p.name == "Environment" => {
            let lines = words
                .iter()
                .map(|w| {
                    let line = format!("Environment={}", quoted(w));
                    if line.len() > MAX_LINE {
                        let var = w.split_once('=').map_or(w.as_str(), |(n, _)| n);
                        return Err(Error::invalid(
                            "env",
                            format!(
                                "'{var}' is {} bytes as a unit-file line; systemd reads at most \
                                 {MAX_LINE} and would drop the whole drop-in",
                                line.len()
                            ),
                        ));
                    }
                    Ok(line)
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Some(lines.join("\n")));
        }
        Value::Strings(words) => words
            .iter()
            .map(|w| quoted(w))
            .collect::<Vec<_>>()
            .join(" "),
        Value::ByteStrings(words) if words.is_empty() => return Ok(None),
        Value::ByteStrings(words) => words
            .iter()
            .map(|w| quoted(&String::from_utf8_lossy(w)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Bytes(mask) if p.name == "AllowedCPUs" => cpu_list(mask),
        Value::DeviceLimits(limits) => {
            let entries = limits
                .iter()
                .map(|(device, rate)| (device, rate.to_string()));
            return per_device(&name, &p.name, entries);
        }
        Value::Bytes(_) | Value::Exec(_) | Value::Binds(_) | Value::Fd(_) => {
            return Err(Error::invalid(
                p.name.as_ref(),
                "cannot be applied to an installed unit (it has no drop-in form here)",
            ));
        }
    };
    Ok(Some(format!("{name}={value}")))
}

/// One `Name=device value` line per device (`DeviceAllow`, `IOReadBandwidthMax`, ...); `None`
/// for no device, which in a unit file would reset the unit's own list.
fn per_device<'a>(
    name: &str,
    property: &str,
    entries: impl Iterator<Item = (&'a String, String)>,
) -> Result<Option<String>> {
    let lines = entries
        .map(|(device, value)| {
            let device = plain(property, device)?;
            let value = plain(property, &value)?;
            Ok(format!("{name}={device} {value}"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

/// A single-word value: `%` doubled (no specifier expansion), line breaks refused.
fn plain(name: &str, s: &str) -> Result<String> {
    if s.contains(['\n', '\r', '\0']) {
        return Err(Error::invalid(name, "contains a line break or NUL byte"));
    }
    Ok(s.replace('%', "%%"))
}

/// One word in double quotes, C-escaped, `%` doubled: read back by systemd as exactly `s`.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '%' => out.push_str("%%"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An `AllowedCPUs` bitmap as a cpuset list (`0-2,5`).
fn cpu_list(mask: &[u8]) -> String {
    let cpus: Vec<usize> = (0..mask.len() * 8)
        .filter(|n| mask[n / 8] & (1 << (n % 8)) != 0)
        .collect();
    let mut ranges: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        ranges.push(if cpus[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    ranges.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::cpu::cpuset_mask;

    fn render_one(name: &'static str, value: Value) -> String {
        render("h", &[Property::new(name, value)]).unwrap()
    }

    #[test]
    fn sections_and_value_forms() {
        let text = render(
            "written by us",
            &[
                Property::new("Description", Value::Str("Nomad task web (100%)".into())),
                Property::new("Restart", Value::Str("no".into())),
                Property::new("RemainAfterExit", Value::Bool(true)),
                Property::new("KillSignal", Value::I32(2)),
                Property::new("TimeoutStopUSec", Value::U64(5_000_000)),
                Property::new("MemoryMax", Value::U64(u64::MAX)),
                Property::new("CPUWeight", Value::U64(39)),
            ],
        )
        .unwrap();
        assert_eq!(
            text,
            "# written by us\n[Unit]\nDescription=Nomad task web (100%%)\n[Service]\n\
             Restart=no\nRemainAfterExit=yes\nKillSignal=SIGINT\nTimeoutStopSec=5000000us\n\
             MemoryMax=infinity\nCPUWeight=39\n"
        );
    }

    #[test]
    fn environment_words_are_quoted_and_escaped() {
        let text = render_one(
            "Environment",
            Value::Strings(vec![
                "A=a b".into(),
                "B=say \"hi\" \\ 50%".into(),
                "C=line1\nline2".into(),
            ]),
        );
        assert!(
            text.ends_with(
                "Environment=\"A=a b\"\nEnvironment=\"B=say \\\"hi\\\" \\\\ 50%%\"\n\
                 Environment=\"C=line1\\nline2\"\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn device_limits_are_one_line_per_device() {
        let text = render_one(
            "IOReadBandwidthMax",
            Value::DeviceLimits(vec![("/dev/sda".into(), 1024), ("/dev/sdb".into(), 2048)]),
        );
        assert!(
            text.ends_with("IOReadBandwidthMax=/dev/sda 1024\nIOReadBandwidthMax=/dev/sdb 2048\n"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_list_adds_no_line_that_would_reset_the_units_own() {
        assert_eq!(render_one("Environment", Value::Strings(vec![])), "# h\n");
    }

    #[test]
    fn cpu_masks_read_back_as_lists() {
        for list in ["0", "0-2,5", "9", "1,3,8-10"] {
            assert_eq!(cpu_list(&cpuset_mask(list).unwrap()), list);
        }
    }

    #[test]
    fn a_line_systemd_would_not_read_is_refused_naming_the_setting() {
        let big = format!("BIG={}", "x".repeat(MAX_LINE));
        let e = render(
            "h",
            &[Property::new(
                "Environment",
                Value::Strings(vec!["A=1".into(), big]),
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("env") && e.contains("'BIG'"), "{e}");
        let fits = format!("B={}", "x".repeat(MAX_LINE - "Environment=\"B=\"".len()));
        assert!(
            render(
                "h",
                &[Property::new("Environment", Value::Strings(vec![fits]))]
            )
            .is_ok()
        );
        let e = render(
            "h",
            &[Property::new(
                "Description",
                Value::Str("d".repeat(MAX_LINE)),
            )],
        )
        .unwrap_err();
        assert!(e.to_string().contains("Description"), "{e}");
    }

    #[test]
    fn a_cpu_quota_is_a_percentage() {
        assert_eq!(
            render_one("CPUQuotaPerSecUSec", Value::U64(250_000)),
            "# h\n[Service]\nCPUQuota=25.00%\n"
        );
        assert_eq!(
            render_one("CPUQuotaPerSecUSec", Value::U64(1_234_567)),
            "# h\n[Service]\nCPUQuota=123.45%\n"
        );
    }

    #[test]
    fn values_without_a_file_form_are_refused() {
        let fd = std::fs::File::open("/dev/null").unwrap();
        let e = render(
            "h",
            &[Property::new(
                "X",
                Value::Fd(std::sync::Arc::new(fd.into())),
            )],
        );
        assert!(e.is_err());
        let e = render(
            "h",
            &[Property::new("Description", Value::Str("a\nb".into()))],
        );
        assert!(e.is_err());
    }
}
