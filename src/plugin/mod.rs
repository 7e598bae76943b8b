//! The Nomad task-driver plugin (go-plugin handshake, gRPC services). It translates Nomad's
//! messages into [`crate::core`] calls and knows nothing of systemd. Not built yet: see the
//! plugin issue.

pub mod proto;
