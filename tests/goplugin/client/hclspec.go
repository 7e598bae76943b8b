package main

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"nomadsystemd/proto/hclspec"
)

// specFunctions are the functions Nomad's client allows in a Literal and in configuration
// values.
var specFunctions = map[string]function.Function{
	"abs":        stdlib.AbsoluteFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"hasindex":   stdlib.HasIndexFunc,
	"int":        stdlib.IntFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"min":        stdlib.MinFunc,
	"reverse":    stdlib.ReverseFunc,
	"strlen":     stdlib.StrlenFunc,
	"substr":     stdlib.SubstrFunc,
	"upper":      stdlib.UpperFunc,
}

// decodeSpec turns a plugin's wire hclspec into the hcldec spec Nomad's client decodes
// configuration with, refusing what Nomad's client refuses (no spec kind set, a missing name,
// a Block* without nested spec, a BlockMap without labels, a bad type or literal). The root
// gets no implied name; see convert.
func decodeSpec(s *hclspec.Spec) (hcldec.Spec, error) {
	return convert(s, "")
}

// convert converts one spec. implied is the Object key it sits under, the name an Attr or
// Block* with an empty name takes; specs inside Array, Default and nested blocks get none.
func convert(s *hclspec.Spec, implied string) (hcldec.Spec, error) {
	name := func(given, kind string) (string, error) {
		if given != "" {
			return given, nil
		}
		if implied != "" {
			return implied, nil
		}
		return "", fmt.Errorf("missing name in %s spec", kind)
	}
	switch b := s.GetBlock().(type) {
	case *hclspec.Spec_Object:
		obj := hcldec.ObjectSpec{}
		for key, attr := range b.Object.GetAttributes() {
			spec, err := convert(attr, key)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			obj[key] = spec
		}
		return obj, nil
	case *hclspec.Spec_Array:
		tuple := hcldec.TupleSpec{}
		for i, v := range b.Array.GetValues() {
			spec, err := convert(v, "")
			if err != nil {
				return nil, fmt.Errorf("array element %d: %w", i, err)
			}
			tuple = append(tuple, spec)
		}
		return tuple, nil
	case *hclspec.Spec_Attr:
		n, err := name(b.Attr.GetName(), "attribute")
		if err != nil {
			return nil, err
		}
		ty, err := parseType(b.Attr.GetType())
		if err != nil {
			return nil, err
		}
		return &hcldec.AttrSpec{Name: n, Type: ty, Required: b.Attr.GetRequired()}, nil
	case *hclspec.Spec_BlockValue:
		n, err := name(b.BlockValue.GetName(), "block")
		if err != nil {
			return nil, err
		}
		nested, err := convertNested(b.BlockValue.GetNested(), n)
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockSpec{TypeName: n, Nested: nested, Required: b.BlockValue.GetRequired()}, nil
	case *hclspec.Spec_BlockAttrs:
		n, err := name(b.BlockAttrs.GetName(), "block_attrs")
		if err != nil {
			return nil, err
		}
		ty, err := parseType(b.BlockAttrs.GetType())
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockAttrsSpec{TypeName: n, ElementType: ty, Required: b.BlockAttrs.GetRequired()}, nil
	case *hclspec.Spec_BlockList:
		n, err := name(b.BlockList.GetName(), "block_list")
		if err != nil {
			return nil, err
		}
		nested, err := convertNested(b.BlockList.GetNested(), n)
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockListSpec{TypeName: n, Nested: nested,
			MinItems: int(b.BlockList.GetMinItems()), MaxItems: int(b.BlockList.GetMaxItems())}, nil
	case *hclspec.Spec_BlockSet:
		n, err := name(b.BlockSet.GetName(), "block_set")
		if err != nil {
			return nil, err
		}
		nested, err := convertNested(b.BlockSet.GetNested(), n)
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockSetSpec{TypeName: n, Nested: nested,
			MinItems: int(b.BlockSet.GetMinItems()), MaxItems: int(b.BlockSet.GetMaxItems())}, nil
	case *hclspec.Spec_BlockMap:
		n, err := name(b.BlockMap.GetName(), "block_map")
		if err != nil {
			return nil, err
		}
		if len(b.BlockMap.GetLabels()) == 0 {
			return nil, fmt.Errorf("block_map %q needs at least one label", n)
		}
		nested, err := convertNested(b.BlockMap.GetNested(), n)
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockMapSpec{TypeName: n, LabelNames: b.BlockMap.GetLabels(), Nested: nested}, nil
	case *hclspec.Spec_Default:
		primary, err := convert(b.Default.GetPrimary(), "")
		if err != nil {
			return nil, fmt.Errorf("default's primary: %w", err)
		}
		fallback, err := convert(b.Default.GetDefault(), "")
		if err != nil {
			return nil, fmt.Errorf("default's default: %w", err)
		}
		return &hcldec.DefaultSpec{Primary: primary, Default: fallback}, nil
	case *hclspec.Spec_Literal:
		expr, diags := hclsyntax.ParseExpression([]byte(b.Literal.GetValue()), "literal", hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("literal %q: %s", b.Literal.GetValue(), diags.Error())
		}
		val, diags := expr.Value(&hcl.EvalContext{Functions: specFunctions})
		if diags.HasErrors() {
			return nil, fmt.Errorf("literal %q: %s", b.Literal.GetValue(), diags.Error())
		}
		return &hcldec.LiteralSpec{Value: val}, nil
	default:
		return nil, fmt.Errorf("invalid spec block: no spec kind set")
	}
}

// convertNested converts the nested spec a Block* requires.
func convertNested(s *hclspec.Spec, block string) (hcldec.Spec, error) {
	if s == nil {
		return nil, fmt.Errorf("block %q has no nested spec", block)
	}
	nested, err := convert(s, "")
	if err != nil {
		return nil, fmt.Errorf("block %q: %w", block, err)
	}
	return nested, nil
}

// parseType reads an Attr or BlockAttrs type: an HCL type expression such as `string`,
// `list(map(string))` or `object({a = number})`, written without quotes.
func parseType(src string) (ty cty.Type, err error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "type", hcl.InitialPos)
	if !diags.HasErrors() {
		ty, diags = typeexpr.TypeConstraint(expr)
	}
	if diags.HasErrors() {
		return cty.NilType, fmt.Errorf("type %q: %s", src, diags.Error())
	}
	return ty, nil
}
