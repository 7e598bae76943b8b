package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"nomadsystemd/proto/base"
)

// rpcTimeout bounds each unary call that should answer promptly.
const rpcTimeout = 30 * time.Second

// pluginConfigHCL is the agent's `plugin "nomad-systemd" { config { ... } }` body.
const pluginConfigHCL = `enabled = true`

// loaded is what Nomad's plugin loader learns at agent start and keeps for the driver
// manager.
type loaded struct {
	// apiVersion is the plugin's own spelling of v0.1.0, echoed in every SetConfig.
	apiVersion string
	// pluginConfig is msgpack_config: encoded once, reused on every SetConfig.
	pluginConfig []byte
}

// loadPlugin does what Nomad's loader does at every agent start, before any task runs:
// launch 1 fingerprints the plugin (PluginInfo, ConfigSchema), launch 2 validates the plugin
// config (SetConfig twice, no nomad_config). Each launch is a fresh process, killed after.
func loadPlugin(binary string, logger hclog.Logger) loaded {
	step("launch 1 (loader fingerprint): start %s with no arguments, handshake", binary)
	l := start(binary, logger)
	client := l.dispense("base").(base.BasePluginClient)
	ok("handshake done, base plugin dispensed")
	step("PluginInfo")
	result := loaded{apiVersion: pluginInfo(client)}
	step("ConfigSchema")
	result.pluginConfig = configSchema(client)
	step("Kill launch 1")
	l.kill()

	step("launch 2 (loader config validation): start, handshake")
	l = start(binary, logger)
	client = l.dispense("base").(base.BasePluginClient)
	for i := 1; i <= 2; i++ {
		step("SetConfig #%d without nomad_config", i)
		setConfig(client, &base.SetConfigRequest{
			MsgpackConfig:    result.pluginConfig,
			PluginApiVersion: result.apiVersion,
		})
	}
	step("Kill launch 2")
	l.kill()
	return result
}

// pluginInfo checks what Nomad's loader requires of PluginInfo and returns the plugin's
// spelling of API version v0.1.0.
func pluginInfo(client base.BasePluginClient) string {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	info, err := client.PluginInfo(ctx, &base.PluginInfoRequest{})
	check(err, "PluginInfo")
	if info.GetType() != base.PluginType_DRIVER {
		fail("PluginInfo: type is %v, Nomad needs DRIVER", info.GetType())
	}
	if info.GetName() != "systemd" {
		fail("PluginInfo: name is %q, want \"systemd\"", info.GetName())
	}
	if !isVersion(info.GetPluginVersion()) {
		fail("PluginInfo: plugin_version %q is not a version Nomad can parse", info.GetPluginVersion())
	}
	for _, v := range info.GetPluginApiVersions() {
		if sameVersion(v, "0.1.0") {
			ok("type DRIVER, name %q, plugin_version %q, plugin_api_versions %q", info.GetName(), info.GetPluginVersion(), info.GetPluginApiVersions())
			return v
		}
	}
	fail("PluginInfo: plugin_api_versions %q lack v0.1.0, the only one Nomad 1.x speaks", info.GetPluginApiVersions())
	return ""
}

// configSchema checks the plugin config spec has the attributes the README documents and
// returns pluginConfigHCL encoded against it.
func configSchema(client base.BasePluginClient) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	schema, err := client.ConfigSchema(ctx, &base.ConfigSchemaRequest{})
	check(err, "ConfigSchema")
	if missing := missingAttributes(schema.GetSpec(), "enabled", "bus", "slice"); len(missing) > 0 {
		fail("ConfigSchema: the plugin config spec lacks %q (spec: %v)", missing, schema.GetSpec())
	}
	encoded, err := encodeConfig(schema.GetSpec(), pluginConfigHCL)
	check(err, "ConfigSchema: encoding the plugin config %q", pluginConfigHCL)
	ok("spec has enabled, bus, slice; %q encodes to %d msgpack bytes", pluginConfigHCL, len(encoded))
	return encoded
}

// setConfig sends one SetConfig, which must succeed.
func setConfig(client base.BasePluginClient, req *base.SetConfigRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	_, err := client.SetConfig(ctx, req)
	check(err, "SetConfig (nomad_config set: %v)", req.GetNomadConfig() != nil)
	ok("accepted")
}

// versionPattern is the shape hashicorp/go-version accepts: optional v, numeric segments,
// optional pre-release and metadata.
var versionPattern = regexp.MustCompile(`^v?([0-9]+(\.[0-9]+)*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// isVersion reports whether Nomad's loader could parse v as a plugin version.
func isVersion(v string) bool {
	return versionPattern.MatchString(v)
}

// sameVersion compares release versions as go-version does: "v0.1.0", "0.1.0" and "0.1"
// are equal.
func sameVersion(a, b string) bool {
	segments := func(v string) []int {
		m := versionPattern.FindStringSubmatch(v)
		if m == nil || m[3] != "" {
			return nil
		}
		var out []int
		for _, s := range strings.Split(m[1], ".") {
			n, _ := strconv.Atoi(s)
			out = append(out, n)
		}
		for len(out) < 3 {
			out = append(out, 0)
		}
		return out
	}
	x, y := segments(a), segments(b)
	if x == nil || y == nil || len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
