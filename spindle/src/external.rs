//! Memory-bounded building blocks of the shuffle: a hash aggregation and a sort that
//! spill sorted runs to the task's scratch directory when their estimated size passes
//! the task's budget, then merge the runs as they are read (Spark's
//! `ExternalAppendOnlyMap` and `ExternalSorter`).
//!
//! Sizes are estimated as Spark's `SizeTracker` does: the serialized size of a sample of
//! the records (every record at first, then one in 64) times the records held, plus a
//! fixed cost per entry for the container and the allocation.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::hash::{BuildHasher, Hash};
use std::io::{BufReader, BufWriter, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

use crate::codec::{FrameRecords, FrameWriter};
use crate::error::{Error, Result};
use crate::ops::Data;
use crate::plan::Partition;

/// The hash that places keys: fixed, so that every process and every run agrees (std's
/// `RandomState` differs per process).
pub(crate) fn key_hash<K: Hash + ?Sized>(k: &K) -> u64 {
    const SEED: u64 = 0x5350_494e_444c_4521; // "SPINDLE!"
    foldhash::fast::FixedState::with_seed(SEED).hash_one(k)
}

#[derive(Clone, Default)]
struct FixedHash;
impl BuildHasher for FixedHash {
    type Hasher = foldhash::fast::FoldHasher;
    fn build_hasher(&self) -> Self::Hasher {
        foldhash::fast::FixedState::with_seed(0x5350_494e_444c_4521).build_hasher()
    }
}

/// Per-entry cost beyond the serialized bytes (hash table slot, allocation headers).
const ENTRY_OVERHEAD: usize = 48;

/// Estimates the memory of a growing collection from sampled serialized sizes.
pub(crate) struct SizeTracker {
    entries: u64,
    samples: u64,
    sampled_bytes: u64,
    fixed: usize,
    scratch: Vec<u8>,
}

impl SizeTracker {
    pub(crate) fn new(fixed: usize) -> Self {
        SizeTracker {
            entries: 0,
            samples: 0,
            sampled_bytes: 0,
            fixed: fixed + ENTRY_OVERHEAD,
            scratch: Vec::new(),
        }
    }

    /// Counts one more entry, measuring it now and then.
    pub(crate) fn add<R: Serialize + ?Sized>(&mut self, record: &R) {
        self.entries += 1;
        if self.entries <= 64 || self.entries.is_multiple_of(64) {
            self.scratch.clear();
            let buf = std::mem::take(&mut self.scratch);
            if let Ok(buf) = postcard::to_extend(record, buf) {
                self.samples += 1;
                self.sampled_bytes += buf.len() as u64;
                self.scratch = buf;
            }
        }
    }

    pub(crate) fn estimate(&self) -> usize {
        let avg = self.sampled_bytes.checked_div(self.samples).unwrap_or(0);
        usize::try_from(self.entries.saturating_mul(avg + self.fixed as u64)).unwrap_or(usize::MAX)
    }

    pub(crate) fn reset(&mut self) {
        self.entries = 0;
    }
}

/// A run spilled to disk: an unnamed file, gone when dropped.
fn new_run(dir: &Path) -> Result<File> {
    tempfile::tempfile_in(dir).map_err(|e| Error::io("create a spill file in", dir.display(), e))
}

fn write_run<R: Serialize>(dir: &Path, records: impl Iterator<Item = R>) -> Result<File> {
    let file = new_run(dir)?;
    let mut w = FrameWriter::new(BufWriter::with_capacity(256 * 1024, file));
    for r in records {
        w.write(&r)?;
    }
    let (buf, _) = w.finish()?;
    let mut file = buf
        .into_inner()
        .map_err(|e| Error::io("write a spill file in", dir.display(), e.into_error()))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("rewind a spill file in", dir.display(), e))?;
    Ok(file)
}

type RunReader<R> = FrameRecords<R, BufReader<File>>;

fn read_run<R: Data>(file: File, on_error: Box<dyn FnMut(Error)>) -> RunReader<R> {
    FrameRecords::new(BufReader::with_capacity(64 * 1024, file), on_error)
}

/// A hash map of combined values with an estimate of its size: the part of hash
/// aggregation shared by the map side (which flushes into the shuffle output when over
/// budget) and the reduce side (which spills sorted runs).
pub(crate) struct Combiner<K, C> {
    map: HashMap<K, Option<C>, FixedHash>,
    size: SizeTracker,
    /// Whether merging makes a value larger (groups), so every record counts, not just new keys.
    grows: bool,
}

impl<K: Data + Hash + Eq, C: Data> Combiner<K, C> {
    pub(crate) fn new(grows: bool) -> Self {
        Combiner {
            map: HashMap::with_hasher(FixedHash),
            size: SizeTracker::new(std::mem::size_of::<(K, Option<C>)>()),
            grows,
        }
    }

    /// Adds `v` under `k`: `create` makes the first value of a key, `merge` folds the
    /// next ones in.
    pub(crate) fn upsert<V: Serialize>(
        &mut self,
        k: K,
        v: V,
        create: impl FnOnce(V) -> C,
        merge: impl FnOnce(C, V) -> C,
    ) {
        if let Some(slot) = self.map.get_mut(&k) {
            if self.grows {
                self.size.add(&v);
            }
            *slot = match slot.take() {
                Some(old) => Some(merge(old, v)),
                None => Some(create(v)),
            };
        } else {
            self.size.add(&(&k, &v));
            self.map.insert(k, Some(create(v)));
        }
    }

    pub(crate) fn over(&self, budget: usize) -> bool {
        self.size.estimate() > budget
    }

    /// Takes everything out, leaving the combiner empty.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (K, C)> + '_ {
        self.size.reset();
        self.map.drain().filter_map(|(k, c)| c.map(|c| (k, c)))
    }

    fn into_records(self) -> impl Iterator<Item = (K, C)> {
        self.map.into_iter().filter_map(|(k, c)| c.map(|c| (k, c)))
    }
}

/// Combines values by key within a memory budget, spilling runs sorted by key hash.
pub(crate) struct ExternalAgg<K, C, M> {
    combiner: Combiner<K, C>,
    budget: usize,
    runs: Vec<File>,
    merge: M,
    dir: std::path::PathBuf,
    pub(crate) spills: u64,
}

impl<K, C, M> ExternalAgg<K, C, M>
where
    K: Data + Hash + Eq,
    C: Data,
    M: FnMut(C, C) -> C + 'static,
{
    pub(crate) fn new(budget: usize, dir: &Path, grows: bool, merge: M) -> Self {
        ExternalAgg {
            combiner: Combiner::new(grows),
            budget,
            runs: Vec::new(),
            merge,
            dir: dir.to_path_buf(),
            spills: 0,
        }
    }

    /// Adds `c` under `k`, merging with what is there.
    pub(crate) fn insert(&mut self, k: K, c: C) -> Result<()> {
        let merge = &mut self.merge;
        self.combiner.upsert(k, c, |c| c, merge);
        if self.combiner.over(self.budget) {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        let mut entries: Vec<(u64, K, C)> = self
            .combiner
            .drain()
            .map(|(k, c)| (key_hash(&k), k, c))
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        self.runs.push(write_run(&self.dir, entries.into_iter())?);
        self.spills += 1;
        Ok(())
    }

    /// Every key once, with everything merged under it (in no particular order).
    pub(crate) fn finish(
        mut self,
        on_error: impl Fn() -> Box<dyn FnMut(Error)>,
    ) -> Result<Partition<(K, C)>> {
        if self.runs.is_empty() {
            return Ok(Box::new(self.combiner.into_records()));
        }
        self.spill()?;
        let runs: Vec<RunReader<(u64, K, C)>> = self
            .runs
            .drain(..)
            .map(|f| read_run(f, on_error()))
            .collect();
        Ok(Box::new(HashMerge::new(runs, self.merge)))
    }
}

/// Merges runs sorted by key hash, combining equal keys.
struct HashMerge<K, C, M> {
    runs: Vec<RunReader<(u64, K, C)>>,
    heads: Vec<Option<(u64, K, C)>>,
    heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>>,
    ready: Vec<(K, C)>,
    merge: M,
}

impl<K: Data + Eq, C: Data, M: FnMut(C, C) -> C> HashMerge<K, C, M> {
    fn new(mut runs: Vec<RunReader<(u64, K, C)>>, merge: M) -> Self {
        let mut heads = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::new();
        for (i, r) in runs.iter_mut().enumerate() {
            let head = r.next();
            if let Some(h) = &head {
                heap.push(std::cmp::Reverse((h.0, i)));
            }
            heads.push(head);
        }
        HashMerge {
            runs,
            heads,
            heap,
            ready: Vec::new(),
            merge,
        }
    }

    fn advance(&mut self, i: usize) -> Option<(u64, K, C)> {
        let next = self.runs[i].next();
        if let Some(n) = &next {
            self.heap.push(std::cmp::Reverse((n.0, i)));
        }
        std::mem::replace(&mut self.heads[i], next)
    }
}

impl<K: Data + Eq, C: Data, M: FnMut(C, C) -> C> Iterator for HashMerge<K, C, M> {
    type Item = (K, C);

    fn next(&mut self) -> Option<(K, C)> {
        if let Some(x) = self.ready.pop() {
            return Some(x);
        }
        let std::cmp::Reverse((hash, _)) = *self.heap.peek()?;
        // Every record with this hash, from every run; equal keys among them merge.
        while let Some(&std::cmp::Reverse((h, i))) = self.heap.peek() {
            if h != hash {
                break;
            }
            self.heap.pop();
            if let Some((_, k, c)) = self.advance(i) {
                match self.ready.iter().position(|(k2, _)| *k2 == k) {
                    Some(at) => {
                        let (k0, old) = self.ready.swap_remove(at);
                        let merged = (self.merge)(old, c);
                        self.ready.push((k0, merged));
                    }
                    None => self.ready.push((k, c)),
                }
            }
        }
        self.ready.pop()
    }
}

/// Sorts records by key within a memory budget.
pub(crate) struct ExternalSorter<K, V> {
    buf: Vec<(K, V)>,
    size: SizeTracker,
    budget: usize,
    runs: Vec<File>,
    descending: bool,
    dir: std::path::PathBuf,
    pub(crate) spills: u64,
}

impl<K: Data + Ord, V: Data> ExternalSorter<K, V> {
    pub(crate) fn new(budget: usize, dir: &Path, descending: bool) -> Self {
        ExternalSorter {
            buf: Vec::new(),
            size: SizeTracker::new(std::mem::size_of::<(K, V)>()),
            budget,
            runs: Vec::new(),
            descending,
            dir: dir.to_path_buf(),
            spills: 0,
        }
    }

    pub(crate) fn push(&mut self, k: K, v: V) -> Result<()> {
        self.size.add(&(&k, &v));
        self.buf.push((k, v));
        if self.size.estimate() > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn sort_buf(&mut self) {
        if self.descending {
            self.buf.sort_by(|a, b| b.0.cmp(&a.0));
        } else {
            self.buf.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }

    fn spill(&mut self) -> Result<()> {
        self.sort_buf();
        let records = std::mem::take(&mut self.buf);
        self.runs.push(write_run(&self.dir, records.into_iter())?);
        self.size.reset();
        self.spills += 1;
        Ok(())
    }

    /// The records in key order.
    pub(crate) fn finish(
        mut self,
        on_error: impl Fn() -> Box<dyn FnMut(Error)>,
    ) -> Result<Partition<(K, V)>> {
        if self.runs.is_empty() {
            self.sort_buf();
            return Ok(Box::new(self.buf.into_iter()));
        }
        self.spill()?;
        let mut runs: Vec<RunReader<(K, V)>> = self
            .runs
            .drain(..)
            .map(|f| read_run(f, on_error()))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in runs.iter_mut().enumerate() {
            if let Some((k, v)) = r.next() {
                heap.push(Head {
                    k,
                    v,
                    run: i,
                    descending: self.descending,
                });
            }
        }
        Ok(Box::new(SortMerge { runs, heap }))
    }
}

/// The next record of one run, ordered so that `BinaryHeap` (a max-heap) pops the
/// smallest key first (the largest when descending).
struct Head<K, V> {
    k: K,
    v: V,
    run: usize,
    descending: bool,
}

impl<K: Ord, V> PartialEq for Head<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<K: Ord, V> Eq for Head<K, V> {}
impl<K: Ord, V> PartialOrd for Head<K, V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord, V> Ord for Head<K, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_key = if self.descending {
            self.k.cmp(&other.k)
        } else {
            other.k.cmp(&self.k)
        };
        // Equal keys: the earlier run first, so that merging is stable across runs.
        by_key.then_with(|| other.run.cmp(&self.run))
    }
}

struct SortMerge<K, V> {
    runs: Vec<RunReader<(K, V)>>,
    heap: BinaryHeap<Head<K, V>>,
}

impl<K: Data + Ord, V: Data> Iterator for SortMerge<K, V> {
    type Item = (K, V);
    fn next(&mut self) -> Option<(K, V)> {
        let head = self.heap.pop()?;
        if let Some((k, v)) = self.runs[head.run].next() {
            self.heap.push(Head {
                k,
                v,
                run: head.run,
                descending: head.descending,
            });
        }
        Some((head.k, head.v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn no_error() -> Box<dyn FnMut(Error)> {
        Box::new(|e| panic!("unexpected error: {e}"))
    }

    #[test]
    fn aggregation_spills_and_merges_to_the_same_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        for budget in [usize::MAX, 64 * 1024, 1024] {
            let mut agg = ExternalAgg::new(budget, dir.path(), false, |a: u64, b: u64| a + b);
            let mut want: BTreeMap<String, u64> = BTreeMap::new();
            for i in 0..20_000u64 {
                // Skewed: key 0 is a third of all records.
                let k = if i % 3 == 0 {
                    "hot".to_string()
                } else {
                    format!("k{}", i % 4999)
                };
                *want.entry(k.clone()).or_default() += i;
                agg.insert(k, i).expect("insert");
            }
            let spilled = agg.spills;
            let got: BTreeMap<String, u64> = agg.finish(no_error).expect("finish").collect();
            assert_eq!(got, want, "budget {budget}");
            assert_eq!(
                spilled > 0,
                budget < 100_000,
                "budget {budget}: {spilled} spills"
            );
        }
    }

    #[test]
    fn groups_that_grow_are_counted_and_kept_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut agg = ExternalAgg::new(4096, dir.path(), true, |mut a: Vec<u32>, b: Vec<u32>| {
            a.extend(b);
            a
        });
        for i in 0..5000u32 {
            agg.insert(i % 7, vec![i]).expect("insert");
        }
        assert!(agg.spills > 0);
        let mut got: Vec<(u32, Vec<u32>)> = agg.finish(no_error).expect("finish").collect();
        got.sort();
        assert_eq!(got.len(), 7);
        for (k, mut vs) in got {
            vs.sort();
            let want: Vec<u32> = (0..5000).filter(|i| i % 7 == k).collect();
            assert_eq!(vs, want);
        }
    }

    #[test]
    fn sorting_spills_and_merges_in_order_both_ways() {
        let dir = tempfile::tempdir().expect("tempdir");
        for descending in [false, true] {
            let mut s = ExternalSorter::new(8 * 1024, dir.path(), descending);
            let mut want = Vec::new();
            for i in 0..10_000u64 {
                let k = (i * 7919) % 1000;
                want.push(k);
                s.push(k, i).expect("push");
            }
            assert!(s.spills > 1);
            want.sort();
            if descending {
                want.reverse();
            }
            let got: Vec<u64> = s
                .finish(no_error)
                .expect("finish")
                .map(|(k, _)| k)
                .collect();
            assert_eq!(got, want);
        }
    }
}
