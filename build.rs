//! Compiles `proto/` into Rust gRPC servers and clients at build time.
//!
//! protox parses the .proto files in Rust, so building needs no system `protoc`.

const PROTOS: &[&str] = &[
    "nomad/base.proto",
    "nomad/driver.proto",
    "nomad/hclspec.proto",
    "nomad/attribute.proto",
    "nomad/recoverable_error.proto",
    "goplugin/grpc_broker.proto",
    "goplugin/grpc_controller.proto",
    "goplugin/grpc_stdio.proto",
    "google/rpc/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
