use std::time::Duration;

use clap::{Parser, Subcommand};
use spindle_core::job::JobKind;
use spindle_hadoop_ipc::Resource;
use spindle_yarn_am::{ContainerEnv, JobArgs, ShellJob, run_job_am, run_shell_job};

/// Spindle's YARN application master. YARN starts it; it is not run by hand.
#[derive(Parser, Debug)]
#[command(name = "spindle-am", version, about)]
struct Cli {
    #[command(subcommand)]
    job: Job,
}

#[derive(Subcommand, Debug)]
enum Job {
    /// Host the driver of a built-in job (what `spindle submit` runs).
    Job {
        /// `wordcount`, `linecount` or `grep`.
        #[arg(long)]
        job: String,
        /// The job's arguments (grep: the regular expression).
        #[arg(long = "job-arg")]
        job_args: Vec<String>,
        /// Input file, directory or glob (URI).
        #[arg(long)]
        input: String,
        /// Output directory (URI); must not exist.
        #[arg(long)]
        output: String,
        /// Executor containers.
        #[arg(long, default_value_t = 2)]
        num_executors: u32,
        /// Memory of each executor container, MB.
        #[arg(long, default_value_t = 512)]
        executor_memory_mb: i64,
        /// Task slots of each executor.
        #[arg(long, default_value_t = 1)]
        executor_cores: u32,
        /// Reduce partitions (output part files); default one per executor.
        #[arg(long)]
        reducers: Option<u32>,
        /// Attempts of a task before the job fails.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
        max_attempts: u32,
    },
    /// Run a shell command in each of N containers and succeed when all exit 0.
    Shell {
        /// The command.
        #[arg(long)]
        command: String,
        /// How many containers.
        #[arg(long, default_value_t = 2)]
        containers: usize,
        /// Comma-separated node host names to place containers on (round robin).
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<String>,
        /// Memory of each container, MB.
        #[arg(long, default_value_t = 128)]
        memory_mb: i64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Container logs are files: no colour codes in them.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = async {
        let env = ContainerEnv::from_env()?;
        match cli.job {
            Job::Job {
                job,
                job_args,
                input,
                output,
                num_executors,
                executor_memory_mb,
                executor_cores,
                reducers,
                max_attempts,
            } => {
                let kind = JobKind::parse(&job, &job_args)
                    .map_err(|e| spindle_yarn_am::AmError::JobFailed(e.to_string()))?;
                let args = JobArgs {
                    job: kind,
                    input,
                    output,
                    num_executors,
                    executor_memory_mb,
                    executor_cores,
                    reducers,
                    max_attempts,
                };
                run_job_am(&env, &args).await
            }
            Job::Shell {
                command,
                containers,
                nodes,
                memory_mb,
                timeout_secs,
            } => {
                let job = ShellJob {
                    command,
                    containers,
                    nodes,
                    resource: Resource {
                        memory_mb,
                        vcores: 1,
                    },
                    timeout: Duration::from_secs(timeout_secs),
                };
                run_shell_job(&env, &job).await
            }
        }
    }
    .await;
    match result {
        Ok(diagnostics) => println!("{diagnostics}"),
        Err(e) => {
            eprintln!("spindle-am: {e}");
            std::process::exit(1);
        }
    }
}
