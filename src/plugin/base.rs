//! Nomad's BasePlugin service: who we are, the config schema, and the config itself.
//!
//! The agent launches the plugin twice just to read these and validate its config (with no
//! `nomad_config`), on every start and while tasks run, so those calls have no side effects:
//! only the launch that carries Nomad's settings configures the plugin.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::config::{self, PluginConfig};
use super::proto::base::{self as pb, base_plugin_server::BasePlugin};
use super::state::{Compute, PluginState, Settings};
use super::status;

/// The driver name jobs use: `driver = "systemd"`.
pub const DRIVER_NAME: &str = "systemd";
/// The only plugin API version Nomad 1.x drivers speak.
pub const API_VERSION: &str = "v0.1.0";

pub struct Base {
    pub state: Arc<PluginState>,
}

#[tonic::async_trait]
impl BasePlugin for Base {
    async fn plugin_info(
        &self,
        _: Request<pb::PluginInfoRequest>,
    ) -> Result<Response<pb::PluginInfoResponse>, Status> {
        Ok(Response::new(pb::PluginInfoResponse {
            r#type: pb::PluginType::Driver as i32,
            plugin_api_versions: vec![API_VERSION.to_string()],
            plugin_version: env!("CARGO_PKG_VERSION").to_string(),
            name: DRIVER_NAME.to_string(),
        }))
    }

    async fn config_schema(
        &self,
        _: Request<pb::ConfigSchemaRequest>,
    ) -> Result<Response<pb::ConfigSchemaResponse>, Status> {
        Ok(Response::new(pb::ConfigSchemaResponse {
            spec: Some(config::schema()),
        }))
    }

    async fn set_config(
        &self,
        request: Request<pb::SetConfigRequest>,
    ) -> Result<Response<pb::SetConfigResponse>, Status> {
        let request = request.into_inner();
        let config = PluginConfig::decode(&request.msgpack_config)
            .map_err(|e| status::from_config("plugin config", &e))?;
        let Some(driver) = request.nomad_config.and_then(|n| n.driver) else {
            tracing::debug!("plugin config is valid (validation only)");
            return Ok(Response::new(pb::SetConfigResponse {}));
        };
        let compute = driver.topology.as_ref().map(compute).unwrap_or_default();
        tracing::info!(
            bus = config.bus.name(),
            slice = config.engine_options().slice,
            total_mhz = compute.total_mhz,
            cores = compute.cores,
            "configured"
        );
        self.state.configure(Settings { config, compute }).await;
        Ok(Response::new(pb::SetConfigResponse {}))
    }
}

/// The node's CPU for Nomad's "ticks", as Nomad's own drivers get it (the topology's
/// `Compute()`: `TotalCompute` and `NumCores`): the override if set, else the sum of every
/// detected core's base speed (falling back to max, then guessed speed), cores disabled by
/// the client's `reservable_cores` included, over all cores. Counting only enabled cores
/// would make a task's `percent` and `total_ticks` disagree with what exec reports.
fn compute(topology: &pb::ClientTopology) -> Compute {
    let summed: u64 = topology
        .cores
        .iter()
        .map(|c| {
            [c.base_speed, c.max_speed, c.guess_speed]
                .into_iter()
                .find(|s| *s > 0)
                .unwrap_or(0)
        })
        .sum();
    let total_mhz = if topology.override_total_compute > 0 {
        topology.override_total_compute
    } else {
        summed
    };
    Compute {
        total_mhz,
        cores: u32::try_from(topology.cores.len()).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(base: u64, max: u64, disable: bool) -> pb::ClientTopologyCore {
        pb::ClientTopologyCore {
            base_speed: base,
            max_speed: max,
            disable,
            ..Default::default()
        }
    }

    #[test]
    fn compute_sums_all_cores_with_fallback_speeds_as_nomad_does() {
        let t = pb::ClientTopology {
            cores: vec![
                core(2000, 0, false),
                core(0, 3000, false),
                core(2000, 0, true),
            ],
            ..Default::default()
        };
        assert_eq!(
            compute(&t),
            Compute {
                total_mhz: 7000,
                cores: 3
            }
        );
    }

    #[test]
    fn an_override_wins() {
        let t = pb::ClientTopology {
            cores: vec![core(2000, 0, false)],
            override_total_compute: 1234,
            ..Default::default()
        };
        assert_eq!(compute(&t).total_mhz, 1234);
    }
}
