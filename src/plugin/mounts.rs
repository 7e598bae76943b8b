//! Nomad's volume mounts (host volumes, CSI volumes): how each mount's `propagation_mode` and
//! `selinux_label` are served.
//!
//! A mount becomes a bind mount in the task's mount namespace (`BindPaths`). systemd sets that
//! namespace up as a slave of the host's and gives its bind mounts no propagation of their
//! own, so every mount of a task receives what is mounted later beneath its host path and
//! never sends anything back to the host. Nomad's modes, as its exec driver reads them
//! (`drivers/shared/executor`):
//!
//! - `private` (what Nomad's API fills in when the job names none) and `""`: served as that
//!   namespace gives it, one-way from the host. Nothing the task mounts reaches the host.
//! - `host-to-task`: exactly what the namespace gives.
//! - `bidirectional`: refused. The task's own mounts would reach the host, and systemd offers
//!   no per-mount way to allow that (its `MountFlags=shared` is the whole namespace's, and a
//!   job may not set it).
//!
//! `selinux_label` asks for the volume's files to be relabelled (`z`/`Z`), which systemd's
//! bind mounts cannot do: a non-empty label is refused rather than ignored. Nomad's exec
//! driver ignores it; a job that sets it expects a relabel, and silence would hide that none
//! happened.
//!
//! On a user service manager (`bus = "user"`) every mount is refused, so no mount support is
//! advertised there (`MountConfigs` NONE, in the driver's Capabilities) and Nomad places no
//! volume job on the node.

use super::proto::driver as pb;
use crate::core::sandbox::Mount;
use crate::core::{Error, Result};

/// Nomad's `propagation_mode` values (`nomad/structs/volumes.go`).
const PRIVATE: &str = "private";
const HOST_TO_TASK: &str = "host-to-task";
const BIDIRECTIONAL: &str = "bidirectional";

/// The task's bind mounts from Nomad's, or an [`Error::InvalidConfig`] naming the volume's
/// setting that cannot be honoured (see the module docs). The user bus's own refusal of
/// every mount is the policy's; this checks what any bus would refuse.
pub fn from_nomad(mounts: &[pb::Mount]) -> Result<Vec<Mount>> {
    mounts.iter().map(one).collect()
}

fn one(m: &pb::Mount) -> Result<Mount> {
    let name = if m.request_name.is_empty() {
        m.task_path.clone()
    } else {
        format!("{} ({})", m.request_name, m.task_path)
    };
    match m.propagation_mode.as_str() {
        "" | PRIVATE | HOST_TO_TASK => {}
        BIDIRECTIONAL => {
            return Err(Error::invalid(
                "volume_mount.propagation_mode",
                format!(
                    "\"bidirectional\" on the mount at {name} is not supported: systemd binds a \
                     volume into the task's mount namespace, which receives mounts from the \
                     host but never sends the task's own mounts back; use \"private\" or \
                     \"host-to-task\""
                ),
            ));
        }
        other => {
            return Err(Error::invalid(
                "volume_mount.propagation_mode",
                format!(
                    "{other:?} on the mount at {name} is not one of Nomad's modes (\"private\", \
                     \"host-to-task\", \"bidirectional\")"
                ),
            ));
        }
    }
    if !m.selinux_label.is_empty() {
        return Err(Error::invalid(
            "volume_mount.selinux_label",
            format!(
                "{:?} on the mount at {name} is not supported: systemd's bind mounts cannot \
                 relabel a volume's files; relabel them on the host and remove selinux_label",
                m.selinux_label
            ),
        ));
    }
    Ok(Mount {
        host_path: m.host_path.clone(),
        task_path: m.task_path.clone(),
        read_only: m.readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(propagation: &str, selinux: &str) -> pb::Mount {
        pb::Mount {
            task_path: "/data".into(),
            host_path: "/srv/data".into(),
            readonly: true,
            propagation_mode: propagation.into(),
            selinux_label: selinux.into(),
            request_name: "data".into(),
        }
    }

    #[test]
    fn private_host_to_task_and_none_bind_the_volume() {
        for mode in ["", "private", "host-to-task"] {
            let m = one(&mount(mode, "")).unwrap();
            assert_eq!(m.host_path, "/srv/data");
            assert_eq!(m.task_path, "/data");
            assert!(m.read_only);
        }
    }

    #[test]
    fn bidirectional_is_refused_naming_the_setting_and_the_mount() {
        let e = one(&mount("bidirectional", "")).unwrap_err().to_string();
        assert!(e.contains("propagation_mode"), "{e}");
        assert!(e.contains("data (/data)"), "{e}");
    }

    #[test]
    fn an_unknown_mode_is_refused() {
        let e = one(&mount("rshared", "")).unwrap_err().to_string();
        assert!(
            e.contains("propagation_mode") && e.contains("rshared"),
            "{e}"
        );
    }

    #[test]
    fn an_selinux_label_is_refused_not_ignored() {
        for label in ["z", "Z"] {
            let e = one(&mount("private", label)).unwrap_err().to_string();
            assert!(e.contains("selinux_label"), "{e}");
        }
    }
}
