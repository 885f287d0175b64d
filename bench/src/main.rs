//! `integration/bench`: Spindle vs Spark on YARN vs MapReduce on the loopback cluster
//! (issue 6). The logic lives in `spindle_bench`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use spindle_bench::size::parse_size;
use spindle_bench::{BenchConfig, System, progress, run};

/// Benchmarks side by side on the loopback Hadoop cluster: Spindle, Spark on YARN
/// (cluster mode, pyspark from PyPI), MapReduce word count and the YARN floor; a tuned
/// single-machine word count as the throughput limit; the driver at scale (P4); a sort
/// of 100-byte records against Spark, MapReduce's TeraSort and a local sort (P5).
///
/// Writes results.md, results.json and chart.svg into --out. Exits 1 when a job failed
/// or an answer differed (the tables say which), 2 on bad flags or setup problems.
#[derive(Parser, Debug)]
#[command(name = "bench", version, about, long_about)]
struct Cli {
    /// P2 input size (e.g. 64MiB, 1GiB, 4GiB; KiB/MiB/GiB binary, KB/MB/GB decimal)
    #[arg(long, default_value = "4GiB", value_parser = parse_size)]
    size: u64,
    /// P1 input size (the tiny job)
    #[arg(long, default_value = "1KiB", value_parser = parse_size)]
    p1_size: u64,
    /// P5 input size (sort of 100-byte records; rounded down to whole records)
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    p5_size: u64,
    /// Runs per figure of P2 and P4 (the issue asks for at least 3)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Runs per figure of P1: a tiny job's time swings by up to a NodeManager heartbeat
    /// (250 ms here) with where the heartbeats fall, for every system alike, so its
    /// median needs more runs than P2's
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=100))]
    p1_runs: u32,
    /// Untimed runs of each system before P1's timed runs: the first applications after
    /// a cluster boot or a rebuild pay cold caches (localisation, the daemons' JIT)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=10))]
    warmup: u32,
    /// Systems, comma-separated: spindle, spindle-exec (Spindle with
    /// spindle.uber.max-input=0, P1 only), spark, mapreduce, floor (P1 only), floor-true (an AM whose command is `true`, P1 only)
    #[arg(long, value_delimiter = ',', default_value = "spindle,spindle-exec,spark,mapreduce,floor,floor-true", value_parser = System::parse)]
    systems: Vec<System>,
    /// Executors for Spindle and Spark
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000))]
    executors: u32,
    /// Cores of each executor (Spindle and Spark)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    executor_cores: u32,
    /// Memory of each executor container (Spindle and Spark), e.g. 1g, 512m
    #[arg(long, default_value = "1g", value_parser = parse_mb)]
    executor_memory: u64,
    /// Memory of Spindle's AM and Spark's driver (its AM in cluster mode)
    #[arg(long, default_value = "1g", value_parser = parse_mb)]
    driver_memory: u64,
    /// Reduce tasks for all three systems [default: executors × executor cores]
    #[arg(long)]
    reducers: Option<u32>,
    /// Where results go [default: docs/bench of this checkout]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip P1 (tiny job)
    #[arg(long)]
    skip_p1: bool,
    /// Skip P2 (throughput)
    #[arg(long)]
    skip_p2: bool,
    /// Skip P4 (driver scale)
    #[arg(long)]
    skip_p4: bool,
    /// Skip P5 (sort)
    #[arg(long)]
    skip_p5: bool,
    /// P4's simulated executors
    #[arg(long, default_value_t = 10_000)]
    p4_executors: u64,
    /// P4's tasks
    #[arg(long, default_value_t = 1_000_000)]
    p4_tasks: u64,
    /// Seed of the generated text
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// pyspark release installed into bench/.bench/venv
    #[arg(long, default_value = "4.3.0")]
    spark_version: String,
    /// Longest one job may run before it is killed, in minutes
    #[arg(long, default_value_t = 60)]
    job_timeout_min: u64,
    /// Directory of spindle, spindle-am, spindle-examples and examples/driver_scale [default: target/release]
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

/// `1g`, `512m`, `1536` (MB) → MB.
fn parse_mb(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let mb = if let Some(g) = t.strip_suffix('g') {
        g.parse::<u64>().ok().map(|g| g * 1024)
    } else {
        t.strip_suffix('m').unwrap_or(&t).parse::<u64>().ok()
    };
    mb.filter(|m| *m >= 128)
        .ok_or_else(|| format!("{s:?}: want a size like 1g or 512m (at least 128m)"))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let mut cfg = BenchConfig::defaults();
    // Tables list systems in one order whatever the flag's (runs rotate it anyway).
    let mut systems = cli.systems;
    systems.sort();
    systems.dedup();
    cfg.systems = systems;
    cfg.p1_bytes = cli.p1_size;
    cfg.p2_bytes = cli.size;
    cfg.p5_bytes = cli.p5_size;
    cfg.runs = cli.runs as usize;
    cfg.p1_runs = cli.p1_runs as usize;
    cfg.warmup = cli.warmup as usize;
    cfg.executors = cli.executors;
    cfg.executor_cores = cli.executor_cores;
    cfg.executor_memory_mb = cli.executor_memory;
    cfg.driver_memory_mb = cli.driver_memory;
    cfg.reducers = cli.reducers;
    cfg.skip_p1 = cli.skip_p1;
    cfg.skip_p2 = cli.skip_p2;
    cfg.skip_p4 = cli.skip_p4;
    cfg.skip_p5 = cli.skip_p5;
    cfg.p4_executors = cli.p4_executors;
    cfg.p4_tasks = cli.p4_tasks;
    cfg.seed = cli.seed;
    cfg.spark_version = cli.spark_version;
    cfg.job_timeout = Duration::from_secs(cli.job_timeout_min.max(1) * 60);
    if let Some(o) = cli.out {
        cfg.out_dir = o;
    }
    if let Some(b) = cli.bin_dir {
        cfg.bin_dir = b;
    }
    match run(&cfg).await {
        Ok(results) => {
            for g in &results.goals {
                progress(&format!(
                    "goal {:<16} {:<7} {} ({})",
                    g.id,
                    g.status.word(),
                    g.measured,
                    g.target
                ));
            }
            for name in ["results.md", "results.json", "chart.svg"] {
                println!("{}", cfg.out_dir.join(name).display());
            }
            if !results.valid {
                eprintln!("bench: INVALID run: {}", results.problems.join("; "));
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}
