//! What a cluster is made of: version, directories, ports and sizes, from the environment.

use std::path::{Path, PathBuf};

use super::ClusterError;

/// The Hadoop release fetched when `HADOOP_VERSION` is not set: the newest stable 3.4.x.
pub const DEFAULT_HADOOP_VERSION: &str = "3.4.3";

/// The release whose MapReduce examples and DistributedShell jars are used when the
/// chosen release does not publish them on Maven Central.
const APPS_FALLBACK_VERSION: &str = "3.4.2";

/// Releases known to publish both `hadoop-mapreduce-examples` and DistributedShell
/// (3.3.6 lacks DistributedShell; 3.4.3 and 3.5.0 lack both).
const RELEASES_WITH_APPS: [&str; 3] = ["3.4.0", "3.4.1", "3.4.2"];

/// One cluster's settings. Every field has a default; `from_env` reads overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Hadoop release of the daemons (`HADOOP_VERSION`).
    pub hadoop_version: String,
    /// Where jars, configuration, data and logs live (`SPINDLE_CLUSTER_DIR`).
    pub state_dir: PathBuf,
    /// Where the fetched Hadoop releases live; other clusters may share them.
    pub dist_root: PathBuf,
    /// Added to every port, so two clusters can run side by side (`SPINDLE_PORT_OFFSET`).
    pub port_offset: u16,
    /// HDFS default block size in bytes (`SPINDLE_BLOCK_SIZE`).
    pub block_size: u64,
    /// `hadoop.rpc.protection`: authentication, integrity or privacy (`SPINDLE_RPC_PROTECTION`).
    pub rpc_protection: String,
    /// Memory each NodeManager offers, in MB (`SPINDLE_NM_MEMORY_MB`).
    pub nm_memory_mb: u32,
    /// Virtual cores each NodeManager offers (`SPINDLE_NM_VCORES`).
    pub nm_vcores: u32,
    /// Whether YARN kills containers over their physical memory (`SPINDLE_PMEM_CHECK`).
    pub pmem_check: bool,
    /// Heap of each daemon JVM (`SPINDLE_DAEMON_HEAP`).
    pub daemon_heap: String,
    /// How long `up` waits for the cluster to be usable, in seconds (`SPINDLE_BOOT_TIMEOUT`).
    pub boot_timeout_secs: u64,
}

impl Settings {
    /// Defaults, with the state directory under `integration/.cluster` of this checkout.
    pub fn defaults() -> Self {
        Settings {
            hadoop_version: DEFAULT_HADOOP_VERSION.to_string(),
            state_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join(".cluster"),
            dist_root: Path::new(env!("CARGO_MANIFEST_DIR")).join(".cluster"),
            port_offset: 0,
            block_size: 16 * 1024 * 1024,
            rpc_protection: "authentication".to_string(),
            nm_memory_mb: 6144,
            nm_vcores: 6,
            pmem_check: false,
            daemon_heap: "256m".to_string(),
            boot_timeout_secs: 180,
        }
    }

    /// Defaults overridden by the environment; bad values are named in the error.
    pub fn from_env() -> Result<Self, ClusterError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ClusterError> {
        let mut s = Self::defaults();
        if let Some(v) = get("HADOOP_VERSION") {
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(bad("HADOOP_VERSION", &v, "not a release number"));
            }
            s.hadoop_version = v;
        }
        if let Some(v) = get("SPINDLE_CLUSTER_DIR") {
            s.state_dir = PathBuf::from(&v);
            s.dist_root = PathBuf::from(v);
        }
        if let Some(v) = get("SPINDLE_PORT_OFFSET") {
            s.port_offset = v
                .parse()
                .ok()
                .filter(|o: &u16| *o <= 20000)
                .ok_or_else(|| bad("SPINDLE_PORT_OFFSET", &v, "want 0..=20000"))?;
        }
        if let Some(v) = get("SPINDLE_BLOCK_SIZE") {
            s.block_size = parse_size(&v)
                .filter(|b| *b >= 4096 && b % 512 == 0)
                .ok_or_else(|| {
                    bad(
                        "SPINDLE_BLOCK_SIZE",
                        &v,
                        "want bytes (or k/m suffix), at least 4096, a multiple of 512",
                    )
                })?;
        }
        if let Some(v) = get("SPINDLE_RPC_PROTECTION") {
            if !["authentication", "integrity", "privacy"].contains(&v.as_str()) {
                return Err(bad(
                    "SPINDLE_RPC_PROTECTION",
                    &v,
                    "want authentication, integrity or privacy",
                ));
            }
            s.rpc_protection = v;
        }
        if let Some(v) = get("SPINDLE_NM_MEMORY_MB") {
            s.nm_memory_mb = v
                .parse()
                .ok()
                .filter(|m| *m >= 512)
                .ok_or_else(|| bad("SPINDLE_NM_MEMORY_MB", &v, "want a number of MB ≥ 512"))?;
        }
        if let Some(v) = get("SPINDLE_NM_VCORES") {
            s.nm_vcores = v
                .parse()
                .ok()
                .filter(|c| *c >= 1)
                .ok_or_else(|| bad("SPINDLE_NM_VCORES", &v, "want a number ≥ 1"))?;
        }
        if let Some(v) = get("SPINDLE_PMEM_CHECK") {
            s.pmem_check = match v.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(bad("SPINDLE_PMEM_CHECK", &v, "want true or false")),
            };
        }
        if let Some(v) = get("SPINDLE_DAEMON_HEAP") {
            if parse_size(&v).is_none() {
                return Err(bad("SPINDLE_DAEMON_HEAP", &v, "want a JVM size like 256m"));
            }
            s.daemon_heap = v;
        }
        if let Some(v) = get("SPINDLE_BOOT_TIMEOUT") {
            s.boot_timeout_secs = v
                .parse()
                .ok()
                .filter(|t| *t >= 10)
                .ok_or_else(|| bad("SPINDLE_BOOT_TIMEOUT", &v, "want seconds ≥ 10"))?;
        }
        Ok(s)
    }

    /// The release whose examples/DistributedShell jars to fetch.
    pub fn apps_version(&self) -> &str {
        if RELEASES_WITH_APPS.contains(&self.hadoop_version.as_str()) {
            &self.hadoop_version
        } else {
            APPS_FALLBACK_VERSION
        }
    }

    /// A port of the cluster, shifted by the offset.
    pub fn port(&self, base: u16) -> u16 {
        base + self.port_offset
    }

    /// Jars and webapps of this release (shared by every cluster using the state dir).
    pub fn dist_dir(&self) -> PathBuf {
        self.state_dir
            .join(format!("hadoop-{}", self.hadoop_version))
    }

    /// `HADOOP_CONF_DIR` of this cluster.
    pub fn conf_dir(&self) -> PathBuf {
        self.state_dir.join("conf")
    }

    /// HDFS and YARN local data.
    pub fn data_dir(&self) -> PathBuf {
        self.state_dir.join("data")
    }

    /// Daemon logs.
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// Pid files of the daemons this cluster started.
    pub fn pid_dir(&self) -> PathBuf {
        self.state_dir.join("pids")
    }

    /// The NameNode's RPC address.
    pub fn namenode_address(&self) -> String {
        format!("127.0.0.1:{}", self.port(9000))
    }

    /// The ResourceManager's web and REST base URL.
    pub fn rm_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port(8088))
    }

    /// The NameNode's web base URL (JMX, WebHDFS).
    pub fn namenode_http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port(9870))
    }
}

fn bad(var: &str, value: &str, why: &str) -> ClusterError {
    ClusterError::Setting {
        var: var.to_string(),
        value: value.to_string(),
        reason: why.to_string(),
    }
}

/// Parses `1048576`, `1024k`, `16m`, `1g` (case-insensitive).
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let (digits, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1024),
        'm' => (&v[..v.len() - 1], 1024 * 1024),
        'g' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v.as_str(), 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Settings, ClusterError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_without_environment() {
        assert_eq!(with(&[]).ok(), Some(Settings::defaults()));
    }

    #[test]
    fn environment_overrides() {
        let s = with(&[
            ("HADOOP_VERSION", "3.3.6"),
            ("SPINDLE_BLOCK_SIZE", "1m"),
            ("SPINDLE_PORT_OFFSET", "100"),
            ("SPINDLE_RPC_PROTECTION", "privacy"),
        ])
        .expect("valid settings");
        assert_eq!(s.hadoop_version, "3.3.6");
        assert_eq!(s.apps_version(), "3.4.2");
        assert_eq!(s.block_size, 1024 * 1024);
        assert_eq!(s.namenode_address(), "127.0.0.1:9100");
        assert_eq!(s.rpc_protection, "privacy");
    }

    #[test]
    fn newer_releases_borrow_example_jars() {
        let s = with(&[("HADOOP_VERSION", "3.5.0")]).expect("valid");
        assert_eq!(s.apps_version(), "3.4.2");
    }

    #[test]
    fn bad_values_are_named() {
        for (var, val) in [
            ("SPINDLE_BLOCK_SIZE", "100"),
            ("SPINDLE_BLOCK_SIZE", "lots"),
            ("SPINDLE_RPC_PROTECTION", "secret"),
            ("SPINDLE_PORT_OFFSET", "-1"),
            ("HADOOP_VERSION", "3.4; rm -rf /"),
            ("SPINDLE_PMEM_CHECK", "maybe"),
        ] {
            let err = with(&[(var, val)]).expect_err(var).to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("16M"), Some(16 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
    }
}
