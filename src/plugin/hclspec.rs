//! Building the hclspec schemas we hand Nomad (ConfigSchema, TaskConfigSchema).
//!
//! Nomad turns them into hcldec specs: inside an object, an attribute or block takes its
//! object key as its name; inside a `Default` it must be named explicitly. Types and literals
//! are HCL expressions (`list(string)`, `"nomad"` with its quotes).

use super::proto::hclspec::{self, Spec, spec::Block};

fn spec(block: Block) -> Spec {
    Spec { block: Some(block) }
}

/// An object whose keys are the attribute and block names.
pub fn object<'a>(entries: impl IntoIterator<Item = (&'a str, Spec)>) -> Spec {
    spec(Block::Object(hclspec::Object {
        attributes: entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }))
}

/// An optional attribute of HCL type `ty`, named by its object key.
pub fn attr(ty: &str) -> Spec {
    spec(Block::Attr(hclspec::Attr {
        name: String::new(),
        r#type: ty.to_string(),
        required: false,
    }))
}

/// Attribute `name` of type `ty` that takes the HCL literal `default` when not given.
pub fn defaulted(name: &str, ty: &str, default: &str) -> Spec {
    let primary = spec(Block::Attr(hclspec::Attr {
        name: name.to_string(),
        r#type: ty.to_string(),
        required: false,
    }));
    let fallback = spec(Block::Literal(hclspec::Literal {
        value: default.to_string(),
    }));
    spec(Block::Default(Box::new(hclspec::Default {
        primary: Some(Box::new(primary)),
        default: Some(Box::new(fallback)),
    })))
}

/// An optional block (at most one), named by its object key, holding `nested`.
pub fn block(nested: Spec) -> Spec {
    spec(Block::BlockValue(Box::new(hclspec::Block {
        name: String::new(),
        required: false,
        nested: Some(Box::new(nested)),
    })))
}
