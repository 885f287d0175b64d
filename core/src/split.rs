//! Cutting input files into splits at block boundaries, each with the hosts that hold
//! most of its bytes (Hadoop's `FileInputFormat` rules, without its slop factor for now).

use crate::fs::{Block, FileInfo};

/// A byte range of one file: the input of one map task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Full URI of the file.
    pub path: String,
    /// First byte.
    pub start: u64,
    /// Number of bytes.
    pub length: u64,
    /// Hosts holding the data, best first.
    pub hosts: Vec<String>,
}

/// Cuts files into splits no larger than `min(block size, max_split_size)`, aligned to
/// block boundaries. Zero-length files give no split. Hosts: those holding the most
/// bytes of the split, best first.
pub fn plan_splits(files: &[(FileInfo, Vec<Block>)], max_split_size: u64) -> Vec<Split> {
    let _ = (files, max_split_size);
    unimplemented!("filled in by the split work")
}
