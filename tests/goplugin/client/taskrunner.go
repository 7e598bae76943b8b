package main

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"nomadsystemd/proto/driver"
	"nomadsystemd/proto/hclspec"
)

// The job's config blocks, as a job file would write them.
const (
	longRunningTask = `
command = "/bin/sh"
args    = ["-c", "echo hello-from-task; sleep 30"]
`
	failingTask = `
command = "/bin/sh"
args    = ["-c", "exit 7"]
`
)

// runTasks drives one allocation's task "web" through two runs, as Nomad's task runner does:
// the first is started, stopped with SIGTERM and destroyed; the second (a restart, so a new
// task id) exits 7 by itself and is destroyed.
func (i *instance) runTasks(spec *hclspec.Spec, allocRoot string) {
	j := job{allocID: newUUID(), jobName: "goplugin-test", group: "web-group"}
	dir, err := newAllocDir(allocRoot, j.allocID, "web")
	check(err, "creating the allocation directory")
	j.dir = dir

	logs := i.openLogs(dir, "web")
	task := j.taskConfig("web", encodeTask(spec, longRunningTask), logs)
	i.startTask(task)
	waited := i.waitTask(task.Id)

	step("the task's stdout reaches the stdout FIFO")
	if !awaitLine(logs.stdout, "hello-from-task", 15*time.Second) {
		fail("\"hello-from-task\" did not arrive on %s within 15 s", logs.stdoutPath)
	}
	ok("read \"hello-from-task\"")

	step("StopTask(timeout 5s, SIGTERM)")
	i.stopTask(task.Id, 5*time.Second, "SIGTERM")
	step("WaitTask returns how the stopped task ended")
	result := awaitExit(waited, task.Id)
	if result.GetExitCode() != 143 && result.GetSignal() != 15 {
		fail("WaitTask for %s: exit_code %d, signal %d; a SIGTERM death is exit_code 143 or signal 15", task.Id, result.GetExitCode(), result.GetSignal())
	}
	ok("exit_code %d, signal %d", result.GetExitCode(), result.GetSignal())
	i.destroyTask(task.Id)
	logs.awaitClosed()

	logs = i.openLogs(dir, "web")
	task = j.taskConfig("web", encodeTask(spec, failingTask), logs)
	i.startTask(task)
	step("WaitTask returns the exit code of a task that exits 7")
	result = awaitExit(i.waitTask(task.Id), task.Id)
	if result.GetExitCode() != 7 || result.GetSignal() != 0 {
		fail("WaitTask for %s: exit_code %d, signal %d; want exit_code 7", task.Id, result.GetExitCode(), result.GetSignal())
	}
	ok("exit_code 7")
	i.destroyTask(task.Id)
	logs.awaitClosed()
}

// openLogs prepares the task's FIFOs and their readers, as logmon does in the task's
// prestart.
func (i *instance) openLogs(dir allocDir, task string) taskLogs {
	step("logmon: create %s's FIFOs and open their read ends", task)
	logs, err := dir.openLogs(task)
	check(err, "creating the FIFOs for %s", task)
	ok("%s", logs.stdoutPath)
	return logs
}

// encodeTask encodes a job's config block against the plugin's task config spec.
func encodeTask(spec *hclspec.Spec, hcl string) []byte {
	encoded, err := encodeConfig(spec, hcl)
	check(err, "encoding the task config")
	return encoded
}

// startTask starts the task and checks the handle Nomad stores to recover it later, which it
// returns.
func (i *instance) startTask(task *driver.TaskConfig) *driver.TaskHandle {
	step("StartTask %s", task.Id)
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	resp, err := i.client.driver.StartTask(ctx, &driver.StartTaskRequest{Task: task})
	check(err, "StartTask %s", task.Id)
	handle := resp.GetHandle()
	switch {
	case handle == nil:
		fail("StartTask %s: the response has no handle; Nomad could not recover the task", task.Id)
	case handle.GetVersion() < 1:
		fail("StartTask %s: handle.version is %d; 0 is reserved by Nomad", task.Id, handle.GetVersion())
	case handle.GetConfig().GetId() != task.Id:
		fail("StartTask %s: handle.config.id is %q; Nomad recovers the task by that id", task.Id, handle.GetConfig().GetId())
	case len(handle.GetDriverState()) == 0:
		fail("StartTask %s: handle.driver_state is empty; recovery after an agent restart has nothing to go on", task.Id)
	}
	ok("handle version %d, state %v, %d bytes of driver_state", handle.GetVersion(), handle.GetState(), len(handle.GetDriverState()))
	return handle
}

// waitTask calls WaitTask in the background right away, as Nomad does after every start, and
// delivers its answer later.
func (i *instance) waitTask(id string) <-chan waitOutcome {
	outcome := make(chan waitOutcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		resp, err := i.client.driver.WaitTask(ctx, &driver.WaitTaskRequest{TaskId: id})
		outcome <- waitOutcome{resp, err}
	}()
	return outcome
}

type waitOutcome struct {
	resp *driver.WaitTaskResponse
	err  error
}

// awaitExit takes WaitTask's answer, which must come within 30 s and carry a result (Nomad
// 1.8-1.10 dereference it).
func awaitExit(waited <-chan waitOutcome, id string) *driver.ExitResult {
	select {
	case w := <-waited:
		check(w.err, "WaitTask %s", id)
		if w.resp.GetResult() == nil {
			fail("WaitTask %s: the response has no result; Nomad 1.8-1.10 clients crash on that", id)
		}
		if w.resp.GetErr() != "" {
			say("    WaitTask err: %q", w.resp.GetErr())
		}
		return w.resp.GetResult()
	case <-time.After(30 * time.Second):
		fail("WaitTask %s: no answer within 30 s", id)
		return nil
	}
}

func (i *instance) stopTask(id string, timeout time.Duration, signal string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+rpcTimeout)
	defer cancel()
	_, err := i.client.driver.StopTask(ctx, &driver.StopTaskRequest{
		TaskId:  id,
		Timeout: durationpb.New(timeout),
		Signal:  signal,
	})
	check(err, "StopTask %s", id)
	ok("stopped")
}

// destroyTask is the DestroyTask(force=true) Nomad sends once a task has exited.
func (i *instance) destroyTask(id string) {
	step("DestroyTask %s (force)", id)
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	_, err := i.client.driver.DestroyTask(ctx, &driver.DestroyTaskRequest{TaskId: id, Force: true})
	check(err, "DestroyTask %s", id)
	ok("destroyed")
}

// awaitClosed checks that, once the task is destroyed, nothing holds the write ends of its
// FIFOs any more: neither systemd nor a descriptor leaked in the plugin.
func (l taskLogs) awaitClosed() {
	step("the FIFOs reach EOF: no write end is left open")
	for path, lines := range map[string]<-chan string{l.stdoutPath: l.stdout, l.stderrPath: l.stderr} {
		if !awaitEOF(lines, 10*time.Second) {
			fail("%s: a write end is still open 10 s after DestroyTask", path)
		}
	}
	ok("both closed")
}
