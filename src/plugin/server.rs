//! The gRPC server: every service on one unix socket, plaintext HTTP/2, for the process's life.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::Notify;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use super::base::Base;
use super::driver::Driver;
use super::goplugin::{Broker, Controller, Stdio};
use super::proto::base::base_plugin_server::BasePluginServer;
use super::proto::driver::driver_server::DriverServer;
use super::proto::goplugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use super::state::PluginState;

/// HTTP/2 streams one connection may hold open. Nomad keeps a WaitTask (and often a TaskStats)
/// open per task, plus its Fingerprint and TaskEvents streams; h2's default of 200 would stall
/// a busy node.
const MAX_CONCURRENT_STREAMS: u32 = 65_536;
/// The largest message accepted. go-plugin's client allows up to 2 GiB; a TaskConfig carries the
/// task's whole environment, which can exceed tonic's 4 MiB default.
const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Time for the Shutdown reply to reach the host before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// Serves until the host asks the plugin to shut down (or the server fails). Accepts any
/// number of connections, one after another or at once: after an agent crash the next agent
/// reconnects to this same socket.
pub async fn serve(listener: UnixListener, socket: &Path) -> Result<(), String> {
    let state = Arc::new(PluginState::default());
    let shutdown = Arc::new(Notify::new());
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", ServingStatus::Serving)
        .await;
    let server = Server::builder()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .add_service(health_service)
        .add_service(
            BasePluginServer::new(Base {
                state: state.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            DriverServer::new(Driver { state })
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio))
        .add_service(GrpcBrokerServer::new(Broker))
        .serve_with_incoming(UnixListenerStream::new(listener));
    tracing::info!(socket = %socket.display(), "plugin serving");
    let outcome = tokio::select! {
        served = server => served.map_err(|e| format!("the gRPC server failed: {e}")),
        () = shutdown.notified() => {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            Ok(())
        }
    };
    let _ = std::fs::remove_file(socket);
    outcome
}
