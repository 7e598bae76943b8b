//! The Rust types and gRPC services generated from `proto/` by `build.rs`.
//!
//! Generated code refers to other packages by relative paths, so the modules nest the way the
//! protobuf packages do; the short aliases below are what the rest of the plugin uses.

#[allow(clippy::all, clippy::pedantic)]
mod generated {
    pub mod hashicorp {
        pub mod nomad {
            pub mod plugins {
                pub mod base {
                    pub mod proto {
                        tonic::include_proto!("hashicorp.nomad.plugins.base.proto");
                    }
                }
                pub mod drivers {
                    pub mod proto {
                        tonic::include_proto!("hashicorp.nomad.plugins.drivers.proto");
                    }
                }
                pub mod shared {
                    pub mod hclspec {
                        tonic::include_proto!("hashicorp.nomad.plugins.shared.hclspec");
                    }
                    pub mod structs {
                        tonic::include_proto!("hashicorp.nomad.plugins.shared.structs");
                    }
                }
            }
        }
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
    pub mod google {
        pub mod rpc {
            tonic::include_proto!("google.rpc");
        }
    }
}

pub use generated::google::rpc;
pub use generated::hashicorp::nomad::plugins::base::proto as base;
pub use generated::hashicorp::nomad::plugins::drivers::proto as driver;
pub use generated::hashicorp::nomad::plugins::shared::hclspec;
pub use generated::hashicorp::nomad::plugins::shared::structs;
pub use generated::plugin as goplugin;
