# Instances of an installed template unit, one per allocation: each runs as
# webserver@<alloc id>.service and serves on its own Nomad port.
#
# Needs examples/units/webserver@.service installed on the client and allowed in the
# plugin's config:
#
#   plugin "nomad-systemd" {
#     config {
#       allow_units = ["webserver@.service"]
#     }
#   }
job "template-unit" {
  group "web" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name     = "webserver"
      port     = "http"
      provider = "nomad"

      check {
        type     = "http"
        path     = "/"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "systemd"

      config {
        unit = "webserver@.service"
        # unit_instance = "blue"   # default: the allocation id
      }

      # Sent to the unit's main process by `nomad alloc stop`, then SIGKILL after the timeout.
      kill_signal  = "SIGTERM"
      kill_timeout = "10s"

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
