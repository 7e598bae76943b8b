//! Any bytes Nomad (or a broken agent) might send as a cty msgpack config: decoding and every
//! accessor return a value or a `ConfigError`, never panic. The keys tried are the task
//! config's own options, so a new option is fuzzed without touching this file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomad_systemd::core::cty::Object;
use nomad_systemd::core::driver_config::OPTIONS;

/// Keys besides the task config's options: a nested block's, and one no schema has.
const MORE_KEYS: &[&str] = &["driver", "unknown"];

fuzz_target!(|data: &[u8]| {
    let Ok(object) = Object::decode(data) else {
        return;
    };
    read_all(&object, 0);
});

/// Reads every key every way, then does the same in each nested block, a few levels down.
fn read_all(object: &Object, depth: usize) {
    for key in OPTIONS.iter().chain(MORE_KEYS) {
        let _ = object.string(key);
        let _ = object.bool(key);
        let _ = object.integer(key);
        let _ = object.strings(key);
        let _ = object.get_strings(key);
        let _ = object.string_map(key);
        if let Ok(Some(block)) = object.block(key)
            && depth < 4
        {
            read_all(&block, depth + 1);
        }
    }
}
