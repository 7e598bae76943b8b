//! `logs --since/--until`: the time forms journalctl takes (systemd.time(7)) that operators
//! type, parsed to microseconds since the epoch.
//!
//! Accepted, in local time unless a trailing ` UTC` or `Z` says otherwise:
//! - `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD` (midnight), with a space or `T`;
//! - `HH:MM:SS`, `HH:MM` (today);
//! - `now`, `today`, `yesterday`, `tomorrow` (the last three at midnight);
//! - relative to now: `-5m`, `+1h`, `-1h30m`, `5min ago` (units as humantime reads them:
//!   `s`, `m`/`min`, `h`, `d`, `w`, …);
//! - `@SECONDS` since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

const MICROS: i64 = 1_000_000;
const DAY: i64 = 86_400;

/// Now, in µs since the epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `text` as µs since the epoch, relative forms counted from `now_us`; the error says which
/// forms are accepted.
pub fn parse(text: &str, now_us: u64) -> Result<u64, String> {
    let bad = || {
        format!(
            "'{text}' is not a time: use YYYY-MM-DD [HH:MM[:SS]], HH:MM[:SS], now, today, \
             yesterday, tomorrow, -5m / +1h / '5min ago', or @SECONDS"
        )
    };
    let trimmed = text.trim();
    let now = now_us as i64;
    let result = match trimmed {
        "now" => Some(now),
        "today" => midnight(now, 0),
        "yesterday" => midnight(now, -1),
        "tomorrow" => midnight(now, 1),
        _ => {
            if let Some(seconds) = trimmed.strip_prefix('@') {
                seconds.parse::<i64>().ok().map(|s| s * MICROS)
            } else if let Some(span) = trimmed.strip_prefix('-') {
                span_us(span).map(|d| now - d)
            } else if let Some(span) = trimmed.strip_prefix('+') {
                span_us(span).map(|d| now + d)
            } else if let Some(span) = trimmed.strip_suffix(" ago") {
                span_us(span).map(|d| now - d)
            } else {
                absolute(trimmed, now)
            }
        }
    };
    result
        .filter(|us| *us >= 0)
        .map(|us| us as u64)
        .ok_or_else(bad)
}

fn span_us(span: &str) -> Option<i64> {
    let span = span.trim();
    if span.is_empty() {
        return None;
    }
    humantime::parse_duration(span)
        .ok()
        .and_then(|d| i64::try_from(d.as_micros()).ok())
}

/// Midnight, local time, `days` from today.
fn midnight(now: i64, days: i64) -> Option<i64> {
    let (y, m, d, ..) = local_fields(now / MICROS)?;
    local_to_epoch(y, m, d + days as i32, 0, 0, 0).map(|s| s * MICROS)
}

/// `YYYY-MM-DD[ HH:MM[:SS]]` or `HH:MM[:SS]`, local or (suffix ` UTC`/`Z`) UTC.
fn absolute(text: &str, now: i64) -> Option<i64> {
    let (text, utc) = match text.strip_suffix(" UTC").or_else(|| text.strip_suffix('Z')) {
        Some(t) => (t.trim_end(), true),
        None => (text, false),
    };
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (Some(d), Some(t)),
        None if text.contains(':') => (None, Some(text)),
        None => (Some(text), None),
    };
    let (h, mi, s) = match time {
        Some(t) => {
            let parts: Vec<&str> = t.split(':').collect();
            match parts.as_slice() {
                [h, m] => (num(h, 0, 23)?, num(m, 0, 59)?, 0),
                [h, m, s] => (num(h, 0, 23)?, num(m, 0, 59)?, num(s, 0, 60)?),
                _ => return None,
            }
        }
        None => (0, 0, 0),
    };
    let (y, mo, d) = match date {
        Some(date) => {
            let parts: Vec<&str> = date.split('-').collect();
            let [y, m, d] = parts.as_slice() else {
                return None;
            };
            if y.len() != 4 {
                return None;
            }
            (num(y, 1970, 9999)?, num(m, 1, 12)?, num(d, 1, 31)?)
        }
        None if utc => {
            let days = (now / MICROS).div_euclid(DAY);
            let (y, m, d) = civil_from_days(days);
            (y, m, d)
        }
        None => {
            let (y, m, d, ..) = local_fields(now / MICROS)?;
            (y, m, d)
        }
    };
    let seconds = if utc {
        days_from_civil(y, mo, d) * DAY + i64::from(h * 3600 + mi * 60 + s)
    } else {
        local_to_epoch(y, mo, d, h, mi, s)?
    };
    Some(seconds * MICROS)
}

fn num(text: &str, min: i32, max: i32) -> Option<i32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| (min..=max).contains(n))
}

/// Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: i32, d: i32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since the epoch.
fn civil_from_days(days: i64) -> (i32, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as i32, d as i32)
}

/// The local date and time of `seconds` since the epoch, through the C library (which
/// knows the host's time zone).
fn local_fields(seconds: i64) -> Option<(i32, i32, i32, i32, i32, i32)> {
    // time_t is i64 on every 64-bit Linux C library (naming the type is deprecated on musl,
    // whose definition the libc crate will change).
    let t: i64 = seconds;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack frame.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&t, &mut tm).is_null() };
    ok.then_some((
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
    ))
}

/// Seconds since the epoch of a local date and time (out-of-range days roll over, as
/// `mktime` does).
fn local_to_epoch(y: i32, m: i32, d: i32, h: i32, mi: i32, s: i32) -> Option<i64> {
    // SAFETY: mktime reads and normalises `tm`, which lives on this stack frame.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    let t = unsafe { nix::libc::mktime(&mut tm) };
    (t != -1).then_some(t)
}

/// `us` since the epoch as RFC 3339 in UTC with microseconds, as `-t` and `-o json` print
/// it: `2026-12-05T16:28:20.123456Z`.
pub fn format_utc(us: u64) -> String {
    let seconds = (us / MICROS as u64) as i64;
    let (y, m, d) = civil_from_days(seconds.div_euclid(DAY));
    let in_day = seconds.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        us % MICROS as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-05T16:28:20Z.
    const NOW: u64 = 1_796_488_100 * 1_000_000;

    #[test]
    fn utc_dates_and_times_are_exact() {
        assert_eq!(parse("2026-12-05 16:28:20 UTC", NOW), Ok(NOW));
        assert_eq!(parse("2026-12-05T16:28:20Z", NOW), Ok(NOW));
        assert_eq!(parse("2026-12-05 16:28 UTC", NOW), Ok(NOW - 20_000_000));
        assert_eq!(parse("2026-12-05 UTC", NOW), Ok(NOW - 59_300_000_000));
        assert_eq!(parse("16:00 UTC", NOW), Ok(NOW - 1_700_000_000));
        assert_eq!(parse("1970-01-01 00:00:00 UTC", NOW), Ok(0));
        assert_eq!(format_utc(NOW + 42), "2026-12-05T16:28:20.000042Z");
    }

    #[test]
    fn relative_forms_count_from_now() {
        assert_eq!(parse("now", NOW), Ok(NOW));
        assert_eq!(parse("-5m", NOW), Ok(NOW - 300_000_000));
        assert_eq!(parse("+1h", NOW), Ok(NOW + 3_600_000_000));
        assert_eq!(parse("-1h30m", NOW), Ok(NOW - 5_400_000_000));
        assert_eq!(parse("5min ago", NOW), Ok(NOW - 300_000_000));
        assert_eq!(parse("-30s", NOW), Ok(NOW - 30_000_000));
        assert_eq!(parse("@1796488100", NOW), Ok(NOW));
    }

    #[test]
    fn local_forms_are_midnights_and_today() {
        let today = parse("today", NOW).unwrap();
        let yesterday = parse("yesterday", NOW).unwrap();
        let tomorrow = parse("tomorrow", NOW).unwrap();
        assert!(yesterday < today && today <= NOW && NOW < tomorrow);
        // Within a day or so of each other (a DST change moves an hour).
        assert!((today - yesterday).abs_diff(86_400_000_000) <= 3_600_000_000);
        assert_eq!(parse("00:00", NOW), Ok(today));
        let date = format_utc(NOW)[..10].to_string();
        assert!(parse(&date, NOW).is_ok());
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_accepted() {
        for bad in [
            "",
            "5m",
            "soon",
            "2026-13-01",
            "2026-12-05 25:00",
            "12",
            "-",
            "-5x",
            "26-12-05",
        ] {
            let err = parse(bad, NOW).unwrap_err();
            assert!(err.contains("YYYY-MM-DD"), "{bad}: {err}");
        }
    }
}
