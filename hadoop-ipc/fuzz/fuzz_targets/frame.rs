//! One RPC response frame body (length-delimited `RpcResponseHeaderProto`, then payload).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    spindle_hadoop_ipc::fuzzing::response_frame(data);
});
