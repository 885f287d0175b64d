//! A registered executor's life: one writer task owns the connection's write half (task
//! statuses from a bounded channel, heartbeats on a timer); the reader loop launches,
//! kills and stops tasks as the driver says, and ends on `Shutdown` or when the
//! connection goes away.
//!
//! Every task attempt sends at most one final status, and never `RUNNING` after it: a
//! status is only queued while the attempt is still in the registry, and whoever takes it
//! out (the attempt finishing, or a kill) is the one that reports its end.
//!
//! How tasks run: a task waits for one of `cores` semaphore permits, then runs whole in
//! `spawn_blocking` through the application's [`TaskRunner`] (synchronous code that
//! drives its own file-system calls). On the blocking pool it can never stall the
//! runtime's workers, so heartbeats and kills stay on time however busy the tasks are,
//! and at most `cores` blocking threads compute at once. A kill reports the attempt
//! KILLED at once; a task killed before it starts never starts, one already running
//! keeps its slot until it returns (a blocking thread cannot be aborted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use spindle_core::transport::{read_msg, write_msg};
use spindle_proto::spindle::{
    DriverMessage, ExecutorMessage, Heartbeat, KillTask, RegisterAck, TaskDescription, TaskMetrics,
    TaskState, TaskStatus, driver_message, executor_message,
};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use tracing::{debug, info, warn};

use crate::ExitReason;
use crate::config::ExecutorConfig;
use crate::connect::kind_name;
use crate::{TaskOutput, TaskRequest, TaskRunner};

/// Messages queued for the writer; senders wait when it is full.
const OUTBOX: usize = 64;
/// Longest a single message may take to send before the driver counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a shutdown waits for queued statuses to go out.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Heartbeat period when the driver does not say.
const DEFAULT_HEARTBEAT_MS: u64 = 1000;

/// A task attempt: `(task_id, attempt)`.
type Key = (u64, u32);

/// A launched attempt, queued or running.
struct Entry {
    /// Dropping this cancels the attempt's work.
    _cancel: oneshot::Sender<()>,
    abort: AbortHandle,
}

/// What the reader loop and the task wrappers share.
struct Shared {
    tasks: Mutex<HashMap<Key, Entry>>,
    /// Runs the application's tasks.
    runner: Arc<dyn TaskRunner>,
    slots: Arc<Semaphore>,
    /// Fires (is dropped) once the last launched attempt holds a slot or is gone: the
    /// next one asks for a slot only then, so slots go out in launch order.
    last_in_line: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Shared {
    fn tasks(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cancels every attempt; none reports again.
    fn cancel_all(&self) {
        for (_, entry) in self.tasks().drain() {
            entry.abort.abort();
        }
    }

    /// Task ids of the launched attempts, sorted, each once.
    fn running_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.tasks().keys().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Serves the driver on a registered connection until it says stop or goes away.
pub(crate) async fn serve(
    stream: TcpStream,
    ack: RegisterAck,
    config: &ExecutorConfig,
    runner: Arc<dyn TaskRunner>,
) -> ExitReason {
    let interval = Duration::from_millis(match ack.heartbeat_interval_ms {
        0 => DEFAULT_HEARTBEAT_MS,
        ms => ms,
    });
    let shared = Arc::new(Shared {
        tasks: Mutex::new(HashMap::new()),
        runner,
        slots: Arc::new(Semaphore::new(config.cores as usize)),
        last_in_line: Mutex::new(None),
    });
    let (mut reader, writer) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUTBOX);
    let mut writer = tokio::spawn(write_loop(
        writer,
        rx,
        shared.clone(),
        config.executor_id.clone(),
        interval,
    ));

    let exit = loop {
        let msg = tokio::select! {
            msg = read_msg::<_, DriverMessage>(&mut reader) => msg,
            done = &mut writer => {
                let detail = match done {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => "the writer stopped".to_string(),
                    Err(e) => format!("the writer failed: {e}"),
                };
                break ExitReason::DriverGone { detail };
            }
        };
        let kind = match msg {
            Ok(Some(DriverMessage { kind: Some(kind) })) => kind,
            Ok(Some(DriverMessage { kind: None })) => {
                debug!("ignoring a driver message of an unknown kind");
                continue;
            }
            Ok(None) => {
                break ExitReason::DriverGone {
                    detail: "the driver closed the connection".into(),
                };
            }
            Err(e) => {
                break ExitReason::DriverGone {
                    detail: e.to_string(),
                };
            }
        };
        match kind {
            driver_message::Kind::LaunchTask(task) => launch(&shared, &tx, task),
            driver_message::Kind::KillTask(kill) => kill_task(&shared, &tx, kill).await,
            driver_message::Kind::Shutdown(s) => {
                break ExitReason::Shutdown { reason: s.reason };
            }
            other @ (driver_message::Kind::RegisterAck(_) | driver_message::Kind::Challenge(_)) => {
                warn!(
                    "ignoring a {} from the driver after registration",
                    kind_name(&other)
                );
            }
        }
    };

    shared.cancel_all();
    match &exit {
        ExitReason::Shutdown { .. } => {
            // Let the statuses already queued reach the driver: the writer ends once the
            // last sender (ours and the aborted tasks') is gone and the queue is empty.
            drop(tx);
            if timeout(DRAIN_TIMEOUT, &mut writer).await.is_err() {
                writer.abort();
            }
        }
        ExitReason::DriverGone { .. } => writer.abort(),
    }
    exit
}

/// Sends queued messages and a heartbeat every `interval`; ends when every sender is
/// gone, or with the error that made the connection unusable.
async fn write_loop(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<ExecutorMessage>,
    shared: Arc<Shared>,
    executor_id: String,
    interval: Duration,
) -> Result<(), String> {
    let mut tick = interval_at(Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // The tick first: it is ready once per period, so a busy queue cannot starve it.
        let msg = tokio::select! {
            biased;
            _ = tick.tick() => ExecutorMessage {
                kind: Some(executor_message::Kind::Heartbeat(Heartbeat {
                    executor_id: executor_id.clone(),
                    running_task_ids: shared.running_ids(),
                    rss_bytes: rss_bytes().await,
                })),
            },
            msg = rx.recv() => match msg {
                Some(msg) => msg,
                None => return Ok(()),
            },
        };
        match timeout(WRITE_TIMEOUT, write_msg(&mut w, &msg)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                return Err(format!(
                    "sending to the driver took longer than {} s",
                    WRITE_TIMEOUT.as_secs()
                ));
            }
        }
    }
}

/// Registers an attempt and starts its wrapper (which waits for a slot).
fn launch(shared: &Arc<Shared>, tx: &mpsc::Sender<ExecutorMessage>, task: TaskDescription) {
    let key = (task.task_id, task.attempt);
    let mut tasks = shared.tasks();
    if tasks.contains_key(&key) {
        warn!(
            "ignoring a second launch of task {} attempt {}",
            key.0, key.1
        );
        return;
    }
    debug!(
        "task {} attempt {} (stage {}, partition {}) launched",
        task.task_id, task.attempt, task.stage_id, task.partition
    );
    let (cancel, cancelled) = oneshot::channel();
    let (my_turn_done, next_may_go) = oneshot::channel();
    let line = Line {
        wait_for: shared
            .last_in_line
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(next_may_go),
        then_signal: my_turn_done,
    };
    // Spawned while the registry is locked, so the wrapper always finds its entry.
    let handle: JoinHandle<()> = tokio::spawn(run_attempt(
        shared.clone(),
        tx.clone(),
        task,
        line,
        cancelled,
    ));
    tasks.insert(
        key,
        Entry {
            _cancel: cancel,
            abort: handle.abort_handle(),
        },
    );
}

/// Stops an attempt and reports it killed (unless it already ended).
async fn kill_task(shared: &Shared, tx: &mpsc::Sender<ExecutorMessage>, kill: KillTask) {
    let key = (kill.task_id, kill.attempt);
    let Some(entry) = shared.tasks().remove(&key) else {
        debug!(
            "kill of task {} attempt {}: not running here (already ended?)",
            key.0, key.1
        );
        return;
    };
    entry.abort.abort();
    drop(entry);
    info!("task {} attempt {} killed: {}", key.0, key.1, kill.reason);
    let status = status(key, TaskState::Killed);
    // An error means the writer is gone; the reader loop notices on its own.
    let _ = tx.send(status).await;
}

/// An attempt's place in the queue for slots.
struct Line {
    /// The previous attempt's `then_signal` (none for the first).
    wait_for: Option<oneshot::Receiver<()>>,
    /// Dropped once this attempt holds a slot (or is aborted).
    then_signal: oneshot::Sender<()>,
}

/// One attempt: wait for a slot, report RUNNING, run, report the end.
async fn run_attempt(
    shared: Arc<Shared>,
    tx: mpsc::Sender<ExecutorMessage>,
    task: TaskDescription,
    line: Line,
    cancelled: oneshot::Receiver<()>,
) {
    let key = (task.task_id, task.attempt);
    if let Some(previous) = line.wait_for {
        // Err (the sender dropped) is the signal; so is the predecessor being killed.
        let _ = previous.await;
    }
    let Ok(slot) = shared.slots.clone().acquire_owned().await else {
        return;
    };
    drop(line.then_signal);
    if !report(&shared, &tx, key, status(key, TaskState::Running), false).await {
        return;
    }
    let started = Instant::now();
    let work = shared.clone();
    // The slot goes with the work and comes back with its result: it is freed only once
    // the work has really stopped (not when a kill aborts this wrapper), and, for a task
    // that ran to the end, only after its final status is queued, so the driver never
    // sees more than `cores` attempts between RUNNING and their end.
    let joined = tokio::task::spawn_blocking(move || {
        let mut cancelled = cancelled;
        match cancelled.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => {}
            _ => return None,
        }
        let request = TaskRequest {
            task_id: task.task_id,
            stage_id: task.stage_id,
            partition: task.partition,
            attempt: task.attempt,
            payload: task.payload,
        };
        Some((work.runner.run(request), slot))
    })
    .await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (end, _slot) = match joined {
        Ok(Some((Ok(out), slot))) => {
            info!(
                "task {} attempt {} succeeded in {duration_ms} ms",
                key.0, key.1
            );
            (succeeded(key, out, duration_ms), Some(slot))
        }
        Ok(Some((Err(message), slot))) => {
            warn!("task {} attempt {} failed: {message}", key.0, key.1);
            (failed(key, message, duration_ms), Some(slot))
        }
        Ok(None) => return,
        Err(e) => {
            let message = match e.try_into_panic() {
                Ok(panic) => format!("the task panicked: {}", panic_message(&*panic)),
                Err(e) => format!("the task did not finish: {e}"),
            };
            warn!("task {} attempt {} failed: {message}", key.0, key.1);
            (failed(key, message, duration_ms), None)
        }
    };
    report(&shared, &tx, key, end, true).await;
}

/// Queues `msg` if the attempt is still registered (removing it when `last`); returns
/// whether it was.
async fn report(
    shared: &Shared,
    tx: &mpsc::Sender<ExecutorMessage>,
    key: Key,
    msg: ExecutorMessage,
    last: bool,
) -> bool {
    // Reserve first: the registry check and the enqueue then happen under one lock,
    // without awaiting, so a concurrent kill is either wholly before or wholly after.
    let Ok(permit) = tx.reserve().await else {
        return false;
    };
    let mut tasks = shared.tasks();
    let current = if last {
        tasks.remove(&key).is_some()
    } else {
        tasks.contains_key(&key)
    };
    if current {
        permit.send(msg);
    }
    current
}

fn status(key: Key, state: TaskState) -> ExecutorMessage {
    task_status(TaskStatus {
        task_id: key.0,
        attempt: key.1,
        state: state as i32,
        ..Default::default()
    })
}

fn succeeded(key: Key, out: TaskOutput, duration_ms: u64) -> ExecutorMessage {
    task_status(TaskStatus {
        task_id: key.0,
        attempt: key.1,
        state: TaskState::Succeeded as i32,
        result: out.result,
        error_message: String::new(),
        metrics: Some(TaskMetrics {
            input_bytes: out.input_bytes,
            input_records: out.input_records,
            output_records: out.output_records,
            duration_ms,
        }),
    })
}

fn failed(key: Key, message: String, duration_ms: u64) -> ExecutorMessage {
    task_status(TaskStatus {
        task_id: key.0,
        attempt: key.1,
        state: TaskState::Failed as i32,
        result: Vec::new(),
        error_message: message,
        metrics: Some(TaskMetrics {
            duration_ms,
            ..Default::default()
        }),
    })
}

fn task_status(status: TaskStatus) -> ExecutorMessage {
    ExecutorMessage {
        kind: Some(executor_message::Kind::TaskStatus(status)),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// The process's resident set size (0 when `/proc` does not say).
async fn rss_bytes() -> u64 {
    tokio::fs::read_to_string("/proc/self/status")
        .await
        .ok()
        .and_then(|s| parse_vm_rss(&s))
        .unwrap_or(0)
}

/// `VmRSS` of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib = value
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_parsed_in_bytes() {
        let status =
            "Name:\tspindle-executor\nVmPeak:\t  20000 kB\nVmRSS:\t    1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\tlots kB\n"), None);
    }

    #[tokio::test]
    async fn own_rss_is_known_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(rss_bytes().await > 0);
        }
    }
}
