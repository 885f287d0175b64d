//! Helpers shared by the AM's real-cluster tests: stage the AM binary, submit it through
//! the RM REST API, wait for the outcome.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::json;
use spindle_hadoop_ipc::namenode::NameNodeClient;
use spindle_integration::Cluster;
pub use spindle_integration::unique_name as unique;

const FS_SHELL: &str = "org.apache.hadoop.fs.FsShell";

/// Copies the AM binary to HDFS and describes it as a YARN local resource.
pub async fn stage_am(cluster: &Cluster, dir: &str) -> serde_json::Value {
    let bin = env!("CARGO_BIN_EXE_spindle-am");
    let path = format!("{dir}/spindle-am");
    let out = cluster
        .hadoop_cli(FS_SHELL, &["-mkdir", "-p", dir])
        .await
        .expect("run FsShell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cluster
        .hadoop_cli(FS_SHELL, &["-put", "-f", bin, &path])
        .await
        .expect("run FsShell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Size and timestamp exactly as HDFS has them, asked over our own IPC.
    let nn = NameNodeClient::new(&cluster.namenode_address(), "root");
    let st = nn
        .file_info(&path)
        .await
        .expect("getFileInfo")
        .expect("staged file exists");
    json!({
        "key": "spindle-am",
        "value": {
            "resource": format!("{}{}", cluster.default_fs(), path),
            "type": "FILE",
            "visibility": "APPLICATION",
            "size": st.length,
            "timestamp": st.modification_time,
        }
    })
}

pub async fn submit(
    cluster: &Cluster,
    name: &str,
    resource: serde_json::Value,
    args: &str,
) -> String {
    let http = reqwest::Client::new();
    let rm = cluster.rm_url();
    let new: serde_json::Value = http
        .post(format!(
            "{rm}/ws/v1/cluster/apps/new-application?user.name=root"
        ))
        .send()
        .await
        .expect("new-application")
        .json()
        .await
        .expect("new-application JSON");
    let app_id = new["application-id"]
        .as_str()
        .expect("application-id")
        .to_string();
    let body = json!({
        "application-id": app_id,
        "application-name": name,
        "application-type": "SPINDLE",
        "queue": "default",
        "max-app-attempts": 1,
        "resource": {"memory": 128, "vCores": 1},
        "am-container-spec": {
            "local-resources": {"entry": [resource]},
            "environment": {"entry": [{"key": "RUST_LOG", "value": "info"}]},
            "commands": {"command": format!("./spindle-am {args} 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr")},
        },
    });
    let resp = http
        .post(format!("{rm}/ws/v1/cluster/apps?user.name=root"))
        .json(&body)
        .send()
        .await
        .expect("submit");
    assert_eq!(
        resp.status().as_u16(),
        202,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    app_id
}

pub async fn wait_finished(cluster: &Cluster, app_id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let app: serde_json::Value = reqwest::get(format!(
            "{}/ws/v1/cluster/apps/{app_id}?user.name=root",
            cluster.rm_url()
        ))
        .await
        .expect("app state")
        .json()
        .await
        .expect("app JSON");
        let state = app["app"]["state"].as_str().unwrap_or_default().to_string();
        if ["FINISHED", "FAILED", "KILLED"].contains(&state.as_str()) {
            return app["app"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{app_id} still {state} after 180 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
