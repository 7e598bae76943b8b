package main

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty/msgpack"

	"nomadsystemd/proto/hclspec"
)

// encodeConfig produces what Nomad sends as msgpack_config or msgpack_driver_config: the HCL
// body src decoded against the plugin's spec, then cty msgpack of the value under its own
// concrete type (so no dynamic-type wrapper ever appears). Decode errors are Nomad's
// "invalid config" refusals and mean the plugin's schema does not accept src.
func encodeConfig(wire *hclspec.Spec, src string) ([]byte, error) {
	spec, err := decodeSpec(wire)
	if err != nil {
		return nil, fmt.Errorf("the plugin's hclspec does not convert: %w", err)
	}
	file, diags := hclsyntax.ParseConfig([]byte(src), "config.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("parsing %q: %s", src, diags.Error())
	}
	val, diags := hcldec.Decode(file.Body, spec, &hcl.EvalContext{Functions: specFunctions})
	if diags.HasErrors() {
		return nil, fmt.Errorf("decoding %q against the plugin's spec: %s", src, diags.Error())
	}
	return msgpack.Marshal(val, val.Type())
}

// missingAttributes returns those of want that are not top-level attributes of the plugin's
// Object spec.
func missingAttributes(wire *hclspec.Spec, want ...string) []string {
	var missing []string
	for _, name := range want {
		if _, found := wire.GetObject().GetAttributes()[name]; !found {
			missing = append(missing, name)
		}
	}
	return missing
}
