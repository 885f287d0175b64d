//! Narrow transformations and sources: nodes whose partitions are computed in the task
//! that needs them, from their parents' partitions (or from the input) alone.
//!
//! Every one-parent transformation with a user function is a [`StepNode`]: the step type
//! (`MapStep<F>`, `FilterStep<F>`, …) says how the function applies to the records, and
//! the function's captured value (`.with(value)`) travels as serialized bytes.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use serde::Serialize;
use serde::de::DeserializeOwned;
use spindle_core::split::Split;

use crate::codec::{Dec, Enc, put_record};
use crate::error::{Error, Result};
use crate::plan::{AnyNode, Compute, Dep, Meta, Node, Partition, TaskContext};
use crate::ship::{Shippable, conjure};

/// What records must be to move between tasks and processes.
pub trait Data: Serialize + DeserializeOwned + 'static {}
impl<T: Serialize + DeserializeOwned + 'static> Data for T {}

type Built<T> = Result<Box<dyn Any>, T>;

fn boxed<T: 'static>(c: impl Compute<T> + 'static) -> Built<Error> {
    let b: Box<dyn Compute<T>> = Box::new(c);
    Ok(Box::new(b))
}

// ---- one-parent steps --------------------------------------------------------------

/// How a user function applies to a partition's records.
pub(crate) trait Step<T, U, C>: 'static {
    fn apply(c: C, part: usize, input: Partition<T>) -> Partition<U>;
}

pub(crate) struct MapStep<F>(PhantomData<F>);
impl<T: 'static, U: 'static, C: 'static, F> Step<T, U, C> for MapStep<F>
where
    F: Fn(&C, T) -> U + Shippable,
{
    fn apply(c: C, _: usize, input: Partition<T>) -> Partition<U> {
        let f = conjure::<F>();
        Box::new(input.map(move |x| f(&c, x)))
    }
}

pub(crate) struct FlatMapStep<F, I>(PhantomData<(F, I)>);
impl<T: 'static, U: 'static, C: 'static, F, I> Step<T, U, C> for FlatMapStep<F, I>
where
    F: Fn(&C, T) -> I + Shippable,
    I: IntoIterator<Item = U> + 'static,
{
    fn apply(c: C, _: usize, input: Partition<T>) -> Partition<U> {
        let f = conjure::<F>();
        Box::new(input.flat_map(move |x| f(&c, x)))
    }
}

pub(crate) struct FilterStep<F>(PhantomData<F>);
impl<T: 'static, C: 'static, F> Step<T, T, C> for FilterStep<F>
where
    F: Fn(&C, &T) -> bool + Shippable,
{
    fn apply(c: C, _: usize, input: Partition<T>) -> Partition<T> {
        let f = conjure::<F>();
        Box::new(input.filter(move |x| f(&c, x)))
    }
}

pub(crate) struct PartitionsStep<F, I>(PhantomData<(F, I)>);
impl<T: 'static, U: 'static, C: 'static, F, I> Step<T, U, C> for PartitionsStep<F, I>
where
    F: Fn(&C, usize, Partition<T>) -> I + Shippable,
    I: IntoIterator<Item = U> + 'static,
{
    fn apply(c: C, part: usize, input: Partition<T>) -> Partition<U> {
        let f = conjure::<F>();
        Box::new(f(&c, part, input).into_iter())
    }
}

/// A transformation of one parent by a user function.
pub(crate) struct StepNode<T, U, C, S> {
    meta: Meta,
    parent: Arc<dyn Node<T>>,
    caps: Arc<Vec<u8>>,
    _s: PhantomData<fn(T, C, S) -> U>,
}

impl<T, U, C, S> StepNode<T, U, C, S>
where
    T: 'static,
    U: 'static,
    C: Data,
    S: Step<T, U, C>,
{
    /// `caps`: the serialized `C`.
    pub(crate) fn new(meta: Meta, parent: Arc<dyn Node<T>>, caps: Arc<Vec<u8>>) -> Self {
        StepNode {
            meta,
            parent,
            caps,
            _s: PhantomData,
        }
    }
}

impl<T: 'static, U: 'static, C: Data, S: Step<T, U, C>> AnyNode for StepNode<T, U, C, S> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        vec![Dep::Narrow(self.parent.clone())]
    }
    fn prefs(&self, part: usize) -> Vec<String> {
        self.parent.prefs(part)
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.parent.input_bytes(part)
    }
}

impl<T: 'static, U: 'static, C: Data, S: Step<T, U, C>> Node<U> for StepNode<T, U, C, S> {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        e.entry(decode_step::<T, U, C, S>)?;
        e.put(&*self.caps)?;
        e.put(&part)?;
        self.parent.encode(part, e)
    }
}

struct StepCompute<T, U, C, S> {
    caps: C,
    part: usize,
    parent: Box<dyn Compute<T>>,
    _s: PhantomData<fn(S) -> U>,
}

impl<T: 'static, U: 'static, C: 'static, S: Step<T, U, C>> Compute<U> for StepCompute<T, U, C, S> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<U>> {
        let input = self.parent.run(tc)?;
        Ok(S::apply(self.caps, self.part, input))
    }
}

fn decode_step<T: 'static, U: 'static, C: Data, S: Step<T, U, C>>(d: &mut Dec<'_>) -> Built<Error> {
    let caps: Vec<u8> = d.get()?;
    let caps: C = postcard::from_bytes(&caps).map_err(|e| Error::Codec {
        op: "deserialize the value given to with()",
        message: e.to_string(),
    })?;
    let part: usize = d.get()?;
    let parent = d.build::<Box<dyn Compute<T>>>()?;
    boxed::<U>(StepCompute::<T, U, C, S> {
        caps,
        part,
        parent,
        _s: PhantomData,
    })
}

// ---- sources -----------------------------------------------------------------------

/// `parallelize`: records from the driver, cut into slices.
pub(crate) struct ParallelNode<T> {
    meta: Meta,
    slices: Vec<Arc<Vec<u8>>>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Data> ParallelNode<T> {
    pub(crate) fn new(meta: Meta, data: Vec<T>) -> Result<Self> {
        let n = meta.partitions.max(1);
        let len = data.len();
        let mut slices = Vec::with_capacity(n);
        let mut it = data.into_iter();
        for i in 0..n {
            // Spark's positions: slice i holds [i*len/n, (i+1)*len/n).
            let take = (i + 1) * len / n - i * len / n;
            let mut buf = Vec::new();
            for x in it.by_ref().take(take) {
                put_record(&mut buf, &x)?;
            }
            slices.push(Arc::new(buf));
        }
        Ok(ParallelNode {
            meta,
            slices,
            _t: PhantomData,
        })
    }
}

impl<T: Data> AnyNode for ParallelNode<T> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.slices.get(part).map(|s| s.len() as u64)
    }
    fn deps(&self) -> Vec<Dep> {
        Vec::new()
    }
}

impl<T: Data> Node<T> for ParallelNode<T> {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        let slice = self
            .slices
            .get(part)
            .ok_or_else(|| Error::Internal(format!("no slice {part} in {}", self.meta.name)))?;
        e.entry(decode_parallel::<T>)?;
        e.put(&**slice)
    }
}

struct ParallelCompute<T> {
    bytes: Vec<u8>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Data> Compute<T> for ParallelCompute<T> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<T>> {
        Ok(Box::new(RawRecords::<T>::new(self.bytes, tc.error_sink())))
    }
}

fn decode_parallel<T: Data>(d: &mut Dec<'_>) -> Built<Error> {
    let bytes: Vec<u8> = d.get()?;
    boxed::<T>(ParallelCompute::<T> {
        bytes,
        _t: PhantomData,
    })
}

/// Records back to back in one buffer (no frames).
pub(crate) struct RawRecords<T> {
    bytes: Vec<u8>,
    pos: usize,
    on_error: Box<dyn FnMut(Error)>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Data> RawRecords<T> {
    pub(crate) fn new(bytes: Vec<u8>, on_error: Box<dyn FnMut(Error)>) -> Self {
        RawRecords {
            bytes,
            pos: 0,
            on_error,
            _t: PhantomData,
        }
    }
}

impl<T: Data> Iterator for RawRecords<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        match postcard::take_from_bytes::<T>(&self.bytes[self.pos..]) {
            Ok((x, rest)) => {
                self.pos = self.bytes.len() - rest.len();
                Some(x)
            }
            Err(e) => {
                self.pos = self.bytes.len();
                (self.on_error)(Error::Codec {
                    op: "deserialize a record",
                    message: e.to_string(),
                });
                None
            }
        }
    }
}

/// `text_file`: the lines of input files, a partition per split (Hadoop's rules).
pub(crate) struct TextNode {
    meta: Meta,
    splits: Vec<Split>,
}

impl TextNode {
    pub(crate) fn new(meta: Meta, splits: Vec<Split>) -> Self {
        TextNode { meta, splits }
    }
}

impl AnyNode for TextNode {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        Vec::new()
    }
    fn prefs(&self, part: usize) -> Vec<String> {
        self.splits
            .get(part)
            .map(|s| s.hosts.clone())
            .unwrap_or_default()
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.splits.get(part).map(|s| s.length)
    }
}

impl Node<String> for TextNode {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        let s = self
            .splits
            .get(part)
            .ok_or_else(|| Error::Internal(format!("no split {part} in {}", self.meta.name)))?;
        e.entry(decode_text)?;
        e.put(&(&s.path, s.start, s.length))
    }
}

/// Bytes of a split read per file-system call.
const READ_CHUNK: usize = 4 * 1024 * 1024;
/// Lines handed from the reading thread to the task at a time, and batches in flight:
/// what bounds the reader's lead over the task.
const LINE_BATCH: usize = 4096;
const BATCHES_IN_FLIGHT: usize = 4;

struct TextCompute {
    split: Split,
}

fn decode_text(d: &mut Dec<'_>) -> Built<Error> {
    let (path, start, length): (String, u64, u64) = d.get()?;
    boxed::<String>(TextCompute {
        split: Split {
            path,
            start,
            length,
            hosts: Vec::new(),
        },
    })
}

/// Lines read ahead: one buffer with every line's end, so the reader allocates per
/// batch, not per line, and each line's `String` is made (and later freed) on the
/// task's own thread, where the allocator is fastest.
#[derive(Default)]
struct Lines {
    text: String,
    ends: Vec<usize>,
}

/// Bytes of text after which a batch goes out even if it has fewer lines.
const BATCH_TEXT: usize = 1 << 20;

impl Lines {
    fn push(&mut self, line: &[u8]) {
        // `from_utf8` checks ASCII a word at a time; the lossy conversion is only for
        // lines that are not UTF-8.
        match std::str::from_utf8(line) {
            Ok(text) => self.text.push_str(text),
            Err(_) => self.text.push_str(&String::from_utf8_lossy(line)),
        }
        self.ends.push(self.text.len());
    }

    fn is_full(&self) -> bool {
        self.ends.len() >= LINE_BATCH || self.text.len() >= BATCH_TEXT
    }

    fn into_lines(self) -> impl Iterator<Item = String> {
        let mut start = 0;
        self.ends.into_iter().map(move |end| {
            let line = self.text.get(start..end).unwrap_or_default().to_owned();
            start = end;
            line
        })
    }
}

type LineBatch = std::result::Result<Lines, Error>;

impl Compute<String> for TextCompute {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<String>> {
        let env = tc.env().clone();
        let read = tc.input_counter();
        let (tx, rx): (SyncSender<LineBatch>, Receiver<LineBatch>) =
            sync_channel(BATCHES_IN_FLIGHT);
        let split = self.split;
        // The split is read on its own thread (driving the async file system there) so the
        // task pulls lines as an iterator; the bounded channel keeps the reader at most a
        // few batches ahead.
        std::thread::Builder::new()
            .name("spindle-read".into())
            .spawn(move || {
                let outcome = (|| -> Result<()> {
                    let fs = env.fs(&split.path)?;
                    let mut batch = Lines::default();
                    let mut open = true;
                    env.runtime.block_on(spindle_core::lines::for_each_line(
                        fs.as_ref(),
                        &split,
                        READ_CHUNK,
                        &mut |line| {
                            if !open {
                                return;
                            }
                            batch.push(line);
                            if batch.is_full() {
                                let full = std::mem::take(&mut batch);
                                // The task stopped reading (take): read no further lines.
                                open = tx.send(Ok(full)).is_ok();
                            }
                        },
                    ))?;
                    // The split's bytes (lines crossing its ends are the neighbours').
                    read.fetch_add(split.length, std::sync::atomic::Ordering::Relaxed);
                    if open && !batch.ends.is_empty() {
                        let _ = tx.send(Ok(batch));
                    }
                    Ok(())
                })();
                if let Err(e) = outcome {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(|e| Error::io("start a reader thread for", "a split", e))?;
        let sink = tc.clone();
        Ok(Box::new(rx.into_iter().flat_map(move |batch| {
            let lines = match batch {
                Ok(lines) => lines,
                Err(e) => {
                    sink.fail(e);
                    Lines::default()
                }
            };
            lines.into_lines()
        })))
    }
}

// ---- several parents ---------------------------------------------------------------

/// `union`: the partitions of every parent, in order.
pub(crate) struct UnionNode<T> {
    meta: Meta,
    parents: Vec<Arc<dyn Node<T>>>,
}

impl<T: 'static> UnionNode<T> {
    pub(crate) fn new(meta: Meta, parents: Vec<Arc<dyn Node<T>>>) -> Self {
        UnionNode { meta, parents }
    }

    fn locate(&self, mut part: usize) -> Option<(&Arc<dyn Node<T>>, usize)> {
        for p in &self.parents {
            let n = p.meta().partitions;
            if part < n {
                return Some((p, part));
            }
            part -= n;
        }
        None
    }
}

impl<T: 'static> AnyNode for UnionNode<T> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        self.parents
            .iter()
            .map(|p| Dep::Narrow(p.clone() as Arc<dyn AnyNode>))
            .collect()
    }
    fn prefs(&self, part: usize) -> Vec<String> {
        self.locate(part)
            .map(|(p, i)| p.prefs(i))
            .unwrap_or_default()
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.locate(part).and_then(|(p, i)| p.input_bytes(i))
    }
}

impl<T: 'static> Node<T> for UnionNode<T> {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        // A union partition *is* one parent's partition: the task computes that directly.
        let (p, i) = self
            .locate(part)
            .ok_or_else(|| Error::Internal(format!("no partition {part} in {}", self.meta.name)))?;
        p.encode(i, e)
    }
}

/// `coalesce`: fewer partitions, each the concatenation of neighbouring parent partitions.
pub(crate) struct CoalesceNode<T> {
    meta: Meta,
    parent: Arc<dyn Node<T>>,
}

impl<T: 'static> CoalesceNode<T> {
    pub(crate) fn new(meta: Meta, parent: Arc<dyn Node<T>>) -> Self {
        CoalesceNode { meta, parent }
    }

    fn group(&self, part: usize) -> std::ops::Range<usize> {
        let n = self.meta.partitions.max(1);
        let m = self.parent.meta().partitions;
        (part * m / n)..((part + 1) * m / n)
    }
}

impl<T: 'static> AnyNode for CoalesceNode<T> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        vec![Dep::Narrow(self.parent.clone())]
    }
    fn prefs(&self, part: usize) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .group(part)
            .flat_map(|p| self.parent.prefs(p))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.group(part).map(|p| self.parent.input_bytes(p)).sum()
    }
}

impl<T: 'static> Node<T> for CoalesceNode<T> {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        let group = self.group(part);
        e.entry(decode_concat::<T>)?;
        e.put(&group.len())?;
        for p in group {
            self.parent.encode(p, e)?;
        }
        Ok(())
    }
}

struct ConcatCompute<T> {
    parts: Vec<Box<dyn Compute<T>>>,
}

impl<T: 'static> Compute<T> for ConcatCompute<T> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<T>> {
        let tc = tc.clone();
        // Each parent partition starts only when the one before it is used up.
        Ok(Box::new(self.parts.into_iter().flat_map(
            move |c| match c.run(&tc) {
                Ok(it) => it,
                Err(e) => {
                    tc.fail(e);
                    Box::new(std::iter::empty())
                }
            },
        )))
    }
}

fn decode_concat<T: 'static>(d: &mut Dec<'_>) -> Built<Error> {
    let n: usize = d.get()?;
    let mut parts = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        parts.push(d.build::<Box<dyn Compute<T>>>()?);
    }
    boxed::<T>(ConcatCompute { parts })
}
