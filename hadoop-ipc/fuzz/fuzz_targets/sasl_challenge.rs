//! A SASL DIGEST-MD5 server challenge.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    spindle_hadoop_ipc::fuzzing::digest_challenge(data);
});
