//! Times as protobuf Timestamps. Nomad fails on a missing timestamp, so "never" is sent as Go's
//! zero time, 0001-01-01T00:00:00Z, as Nomad's own drivers do.

use prost_types::Timestamp;

/// Go's zero `time.Time`, what Nomad expects for "never".
const GO_ZERO_SECONDS: i64 = -62_135_596_800;

pub fn from_ns(ns: u64) -> Timestamp {
    Timestamp {
        seconds: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        // Below 10^9, so it fits.
        nanos: (ns % 1_000_000_000) as i32,
    }
}

/// A realtime in µs as systemd reports it; 0 (never) is Go's zero time.
pub fn from_us(us: u64) -> Timestamp {
    if us == 0 {
        return Timestamp {
            seconds: GO_ZERO_SECONDS,
            nanos: 0,
        };
    }
    from_ns(us.saturating_mul(1000))
}

pub fn now() -> Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}
