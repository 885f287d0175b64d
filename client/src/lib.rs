//! The `spindle` client: checks a request against the cluster, stages the application
//! to HDFS, submits its application master to YARN through the RM's REST API and follows
//! it; shows, lists and kills applications; runs jobs in-process (`spindle run`).
//!
//! It owns the command line ([`cli`]), the RM REST calls ([`rm`]), submission
//! ([`submit`]), following ([`follow`]), the tables it prints ([`report`]) and the
//! containers' logs, live or aggregated ([`logs`], [`aggregated_logs`]). It does
//! not run jobs: the AM (`spindle-am`) and executors do.

pub mod aggregated_logs;
pub mod cli;
pub mod follow;
pub mod history;
pub mod keycache;
pub mod local;
pub mod logs;
pub mod report;
pub mod rm;
pub mod shell;
pub mod submit;

use std::path::PathBuf;

pub use cli::{Cli, Command, OutputFormat};
pub use rm::{AppReport, RmClient};

/// Exit code: the request was done (for `submit`: FINISHED and SUCCEEDED).
pub const EXIT_OK: i32 = 0;
/// Exit code: the application failed or was killed, or the cluster could not be used.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the request is invalid or names what is not there; nothing was submitted.
pub const EXIT_INVALID: i32 = 2;
/// Exit code: stopped following (timeout or Ctrl-C); the application keeps running.
pub const EXIT_STOPPED_FOLLOWING: i32 = 3;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Hadoop configuration or Spindle settings are missing or invalid.
    #[error(transparent)]
    Conf(#[from] spindle_conf::ConfError),
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// Checks before submission failed; nothing was staged or submitted.
    #[error("cannot submit, nothing was staged or submitted:{}", list(.0))]
    Checks(Vec<String>),
    /// The RM knows no such application.
    #[error("application {id} is not known to the ResourceManager at {rm}")]
    AppNotFound {
        /// The id asked for.
        id: String,
        /// The RM's address.
        rm: String,
    },
    /// An HTTP call got no answer.
    #[error("{what}: no answer from {url}: {message}")]
    Http {
        /// What was being done.
        what: String,
        /// The URL called.
        url: String,
        /// Why.
        message: String,
    },
    /// The RM answered with an error.
    #[error("{what}: the ResourceManager answered {status} for {url}: {message}")]
    Rm {
        /// What was being done.
        what: String,
        /// The URL called.
        url: String,
        /// HTTP status.
        status: u16,
        /// The RM's message.
        message: String,
    },
    /// A file system operation failed.
    #[error("{what}: {source}")]
    Fs {
        /// What was being done, with the paths.
        what: String,
        /// The cause.
        #[source]
        source: spindle_core::CoreError,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A job run by `spindle run` failed (it said why on standard error).
    #[error("the local {job} failed ({status}); its error is above")]
    LocalRunFailed {
        /// The built-in job.
        job: String,
        /// How its process ended.
        status: String,
    },
    /// The application ended other than FINISHED/SUCCEEDED.
    #[error("application {id} ended {state}/{final_status}{}", diagnostics_suffix(.diagnostics))]
    AppFailed {
        /// The application.
        id: String,
        /// YARN state.
        state: String,
        /// Final status.
        final_status: String,
        /// The RM's diagnostics.
        diagnostics: String,
    },
    /// The client stopped following; the application was left running.
    #[error(
        "stopped following {id} ({reason}); it keeps running: `spindle status {id}` shows it, `spindle kill {id}` stops it"
    )]
    StoppedFollowing {
        /// The application.
        id: String,
        /// Timeout or interrupt.
        reason: String,
    },
    /// The client was interrupted before the application was submitted.
    #[error("interrupted {0}; nothing was submitted")]
    Interrupted(String),
    /// An aggregated log file is not in YARN's TFile log format, or is damaged.
    #[error("{path} is not a readable YARN aggregated log file: {detail}")]
    MalformedLog {
        /// The file.
        path: String,
        /// What is wrong, and where.
        detail: String,
    },
    /// An application's logs cannot be shown (yet): none written, being aggregated,
    /// aggregation disabled.
    #[error("no logs to show for {id}: {reason}")]
    LogsUnavailable {
        /// The application.
        id: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Neither the RM nor the aggregated logs know the application.
    #[error(
        "application {id} is not known to the ResourceManager at {rm} and has no aggregated logs under {looked_in}"
    )]
    UnknownApp {
        /// The id asked for.
        id: String,
        /// The RM's address.
        rm: String,
        /// The aggregated logs' root directory.
        looked_in: String,
    },
    /// A killed application did not reach KILLED in time.
    #[error("application {id} is still {state} {secs} s after the kill request")]
    KillTimeout {
        /// The application.
        id: String,
        /// Its last state.
        state: String,
        /// How long was waited.
        secs: u64,
    },
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| format!("\n  - {i}")).collect()
}

fn diagnostics_suffix(d: &str) -> String {
    if d.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", d.trim())
    }
}

impl ClientError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Conf(_)
            | ClientError::Usage(_)
            | ClientError::Checks(_)
            | ClientError::AppNotFound { .. }
            | ClientError::UnknownApp { .. } => EXIT_INVALID,
            ClientError::StoppedFollowing { .. } => EXIT_STOPPED_FOLLOWING,
            ClientError::Interrupted(_) => 130,
            ClientError::Http { .. }
            | ClientError::Rm { .. }
            | ClientError::Fs { .. }
            | ClientError::Io { .. }
            | ClientError::AppFailed { .. }
            | ClientError::LocalRunFailed { .. }
            | ClientError::KillTimeout { .. }
            | ClientError::MalformedLog { .. }
            | ClientError::LogsUnavailable { .. } => EXIT_FAILED,
        }
    }
}

/// Writes `text` to stdout and flushes it (so the application id shows before the
/// progress does, even through a pipe). A closed stdout (`| head -1`) is not worth
/// failing for: the application is already submitted, following goes on.
pub(crate) fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The Hadoop user: `HADOOP_USER_NAME`, else the login name (`USER`, `LOGNAME`, then
/// the account of this process, as Hadoop's own client falls back to).
pub fn hadoop_user() -> Result<String, ClientError> {
    ["HADOOP_USER_NAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .or_else(|| whoami::username().ok().filter(|u| !u.trim().is_empty()))
        .ok_or_else(|| {
            ClientError::Usage("no user name: set HADOOP_USER_NAME (or USER)".to_string())
        })
}

/// Runs one command; output goes to stdout, progress and notes to stderr.
pub async fn run(cli: Cli) -> Result<(), ClientError> {
    match cli.command {
        Command::Submit(args) => submit::run(*args).await,
        Command::Status { app_id, output } => report::status(&app_id, output).await,
        Command::List { state, all, output } => report::list(&state, all, output).await,
        Command::Kill {
            app_id,
            timeout,
            output,
        } => report::kill(&app_id, timeout, output).await,
        Command::Logs(args) => logs::run(&args).await,
        Command::History(args) => history::run(&args).await,
        Command::Run(args) => {
            local::run(local::LocalRun {
                master: args.master,
                job: args.job,
                input: args.input,
                output: args.output,
                job_args: args.job_args,
                reducers: args.reducers,
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(ClientError::Checks(vec!["x".into()]).exit_code(), 2);
        assert_eq!(
            ClientError::AppNotFound {
                id: "a".into(),
                rm: "r".into()
            }
            .exit_code(),
            2
        );
        assert_eq!(
            ClientError::StoppedFollowing {
                id: "a".into(),
                reason: "r".into()
            }
            .exit_code(),
            3
        );
        let failed = ClientError::AppFailed {
            id: "application_1_1".into(),
            state: "FAILED".into(),
            final_status: "FAILED".into(),
            diagnostics: " AM exited 1 ".into(),
        };
        assert_eq!(failed.exit_code(), 1);
        assert_eq!(
            failed.to_string(),
            "application application_1_1 ended FAILED/FAILED: AM exited 1"
        );
    }

    #[test]
    fn checks_list_each_failure() {
        let e = ClientError::Checks(vec!["input a does not exist".into(), "queue q".into()]);
        assert_eq!(
            e.to_string(),
            "cannot submit, nothing was staged or submitted:\n  - input a does not exist\n  - queue q"
        );
    }
}
