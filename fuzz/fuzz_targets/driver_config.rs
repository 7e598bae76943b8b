//! Any bytes as a job's `config` block: `DriverConfig::decode` accepts or refuses, never panics,
//! and what it accepts holds what its fields promise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomad_systemd::core::driver_config::DriverConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = DriverConfig::decode(data) else {
        return;
    };
    // Exactly one of `command` and `unit`: the command is empty only for a unit.
    match &config.unit {
        None => assert!(!config.command.is_empty(), "an empty command was accepted"),
        Some(unit) => {
            assert!(config.command.is_empty(), "both command and unit were accepted");
            assert!(!unit.name.is_empty(), "an empty unit name was accepted");
        }
    }
    assert!(
        (0..=1000).contains(&config.oom_score_adj),
        "oom_score_adj {} was accepted",
        config.oom_score_adj
    );
    assert_ne!(config.working_dir.as_deref(), Some(""));
    assert_ne!(config.group.as_deref(), Some(""));
});
