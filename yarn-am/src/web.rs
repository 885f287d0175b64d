//! The AM's web endpoint, registered as the application's tracking URL and reached
//! through the ResourceManager's proxy (`/proxy/<appId>/`): JSON progress for
//! `spindle submit`'s progress bar. (The full UI pages come with the monitoring work.)

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use spindle_core::driver::Driver;

use crate::AmError;

/// Serves the endpoints until the process exits; returns the bound address.
pub async fn serve(bind: SocketAddr, driver: Arc<Driver>) -> Result<SocketAddr, AmError> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| AmError::Environment(format!("binding the web endpoint on {bind}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AmError::Environment(format!("web endpoint address: {e}")))?;
    let app = Router::new()
        .route("/", get(progress))
        .route("/api/v1/progress", get(progress))
        .route("/api/v1/executors", get(executors))
        .with_state(driver);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("web endpoint stopped: {e}");
        }
    });
    Ok(addr)
}

async fn progress(State(driver): State<Arc<Driver>>) -> Json<Value> {
    let (state, message, progress) = driver.phase();
    let app = driver.summary();
    Json(json!({
        "state": state,
        "message": message,
        "progress": progress,
        "stages": app.stages.iter().map(|s| json!({
            "id": s.id, "name": s.name, "total": s.total, "done": s.done,
            "running": s.running, "failed": s.failed,
        })).collect::<Vec<_>>(),
    }))
}

async fn executors(State(driver): State<Arc<Driver>>) -> Json<Value> {
    Json(json!({
        "executors": driver.executors().iter().map(|e| json!({
            "id": e.id, "container": e.container_id, "host": e.host, "cores": e.cores,
            "rss_bytes": e.rss_bytes, "tasks_done": e.tasks_done, "alive": e.alive,
        })).collect::<Vec<_>>(),
    }))
}
