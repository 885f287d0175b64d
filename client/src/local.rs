//! `spindle run --master local[N]`: a built-in job in local mode, on local files or
//! HDFS. The built-in jobs are the bundled examples binary's subcommands (an application
//! on the `spindle` crate), so this runs that binary with `SPINDLE_MASTER=local[N]`
//! after the same checks as `spindle submit`: the arguments, the input, the output.

use spindle_conf::HadoopConf;
use spindle_core::fs::for_uri;

use crate::cli::Job;
use crate::submit::{builtin_args, check_job_args, find_examples};
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

/// Runs the job on this machine's cores and prints where the output went.
pub async fn run(req: LocalRun) -> Result<(), ClientError> {
    let cores = parse_master(&req.master)?;
    let job = Job::from_name(&req.job).ok_or_else(|| {
        ClientError::Usage(format!(
            "unknown job {:?}: expected wordcount, linecount or grep <regex>",
            req.job
        ))
    })?;
    check_job_args(job, &req.job_args).map_err(ClientError::Usage)?;
    let examples = find_examples().map_err(ClientError::Usage)?;
    let conf = match std::env::var_os("HADOOP_CONF_DIR") {
        Some(_) => HadoopConf::from_env()?,
        None => HadoopConf::default(),
    };
    let user = hadoop_user()?;
    let fs_err = |what: String| move |source| ClientError::Fs { what, source };
    let fs = for_uri(&req.input, &conf, &user)
        .await
        .map_err(fs_err(format!("opening the file system of {}", req.input)))?;
    match fs.list_inputs(&req.input).await {
        Ok(_) => {}
        // A missing input is a bad request (exit 2), not a failed run.
        Err(e @ spindle_core::CoreError::InputMissing(_)) => {
            return Err(ClientError::Usage(e.to_string()));
        }
        Err(e) => return Err(fs_err(format!("listing {}", req.input))(e)),
    }
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
    let args = builtin_args(
        job,
        &req.job_args,
        &req.input,
        &req.output,
        Some(req.reducers.unwrap_or(cores).max(1)),
    );
    let started = std::time::Instant::now();
    let status = tokio::process::Command::new(&examples)
        .args(&args)
        .env("SPINDLE_MASTER", format!("local[{cores}]"))
        .env_remove("SPINDLE_ROLE")
        .status()
        .await
        .map_err(|source| ClientError::Io {
            path: examples.clone(),
            source,
        })?;
    if !status.success() {
        return Err(ClientError::LocalRunFailed {
            job: req.job,
            status: status.to_string(),
        });
    }
    emit(&format!(
        "{} of {} in {:.1} s\noutput: {}\n",
        req.job,
        req.input,
        started.elapsed().as_secs_f64(),
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
