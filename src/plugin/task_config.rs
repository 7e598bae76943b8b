//! The schema Nomad decodes a job's `config { ... }` block with, for `driver = "systemd"`.
//! The values are read by [`crate::core::driver_config`].

use super::hclspec::{attr, block, defaulted, object};
use super::proto::hclspec::Spec;

/// The schema Nomad decodes the task's `config` block with.
pub fn schema() -> Spec {
    object([
        ("command", attr("string")),
        ("args", attr("list(string)")),
        ("working_dir", attr("string")),
        ("group", attr("string")),
        ("oom_score_adj", attr("number")),
        ("memory_swap", attr("number")),
        ("cpu_hard_limit", attr("bool")),
        ("pids_limit", attr("number")),
        ("io_weight", attr("number")),
        ("io_read_bandwidth_max", attr("map(string)")),
        ("io_write_bandwidth_max", attr("map(string)")),
        ("dynamic_user", attr("bool")),
        ("protect_system", attr("string")),
        ("protect_home", attr("string")),
        ("private_tmp", attr("bool")),
        ("private_devices", attr("bool")),
        ("no_new_privileges", attr("bool")),
        ("cap_add", attr("list(string)")),
        ("cap_drop", attr("list(string)")),
        ("ambient_capabilities", attr("list(string)")),
        ("system_call_filter", attr("list(string)")),
        ("read_only_paths", attr("list(string)")),
        ("read_write_paths", attr("list(string)")),
        ("inaccessible_paths", attr("list(string)")),
        ("root_directory", attr("string")),
        ("root_image", attr("string")),
        ("properties", attr("map(string)")),
        (
            "logging",
            block(object([(
                "driver",
                defaulted("driver", "string", "\"nomad\""),
            )])),
        ),
        ("unit", attr("string")),
        ("unit_instance", attr("string")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::driver_config::OPTIONS;
    use crate::plugin::proto::hclspec::spec::Block;

    #[test]
    fn the_schema_declares_exactly_the_options_the_decoder_reads() {
        let Some(Block::Object(object)) = schema().block else {
            panic!("the schema is an object")
        };
        let mut declared: Vec<&str> = object.attributes.keys().map(String::as_str).collect();
        let mut read: Vec<&str> = OPTIONS.to_vec();
        declared.sort_unstable();
        read.sort_unstable();
        assert_eq!(declared, read);
    }
}
