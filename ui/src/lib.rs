//! Spindle's application UI: HTML pages (jobs, stages with their task attempts,
//! executors, environment) and a JSON API over the same data.
//!
//! One [`router`] serves both cases: live, in the AM, from the running driver (reached
//! through the ResourceManager's proxy at `/proxy/<appId>/`, so every link carries the
//! proxy base and direct visits are redirected to the proxy), and after the end, from
//! the history file `spindle history` reads. Pages of a running application refresh
//! themselves.

mod pages;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use spindle_core::driver::Driver;
use spindle_core::status::{AppStatus, StageStatus};

/// What can go wrong serving the UI.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The listening socket.
    #[error("web UI on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Where the pages' data comes from.
pub trait StatusSource: Send + Sync + 'static {
    /// The application without task attempts.
    fn summary(&self) -> AppStatus;
    /// One stage with its attempts.
    fn stage(&self, id: u32) -> Option<StageStatus>;
    /// The latest job's phase, error and progress (0..1).
    fn phase(&self) -> (String, String, f32);
}

impl StatusSource for Driver {
    fn summary(&self) -> AppStatus {
        Driver::summary(self)
    }
    fn stage(&self, id: u32) -> Option<StageStatus> {
        Driver::stage(self, id)
    }
    fn phase(&self) -> (String, String, f32) {
        Driver::phase(self)
    }
}

/// A finished application, from its history file.
#[derive(Debug, Clone)]
pub struct History(pub AppStatus);

impl StatusSource for History {
    fn summary(&self) -> AppStatus {
        self.0.summary()
    }
    fn stage(&self, id: u32) -> Option<StageStatus> {
        self.0.stage(id).cloned()
    }
    fn phase(&self) -> (String, String, f32) {
        let a = &self.0;
        let job = a.jobs.last();
        (
            job.map(|j| j.state).unwrap_or(a.state).to_string(),
            job.map(|j| j.error.clone()).unwrap_or_default(),
            a.progress(),
        )
    }
}

/// How the UI is reached.
#[derive(Debug, Clone, Default)]
pub struct UiConfig {
    /// Path prefix of every link: YARN's `APPLICATION_WEB_PROXY_BASE` (`/proxy/<appId>`)
    /// in the AM, empty elsewhere.
    pub base: String,
    /// Send visitors that are not the proxy to the proxy.
    pub redirect: Option<ProxyRedirect>,
    /// A banner line (e.g. "history: the application has ended").
    pub banner: String,
}

/// YARN's AmIpFilter, in short: only the proxy hosts see the pages directly.
#[derive(Debug, Clone)]
pub struct ProxyRedirect {
    /// Addresses the ResourceManager's proxy connects from.
    pub proxy_hosts: Vec<IpAddr>,
    /// `http://<rm-web-address>/proxy/<appId>`: where everyone else is sent.
    pub proxy_url: String,
}

struct Ui {
    source: Arc<dyn StatusSource>,
    config: UiConfig,
}

type Shared = State<Arc<Ui>>;

/// The pages and the JSON API.
pub fn router(source: Arc<dyn StatusSource>, config: UiConfig) -> Router {
    let redirect = config.redirect.clone();
    let ui = Arc::new(Ui { source, config });
    let app = Router::new()
        .route("/", get(jobs_page))
        .route("/jobs/", get(jobs_page))
        .route("/stages/", get(stages_page))
        .route("/stages/{id}", get(stage_page))
        .route("/executors/", get(executors_page))
        .route("/environment/", get(environment_page))
        .route("/api/v1/progress", get(progress_api))
        .route("/api/v1/app", get(app_api))
        .route("/api/v1/jobs", get(jobs_api))
        .route("/api/v1/stages", get(stages_api))
        .route("/api/v1/stages/{id}", get(stage_api))
        .route("/api/v1/executors", get(executors_api))
        .route("/api/v1/environment", get(environment_api))
        .fallback(not_found)
        .with_state(ui);
    match redirect {
        Some(r) => app.layer(middleware::from_fn_with_state(Arc::new(r), only_via_proxy)),
        None => app,
    }
}

/// Serves `router` on `bind` until the process ends; returns the bound address.
pub async fn serve(bind: SocketAddr, router: Router) -> Result<SocketAddr, UiError> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| UiError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| UiError::Bind { addr: bind, source })?;
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            tracing::warn!("web UI stopped: {e}");
        }
    });
    Ok(addr)
}

async fn only_via_proxy(
    State(r): State<Arc<ProxyRedirect>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if r.proxy_hosts.contains(&peer.ip()) {
        return next.run(req).await;
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let to = format!("{}{path}", r.proxy_url.trim_end_matches('/'));
    match HeaderValue::from_str(&to) {
        Ok(v) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct Paging {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// Attempts shown per stage page / API call unless asked otherwise.
const PAGE: usize = 500;

async fn jobs_page(State(ui): Shared) -> Html<String> {
    Html(pages::jobs(&ui.source.summary(), &ui.config).into_string())
}

async fn stages_page(State(ui): Shared) -> Html<String> {
    Html(pages::stages(&ui.source.summary(), &ui.config).into_string())
}

async fn stage_page(State(ui): Shared, Path(id): Path<u32>, Query(p): Query<Paging>) -> Response {
    let app = ui.source.summary();
    match ui.source.stage(id) {
        None => not_found().await.into_response(),
        Some(stage) => {
            let offset = p.offset.unwrap_or(0);
            let limit = p.limit.unwrap_or(PAGE).clamp(1, 10 * PAGE);
            Html(pages::stage(&app, &stage, offset, limit, &ui.config).into_string())
                .into_response()
        }
    }
}

async fn executors_page(State(ui): Shared) -> Html<String> {
    Html(pages::executors(&ui.source.summary(), &ui.config).into_string())
}

async fn environment_page(State(ui): Shared) -> Html<String> {
    Html(pages::environment(&ui.source.summary(), &ui.config).into_string())
}

async fn not_found() -> (StatusCode, Html<String>) {
    (
        StatusCode::NOT_FOUND,
        Html("<h1>Not found</h1><p>No such page in this application's UI.</p>".into()),
    )
}

/// The progress `spindle submit` follows: the latest job's phase and its stages.
async fn progress_api(State(ui): Shared) -> axum::Json<Value> {
    let (state, message, progress) = ui.source.phase();
    let app = ui.source.summary();
    let job = app.jobs.last().map(|j| j.id);
    axum::Json(json!({
        "state": state,
        "message": message,
        "progress": progress,
        "stages": app.stages.iter().filter(|s| Some(s.job_id) == job).map(|s| json!({
            "id": s.id, "name": s.name, "total": s.total, "done": s.done,
            "running": s.running, "failed": s.failed,
        })).collect::<Vec<_>>(),
    }))
}

async fn app_api(State(ui): Shared) -> axum::Json<AppStatus> {
    axum::Json(ui.source.summary())
}

async fn jobs_api(State(ui): Shared) -> axum::Json<Value> {
    axum::Json(json!({ "jobs": ui.source.summary().jobs }))
}

async fn stages_api(State(ui): Shared) -> axum::Json<Value> {
    axum::Json(json!({ "stages": ui.source.summary().stages }))
}

async fn stage_api(State(ui): Shared, Path(id): Path<u32>, Query(p): Query<Paging>) -> Response {
    let Some(mut stage) = ui.source.stage(id) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": format!("no stage {id}") })),
        )
            .into_response();
    };
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(PAGE).clamp(1, 10 * PAGE);
    let total_attempts = stage.attempts.len();
    stage.attempts = stage
        .attempts
        .into_iter()
        .skip(offset)
        .take(limit)
        .collect();
    axum::Json(json!({
        "stage": stage,
        "attempts_total": total_attempts,
        "offset": offset,
    }))
    .into_response()
}

async fn executors_api(State(ui): Shared) -> axum::Json<Value> {
    axum::Json(json!({ "executors": ui.source.summary().executors }))
}

async fn environment_api(State(ui): Shared) -> axum::Json<Value> {
    axum::Json(json!({ "environment": ui.source.summary().environment }))
}

#[cfg(test)]
mod tests;
