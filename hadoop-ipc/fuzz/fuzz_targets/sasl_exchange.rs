//! A DIGEST-MD5 exchange: `challenge \0 server-final` (no 0 byte: all challenge, empty
//! final). The client answers the challenge, then checks the server's `rspauth`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (challenge, server_final) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    spindle_hadoop_ipc::fuzzing::digest_exchange(challenge, server_final);
});
