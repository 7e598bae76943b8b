//! Attacks through the system bus, against the sandboxed real systemd. A job's processes are
//! bus clients like any other, and dbus-daemon lets any client broadcast a signal on any
//! object path: what they send must never be taken for systemd's word about a task.

mod support;

use std::time::Duration;

use nomad_systemd::core::{Signal, Stdio};
use support::*;

/// systemd's object path of a unit: every byte but `[A-Za-z0-9]` as `_xx`.
fn unit_path(unit: &str) -> String {
    let escaped: String = unit
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("_{b:02x}"),
        })
        .collect();
    format!("/org/freedesktop/systemd1/unit/{escaped}")
}

/// A hostile job's task, running as `nobody`, broadcasts `PropertiesChanged` on another
/// task's object path over and over, claiming its main process exited with status 42. The
/// victim's waiter must not believe it: it reports the victim's real end (the SIGTERM the
/// test stops it with), after the forger was heard broadcasting.
#[tokio::test]
async fn a_properties_changed_forged_by_another_tasks_user_is_not_taken_for_systemds() {
    let engine = engine().await;
    let (victim_spec, _victim_root) = shell_task("forged-victim", "exec sleep 300");
    let victim = engine
        .start(&victim_spec, Stdio::Journal)
        .await
        .unwrap()
        .unit;
    let waiting = tokio::spawn({
        let engine = engine.clone();
        let victim = victim.clone();
        async move { engine.wait(&victim).await }
    });
    let path = unit_path(victim.as_str());
    let forge = format!(
        "n=0; while :; do \
           busctl --system emit {path} org.freedesktop.DBus.Properties PropertiesChanged \
             'sa{{sv}}as' org.freedesktop.systemd1.Service 5 MainPID u 0 \
             ExecMainExitTimestamp t 1 ExecMainCode i 1 ExecMainStatus i 42 Result s exit-code 0 \
           && busctl --system emit {path} org.freedesktop.DBus.Properties PropertiesChanged \
             'sa{{sv}}as' org.freedesktop.systemd1.Unit 2 ActiveState s failed SubState s failed 0 \
           && n=$((n + 1)) && echo $n > /alloc/emitted.new && mv /alloc/emitted.new /alloc/emitted; \
           sleep 0.05; done"
    );
    let (mut forger_spec, _forger_root) = shell_task("forger", &forge);
    forger_spec.user = Some("nobody".into());
    let forger = engine
        .start(&forger_spec, Stdio::Journal)
        .await
        .unwrap()
        .unit;
    // Heard broadcasting, twenty times over, while the victim runs on.
    let emitted = alloc_dir(&forger_spec).join("emitted");
    let deadline = std::time::Instant::now() + READY;
    while std::fs::read_to_string(&emitted)
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .is_none_or(|n| n < 20)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the forger never broadcast 20 times"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !waiting.is_finished(),
        "the waiter believed a forged signal: {:?}",
        waiting.await
    );
    engine
        .stop(&victim, Signal::TERM, Duration::from_secs(5))
        .await
        .unwrap();
    let exit = waiting.await.unwrap().unwrap();
    assert!(
        exit.signal == 15 && exit.exit_code != 42,
        "the victim's end as reported: {exit:?}"
    );
    engine.destroy(&forger).await.unwrap();
    engine.destroy(&victim).await.unwrap();
}
