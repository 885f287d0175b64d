//! The built-in jobs (`wordcount`, `linecount`, `grep <regex>`) as one map → combine →
//! partition → reduce pipeline over `(key, count)` pairs, and the encodings of their task
//! payloads and results.

use std::collections::HashMap;

use crate::error::CoreError;

/// `(key, count)` pairs; keys are raw bytes (UTF-8 kept intact, never re-encoded).
pub type Counts = HashMap<Vec<u8>, u64>;

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
        let _ = (name, args);
        unimplemented!("filled in by the job work")
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

/// The map side of a job: turns lines into counts (combining as it goes).
#[derive(Debug)]
pub struct Mapper {
    _private: (),
}

impl Mapper {
    /// A mapper for `job` (compiles the regex once).
    pub fn new(job: &JobKind) -> Result<Mapper, CoreError> {
        let _ = job;
        unimplemented!("filled in by the job work")
    }

    /// Adds one line's keys to `out`.
    pub fn map_line(&mut self, line: &[u8], out: &mut Counts) {
        let _ = (line, out);
        unimplemented!("filled in by the job work")
    }
}

/// Splits counts into `reducers` buckets by a hash of the key that is the same in every
/// process and on every run.
pub fn partition(counts: Counts, reducers: u32) -> Vec<Counts> {
    let _ = (counts, reducers);
    unimplemented!("filled in by the job work")
}

/// Compact binary encoding of counts (task results and shuffle blocks).
pub fn encode_counts(counts: &Counts) -> Vec<u8> {
    let _ = counts;
    unimplemented!("filled in by the job work")
}

/// Decodes [`encode_counts`]; malformed input is an error, never a panic.
pub fn decode_counts(bytes: &[u8]) -> Result<Counts, CoreError> {
    let _ = bytes;
    unimplemented!("filled in by the job work")
}

/// Adds `src` into `dst`.
pub fn merge_into(dst: &mut Counts, src: Counts) {
    for (k, v) in src {
        *dst.entry(k).or_default() += v;
    }
}

/// The output file's bytes: `key\tcount\n` sorted by key bytes.
pub fn format_output(counts: &Counts) -> Vec<u8> {
    let _ = counts;
    unimplemented!("filled in by the job work")
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
    /// Merge the shuffle blocks (the task's shuffle input, each an [`encode_counts`]),
    /// write [`format_output`] to `output_file` (an attempt path under `_temporary/`).
    Reduce {
        /// The job.
        job: JobKind,
        /// Where this attempt writes its part file.
        output_file: String,
    },
}

/// Encodes a payload (versioned, so executors can refuse what they do not know).
pub fn encode_payload(payload: &TaskPayload) -> Vec<u8> {
    let _ = payload;
    unimplemented!("filled in by the job work")
}

/// Decodes [`encode_payload`].
pub fn decode_payload(bytes: &[u8]) -> Result<TaskPayload, CoreError> {
    let _ = bytes;
    unimplemented!("filled in by the job work")
}

/// A map task's result: one encoded bucket per reducer.
pub fn encode_map_result(buckets: &[Counts]) -> Vec<u8> {
    let _ = buckets;
    unimplemented!("filled in by the job work")
}

/// Decodes [`encode_map_result`] into the encoded buckets (not decoded: the driver only
/// forwards them to reducers).
pub fn decode_map_result(bytes: &[u8]) -> Result<Vec<Vec<u8>>, CoreError> {
    let _ = bytes;
    unimplemented!("filled in by the job work")
}
