package main

import (
	"os"
	"os/exec"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
)

// launch is one plugin process, started and handshaken by go-plugin.
type launch struct {
	client *plugin.Client
	rpc    plugin.ClientProtocol
}

var (
	liveMu sync.Mutex
	live   = map[*launch]bool{}
)

// start runs the plugin binary with no arguments and the ClientConfig Nomad's loader builds
// (handshake, the base and driver plugin types, gRPC only, a logger, nothing else: no
// AutoMTLS, no port range, no managed mode) and completes the handshake.
func start(binary string, logger hclog.Logger) *launch {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          map[string]plugin.Plugin{"base": basePlugin{}, "driver": driverPlugin{}},
		Cmd:              exec.Command(binary),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
	})
	l := &launch{client: client}
	liveMu.Lock()
	live[l] = true
	liveMu.Unlock()
	rpc, err := client.Client()
	check(err, "go-plugin handshake with %s", binary)
	l.rpc = rpc
	return l
}

// dispense returns the plugin type Nomad asks for by name ("base" or "driver").
func (l *launch) dispense(name string) interface{} {
	raw, err := l.rpc.Dispense(name)
	check(err, "dispense %q", name)
	return raw
}

// kill is Nomad's plugin.Kill(): GRPCController/Shutdown, then up to 2 s for the process to
// exit before go-plugin resorts to SIGKILL. It fails the run unless the plugin exited by
// itself within those 2 s.
func (l *launch) kill() {
	began := time.Now()
	l.client.Kill()
	took := time.Since(began)
	liveMu.Lock()
	delete(live, l)
	liveMu.Unlock()
	if !l.client.Exited() {
		fail("the plugin process is still running after Kill()")
	}
	if took >= 2*time.Second {
		fail("the plugin did not exit within 2 s of GRPCController/Shutdown (Kill took %v); go-plugin had to SIGKILL it", took.Round(time.Millisecond))
	}
	ok("plugin process exited %v after Kill()", took.Round(time.Millisecond))
}

// killAll kills every plugin process this program started and has not killed yet.
func killAll() {
	liveMu.Lock()
	defer liveMu.Unlock()
	for l := range live {
		l.client.Kill()
	}
}

// newLogger is the hclog logger go-plugin forwards the plugin's stderr into, at the level in
// NOMAD_SYSTEMD_TEST_LOG (default debug).
func newLogger() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("NOMAD_SYSTEMD_TEST_LOG"))
	if level == hclog.NoLevel {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: "nomad", Level: level, Output: os.Stdout, Mutex: &out})
}
