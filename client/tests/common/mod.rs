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
        "{} missing: build it first (cargo build -p spindle-examples)",
        p.display()
    );
    p
}

/// `spindle <args>` against the test cluster as `user`, with this build's examples
/// binary (the built-in jobs run on it).
pub fn spindle_cmd(cluster: &Cluster, user: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_spindle"));
    c.args(args)
        .env("HADOOP_CONF_DIR", cluster.conf_dir())
        .env("HADOOP_USER_NAME", user)
        .env("SPINDLE_EXAMPLES_BINARY", bin("spindle-examples"))
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

/// The RM's report of `app` (`/ws/v1/cluster/apps/<app>`).
pub async fn rm_app(cluster: &Cluster, app: &str) -> serde_json::Value {
    let url = format!(
        "{}/ws/v1/cluster/apps/{app}?user.name=root",
        cluster.rm_url()
    );
    let v: serde_json::Value = reqwest::get(&url)
        .await
        .expect("RM")
        .json()
        .await
        .expect("JSON");
    v["app"].clone()
}

/// The `part-*` files of a local copy of an output directory, in order.
pub fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("output dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        })
        .collect();
    parts.sort();
    parts
}
