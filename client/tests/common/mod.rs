//! What the client's cluster tests share: the binaries built beside `spindle`, and a
//! `spindle` command pointed at the test cluster.
// Each test file uses its own subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use spindle_integration::Cluster;

/// A binary built beside `spindle` (`cargo test --workspace` builds them all).
pub fn bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_spindle"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} missing: build it first (cargo build -p spindle-yarn-am -p spindle-executor)",
        p.display()
    );
    p
}

/// `spindle <args>` against the test cluster as `user`, with this build's AM and executor.
pub fn spindle_cmd(cluster: &Cluster, user: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_spindle"));
    c.args(args)
        .env("HADOOP_CONF_DIR", cluster.conf_dir())
        .env("HADOOP_USER_NAME", user)
        .env("SPINDLE_AM_BINARY", bin("spindle-am"))
        .env("SPINDLE_EXECUTOR_BINARY", bin("spindle-executor"))
        .kill_on_drop(true);
    c
}

/// Runs `spindle <args>` as root to the end.
pub async fn spindle(cluster: &Cluster, args: &[&str]) -> Output {
    spindle_cmd(cluster, "root", args)
        .output()
        .await
        .expect("run spindle")
}

/// `hdfs dfs <args>`, its stdout as text.
pub async fn fs_shell(cluster: &Cluster, args: &[&str]) -> String {
    let out = cluster.fs_shell(args).await.expect("hdfs dfs");
    String::from_utf8_lossy(&out).into_owned()
}
