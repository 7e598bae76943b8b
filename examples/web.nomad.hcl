# A web server per allocation, each on the port Nomad assigns it.
#   nomad job run examples/web.nomad.hcl
job "hello-web" {
  type = "service"

  group "web" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name     = "hello-web"
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
        command = "/usr/bin/python3"
        # Nomad interpolates ${...} before the plugin sees it; nothing goes through a shell.
        args = ["-m", "http.server", "${NOMAD_PORT_http}", "--directory", "/local"]
      }

      template {
        data        = "<h1>Hello from {{ env \"NOMAD_ALLOC_ID\" }}</h1>\n"
        destination = "local/index.html"
      }

      resources {
        cpu    = 200
        memory = 64
      }

      kill_signal  = "SIGTERM"
      kill_timeout = "10s"
    }
  }
}
