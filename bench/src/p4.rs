//! P4, driver scale without YARN: the driver against simulated executors, through the
//! `driver_scale` example of spindle-core, which prints one JSON object.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stats::Stats;

/// One run's figures, as `driver_scale --json` prints them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct P4Sample {
    /// Simulated executors.
    pub executors: u64,
    /// Tasks launched and completed.
    pub tasks: u64,
    /// Wall time of the run.
    pub seconds: f64,
    /// Tasks launched+completed per second.
    pub tasks_per_sec: f64,
    /// Driver memory per task, bytes.
    pub driver_bytes_per_task: f64,
    /// The driver's peak memory, bytes.
    pub peak_driver_bytes: u64,
}

/// P4's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct P4Result {
    /// Whether it ran.
    pub available: bool,
    /// Why not, or what went wrong in a run.
    pub error: Option<String>,
    /// The command run.
    pub command: String,
    /// Pinned to one core with `taskset -c 0`.
    pub one_core: bool,
    /// Every run.
    pub samples: Vec<P4Sample>,
    /// Over the runs.
    pub tasks_per_sec: Option<Stats>,
    /// Over the runs.
    pub driver_bytes_per_task: Option<Stats>,
    /// Over the runs, MB.
    pub peak_driver_mb: Option<Stats>,
    /// Over the runs.
    pub seconds: Option<Stats>,
}

/// The JSON object on the example's stdout (the last line that is one).
pub fn parse_output(stdout: &str) -> Result<P4Sample, String> {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| l.starts_with('{'))
        .find_map(|l| serde_json::from_str::<P4Sample>(l).ok())
        .ok_or_else(|| {
            format!(
                "no JSON object with executors, tasks, seconds, tasks_per_sec, driver_bytes_per_task, peak_driver_bytes on stdout: {:?}",
                super::last_lines(stdout, 5)
            )
        })
}

/// Runs the example `runs` times; never fails: a missing example or a failed run is
/// reported in the result.
pub async fn run(
    example: &Path,
    executors: u64,
    tasks: u64,
    runs: usize,
    limit: Duration,
) -> P4Result {
    let taskset = super::find_tool("taskset");
    let mut r = P4Result {
        one_core: taskset.is_some(),
        command: format!(
            "{}{} --executors {executors} --tasks {tasks} --json",
            if taskset.is_some() {
                "taskset -c 0 "
            } else {
                ""
            },
            example.display()
        ),
        ..P4Result::default()
    };
    if !example.is_file() {
        r.error = Some(format!(
            "not available: {} not found (cargo build --release -p spindle-core --example driver_scale)",
            example.display()
        ));
        return r;
    }
    for i in 1..=runs {
        let mut cmd = match &taskset {
            Some(t) => {
                let mut c = tokio::process::Command::new(t);
                c.arg("-c").arg("0").arg(example);
                c
            }
            None => tokio::process::Command::new(example),
        };
        cmd.args([
            "--executors",
            &executors.to_string(),
            "--tasks",
            &tasks.to_string(),
            "--json",
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true);
        let out = match tokio::time::timeout(limit, cmd.output()).await {
            Err(_) => Err(format!("run {i} took longer than {} s", limit.as_secs())),
            Ok(Err(e)) => Err(format!("run {i}: cannot run {}: {e}", example.display())),
            Ok(Ok(o)) if !o.status.success() => Err(format!(
                "run {i} exited {}: {}",
                o.status,
                super::last_lines(&spindle_integration::output_text(&o), 10)
            )),
            Ok(Ok(o)) => parse_output(&String::from_utf8_lossy(&o.stdout))
                .map_err(|e| format!("run {i}: {e}")),
        };
        match out {
            Ok(s) => {
                super::progress(&format!(
                    "P4 run {i}/{runs}: {:.0} tasks/s, {:.0} B/task, peak {:.1} MB, {:.2} s",
                    s.tasks_per_sec,
                    s.driver_bytes_per_task,
                    s.peak_driver_bytes as f64 / 1e6,
                    s.seconds
                ));
                r.samples.push(s);
            }
            Err(e) => {
                super::progress(&format!("P4: {e}"));
                r.error = Some(e);
                break;
            }
        }
    }
    r.available = !r.samples.is_empty();
    let of = |f: fn(&P4Sample) -> f64| Stats::of(&r.samples.iter().map(f).collect::<Vec<_>>());
    r.tasks_per_sec = of(|s| s.tasks_per_sec);
    r.driver_bytes_per_task = of(|s| s.driver_bytes_per_task);
    r.peak_driver_mb = of(|s| s.peak_driver_bytes as f64 / 1e6);
    r.seconds = of(|s| s.seconds);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_last_json_line() {
        let out = "warming up\n{\"executors\":10000,\"tasks\":1000000,\"seconds\":4.5,\"tasks_per_sec\":222222.2,\"driver_bytes_per_task\":310.5,\"peak_driver_bytes\":310500000}\n";
        let s = parse_output(out).expect("parse");
        assert_eq!(
            (s.executors, s.tasks, s.peak_driver_bytes),
            (10_000, 1_000_000, 310_500_000)
        );
        assert!(parse_output("nothing here\n").is_err());
        assert!(parse_output("{\"executors\":1}\n").is_err());
    }

    #[tokio::test]
    async fn a_missing_example_is_not_available() {
        let r = run(
            Path::new("/nonexistent/driver_scale"),
            10,
            100,
            3,
            Duration::from_secs(5),
        )
        .await;
        assert!(!r.available);
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("not available")),
            "{r:?}"
        );
    }
}
