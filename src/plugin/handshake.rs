//! go-plugin's launch contract, plugin side: the magic cookie, the socket, the handshake line.
//!
//! The host (Nomad) starts us with `NOMAD_PLUGIN_MAGIC_COOKIE` in the environment, reads the
//! first line of our stdout — `1|2|unix|<socket>|grpc|` — and dials the socket at once. So the
//! line is printed only once the socket listens, and nothing else is ever written to stdout.
//! The sixth field stays empty, as go-plugin's own servers write it without AutoMTLS: a
//! client reads one longer than 50 characters as the server's TLS certificate (and fails the
//! launch if it does not parse) and then dials with TLS, which this plaintext server does not
//! speak; a shorter one is ignored. A seventh field (gRPC broker multiplexing) is only read by
//! a client that asks for multiplexing, and Nomad's does not, so there is none.

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// The environment variable and value Nomad launches its plugins with.
pub const MAGIC_COOKIE_KEY: &str = "NOMAD_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255";

/// go-plugin's core protocol version and Nomad's plugin protocol version.
const CORE_PROTOCOL: u32 = 1;
const APP_PROTOCOL: u32 = 2;

/// Whether the process was launched by a Nomad client (the cookie is set and right).
pub fn launched_by_nomad() -> bool {
    std::env::var(MAGIC_COOKIE_KEY).is_ok_and(|v| v == MAGIC_COOKIE_VALUE)
}

/// Checks what the host asks for. An error is a sentence for the operator.
pub fn check_environment() -> Result<(), String> {
    if !launched_by_nomad() {
        return Err(format!(
            "this is a Nomad task-driver plugin: Nomad's client starts it from its plugin_dir \
             (with {MAGIC_COOKIE_KEY} set). To run tasks by hand, see `nomad-systemd --help`."
        ));
    }
    if let Ok(versions) = std::env::var("PLUGIN_PROTOCOL_VERSIONS")
        && !versions
            .split(',')
            .any(|v| v.trim() == APP_PROTOCOL.to_string())
    {
        return Err(format!(
            "the host speaks plugin protocol versions {versions}; this plugin speaks {APP_PROTOCOL}"
        ));
    }
    if std::env::var_os("PLUGIN_CLIENT_CERT").is_some() {
        return Err("the host asks for AutoMTLS, which this plugin does not support".into());
    }
    Ok(())
}

/// A fresh unix socket, readable only by us (or by the group go-plugin names), listening.
pub fn listen() -> Result<(UnixListener, PathBuf), String> {
    let dir =
        std::env::var_os("PLUGIN_UNIX_SOCKET_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let path = dir.join(format!("plugin{}", uuid::Uuid::new_v4().simple()));
    let listener = UnixListener::bind(&path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    restrict(&path)?;
    Ok((listener, path))
}

fn restrict(path: &Path) -> Result<(), String> {
    let group = std::env::var("PLUGIN_UNIX_SOCKET_GROUP").ok();
    let mode = if group.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
    if let Some(group) = group {
        let gid = match group.parse::<u32>() {
            Ok(gid) => nix::unistd::Gid::from_raw(gid),
            Err(_) => {
                nix::unistd::Group::from_name(&group)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("PLUGIN_UNIX_SOCKET_GROUP: no group '{group}'"))?
                    .gid
            }
        };
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| format!("cannot give {} to group {group}: {e}", path.display()))?;
    }
    Ok(())
}

/// The handshake line for a socket.
pub fn line(socket: &Path) -> String {
    format!(
        "{CORE_PROTOCOL}|{APP_PROTOCOL}|unix|{}|grpc|\n",
        socket.display()
    )
}

/// Prints the handshake line: the only thing this process ever writes to stdout.
pub fn announce(socket: &Path) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(line(socket).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the handshake to stdout: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_five_fields_and_an_empty_sixth() {
        let l = line(Path::new("/tmp/plugin1"));
        assert_eq!(l, "1|2|unix|/tmp/plugin1|grpc|\n");
        assert_eq!(l.trim().split('|').nth(5), Some(""));
    }
}
