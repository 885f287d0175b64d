//! Tasks: the bytes the driver sends for one partition of one stage, and running them.
//!
//! A task is `[the driver's fingerprint (32 bytes)][an entry and what it decodes]`. The
//! entry builds a [`TaskRun`]: a map task (shuffle output, answering a map status) or a
//! result task (an action's per-partition work, answering its serialized result).

use std::any::Any;
use std::fmt::Display;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use rand::{Rng, SeedableRng};

use crate::codec::{Dec, Enc};
use crate::env::TaskEnv;
use crate::error::{Error, Result};
use crate::ops::Data;
use crate::plan::{Compute, Node, Partition, TaskContext};
use crate::ship::{Fingerprint, Shippable, Verified, conjure};

/// A decoded task, ready to run.
pub(crate) trait TaskRun {
    /// Runs to the end; the bytes are the task's answer to the driver.
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Vec<u8>>;
}

pub(crate) fn boxed_task(t: impl TaskRun + 'static) -> Result<Box<dyn Any>> {
    let b: Box<dyn TaskRun> = Box::new(t);
    Ok(Box::new(b))
}

/// Starts a task's bytes: the fingerprint of the binary that wrote them.
pub(crate) fn task_header(fingerprint: &Fingerprint) -> Result<Enc> {
    let mut e = Enc::new();
    // First, so an executor checks it before decoding anything else.
    e.put(fingerprint)?;
    Ok(e)
}

/// Where a task's bytes come from, which decides how far they are trusted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// This process wrote them (local mode).
    ThisProcess,
    /// A driver that proved it holds the application's secret; its binary must be ours.
    Driver,
}

/// Decodes and runs one task, catching panics in user code as task failures.
/// A task's answer and what it measured.
pub(crate) struct TaskDone {
    pub result: Vec<u8>,
    /// Bytes read from input files.
    pub input_bytes: u64,
}

pub(crate) fn run_task(
    bytes: &[u8],
    origin: Origin,
    env: Arc<TaskEnv>,
    stage: u32,
    partition: usize,
    attempt: u32,
) -> Result<TaskDone> {
    let mut header = Dec::new(bytes, Verified::same_process());
    let theirs: Fingerprint = header.get()?;
    let verified = match origin {
        Origin::ThisProcess => Verified::same_process(),
        Origin::Driver => Verified::check(&theirs)?,
    };
    let body = &bytes[bytes.len() - header.remaining()..];
    let tc = TaskContext::new(stage, partition, attempt, env);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut d = Dec::new(body, verified);
        let task = d.build::<Box<dyn TaskRun>>()?;
        if !d.is_empty() {
            return Err(Error::Internal(
                "task bytes left over after decoding".into(),
            ));
        }
        task.run(&tc)
    }));
    let result = match outcome {
        Ok(r) => r,
        Err(panic) => Err(Error::Internal(format!(
            "panicked: {}",
            panic_message(&*panic)
        ))),
    };
    match (result, tc.take_error()) {
        (_, Some(e)) => Err(e),
        (r, None) => r.map(|result| TaskDone {
            result,
            input_bytes: tc.input_bytes(),
        }),
    }
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

// ---- actions -----------------------------------------------------------------------

/// What an action does with one partition, in a task.
pub(crate) trait Action<T>: 'static {
    /// What the driver sends along (a zero value, a path).
    type State: Data;
    /// What the task answers.
    type Out: Data;
    fn run(state: Self::State, tc: &TaskContext, input: Partition<T>) -> Result<Self::Out>;
}

/// Writes the result task of action `A` over partition `part` of `node`.
pub(crate) fn encode_result<T: 'static, A: Action<T>>(
    node: &dyn Node<T>,
    part: usize,
    state: &A::State,
    e: &mut Enc,
) -> Result<()> {
    e.entry(decode_result::<T, A>)?;
    e.put(state)?;
    node.encode(part, e)
}

struct ResultTask<T, A: Action<T>> {
    state: A::State,
    input: Box<dyn Compute<T>>,
}

fn decode_result<T: 'static, A: Action<T>>(d: &mut Dec<'_>) -> Result<Box<dyn Any>> {
    let state: A::State = d.get()?;
    let input = d.build::<Box<dyn Compute<T>>>()?;
    boxed_task(ResultTask::<T, A> { state, input })
}

impl<T: 'static, A: Action<T>> TaskRun for ResultTask<T, A> {
    fn run(self: Box<Self>, tc: &TaskContext) -> Result<Vec<u8>> {
        let input = self.input.run(tc)?;
        let out = A::run(self.state, tc, input)?;
        // An input that failed half-way must not answer as if it had ended.
        if let Some(e) = tc.take_error() {
            return Err(e);
        }
        postcard::to_allocvec(&out).map_err(|e| Error::Codec {
            op: "serialize a task's result",
            message: e.to_string(),
        })
    }
}

pub(crate) struct Collect;
impl<T: Data> Action<T> for Collect {
    type State = ();
    type Out = Vec<T>;
    fn run(_: (), _: &TaskContext, input: Partition<T>) -> Result<Vec<T>> {
        Ok(input.collect())
    }
}

pub(crate) struct Count;
impl<T: 'static> Action<T> for Count {
    type State = ();
    type Out = u64;
    fn run(_: (), _: &TaskContext, input: Partition<T>) -> Result<u64> {
        Ok(input.count() as u64)
    }
}

pub(crate) struct Take;
impl<T: Data> Action<T> for Take {
    type State = usize;
    type Out = Vec<T>;
    fn run(n: usize, _: &TaskContext, input: Partition<T>) -> Result<Vec<T>> {
        Ok(input.take(n).collect())
    }
}

pub(crate) struct Reduce<F>(PhantomData<F>);
impl<T: Data, F: Fn(T, T) -> T + Shippable> Action<T> for Reduce<F> {
    type State = ();
    type Out = Option<T>;
    fn run(_: (), _: &TaskContext, input: Partition<T>) -> Result<Option<T>> {
        Ok(input.reduce(conjure::<F>()))
    }
}

pub(crate) struct Fold<F>(PhantomData<F>);
impl<T: Data, F: Fn(T, T) -> T + Shippable> Action<T> for Fold<F> {
    type State = T;
    type Out = T;
    fn run(zero: T, _: &TaskContext, input: Partition<T>) -> Result<T> {
        Ok(input.fold(zero, conjure::<F>()))
    }
}

pub(crate) struct Foreach<C, F>(PhantomData<(C, F)>);
impl<T: 'static, C: Data, F: Fn(&C, T) + Shippable> Action<T> for Foreach<C, F> {
    type State = C;
    type Out = ();
    fn run(cap: C, _: &TaskContext, input: Partition<T>) -> Result<()> {
        let f = conjure::<F>();
        input.for_each(|x| f(&cap, x));
        Ok(())
    }
}

/// A reservoir sample of up to `n` records and how many there were (for range bounds).
pub(crate) struct Sample;
impl<T: Data> Action<T> for Sample {
    type State = (usize, u64);
    type Out = (u64, Vec<T>);
    fn run(
        (n, seed): (usize, u64),
        tc: &TaskContext,
        input: Partition<T>,
    ) -> Result<(u64, Vec<T>)> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ tc.partition() as u64);
        let mut sample = Vec::with_capacity(n);
        let mut seen = 0u64;
        for x in input {
            seen += 1;
            if sample.len() < n {
                sample.push(x);
            } else {
                let j = rng.random_range(0..seen);
                if (j as usize) < n {
                    sample[j as usize] = x;
                }
            }
        }
        Ok((seen, sample))
    }
}

/// Lines gathered before a write to the output file.
const WRITE_BUFFER: usize = 4 * 1024 * 1024;

/// `save_as_text_file`: writes the partition's lines to the attempt's own file under
/// `<dir>/_temporary/`; answers that file's path for the driver to commit.
pub(crate) struct SaveText;
impl<T: Display + 'static> Action<T> for SaveText {
    type State = (String, u32);
    type Out = String;
    fn run((dir, job): (String, u32), tc: &TaskContext, input: Partition<T>) -> Result<String> {
        use std::io::Write;
        let path = format!(
            "{}/_temporary/{job}/attempt_{}_{}/part-{:05}",
            dir.trim_end_matches('/'),
            tc.partition(),
            tc.attempt(),
            tc.partition()
        );
        let env = tc.env();
        let fs = env.fs(&path)?;
        let mut out = env.runtime.block_on(fs.create(&path))?;
        let mut buf = Vec::with_capacity(WRITE_BUFFER);
        for x in input {
            writeln!(buf, "{x}").map_err(|e| Error::io("format a line for", &path, e))?;
            if buf.len() >= WRITE_BUFFER {
                let chunk = Bytes::from(std::mem::replace(
                    &mut buf,
                    Vec::with_capacity(WRITE_BUFFER),
                ));
                env.runtime.block_on(out.write(chunk))?;
            }
        }
        if let Some(e) = tc.take_error() {
            env.runtime.block_on(out.abort());
            return Err(e);
        }
        if !buf.is_empty() {
            env.runtime.block_on(out.write(Bytes::from(buf)))?;
        }
        env.runtime.block_on(out.close())?;
        Ok(path)
    }
}
