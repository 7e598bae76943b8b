package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// allocDir is an allocation directory laid out as Nomad's client prepares it before it starts
// any task: <root>/alloc/{data,logs,tmp} shared by the group's tasks and
// <root>/<task>/{local,secrets,tmp,private} for each task.
type allocDir struct {
	root string
}

func newAllocDir(parent, allocID string, tasks ...string) (allocDir, error) {
	a := allocDir{root: filepath.Join(parent, allocID)}
	dirs := []string{"alloc", "alloc/data", "alloc/logs", "alloc/tmp"}
	for _, task := range tasks {
		dirs = append(dirs, task, task+"/local", task+"/secrets", task+"/tmp", task+"/private")
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(filepath.Join(a.root, dir), 0o777); err != nil {
			return a, err
		}
	}
	return a, nil
}

// taskLogs are one task run's stdout and stderr FIFOs with the reading side Nomad's logmon
// keeps on them: lines arrive on the channels, which close when every writer has closed.
type taskLogs struct {
	stdoutPath, stderrPath string
	stdout, stderr         <-chan string
}

// openLogs creates alloc/logs/.<task>.stdout.fifo and .stderr.fifo (mode 0600, kept when they
// exist) and starts draining both, as logmon does before StartTask: the reader's blocking open
// is pending when the driver opens the write end, and the FIFOs see EOF only once nobody holds
// a write end any more.
func (a allocDir) openLogs(task string) (taskLogs, error) {
	logs, err := a.createLogs(task)
	if err != nil {
		return logs, err
	}
	return logs.drained(task), nil
}

// createLogs creates the task's FIFOs without opening them: logmon opens its read ends
// asynchronously, so a driver may get there first.
func (a allocDir) createLogs(task string) (taskLogs, error) {
	logs := taskLogs{
		stdoutPath: filepath.Join(a.root, "alloc/logs", "."+task+".stdout.fifo"),
		stderrPath: filepath.Join(a.root, "alloc/logs", "."+task+".stderr.fifo"),
	}
	for _, path := range []string{logs.stdoutPath, logs.stderrPath} {
		if err := syscall.Mkfifo(path, 0o600); err != nil && !os.IsExist(err) {
			return logs, err
		}
	}
	return logs, nil
}

// drained starts draining both FIFOs.
func (l taskLogs) drained(task string) taskLogs {
	l.stdout = drain(l.stdoutPath, task+" stdout")
	l.stderr = drain(l.stderrPath, task+" stderr")
	return l
}

// drain opens the FIFO for reading in the background, echoes each line with a label and
// forwards it; the channel closes at EOF.
func drain(path, label string) <-chan string {
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		f, err := os.OpenFile(path, os.O_RDONLY, 0)
		if err != nil {
			say("    [%s] cannot open %s: %v", label, path, err)
			return
		}
		defer f.Close()
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			say("    [%s] %s", label, scanner.Text())
			lines <- scanner.Text()
		}
	}()
	return lines
}

// awaitLine waits up to timeout for a line containing want, reporting whether it came.
func awaitLine(lines <-chan string, want string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case line, open := <-lines:
			if !open {
				return false
			}
			if strings.Contains(line, want) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// linesUntil collects the lines before the one equal to end, which must come within timeout.
func linesUntil(lines <-chan string, end string, timeout time.Duration) ([]string, bool) {
	var got []string
	deadline := time.After(timeout)
	for {
		select {
		case line, open := <-lines:
			if !open {
				return got, false
			}
			if line == end {
				return got, true
			}
			got = append(got, line)
		case <-deadline:
			return got, false
		}
	}
}

// linesQuietFor collects lines until none has come for quiet, or the stream ends.
func linesQuietFor(lines <-chan string, quiet time.Duration) []string {
	var got []string
	for {
		select {
		case line, open := <-lines:
			if !open {
				return got
			}
			got = append(got, line)
		case <-time.After(quiet):
			return got
		}
	}
}

// awaitEOF waits up to timeout for the stream to end, discarding lines, and reports whether
// it did.
func awaitEOF(lines <-chan string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case _, open := <-lines:
			if !open {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
