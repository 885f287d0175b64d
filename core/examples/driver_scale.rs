//! P4 of the benchmarks: the driver alone, no YARN, against simulated executors on one
//! core. N executors attach in-process ([`Driver::attach`]: the real driver code, minus
//! the socket and protobuf encoding) and answer every task at once; one stage of M tasks
//! (file splits spread over 100 hosts, so locality is exercised) runs to the end.
//! Prints one JSON object: throughput and driver memory per task (peak RSS growth while
//! the task set is planned and run, over the task count).
//!
//! `cargo run --release -p spindle-core --example driver_scale -- --executors 10000 --tasks 1000000 --json`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use spindle_core::driver::{AttachedExecutor, Driver, DriverConfig, StageTask, TaskInput};
use spindle_core::split::Split;
use spindle_core::transport::PROTOCOL_VERSION;
use spindle_proto::spindle as pb;

#[derive(Parser, Debug)]
#[command(about = "Driver throughput and memory against simulated executors (one core)")]
struct Args {
    /// Simulated executors (one task slot each).
    #[arg(long, default_value_t = 10_000)]
    executors: usize,
    /// Tasks in the stage.
    #[arg(long, default_value_t = 1_000_000)]
    tasks: usize,
    /// Hosts the executors and the splits are spread over.
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Threads for the simulated executors; 0 puts them on the driver's thread, so
    /// driver and executors share one core. With N ≥ 1 the driver runs alone on the
    /// main thread.
    #[arg(long, default_value_t = 0)]
    executor_threads: usize,
    /// Print JSON only.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = match args.executor_threads {
        0 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    let out = rt.block_on(run(&args))?;
    if args.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    let mut config = DriverConfig::new(
        b"bench".to_vec(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        "127.0.0.1",
    );
    // Silent simulated executors must not be timed out mid-run.
    config.executor_timeout = Duration::from_secs(3600);
    config.heartbeat_interval = Duration::from_secs(3600);
    let driver = Driver::start(config).await?;
    let hosts = args.hosts.max(1);
    let mut sims = Vec::with_capacity(args.executors);
    for i in 0..args.executors {
        let ex = driver
            .attach(pb::ExecutorRegister {
                protocol_version: PROTOCOL_VERSION,
                executor_id: format!("executor-{i}"),
                container_id: format!("container_1_0001_01_{i:06}"),
                host: format!("host-{:03}", i % hosts),
                cores: 1,
                ..Default::default()
            })
            .await?;
        sims.push(tokio::spawn(simulate(ex)));
    }
    let rss_before = rss_kib("VmRSS")?;
    let tasks: Vec<StageTask> = (0..args.tasks)
        .map(|i| {
            let host = format!("host-{:03}", i % hosts);
            StageTask {
                partition: 0,
                hosts: vec![host.clone()],
                input: TaskInput::Split(Split {
                    path: format!("hdfs://127.0.0.1:9000/bench/input/part-{:05}", i / 1000),
                    start: (i % 1000) as u64 * 134_217_728,
                    length: 134_217_728,
                    hosts: vec![host],
                }),
            }
        })
        .collect();
    let job = driver.begin_job("driver scale");
    let started = Instant::now();
    let outcome = driver
        .run_stage(job, "map", tasks, |_, _| Bytes::new())
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    driver.end_job(job, Ok(()));
    let peak = rss_kib("VmHWM")?;
    let after = rss_kib("VmRSS")?;
    let summary = driver.summary();
    let done = summary.stages.first().map(|s| s.done).unwrap_or_default();
    anyhow::ensure!(
        done == args.tasks && outcome.winners.len() == args.tasks,
        "only {done} of {} tasks finished",
        args.tasks
    );
    driver.stop("benchmark done").await;
    for s in sims {
        s.await?;
    }
    let n = args.tasks.max(1) as f64;
    Ok(serde_json::json!({
        "executors": args.executors,
        "tasks": args.tasks,
        "seconds": seconds,
        "tasks_per_sec": args.tasks as f64 / seconds,
        "driver_bytes_per_task": (peak.saturating_sub(rss_before) * 1024) as f64 / n,
        "retained_bytes_per_task": (after.saturating_sub(rss_before) * 1024) as f64 / n,
        "peak_driver_bytes": peak * 1024,
        "node_local_tasks": outcome.node_local,
        "driver_threads": 1,
        "executor_threads": args.executor_threads,
        "note": if args.executor_threads == 0 {
            "one current-thread runtime: the driver and the simulated executors share one core"
        } else {
            "the driver runs alone on the main thread; simulated executors on worker threads"
        },
    }))
}

/// Answers every launch with success, until shut down.
async fn simulate(mut ex: AttachedExecutor) {
    while let Some(m) = ex.recv().await {
        let Some(pb::driver_message::Kind::LaunchTask(t)) = m.kind else {
            break;
        };
        let status = pb::TaskStatus {
            task_id: t.task_id,
            attempt: t.attempt,
            state: pb::TaskState::Succeeded as i32,
            metrics: Some(pb::TaskMetrics {
                input_bytes: 134_217_728,
                ..Default::default()
            }),
            ..Default::default()
        };
        let msg = pb::ExecutorMessage {
            kind: Some(pb::executor_message::Kind::TaskStatus(status)),
        };
        if ex.send(msg).await.is_err() {
            break;
        }
    }
}

/// A field of /proc/self/status, in KiB.
fn rss_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/self/status"))
}
