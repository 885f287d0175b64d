//! `spindle-executor`: the process the application master launches in each YARN
//! container. Parses the command line, reads the container's environment, runs the
//! executor, and turns the outcome into an exit code.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use spindle_executor::{ExecutorConfig, ExitReason};
use tracing_subscriber::EnvFilter;

/// Spindle executor: runs a Spark-style job's tasks in a YARN container for the driver.
///
/// Started by Spindle's application master, not by hand. Besides its flags it reads the
/// container's environment: CONTAINER_ID, NM_HOST, HADOOP_TOKEN_FILE_LOCATION (the
/// application secret), HADOOP_USER_NAME (else USER), SPINDLE_DEFAULT_FS (else
/// fs.defaultFS from HADOOP_CONF_DIR). Logs go to stderr, filtered by RUST_LOG
/// (default: info).
///
/// Exit status: 0 when the driver said shut down, 2 when the driver went away without
/// saying so, 1 on any other error (bad flags and environment included).
#[derive(Debug, Parser)]
#[command(name = "spindle-executor", version)]
struct Args {
    /// The driver's executor endpoint.
    #[arg(long, value_name = "HOST:PORT")]
    driver: String,
    /// This executor's id, as the driver assigned it.
    #[arg(long, value_name = "ID")]
    executor_id: String,
    /// How many tasks to run at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    cores: u32,
    /// The container's memory in MiB, reported to the driver (unreported when absent).
    #[arg(long, value_name = "MB")]
    memory_mb: Option<u64>,
}

fn main() -> ExitCode {
    // Usage errors exit 1, not clap's 2: 2 means the driver went away.
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Container logs are files: no colour codes in them.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let memory_bytes = args
        .memory_mb
        .map_or(0, |mb| mb.saturating_mul(1024 * 1024));
    let driver = args.driver.clone();
    let config = match ExecutorConfig::from_container_env(
        args.driver,
        args.executor_id,
        args.cores,
        memory_bytes,
    ) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("spindle-executor")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let outcome = runtime.block_on(spindle_executor::run(config));
    // Cancelled tasks stop at their next read; do not let a stuck one hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(ExitReason::Shutdown { .. }) => ExitCode::SUCCESS,
        Ok(ExitReason::DriverGone { detail }) => {
            eprintln!(
                "spindle-executor: the driver at {driver} went away without a shutdown ({detail}); exiting"
            );
            ExitCode::from(2)
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("spindle-executor: error: {message}");
    ExitCode::from(1)
}
