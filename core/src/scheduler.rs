//! Which task runs where: a pure state machine, fed offers of free executor slots,
//! task outcomes and executor losses. Locality first (delay scheduling: a task waits
//! up to `locality_wait` for an executor on a host holding its data), then anywhere;
//! failed attempts are retried elsewhere up to `max_attempts`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde::{Deserialize, Serialize};

/// A task's identity within the application.
pub type TaskId = u64;

/// How close a launched task is to its data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Locality {
    /// On a host holding the data.
    #[serde(rename = "NODE_LOCAL")]
    NodeLocal,
    /// The task has no preference (or none that can be met).
    #[default]
    #[serde(rename = "NO_PREF")]
    NoPreference,
    /// Elsewhere, after waiting.
    #[serde(rename = "ANY")]
    Any,
}

impl Locality {
    /// Spark's names for the levels.
    pub fn as_str(self) -> &'static str {
        match self {
            Locality::NodeLocal => "NODE_LOCAL",
            Locality::NoPreference => "NO_PREF",
            Locality::Any => "ANY",
        }
    }
}

/// A launch decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The task.
    pub task: TaskId,
    /// Its attempt number, from 0.
    pub attempt: u32,
    /// How local it is.
    pub locality: Locality,
}

/// Why a job cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExhausted {
    /// The task that failed too often.
    pub task: TaskId,
    /// How many attempts it had.
    pub attempts: u32,
    /// The last error.
    pub error: String,
}

#[derive(Debug)]
struct TaskState {
    id: TaskId,
    hosts: Vec<String>,
    attempts: u32,
    /// Executors an attempt failed on: avoided while others can run it.
    failed_on: HashSet<String>,
    running: Option<(Arc<str>, u32)>,
    done: bool,
    pending: bool,
}

/// The tasks by id: a plain vector when the ids are consecutive (as the driver makes
/// them), so lookups are an index and launch order walks memory in order.
#[derive(Debug)]
struct TaskTable {
    states: Vec<TaskState>,
    /// `Some(first id)` when ids are `first..first + len`.
    base: Option<TaskId>,
    /// Otherwise: id → position.
    index: HashMap<TaskId, usize>,
}

impl TaskTable {
    fn new(states: Vec<TaskState>) -> Self {
        let first = states.first().map(|t| t.id).unwrap_or(0);
        let consecutive = states
            .iter()
            .enumerate()
            .all(|(i, t)| t.id.checked_sub(first) == Some(i as u64));
        let index = if consecutive {
            HashMap::new()
        } else {
            states.iter().enumerate().map(|(i, t)| (t.id, i)).collect()
        };
        TaskTable {
            states,
            base: consecutive.then_some(first),
            index,
        }
    }

    fn position(&self, id: TaskId) -> Option<usize> {
        match self.base {
            Some(first) => id
                .checked_sub(first)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < self.states.len()),
            None => self.index.get(&id).copied(),
        }
    }

    fn get(&self, id: &TaskId) -> Option<&TaskState> {
        self.position(*id).and_then(|i| self.states.get(i))
    }

    fn get_mut(&mut self, id: &TaskId) -> Option<&mut TaskState> {
        self.position(*id).and_then(|i| self.states.get_mut(i))
    }

    fn len(&self) -> usize {
        self.states.len()
    }

    fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// How far past the head of a queue an offer looks for a task it may run; keeps offers
/// O(1) however many tasks wait.
const SCAN_LIMIT: usize = 64;

/// The scheduler of one stage's tasks (a task set).
#[derive(Debug)]
pub struct TaskSetScheduler {
    tasks: TaskTable,
    /// Pending tasks in launch order (entries no longer pending are skipped lazily).
    pending: VecDeque<TaskId>,
    /// Pending tasks by preferred host (lazily cleaned likewise).
    by_host: HashMap<String, VecDeque<TaskId>>,
    pending_count: usize,
    running_count: usize,
    max_attempts: u32,
    locality_wait: Duration,
    last_local_launch: Instant,
    done: usize,
}

impl TaskSetScheduler {
    /// Tasks with their preferred hosts, in launch order.
    pub fn new(
        tasks: Vec<(TaskId, Vec<String>)>,
        max_attempts: u32,
        locality_wait: Duration,
        now: Instant,
    ) -> Self {
        let pending: VecDeque<TaskId> = tasks.iter().map(|(id, _)| *id).collect();
        let mut by_host: HashMap<String, VecDeque<TaskId>> = HashMap::new();
        for (id, hosts) in &tasks {
            for h in hosts {
                by_host.entry(h.clone()).or_default().push_back(*id);
            }
        }
        TaskSetScheduler {
            pending_count: pending.len(),
            running_count: 0,
            by_host,
            tasks: TaskTable::new(
                tasks
                    .into_iter()
                    .map(|(id, hosts)| TaskState {
                        id,
                        hosts,
                        attempts: 0,
                        failed_on: HashSet::new(),
                        running: None,
                        done: false,
                        pending: true,
                    })
                    .collect(),
            ),
            pending,
            max_attempts: max_attempts.max(1),
            locality_wait,
            last_local_launch: now,
            done: 0,
        }
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when there are no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tasks finished.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Tasks running now.
    pub fn running(&self) -> usize {
        self.running_count
    }

    /// True when every task succeeded.
    pub fn is_complete(&self) -> bool {
        self.done == self.tasks.len()
    }

    /// True when tasks wait for a slot.
    pub fn has_pending(&self) -> bool {
        self.pending_count > 0
    }

    /// Offers one free slot of `executor` on `host`. `live_hosts` are the hosts with a
    /// live executor: a task whose data is on none of them does not wait for locality.
    pub fn offer(
        &mut self,
        executor: impl Into<Arc<str>> + AsRef<str>,
        host: &str,
        live_hosts: &std::collections::HashSet<String>,
        live_executors: usize,
        now: Instant,
    ) -> Option<Launch> {
        if self.pending_count == 0 {
            return None;
        }
        let name = executor.as_ref();
        let tasks = &self.tasks;
        let runnable = |id: &TaskId| {
            tasks.get(id).is_some_and(|t| {
                t.pending && !(t.failed_on.contains(name) && t.failed_on.len() < live_executors)
            })
        };
        let mut chosen: Option<(TaskId, Locality)> = None;
        if let Some(queue) = self.by_host.get_mut(host) {
            while queue
                .front()
                .is_some_and(|id| !tasks.get(id).is_some_and(|t| t.pending))
            {
                queue.pop_front();
            }
            if let Some(id) = queue.iter().take(SCAN_LIMIT).find(|id| runnable(id)) {
                chosen = Some((*id, Locality::NodeLocal));
            }
        }
        if chosen.is_none() {
            while self
                .pending
                .front()
                .is_some_and(|id| !tasks.get(id).is_some_and(|t| t.pending))
            {
                self.pending.pop_front();
            }
            let waited_enough = now.duration_since(self.last_local_launch) >= self.locality_wait;
            for id in self.pending.iter().take(SCAN_LIMIT) {
                if !runnable(id) {
                    continue;
                }
                let Some(t) = tasks.get(id) else { continue };
                if t.hosts.is_empty() || !t.hosts.iter().any(|h| live_hosts.contains(h)) {
                    chosen = Some((*id, Locality::NoPreference));
                    break;
                }
                if waited_enough {
                    chosen = Some((*id, Locality::Any));
                    break;
                }
            }
        }
        let (id, locality) = chosen?;
        let t = self.tasks.get_mut(&id)?;
        t.pending = false;
        self.pending_count -= 1;
        let attempt = t.attempts;
        t.attempts += 1;
        t.running = Some((executor.into(), attempt));
        self.running_count += 1;
        if locality == Locality::NodeLocal {
            self.last_local_launch = now;
        }
        Some(Launch {
            task: id,
            attempt,
            locality,
        })
    }

    fn requeue(&mut self, id: TaskId) {
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        if t.pending || t.done {
            return;
        }
        t.pending = true;
        self.pending_count += 1;
        self.pending.push_front(id);
        for h in &t.hosts {
            self.by_host.entry(h.clone()).or_default().push_front(id);
        }
    }

    /// Records a success; false when it is stale (not the running attempt, or done).
    pub fn succeeded(&mut self, task: TaskId, attempt: u32) -> bool {
        match self.tasks.get_mut(&task) {
            Some(t) if !t.done && t.running.as_ref().is_some_and(|(_, a)| *a == attempt) => {
                t.running = None;
                t.done = true;
                self.done += 1;
                self.running_count -= 1;
                true
            }
            _ => false,
        }
    }

    /// Records a failure: the task is retried, or the job must stop.
    pub fn failed(&mut self, task: TaskId, attempt: u32, error: &str) -> Result<(), TaskExhausted> {
        let Some(t) = self.tasks.get_mut(&task) else {
            return Ok(());
        };
        let Some((executor, running)) = t.running.clone() else {
            return Ok(());
        };
        if running != attempt || t.done {
            return Ok(());
        }
        t.running = None;
        self.running_count -= 1;
        t.failed_on.insert(executor.to_string());
        if t.attempts >= self.max_attempts {
            return Err(TaskExhausted {
                task,
                attempts: t.attempts,
                error: error.to_string(),
            });
        }
        self.requeue(task);
        Ok(())
    }

    /// An executor is gone: its running tasks go back to the queue without counting as
    /// a failed attempt (the task did nothing wrong). Returns the attempts it was
    /// running: (task, attempt).
    pub fn executor_lost(&mut self, executor: &str) -> Vec<(TaskId, u32)> {
        let mut lost = Vec::new();
        for t in self.tasks.states.iter_mut() {
            if let Some((e, attempt)) = &t.running
                && &**e == executor
            {
                lost.push((t.id, *attempt));
                t.running = None;
                t.attempts = t.attempts.saturating_sub(1);
                self.running_count -= 1;
            }
        }
        lost.sort_unstable();
        for (id, _) in lost.iter().rev() {
            self.requeue(*id);
        }
        lost
    }

    /// The running attempt of `task`, if any: (executor, attempt).
    pub fn running_attempt(&self, task: TaskId) -> Option<(&str, u32)> {
        self.tasks
            .get(&task)
            .and_then(|t| t.running.as_ref())
            .map(|(e, a)| (&**e, *a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> std::collections::HashSet<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn set(tasks: &[(u64, &[&str])], wait_ms: u64, t0: Instant) -> TaskSetScheduler {
        TaskSetScheduler::new(
            tasks
                .iter()
                .map(|(id, h)| (*id, h.iter().map(|s| s.to_string()).collect()))
                .collect(),
            4,
            Duration::from_millis(wait_ms),
            t0,
        )
    }

    #[test]
    fn node_local_first_then_any_after_the_wait() {
        let t0 = Instant::now();
        let live = hosts(&["a", "b"]);
        let mut s = set(&[(1, &["a"]), (2, &["a"])], 3000, t0);
        // b has no local task and the wait has not passed: nothing.
        assert_eq!(s.offer("eb", "b", &live, 2, t0), None);
        let l = s.offer("ea", "a", &live, 2, t0).expect("local launch");
        assert_eq!((l.task, l.locality), (1, Locality::NodeLocal));
        let later = t0 + Duration::from_millis(3001);
        let l = s.offer("eb", "b", &live, 2, later).expect("any after wait");
        assert_eq!((l.task, l.locality), (2, Locality::Any));
    }

    #[test]
    fn unreachable_preferences_do_not_wait() {
        let t0 = Instant::now();
        let mut s = set(&[(1, &["z"]), (2, &[])], 3000, t0);
        let live = hosts(&["a"]);
        let l1 = s.offer("ea", "a", &live, 1, t0).expect("launch");
        let l2 = s.offer("ea", "a", &live, 1, t0).expect("launch");
        assert_eq!(l1.locality, Locality::NoPreference);
        assert_eq!(l2.locality, Locality::NoPreference);
        assert!(!s.has_pending());
    }

    #[test]
    fn failures_retry_elsewhere_until_exhausted() {
        let t0 = Instant::now();
        let live = hosts(&["a", "b"]);
        let mut s = set(&[(7, &[])], 0, t0);
        let l = s.offer("e1", "a", &live, 2, t0).expect("launch");
        s.failed(7, l.attempt, "boom").expect("retry");
        // Not again on e1 while e2 exists.
        assert_eq!(s.offer("e1", "a", &live, 2, t0), None);
        let l = s.offer("e2", "b", &live, 2, t0).expect("elsewhere");
        assert_eq!(l.attempt, 1);
        s.failed(7, 1, "boom").expect("retry");
        // Failed on every executor: any may run it now.
        let l = s.offer("e1", "a", &live, 2, t0).expect("launch");
        s.failed(7, l.attempt, "boom").expect("retry");
        let l = s.offer("e2", "b", &live, 2, t0).expect("launch");
        assert_eq!(l.attempt, 3);
        let err = s.failed(7, 3, "last").expect_err("exhausted after 4");
        assert_eq!(err.attempts, 4);
        assert_eq!(err.error, "last");
    }

    #[test]
    fn executor_loss_requeues_without_counting() {
        let t0 = Instant::now();
        let live = hosts(&["a"]);
        let mut s = set(&[(1, &[]), (2, &[])], 0, t0);
        let a = s.offer("e1", "a", &live, 1, t0).expect("launch");
        let b = s.offer("e1", "a", &live, 1, t0).expect("launch");
        assert_eq!(s.running(), 2);
        assert_eq!(
            s.executor_lost("e1"),
            vec![(a.task, a.attempt), (b.task, b.attempt)]
        );
        assert_eq!(s.running(), 0);
        let again = s.offer("e2", "a", &live, 1, t0).expect("relaunch");
        assert_eq!(again.attempt, 0);
        // A late report from the lost attempt is ignored.
        assert!(!s.succeeded(b.task, 5));
    }

    #[test]
    fn stale_results_are_ignored_and_completion_counts() {
        let t0 = Instant::now();
        let live = hosts(&["a"]);
        let mut s = set(&[(1, &[])], 0, t0);
        let l = s.offer("e", "a", &live, 1, t0).expect("launch");
        assert!(s.succeeded(1, l.attempt));
        assert!(!s.succeeded(1, l.attempt));
        assert!(s.is_complete());
        assert_eq!(s.done(), 1);
    }

    /// Scale: 1,000,000 tasks through the state machine against 10,000 fake executors.
    #[test]
    fn a_million_tasks_drain() {
        let t0 = Instant::now();
        let n = 1_000_000u64;
        let mut s = TaskSetScheduler::new(
            (0..n).map(|i| (i, Vec::new())).collect(),
            4,
            Duration::ZERO,
            t0,
        );
        let live = hosts(&["h"]);
        let mut launched = 0u64;
        while let Some(l) = s.offer(
            format!("e{}", launched % 10_000).as_str(),
            "h",
            &live,
            10_000,
            t0,
        ) {
            assert!(s.succeeded(l.task, l.attempt));
            launched += 1;
        }
        assert_eq!(launched, n);
        assert!(s.is_complete());
    }
}
