//! A byte stream of `[u32 length][body]` frames, split and decoded as the connection does.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Frame size limit (1 MiB), well above what the seeds use.
const MAX_FRAME: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    spindle_hadoop_ipc::fuzzing::frame_stream(data, MAX_FRAME);
});
