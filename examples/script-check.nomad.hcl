# A script health check runs inside the task (exec): same user, files and /tmp as the task.
#   nomad job run examples/script-check.nomad.hcl
job "checked" {
  group "app" {
    network {
      port "http" {}
    }

    service {
      name     = "checked"
      port     = "http"
      provider = "consul"
      check {
        type     = "script"
        command  = "/bin/sh"
        args     = ["-c", "test -s /tmp/ready"]
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "app" {
      driver = "systemd"
      user   = "nobody"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo ok > /tmp/ready; exec python3 -m http.server ${NOMAD_PORT_http}"]
        logging {
          driver = "journald"
        }
      }
    }
  }
}
