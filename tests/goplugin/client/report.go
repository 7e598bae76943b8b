package main

import (
	"fmt"
	"os"
	"sync"
)

// out serialises everything this program prints: its own step lines and the hclog lines
// go-plugin forwards from the plugin's stderr, so the two interleave in the order they
// happened.
var out sync.Mutex

// step announces what the program is about to do.
func step(format string, args ...interface{}) {
	say("==> "+format, args...)
}

// ok records what a step established.
func ok(format string, args ...interface{}) {
	say("    ok: "+format, args...)
}

func say(format string, args ...interface{}) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// fail reports why the run failed, kills every plugin process still running and exits 1. It
// may be called from any goroutine.
func fail(format string, args ...interface{}) {
	say("FAIL: "+format, args...)
	killAll()
	os.Exit(1)
}

// check fails the run with the message when err is not nil.
func check(err error, format string, args ...interface{}) {
	if err != nil {
		fail("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
