//! Spindle's executor runtime: connects to the driver in the application master,
//! proves it holds the application secret, then runs the tasks the driver sends through
//! the application's [`TaskRunner`] and reports on them (status, answer, metrics) until
//! the driver says stop or goes away.
//!
//! It owns the executor's side of the protocol; the protocol's framing is
//! `spindle-core`'s, what a task computes is the `spindle` crate's, the container's
//! launch is the application master's.

mod config;
mod connect;
mod error;
mod session;

pub use config::ExecutorConfig;
pub use error::ExecutorError;

use connect::ConnectPolicy;

/// Why [`run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The driver sent `Shutdown`.
    Shutdown {
        /// The driver's reason.
        reason: String,
    },
    /// The connection to the driver ended (closed, reset, or unusable) without a
    /// `Shutdown`; running tasks were cancelled.
    DriverGone {
        /// What happened to the connection.
        detail: String,
    },
}

/// One task as the driver sent it, for a [`TaskRunner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    /// Unique within the application; a retry is a new attempt of the same id.
    pub task_id: u64,
    pub stage_id: u32,
    pub partition: u32,
    pub attempt: u32,
    /// What to run, as the application's engine encoded it.
    pub payload: Vec<u8>,
}

/// What a task that ran to the end produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TaskOutput {
    /// The engine-encoded result.
    pub result: Vec<u8>,
    pub input_bytes: u64,
    pub input_records: u64,
    pub output_records: u64,
}

/// Runs an application's own tasks (a user's binary built on the `spindle` crate).
/// Called on a blocking thread, at most `cores` at once.
pub trait TaskRunner: Send + Sync {
    /// Runs one task to the end; the error is the task's message to the driver.
    fn run(&self, task: TaskRequest) -> Result<TaskOutput, String>;
}

/// Connects to the driver (retrying for about 30 s), registers, and serves it until it
/// sends `Shutdown` or goes away, running its tasks with `runner`. Errors are failures
/// to get registered.
pub async fn run_tasks(
    config: ExecutorConfig,
    runner: std::sync::Arc<dyn TaskRunner>,
) -> Result<ExitReason, ExecutorError> {
    let policy = ConnectPolicy::default();
    config.validate()?;
    let mut stream = connect::connect(&config.driver, &policy).await?;
    let ack = connect::register(&mut stream, &config, &policy).await?;
    let exit = session::serve(stream, ack, &config, runner).await;
    match &exit {
        ExitReason::Shutdown { reason } => tracing::info!("the driver said stop: {reason}"),
        ExitReason::DriverGone { detail } => {
            tracing::warn!("lost the driver at {}: {detail}", config.driver)
        }
    }
    Ok(exit)
}
