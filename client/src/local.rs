//! `spindle run --master local[N]`: the same driver and executors as on YARN, in this
//! process, on local files or HDFS. Executors connect to the driver over loopback TCP
//! and prove the (random, per-run) application secret, exactly as in containers.

use std::net::SocketAddr;
use std::time::Duration;

use spindle_conf::HadoopConf;
use spindle_core::driver::{Driver, DriverConfig, JobSpec};
use spindle_core::fs::for_uri;
use spindle_core::job::JobKind;
use spindle_executor::{ExecutorConfig, ExitReason};

use crate::{ClientError, emit, hadoop_user};

/// What `spindle run` was asked.
#[derive(Debug, Clone)]
pub struct LocalRun {
    /// `local`, `local[N]` or `local[*]`.
    pub master: String,
    /// `wordcount`, `linecount` or `grep`.
    pub job: String,
    /// Input file, directory or glob.
    pub input: String,
    /// Output directory (must not exist).
    pub output: String,
    /// The job's arguments.
    pub job_args: Vec<String>,
    /// Reduce partitions (default: N).
    pub reducers: Option<u32>,
}

/// `local` → 1, `local[4]` → 4, `local[*]` → the machine's cores.
pub fn parse_master(master: &str) -> Result<u32, ClientError> {
    let bad = || {
        ClientError::Usage(format!(
            "--master {master:?}: want local, local[N] or local[*] (YARN jobs go through `spindle submit`)"
        ))
    };
    if master == "local" {
        return Ok(1);
    }
    let inner = master
        .strip_prefix("local[")
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(bad)?;
    if inner == "*" {
        return Ok(std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1));
    }
    inner.parse().ok().filter(|n| *n >= 1).ok_or_else(bad)
}

/// Runs the job in this process and prints where the output went.
pub async fn run(req: LocalRun) -> Result<(), ClientError> {
    let executors = parse_master(&req.master)?;
    let job =
        JobKind::parse(&req.job, &req.job_args).map_err(|e| ClientError::Usage(e.to_string()))?;
    let conf = match std::env::var_os("HADOOP_CONF_DIR") {
        Some(_) => HadoopConf::from_env()?,
        None => HadoopConf::default(),
    };
    let user = hadoop_user()?;
    let fs_err = |what: String| move |source| ClientError::Fs { what, source };
    let fs = for_uri(&req.input, &conf, &user)
        .await
        .map_err(fs_err(format!("opening the file system of {}", req.input)))?;
    let out_fs = for_uri(&req.output, &conf, &user)
        .await
        .map_err(fs_err(format!("opening the file system of {}", req.output)))?;
    if out_fs
        .info(&req.output)
        .await
        .map_err(fs_err(format!("checking {}", req.output)))?
        .is_some()
    {
        return Err(ClientError::Usage(format!(
            "output {} already exists; nothing was run",
            req.output
        )));
    }

    let secret: [u8; 32] = rand::random();
    let driver = Driver::start(DriverConfig::new(
        secret.to_vec(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        "127.0.0.1",
    ))
    .await
    .map_err(fs_err("starting the driver".into()))?;
    let spec = JobSpec {
        job,
        input: req.input.clone(),
        output: req.output.clone(),
        reducers: req.reducers.unwrap_or(executors).max(1),
        max_split_size: 128 * 1024 * 1024,
    };
    let splits = driver.plan(&spec, fs.as_ref()).await.map_err(|e| match e {
        // A missing input is a bad request (exit 2), not a failed run.
        spindle_core::CoreError::InputMissing(_) => ClientError::Usage(e.to_string()),
        e => ClientError::Fs {
            what: format!("listing {}", req.input),
            source: e,
        },
    })?;
    let default_fs = conf.default_fs().unwrap_or_else(|_| "file:///".into());
    let mut handles = Vec::new();
    for i in 0..executors {
        let config = ExecutorConfig {
            driver: driver.address().to_string(),
            executor_id: format!("local-{i}"),
            container_id: String::new(),
            host: "localhost".into(),
            cores: 1,
            memory_bytes: 0,
            secret: secret.to_vec(),
            default_fs: default_fs.clone(),
            user: user.clone(),
            hadoop_conf: conf.clone(),
        };
        handles.push(tokio::spawn(spindle_executor::run(config)));
    }
    let result = driver.run_job(&spec, splits, out_fs).await;
    driver.stop("job finished").await;
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok(Ok(ExitReason::Shutdown { .. }))) => {}
            Ok(Ok(Ok(other))) => tracing::warn!("a local executor ended: {other:?}"),
            Ok(Ok(Err(e))) => tracing::warn!("a local executor failed: {e}"),
            Ok(Err(e)) => tracing::warn!("a local executor panicked: {e}"),
            Err(_) => tracing::warn!("a local executor did not stop within 10 s"),
        }
    }
    let report = result.map_err(fs_err(format!("running {} on {}", req.job, req.input)))?;
    emit(&format!(
        "{} of {}: {} map tasks, {} bytes read, {} part files in {:.1} s\noutput: {}\n",
        req.job,
        req.input,
        report.map_tasks,
        report.input_bytes,
        report.output_files.len(),
        report.duration.as_secs_f64(),
        req.output
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters() {
        assert_eq!(parse_master("local").ok(), Some(1));
        assert_eq!(parse_master("local[3]").ok(), Some(3));
        assert!(parse_master("local[*]").is_ok_and(|n| n >= 1));
        for bad in ["yarn", "local[0]", "local[x]", "local[2", ""] {
            assert!(parse_master(bad).is_err(), "{bad}");
        }
    }
}
