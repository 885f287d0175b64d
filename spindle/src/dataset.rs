//! The dataset API: [`Dataset<T>`] (Spark's RDD), its transformations (lazy: they only
//! build lineage) and actions (each runs a job), and [`With<T, C>`], the same
//! transformations with a value handed to the function.
//!
//! Functions given to Spindle are code only: closures that capture nothing (checked at
//! compile time), so that every executor can run them from the same binary. What a
//! function needs from the driver goes through [`Dataset::with`]:
//!
//! ```no_run
//! # fn demo(lines: spindle::Dataset<String>) -> spindle::Result<()> {
//! let min_len = 5;
//! let long = lines.with(min_len)?.filter(|min_len, line| line.len() >= *min_len);
//! # Ok(()) }
//! ```
//!
//! A closure that captures is refused when the application is built:
//!
//! ```compile_fail,E0080
//! let sc = spindle::Context::new().expect("context");
//! let lines = sc.parallelize(vec!["a line".to_string()], 1).expect("dataset");
//! let min_len = 5;
//! let long = lines.filter(move |line: &String| line.len() >= min_len); // captures min_len
//! ```

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::panic::Location;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use spindle_core::fs::FileSystem;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::ops::{
    CoalesceNode, Data, FilterStep, FlatMapStep, MapStep, PartitionsStep, Step, StepNode, UnionNode,
};
use crate::plan::{Node, Partition};
use crate::scheduler::DagScheduler;
use crate::ship::Shippable;
use crate::shuffle::{
    AggregateAgg, CoGroupNode, CombineDep, CombinedNode, DirectPartitioner, GroupAgg, Groups,
    HashPartitioner, PlainDep, RangePartitioner, ReduceAgg, ShuffledNode,
};
use crate::task::{Collect, Count, Fold, Foreach, Reduce, Sample, SaveText, Take};

/// Refuses, at compile time, a function that captures variables.
fn code_only<F>(_: &F) {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "a closure given to Spindle captures variables: Spindle ships closures as code \
             only; pass what it needs with `.with(value)` and take it as the closure's first \
             argument"
        )
    };
}

/// A distributed collection of `T`, in partitions: built from a source by
/// transformations, computed when an action needs it.
pub struct Dataset<T> {
    sc: Context,
    node: Arc<dyn Node<T>>,
}

impl<T> Clone for Dataset<T> {
    fn clone(&self) -> Self {
        Dataset {
            sc: self.sc.clone(),
            node: self.node.clone(),
        }
    }
}

/// A dataset with a value for its next transformation's function: made by
/// [`Dataset::with`]; the function takes `&C` first.
pub struct With<T, C> {
    ds: Dataset<T>,
    caps: Arc<Vec<u8>>,
    _c: std::marker::PhantomData<fn() -> C>,
}

fn serialize_value<C: Data>(value: &C) -> Result<Arc<Vec<u8>>> {
    postcard::to_allocvec(value)
        .map(Arc::new)
        .map_err(|e| Error::Codec {
            op: "serialize the value given to with()",
            message: e.to_string(),
        })
}

fn unit_caps() -> Arc<Vec<u8>> {
    Arc::new(Vec::new())
}

impl<T: Data> Dataset<T> {
    pub(crate) fn from_node(sc: Context, node: Arc<dyn Node<T>>) -> Self {
        Dataset { sc, node }
    }

    fn scheduler(&self) -> &DagScheduler {
        &self.sc.inner.scheduler
    }

    /// The application this dataset belongs to.
    pub fn context(&self) -> &Context {
        &self.sc
    }

    /// How many partitions (and so tasks) it has.
    pub fn partitions(&self) -> usize {
        self.node.meta().partitions
    }

    /// What made it: `"map at src/main.rs:12"`.
    pub fn name(&self) -> &str {
        &self.node.meta().name
    }

    /// Hands `value` to the next transformation's function (serialized now, and
    /// deserialized once in each task that runs the function).
    pub fn with<C: Data>(&self, value: C) -> Result<With<T, C>> {
        Ok(With {
            ds: self.clone(),
            caps: serialize_value(&value)?,
            _c: std::marker::PhantomData,
        })
    }

    fn with_unit(&self) -> With<T, ()> {
        With {
            ds: self.clone(),
            caps: unit_caps(),
            _c: std::marker::PhantomData,
        }
    }

    // ---- narrow transformations ----

    /// Each record through `f`.
    #[track_caller]
    pub fn map<U: Data, F: Fn(T) -> U + Shippable>(&self, f: F) -> Dataset<U> {
        code_only(&f);
        self.with_unit().map(move |_, x| f(x))
    }

    /// Each record through `f`, keeping all it returns.
    #[track_caller]
    pub fn flat_map<U: Data, I, F>(&self, f: F) -> Dataset<U>
    where
        I: IntoIterator<Item = U> + 'static,
        F: Fn(T) -> I + Shippable,
    {
        code_only(&f);
        self.with_unit().flat_map(move |_, x| f(x))
    }

    /// The records for which `f` is true.
    #[track_caller]
    pub fn filter<F: Fn(&T) -> bool + Shippable>(&self, f: F) -> Dataset<T> {
        code_only(&f);
        self.with_unit().filter(move |_, x| f(x))
    }

    /// A whole partition at a time through `f`.
    #[track_caller]
    pub fn map_partitions<U: Data, I, F>(&self, f: F) -> Dataset<U>
    where
        I: IntoIterator<Item = U> + 'static,
        F: Fn(Partition<T>) -> I + Shippable,
    {
        code_only(&f);
        self.with_unit()
            .map_partitions_with_index(move |_, _, it| f(it))
    }

    /// A whole partition at a time through `f`, with the partition's number.
    #[track_caller]
    pub fn map_partitions_with_index<U: Data, I, F>(&self, f: F) -> Dataset<U>
    where
        I: IntoIterator<Item = U> + 'static,
        F: Fn(usize, Partition<T>) -> I + Shippable,
    {
        code_only(&f);
        self.with_unit()
            .map_partitions_with_index(move |_, i, it| f(i, it))
    }

    /// `(f(x), x)` for each record.
    #[track_caller]
    pub fn key_by<K: Data, F: Fn(&T) -> K + Shippable>(&self, f: F) -> Dataset<(K, T)> {
        code_only(&f);
        self.with_unit().map(move |_, x| (f(&x), x))
    }

    /// The records of both datasets (duplicates kept): its partitions are this one's,
    /// then `other`'s.
    #[track_caller]
    pub fn union(&self, other: &Dataset<T>) -> Dataset<T> {
        let at = Location::caller();
        let n = self.partitions() + other.partitions();
        let node = UnionNode::new(
            self.sc.meta(n, "union", at),
            vec![self.node.clone(), other.node.clone()],
        );
        self.sc.dataset(Arc::new(node))
    }

    /// At most `partitions` partitions, by joining neighbours (no shuffle).
    #[track_caller]
    pub fn coalesce(&self, partitions: usize) -> Dataset<T> {
        let n = partitions.max(1);
        if n >= self.partitions() {
            return self.clone();
        }
        let node = CoalesceNode::new(
            self.sc.meta(n, "coalesce", Location::caller()),
            self.node.clone(),
        );
        self.sc.dataset(Arc::new(node))
    }

    /// A fraction of the records, chosen at random (each record independently, or a
    /// Poisson number of copies of each with replacement); the same `seed` gives the
    /// same sample.
    #[track_caller]
    pub fn sample(&self, with_replacement: bool, fraction: f64, seed: u64) -> Result<Dataset<T>>
    where
        T: Clone,
    {
        if !(fraction >= 0.0 && fraction.is_finite()) || (!with_replacement && fraction > 1.0) {
            return Err(Error::invalid(
                "sample fraction",
                format!("{fraction}: want 0..=1 (or ≥ 0 with replacement)"),
            ));
        }
        Ok(self
            .with((with_replacement, fraction, seed))?
            .map_partitions_with_index(|&(with_replacement, fraction, seed), part, it| {
                let mut rng = rand::rngs::StdRng::seed_from_u64(
                    seed ^ (part as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                it.flat_map(move |x| {
                    let copies = if with_replacement {
                        poisson(&mut rng, fraction)
                    } else {
                        usize::from(rng.random::<f64>() < fraction)
                    };
                    std::iter::repeat_n(x, copies)
                })
            }))
    }

    // ---- wide transformations ----

    /// `partitions` partitions of about equal size (a shuffle).
    #[track_caller]
    pub fn repartition(&self, partitions: usize) -> Dataset<T> {
        let at = Location::caller();
        let n = partitions.max(1);
        // Round robin from a different start in each partition; the partitioner takes the
        // counter modulo `n`.
        let numbered: Dataset<(usize, T)> = self.map_partitions_with_index(|part, it| {
            it.enumerate().map(move |(i, x)| (part.wrapping_add(i), x))
        });
        let dep = Arc::new(PlainDep::new(
            self.sc.new_shuffle_id(),
            numbered.node,
            DirectPartitioner { n },
        ));
        let shuffled = ShuffledNode::<usize, T>::plain(
            self.sc.meta(n, "repartition", at),
            dep,
            self.sc.inner.outputs.clone(),
        );
        self.sc.dataset(Arc::new(shuffled)).values()
    }

    /// Each distinct record once.
    #[track_caller]
    pub fn distinct(&self, partitions: impl Into<Option<usize>>) -> Dataset<T>
    where
        T: Hash + Eq,
    {
        self.map(|x| (x, ()))
            .reduce_by_key(|_, _| (), partitions)
            .keys()
    }

    /// The records ordered by `f(record)`, across partitions (a range-partitioned shuffle:
    /// partition `i`'s records all come before partition `i + 1`'s). Runs a job now to
    /// sample the keys.
    #[track_caller]
    pub fn sort_by<K, F>(
        &self,
        f: F,
        ascending: bool,
        partitions: impl Into<Option<usize>>,
    ) -> Result<Dataset<T>>
    where
        K: Data + Ord + Clone + Send + Sync,
        F: Fn(&T) -> K + Shippable,
    {
        code_only(&f);
        Ok(self.key_by(f).sort_by_key(ascending, partitions)?.values())
    }

    // ---- actions ----

    fn all_partitions(&self) -> Vec<usize> {
        (0..self.partitions()).collect()
    }

    /// Every record, in partition order, at the driver (limited by
    /// `max_result_size`).
    pub fn collect(&self) -> Result<Vec<T>> {
        let parts = self.scheduler().run_job::<T, Collect>(
            &self.node,
            &self.all_partitions(),
            &(),
            "collect",
        )?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// How many records.
    pub fn count(&self) -> Result<u64> {
        let parts = self.scheduler().run_job::<T, Count>(
            &self.node,
            &self.all_partitions(),
            &(),
            "count",
        )?;
        Ok(parts.into_iter().sum())
    }

    /// The first `n` records (in partition order), computing as few partitions as it can:
    /// one, then four times as many each round.
    pub fn take(&self, n: usize) -> Result<Vec<T>> {
        let total = self.partitions();
        let mut out = Vec::new();
        let mut next = 0;
        let mut batch = 1;
        while out.len() < n && next < total {
            let parts: Vec<usize> = (next..total.min(next + batch)).collect();
            let want = n - out.len();
            for got in self
                .scheduler()
                .run_job::<T, Take>(&self.node, &parts, &want, "take")?
            {
                let room = n - out.len();
                out.extend(got.into_iter().take(room));
            }
            next += parts.len();
            batch *= 4;
        }
        Ok(out)
    }

    /// The first record.
    pub fn first(&self) -> Result<T> {
        self.take(1)?
            .into_iter()
            .next()
            .ok_or(Error::Empty("first"))
    }

    /// All records combined by `f` (associative and commutative).
    pub fn reduce<F: Fn(T, T) -> T + Shippable>(&self, f: F) -> Result<T> {
        code_only(&f);
        let parts = self.scheduler().run_job::<T, Reduce<F>>(
            &self.node,
            &self.all_partitions(),
            &(),
            "reduce",
        )?;
        parts
            .into_iter()
            .flatten()
            .reduce(f)
            .ok_or(Error::Empty("reduce"))
    }

    /// All records folded into `zero` by `f`, per partition and then across them (`zero`
    /// must be neutral for `f`, as in Spark).
    pub fn fold<F: Fn(T, T) -> T + Shippable>(&self, zero: T, f: F) -> Result<T>
    where
        T: Clone,
    {
        code_only(&f);
        let parts = self.scheduler().run_job::<T, Fold<F>>(
            &self.node,
            &self.all_partitions(),
            &zero,
            "fold",
        )?;
        Ok(parts.into_iter().fold(zero, f))
    }

    /// `f` on every record, in the tasks (on a cluster: in the executors).
    pub fn foreach<F: Fn(T) + Shippable>(&self, f: F) -> Result<()> {
        code_only(&f);
        self.with_unit().foreach(move |_, x| f(x))
    }

    /// Writes the records, one line each (`Display`), as `part-NNNNN` files under the
    /// directory `path`, which must not exist; a `_SUCCESS` file marks it complete. A job
    /// that fails leaves no directory behind, nor does a killed application.
    pub fn save_as_text_file(&self, path: &str) -> Result<()>
    where
        T: Display,
    {
        let env = &self.sc.inner.env;
        let fs = env.fs(path)?;
        if env.runtime.block_on(fs.info(path))?.is_some() {
            return Err(Error::OutputExists(path.to_string()));
        }
        let job = self.scheduler().new_job_id();
        self.scheduler().output_started(path);
        let outcome = (|| -> Result<()> {
            // As Hadoop's committer sets a job up: the directory exists, unfinished,
            // from the start.
            env.runtime
                .block_on(fs.mkdirs(&format!("{}/_temporary", path.trim_end_matches('/'))))?;
            let written = self.scheduler().run_job::<T, SaveText>(
                &self.node,
                &self.all_partitions(),
                &(path.to_string(), job),
                "save_as_text_file",
            )?;
            env.runtime.block_on(commit_parts(&fs, path, &written))?;
            Ok(())
        })();
        if outcome.is_err()
            && let Err(cleanup) = env.runtime.block_on(fs.delete(path))
        {
            tracing::warn!(path, error = %cleanup, "cannot remove the output of a failed job");
        }
        self.scheduler().output_done(path);
        outcome
    }
}

/// A Poisson-distributed count with mean `lambda` (Knuth's method, in chunks so that a
/// large mean does not underflow).
fn poisson(rng: &mut impl Rng, lambda: f64) -> usize {
    let mut left = lambda;
    let mut count = 0usize;
    while left > 0.0 {
        let step = left.min(30.0);
        left -= step;
        let limit = (-step).exp();
        let mut p = 1.0;
        loop {
            p *= rng.random::<f64>();
            if p <= limit {
                break;
            }
            count += 1;
        }
    }
    count
}

impl<T: Data, C: Data> With<T, C> {
    #[track_caller]
    fn step<U: Data, S: Step<T, U, C>>(self, what: &str) -> Dataset<U> {
        let at = Location::caller();
        let sc = self.ds.sc.clone();
        let n = self.ds.partitions();
        let node = StepNode::<T, U, C, S>::new(sc.meta(n, what, at), self.ds.node, self.caps);
        sc.dataset(Arc::new(node))
    }

    /// [`Dataset::map`] with the value.
    #[track_caller]
    pub fn map<U: Data, F: Fn(&C, T) -> U + Shippable>(self, f: F) -> Dataset<U> {
        code_only(&f);
        self.step::<U, MapStep<F>>("map")
    }

    /// [`Dataset::flat_map`] with the value.
    #[track_caller]
    pub fn flat_map<U: Data, I, F>(self, f: F) -> Dataset<U>
    where
        I: IntoIterator<Item = U> + 'static,
        F: Fn(&C, T) -> I + Shippable,
    {
        code_only(&f);
        self.step::<U, FlatMapStep<F, I>>("flat_map")
    }

    /// [`Dataset::filter`] with the value.
    #[track_caller]
    pub fn filter<F: Fn(&C, &T) -> bool + Shippable>(self, f: F) -> Dataset<T> {
        code_only(&f);
        self.step::<T, FilterStep<F>>("filter")
    }

    /// [`Dataset::map_partitions_with_index`] with the value.
    #[track_caller]
    pub fn map_partitions_with_index<U: Data, I, F>(self, f: F) -> Dataset<U>
    where
        I: IntoIterator<Item = U> + 'static,
        F: Fn(&C, usize, Partition<T>) -> I + Shippable,
    {
        code_only(&f);
        self.step::<U, PartitionsStep<F, I>>("map_partitions")
    }

    /// [`Dataset::key_by`] with the value.
    #[track_caller]
    pub fn key_by<K: Data, F: Fn(&C, &T) -> K + Shippable>(self, f: F) -> Dataset<(K, T)> {
        code_only(&f);
        self.map(move |c, x| (f(c, &x), x))
    }

    /// [`Dataset::foreach`] with the value.
    pub fn foreach<F: Fn(&C, T) + Shippable>(self, f: F) -> Result<()> {
        code_only(&f);
        let caps: C = postcard::from_bytes(&self.caps).map_err(|e| Error::Codec {
            op: "read back the value given to with()",
            message: e.to_string(),
        })?;
        let parts = self.ds.all_partitions();
        self.ds
            .scheduler()
            .run_job::<T, Foreach<C, F>>(&self.ds.node, &parts, &caps, "foreach")?;
        Ok(())
    }
}

// ---- key-value datasets ------------------------------------------------------------

/// A record of a full outer join: either side may be missing.
pub type Outer<V, W> = (Option<V>, Option<W>);

fn shuffle_partitions(explicit: Option<usize>, parents: &[usize]) -> usize {
    explicit
        .unwrap_or_else(|| parents.iter().copied().max().unwrap_or(1))
        .max(1)
}

impl<K: Data, V: Data> Dataset<(K, V)> {
    /// The keys.
    #[track_caller]
    pub fn keys(&self) -> Dataset<K> {
        self.map(|(k, _)| k)
    }

    /// The values.
    #[track_caller]
    pub fn values(&self) -> Dataset<V> {
        self.map(|(_, v)| v)
    }

    /// Each value through `f`, keys unchanged.
    #[track_caller]
    pub fn map_values<U: Data, F: Fn(V) -> U + Shippable>(&self, f: F) -> Dataset<(K, U)> {
        code_only(&f);
        self.map(move |(k, v)| (k, f(v)))
    }
}

impl<K: Data + Hash + Eq, V: Data> Dataset<(K, V)> {
    /// The values of each key combined by `f` (associative and commutative), on the map
    /// side first; `partitions` reduce partitions (default: as many as this dataset).
    #[track_caller]
    pub fn reduce_by_key<F>(&self, f: F, partitions: impl Into<Option<usize>>) -> Dataset<(K, V)>
    where
        F: Fn(V, V) -> V + Shippable,
    {
        code_only(&f);
        self.with_unit()
            .reduce_by_key(move |_, a, b| f(a, b), partitions)
    }

    /// The values of each key folded into `zero` by `seq`, and partial results merged by
    /// `comb`.
    #[track_caller]
    pub fn aggregate_by_key<U, S, M>(
        &self,
        zero: U,
        seq: S,
        comb: M,
        partitions: impl Into<Option<usize>>,
    ) -> Result<Dataset<(K, U)>>
    where
        U: Data + Clone,
        S: Fn(U, V) -> U + Shippable,
        M: Fn(U, U) -> U + Shippable,
    {
        code_only(&seq);
        code_only(&comb);
        self.with_unit().aggregate_by_key(
            zero,
            move |_, u, v| seq(u, v),
            move |_, a, b| comb(a, b),
            partitions,
        )
    }

    /// Each key once, with all its values.
    #[track_caller]
    pub fn group_by_key(&self, partitions: impl Into<Option<usize>>) -> Dataset<(K, Vec<V>)> {
        let at = Location::caller();
        let n = shuffle_partitions(partitions.into(), &[self.partitions()]);
        let dep = Arc::new(
            CombineDep::<K, V, Vec<V>, (), GroupAgg, HashPartitioner>::new(
                self.sc.new_shuffle_id(),
                self.node.clone(),
                unit_caps(),
                HashPartitioner { n },
            ),
        );
        let node = CombinedNode::new(
            self.sc.meta(n, "group_by_key", at),
            dep,
            self.sc.inner.outputs.clone(),
        );
        self.sc.dataset(Arc::new(node))
    }

    /// Each key of either side once, with its values from this side and from `other`.
    #[track_caller]
    pub fn cogroup<W: Data>(
        &self,
        other: &Dataset<(K, W)>,
        partitions: impl Into<Option<usize>>,
    ) -> Dataset<(K, Groups<V, W>)> {
        let at = Location::caller();
        let n = shuffle_partitions(partitions.into(), &[self.partitions(), other.partitions()]);
        let left = Arc::new(
            CombineDep::<K, V, Vec<V>, (), GroupAgg, HashPartitioner>::new(
                self.sc.new_shuffle_id(),
                self.node.clone(),
                unit_caps(),
                HashPartitioner { n },
            ),
        );
        let right = Arc::new(
            CombineDep::<K, W, Vec<W>, (), GroupAgg, HashPartitioner>::new(
                self.sc.new_shuffle_id(),
                other.node.clone(),
                unit_caps(),
                HashPartitioner { n },
            ),
        );
        let node = CoGroupNode::<K, V, W>::new(
            self.sc.meta(n, "cogroup", at),
            left,
            right,
            self.sc.inner.outputs.clone(),
        );
        self.sc.dataset(Arc::new(node))
    }

    /// How many records each key has, at the driver.
    pub fn count_by_key(&self) -> Result<HashMap<K, u64>> {
        Ok(self
            .map(|(k, _)| (k, 1u64))
            .reduce_by_key(|a, b| a + b, None)
            .collect()?
            .into_iter()
            .collect())
    }
}

impl<K: Data + Hash + Eq + Clone, V: Data + Clone> Dataset<(K, V)> {
    /// Pairs of values with equal keys (inner join).
    #[track_caller]
    pub fn join<W: Data + Clone>(
        &self,
        other: &Dataset<(K, W)>,
        partitions: impl Into<Option<usize>>,
    ) -> Dataset<(K, (V, W))> {
        self.cogroup(other, partitions)
            .flat_map(|(k, (vs, ws))| cross(k, vs, ws, |v, w| (v.clone(), w.clone())))
    }

    /// Every record of this side, with each matching value of `other` or `None`.
    #[track_caller]
    pub fn left_outer_join<W: Data + Clone>(
        &self,
        other: &Dataset<(K, W)>,
        partitions: impl Into<Option<usize>>,
    ) -> Dataset<(K, (V, Option<W>))> {
        self.cogroup(other, partitions).flat_map(|(k, (vs, ws))| {
            let ws = or_none(ws);
            cross(k, vs, ws, |v, w| (v.clone(), w.clone()))
        })
    }

    /// Every record of `other`, with each matching value of this side or `None`.
    #[track_caller]
    pub fn right_outer_join<W: Data + Clone>(
        &self,
        other: &Dataset<(K, W)>,
        partitions: impl Into<Option<usize>>,
    ) -> Dataset<(K, (Option<V>, W))> {
        self.cogroup(other, partitions).flat_map(|(k, (vs, ws))| {
            let vs = or_none(vs);
            cross(k, vs, ws, |v, w| (v.clone(), w.clone()))
        })
    }

    /// Every record of both sides, matched where keys are equal.
    #[track_caller]
    pub fn full_outer_join<W: Data + Clone>(
        &self,
        other: &Dataset<(K, W)>,
        partitions: impl Into<Option<usize>>,
    ) -> Dataset<(K, Outer<V, W>)> {
        self.cogroup(other, partitions).flat_map(|(k, (vs, ws))| {
            let vs = or_none(vs);
            let ws = or_none(ws);
            cross(k, vs, ws, |v, w| (v.clone(), w.clone()))
        })
    }
}

/// Every `(v, w)` pair of a key, lazily (a hot key's product is never held whole).
fn cross<K: Clone + 'static, A: 'static, B: 'static, R: 'static>(
    k: K,
    vs: Vec<A>,
    ws: Vec<B>,
    pair: fn(&A, &B) -> R,
) -> impl Iterator<Item = (K, R)> {
    let width = ws.len();
    let n = vs.len() * width;
    (0..n).map(move |i| (k.clone(), pair(&vs[i / width], &ws[i % width])))
}

/// One side's values as options for an outer join: no value at all becomes one `None`,
/// so that the other side's values are kept.
fn or_none<V>(values: Vec<V>) -> Vec<Option<V>> {
    if values.is_empty() {
        vec![None]
    } else {
        values.into_iter().map(Some).collect()
    }
}

impl<K: Data + Ord + Clone + Send + Sync, V: Data> Dataset<(K, V)> {
    /// The records ordered by key, across partitions (see [`Dataset::sort_by`]).
    #[track_caller]
    pub fn sort_by_key(
        &self,
        ascending: bool,
        partitions: impl Into<Option<usize>>,
    ) -> Result<Dataset<(K, V)>> {
        let at = Location::caller();
        let n = shuffle_partitions(partitions.into(), &[self.partitions()]);
        // Sample the keys (about 60 per output partition over the whole input, as
        // Spark's RangePartitioner does) to cut key ranges of about equal size.
        let per_part = (60 * n)
            .div_ceil(self.partitions().max(1))
            .clamp(20, 10_000);
        let keys = self.keys();
        let samples = self.scheduler().run_job::<K, Sample>(
            &keys.node,
            &keys.all_partitions(),
            &(per_part, 0x5eed),
            "sort_by_key (sampling)",
        )?;
        let mut sample: Vec<K> = samples.into_iter().flat_map(|(_, s)| s).collect();
        sample.sort();
        let mut bounds: Vec<K> = (1..n)
            .filter_map(|i| sample.get(i * sample.len() / n).cloned())
            .collect();
        bounds.dedup();
        let parts = bounds.len() + 1;
        let dep = Arc::new(PlainDep::new(
            self.sc.new_shuffle_id(),
            self.node.clone(),
            RangePartitioner {
                bounds,
                descending: !ascending,
            },
        ));
        let node = ShuffledNode::<K, V>::sorted(
            self.sc.meta(parts, "sort_by_key", at),
            dep,
            self.sc.inner.outputs.clone(),
            !ascending,
        );
        Ok(self.sc.dataset(Arc::new(node)))
    }
}

impl<K: Data + Hash + Eq, V: Data, C: Data> With<(K, V), C> {
    /// [`Dataset::reduce_by_key`] with the value.
    #[track_caller]
    pub fn reduce_by_key<F>(self, f: F, partitions: impl Into<Option<usize>>) -> Dataset<(K, V)>
    where
        F: Fn(&C, V, V) -> V + Shippable,
    {
        code_only(&f);
        let at = Location::caller();
        let sc = self.ds.sc.clone();
        let n = shuffle_partitions(partitions.into(), &[self.ds.partitions()]);
        let dep = Arc::new(
            CombineDep::<K, V, V, C, ReduceAgg<F>, HashPartitioner>::new(
                sc.new_shuffle_id(),
                self.ds.node,
                self.caps,
                HashPartitioner { n },
            ),
        );
        let node = CombinedNode::new(
            sc.meta(n, "reduce_by_key", at),
            dep,
            sc.inner.outputs.clone(),
        );
        sc.dataset(Arc::new(node))
    }

    /// [`Dataset::aggregate_by_key`] with the value.
    #[track_caller]
    pub fn aggregate_by_key<U, S, M>(
        self,
        zero: U,
        seq: S,
        comb: M,
        partitions: impl Into<Option<usize>>,
    ) -> Result<Dataset<(K, U)>>
    where
        U: Data + Clone,
        S: Fn(&C, U, V) -> U + Shippable,
        M: Fn(&C, U, U) -> U + Shippable,
    {
        code_only(&seq);
        code_only(&comb);
        let at = Location::caller();
        let sc = self.ds.sc.clone();
        let n = shuffle_partitions(partitions.into(), &[self.ds.partitions()]);
        // A tuple serializes as its fields back to back: `(zero, value)` is the zero's
        // bytes followed by the value's, already serialized.
        let mut caps = serialize_value(&zero)?.as_ref().clone();
        caps.extend_from_slice(&self.caps);
        let caps = Arc::new(caps);
        let dep = Arc::new(CombineDep::<
            K,
            V,
            U,
            (U, C),
            AggregateAgg<S, M>,
            HashPartitioner,
        >::new(
            sc.new_shuffle_id(),
            self.ds.node,
            caps,
            HashPartitioner { n },
        ));
        let node = CombinedNode::new(
            sc.meta(n, "aggregate_by_key", at),
            dep,
            sc.inner.outputs.clone(),
        );
        Ok(sc.dataset(Arc::new(node)))
    }
}

/// Renames in flight at once when an output is committed.
const RENAMES_IN_FLIGHT: usize = 16;

/// Commits a saved output: each task's file (in `_temporary`) renamed to
/// `part-NNNNN`, several at once (one NameNode call each, none waiting for another),
/// then `_temporary` removed and `_SUCCESS` written, together.
async fn commit_parts(fs: &Arc<dyn FileSystem>, path: &str, written: &[String]) -> Result<()> {
    let dir = path.trim_end_matches('/');
    let mut parts = written.iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < RENAMES_IN_FLIGHT {
            let Some((part, tmp)) = parts.next() else {
                break;
            };
            let (fs, tmp, to) = (fs.clone(), tmp.clone(), format!("{dir}/part-{part:05}"));
            running.spawn(async move { fs.rename(&tmp, &to).await });
        }
        match running.join_next().await {
            None => break,
            Some(renamed) => {
                renamed.map_err(|e| Error::Internal(format!("renaming a part file: {e}")))??
            }
        }
    }
    let (temporary, success) = (format!("{dir}/_temporary"), format!("{dir}/_SUCCESS"));
    let (removed, marked) = tokio::join!(
        fs.delete(&temporary),
        fs.write(&success, bytes::Bytes::new())
    );
    removed?;
    marked?;
    Ok(())
}
