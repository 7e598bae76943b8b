//! Unit names from any alloc id, task name and instance: always one valid, non-template
//! `.service` name that reads back, with a task slice it owns. Parsing any string never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomad_systemd::core::UnitName;

/// systemd's limit on a unit name, suffix included.
const MAX_LEN: usize = 255;
const PARENT_SLICE: &str = "system-nomad.slice";

fuzz_target!(|data: &[u8]| {
    // NUL separates the three parts: Nomad's ids and task names never hold one.
    let mut parts = data.splitn(3, |&b| b == 0).map(String::from_utf8_lossy);
    let alloc = parts.next().unwrap_or_default();
    let task = parts.next().unwrap_or_default();
    let instance = parts.next().unwrap_or_default();

    let unit = UnitName::for_task(&alloc, &task, &instance);
    let name = unit.as_str();
    assert!(name.len() <= MAX_LEN, "{name:?} is {} bytes", name.len());
    assert!(name.ends_with(".service"), "{name:?}");
    assert!(!name.contains('/'), "{name:?}");
    assert!(unit.is_task_unit(), "{name:?}");
    match UnitName::parse(name) {
        Ok(again) => assert_eq!(again, unit),
        Err(e) => panic!("{name:?} does not parse back: {e}"),
    }
    let slice = match unit.task_slice(PARENT_SLICE) {
        Ok(slice) => slice,
        Err(e) => panic!("{name:?} has no slice: {e}"),
    };
    assert!(
        unit.owns_slice(slice.as_str()),
        "{name:?} does not own {slice}"
    );

    for text in [&String::from_utf8_lossy(data), &alloc, &task, &instance] {
        let _ = UnitName::parse(text);
        let _ = unit.owns_slice(text);
    }
});
