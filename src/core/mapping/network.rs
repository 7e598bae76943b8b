//! `network_namespace` → `NetworkNamespacePath`: the task joins a namespace someone else made
//! (Nomad's client, for a group's bridge or CNI network). Without one it shares the host's.

use crate::core::error::{Error, Result};
use crate::core::property::{Property, Value};
use crate::core::task::TaskSpec;

pub fn properties(spec: &TaskSpec) -> Result<Vec<Property>> {
    let Some(path) = &spec.network_namespace else {
        return Ok(Vec::new());
    };
    let Some(text) = path.to_str().filter(|_| path.is_absolute()) else {
        return Err(Error::invalid(
            "network_namespace",
            format!("'{}' is not an absolute UTF-8 path", path.display()),
        ));
    };
    Ok(vec![Property::new(
        "NetworkNamespacePath",
        Value::Str(text.to_string()),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::test_spec;
    use crate::core::property::find;
    use std::path::PathBuf;

    #[test]
    fn host_networking_sets_nothing() {
        assert!(properties(&test_spec()).unwrap().is_empty());
    }

    #[test]
    fn a_group_namespace_is_joined_by_path() {
        let mut spec = test_spec();
        spec.network_namespace = Some(PathBuf::from("/var/run/netns/a1"));
        let props = properties(&spec).unwrap();
        assert!(matches!(
            find(&props, "NetworkNamespacePath"),
            Some(Value::Str(p)) if p == "/var/run/netns/a1"
        ));
        assert_eq!(
            find(&props, "NetworkNamespacePath").unwrap().signature(),
            "s"
        );
    }

    #[test]
    fn a_relative_path_is_refused() {
        let mut spec = test_spec();
        spec.network_namespace = Some(PathBuf::from("netns/a1"));
        assert!(properties(&spec).is_err());
    }
}
