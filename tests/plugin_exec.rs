//! `nomad alloc exec` and script checks through the plugin's gRPC interface, reproducing the
//! cases of Nomad's own exec conformance tests, against the sandboxed real systemd.

mod support;

use std::time::{Duration, Instant};

use nomad_systemd::plugin::proto::driver::{
    self as pb, ExecTaskStreamingIoOperation as Io, ExecTaskStreamingRequest as Req,
    exec_task_streaming_request::{Setup, TerminalSize},
};
use support::plugin::{Connection, task_running};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const SHORT: Duration = Duration::from_secs(10);

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

/// One `nomad alloc exec` session as the client drives it.
struct Session {
    to_plugin: mpsc::Sender<Req>,
    replies: tonic::Streaming<pb::ExecTaskStreamingResponse>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    closed: (bool, bool),
}

impl Session {
    async fn open(conn: &mut Connection, id: &str, command: Vec<String>, tty: bool) -> Session {
        let (to_plugin, rx) = mpsc::channel(16);
        to_plugin
            .send(Req {
                setup: Some(Setup {
                    task_id: id.into(),
                    command,
                    tty,
                }),
                ..Req::default()
            })
            .await
            .unwrap();
        let replies = conn
            .driver
            .exec_task_streaming(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        Session {
            to_plugin,
            replies,
            stdout: Vec::new(),
            stderr: Vec::new(),
            closed: (false, false),
        }
    }

    async fn send(&self, message: Req) {
        self.to_plugin.send(message).await.unwrap();
    }

    async fn stdin(&self, data: &[u8], close: bool) {
        self.send(Req {
            stdin: Some(Io {
                data: data.to_vec(),
                close,
            }),
            ..Req::default()
        })
        .await;
    }

    async fn resize(&self, height: i32, width: i32) {
        self.send(Req {
            tty_size: Some(TerminalSize { height, width }),
            ..Req::default()
        })
        .await;
    }

    /// Reads replies until stdout contains `text`.
    async fn until_stdout(&mut self, text: &str) {
        let deadline = Instant::now() + SHORT;
        while !String::from_utf8_lossy(&self.stdout).contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in {:?}",
                self.text()
            );
            let reply = tokio::time::timeout(SHORT, self.replies.message())
                .await
                .expect("a reply")
                .unwrap()
                .expect("the stream is still open");
            assert!(!reply.exited, "exited before {text:?}: {:?}", self.text());
            self.take(&reply);
        }
    }

    /// Reads replies until `exited`, returning the exit code.
    async fn exit_code(&mut self) -> i32 {
        loop {
            let reply = tokio::time::timeout(SHORT, self.replies.message())
                .await
                .expect("a reply")
                .unwrap()
                .expect("an exited reply before the end");
            self.take(&reply);
            if reply.exited {
                return reply.result.expect("exited carries a result").exit_code;
            }
        }
    }

    fn take(&mut self, reply: &pb::ExecTaskStreamingResponse) {
        if let Some(out) = &reply.stdout {
            self.stdout.extend_from_slice(&out.data);
            self.closed.0 |= out.close;
        }
        if let Some(err) = &reply.stderr {
            self.stderr.extend_from_slice(&err.data);
            self.closed.1 |= err.close;
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

#[tokio::test]
async fn exec_task_returns_output_and_exit_code_and_advertises_exec() {
    let (_plugin, mut conn, _alloc, id) = task_running("check").await;
    let caps = conn
        .driver
        .capabilities(pb::CapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .capabilities
        .unwrap();
    assert!(caps.exec);
    let response = conn
        .exec(
            &id,
            &["/bin/sh", "-c", "echo healthy; echo warn >&2; exit 43"],
            Some(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    assert_eq!(response.result.unwrap().exit_code, 43);
    assert_eq!(response.stdout, b"healthy\n");
    assert_eq!(response.stderr, b"warn\n");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn exec_task_kills_a_command_that_outlives_its_timeout() {
    let (_plugin, mut conn, _alloc, id) = task_running("slowcheck").await;
    let started = Instant::now();
    let response = conn
        .exec(
            &id,
            &["/bin/sh", "-c", "echo started; sleep 300"],
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let result = response.result.unwrap();
    assert_eq!((result.exit_code, result.signal), (137, 9));
    assert_eq!(response.stdout, b"started\n");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn streaming_without_a_tty_keeps_stdout_and_stderr_apart_and_passes_stdin() {
    let (_plugin, mut conn, _alloc, id) = task_running("pipes").await;
    let mut s = Session::open(
        &mut conn,
        &id,
        sh("echo first; read line; echo \"got $line\"; echo oops >&2; exit 43"),
        false,
    )
    .await;
    // Output streams before the command ends: it is waiting for stdin now.
    s.until_stdout("first\n").await;
    s.send(Req::default()).await; // a heartbeat, to be ignored
    s.stdin(b"hello\n", true).await;
    assert_eq!(s.exit_code().await, 43);
    assert_eq!(s.text(), "first\ngot hello\n");
    assert_eq!(s.stderr, b"oops\n");
    assert_eq!(
        s.closed,
        (true, true),
        "both streams are closed before exit"
    );

    let mut s = Session::open(&mut conn, &id, vec!["stty".into(), "size".into()], false).await;
    assert_ne!(s.exit_code().await, 0, "stty size needs a terminal");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn streaming_with_a_tty_follows_resizes_and_uses_crlf() {
    let (_plugin, mut conn, _alloc, id) = task_running("tty").await;
    let mut s = Session::open(&mut conn, &id, sh("read x; stty size; exit 3"), true).await;
    s.resize(50, 40).await;
    s.resize(100, 100).await;
    s.stdin(b"go\n", false).await;
    assert_eq!(s.exit_code().await, 3);
    assert!(s.text().contains("100 100\r\n"), "{:?}", s.text());
    assert!(s.stderr.is_empty(), "a tty has one stream");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn a_tty_exec_ends_with_its_lead_process_even_if_a_child_lingers() {
    let (_plugin, mut conn, _alloc, id) = task_running("linger").await;
    let started = Instant::now();
    let mut s = Session::open(&mut conn, &id, sh("sleep 300 & echo lead-done"), true).await;
    assert_eq!(s.exit_code().await, 0);
    assert!(s.text().contains("lead-done\r\n"), "{:?}", s.text());
    assert!(started.elapsed() < SHORT);
    conn.destroy(&id).await;
}

#[tokio::test]
async fn exec_sees_what_the_task_sees_as_the_tasks_user_in_its_slice() {
    let (_plugin, mut conn, alloc, id) = task_running("context").await;
    let mut s = Session::open(
        &mut conn,
        &id,
        sh("id -un; cat /alloc/up; echo from-exec > /alloc/exec; cat /proc/self/cgroup"),
        false,
    )
    .await;
    assert_eq!(
        s.exit_code().await,
        0,
        "{}",
        String::from_utf8_lossy(&s.stderr)
    );
    let text = s.text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("nobody"));
    assert_eq!(lines.next(), Some("up"));
    let cgroups: Vec<&str> = lines.collect();
    assert!(
        cgroups
            .iter()
            .any(|l| l.contains("system-nomad-") && l.contains("_context_")),
        "exec runs in the task's slice: {cgroups:?}"
    );
    let written = std::fs::read_to_string(alloc.path("alloc/exec")).unwrap();
    assert_eq!(written, "from-exec\n");
    conn.destroy(&id).await;
}

#[tokio::test]
async fn a_client_that_goes_away_leaves_no_exec_running() {
    let engine = support::engine().await;
    let (_plugin, mut conn, alloc, id) = task_running("abandon").await;
    let s = Session::open(
        &mut conn,
        &id,
        sh("echo $$ > /alloc/exec-pid; trap '' TERM HUP; while :; do sleep 0.1; done"),
        true,
    )
    .await;
    let pid: i32 = support::wait_for_file(&alloc.path("alloc/exec-pid"), support::READY)
        .trim()
        .parse()
        .unwrap();
    drop(s);
    let deadline = Instant::now() + SHORT;
    while nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() {
        assert!(Instant::now() < deadline, "exec'd process {pid} still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pattern = format!("nomad-*{}*-exec-*", &alloc.id[..8]);
    let deadline = Instant::now() + SHORT;
    while !engine
        .systemd()
        .list_units(&[&pattern])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "an exec unit is left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    conn.destroy(&id).await;
}

#[tokio::test]
async fn a_stream_that_does_not_start_with_setup_is_refused() {
    let (_plugin, mut conn, _alloc, id) = task_running("nosetup").await;
    let (tx, rx) = mpsc::channel(1);
    tx.send(Req {
        tty_size: Some(TerminalSize {
            height: 1,
            width: 1,
        }),
        ..Req::default()
    })
    .await
    .unwrap();
    let err = conn
        .driver
        .exec_task_streaming(ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("setup"), "{err}");
    let err = conn
        .exec("no-such-task", &["/bin/sh", "-c", "true"], None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    conn.destroy(&id).await;
}
