//! The same AM on a second cluster with `hadoop.rpc.protection=privacy`: every AM–RM and
//! AM–NM exchange is wrapped with DIGEST-MD5 auth-conf (encrypted).

mod common;

use common::{stage_am, submit, unique, wait_finished};
use spindle_integration::{Cluster, Settings};

#[tokio::test]
async fn rust_am_under_privacy() {
    let main = Settings::from_env().expect("settings");
    let settings = Settings {
        state_dir: main.state_dir.join("privacy-cluster"),
        port_offset: main.port_offset + 500,
        rpc_protection: "privacy".into(),
        nm_memory_mb: 2048,
        nm_vcores: 4,
        ..main
    };
    let cluster = Cluster::new(settings).expect("java");
    let started = cluster.up().await.expect("privacy cluster up");
    let result = async {
        let name = unique("spindle-am-privacy");
        let resource = stage_am(&cluster, &format!("/user/root/.spindle/{name}")).await;
        let app_id = submit(
            &cluster,
            &name,
            resource,
            "shell --command true --containers 2 --nodes 127.0.0.2,127.0.0.3",
        )
        .await;
        wait_finished(&cluster, &app_id).await
    }
    .await;
    if started {
        cluster.down().await.expect("privacy cluster down");
    }
    assert_eq!(result["finalStatus"], "SUCCEEDED", "{result}");
    let diag = result["diagnostics"].as_str().unwrap_or_default();
    assert!(diag.contains("2 containers succeeded"), "{diag}");
    assert!(diag.contains("(RPC qop auth-conf)"), "{diag}");
}
