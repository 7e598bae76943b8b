//! nomad-systemd: run Nomad tasks as systemd transient units.
//!
//! [`core`] holds everything that knows systemd; [`cli`] and [`plugin`] are the two doors into
//! it and only translate.

pub mod cli;
pub mod core;
pub mod plugin;
