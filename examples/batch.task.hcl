# A task file for `nomad-systemd run -f`: the task block of a job, decoded and checked the way
# the plugin checks a job's task. Try:
#   nomad-systemd run --wait --task-dir -f examples/batch.task.hcl
task "generate" {
  driver = "systemd"

  config {
    command = "/bin/sh"
    args    = ["-c", "echo \"hello from $NOMAD_TASK_NAME as $(id -un)\"; exit 3"]
  }

  env {
    GREETING = "hello"
  }

  resources {
    cpu    = 100
    memory = 32
  }

  kill_timeout = "10s"
}
