//! The AM of a user's application (a binary built on the `spindle` crate): the binary
//! itself runs in the AM container and calls [`AppMaster::start`]; from then on the
//! driver accepts executors, a background task keeps the ResourceManager heartbeat,
//! asks for executor containers when the application first needs them
//! ([`AppMaster::want_executors`]), launches the same binary in them as executors and
//! replaces lost ones; [`AppMaster::finish`] unregisters with the application's outcome.
//!
//! What the application computes, and when, is the `spindle` crate's business; this
//! module only owns the YARN side.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use spindle_core::driver::Driver;
use spindle_core::status::{EnvSection, RunState};
use spindle_core::transport::SECRET_ALIAS;
use spindle_hadoop_ipc::credentials::Credentials;
use spindle_hadoop_ipc::nm::NmClient;
use spindle_hadoop_ipc::rm::{AmCommand, AmRmClient};
use spindle_hadoop_ipc::{Container, ContainerId, FinalStatus, LaunchContext, Resource};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::container_env::ContainerEnv;
use crate::lifecycle::{
    Registered, Staged, environment_sections, remove_staging_dir, staged_from_env,
    start_and_register, write_history,
};
use crate::{AmError, ipc};

const DEFAULT_RACK: &str = "/default-rack";
const PRIORITY: i32 = 1;
/// How often the AM heartbeats to the ResourceManager.
const HEARTBEAT: Duration = Duration::from_millis(250);

/// How the application's executors are sized, from the client (`SPINDLE_*` variables
/// of the AM's environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    /// `SPINDLE_EXECUTOR_INSTANCES`.
    pub num_executors: u32,
    /// `SPINDLE_EXECUTOR_MEMORY_MB`.
    pub executor_memory_mb: i64,
    /// `SPINDLE_EXECUTOR_CORES`.
    pub executor_cores: u32,
    /// `SPINDLE_TASK_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// `SPINDLE_APP_PROGRAM`: the binary's name in the containers' working directories.
    pub program: String,
}

impl AppSettings {
    /// Reads the settings the client put in the AM's environment.
    pub fn from_env() -> Result<AppSettings, AmError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<AppSettings, AmError> {
        fn number<T: std::str::FromStr + PartialOrd + From<u8>>(
            var: &impl Fn(&str) -> Option<String>,
            key: &str,
            default: T,
        ) -> Result<T, AmError> {
            match var(key).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .parse::<T>()
                    .ok()
                    .filter(|n| *n >= T::from(1))
                    .ok_or_else(|| {
                        AmError::Environment(format!("{key}={v:?} is not a positive number"))
                    }),
            }
        }
        let program = var("SPINDLE_APP_PROGRAM")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                AmError::Environment(
                    "SPINDLE_APP_PROGRAM is not set (submit with `spindle submit`)".into(),
                )
            })?;
        Ok(AppSettings {
            num_executors: number(&var, "SPINDLE_EXECUTOR_INSTANCES", 2u32)?,
            executor_memory_mb: number(&var, "SPINDLE_EXECUTOR_MEMORY_MB", 512i64)?,
            executor_cores: number(&var, "SPINDLE_EXECUTOR_CORES", 1u32)?,
            max_attempts: number(&var, "SPINDLE_TASK_MAX_ATTEMPTS", 4u32)?,
            program,
        })
    }
}

/// A registered application master hosting a user application's driver.
pub struct AppMaster {
    env: ContainerEnv,
    staged: Staged,
    settings: AppSettings,
    driver: Arc<Driver>,
    secret: Vec<u8>,
    app_id: String,
    want: watch::Sender<Want>,
    stop: Option<oneshot::Sender<()>>,
    heartbeats: Option<JoinHandle<Result<AmRmClient, AmError>>>,
    /// Outputs being written: a kill deletes them, so nothing half-written is left
    /// looking like a result.
    partial_outputs: PartialOutputs,
    /// The application is over and its UI lingers: SIGTERM ends the lingering.
    lingering: Arc<std::sync::atomic::AtomicBool>,
}

/// The outputs that jobs are writing right now.
type PartialOutputs = Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>;

impl AppMaster {
    /// Reads the container's environment, starts the driver and its web UI, registers
    /// with the ResourceManager and starts heartbeating. No executor is asked for yet.
    pub async fn start(settings: AppSettings) -> Result<AppMaster, AmError> {
        let env = ContainerEnv::from_env()?;
        let staged = staged_from_env()?;
        let Registered {
            secret,
            driver,
            app_id,
            tracking_url,
            rm,
            queue,
        } = start_and_register(&env, &staged, settings.max_attempts).await?;
        let kv = |k: &str, v: String| (k.to_string(), v);
        driver.set_environment(environment_sections(
            &env,
            &staged,
            &app_id,
            &queue,
            &tracking_url,
            EnvSection {
                title: "Application settings".into(),
                entries: vec![
                    kv("Program", settings.program.clone()),
                    kv("Executors", settings.num_executors.to_string()),
                    kv(
                        "Executor memory (MB)",
                        settings.executor_memory_mb.to_string(),
                    ),
                    kv("Executor cores", settings.executor_cores.to_string()),
                    kv("Task max attempts", settings.max_attempts.to_string()),
                ],
            },
        ));
        let (want, want_rx) = watch::channel(Want::default());
        let (stop, stop_rx) = oneshot::channel();
        let launcher = Launcher {
            nm: NmClient::new(rm.nm_tokens(), env.qops.clone()),
            driver: driver.clone(),
            staged: staged.clone(),
            settings: settings.clone(),
            tokens: {
                let mut creds = Credentials::new();
                creds.add_secret(SECRET_ALIAS, secret.clone());
                creds.write_token_storage()
            },
            resource: Resource {
                memory_mb: settings.executor_memory_mb,
                vcores: settings.executor_cores as i32,
            },
        };
        let partial_outputs = PartialOutputs::default();
        let lingering = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let heartbeats = tokio::spawn(heartbeat_loop(
            rm,
            launcher,
            want_rx,
            stop_rx,
            partial_outputs.clone(),
            lingering.clone(),
        ));
        Ok(AppMaster {
            env,
            staged,
            settings,
            driver,
            secret,
            app_id,
            want,
            stop: Some(stop),
            heartbeats: Some(heartbeats),
            partial_outputs,
            lingering,
        })
    }

    /// A job starts writing the output directory `uri`: if the application is killed
    /// before [`AppMaster::output_done`], the directory is deleted.
    pub fn output_started(&self, uri: &str) {
        self.partial_outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uri.to_string());
    }

    /// The job writing `uri` committed it or cleaned it up itself.
    pub fn output_done(&self, uri: &str) {
        self.partial_outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uri);
    }

    /// The driver executors register with.
    pub fn driver(&self) -> Arc<Driver> {
        self.driver.clone()
    }

    /// The application secret (executors prove it; shuffle fetches too).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The node this AM runs on, as YARN names it.
    pub fn host(&self) -> &str {
        &self.env.nm_host
    }

    /// The default file system for bare paths.
    pub fn default_fs(&self) -> &str {
        &self.staged.default_fs
    }

    /// The user the application's file-system calls run as.
    pub fn user(&self) -> &str {
        &self.staged.user
    }

    /// This container's id.
    pub fn container_id(&self) -> String {
        self.env.container_id.to_string()
    }

    /// How executors are sized.
    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }

    /// Asks for the configured number of executors (once; later calls do nothing),
    /// spread over `hosts` (each task's preferred host, where its input is) in
    /// proportion to the tasks each holds; YARN may relax that to the rack and then to
    /// any node.
    pub fn want_executors(&self, hosts: &[String]) {
        let n = self.settings.num_executors.max(1) as i32;
        let per_host = executors_per_host(hosts, n as u32);
        self.want.send_if_modified(|w| {
            let more = w.executors < n;
            if more {
                *w = Want {
                    executors: n,
                    per_host,
                };
            }
            more
        });
    }

    /// Stops the executors and unregisters with `outcome` (the diagnostics on success,
    /// the error on failure); writes the history file and removes the staging
    /// directory while the RM confirms.
    pub async fn finish(mut self, outcome: Result<String, String>) -> Result<(), AmError> {
        self.driver.stop("application finished").await;
        let (status, diagnostics, state) = match &outcome {
            Ok(d) => (FinalStatus::Succeeded, d.clone(), RunState::Succeeded),
            Err(e) => (FinalStatus::Failed, e.clone(), RunState::Failed),
        };
        self.driver.finish_app(state, &diagnostics);
        let Some(mut heartbeats) = self.heartbeats.take() else {
            return Err(AmError::Environment("finished twice".into()));
        };
        let linger = self.staged.ui_linger;
        let mut ended = None;
        if !linger.is_zero() {
            // Heartbeats go on (progress 100%), so the UI stays reachable through the
            // RM's proxy; a kill now ends the lingering, not the application.
            self.lingering
                .store(true, std::sync::atomic::Ordering::SeqCst);
            info!(
                seconds = linger.as_secs(),
                "application over; the UI stays up (spindle.ui.linger)"
            );
            tokio::select! {
                _ = tokio::time::sleep(linger) => {}
                r = &mut heartbeats => ended = Some(r),
            }
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ended = match ended {
            Some(r) => r,
            None => heartbeats.await,
        };
        let mut rm = ended
            .map_err(|e| AmError::Environment(format!("the heartbeat task failed: {e}")))??;
        let (unregistered, (), ()) = tokio::join!(
            rm.finish(status, &diagnostics, ""),
            write_history(&self.driver, &self.staged, &self.app_id),
            remove_staging_dir(&self.staged),
        );
        unregistered.map_err(ipc("unregistering from the ResourceManager"))?;
        Ok(())
    }
}

/// What launching an executor needs.
struct Launcher {
    nm: NmClient,
    driver: Arc<Driver>,
    staged: Staged,
    settings: AppSettings,
    tokens: Vec<u8>,
    resource: Resource,
}

impl Launcher {
    fn context(&self, c: &Container) -> LaunchContext {
        let program = &self.settings.program;
        let mut environment = vec![
            ("SPINDLE_ROLE".into(), "executor".into()),
            ("SPINDLE_DRIVER".into(), self.driver.address().to_string()),
            ("SPINDLE_EXECUTOR_ID".into(), c.id.to_string()),
            (
                "SPINDLE_EXECUTOR_CORES".into(),
                self.settings.executor_cores.to_string(),
            ),
            (
                "SPINDLE_EXECUTOR_MEMORY_MB".into(),
                self.settings.executor_memory_mb.to_string(),
            ),
            ("HADOOP_USER_NAME".into(), self.staged.user.clone()),
            ("SPINDLE_DEFAULT_FS".into(), self.staged.default_fs.clone()),
            (
                "RUST_LOG".into(),
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            ),
        ];
        // glibc gives each thread that allocates its own arena (up to 8 per core), and
        // tasks run on whichever pooled thread is free: without a cap each arena grows
        // to a task's peak and the container's RSS to several times it (Hadoop passes
        // the same variable to its containers).
        environment.push((
            "MALLOC_ARENA_MAX".into(),
            std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into()),
        ));
        // spindle.task.memory, when the application was submitted with it.
        if let Ok(m) = std::env::var("SPINDLE_TASK_MEMORY") {
            environment.push(("SPINDLE_TASK_MEMORY".into(), m));
        }
        LaunchContext {
            local_resources: std::iter::once((program.clone(), self.staged.executor.clone()))
                .chain(self.staged.files.iter().cloned())
                .collect(),
            environment,
            // The program's name is ours (the client checks it is a plain file name).
            commands: vec![format!("./{program} 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr")],
            tokens: Some(self.tokens.clone()),
        }
    }
}

/// Executors asked for, and on which hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Want {
    executors: i32,
    per_host: BTreeMap<String, i32>,
}

/// Spreads `n` executors over `hosts` (one entry per task: its preferred host) in
/// proportion to the tasks each holds, at least one where any data is while executors
/// last.
fn executors_per_host(hosts: &[String], n: u32) -> BTreeMap<String, i32> {
    let mut weight: BTreeMap<String, usize> = BTreeMap::new();
    for h in hosts {
        *weight.entry(h.clone()).or_default() += 1;
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

/// How long a kill may spend deleting partial outputs; first thing after SIGTERM, as
/// the NodeManager sends SIGKILL `yarn.nodemanager.sleep-delay-before-sigkill.ms`
/// (250 ms by default) later.
const KILL_CLEANUP: std::time::Duration = std::time::Duration::from_secs(10);

/// Heartbeats to the RM until told to stop: asks for executors when `want` grows,
/// launches the containers that arrive, and replaces executors that are lost.
async fn heartbeat_loop(
    mut rm: AmRmClient,
    launcher: Launcher,
    mut want_rx: watch::Receiver<Want>,
    mut stop: oneshot::Receiver<()>,
    partial_outputs: PartialOutputs,
    lingering: Arc<std::sync::atomic::AtomicBool>,
) -> Result<AmRmClient, AmError> {
    let resource = launcher.resource;
    let mut want = 0i32;
    let mut running: HashMap<ContainerId, Container> = HashMap::new();
    let mut lost: HashSet<ContainerId> = HashSet::new();
    let mut replacements_left = 0i32;
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| AmError::Environment(format!("installing the SIGTERM handler: {e}")))?;
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(rm),
            _ = beat.tick() => {}
            _ = want_rx.changed() => {}
            _ = sigterm.recv() => {
                if lingering.load(std::sync::atomic::Ordering::SeqCst) {
                    info!("SIGTERM while the UI lingers: unregistering now");
                    return Ok(rm);
                }
                // `spindle kill` or YARN: the application's own code cannot be
                // interrupted; end the process now, as Spark's AM does.
                warn!("killed: stopping the executors and exiting");
                let partial: Vec<String> = partial_outputs
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .cloned()
                    .collect();
                let cleanup = async {
                    for uri in partial {
                        warn!(output = %uri, "deleting the partial output of a killed job");
                        match crate::lifecycle::output_fs(&uri, &launcher.staged).await {
                            Ok(fs) => {
                                if let Err(e) = fs.delete(&uri).await {
                                    warn!(output = %uri, "cannot delete it: {e}");
                                }
                            }
                            Err(e) => warn!(output = %uri, "cannot delete it: {e}"),
                        }
                    }
                };
                if tokio::time::timeout(KILL_CLEANUP, cleanup).await.is_err() {
                    warn!("gave up deleting partial outputs after {KILL_CLEANUP:?}");
                }
                launcher.driver.stop("killed").await;
                let _ = rm.finish(FinalStatus::Killed, "killed", "").await;
                std::process::exit(143);
            }
        }
        let wanted = want_rx.borrow().clone();
        if wanted.executors > want {
            let more = wanted.executors - want;
            want = wanted.executors;
            replacements_left += more * 2;
            for (host, k) in &wanted.per_host {
                let n = rm.asked(PRIORITY, host, resource);
                rm.set_ask(PRIORITY, host, resource, n + k, true);
            }
            let n = rm.asked(PRIORITY, "*", resource);
            rm.set_ask(PRIORITY, DEFAULT_RACK, resource, n + more, true);
            rm.set_ask(PRIORITY, "*", resource, n + more, true);
            info!(executors = want, near = ?wanted.per_host, "asking for executors");
        }
        rm.set_progress(launcher.driver.phase().2);
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
            rm.container_arrived(&c, &[DEFAULT_RACK.to_string()]);
            match launcher.nm.start(&c, &launcher.context(&c)).await {
                Ok(()) => {
                    launcher.driver.set_executor_logs_url(
                        &c.id.to_string(),
                        &format!(
                            "http://{}/node/containerlogs/{}/{}",
                            c.node_http_address, c.id, launcher.staged.user
                        ),
                    );
                    info!(container = %c.id, node = %c.node, "executor launched");
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
                launcher.driver.executor_lost(&s.id.to_string(), &why).await;
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executors_follow_the_data() {
        let hosts: Vec<String> = ["a", "a", "a", "b"].map(String::from).to_vec();
        let m = executors_per_host(&hosts, 2);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(m.get("b"), Some(&1));
        let m = executors_per_host(&hosts, 4);
        assert_eq!(m.values().sum::<i32>(), 4);
        assert_eq!(m.get("a"), Some(&3));
        assert!(executors_per_host(&[], 3).is_empty());
    }

    #[test]
    fn settings_come_from_the_environment_with_defaults() {
        let vars: HashMap<&str, &str> = [
            ("SPINDLE_APP_PROGRAM", "my-app"),
            ("SPINDLE_EXECUTOR_INSTANCES", "3"),
            ("SPINDLE_EXECUTOR_MEMORY_MB", "1024"),
        ]
        .into();
        let s = AppSettings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).expect("settings");
        assert_eq!(
            s,
            AppSettings {
                num_executors: 3,
                executor_memory_mb: 1024,
                executor_cores: 1,
                max_attempts: 4,
                program: "my-app".into(),
            }
        );
        let bad: HashMap<&str, &str> = [
            ("SPINDLE_APP_PROGRAM", "a"),
            ("SPINDLE_EXECUTOR_CORES", "0"),
        ]
        .into();
        let err =
            AppSettings::from_lookup(|k| bad.get(k).map(|v| v.to_string())).expect_err("0 cores");
        assert!(
            err.to_string().contains("SPINDLE_EXECUTOR_CORES=\"0\""),
            "{err}"
        );
        let err = AppSettings::from_lookup(|_| None).expect_err("no program");
        assert!(err.to_string().contains("SPINDLE_APP_PROGRAM"), "{err}");
    }
}
