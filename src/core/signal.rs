//! Signals, parsed once from the forms Nomad and operators use: `SIGTERM`, `TERM`, `term`, `15`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::Error;

/// A signal the kernel knows. Displays as its `SIG*` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(nix::sys::signal::Signal);

impl Signal {
    pub const TERM: Signal = Signal(nix::sys::signal::Signal::SIGTERM);
    pub const KILL: Signal = Signal(nix::sys::signal::Signal::SIGKILL);
    pub const INT: Signal = Signal(nix::sys::signal::Signal::SIGINT);

    pub fn number(self) -> i32 {
        self.0 as i32
    }

    pub fn from_number(n: i32) -> Option<Signal> {
        nix::sys::signal::Signal::try_from(n).ok().map(Signal)
    }

    pub fn name(self) -> &'static str {
        self.0.as_str()
    }
}

impl FromStr for Signal {
    type Err = Error;

    fn from_str(s: &str) -> Result<Signal, Error> {
        let t = s.trim();
        let parsed = if let Ok(n) = t.parse::<i32>() {
            Signal::from_number(n)
        } else {
            let upper = t.to_ascii_uppercase();
            let full = if upper.starts_with("SIG") {
                upper
            } else {
                format!("SIG{upper}")
            };
            nix::sys::signal::Signal::from_str(&full).ok().map(Signal)
        };
        parsed.ok_or_else(|| {
            Error::invalid(
                "signal",
                format!("'{s}' is not a signal name or number (try SIGTERM)"),
            )
        })
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Signal, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_common_spelling() {
        for s in ["SIGTERM", "TERM", "term", "15", " SIGTERM "] {
            assert_eq!(s.parse::<Signal>().unwrap(), Signal::TERM, "{s}");
        }
        assert_eq!("SIGUSR1".parse::<Signal>().unwrap().number(), 10);
        assert_eq!(Signal::KILL.to_string(), "SIGKILL");
    }

    #[test]
    fn rejects_unknown_signals() {
        for s in ["SIGNOPE", "", "0", "999", "-1"] {
            assert!(s.parse::<Signal>().is_err(), "{s}");
        }
    }
}
