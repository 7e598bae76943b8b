package main

import (
	"context"
	"errors"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"nomadsystemd/proto/base"
	"nomadsystemd/proto/driver"
)

// handshake is Nomad's base.Handshake: go-plugin passes the cookie to the plugin in its
// environment and accepts only app protocol 2 on the handshake line.
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  2,
	MagicCookieKey:   "NOMAD_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255",
}

// basePlugin is what Nomad dispenses as "base": the BasePlugin service alone.
type basePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (basePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errClientOnly }

func (basePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return base.NewBasePluginClient(conn), nil
}

// driverPlugin is what Nomad dispenses as "driver": both services on one connection.
type driverPlugin struct{ plugin.NetRPCUnsupportedPlugin }

// driverClient is a dispensed driver: the plugin's BasePlugin and Driver services.
type driverClient struct {
	base   base.BasePluginClient
	driver driver.DriverClient
}

func (driverPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errClientOnly }

func (driverPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return &driverClient{base: base.NewBasePluginClient(conn), driver: driver.NewDriverClient(conn)}, nil
}

var errClientOnly = errors.New("this program only loads plugins; it serves none")
