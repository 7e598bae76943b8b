package main

import (
	"context"
	"sort"
	"strings"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"nomadsystemd/proto/driver"
	"nomadsystemd/proto/hclspec"
)

// The scenarios' job config blocks.
const (
	echoTask = `
command = "/bin/sh"
args    = ["-c", "echo late-reader-got-this"]
`
	// env itself, not a shell: a shell drops variables whose names it cannot hold.
	envTask = `
command = "/usr/bin/env"
`
	idTask = `
command = "/bin/sh"
args    = ["-c", "id -u; id -g; echo done"]
`
	serviceTask = `
command = "/bin/sh"
args    = ["-c", "echo up; exec sleep 300"]
`
)

// workloadUID is the uid of the dynamic workload user the client hands a task without a
// `user`, within the client's default range 80000-89999.
const workloadUID = "80555"

// runScenarios drives what a Nomad client does beyond a task's plain life: a logmon that opens
// its read ends after StartTask was called, environment names only Nomad allows, a dynamic
// workload user, and two plugin crashes under a running task, one answered by RecoverTask
// and one by a StartTask retried with the same task id. It returns the instance left running.
func (i *instance) runScenarios(binary string, logger hclog.Logger, cfg loaded, spec *hclspec.Spec, allocRoot string) *instance {
	j := job{allocID: newUUID(), jobName: "goplugin-scenarios", group: "svc"}
	dir, err := newAllocDir(allocRoot, j.allocID, "late", "env", "user", "crash", "retry")
	check(err, "creating the allocation directory")
	j.dir = dir

	i.lateReader(j, spec)
	i.environment(j, spec)
	i.workloadUser(j, spec)
	i = i.recoverAfterCrash(binary, logger, cfg, j, spec)
	return i.startRetriedAfterCrash(binary, logger, cfg, j, spec)
}

// lateReader starts a task while logmon has created the FIFOs but not yet opened them, and
// opens them a second later: the plugin must wait for the reader, not fail.
func (i *instance) lateReader(j job, spec *hclspec.Spec) {
	step("logmon opens the FIFOs' read ends 1 s after StartTask was called")
	logs, err := j.dir.createLogs("late")
	check(err, "creating the FIFOs")
	task := j.taskConfig("late", encodeTask(spec, echoTask), logs)
	started := make(chan struct{})
	go func() {
		i.startTask(task)
		close(started)
	}()
	time.Sleep(time.Second)
	logs = logs.drained("late")
	select {
	case <-started:
	case <-time.After(rpcTimeout):
		fail("StartTask %s did not return within %v of the reader opening", task.Id, rpcTimeout)
	}
	if !awaitLine(logs.stdout, "late-reader-got-this", 15*time.Second) {
		fail("the output of a task whose reader opened late did not arrive")
	}
	result := awaitExit(i.waitTask(task.Id), task.Id)
	if result.GetExitCode() != 0 {
		fail("the task exited %d, want 0", result.GetExitCode())
	}
	ok("output arrived, exit code 0")
	i.destroyTask(task.Id)
	logs.awaitClosed()
}

// environment gives the task variables whose names only Nomad allows (dots, dashes, a meta
// key with a dot): exec passes them through, and so must we.
func (i *instance) environment(j job, spec *hclspec.Spec) {
	step("env names with dots and dashes reach the task")
	logs := i.openLogs(j.dir, "env")
	task := j.taskConfig("env", encodeTask(spec, envTask), logs)
	task.Env["app.name"] = "x"
	task.Env["my-var"] = "y"
	task.Env["NOMAD_META_team.owner"] = "ops"
	i.startTask(task)
	awaitExit(i.waitTask(task.Id), task.Id)
	var got []string
	for _, line := range linesQuietFor(logs.stdout, time.Second) {
		for _, name := range []string{"NOMAD_META_team.owner=", "app.name=", "my-var="} {
			if strings.HasPrefix(line, name) {
				got = append(got, line)
			}
		}
	}
	sort.Strings(got)
	want := []string{"NOMAD_META_team.owner=ops", "app.name=x", "my-var=y"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		fail("the task saw %q, want %q", got, want)
	}
	ok("%s", strings.Join(got, ", "))
	i.destroyTask(task.Id)
	logs.awaitClosed()
}

// workloadUser sends what a Nomad 1.8+ client sends for a task without `user` when the driver
// advertises dynamic workload users: `nomad-<N>`, to run as uid and gid N.
func (i *instance) workloadUser(j job, spec *hclspec.Spec) {
	step("a task without user runs as the workload user nomad-%s", workloadUID)
	logs := i.openLogs(j.dir, "user")
	task := j.taskConfig("user", encodeTask(spec, idTask), logs)
	task.User = "nomad-" + workloadUID
	i.startTask(task)
	got, ended := linesUntil(logs.stdout, "done", 15*time.Second)
	if !ended || len(got) != 2 || got[0] != workloadUID || got[1] != workloadUID {
		fail("the task's uid and gid are %q, want %s twice", got, workloadUID)
	}
	ok("uid %s, gid %s", got[0], got[1])
	awaitExit(i.waitTask(task.Id), task.Id)
	i.destroyTask(task.Id)
	logs.awaitClosed()
}

// recoverAfterCrash kills the plugin under a running task, dispenses a new one as Nomad's
// driver manager does, and recovers the task from its stored handle; the task keeps running
// and ends as a recovered task should.
func (i *instance) recoverAfterCrash(binary string, logger hclog.Logger, cfg loaded, j job, spec *hclspec.Spec) *instance {
	step("a running task outlives a plugin crash and is recovered")
	logs := i.openLogs(j.dir, "crash")
	task := j.taskConfig("crash", encodeTask(spec, serviceTask), logs)
	handle := i.startTask(task)
	if !awaitLine(logs.stdout, "up", 15*time.Second) {
		fail("the task did not start")
	}
	i.crash()
	next := dispenseDriver(binary, logger, cfg)
	step("RecoverTask %s from its handle", task.Id)
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	_, err := next.client.driver.RecoverTask(ctx, &driver.RecoverTaskRequest{TaskId: task.Id, Handle: handle})
	check(err, "RecoverTask %s", task.Id)
	ok("recovered")
	next.stopAndDestroy(task.Id, logs)
	return next
}

// startRetriedAfterCrash is Nomad's answer to a plugin that died during StartTask: a new
// plugin gets the same StartTask again, same task id. The unit the first one started is that
// task; it is adopted, not duplicated.
func (i *instance) startRetriedAfterCrash(binary string, logger hclog.Logger, cfg loaded, j job, spec *hclspec.Spec) *instance {
	step("StartTask retried with the same task id after a plugin crash")
	logs := i.openLogs(j.dir, "retry")
	task := j.taskConfig("retry", encodeTask(spec, serviceTask), logs)
	i.startTask(task)
	if !awaitLine(logs.stdout, "up", 15*time.Second) {
		fail("the task did not start")
	}
	i.crash()
	next := dispenseDriver(binary, logger, cfg)
	handle := next.startTask(task)
	if handle.GetConfig().GetId() != task.Id {
		fail("the retried StartTask answered for %q", handle.GetConfig().GetId())
	}
	next.stopAndDestroy(task.Id, logs)
	return next
}

// stopAndDestroy stops a running task with SIGTERM, checks how it ended, destroys it and
// checks its FIFOs are released.
func (i *instance) stopAndDestroy(id string, logs taskLogs) {
	waited := i.waitTask(id)
	step("StopTask(timeout 5s, SIGTERM)")
	i.stopTask(id, 5*time.Second, "SIGTERM")
	result := awaitExit(waited, id)
	if result.GetExitCode() != 143 && result.GetSignal() != 15 {
		fail("WaitTask for %s: exit_code %d, signal %d; want a SIGTERM death", id, result.GetExitCode(), result.GetSignal())
	}
	ok("exit_code %d, signal %d", result.GetExitCode(), result.GetSignal())
	i.destroyTask(id)
	logs.awaitClosed()
}

// crash kills the plugin process with SIGKILL, as a crash or the OOM killer would: no
// Shutdown, no chance to clean up. Its tasks are systemd's and keep running.
func (i *instance) crash() {
	step("kill -9 the plugin process")
	reattach := i.launch.client.ReattachConfig()
	if reattach == nil || reattach.Pid == 0 {
		fail("go-plugin does not know the plugin's pid")
	}
	i.stopStreams()
	check(syscall.Kill(reattach.Pid, syscall.SIGKILL), "kill -9 %d", reattach.Pid)
	for deadline := time.Now().Add(5 * time.Second); !i.launch.client.Exited(); {
		if time.Now().After(deadline) {
			fail("the plugin process %d is still running 5 s after SIGKILL", reattach.Pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	liveMu.Lock()
	delete(live, i.launch)
	liveMu.Unlock()
	ok("process %d killed", reattach.Pid)
}
