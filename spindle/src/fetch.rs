//! A reduce task's reads of its shuffle blocks: blocks on other executors are fetched
//! ahead by a few threads, several at once, into memory bounded by a byte budget
//! (Spark's `spark.reducer.maxSizeInFlight`), while the task works through the blocks
//! already here; this executor's own blocks and blocks too large to hold are streamed
//! when their turn comes. Records leave in no particular block order.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::codec::FrameRecords;
use crate::env::{BlockRef, TaskEnv};
use crate::error::Error;
use crate::ops::Data;
use crate::plan::{Partition, TaskContext};

/// Fetches in flight at once.
const FETCHERS: usize = 4;
/// At most this many bytes of fetched blocks wait in memory (and never more than a
/// quarter of the task's budget).
const MAX_IN_FLIGHT: u64 = 48 * 1024 * 1024;

/// Bytes of fetched blocks held, and the bound.
struct Budget {
    held: Mutex<u64>,
    freed: Condvar,
    limit: u64,
}

impl Budget {
    /// Waits until `len` more bytes fit (a lone block always fits).
    fn take(&self, len: u64) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while *held > 0 && *held + len > self.limit {
            held = self
                .freed
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *held += len;
    }

    fn give(&self, len: u64) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(len);
        self.freed.notify_all();
    }
}

/// A fetched block's bytes; returns them to the budget when dropped (read or not).
struct Held {
    bytes: std::io::Cursor<Vec<u8>>,
    budget: Arc<Budget>,
    taken: u64,
}

impl Read for Held {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.bytes.read(buf)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give(self.taken);
    }
}

type Fetched = Result<Held, Error>;

fn fetcher(
    env: Arc<TaskEnv>,
    queue: Arc<Mutex<VecDeque<BlockRef>>>,
    budget: Arc<Budget>,
    out: SyncSender<Fetched>,
) {
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        let Some(block) = next else { return };
        budget.take(block.len);
        let fetched = env.blocks.open(&block).and_then(|mut r| {
            let mut bytes = Vec::with_capacity(usize::try_from(block.len).unwrap_or(0));
            r.read_to_end(&mut bytes)
                .map_err(|e| Error::io("fetch a shuffle block from", &block.location, e))?;
            Ok(bytes)
        });
        let item = match fetched {
            Ok(bytes) => Ok(Held {
                bytes: std::io::Cursor::new(bytes),
                budget: budget.clone(),
                taken: block.len,
            }),
            Err(e) => {
                budget.give(block.len);
                Err(e)
            }
        };
        // The task stopped reading (or failed): fetch no more.
        if out.send(item).is_err() {
            return;
        }
    }
}

/// The records of `blocks`, fetching remote ones ahead.
pub(crate) fn read_blocks<R: Data>(tc: &TaskContext, blocks: Vec<BlockRef>) -> Partition<R> {
    let env = tc.env().clone();
    let limit = MAX_IN_FLIGHT.min(env.task_memory as u64 / 4).max(1);
    let (ahead, streamed): (Vec<BlockRef>, Vec<BlockRef>) = blocks
        .into_iter()
        .partition(|b| !b.location.is_empty() && b.location != env.location && b.len <= limit);
    let fetched: Box<dyn Iterator<Item = Fetched>> = if ahead.is_empty() {
        Box::new(std::iter::empty())
    } else {
        let budget = Arc::new(Budget {
            held: Mutex::new(0),
            freed: Condvar::new(),
            limit,
        });
        let threads = FETCHERS.min(ahead.len());
        let queue = Arc::new(Mutex::new(VecDeque::from(ahead)));
        let (tx, rx): (SyncSender<Fetched>, Receiver<Fetched>) = sync_channel(FETCHERS);
        for _ in 0..threads {
            let (env, queue, budget, tx) = (env.clone(), queue.clone(), budget.clone(), tx.clone());
            if let Err(e) = std::thread::Builder::new()
                .name("spindle-fetch".into())
                .spawn(move || fetcher(env, queue, budget, tx))
            {
                tc.fail(Error::io("start a fetch thread for", "shuffle blocks", e));
            }
        }
        Box::new(rx.into_iter())
    };
    let from_fetched = {
        let tc = tc.clone();
        fetched.flat_map(move |item| -> Partition<R> {
            match item {
                Ok(held) => Box::new(FrameRecords::new(held, tc.error_sink())),
                Err(e) => {
                    tc.fail(e);
                    Box::new(std::iter::empty())
                }
            }
        })
    };
    let tc = tc.clone();
    let from_streamed = streamed.into_iter().flat_map(move |b| -> Partition<R> {
        match tc.env().blocks.open(&b) {
            Ok(r) => Box::new(FrameRecords::new(r, tc.error_sink())),
            Err(e) => {
                tc.fail(e);
                Box::new(std::iter::empty())
            }
        }
    });
    // Own blocks first: the fetchers work while the task reads them.
    Box::new(from_streamed.chain(from_fetched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_never_holds_more_than_its_limit_except_for_a_lone_block() {
        let budget = Arc::new(Budget {
            held: Mutex::new(0),
            freed: Condvar::new(),
            limit: 100,
        });
        budget.take(60);
        let b = budget.clone();
        let waiter = std::thread::spawn(move || {
            b.take(60);
            *b.held.lock().expect("lock")
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "120 bytes must not be held at once");
        budget.give(60);
        assert_eq!(waiter.join().expect("join"), 60);
        budget.give(60);
        budget.take(500);
        assert_eq!(
            *budget.held.lock().expect("lock"),
            500,
            "a block larger than the limit alone"
        );
    }
}
