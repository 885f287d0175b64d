//! Bytes in and out: task descriptions ([`Enc`], [`Dec`]: serde values and shipped
//! function identities, in order) and record streams (records serialized with serde into
//! frames of at most [`FRAME_BYTES`], each compressed with LZ4).
//!
//! A record stream on disk or on the wire is a sequence of frames
//! `[u32 LE compressed length][u32 LE raw length][LZ4 block]`; a frame's raw bytes are
//! records back to back (postcard). Frames bound the memory of a reader to one frame,
//! whatever the stream's length.

use std::any::Any;
use std::io::{Read, Write};
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::ship::{Entry, FnId, Verified};

/// Raw bytes a frame holds before it is sealed (compressed and written).
pub(crate) const FRAME_BYTES: usize = 256 * 1024;

/// The largest raw frame a reader accepts: a single record larger than this is refused
/// rather than allocated on a length field's word.
pub(crate) const MAX_FRAME_BYTES: usize = 256 * 1024 * 1024;

fn codec_err(op: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Codec {
        op,
        message: e.to_string(),
    }
}

/// Writes a task description.
#[derive(Debug, Default)]
pub(crate) struct Enc {
    buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn new() -> Self {
        Enc::default()
    }

    /// Appends a serde value.
    pub(crate) fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        self.buf = postcard::to_extend(value, buf).map_err(|e| codec_err("encode a task", e))?;
        Ok(())
    }

    /// Appends the identity of a function that will decode what follows.
    pub(crate) fn entry(&mut self, f: Entry) -> Result<()> {
        self.put(&FnId::of(f))
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads a task description written by [`Enc`] in a process running this binary.
pub(crate) struct Dec<'a> {
    rest: &'a [u8],
    verified: Verified,
    depth: u32,
}

/// How deep shipped computations may nest (a chain of narrow transformations within one
/// stage); deeper lineage is refused instead of overflowing the task's stack.
const MAX_DEPTH: u32 = 2000;

impl<'a> Dec<'a> {
    pub(crate) fn new(bytes: &'a [u8], verified: Verified) -> Self {
        Dec {
            rest: bytes,
            verified,
            depth: 0,
        }
    }

    /// Takes the next serde value.
    pub(crate) fn get<T: DeserializeOwned>(&mut self) -> Result<T> {
        let (value, rest) =
            postcard::take_from_bytes(self.rest).map_err(|e| codec_err("decode a task", e))?;
        self.rest = rest;
        Ok(value)
    }

    /// Takes a function identity and runs it on the rest, expecting a `T` back.
    pub(crate) fn build<T: 'static>(&mut self) -> Result<T> {
        let id: FnId = self.get()?;
        if self.depth >= MAX_DEPTH {
            return Err(Error::invalid(
                "lineage",
                format!("more than {MAX_DEPTH} transformations without a shuffle in one stage"),
            ));
        }
        self.depth += 1;
        let built = (self.verified.resolve(id))(self);
        self.depth -= 1;
        let any: Box<dyn Any> = built?;
        any.downcast::<T>().map(|b| *b).map_err(|_| {
            Error::Internal(format!(
                "a shipped function did not build a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Appends one record to a raw frame buffer.
pub(crate) fn put_record<T: Serialize>(buf: &mut Vec<u8>, record: &T) -> Result<()> {
    let taken = std::mem::take(buf);
    *buf = postcard::to_extend(record, taken).map_err(|e| codec_err("serialize a record", e))?;
    Ok(())
}

/// Compresses a raw frame and writes it.
pub(crate) fn write_frame(out: &mut impl Write, raw: &[u8]) -> std::io::Result<u64> {
    let packed = lz4_flex::block::compress(raw);
    let header = frame_header(packed.len(), raw.len())?;
    out.write_all(&header)?;
    out.write_all(&packed)?;
    Ok((header.len() + packed.len()) as u64)
}

fn frame_header(packed: usize, raw: usize) -> std::io::Result<[u8; 8]> {
    let too_big = || std::io::Error::other("a frame over 4 GiB");
    let packed = u32::try_from(packed).map_err(|_| too_big())?;
    let raw = u32::try_from(raw).map_err(|_| too_big())?;
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&packed.to_le_bytes());
    header[4..].copy_from_slice(&raw.to_le_bytes());
    Ok(header)
}

/// Reads the next frame of a stream into `raw` (replacing its contents); `Ok(false)` at
/// a clean end of the stream.
pub(crate) fn read_frame(
    input: &mut impl Read,
    packed: &mut Vec<u8>,
    raw: &mut Vec<u8>,
) -> Result<bool> {
    let mut header = [0u8; 8];
    let mut got = 0;
    while got < header.len() {
        let n = input
            .read(&mut header[got..])
            .map_err(|e| codec_err("read a record frame", e))?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(codec_err(
                "read a record frame",
                "the stream ends inside a frame header",
            ));
        }
        got += n;
    }
    let packed_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let raw_len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if raw_len > MAX_FRAME_BYTES || packed_len > lz4_flex::block::get_maximum_output_size(raw_len) {
        return Err(codec_err(
            "read a record frame",
            format!("a frame claims {raw_len} bytes ({packed_len} compressed), over the limit"),
        ));
    }
    packed.resize(packed_len, 0);
    input
        .read_exact(packed)
        .map_err(|e| codec_err("read a record frame", e))?;
    raw.resize(raw_len, 0);
    let n = lz4_flex::block::decompress_into(packed, raw)
        .map_err(|e| codec_err("decompress a record frame", e))?;
    if n != raw_len {
        return Err(codec_err(
            "decompress a record frame",
            format!("{n} bytes where the header says {raw_len}"),
        ));
    }
    Ok(true)
}

/// The records of a stream of frames, one frame in memory at a time. A decoding error
/// ends the iteration and is kept for [`FrameRecords::error`] (or reported to the task
/// through `on_error`).
pub(crate) struct FrameRecords<T, R> {
    input: R,
    packed: Vec<u8>,
    raw: Vec<u8>,
    pos: usize,
    on_error: Box<dyn FnMut(Error)>,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned, R: Read> FrameRecords<T, R> {
    pub(crate) fn new(input: R, on_error: Box<dyn FnMut(Error)>) -> Self {
        FrameRecords {
            input,
            packed: Vec::new(),
            raw: Vec::new(),
            pos: 0,
            on_error,
            done: false,
            _t: PhantomData,
        }
    }

    fn fail(&mut self, e: Error) -> Option<T> {
        self.done = true;
        (self.on_error)(e);
        None
    }
}

impl<T: DeserializeOwned, R: Read> Iterator for FrameRecords<T, R> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while !self.done {
            if self.pos < self.raw.len() {
                return match postcard::take_from_bytes::<T>(&self.raw[self.pos..]) {
                    Ok((record, rest)) => {
                        self.pos = self.raw.len() - rest.len();
                        Some(record)
                    }
                    Err(e) => self.fail(codec_err("deserialize a record", e)),
                };
            }
            match read_frame(&mut self.input, &mut self.packed, &mut self.raw) {
                Ok(true) => self.pos = 0,
                Ok(false) => self.done = true,
                Err(e) => return self.fail(e),
            }
        }
        None
    }
}

/// Writes records as frames of about [`FRAME_BYTES`] to `out`.
pub(crate) struct FrameWriter<W: Write> {
    out: W,
    raw: Vec<u8>,
    written: u64,
}

impl<W: Write> FrameWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        FrameWriter {
            out,
            raw: Vec::with_capacity(FRAME_BYTES),
            written: 0,
        }
    }

    pub(crate) fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        put_record(&mut self.raw, record)?;
        if self.raw.len() >= FRAME_BYTES {
            self.seal()?;
        }
        Ok(())
    }

    fn seal(&mut self) -> Result<()> {
        if !self.raw.is_empty() {
            self.written += write_frame(&mut self.out, &self.raw)
                .map_err(|e| codec_err("write a record frame", e))?;
            self.raw.clear();
        }
        Ok(())
    }

    /// Seals the last frame; returns the writer and the bytes written.
    pub(crate) fn finish(mut self) -> Result<(W, u64)> {
        self.seal()?;
        Ok((self.out, self.written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn roundtrip(records: &[(String, u64)]) -> (Vec<(String, u64)>, Option<String>) {
        let mut w = FrameWriter::new(Vec::new());
        for r in records {
            w.write(r).expect("write");
        }
        let (bytes, n) = w.finish().expect("finish");
        assert_eq!(n, bytes.len() as u64);
        let err = Rc::new(RefCell::new(None));
        let seen = err.clone();
        let out: Vec<(String, u64)> = FrameRecords::new(
            &bytes[..],
            Box::new(move |e| *seen.borrow_mut() = Some(e.to_string())),
        )
        .collect();
        let e = err.borrow().clone();
        (out, e)
    }

    #[test]
    fn records_survive_frames_of_any_count() {
        for n in [0usize, 1, 7, 40_000] {
            let records: Vec<(String, u64)> =
                (0..n).map(|i| (format!("key-{i}"), i as u64)).collect();
            let (out, err) = roundtrip(&records);
            assert_eq!(err, None);
            assert_eq!(out, records, "{n} records");
        }
    }

    #[test]
    fn a_truncated_stream_is_an_error_not_a_short_answer() {
        let mut w = FrameWriter::new(Vec::new());
        for i in 0..1000u64 {
            w.write(&(format!("k{i}"), i)).expect("write");
        }
        let (bytes, _) = w.finish().expect("finish");
        for cut in [3, 9, bytes.len() - 1] {
            let err = Rc::new(RefCell::new(None));
            let seen = err.clone();
            let _: Vec<(String, u64)> = FrameRecords::new(
                &bytes[..cut],
                Box::new(move |e| *seen.borrow_mut() = Some(e)),
            )
            .collect();
            assert!(err.borrow().is_some(), "cut at {cut} went unnoticed");
        }
    }

    #[test]
    fn a_frame_claiming_too_much_is_refused_before_allocating() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 16]);
        let (mut p, mut r) = (Vec::new(), Vec::new());
        let err = read_frame(&mut &bytes[..], &mut p, &mut r).expect_err("refused");
        assert!(err.to_string().contains("over the limit"), "{err}");
    }
}
