//! Following a submitted application to its end: the RM's state every poll and, while it
//! runs, the AM's own stage progress at `<trackingUrl>api/v1/progress` through the RM
//! proxy, shown as a live bar on a terminal and as plain lines otherwise.
//!
//! The AM's progress page is optional: when it is missing or not the expected JSON the
//! RM's progress percent is shown instead. Ctrl-C and `--timeout` stop following, never
//! the application.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;

use crate::ClientError;
use crate::rm::{AppReport, RmClient};

/// How long the AM's progress page may take.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortest pause between polls.
const FIRST_POLL_PAUSE: Duration = Duration::from_millis(50);
/// The pause between polls is the time followed so far over this: an application
/// is seen ended at most a tenth of its run time late (a tiny job ends in half a
/// second; polling it every 50 ms costs the RM nothing it notices).
const POLL_LAG_FRACTION: u32 = 10;

/// Consecutive failed RM polls tolerated before giving up (each already retried).
const MAX_RM_FAILURES: u32 = 5;

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// The longest time between polls, once the application has run a while (the
    /// first polls come sooner: see [`poll_pause`]).
    pub poll: Duration,
    /// Stop following after this long.
    pub timeout: Option<Duration>,
    /// Draw a live bar (stderr is a terminal) rather than plain lines.
    pub live: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll: Duration::from_millis(500),
            timeout: None,
            live: std::io::stderr().is_terminal(),
        }
    }
}

/// The AM's progress page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AmProgress {
    /// The driver's state (`RUNNING`, …).
    #[serde(default)]
    pub state: Option<String>,
    /// Stages in order.
    #[serde(default)]
    pub stages: Vec<StageProgress>,
}

/// One stage's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StageProgress {
    /// Stage id.
    #[serde(default)]
    pub id: u64,
    /// Stage name (`map`, `reduce`).
    #[serde(default)]
    pub name: String,
    /// Tasks in the stage.
    #[serde(default)]
    pub total: u64,
    /// Tasks done.
    #[serde(default)]
    pub done: u64,
    /// Tasks running.
    #[serde(default)]
    pub running: u64,
    /// Task attempts failed.
    #[serde(default)]
    pub failed: u64,
}

/// What one poll shows: a position out of a length, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Done so far.
    pub pos: u64,
    /// Out of.
    pub len: u64,
    /// State and stage details.
    pub message: String,
}

/// The view of an application from the RM's report and the AM's progress, if any.
pub fn view(app: &AppReport, am: Option<&AmProgress>) -> View {
    match am.filter(|p| !p.stages.is_empty()) {
        Some(p) => {
            let len = p.stages.iter().map(|s| s.total).sum::<u64>().max(1);
            let pos = p.stages.iter().map(|s| s.done.min(s.total)).sum();
            let stages = p
                .stages
                .iter()
                .map(|s| {
                    let mut t = format!("{} {}/{}", s.name, s.done, s.total);
                    if s.running > 0 {
                        t.push_str(&format!(" ({} running)", s.running));
                    }
                    if s.failed > 0 {
                        t.push_str(&format!(" ({} failed)", s.failed));
                    }
                    t
                })
                .collect::<Vec<_>>()
                .join(", ");
            View {
                pos,
                len,
                message: format!("{} {stages}", app.state),
            }
        }
        None => {
            let pct = app.progress.clamp(0.0, 100.0).round() as u64;
            View {
                pos: pct,
                len: 100,
                message: format!("{} {pct}%", app.state),
            }
        }
    }
}

/// `<trackingUrl>api/v1/progress`.
pub fn progress_url(tracking_url: &str) -> String {
    format!("{}/api/v1/progress", tracking_url.trim_end_matches('/'))
}

/// The AM's progress, or `None` when the page is missing or not the expected JSON.
async fn am_progress(http: &reqwest::Client, tracking_url: &str) -> Option<AmProgress> {
    let resp = http
        .get(progress_url(tracking_url))
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(PROGRESS_TIMEOUT)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let text = resp.text().await.ok()?;
    serde_json::from_str(&text).ok()
}

/// Where views go: a live bar or plain lines on stderr.
enum Display {
    Bar(ProgressBar),
    Lines { last: String, start: Instant },
}

impl Display {
    fn new(live: bool, app_id: &str) -> Display {
        if live {
            let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} [{elapsed_precise}] [{bar:30}] {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(app_id.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            Display::Bar(bar)
        } else {
            Display::Lines {
                last: String::new(),
                start: Instant::now(),
            }
        }
    }

    fn show(&mut self, v: &View) {
        match self {
            Display::Bar(bar) => {
                bar.set_length(v.len);
                bar.set_position(v.pos);
                bar.set_message(v.message.clone());
            }
            Display::Lines { last, start } => {
                if *last != v.message {
                    eprintln!("[{:>6.1}s] {}", start.elapsed().as_secs_f64(), v.message);
                    *last = v.message.clone();
                }
            }
        }
    }

    fn finish(self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Polls the application until YARN says it ended; returns the final report. `first`
/// is a report fetched just before, taken as the first poll.
pub async fn follow(
    rm: &RmClient,
    app_id: &str,
    first: Option<AppReport>,
    options: &FollowOptions,
) -> Result<AppReport, ClientError> {
    let mut display = Display::new(options.live, app_id);
    let result = tokio::select! {
        r = poll_until_final(rm, app_id, first, options, &mut display) => r,
        _ = tokio::signal::ctrl_c() => Err(ClientError::StoppedFollowing {
            id: app_id.to_string(),
            reason: "interrupted".into(),
        }),
    };
    display.finish();
    if let Ok(app) = &result {
        eprintln!(
            "{app_id} {}/{}{}",
            app.state,
            app.final_status,
            if app.elapsed_time > 0 {
                format!(" after {:.1} s", app.elapsed_time as f64 / 1000.0)
            } else {
                String::new()
            }
        );
    }
    result
}

async fn poll_until_final(
    rm: &RmClient,
    app_id: &str,
    mut first: Option<AppReport>,
    options: &FollowOptions,
    display: &mut Display,
) -> Result<AppReport, ClientError> {
    let started = Instant::now();
    let deadline = options.timeout.map(|t| started + t);
    let mut rm_failures = 0;
    let mut progress_failures = 0u32;
    let mut polls = 0u64;
    loop {
        polls += 1;
        let report = match first.take() {
            Some(app) => Ok(app),
            None => rm.app(app_id).await,
        };
        match report {
            Ok(app) => {
                tracing::debug!(polls, state = %app.state, "polled the RM");
                rm_failures = 0;
                if app.is_final() {
                    return Ok(app);
                }
                // The AM's page exists only while it runs; after a few misses ask it
                // only every tenth poll.
                let ask =
                    app.state == "RUNNING" && (progress_failures < 3 || polls.is_multiple_of(10));
                let am = match (&app.tracking_url, ask) {
                    (Some(url), true) => {
                        let p = am_progress(rm.http(), url).await;
                        tracing::debug!(answered = p.is_some(), "asked the AM for progress");
                        p
                    }
                    _ => None,
                };
                if ask {
                    progress_failures = if am.is_some() {
                        0
                    } else {
                        progress_failures.saturating_add(1)
                    };
                }
                display.show(&view(&app, am.as_ref()));
            }
            Err(e @ ClientError::AppNotFound { .. }) => return Err(e),
            Err(e) => {
                rm_failures += 1;
                if rm_failures >= MAX_RM_FAILURES {
                    return Err(e);
                }
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ClientError::StoppedFollowing {
                id: app_id.to_string(),
                reason: format!(
                    "--timeout of {:?} reached",
                    options.timeout.unwrap_or_default()
                ),
            });
        }
        tokio::time::sleep(poll_pause(started.elapsed(), options.poll)).await;
    }
}

/// The pause before the next poll after following for `followed`: a tenth of that,
/// at least 50 ms and at most `max`. The first polls of a doubling schedule (50, 100,
/// 200, 400 ms) saw a job that ended at 0.45 s only at 0.85 s; this one sees it by
/// 0.5 s, and a long job is still polled every `max`.
pub fn poll_pause(followed: Duration, max: Duration) -> Duration {
    (followed / POLL_LAG_FRACTION).clamp(FIRST_POLL_PAUSE.min(max), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(state: &str, progress: f64) -> AppReport {
        AppReport {
            id: "application_1_0001".into(),
            name: "n".into(),
            application_type: "SPINDLE".into(),
            user: "u".into(),
            queue: "root.default".into(),
            state: state.into(),
            final_status: "UNDEFINED".into(),
            progress,
            tracking_url: Some("http://localhost:8088/proxy/application_1_0001/".into()),
            diagnostics: String::new(),
            started_time: 0,
            finished_time: 0,
            elapsed_time: 0,
            am_container_logs: None,
        }
    }

    #[test]
    fn polls_start_quick_and_slow_down_to_the_interval() {
        let max = Duration::from_millis(500);
        let pause = |ms: u64| poll_pause(Duration::from_millis(ms), max).as_millis();
        let pauses: Vec<u128> = [0, 300, 500, 1_000, 2_000, 4_000, 5_000, 60_000]
            .into_iter()
            .map(pause)
            .collect();
        assert_eq!(pauses, [50, 50, 50, 100, 200, 400, 500, 500]);
        assert_eq!(poll_pause(Duration::MAX, max), max);
        assert_eq!(
            poll_pause(Duration::ZERO, Duration::from_millis(20)).as_millis(),
            20
        );
    }

    #[test]
    fn rm_percent_without_am_progress() {
        let v = view(&app("ACCEPTED", 0.0), None);
        assert_eq!((v.pos, v.len), (0, 100));
        assert_eq!(v.message, "ACCEPTED 0%");
        let v = view(&app("RUNNING", 42.4), None);
        assert_eq!((v.pos, v.len, v.message.as_str()), (42, 100, "RUNNING 42%"));
        let empty = AmProgress {
            state: None,
            stages: vec![],
        };
        assert_eq!(view(&app("RUNNING", 10.0), Some(&empty)).len, 100);
    }

    #[test]
    fn stages_from_the_am() {
        let p: AmProgress = serde_json::from_str(
            r#"{"state": "RUNNING", "stages": [
                {"id": 0, "name": "map", "total": 10, "done": 10, "running": 0, "failed": 1},
                {"id": 1, "name": "reduce", "total": 2, "done": 0, "running": 2, "failed": 0}]}"#,
        )
        .expect("parses");
        let v = view(&app("RUNNING", 50.0), Some(&p));
        assert_eq!((v.pos, v.len), (10, 12));
        assert_eq!(
            v.message,
            "RUNNING map 10/10 (1 failed), reduce 0/2 (2 running)"
        );
    }

    #[test]
    fn progress_page_url() {
        assert_eq!(
            progress_url("http://localhost:8088/proxy/application_1_0001/"),
            "http://localhost:8088/proxy/application_1_0001/api/v1/progress"
        );
        assert_eq!(
            progress_url("http://h/proxy/a"),
            "http://h/proxy/a/api/v1/progress"
        );
    }

    #[test]
    fn odd_progress_json_is_tolerated() {
        assert!(serde_json::from_str::<AmProgress>("{}").is_ok());
        assert!(serde_json::from_str::<AmProgress>("<html>").is_err());
        let p: AmProgress =
            serde_json::from_str(r#"{"stages": [{"name": "map"}], "extra": 1}"#).expect("parses");
        assert_eq!(p.stages[0].total, 0);
    }
}
