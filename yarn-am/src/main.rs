use std::time::Duration;

use clap::{Parser, Subcommand};
use spindle_hadoop_ipc::Resource;
use spindle_yarn_am::{ContainerEnv, ShellJob, run_shell_job};

/// Spindle's probe AM (an application's own binary is its AM; see the `spindle`
/// crate). YARN starts it; it is not run by hand.
#[derive(Parser, Debug)]
#[command(name = "spindle-am", version, about)]
struct Cli {
    #[command(subcommand)]
    job: Job,
}

#[derive(Subcommand, Debug)]
enum Job {
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
