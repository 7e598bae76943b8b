//! The Nomad task-driver plugin: go-plugin's handshake and Nomad's gRPC services, translating
//! Nomad's messages into [`crate::core`] calls. Nothing here knows what a unit property is.
//!
//! Nomad starts the binary from its `plugin_dir` with no arguments and a magic cookie in the
//! environment; `nomad-systemd plugin` is the same entry point by name.

mod base;
mod config;
mod driver;
mod exec;
mod fingerprint;
mod goplugin;
mod handle;
mod handshake;
mod hclog;
mod hclspec;
mod id_ranges;
mod memory;
mod mounts;
mod partition;
mod policy;
pub mod proto;
pub mod rehearsal;
mod server;
mod state;
mod stats;
mod stats_hub;
mod status;
mod task_config;
mod timestamp;
mod translate;

use std::io::Write;
use std::process::ExitCode;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use handshake::launched_by_nomad;

/// Which log lines reach Nomad's agent log unless `NOMAD_SYSTEMD_LOG` says otherwise (an
/// `EnvFilter` directive). The agent drops what is below its own level.
const DEFAULT_LOG_FILTER: &str = "warn,nomad_systemd=debug";

/// Runs the plugin until Nomad shuts it down. Exit status 1 (with a message on stderr) when it
/// was not launched by Nomad or cannot serve.
pub fn main() -> ExitCode {
    if let Err(message) = handshake::check_environment() {
        let _ = writeln!(std::io::stderr(), "nomad-systemd plugin: {message}");
        return ExitCode::FAILURE;
    }
    ignore_host_signals();
    let filter = tracing_subscriber::EnvFilter::try_from_env("NOMAD_SYSTEMD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::registry()
        .with(filter)
        .with(hclog::HclogLayer)
        .init();
    // A panic ends only the request it happened in; say so in the agent's log, as hclog.
    std::panic::set_hook(Box::new(
        |info| tracing::error!(panic = %info, "internal error"),
    ));
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| runtime.block_on(run()));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let (listener, socket) = handshake::listen()?;
    handshake::announce(&socket)?;
    server::serve(listener, &socket).await
}

/// Like a Go plugin: Ctrl-C at the agent's terminal reaches the whole process group but must
/// not kill plugins (the agent stops them itself), and a vanished agent must not kill us by
/// SIGPIPE when we log.
fn ignore_host_signals() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for s in [Signal::SIGINT, Signal::SIGPIPE] {
        // SAFETY: SIG_IGN installs no handler code; called before any thread is started.
        let _ = unsafe { signal(s, SigHandler::SigIgn) };
    }
}
