//! A credentials (`HDTS`) file, version 0 (Writable) or 1 (protobuf).
//!
//! Besides "no panic", checks that what parses survives a write/read round trip in both
//! formats (parse -> write -> parse gives the same credentials).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spindle_hadoop_ipc::{Credentials, CredentialsFormat};

fuzz_target!(|data: &[u8]| {
    spindle_hadoop_ipc::fuzzing::credentials(data);
    if let Ok(creds) = Credentials::read_token_storage(data) {
        for format in [CredentialsFormat::Writable, CredentialsFormat::Protobuf] {
            let bytes = creds.write_token_storage_as(format);
            let again = Credentials::read_token_storage(&bytes)
                .unwrap_or_else(|e| panic!("re-reading {format:?} output failed: {e}"));
            assert_eq!(
                again, creds,
                "{format:?} round trip changed the credentials"
            );
        }
    }
});
