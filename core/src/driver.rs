//! The driver: accepts executors (proof of the application secret), plans a job into a
//! map stage over input splits and a reduce stage over hash partitions, schedules tasks
//! with locality, retries failures, survives executor loss, and commits the output
//! (attempts write under `_temporary/`; the driver renames the winners, writes
//! `_SUCCESS`, and removes everything it created when the job fails).
//!
//! It does not know where executors come from: the YARN AM launches containers, local
//! mode starts them in-process; both just point executors at [`Driver::address`].

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use spindle_proto::spindle as pb;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::error::CoreError;
use crate::fs::FileSystem;
use crate::job::{JobKind, TaskPayload, decode_map_result, encode_payload};
use crate::scheduler::{Locality, TaskId, TaskSetScheduler};
use crate::split::{Split, plan_splits};
use crate::transport::{PROTOCOL_VERSION, read_msg, verify_proof, write_msg};

/// How the driver runs.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The application secret executors must prove.
    pub secret: Vec<u8>,
    /// Where to listen (port 0: any).
    pub bind: SocketAddr,
    /// The host executors connect to.
    pub advertise_host: String,
    /// How often executors send heartbeats.
    pub heartbeat_interval: Duration,
    /// An executor silent for this long is lost.
    pub executor_timeout: Duration,
    /// Attempts per task before the job fails (Spark's `spark.task.maxFailures`).
    pub max_attempts: u32,
    /// How long a task waits for an executor on a host holding its data.
    pub locality_wait: Duration,
    /// A stage with tasks left fails after this long without any live executor.
    pub no_executor_timeout: Duration,
}

impl DriverConfig {
    /// Defaults: 1 s heartbeats, 30 s executor timeout, 4 attempts, 3 s locality wait.
    pub fn new(secret: Vec<u8>, bind: SocketAddr, advertise_host: impl Into<String>) -> Self {
        DriverConfig {
            secret,
            bind,
            advertise_host: advertise_host.into(),
            heartbeat_interval: Duration::from_secs(1),
            executor_timeout: Duration::from_secs(30),
            max_attempts: 4,
            locality_wait: Duration::from_secs(3),
            no_executor_timeout: Duration::from_secs(180),
        }
    }
}

/// One job to run.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// What to compute.
    pub job: JobKind,
    /// Input file, directory or glob (URI).
    pub input: String,
    /// Output directory (URI); must not exist.
    pub output: String,
    /// Reduce partitions = output part files.
    pub reducers: u32,
    /// Largest split (splits never cross blocks).
    pub max_split_size: u64,
}

/// What a finished job did.
#[derive(Debug, Clone, Default)]
pub struct JobReport {
    /// Map tasks (one per split).
    pub map_tasks: usize,
    /// Map tasks that ran on a host holding their data.
    pub node_local_tasks: usize,
    /// Map tasks whose data had no host with an executor, or no host at all.
    pub no_pref_tasks: usize,
    /// Bytes read by map tasks.
    pub input_bytes: u64,
    /// Attempts that failed and were retried.
    pub failed_attempts: usize,
    /// The committed part files.
    pub output_files: Vec<String>,
    /// Wall time of the job.
    pub duration: Duration,
}

/// A stage's counters, for progress bars and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageProgress {
    /// Stage id.
    pub id: u32,
    /// `map` or `reduce`.
    pub name: String,
    /// Tasks in the stage.
    pub total: usize,
    /// Tasks finished.
    pub done: usize,
    /// Tasks running.
    pub running: usize,
    /// Attempts failed so far.
    pub failed: usize,
}

/// The job's progress as the outside world sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// `PLANNING`, `RUNNING`, `COMMITTING`, `SUCCEEDED`, `FAILED`.
    pub state: String,
    /// Stages so far.
    pub stages: Vec<StageProgress>,
    /// A message (the error, when failed).
    pub message: String,
}

impl Progress {
    /// Overall progress 0..1 (map and reduce weigh by task count).
    pub fn fraction(&self) -> f32 {
        let total: usize = self.stages.iter().map(|s| s.total).sum();
        let done: usize = self.stages.iter().map(|s| s.done).sum();
        if self.state == "SUCCEEDED" {
            1.0
        } else if total == 0 {
            0.0
        } else {
            done as f32 / total as f32 * 0.99
        }
    }
}

/// A registered executor, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorInfo {
    /// Its id (the container id under YARN).
    pub id: String,
    /// Its container.
    pub container_id: String,
    /// Host it runs on.
    pub host: String,
    /// Task slots.
    pub cores: u32,
    /// Resident memory at the last heartbeat.
    pub rss_bytes: u64,
    /// Tasks finished on it.
    pub tasks_done: u64,
    /// Whether it is still connected.
    pub alive: bool,
}

enum Event {
    Registered {
        id: String,
        tx: mpsc::Sender<pb::DriverMessage>,
    },
    Message {
        id: String,
        msg: pb::ExecutorMessage,
    },
    Lost {
        id: String,
        reason: String,
    },
}

struct Live {
    host: String,
    cores: u32,
    running: u32,
    tx: mpsc::Sender<pb::DriverMessage>,
    last_seen: Instant,
}

/// A running driver: listening for executors.
pub struct Driver {
    config: DriverConfig,
    address: String,
    events_tx: mpsc::Sender<Event>,
    events: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    executors: Arc<Mutex<HashMap<String, ExecutorInfo>>>,
    /// Connected executors' task slots and senders; held by the running stage.
    live: tokio::sync::Mutex<HashMap<String, Live>>,
    progress: Arc<Mutex<Progress>>,
    next_task_id: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("address", &self.address)
            .finish()
    }
}

impl Driver {
    /// Binds and starts accepting executors.
    pub async fn start(config: DriverConfig) -> Result<Arc<Driver>, CoreError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|e| CoreError::Transport(format!("binding {}: {e}", config.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| CoreError::Transport(format!("local address: {e}")))?
            .port();
        let address = format!("{}:{port}", config.advertise_host);
        let (events_tx, events_rx) = mpsc::channel(4096);
        let driver = Arc::new(Driver {
            config,
            address,
            events_tx,
            events: tokio::sync::Mutex::new(events_rx),
            executors: Arc::new(Mutex::new(HashMap::new())),
            live: tokio::sync::Mutex::new(HashMap::new()),
            progress: Arc::new(Mutex::new(Progress {
                state: "PLANNING".into(),
                ..Default::default()
            })),
            next_task_id: std::sync::atomic::AtomicU64::new(0),
        });
        let accepting = Arc::downgrade(&driver);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let Some(d) = accepting.upgrade() else { break };
                tokio::spawn(async move {
                    if let Err(e) = d.handshake(stream).await {
                        warn!(%peer, "executor refused: {e}");
                    }
                });
            }
        });
        Ok(driver)
    }

    /// `host:port` executors connect to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The job's progress now.
    pub fn progress(&self) -> Progress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Every executor that registered, alive or not.
    pub fn executors(&self) -> Vec<ExecutorInfo> {
        let mut v: Vec<ExecutorInfo> = self
            .executors
            .lock()
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Tells the driver an executor is gone (e.g. its container completed).
    pub async fn executor_lost(&self, id: &str, reason: &str) {
        let _ = self
            .events_tx
            .send(Event::Lost {
                id: id.to_string(),
                reason: reason.to_string(),
            })
            .await;
    }

    async fn handshake(self: Arc<Self>, stream: TcpStream) -> Result<(), CoreError> {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let nonce: [u8; 32] = rand_nonce();
        write_msg(
            &mut wr,
            &pb::DriverMessage {
                kind: Some(pb::driver_message::Kind::Challenge(pb::AuthChallenge {
                    nonce: nonce.to_vec(),
                })),
            },
        )
        .await?;
        let first: Option<pb::ExecutorMessage> =
            tokio::time::timeout(Duration::from_secs(10), read_msg(&mut rd))
                .await
                .map_err(|_| CoreError::Transport("no registration within 10 s".into()))??;
        let Some(pb::ExecutorMessage {
            kind: Some(pb::executor_message::Kind::Register(reg)),
        }) = first
        else {
            return Err(CoreError::Transport(
                "first message was not a registration".into(),
            ));
        };
        let refuse = |reason: String| pb::DriverMessage {
            kind: Some(pb::driver_message::Kind::RegisterAck(pb::RegisterAck {
                accepted: false,
                reason,
                heartbeat_interval_ms: 0,
            })),
        };
        if !verify_proof(&self.config.secret, &nonce, &reg.secret_proof) {
            write_msg(&mut wr, &refuse("wrong application secret".into())).await?;
            return Err(CoreError::Transport(format!(
                "{} ({}) did not prove the application secret",
                reg.executor_id, reg.host
            )));
        }
        if reg.protocol_version != PROTOCOL_VERSION {
            let why = format!(
                "protocol version {} not supported (driver speaks {PROTOCOL_VERSION})",
                reg.protocol_version
            );
            write_msg(&mut wr, &refuse(why.clone())).await?;
            return Err(CoreError::Transport(why));
        }
        let id = reg.executor_id.clone();
        let duplicate = match self.executors.lock() {
            Err(_) => true,
            Ok(mut execs) => {
                if execs.get(&id).is_some_and(|e| e.alive) {
                    true
                } else {
                    execs.insert(
                        id.clone(),
                        ExecutorInfo {
                            id: id.clone(),
                            container_id: reg.container_id.clone(),
                            host: reg.host.clone(),
                            cores: reg.cores.max(1),
                            rss_bytes: 0,
                            tasks_done: 0,
                            alive: true,
                        },
                    );
                    false
                }
            }
        };
        if duplicate {
            write_msg(
                &mut wr,
                &refuse(format!("executor id {id} already registered")),
            )
            .await?;
            return Err(CoreError::Transport(format!("duplicate executor id {id}")));
        }
        write_msg(
            &mut wr,
            &pb::DriverMessage {
                kind: Some(pb::driver_message::Kind::RegisterAck(pb::RegisterAck {
                    accepted: true,
                    reason: String::new(),
                    heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
                })),
            },
        )
        .await?;
        info!(executor = %id, host = %reg.host, cores = reg.cores, "executor registered");
        let (tx, mut rx) = mpsc::channel::<pb::DriverMessage>(256);
        let _ = self
            .events_tx
            .send(Event::Registered { id: id.clone(), tx })
            .await;
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if write_msg(&mut wr, &m).await.is_err() {
                    break;
                }
            }
        });
        let reason = loop {
            match read_msg::<_, pb::ExecutorMessage>(&mut rd).await {
                Ok(Some(msg)) => {
                    if self
                        .events_tx
                        .send(Event::Message {
                            id: id.clone(),
                            msg,
                        })
                        .await
                        .is_err()
                    {
                        break "driver stopped".to_string();
                    }
                }
                Ok(None) => break "connection closed".to_string(),
                Err(e) => break e.to_string(),
            }
        };
        let _ = self.events_tx.send(Event::Lost { id, reason }).await;
        Ok(())
    }

    fn set_progress(&self, f: impl FnOnce(&mut Progress)) {
        if let Ok(mut p) = self.progress.lock() {
            f(&mut p);
        }
    }

    /// Lists the input and cuts it into splits with their hosts (the map stage's tasks).
    /// Cheap (NameNode metadata only): call it early to ask for executors where the data is.
    pub async fn plan(&self, spec: &JobSpec, fs: &dyn FileSystem) -> Result<Vec<Split>, CoreError> {
        let files = fs.list_inputs(&spec.input).await?;
        let mut with_blocks = Vec::with_capacity(files.len());
        for f in files {
            let blocks = fs.blocks(&f).await?;
            with_blocks.push((f, blocks));
        }
        let splits = plan_splits(&with_blocks, spec.max_split_size.max(1));
        info!(
            files = with_blocks.len(),
            splits = splits.len(),
            "planned the map stage"
        );
        Ok(splits)
    }

    /// Runs `spec` over `splits` (from [`Driver::plan`]) with whatever executors register.
    /// On failure the output directory is removed (it must not exist before; checked).
    pub async fn run_job(
        &self,
        spec: &JobSpec,
        splits: Vec<Split>,
        out_fs: Arc<dyn FileSystem>,
    ) -> Result<JobReport, CoreError> {
        if out_fs.info(&spec.output).await?.is_some() {
            return Err(CoreError::OutputExists(spec.output.clone()));
        }
        let started = Instant::now();
        let result = self.run_stages(spec, splits, out_fs.clone(), started).await;
        match &result {
            Ok(_) => self.set_progress(|p| p.state = "SUCCEEDED".into()),
            Err(e) => {
                let msg = e.to_string();
                self.set_progress(|p| {
                    p.state = "FAILED".into();
                    p.message = msg;
                });
                if let Err(e) = out_fs.delete(&spec.output).await {
                    warn!(
                        "could not remove the failed job's output {}: {e}",
                        spec.output
                    );
                }
            }
        }
        result
    }

    /// Tells every connected executor to exit; call once the application is done.
    pub async fn stop(&self, reason: &str) {
        let mut events = self.events.lock().await;
        let mut live = self.live.lock().await;
        // Executors that registered while no stage ran are still in the queue.
        while let Ok(ev) = events.try_recv() {
            if let Event::Registered { id, tx } = ev {
                live.insert(
                    id,
                    Live {
                        host: String::new(),
                        cores: 0,
                        running: 0,
                        tx,
                        last_seen: Instant::now(),
                    },
                );
            }
        }
        for l in live.values() {
            let _ =
                l.tx.send(pb::DriverMessage {
                    kind: Some(pb::driver_message::Kind::Shutdown(pb::Shutdown {
                        reason: reason.to_string(),
                    })),
                })
                .await;
        }
        live.clear();
    }

    async fn run_stages(
        &self,
        spec: &JobSpec,
        splits: Vec<Split>,
        out_fs: Arc<dyn FileSystem>,
        started: Instant,
    ) -> Result<JobReport, CoreError> {
        let mut report = JobReport::default();
        let reducers = spec.reducers.max(1);
        out_fs
            .mkdirs(&format!("{}/_temporary", spec.output))
            .await?;

        // Stage 0: map over splits.
        let map_payload = Bytes::from(encode_payload(&TaskPayload::Map {
            job: spec.job.clone(),
            reducers,
        }));
        let mut shuffle: Vec<Vec<Vec<u8>>> = vec![Vec::new(); reducers as usize];
        let map_tasks: Vec<StageTask> = splits
            .into_iter()
            .map(|s| StageTask {
                id: self.new_task_id(),
                partition: 0,
                hosts: s.hosts.clone(),
                input: TaskInput::Split(s),
            })
            .collect();
        report.map_tasks = map_tasks.len();
        let map_outcome = self
            .run_stage(0, "map", map_tasks, |_, _| map_payload.clone())
            .await?;
        for (_, result) in map_outcome.results {
            for (r, block) in decode_map_result(&result)?.into_iter().enumerate() {
                if let Some(slot) = shuffle.get_mut(r) {
                    slot.push(block);
                }
            }
        }
        report.node_local_tasks = map_outcome.node_local;
        report.no_pref_tasks = map_outcome.no_pref;
        report.input_bytes = map_outcome.input_bytes;
        report.failed_attempts += map_outcome.failed_attempts;

        // Stage 1: reduce each partition; attempts write under _temporary.
        let reduce_tasks: Vec<StageTask> = shuffle
            .into_iter()
            .enumerate()
            .map(|(r, blocks)| StageTask {
                id: self.new_task_id(),
                partition: r as u32,
                hosts: Vec::new(),
                input: TaskInput::Shuffle(blocks),
            })
            .collect();
        let output = spec.output.clone();
        let job = spec.job.clone();
        let attempt_file = move |partition: u32, attempt: u32| {
            format!("{output}/_temporary/attempt_1_{partition:05}_{attempt}/part-{partition:05}")
        };
        let af = attempt_file.clone();
        let reduce_outcome = self
            .run_stage(1, "reduce", reduce_tasks, move |partition, attempt| {
                Bytes::from(encode_payload(&TaskPayload::Reduce {
                    job: job.clone(),
                    output_file: af(partition, attempt),
                }))
            })
            .await?;
        report.failed_attempts += reduce_outcome.failed_attempts;

        // Commit: the winning attempts' files become the output.
        self.set_progress(|p| p.state = "COMMITTING".into());
        let mut committed: Vec<(u32, u32)> = reduce_outcome.winners;
        committed.sort_unstable();
        for (partition, attempt) in committed {
            let from = attempt_file(partition, attempt);
            let to = format!("{}/part-{partition:05}", spec.output);
            out_fs.rename(&from, &to).await?;
            report.output_files.push(to);
        }
        out_fs
            .delete(&format!("{}/_temporary", spec.output))
            .await?;
        out_fs
            .write(&format!("{}/_SUCCESS", spec.output), Bytes::new())
            .await?;
        report.duration = started.elapsed();
        Ok(report)
    }

    fn new_task_id(&self) -> TaskId {
        self.next_task_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs one stage's tasks to completion (or failure) on the registered executors.
    async fn run_stage(
        &self,
        stage_id: u32,
        name: &str,
        tasks: Vec<StageTask>,
        payload: impl Fn(u32, u32) -> Bytes,
    ) -> Result<StageOutcome, CoreError> {
        let now = Instant::now();
        let mut sched = TaskSetScheduler::new(
            tasks.iter().map(|t| (t.id, t.hosts.clone())).collect(),
            self.config.max_attempts,
            self.config.locality_wait,
            now,
        );
        let by_id: HashMap<TaskId, StageTask> = tasks.into_iter().map(|t| (t.id, t)).collect();
        let mut outcome = StageOutcome::default();
        let stage_index = {
            let mut idx = 0;
            self.set_progress(|p| {
                p.state = "RUNNING".into();
                p.stages.push(StageProgress {
                    id: stage_id,
                    name: name.to_string(),
                    total: by_id.len(),
                    ..Default::default()
                });
                idx = p.stages.len() - 1;
            });
            idx
        };
        let mut events = self.events.lock().await;
        let mut live_guard = self.live.lock().await;
        let live = &mut *live_guard;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut last_had_executor = Instant::now();
        let result = loop {
            if sched.is_complete() {
                break Ok(());
            }
            if !live.is_empty() {
                last_had_executor = Instant::now();
            } else if last_had_executor.elapsed() > self.config.no_executor_timeout {
                break Err(CoreError::NoExecutors(self.config.no_executor_timeout));
            }
            // Offer every free slot.
            let live_hosts: HashSet<String> = live.values().map(|l| l.host.clone()).collect();
            let n_live = live.len();
            let ids: Vec<String> = live.keys().cloned().collect();
            for id in ids {
                while let Some(l) = live.get(&id) {
                    if l.running >= l.cores || !sched.has_pending() {
                        break;
                    }
                    let host = l.host.clone();
                    let Some(launch) = sched.offer(&id, &host, &live_hosts, n_live, Instant::now())
                    else {
                        break;
                    };
                    let Some(task) = by_id.get(&launch.task) else {
                        break;
                    };
                    let desc = pb::TaskDescription {
                        task_id: task.id,
                        stage_id,
                        partition: task.partition,
                        attempt: launch.attempt,
                        input: Some(task.input.to_proto()),
                        payload: payload(task.partition, launch.attempt).to_vec(),
                    };
                    debug!(task = task.id, attempt = launch.attempt, executor = %id, locality = launch.locality.as_str(), "launch");
                    outcome
                        .locality
                        .insert((task.id, launch.attempt), launch.locality);
                    let sent =
                        l.tx.send(pb::DriverMessage {
                            kind: Some(pb::driver_message::Kind::LaunchTask(desc)),
                        })
                        .await;
                    if sent.is_err() {
                        // Its writer is gone; the Lost event follows.
                        break;
                    }
                    if let Some(l) = live.get_mut(&id) {
                        l.running += 1;
                    }
                }
            }
            self.set_progress(|p| {
                if let Some(s) = p.stages.get_mut(stage_index) {
                    s.done = sched.done();
                    s.running = sched.running();
                    s.failed = outcome.failed_attempts;
                }
            });
            let ev = tokio::select! {
                ev = events.recv() => ev,
                _ = tick.tick() => None,
            };
            // Executors silent for too long are lost.
            let timeout = self.config.executor_timeout;
            let silent: Vec<String> = live
                .iter()
                .filter(|(_, l)| l.last_seen.elapsed() > timeout)
                .map(|(id, _)| id.clone())
                .collect();
            for id in silent {
                self.lose(&id, "no heartbeat", live, &mut sched);
            }
            let Some(ev) = ev else { continue };
            match ev {
                Event::Registered { id, tx } => {
                    let info = self.executors.lock().ok().and_then(|e| e.get(&id).cloned());
                    if let Some(info) = info {
                        live.insert(
                            id,
                            Live {
                                host: info.host,
                                cores: info.cores,
                                running: 0,
                                tx,
                                last_seen: Instant::now(),
                            },
                        );
                    }
                }
                Event::Lost { id, reason } => self.lose(&id, &reason, live, &mut sched),
                Event::Message { id, msg } => {
                    if let Some(l) = live.get_mut(&id) {
                        l.last_seen = Instant::now();
                    }
                    match msg.kind {
                        Some(pb::executor_message::Kind::Heartbeat(hb)) => {
                            if let Ok(mut e) = self.executors.lock()
                                && let Some(info) = e.get_mut(&id)
                            {
                                info.rss_bytes = hb.rss_bytes;
                            }
                        }
                        Some(pb::executor_message::Kind::TaskStatus(st)) => {
                            if let Err(e) = self.on_status(&id, st, &mut sched, live, &mut outcome)
                            {
                                break Err(e);
                            }
                        }
                        _ => {}
                    }
                }
            }
        };
        self.set_progress(|p| {
            if let Some(s) = p.stages.get_mut(stage_index) {
                s.done = sched.done();
                s.running = 0;
                s.failed = outcome.failed_attempts;
            }
        });
        outcome.winners = outcome
            .winners_by_task
            .iter()
            .filter_map(|(t, a)| by_id.get(t).map(|task| (task.partition, *a)))
            .collect();
        result.map(|()| outcome)
    }

    fn on_status(
        &self,
        executor: &str,
        st: pb::TaskStatus,
        sched: &mut TaskSetScheduler,
        live: &mut HashMap<String, Live>,
        outcome: &mut StageOutcome,
    ) -> Result<(), CoreError> {
        let state = pb::TaskState::try_from(st.state).unwrap_or(pb::TaskState::Unspecified);
        if matches!(state, pb::TaskState::Running | pb::TaskState::Unspecified) {
            return Ok(());
        }
        // Only the attempt we think runs there counts.
        if sched.running_attempt(st.task_id) != Some((executor, st.attempt)) {
            return Ok(());
        }
        if let Some(l) = live.get_mut(executor) {
            l.running = l.running.saturating_sub(1);
        }
        match state {
            pb::TaskState::Succeeded => {
                if sched.succeeded(st.task_id, st.attempt) {
                    if let Ok(mut e) = self.executors.lock()
                        && let Some(info) = e.get_mut(executor)
                    {
                        info.tasks_done += 1;
                    }
                    let metrics = st.metrics.unwrap_or_default();
                    outcome.input_bytes += metrics.input_bytes;
                    match outcome.locality.get(&(st.task_id, st.attempt)) {
                        Some(Locality::NodeLocal) => outcome.node_local += 1,
                        Some(Locality::NoPreference) => outcome.no_pref += 1,
                        _ => {}
                    }
                    outcome.winners_by_task.insert(st.task_id, st.attempt);
                    outcome.results.push((st.task_id, st.result));
                }
                Ok(())
            }
            _ => {
                outcome.failed_attempts += 1;
                let error = if st.error_message.is_empty() {
                    format!("{state:?}")
                } else {
                    st.error_message
                };
                warn!(task = st.task_id, attempt = st.attempt, %executor, "task attempt failed: {error}");
                sched
                    .failed(st.task_id, st.attempt, &error)
                    .map_err(|ex| CoreError::TaskFailed {
                        task: ex.task,
                        attempts: ex.attempts,
                        error: ex.error,
                    })
            }
        }
    }

    fn lose(
        &self,
        id: &str,
        reason: &str,
        live: &mut HashMap<String, Live>,
        sched: &mut TaskSetScheduler,
    ) {
        if live.remove(id).is_none() {
            return;
        }
        if let Ok(mut e) = self.executors.lock()
            && let Some(info) = e.get_mut(id)
        {
            info.alive = false;
        }
        let requeued = sched.executor_lost(id);
        warn!(executor = %id, %reason, requeued = requeued.len(), "executor lost");
    }
}

/// A task of a stage before it is launched.
#[derive(Debug, Clone)]
struct StageTask {
    id: TaskId,
    partition: u32,
    hosts: Vec<String>,
    input: TaskInput,
}

#[derive(Debug, Clone)]
enum TaskInput {
    Split(Split),
    Shuffle(Vec<Vec<u8>>),
}

impl TaskInput {
    fn to_proto(&self) -> pb::task_description::Input {
        match self {
            TaskInput::Split(s) => pb::task_description::Input::FileSplit(pb::FileSplit {
                path: s.path.clone(),
                start: s.start,
                length: s.length,
                hosts: s.hosts.clone(),
            }),
            TaskInput::Shuffle(blocks) => pb::task_description::Input::Shuffle(pb::ShuffleInput {
                blocks: blocks.clone(),
            }),
        }
    }
}

#[derive(Debug, Default)]
struct StageOutcome {
    results: Vec<(TaskId, Vec<u8>)>,
    locality: HashMap<(TaskId, u32), Locality>,
    winners_by_task: HashMap<TaskId, u32>,
    winners: Vec<(u32, u32)>,
    node_local: usize,
    no_pref: usize,
    input_bytes: u64,
    failed_attempts: usize,
}

fn rand_nonce() -> [u8; 32] {
    rand::random()
}
