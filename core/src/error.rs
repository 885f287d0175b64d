//! The crate's one error type.

/// Everything that can go wrong in the engine core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A file system operation failed; `path` names the file.
    #[error("{op} {path}: {message}")]
    Fs {
        /// What was being done (`reading`, `listing`, `renaming`, …).
        op: &'static str,
        /// The path or URI.
        path: String,
        /// The underlying cause.
        message: String,
    },
    /// The input does not exist or matches nothing.
    #[error("input {0} does not exist")]
    InputMissing(String),
    /// Bytes that should be an encoded task payload/result are not.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was decoded.
        what: &'static str,
        /// Why it is invalid.
        detail: String,
    },
    /// The driver↔executor connection failed or carried garbage.
    #[error("driver/executor transport: {0}")]
    Transport(String),
    /// The output already exists; nothing was written.
    #[error("output {0} already exists")]
    OutputExists(String),
    /// A task failed on every attempt.
    #[error("task {task} failed {attempts} times; last error: {error}")]
    TaskFailed {
        /// The task.
        task: u64,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        error: String,
    },
    /// No executor was there to run a stage's tasks.
    #[error("no executor available for {0:?}: none registered, or all were lost")]
    NoExecutors(std::time::Duration),
}
