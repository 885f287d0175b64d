//! A real Hadoop cluster on loopback for Spindle's tests: fetched from Maven Central,
//! started as separate JVM processes (NameNode, 2 DataNodes, ResourceManager with its
//! web proxy, 2 NodeManagers on distinct loopback addresses), and stopped again.
//!
//! Owns the cluster's life cycle and configuration; it does not speak Hadoop's protocols
//! (that is `spindle-hadoop-ipc`), it only polls the daemons' REST/JMX pages to know
//! when they are usable.

mod cluster;

pub use cluster::{Cluster, ClusterError, Daemon, DaemonState, Settings, ensure_cluster};

/// A name no other test run uses: `prefix-<pid>-<nanoseconds>`.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A finished process's stdout and stderr, for assertion and error messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
