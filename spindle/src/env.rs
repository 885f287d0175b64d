//! What every task of one process shares: the async runtime that drives file-system
//! calls, the file systems, the scratch directory for spills and shuffle output, the
//! memory budget of one task, and how shuffle blocks are reached.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use spindle_core::fs::{FileSystem, FsCache};

use crate::error::{Error, Result};

/// Where one map task's output for one reduce partition lies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockRef {
    /// Who serves it: an executor's shuffle address, or empty for this process's disk.
    pub location: String,
    /// The map output file.
    pub path: String,
    pub offset: u64,
    pub len: u64,
}

/// Opens shuffle blocks.
pub(crate) trait BlockFetcher: Send + Sync {
    fn open(&self, block: &BlockRef) -> Result<Box<dyn Read>>;
}

/// Reads blocks from this machine's disk (local mode; an executor's own outputs).
#[derive(Debug, Default)]
pub(crate) struct LocalBlocks;

impl BlockFetcher for LocalBlocks {
    fn open(&self, block: &BlockRef) -> Result<Box<dyn Read>> {
        let mut file = std::fs::File::open(&block.path)
            .map_err(|e| Error::io("open shuffle output", &block.path, e))?;
        file.seek(SeekFrom::Start(block.offset))
            .map_err(|e| Error::io("seek in shuffle output", &block.path, e))?;
        Ok(Box::new(BufReader::with_capacity(
            64 * 1024,
            file.take(block.len),
        )))
    }
}

/// The environment of every task in one process.
pub(crate) struct TaskEnv {
    pub runtime: tokio::runtime::Handle,
    pub fs: FsCache,
    /// Spills and map outputs go here (a YARN container's local dir, or a temporary dir).
    pub scratch: PathBuf,
    /// Bytes one task may hold in buffers before it spills.
    pub task_memory: usize,
    pub blocks: Arc<dyn BlockFetcher>,
    /// How other processes reach this one's shuffle output (empty: they cannot; local mode).
    pub location: String,
    /// The executor this process is (empty in local mode and in the driver), recorded
    /// with each map output so that the driver knows which outputs an executor's loss
    /// takes with it.
    pub executor: String,
}

impl TaskEnv {
    /// The file system holding `uri`, from a task's thread.
    pub(crate) fn fs(&self, uri: &str) -> Result<Arc<dyn FileSystem>> {
        Ok(self.runtime.block_on(self.fs.get(uri))?)
    }
}
