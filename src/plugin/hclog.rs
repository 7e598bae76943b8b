//! Logging the way a go-plugin host reads it: one hclog JSON object per line on stderr.
//!
//! go-plugin parses every stderr line that is a JSON object as an hclog entry and asserts that
//! `@level`, `@message` and `@timestamp` are strings — anything else panics the Nomad agent —
//! and accepts a timestamp only with exactly six fractional digits. So every value written
//! here is a string, the timestamp is RFC 3339 in microseconds, and the level is one of
//! `trace|debug|info|warn|error`. Writes whose reader has gone (the agent crashed) are dropped:
//! a plugin must outlive its agent.

use std::fmt::Debug;
use std::io::Write;
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The `@module` of every line; go-plugin prefixes it with the agent's own logger name.
const MODULE: &str = "nomad-systemd";

/// A layer writing hclog JSON lines to stderr.
pub struct HclogLayer;

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_line(event.metadata().level(), SystemTime::now(), |visitor| {
            event.record(visitor)
        });
        // A closed or full stderr must not take the plugin down: the line is lost, nothing else.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// One hclog line (with its newline) for an event whose fields `record` visits.
fn format_line(level: &Level, at: SystemTime, record: impl FnOnce(&mut Fields)) -> String {
    let mut fields = Fields(Map::new());
    record(&mut fields);
    let mut entry = fields.0;
    let message = match entry.remove("message") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    entry.insert("@level".into(), Value::String(level_name(level).into()));
    entry.insert("@message".into(), Value::String(message));
    entry.insert("@module".into(), Value::String(MODULE.into()));
    entry.insert(
        "@timestamp".into(),
        Value::String(humantime::format_rfc3339_micros(at).to_string()),
    );
    let mut line = Value::Object(entry).to_string();
    line.push('\n');
    line
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        _ => "error",
    }
}

/// Collects an event's fields as JSON strings.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn line(level: &Level, pairs: &[(&str, &str)]) -> Map<String, Value> {
        let at = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let text = format_line(level, at, |f| {
            for (k, v) in pairs {
                f.0.insert((*k).into(), Value::String((*v).into()));
            }
        });
        assert!(text.ends_with('\n') && !text[..text.len() - 1].contains('\n'));
        match serde_json::from_str(&text).unwrap() {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn reserved_keys_are_strings_with_a_microsecond_timestamp() {
        let m = line(
            &Level::WARN,
            &[("message", "bus lost"), ("unit", "a.service")],
        );
        assert_eq!(m["@level"], "warn");
        assert_eq!(m["@message"], "bus lost");
        assert_eq!(m["@module"], "nomad-systemd");
        assert_eq!(m["@timestamp"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(m["unit"], "a.service");
        assert!(!m.contains_key("message"));
    }

    #[test]
    fn levels_are_the_five_hclog_accepts() {
        for (level, name) in [
            (Level::TRACE, "trace"),
            (Level::DEBUG, "debug"),
            (Level::INFO, "info"),
            (Level::WARN, "warn"),
            (Level::ERROR, "error"),
        ] {
            assert_eq!(line(&level, &[])["@level"], name);
        }
    }

    #[test]
    fn an_event_without_message_still_has_a_string_message() {
        assert_eq!(line(&Level::INFO, &[("n", "1")])["@message"], "");
    }
}
