//! [`Property`] → D-Bus variants for `StartTransientUnit`.

use std::os::fd::AsFd;

use zbus::{Fd, OwnedVariant, Variant};

use crate::core::property::{Property, Value};

/// Converts properties for the wire. File descriptors are duplicated into the message; the
/// originals stay with their owner.
pub fn to_wire(props: &[Property]) -> zbus::Result<Vec<(String, OwnedVariant)>> {
    props
        .iter()
        .map(|p| Ok((p.name.to_string(), to_variant(&p.value).try_into_owned()?)))
        .collect()
}

fn to_variant(value: &Value) -> Variant<'_> {
    match value {
        Value::Bool(b) => Variant::from(*b),
        Value::I32(i) => Variant::from(*i),
        Value::U32(u) => Variant::from(*u),
        Value::U64(u) => Variant::from(*u),
        Value::Str(s) => Variant::from(s.as_str()),
        Value::Strings(v) => Variant::from(v.clone()),
        Value::Bytes(b) => Variant::from(b.clone()),
        Value::ByteStrings(v) => Variant::from(v.clone()),
        Value::Exec(cmds) => Variant::from(
            cmds.iter()
                .map(|c| (c.path.clone(), c.wire_argv(), false))
                .collect::<Vec<_>>(),
        ),
        Value::Binds(binds) => Variant::from(
            binds
                .iter()
                .map(|b| {
                    let flags: u64 = if b.recursive { nix::libc::MS_REC } else { 0 };
                    (
                        b.source.clone(),
                        b.destination.clone(),
                        b.ignore_missing,
                        flags,
                    )
                })
                .collect::<Vec<_>>(),
        ),
        Value::DeviceLimits(limits) => Variant::from(limits.clone()),
        Value::SyscallFilter(allow, names) => Variant::from((*allow, names.clone())),
        Value::Devices(devices) => Variant::from(
            devices
                .iter()
                .map(|d| (d.device.clone(), d.access.clone()))
                .collect::<Vec<_>>(),
        ),
        Value::Fd(fd) => Variant::Fd(Fd::from(fd.as_fd())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mapping::{plan, test_spec};
    use crate::core::stdio::Output;

    /// A task with every sandbox option set, so that each kind of value is on the wire.
    fn sandboxed_spec() -> crate::core::TaskSpec {
        use crate::core::capability::{CapSet, Capabilities};
        use crate::core::mapping::properties;
        use crate::core::sandbox::{Device, Mount};
        let mut spec = test_spec();
        let s = &mut spec.sandbox;
        s.capabilities = Capabilities {
            bounding: Some(CapSet::default_set()),
            ambient: CapSet::parse("x", &["net_bind_service"]).unwrap(),
        };
        s.system_call_filter = vec!["@system-service".into()];
        s.read_only_paths = vec!["/etc".into()];
        s.mounts = vec![Mount {
            host_path: "/srv".into(),
            task_path: "/usr".into(),
            read_only: true,
        }];
        s.devices = vec![Device {
            host_path: "/dev/null".into(),
            task_path: "/dev/zero".into(),
            permissions: "rw".into(),
        }];
        s.properties = vec![
            properties::parse("UMask", "0077").unwrap(),
            properties::parse("Foo:as", "a b").unwrap(),
        ];
        spec
    }

    #[test]
    fn wire_signatures_match_the_declared_ones() {
        for spec in [test_spec(), sandboxed_spec()] {
            check_wire_signatures(&spec);
        }
    }

    fn check_wire_signatures(spec: &crate::core::TaskSpec) {
        let plan = plan(spec, "s.slice")
            .unwrap()
            .with_output(&Output::discard().unwrap());
        for p in &plan.properties {
            let wire = to_variant(&p.value);
            assert_eq!(
                wire.value_signature().to_string(),
                p.value.signature(),
                "{}",
                p.name
            );
        }
        assert_eq!(
            to_wire(&plan.properties).unwrap().len(),
            plan.properties.len()
        );
    }
}
