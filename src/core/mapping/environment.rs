//! `env` → `Environment`, and the variables only the environment loader can carry.
//!
//! The rule (see README, "Environment") is Nomad's exec driver's: any variable the kernel can
//! pass reaches the task exactly. Refused, naming the variable: an empty name, a name with `=`,
//! a NUL byte in a name or value. The rest is split: what systemd's `Environment=` accepts
//! (names of letters, digits and `_` not starting with a digit; values without control
//! characters other than tab and newline) goes there; every other variable (`app.name`,
//! `my-var`, `NOMAD_META_a.b`, a value with CR) is handed to the unit's command through
//! [`crate::core::env_loader`].

use std::collections::BTreeMap;

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};

/// A task's environment as systemd and the loader carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// `NAME=VALUE` for `Environment=`.
    pub systemd: Vec<String>,
    /// `NAME=VALUE` for the loader; empty when the task needs none.
    pub loader: Vec<String>,
}

/// Checks every variable against what the kernel can carry and splits them.
pub fn split(env: &BTreeMap<String, String>) -> Result<Split> {
    let mut out = Split::default();
    for (name, value) in env {
        let reason = if name.is_empty() {
            Some("an empty name")
        } else if name.contains('=') {
            Some("'=' in its name")
        } else if name.contains('\0') || value.contains('\0') {
            Some("a NUL byte")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::invalid(
                "env",
                format!(
                    "variable '{}' has {reason}, which no process environment can hold",
                    name.escape_debug()
                ),
            ));
        }
        let assignment = format!("{name}={value}");
        if is_valid_name(name) && is_valid_value(value) {
            out.systemd.push(assignment);
        } else {
            out.loader.push(assignment);
        }
    }
    Ok(out)
}

/// The `Environment` property of the variables systemd carries, and the loader's share.
pub fn properties(env: &BTreeMap<String, String>) -> Result<(Vec<Property>, Vec<String>)> {
    let split = split(env)?;
    Ok((
        vec![Property::new("Environment", Value::Strings(split.systemd))],
        split.loader,
    ))
}

/// For an installed unit's drop-in, which has no loader: the `Environment` property and a
/// warning for each variable systemd cannot carry, which is left out.
pub fn dropin_properties(env: &BTreeMap<String, String>) -> Result<(Vec<Property>, Vec<String>)> {
    let split = split(env)?;
    let warnings = split
        .loader
        .iter()
        .map(|a| {
            let name = a.split('=').next().unwrap_or_default();
            format!(
                "environment variable '{}' left out of the installed unit: systemd's \
                 Environment= takes only names of letters, digits and '_' and values without \
                 control characters",
                name.escape_debug()
            )
        })
        .collect();
    Ok((
        vec![Property::new("Environment", Value::Strings(split.systemd))],
        warnings,
    ))
}

/// systemd's rule for values in `Environment=`: no control character but tab and newline.
pub fn is_valid_value(value: &str) -> bool {
    !value
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
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
    fn variables_systemd_takes_go_to_environment_the_rest_to_the_loader() {
        let s = split(&env(&[
            ("A", "1"),
            ("_B2", "x=y $Z\tq %n"),
            ("app.name", "x"),
            ("my-var", "y"),
            ("C", "a\r\nb"),
            ("1X", "z"),
            ("É", "e"),
        ]))
        .unwrap();
        assert_eq!(s.systemd, ["A=1", "_B2=x=y $Z\tq %n"]);
        assert_eq!(
            s.loader,
            ["1X=z", "C=a\r\nb", "app.name=x", "my-var=y", "É=e"]
        );
        let (props, loader) = properties(&env(&[("A", "1")])).unwrap();
        assert!(loader.is_empty());
        assert_eq!(props[0].value.signature(), "as");
    }

    #[test]
    fn only_what_the_kernel_cannot_carry_is_refused_naming_env() {
        for (name, value) in [("", "v"), ("A=B", "v"), ("A\0", "v"), ("A", "x\0y")] {
            let err = split(&env(&[(name, value)])).unwrap_err().to_string();
            assert!(
                err.contains("env") && err.contains("no process environment"),
                "{err}"
            );
        }
    }

    #[test]
    fn an_installed_unit_leaves_out_what_systemd_cannot_carry_with_a_warning() {
        let (props, warnings) =
            dropin_properties(&env(&[("NOMAD_META_a.b", "1"), ("NOMAD_META_a_b", "1")])).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("NOMAD_META_a.b"));
        match &props[0].value {
            Value::Strings(a) => assert_eq!(a, &["NOMAD_META_a_b=1"]),
            v => panic!("{v:?}"),
        }
    }
}
