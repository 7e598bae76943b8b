//! The plugin as a Nomad client meets it: HashiCorp's own go-plugin client library, configured
//! as Nomad's plugin loader configures it, launches our binary and drives it through the
//! loader's launches and two runs of a task (`tests/goplugin/README.md` has the sequence).
//!
//! Needs Go (>= 1.24), protoc and the client's Go modules: `tests/goplugin/debian-packages`
//! lists protoc's packages, and `go mod download` in `tests/goplugin/client` fetches the modules
//! (`tools/deps`, which `tools/test` runs first, does both). The build runs offline; where
//! anything is missing the test fails naming it, it never skips. Like the other integration tests it needs systemd on the system
//! bus: run it with `tools/test --test goplugin`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Debian packages that provide protoc and the well-known types, one a line.
const DEBIAN_PACKAGES: &str = include_str!("goplugin/debian-packages");

/// The client's Go module, as committed: sources, `go.mod` and `go.sum`.
const CLIENT: &str = "tests/goplugin/client";

/// The client module's path; the stubs are its packages `<MODULE>/proto/...`.
const MODULE: &str = "nomadsystemd";

/// The protoc plugins the stubs are generated with, built from the versions the client's
/// `go.mod` pins (its `tool` block).
const GENERATORS: &[&str] = &[
    "google.golang.org/protobuf/cmd/protoc-gen-go",
    "google.golang.org/grpc/cmd/protoc-gen-go-grpc",
];

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
    let module = copy_client(work.path());
    let generators = build_generators(&module, work.path());
    generate_stubs(&module, &generators);
    let client = build_client(&module, work.path());

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

/// Copies the client module out of the checkout, so the generated stubs join it as its own
/// packages without anything being written into the checkout.
fn copy_client(work: &Path) -> PathBuf {
    let module = work.join("client");
    fs::create_dir(&module).expect("create the module copy");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(CLIENT);
    for entry in fs::read_dir(&source).expect("read tests/goplugin/client") {
        let path = entry.expect("directory entry").path();
        fs::copy(&path, module.join(path.file_name().unwrap())).expect("copy a client file");
    }
    module
}

/// Builds protoc-gen-go and protoc-gen-go-grpc at the versions the module pins; returns the
/// directory holding them.
fn build_generators(module: &Path, work: &Path) -> PathBuf {
    let bin = work.join("bin");
    let mut go = go(module, work);
    go.args(["build", "-o"])
        .arg(format!("{}/", bin.display()))
        .args(GENERATORS);
    succeed(go, "building the protoc plugins pinned in go.mod");
    bin
}

/// Generates the Go message and gRPC stubs from `proto/` into the module copy.
fn generate_stubs(module: &Path, generators: &Path) {
    let mappings = PROTOS
        .iter()
        .map(|(file, package)| format!("M{file}={package}"))
        .collect::<Vec<_>>()
        .join(",");
    let options = format!("module={MODULE},{mappings}");
    let mut protoc = Command::new("protoc");
    protoc
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("proto"))
        .arg("-I.");
    for plugin in ["protoc-gen-go", "protoc-gen-go-grpc"] {
        protoc.arg(format!(
            "--plugin={plugin}={}",
            generators.join(plugin).display()
        ));
    }
    protoc
        .arg(format!("--go_out={}", module.display()))
        .arg(format!("--go_opt={options}"))
        .arg(format!("--go-grpc_out={}", module.display()))
        .arg(format!("--go-grpc_opt={options}"))
        .args(PROTOS.iter().map(|(file, _)| file));
    succeed(protoc, "generating the Go stubs with protoc");
}

/// Builds the client module with its generated stubs and returns the binary's path.
fn build_client(module: &Path, work: &Path) -> PathBuf {
    let binary = work.join("goplugin-client");
    let mut go = go(module, work);
    go.args(["build", "-o"]).arg(&binary).arg(".");
    succeed(go, "building the go-plugin client with go build");
    binary
}

/// `go` in the module copy, offline: the modules come from the module cache that
/// `go mod download` filled, verified against the committed `go.sum`, and the Go on `PATH` is
/// used as it is, never another toolchain downloaded.
fn go(module: &Path, work: &Path) -> Command {
    let mut go = Command::new("go");
    go.current_dir(module)
        .env("GOFLAGS", "-mod=readonly")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env("CGO_ENABLED", "0");
    // Go caches builds under $HOME; where there is no home, a throw-away cache.
    if ["GOCACHE", "XDG_CACHE_HOME", "HOME"]
        .iter()
        .all(|var| std::env::var_os(var).is_none())
    {
        go.env("GOCACHE", work.join("gocache"));
    }
    go
}

/// Runs a build step, failing the test with its output and the packages to install when the
/// tool is missing or the step fails.
fn succeed(mut command: Command, what: &str) {
    let packages = DEBIAN_PACKAGES
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let hint = format!(
        "this test needs Go >= 1.24 on PATH, `apt-get install {packages}` and \
         `go mod download` run in {CLIENT} (`tools/deps` does both)"
    );
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
