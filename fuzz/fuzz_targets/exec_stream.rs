//! The wire layer of the exec stream and of task starts: any bytes as an
//! `ExecTaskStreamingRequest`, `TaskConfig` or `StartTaskRequest` decode or fail cleanly, and
//! what decodes survives an encode/decode round trip unchanged. The live session behind the
//! stream needs systemd and is covered by the integration tests, not here.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use nomad_systemd::plugin::proto::driver::{
    ExecTaskStreamingRequest, StartTaskRequest, TaskConfig,
};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    round_trip::<ExecTaskStreamingRequest>(data, |m| m);
    round_trip::<TaskConfig>(data, nan_free_task);
    round_trip::<StartTaskRequest>(data, |mut m| {
        m.task = m.task.map(nan_free_task);
        m
    });
});

/// Decodes `data` as `M`; if it decodes, its encoding must decode to an equal message.
/// `comparable` makes two decodings comparable with `==` (see [`nan_free_task`]).
fn round_trip<M: Message + Default + PartialEq + Debug>(data: &[u8], comparable: fn(M) -> M) {
    let Ok(first) = M::decode(data) else {
        return;
    };
    let bytes = first.encode_to_vec();
    assert_eq!(bytes.len(), first.encoded_len());
    let second = match M::decode(bytes.as_slice()) {
        Ok(m) => m,
        Err(e) => panic!("re-encoded {first:?} does not decode: {e}"),
    };
    let (first, second) = (comparable(first), comparable(second));
    assert!(first == second, "{first:?} came back as {second:?}");
}

/// `percent_ticks` is the one float in a task config; a NaN there round-trips bit for bit but
/// never compares equal, so both decodings replace it with the same number before comparing.
fn nan_free_task(mut task: TaskConfig) -> TaskConfig {
    if let Some(linux) = task
        .resources
        .as_mut()
        .and_then(|r| r.linux_resources.as_mut())
        && linux.percent_ticks.is_nan()
    {
        linux.percent_ticks = f64::INFINITY;
    }
    task
}
