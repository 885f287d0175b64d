//! P5's records and checks. A record is TeraSort's 100 bytes, written as a text line: a
//! 10-byte printable key, the record's number, filler and a newline, so that Spindle's
//! and Spark's text readers see one line per record and Hadoop's `TeraInputFormat` sees
//! the same bytes as one fixed-size record (key: the first 10 bytes, value: the other
//! 90). Every system's output is then the same bytes when it is sorted right.
//!
//! The single-machine limit sorts the local copy on all cores (keys with their record
//! index, sorted in per-thread chunks, then merged) and writes the sorted records.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::answer::Answer;

/// Bytes per record, the newline included.
pub const RECORD: usize = 100;
/// Bytes of the key at the start of a record.
pub const KEY: usize = 10;
/// Changes when the records change (part of the input's file name).
pub const GENERATOR_VERSION: u32 = 1;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Record `i` of the data set with `seed`.
pub fn record(i: u64, seed: u64) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    let mut h = splitmix(seed ^ splitmix(i));
    for (k, b) in r[..KEY].iter_mut().enumerate() {
        if k == 5 {
            h = splitmix(h);
        }
        // '!'..='~': printable, no space, so every reader splits nothing inside a key.
        *b = b'!' + (h % 94) as u8;
        h /= 94;
    }
    r[KEY] = b' ';
    let number = format!("{i:020}");
    r[KEY + 1..KEY + 21].copy_from_slice(number.as_bytes());
    for (j, b) in r[KEY + 21..RECORD - 1].iter_mut().enumerate() {
        *b = b'A' + ((i as usize + j) % 26) as u8;
    }
    r[RECORD - 1] = b'\n';
    r
}

/// Writes `bytes / 100` records.
pub fn generate(out: &mut impl Write, bytes: u64, seed: u64) -> std::io::Result<()> {
    for i in 0..bytes / RECORD as u64 {
        out.write_all(&record(i, seed))?;
    }
    Ok(())
}

/// The answer of a sort's output, its part files in name order: every record whole
/// (100 bytes, ending in a newline), keys never decreasing across the files; the
/// digest is over all the bytes in that order, so an output equals the reference only
/// when it holds the same records in the same order.
pub fn sorted_answer(parts: &[Vec<u8>]) -> Result<Answer, String> {
    let mut h = Sha256::new();
    let mut records = 0u64;
    let mut last: Option<[u8; KEY]> = None;
    for (p, part) in parts.iter().enumerate() {
        if part.len() % RECORD != 0 {
            return Err(format!(
                "part file {p} has {} bytes, not whole 100-byte records",
                part.len()
            ));
        }
        for (i, r) in part.chunks_exact(RECORD).enumerate() {
            if r[RECORD - 1] != b'\n' {
                return Err(format!("record {i} of part file {p} does not end a line"));
            }
            let mut key = [0u8; KEY];
            key.copy_from_slice(&r[..KEY]);
            if last.is_some_and(|l| key < l) {
                return Err(format!(
                    "record {i} of part file {p} is out of order (key {:?} after {:?})",
                    String::from_utf8_lossy(&key),
                    last.map(|l| String::from_utf8_lossy(&l).into_owned())
                ));
            }
            last = Some(key);
            records += 1;
        }
        h.update(part);
    }
    Ok(Answer {
        digest: format!("{:x}", h.finalize()),
        distinct: records,
        total: records * RECORD as u64,
    })
}

/// A record's place in the sort: its key as (first 8 bytes, last 2) and its index.
type SortKey = (u64, u16, u32);

/// The single-machine limit: reads `input`, sorts its records by key on `threads`
/// threads, writes them to `out`; answers as [`sorted_answer`] does.
pub fn sort_file(input: &Path, out: &Path, threads: usize) -> std::io::Result<Answer> {
    let data = std::fs::read(input)?;
    let n = data.len() / RECORD;
    // (first 8 key bytes, last 2, record index): sorting these sorts by key, then
    // by position, and moves 16 bytes instead of 100.
    let key_of = |i: usize| -> SortKey {
        let r = &data[i * RECORD..i * RECORD + KEY];
        let mut hi = [0u8; 8];
        hi.copy_from_slice(&r[..8]);
        (
            u64::from_be_bytes(hi),
            u16::from_be_bytes([r[8], r[9]]),
            i as u32,
        )
    };
    let threads = threads.max(1);
    let chunk = n.div_ceil(threads).max(1);
    let runs: Vec<Vec<SortKey>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                let to = (from + chunk).min(n);
                s.spawn(move || {
                    let mut v: Vec<SortKey> = (from..to).map(key_of).collect();
                    v.sort_unstable();
                    v
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut sorted = Vec::with_capacity(n * RECORD);
    let mut heap: BinaryHeap<Reverse<(SortKey, usize, usize)>> = runs
        .iter()
        .enumerate()
        .filter_map(|(r, run)| run.first().map(|k| Reverse((*k, r, 0))))
        .collect();
    while let Some(Reverse((k, r, at))) = heap.pop() {
        let i = k.2 as usize;
        sorted.extend_from_slice(&data[i * RECORD..(i + 1) * RECORD]);
        if let Some(next) = runs[r].get(at + 1) {
            heap.push(Reverse((*next, r, at + 1)));
        }
    }
    std::fs::write(out, &sorted)?;
    sorted_answer(std::slice::from_ref(&sorted)).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_lines_of_100_bytes_with_printable_keys() {
        for i in [0, 1, 12_345_678] {
            let r = record(i, 42);
            assert_eq!(r.len(), 100);
            assert_eq!(r[99], b'\n');
            assert!(r[..99].iter().all(|b| (b' '..=b'~').contains(b)));
            assert!(r[..KEY].iter().all(|b| *b != b' '));
        }
        assert_ne!(record(1, 42)[..KEY], record(2, 42)[..KEY]);
        assert_ne!(record(1, 42)[..KEY], record(1, 43)[..KEY]);
    }

    #[test]
    fn the_local_sort_orders_records_and_the_answer_checks_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("in");
        let mut data = Vec::new();
        generate(&mut data, 1000 * RECORD as u64 + 7, 1).expect("generate");
        assert_eq!(data.len(), 1000 * RECORD);
        std::fs::write(&input, &data).expect("write");
        let out = dir.path().join("out");
        let answer = sort_file(&input, &out, 3).expect("sorted");
        assert_eq!((answer.distinct, answer.total), (1000, 100_000));
        let sorted = std::fs::read(&out).expect("read");
        let mut want: Vec<&[u8]> = data.chunks_exact(RECORD).collect();
        want.sort_by_key(|r| &r[..KEY]);
        assert_eq!(sorted, want.concat());
        // The same records split into part files: the same answer.
        let (a, b) = sorted.split_at(400 * RECORD);
        assert_eq!(sorted_answer(&[a.to_vec(), b.to_vec()]), Ok(answer));
        // Out of order, or a torn record: errors.
        let e = sorted_answer(&[b.to_vec(), a.to_vec()]).expect_err("unordered");
        assert!(e.contains("out of order"), "{e}");
        let e = sorted_answer(&[sorted[..150].to_vec()]).expect_err("torn");
        assert!(e.contains("not whole"), "{e}");
    }
}
