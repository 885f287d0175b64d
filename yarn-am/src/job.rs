//! The AM as driver host: starts the driver and its web endpoint, registers, plans the
//! job, asks for executor containers where the data is (before the job starts running),
//! launches `spindle-executor` in them, replaces lost ones, runs the job, cleans up the
//! staging directory and unregisters with the outcome. SIGTERM (`spindle kill`) removes
//! the partial output before YARN's SIGKILL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spindle_conf::HadoopConf;
use spindle_core::driver::{Driver, DriverConfig, JobReport, JobSpec};
use spindle_core::fs::{FileSystem, for_uri};
use spindle_core::job::JobKind;
use spindle_core::split::Split;
use spindle_core::transport::SECRET_ALIAS;
use spindle_hadoop_ipc::credentials::Credentials;
use spindle_hadoop_ipc::nm::NmClient;
use spindle_hadoop_ipc::rm::{AmCommand, AmRmClient};
use spindle_hadoop_ipc::{
    Container, ContainerId, FinalStatus, LaunchContext, LocalResource, Resource, Visibility,
};
use tracing::{info, warn};

use spindle_core::status::EnvSection;

use crate::{AmError, ContainerEnv, ipc, web};

const DEFAULT_RACK: &str = "/default-rack";
const PRIORITY: i32 = 1;

/// What the client asked for.
#[derive(Debug, Clone)]
pub struct JobArgs {
    /// The job.
    pub job: JobKind,
    /// Input URI.
    pub input: String,
    /// Output URI.
    pub output: String,
    /// Executors wanted.
    pub num_executors: u32,
    /// Memory per executor container, MB.
    pub executor_memory_mb: i64,
    /// Task slots per executor.
    pub executor_cores: u32,
    /// Reduce partitions (default: one per executor).
    pub reducers: Option<u32>,
    /// Attempts of a task before the job fails.
    pub max_attempts: u32,
}

/// Settings the client put in the AM's environment.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    pub executor: LocalResource,
    /// `--files`, localized into every executor's working directory too.
    pub files: Vec<(String, LocalResource)>,
    pub staging_dir: Option<String>,
    pub default_fs: String,
    pub user: String,
    pub app_name: String,
    pub rm_web_url: String,
    pub history_dir: Option<String>,
    pub ui_linger: Duration,
    /// Inputs up to this many bytes run inside the AM (0: never).
    pub uber_max_bytes: u64,
}

pub(crate) fn staged_from_env() -> Result<Staged, AmError> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let spec = var("SPINDLE_EXECUTOR_RESOURCE").ok_or_else(|| {
        AmError::Environment(
            "SPINDLE_EXECUTOR_RESOURCE is not set (submit with `spindle submit`)".into(),
        )
    })?;
    let executor = parse_resource(&spec)?;
    let default_fs = var("SPINDLE_DEFAULT_FS")
        .or_else(|| {
            HadoopConf::from_env()
                .ok()
                .and_then(|c| c.default_fs().ok())
        })
        .unwrap_or_else(|| format!("hdfs://{}:{}", executor.host, executor.port));
    let mut files = Vec::new();
    for spec in var("SPINDLE_FILE_RESOURCES")
        .iter()
        .flat_map(|l| l.split(','))
    {
        let r = parse_resource(spec)?;
        let name = r.file.rsplit('/').next().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(AmError::Environment(format!(
                "SPINDLE_FILE_RESOURCES entry {spec:?} names no file"
            )));
        }
        files.push((name, r));
    }
    Ok(Staged {
        executor,
        files,
        staging_dir: var("SPINDLE_STAGING_DIR"),
        default_fs,
        user: var("HADOOP_USER_NAME")
            .or_else(|| var("USER"))
            .unwrap_or_else(|| "yarn".into()),
        app_name: var("SPINDLE_APP_NAME").unwrap_or_else(|| "spindle".into()),
        rm_web_url: var("SPINDLE_RM_WEB_URL").unwrap_or_else(|| {
            HadoopConf::from_env()
                .map(|c| c.rm_web_url())
                .unwrap_or_else(|_| "http://0.0.0.0:8088".into())
        }),
        history_dir: var("SPINDLE_HISTORY_DIR"),
        uber_max_bytes: var("SPINDLE_UBER_MAX_BYTES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        ui_linger: Duration::from_secs(
            var("SPINDLE_UI_LINGER")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
    })
}

/// `hdfs://host:port/path|size|timestamp[|visibility]` → a YARN local resource
/// (visibility `APPLICATION`, the default, or `PRIVATE`).
fn parse_resource(spec: &str) -> Result<LocalResource, AmError> {
    let bad =
        |why: &str| AmError::Environment(format!("SPINDLE_EXECUTOR_RESOURCE {spec:?}: {why}"));
    let mut parts = spec.split('|');
    let (Some(uri), Some(size), Some(ts), visibility, None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("want <uri>|<size>|<timestamp>[|<visibility>]"));
    };
    let visibility = match visibility {
        None => Visibility::Application,
        Some(v) => {
            Visibility::parse(v).ok_or_else(|| bad("visibility is not APPLICATION or PRIVATE"))?
        }
    };
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("not a URI"))?;
    let (authority, path) = rest.split_at(rest.find('/').ok_or_else(|| bad("no path"))?);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
        None => (authority, -1),
    };
    Ok(LocalResource {
        scheme: scheme.to_string(),
        host: host.to_string(),
        port,
        file: path.to_string(),
        size: size.parse().map_err(|_| bad("bad size"))?,
        timestamp: ts.parse().map_err(|_| bad("bad timestamp"))?,
        archive: false,
        visibility,
    })
}

/// Spreads `n` executors over hosts in proportion to the splits each holds (first host
/// of each split), at least one where any data is while executors last.
fn executors_per_host(splits: &[Split], n: u32) -> BTreeMap<String, i32> {
    let mut weight: BTreeMap<String, usize> = BTreeMap::new();
    for s in splits {
        if let Some(h) = s.hosts.first() {
            *weight.entry(h.clone()).or_default() += 1;
        }
    }
    let total: usize = weight.values().sum();
    let mut out = BTreeMap::new();
    if total == 0 || n == 0 {
        return out;
    }
    let mut by_weight: Vec<(String, usize)> = weight.into_iter().collect();
    by_weight.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut left = n as i32;
    for (h, w) in &by_weight {
        let share = ((*w as f64 / total as f64) * n as f64).floor() as i32;
        let k = share.max(1).min(left);
        if k > 0 {
            out.insert(h.clone(), k);
            left -= k;
        }
    }
    // Rounding leftovers go to the heaviest hosts.
    let mut i = 0;
    while left > 0 && !by_weight.is_empty() {
        let h = &by_weight[i % by_weight.len()].0;
        *out.entry(h.clone()).or_default() += 1;
        left -= 1;
        i += 1;
    }
    out
}

/// The driver started and the AM registered, with what both gave.
pub(crate) struct Registered {
    /// The application secret, from the AM's credentials.
    pub secret: Vec<u8>,
    pub driver: Arc<Driver>,
    pub app_id: String,
    /// The web UI, registered as the tracking URL.
    pub tracking_url: String,
    pub rm: AmRmClient,
    /// The queue the RM put the application in.
    pub queue: String,
}

/// Starts the driver (executors prove the secret in the AM's credentials) and its web
/// UI on this node, then registers with the RM with the UI as the tracking URL.
pub(crate) async fn start_and_register(
    env: &ContainerEnv,
    staged: &Staged,
    max_attempts: u32,
) -> Result<Registered, AmError> {
    let secret = env
        .credentials
        .secret(SECRET_ALIAS)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| AmError::Environment(format!("the credentials hold no {SECRET_ALIAS}")))?;
    let ip = tokio::net::lookup_host((env.nm_host.as_str(), 0))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| AmError::Environment(format!("cannot resolve NM_HOST {}", env.nm_host)))?;
    let mut driver_config =
        DriverConfig::new(secret.clone(), SocketAddr::new(ip, 0), env.nm_host.clone());
    driver_config.max_attempts = max_attempts.max(1);
    let driver = Driver::start(driver_config)
        .await
        .map_err(|e| AmError::JobFailed(e.to_string()))?;
    let app_id = env.container_id.attempt.app.to_string();
    driver.set_app_info(&app_id, &staged.app_name, &staged.user);
    let proxy = web::ProxyInfo {
        rm_web_url: staged.rm_web_url.clone(),
        app_id: app_id.clone(),
    };
    let web = web::serve(SocketAddr::new(ip, 0), driver.clone(), &proxy).await?;
    let tracking_url = format!("http://{}:{}/", env.nm_host, web.port());

    let mut rm = AmRmClient::new(
        &env.scheduler_address,
        env.amrm_token.clone(),
        env.qops.clone(),
    );
    let reg = rm
        .register(&env.nm_host, 0, &tracking_url)
        .await
        .map_err(ipc(format!(
            "registering with the ResourceManager at {}",
            env.scheduler_address
        )))?;
    info!(queue = %reg.queue, driver = %driver.address(), %tracking_url, "registered");
    Ok(Registered {
        secret,
        driver,
        app_id,
        tracking_url,
        rm,
        queue: reg.queue,
    })
}

/// Runs the job; returns the diagnostics for the RM. Unregisters in every case.
pub async fn run_job_am(env: &ContainerEnv, args: &JobArgs) -> Result<String, AmError> {
    let staged = staged_from_env()?;
    let Registered {
        secret,
        driver,
        app_id,
        tracking_url,
        mut rm,
        queue,
    } = start_and_register(env, &staged, args.max_attempts).await?;
    let resource = Resource {
        memory_mb: args.executor_memory_mb,
        vcores: args.executor_cores as i32,
    };
    driver.set_environment(environment_sections(
        env,
        &staged,
        &app_id,
        &queue,
        &tracking_url,
        job_section(args),
    ));

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| AmError::Environment(format!("installing the SIGTERM handler: {e}")))?;
    let outcome = tokio::select! {
        r = drive(&mut rm, env, args, &staged, &secret, resource, driver.clone()) => r,
        _ = sigterm.recv() => Err(AmError::Killed),
    };
    driver.stop("application finished").await;
    if matches!(outcome, Err(AmError::Killed)) {
        // The job future is gone mid-way: remove its partial output ourselves.
        if let Ok(fs) = output_fs(&args.output, &staged).await
            && fs
                .info(&format!("{}/_temporary", args.output))
                .await
                .ok()
                .flatten()
                .is_some()
        {
            let _ = fs.delete(&args.output).await;
        }
    }
    let (status, diagnostics) = match &outcome {
        Ok(d) => (FinalStatus::Succeeded, d.clone()),
        Err(AmError::Killed) => (FinalStatus::Killed, "killed".to_string()),
        Err(e) => (FinalStatus::Failed, e.to_string()),
    };
    let state = match status {
        FinalStatus::Succeeded => "SUCCEEDED",
        FinalStatus::Failed => "FAILED",
        FinalStatus::Killed => "KILLED",
    };
    driver.finish_app(state, &diagnostics);
    if status != FinalStatus::Killed && !staged.ui_linger.is_zero() {
        info!(
            seconds = staged.ui_linger.as_secs(),
            "job over; the UI stays up (spindle.ui.linger)"
        );
        linger(&mut rm, staged.ui_linger, &mut sigterm).await;
    }
    // The output is committed (or removed) by now. Unregistering stamps the
    // application's finish time; YARN reports it FINISHED only once this process has
    // exited, so the history file and the staging directory's removal, done while the
    // RM confirms, still come before anyone sees FINISHED (Spark and MapReduce also
    // clean up their staging directories after unregistering).
    // No final tracking URL: this UI ends with the AM; `spindle history` shows it after.
    let (unregistered, (), ()) = tokio::join!(
        rm.finish(status, &diagnostics, ""),
        write_history(&driver, &staged, &app_id),
        remove_staging_dir(&staged),
    );
    unregistered.map_err(ipc("unregistering from the ResourceManager"))?;
    outcome
}

/// Removes the application's staging directory (its uploaded files); a failure is
/// logged, not fatal.
pub(crate) async fn remove_staging_dir(staged: &Staged) {
    if let Some(dir) = &staged.staging_dir
        && let Ok(fs) = output_fs(dir, staged).await
        && let Err(e) = fs.delete(dir).await
    {
        warn!("could not remove the staging directory {dir}: {e}");
    }
}

/// Keeps the AM (and its UI) alive for `how_long`, heartbeating so YARN does not expire
/// it; SIGTERM ends it early.
async fn linger(
    rm: &mut AmRmClient,
    how_long: Duration,
    sigterm: &mut tokio::signal::unix::Signal,
) {
    let until = tokio::time::Instant::now() + how_long;
    rm.set_progress(1.0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return,
            _ = sigterm.recv() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Err(e) = rm.allocate().await {
                    warn!("heartbeat while lingering: {e}");
                    return;
                }
            }
        }
    }
}

/// Writes the application's final status to `<history dir>/<appId>.json` for
/// `spindle history`; a failure is logged, not fatal.
pub(crate) async fn write_history(driver: &Driver, staged: &Staged, app_id: &str) {
    let Some(dir) = &staged.history_dir else {
        return;
    };
    let path = format!("{}/{app_id}.json", dir.trim_end_matches('/'));
    let json = match serde_json::to_vec(&driver.status()) {
        Ok(j) => j,
        Err(e) => {
            warn!("could not encode the history of {app_id}: {e}");
            return;
        }
    };
    let written = async {
        let fs = output_fs(dir, staged).await?;
        fs.mkdirs(dir)
            .await
            .map_err(|e| AmError::JobFailed(e.to_string()))?;
        fs.write(&path, bytes::Bytes::from(json))
            .await
            .map_err(|e| AmError::JobFailed(e.to_string()))
    };
    match written.await {
        Ok(()) => info!(%path, "history written"),
        Err(e) => warn!("could not write the history file {path}: {e}"),
    }
}

/// The environment page's section on a built-in job.
fn job_section(args: &JobArgs) -> EnvSection {
    let kv = |k: &str, v: String| (k.to_string(), v);
    let job_args = match &args.job {
        JobKind::Grep { pattern } => pattern.clone(),
        _ => String::new(),
    };
    let job = vec![
        kv("Job", args.job.name().to_string()),
        kv("Job arguments", job_args),
        kv("Input", args.input.clone()),
        kv("Output", args.output.clone()),
        kv("Executors", args.num_executors.to_string()),
        kv("Executor memory (MB)", args.executor_memory_mb.to_string()),
        kv("Executor cores", args.executor_cores.to_string()),
        kv(
            "Reducers",
            args.reducers
                .map(|r| r.to_string())
                .unwrap_or_else(|| format!("{} (one per executor)", args.num_executors)),
        ),
        kv("Task max attempts", args.max_attempts.to_string()),
    ];
    EnvSection {
        title: "Job".into(),
        entries: job,
    }
}

/// The environment page: what the application runs, with what settings, where.
pub(crate) fn environment_sections(
    env: &ContainerEnv,
    staged: &Staged,
    app_id: &str,
    queue: &str,
    tracking_url: &str,
    job: EnvSection,
) -> Vec<EnvSection> {
    let kv = |k: &str, v: String| (k.to_string(), v);
    let application = vec![
        kv("Application id", app_id.to_string()),
        kv("Name", staged.app_name.clone()),
        kv("User", staged.user.clone()),
        kv("Queue", queue.to_string()),
        kv("AM container", env.container_id.to_string()),
        kv("AM host", env.nm_host.clone()),
        kv(
            "AM web address (redirects to the proxy)",
            tracking_url.to_string(),
        ),
        kv(
            "Through the proxy",
            format!(
                "{}/proxy/{app_id}/",
                staged.rm_web_url.trim_end_matches('/')
            ),
        ),
        kv(
            "YARN UI",
            format!(
                "{}/cluster/app/{app_id}",
                staged.rm_web_url.trim_end_matches('/')
            ),
        ),
        kv("Default file system", staged.default_fs.clone()),
        kv(
            "History file",
            staged
                .history_dir
                .as_ref()
                .map(|d| format!("{}/{app_id}.json", d.trim_end_matches('/')))
                .unwrap_or_else(|| "(none)".into()),
        ),
    ];
    let secretive = |k: &str| {
        let k = k.to_ascii_uppercase();
        ["SECRET", "TOKEN", "PASSWORD", "CREDENTIAL", "KEY"]
            .iter()
            .any(|w| k.contains(w))
    };
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            (k.starts_with("SPINDLE_")
                || k.starts_with("HADOOP_")
                || k.starts_with("YARN_")
                || k == "RUST_LOG"
                || k == "CONTAINER_ID"
                || k == "NM_HOST"
                || k == "APPLICATION_WEB_PROXY_BASE")
                && !secretive(k)
        })
        .collect();
    vars.sort();
    let process = vec![
        kv("Spindle version", env!("CARGO_PKG_VERSION").to_string()),
        kv("Process id", std::process::id().to_string()),
        kv(
            "Platform",
            format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        ),
    ];
    vec![
        EnvSection {
            title: "Application".into(),
            entries: application,
        },
        job,
        EnvSection {
            title: "Environment variables".into(),
            entries: vars,
        },
        EnvSection {
            title: "Process".into(),
            entries: process,
        },
    ]
}

pub(crate) async fn output_fs(uri: &str, staged: &Staged) -> Result<Arc<dyn FileSystem>, AmError> {
    let mut conf = HadoopConf::from_env().unwrap_or_default();
    conf.set("fs.defaultFS", &staged.default_fs);
    for_uri(uri, &conf, &staged.user)
        .await
        .map_err(|e| AmError::JobFailed(e.to_string()))
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    rm: &mut AmRmClient,
    env: &ContainerEnv,
    args: &JobArgs,
    staged: &Staged,
    secret: &[u8],
    resource: Resource,
    driver: Arc<Driver>,
) -> Result<String, AmError> {
    let fs = output_fs(&args.input, staged).await?;
    let out_fs = output_fs(&args.output, staged).await?;
    let spec = JobSpec {
        job: args.job.clone(),
        input: args.input.clone(),
        output: args.output.clone(),
        reducers: args.reducers.unwrap_or(args.num_executors).max(1),
        max_split_size: 128 * 1024 * 1024,
    };
    let fail = |e: spindle_core::CoreError| AmError::JobFailed(e.to_string());
    if out_fs.info(&spec.output).await.map_err(fail)?.is_some() {
        return Err(AmError::JobFailed(format!(
            "output {} already exists",
            spec.output
        )));
    }
    let splits = driver.plan(&spec, fs.as_ref()).await.map_err(fail)?;

    // A small input runs inside the AM (MapReduce's "uber" mode): no containers to wait for.
    let input_bytes: u64 = splits.iter().map(|s| s.length).sum();
    let uber = staged.uber_max_bytes > 0 && input_bytes <= staged.uber_max_bytes;
    let mut in_am = None;
    if uber {
        info!(
            input_bytes,
            limit = staged.uber_max_bytes,
            "small input: running the tasks inside the AM"
        );
        let mut conf = HadoopConf::from_env().unwrap_or_default();
        conf.set("fs.defaultFS", &staged.default_fs);
        let config = spindle_executor::ExecutorConfig {
            driver: driver.address().to_string(),
            executor_id: env.container_id.to_string(),
            container_id: env.container_id.to_string(),
            host: env.nm_host.clone(),
            cores: args.executor_cores.max(2),
            memory_bytes: 0,
            secret: secret.to_vec(),
            default_fs: staged.default_fs.clone(),
            user: staged.user.clone(),
            hadoop_conf: conf,
        };
        in_am = Some(tokio::spawn(spindle_executor::run(config)));
    }

    // Ask for executors where the data is, before the job starts.
    let want = if uber {
        0
    } else {
        args.num_executors.max(1) as i32
    };
    let per_host = executors_per_host(&splits, want as u32);
    for (host, n) in &per_host {
        rm.set_ask(PRIORITY, host, resource, *n, true);
    }
    rm.set_ask(PRIORITY, DEFAULT_RACK, resource, want, true);
    rm.set_ask(PRIORITY, "*", resource, want, true);
    let mut node_asks: HashMap<String, i32> = per_host.into_iter().collect();

    let nm = NmClient::new(rm.nm_tokens(), env.qops.clone());
    let mut creds = Credentials::new();
    creds.add_secret(SECRET_ALIAS, secret.to_vec());
    let tokens = creds.write_token_storage();
    let mut running: HashMap<ContainerId, Container> = HashMap::new();
    let mut launched_total = 0i32;
    let mut replacements_left = want * 2;
    let mut lost: HashSet<ContainerId> = HashSet::new();

    let job = driver.run_job(&spec, splits, out_fs);
    tokio::pin!(job);
    let mut beat = tokio::time::interval(Duration::from_millis(250));
    let report: JobReport = loop {
        tokio::select! {
            r = &mut job => break r.map_err(fail)?,
            _ = beat.tick() => {}
        }
        rm.set_progress(driver.phase().2);
        let alloc = rm
            .allocate()
            .await
            .map_err(ipc("heartbeat to the ResourceManager"))?;
        if alloc.command == Some(AmCommand::Shutdown) {
            return Err(AmError::Shutdown);
        }
        for c in alloc.allocated {
            if running.len() as i32 >= want {
                rm.release(c.id);
                continue;
            }
            // Lower the asks this container satisfied (the RM does not).
            let mut satisfied = vec![DEFAULT_RACK.to_string()];
            if let Some(n) = node_asks.get_mut(&c.node.host)
                && *n > 0
            {
                *n -= 1;
                satisfied.push(c.node.host.clone());
            }
            rm.container_arrived(&c, &satisfied);
            let launch = LaunchContext {
                local_resources: std::iter::once((
                    "spindle-executor".into(),
                    staged.executor.clone(),
                ))
                .chain(staged.files.iter().cloned())
                .collect(),
                environment: vec![
                    ("HADOOP_USER_NAME".into(), staged.user.clone()),
                    ("SPINDLE_DEFAULT_FS".into(), staged.default_fs.clone()),
                    (
                        "RUST_LOG".into(),
                        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
                    ),
                ],
                commands: vec![format!(
                    "./spindle-executor --driver {} --executor-id {} --cores {} --memory-mb {} 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr",
                    driver.address(),
                    c.id,
                    args.executor_cores,
                    args.executor_memory_mb
                )],
                tokens: Some(tokens.clone()),
            };
            match nm.start(&c, &launch).await {
                Ok(()) => {
                    driver.set_executor_logs_url(
                        &c.id.to_string(),
                        &format!(
                            "http://{}/node/containerlogs/{}/{}",
                            c.node_http_address, c.id, staged.user
                        ),
                    );
                    info!(container = %c.id, node = %c.node, "executor launched");
                    launched_total += 1;
                    running.insert(c.id, c);
                }
                Err(e) => {
                    warn!(container = %c.id, node = %c.node, "could not launch: {e}");
                    rm.release(c.id);
                    let n = rm.asked(PRIORITY, "*", resource);
                    rm.set_ask(PRIORITY, "*", resource, n + 1, true);
                }
            }
        }
        for s in alloc.completed {
            if running.remove(&s.id).is_some() && lost.insert(s.id) {
                let why = format!(
                    "container exited {}: {}",
                    s.exit_status,
                    s.diagnostics.trim()
                );
                driver.executor_lost(&s.id.to_string(), &why).await;
                if replacements_left > 0 {
                    replacements_left -= 1;
                    let n = rm.asked(PRIORITY, "*", resource);
                    rm.set_ask(PRIORITY, "*", resource, n + 1, true);
                    warn!(container = %s.id, "executor lost ({why}); asking for a replacement");
                } else {
                    warn!(container = %s.id, "executor lost ({why}); no replacements left");
                }
            }
        }
    };
    info!(launched_total, "job done");
    if let Some(h) = in_am {
        // Stopped with the driver; its tasks are over.
        h.abort();
    }
    Ok(format!(
        "{} of {} → {}{}: {} map tasks ({} node-local), {} bytes read, {} part files, {} failed attempts, {:.1} s",
        spec.job.name(),
        spec.input,
        spec.output,
        if uber { " (inside the AM)" } else { "" },
        report.map_tasks,
        report.node_local_tasks,
        report.input_bytes,
        report.output_files.len(),
        report.failed_attempts,
        report.duration.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(host: &str) -> Split {
        Split {
            path: "hdfs://nn/x".into(),
            start: 0,
            length: 1,
            hosts: vec![host.into()],
        }
    }

    #[test]
    fn executors_follow_the_data() {
        let splits: Vec<Split> = [vec![split("a"); 3], vec![split("b"); 1]].concat();
        let m = executors_per_host(&splits, 2);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(m.get("b"), Some(&1));
        let m = executors_per_host(&splits, 4);
        assert_eq!(m.values().sum::<i32>(), 4);
        assert_eq!(m.get("a"), Some(&3));
        assert!(executors_per_host(&[], 3).is_empty());
    }

    #[test]
    fn resources_parse() {
        let r =
            parse_resource("hdfs://127.0.0.1:9000/user/u/.spindle/app/spindle-executor|123|456")
                .expect("parses");
        assert_eq!(
            (r.host.as_str(), r.port, r.size, r.timestamp),
            ("127.0.0.1", 9000, 123, 456)
        );
        assert_eq!(r.file, "/user/u/.spindle/app/spindle-executor");
        assert_eq!(r.visibility, Visibility::Application);
        let cached =
            parse_resource("hdfs://nn:9000/user/u/.spindle/cache/ab/spindle-executor|1|2|PRIVATE")
                .expect("parses");
        assert_eq!(cached.visibility, Visibility::Private);
        for bad in [
            "",
            "x|1|2",
            "hdfs://h:p/x|1|2",
            "hdfs://h:1/x|a|2",
            "hdfs://h:1/x|1|2|PUBLIC",
            "hdfs://h:1/x|1|2|PRIVATE|4",
        ] {
            assert!(parse_resource(bad).is_err(), "{bad}");
        }
    }
}
