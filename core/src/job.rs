//! The built-in jobs (`wordcount`, `linecount`, `grep <regex>`) as one map → combine →
//! partition → reduce pipeline over `(key, count)` pairs, and the encodings of their task
//! payloads and results.
//!
//! Reading splits is [`crate::lines`]'s; moving the encoded bytes is the transport's.

use std::collections::HashMap;

use prost::encoding::{decode_varint, encode_varint};
use regex::bytes::Regex;

use crate::error::CoreError;

/// `(key, count)` pairs; keys are raw bytes (UTF-8 kept intact, never re-encoded).
/// Word → count (foldhash: several times faster than SipHash on short keys).
pub type Counts = HashMap<Vec<u8>, u64, foldhash::fast::RandomState>;

/// A built-in job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// Words split on ASCII whitespace (Hadoop's `StringTokenizer`), counted.
    WordCount,
    /// Lines counted, under the single key `lines`.
    LineCount,
    /// Every match of a regular expression counted (Hadoop's `Grep` example).
    Grep {
        /// The regular expression (Rust `regex` syntax, bytes mode).
        pattern: String,
    },
}

impl JobKind {
    /// `wordcount`, `linecount`, or `grep <regex>`; bad names and regexes are errors.
    pub fn parse(name: &str, args: &[String]) -> Result<JobKind, CoreError> {
        match name {
            "wordcount" | "linecount" => {
                if !args.is_empty() {
                    return Err(CoreError::InvalidJob(format!(
                        "{name} takes no arguments, got {}: {}",
                        args.len(),
                        args.join(" ")
                    )));
                }
                Ok(if name == "wordcount" {
                    JobKind::WordCount
                } else {
                    JobKind::LineCount
                })
            }
            "grep" => match args {
                [pattern] => {
                    compile(pattern)?;
                    Ok(JobKind::Grep {
                        pattern: pattern.clone(),
                    })
                }
                _ => Err(CoreError::InvalidJob(format!(
                    "grep needs one argument: the regular expression (got {})",
                    args.len()
                ))),
            },
            other => Err(CoreError::InvalidJob(format!(
                "unknown job {other:?}: expected wordcount, linecount or grep <regex>"
            ))),
        }
    }

    /// The job's name as the user typed it (`wordcount`, …).
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::WordCount => "wordcount",
            JobKind::LineCount => "linecount",
            JobKind::Grep { .. } => "grep",
        }
    }
}

fn compile(pattern: &str) -> Result<Regex, CoreError> {
    Regex::new(pattern).map_err(|e| {
        CoreError::InvalidJob(format!("grep: invalid regular expression {pattern:?}: {e}"))
    })
}

/// The map side of a job: turns lines into counts (combining as it goes).
#[derive(Debug)]
pub struct Mapper {
    kind: MapKind,
}

#[derive(Debug)]
enum MapKind {
    Words,
    Lines,
    Grep(Regex),
}

/// The key [`JobKind::LineCount`] counts under.
pub const LINES_KEY: &[u8] = b"lines";

/// Java's `StringTokenizer` default delimiters, `" \t\n\r\f"` (no vertical tab), as a
/// byte table: Hadoop's `WordCount` splits words with it.
const DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    table[b' ' as usize] = true;
    table[b'\t' as usize] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table[0x0c] = true;
    table
};

impl Mapper {
    /// A mapper for `job` (compiles the regex once).
    pub fn new(job: &JobKind) -> Result<Mapper, CoreError> {
        let kind = match job {
            JobKind::WordCount => MapKind::Words,
            JobKind::LineCount => MapKind::Lines,
            JobKind::Grep { pattern } => MapKind::Grep(compile(pattern)?),
        };
        Ok(Mapper { kind })
    }

    /// Adds one line's keys to `out`.
    pub fn map_line(&mut self, line: &[u8], out: &mut Counts) {
        match &self.kind {
            MapKind::Words => {
                let mut i = 0;
                let n = line.len();
                while i < n {
                    while i < n && DELIMITER[usize::from(line[i])] {
                        i += 1;
                    }
                    let start = i;
                    while i < n && !DELIMITER[usize::from(line[i])] {
                        i += 1;
                    }
                    if start < i {
                        add(out, &line[start..i], 1);
                    }
                }
            }
            MapKind::Lines => add(out, LINES_KEY, 1),
            MapKind::Grep(re) => {
                for m in re.find_iter(line) {
                    add(out, m.as_bytes(), 1);
                }
            }
        }
    }
}

/// Counts `key`, allocating an owned key only the first time it is seen.
fn add(out: &mut Counts, key: &[u8], n: u64) {
    match out.get_mut(key) {
        Some(count) => *count += n,
        None => {
            out.insert(key.to_vec(), n);
        }
    }
}

/// The reducer (`0..reducers`) that gets `key`: FNV-1a 64 of the key bytes, finished
/// with MurmurHash3's `fmix64` (FNV's low bits alone mix poorly), modulo `reducers`.
/// Fixed constants, so the same in every process, build and run. 0 reducers count as 1.
pub fn reducer_for(key: &[u8], reducers: u32) -> u32 {
    let n = u64::from(reducers.max(1));
    // The remainder is below `reducers`, so it fits.
    (fmix64(fnv1a64(key)) % n) as u32
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Splits counts into `reducers` buckets by a hash of the key that is the same in every
/// process and on every run (see [`reducer_for`]; 0 reducers count as 1).
pub fn partition(counts: Counts, reducers: u32) -> Vec<Counts> {
    let n = reducers.max(1);
    let mut buckets: Vec<Counts> = (0..n)
        .map(|_| {
            Counts::with_capacity_and_hasher(counts.len() / n as usize + 1, Default::default())
        })
        .collect();
    for (key, count) in counts {
        let bucket = reducer_for(&key, n) as usize;
        buckets[bucket].insert(key, count);
    }
    buckets
}

/// Compact binary encoding of counts (task results and shuffle blocks).
///
/// Varint number of entries, then per entry: varint key length, key bytes, varint count
/// (protobuf varints). Entries in no particular order.
pub fn encode_counts(counts: &Counts) -> Vec<u8> {
    encode_entries(counts.iter().map(|(k, v)| (k, *v)))
}

/// [`encode_counts`]'s format for entries in the iterator's order.
fn encode_entries<'a, I>(entries: I) -> Vec<u8>
where
    I: ExactSizeIterator<Item = (&'a Vec<u8>, u64)> + Clone,
{
    let size: usize = entries.clone().map(|(k, _)| k.len() + 3).sum();
    let mut out = Vec::with_capacity(size + 10);
    encode_varint(entries.len() as u64, &mut out);
    for (key, count) in entries {
        encode_varint(key.len() as u64, &mut out);
        out.extend_from_slice(key);
        encode_varint(count, &mut out);
    }
    out
}

/// The entries of `counts` in key byte order.
fn sorted_entries(counts: &Counts) -> Vec<(&Vec<u8>, u64)> {
    let mut entries: Vec<(&Vec<u8>, u64)> = counts.iter().map(|(k, v)| (k, *v)).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Decodes [`encode_counts`]; malformed input is an error, never a panic.
pub fn decode_counts(bytes: &[u8]) -> Result<Counts, CoreError> {
    let mut r = Reader::new(bytes, "counts");
    let n = r.varint()?;
    // Each entry takes at least two bytes: bound the allocation by the input.
    if n > (r.remaining() / 2) as u64 {
        return Err(r.error(format!(
            "{n} entries announced but only {} bytes follow",
            r.remaining()
        )));
    }
    let mut counts = Counts::with_capacity_and_hasher(n as usize, Default::default());
    for _ in 0..n {
        let key = r.len_prefixed()?;
        let count = r.varint()?;
        if counts.insert(key.to_vec(), count).is_some() {
            return Err(r.error(format!("key {:?} appears twice", show(key))));
        }
    }
    r.finish()?;
    Ok(counts)
}

/// Shuffle block kinds (the first byte of a block).
const BLOCK_PLAIN: u8 = 0;
const BLOCK_DEFLATE: u8 = 1;
/// Blocks shorter than this stay plain: deflate would not pay for its own header.
const DEFLATE_FROM: usize = 256;
/// Largest inflated block a header may announce (a corrupt header must not make the
/// reducer allocate without bound).
const MAX_BLOCK_BYTES: u64 = 1 << 31;

/// One map task's counts for one reducer, as the shuffle carries them: a kind byte,
/// then either [`encode_counts`] (plain) or its length as a varint and its raw deflate
/// stream, with entries in key order. The driver holds every block between the map and
/// the reduce stage, so their size is its memory: sorted keys deflate to about a third.
pub fn encode_shuffle_block(counts: &Counts) -> Vec<u8> {
    let raw = encode_entries(sorted_entries(counts).into_iter());
    if raw.len() >= DEFLATE_FROM
        && let Some(deflated) = deflate(&raw)
        && deflated.len() + 10 < raw.len()
    {
        let mut out = Vec::with_capacity(deflated.len() + 11);
        out.push(BLOCK_DEFLATE);
        encode_varint(raw.len() as u64, &mut out);
        out.extend_from_slice(&deflated);
        return out;
    }
    let mut out = Vec::with_capacity(raw.len() + 1);
    out.push(BLOCK_PLAIN);
    out.extend_from_slice(&raw);
    out
}

/// `raw` as a raw deflate stream at the fastest level; None if the compressor fails.
fn deflate(raw: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let out = Vec::with_capacity(raw.len() / 2 + 64);
    let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    encoder.write_all(raw).ok()?;
    encoder.finish().ok()
}

/// Decodes [`encode_shuffle_block`]; malformed input is an error, never a panic.
pub fn decode_shuffle_block(bytes: &[u8]) -> Result<Counts, CoreError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut r = Reader::new(bytes, "shuffle block");
    match r.byte()? {
        BLOCK_PLAIN => decode_counts(r.buf),
        BLOCK_DEFLATE => {
            let raw_len = r.varint()?;
            // Deflate expands at most ~1032:1.
            if raw_len > MAX_BLOCK_BYTES || raw_len > (r.remaining() as u64 + 1) * 1032 {
                return Err(r.error(format!(
                    "{raw_len} bytes announced from {} deflated ones",
                    r.remaining()
                )));
            }
            let mut raw = Vec::with_capacity(raw_len as usize);
            let mut d = Decompress::new(false);
            let status = d
                .decompress_vec(r.buf, &mut raw, FlushDecompress::Finish)
                .map_err(|e| r.error(format!("bad deflate stream ({e})")))?;
            if status != Status::StreamEnd
                || raw.len() as u64 != raw_len
                || d.total_in() != r.remaining() as u64
            {
                return Err(r.error(format!(
                    "the deflate stream gave {} of {raw_len} bytes from {} of {} ({status:?})",
                    raw.len(),
                    d.total_in(),
                    r.remaining()
                )));
            }
            decode_counts(&raw)
        }
        other => Err(r.error(format!("unknown block kind {other}"))),
    }
}

/// Adds `src` into `dst`.
pub fn merge_into(dst: &mut Counts, src: Counts) {
    for (k, v) in src {
        *dst.entry(k).or_default() += v;
    }
}

/// The output file's bytes: `key\tcount\n` sorted by key bytes.
pub fn format_output(counts: &Counts) -> Vec<u8> {
    let entries = sorted_entries(counts);
    let size: usize = entries.iter().map(|(k, _)| k.len() + 8).sum();
    let mut out = Vec::with_capacity(size);
    let mut digits = [0u8; 20];
    for (key, count) in entries {
        out.extend_from_slice(key);
        out.push(b'\t');
        out.extend_from_slice(decimal(count, &mut digits));
        out.push(b'\n');
    }
    out
}

/// `n` in decimal, written at the end of `buf` (20 digits hold any u64).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// What one task runs, carried in `TaskDescription.payload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskPayload {
    /// Read a split (the task's `file_split` input), map and combine, partition into
    /// `reducers` buckets; the result is [`encode_map_result`].
    Map {
        /// The job.
        job: JobKind,
        /// Number of reduce partitions.
        reducers: u32,
    },
    /// Merge the shuffle blocks (the task's shuffle input, each an [`encode_shuffle_block`]),
    /// write [`format_output`] to `output_file` (an attempt path under `_temporary/`).
    Reduce {
        /// The job.
        job: JobKind,
        /// Where this attempt writes its part file.
        output_file: String,
    },
}

/// Version of the payload encoding written by this build.
pub const PAYLOAD_VERSION: u8 = 1;

const TASK_MAP: u8 = 1;
const TASK_REDUCE: u8 = 2;
const JOB_WORDCOUNT: u8 = 1;
const JOB_LINECOUNT: u8 = 2;
const JOB_GREP: u8 = 3;

/// Encodes a payload (versioned, so executors can refuse what they do not know).
///
/// Version byte ([`PAYLOAD_VERSION`]), task byte (1 map, 2 reduce), job byte
/// (1 wordcount, 2 linecount, 3 grep + varint-length pattern), then for a map the
/// varint reducer count, for a reduce the varint-length output file.
pub fn encode_payload(payload: &TaskPayload) -> Vec<u8> {
    let mut out = vec![PAYLOAD_VERSION];
    let job = match payload {
        TaskPayload::Map { job, .. } => {
            out.push(TASK_MAP);
            job
        }
        TaskPayload::Reduce { job, .. } => {
            out.push(TASK_REDUCE);
            job
        }
    };
    match job {
        JobKind::WordCount => out.push(JOB_WORDCOUNT),
        JobKind::LineCount => out.push(JOB_LINECOUNT),
        JobKind::Grep { pattern } => {
            out.push(JOB_GREP);
            put_len_prefixed(&mut out, pattern.as_bytes());
        }
    }
    match payload {
        TaskPayload::Map { reducers, .. } => encode_varint(u64::from(*reducers), &mut out),
        TaskPayload::Reduce { output_file, .. } => {
            put_len_prefixed(&mut out, output_file.as_bytes());
        }
    }
    out
}

/// Decodes [`encode_payload`].
pub fn decode_payload(bytes: &[u8]) -> Result<TaskPayload, CoreError> {
    let mut r = Reader::new(bytes, "task payload");
    let version = r.byte()?;
    if version != PAYLOAD_VERSION {
        return Err(r.error(format!(
            "version {version}, this build knows version {PAYLOAD_VERSION} only"
        )));
    }
    let task = r.byte()?;
    let job = match r.byte()? {
        JOB_WORDCOUNT => JobKind::WordCount,
        JOB_LINECOUNT => JobKind::LineCount,
        JOB_GREP => JobKind::Grep {
            pattern: r.string("grep pattern")?,
        },
        other => return Err(r.error(format!("unknown job {other}"))),
    };
    let payload = match task {
        TASK_MAP => {
            let reducers = r.varint()?;
            let reducers = u32::try_from(reducers)
                .map_err(|_| r.error(format!("reducer count {reducers} is too large")))?;
            TaskPayload::Map { job, reducers }
        }
        TASK_REDUCE => TaskPayload::Reduce {
            job,
            output_file: r.string("output file")?,
        },
        other => return Err(r.error(format!("unknown task kind {other}"))),
    };
    r.finish()?;
    Ok(payload)
}

/// A map task's result: one shuffle block ([`encode_shuffle_block`]) per reducer.
///
/// Varint number of buckets, then each as varint length + bytes.
pub fn encode_map_result(buckets: &[Counts]) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = buckets.iter().map(encode_shuffle_block).collect();
    let size: usize = encoded.iter().map(|b| b.len() + 5).sum();
    let mut out = Vec::with_capacity(size + 5);
    encode_varint(encoded.len() as u64, &mut out);
    for bucket in &encoded {
        put_len_prefixed(&mut out, bucket);
    }
    out
}

/// Decodes [`encode_map_result`] into the encoded buckets (not decoded: the driver only
/// forwards them to reducers).
pub fn decode_map_result(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CoreError> {
    let mut r = Reader::new(bytes, "map result");
    let n = r.varint()?;
    // Each bucket takes at least one byte (its length).
    if n > r.remaining() as u64 {
        return Err(r.error(format!(
            "{n} buckets announced but only {} bytes follow",
            r.remaining()
        )));
    }
    let mut buckets = Vec::with_capacity(n as usize);
    for _ in 0..n {
        buckets.push(r.len_prefixed()?.to_vec());
    }
    r.finish()?;
    Ok(buckets)
}

fn put_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// A key for error messages: text when it is UTF-8, else escaped, and short.
fn show(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(&key[..key.len().min(64)]).into_owned();
    if key.len() > 64 { text + "…" } else { text }
}

/// Reads what the encoders above write, checking every length against the input left.
struct Reader<'a> {
    buf: &'a [u8],
    total: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader {
            buf,
            total: buf.len(),
            what,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn error(&self, detail: String) -> CoreError {
        CoreError::Malformed {
            what: self.what,
            detail: format!(
                "at byte {} of {}: {detail}",
                self.total - self.buf.len(),
                self.total
            ),
        }
    }

    fn byte(&mut self) -> Result<u8, CoreError> {
        let (&b, rest) = self
            .buf
            .split_first()
            .ok_or_else(|| self.error("truncated".to_string()))?;
        self.buf = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, CoreError> {
        let before = self.buf;
        decode_varint(&mut self.buf).map_err(|e| {
            self.buf = before;
            self.error(format!("bad varint ({e})"))
        })
    }

    fn len_prefixed(&mut self) -> Result<&'a [u8], CoreError> {
        let len = self.varint()?;
        if len > self.remaining() as u64 {
            return Err(self.error(format!(
                "length {len} but only {} bytes follow",
                self.remaining()
            )));
        }
        let (bytes, rest) = self.buf.split_at(len as usize);
        self.buf = rest;
        Ok(bytes)
    }

    fn string(&mut self, field: &str) -> Result<String, CoreError> {
        let bytes = self.len_prefixed()?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.error(format!("the {field} is not UTF-8")))
    }

    fn finish(self) -> Result<(), CoreError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} bytes left over", self.buf.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(pairs: &[(&str, u64)]) -> Counts {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), *v))
            .collect()
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_table() {
        let ok: &[(&str, &[&str], JobKind)] = &[
            ("wordcount", &[], JobKind::WordCount),
            ("linecount", &[], JobKind::LineCount),
            (
                "grep",
                &["a+b"],
                JobKind::Grep {
                    pattern: "a+b".to_string(),
                },
            ),
        ];
        for (name, a, want) in ok {
            let got = JobKind::parse(name, &args(a)).expect("a valid job");
            assert_eq!(&got, want);
            assert_eq!(got.name(), *name);
        }
        let bad: &[(&str, &[&str], &str)] = &[
            (
                "grep",
                &[],
                "grep needs one argument: the regular expression",
            ),
            ("grep", &["a", "b"], "grep needs one argument"),
            (
                "grep",
                &["(unclosed"],
                "invalid regular expression \"(unclosed\"",
            ),
            (
                "wordcount",
                &["x"],
                "wordcount takes no arguments, got 1: x",
            ),
            (
                "linecount",
                &["x", "y"],
                "linecount takes no arguments, got 2",
            ),
            ("WordCount", &[], "unknown job \"WordCount\""),
            ("sort", &[], "expected wordcount, linecount or grep <regex>"),
        ];
        for (name, a, want) in bad {
            match JobKind::parse(name, &args(a)) {
                Err(CoreError::InvalidJob(msg)) => {
                    assert!(msg.contains(want), "{name} {a:?}: {msg:?} lacks {want:?}")
                }
                other => panic!("{name} {a:?}: {other:?}"),
            }
        }
    }

    fn map_lines(job: &JobKind, lines: &[&[u8]]) -> Counts {
        let mut mapper = Mapper::new(job).expect("a valid job");
        let mut out = Counts::default();
        for line in lines {
            mapper.map_line(line, &mut out);
        }
        out
    }

    #[test]
    fn wordcount_splits_like_string_tokenizer() {
        let got = map_lines(
            &JobKind::WordCount,
            &[
                b"  the quick\tthe\x0bfox\x0c\r",
                b"",
                b"\xc3\xbcber the\xc2\xa0nbsp \xff",
                b"the",
            ],
        );
        // Vertical tab and no-break space are not delimiters; bytes stay as they are.
        let mut want = counts(&[
            ("the", 2),
            ("quick", 1),
            ("the\x0bfox", 1),
            ("über", 1),
            ("the\u{a0}nbsp", 1),
        ]);
        want.insert(vec![0xff], 1);
        assert_eq!(got, want);
    }

    #[test]
    fn linecount_counts_every_line() {
        let got = map_lines(&JobKind::LineCount, &[b"a b", b"", b"c"]);
        assert_eq!(got, counts(&[("lines", 3)]));
    }

    #[test]
    fn grep_counts_whole_matches() {
        let grep = |p: &str| JobKind::Grep {
            pattern: p.to_string(),
        };
        assert_eq!(
            map_lines(&grep("o+"), &[b"foo boo", b"o", b"none", b"x"]),
            counts(&[("oo", 2), ("o", 2)])
        );
        assert_eq!(
            map_lines(&grep("(a)(b)"), &[b"abab", b"xab"]),
            counts(&[("ab", 3)])
        );
        assert_eq!(
            map_lines(&grep("dfs[a-z.]+"), &[b"dfs.replication dfs.block.size x"]),
            counts(&[("dfs.replication", 1), ("dfs.block.size", 1)])
        );
        assert!(matches!(
            Mapper::new(&grep("[")),
            Err(CoreError::InvalidJob(_))
        ));
    }

    #[test]
    fn fnv_and_buckets_are_pinned() {
        // FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // Bucket choices must never change between builds: executors of different
        // attempts (and reducers reading them) must agree.
        let got: Vec<u32> = ["", "a", "the", "hadoop", "日本"]
            .iter()
            .map(|k| reducer_for(k.as_bytes(), 7))
            .collect();
        assert_eq!(got, PINNED_BUCKETS_OF_7);
        assert_eq!(reducer_for(b"anything", 0), 0);
        assert_eq!(reducer_for(b"anything", 1), 0);
    }

    // Computed independently (Python) from the definition; a change here breaks
    // compatibility between builds.
    const PINNED_BUCKETS_OF_7: [u32; 5] = [1, 1, 6, 2, 3];

    #[test]
    fn partition_puts_each_key_in_its_bucket() {
        let all: Counts = (0..1000u64)
            .map(|i| (format!("key{i}").into_bytes(), i))
            .collect();
        let buckets = partition(all.clone(), 4);
        assert_eq!(buckets.len(), 4);
        for (b, bucket) in buckets.iter().enumerate() {
            // Roughly even: 250 each.
            assert!(
                (150..350).contains(&bucket.len()),
                "bucket {b}: {}",
                bucket.len()
            );
            for key in bucket.keys() {
                assert_eq!(reducer_for(key, 4) as usize, b);
            }
        }
        let mut merged = Counts::default();
        for bucket in buckets {
            merge_into(&mut merged, bucket);
        }
        assert_eq!(merged, all);
        assert_eq!(partition(counts(&[("a", 1)]), 0), vec![counts(&[("a", 1)])]);
    }

    #[test]
    fn counts_encoding_table() {
        let cases: &[(Counts, &[u8])] = &[
            (Counts::default(), &[0]),
            (counts(&[("ab", 300)]), &[1, 2, b'a', b'b', 0xac, 0x02]),
            (counts(&[("", 0)]), &[1, 0, 0]),
        ];
        for (c, bytes) in cases {
            assert_eq!(encode_counts(c), *bytes);
            assert_eq!(&decode_counts(bytes).expect("valid"), c);
        }
    }

    #[test]
    fn malformed_counts_are_errors() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "bad varint"),
            (&[1], "1 entries announced but only 0 bytes follow"),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], "entries announced"),
            (&[1, 5, b'a', 1], "length 5 but only 2 bytes follow"),
            (&[1, 1, b'a'], "bad varint"),
            (&[1, 1, b'a', 0x80], "bad varint"),
            (&[1, 0, 1, 9], "1 bytes left over"),
            (&[2, 1, b'a', 1, 1, b'a', 2], "key \"a\" appears twice"),
            (&[0xff; 11], "bad varint"),
        ];
        for (bytes, want) in cases {
            match decode_counts(bytes) {
                Err(CoreError::Malformed { what, detail }) => {
                    assert_eq!(what, "counts");
                    assert!(
                        detail.contains(want),
                        "{bytes:?}: {detail:?} lacks {want:?}"
                    );
                }
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn output_is_sorted_by_key_bytes() {
        let c = counts(&[
            ("b", 1),
            ("a", 20),
            ("B", 3),
            ("über", 18446744073709551615),
            ("", 0),
        ]);
        assert_eq!(
            format_output(&c),
            "\t0\nB\t3\na\t20\nb\t1\nüber\t18446744073709551615\n".as_bytes()
        );
        assert!(format_output(&Counts::default()).is_empty());
    }

    #[test]
    fn payload_table() {
        let grep = JobKind::Grep {
            pattern: "é+".to_string(),
        };
        let cases: Vec<(TaskPayload, Vec<u8>)> = vec![
            (
                TaskPayload::Map {
                    job: JobKind::WordCount,
                    reducers: 3,
                },
                vec![1, 1, 1, 3],
            ),
            (
                TaskPayload::Map {
                    job: JobKind::LineCount,
                    reducers: 300,
                },
                vec![1, 1, 2, 0xac, 0x02],
            ),
            (
                TaskPayload::Reduce {
                    job: grep,
                    output_file: "/o/p".to_string(),
                },
                [&[1, 2, 3, 3][..], "é+".as_bytes(), &[4], b"/o/p"].concat(),
            ),
        ];
        for (payload, bytes) in cases {
            assert_eq!(encode_payload(&payload), bytes);
            assert_eq!(decode_payload(&bytes).expect("valid"), payload);
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "truncated"),
            (&[2, 1, 1, 3], "version 2, this build knows version 1 only"),
            (&[1], "truncated"),
            (&[1, 1], "truncated"),
            (&[1, 9, 1, 3], "unknown task kind 9"),
            (&[1, 1, 9, 3], "unknown job 9"),
            (&[1, 1, 1], "bad varint"),
            (
                &[1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x10],
                "reducer count 4294967296 is too large",
            ),
            (&[1, 1, 3, 1, 0xff, 1], "the grep pattern is not UTF-8"),
            (
                &[1, 2, 1, 4, b'/', b'o'],
                "length 4 but only 2 bytes follow",
            ),
            (&[1, 1, 1, 3, 0], "1 bytes left over"),
        ];
        for (bytes, want) in cases {
            match decode_payload(bytes) {
                Err(CoreError::Malformed { what, detail }) => {
                    assert_eq!(what, "task payload");
                    assert!(
                        detail.contains(want),
                        "{bytes:?}: {detail:?} lacks {want:?}"
                    );
                }
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn shuffle_blocks_deflate_sorted_keys_and_reject_damage() {
        let many: Counts = (0..5000u64)
            .map(|i| {
                (
                    format!("word{:05}", i * 7919 % 5000).into_bytes(),
                    i % 300 + 1,
                )
            })
            .collect();
        let plain = encode_counts(&many);
        let block = encode_shuffle_block(&many);
        assert_eq!(block[0], BLOCK_DEFLATE);
        assert!(
            block.len() * 3 < plain.len(),
            "{} deflated vs {} plain",
            block.len(),
            plain.len()
        );
        assert_eq!(decode_shuffle_block(&block).expect("valid"), many);
        let small = counts(&[("ab", 300)]);
        assert_eq!(
            encode_shuffle_block(&small),
            [&[BLOCK_PLAIN][..], &encode_counts(&small)].concat()
        );
        // A header announcing more than deflate can give, a cut or padded stream, an
        // unknown kind and nothing at all are errors.
        let mut huge = vec![BLOCK_DEFLATE];
        encode_varint(1 << 40, &mut huge);
        huge.extend_from_slice(&block[4..]);
        let mut padded = block.clone();
        padded.push(0);
        for (bad, want) in [
            (huge, "bytes announced from"),
            (block[..block.len() - 1].to_vec(), "deflate stream"),
            (padded, "the deflate stream gave"),
            (vec![7, 0], "unknown block kind 7"),
            (vec![], "truncated"),
        ] {
            match decode_shuffle_block(&bad) {
                Err(CoreError::Malformed { what, detail }) => {
                    assert_eq!(what, "shuffle block");
                    assert!(detail.contains(want), "{detail:?} lacks {want:?}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn map_result_table() {
        let buckets = vec![Counts::default(), counts(&[("ab", 300)])];
        let bytes = encode_map_result(&buckets);
        // Small blocks stay plain: kind 0, then the counts.
        assert_eq!(bytes, vec![2, 2, 0, 0, 7, 0, 1, 2, b'a', b'b', 0xac, 0x02]);
        let decoded = decode_map_result(&bytes).expect("valid");
        assert_eq!(
            decoded,
            vec![vec![0, 0], vec![0, 1, 2, b'a', b'b', 0xac, 0x02]]
        );
        assert_eq!(
            decode_map_result(&[0]).expect("valid"),
            Vec::<Vec<u8>>::new()
        );
        for (bad, want) in [
            (&[][..], "bad varint"),
            (
                &[3, 0, 0][..],
                "3 buckets announced but only 2 bytes follow",
            ),
            (&[1, 2, 0][..], "length 2 but only 1 bytes follow"),
            (&[1, 0, 0][..], "1 bytes left over"),
        ] {
            match decode_map_result(bad) {
                Err(CoreError::Malformed { what, detail }) => {
                    assert_eq!(what, "map result");
                    assert!(detail.contains(want), "{bad:?}: {detail:?} lacks {want:?}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    fn any_counts() -> impl Strategy<Value = Counts> {
        proptest::collection::hash_map(
            proptest::collection::vec(any::<u8>(), 0..20),
            any::<u64>(),
            0..50,
        )
        .prop_map(|m| m.into_iter().collect())
    }

    fn any_job() -> impl Strategy<Value = JobKind> {
        prop_oneof![
            Just(JobKind::WordCount),
            Just(JobKind::LineCount),
            any::<String>().prop_map(|pattern| JobKind::Grep { pattern }),
        ]
    }

    fn any_payload() -> impl Strategy<Value = TaskPayload> {
        prop_oneof![
            (any_job(), any::<u32>())
                .prop_map(|(job, reducers)| TaskPayload::Map { job, reducers }),
            (any_job(), any::<String>())
                .prop_map(|(job, output_file)| TaskPayload::Reduce { job, output_file }),
        ]
    }

    proptest! {
        #[test]
        fn counts_round_trip(c in any_counts()) {
            prop_assert_eq!(decode_counts(&encode_counts(&c)).expect("valid"), c);
        }

        #[test]
        fn payload_round_trip(p in any_payload()) {
            prop_assert_eq!(decode_payload(&encode_payload(&p)).expect("valid"), p);
        }

        #[test]
        fn shuffle_block_round_trip(
            c in proptest::collection::hash_map("[a-c]{1,12}", 1u64..1000, 0..400),
        ) {
            let c: Counts = c.into_iter().map(|(k, v)| (k.into_bytes(), v)).collect();
            prop_assert_eq!(decode_shuffle_block(&encode_shuffle_block(&c)).expect("valid"), c);
        }

        #[test]
        fn map_result_round_trip(
            buckets in proptest::collection::vec(any_counts(), 0..6),
        ) {
            let decoded = decode_map_result(&encode_map_result(&buckets)).expect("valid");
            let back: Vec<Counts> = decoded
                .iter()
                .map(|b| decode_shuffle_block(b).expect("valid"))
                .collect();
            prop_assert_eq!(back, buckets);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_counts(&bytes);
            let _ = decode_payload(&bytes);
            let _ = decode_map_result(&bytes);
            let _ = decode_shuffle_block(&bytes);
        }

        #[test]
        fn decoders_reject_damaged_encodings(
            c in any_counts(),
            p in any_payload(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            bits in 1u8..=255,
        ) {
            // A proper prefix of an encoding always fails (each decoder consumes exactly
            // what its encoder wrote); damaged bytes give an error or a value, no panic.
            let enc_c = encode_counts(&c);
            prop_assert!(decode_counts(&enc_c[..cut.index(enc_c.len())]).is_err());
            let enc_p = encode_payload(&p);
            prop_assert!(decode_payload(&enc_p[..cut.index(enc_p.len())]).is_err());
            let enc_m = encode_map_result(std::slice::from_ref(&c));
            prop_assert!(decode_map_result(&enc_m[..cut.index(enc_m.len())]).is_err());
            let enc_s = encode_shuffle_block(&c);
            prop_assert!(decode_shuffle_block(&enc_s[..cut.index(enc_s.len())]).is_err());
            for mut bytes in [enc_c, enc_p, enc_m, enc_s] {
                let i = flip.index(bytes.len());
                bytes[i] ^= bits;
                let _ = decode_counts(&bytes);
                let _ = decode_payload(&bytes);
                let _ = decode_map_result(&bytes);
                let _ = decode_shuffle_block(&bytes);
            }
        }

        #[test]
        fn wordcount_matches_a_reference(text in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(0x0b), Just(0x0c), Just(b'a'), Just(b'b'), Just(0xc3)],
            0..40,
        )) {
            let got = map_lines(&JobKind::WordCount, &[&text]);
            let mut want = Counts::default();
            for word in text
                .split(|b| b" \t\n\r\x0c".contains(b))
                .filter(|w| !w.is_empty())
            {
                *want.entry(word.to_vec()).or_default() += 1;
            }
            prop_assert_eq!(got, want);
        }
    }
}
