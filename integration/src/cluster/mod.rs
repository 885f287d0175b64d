//! Life cycle of the loopback cluster: fetch, configure, format, start, wait, stop.

mod daemons;
mod settings;
mod site;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

pub use daemons::{Daemon, DaemonState};
pub use settings::Settings;
use site::{daemons as daemon_specs, site_files};

/// Everything that can go wrong with the test cluster, each naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{var}={value:?} is not usable: {reason}")]
    Setting {
        var: String,
        value: String,
        reason: String,
    },
    #[error("{0} not found: install it (Debian: apt-get install {1}) or put it on PATH")]
    ToolMissing(&'static str, &'static str),
    #[error("fetching Hadoop {version} from Maven Central failed (log: {log}):\n{tail}")]
    Fetch {
        version: String,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "port {port} on {host} is already taken (needed by the {daemon}); stop what holds it or set SPINDLE_PORT_OFFSET"
    )]
    PortTaken {
        daemon: String,
        host: String,
        port: u16,
    },
    #[error("the {daemon} died while starting (exit: {status}); last lines of {log}:\n{tail}")]
    DaemonDied {
        daemon: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("the cluster was not usable after {secs} s: {waiting_for}")]
    BootTimeout { secs: u64, waiting_for: String },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

/// A handle on one loopback cluster (running or not).
#[derive(Debug, Clone)]
pub struct Cluster {
    settings: Settings,
    java: PathBuf,
    java_home: PathBuf,
}

impl Cluster {
    /// A handle for these settings; checks that Java is there.
    pub fn new(settings: Settings) -> Result<Self, ClusterError> {
        let (java, java_home) = find_java()?;
        Ok(Cluster {
            settings,
            java,
            java_home,
        })
    }

    /// A handle for the settings in the environment.
    pub fn from_env() -> Result<Self, ClusterError> {
        Self::new(Settings::from_env()?)
    }

    /// This cluster's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `HADOOP_CONF_DIR` for Hadoop's CLI classes and for Spindle.
    pub fn conf_dir(&self) -> PathBuf {
        self.settings.conf_dir()
    }

    /// The ResourceManager's REST base URL.
    pub fn rm_url(&self) -> String {
        self.settings.rm_url()
    }

    /// The NameNode's RPC `host:port`.
    pub fn namenode_address(&self) -> String {
        self.settings.namenode_address()
    }

    /// `fs.defaultFS`.
    pub fn default_fs(&self) -> String {
        format!("hdfs://{}", self.settings.namenode_address())
    }

    /// The jar directory of this Hadoop release.
    pub fn lib_dir(&self) -> PathBuf {
        self.settings.dist_dir().join("lib")
    }

    /// The first jar in the lib directory whose name starts with `prefix`.
    pub fn jar(&self, prefix: &str) -> Result<PathBuf, ClusterError> {
        let dir = self.lib_dir();
        let entries = std::fs::read_dir(&dir).map_err(io(format!("listing {}", dir.display())))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && name.ends_with(".jar") && !name.contains("-tests") {
                return Ok(e.path());
            }
        }
        Err(ClusterError::Command {
            what: format!("finding {prefix}*.jar"),
            detail: format!("no such jar in {}", dir.display()),
        })
    }

    /// The classpath Hadoop's own classes run with.
    pub fn classpath(&self) -> String {
        let dist = self.settings.dist_dir();
        format!(
            "{}:{}:{}/*",
            self.conf_dir().display(),
            dist.join("webapps").display(),
            self.lib_dir().display()
        )
    }

    /// The daemons of this cluster with their current state.
    pub fn daemons(&self) -> Vec<Daemon> {
        daemon_specs(&self.settings)
            .into_iter()
            .map(|spec| Daemon::new(spec, &self.settings))
            .collect()
    }

    /// True when every daemon this cluster started is alive.
    pub fn all_running(&self) -> bool {
        self.daemons()
            .iter()
            .all(|d| d.state() == DaemonState::Running)
    }

    /// Starts the cluster unless it runs already, then waits until it is usable.
    /// Returns true when this call started it.
    pub async fn up(&self) -> Result<bool, ClusterError> {
        let daemons = self.daemons();
        let running: Vec<&Daemon> = daemons
            .iter()
            .filter(|d| d.state() == DaemonState::Running)
            .collect();
        if running.len() == daemons.len() {
            self.wait_usable(&daemons).await?;
            return Ok(false);
        }
        // A partial cluster (a daemon died) restarts only the missing daemons.
        for d in &daemons {
            if d.state() != DaemonState::Running {
                d.check_ports()?;
            }
        }
        self.fetch().await?;
        self.write_conf()?;
        self.format_namenode().await?;
        let started = Instant::now();
        for d in &daemons {
            if d.state() != DaemonState::Running {
                d.start(
                    &self.java,
                    &self.java_home,
                    &self.classpath(),
                    &self.settings,
                )?;
            }
        }
        self.wait_usable(&daemons).await?;
        self.prepare_hdfs().await?;
        eprintln!(
            "cluster up in {:.1} s: HDFS {} , YARN {}",
            started.elapsed().as_secs_f64(),
            self.default_fs(),
            self.rm_url()
        );
        Ok(true)
    }

    /// Stops exactly the daemons this cluster started; a no-op when none runs.
    pub async fn down(&self) -> Result<(), ClusterError> {
        // Stop workers before masters so none logs a storm of reconnect errors.
        for d in self.daemons().iter().rev() {
            d.stop().await?;
        }
        Ok(())
    }

    /// Fetches the Hadoop jars with Maven unless this release is already there.
    pub async fn fetch(&self) -> Result<(), ClusterError> {
        let dist = self.settings.dist_dir();
        let stamp = dist.join(".fetched");
        if stamp.is_file() {
            return Ok(());
        }
        let mvn = which("mvn").ok_or(ClusterError::ToolMissing("mvn (Maven)", "maven"))?;
        std::fs::create_dir_all(&dist).map_err(io(format!("creating {}", dist.display())))?;
        let pom = Path::new(env!("CARGO_MANIFEST_DIR")).join("hadoop-deps/pom.xml");
        let log = dist.join("fetch.log");
        eprintln!(
            "fetching Hadoop {} from Maven Central (once; cached in ~/.m2)…",
            self.settings.hadoop_version
        );
        let log_file =
            std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let log_err = log_file
            .try_clone()
            .map_err(io(format!("opening {}", log.display())))?;
        let status = tokio::process::Command::new(mvn)
            .arg("-B")
            .arg("-f")
            .arg(&pom)
            .arg("generate-resources")
            .arg(format!("-Dhadoop.version={}", self.settings.hadoop_version))
            .arg(format!(
                "-Dhadoop.apps.version={}",
                self.settings.apps_version()
            ))
            .arg(format!("-Dlib.dir={}", dist.join("lib").display()))
            .arg(format!("-Dwebapps.dir={}", dist.join("webapps").display()))
            .env("JAVA_HOME", &self.java_home)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .status()
            .await
            .map_err(io("running mvn"))?;
        if !status.success() {
            return Err(ClusterError::Fetch {
                version: self.settings.hadoop_version.clone(),
                tail: tail_lines(&log, 25, |l| l.contains("ERROR") || l.contains("FAIL")),
                log,
            });
        }
        std::fs::write(&stamp, b"").map_err(io(format!("writing {}", stamp.display())))?;
        Ok(())
    }

    /// Writes the site files (never while daemons run from them).
    pub fn write_conf(&self) -> Result<(), ClusterError> {
        let dir = self.conf_dir();
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        for (name, text) in site_files(&self.settings) {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))?;
        }
        for sub in ["logs", "pids", "data"] {
            let p = self.settings.state_dir.join(sub);
            std::fs::create_dir_all(&p).map_err(io(format!("creating {}", p.display())))?;
        }
        Ok(())
    }

    async fn format_namenode(&self) -> Result<(), ClusterError> {
        if self
            .settings
            .data_dir()
            .join("nn/current/VERSION")
            .is_file()
        {
            return Ok(());
        }
        let out = self
            .hadoop_cli(
                "org.apache.hadoop.hdfs.server.namenode.NameNode",
                &["-format", "-nonInteractive", "-force"],
            )
            .await?;
        if !out.status.success() {
            return Err(ClusterError::Command {
                what: "formatting the NameNode".into(),
                detail: last_lines(&String::from_utf8_lossy(&out.stderr), 20),
            });
        }
        Ok(())
    }

    /// Runs one of Hadoop's Java main classes (FsShell, DFSck, LogsCLI, …) against it.
    pub async fn hadoop_cli(
        &self,
        main_class: &str,
        args: &[&str],
    ) -> Result<std::process::Output, ClusterError> {
        let log_dir = self.settings.log_dir();
        tokio::process::Command::new(&self.java)
            .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!("-Dhadoop.log.dir={}", log_dir.display()))
            .arg("-Dhadoop.root.logger=WARN,console")
            .arg("-cp")
            .arg(self.classpath())
            .arg(main_class)
            .args(args)
            .env("HADOOP_CONF_DIR", self.conf_dir())
            .env("JAVA_HOME", &self.java_home)
            .env("HADOOP_USER_NAME", "root")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(io(format!("running {main_class}")))
    }

    /// Runs Hadoop's own `hdfs dfs` (FsShell) with `args`; its stdout, or an error
    /// carrying what it printed.
    pub async fn fs_shell(&self, args: &[&str]) -> Result<Vec<u8>, ClusterError> {
        let out = self
            .hadoop_cli("org.apache.hadoop.fs.FsShell", args)
            .await?;
        if !out.status.success() {
            return Err(ClusterError::Command {
                what: format!("hdfs dfs {}", args.join(" ")),
                detail: crate::output_text(&out),
            });
        }
        Ok(out.stdout)
    }

    /// Polls until HDFS is out of safe mode with 2 live DataNodes and YARN has 2
    /// RUNNING NodeManagers; fails early, with its log, when a daemon dies.
    async fn wait_usable(&self, daemons: &[Daemon]) -> Result<(), ClusterError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .map_err(|e| ClusterError::Command {
                what: "building an HTTP client".into(),
                detail: e.to_string(),
            })?;
        let deadline = Instant::now() + Duration::from_secs(self.settings.boot_timeout_secs);
        loop {
            for d in daemons {
                d.check_alive()?;
            }
            let waiting_for = match self.readiness(&http).await {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if Instant::now() > deadline {
                return Err(ClusterError::BootTimeout {
                    secs: self.settings.boot_timeout_secs,
                    waiting_for,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn readiness(&self, http: &reqwest::Client) -> Result<(), String> {
        let nn = self.settings.namenode_http_url();
        let state = get_json(
            http,
            &format!("{nn}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"),
        )
        .await?;
        let bean = &state["beans"][0];
        let live = bean["NumLiveDataNodes"].as_u64().unwrap_or(0);
        if live < 2 {
            return Err(format!("NameNode sees {live} of 2 live DataNodes"));
        }
        let info = get_json(
            http,
            &format!("{nn}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"),
        )
        .await?;
        let safemode = info["beans"][0]["Safemode"].as_str().unwrap_or("unknown");
        if !safemode.is_empty() {
            return Err(format!("NameNode in safe mode: {safemode}"));
        }
        let nodes = get_json(http, &format!("{}/ws/v1/cluster/nodes", self.rm_url())).await?;
        node_managers_ready(&nodes)
    }

    /// Creates the directories every Hadoop user expects, through WebHDFS as root.
    async fn prepare_hdfs(&self) -> Result<(), ClusterError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .map_err(|e| ClusterError::Command {
                what: "building an HTTP client".into(),
                detail: e.to_string(),
            })?;
        let nn = self.settings.namenode_http_url();
        for (path, perm) in [
            ("/tmp", "1777"),
            ("/app-logs", "1777"),
            ("/user", "755"),
            ("/user/root", "755"),
        ] {
            for op in [
                format!("op=MKDIRS&permission={perm}"),
                format!("op=SETPERMISSION&permission={perm}"),
            ] {
                let url = format!("{nn}/webhdfs/v1{path}?{op}&user.name=root");
                let resp = http
                    .put(&url)
                    .send()
                    .await
                    .map_err(|e| ClusterError::Command {
                        what: format!("creating {path} in HDFS"),
                        detail: e.to_string(),
                    })?;
                if !resp.status().is_success() {
                    return Err(ClusterError::Command {
                        what: format!("creating {path} in HDFS"),
                        detail: resp.text().await.unwrap_or_default(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Shell `export` lines for using this cluster from a terminal.
    pub fn env_lines(&self) -> String {
        format!(
            "export HADOOP_CONF_DIR={}\nexport JAVA_HOME={}\nexport HADOOP_CLASSPATH='{}'\nexport SPINDLE_RM_URL={}\nexport SPINDLE_NAMENODE={}\nexport SPINDLE_DEFAULT_FS={}\n",
            self.conf_dir().display(),
            self.java_home.display(),
            self.classpath(),
            self.rm_url(),
            self.namenode_address(),
            self.default_fs(),
        )
    }
}

static SHARED: OnceCell<Cluster> = OnceCell::const_new();

/// The cluster for tests: started once per test process, reused when already up (it is
/// left running for the next run; `integration/cluster down` stops it).
pub async fn ensure_cluster() -> Result<&'static Cluster, ClusterError> {
    SHARED
        .get_or_try_init(|| async {
            let cluster = Cluster::from_env()?;
            cluster.up().await?;
            Ok(cluster)
        })
        .await
}

/// Whether the RM's `/ws/v1/cluster/nodes` answer lists 2 RUNNING NodeManagers; if not,
/// names the others with their state and YARN's health report (an UNHEALTHY node says
/// why, e.g. its local dirs are on a disk over the utilization limit).
fn node_managers_ready(nodes: &serde_json::Value) -> Result<(), String> {
    let listed = nodes["nodes"]["node"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let running = listed.iter().filter(|n| n["state"] == "RUNNING").count();
    if running >= 2 {
        return Ok(());
    }
    let mut why = format!("ResourceManager has {running} of 2 RUNNING NodeManagers");
    for n in listed.iter().filter(|n| n["state"] != "RUNNING") {
        let id = n["id"].as_str().unwrap_or("?");
        let state = n["state"].as_str().unwrap_or("?");
        why.push_str(&format!("; {id} is {state}"));
        if let Some(report) = n["healthReport"].as_str().filter(|r| !r.is_empty()) {
            why.push_str(&format!(" ({report})"));
        }
    }
    Err(why)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<serde_json::Value, String> {
    let resp = http
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("{url} not answering ({e})"))?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    resp.json()
        .await
        .map_err(|e| format!("{url} gave no JSON ({e})"))
}

fn find_java() -> Result<(PathBuf, PathBuf), ClusterError> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let java = PathBuf::from(&home).join("bin/java");
        if java.is_file() {
            return Ok((java, PathBuf::from(home)));
        }
    }
    let java = which("java").ok_or(ClusterError::ToolMissing(
        "java (a JDK 11 or 17)",
        "openjdk-17-jdk-headless",
    ))?;
    let real = std::fs::canonicalize(&java).map_err(io(format!("resolving {}", java.display())))?;
    let home = real
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or(ClusterError::ToolMissing(
            "JAVA_HOME",
            "openjdk-17-jdk-headless",
        ))?;
    Ok((real, home))
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The last `n` lines of a file, preferring lines that match `interesting`.
fn tail_lines(path: &Path, n: usize, interesting: impl Fn(&str) -> bool) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let picked: Vec<&str> = text.lines().filter(|l| interesting(l)).collect();
    if picked.is_empty() {
        last_lines(&text, n)
    } else {
        picked[picked.len().saturating_sub(n)..].join("\n")
    }
}

fn last_lines(text: &str, n: usize) -> String {
    // Hadoop's STARTUP_MSG classpath line runs to tens of kB: keep lines readable.
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.len() > 300 {
                let cut = (0..=300)
                    .rev()
                    .find(|i| l.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{}…", &l[..cut])
            } else {
                l.to_string()
            }
        })
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::node_managers_ready;
    use serde_json::json;

    #[test]
    fn two_running_node_managers_are_ready() {
        let nodes = json!({"nodes": {"node": [
            {"id": "127.0.0.1:1", "state": "RUNNING", "healthReport": ""},
            {"id": "127.0.0.1:2", "state": "RUNNING", "healthReport": ""},
        ]}});
        assert_eq!(node_managers_ready(&nodes), Ok(()));
    }

    #[test]
    fn an_unhealthy_node_manager_is_named_with_its_health_report() {
        let nodes = json!({"nodes": {"node": [
            {"id": "127.0.0.1:1", "state": "RUNNING", "healthReport": ""},
            {"id": "127.0.0.1:2", "state": "UNHEALTHY",
             "healthReport": "1/1 local-dirs usable space is below configured utilization percentage"},
        ]}});
        assert_eq!(
            node_managers_ready(&nodes),
            Err(
                "ResourceManager has 1 of 2 RUNNING NodeManagers; 127.0.0.1:2 is UNHEALTHY \
                 (1/1 local-dirs usable space is below configured utilization percentage)"
                    .to_string()
            )
        );
    }

    #[test]
    fn no_node_list_yet_counts_as_none_running() {
        assert_eq!(
            node_managers_ready(&json!({"nodes": null})),
            Err("ResourceManager has 0 of 2 RUNNING NodeManagers".to_string())
        );
    }
}
