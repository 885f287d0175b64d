//! The shuffle: map tasks write their records partitioned by key into one file per task
//! (partitions back to back, an offset per partition: Spark's sort shuffle layout) under
//! the process's scratch directory, spilling when they pass their memory budget; reduce
//! tasks read their partition's block of every map output, from this machine's disk or
//! from the executor that wrote it, and combine, sort or pass the records on.
//!
//! The driver keeps only where each map output is and its partition offsets
//! ([`MapOutputs`]): nothing of the data's size passes through it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::Hash;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{Dec, Enc, FRAME_BYTES, put_record, write_frame};
use crate::env::BlockRef;
use crate::error::{Error, Result};
use crate::external::{Combiner, ExternalAgg, ExternalSorter, key_hash};
use crate::fetch::read_blocks;
use crate::ops::Data;
use crate::plan::{AnyNode, Compute, Dep, Meta, Node, Partition, TaskContext};
use crate::ship::{Entry, Shippable, conjure};
use crate::task::{TaskRun, boxed_task};

/// Holds type parameters a struct uses only in its code.
type Marker<T> = PhantomData<fn() -> T>;

// ---- partitioners ------------------------------------------------------------------

/// Which reduce partition a key goes to.
pub(crate) trait Partitioner<K>:
    Serialize + DeserializeOwned + Send + Sync + 'static
{
    fn partitions(&self) -> usize;
    fn partition(&self, k: &K) -> usize;
}

/// By the key's fixed hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HashPartitioner {
    pub n: usize,
}

impl<K: Hash> Partitioner<K> for HashPartitioner {
    fn partitions(&self) -> usize {
        self.n
    }
    fn partition(&self, k: &K) -> usize {
        (key_hash(k) % self.n.max(1) as u64) as usize
    }
}

/// By key ranges: partition `i` holds keys in `(bounds[i-1], bounds[i]]` (reversed when
/// descending), so concatenating the sorted partitions gives a total order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RangePartitioner<K> {
    pub bounds: Vec<K>,
    pub descending: bool,
}

impl<K: Data + Ord + Send + Sync> Partitioner<K> for RangePartitioner<K> {
    fn partitions(&self) -> usize {
        self.bounds.len() + 1
    }
    fn partition(&self, k: &K) -> usize {
        let i = self.bounds.partition_point(|b| b < k);
        if self.descending {
            self.bounds.len() - i
        } else {
            i
        }
    }
}

/// The key is the partition number (`repartition`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DirectPartitioner {
    pub n: usize,
}

impl Partitioner<usize> for DirectPartitioner {
    fn partitions(&self) -> usize {
        self.n
    }
    fn partition(&self, k: &usize) -> usize {
        k % self.n.max(1)
    }
}

// ---- where map outputs are ---------------------------------------------------------

/// One map task's output: its file and where each reduce partition starts in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MapStatus {
    pub location: String,
    /// The executor that wrote it (empty: this process, which is never lost).
    pub executor: String,
    pub path: String,
    /// `offsets[r]..offsets[r + 1]` is reduce partition `r`'s block.
    pub offsets: Vec<u64>,
}

/// The driver's table of map outputs, per shuffle (Spark's `MapOutputTracker`).
#[derive(Debug, Default)]
pub(crate) struct MapOutputs {
    by_shuffle: Mutex<HashMap<u32, Vec<Option<MapStatus>>>>,
}

impl MapOutputs {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<u32, Vec<Option<MapStatus>>>) -> R) -> R {
        f(&mut self
            .by_shuffle
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The map partitions of `shuffle` that have no output yet.
    pub(crate) fn missing(&self, shuffle: u32, maps: usize) -> Vec<usize> {
        self.with(|m| {
            let outs = m.entry(shuffle).or_insert_with(|| vec![None; maps]);
            (0..maps)
                .filter(|&i| outs.get(i).is_none_or(Option::is_none))
                .collect()
        })
    }

    pub(crate) fn set(&self, shuffle: u32, map: usize, status: MapStatus) {
        self.with(|m| {
            let outs = m.entry(shuffle).or_default();
            if outs.len() <= map {
                outs.resize(map + 1, None);
            }
            outs[map] = Some(status);
        })
    }

    /// Forgets the map outputs written by the executors in `lost`, so that the next
    /// stage that needs them runs their map tasks again; answers how many.
    pub(crate) fn forget(&self, lost: &HashSet<String>) -> usize {
        if lost.is_empty() {
            return 0;
        }
        self.with(|m| {
            let mut forgotten = 0;
            for outs in m.values_mut() {
                for out in outs.iter_mut() {
                    if out.as_ref().is_some_and(|s| lost.contains(&s.executor)) {
                        *out = None;
                        forgotten += 1;
                    }
                }
            }
            forgotten
        })
    }

    /// Bytes of reduce partition `part` over every map output, when they all exist.
    pub(crate) fn partition_bytes(&self, shuffle: u32, part: usize) -> Option<u64> {
        self.blocks(shuffle, part)
            .ok()
            .map(|b| b.iter().map(|b| b.len).sum())
    }

    /// The non-empty blocks of reduce partition `part`, one per map output.
    pub(crate) fn blocks(&self, shuffle: u32, part: usize) -> Result<Vec<BlockRef>> {
        self.with(|m| {
            let outs = m
                .get(&shuffle)
                .ok_or_else(|| Error::Internal(format!("shuffle {shuffle} has not run")))?;
            let mut blocks = Vec::with_capacity(outs.len());
            for (map, out) in outs.iter().enumerate() {
                let out = out.as_ref().ok_or_else(|| {
                    Error::Internal(format!("map output {map} of shuffle {shuffle} is missing"))
                })?;
                let (Some(&start), Some(&end)) = (out.offsets.get(part), out.offsets.get(part + 1))
                else {
                    return Err(Error::Internal(format!(
                        "map output {map} of shuffle {shuffle} has no partition {part}"
                    )));
                };
                if end > start {
                    blocks.push(BlockRef {
                        location: out.location.clone(),
                        path: out.path.clone(),
                        offset: start,
                        len: end - start,
                    });
                }
            }
            Ok(blocks)
        })
    }
}

// ---- the map side ------------------------------------------------------------------

/// A shuffle as the scheduler sees it: the stage that writes it.
pub(crate) trait ShuffleDep: Send + Sync {
    fn id(&self) -> u32;
    /// The node whose partitions the map tasks compute.
    fn parent(&self) -> Arc<dyn AnyNode>;
    /// Writes map task `map` (computing the parent's partition `map`).
    fn encode_map_task(&self, map: usize, e: &mut Enc) -> Result<()>;
}

/// How values of a key combine (reduce_by_key, aggregate_by_key, group_by_key).
pub(crate) trait Agg<V, C, Cap>: 'static {
    /// Merging makes values larger (groups).
    const GROWS: bool;
    fn create(cap: &Cap, v: V) -> C;
    fn merge_value(cap: &Cap, c: C, v: V) -> C;
    fn merge(cap: &Cap, a: C, b: C) -> C;
}

/// `reduce_by_key(f)`.
pub(crate) struct ReduceAgg<F>(PhantomData<F>);
impl<V, Cap, F: Fn(&Cap, V, V) -> V + Shippable> Agg<V, V, Cap> for ReduceAgg<F> {
    const GROWS: bool = false;
    fn create(_: &Cap, v: V) -> V {
        v
    }
    fn merge_value(cap: &Cap, c: V, v: V) -> V {
        conjure::<F>()(cap, c, v)
    }
    fn merge(cap: &Cap, a: V, b: V) -> V {
        conjure::<F>()(cap, a, b)
    }
}

/// `aggregate_by_key(zero, seq, comb)`: the captured value is `(zero, user's value)`.
pub(crate) struct AggregateAgg<S, M>(PhantomData<(S, M)>);
impl<V, U: Clone, Cap, S, M> Agg<V, U, (U, Cap)> for AggregateAgg<S, M>
where
    S: Fn(&Cap, U, V) -> U + Shippable,
    M: Fn(&Cap, U, U) -> U + Shippable,
{
    const GROWS: bool = false;
    fn create(cap: &(U, Cap), v: V) -> U {
        conjure::<S>()(&cap.1, cap.0.clone(), v)
    }
    fn merge_value(cap: &(U, Cap), c: U, v: V) -> U {
        conjure::<S>()(&cap.1, c, v)
    }
    fn merge(cap: &(U, Cap), a: U, b: U) -> U {
        conjure::<M>()(&cap.1, a, b)
    }
}

/// `group_by_key`, and each side of `cogroup`.
pub(crate) struct GroupAgg;
impl<V: 'static> Agg<V, Vec<V>, ()> for GroupAgg {
    const GROWS: bool = true;
    fn create(_: &(), v: V) -> Vec<V> {
        vec![v]
    }
    fn merge_value(_: &(), mut c: Vec<V>, v: V) -> Vec<V> {
        c.push(v);
        c
    }
    fn merge(_: &(), mut a: Vec<V>, b: Vec<V>) -> Vec<V> {
        a.extend(b);
        a
    }
}

fn caps_from<Cap: DeserializeOwned>(bytes: &[u8]) -> Result<Cap> {
    postcard::from_bytes(bytes).map_err(|e| Error::Codec {
        op: "deserialize the value given to with()",
        message: e.to_string(),
    })
}

/// A shuffle whose values are combined by key on both sides.
pub(crate) struct CombineDep<K, V, C, Cap, A, P> {
    id: u32,
    parent: Arc<dyn Node<(K, V)>>,
    caps: Arc<Vec<u8>>,
    partitioner: P,
    _t: Marker<(C, Cap, A)>,
}

impl<K, V, C, Cap, A, P> CombineDep<K, V, C, Cap, A, P>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
    P: Partitioner<K>,
{
    /// `caps`: the serialized `Cap`.
    pub(crate) fn new(
        id: u32,
        parent: Arc<dyn Node<(K, V)>>,
        caps: Arc<Vec<u8>>,
        partitioner: P,
    ) -> Self {
        CombineDep {
            id,
            parent,
            caps,
            partitioner,
            _t: PhantomData,
        }
    }
}

impl<K, V, C, Cap, A, P> ShuffleDep for CombineDep<K, V, C, Cap, A, P>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
    P: Partitioner<K>,
{
    fn id(&self) -> u32 {
        self.id
    }
    fn parent(&self) -> Arc<dyn AnyNode> {
        self.parent.clone()
    }
    fn encode_map_task(&self, map: usize, e: &mut Enc) -> Result<()> {
        e.entry(decode_combine_map::<K, V, C, Cap, A, P>)?;
        e.put(&(self.id, map))?;
        e.put(&*self.caps)?;
        e.put(&self.partitioner)?;
        self.parent.encode(map, e)
    }
}

struct CombineMapTask<K, V, C, Cap, A, P> {
    shuffle: u32,
    map: usize,
    cap: Cap,
    partitioner: P,
    input: Box<dyn Compute<(K, V)>>,
    _t: Marker<(C, A)>,
}

fn decode_combine_map<K, V, C, Cap, A, P>(d: &mut Dec<'_>) -> Result<Box<dyn std::any::Any>>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
    P: Partitioner<K>,
{
    let (shuffle, map): (u32, usize) = d.get()?;
    let cap: Vec<u8> = d.get()?;
    let cap: Cap = caps_from(&cap)?;
    let partitioner: P = d.get()?;
    let input = d.build::<Box<dyn Compute<(K, V)>>>()?;
    boxed_task(CombineMapTask::<K, V, C, Cap, A, P> {
        shuffle,
        map,
        cap,
        partitioner,
        input,
        _t: PhantomData,
    })
}

impl<K, V, C, Cap, A, P> TaskRun for CombineMapTask<K, V, C, Cap, A, P>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
    P: Partitioner<K>,
{
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Vec<u8>> {
        let this = *self;
        let budget = tc.env().task_memory;
        let n = this.partitioner.partitions();
        let mut out = PartitionedWriter::new(n, budget / 2, tc.scratch());
        let mut combiner: Combiner<K, C> = Combiner::new(A::GROWS);
        let cap = &this.cap;
        let flush = |combiner: &mut Combiner<K, C>, out: &mut PartitionedWriter| -> Result<()> {
            for (k, c) in combiner.drain() {
                out.add(this.partitioner.partition(&k), &(k, c))?;
            }
            out.spill()
        };
        for (k, v) in this.input.run(tc)? {
            combiner.upsert(
                k,
                v,
                |v| A::create(cap, v),
                |c, v| A::merge_value(cap, c, v),
            );
            if combiner.over(budget / 2) {
                flush(&mut combiner, &mut out)?;
            }
        }
        fail_if_input_failed(tc)?;
        for (k, c) in combiner.drain() {
            out.add(this.partitioner.partition(&k), &(k, c))?;
        }
        finish_map(out, tc, this.shuffle, this.map)
    }
}

/// A shuffle that moves records unchanged (repartition, sort, the sides of a join).
pub(crate) struct PlainDep<K, V, P> {
    id: u32,
    parent: Arc<dyn Node<(K, V)>>,
    partitioner: P,
}

impl<K: Data, V: Data, P: Partitioner<K>> PlainDep<K, V, P> {
    pub(crate) fn new(id: u32, parent: Arc<dyn Node<(K, V)>>, partitioner: P) -> Self {
        PlainDep {
            id,
            parent,
            partitioner,
        }
    }
}

impl<K: Data, V: Data, P: Partitioner<K>> ShuffleDep for PlainDep<K, V, P> {
    fn id(&self) -> u32 {
        self.id
    }
    fn parent(&self) -> Arc<dyn AnyNode> {
        self.parent.clone()
    }
    fn encode_map_task(&self, map: usize, e: &mut Enc) -> Result<()> {
        e.entry(decode_plain_map::<K, V, P>)?;
        e.put(&(self.id, map))?;
        e.put(&self.partitioner)?;
        self.parent.encode(map, e)
    }
}

struct PlainMapTask<K, V, P> {
    shuffle: u32,
    map: usize,
    partitioner: P,
    input: Box<dyn Compute<(K, V)>>,
}

fn decode_plain_map<K: Data, V: Data, P: Partitioner<K>>(
    d: &mut Dec<'_>,
) -> Result<Box<dyn std::any::Any>> {
    let (shuffle, map): (u32, usize) = d.get()?;
    let partitioner: P = d.get()?;
    let input = d.build::<Box<dyn Compute<(K, V)>>>()?;
    boxed_task(PlainMapTask {
        shuffle,
        map,
        partitioner,
        input,
    })
}

impl<K: Data, V: Data, P: Partitioner<K>> TaskRun for PlainMapTask<K, V, P> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Vec<u8>> {
        let this = *self;
        let n = this.partitioner.partitions();
        let mut out = PartitionedWriter::new(n, tc.env().task_memory, tc.scratch());
        for record in this.input.run(tc)? {
            out.add(this.partitioner.partition(&record.0), &record)?;
        }
        fail_if_input_failed(tc)?;
        finish_map(out, tc, this.shuffle, this.map)
    }
}

/// What a reduce-side aggregation or sort may hold before it spills: half the task's
/// memory, since a spill sorts a copy of what is held while the original still stands.
fn spill_budget(tc: &TaskContext) -> usize {
    tc.env().task_memory / 2
}

fn fail_if_input_failed(tc: &TaskContext) -> Result<()> {
    match tc.take_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn finish_map(
    out: PartitionedWriter,
    tc: &TaskContext,
    shuffle: u32,
    map: usize,
) -> Result<Vec<u8>> {
    let path = tc.scratch().join(format!(
        "shuffle_{shuffle}_{map}_{}_{}.data",
        tc.stage(),
        tc.attempt()
    ));
    let offsets = out.finish(&path)?;
    let status = MapStatus {
        location: tc.env().location.clone(),
        executor: tc.env().executor.clone(),
        path: path.to_string_lossy().into_owned(),
        offsets,
    };
    postcard::to_allocvec(&status).map_err(|e| Error::Codec {
        op: "encode a map status",
        message: e.to_string(),
    })
}

/// A map task's output buffers: a raw frame per reduce partition, sealed (compressed)
/// frames behind it, and the runs spilled to disk when the buffers pass the budget.
pub(crate) struct PartitionedWriter {
    raw: Vec<Vec<u8>>,
    sealed: Vec<Vec<u8>>,
    held: usize,
    budget: usize,
    spills: Vec<(File, Vec<(u64, u64)>)>,
    dir: PathBuf,
}

impl PartitionedWriter {
    pub(crate) fn new(partitions: usize, budget: usize, dir: &Path) -> Self {
        PartitionedWriter {
            raw: vec![Vec::new(); partitions],
            sealed: vec![Vec::new(); partitions],
            held: 0,
            budget,
            spills: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn add<R: Serialize>(&mut self, part: usize, record: &R) -> Result<()> {
        let raw = self
            .raw
            .get_mut(part)
            .ok_or_else(|| Error::Internal(format!("no reduce partition {part}")))?;
        let before = raw.len();
        put_record(raw, record)?;
        self.held += raw.len() - before;
        if raw.len() >= FRAME_BYTES {
            self.seal(part)?;
        }
        if self.held > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn seal(&mut self, part: usize) -> Result<()> {
        let raw = std::mem::take(&mut self.raw[part]);
        if raw.is_empty() {
            return Ok(());
        }
        let sealed = &mut self.sealed[part];
        let before = sealed.len();
        write_frame(sealed, &raw)
            .map_err(|e| Error::io("compress shuffle output in", self.dir.display(), e))?;
        self.held = self.held - raw.len() + (sealed.len() - before);
        Ok(())
    }

    /// Writes everything held to a spill file.
    pub(crate) fn spill(&mut self) -> Result<()> {
        if self.held == 0 {
            return Ok(());
        }
        let dir = self.dir.display().to_string();
        let file = tempfile::tempfile_in(&self.dir)
            .map_err(|e| Error::io("create a spill file in", &dir, e))?;
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        let mut segments = Vec::with_capacity(self.raw.len());
        let mut pos = 0u64;
        for part in 0..self.raw.len() {
            self.seal(part)?;
            let bytes = std::mem::take(&mut self.sealed[part]);
            w.write_all(&bytes)
                .map_err(|e| Error::io("write a spill file in", &dir, e))?;
            segments.push((pos, bytes.len() as u64));
            pos += bytes.len() as u64;
        }
        let file = w
            .into_inner()
            .map_err(|e| Error::io("write a spill file in", &dir, e.into_error()))?;
        self.spills.push((file, segments));
        self.held = 0;
        Ok(())
    }

    /// Writes the map output file: each partition's spilled segments, then what is held.
    pub(crate) fn finish(mut self, path: &Path) -> Result<Vec<u64>> {
        let shown = path.display().to_string();
        let tmp = path.with_extension("tmp");
        let file = File::create(&tmp).map_err(|e| Error::io("create shuffle output", &shown, e))?;
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        let mut offsets = Vec::with_capacity(self.raw.len() + 1);
        let mut pos = 0u64;
        offsets.push(0);
        for part in 0..self.raw.len() {
            for (spill, segments) in &mut self.spills {
                let (start, len) = segments[part];
                spill
                    .seek(SeekFrom::Start(start))
                    .map_err(|e| Error::io("read back a spill for", &shown, e))?;
                let copied = std::io::copy(&mut std::io::Read::take(&mut *spill, len), &mut w)
                    .map_err(|e| Error::io("copy a spill into", &shown, e))?;
                if copied != len {
                    return Err(Error::io(
                        "copy a spill into",
                        &shown,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "spill file is short",
                        ),
                    ));
                }
                pos += len;
            }
            self.seal(part)?;
            let bytes = std::mem::take(&mut self.sealed[part]);
            w.write_all(&bytes)
                .map_err(|e| Error::io("write shuffle output", &shown, e))?;
            pos += bytes.len() as u64;
            offsets.push(pos);
        }
        w.into_inner()
            .map_err(|e| Error::io("write shuffle output", &shown, e.into_error()))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("finish shuffle output", &shown, e))?;
        Ok(offsets)
    }
}

// ---- the reduce side ---------------------------------------------------------------

/// After a combining shuffle: each key once, its values combined.
pub(crate) struct CombinedNode<K, V, C, Cap, A> {
    meta: Meta,
    dep: Arc<dyn ShuffleDep>,
    caps: Arc<Vec<u8>>,
    outputs: Arc<MapOutputs>,
    _t: Marker<(K, V, C, Cap, A)>,
}

impl<K, V, C, Cap, A> CombinedNode<K, V, C, Cap, A>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
{
    pub(crate) fn new<P: Partitioner<K>>(
        meta: Meta,
        dep: Arc<CombineDep<K, V, C, Cap, A, P>>,
        outputs: Arc<MapOutputs>,
    ) -> Self {
        let caps = dep.caps.clone();
        CombinedNode {
            meta,
            dep,
            caps,
            outputs,
            _t: PhantomData,
        }
    }
}

impl<K, V, C, Cap, A> AnyNode for CombinedNode<K, V, C, Cap, A>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
{
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        vec![Dep::Shuffle(self.dep.clone())]
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.outputs.partition_bytes(self.dep.id(), part)
    }
}

impl<K, V, C, Cap, A> Node<(K, C)> for CombinedNode<K, V, C, Cap, A>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
{
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        e.entry(decode_combined::<K, V, C, Cap, A>)?;
        e.put(&*self.caps)?;
        e.put(&self.outputs.blocks(self.dep.id(), part)?)
    }
}

struct CombinedCompute<K, V, C, Cap, A> {
    cap: Cap,
    blocks: Vec<BlockRef>,
    _t: Marker<(K, V, C, A)>,
}

fn decode_combined<K, V, C, Cap, A>(d: &mut Dec<'_>) -> Result<Box<dyn std::any::Any>>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
{
    let cap: Vec<u8> = d.get()?;
    let cap: Cap = caps_from(&cap)?;
    let blocks: Vec<BlockRef> = d.get()?;
    let c: Box<dyn Compute<(K, C)>> = Box::new(CombinedCompute::<K, V, C, Cap, A> {
        cap,
        blocks,
        _t: PhantomData,
    });
    Ok(Box::new(c))
}

impl<K, V, C, Cap, A> Compute<(K, C)> for CombinedCompute<K, V, C, Cap, A>
where
    K: Data + Hash + Eq,
    V: Data,
    C: Data,
    Cap: Data,
    A: Agg<V, C, Cap>,
{
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<(K, C)>> {
        let cap = self.cap;
        let mut agg = ExternalAgg::new(spill_budget(tc), tc.scratch(), A::GROWS, move |a, b| {
            A::merge(&cap, a, b)
        });
        for (k, c) in read_blocks::<(K, C)>(tc, self.blocks) {
            agg.insert(k, c)?;
        }
        agg.finish(|| tc.error_sink())
    }
}

/// After a plain shuffle: the records as written, or sorted by key.
pub(crate) struct ShuffledNode<K, V> {
    meta: Meta,
    dep: Arc<dyn ShuffleDep>,
    outputs: Arc<MapOutputs>,
    entry: Entry,
    descending: bool,
    _t: Marker<(K, V)>,
}

impl<K: Data, V: Data> ShuffledNode<K, V> {
    /// Records in no particular order.
    pub(crate) fn plain(meta: Meta, dep: Arc<dyn ShuffleDep>, outputs: Arc<MapOutputs>) -> Self {
        ShuffledNode {
            meta,
            dep,
            outputs,
            entry: decode_shuffled::<K, V>,
            descending: false,
            _t: PhantomData,
        }
    }
}

impl<K: Data + Ord, V: Data> ShuffledNode<K, V> {
    /// Records sorted by key within the partition.
    pub(crate) fn sorted(
        meta: Meta,
        dep: Arc<dyn ShuffleDep>,
        outputs: Arc<MapOutputs>,
        descending: bool,
    ) -> Self {
        ShuffledNode {
            meta,
            dep,
            outputs,
            entry: decode_sorted::<K, V>,
            descending,
            _t: PhantomData,
        }
    }
}

impl<K: Data, V: Data> AnyNode for ShuffledNode<K, V> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        vec![Dep::Shuffle(self.dep.clone())]
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        self.outputs.partition_bytes(self.dep.id(), part)
    }
}

impl<K: Data, V: Data> Node<(K, V)> for ShuffledNode<K, V> {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        e.entry(self.entry)?;
        e.put(&self.descending)?;
        e.put(&self.outputs.blocks(self.dep.id(), part)?)
    }
}

struct ShuffledCompute<K, V> {
    blocks: Vec<BlockRef>,
    sort: Option<bool>,
    _t: Marker<(K, V)>,
}

fn decode_shuffled<K: Data, V: Data>(d: &mut Dec<'_>) -> Result<Box<dyn std::any::Any>> {
    let _descending: bool = d.get()?;
    let blocks: Vec<BlockRef> = d.get()?;
    let c: Box<dyn Compute<(K, V)>> = Box::new(ShuffledCompute::<K, V> {
        blocks,
        sort: None,
        _t: PhantomData,
    });
    Ok(Box::new(c))
}

fn decode_sorted<K: Data + Ord, V: Data>(d: &mut Dec<'_>) -> Result<Box<dyn std::any::Any>> {
    let descending: bool = d.get()?;
    let blocks: Vec<BlockRef> = d.get()?;
    let c: Box<dyn Compute<(K, V)>> = Box::new(SortedCompute::<K, V> {
        inner: ShuffledCompute {
            blocks,
            sort: Some(descending),
            _t: PhantomData,
        },
    });
    Ok(Box::new(c))
}

impl<K: Data, V: Data> Compute<(K, V)> for ShuffledCompute<K, V> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<(K, V)>> {
        Ok(read_blocks(tc, self.blocks))
    }
}

struct SortedCompute<K, V> {
    inner: ShuffledCompute<K, V>,
}

impl<K: Data + Ord, V: Data> Compute<(K, V)> for SortedCompute<K, V> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<(K, V)>> {
        let descending = self.inner.sort.unwrap_or(false);
        let mut sorter = ExternalSorter::new(spill_budget(tc), tc.scratch(), descending);
        for (k, v) in read_blocks::<(K, V)>(tc, self.inner.blocks) {
            sorter.push(k, v)?;
        }
        sorter.finish(|| tc.error_sink())
    }
}

/// `cogroup`: each key once, with its values from both sides.
pub(crate) struct CoGroupNode<K, V, W> {
    meta: Meta,
    left: Arc<dyn ShuffleDep>,
    right: Arc<dyn ShuffleDep>,
    outputs: Arc<MapOutputs>,
    _t: Marker<(K, V, W)>,
}

impl<K: Data + Hash + Eq, V: Data, W: Data> CoGroupNode<K, V, W> {
    pub(crate) fn new(
        meta: Meta,
        left: Arc<dyn ShuffleDep>,
        right: Arc<dyn ShuffleDep>,
        outputs: Arc<MapOutputs>,
    ) -> Self {
        CoGroupNode {
            meta,
            left,
            right,
            outputs,
            _t: PhantomData,
        }
    }
}

impl<K: Data + Hash + Eq, V: Data, W: Data> AnyNode for CoGroupNode<K, V, W> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn deps(&self) -> Vec<Dep> {
        vec![
            Dep::Shuffle(self.left.clone()),
            Dep::Shuffle(self.right.clone()),
        ]
    }
    fn input_bytes(&self, part: usize) -> Option<u64> {
        Some(
            self.outputs.partition_bytes(self.left.id(), part)?
                + self.outputs.partition_bytes(self.right.id(), part)?,
        )
    }
}

/// The values of one key from each side of a `cogroup`.
pub type Groups<V, W> = (Vec<V>, Vec<W>);

impl<K: Data + Hash + Eq, V: Data, W: Data> Node<(K, Groups<V, W>)> for CoGroupNode<K, V, W> {
    fn encode(&self, part: usize, e: &mut Enc) -> Result<()> {
        e.entry(decode_cogroup::<K, V, W>)?;
        e.put(&self.outputs.blocks(self.left.id(), part)?)?;
        e.put(&self.outputs.blocks(self.right.id(), part)?)
    }
}

struct CoGroupCompute<K, V, W> {
    left: Vec<BlockRef>,
    right: Vec<BlockRef>,
    _t: Marker<(K, V, W)>,
}

fn decode_cogroup<K: Data + Hash + Eq, V: Data, W: Data>(
    d: &mut Dec<'_>,
) -> Result<Box<dyn std::any::Any>> {
    let left: Vec<BlockRef> = d.get()?;
    let right: Vec<BlockRef> = d.get()?;
    let c: Box<dyn Compute<(K, Groups<V, W>)>> = Box::new(CoGroupCompute::<K, V, W> {
        left,
        right,
        _t: PhantomData,
    });
    Ok(Box::new(c))
}

impl<K: Data + Hash + Eq, V: Data, W: Data> Compute<(K, Groups<V, W>)> for CoGroupCompute<K, V, W> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Partition<(K, Groups<V, W>)>> {
        let mut agg = ExternalAgg::new(
            spill_budget(tc),
            tc.scratch(),
            true,
            |mut a: Groups<V, W>, b: Groups<V, W>| {
                a.0.extend(b.0);
                a.1.extend(b.1);
                a
            },
        );
        for (k, vs) in read_blocks::<(K, Vec<V>)>(tc, self.left) {
            agg.insert(k, (vs, Vec::new()))?;
        }
        for (k, ws) in read_blocks::<(K, Vec<W>)>(tc, self.right) {
            agg.insert(k, (Vec::new(), ws))?;
        }
        agg.finish(|| tc.error_sink())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::FrameRecords;

    #[test]
    fn range_partitions_follow_key_order_both_ways() {
        let p = RangePartitioner {
            bounds: vec![10, 20, 30],
            descending: false,
        };
        let got: Vec<usize> = [0, 10, 11, 20, 25, 31, 99]
            .iter()
            .map(|k| p.partition(k))
            .collect();
        assert_eq!(got, vec![0, 0, 1, 1, 2, 3, 3]);
        let d = RangePartitioner {
            bounds: vec![10, 20, 30],
            descending: true,
        };
        let got: Vec<usize> = [0, 10, 11, 20, 25, 31, 99]
            .iter()
            .map(|k| d.partition(k))
            .collect();
        assert_eq!(got, vec![3, 3, 2, 2, 1, 0, 0]);
    }

    #[test]
    fn hash_partitions_cover_every_partition_evenly() {
        let p = HashPartitioner { n: 8 };
        let mut counts = [0usize; 8];
        for i in 0..80_000u64 {
            counts[Partitioner::<String>::partition(&p, &format!("w{i}"))] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn a_map_output_holds_each_partition_whole_after_spills() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = PartitionedWriter::new(3, 2048, dir.path());
        let mut want: Vec<Vec<(u32, String)>> = vec![Vec::new(); 3];
        for i in 0..3000u32 {
            let rec = (i, format!("value-{i}"));
            w.add((i % 3) as usize, &rec).expect("add");
            want[(i % 3) as usize].push(rec);
        }
        assert!(
            w.spills.len() > 3,
            "expected spills, got {}",
            w.spills.len()
        );
        let path = dir.path().join("out.data");
        let offsets = w.finish(&path).expect("finish");
        assert_eq!(offsets.len(), 4);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(offsets[3], bytes.len() as u64);
        for p in 0..3 {
            let block = &bytes[offsets[p] as usize..offsets[p + 1] as usize];
            let got: Vec<(u32, String)> =
                FrameRecords::new(block, Box::new(|e| panic!("{e}"))).collect();
            assert_eq!(got, want[p], "partition {p}");
        }
    }
}
