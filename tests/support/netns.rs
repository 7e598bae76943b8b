//! Network namespaces laid out the way Nomad's client lays out a group's `bridge` network, made
//! with `ip` (iproute2) and deleted when dropped, also when a test panics.
//!
//! Nomad creates `/var/run/netns/<alloc id>`, brings its loopback up, and joins it to the node
//! through a veth pair: `eth0` inside (172.26.64.x/20, default route via the bridge) and the
//! other end on the node's `nomad` bridge (172.26.64.1/20). Here the node's side is a namespace
//! of its own too, so nothing is ever configured on the network of the machine the tests run
//! on (the sandboxed systemd shares that machine's network namespace).

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use nomad_systemd::plugin::proto::driver as pb;

/// The node's end: the address of Nomad's `nomad` bridge.
pub const NODE_ADDRESS: &str = "172.26.64.1";
/// The allocation's address on the bridge network, on its `eth0`.
pub const ALLOC_ADDRESS: &str = "172.26.64.2";

/// One allocation's network namespace, and for a bridged one the node's side of its veth.
pub struct GroupNetwork {
    /// The namespace's name under `/var/run/netns`, an allocation id as Nomad names it.
    pub name: String,
    /// The namespace standing in for the node's, when bridged.
    node: Option<String>,
}

impl GroupNetwork {
    /// A namespace with only its loopback up (what Nomad's CNI `loopback` plugin does), as
    /// for a group whose network nobody reaches from outside.
    pub fn isolated() -> GroupNetwork {
        let name = uuid::Uuid::new_v4().to_string();
        ip(&["netns", "add", &name]);
        let made = GroupNetwork { name, node: None };
        ip(&["-n", &made.name, "link", "set", "lo", "up"]);
        made
    }

    /// A namespace joined to a stand-in node through a bridge and a veth pair, addressed as
    /// Nomad addresses them.
    pub fn bridged() -> GroupNetwork {
        let mut made = GroupNetwork::isolated();
        let node = format!("nsd-node-{}", &made.name[..8]);
        ip(&["netns", "add", &node]);
        made.node = Some(node.clone());
        let on_node = |args: &[&str]| ip(&[&["-n", node.as_str()][..], args].concat());
        on_node(&["link", "set", "lo", "up"]);
        on_node(&["link", "add", "name", "nomad", "type", "bridge"]);
        on_node(&["addr", "add", &format!("{NODE_ADDRESS}/20"), "dev", "nomad"]);
        on_node(&["link", "set", "nomad", "up"]);
        on_node(&[
            "link", "add", "name", "veth0", "type", "veth", "peer", "name", "eth0", "netns",
            &made.name,
        ]);
        on_node(&["link", "set", "veth0", "master", "nomad"]);
        on_node(&["link", "set", "veth0", "up"]);
        let in_alloc = |args: &[&str]| ip(&[&["-n", made.name.as_str()][..], args].concat());
        in_alloc(&["addr", "add", &format!("{ALLOC_ADDRESS}/20"), "dev", "eth0"]);
        in_alloc(&["link", "set", "eth0", "up"]);
        in_alloc(&["route", "add", "default", "via", NODE_ADDRESS]);
        made
    }

    /// The path Nomad hands the driver.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    /// What `readlink /proc/self/ns/net` says inside the namespace.
    pub fn id(&self) -> String {
        let inode = std::fs::metadata(self.path())
            .expect("the namespace's file")
            .ino();
        format!("net:[{inode}]")
    }

    /// The `NetworkIsolationSpec` Nomad's client puts in every TaskConfig of the group.
    pub fn spec(&self) -> pb::NetworkIsolationSpec {
        pb::NetworkIsolationSpec {
            mode: pb::network_isolation_spec::NetworkIsolationMode::Group as i32,
            path: self.path().display().to_string(),
            ..Default::default()
        }
    }

    /// Runs `argv` in the node's namespace (`ip netns exec`).
    pub fn on_node(&self, argv: &[&str]) -> Output {
        let node = self
            .node
            .as_deref()
            .expect("only a bridged network has a node side");
        Command::new("ip")
            .args(["netns", "exec", node])
            .args(argv)
            .output()
            .expect("`ip` (iproute2) runs commands in the node's namespace")
    }
}

impl Drop for GroupNetwork {
    fn drop(&mut self) {
        // Deleting the node's namespace deletes the veth pair and the bridge with it.
        for name in self.node.iter().chain([&self.name]) {
            let _ = Command::new("ip").args(["netns", "delete", name]).output();
        }
    }
}

/// `ip ARGS`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` (iproute2) is needed to build the group network: apt-get install iproute2");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
