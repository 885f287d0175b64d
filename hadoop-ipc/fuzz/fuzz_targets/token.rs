//! A token in Writable form and, when the input is UTF-8, in URL-string form.
//!
//! Besides "no panic", checks that a token that parses survives a round trip through
//! both forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spindle_hadoop_ipc::Token;

fn check_round_trip(token: &Token) {
    let again = Token::from_writable_bytes(&token.to_writable_bytes())
        .unwrap_or_else(|e| panic!("re-reading Writable form failed: {e}"));
    assert_eq!(&again, token, "Writable round trip changed the token");
    let again = Token::decode_url_string(&token.encode_url_string())
        .unwrap_or_else(|e| panic!("re-reading URL string failed: {e}"));
    assert_eq!(&again, token, "URL-string round trip changed the token");
}

fuzz_target!(|data: &[u8]| {
    spindle_hadoop_ipc::fuzzing::token(data);
    if let Ok(token) = Token::from_writable_bytes(data) {
        check_round_trip(&token);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(token) = Token::decode_url_string(s) {
            check_round_trip(&token);
        }
    }
});
