//! Reading configuration values as Nomad sends them: cty values encoded as msgpack. The
//! plugin decodes Nomad's configs with it; `run -f` encodes a task file's values the same way
//! and decodes them here too.
//!
//! Nomad decodes a job's `config` block (and the agent's `plugin { config {} }` block) with the
//! schema we return, then encodes the result with go-cty's msgpack encoder. Facts this reader
//! relies on: every attribute of the schema is present, `nil` when not given; numbers come in
//! any msgpack int width, as float64, or as a string of decimal digits when they are neither;
//! absent blocks are `nil`, absent block lists are empty arrays. Unknown keys are ignored, as
//! Nomad's Go drivers ignore them.

mod bounds;

use std::fmt;

use rmpv::Value;

pub use bounds::{MAX_BYTES, MAX_DEPTH, MAX_VALUES};

/// A configuration value that cannot be used, with where it is (`logging.driver`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "`{}`: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

type Result<T> = std::result::Result<T, ConfigError>;

/// A decoded cty object (a block or a whole config); keys are attribute names.
#[derive(Debug, Clone, Default)]
pub struct Object {
    /// Dotted path of this object, for error messages; empty at the top.
    path: String,
    fields: Vec<(String, Value)>,
}

impl Object {
    /// Decodes a whole config. Empty input (no config block at all) is an empty object. A
    /// config larger, deeper or with more values than the bounds in [`bounds`] allow is
    /// refused before anything is decoded, so no input costs more than a bounded amount of
    /// stack and memory.
    pub fn decode(bytes: &[u8]) -> Result<Object> {
        if bytes.is_empty() {
            return Ok(Object::default());
        }
        bounds::check(bytes).map_err(|reason| ConfigError {
            path: String::new(),
            reason: format!("the config {reason}"),
        })?;
        let mut reader = bytes;
        let value = rmpv::decode::read_value_with_max_depth(&mut reader, 4 * MAX_DEPTH + 8)
            .map_err(|e| ConfigError {
                path: String::new(),
                reason: format!("not a msgpack-encoded config ({e})"),
            })?;
        if !reader.is_empty() {
            return Err(ConfigError {
                path: String::new(),
                reason: format!("{} unexpected bytes after the config", reader.len()),
            });
        }
        match unwrap_dynamic(value) {
            Value::Nil => Ok(Object::default()),
            v => Object::from_value(String::new(), v),
        }
    }

    fn from_value(path: String, value: Value) -> Result<Object> {
        let Value::Map(entries) = value else {
            return Err(ConfigError {
                reason: format!("expected a block or object, got {}", kind(&value)),
                path,
            });
        };
        let mut fields = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Value::String(k) = k else {
                return Err(ConfigError {
                    reason: format!("a key is {}, not a string", kind(&k)),
                    path,
                });
            };
            let Some(k) = k.into_str() else {
                return Err(ConfigError {
                    reason: "a key is not valid UTF-8".into(),
                    path,
                });
            };
            fields.push((k, unwrap_dynamic(v)));
        }
        Ok(Object { path, fields })
    }

    /// The value of `key`; `None` when absent or null.
    fn get(&self, key: &str) -> Option<(&Value, String)> {
        let (_, v) = self.fields.iter().find(|(k, _)| k == key)?;
        (!v.is_nil()).then(|| (v, self.child_path(key)))
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<String>> {
        self.get(key).map(|(v, p)| as_string(v, &p)).transpose()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|(v, p)| match v {
                Value::Boolean(b) => Ok(*b),
                other => Err(mismatch(&p, "true or false", other)),
            })
            .transpose()
    }

    /// A whole number, however cty encoded it (any int width, an integral float, or digits).
    pub fn integer(&self, key: &str) -> Result<Option<i64>> {
        self.get(key).map(|(v, p)| as_integer(v, &p)).transpose()
    }

    /// A list (or set) of strings; `None` when absent or null.
    pub fn get_strings(&self, key: &str) -> Result<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.strings(key).map(Some),
        }
    }

    /// A list (or set) of strings; absent is empty.
    pub fn strings(&self, key: &str) -> Result<Vec<String>> {
        let Some((v, p)) = self.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = v else {
            return Err(mismatch(&p, "a list of strings", v));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| as_string(item, &format!("{p}[{i}]")))
            .collect()
    }

    /// A map of strings (`map(string)`), in key order; absent is empty.
    pub fn string_map(&self, key: &str) -> Result<Vec<(String, String)>> {
        let Some((v, p)) = self.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Map(entries) = v else {
            return Err(mismatch(&p, "a map of strings", v));
        };
        let mut pairs = entries
            .iter()
            .map(|(k, v)| {
                let k = as_string(k, &p)?;
                let value = as_string(v, &format!("{p}.{k}"))?;
                Ok((k, value))
            })
            .collect::<Result<Vec<_>>>()?;
        pairs.sort();
        Ok(pairs)
    }

    /// A nested block; `None` when absent.
    pub fn block(&self, key: &str) -> Result<Option<Object>> {
        self.get(key)
            .map(|(v, p)| Object::from_value(p, v.clone()))
            .transpose()
    }
}

/// Nomad never sends cty's dynamic wrapper (`[type JSON as bin, value]`), but a Go harness
/// encoding against `any` would; the value is what matters.
fn unwrap_dynamic(value: Value) -> Value {
    match value {
        Value::Array(mut pair) if pair.len() == 2 && matches!(pair[0], Value::Binary(_)) => {
            pair.pop().unwrap_or(Value::Nil)
        }
        v => v,
    }
}

fn as_string(v: &Value, path: &str) -> Result<String> {
    match v {
        Value::String(s) => s.as_str().map(str::to_string).ok_or_else(|| ConfigError {
            path: path.to_string(),
            reason: "is not valid UTF-8".into(),
        }),
        other => Err(mismatch(path, "a string", other)),
    }
}

fn as_integer(v: &Value, path: &str) -> Result<i64> {
    let not_whole = |shown: String| ConfigError {
        path: path.to_string(),
        reason: format!("expected a whole number that fits 64 bits, got {shown}"),
    };
    match v {
        Value::Integer(n) => n.as_i64().ok_or_else(|| not_whole(n.to_string())),
        Value::F32(f) => float_to_integer(f64::from(*f)).ok_or_else(|| not_whole(f.to_string())),
        Value::F64(f) => float_to_integer(*f).ok_or_else(|| not_whole(f.to_string())),
        Value::String(s) => {
            let text = s.as_str().unwrap_or_default();
            text.parse::<i64>()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(float_to_integer))
                .ok_or_else(|| not_whole(format!("\"{text}\"")))
        }
        other => Err(mismatch(path, "a number", other)),
    }
}

fn float_to_integer(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or above it does not fit.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

fn mismatch(path: &str, expected: &str, got: &Value) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        reason: format!("expected {expected}, got {}", kind(got)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "null",
        Value::Boolean(_) => "a bool",
        Value::Integer(_) | Value::F32(_) | Value::F64(_) => "a number",
        Value::String(_) => "a string",
        Value::Binary(_) => "binary data",
        Value::Array(_) => "a list",
        Value::Map(_) => "a map",
        Value::Ext(..) => "an unknown value",
    }
}

/// A JSON value as the msgpack Nomad sends for a decoded HCL block: what a task file or a
/// plugin config read from a file becomes before [`Object::decode`].
pub fn msgpack_from_json(value: &serde_json::Value) -> Vec<u8> {
    use serde_json::Value;
    fn convert(value: &Value) -> rmpv::Value {
        match value {
            Value::Null => rmpv::Value::Nil,
            Value::Bool(b) => rmpv::Value::Boolean(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => rmpv::Value::from(i),
                (_, Some(u), _) => rmpv::Value::from(u),
                (_, _, Some(f)) => rmpv::Value::F64(f),
                _ => rmpv::Value::from(n.to_string()),
            },
            Value::String(s) => rmpv::Value::from(s.as_str()),
            Value::Array(items) => rmpv::Value::Array(items.iter().map(convert).collect()),
            Value::Object(map) => rmpv::Value::Map(
                map.iter()
                    .map(|(k, v)| (rmpv::Value::from(k.as_str()), convert(v)))
                    .collect(),
            ),
        }
    }
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &convert(value));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `{"args": ["10", "x"], "command": "/bin/sleep", "env": {"A": "1"}, "n": 300}` plus nils,
    /// laid out as go-cty encodes it.
    fn sample() -> Vec<u8> {
        let mut b = vec![0x87];
        b.extend(b"\xa6absent\xc0");
        b.extend(b"\xa4args\x92\xa210\xa1x");
        b.extend(b"\xa3blk\xc0");
        b.extend(b"\xa7command\xaa/bin/sleep");
        b.extend(b"\xa3env\x81\xa1A\xa11");
        b.extend(b"\xa1n\xcd\x01\x2c");
        b.extend(b"\xa3neg\xd0\xd8");
        b
    }

    #[test]
    fn reads_the_cty_layout_nomad_sends() {
        let o = Object::decode(&sample()).unwrap();
        assert_eq!(o.string("command").unwrap().as_deref(), Some("/bin/sleep"));
        assert_eq!(o.strings("args").unwrap(), ["10", "x"]);
        assert_eq!(o.integer("n").unwrap(), Some(300));
        assert_eq!(o.integer("neg").unwrap(), Some(-40));
        assert_eq!(o.string("absent").unwrap(), None);
        assert!(o.block("blk").unwrap().is_none());
        assert!(o.strings("absent").unwrap().is_empty());
        assert_eq!(o.string("missing-key").unwrap(), None);
    }

    #[test]
    fn numbers_arrive_in_every_width_as_floats_and_as_strings() {
        for (bytes, want) in [
            ("7f", 127),
            ("cc 80", 128),
            ("cd 012c", 300),
            ("ce 00010000", 65536),
            ("cf 0000000100000000", 1 << 32),
            ("d0 df", -33),
            ("d1 ff00", -256),
            ("d2 ffff0000", -65536),
            ("d3 ffffffff00000000", -(1 << 32)),
            ("e0", -32),
            ("cb 4008000000000000", 3),
            ("ca 40400000", 3),
            ("a2 3432", 42),
            ("a4 342e3030", 4),
        ] {
            let mut b = hex("81 a1 6e");
            b.extend(hex(bytes));
            let o = Object::decode(&b).unwrap();
            assert_eq!(o.integer("n").unwrap(), Some(want), "{bytes}");
        }
    }

    #[test]
    fn numbers_that_are_not_whole_or_too_big_are_errors_naming_the_key() {
        for bytes in [
            "cb 3ff8000000000000",
            "a3 302e31",
            "be 313233343536373839303132333435363738393031323334353637383930",
            "cf ffffffffffffffff",
        ] {
            let mut b = hex("81 a1 6e");
            b.extend(hex(bytes));
            let e = Object::decode(&b).unwrap().integer("n").unwrap_err();
            assert_eq!(e.path, "n", "{bytes}");
            assert!(e.reason.contains("whole number"), "{e}");
        }
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let o = Object::decode(&hex("82 a1 61 05 a1 62 92 a1 78 01")).unwrap();
        assert_eq!(
            o.string("a").unwrap_err().to_string(),
            "`a`: expected a string, got a number"
        );
        assert_eq!(
            o.strings("b").unwrap_err().to_string(),
            "`b[1]`: expected a string, got a number"
        );
        assert!(o.bool("a").is_err());
        assert!(o.block("a").is_err());
    }

    #[test]
    fn nested_blocks_carry_their_path() {
        let o = Object::decode(&hex("81 a7 6c6f6767696e67 81 a6 647269766572 07")).unwrap();
        let logging = o.block("logging").unwrap().unwrap();
        assert_eq!(logging.string("driver").unwrap_err().path, "logging.driver");
    }

    #[test]
    fn garbage_and_trailing_bytes_are_rejected() {
        assert!(Object::decode(&hex("c1 ff")).is_err());
        assert!(Object::decode(&hex("85 a7")).is_err());
        assert!(Object::decode(&hex("81 a1")).is_err());
        assert!(Object::decode(&hex("80 00")).is_err());
        assert!(Object::decode(&hex("05")).is_err());
        assert!(Object::decode(&hex("81 01 02")).is_err());
        assert!(
            Object::decode(&hex("81 a1 61 d4 00 00"))
                .unwrap()
                .string("a")
                .is_err()
        );
    }

    #[test]
    fn empty_input_and_nil_are_an_empty_config() {
        assert!(Object::decode(&[]).unwrap().fields.is_empty());
        assert!(Object::decode(&hex("c0")).unwrap().fields.is_empty());
    }

    #[test]
    fn the_dynamic_wrapper_is_unwrapped() {
        let b = hex("81 a1 61 92 c4 08 22737472696e6722 a2 6869");
        assert_eq!(
            Object::decode(&b).unwrap().string("a").unwrap().as_deref(),
            Some("hi")
        );
    }
}
