//! What a task runs: `command` (a program, as a transient unit) or `unit` (an installed unit,
//! with `unit_instance` for a template). Exactly one of the two.

use crate::core::cty::{ConfigError, Object};

/// The installed unit a task config names, as written (resolved later with the alloc id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitConfig {
    /// `name.type`, or a template `name@.type`.
    pub name: String,
    /// The template's instance string; `None` takes the allocation id.
    pub instance: Option<String>,
}

/// Reads `command` and `unit`/`unit_instance`: `(command, unit)`, exactly one non-empty.
pub fn decode(o: &Object) -> Result<(String, Option<UnitConfig>), ConfigError> {
    let command = o.string("command")?.filter(|c| !c.is_empty());
    let unit = o.string("unit")?.filter(|u| !u.is_empty());
    let instance = o.string("unit_instance")?.filter(|i| !i.is_empty());
    let error = |path: &str, reason: &str| ConfigError {
        path: path.into(),
        reason: reason.into(),
    };
    match (command, unit) {
        (Some(_), Some(_)) => Err(error(
            "unit",
            "cannot be combined with command: a task runs either a program or an installed unit",
        )),
        (None, None) => Err(error(
            "command",
            "is required: the program to run (or set unit to run an installed unit)",
        )),
        (Some(command), None) => match instance {
            Some(_) => Err(error("unit_instance", "applies only together with unit")),
            None => Ok((command, None)),
        },
        (None, Some(name)) => {
            for option in ["args", "working_dir", "group"] {
                let set = match option {
                    "args" => !o.strings(option)?.is_empty(),
                    _ => o.string(option)?.is_some_and(|s| !s.is_empty()),
                };
                if set {
                    return Err(error(
                        option,
                        "does not apply to an installed unit (its unit file decides it)",
                    ));
                }
            }
            Ok((String::new(), Some(UnitConfig { name, instance })))
        }
    }
}
