# A batch job: its exit code is the task's result; Nomad (not systemd) decides on restarts.
#   nomad job run examples/batch.nomad.hcl
job "report" {
  type = "batch"

  group "report" {
    restart {
      attempts = 2
      mode     = "fail"
    }

    task "generate" {
      driver = "systemd"

      config {
        command = "/bin/sh"
        args    = ["-c", "date > /alloc/data/report.txt; wc -c /alloc/data/report.txt"]
        logging {
          driver = "nomad"
        }
      }

      resources {
        cpu        = 100
        memory     = 32
        memory_max = 64
      }
    }
  }
}
