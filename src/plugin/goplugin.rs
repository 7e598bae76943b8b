//! go-plugin's own services, which its host opens on every connection beside Nomad's.
//!
//! - `GRPCController/Shutdown`: the host asks us to exit (it sends SIGKILL after 2 s).
//! - `GRPCStdio/StreamStdio`: would carry our stdout/stderr; Nomad discards it, so the stream
//!   stays open and silent (we never write to stdout after the handshake anyway).
//! - `GRPCBroker/StartStream`: brokers extra connections; Nomad's driver protocol never does,
//!   so the stream stays open and silent.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::Notify;
use tonic::{Request, Response, Status, Streaming};

use super::proto::goplugin::{
    self as pb, grpc_broker_server::GrpcBroker, grpc_controller_server::GrpcController,
    grpc_stdio_server::GrpcStdio,
};

type Silent<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn silent<T: Send + 'static>() -> Silent<T> {
    Box::pin(futures_util::stream::pending())
}

/// Notifies `shutdown` when the host asks the plugin to exit.
pub struct Controller {
    pub shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        tracing::info!("the Nomad client asked the plugin to shut down");
        self.shutdown.notify_one();
        Ok(Response::new(pb::Empty {}))
    }
}

pub struct Stdio;

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = Silent<pb::StdioData>;

    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(silent()))
    }
}

pub struct Broker;

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = Silent<pb::ConnInfo>;

    async fn start_stream(
        &self,
        _: Request<Streaming<pb::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Ok(Response::new(silent()))
    }
}
