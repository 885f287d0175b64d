//! The benchmark harness of issue 6: Spindle, Spark on YARN and MapReduce side by side
//! on the loopback cluster, with the YARN floor and a tuned single-machine word count
//! as bounds, every answer checked equal. `integration/bench` runs it; results go to
//! `docs/bench/results.{md,json}` and `chart.svg`.
//!
//! P1 (tiny job), P2 (throughput), P3 (peak memory of AM and executors, sampled from
//! `/proc` during P1 and P2) and P4 (the driver against simulated executors, through
//! spindle-core's `driver_scale` example).

pub mod answer;
pub mod chart;
pub mod hdfs;
pub mod machine;
pub mod p4;
pub mod procs;
pub mod report;
pub mod rm;
mod run;
pub mod size;
pub mod spark;
pub mod stats;
mod systems;
pub mod terasort;
pub mod textgen;
pub mod wordcount;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use run::run;

use spindle_integration::ClusterError;

/// Everything that can stop the harness, each naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The loopback cluster (boot, Hadoop CLI).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A local file operation.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A tool the harness needs is not installed.
    #[error("{0} not found: install it ({1}) or put it on PATH")]
    ToolMissing(String, String),
    /// A setup command failed.
    #[error("{what} failed:\n{detail}")]
    Command {
        /// The command.
        what: String,
        /// Its last lines of output.
        detail: String,
    },
    /// A REST call to the RM or WebHDFS failed.
    #[error("{what}: {detail}")]
    Http {
        /// The call.
        what: String,
        /// The cause.
        detail: String,
    },
    /// A job did not end well.
    #[error("{system}: {detail}")]
    JobFailed {
        /// Which system.
        system: String,
        /// Diagnostics and the client's last lines.
        detail: String,
    },
    /// Something took longer than its bound.
    #[error("waited more than {secs} s for {what}")]
    Timeout {
        /// What.
        what: String,
        /// The bound.
        secs: u64,
    },
    /// A bad request or an unusable state.
    #[error("{0}")]
    Invalid(String),
}

impl BenchError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }
}

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum System {
    /// `spindle submit wordcount`.
    Spindle,
    /// The same with `spindle.uber.max-input=0`: executors in containers even for a
    /// tiny input (P1 only), so that P3 has an executor to measure.
    SpindleExecutors,
    /// Spark on YARN, cluster mode, a DataFrame word count.
    Spark,
    /// hadoop-mapreduce-examples `wordcount`.
    MapReduce,
    /// An AM that registers and unregisters, nothing else (P1 only).
    Floor,
    /// An AM whose command is `true`, no local resources, submitted by REST and
    /// polled every 50 ms: the least a user can wait for a YARN application (P1
    /// only); Spindle's client wall time is compared with its wall time.
    BareFloor,
}

impl System {
    /// Every system, in table order.
    pub const ALL: [System; 6] = [
        System::Spindle,
        System::SpindleExecutors,
        System::Spark,
        System::MapReduce,
        System::Floor,
        System::BareFloor,
    ];

    /// The flag/JSON key.
    pub fn key(self) -> &'static str {
        match self {
            System::Spindle => "spindle",
            System::SpindleExecutors => "spindle-exec",
            System::Spark => "spark",
            System::MapReduce => "mapreduce",
            System::Floor => "floor",
            System::BareFloor => "floor-true",
        }
    }

    /// How tables name it.
    pub fn label(self) -> &'static str {
        match self {
            System::Spindle => "Spindle",
            System::SpindleExecutors => "Spindle, executors in containers",
            System::Spark => "Spark on YARN",
            System::MapReduce => "MapReduce",
            System::Floor => "YARN floor",
            System::BareFloor => "YARN floor, AM `true`",
        }
    }

    /// Runs in P1 only: the floors have no input and `spindle-exec` exists for P3's
    /// executor figure on the tiny job.
    pub fn p1_only(self) -> bool {
        matches!(
            self,
            System::Floor | System::BareFloor | System::SpindleExecutors
        )
    }

    /// Writes an output to check (the floors do not).
    pub fn has_output(self) -> bool {
        !matches!(self, System::Floor | System::BareFloor)
    }

    /// Parses a key (`mr` is accepted for MapReduce).
    pub fn parse(s: &str) -> Result<System, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spindle" => Ok(System::Spindle),
            "spindle-exec" | "spindle-executors" => Ok(System::SpindleExecutors),
            "spark" => Ok(System::Spark),
            "mapreduce" | "mr" => Ok(System::MapReduce),
            "floor" => Ok(System::Floor),
            "floor-true" => Ok(System::BareFloor),
            other => Err(format!(
                "unknown system {other:?} (want spindle, spindle-exec, spark, mapreduce, floor, floor-true)"
            )),
        }
    }
}

/// What a cluster job computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Words and their counts (P1, P2).
    WordCount,
    /// TeraSort-style records sorted by key (P5).
    Sort,
}

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Systems to run (P2 always adds the single-machine limit).
    pub systems: Vec<System>,
    /// P1's input size.
    pub p1_bytes: u64,
    /// P2's input size.
    pub p2_bytes: u64,
    /// P5's input size (100-byte records).
    pub p5_bytes: u64,
    /// Runs per figure of P2 and P4 (≥ 1; the issue asks for ≥ 3).
    pub runs: usize,
    /// Runs per figure of P1 (its times swing with NodeManager heartbeats).
    pub p1_runs: usize,
    /// Untimed runs of each cluster system before P1's timed runs.
    pub warmup: usize,
    /// Executors of Spindle and Spark.
    pub executors: u32,
    /// Cores per executor.
    pub executor_cores: u32,
    /// Executor container memory, MB.
    pub executor_memory_mb: u64,
    /// AM (Spindle) and driver (Spark) memory, MB.
    pub driver_memory_mb: u64,
    /// Reduce tasks for all three; default executors × cores.
    pub reducers: Option<u32>,
    /// Skip P1.
    pub skip_p1: bool,
    /// Skip P2.
    pub skip_p2: bool,
    /// Skip P4.
    pub skip_p4: bool,
    /// Skip P5.
    pub skip_p5: bool,
    /// P4's simulated executors.
    pub p4_executors: u64,
    /// P4's tasks.
    pub p4_tasks: u64,
    /// Text generator seed.
    pub seed: u64,
    /// The pyspark release to install.
    pub spark_version: String,
    /// Longest a job may take before it is killed.
    pub job_timeout: Duration,
    /// Where results go.
    pub out_dir: PathBuf,
    /// The harness's own files (venv, inputs, logs): `bench/.bench`.
    pub work_dir: PathBuf,
    /// Where `spindle`, `spindle-am` (the floor's AM), `spindle-examples` and
    /// `examples/driver_scale` are.
    pub bin_dir: PathBuf,
    /// The repository (for `git`).
    pub repo_dir: PathBuf,
    /// Memory sampling interval.
    pub sample_every: Duration,
}

impl BenchConfig {
    /// Defaults of `integration/bench` (4 GiB, 3 runs, every system, 2 executors × 1 core).
    pub fn defaults() -> BenchConfig {
        let integration = Path::new(env!("CARGO_MANIFEST_DIR"));
        let repo = integration.parent().unwrap_or(integration).to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target"));
        BenchConfig {
            systems: System::ALL.to_vec(),
            p1_bytes: 1024,
            p2_bytes: 4 << 30,
            p5_bytes: 1 << 30,
            runs: 3,
            p1_runs: 9,
            warmup: 1,
            executors: 2,
            executor_cores: 1,
            executor_memory_mb: 1024,
            driver_memory_mb: 1024,
            reducers: None,
            skip_p1: false,
            skip_p2: false,
            skip_p4: false,
            skip_p5: false,
            p4_executors: 10_000,
            p4_tasks: 1_000_000,
            seed: 42,
            spark_version: "4.3.0".into(),
            job_timeout: Duration::from_secs(3600),
            out_dir: repo.join("docs/bench"),
            work_dir: integration.join(".bench"),
            bin_dir: target.join("release"),
            repo_dir: repo,
            sample_every: Duration::from_millis(100),
        }
    }

    /// The reduce task count used for all three systems.
    pub fn reducers(&self) -> u32 {
        self.reducers
            .unwrap_or(self.executors * self.executor_cores)
            .max(1)
    }

    /// Whether a system is to run.
    pub fn runs_system(&self, s: System) -> bool {
        self.systems.contains(&s)
    }
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Prints one progress line on stderr, with the seconds since the harness started.
pub fn progress(msg: &str) {
    let start = START.get_or_init(Instant::now);
    eprintln!("[{:7.1}s] {msg}", start.elapsed().as_secs_f64());
}

/// An executable on PATH.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The last `n` lines of a text, each cut to 400 characters.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.chars().count() > 400 {
                format!("{}…", l.chars().take(400).collect::<String>())
            } else {
                l.to_string()
            }
        })
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_parse_and_name() {
        assert_eq!(System::parse("MR"), Ok(System::MapReduce));
        assert_eq!(System::parse(" spark "), Ok(System::Spark));
        assert!(System::parse("flink").is_err());
        for s in System::ALL {
            assert_eq!(System::parse(s.key()), Ok(s));
        }
    }

    #[test]
    fn reducers_default_to_executor_slots() {
        let mut c = BenchConfig::defaults();
        c.executors = 3;
        c.executor_cores = 2;
        assert_eq!(c.reducers(), 6);
        c.reducers = Some(4);
        assert_eq!(c.reducers(), 4);
    }

    #[test]
    fn tails_are_short() {
        let text = format!("a\n\nb\n{}\n", "x".repeat(1000));
        let t = last_lines(&text, 2);
        assert!(t.starts_with("b\nxxx") && t.ends_with('…'), "{t}");
    }
}
