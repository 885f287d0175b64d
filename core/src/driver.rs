//! The driver: accepts executors (proof of the application secret), runs the stages the
//! `spindle` crate's DAG scheduler hands it ([`Driver::run_stage`]): schedules their
//! tasks with locality, retries failures, survives executor loss, and reports each
//! task's answer and its winning attempt.
//!
//! It does not know where executors come from: the YARN AM launches containers, local
//! mode starts them in-process; both just point executors at [`Driver::address`].
//! [`Driver::attach`] connects an executor without a socket (simulations, tests).
//!
//! Everything it does is recorded in an [`AppStatus`] (jobs, stages, task attempts,
//! executors) for the UI, the JSON API and the history file.

use std::collections::HashSet;

use foldhash::{HashMap, HashMapExt};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use spindle_proto::spindle as pb;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::error::CoreError;
use crate::scheduler::{Locality, TaskId, TaskSetScheduler};
use crate::split::Split;
pub use crate::status::ExecutorInfo;
use crate::status::{
    AppStatus, AttemptState, EnvSection, JobStatus, RunState, StageStatus, TaskAttempt, now_ms,
};
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

enum Event {
    Registered {
        id: Arc<str>,
        tx: mpsc::Sender<pb::DriverMessage>,
    },
    Message {
        id: Arc<str>,
        msg: pb::ExecutorMessage,
    },
    Lost {
        id: Arc<str>,
        reason: String,
    },
}

struct Live {
    /// The executor's id, shared by its task records.
    name: Arc<str>,
    host: Arc<str>,
    /// Finished and failed tasks not yet copied into `Driver::executors`.
    unsynced_done: u64,
    unsynced_failed: u64,
    cores: u32,
    running: u32,
    tx: mpsc::Sender<pb::DriverMessage>,
    last_seen: Instant,
}

/// A running driver: listening for executors.
pub struct Driver {
    config: DriverConfig,
    address: String,
    events_tx: mpsc::UnboundedSender<Event>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    executors: Arc<Mutex<HashMap<String, ExecutorInfo>>>,
    /// Connected executors' task slots and senders; held by the running stage.
    live: tokio::sync::Mutex<HashMap<Arc<str>, Live>>,
    /// Jobs, stages and attempts (executors are kept apart, in `executors`).
    status: Arc<Mutex<AppStatus>>,
    next_task_id: std::sync::atomic::AtomicU64,
    next_stage_id: std::sync::atomic::AtomicU32,
    /// Log pages of executors launched but not registered yet.
    pending_logs: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("address", &self.address)
            .finish()
    }
}

/// An executor connected in-process by [`Driver::attach`]: the same messages as over
/// TCP, without the socket or the encoding.
pub struct AttachedExecutor {
    id: Arc<str>,
    events: mpsc::UnboundedSender<Event>,
    rx: mpsc::Receiver<pb::DriverMessage>,
}

impl std::fmt::Debug for AttachedExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachedExecutor")
            .field("id", &self.id)
            .finish()
    }
}

impl AttachedExecutor {
    /// Sends a heartbeat or task status to the driver.
    pub async fn send(&self, msg: pb::ExecutorMessage) -> Result<(), CoreError> {
        self.events
            .send(Event::Message {
                id: self.id.clone(),
                msg,
            })
            .map_err(|_| CoreError::Transport("driver stopped".into()))
    }

    /// The driver's next message; `None` once the driver dropped this executor.
    pub async fn recv(&mut self) -> Option<pb::DriverMessage> {
        self.rx.recv().await
    }

    /// Goes away, as a closed connection would.
    pub async fn disconnect(self, reason: &str) {
        let _ = self.events.send(Event::Lost {
            id: self.id,
            reason: reason.to_string(),
        });
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
        // Unbounded: registrations must never wait for a stage to drain the queue, and
        // what executors send is bounded by their slots and heartbeats.
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let driver = Arc::new(Driver {
            config,
            address,
            events_tx,
            events: tokio::sync::Mutex::new(events_rx),
            executors: Arc::new(Mutex::new(HashMap::new())),
            live: tokio::sync::Mutex::new(HashMap::new()),
            status: Arc::new(Mutex::new(AppStatus {
                format: crate::status::HISTORY_FORMAT,
                state: RunState::Running,
                started_ms: now_ms(),
                ..Default::default()
            })),
            next_task_id: std::sync::atomic::AtomicU64::new(0),
            next_stage_id: std::sync::atomic::AtomicU32::new(0),
            pending_logs: Mutex::new(HashMap::new()),
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

    /// Names the application in its status (id, name, user).
    pub fn set_app_info(&self, app_id: &str, app_name: &str, user: &str) {
        self.with_status(|s| {
            s.app_id = app_id.to_string();
            s.app_name = app_name.to_string();
            s.user = user.to_string();
        });
    }

    /// The environment page's sections.
    pub fn set_environment(&self, sections: Vec<EnvSection>) {
        self.with_status(|s| s.environment = sections);
    }

    /// Where an executor's logs can be read (before or after it registers).
    pub fn set_executor_logs_url(&self, id: &str, url: &str) {
        if let Ok(mut e) = self.executors.lock()
            && let Some(info) = e.get_mut(id)
        {
            info.logs_url = url.to_string();
            return;
        }
        if let Ok(mut p) = self.pending_logs.lock() {
            p.insert(id.to_string(), url.to_string());
        }
    }

    /// Marks the application ended.
    pub fn finish_app(&self, state: RunState, message: &str) {
        self.with_status(|s| {
            s.state = state;
            s.message = message.to_string();
            s.ended_ms = Some(now_ms());
        });
    }

    /// Everything: jobs, stages with every task attempt, executors, environment.
    pub fn status(&self) -> AppStatus {
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        s.executors = self.executors();
        s
    }

    /// As [`Driver::status`] without task attempts: cheap at any scale.
    pub fn summary(&self) -> AppStatus {
        let mut s = self.status.lock().map(|s| s.summary()).unwrap_or_default();
        s.executors = self.executors();
        s
    }

    /// One stage with its attempts.
    pub fn stage(&self, id: u32) -> Option<StageStatus> {
        self.status.lock().ok().and_then(|s| s.stage(id).cloned())
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
        let _ = self.events_tx.send(Event::Lost {
            id: Arc::from(id),
            reason: reason.to_string(),
        });
    }

    /// Connects an executor in-process (no socket, no secret: the caller is trusted).
    pub async fn attach(&self, reg: pb::ExecutorRegister) -> Result<AttachedExecutor, CoreError> {
        let id: Arc<str> = Arc::from(reg.executor_id.as_str());
        self.admit(&reg).map_err(CoreError::Transport)?;
        let (tx, rx) = mpsc::channel::<pb::DriverMessage>(256);
        self.events_tx
            .send(Event::Registered { id: id.clone(), tx })
            .map_err(|_| CoreError::Transport("driver stopped".into()))?;
        Ok(AttachedExecutor {
            id,
            events: self.events_tx.clone(),
            rx,
        })
    }

    /// Records a registration; refuses an id that is registered and alive.
    fn admit(&self, reg: &pb::ExecutorRegister) -> Result<(), String> {
        let id = &reg.executor_id;
        let mut execs = self
            .executors
            .lock()
            .map_err(|_| "driver state poisoned".to_string())?;
        if execs.get(id).is_some_and(|e| e.alive) {
            return Err(format!("executor id {id} already registered"));
        }
        let pending = self.pending_logs.lock().ok().and_then(|mut p| p.remove(id));
        let logs_url = pending
            .or_else(|| execs.get(id).map(|e| e.logs_url.clone()))
            .unwrap_or_default();
        execs.insert(
            id.clone(),
            ExecutorInfo {
                id: id.clone(),
                container_id: reg.container_id.clone(),
                host: reg.host.clone(),
                cores: reg.cores.max(1),
                alive: true,
                logs_url,
                ..Default::default()
            },
        );
        Ok(())
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
        let id: Arc<str> = Arc::from(reg.executor_id.as_str());
        if let Err(why) = self.admit(&reg) {
            write_msg(&mut wr, &refuse(why.clone())).await?;
            return Err(CoreError::Transport(why));
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
            .send(Event::Registered { id: id.clone(), tx });
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
                        .is_err()
                    {
                        break "driver stopped".to_string();
                    }
                }
                Ok(None) => break "connection closed".to_string(),
                Err(e) => break e.to_string(),
            }
        };
        let _ = self.events_tx.send(Event::Lost { id, reason });
        Ok(())
    }

    fn with_status<R>(&self, f: impl FnOnce(&mut AppStatus) -> R) -> Option<R> {
        self.status.lock().ok().map(|mut s| f(&mut s))
    }

    fn with_job(&self, job_id: u32, f: impl FnOnce(&mut JobStatus)) {
        self.with_status(|s| {
            if let Some(j) = s.jobs.iter_mut().find(|j| j.id == job_id) {
                f(j);
            }
        });
    }

    /// The latest job's phase and overall progress, for progress bars: `PLANNING`
    /// before the first job, then the job's [`RunState`], with the error when failed.
    pub fn phase(&self) -> (String, String, f32) {
        self.with_status(|s| match s.jobs.last() {
            None => ("PLANNING".to_string(), String::new(), 0.0),
            Some(j) => {
                let (mut total, mut done) = (0usize, 0usize);
                for st in s.stages.iter().filter(|st| st.job_id == j.id) {
                    total += st.total;
                    done += st.done;
                }
                let fraction = match j.state {
                    RunState::Succeeded => 1.0,
                    _ if total == 0 => 0.0,
                    _ => done as f32 / total as f32 * 0.99,
                };
                (j.state.to_string(), j.error.clone(), fraction)
            }
        })
        .unwrap_or_default()
    }

    /// Starts recording a job; returns its id.
    pub fn begin_job(&self, description: &str) -> u32 {
        self.with_status(|s| {
            let id = s.jobs.len() as u32;
            s.jobs.push(JobStatus {
                id,
                description: description.to_string(),
                state: RunState::Running,
                submitted_ms: now_ms(),
                ..Default::default()
            });
            id
        })
        .unwrap_or_default()
    }

    /// Records a job's end.
    pub fn end_job(&self, job_id: u32, result: Result<(), &str>) {
        self.with_job(job_id, |j| {
            j.completed_ms = Some(now_ms());
            match result {
                Ok(()) => j.state = RunState::Succeeded,
                Err(e) => {
                    j.state = RunState::Failed;
                    j.error = e.to_string();
                }
            }
        });
    }

    /// Tells every connected executor to exit; call once the application is done.
    pub async fn stop(&self, reason: &str) {
        let mut events = self.events.lock().await;
        let mut live = self.live.lock().await;
        // Executors that registered while no stage ran are still in the queue.
        while let Ok(ev) = events.try_recv() {
            if let Event::Registered { id, tx } = ev {
                live.insert(
                    id.clone(),
                    Live {
                        name: id,
                        unsynced_done: 0,
                        unsynced_failed: 0,
                        host: Arc::from(""),
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
        if let Ok(mut e) = self.executors.lock() {
            for info in e.values_mut().filter(|i| i.alive) {
                info.alive = false;
                info.lost_reason = format!("shut down: {reason}");
            }
        }
    }

    /// Runs one stage of job `job_id` to completion (or failure) on the registered
    /// executors: one task per entry of `tasks`; `payload(partition, attempt)` tells the
    /// executor what to compute. Offers go only to executors with free slots, so the
    /// cost per task does not grow with the number of executors.
    pub async fn run_stage(
        &self,
        job_id: u32,
        name: &str,
        tasks: Vec<StageTask>,
        payload: impl Fn(u32, u32) -> Bytes,
    ) -> Result<StageOutcome, CoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut tasks = tasks;
        let n = tasks.len() as u64;
        let first_id = self.next_task_id.fetch_add(n, Relaxed);
        let stage_id = self.next_stage_id.fetch_add(1, Relaxed);
        // The scheduler owns the preferred hosts from here on.
        let mut sched = TaskSetScheduler::new(
            tasks
                .iter_mut()
                .enumerate()
                .map(|(i, t)| (first_id + i as u64, std::mem::take(&mut t.hosts)))
                .collect(),
            self.config.max_attempts,
            self.config.locality_wait,
            Instant::now(),
        );
        let tasks = tasks;
        let index_of = |id: TaskId| {
            id.checked_sub(first_id)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < tasks.len())
        };
        let task_at = |id: TaskId| index_of(id).and_then(|i| tasks.get(i));
        let mut outcome = StageOutcome {
            results: Vec::with_capacity(tasks.len()),
            ..Default::default()
        };
        let stage_index = self
            .with_status(|s| {
                s.stages.push(StageStatus {
                    id: stage_id,
                    job_id,
                    name: name.to_string(),
                    state: RunState::Running,
                    submitted_ms: now_ms(),
                    total: tasks.len(),
                    attempts: Vec::with_capacity(tasks.len()),
                    ..Default::default()
                });
                if let Some(j) = s.jobs.iter_mut().find(|j| j.id == job_id) {
                    j.stage_ids.push(stage_id);
                }
                s.stages.len() - 1
            })
            .unwrap_or_default();
        let mut events = self.events.lock().await;
        let mut live_guard = self.live.lock().await;
        let live = &mut *live_guard;
        let mut live_hosts: HashMap<Arc<str>, usize> = HashMap::new();
        for l in live.values() {
            *live_hosts.entry(l.host.clone()).or_default() += 1;
        }
        let mut host_set: HashSet<String> = live_hosts.keys().map(|h| h.to_string()).collect();
        // Executors that may have a free slot and have not been offered since.
        let mut to_offer: Vec<Arc<str>> = live.keys().cloned().collect();
        // Per task: the status row of its current attempt, and how local it runs.
        let mut rows: Vec<(usize, Locality)> = vec![(usize::MAX, Locality::Any); tasks.len()];
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut last_had_executor = Instant::now();
        let mut batch: Vec<Event> = Vec::with_capacity(EVENT_BATCH);
        let result = 'stage: loop {
            if sched.is_complete() {
                break Ok(());
            }
            if !live.is_empty() {
                last_had_executor = Instant::now();
            } else if last_had_executor.elapsed() > self.config.no_executor_timeout {
                break Err(CoreError::NoExecutors(self.config.no_executor_timeout));
            }
            // Offer the free slots of the executors whose state changed.
            let n_live = live.len();
            for id in to_offer.drain(..) {
                while let Some(l) = live.get(&id) {
                    if l.running >= l.cores || !sched.has_pending() {
                        break;
                    }
                    let host = l.host.clone();
                    let name = l.name.clone();
                    let Some(launch) =
                        sched.offer(name.clone(), &host, &host_set, n_live, Instant::now())
                    else {
                        break;
                    };
                    let Some(task) = task_at(launch.task) else {
                        break;
                    };
                    let desc = pb::TaskDescription {
                        task_id: launch.task,
                        stage_id,
                        partition: task.partition,
                        attempt: launch.attempt,
                        input: task.input.to_proto(),
                        payload: payload(task.partition, launch.attempt).to_vec(),
                    };
                    debug!(task = launch.task, attempt = launch.attempt, executor = %id, locality = launch.locality.as_str(), "launch");
                    let sent =
                        l.tx.send(pb::DriverMessage {
                            kind: Some(pb::driver_message::Kind::LaunchTask(desc)),
                        })
                        .await;
                    if sent.is_err() {
                        // Its writer is gone; the Lost event follows.
                        break;
                    }
                    let row = self
                        .with_status(|s| {
                            let st = s.stages.get_mut(stage_index)?;
                            st.running = sched.running();
                            st.attempts.push(TaskAttempt {
                                task_id: launch.task,
                                partition: task.partition,
                                attempt: launch.attempt,
                                executor: name,
                                host: host.clone(),
                                locality: launch.locality,
                                state: AttemptState::Running,
                                launched_ms: now_ms(),
                                ..Default::default()
                            });
                            Some(st.attempts.len() - 1)
                        })
                        .flatten()
                        .unwrap_or(usize::MAX);
                    if let Some(r) = index_of(launch.task).and_then(|i| rows.get_mut(i)) {
                        *r = (row, launch.locality);
                    }
                    if let Some(l) = live.get_mut(&id) {
                        l.running += 1;
                    }
                }
            }
            let ev = tokio::select! {
                ev = events.recv() => ev,
                _ = tick.tick() => {
                    // Executors silent for too long are lost.
                    let timeout = self.config.executor_timeout;
                    let silent: Vec<Arc<str>> = live
                        .iter()
                        .filter(|(_, l)| l.last_seen.elapsed() > timeout)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in silent {
                        let lost = self.lose(&id, "no heartbeat", live, &mut sched);
                        self.mark_lost(stage_index, &rows, &index_of, lost);
                        forget_host(&mut live_hosts, &mut host_set, live, &id);
                    }
                    self.sync_executors(live);
                    // Waiting tasks may now run anywhere (delay scheduling).
                    to_offer.extend(
                        live.iter()
                            .filter(|(_, l)| l.running < l.cores)
                            .map(|(id, _)| id.clone()),
                    );
                    None
                }
            };
            let Some(ev) = ev else { continue };
            // Take what else is queued too: one pass of offers for many events.
            batch.push(ev);
            while batch.len() < EVENT_BATCH {
                match events.try_recv() {
                    Ok(ev) => batch.push(ev),
                    Err(_) => break,
                }
            }
            for ev in batch.drain(..) {
                match ev {
                    Event::Registered { id, tx } => {
                        let info = self
                            .executors
                            .lock()
                            .ok()
                            .and_then(|e| e.get(&*id).cloned());
                        if let Some(info) = info {
                            let host: Arc<str> = Arc::from(info.host.as_str());
                            *live_hosts.entry(host.clone()).or_default() += 1;
                            host_set.insert(info.host.clone());
                            live.insert(
                                id.clone(),
                                Live {
                                    name: id.clone(),
                                    unsynced_done: 0,
                                    unsynced_failed: 0,
                                    host,
                                    cores: info.cores,
                                    running: 0,
                                    tx,
                                    last_seen: Instant::now(),
                                },
                            );
                            to_offer.push(id);
                        }
                    }
                    Event::Lost { id, reason } => {
                        let lost = self.lose(&id, &reason, live, &mut sched);
                        self.mark_lost(stage_index, &rows, &index_of, lost);
                        forget_host(&mut live_hosts, &mut host_set, live, &id);
                        to_offer.extend(live.keys().cloned());
                    }
                    Event::Message { id, msg } => {
                        if let Some(l) = live.get_mut(&*id) {
                            l.last_seen = Instant::now();
                        }
                        match msg.kind {
                            Some(pb::executor_message::Kind::Heartbeat(hb)) => {
                                if let Ok(mut e) = self.executors.lock()
                                    && let Some(info) = e.get_mut(&*id)
                                {
                                    info.rss_bytes = hb.rss_bytes;
                                    info.peak_rss_bytes = info.peak_rss_bytes.max(hb.rss_bytes);
                                }
                            }
                            Some(pb::executor_message::Kind::TaskStatus(st)) => {
                                let row = index_of(st.task_id).and_then(|i| rows.get(i)).copied();
                                match self.on_status(
                                    &id,
                                    st,
                                    stage_index,
                                    row,
                                    &mut sched,
                                    live,
                                    &mut outcome,
                                ) {
                                    Err(e) => break 'stage Err(e),
                                    Ok(Finished::Succeeded) => to_offer.push(id),
                                    Ok(Finished::Retried) => to_offer.extend(live.keys().cloned()),
                                    Ok(Finished::Ignored) => {}
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        };
        let failed = result.is_err();
        self.sync_executors(live);
        self.with_status(|s| {
            if let Some(st) = s.stages.get_mut(stage_index) {
                st.done = sched.done();
                st.running = 0;
                st.failed = outcome.failed_attempts;
                st.input_bytes = outcome.input_bytes;
                st.state = if failed {
                    RunState::Failed
                } else {
                    RunState::Succeeded
                };
                st.completed_ms = Some(now_ms());
            }
        });
        for (task, attempt) in std::mem::take(&mut outcome.winning_attempts) {
            if let Some(t) = task_at(task) {
                outcome.winners.push((t.partition, attempt));
            }
        }
        result.map(|()| outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn on_status(
        &self,
        executor: &str,
        st: pb::TaskStatus,
        stage_index: usize,
        row: Option<(usize, Locality)>,
        sched: &mut TaskSetScheduler,
        live: &mut HashMap<Arc<str>, Live>,
        outcome: &mut StageOutcome,
    ) -> Result<Finished, CoreError> {
        let state = pb::TaskState::try_from(st.state).unwrap_or(pb::TaskState::Unspecified);
        if matches!(state, pb::TaskState::Running | pb::TaskState::Unspecified) {
            return Ok(Finished::Ignored);
        }
        // Only the attempt we think runs there counts.
        if sched.running_attempt(st.task_id) != Some((executor, st.attempt)) {
            return Ok(Finished::Ignored);
        }
        let Some(l) = live.get_mut(executor) else {
            return Ok(Finished::Ignored);
        };
        l.running = l.running.saturating_sub(1);
        let metrics = st.metrics.unwrap_or_default();
        let record =
            |state: AttemptState, error: &str, sched: &TaskSetScheduler, outcome: &StageOutcome| {
                self.with_status(|s| {
                    let Some(stage) = s.stages.get_mut(stage_index) else {
                        return;
                    };
                    stage.done = sched.done();
                    stage.running = sched.running();
                    stage.failed = outcome.failed_attempts;
                    stage.input_bytes = outcome.input_bytes;
                    if let Some(a) = row.and_then(|(r, _)| stage.attempts.get_mut(r)) {
                        a.state = state;
                        a.duration_ms = Some(now_ms().saturating_sub(a.launched_ms));
                        a.input_bytes = metrics.input_bytes;
                        a.error = error.to_string();
                    }
                });
            };
        match state {
            pb::TaskState::Succeeded => {
                if !sched.succeeded(st.task_id, st.attempt) {
                    return Ok(Finished::Ignored);
                }
                l.unsynced_done += 1;
                outcome.input_bytes += metrics.input_bytes;
                match row.map(|(_, l)| l) {
                    Some(Locality::NodeLocal) => outcome.node_local += 1,
                    Some(Locality::NoPreference) => outcome.no_pref += 1,
                    _ => {}
                }
                outcome.winning_attempts.push((st.task_id, st.attempt));
                outcome.results.push((st.task_id, st.result));
                record(AttemptState::Succeeded, "", sched, outcome);
                Ok(Finished::Succeeded)
            }
            _ => {
                outcome.failed_attempts += 1;
                l.unsynced_failed += 1;
                let error = if st.error_message.is_empty() {
                    format!("{state:?}")
                } else {
                    st.error_message
                };
                warn!(task = st.task_id, attempt = st.attempt, %executor, "task attempt failed: {error}");
                let retry = sched.failed(st.task_id, st.attempt, &error);
                record(AttemptState::Failed, &error, sched, outcome);
                retry.map_err(|ex| CoreError::TaskFailed {
                    task: ex.task,
                    attempts: ex.attempts,
                    error: ex.error,
                })?;
                Ok(Finished::Retried)
            }
        }
    }

    /// Drops a lost executor; returns the attempts it was running (now requeued).
    fn lose(
        &self,
        id: &str,
        reason: &str,
        live: &mut HashMap<Arc<str>, Live>,
        sched: &mut TaskSetScheduler,
    ) -> Vec<(TaskId, u32)> {
        let Some(l) = live.get_mut(id) else {
            return Vec::new();
        };
        let (done, failed) = (l.unsynced_done, l.unsynced_failed);
        (l.unsynced_done, l.unsynced_failed) = (0, 0);
        if let Ok(mut e) = self.executors.lock()
            && let Some(info) = e.get_mut(id)
        {
            info.alive = false;
            info.lost_reason = reason.to_string();
            info.tasks_done += done;
            info.tasks_failed += failed;
        }
        let requeued = sched.executor_lost(id);
        warn!(executor = %id, %reason, requeued = requeued.len(), "executor lost");
        requeued
    }

    /// Copies the executors' task counters into what the UI reads.
    fn sync_executors(&self, live: &mut HashMap<Arc<str>, Live>) {
        let Ok(mut e) = self.executors.lock() else {
            return;
        };
        for (id, l) in live.iter_mut() {
            if l.unsynced_done + l.unsynced_failed == 0 {
                continue;
            }
            if let Some(info) = e.get_mut(&**id) {
                info.tasks_done += l.unsynced_done;
                info.tasks_failed += l.unsynced_failed;
            }
            (l.unsynced_done, l.unsynced_failed) = (0, 0);
        }
    }

    fn mark_lost(
        &self,
        stage_index: usize,
        rows: &[(usize, Locality)],
        index_of: &impl Fn(TaskId) -> Option<usize>,
        lost: Vec<(TaskId, u32)>,
    ) {
        if lost.is_empty() {
            return;
        }
        self.with_status(|s| {
            if let Some(stage) = s.stages.get_mut(stage_index) {
                stage.running = stage.running.saturating_sub(lost.len());
                for (task, _) in &lost {
                    let row = index_of(*task).and_then(|i| rows.get(i));
                    if let Some(a) = row.and_then(|(r, _)| stage.attempts.get_mut(*r)) {
                        a.state = AttemptState::Lost;
                        a.duration_ms = Some(now_ms().saturating_sub(a.launched_ms));
                        a.error = "executor lost".into();
                    }
                }
            }
        });
    }
}

/// Events handled between two rounds of offers, at most.
const EVENT_BATCH: usize = 256;

/// Removes a gone executor from the live set and its host from the live hosts.
fn forget_host(
    live_hosts: &mut HashMap<Arc<str>, usize>,
    host_set: &mut HashSet<String>,
    live: &mut HashMap<Arc<str>, Live>,
    id: &str,
) {
    let Some(l) = live.remove(id) else { return };
    if let Some(n) = live_hosts.get_mut(&l.host) {
        *n -= 1;
        if *n == 0 {
            live_hosts.remove(&l.host);
            host_set.remove(&*l.host);
        }
    }
}

/// What a task status did to the stage.
enum Finished {
    Succeeded,
    Retried,
    Ignored,
}

/// A task of a stage before it is launched.
#[derive(Debug, Clone)]
pub struct StageTask {
    /// The partition it computes.
    pub partition: u32,
    /// Hosts holding its data (empty: no preference).
    pub hosts: Vec<String>,
    /// What it reads.
    pub input: TaskInput,
}

/// What a task reads.
#[derive(Debug, Clone)]
pub enum TaskInput {
    /// Nothing: the payload says all.
    None,
    /// A split of a file.
    Split(Split),
    /// Map outputs for its partition.
    Shuffle(Vec<Vec<u8>>),
}

impl TaskInput {
    fn to_proto(&self) -> Option<pb::task_description::Input> {
        match self {
            TaskInput::None => None,
            TaskInput::Split(s) => Some(pb::task_description::Input::FileSplit(pb::FileSplit {
                path: s.path.clone(),
                start: s.start,
                length: s.length,
                hosts: s.hosts.clone(),
            })),
            TaskInput::Shuffle(blocks) => {
                Some(pb::task_description::Input::Shuffle(pb::ShuffleInput {
                    blocks: blocks.clone(),
                }))
            }
        }
    }
}

/// What a finished stage produced.
#[derive(Debug, Default)]
pub struct StageOutcome {
    /// Each task's result, from its winning attempt.
    pub results: Vec<(TaskId, Vec<u8>)>,
    winning_attempts: Vec<(TaskId, u32)>,
    /// (partition, attempt) of the winning attempts.
    pub winners: Vec<(u32, u32)>,
    /// Tasks that ran where their data was.
    pub node_local: usize,
    /// Tasks with no reachable preference.
    pub no_pref: usize,
    /// Bytes read.
    pub input_bytes: u64,
    /// Attempts that failed.
    pub failed_attempts: usize,
}

fn rand_nonce() -> [u8; 32] {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DriverConfig {
        let mut c = DriverConfig::new(
            b"s".to_vec(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "127.0.0.1",
        );
        c.locality_wait = Duration::ZERO;
        c
    }

    fn reg(id: &str, host: &str, cores: u32) -> pb::ExecutorRegister {
        pb::ExecutorRegister {
            protocol_version: PROTOCOL_VERSION,
            executor_id: id.into(),
            host: host.into(),
            cores,
            ..Default::default()
        }
    }

    /// An in-process executor answering every task with `answer(task)`, until told to
    /// stop or `quit_after` tasks.
    fn simulate(
        mut ex: AttachedExecutor,
        quit_after: Option<usize>,
        answer: impl Fn(&pb::TaskDescription) -> pb::TaskState + Send + 'static,
    ) -> tokio::task::JoinHandle<usize> {
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(m) = ex.recv().await {
                let Some(pb::driver_message::Kind::LaunchTask(t)) = m.kind else {
                    break;
                };
                if quit_after.is_some_and(|q| n >= q) {
                    ex.disconnect("simulated crash").await;
                    return n;
                }
                n += 1;
                let state = answer(&t);
                let status = pb::TaskStatus {
                    task_id: t.task_id,
                    attempt: t.attempt,
                    state: state as i32,
                    result: t.partition.to_le_bytes().to_vec(),
                    error_message: if state == pb::TaskState::Failed {
                        "simulated failure".into()
                    } else {
                        String::new()
                    },
                    metrics: Some(pb::TaskMetrics {
                        input_bytes: 10,
                        ..Default::default()
                    }),
                };
                if ex
                    .send(pb::ExecutorMessage {
                        kind: Some(pb::executor_message::Kind::TaskStatus(status)),
                    })
                    .await
                    .is_err()
                {
                    break;
                }
            }
            n
        })
    }

    fn tasks(n: u32, host: &str) -> Vec<StageTask> {
        (0..n)
            .map(|p| StageTask {
                partition: p,
                hosts: vec![host.to_string()],
                input: TaskInput::None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_stage_runs_on_attached_executors_and_is_recorded() {
        let driver = Driver::start(config()).await.expect("starts");
        let mut sims = Vec::new();
        for i in 0..50 {
            let ex = driver
                .attach(reg(&format!("e{i}"), &format!("h{}", i % 5), 2))
                .await
                .expect("attached");
            sims.push(simulate(ex, None, |_| pb::TaskState::Succeeded));
        }
        assert!(driver.attach(reg("e1", "h1", 1)).await.is_err(), "dup id");
        let job = driver.begin_job("test");
        let out = driver
            .run_stage(job, "map", tasks(5_000, "h3"), |_, _| Bytes::new())
            .await
            .expect("stage succeeds");
        driver.end_job(job, Ok(()));
        let mut partitions: Vec<u32> = out
            .results
            .iter()
            .map(|(_, r)| u32::from_le_bytes(r[..4].try_into().expect("4 bytes")))
            .collect();
        partitions.sort_unstable();
        assert_eq!(partitions, (0..5_000).collect::<Vec<_>>());
        assert_eq!(out.input_bytes, 50_000);
        let status = driver.status();
        assert_eq!(status.jobs[0].state, RunState::Succeeded);
        assert_eq!(status.jobs[0].stage_ids, vec![0]);
        let stage = &status.stages[0];
        assert_eq!((stage.total, stage.done, stage.running), (5_000, 5_000, 0));
        assert_eq!(stage.attempts.len(), 5_000);
        assert!(
            stage
                .attempts
                .iter()
                .all(|a| a.state == AttemptState::Succeeded && a.duration_ms.is_some())
        );
        assert!(
            out.node_local > 0,
            "some tasks ran on h3 ({} node-local)",
            out.node_local
        );
        let done: u64 = status.executors.iter().map(|e| e.tasks_done).sum();
        assert_eq!(done, 5_000);
        assert_eq!(driver.phase().0, "SUCCEEDED");
        assert!(driver.summary().stages[0].attempts.is_empty());
        driver.stop("done").await;
        for s in sims {
            s.await.expect("simulator ends");
        }
    }

    #[tokio::test]
    async fn failures_are_retried_and_lost_executors_requeued() {
        let driver = Driver::start(config()).await.expect("starts");
        // e0 fails every task; e1 crashes after 3 tasks; e2 is healthy.
        let e0 = driver.attach(reg("e0", "h", 1)).await.expect("e0");
        let e1 = driver.attach(reg("e1", "h", 1)).await.expect("e1");
        let e2 = driver.attach(reg("e2", "h", 1)).await.expect("e2");
        simulate(e0, None, |_| pb::TaskState::Failed);
        simulate(e1, Some(3), |_| pb::TaskState::Succeeded);
        simulate(e2, None, |_| pb::TaskState::Succeeded);
        let job = driver.begin_job("test");
        let out = tokio::time::timeout(
            Duration::from_secs(20),
            driver.run_stage(job, "map", tasks(40, "h"), |_, _| Bytes::new()),
        )
        .await
        .expect("in time")
        .expect("succeeds despite e0 and e1");
        assert_eq!(out.winners.len(), 40);
        assert!(out.failed_attempts > 0);
        let status = driver.status();
        let attempts = &status.stages[0].attempts;
        assert!(attempts.iter().any(|a| a.state == AttemptState::Failed
            && a.error == "simulated failure"
            && &*a.executor == "e0"));
        assert!(
            attempts
                .iter()
                .any(|a| a.state == AttemptState::Lost && &*a.executor == "e1")
        );
        let e1 = status.executors.iter().find(|e| e.id == "e1").expect("e1");
        assert!(!e1.alive);
        assert_eq!(e1.lost_reason, "simulated crash");
        driver.stop("done").await;
    }

    #[tokio::test]
    async fn a_task_failing_everywhere_fails_the_stage() {
        let mut c = config();
        c.max_attempts = 2;
        let driver = Driver::start(c).await.expect("starts");
        let ex = driver.attach(reg("e0", "h", 2)).await.expect("e0");
        simulate(ex, None, |t| {
            if t.partition == 3 {
                pb::TaskState::Failed
            } else {
                pb::TaskState::Succeeded
            }
        });
        let job = driver.begin_job("test");
        let err = driver
            .run_stage(job, "map", tasks(5, "h"), |_, _| Bytes::new())
            .await
            .expect_err("fails");
        assert!(
            matches!(&err, CoreError::TaskFailed { attempts: 2, error, .. } if error == "simulated failure"),
            "{err}"
        );
        driver.end_job(job, Err(&err.to_string()));
        let (phase, message, _) = driver.phase();
        assert_eq!(phase, "FAILED");
        assert!(message.contains("simulated failure"), "{message}");
        assert_eq!(driver.status().stages[0].state, RunState::Failed);
        driver.stop("done").await;
    }
}
