//! The plugin as a Nomad client meets it: HashiCorp's own go-plugin client library, configured
//! as Nomad's plugin loader configures it, launches our binary and drives it through the
//! loader's launches and two runs of a task (`tests/goplugin/README.md` has the sequence).
//!
//! Needs Go, protoc and Debian's Go library packages (`tests/goplugin/debian-packages`); where
//! any is missing the test fails naming them, it never skips. Like the other integration tests
//! it needs systemd on the system bus: run it with `tools/test --test goplugin`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Debian packages that provide Go, protoc and the Go libraries, one a line.
const DEBIAN_PACKAGES: &str = include_str!("goplugin/debian-packages");

/// Where Debian's `golang-*-dev` packages install their Go sources (a GOPATH entry).
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// Our proto files (under `proto/`) and the Go import path each one's stubs get; the files
/// declare no `go_package`, so protoc-gen-go needs this mapping.
const PROTOS: &[(&str, &str)] = &[
    ("nomad/base.proto", "nomadsystemd/proto/base"),
    ("nomad/driver.proto", "nomadsystemd/proto/driver"),
    ("nomad/hclspec.proto", "nomadsystemd/proto/hclspec"),
    ("nomad/attribute.proto", "nomadsystemd/proto/structs"),
    (
        "nomad/recoverable_error.proto",
        "nomadsystemd/proto/structs",
    ),
];

#[test]
fn go_plugin_client_drives_a_task_through_the_real_go_plugin_library() {
    let work = tempfile::tempdir().expect("temp dir");
    // Traversable like Nomad's data dir, so tasks running as another user reach their
    // allocation directories below it.
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    let gopath = work.path().join("gopath");
    generate_stubs(&gopath.join("src"));
    let client = build_client(&gopath, work.path());

    let run = Command::new(&client)
        .arg(env!("CARGO_BIN_EXE_nomad-systemd"))
        .env("TMPDIR", work.path())
        .output()
        .expect("the built go-plugin client runs");
    print_output(&run);
    assert!(
        run.status.success(),
        "the go-plugin client failed ({}); its output is above, the reason on its FAIL line",
        run.status
    );
}

/// Generates the Go message and gRPC stubs from `proto/` into `src` of a temporary GOPATH.
fn generate_stubs(src: &Path) {
    fs::create_dir_all(src).expect("create GOPATH src");
    let mappings = PROTOS
        .iter()
        .map(|(file, package)| format!("M{file}={package}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut protoc = Command::new("protoc");
    protoc
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("proto"))
        .arg("-I.")
        .arg(format!("--go_out={}", src.display()))
        .arg(format!("--go_opt={mappings}"))
        .arg(format!("--go-grpc_out={}", src.display()))
        .arg(format!("--go-grpc_opt={mappings}"))
        .args(PROTOS.iter().map(|(file, _)| file));
    succeed(protoc, "generating the Go stubs with protoc");
}

/// Builds `tests/goplugin/client` in GOPATH mode against the generated stubs and Debian's Go
/// sources, offline, and returns the binary's path.
fn build_client(gopath: &Path, work: &Path) -> PathBuf {
    let binary = work.join("goplugin-client");
    let mut go = Command::new("go");
    go.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-o"])
        .arg(&binary)
        .arg("./tests/goplugin/client")
        .env("GO111MODULE", "off")
        .env("GOPATH", format!("{}:{DEBIAN_GOPATH}", gopath.display()))
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off");
    // Go caches builds under $HOME; where there is no home, a throw-away cache.
    if ["GOCACHE", "XDG_CACHE_HOME", "HOME"]
        .iter()
        .all(|var| std::env::var_os(var).is_none())
    {
        go.env("GOCACHE", work.join("gocache"));
    }
    succeed(go, "building tests/goplugin/client with go build");
    binary
}

/// Runs a build step, failing the test with its output and the packages to install when the
/// tool is missing or the step fails.
fn succeed(mut command: Command, what: &str) {
    let packages = DEBIAN_PACKAGES
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let hint = format!("this test needs `apt-get install {packages}`");
    let tool = command.get_program().to_string_lossy().into_owned();
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => panic!("{what}: cannot run `{tool}` ({e}); {hint}"),
    };
    if !output.status.success() {
        print_output(&output);
        panic!(
            "{what} failed ({}); its output is above; {hint}",
            output.status
        );
    }
}

fn print_output(output: &Output) {
    println!("{}", String::from_utf8_lossy(&output.stdout));
    println!("{}", String::from_utf8_lossy(&output.stderr));
}
