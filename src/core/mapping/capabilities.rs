//! The task's capability sets → `CapabilityBoundingSet` and `AmbientCapabilities` (`t`
//! bitmasks). No bounding set leaves the service manager's own; no ambient capability sends
//! nothing.

use crate::core::capability::Capabilities;
use crate::core::property::{Property, Value};

pub fn properties(caps: &Capabilities) -> Vec<Property> {
    let mut props = Vec::new();
    if let Some(bounding) = caps.bounding {
        props.push(Property::new(
            "CapabilityBoundingSet",
            Value::U64(bounding.0),
        ));
    }
    if !caps.ambient.is_empty() {
        props.push(Property::new(
            "AmbientCapabilities",
            Value::U64(caps.ambient.0),
        ));
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::capability::CapSet;
    use crate::core::property::find;

    #[test]
    fn sets_become_bitmasks() {
        let caps = Capabilities {
            bounding: Some(CapSet::parse("x", &["chown", "net_bind_service"]).unwrap()),
            ambient: CapSet::parse("x", &["net_bind_service"]).unwrap(),
        };
        let props = properties(&caps);
        assert!(matches!(
            find(&props, "CapabilityBoundingSet"),
            Some(Value::U64(m)) if *m == 1 | 1 << 10
        ));
        assert!(matches!(
            find(&props, "AmbientCapabilities"),
            Some(Value::U64(m)) if *m == 1 << 10
        ));
        assert!(props.iter().all(|p| p.value.signature() == "t"));
    }

    #[test]
    fn an_empty_bounding_set_is_sent_but_no_set_is_not() {
        let none = properties(&Capabilities::default());
        assert!(none.is_empty());
        let empty = properties(&Capabilities {
            bounding: Some(CapSet::default()),
            ambient: CapSet::default(),
        });
        assert!(matches!(
            find(&empty, "CapabilityBoundingSet"),
            Some(Value::U64(0))
        ));
    }
}
