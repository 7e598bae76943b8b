//! The driver's health as Nomad schedules by it: a fingerprint now and every interval after.
//!
//! HEALTHY when systemd answers on the configured bus; UNDETECTED when the plugin is disabled
//! or there is no systemd to talk to (the node is then not eligible for `driver = "systemd"`);
//! UNHEALTHY when systemd is there but misbehaves, or the host is one the driver does not
//! support ([`host_check::health`], the verdict `nomad-systemd doctor` shows too), with a
//! description naming the reason and what to change, rather than failing tasks later. The
//! attributes are sent whatever the health, so an operator sees the version that was judged. The attributes become node attributes
//! (`driver.systemd.version`, …) that jobs can constrain on.
//!
//! The description of a healthy driver is Nomad's own `Healthy` (`drivers.DriverHealthy`),
//! which its exec driver sends too. `err` (Nomad 1.12+) stays empty: a client reads a set
//! `err` as a broken fingerprint, and every state this plugin can find is told by the health
//! and its description instead, as older clients understand them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::base::DRIVER_NAME;
use super::proto::driver::{FingerprintResponse, fingerprint_response::HealthState};
use super::proto::structs::{Attribute, attribute::Value};
use super::state::PluginState;
use crate::core::host_check::{self, Health, HostFacts};
use crate::core::{Bus, Error, HostInfo};

/// Nomad's description of a healthy driver (`drivers.DriverHealthy`).
pub const HEALTHY: &str = "Healthy";

/// How often a fingerprint is sent after the first.
pub const INTERVAL: Duration = Duration::from_secs(30);

/// One fingerprint of the driver as it is now.
pub async fn fingerprint(state: &Arc<PluginState>) -> FingerprintResponse {
    let Some(settings) = state.settings() else {
        return health(
            HealthState::Undetected,
            "the plugin has not been configured by the Nomad client yet",
        );
    };
    if !settings.config.enabled {
        return health(
            HealthState::Undetected,
            "disabled in the plugin config (enabled = false)",
        );
    }
    let bus = settings.config.bus.name();
    let probe = match state.connect(&settings).await {
        Ok(engine) => engine.host_info().await,
        Err(e) => Err(e),
    };
    match probe {
        Ok(info) => {
            let (health, description) = verdict(settings.config.bus, &info);
            FingerprintResponse {
                attributes: attributes(&info, bus),
                health: health as i32,
                health_description: description,
                err: String::new(),
            }
        }
        Err(e) => {
            state.disconnect().await;
            let health_state = match e {
                Error::Unreachable { .. } => HealthState::Undetected,
                _ => HealthState::Unhealthy,
            };
            health(health_state, &e.to_string())
        }
    }
}

/// The health of a host whose manager answered, by [`host_check`]'s verdict on what the
/// probe saw: its version and cgroup mode.
fn verdict(bus: Bus, info: &HostInfo) -> (HealthState, String) {
    let facts = HostFacts::from_info(bus, info);
    match host_check::health(&host_check::findings(&facts)) {
        Health::Healthy => (HealthState::Healthy, HEALTHY.to_string()),
        Health::Unhealthy(reason) => (HealthState::Unhealthy, reason),
        Health::Undetected(reason) => (HealthState::Undetected, reason),
    }
}

fn health(state: HealthState, description: &str) -> FingerprintResponse {
    FingerprintResponse {
        attributes: HashMap::new(),
        health: state as i32,
        health_description: description.to_string(),
        err: String::new(),
    }
}

fn attributes(info: &HostInfo, bus: &str) -> HashMap<String, Attribute> {
    let key = |name: &str| format!("driver.{DRIVER_NAME}.{name}");
    let string = |s: &str| Attribute {
        value: Some(Value::StringVal(s.to_string())),
        unit: String::new(),
    };
    let mut attrs = HashMap::from([
        (key("version_full"), string(&info.systemd_version)),
        (key("cgroup"), string(info.cgroup.name())),
        (key("bus"), string(bus)),
        (key("plugin_version"), string(env!("CARGO_PKG_VERSION"))),
    ]);
    if let Some(major) = info.systemd_major() {
        attrs.insert(
            key("version"),
            Attribute {
                value: Some(Value::IntVal(i64::from(major))),
                unit: String::new(),
            },
        );
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::host::CgroupMode;

    fn info(version: &str, cgroup: CgroupMode) -> HostInfo {
        HostInfo {
            systemd_version: version.into(),
            cgroup,
        }
    }

    #[test]
    fn an_old_systemd_is_unhealthy_with_the_reason_and_the_fix() {
        let (state, description) = verdict(Bus::System, &info("239-78.el8", CgroupMode::V1));
        assert_eq!(state, HealthState::Unhealthy);
        assert!(
            description.contains("systemd 239 is older than 247")
                && description.contains("upgrade"),
            "{description}"
        );
    }

    #[test]
    fn supported_hosts_are_healthy_on_every_cgroup_mode() {
        for mode in [CgroupMode::V2, CgroupMode::Hybrid, CgroupMode::V1] {
            for bus in [Bus::System, Bus::User] {
                let (state, description) = verdict(bus, &info("247.3-7+deb11u6", mode));
                assert_eq!(state, HealthState::Healthy, "{mode:?} {bus:?}");
                assert_eq!(description, HEALTHY);
            }
        }
    }
}
