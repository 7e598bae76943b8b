# A Nomad client agent's settings for this driver, as the Debian package lays it out. Copy it
# into the agent's configuration directory (e.g. /etc/nomad.d/systemd-driver.hcl), adjust it,
# and restart the agent. Every setting of the `config` block is described in README.md (the
# package ships it as /usr/share/doc/nomad-systemd/README.md).
#
# The package links the driver into this directory
# (/usr/lib/nomad/plugins/nomad-systemd -> /usr/bin/nomad-systemd). An agent that already
# has a plugin_dir with other plugins keeps it and gets a link there instead:
#   ln -s /usr/bin/nomad-systemd /opt/nomad/plugins/nomad-systemd
plugin_dir = "/usr/lib/nomad/plugins"

# Nomad 1.10 loads only the plugins that have a block here; its name is the file's name in
# plugin_dir. Jobs then say `driver = "systemd"`.
plugin "nomad-systemd" {
  config {
    bus          = "system"  # the agent runs as root; "user" for an unprivileged agent
    default_user = "nobody"  # who a task without `user` runs as
    allow_root   = false     # may a job run its task as root?
    # Match the agent's client { dynamic_user_min/max } (these are Nomad's defaults).
    dynamic_user_min = 80000
    dynamic_user_max = 89999
    # What jobs may ask of the sandbox; nothing beyond the defaults until granted here.
    allowed_host_paths = []
    allow_units        = []
  }
}
