//! `integration/cluster up|down|status|env`: the loopback Hadoop cluster for tests.

use clap::{Parser, Subcommand};
use spindle_integration::{Cluster, DaemonState};

/// A real Hadoop cluster on loopback (NameNode, 2 DataNodes, ResourceManager, 2
/// NodeManagers), fetched from Maven Central and run as separate JVMs.
///
/// Settings come from the environment: HADOOP_VERSION (default 3.4.3),
/// SPINDLE_CLUSTER_DIR, SPINDLE_PORT_OFFSET, SPINDLE_BLOCK_SIZE, SPINDLE_RPC_PROTECTION,
/// SPINDLE_NM_MEMORY_MB, SPINDLE_NM_VCORES, SPINDLE_PMEM_CHECK, SPINDLE_DAEMON_HEAP,
/// SPINDLE_BOOT_TIMEOUT.
#[derive(Parser, Debug)]
#[command(name = "cluster", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Fetch, configure and start the cluster; wait until it is usable. Idempotent.
    Up,
    /// Stop the daemons this cluster started. A no-op when it is not running.
    Down,
    /// Show each daemon, its pid and memory, and the cluster's addresses.
    Status,
    /// Print `export` lines (HADOOP_CONF_DIR, …) for using the cluster from a shell.
    Env,
    /// Stop the cluster and delete its data (HDFS contents, logs); jars are kept.
    Wipe,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("cluster: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let cluster = Cluster::from_env()?;
    match cli.command {
        Cmd::Up => {
            if !cluster.up().await? {
                eprintln!("cluster already up");
            }
            print!("{}", cluster.env_lines());
        }
        Cmd::Down => cluster.down().await?,
        Cmd::Status => {
            let mut all = true;
            for d in cluster.daemons() {
                let state = d.state();
                all &= state == DaemonState::Running;
                let rss = d
                    .rss_kib()
                    .map(|k| format!("{} MB", k / 1024))
                    .unwrap_or_default();
                let pid = d.pid().map(|p| p.to_string()).unwrap_or_default();
                println!("{:<16} {:<8?} {:>8} {:>8}", d.name(), state, pid, rss);
            }
            println!("HDFS {}  YARN {}", cluster.default_fs(), cluster.rm_url());
            if !all {
                std::process::exit(3);
            }
        }
        Cmd::Env => print!("{}", cluster.env_lines()),
        Cmd::Wipe => {
            cluster.down().await?;
            let s = cluster.settings();
            for dir in [s.data_dir(), s.log_dir(), s.conf_dir()] {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
            }
        }
    }
    Ok(())
}
