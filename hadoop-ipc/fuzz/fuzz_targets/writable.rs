//! `writable::Reader` driven by the input: each step reads an opcode byte, then the
//! value it names (VLong, VInt, Text, VInt-prefixed bytes, VInt length), until the input
//! ends or a read fails.
//!
//! Besides "no panic", checks the reader against the writer: every value read re-encodes
//! (minimally) to bytes that read back to the same value, `vlong_size` agrees with the
//! writer, and the reader never claims to have consumed more than the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spindle_hadoop_ipc::writable::{
    Reader, vlong_size, write_text, write_vint, write_vint_bytes, write_vlong,
};

/// Limit for Text and byte strings (64 KiB, the credentials' limit for Text).
const LIMIT: usize = 1 << 16;

fn check_vlong(v: i64) {
    let mut out = Vec::new();
    write_vlong(&mut out, v);
    assert_eq!(out.len(), vlong_size(v), "vlong_size({v})");
    let mut r = Reader::new(&out);
    assert_eq!(
        r.read_vlong("re-read").ok(),
        Some(v),
        "VLong {v} round trip"
    );
    assert!(r.is_empty());
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    while let Ok(op) = r.read_u8("op") {
        let before = r.position();
        let ok = match op % 5 {
            0 => r.read_vlong("vlong").map(check_vlong).is_ok(),
            1 => r
                .read_vint("vint")
                .map(|v| {
                    check_vlong(i64::from(v));
                    let mut out = Vec::new();
                    write_vint(&mut out, v);
                    assert_eq!(Reader::new(&out).read_vint("re-read").ok(), Some(v));
                })
                .is_ok(),
            2 => r
                .read_text("text", LIMIT)
                .map(|s| {
                    let mut out = Vec::new();
                    write_text(&mut out, &s);
                    assert_eq!(
                        Reader::new(&out)
                            .read_text("re-read", LIMIT)
                            .ok()
                            .as_deref(),
                        Some(s.as_str())
                    );
                })
                .is_ok(),
            3 => r
                .read_vint_bytes("bytes", LIMIT)
                .map(|b| {
                    let mut out = Vec::new();
                    write_vint_bytes(&mut out, b);
                    assert_eq!(
                        Reader::new(&out).read_vint_bytes("re-read", LIMIT).ok(),
                        Some(b)
                    );
                })
                .is_ok(),
            _ => r
                .read_len("len", LIMIT)
                .map(|n| assert!(n <= LIMIT))
                .is_ok(),
        };
        assert!(r.position() <= data.len(), "position past the end");
        assert_eq!(r.remaining().len(), data.len() - r.position());
        if !ok {
            break;
        }
        assert!(r.position() > before, "a successful read consumed nothing");
    }
});
