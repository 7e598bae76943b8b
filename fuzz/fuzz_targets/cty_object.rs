//! Any bytes Nomad (or a broken agent) might send as a cty msgpack config: decoding and every
//! accessor return a value or a `ConfigError`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomad_systemd::core::cty::Object;

/// The task config's keys and the agent config's, plus one no schema has.
const KEYS: &[&str] = &[
    "command",
    "args",
    "working_dir",
    "group",
    "oom_score_adj",
    "logging",
    "driver",
    "unknown",
];

fuzz_target!(|data: &[u8]| {
    let Ok(object) = Object::decode(data) else {
        return;
    };
    read_all(&object, 0);
});

/// Reads every key every way, then does the same in each nested block, a few levels down.
fn read_all(object: &Object, depth: usize) {
    for key in KEYS {
        let _ = object.string(key);
        let _ = object.bool(key);
        let _ = object.integer(key);
        let _ = object.strings(key);
        if let Ok(Some(block)) = object.block(key)
            && depth < 4
        {
            read_all(&block, depth + 1);
        }
    }
}
