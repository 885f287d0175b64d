//! The same binary in its three roles. `spindle submit` starts it in the AM container
//! with `SPINDLE_ROLE=driver`: [`run_driver`] registers with YARN, runs the
//! application's closure with a context whose stages go to executors, and unregisters
//! with the outcome. The AM starts it in executor containers with
//! `SPINDLE_ROLE=executor`: [`run_executor`] serves the driver's tasks and its own map
//! outputs until told to stop; the application's closure never runs there. Without
//! `SPINDLE_ROLE` the application runs in local mode.
//!
//! Small jobs stay inside the AM (MapReduce's uber mode): until a stage reads more than
//! `spindle.uber.max-input`, its tasks run on an executor inside the AM's own process
//! and no container is asked for.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use spindle_conf::HadoopConf;
use spindle_core::driver::{Driver, StageTask, TaskInput};
use spindle_core::fs::FsCache;
use spindle_executor::{ExecutorConfig, ExitReason, TaskOutput, TaskRequest, TaskRunner};
use spindle_yarn_am::{AppMaster, AppSettings};

use crate::context::{Config, Context};
use crate::env::TaskEnv;
use crate::error::{Error, Result};
use crate::net::{RemoteBlocks, serve};
use crate::scheduler::{Backend, StageTasks};
use crate::task::{Origin, run_task};

/// What this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Local,
    Driver,
    Executor,
}

impl Role {
    pub(crate) fn from_env() -> Result<Role> {
        match std::env::var("SPINDLE_ROLE").ok().as_deref() {
            None | Some("") => Ok(Role::Local),
            Some("driver") => Ok(Role::Driver),
            Some("executor") => Ok(Role::Executor),
            Some(other) => Err(Error::invalid(
                "SPINDLE_ROLE",
                format!("{other:?}: want driver or executor"),
            )),
        }
    }
}

const MIB: u64 = 1024 * 1024;
/// What an executor keeps for itself (code, I/O buffers, connections) before tasks.
const EXECUTOR_OVERHEAD: u64 = 96 * MIB;
/// The share of the rest that tasks may buffer before spilling (the rest covers what
/// the size estimates miss: allocator slack, deserialized objects' headers).
const TASK_SHARE: f64 = 0.4;

fn logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

fn runtime() -> Result<Arc<tokio::runtime::Runtime>> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("spindle-io")
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| Error::io("start", "the I/O runtime", e))
}

/// A scratch directory in YARN's local dirs for this container (`LOCAL_DIRS`), else
/// the system's temporary directory.
fn container_scratch() -> Result<tempfile::TempDir> {
    let base = std::env::var("LOCAL_DIRS")
        .ok()
        .and_then(|dirs| dirs.split(',').find(|d| !d.is_empty()).map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("spindle-")
        .tempdir_in(&base)
        .map_err(|e| Error::io("create a scratch dir in", base.display(), e))
}

async fn resolve(host: &str) -> Result<IpAddr> {
    tokio::net::lookup_host((host, 0))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| Error::invalid("host", format!("cannot resolve {host}")))
}

/// Runs the driver's tasks in this process (an executor container, or inside the AM).
struct Runner {
    env: Arc<TaskEnv>,
    /// `Driver` in an executor container; `ThisProcess` for the executor inside the
    /// AM, whose tasks come from the driver beside it.
    origin: Origin,
}

impl TaskRunner for Runner {
    fn run(&self, task: TaskRequest) -> std::result::Result<TaskOutput, String> {
        run_task(
            &task.payload,
            self.origin,
            self.env.clone(),
            task.stage_id,
            task.partition as usize,
            task.attempt,
        )
        .map(|done| TaskOutput {
            result: done.result,
            input_bytes: done.input_bytes,
            ..TaskOutput::default()
        })
        .map_err(|e| e.to_string())
    }
}

/// Starts the shuffle server over `scratch` and the task environment around it.
async fn task_env(
    handle: tokio::runtime::Handle,
    config: &ExecutorConfig,
    scratch: PathBuf,
    task_memory: u64,
) -> Result<Arc<TaskEnv>> {
    let ip = resolve(&config.host).await?;
    let addr = serve(
        SocketAddr::new(ip, 0),
        config.secret.clone(),
        scratch.clone(),
    )
    .await?;
    let location = addr.to_string();
    Ok(Arc::new(TaskEnv {
        runtime: handle,
        fs: FsCache::new(config.fs_conf(), config.user.clone()),
        scratch,
        task_memory: usize::try_from(task_memory).unwrap_or(usize::MAX),
        blocks: Arc::new(RemoteBlocks::new(config.secret.clone(), location.clone())),
        location,
        executor: config.executor_id.clone(),
    }))
}

/// The executor role: serve the driver until it says stop.
pub(crate) fn run_executor() -> ExitCode {
    logging();
    match executor() {
        Ok(ExitReason::Shutdown { .. }) => ExitCode::SUCCESS,
        Ok(ExitReason::DriverGone { detail }) => {
            tracing::error!("the driver went away: {detail}");
            ExitCode::from(2)
        }
        Err(e) => {
            tracing::error!("executor failed: {e}");
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn executor() -> Result<ExitReason> {
    let var = |k: &'static str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid(k, "not set (executors are started by Spindle's AM)"))
    };
    let number = |k: &'static str| -> Result<u64> {
        let v = var(k)?;
        v.parse()
            .map_err(|_| Error::invalid(k, format!("{v:?} is not a number")))
    };
    let cores = u32::try_from(number("SPINDLE_EXECUTOR_CORES")?)
        .map_err(|_| Error::invalid("SPINDLE_EXECUTOR_CORES", "too large"))?;
    let memory_mb = number("SPINDLE_EXECUTOR_MEMORY_MB")?;
    let config = ExecutorConfig::from_container_env(
        var("SPINDLE_DRIVER")?,
        var("SPINDLE_EXECUTOR_ID")?,
        cores,
        memory_mb * MIB,
    )
    .map_err(|e| Error::invalid("the executor's environment", e.to_string()))?;
    // Hash our own executable while we connect: every task is checked against it.
    let fingerprint = std::thread::spawn(crate::ship::fingerprint);
    let task_memory = match std::env::var("SPINDLE_TASK_MEMORY") {
        Ok(_) => Config::from_env()?.task_memory,
        Err(_) => {
            let usable = (memory_mb * MIB)
                .saturating_sub(EXECUTOR_OVERHEAD)
                .max(32 * MIB);
            (usable as f64 * TASK_SHARE) as u64 / u64::from(cores.max(1))
        }
    };
    let rt = runtime()?;
    let scratch = container_scratch()?;
    let env = rt.block_on(task_env(
        rt.handle().clone(),
        &config,
        scratch.path().to_path_buf(),
        task_memory,
    ))?;
    fingerprint
        .join()
        .map_err(|_| Error::Internal("hashing the executable panicked".into()))??;
    tracing::info!(task_memory, location = %env.location, "executor starting");
    let runner: Arc<dyn TaskRunner> = Arc::new(Runner {
        env,
        origin: Origin::Driver,
    });
    rt.block_on(spindle_executor::run_tasks(config, runner))
        .map_err(|e| Error::invalid("registration with the driver", e.to_string()))
}

/// Where an application's tasks ran, for its final diagnostics.
#[derive(Default)]
struct Placement {
    /// Asked YARN for executor containers.
    containers: AtomicBool,
    /// Ran tasks on an executor inside the AM.
    in_am: AtomicBool,
}

impl Placement {
    /// `" (inside the AM)"` when no container was asked for, and so on.
    fn describe(&self) -> &'static str {
        match (
            self.in_am.load(Ordering::SeqCst),
            self.containers.load(Ordering::SeqCst),
        ) {
            (true, false) => " (inside the AM)",
            (true, true) => " (inside the AM, then in executor containers)",
            (false, true) => " (in executor containers)",
            (false, false) => "",
        }
    }
}

/// Stages to the driver's executors, or to one inside the AM while jobs are small.
struct YarnBackend {
    am: Arc<AppMaster>,
    driver: Arc<Driver>,
    handle: tokio::runtime::Handle,
    /// Inputs up to this many bytes run inside the AM; 0: never.
    uber_max_bytes: u64,
    placement: Arc<Placement>,
    in_am: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Dropped after the in-AM executor: its map outputs live here.
    in_am_scratch: Mutex<Option<tempfile::TempDir>>,
    /// The fingerprint tasks carry, as `spindle submit` claimed it: confirmed against
    /// this executable's own hash before any task goes to a container.
    claim: Option<crate::ship::Fingerprint>,
    confirmed: AtomicBool,
}

impl YarnBackend {
    fn place(&self, stage: &StageTasks) -> Result<()> {
        if self.placement.containers.load(Ordering::SeqCst) {
            return Ok(());
        }
        let input: Option<u64> = stage.tasks.iter().map(|t| t.input_bytes).sum();
        match input {
            Some(bytes) if self.uber_max_bytes > 0 && bytes <= self.uber_max_bytes => {
                self.start_in_am()
            }
            _ => {
                tracing::info!(input = ?input, "asking for executors");
                self.placement.containers.store(true, Ordering::SeqCst);
                let hosts: Vec<String> = stage
                    .tasks
                    .iter()
                    .filter_map(|t| t.prefs.first().cloned())
                    .collect();
                self.am.want_executors(&hosts);
                Ok(())
            }
        }
    }

    fn start_in_am(&self) -> Result<()> {
        let mut in_am = self.in_am.lock().unwrap_or_else(PoisonError::into_inner);
        if in_am.is_some() {
            return Ok(());
        }
        self.placement.in_am.store(true, Ordering::SeqCst);
        tracing::info!(
            limit = self.uber_max_bytes,
            "small input: running tasks inside the AM"
        );
        let mut conf = HadoopConf::from_env().unwrap_or_default();
        conf.set("fs.defaultFS", self.am.default_fs());
        let config = ExecutorConfig {
            driver: self.driver.address().to_string(),
            executor_id: self.am.container_id(),
            container_id: self.am.container_id(),
            host: self.am.host().to_string(),
            cores: 2,
            memory_bytes: 0,
            secret: self.am.secret().to_vec(),
            default_fs: self.am.default_fs().to_string(),
            user: self.am.user().to_string(),
            hadoop_conf: conf,
        };
        let scratch = container_scratch()?;
        let env = self.handle.block_on(task_env(
            self.handle.clone(),
            &config,
            scratch.path().to_path_buf(),
            // Inputs are small by definition here; the AM's container is too.
            32 * MIB,
        ))?;
        let runner: Arc<dyn TaskRunner> = Arc::new(Runner {
            env,
            origin: Origin::ThisProcess,
        });
        *in_am = Some(self.handle.spawn(async move {
            if let Err(e) = spindle_executor::run_tasks(config, runner).await {
                tracing::error!("the executor inside the AM failed: {e}");
            }
        }));
        *self
            .in_am_scratch
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(scratch);
        Ok(())
    }
}

impl Backend for YarnBackend {
    fn begin_job(&self, name: &str) -> u32 {
        self.driver.begin_job(name)
    }

    fn end_job(&self, job: u32, result: std::result::Result<(), &str>) {
        self.driver.end_job(job, result);
    }

    fn output_started(&self, path: &str) {
        self.am.output_started(path);
    }

    fn output_done(&self, path: &str) {
        self.am.output_done(path);
    }

    fn lost_executors(&self) -> std::collections::HashSet<String> {
        self.driver
            .executors()
            .into_iter()
            .filter(|e| !e.alive)
            .map(|e| e.id)
            .collect()
    }

    fn run_stage(&self, stage: &StageTasks) -> Result<Vec<Vec<u8>>> {
        self.place(stage)?;
        if self.placement.containers.load(Ordering::SeqCst)
            && let Some(claim) = &self.claim
            && !self.confirmed.load(Ordering::SeqCst)
        {
            crate::ship::confirm_claim(claim)?;
            self.confirmed.store(true, Ordering::SeqCst);
        }
        let payloads: HashMap<u32, Bytes> = stage
            .tasks
            .iter()
            .map(|t| (t.partition as u32, Bytes::from(t.bytes.clone())))
            .collect();
        let tasks: Vec<StageTask> = stage
            .tasks
            .iter()
            .map(|t| StageTask {
                partition: t.partition as u32,
                hosts: t.prefs.clone(),
                input: TaskInput::None,
            })
            .collect();
        let outcome = self
            .handle
            .block_on(
                self.driver
                    .run_stage(stage.job, &stage.name, tasks, |p, _| {
                        payloads.get(&p).cloned().unwrap_or_default()
                    }),
            )
            .map_err(|e| Error::Stage {
                what: stage.name.clone(),
                message: e.to_string(),
            })?;
        let size: u64 = outcome.results.iter().map(|(_, r)| r.len() as u64).sum();
        if let Some(limit) = stage.result_limit.filter(|&l| size > l) {
            return Err(Error::ResultTooLarge {
                action: stage.name.clone(),
                size,
                limit,
            });
        }
        let mut by_part: HashMap<u32, Vec<u8>> = outcome
            .winners
            .iter()
            .map(|w| w.0)
            .zip(outcome.results.into_iter().map(|(_, r)| r))
            .collect();
        stage
            .tasks
            .iter()
            .map(|t| {
                by_part.remove(&(t.partition as u32)).ok_or_else(|| {
                    Error::Internal(format!(
                        "no answer for partition {} of {}",
                        t.partition, stage.name
                    ))
                })
            })
            .collect()
    }
}

/// The driver role: the application's closure, on YARN.
pub(crate) fn run_driver<F, E>(app: F) -> ExitCode
where
    F: FnOnce(&Context) -> std::result::Result<(), E>,
    E: std::fmt::Display,
{
    logging();
    tracing::debug!("driver process started");
    // Hashing this executable (the tasks' fingerprint) takes tens of milliseconds of a
    // core. Under spindle submit the driver starts from the client's claim and hashes
    // only to confirm it before a task first leaves this process (never, for a job
    // that runs inside the AM); otherwise the hash runs while the AM registers
    // (`fingerprint` computes it once).
    if !matches!(crate::ship::claimed_fingerprint(), Ok(Some(_))) {
        std::thread::spawn(|| {
            let _ = crate::ship::fingerprint();
        });
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let am = match AppSettings::from_env().and_then(|s| rt.block_on(AppMaster::start(s))) {
        Ok(am) => Arc::new(am),
        Err(e) => {
            tracing::error!("cannot start the application master: {e}");
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let placement = Arc::new(Placement::default());
    let outcome = match driver_context(&rt, &am, placement.clone()) {
        Err(e) => Err(e.to_string()),
        Ok(sc) => {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app(&sc)));
            drop(sc);
            match ran {
                Ok(Ok(())) => Ok(format!("the application finished{}", placement.describe())),
                Ok(Err(e)) => Err(e.to_string()),
                Err(panic) => Err(format!(
                    "the application panicked: {}",
                    crate::task::panic_message(&*panic)
                )),
            }
        }
    };
    if let Err(e) = &outcome {
        tracing::error!("the application failed: {e}");
    }
    let failed = outcome.is_err();
    let am = match Arc::try_unwrap(am) {
        Ok(am) => am,
        Err(_) => {
            eprintln!("error: the application master is still in use at the end");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = rt.block_on(am.finish(outcome)) {
        tracing::error!("unregistering failed: {e}");
        return ExitCode::from(1);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn driver_context(
    rt: &Arc<tokio::runtime::Runtime>,
    am: &Arc<AppMaster>,
    placement: Arc<Placement>,
) -> Result<Context> {
    let mut config = Config::from_env()?;
    if std::env::var_os("SPINDLE_DEFAULT_PARALLELISM").is_none() {
        // Spark's default on YARN: every executor core once.
        let s = am.settings();
        config.default_parallelism = (s.num_executors * s.executor_cores).max(2) as usize;
    }
    let mut hadoop = HadoopConf::from_env().unwrap_or_default();
    hadoop.set("fs.defaultFS", am.default_fs());
    let scratch = container_scratch()?;
    let env = Arc::new(TaskEnv {
        runtime: rt.handle().clone(),
        fs: FsCache::new(hadoop, am.user().to_string()),
        scratch: scratch.path().to_path_buf(),
        task_memory: usize::try_from(config.task_memory).unwrap_or(usize::MAX),
        blocks: Arc::new(RemoteBlocks::new(am.secret().to_vec(), String::new())),
        location: String::new(),
        executor: String::new(),
    });
    // Under spindle submit, the hash the client computed of the staged binary: the
    // driver starts without waiting for its own (see `ship`).
    let claim = crate::ship::claimed_fingerprint()?;
    let fingerprint = match claim {
        Some(f) => f,
        None => crate::ship::fingerprint()?,
    };
    let uber_max_bytes = std::env::var("SPINDLE_UBER_MAX_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let backend = YarnBackend {
        am: am.clone(),
        driver: am.driver(),
        handle: rt.handle().clone(),
        uber_max_bytes,
        placement,
        in_am: Mutex::new(None),
        in_am_scratch: Mutex::new(None),
        claim,
        confirmed: AtomicBool::new(false),
    };
    Context::assemble(
        config,
        rt.clone(),
        env,
        Box::new(backend),
        fingerprint,
        Some(scratch),
    )
}
