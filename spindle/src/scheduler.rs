//! The DAG scheduler: turns an action into a job of stages cut at shuffle boundaries,
//! runs the map stages a job needs whose outputs do not exist yet (a later job reuses
//! the shuffle outputs of an earlier one), then the result stage; and the local backend
//! that runs a stage's tasks on this machine's cores.
//!
//! Which executor runs which task, retries and locality are the backend's business: the
//! scheduler hands it a stage's tasks as bytes and gets their answers back.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::env::TaskEnv;
use crate::error::{Error, Result};
use crate::plan::{AnyNode, Dep, Node};
use crate::ship::Fingerprint;
use crate::shuffle::{MapOutputs, MapStatus, ShuffleDep};
use crate::task::{Action, Origin, encode_result, run_task, task_header};

/// One task as the backend sees it.
pub(crate) struct TaskSpec {
    pub partition: usize,
    pub bytes: Vec<u8>,
    /// Hosts holding the task's input, best first.
    pub prefs: Vec<String>,
    /// Bytes the task reads, when known (input splits, shuffle blocks).
    pub input_bytes: Option<u64>,
}

/// A stage's tasks, ready to run.
pub(crate) struct StageTasks {
    pub id: u32,
    /// The job it belongs to, as the backend numbered it.
    pub job: u32,
    pub name: String,
    pub tasks: Vec<TaskSpec>,
    /// Stop with [`Error::ResultTooLarge`] once the answers pass this many bytes.
    pub result_limit: Option<u64>,
}

/// Runs stages.
pub(crate) trait Backend: Send + Sync {
    /// Every task of `stage`; the answers in task order, or the first failure.
    fn run_stage(&self, stage: &StageTasks) -> Result<Vec<Vec<u8>>>;
    /// A job (an action) starts: its number, for the stages it runs.
    fn begin_job(&self, _name: &str) -> u32 {
        0
    }
    /// A job ended.
    fn end_job(&self, _job: u32, _result: std::result::Result<(), &str>) {}
    /// A job starts writing the output directory `path`: a killed application deletes
    /// it.
    fn output_started(&self, _path: &str) {}
    /// The job writing `path` committed it, or deleted it after failing.
    fn output_done(&self, _path: &str) {}
    /// The executors lost so far (their map outputs are gone with them).
    fn lost_executors(&self) -> HashSet<String> {
        HashSet::new()
    }
}

/// How many times in a row a job's stages run again after executors were lost with map
/// outputs they need (Spark's `spark.stage.maxConsecutiveAttempts`).
const MAX_STAGE_ATTEMPTS: u32 = 4;

/// Plans and runs jobs.
pub(crate) struct DagScheduler {
    outputs: Arc<MapOutputs>,
    backend: Box<dyn Backend>,
    fingerprint: Fingerprint,
    next_stage: AtomicU32,
    next_job: AtomicU32,
    max_result_size: u64,
    /// What the application calls its next jobs.
    description: Mutex<Option<String>>,
}

impl DagScheduler {
    pub(crate) fn new(
        outputs: Arc<MapOutputs>,
        backend: Box<dyn Backend>,
        fingerprint: Fingerprint,
        max_result_size: u64,
    ) -> Self {
        DagScheduler {
            outputs,
            backend,
            fingerprint,
            next_stage: AtomicU32::new(0),
            next_job: AtomicU32::new(0),
            max_result_size,
            description: Mutex::new(None),
        }
    }

    pub(crate) fn set_description(&self, description: Option<&str>) {
        *self
            .description
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = description.map(str::to_string);
    }

    pub(crate) fn output_started(&self, path: &str) {
        self.backend.output_started(path);
    }

    pub(crate) fn output_done(&self, path: &str) {
        self.backend.output_done(path);
    }

    pub(crate) fn new_job_id(&self) -> u32 {
        self.next_job.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs action `A` over `parts` of `node`: first every missing shuffle output it
    /// depends on, in dependency order, then one result task per partition.
    pub(crate) fn run_job<T: 'static, A: Action<T>>(
        &self,
        node: &Arc<dyn Node<T>>,
        parts: &[usize],
        state: &A::State,
        action: &str,
    ) -> Result<Vec<A::Out>> {
        let started = Instant::now();
        let name = self
            .description
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| format!("{action} of {}", node.meta().name));
        let job = self.backend.begin_job(&name);
        let result = self.run_job_stages::<T, A>(job, node, parts, state, action);
        match &result {
            Ok(_) => self.backend.end_job(job, Ok(())),
            Err(e) => self.backend.end_job(job, Err(&e.to_string())),
        }
        tracing::info!(
            job,
            action,
            ok = result.is_ok(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "job done"
        );
        result
    }

    /// Runs the job's stages; when a stage fails after executors were lost with map
    /// outputs the job needs (a reduce task could not fetch them), runs the lost map
    /// tasks again and then the stage, up to [`MAX_STAGE_ATTEMPTS`] times.
    fn run_job_stages<T: 'static, A: Action<T>>(
        &self,
        job: u32,
        node: &Arc<dyn Node<T>>,
        parts: &[usize],
        state: &A::State,
        action: &str,
    ) -> Result<Vec<A::Out>> {
        let mut attempt = 1;
        loop {
            match self.try_job_stages::<T, A>(job, node, parts, state, action) {
                Err(e @ Error::Stage { .. }) if attempt < MAX_STAGE_ATTEMPTS => {
                    if self.forget_lost() == 0 {
                        return Err(e);
                    }
                    tracing::warn!(
                        job,
                        attempt,
                        "{e}; its input was on a lost executor: running again"
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Forgets the map outputs of executors the backend has lost; answers how many.
    fn forget_lost(&self) -> usize {
        let lost = self.backend.lost_executors();
        let n = self.outputs.forget(&lost);
        if n > 0 {
            tracing::warn!(
                outputs = n,
                executors = lost.len(),
                "map outputs were lost with their executors; their tasks will run again"
            );
        }
        n
    }

    fn try_job_stages<T: 'static, A: Action<T>>(
        &self,
        job: u32,
        node: &Arc<dyn Node<T>>,
        parts: &[usize],
        state: &A::State,
        action: &str,
    ) -> Result<Vec<A::Out>> {
        let order = shuffle_order(node.clone());
        let mut round = 1;
        loop {
            self.forget_lost();
            for dep in &order {
                self.run_map_stage(job, dep.as_ref())?;
            }
            // An executor lost during these stages took the outputs it had written.
            if order.is_empty() || self.forget_lost() == 0 {
                break;
            }
            if round >= MAX_STAGE_ATTEMPTS {
                return Err(Error::Stage {
                    what: format!("the shuffles of job {job}"),
                    message: format!(
                        "executors were lost with their map outputs {round} times in a row"
                    ),
                });
            }
            round += 1;
        }
        let stage = self.next_stage.fetch_add(1, Ordering::Relaxed);
        let mut tasks = Vec::with_capacity(parts.len());
        for &p in parts {
            let mut e = task_header(&self.fingerprint)?;
            encode_result::<T, A>(node.as_ref(), p, state, &mut e)?;
            tasks.push(TaskSpec {
                partition: p,
                bytes: e.finish(),
                prefs: node.prefs(p),
                input_bytes: node.input_bytes(p),
            });
        }
        let stage_tasks = StageTasks {
            id: stage,
            job,
            name: format!("{action} of {}", node.meta().name),
            tasks,
            result_limit: Some(self.max_result_size),
        };
        let answers = self.backend.run_stage(&stage_tasks).map_err(|e| match e {
            Error::ResultTooLarge { size, limit, .. } => Error::ResultTooLarge {
                action: stage_tasks.name.clone(),
                size,
                limit,
            },
            other => other,
        })?;
        answers
            .iter()
            .map(|a| {
                postcard::from_bytes::<A::Out>(a).map_err(|e| Error::Codec {
                    op: "decode a task's result",
                    message: e.to_string(),
                })
            })
            .collect()
    }

    fn run_map_stage(&self, job: u32, dep: &dyn ShuffleDep) -> Result<()> {
        let parent = dep.parent();
        let missing = self.outputs.missing(dep.id(), parent.meta().partitions);
        if missing.is_empty() {
            return Ok(());
        }
        let stage = self.next_stage.fetch_add(1, Ordering::Relaxed);
        let mut tasks = Vec::with_capacity(missing.len());
        for &m in &missing {
            let mut e = task_header(&self.fingerprint)?;
            dep.encode_map_task(m, &mut e)?;
            tasks.push(TaskSpec {
                partition: m,
                bytes: e.finish(),
                prefs: parent.prefs(m),
                input_bytes: parent.input_bytes(m),
            });
        }
        let stage_tasks = StageTasks {
            id: stage,
            job,
            name: format!("shuffle {} of {}", dep.id(), parent.meta().name),
            tasks,
            result_limit: None,
        };
        let answers = self.backend.run_stage(&stage_tasks)?;
        for (m, a) in missing.into_iter().zip(answers) {
            let status: MapStatus = postcard::from_bytes(&a).map_err(|e| Error::Codec {
                op: "decode a map status",
                message: e.to_string(),
            })?;
            self.outputs.set(dep.id(), m, status);
        }
        Ok(())
    }
}

/// The shuffles `node` depends on, each after the shuffles it depends on itself.
fn shuffle_order(node: Arc<dyn AnyNode>) -> Vec<Arc<dyn ShuffleDep>> {
    fn visit(
        node: &Arc<dyn AnyNode>,
        seen_nodes: &mut HashSet<u64>,
        seen_shuffles: &mut HashSet<u32>,
        out: &mut Vec<Arc<dyn ShuffleDep>>,
    ) {
        if !seen_nodes.insert(node.meta().id) {
            return;
        }
        for dep in node.deps() {
            match dep {
                Dep::Narrow(parent) => visit(&parent, seen_nodes, seen_shuffles, out),
                Dep::Shuffle(s) => {
                    if seen_shuffles.insert(s.id()) {
                        visit(&s.parent(), seen_nodes, seen_shuffles, out);
                        out.push(s);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    visit(&node, &mut HashSet::new(), &mut HashSet::new(), &mut out);
    out
}

/// Runs tasks on this machine: `cores` threads take a stage's tasks in turn.
pub(crate) struct LocalBackend {
    pub cores: usize,
    pub env: Arc<TaskEnv>,
    attempts: AtomicU64,
}

impl LocalBackend {
    pub(crate) fn new(cores: usize, env: Arc<TaskEnv>) -> Self {
        LocalBackend {
            cores: cores.max(1),
            env,
            attempts: AtomicU64::new(0),
        }
    }
}

impl Backend for LocalBackend {
    fn run_stage(&self, stage: &StageTasks) -> Result<Vec<Vec<u8>>> {
        let queue: Mutex<VecDeque<usize>> = Mutex::new((0..stage.tasks.len()).collect());
        let answers: Mutex<Vec<Option<Vec<u8>>>> = Mutex::new(vec![None; stage.tasks.len()]);
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let result_bytes = AtomicU64::new(0);
        let lock = |m: &Mutex<VecDeque<usize>>| {
            m.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
        };
        let fail = |e: Error| {
            stop.store(true, Ordering::SeqCst);
            failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(e);
        };
        std::thread::scope(|s| {
            for _ in 0..self.cores.min(stage.tasks.len()) {
                s.spawn(|| {
                    while !stop.load(Ordering::SeqCst) {
                        let Some(i) = lock(&queue) else { break };
                        let task = &stage.tasks[i];
                        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed) as u32;
                        match run_task(
                            &task.bytes,
                            Origin::ThisProcess,
                            self.env.clone(),
                            stage.id,
                            task.partition,
                            attempt,
                        ) {
                            Ok(done) => {
                                let answer = done.result;
                                let total = result_bytes
                                    .fetch_add(answer.len() as u64, Ordering::SeqCst)
                                    + answer.len() as u64;
                                if let Some(limit) = stage.result_limit.filter(|&l| total > l) {
                                    fail(Error::ResultTooLarge {
                                        action: stage.name.clone(),
                                        size: total,
                                        limit,
                                    });
                                    break;
                                }
                                answers.lock().unwrap_or_else(PoisonError::into_inner)[i] =
                                    Some(answer);
                            }
                            Err(e) => fail(Error::Task {
                                stage: stage.id,
                                partition: task.partition,
                                what: stage.name.clone(),
                                message: e.to_string(),
                            }),
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(e);
        }
        answers
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                a.ok_or_else(|| {
                    Error::Internal(format!("task {i} of {} gave no answer", stage.name))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Config, Context, Master};
    use crate::env::LocalBlocks;

    fn task_env(rt: &tokio::runtime::Runtime, scratch: &std::path::Path, id: &str) -> Arc<TaskEnv> {
        Arc::new(TaskEnv {
            runtime: rt.handle().clone(),
            fs: spindle_core::fs::FsCache::new(Default::default(), "test".into()),
            scratch: scratch.to_path_buf(),
            task_memory: 1 << 20,
            blocks: Arc::new(LocalBlocks),
            location: String::new(),
            executor: id.to_string(),
        })
    }

    /// Runs map stages on "executor" `e1` until it is declared lost, then everything on
    /// `e2`; `fail_result` makes the first result stage after the loss fail as a reduce
    /// task that cannot fetch from `e1` would.
    struct LosingBackend {
        e1: LocalBackend,
        e2: LocalBackend,
        lose_after_map_stages: u32,
        fail_result: bool,
        map_stages: AtomicU32,
        result_stages: AtomicU32,
        lost: AtomicBool,
    }

    impl Backend for LosingBackend {
        fn run_stage(&self, stage: &StageTasks) -> Result<Vec<Vec<u8>>> {
            if stage.name.starts_with("shuffle") {
                let n = self.map_stages.fetch_add(1, Ordering::SeqCst) + 1;
                if self.lost.load(Ordering::SeqCst) {
                    return self.e2.run_stage(stage);
                }
                let answers = self.e1.run_stage(stage);
                if n >= self.lose_after_map_stages {
                    self.lost.store(true, Ordering::SeqCst);
                }
                return answers;
            }
            let n = self.result_stages.fetch_add(1, Ordering::SeqCst);
            if self.fail_result && n == 0 {
                self.lost.store(true, Ordering::SeqCst);
                return Err(Error::Stage {
                    what: stage.name.clone(),
                    message: "cannot fetch a block from e1".into(),
                });
            }
            self.e2.run_stage(stage)
        }

        fn lost_executors(&self) -> HashSet<String> {
            if self.lost.load(Ordering::SeqCst) {
                HashSet::from(["e1".to_string()])
            } else {
                HashSet::new()
            }
        }
    }

    fn run(lose_after_map_stages: u32, fail_result: bool) -> (Vec<(u32, u64)>, u32, u32) {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = Arc::new(tokio::runtime::Runtime::new().expect("runtime"));
        let env = |id: &str| task_env(&rt, dir.path(), id);
        let backend = Arc::new(LosingBackend {
            e1: LocalBackend::new(2, env("e1")),
            e2: LocalBackend::new(2, env("e2")),
            lose_after_map_stages,
            fail_result,
            map_stages: AtomicU32::new(0),
            result_stages: AtomicU32::new(0),
            lost: AtomicBool::new(false),
        });
        let mut config = Config::from_env().expect("config");
        config.master = Master::Local(2);
        struct Shared(Arc<LosingBackend>);
        impl Backend for Shared {
            fn run_stage(&self, stage: &StageTasks) -> Result<Vec<Vec<u8>>> {
                self.0.run_stage(stage)
            }
            fn lost_executors(&self) -> HashSet<String> {
                self.0.lost_executors()
            }
        }
        let sc = Context::assemble(
            config,
            rt.clone(),
            env(""),
            Box::new(Shared(backend.clone())),
            [0; 32],
            None,
        )
        .expect("context");
        let mut got = sc
            .parallelize((0..1000u32).collect(), 4)
            .expect("parallelize")
            .map(|i| (i % 10, 1u64))
            .reduce_by_key(|a, b| a + b, Some(3))
            .collect()
            .expect("collect");
        got.sort();
        (
            got,
            backend.map_stages.load(Ordering::SeqCst),
            backend.result_stages.load(Ordering::SeqCst),
        )
    }

    #[test]
    fn map_outputs_lost_with_an_executor_are_computed_again() {
        let want: Vec<(u32, u64)> = (0..10).map(|k| (k, 100)).collect();
        // Lost right after the map stage: its outputs run again before the reduce.
        assert_eq!(run(1, false), (want.clone(), 2, 1));
        // Lost during the reduce stage, which fails: map stage and reduce stage again.
        assert_eq!(run(u32::MAX, true), (want, 2, 2));
    }
}
