//! `env` → `Environment`.
//!
//! systemd refuses the whole unit when one variable is malformed, so names and values are
//! checked here first. The rule (see README, "Environment"):
//! - a name outside `[A-Za-z_][A-Za-z0-9_]*` is an error naming the variable, except for
//!   `NOMAD_*` names, which Nomad generates itself (for example `NOMAD_META_<key>` keeps a meta
//!   key's dots, next to a cleaned copy with underscores): those are dropped with a warning;
//! - a value must not contain control characters other than tab and newline.

use std::collections::BTreeMap;

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};

/// The `Environment` property and a warning for each variable that was dropped.
pub fn properties(env: &BTreeMap<String, String>) -> Result<(Vec<Property>, Vec<String>)> {
    let mut assignments = Vec::with_capacity(env.len());
    let mut warnings = Vec::new();
    for (name, value) in env {
        if !is_valid_name(name) {
            if name.starts_with("NOMAD_") {
                warnings.push(format!(
                    "environment variable '{}' dropped: systemd accepts only names of letters, \
                     digits and '_'",
                    name.escape_debug()
                ));
                continue;
            }
            return Err(Error::invalid(
                "env",
                format!(
                    "variable name '{}' is not accepted by systemd (use letters, digits and '_', \
                     not starting with a digit)",
                    name.escape_debug()
                ),
            ));
        }
        if let Some(c) = value
            .chars()
            .find(|c| c.is_control() && *c != '\t' && *c != '\n')
        {
            return Err(Error::invalid(
                "env",
                format!(
                    "value of '{name}' contains the control character {:?}, which systemd refuses",
                    c
                ),
            ));
        }
        assignments.push(format!("{name}={value}"));
    }
    let props = vec![Property::new("Environment", Value::Strings(assignments))];
    Ok((props, warnings))
}

/// systemd's rule for environment variable names (`env_name_is_valid`).
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn valid_variables_become_assignments() {
        let (props, warnings) = properties(&env(&[("A", "1"), ("_B2", "x=y $Z\tq")])).unwrap();
        assert!(warnings.is_empty());
        match &props[0].value {
            Value::Strings(a) => assert_eq!(a, &["A=1", "_B2=x=y $Z\tq"]),
            v => panic!("{v:?}"),
        }
        assert_eq!(props[0].value.signature(), "as");
    }

    #[test]
    fn invalid_user_names_are_errors_naming_the_variable() {
        for bad in ["A-B", "1X", "a.b", "", "A B", "É"] {
            let err = properties(&env(&[(bad, "v")])).unwrap_err().to_string();
            assert!(err.contains("not accepted by systemd"), "{bad}: {err}");
        }
    }

    #[test]
    fn invalid_nomad_generated_names_are_dropped_with_a_warning() {
        let (props, warnings) =
            properties(&env(&[("NOMAD_META_a.b", "1"), ("NOMAD_META_a_b", "1")])).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("NOMAD_META_a.b"));
        match &props[0].value {
            Value::Strings(a) => assert_eq!(a, &["NOMAD_META_a_b=1"]),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn control_characters_in_values_are_refused() {
        assert!(properties(&env(&[("A", "x\u{1b}[31m")])).is_err());
        assert!(properties(&env(&[("A", "line1\nline2")])).is_ok());
    }
}
