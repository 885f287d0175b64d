//! The two halves of a dataset.
//!
//! In the driver, a dataset is a [`Node`]: what it is built from ([`Dep`]: narrow parents
//! computed in the same task, or a shuffle, which cuts a stage), how many partitions it
//! has, where each partition would rather run, and how to write the computation of one
//! partition as task bytes ([`Node::encode`]).
//!
//! In a task, those bytes become a [`Compute`]: an owned, one-shot pipeline that yields
//! the partition's records as an iterator. A chain of narrow transformations becomes one
//! iterator chain in one task (pipelining); nothing is materialized between them.
//!
//! Errors inside an iterator (a read that fails half-way) cannot be returned through
//! `Iterator::next`; the iterator ends and leaves the error in the task's
//! [`TaskContext`], which fails the task when it ends.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::codec::Enc;
use crate::env::TaskEnv;
use crate::error::{Error, Result};

/// A partition's records, as a task computes them.
pub type Partition<T> = Box<dyn Iterator<Item = T>>;

/// What the driver knows of any node, whatever its record type.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// Unique within the application.
    pub id: u64,
    /// Number of partitions.
    pub partitions: usize,
    /// What made it, for the UI and errors: `"map at src/main.rs:12"`.
    pub name: String,
}

/// A node as the scheduler sees it: shape and lineage, no record type.
pub(crate) trait AnyNode: Send + Sync {
    fn meta(&self) -> &Meta;
    /// What this node is computed from.
    fn deps(&self) -> Vec<Dep>;
    /// Hosts that hold partition `part`'s input, best first (none: anywhere).
    fn prefs(&self, _part: usize) -> Vec<String> {
        Vec::new()
    }
    /// Bytes partition `part` reads from its sources or shuffles, when known.
    fn input_bytes(&self, _part: usize) -> Option<u64> {
        None
    }
}

/// A node producing `T` records.
pub(crate) trait Node<T>: AnyNode {
    /// Writes the computation of partition `part` (a [`Compute<T>`] decoder and what it
    /// needs) for a task.
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()>;
}

/// An edge of the lineage graph.
#[derive(Clone)]
pub(crate) enum Dep {
    /// Computed in the same task, from the parent's partitions.
    Narrow(Arc<dyn AnyNode>),
    /// Read from a shuffle: the parent is computed by an earlier stage.
    Shuffle(Arc<dyn crate::shuffle::ShuffleDep>),
}

/// One partition's computation, in a task.
pub(crate) trait Compute<T> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<T>>;
}

/// What a running task knows: which partition it computes, where to spill, the
/// executor's shared environment, and the slot where its iterators leave an error.
#[derive(Clone)]
pub struct TaskContext {
    inner: Rc<Inner>,
}

struct Inner {
    stage: u32,
    partition: usize,
    attempt: u32,
    env: Arc<TaskEnv>,
    error: RefCell<Option<Error>>,
    /// Bytes read from files (input splits), shared with reader threads.
    input_bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl TaskContext {
    pub(crate) fn new(stage: u32, partition: usize, attempt: u32, env: Arc<TaskEnv>) -> Self {
        TaskContext {
            inner: Rc::new(Inner {
                stage,
                partition,
                attempt,
                env,
                error: RefCell::new(None),
                input_bytes: Arc::default(),
            }),
        }
    }

    /// The stage this task belongs to.
    pub fn stage(&self) -> u32 {
        self.inner.stage
    }

    /// The partition this task computes.
    pub fn partition(&self) -> usize {
        self.inner.partition
    }

    /// Which attempt at this partition this is (0 first).
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    pub(crate) fn env(&self) -> &Arc<TaskEnv> {
        &self.inner.env
    }

    /// Where this task may write temporary files.
    pub(crate) fn scratch(&self) -> &PathBuf {
        &self.inner.env.scratch
    }

    /// Records the first error an iterator met; the task fails with it when it ends.
    pub(crate) fn fail(&self, e: Error) {
        let mut slot = self.inner.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    /// A callback that records an error into this task (for iterators that outlive a borrow).
    pub(crate) fn error_sink(&self) -> Box<dyn FnMut(Error)> {
        let tc = self.clone();
        Box::new(move |e| tc.fail(e))
    }

    /// The counter of bytes this task read from files; reader threads add to it.
    pub(crate) fn input_counter(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.inner.input_bytes.clone()
    }

    /// Bytes this task read from files so far.
    pub(crate) fn input_bytes(&self) -> u64 {
        self.inner
            .input_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The error an iterator left, if any.
    pub(crate) fn take_error(&self) -> Option<Error> {
        self.inner.error.borrow_mut().take()
    }
}
