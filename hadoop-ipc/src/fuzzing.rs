//! Entry points for `cargo fuzz` (see `hadoop-ipc/fuzz/`): every decoder of bytes that
//! come from the network or from files, reachable without a socket. Not a stable API.

use bytes::Bytes;

/// Decodes one response frame body (header, then payload) as the reader task does.
pub fn response_frame(data: &[u8]) {
    let _ = crate::connection::decode_response(Bytes::copy_from_slice(data));
}

/// Reads a stream of `[u32 length][body]` frames as the connection does, bounded by `max`.
pub fn frame_stream(data: &[u8], max: usize) {
    crate::connection::split_frames(data, max, |body| {
        let _ = crate::connection::decode_response(body);
    });
}

/// Parses a SASL DIGEST-MD5 challenge.
pub fn digest_challenge(data: &[u8]) {
    let _ = crate::sasl::Challenge::parse(data);
}

/// Answers a challenge and checks a server's final message with a fixed token.
pub fn digest_exchange(challenge: &[u8], server_final: &[u8]) {
    let cfg = crate::sasl::DigestMd5Config::hadoop_token(b"id", b"pw");
    if let Ok((_, pending)) = crate::sasl::DigestMd5Client::new(cfg)
        .with_cnonce("fuzz")
        .respond(challenge)
    {
        let _ = pending.finish(server_final);
    }
}

/// Reads a credentials (`HDTS`) file.
pub fn credentials(data: &[u8]) {
    let _ = crate::credentials::Credentials::read_token_storage(data);
}

/// Reads a token in Writable form and in URL-string form.
pub fn token(data: &[u8]) {
    let _ = crate::credentials::Token::from_writable_bytes(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crate::credentials::Token::decode_url_string(s);
    }
}
