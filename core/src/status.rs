//! What the application is doing, as its UI, JSON API and history show it: jobs, their
//! stages, every task attempt (where, how local, how long, how many bytes, why it
//! failed), the executors and the environment.
//!
//! The driver keeps one [`AppStatus`] up to date while it runs; the AM serves it live and
//! writes it to HDFS when the application ends, and `spindle history` serves the same
//! pages from that file. Plain serde data, so both sides agree on one format.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use crate::scheduler::Locality;

/// Version of the history format; bumped when fields change meaning.
pub const HISTORY_FORMAT: u32 = 1;

/// The whole application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppStatus {
    /// [`HISTORY_FORMAT`] of the writer.
    #[serde(default)]
    pub format: u32,
    /// YARN application id (or `local-…` in local mode).
    #[serde(default)]
    pub app_id: String,
    /// The application's name.
    #[serde(default)]
    pub app_name: String,
    /// Who runs it.
    #[serde(default)]
    pub user: String,
    /// Where it is.
    #[serde(default)]
    pub state: RunState,
    /// The error, or the outcome's summary.
    #[serde(default)]
    pub message: String,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub started_ms: u64,
    /// When it ended.
    #[serde(default)]
    pub ended_ms: Option<u64>,
    /// Jobs in submission order.
    #[serde(default)]
    pub jobs: Vec<JobStatus>,
    /// Stages in submission order.
    #[serde(default)]
    pub stages: Vec<StageStatus>,
    /// Every executor that registered.
    #[serde(default)]
    pub executors: Vec<ExecutorInfo>,
    /// Named sections of (key, value): settings, job arguments, environment.
    #[serde(default)]
    pub environment: Vec<EnvSection>,
}

/// Where an application, a job or a stage is; written as Spark writes it
/// (`RUNNING`, `SUCCEEDED`, …) in the JSON API and the history files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    /// Started, not ended.
    #[default]
    Running,
    /// Ended well.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Stopped from outside (`spindle kill`, YARN).
    Killed,
}

impl RunState {
    /// `RUNNING`, `SUCCEEDED`, `FAILED` or `KILLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "RUNNING",
            RunState::Succeeded => "SUCCEEDED",
            RunState::Failed => "FAILED",
            RunState::Killed => "KILLED",
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One section of the environment page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvSection {
    /// Its title.
    pub title: String,
    /// Keys and values, in display order.
    pub entries: Vec<(String, String)>,
}

/// A job: one action, run as stages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// Job id, from 0.
    pub id: u32,
    /// What it computes, e.g. `wordcount hdfs://…/in → hdfs://…/out`.
    pub description: String,
    /// Where it is.
    pub state: RunState,
    /// The error when it failed.
    #[serde(default)]
    pub error: String,
    /// When it was submitted.
    pub submitted_ms: u64,
    /// When it ended.
    #[serde(default)]
    pub completed_ms: Option<u64>,
    /// Its stages.
    pub stage_ids: Vec<u32>,
}

/// A stage: a set of tasks over the partitions of one step of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageStatus {
    /// Stage id, unique in the application.
    pub id: u32,
    /// The job it belongs to.
    pub job_id: u32,
    /// `map`, `reduce`, …
    pub name: String,
    /// Where it is.
    pub state: RunState,
    /// When it started.
    pub submitted_ms: u64,
    /// When it ended.
    #[serde(default)]
    pub completed_ms: Option<u64>,
    /// Tasks in the stage.
    pub total: usize,
    /// Tasks finished.
    pub done: usize,
    /// Tasks running now.
    pub running: usize,
    /// Attempts that failed.
    pub failed: usize,
    /// Bytes read by its finished tasks.
    pub input_bytes: u64,
    /// Every attempt launched, in launch order.
    pub attempts: Vec<TaskAttempt>,
}

/// One attempt of one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskAttempt {
    /// The task.
    pub task_id: u64,
    /// The partition it computes.
    pub partition: u32,
    /// Attempt number, from 0.
    pub attempt: u32,
    /// Where it ran.
    pub executor: Arc<str>,
    /// That executor's host.
    pub host: Arc<str>,
    /// How close to its data it ran.
    pub locality: Locality,
    /// Where it is now.
    pub state: AttemptState,
    /// When it was launched.
    pub launched_ms: u64,
    /// How long it ran, once finished.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Bytes it read.
    #[serde(default)]
    pub input_bytes: u64,
    /// Why it failed.
    #[serde(default)]
    pub error: String,
}

/// Where a task attempt is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptState {
    /// Launched, not finished.
    #[default]
    Running,
    /// Finished well.
    Succeeded,
    /// Failed (retried elsewhere while attempts remain).
    Failed,
    /// Its executor went away; the task was requeued.
    Lost,
}

impl AttemptState {
    /// As the JSON API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Running => "RUNNING",
            AttemptState::Succeeded => "SUCCEEDED",
            AttemptState::Failed => "FAILED",
            AttemptState::Lost => "LOST",
        }
    }
}

/// A registered executor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The most resident memory any heartbeat reported.
    #[serde(default)]
    pub peak_rss_bytes: u64,
    /// Bytes of cached partitions it holds.
    #[serde(default)]
    pub cache_bytes: u64,
    /// Tasks finished on it.
    pub tasks_done: u64,
    /// Tasks failed on it.
    #[serde(default)]
    pub tasks_failed: u64,
    /// Whether it is still connected.
    pub alive: bool,
    /// Why it went away.
    #[serde(default)]
    pub lost_reason: String,
    /// Where its logs are (the NodeManager's container log page), when known.
    #[serde(default)]
    pub logs_url: String,
}

impl AppStatus {
    /// Overall progress 0..1: finished tasks over all tasks of the stages so far.
    pub fn progress(&self) -> f32 {
        if self.state == RunState::Succeeded {
            return 1.0;
        }
        let total: usize = self.stages.iter().map(|s| s.total).sum();
        let done: usize = self.stages.iter().map(|s| s.done).sum();
        if total == 0 {
            0.0
        } else {
            done as f32 / total as f32 * 0.99
        }
    }

    /// The stage with this id.
    pub fn stage(&self, id: u32) -> Option<&StageStatus> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The job with this id.
    pub fn job(&self, id: u32) -> Option<&JobStatus> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// A copy without task attempts (they can be millions): for overview pages.
    pub fn summary(&self) -> AppStatus {
        AppStatus {
            format: self.format,
            app_id: self.app_id.clone(),
            app_name: self.app_name.clone(),
            user: self.user.clone(),
            state: self.state,
            message: self.message.clone(),
            started_ms: self.started_ms,
            ended_ms: self.ended_ms,
            jobs: self.jobs.clone(),
            stages: self
                .stages
                .iter()
                .map(|s| StageStatus {
                    attempts: Vec::new(),
                    ..s.clone()
                })
                .collect(),
            executors: self.executors.clone(),
            environment: self.environment.clone(),
        }
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(id: u32, total: usize, done: usize) -> StageStatus {
        StageStatus {
            id,
            total,
            done,
            ..Default::default()
        }
    }

    #[test]
    fn progress_weighs_tasks_and_ends_at_one() {
        let mut a = AppStatus::default();
        assert_eq!(a.progress(), 0.0);
        a.stages = vec![stage(0, 3, 3), stage(1, 1, 0)];
        assert!((a.progress() - 0.75 * 0.99).abs() < 1e-6);
        a.state = RunState::Succeeded;
        assert_eq!(a.progress(), 1.0);
    }

    #[test]
    fn history_round_trips_and_tolerates_missing_fields() {
        let mut a = AppStatus {
            format: HISTORY_FORMAT,
            app_id: "application_1_0001".into(),
            state: RunState::Succeeded,
            ..Default::default()
        };
        let mut s = stage(0, 1, 1);
        s.attempts.push(TaskAttempt {
            task_id: 7,
            executor: "e1".into(),
            host: "h".into(),
            locality: Locality::NodeLocal,
            state: AttemptState::Succeeded,
            duration_ms: Some(12),
            ..Default::default()
        });
        a.stages.push(s);
        let json = serde_json::to_string(&a).expect("serializes");
        let back: AppStatus = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, a);
        assert_eq!(back.summary().stages[0].attempts.len(), 0);
        assert_eq!(back.stage(0).map(|s| s.attempts.len()), Some(1));
        let old: AppStatus = serde_json::from_str(r#"{"app_id":"x"}"#).expect("lenient");
        assert_eq!(old.app_id, "x");
        assert!(serde_json::from_str::<AppStatus>(r#"{"jobs": 3}"#).is_err());
        assert!(json.contains(r#""locality":"NODE_LOCAL""#), "{json}");
        assert!(json.contains(r#""state":"SUCCEEDED""#), "{json}");
    }
}
