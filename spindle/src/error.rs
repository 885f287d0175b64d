//! The crate's one error type.

/// What can go wrong in a Spindle application.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The executor runs another build than the driver.
    #[error(
        "the executor runs a different binary than the driver (driver {driver}…, executor \
         {executor}…): submit one build and let Spindle run it everywhere"
    )]
    BinaryMismatch { driver: String, executor: String },
    /// This process's own executable could not be hashed.
    #[error("cannot fingerprint this executable: {0}")]
    Fingerprint(String),
    /// Bytes that should hold records or a task could not be encoded or decoded.
    #[error("cannot {op}: {message}")]
    Codec { op: &'static str, message: String },
    /// A local file (spill, shuffle output) could not be used.
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file-system operation on the input or output failed.
    #[error(transparent)]
    Fs(#[from] spindle_core::error::CoreError),
    /// A task failed; `message` is its own error or panic message.
    #[error("task {partition} of stage {stage} ({what}) failed: {message}")]
    Task {
        stage: u32,
        partition: usize,
        what: String,
        message: String,
    },
    /// A stage could not finish on the cluster (tasks out of attempts, no executors).
    #[error("{what}: {message}")]
    Stage { what: String, message: String },
    /// The results of an action are larger than the driver accepts.
    #[error(
        "the results of {action} are {size} bytes, over the limit of {limit} bytes \
         (spindle.driver.max-result-size): save them with save_as_text_file, or raise the limit"
    )]
    ResultTooLarge {
        action: String,
        size: u64,
        limit: u64,
    },
    /// An action that needs at least one element got none.
    #[error("{0} of an empty dataset")]
    Empty(&'static str),
    /// The output of `save_as_text_file` is already there.
    #[error("output {0} already exists: choose another path or remove it first")]
    OutputExists(String),
    /// A setting or argument is not valid.
    #[error("invalid {what}: {message}")]
    Invalid { what: String, message: String },
    /// A bug in Spindle: a state that should not be reachable.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl std::fmt::Display,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            op,
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// The result of Spindle's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
