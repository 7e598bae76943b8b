# A web server locked down by systemd's sandbox: an ephemeral user, a read-only system,
# no capabilities but binding a low port, a syscall allow-list.
#   nomad job run examples/sandboxed.nomad.hcl
#
# Needs on the client: the default policy (everything below only tightens), except the
# ambient capability, which the operator grants in the plugin's config:
#   allowed_ambient_capabilities = ["net_bind_service"]
job "sandboxed-web" {
  type = "service"

  group "web" {
    network {
      port "http" {
        static = 80
      }
    }

    task "server" {
      driver = "systemd"

      config {
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "80", "--directory", "/local"]

        dynamic_user       = true
        protect_system     = "strict"
        protect_home       = "yes"
        private_devices    = true
        cap_drop           = ["all"]
        ambient_capabilities = ["net_bind_service"]
        system_call_filter = ["@system-service"]
        inaccessible_paths = ["/var/lib/nomad"]
      }

      template {
        data        = "<h1>Hello from a sandbox</h1>\n"
        destination = "local/index.html"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
