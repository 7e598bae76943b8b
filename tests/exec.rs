//! Exec into running tasks through the core, against the sandboxed real systemd: the
//! behaviours Nomad's exec conformance tests check, plus accounting and cleanup.

mod support;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nomad_systemd::core::exec::{self, Exec, ExecIo, ExecStreams};
use nomad_systemd::core::{Engine, Error, Stdio, TaskSpec, UnitName};
use support::*;

const SHORT: Duration = Duration::from_secs(10);

/// A running task (its unit) that stays up until the test ends.
async fn running_task(engine: &Engine, name: &str) -> (UnitName, TaskSpec, tempfile::TempDir) {
    let (mut spec, root) = shell_task(name, "echo up > /alloc/up; exec sleep 300");
    spec.user = Some("nobody".into());
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    wait_for_file(&alloc_dir(&spec).join("up"), support::READY);
    (started.unit, spec, root)
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Reads a descriptor to its end (or, for a pty master, until the terminal is gone).
fn read_all(fd: OwnedFd) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut file = File::from(fd);
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        // A pty master reports EIO once the last slave descriptor is closed.
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    })
}

struct Ran {
    exit_code: i32,
    stdout: String,
    stderr: String,
}

/// Runs a command with pipes, feeding it `input`, and collects everything.
async fn run(engine: &Engine, task: &UnitName, args: &[&str], input: &[u8]) -> Ran {
    let Exec { unit, streams } = engine.exec(task, &argv(args), ExecIo::Pipes).await.unwrap();
    let ExecStreams::Pipes {
        stdin,
        stdout,
        stderr,
    } = streams
    else {
        panic!("pipes asked for")
    };
    let mut stdin = File::from(stdin);
    stdin.write_all(input).unwrap();
    drop(stdin);
    let (out, err) = (read_all(stdout), read_all(stderr));
    let exit = engine.exec_wait(&unit).await.unwrap();
    Ran {
        exit_code: exit.exit_code,
        stdout: String::from_utf8(out.join().unwrap()).unwrap(),
        stderr: String::from_utf8(err.join().unwrap()).unwrap(),
    }
}

#[tokio::test]
async fn exit_codes_and_separate_streams_come_back() {
    let engine = engine().await;
    let (task, _spec, _root) = running_task(&engine, "exec-basic").await;
    let ran = run(
        &engine,
        &task,
        &["/bin/sh", "-c", "echo out; echo err >&2; exit 43"],
        b"",
    )
    .await;
    assert_eq!(ran.exit_code, 43);
    assert_eq!(ran.stdout, "out\n");
    assert_eq!(ran.stderr, "err\n");
    engine.destroy(&task).await.unwrap();
}

#[tokio::test]
async fn stdin_reaches_the_command_and_without_a_tty_stty_fails() {
    let engine = engine().await;
    let (task, _spec, _root) = running_task(&engine, "exec-stdin").await;
    let ran = run(&engine, &task, &["cat"], b"hello from stdin\n").await;
    assert_eq!(
        (ran.exit_code, ran.stdout.as_str()),
        (0, "hello from stdin\n")
    );
    let ran = run(&engine, &task, &["stty", "size"], b"").await;
    assert_ne!(ran.exit_code, 0, "stty without a terminal: {}", ran.stdout);
    engine.destroy(&task).await.unwrap();
}

#[tokio::test]
async fn exec_shares_the_tasks_user_files_and_slice() {
    let engine = engine().await;
    let (task, spec, _root) = running_task(&engine, "exec-context").await;
    let ran = run(
        &engine,
        &task,
        &[
            "/bin/sh",
            "-c",
            "id -un; pwd; echo $NOMAD_TASK_NAME; cat /alloc/up; echo from-exec > /alloc/exec; \
             cat /proc/self/cgroup",
        ],
        b"",
    )
    .await;
    assert_eq!(ran.exit_code, 0, "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[..4], ["nobody", "/local", "exec-context", "up"]);
    let slice = task.task_slice("system-nomad.slice").unwrap();
    assert!(
        lines[4..].iter().any(|l| l.contains(slice.as_str())),
        "exec runs in the task's slice {slice}: {:?}",
        &lines[4..]
    );
    let written = std::fs::read_to_string(alloc_dir(&spec).join("exec")).unwrap();
    assert_eq!(written, "from-exec\n");
    engine.destroy(&task).await.unwrap();
}

/// Reads a pty master in the background; `text()` is what arrived so far.
struct Terminal {
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Terminal {
    fn read(master: OwnedFd) -> Terminal {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut file = File::from(master);
            let mut buf = [0u8; 1024];
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal { seen }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + SHORT;
        loop {
            let seen = self.text();
            if seen.contains(text) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never came; got {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[tokio::test]
async fn a_tty_session_has_the_size_asked_for_follows_resizes_and_ends_lines_with_crlf() {
    let engine = engine().await;
    let (task, _spec, _root) = running_task(&engine, "exec-tty").await;
    let Exec { unit, streams } = engine
        .exec(
            &task,
            &argv(&["/bin/sh", "-c", "stty size; read x; stty size; exit 7"]),
            ExecIo::Tty { rows: 50, cols: 40 },
        )
        .await
        .unwrap();
    let ExecStreams::Tty { master } = streams else {
        panic!("a tty asked for")
    };
    let input = master.try_clone().unwrap();
    let control = master.try_clone().unwrap();
    let terminal = Terminal::read(master);
    terminal.wait_for("50 40\r\n");
    exec::resize(&control, 100, 100).unwrap();
    File::from(input).write_all(b"go\n").unwrap();
    terminal.wait_for("100 100\r\n");
    assert_eq!(engine.exec_wait(&unit).await.unwrap().exit_code, 7);
    engine.destroy(&task).await.unwrap();
}

#[tokio::test]
async fn a_tty_session_ends_with_its_lead_process_even_if_a_child_lingers() {
    let engine = engine().await;
    let (task, _spec, _root) = running_task(&engine, "exec-linger").await;
    let Exec { unit, streams } = engine
        .exec(
            &task,
            &argv(&["/bin/sh", "-c", "sleep 300 & echo lead-done"]),
            ExecIo::Tty { rows: 24, cols: 80 },
        )
        .await
        .unwrap();
    let ExecStreams::Tty { master } = streams else {
        panic!("a tty asked for")
    };
    let output = read_all(master);
    let started = Instant::now();
    assert_eq!(engine.exec_wait(&unit).await.unwrap().exit_code, 0);
    let output = String::from_utf8_lossy(&output.join().unwrap()).into_owned();
    assert!(output.contains("lead-done\r\n"), "{output:?}");
    assert!(started.elapsed() < SHORT);
    assert_no_unit(&engine, &unit).await;
    engine.destroy(&task).await.unwrap();
}

/// An exec of `sh -c SCRIPT` with pipes that keeps running: its unit, and a reader of its
/// stdout that ends when the command and everything it started are gone.
async fn lingering_exec(
    engine: &Engine,
    task: &UnitName,
    script: &str,
) -> (UnitName, std::thread::JoinHandle<Vec<u8>>) {
    let Exec { unit, streams } = engine
        .exec(task, &argv(&["/bin/sh", "-c", script]), ExecIo::Pipes)
        .await
        .unwrap();
    let ExecStreams::Pipes { stdout, .. } = streams else {
        panic!("pipes asked for")
    };
    (unit, read_all(stdout))
}

#[tokio::test]
async fn a_killed_exec_leaves_nothing_behind() {
    let engine = engine().await;
    let (task, _spec, _root) = running_task(&engine, "exec-kill").await;
    let (unit, eof) = lingering_exec(&engine, &task, "trap '' TERM; sleep 300").await;
    engine.exec_kill(&unit).await.unwrap();
    eof.join().unwrap();
    let deadline = Instant::now() + SHORT;
    while engine.status(&unit).await.is_ok() {
        assert!(Instant::now() < deadline, "{unit} was not collected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.destroy(&task).await.unwrap();
}

/// Destroying a task ends an exec still running in its slice (one that ignores the task's kill
/// signal included) and leaves neither unit nor slice loaded.
#[tokio::test]
async fn destroying_the_task_ends_an_exec_still_running_in_its_slice() {
    let engine = engine().await;
    let (task, _spec, _root) = running_task(&engine, "exec-outlives").await;
    let (unit, eof) = lingering_exec(&engine, &task, "trap '' TERM INT; sleep 300").await;
    // The exec's client lets its unit go once the command ended, as the plugin's stream does;
    // until then the exec unit (joined to the task's namespaces) keeps the task's unit loaded.
    let released = async {
        tokio::task::spawn_blocking(move || eof.join().unwrap())
            .await
            .unwrap();
        engine.exec_wait(&unit).await.unwrap()
    };
    let (destroyed, ended) = tokio::join!(engine.destroy(&task), released);
    destroyed.unwrap();
    assert_eq!(ended.signal, 9, "the exec was killed: {ended:?}");
    let slice = task.task_slice("system-nomad.slice").unwrap();
    let deadline = Instant::now() + SHORT;
    loop {
        let left = engine
            .systemd()
            .list_units(&[task.as_str(), unit.as_str(), slice.as_str()])
            .await
            .unwrap();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still loaded: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn exec_into_a_missing_or_exited_task_or_with_a_bad_command_is_refused() {
    let engine = engine().await;
    let missing = UnitName::parse("nomad-00000000-none-0.service").unwrap();
    assert!(matches!(
        engine
            .exec(&missing, &argv(&["/bin/true"]), ExecIo::Pipes)
            .await,
        Err(Error::NotFound(_))
    ));
    let (task, _spec, _root) = running_task(&engine, "exec-bad").await;
    let err = engine
        .exec(&task, &argv(&["/no/such/program"]), ExecIo::Pipes)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StartFailed { .. }), "{err}");
    engine
        .stop(&task, nomad_systemd::core::Signal::KILL, SHORT)
        .await
        .unwrap();
    let err = engine
        .exec(&task, &argv(&["/bin/true"]), ExecIo::Pipes)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has exited"), "{err}");
    engine.destroy(&task).await.unwrap();
}

#[tokio::test]
async fn exec_shares_the_tasks_private_tmp_which_the_host_does_not_see() {
    let engine = engine().await;
    let (mut spec, _root) = shell_task(
        "exec-tmp",
        "echo up > /alloc/up; while [ ! -e /tmp/from-exec ]; do sleep 0.05; done; \
         cp /tmp/from-exec /alloc/seen; exec sleep 300",
    );
    spec.user = Some("nobody".into());
    let started = engine.start(&spec, Stdio::Journal).await.unwrap();
    wait_for_file(&alloc_dir(&spec).join("up"), support::READY);
    let marker = "/tmp/from-exec";
    let ran = run(
        &engine,
        &started.unit,
        &["/bin/sh", "-c", &format!("echo shared > {marker}")],
        b"",
    )
    .await;
    assert_eq!(ran.exit_code, 0, "{}", ran.stderr);
    assert_eq!(
        wait_for_file(&alloc_dir(&spec).join("seen"), support::READY),
        "shared\n"
    );
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the host's /tmp stays apart"
    );
    engine.destroy(&started.unit).await.unwrap();
}
