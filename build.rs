//! Compiles `proto/` into Rust gRPC servers and clients at build time, and records what
//! `--version` reports about the build.
//!
//! protox parses the .proto files in Rust, so building needs no system `protoc`.
//!
//! The build record, as compile-time environment variables:
//! - `NOMAD_SYSTEMD_COMMIT`: `git rev-parse --short HEAD` when the crate is built from its own
//!   git checkout, with `-dirty` when tracked files differ from that commit; `unknown` when
//!   there is no checkout, no git, or the crate sits inside another repository (a packaged
//!   copy under `target/package`, a vendored one). Git never fails the build.
//! - `NOMAD_SYSTEMD_TARGET`: the target triple.
//! - `NOMAD_SYSTEMD_FEATURES`: the enabled cargo features, comma-separated, or `none`.

use std::path::{Path, PathBuf};
use std::process::Command;

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

    record_build();
    Ok(())
}

fn record_build() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = git_commit(&manifest_dir).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NOMAD_SYSTEMD_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=NOMAD_SYSTEMD_TARGET={target}");
    println!("cargo:rustc-env=NOMAD_SYSTEMD_FEATURES={}", features());
}

/// The enabled features, from cargo's `CARGO_FEATURE_NAME` variables (this crate's feature
/// names use `-`, which cargo turns into `_`).
fn features() -> String {
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(key, _)| {
            let name = key.strip_prefix("CARGO_FEATURE_")?;
            Some(name.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    if features.is_empty() {
        "none".into()
    } else {
        features.join(",")
    }
}

/// The checkout's short commit, `-dirty` when a tracked file differs from it; `None` when
/// `dir` is not the top of a git checkout or git cannot answer.
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        // A copy inside another checkout: `cargo package` verifies its copy under
        // target/package with the checkout's target directory, where cargo takes this run's
        // record for the checkout's own (the unit hash leaves out the path). A path that never
        // exists makes cargo run this script again on the next build, in either.
        println!("cargo:rerun-if-changed=.build-record-of-a-copy");
        return None;
    }
    // Build again when the commit, the branch or the index moves, or a source file changes
    // (which may make the tree dirty).
    let mut watched = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    for source in ["src", "build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={source}");
    }
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    // --no-optional-locks: a build never rewrites the checkout's index.
    let changes = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])?;
    Some(if changes.is_empty() {
        commit
    } else {
        format!("{commit}-dirty")
    })
}
