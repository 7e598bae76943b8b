//! A group's network (`network { mode = "bridge" }`) for real: namespaces and a veth pair laid
//! out as Nomad's client lays them out (`support::netns`), tasks started through the plugin
//! with the `NetworkIsolationSpec` Nomad sends, and traffic that must or must not arrive.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::netns::{ALLOC_ADDRESS, GroupNetwork};
use support::plugin::{Alloc, Connection, Plugin, driver_config, strings, task_unit, unit_config};
use support::units::install;

const PYTHON: &str = "/usr/bin/python3";
const PORT: &str = "8080";
const READY: Duration = Duration::from_secs(15);

/// A TCP server: listens on every address of its namespace, then writes its namespace to
/// `argv[2]` (the readiness signal), and greets each connection with `argv[3]` and its
/// namespace.
const SERVER: &str = r#"
import os, socket, sys
port, ready, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
net = os.readlink("/proc/self/ns/net")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(8)
with open(ready + ".tmp", "w") as f:
    f.write(net)
os.rename(ready + ".tmp", ready)
while True:
    c, _ = s.accept()
    c.sendall(f"{name} in {net}\n".encode())
    c.close()
"#;

/// A TCP client: prints its namespace, then what the server at `argv[1]:argv[2]` says, or
/// `refused`; any other outcome (timeout, unreachable) is a traceback and exit 1.
const CLIENT: &str = r#"
import os, socket, sys
print(os.readlink("/proc/self/ns/net"))
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
except ConnectionRefusedError:
    print("refused")
    sys.exit(0)
print(s.makefile().read(), end="")
"#;

fn python(script: &str, args: &[&str]) -> Vec<u8> {
    assert!(
        Path::new(PYTHON).exists(),
        "these tests run their servers and clients with {PYTHON}: apt-get install python3"
    );
    driver_config(PYTHON, &[&["-c", script][..], args].concat())
}

/// Starts the group's server task `name` in `net` and waits until it listens.
async fn start_server(conn: &mut Connection, net: &GroupNetwork, name: &str) -> (Alloc, String) {
    let alloc = Alloc::new(name);
    let mut task = alloc.task_config(python(SERVER, &[PORT, "/alloc/listening", name]));
    task.network_isolation_spec = Some(net.spec());
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let ready = alloc.path("alloc/listening");
    let deadline = Instant::now() + READY;
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "the server never listened; its stderr: {}",
            alloc.wait_for_stderr("", Duration::ZERO)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = std::fs::read_to_string(&ready).unwrap();
    assert_eq!(seen, net.id(), "the server is not in the group's namespace");
    (alloc, id)
}

/// Runs the client as a task of its own in `net`, connecting to the port on 127.0.0.1; it must
/// exit 0 and print exactly `want`.
async fn run_client(conn: &mut Connection, net: &GroupNetwork, name: &str, want: &str) {
    let alloc = Alloc::new(name);
    let mut task = alloc.task_config(python(CLIENT, &["127.0.0.1", PORT]));
    task.network_isolation_spec = Some(net.spec());
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    let exit = conn.wait(&id).await.result.unwrap().exit_code;
    conn.destroy(&id).await;
    if exit != 0 {
        // A traceback's last line names the error.
        let stderr = alloc.wait_for_stderr("Error", READY);
        panic!("the client {name} exited {exit}: {stderr}");
    }
    assert_eq!(alloc.wait_for_stdout(want, READY), want);
}

#[tokio::test]
async fn a_group_network_task_joins_the_namespace_nomad_made() {
    let net = GroupNetwork::isolated();
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("netns");
    let mut task = alloc.task_config(driver_config(
        "/bin/sh",
        &["-c", "readlink /proc/self/ns/net > /alloc/net"],
    ));
    task.network_isolation_spec = Some(net.spec());
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    assert_eq!(conn.wait(&id).await.result.unwrap().exit_code, 0);
    let seen = std::fs::read_to_string(alloc.path("alloc/net")).unwrap();
    assert_eq!(seen.trim(), net.id());
    conn.destroy(&id).await;
}

#[tokio::test]
async fn a_task_on_a_bridge_network_is_reached_from_the_node_through_the_veth() {
    let net = GroupNetwork::bridged();
    let (_plugin, mut conn) = Plugin::configured().await;
    let (_alloc, id) = start_server(&mut conn, &net, "web").await;
    let want = format!("web in {}", net.id());
    // The server listens; the route from the node's bridge may still be coming up.
    let deadline = Instant::now() + READY;
    loop {
        let out = net.on_node(&[PYTHON, "-c", CLIENT, ALLOC_ADDRESS, PORT]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.contains(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node never reached {ALLOC_ADDRESS}:{PORT}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    conn.destroy(&id).await;
}

#[tokio::test]
async fn tasks_of_one_group_and_exec_sessions_share_its_network() {
    let net = GroupNetwork::bridged();
    let (_plugin, mut conn) = Plugin::configured().await;
    let (_alloc, web) = start_server(&mut conn, &net, "web").await;
    let greeting = format!("web in {}", net.id());

    // A second task of the group reaches the first on the loopback they share.
    run_client(
        &mut conn,
        &net,
        "sidecar",
        &format!("{}\n{greeting}\n", net.id()),
    )
    .await;

    // `nomad alloc exec` into the task runs in its namespace too.
    let exec = conn
        .exec(
            &web,
            &[PYTHON, "-c", CLIENT, "127.0.0.1", PORT],
            Some(READY),
        )
        .await
        .unwrap();
    let seen = String::from_utf8_lossy(&exec.stdout);
    assert_eq!(
        exec.result.as_ref().map(|r| r.exit_code),
        Some(0),
        "{seen}{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    assert_eq!(seen, format!("{}\n{greeting}\n", net.id()));
    conn.destroy(&web).await;
}

#[tokio::test]
async fn a_task_of_another_group_does_not_reach_a_groups_network_on_localhost() {
    let net = GroupNetwork::bridged();
    let other = GroupNetwork::isolated();
    let (_plugin, mut conn) = Plugin::configured().await;
    let (_alloc, web) = start_server(&mut conn, &net, "web").await;

    // In its own group's namespace, where nothing listens: refused, not reached.
    run_client(
        &mut conn,
        &other,
        "intruder",
        &format!("{}\nrefused\n", other.id()),
    )
    .await;
    // The same client given the group's namespace does reach it (the refusal is the
    // namespace's doing, not the client's).
    let reached = format!("{}\nweb in {}\n", net.id(), net.id());
    run_client(&mut conn, &net, "member", &reached).await;
    conn.destroy(&web).await;
}

#[tokio::test]
async fn an_installed_unit_of_a_group_joins_its_network() {
    let net = GroupNetwork::isolated();
    let record = Path::new("/run/nsg-net.record");
    let _ = std::fs::remove_file(record);
    install(&[(
        "nsg-net.service",
        &format!(
            "[Service]\nExecStart=/bin/sh -c 'readlink /proc/self/ns/net > {}'\n",
            record.display()
        ),
    )]);
    let (_plugin, mut conn) =
        Plugin::configured_with(&[("allow_units", strings(&["nsg-net.service"]))]).await;
    let alloc = Alloc::new("net");
    let mut task = alloc.task_config(unit_config("nsg-net.service"));
    task.network_isolation_spec = Some(net.spec());
    let id = task.id.clone();
    conn.start(task).await.unwrap();
    assert_eq!(
        support::wait_for_file(record, support::READY).trim(),
        net.id()
    );
    conn.destroy(&id).await;
}

/// Nomad's exec driver fails the start when it cannot open the namespace; so does this one,
/// instead of reporting a started task that exits 225.
#[tokio::test]
async fn a_group_namespace_that_is_gone_fails_the_start_naming_it() {
    let gone = GroupNetwork::isolated();
    let spec = gone.spec();
    drop(gone);
    assert!(!Path::new(&spec.path).exists());
    let (_plugin, mut conn) = Plugin::configured().await;
    let alloc = Alloc::new("gone");
    let mut task = alloc.task_config(driver_config("/bin/true", &[]));
    task.network_isolation_spec = Some(spec.clone());
    let unit = task_unit(&task);
    let err = conn.start(task).await.unwrap_err();
    support::assert_no_unit(&support::engine().await, &unit).await;
    assert!(
        err.message()
            .contains("network namespace could not be joined")
            && err.message().contains(&spec.path),
        "{err}"
    );
}
