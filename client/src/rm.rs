//! The ResourceManager's REST API, as far as the client needs it: cluster facts
//! (scheduler queues and maximum allocations), new application ids, submission,
//! application reports and kill.
//!
//! Every URL carries `user.name=` (an insecure RM otherwise refuses or acts as
//! `dr.who`); every call has a timeout; idempotent calls retry a few times with backoff.
//! Errors name the URL and the RM's own message (its `RemoteException` body).
//! It knows nothing of HDFS or of what is submitted.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ClientError;

/// How long one REST call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of an idempotent call (GET, PUT) on connection errors and 5xx answers.
const ATTEMPTS: u32 = 3;
/// First backoff; doubled after each failed attempt.
const BACKOFF: Duration = Duration::from_millis(250);

/// The states YARN gives applications.
pub const APP_STATES: [&str; 8] = [
    "NEW",
    "NEW_SAVING",
    "SUBMITTED",
    "ACCEPTED",
    "RUNNING",
    "FINISHED",
    "FAILED",
    "KILLED",
];

/// A REST client for one ResourceManager, acting as one user.
#[derive(Debug, Clone)]
pub struct RmClient {
    base: Url,
    user: String,
    http: reqwest::Client,
}

/// One application as the RM reports it (the fields Spindle shows; names as the RM's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppReport {
    /// `application_<cluster>_<n>`.
    pub id: String,
    /// Application name.
    #[serde(default)]
    pub name: String,
    /// Application type (`SPINDLE`, `MAPREDUCE`, …).
    #[serde(default)]
    pub application_type: String,
    /// The submitting user.
    #[serde(default)]
    pub user: String,
    /// The queue.
    #[serde(default)]
    pub queue: String,
    /// YARN state (`ACCEPTED`, `RUNNING`, `FINISHED`, …).
    #[serde(default)]
    pub state: String,
    /// Final status (`UNDEFINED` until done, then `SUCCEEDED`, `FAILED`, `KILLED`).
    #[serde(default)]
    pub final_status: String,
    /// Progress percent as the AM reports it to the RM.
    #[serde(default)]
    pub progress: f64,
    /// The RM proxy URL of the AM's web page.
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// The RM's diagnostics.
    #[serde(default)]
    pub diagnostics: String,
    /// Start time, ms since the epoch.
    #[serde(default)]
    pub started_time: i64,
    /// Finish time, ms since the epoch (0 while running).
    #[serde(default)]
    pub finished_time: i64,
    /// Elapsed ms.
    #[serde(default)]
    pub elapsed_time: i64,
    /// The AM container's log page.
    #[serde(default)]
    pub am_container_logs: Option<String>,
}

impl AppReport {
    /// Whether YARN will not change the state any more.
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "FINISHED" | "FAILED" | "KILLED")
    }

    /// Whether the application ended well.
    pub fn succeeded(&self) -> bool {
        self.state == "FINISHED" && self.final_status == "SUCCEEDED"
    }
}

/// The answer of `new-application`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NewApplication {
    /// The allocated id.
    #[serde(rename = "application-id")]
    pub application_id: String,
    /// The largest container the RM grants.
    #[serde(rename = "maximum-resource-capability", default)]
    pub maximum_resource_capability: Option<ResourceLimit>,
}

/// Memory and vcores of a container limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResourceLimit {
    /// MiB.
    pub memory: u64,
    /// Virtual cores.
    #[serde(rename = "vCores")]
    pub vcores: u64,
}

/// A queue as the scheduler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFacts {
    /// The short name (`default`).
    pub name: String,
    /// The full path (`root.default`).
    pub path: String,
    /// Whether applications can be submitted to it (it has no child queues).
    pub leaf: bool,
    /// `RUNNING`, `STOPPED`, … when the scheduler says.
    pub state: Option<String>,
    /// The largest container in this queue, when the scheduler says.
    pub max_allocation: Option<ResourceLimit>,
}

/// What the scheduler says about queues and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerFacts {
    /// `capacityScheduler`, `fairScheduler`, `fifoScheduler`.
    pub kind: String,
    /// Every queue, parents included.
    pub queues: Vec<QueueFacts>,
    /// The cluster-wide largest container, when the scheduler says.
    pub max_allocation: Option<ResourceLimit>,
}

impl SchedulerFacts {
    /// Parses `/ws/v1/cluster/scheduler`'s answer.
    pub fn from_json(v: &Value) -> SchedulerFacts {
        let info = &v["scheduler"]["schedulerInfo"];
        let kind = info["type"].as_str().unwrap_or_default().to_string();
        let mut queues = Vec::new();
        match kind.as_str() {
            "capacityScheduler" => {
                let root = info["queueName"].as_str().unwrap_or("root").to_string();
                queues.push(QueueFacts {
                    name: root.clone(),
                    path: root.clone(),
                    leaf: false,
                    state: None,
                    max_allocation: limit(&info["maximumAllocation"]),
                });
                for q in children(&info["queues"]) {
                    collect_capacity_queue(q, &root, &mut queues);
                }
            }
            "fairScheduler" => collect_fair_queue(&info["rootQueue"], &mut queues),
            "fifoScheduler" => queues.push(QueueFacts {
                name: "default".into(),
                path: "default".into(),
                leaf: true,
                state: info["qstate"].as_str().map(str::to_string),
                max_allocation: None,
            }),
            _ => {}
        }
        SchedulerFacts {
            kind,
            queues,
            max_allocation: limit(&info["maximumAllocation"]),
        }
    }

    /// The leaf queue `name` (short name or full path), or a message saying why not.
    pub fn leaf_queue(&self, name: &str) -> Result<&QueueFacts, String> {
        let leaves = || {
            self.queues
                .iter()
                .filter(|q| q.leaf)
                .map(|q| q.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found: Vec<&QueueFacts> = self
            .queues
            .iter()
            .filter(|q| q.path == name || q.name == name)
            .collect();
        match found.as_slice() {
            [] => Err(format!(
                "queue {name} does not exist; leaf queues: {}",
                leaves()
            )),
            [q] if !q.leaf => Err(format!(
                "queue {name} is a parent queue; submit to a leaf queue: {}",
                leaves()
            )),
            [q] => match q.state.as_deref() {
                Some(s) if s != "RUNNING" => Err(format!(
                    "queue {} is {s}, it accepts no applications",
                    q.path
                )),
                _ => Ok(q),
            },
            many => Err(format!(
                "queue name {name} is ambiguous: {}; give the full path",
                many.iter()
                    .map(|q| q.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

fn children(v: &Value) -> impl Iterator<Item = &Value> {
    // Jersey writes a one-element list as a bare object on some versions.
    let list = &v["queue"];
    let items: Vec<&Value> = match list {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![list],
        _ => Vec::new(),
    };
    items.into_iter()
}

fn limit(v: &Value) -> Option<ResourceLimit> {
    Some(ResourceLimit {
        memory: v["memory"].as_u64()?,
        vcores: v["vCores"].as_u64()?,
    })
}

fn collect_capacity_queue(q: &Value, parent: &str, out: &mut Vec<QueueFacts>) {
    let name = q["queueName"].as_str().unwrap_or_default().to_string();
    let path = q["queuePath"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{parent}.{name}"));
    let kids: Vec<&Value> = children(&q["queues"]).collect();
    let leaf = kids.is_empty()
        && q["type"].as_str() != Some("capacitySchedulerParentQueueInfo")
        && q["queueType"].as_str() != Some("parent");
    out.push(QueueFacts {
        name,
        path: path.clone(),
        leaf,
        state: q["state"].as_str().map(str::to_string),
        max_allocation: limit(&q["maximumAllocation"]),
    });
    for k in kids {
        collect_capacity_queue(k, &path, out);
    }
}

fn collect_fair_queue(q: &Value, out: &mut Vec<QueueFacts>) {
    let Some(path) = q["queueName"].as_str() else {
        return;
    };
    let kids: Vec<&Value> = children(&q["childQueues"]).collect();
    out.push(QueueFacts {
        name: path.rsplit('.').next().unwrap_or(path).to_string(),
        path: path.to_string(),
        leaf: kids.is_empty() && q["type"].as_str() != Some("fairSchedulerParentQueueInfo"),
        state: None,
        max_allocation: limit(&q["maxContainerAllocation"]),
    });
    for k in kids {
        collect_fair_queue(k, out);
    }
}

/// The RM's message out of an error body: `RemoteException.message` (with Java's
/// `java.lang.Exception: ` prefix dropped) or the text itself, shortened.
pub fn remote_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let e = &v["RemoteException"];
        if let Some(m) = e["message"].as_str() {
            let m = m
                .strip_prefix("java.lang.Exception: ")
                .or_else(|| m.strip_prefix("java.lang.IllegalArgumentException: "))
                .unwrap_or(m);
            return match e["exception"].as_str() {
                Some(x) => format!("{x}: {m}"),
                None => m.to_string(),
            };
        }
    }
    let text = body.trim();
    if text.is_empty() {
        return "(empty answer)".into();
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Whether `id` looks like a YARN application id.
pub fn is_app_id(id: &str) -> bool {
    let mut parts = id.split('_');
    parts.next() == Some("application")
        && parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.next().is_none()
}

impl RmClient {
    /// A client for the RM whose web address is `base` (`http://host:8088`).
    pub fn new(base: &str, user: &str) -> Result<Self, ClientError> {
        let base = Url::parse(base).map_err(|e| {
            ClientError::Usage(format!(
                "the ResourceManager web address {base} is not a URL: {e}"
            ))
        })?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Http {
                what: "setting up the HTTP client".into(),
                url: base.to_string(),
                message: e.to_string(),
            })?;
        Ok(RmClient {
            base,
            user: user.to_string(),
            http,
        })
    }

    /// The RM's web address.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The user the client acts as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The shared HTTP client (for the AM's pages behind the RM proxy).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `path` under the RM with `query` and `user.name`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in query {
                q.append_pair(k, v);
            }
            q.append_pair("user.name", &self.user);
        }
        url
    }

    /// Sends one call; retries idempotent ones on connection errors and 5xx answers.
    /// Returns the status and body of the final answer.
    async fn call(
        &self,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), ClientError> {
        let idempotent = method != Method::POST;
        let attempts = if idempotent { ATTEMPTS } else { 1 };
        let mut backoff = BACKOFF;
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.text().await {
                        Ok(text) => Ok((status, text)),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(error_chain(&e)),
            };
            let retry = match &result {
                Ok((status, _)) => status.is_server_error(),
                Err(_) => true,
            };
            if !retry || attempt >= attempts {
                return result.map_err(|message| ClientError::Http {
                    what: what.to_string(),
                    url: url.to_string(),
                    message,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    /// A call whose answer must have status `ok` and a JSON body.
    async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        ok: &[StatusCode],
    ) -> Result<T, ClientError> {
        let (status, text) = self.call(what, method, url, body).await?;
        if !ok.contains(&status) {
            return Err(rm_error(what, url, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Rm {
            what: what.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
            message: format!(
                "answer is not the expected JSON ({e}): {}",
                remote_message(&text)
            ),
        })
    }

    /// `GET /ws/v1/cluster/scheduler`: queues and maximum allocations.
    pub async fn scheduler(&self) -> Result<SchedulerFacts, ClientError> {
        let url = self.url("/ws/v1/cluster/scheduler", &[]);
        let v: Value = self
            .json(
                "reading the scheduler's queues",
                Method::GET,
                &url,
                None,
                &[StatusCode::OK],
            )
            .await?;
        Ok(SchedulerFacts::from_json(&v))
    }

    /// `POST /ws/v1/cluster/apps/new-application`: allocates an application id.
    pub async fn new_application(&self) -> Result<NewApplication, ClientError> {
        let url = self.url("/ws/v1/cluster/apps/new-application", &[]);
        self.json(
            "asking for a new application id",
            Method::POST,
            &url,
            None,
            &[StatusCode::OK],
        )
        .await
    }

    /// `POST /ws/v1/cluster/apps` with a submission context; the RM answers 202.
    pub async fn submit(&self, body: &Value) -> Result<(), ClientError> {
        let url = self.url("/ws/v1/cluster/apps", &[]);
        let what = "submitting the application";
        let (status, text) = self.call(what, Method::POST, &url, Some(body)).await?;
        if status != StatusCode::ACCEPTED {
            return Err(rm_error(what, &url, status, &text));
        }
        Ok(())
    }

    /// `GET /ws/v1/cluster/apps/{id}`.
    pub async fn app(&self, id: &str) -> Result<AppReport, ClientError> {
        check_app_id(id)?;
        let url = self.url(&format!("/ws/v1/cluster/apps/{id}"), &[]);
        let what = format!("reading application {id}");
        let (status, text) = self.call(&what, Method::GET, &url, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(ClientError::AppNotFound {
                id: id.to_string(),
                rm: self.base.to_string(),
            });
        }
        if status != StatusCode::OK {
            return Err(rm_error(&what, &url, status, &text));
        }
        #[derive(Deserialize)]
        struct One {
            app: AppReport,
        }
        serde_json::from_str::<One>(&text)
            .map(|o| o.app)
            .map_err(|e| ClientError::Rm {
                what,
                url: url.to_string(),
                status: status.as_u16(),
                message: format!("answer is not an application report ({e})"),
            })
    }

    /// `GET /ws/v1/cluster/apps`, filtered by type (`None`: every type) and states
    /// (empty: every state), newest first.
    pub async fn apps(
        &self,
        app_type: Option<&str>,
        states: &[String],
    ) -> Result<Vec<AppReport>, ClientError> {
        let joined = states.join(",");
        let mut query = Vec::new();
        if let Some(t) = app_type {
            query.push(("applicationTypes", t));
        }
        if !states.is_empty() {
            query.push(("states", joined.as_str()));
        }
        let url = self.url("/ws/v1/cluster/apps", &query);
        #[derive(Deserialize)]
        struct Apps {
            apps: Option<AppList>,
        }
        #[derive(Deserialize)]
        struct AppList {
            #[serde(default)]
            app: Vec<AppReport>,
        }
        let apps: Apps = self
            .json(
                "listing applications",
                Method::GET,
                &url,
                None,
                &[StatusCode::OK],
            )
            .await?;
        let mut list = apps.apps.map(|a| a.app).unwrap_or_default();
        list.sort_by(|a, b| b.started_time.cmp(&a.started_time).then(b.id.cmp(&a.id)));
        Ok(list)
    }

    /// `PUT /ws/v1/cluster/apps/{id}/state` with `{"state":"KILLED"}`.
    pub async fn kill(&self, id: &str) -> Result<(), ClientError> {
        check_app_id(id)?;
        let url = self.url(&format!("/ws/v1/cluster/apps/{id}/state"), &[]);
        let what = format!("killing application {id}");
        let body = serde_json::json!({"state": "KILLED"});
        let (status, text) = self.call(&what, Method::PUT, &url, Some(&body)).await?;
        match status {
            StatusCode::OK | StatusCode::ACCEPTED => Ok(()),
            StatusCode::NOT_FOUND => Err(ClientError::AppNotFound {
                id: id.to_string(),
                rm: self.base.to_string(),
            }),
            _ => Err(rm_error(&what, &url, status, &text)),
        }
    }
}

fn check_app_id(id: &str) -> Result<(), ClientError> {
    if is_app_id(id) {
        Ok(())
    } else {
        Err(ClientError::Usage(format!(
            "{id:?} is not an application id (like application_1700000000000_0001)"
        )))
    }
}

fn rm_error(what: &str, url: &Url, status: StatusCode, body: &str) -> ClientError {
    ClientError::Rm {
        what: what.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        message: remote_message(body),
    }
}

/// An error with its causes, which for reqwest hold the useful part ("connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn capacity() -> Value {
        json!({"scheduler": {"schedulerInfo": {
            "type": "capacityScheduler",
            "queueName": "root",
            "maximumAllocation": {"memory": 8192, "vCores": 8},
            "queues": {"queue": [
                {"type": "capacitySchedulerLeafQueueInfo", "queueName": "default",
                 "queuePath": "root.default", "state": "RUNNING",
                 "maximumAllocation": {"memory": 6144, "vCores": 6}},
                {"queueName": "etl", "queuePath": "root.etl", "state": "RUNNING",
                 "queues": {"queue": {"queueName": "nightly", "state": "STOPPED"}}},
                {"queueName": "adhoc", "state": "RUNNING"}
            ]}
        }}})
    }

    #[test]
    fn capacity_scheduler_queues() {
        let f = SchedulerFacts::from_json(&capacity());
        assert_eq!(f.kind, "capacityScheduler");
        assert_eq!(
            f.max_allocation,
            Some(ResourceLimit {
                memory: 8192,
                vcores: 8
            })
        );
        let paths: Vec<&str> = f.queues.iter().map(|q| q.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "root",
                "root.default",
                "root.etl",
                "root.etl.nightly",
                "root.adhoc"
            ]
        );
        let q = f.leaf_queue("default").expect("leaf");
        assert_eq!(q.max_allocation.map(|m| m.memory), Some(6144));
        assert!(f.leaf_queue("root.default").is_ok());
        assert!(f.leaf_queue("adhoc").is_ok());
        let e = f.leaf_queue("nosuch").expect_err("should be refused");
        assert!(e.contains("queue nosuch does not exist"), "{e}");
        assert!(
            e.contains("root.default, root.etl.nightly, root.adhoc"),
            "{e}"
        );
        let e = f.leaf_queue("etl").expect_err("should be refused");
        assert!(e.contains("parent queue"), "{e}");
        let e = f.leaf_queue("root").expect_err("should be refused");
        assert!(e.contains("queue root is a parent queue"), "{e}");
        let e = f.leaf_queue("nightly").expect_err("should be refused");
        assert!(e.contains("STOPPED"), "{e}");
    }

    #[test]
    fn fair_and_fifo_schedulers() {
        let fair = json!({"scheduler": {"schedulerInfo": {
            "type": "fairScheduler",
            "rootQueue": {"queueName": "root", "childQueues": {"queue": [
                {"queueName": "root.default", "type": "fairSchedulerLeafQueueInfo"},
                {"queueName": "root.users", "childQueues": {"queue": [
                    {"queueName": "root.users.alice"}
                ]}}
            ]}}
        }}});
        let f = SchedulerFacts::from_json(&fair);
        assert!(f.leaf_queue("default").is_ok());
        assert!(f.leaf_queue("root.users.alice").is_ok());
        assert!(f.leaf_queue("users").is_err());
        let fifo =
            json!({"scheduler": {"schedulerInfo": {"type": "fifoScheduler", "qstate": "RUNNING"}}});
        let f = SchedulerFacts::from_json(&fifo);
        assert!(f.leaf_queue("default").is_ok());
        assert!(f.leaf_queue("other").is_err());
    }

    #[test]
    fn remote_exception_messages() {
        let body = r#"{"RemoteException":{"exception":"NotFoundException","message":"java.lang.Exception: app with id: application_1_0001 not found","javaClassName":"org.apache.hadoop.yarn.webapp.NotFoundException"}}"#;
        assert_eq!(
            remote_message(body),
            "NotFoundException: app with id: application_1_0001 not found"
        );
        assert_eq!(remote_message("  "), "(empty answer)");
        assert_eq!(remote_message("<html>oops</html>"), "<html>oops</html>");
        assert!(remote_message(&"x".repeat(1000)).ends_with('…'));
    }

    #[test]
    fn app_ids() {
        assert!(is_app_id("application_1795814129912_0006"));
        for bad in [
            "",
            "application_1",
            "application__1",
            "app_1_2",
            "application_1_2_3",
            "application_x_1",
        ] {
            assert!(!is_app_id(bad), "{bad}");
        }
    }

    #[test]
    fn urls_carry_the_user() {
        let rm = RmClient::new("http://127.0.0.1:8088", "alice smith").expect("client");
        let url = rm.url("/ws/v1/cluster/apps", &[("states", "RUNNING,ACCEPTED")]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8088/ws/v1/cluster/apps?states=RUNNING%2CACCEPTED&user.name=alice+smith"
        );
    }

    #[test]
    fn app_report_parses_the_rms_json() {
        // As the RM writes it, duplicate keys in resourceSecondsMap included.
        let text = r#"{"app":{"id":"application_1_0006","user":"root","name":"n","queue":"root.default","state":"FINISHED","finalStatus":"SUCCEEDED","progress":100.0,"trackingUI":"History","trackingUrl":"http://localhost:8088/proxy/application_1_0006/","diagnostics":"","applicationType":"SPINDLE","startedTime":1795814589167,"finishedTime":1795814591568,"elapsedTime":2401,"resourceSecondsMap":{"entry":{"key":"memory-mb","value":"380"},"entry":{"key":"vcores","value":"2"}}}}"#;
        #[derive(Deserialize)]
        struct One {
            app: AppReport,
        }
        let app = serde_json::from_str::<One>(text).expect("parses").app;
        assert_eq!(app.application_type, "SPINDLE");
        assert!(app.succeeded() && app.is_final());
        assert_eq!(
            app.tracking_url.as_deref(),
            Some("http://localhost:8088/proxy/application_1_0006/")
        );
    }
}
