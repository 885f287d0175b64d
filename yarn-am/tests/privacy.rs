//! The same AM on a second cluster with `hadoop.rpc.protection=integrity`, then
//! `privacy`: every AM–RM and AM–NM exchange is wrapped with DIGEST-MD5 auth-int
//! (HMAC-MD5 signed), then auth-conf (encrypted).

mod common;

use common::{stage_am, submit, unique, wait_finished};
use spindle_integration::{Cluster, Settings};

async fn run_on_protected_cluster(protection: &str) -> serde_json::Value {
    let main = Settings::from_env().expect("settings");
    let settings = Settings {
        state_dir: main.state_dir.join("protected-cluster"),
        port_offset: main.port_offset + 500,
        rpc_protection: protection.into(),
        nm_memory_mb: 2048,
        nm_vcores: 4,
        ..main
    };
    let cluster = Cluster::new(settings).expect("java");
    // Configuration is written at start: stop any earlier instance first.
    cluster.down().await.expect("stop earlier instance");
    cluster.up().await.expect("protected cluster up");
    let result = async {
        let name = unique("spindle-am-protected");
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
    cluster.down().await.expect("protected cluster down");
    result
}

#[tokio::test]
async fn rust_am_under_integrity_then_privacy() {
    for (protection, qop) in [("integrity", "auth-int"), ("privacy", "auth-conf")] {
        let app = run_on_protected_cluster(protection).await;
        assert_eq!(app["finalStatus"], "SUCCEEDED", "{protection}: {app}");
        let diag = app["diagnostics"].as_str().unwrap_or_default();
        assert!(diag.contains("2 containers succeeded"), "{diag}");
        assert!(
            diag.contains(&format!("(RPC qop {qop})")),
            "{protection}: {diag}"
        );
    }
}
