//! The application's handle on Spindle ([`Context`], Spark's `SparkContext`): sources of
//! datasets, the scheduler that runs their actions, and the settings they run with; and
//! [`main`], the entry point an application's `main` hands control to.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spindle_conf::HadoopConf;
use spindle_conf::spindle::MemorySize;
use spindle_core::fs::FsCache;
use spindle_core::split::plan_splits;

use crate::dataset::Dataset;
use crate::env::{LocalBlocks, TaskEnv};
use crate::error::{Error, Result};
use crate::ops::{Data, ParallelNode, TextNode};
use crate::plan::{Meta, Node};
use crate::scheduler::{Backend, DagScheduler, LocalBackend};
use crate::ship::Fingerprint;
use crate::shuffle::MapOutputs;

/// Where an application's tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Master {
    /// In this process, on this many threads (`local`, `local[N]`, `local[*]`).
    Local(usize),
}

impl Master {
    /// `local` (one thread), `local[N]`, or `local[*]` (every core).
    pub fn parse(s: &str) -> Result<Master> {
        let bad = || Error::invalid("master", format!("{s:?}: want local, local[N] or local[*]"));
        if s == "local" {
            return Ok(Master::Local(1));
        }
        let inner = s
            .strip_prefix("local[")
            .and_then(|r| r.strip_suffix(']'))
            .ok_or_else(bad)?;
        if inner == "*" {
            return Ok(Master::Local(cores()));
        }
        match inner.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Master::Local(n)),
            _ => Err(bad()),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How an application runs. Defaults < `SPINDLE_*` environment variables < what the
/// application sets in code ([`Config::from_env`], then change fields).
#[derive(Debug, Clone)]
pub struct Config {
    /// `SPINDLE_MASTER`: where tasks run (default `local[*]`).
    pub master: Master,
    /// `SPINDLE_TASK_MEMORY`: what one task may buffer (shuffle, aggregation, sort)
    /// before it spills to disk (default 128m).
    pub task_memory: u64,
    /// `SPINDLE_DRIVER_MAX_RESULT_SIZE`: the most bytes `collect`/`take` bring to the
    /// driver (default 1g, Spark's `spark.driver.maxResultSize`).
    pub max_result_size: u64,
    /// `SPINDLE_DEFAULT_PARALLELISM`: partitions of `parallelize` and of shuffles that
    /// are not told (default: the number of task threads).
    pub default_parallelism: usize,
    /// `SPINDLE_MAX_SPLIT_SIZE`: the largest input split of `text_file` (default 128m;
    /// HDFS blocks cut splits too).
    pub max_split_size: u64,
    /// `SPINDLE_LOCAL_DIR`: where spills and shuffle files go (default: the system's
    /// temporary directory).
    pub local_dir: Option<PathBuf>,
    /// `HADOOP_USER_NAME` (else `USER`): who reads and writes HDFS.
    pub user: String,
}

const MIB: u64 = 1024 * 1024;

fn size_var(var: &str, default: u64) -> Result<u64> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => v
            .parse::<MemorySize>()
            .map(|m| m.mib() * MIB)
            .map_err(|e| Error::invalid(var, e)),
    }
}

impl Config {
    /// Built-in defaults, then `SPINDLE_*` environment variables.
    pub fn from_env() -> Result<Config> {
        let master = match std::env::var("SPINDLE_MASTER") {
            Ok(m) => Master::parse(&m)?,
            Err(_) => Master::Local(cores()),
        };
        let Master::Local(threads) = master;
        let default_parallelism = match std::env::var("SPINDLE_DEFAULT_PARALLELISM") {
            Err(_) => threads,
            Ok(v) => v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                Error::invalid(
                    "SPINDLE_DEFAULT_PARALLELISM",
                    format!("{v:?} is not a positive number"),
                )
            })?,
        };
        Ok(Config {
            master,
            task_memory: size_var("SPINDLE_TASK_MEMORY", 128 * MIB)?,
            max_result_size: size_var("SPINDLE_DRIVER_MAX_RESULT_SIZE", 1024 * MIB)?,
            default_parallelism,
            max_split_size: size_var("SPINDLE_MAX_SPLIT_SIZE", 128 * MIB)?,
            local_dir: std::env::var_os("SPINDLE_LOCAL_DIR").map(PathBuf::from),
            user: std::env::var("HADOOP_USER_NAME")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "spindle".into()),
        })
    }
}

/// An application's connection to Spindle: makes datasets and runs their actions.
/// Cheap to clone; every clone is the same application.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub scheduler: DagScheduler,
    pub outputs: Arc<MapOutputs>,
    pub env: Arc<TaskEnv>,
    next_node: AtomicU64,
    next_shuffle: AtomicU32,
    // Dropped last: the scratch directory outlives every task, and the runtime every
    // file-system client.
    _scratch: Option<tempfile::TempDir>,
    _runtime: Arc<tokio::runtime::Runtime>,
}

impl Context {
    /// A context with the settings of [`Config::from_env`].
    pub fn new() -> Result<Context> {
        Context::with_config(Config::from_env()?)
    }

    /// A local-mode context with these settings.
    pub fn with_config(config: Config) -> Result<Context> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("spindle-io")
            .enable_all()
            .build()
            .map(Arc::new)
            .map_err(|e| Error::io("start", "the I/O runtime", e))?;
        let base = config.local_dir.clone().unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&base)
            .map_err(|e| Error::io("create the local dir", base.display(), e))?;
        let scratch = tempfile::Builder::new()
            .prefix("spindle-")
            .tempdir_in(&base)
            .map_err(|e| Error::io("create a scratch dir in", base.display(), e))?;
        // Local mode needs no Hadoop: without HADOOP_CONF_DIR (or HADOOP_HOME), bare paths
        // are local files, as in Spark's local mode. A directory that is named but
        // broken is an error, never a silent fallback.
        let hadoop = match HadoopConf::from_env() {
            Ok(conf) => conf,
            Err(spindle_conf::ConfError::NoConfDir) => HadoopConf::default(),
            Err(e) => return Err(Error::invalid("HADOOP_CONF_DIR", e.to_string())),
        };
        let env = Arc::new(TaskEnv {
            runtime: runtime.handle().clone(),
            fs: FsCache::new(hadoop, config.user.clone()),
            scratch: scratch.path().to_path_buf(),
            task_memory: usize::try_from(config.task_memory).unwrap_or(usize::MAX),
            blocks: Arc::new(LocalBlocks),
            location: String::new(),
            executor: String::new(),
        });
        let Master::Local(threads) = config.master;
        let backend = LocalBackend::new(threads, env.clone());
        // Local mode runs tasks in this process: the fingerprint is never checked, so
        // the executable is not hashed for it.
        Context::assemble(
            config,
            runtime,
            env,
            Box::new(backend),
            [0; 32],
            Some(scratch),
        )
    }

    /// A context over any backend (local threads, or YARN's executors).
    pub(crate) fn assemble(
        config: Config,
        runtime: Arc<tokio::runtime::Runtime>,
        env: Arc<TaskEnv>,
        backend: Box<dyn Backend>,
        fingerprint: Fingerprint,
        scratch: Option<tempfile::TempDir>,
    ) -> Result<Context> {
        let outputs = Arc::new(MapOutputs::default());
        let scheduler = DagScheduler::new(
            outputs.clone(),
            backend,
            fingerprint,
            config.max_result_size,
        );
        Ok(Context {
            inner: Arc::new(Inner {
                config,
                scheduler,
                outputs,
                env,
                next_node: AtomicU64::new(0),
                next_shuffle: AtomicU32::new(0),
                _scratch: scratch,
                _runtime: runtime,
            }),
        })
    }

    /// The settings this application runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Names the jobs that the next actions run, in the web UI and the history (Spark's
    /// `setJobDescription`); `None` goes back to the default, the action and its
    /// dataset (`count of map`).
    pub fn set_job_description(&self, description: Option<&str>) {
        self.inner.scheduler.set_description(description);
    }

    pub(crate) fn meta(
        &self,
        partitions: usize,
        what: &str,
        at: &std::panic::Location<'_>,
    ) -> Meta {
        Meta {
            id: self.inner.next_node.fetch_add(1, Ordering::Relaxed),
            partitions,
            name: format!("{what} at {}:{}", at.file(), at.line()),
        }
    }

    pub(crate) fn new_shuffle_id(&self) -> u32 {
        self.inner.next_shuffle.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn dataset<T: Data>(&self, node: Arc<dyn Node<T>>) -> Dataset<T> {
        Dataset::from_node(self.clone(), node)
    }

    /// A dataset of `data`, cut into `partitions` slices (default: the default parallelism).
    #[track_caller]
    pub fn parallelize<T: Data>(
        &self,
        data: Vec<T>,
        partitions: impl Into<Option<usize>>,
    ) -> Result<Dataset<T>> {
        let at = std::panic::Location::caller();
        let n = partitions
            .into()
            .unwrap_or(self.inner.config.default_parallelism)
            .max(1);
        let node = ParallelNode::new(self.meta(n, "parallelize", at), data)?;
        Ok(self.dataset(Arc::new(node)))
    }

    /// The lines of a file, of every file under a directory (skipping names that start
    /// with `_` or `.`), or of every file a glob matches: on HDFS (`hdfs://…`, or a bare
    /// path when `fs.defaultFS` is HDFS) or local (`file://…`). A partition per split,
    /// cut at block boundaries; lines follow Hadoop's `LineRecordReader`.
    #[track_caller]
    pub fn text_file(&self, path: &str) -> Result<Dataset<String>> {
        let at = std::panic::Location::caller();
        let env = &self.inner.env;
        let fs = env.fs(path)?;
        let files = env.runtime.block_on(async {
            let listed = fs.list_inputs(path).await?;
            let mut with_blocks = Vec::with_capacity(listed.len());
            for f in listed {
                let blocks = fs.blocks(&f).await?;
                with_blocks.push((f, blocks));
            }
            Ok::<_, spindle_core::error::CoreError>(with_blocks)
        })?;
        let splits = plan_splits(&files, self.inner.config.max_split_size);
        let node = TextNode::new(
            self.meta(splits.len(), &format!("text_file({path})"), at),
            splits,
        );
        Ok(self.dataset(Arc::new(node)))
    }
}

/// Runs an application: the first and only call in its `main`.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     spindle::main(|sc| {
///         let n = sc.parallelize((1..=100).collect::<Vec<u64>>(), None)?.count()?;
///         println!("{n}");
///         Ok::<(), spindle::Error>(())
///     })
/// }
/// ```
///
/// Everything the application does happens inside `app`, in the driver. (On a cluster
/// the same executable also starts every executor; there `main` calls this too, and it
/// runs the executor instead of `app`: anything before this call would run in every
/// process, so make it the first call.) An error from `app` is printed and the process
/// exits with 1.
pub fn main<F, E>(app: F) -> ExitCode
where
    F: FnOnce(&Context) -> std::result::Result<(), E>,
    E: std::fmt::Display,
{
    match crate::cluster::Role::from_env() {
        Ok(crate::cluster::Role::Driver) => return crate::cluster::run_driver(app),
        Ok(crate::cluster::Role::Executor) => return crate::cluster::run_executor(),
        Ok(crate::cluster::Role::Local) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let sc = match Context::new() {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match app(&sc) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
