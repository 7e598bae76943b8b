package main

import (
	"context"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"nomadsystemd/proto/base"
	"nomadsystemd/proto/driver"
	"nomadsystemd/proto/hclspec"
)

// instance is the long-lived plugin process Nomad's driver manager dispenses (launch 3),
// with the Fingerprint and TaskEvents streams it keeps open for the plugin's whole life.
type instance struct {
	launch      *launch
	client      *driverClient
	stopStreams context.CancelFunc
	streamEnded map[string]<-chan error
}

// dispenseDriver does what Nomad's driver manager does when the client starts: a fresh
// launch, SetConfig with nomad_config.driver set, then the Fingerprint and TaskEvents
// streams. The first fingerprint must arrive promptly and say HEALTHY.
func dispenseDriver(binary string, logger hclog.Logger, cfg loaded) *instance {
	step("launch 3 (driver manager): start, handshake, dispense driver")
	l := start(binary, logger)
	client := l.dispense("driver").(*driverClient)
	ok("driver dispensed")

	step("SetConfig with nomad_config.driver: ports 14000-14512, 2 cores at 2000 MHz")
	setConfig(client.base, &base.SetConfigRequest{
		MsgpackConfig:    cfg.pluginConfig,
		PluginApiVersion: cfg.apiVersion,
		NomadConfig: &base.NomadConfig{Driver: &base.NomadDriverConfig{
			ClientMinPort: 14000,
			ClientMaxPort: 14512,
			Topology: &base.ClientTopology{
				NodeIds:   []uint32{0},
				Distances: &base.ClientTopologySLIT{Dimension: 1, Values: []uint32{10}},
				Cores: []*base.ClientTopologyCore{
					{CoreId: 0, BaseSpeed: 2000, MaxSpeed: 2000},
					{CoreId: 1, BaseSpeed: 2000, MaxSpeed: 2000},
				},
			},
		}},
	})

	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{launch: l, client: client, stopStreams: cancel, streamEnded: map[string]<-chan error{}}

	step("Fingerprint stream: open, read the first response")
	fingerprints, err := client.driver.Fingerprint(ctx, &driver.FingerprintRequest{})
	check(err, "Fingerprint")
	first, ended := follow(func() (*driver.FingerprintResponse, error) { return fingerprints.Recv() })
	inst.streamEnded["Fingerprint"] = ended
	select {
	case fp, open := <-first:
		if !open {
			fail("Fingerprint: stream ended before its first response: %v", <-ended)
		}
		if fp.GetHealth() != driver.FingerprintResponse_HEALTHY {
			fail("Fingerprint: first response says %v (%q), want HEALTHY", fp.GetHealth(), fp.GetHealthDescription())
		}
		ok("HEALTHY (%q), %d attributes", fp.GetHealthDescription(), len(fp.GetAttributes()))
	case <-time.After(10 * time.Second):
		fail("Fingerprint: no first response within 10 s (Nomad expects one at once)")
	}

	step("TaskEvents stream: open")
	events, err := client.driver.TaskEvents(ctx, &driver.TaskEventsRequest{})
	check(err, "TaskEvents")
	eventCh, ended := follow(func() (*driver.DriverTaskEvent, error) { return events.Recv() })
	inst.streamEnded["TaskEvents"] = ended
	go func() {
		for ev := range eventCh {
			say("    [task event] %s %s: %s", ev.GetAllocId(), ev.GetTaskName(), ev.GetMessage())
		}
	}()
	ok("opened")
	return inst
}

// taskConfigSchema returns the spec Nomad's task runner decodes each job's config block with.
func (i *instance) taskConfigSchema() *hclspec.Spec {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	resp, err := i.client.driver.TaskConfigSchema(ctx, &driver.TaskConfigSchemaRequest{})
	check(err, "TaskConfigSchema")
	if missing := missingAttributes(resp.GetSpec(), "command", "args"); len(missing) > 0 {
		fail("TaskConfigSchema: the task config spec lacks %q (spec: %v)", missing, resp.GetSpec())
	}
	ok("spec has command and args")
	return resp.GetSpec()
}

// capabilities checks what the README promises: signals, and tasks that see their own
// directories at /alloc, /local and /secrets (IMAGE isolation).
func (i *instance) capabilities() {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	resp, err := i.client.driver.Capabilities(ctx, &driver.CapabilitiesRequest{})
	check(err, "Capabilities")
	caps := resp.GetCapabilities()
	if caps == nil {
		fail("Capabilities: response has no capabilities")
	}
	if !caps.GetSendSignals() {
		fail("Capabilities: send_signals is false")
	}
	if caps.GetFsIsolation() != driver.DriverCapabilities_IMAGE {
		fail("Capabilities: fs_isolation is %v, want IMAGE", caps.GetFsIsolation())
	}
	ok("send_signals, fs_isolation IMAGE, exec %v, network modes %v", caps.GetExec(), caps.GetNetworkIsolationModes())
}

// shutdown checks the Fingerprint and TaskEvents streams are still open, as Nomad needs (it
// re-dispenses the plugin whenever one ends), then kills the plugin.
func (i *instance) shutdown() {
	step("Fingerprint and TaskEvents streams are still open")
	for name, ended := range i.streamEnded {
		select {
		case err := <-ended:
			fail("%s: the stream ended while the plugin was in use: %v", name, err)
		default:
		}
	}
	ok("both open")
	i.stopStreams()
	step("Kill launch 3")
	i.launch.kill()
}

// follow reads a server stream in the background until it ends: messages arrive on the first
// channel (dropped when nobody keeps up), and the error that ended the stream (io.EOF for a
// clean end) on the second.
func follow[T any](recv func() (T, error)) (<-chan T, <-chan error) {
	messages := make(chan T, 16)
	ended := make(chan error, 1)
	go func() {
		defer close(messages)
		for {
			msg, err := recv()
			if err != nil {
				ended <- err
				return
			}
			select {
			case messages <- msg:
			default:
			}
		}
	}()
	return messages, ended
}
