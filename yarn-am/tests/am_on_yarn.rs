//! Acceptance on the real cluster: our Rust AM, submitted through the RM REST API with its
//! binary staged to HDFS, registers, gets 2 containers on named nodes, launches a command
//! in each through the NodeManagers and unregisters SUCCEEDED.

mod common;

use common::{stage_am, submit, unique, wait_finished};
use spindle_integration::ensure_cluster;

#[tokio::test]
async fn rust_am_runs_two_containers_on_named_nodes() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let name = unique("spindle-am-shell");
    let resource = stage_am(cluster, &format!("/user/root/.spindle/{name}")).await;
    let app_id = submit(
        cluster,
        &name,
        resource,
        "shell --command 'echo hello from $CONTAINER_ID' --containers 2 --nodes 127.0.0.2,127.0.0.3",
    )
    .await;
    let app = wait_finished(cluster, &app_id).await;
    assert_eq!(app["state"], "FINISHED", "{app}");
    assert_eq!(app["finalStatus"], "SUCCEEDED", "{app}");
    let diag = app["diagnostics"].as_str().unwrap_or_default();
    assert!(diag.contains("2 containers succeeded"), "{diag}");
    assert!(
        diag.contains("on 127.0.0.2:") && diag.contains("on 127.0.0.3:"),
        "{diag}"
    );
}

#[tokio::test]
async fn a_failing_command_fails_the_application() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let name = unique("spindle-am-fail");
    let resource = stage_am(cluster, &format!("/user/root/.spindle/{name}")).await;
    let app_id = submit(
        cluster,
        &name,
        resource,
        "shell --command 'exit 3' --containers 1",
    )
    .await;
    let app = wait_finished(cluster, &app_id).await;
    assert_eq!(app["finalStatus"], "FAILED", "{app}");
    let diag = app["diagnostics"].as_str().unwrap_or_default();
    assert!(diag.contains("exited 3"), "{diag}");
}
