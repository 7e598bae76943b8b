//! Harness for tests against a real systemd. These tests never skip: where no systemd answers
//! on the system bus they fail, saying how to get one (`tools/test` boots a sandboxed systemd).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nomad_systemd::core::standalone::StandaloneTask;
use nomad_systemd::core::{
    Bus, Engine, EngineOptions, Error, ExitResult, Stdio, TaskSpec, UnitName,
};

/// The engine on the system bus, or a loud failure explaining what is missing.
pub async fn engine() -> Engine {
    use_driver_loader();
    match Engine::connect(EngineOptions::for_bus(Bus::System)).await {
        Ok(engine) => engine,
        Err(e) => panic!(
            "these tests need systemd on the system bus ({e}); run them with `tools/test`, \
             which boots a private systemd"
        ),
    }
}

/// Commands that need the loader run through the driver's binary, not this test binary.
pub fn use_driver_loader() {
    nomad_systemd::core::env_loader::use_program(env!("CARGO_BIN_EXE_nomad-systemd").into());
}

/// A by-hand task running `sh -c SCRIPT`, with Nomad's task directories under a fresh
/// temporary allocation root.
pub fn shell_task(name: &str, script: &str) -> (TaskSpec, tempfile::TempDir) {
    let root = tempfile::tempdir().expect("temp dir");
    let spec = StandaloneTask {
        name: Some(name.to_string()),
        command: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        alloc_dir_root: Some(root.path().to_path_buf()),
        ..Default::default()
    }
    .build()
    .expect("valid task");
    (spec, root)
}

/// Puts an executable copy of `source` at `dest` (mode 0755), written by `install`, a child
/// process: a file this test process held open for writing would be inherited by every
/// child another test thread forks meanwhile until it execs, and executing the file then
/// fails with ETXTBSY ("text file busy").
pub fn install_executable(source: &Path, dest: &Path) {
    let status = Command::new("install")
        .arg("-m")
        .arg("0755")
        .arg(source)
        .arg(dest)
        .status()
        .expect("install runs");
    assert!(
        status.success(),
        "install {} {}",
        source.display(),
        dest.display()
    );
}

/// [`install_executable`] of a script's text.
pub fn write_executable(dest: &Path, text: &str) {
    let source = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(source.path(), text).expect("write the script");
    install_executable(source.path(), dest);
}

/// The host path of the task's shared `/alloc` directory.
pub fn alloc_dir(spec: &TaskSpec) -> PathBuf {
    spec.dirs.as_ref().expect("task dirs").alloc.clone()
}

/// How long a test waits for something a task is expected to do (start, write a file, answer)
/// before it fails. A deadline for declaring a failure, never a measurement: generous, because
/// the host matrix runs these tests in emulated guests on a busy machine, where a task that
/// takes 10 s to start is slow but correct.
#[allow(dead_code)]
pub const READY: Duration = Duration::from_secs(60);

/// Polls until `path` exists (written by a task), failing after `timeout`.
pub fn wait_for_file(path: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {timeout:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a task to its end with output to the journal, removes its unit, and returns how it
/// ended.
pub async fn run_to_exit(engine: &Engine, spec: &TaskSpec) -> ExitResult {
    let started = engine
        .start(spec, Stdio::Journal)
        .await
        .expect("task starts");
    let exit = engine
        .wait(&started.unit)
        .await
        .expect("task is waited for");
    engine
        .destroy(&started.unit)
        .await
        .expect("unit is destroyed");
    exit
}

/// Asserts that systemd has no unit of this name loaded.
pub async fn assert_no_unit(engine: &Engine, unit: &UnitName) {
    match engine.status(unit).await {
        Err(Error::NotFound(_)) => {}
        other => panic!("unit {unit} should not exist, but status is {other:?}"),
    }
}

/// Asserts that systemd lists no unit `slice` (within a moment: a stopped slice is collected
/// right after). Listing does not load a unit, as asking for it by name would.
pub async fn assert_slice_gone(slice: &UnitName) {
    let mut listed = String::new();
    for _ in 0..20 {
        let out = Command::new("systemctl")
            .args([
                "list-units",
                "--plain",
                "--no-legend",
                "--all",
                slice.as_str(),
            ])
            .output()
            .expect("systemctl list-units");
        listed = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if listed.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{slice} is left: {listed}");
}

/// Runs `program` with `args` to completion and asserts it succeeded, showing its stderr if
/// not.
pub fn command_ok(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bits of a `/proc/self/status` capability line `field` (`CapEff:\t00000000a80425fb`).
pub fn cap_mask(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status:?}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

/// The built `nomad-systemd` binary, run with `args`.
pub fn cli(args: &[&str]) -> CliRun {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nomad-systemd"));
    command
        .args(args)
        .env_remove("NOMAD_SYSTEMD_BUS")
        .env_remove("NOMAD_SYSTEMD_SLICE");
    let output = command.output().expect("run nomad-systemd");
    CliRun { output }
}

pub struct CliRun {
    pub output: Output,
}

impl CliRun {
    pub fn code(&self) -> i32 {
        self.output.status.code().expect("exited, not killed")
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "stdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
}
pub mod netns;
pub mod plugin;
pub mod terminal;
pub mod units;
