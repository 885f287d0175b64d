//! The crate's one error type.

use std::path::PathBuf;

/// Everything that stops an executor from serving its driver.
///
/// Task failures are not here: they are reported to the driver as `TASK_STATE_FAILED`
/// and the executor carries on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// A variable the container environment must provide is unset or empty.
    #[error(
        "environment variable {0} is not set: is this running in a YARN container launched by Spindle's application master?"
    )]
    MissingEnv(&'static str),
    /// The credentials file does not hold a usable application secret.
    #[error("cannot read the application secret from {path}: {message}")]
    Credentials {
        /// The credentials file (`HADOOP_TOKEN_FILE_LOCATION`).
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A setting is missing or unusable.
    #[error("invalid executor configuration: {0}")]
    Config(String),
    /// The driver could not be reached within the connect deadline.
    #[error(
        "cannot connect to the driver at {driver} (gave up after {attempts} attempts in {elapsed_secs} s): {source}"
    )]
    Connect {
        /// The driver's `host:port`.
        driver: String,
        /// Connection attempts made.
        attempts: u32,
        /// Seconds spent trying.
        elapsed_secs: u64,
        /// The last attempt's error.
        #[source]
        source: std::io::Error,
    },
    /// The driver broke the registration exchange (closed, timed out, sent garbage).
    #[error("registering with the driver at {driver}: {message}")]
    Handshake {
        /// The driver's `host:port`.
        driver: String,
        /// What went wrong.
        message: String,
    },
    /// The driver answered the registration with `accepted = false`.
    #[error("the driver at {driver} refused this executor: {reason}")]
    Refused {
        /// The driver's `host:port`.
        driver: String,
        /// The driver's reason.
        reason: String,
    },
}
