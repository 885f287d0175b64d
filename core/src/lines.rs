//! Hadoop's `LineRecordReader` rules over a split: every split but the first drops its
//! first (partial) line, a split reads lines while their start is ≤ its end (finishing
//! the last one past the end), `\n`, `\r` and `\r\n` end lines, a UTF-8 BOM at offset 0
//! is dropped.

use crate::error::CoreError;
use crate::fs::FileSystem;
use crate::split::Split;

/// What reading a split cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Bytes read from the file system (including past the split end).
    pub bytes_read: u64,
    /// Lines handed to the callback.
    pub lines: u64,
}

/// Reads the lines of `split` in chunks of `chunk` bytes, calling `each` with every line
/// (terminator removed) that belongs to this split under Hadoop's rules.
pub async fn for_each_line(
    fs: &dyn FileSystem,
    split: &Split,
    chunk: usize,
    each: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<LineStats, CoreError> {
    let _ = (fs, split, chunk, each);
    unimplemented!("filled in by the lines work")
}
