//! Human-readable values for tables and messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::core::{ExitResult, TaskState, TaskStatus};

/// Bytes in binary units: `512B`, `4.0K`, `1.5M`, `2.0G`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// A duration, coarsely: `850ms`, `12s`, `3m04s`, `2h05m`, `3d02h`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

pub fn cpu_time(ns: u64) -> String {
    format!("{:.2}s", ns as f64 / 1e9)
}

/// How long the task has been up (running) or ran (exited).
pub fn uptime(task: &TaskStatus) -> String {
    if task.started_at_us == 0 {
        return "-".into();
    }
    let end = if task.exited_at_us != 0 {
        task.exited_at_us
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(task.started_at_us, |d| d.as_micros() as u64)
    };
    duration(Duration::from_micros(
        end.saturating_sub(task.started_at_us),
    ))
}

pub fn state(s: TaskState) -> &'static str {
    match s {
        TaskState::Starting => "starting",
        TaskState::Running => "running",
        TaskState::Stopping => "stopping",
        TaskState::Exited => "exited",
    }
}

/// How a task ended, in a few characters for a table: its exit code, or the signal that
/// killed it, with `oom` when the kernel's OOM killer did; `-` while it runs.
pub fn exit(e: Option<ExitResult>) -> String {
    let Some(e) = e else {
        return "-".into();
    };
    let how = if e.signal != 0 {
        crate::core::Signal::from_number(e.signal)
            .map_or_else(|| format!("signal {}", e.signal), |s| s.to_string())
    } else {
        e.exit_code.to_string()
    };
    if e.oom_killed {
        format!("{how} oom")
    } else {
        how
    }
}

/// The first eight characters of an id, as Nomad's CLI shows allocation ids.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

pub fn optional(v: Option<u64>, f: impl Fn(u64) -> String) -> String {
    v.map_or_else(|| "-".into(), f)
}

/// The process exit status a shell sees for a task's result (`run --wait`).
pub fn exit_status(e: &ExitResult) -> u8 {
    if e.oom_killed && e.exit_code == 0 {
        return 137;
    }
    u8::try_from(e.exit_code).unwrap_or(1)
}

/// A plain table in the style of `docker ps`, fitted to the terminal when there is one.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), crate::core::Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::core::Error::io("cannot encode JSON", std::io::Error::other(e)))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0G");
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_secs(184)), "3m04s");
        assert_eq!(duration(Duration::from_secs(7500)), "2h05m");
    }

    #[test]
    fn exits_are_short() {
        let e = |exit_code, signal, oom_killed| ExitResult {
            exit_code,
            signal,
            oom_killed,
        };
        assert_eq!(exit(None), "-");
        assert_eq!(exit(Some(e(0, 0, false))), "0");
        assert_eq!(exit(Some(e(143, 15, false))), "SIGTERM");
        assert_eq!(exit(Some(e(137, 9, true))), "SIGKILL oom");
    }

    #[test]
    fn exit_status_follows_the_task() {
        let e = |exit_code, signal| ExitResult {
            exit_code,
            signal,
            oom_killed: false,
        };
        assert_eq!(exit_status(&e(7, 0)), 7);
        assert_eq!(exit_status(&e(137, 9)), 137);
        assert_eq!(exit_status(&e(-1, 0)), 1);
    }
}
