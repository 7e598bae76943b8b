//! `nomad-systemd run --wait` in the foreground against a real systemd: the task's output
//! shows while it runs, `--pipe` gives the task the command's own stdin and stdout, Ctrl-C
//! stops the task with its kill signal and says how long before SIGKILL, and a second Ctrl-C
//! kills at once.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::terminal::Terminal;

/// A task with Nomad's directories under a fresh root, and the host path of its `/alloc`.
struct Alloc {
    _root: tempfile::TempDir,
    root: String,
    id: String,
}

impl Alloc {
    fn new() -> Alloc {
        let root = tempfile::tempdir().unwrap();
        Alloc {
            root: root.path().display().to_string(),
            _root: root,
            id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// `run --wait` of `sh -c SCRIPT` in this allocation, with `options` before the `--`.
    fn args<'a>(&'a self, options: &[&'a str], script: &'a str) -> Vec<&'a str> {
        let mut args = vec![
            "run",
            "--wait",
            "--task-dir",
            "--alloc-dir-root",
            &self.root,
            "--alloc-id",
            &self.id,
        ];
        args.extend_from_slice(options);
        args.extend(["--", "/bin/sh", "-c", script]);
        args
    }

    /// The host path of `/alloc/NAME` in the task.
    fn file(&self, name: &str) -> PathBuf {
        PathBuf::from(&self.root)
            .join(&self.id)
            .join("alloc")
            .join(name)
    }
}

/// Waits (inside the task) until /alloc/go exists.
const UNTIL_GO: &str = "until [ -e /alloc/go ]; do sleep 0.1; done";

#[test]
fn output_shows_while_the_task_runs() {
    let alloc = Alloc::new();
    let script = format!(
        "echo first-line; {UNTIL_GO}; echo second-line >&2; printf 'esc:\\033[2J\\n'; exit 4"
    );
    let mut terminal = Terminal::start(&alloc.args(&[], &script));
    // The task is still waiting for the file: the line came while it runs.
    terminal.expect("first-line");
    std::fs::write(alloc.file("go"), "").unwrap();
    terminal.expect("second-line");
    // The job's escape sequences are shown, not obeyed.
    terminal.expect("esc:\\x1b[2J");
    let (code, rest) = terminal.finish();
    assert_eq!(code, Some(4), "{rest}");
    assert!(rest.contains("Finished: exit code 4"), "{rest}");
}

#[test]
fn pipe_gives_the_task_stdin_and_stdout() {
    let mut cat = Command::new(env!("CARGO_BIN_EXE_nomad-systemd"))
        .args(["run", "--pipe", "--", "/bin/cat"])
        .env_remove("NOMAD_SYSTEMD_BUS")
        .env_remove("NOMAD_SYSTEMD_SLICE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cat.stdin.take().unwrap().write_all(b"input\n").unwrap();
    let out = cat.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b"input\n"[..]),
        "{stderr}"
    );
    assert!(stderr.contains("Finished: exit code 0"), "{stderr}");
}

#[test]
fn pipe_is_refused_with_output_files() {
    let run = support::cli(&[
        "run",
        "--pipe",
        "--stdout",
        "/dev/null",
        "--stderr",
        "/dev/null",
        "--",
        "/bin/true",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("--pipe"), "{}", run.stderr());
}

#[test]
fn ctrl_c_stops_the_task_with_its_kill_signal() {
    let alloc = Alloc::new();
    let script = "trap 'echo got-INT; exit 7' INT; echo ready; while :; do sleep 0.1; done";
    let mut terminal = Terminal::start(&alloc.args(
        &["--kill-signal", "SIGINT", "--kill-timeout", "300s"],
        script,
    ));
    terminal.expect("ready");
    terminal.type_text("\x03");
    terminal.expect("waiting 5m00s, then SIGKILL (Ctrl-C again to kill now)");
    terminal.expect("got-INT");
    let (code, rest) = terminal.finish();
    assert_eq!(code, Some(7), "the task's own result: {rest}");
    assert!(rest.contains("Finished: exit code 7"), "{rest}");
}

#[test]
fn a_second_ctrl_c_kills_a_task_that_ignores_its_signal() {
    let alloc = Alloc::new();
    let script = "trap '' INT TERM; echo ready; while :; do sleep 0.1; done";
    let mut terminal = Terminal::start(&alloc.args(&["--kill-timeout", "300s"], script));
    terminal.expect("ready");
    terminal.type_text("\x03");
    terminal.expect("Stopping");
    terminal.expect("with SIGTERM: waiting 5m00s, then SIGKILL");
    terminal.type_text("\x03");
    terminal.expect("with SIGKILL");
    let (code, rest) = terminal.finish();
    assert_eq!(code, Some(137), "{rest}");
    assert!(rest.contains("Finished: killed by SIGKILL"), "{rest}");
}

#[test]
fn pty_gives_the_task_a_terminal_relayed_both_ways() {
    let alloc = Alloc::new();
    let script =
        "[ -t 0 ] && [ -t 1 ] && echo on-a-tty; stty size; read x; echo \"got $x\"; exit 3";
    // As an unprivileged user too: the terminal is handed over, never opened by the task.
    let mut terminal = Terminal::start(&alloc.args(&["--pty", "--user", "nobody"], script));
    terminal.expect("on-a-tty");
    terminal.expect("24 80");
    terminal.type_text("typed\r");
    terminal.expect("got typed");
    let (code, rest) = terminal.finish();
    assert_eq!(code, Some(3), "{rest}");
}

#[test]
fn ctrl_c_under_pty_goes_to_the_task() {
    let alloc = Alloc::new();
    let script = "trap 'echo got-INT; exit 5' INT; echo ready; while :; do sleep 0.1; done";
    let mut terminal = Terminal::start(&alloc.args(&["--pty"], script));
    terminal.expect("ready");
    terminal.type_text("\x03");
    terminal.expect("got-INT");
    let (code, rest) = terminal.finish();
    assert_eq!(code, Some(5), "{rest}");
    assert!(
        !rest.contains("Stopping"),
        "the task, not the command, had the Ctrl-C: {rest}"
    );
}

#[test]
fn an_installed_units_output_of_this_run_shows_while_it_runs() {
    let name = format!(
        "cli-live-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let unit = format!("{name}.service");
    let go = format!("/run/{name}.go");
    let text = format!(
        "[Service]\nExecStart=/bin/sh -c 'echo from-unit; until [ -e {go} ]; do sleep 0.1; done; \
         echo unit-done >&2; exit 6'\n"
    );
    support::units::install(&[(unit.as_str(), text.as_str())]);
    // An earlier run, whose lines are in the journal already.
    std::fs::write(&go, "").unwrap();
    let earlier = support::cli(&["run", "--wait", "--unit", &unit]);
    assert_eq!(earlier.code(), 6, "{}", earlier.stderr());
    std::fs::remove_file(&go).unwrap();

    let mut terminal = Terminal::start(&["run", "--wait", "--unit", &unit]);
    let before = terminal.expect("from-unit");
    std::fs::write(&go, "").unwrap();
    terminal.expect("unit-done");
    let (code, rest) = terminal.finish();
    std::fs::remove_file(&go).unwrap();
    assert_eq!(code, Some(6), "{rest}");
    assert!(
        !before.contains("unit-done") && !rest.contains("from-unit"),
        "only this run's lines: {before}{rest}"
    );
}

#[test]
fn under_pty_a_signal_to_the_command_stops_the_task() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let alloc = Alloc::new();
    let script = "echo ready; while :; do sleep 0.1; done";
    let mut terminal = Terminal::start(&alloc.args(&["--pty"], script));
    terminal.expect("ready");
    kill(Pid::from_raw(terminal.pid()), Signal::SIGTERM).unwrap();
    // The terminal is in raw mode: the message ends the line itself.
    terminal.expect("with SIGTERM: waiting 5s, then SIGKILL (Ctrl-C again to kill now)\r\n");
    let (code, rest) = terminal.finish();
    assert_eq!(code, Some(143), "{rest}");
}
