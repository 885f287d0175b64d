//! One job of each system on the cluster: start it the way its users do, wait for the
//! RM to show it ended, and say how long it took.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::hdfs::Hdfs;
use super::rm::{AppReport, Rm};
use super::spark::{self, SparkSetup};
use super::{BenchConfig, BenchError, System, Workload, last_lines};
use spindle_integration::Cluster;

/// What the runners share.
pub(super) struct Env<'a> {
    pub cluster: &'a Cluster,
    pub hdfs: Hdfs,
    pub rm: Rm,
    pub cfg: &'a BenchConfig,
    pub spark: Option<SparkSetup>,
    /// The floor AM's local resource (`spindle-am` in HDFS).
    pub floor_resource: Option<Value>,
    /// hadoop-mapreduce-examples.
    pub mr_jar: Option<PathBuf>,
    /// Client logs, one per run.
    pub log_dir: PathBuf,
}

/// A finished job.
pub(super) struct Ran {
    pub report: AppReport,
    pub wall_seconds: f64,
}

/// How long the RM may take to show a final state after the client returned.
const SETTLE: Duration = Duration::from_secs(120);
/// How often the floors' and settling applications' states are polled.
const SETTLE_POLL: Duration = Duration::from_millis(100);
/// How often the bare floor's state is polled (as issue 16 measured it).
const BARE_FLOOR_POLL: Duration = Duration::from_millis(50);

/// The first `application_<ts>_<n>` in a text.
pub fn find_app_id(text: &str) -> Option<String> {
    let at = text.find("application_")?;
    let id: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let parts: Vec<&str> = id.split('_').collect();
    (parts.len() == 3
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(id)
}

/// Runs one job of `system` (the floor ignores input and output).
pub(super) async fn run_job(
    env: &Env<'_>,
    system: System,
    workload: Workload,
    input: &str,
    output: &str,
    tag: &str,
) -> Result<Ran, BenchError> {
    match system {
        System::Spindle | System::SpindleExecutors => {
            spindle(env, system, workload, input, output, tag).await
        }
        System::Spark => spark_job(env, workload, input, output, tag).await,
        System::MapReduce => mapreduce(env, workload, input, output, tag).await,
        System::Floor => floor(env, tag).await,
        System::BareFloor => bare_floor(env, tag).await,
    }
}

/// A client process's end: its status (None: timed out) and its output.
struct ClientEnd {
    success: Option<bool>,
    text: String,
    wall_seconds: f64,
}

async fn run_client(
    mut cmd: tokio::process::Command,
    limit: Duration,
    log: &std::path::Path,
) -> Result<ClientEnd, BenchError> {
    let started = Instant::now();
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let result = tokio::time::timeout(limit, cmd.output()).await;
    let wall_seconds = started.elapsed().as_secs_f64();
    let (success, text) = match result {
        Err(_) => (None, String::new()),
        Ok(Err(e)) => {
            return Err(BenchError::io(
                format!("starting {:?}", cmd.as_std().get_program()),
                e,
            ));
        }
        Ok(Ok(out)) => (
            Some(out.status.success()),
            spindle_integration::output_text(&out),
        ),
    };
    // The log is for people; failing to write it does not fail the run.
    let _ = std::fs::write(log, &text);
    Ok(ClientEnd {
        success,
        text,
        wall_seconds,
    })
}

/// Turns a client's end into the finished application, or an error with diagnostics.
async fn conclude(
    env: &Env<'_>,
    system: System,
    app_id: Option<String>,
    tag: &str,
    end: ClientEnd,
    log: &std::path::Path,
) -> Result<Ran, BenchError> {
    let app_id = match app_id {
        Some(id) => Some(id),
        None => env.rm.find_by_tag(tag).await.ok().flatten().map(|r| r.id),
    };
    let fail = |detail: String| BenchError::JobFailed {
        system: system.key().into(),
        detail,
    };
    let Some(success) = end.success else {
        if let Some(id) = &app_id {
            env.rm.kill(id).await;
        }
        return Err(BenchError::Timeout {
            what: format!(
                "{} job {tag} ({})",
                system.key(),
                app_id.unwrap_or_else(|| "no application id".into())
            ),
            secs: env.cfg.job_timeout.as_secs(),
        });
    };
    let Some(id) = app_id else {
        return Err(fail(format!(
            "no application found for tag {tag}; client {}; last lines ({}):\n{}",
            if success { "succeeded" } else { "failed" },
            log.display(),
            last_lines(&end.text, 15)
        )));
    };
    let report = env.rm.wait_final(&id, SETTLE, SETTLE_POLL).await?;
    if !success || !report.succeeded() {
        return Err(fail(format!(
            "{id} ended {}/{}; diagnostics: {}\nclient {}; last lines ({}):\n{}",
            report.state,
            report.final_status,
            report.diagnostics.trim(),
            if success { "succeeded" } else { "failed" },
            log.display(),
            last_lines(&end.text, 15)
        )));
    }
    Ok(Ran {
        report,
        wall_seconds: end.wall_seconds,
    })
}

async fn spindle(
    env: &Env<'_>,
    system: System,
    workload: Workload,
    input: &str,
    output: &str,
    tag: &str,
) -> Result<Ran, BenchError> {
    let cfg = env.cfg;
    let log = env.log_dir.join(format!("{tag}.log"));
    let mut cmd = tokio::process::Command::new(cfg.bin_dir.join("spindle"));
    cmd.args([
        "submit",
        "--name",
        tag,
        "--timeout",
        &format!("{}s", cfg.job_timeout.as_secs()),
        "--num-executors",
        &cfg.executors.to_string(),
        "--executor-cores",
        &cfg.executor_cores.to_string(),
        "--executor-memory",
        &format!("{}m", cfg.executor_memory_mb),
        "--driver-memory",
        &format!("{}m", cfg.driver_memory_mb),
        "--reducers",
        &cfg.reducers().to_string(),
    ]);
    if system == System::SpindleExecutors {
        cmd.args(["--conf", "spindle.uber.max-input=0"]);
    }
    let reducers = cfg.reducers().to_string();
    match workload {
        Workload::WordCount => cmd.args(["wordcount", input, output]),
        // An application: the examples binary itself, with its own arguments.
        Workload::Sort => cmd.arg(cfg.bin_dir.join("spindle-examples")).args([
            "sort",
            "--partitions",
            &reducers,
            input,
            output,
        ]),
    };
    cmd.env("HADOOP_CONF_DIR", env.cluster.conf_dir())
        .env("HADOOP_USER_NAME", "root")
        .env(
            "SPINDLE_EXAMPLES_BINARY",
            cfg.bin_dir.join("spindle-examples"),
        );
    let end = run_client(cmd, cfg.job_timeout + Duration::from_secs(60), &log).await?;
    let app_id = find_app_id(&end.text);
    conclude(env, system, app_id, tag, end, &log).await
}

async fn spark_job(
    env: &Env<'_>,
    workload: Workload,
    input: &str,
    output: &str,
    tag: &str,
) -> Result<Ran, BenchError> {
    let cfg = env.cfg;
    let setup = env
        .spark
        .as_ref()
        .ok_or_else(|| BenchError::Invalid("Spark was not prepared".into()))?;
    let log = env.log_dir.join(format!("{tag}.log"));
    let mut cmd = tokio::process::Command::new(setup.spark_home.join("bin/spark-submit"));
    let partitions = cfg.reducers().to_string();
    let (class, app_args) = match workload {
        Workload::WordCount => (spark::APP_CLASS, vec![input, output]),
        Workload::Sort => (spark::SORT_CLASS, vec![input, output, partitions.as_str()]),
    };
    cmd.args(spark::submit_args(
        setup,
        class,
        tag,
        cfg.executors,
        cfg.executor_cores,
        cfg.executor_memory_mb,
        cfg.driver_memory_mb,
        cfg.reducers(),
        &app_args,
    ))
    .env("SPARK_HOME", &setup.spark_home)
    .env("HADOOP_CONF_DIR", env.cluster.conf_dir())
    .env("YARN_CONF_DIR", env.cluster.conf_dir())
    .env("SPARK_LOCAL_IP", "127.0.0.1")
    .env("HADOOP_USER_NAME", "root");
    if let Some(home) = &setup.java_home {
        cmd.env("JAVA_HOME", home);
    }
    let end = run_client(cmd, cfg.job_timeout, &log).await?;
    // spark-submit prints many ids (none of others' apps): trust the tag.
    conclude(env, System::Spark, None, tag, end, &log).await
}

async fn mapreduce(
    env: &Env<'_>,
    workload: Workload,
    input: &str,
    output: &str,
    tag: &str,
) -> Result<Ran, BenchError> {
    let cfg = env.cfg;
    let jar = env
        .mr_jar
        .as_ref()
        .ok_or_else(|| BenchError::Invalid("the MapReduce examples jar was not found".into()))?
        .to_string_lossy()
        .into_owned();
    let log = env.log_dir.join(format!("{tag}.log"));
    let started = Instant::now();
    let args = [
        jar.as_str(),
        match workload {
            Workload::WordCount => "wordcount",
            // TeraInputFormat reads the records as 100-byte fixed-size records.
            Workload::Sort => "terasort",
        },
        &format!("-Dmapreduce.job.tags={tag}"),
        &format!("-Dmapreduce.job.reduces={}", cfg.reducers()),
        // The client's completion poll (default 5 s) only delays the wall time.
        "-Dmapreduce.client.completion.pollinterval=500",
        input,
        output,
    ];
    let result = tokio::time::timeout(
        cfg.job_timeout,
        env.cluster
            .hadoop_cli("org.apache.hadoop.util.RunJar", &args),
    )
    .await;
    let wall_seconds = started.elapsed().as_secs_f64();
    let end = match result {
        Err(_) => ClientEnd {
            success: None,
            text: String::new(),
            wall_seconds,
        },
        Ok(out) => {
            let out = out?;
            ClientEnd {
                success: Some(out.status.success()),
                text: spindle_integration::output_text(&out),
                wall_seconds,
            }
        }
    };
    let _ = std::fs::write(&log, &end.text);
    conclude(env, System::MapReduce, None, tag, end, &log).await
}

/// The floor AM's command: register, run zero containers, unregister SUCCEEDED.
/// (`--command` is required by the CLI but never runs: there are no containers.)
pub const FLOOR_COMMAND: &str =
    "./spindle-am shell --command true --containers 0 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr";

/// A floor's REST submission: one attempt of a 128 MB AM running `am`.
fn floor_request(app_id: &str, name: &str, am: Value) -> Value {
    json!({
        "application-id": app_id,
        "application-name": name,
        "application-type": "SPINDLE-FLOOR",
        "queue": "default",
        "max-app-attempts": 1,
        "resource": {"memory": 128, "vCores": 1},
        "am-container-spec": am,
    })
}

/// The REST submission of the floor application.
pub fn floor_body(app_id: &str, name: &str, resource: &Value) -> Value {
    floor_request(
        app_id,
        name,
        json!({
            "local-resources": {"entry": [resource]},
            "environment": {"entry": [{"key": "RUST_LOG", "value": "warn"}]},
            "commands": {"command": FLOOR_COMMAND},
        }),
    )
}

async fn floor(env: &Env<'_>, tag: &str) -> Result<Ran, BenchError> {
    let resource = env
        .floor_resource
        .as_ref()
        .ok_or_else(|| BenchError::Invalid("the floor AM was not staged".into()))?;
    timed_rest_app(
        env,
        "floor",
        SETTLE_POLL,
        |id| floor_body(id, tag, resource),
        |r| r.succeeded(),
    )
    .await
}

/// Submits `body(id)` through the RM REST API and waits, polling every `poll`, until
/// it ended and `ended_well` says so; timed from asking for the id to seeing the end.
async fn timed_rest_app(
    env: &Env<'_>,
    system: &str,
    poll: Duration,
    body: impl FnOnce(&str) -> Value,
    ended_well: impl FnOnce(&AppReport) -> bool,
) -> Result<Ran, BenchError> {
    let started = Instant::now();
    let id = env.rm.new_application().await?;
    env.rm.submit(&body(&id)).await?;
    let report = match env.rm.wait_final(&id, Duration::from_secs(300), poll).await {
        Ok(r) => r,
        Err(e) => {
            env.rm.kill(&id).await;
            return Err(e);
        }
    };
    let wall_seconds = started.elapsed().as_secs_f64();
    if !ended_well(&report) {
        return Err(BenchError::JobFailed {
            system: system.into(),
            detail: format!(
                "{id} ended {}/{}: {}",
                report.state,
                report.final_status,
                report.diagnostics.trim()
            ),
        });
    }
    Ok(Ran {
        report,
        wall_seconds,
    })
}

/// The REST submission of the bare floor: an AM whose command is `true`, nothing to
/// localize. It exits without registering, so YARN ends it FAILED (exit code 0):
/// what is timed is how soon YARN can run a process and report it gone.
pub fn bare_floor_body(app_id: &str, name: &str) -> Value {
    floor_request(app_id, name, json!({"commands": {"command": "true"}}))
}

/// The bare floor, timed as a user waits: from asking for an id to seeing it ended,
/// polling every 50 ms. Its AM ran `true` and exited 0; anything else (a launch
/// failure) is no floor.
async fn bare_floor(env: &Env<'_>, tag: &str) -> Result<Ran, BenchError> {
    timed_rest_app(
        env,
        "floor-true",
        BARE_FLOOR_POLL,
        |id| bare_floor_body(id, tag),
        |r| r.diagnostics.contains("exitCode: 0") || r.succeeded(),
    )
    .await
}

/// Stages the floor AM (`spindle-am`) in `dir` in HDFS, once per harness run, not
/// timed; returns its local resource. PRIVATE, as `spindle submit` stages its own
/// binaries, so the NodeManagers localize it once, not once per run.
pub(super) async fn stage_floor(
    cluster: &Cluster,
    hdfs: &Hdfs,
    am: &std::path::Path,
    dir: &str,
) -> Result<Value, BenchError> {
    let remote = format!("{dir}/spindle-am");
    hdfs.put(cluster, am, &remote).await?;
    let st = hdfs
        .status(&remote)
        .await?
        .ok_or_else(|| BenchError::Invalid(format!("{remote} missing right after put")))?;
    Ok(json!({
        "key": "spindle-am",
        "value": {
            "resource": format!("{}{remote}", cluster.default_fs()),
            "type": "FILE",
            "visibility": "PRIVATE",
            "size": st.length,
            "timestamp": st.modification_time,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_in_client_output() {
        assert_eq!(
            find_app_id("application_1795821085526_0003\nfollowing…").as_deref(),
            Some("application_1795821085526_0003")
        );
        assert_eq!(
            find_app_id("INFO Submitted application application_17_0012 to ResourceManager")
                .as_deref(),
            Some("application_17_0012")
        );
        assert_eq!(find_app_id("no id, application_x_1"), None);
        assert_eq!(find_app_id("nothing"), None);
    }

    #[test]
    fn floor_submission() {
        let res = json!({"key": "spindle-am", "value": {}});
        let b = floor_body("application_1_0001", "sbench-floor", &res);
        assert_eq!(b["am-container-spec"]["commands"]["command"], FLOOR_COMMAND);
        assert_eq!(b["max-app-attempts"], 1);
        assert_eq!(b["am-container-spec"]["local-resources"]["entry"][0], res);
        // The bare floor: the same request, an AM that only runs `true`.
        let bare = bare_floor_body("application_1_0002", "sbench-floor-true");
        assert_eq!(
            bare["am-container-spec"],
            json!({"commands": {"command": "true"}})
        );
        assert_eq!(bare["resource"], b["resource"]);
        assert_eq!(bare["application-id"], "application_1_0002");
    }
}
