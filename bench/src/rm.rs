//! The ResourceManager's REST API: application reports, tags, kill, and the
//! submission of the YARN floor application.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::BenchError;
use spindle_integration::Cluster;

/// What the harness needs of an application report.
#[derive(Debug, Clone, PartialEq)]
pub struct AppReport {
    /// `application_<ts>_<n>`.
    pub id: String,
    /// NEW … RUNNING, FINISHED, FAILED, KILLED.
    pub state: String,
    /// UNDEFINED, SUCCEEDED, FAILED, KILLED.
    pub final_status: String,
    /// Milliseconds since the epoch: accepted by the RM.
    pub started_ms: u64,
    /// When the AM container was launched (0 when unknown).
    pub launched_ms: u64,
    /// When it ended (0 while it runs).
    pub finished_ms: u64,
    /// The RM's diagnostics.
    pub diagnostics: String,
}

impl AppReport {
    /// From the JSON of `/ws/v1/cluster/apps/<id>` (`app` object).
    pub fn from_json(v: &Value) -> Option<AppReport> {
        Some(AppReport {
            id: v["id"].as_str()?.to_string(),
            state: v["state"].as_str()?.to_string(),
            final_status: v["finalStatus"].as_str().unwrap_or("UNDEFINED").to_string(),
            started_ms: v["startedTime"].as_u64().unwrap_or(0),
            launched_ms: v["launchTime"].as_u64().unwrap_or(0),
            finished_ms: v["finishedTime"].as_u64().unwrap_or(0),
            diagnostics: v["diagnostics"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// In FINISHED, FAILED or KILLED.
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "FINISHED" | "FAILED" | "KILLED")
    }

    /// FINISHED and SUCCEEDED.
    pub fn succeeded(&self) -> bool {
        self.state == "FINISHED" && self.final_status == "SUCCEEDED"
    }

    /// Accepted → finished, as the RM saw it, in seconds.
    pub fn rm_seconds(&self) -> Option<f64> {
        (self.finished_ms >= self.started_ms && self.started_ms > 0)
            .then(|| (self.finished_ms - self.started_ms) as f64 / 1000.0)
    }
}

/// The RM's REST API as `root`.
#[derive(Debug, Clone)]
pub struct Rm {
    http: reqwest::Client,
    base: String,
}

impl Rm {
    /// This cluster's RM.
    pub fn new(cluster: &Cluster) -> Result<Rm, BenchError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| BenchError::Http {
                what: "building an HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(Rm {
            http,
            base: format!("{}/ws/v1/cluster", cluster.rm_url()),
        })
    }

    async fn get(&self, path: &str) -> Result<Value, BenchError> {
        let url = format!("{}{path}", self.base);
        let sep = if url.contains('?') { '&' } else { '?' };
        let what = format!("GET {url}");
        let resp = self
            .http
            .get(format!("{url}{sep}user.name=root"))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(BenchError::Http {
                what,
                detail: format!("{status}: {body}"),
            });
        }
        serde_json::from_str(&body).map_err(|e| BenchError::Http {
            what,
            detail: format!("not JSON ({e}): {body}"),
        })
    }

    /// `hadoopVersion` of `/ws/v1/cluster/info`.
    pub async fn hadoop_version(&self) -> Result<String, BenchError> {
        let v = self.get("/info").await?;
        Ok(v["clusterInfo"]["hadoopVersion"]
            .as_str()
            .unwrap_or("unknown")
            .to_string())
    }

    /// One application's report.
    pub async fn app(&self, id: &str) -> Result<AppReport, BenchError> {
        let v = self.get(&format!("/apps/{id}")).await?;
        AppReport::from_json(&v["app"]).ok_or_else(|| BenchError::Http {
            what: format!("report of {id}"),
            detail: v.to_string(),
        })
    }

    /// The newest application carrying this tag (tags are lower case in YARN).
    pub async fn find_by_tag(&self, tag: &str) -> Result<Option<AppReport>, BenchError> {
        let v = self.get(&format!("/apps?applicationTags={tag}")).await?;
        Ok(v["apps"]["app"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| {
                a["applicationTags"]
                    .as_str()
                    .is_some_and(|t| t.split(',').any(|t| t == tag))
            })
            .filter_map(AppReport::from_json)
            .max_by_key(|a| a.started_ms))
    }

    /// Polls until the application is in a final state, for at most `limit`.
    /// Polls `id` every `every` until it ends or `limit` passes.
    pub async fn wait_final(
        &self,
        id: &str,
        limit: Duration,
        every: Duration,
    ) -> Result<AppReport, BenchError> {
        let deadline = Instant::now() + limit;
        loop {
            let r = self.app(id).await?;
            if r.is_final() {
                return Ok(r);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    what: format!("{id} to end (still {})", r.state),
                    secs: limit.as_secs(),
                });
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Asks YARN to kill an application (best effort: used on timeouts).
    pub async fn kill(&self, id: &str) {
        let url = format!("{}/apps/{id}/state?user.name=root", self.base);
        let _ = self
            .http
            .put(url)
            .json(&json!({"state": "KILLED"}))
            .send()
            .await;
    }

    /// A new application id.
    pub async fn new_application(&self) -> Result<String, BenchError> {
        let url = format!("{}/apps/new-application?user.name=root", self.base);
        let what = "POST new-application".to_string();
        let v: Value = self
            .http
            .post(url)
            .send()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                detail: e.to_string(),
            })?
            .json()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        v["application-id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BenchError::Http {
                what,
                detail: v.to_string(),
            })
    }

    /// Submits an application (the body of `POST /ws/v1/cluster/apps`).
    pub async fn submit(&self, body: &Value) -> Result<(), BenchError> {
        let url = format!("{}/apps?user.name=root", self.base);
        let what = "POST apps (submit)".to_string();
        let resp = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        if resp.status().as_u16() != 202 {
            let status = resp.status();
            return Err(BenchError::Http {
                what,
                detail: format!("{status}: {}", resp.text().await.unwrap_or_default()),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_fields_and_elapsed() {
        let v = json!({"id": "application_1_0002", "state": "FINISHED", "finalStatus": "SUCCEEDED",
            "startedTime": 1000, "launchTime": 1300, "finishedTime": 3500, "diagnostics": ""});
        let r = AppReport::from_json(&v).expect("report");
        assert!(r.is_final() && r.succeeded());
        assert_eq!(r.rm_seconds(), Some(2.5));
        let running = AppReport::from_json(
            &json!({"id": "a", "state": "RUNNING", "startedTime": 5, "finishedTime": 0}),
        )
        .expect("report");
        assert!(!running.is_final());
        assert_eq!(running.rm_seconds(), None);
        let failed =
            AppReport::from_json(&json!({"id": "a", "state": "FINISHED", "finalStatus": "FAILED"}))
                .expect("report");
        assert!(!failed.succeeded());
    }
}
