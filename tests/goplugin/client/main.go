// Command client loads the nomad-systemd plugin through HashiCorp's go-plugin client library,
// configured as Nomad's plugin loader configures it, and drives it through what a Nomad
// 1.8-1.10 client does with a task driver: the two loader launches at agent start, then the
// driver manager's launch with two runs of a task. It prints a line per step and exits 1 with
// the reason at the first departure from what Nomad needs.
//
// Usage: client PLUGIN-BINARY. Allocation directories go under $TMPDIR.
package main

import (
	"fmt"
	"os"
	"time"
)

// deadline bounds the whole run, so a hung plugin fails it instead of stalling it.
const deadline = 4 * time.Minute

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: client PLUGIN-BINARY")
		os.Exit(2)
	}
	binary := os.Args[1]
	time.AfterFunc(deadline, func() { fail("the run did not finish within %v", deadline) })
	logger := newLogger()

	cfg := loadPlugin(binary, logger)

	inst := dispenseDriver(binary, logger, cfg)
	step("TaskConfigSchema")
	spec := inst.taskConfigSchema()
	step("Capabilities")
	inst.capabilities()
	allocRoot, err := os.MkdirTemp("", "nomad-alloc-")
	check(err, "creating a directory for allocations")
	check(os.Chmod(allocRoot, 0o755), "making %s traversable as Nomad's alloc_dir is", allocRoot)
	inst.runTasks(spec, allocRoot)
	inst = inst.runScenarios(binary, logger, cfg, spec, allocRoot)
	inst.shutdown()
	check(os.RemoveAll(allocRoot), "removing %s", allocRoot)
	say("PASS: the plugin did everything a Nomad client asked of it")
}
