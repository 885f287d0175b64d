//! Hadoop's `Writable` primitives: `WritableUtils` VInt/VLong (zero-compressed, **not**
//! protobuf varints) and `Text` (VInt length + UTF-8). Owns encoding into a `Vec<u8>` and
//! bounded decoding from a byte slice; not the types built on them (see `credentials`).

use crate::error::{IpcError, Result};

/// Appends `v` as a Hadoop VLong (`WritableUtils.writeVLong`).
///
/// -112..=127 is one byte holding the value; otherwise a marker byte (-113..=-120 for
/// positive, -121..=-128 for negative values, giving the byte count) followed by the
/// value (one's complement for negatives) in big-endian order without leading zeros.
pub fn write_vlong(out: &mut Vec<u8>, v: i64) {
    if (-112..=127).contains(&v) {
        out.push(v as u8);
        return;
    }
    let (magnitude, base) = if v < 0 { (!v, -120i32) } else { (v, -112i32) };
    let len = vlong_payload_len(magnitude);
    out.push((base - len as i32) as u8);
    for idx in (0..len).rev() {
        out.push((magnitude >> (idx * 8)) as u8);
    }
}

/// Appends `v` as a Hadoop VInt (`WritableUtils.writeVInt`, same encoding as VLong).
pub fn write_vint(out: &mut Vec<u8>, v: i32) {
    write_vlong(out, i64::from(v));
}

/// Bytes needed to write `v` as a VLong (`WritableUtils.getVIntSize`).
pub fn vlong_size(v: i64) -> usize {
    if (-112..=127).contains(&v) {
        return 1;
    }
    let magnitude = if v < 0 { !v } else { v };
    1 + vlong_payload_len(magnitude)
}

/// Non-zero bytes of a non-negative value.
fn vlong_payload_len(magnitude: i64) -> usize {
    let bits = 64 - magnitude.leading_zeros() as usize;
    bits.div_ceil(8)
}

/// Appends a length as a VInt; panics only for buffers over 2 GiB, which Hadoop cannot
/// represent either.
pub fn write_vint_len(out: &mut Vec<u8>, len: usize) {
    let len = i32::try_from(len).expect("Hadoop Writable lengths must fit in an i32");
    write_vint(out, len);
}

/// Appends bytes with a VInt length prefix (how `Token` writes identifier and password).
pub fn write_vint_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_vint_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends `s` as a Hadoop `Text`: VInt byte length, then UTF-8.
pub fn write_text(out: &mut Vec<u8>, s: &str) {
    write_vint_bytes(out, s.as_bytes());
}

/// A cursor over untrusted bytes; every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads exactly `n` bytes.
    pub fn read_bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let rest = self.remaining();
        if rest.len() < n {
            return Err(IpcError::Truncated { what });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    /// Reads one byte.
    pub fn read_u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.read_bytes(1, what)?[0])
    }

    /// Reads a Hadoop VLong (`WritableUtils.readVLong`); like Java it accepts
    /// non-minimal encodings.
    pub fn read_vlong(&mut self, what: &'static str) -> Result<i64> {
        let first = self.read_u8(what)? as i8;
        let len = decode_vint_size(first);
        if len == 1 {
            return Ok(i64::from(first));
        }
        let payload = self.read_bytes(len - 1, what)?;
        let v = payload
            .iter()
            .fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
        Ok(if is_negative_vint(first) { !v } else { v })
    }

    /// Reads a Hadoop VInt (`WritableUtils.readVInt`): a VLong that must fit in an i32.
    pub fn read_vint(&mut self, what: &'static str) -> Result<i32> {
        let v = self.read_vlong(what)?;
        i32::try_from(v).map_err(|_| IpcError::Malformed {
            what,
            detail: format!("VInt value {v} does not fit in 32 bits"),
        })
    }

    /// Reads a VInt length and checks `0 <= len <= limit`.
    pub fn read_len(&mut self, what: &'static str, limit: usize) -> Result<usize> {
        let len = self.read_vint(what)?;
        let limit_i64 = i64::try_from(limit).unwrap_or(i64::MAX);
        match usize::try_from(len) {
            Ok(len) if len <= limit => Ok(len),
            _ => Err(IpcError::LimitExceeded {
                what,
                value: i64::from(len),
                limit: limit_i64,
            }),
        }
    }

    /// Reads a VInt length (at most `limit`) followed by that many bytes.
    pub fn read_vint_bytes(&mut self, what: &'static str, limit: usize) -> Result<&'a [u8]> {
        let len = self.read_len(what, limit)?;
        self.read_bytes(len, what)
    }

    /// Reads a Hadoop `Text` of at most `limit` bytes; it must be valid UTF-8.
    pub fn read_text(&mut self, what: &'static str, limit: usize) -> Result<String> {
        let bytes = self.read_vint_bytes(what, limit)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| IpcError::Malformed {
            what,
            detail: format!("invalid UTF-8: {e}"),
        })
    }
}

/// Total encoded size (1..=9) from the first byte (`WritableUtils.decodeVIntSize`).
fn decode_vint_size(first: i8) -> usize {
    if first >= -112 {
        1
    } else if first < -120 {
        (-119 - i32::from(first)) as usize
    } else {
        (-111 - i32::from(first)) as usize
    }
}

/// Sign of a VInt from its first byte (`WritableUtils.isNegativeVInt`).
fn is_negative_vint(first: i8) -> bool {
    first < -120 || (-112..0).contains(&first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (value, bytes) pairs worked out from `WritableUtils.writeVLong`, and checked
    /// against Hadoop 3.4.3's own output (`testdata/CredentialsVectors.java`).
    const VLONG_CASES: &[(i64, &[u8])] = &[
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7f]),
        (-1, &[0xff]),
        (-112, &[0x90]),
        (128, &[0x8f, 0x80]),
        (255, &[0x8f, 0xff]),
        (256, &[0x8e, 0x01, 0x00]),
        (-113, &[0x87, 0x70]),
        (-256, &[0x87, 0xff]),
        (-257, &[0x86, 0x01, 0x00]),
        (65_535, &[0x8e, 0xff, 0xff]),
        (65_536, &[0x8d, 0x01, 0x00, 0x00]),
        (i32::MAX as i64, &[0x8c, 0x7f, 0xff, 0xff, 0xff]),
        (i32::MIN as i64, &[0x84, 0x7f, 0xff, 0xff, 0xff]),
        (
            1_700_000_000_000,
            &[0x8a, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00],
        ),
        (
            i64::MAX,
            &[0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            i64::MIN,
            &[0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ];

    #[test]
    fn vlong_table() {
        for &(value, bytes) in VLONG_CASES {
            let mut out = Vec::new();
            write_vlong(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(vlong_size(value), bytes.len(), "size of {value}");
            let mut r = Reader::new(bytes);
            assert_eq!(r.read_vlong("v").expect("decodes"), value);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn single_byte_range_is_minus_112_to_127() {
        for v in -112i64..=127 {
            let mut out = Vec::new();
            write_vlong(&mut out, v);
            assert_eq!(out, [v as u8], "{v}");
        }
        for v in [-113i64, 128] {
            let mut out = Vec::new();
            write_vlong(&mut out, v);
            assert_eq!(out.len(), 2, "{v}");
        }
    }

    #[test]
    fn vint_rejects_values_over_32_bits() {
        let mut out = Vec::new();
        write_vlong(&mut out, i64::from(i32::MAX) + 1);
        let err = Reader::new(&out).read_vint("n").expect_err("too big");
        assert!(matches!(err, IpcError::Malformed { .. }), "{err}");
        let mut out = Vec::new();
        write_vlong(&mut out, i64::from(i32::MIN) - 1);
        assert!(Reader::new(&out).read_vint("n").is_err());
    }

    #[test]
    fn truncated_vlongs_are_errors() {
        for &(value, bytes) in VLONG_CASES {
            for cut in 0..bytes.len() {
                let err = Reader::new(&bytes[..cut])
                    .read_vlong("v")
                    .expect_err("truncated");
                assert!(
                    matches!(err, IpcError::Truncated { what: "v" }),
                    "{value} cut at {cut}: {err}"
                );
            }
        }
    }

    #[test]
    fn non_minimal_encoding_is_accepted_like_java() {
        // 5 encoded with an explicit one-byte payload.
        let mut r = Reader::new(&[0x8f, 0x05]);
        assert_eq!(r.read_vlong("v").expect("decodes"), 5);
    }

    #[test]
    fn text_round_trip_and_limits() {
        let mut out = Vec::new();
        write_text(&mut out, "héllo");
        assert_eq!(out, b"\x06h\xc3\xa9llo");
        assert_eq!(
            Reader::new(&out).read_text("t", 100).expect("decodes"),
            "héllo"
        );
        let err = Reader::new(&out).read_text("t", 5).expect_err("over limit");
        assert!(
            matches!(
                err,
                IpcError::LimitExceeded {
                    value: 6,
                    limit: 5,
                    ..
                }
            ),
            "{err}"
        );
        let err = Reader::new(&out[..4])
            .read_text("t", 100)
            .expect_err("short");
        assert!(matches!(err, IpcError::Truncated { .. }), "{err}");
        // Negative length.
        let err = Reader::new(&[0xff]).read_text("t", 100).expect_err("neg");
        assert!(
            matches!(err, IpcError::LimitExceeded { value: -1, .. }),
            "{err}"
        );
        // Invalid UTF-8.
        let err = Reader::new(&[0x01, 0xff])
            .read_text("t", 100)
            .expect_err("utf8");
        assert!(matches!(err, IpcError::Malformed { .. }), "{err}");
    }

    #[test]
    fn long_text_uses_multi_byte_length() {
        let s = "x".repeat(300);
        let mut out = Vec::new();
        write_text(&mut out, &s);
        assert_eq!(&out[..3], &[0x8e, 0x01, 0x2c]);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_text("t", 1000).expect("decodes"), s);
        assert!(r.is_empty());
    }

    proptest! {
        #[test]
        fn vlong_round_trips(v in any::<i64>()) {
            let mut out = Vec::new();
            write_vlong(&mut out, v);
            prop_assert_eq!(out.len(), vlong_size(v));
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.read_vlong("v").expect("decodes"), v);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn vint_round_trips(v in any::<i32>()) {
            let mut out = Vec::new();
            write_vint(&mut out, v);
            prop_assert_eq!(Reader::new(&out).read_vint("v").expect("decodes"), v);
        }

        #[test]
        fn reading_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut r = Reader::new(&bytes);
            while !r.is_empty() {
                if r.read_text("t", 16).is_err() {
                    break;
                }
            }
        }
    }
}
