//! A real Hadoop cluster on loopback for Spindle's tests: fetched from Maven Central,
//! started as separate JVM processes (NameNode, 2 DataNodes, ResourceManager with its
//! web proxy, 2 NodeManagers on distinct loopback addresses), and stopped again.
//!
//! Owns the cluster's life cycle and configuration; it does not speak Hadoop's protocols
//! (that is `spindle-hadoop-ipc`), it only polls the daemons' REST/JMX pages to know
//! when they are usable.

mod cluster;

pub use cluster::{Cluster, ClusterError, Daemon, DaemonState, Settings, ensure_cluster};
