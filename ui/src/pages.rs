//! The HTML pages. Every link starts with the configured base (YARN's proxy path), and
//! pages of a running application refresh every two seconds.

use std::time::{Duration, UNIX_EPOCH};

use maud::{DOCTYPE, Markup, PreEscaped, html};
use spindle_core::status::{AppStatus, RunState, StageStatus};

use crate::UiConfig;

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;font-size:14px}
header{background:#23395d;color:#fff;padding:10px 20px;display:flex;align-items:center;gap:24px}
header .brand{font-weight:700;font-size:18px;letter-spacing:.5px}
header nav a{color:#dfe7f3;text-decoration:none;margin-right:16px;padding:4px 0}
header nav a.active{color:#fff;border-bottom:2px solid #f0a030}
header .app{margin-left:auto;font-size:13px;color:#cfd8e6}
main{padding:16px 20px}
h1{font-size:20px;margin:4px 0 12px} h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;margin-bottom:12px}
th,td{border-bottom:1px solid #e2e2e2;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f9;font-weight:600}
tr:hover td{background:#fafbfd}
.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#e8ecf2;border-radius:3px;height:14px;width:160px;position:relative;overflow:hidden}
.bar span{display:block;height:100%;background:#5cb85c}
.bar span.fail{background:#d9534f}
.state{font-weight:600} .SUCCEEDED,.EXITED{color:#2e7d32} .FAILED,.LOST,.KILLED{color:#c62828} .RUNNING,.COMMITTING,.PLANNING{color:#1565c0}
.summary{display:flex;gap:28px;flex-wrap:wrap;margin-bottom:8px}
.summary div{background:#f4f6f9;padding:8px 12px;border-radius:4px}
.summary b{display:block;font-size:16px}
.banner{background:#fff8e1;border:1px solid #f0d98a;padding:6px 10px;margin-bottom:10px}
.error{color:#c62828;white-space:pre-wrap;font-family:monospace;font-size:12px}
.muted{color:#777}
"#;

fn link(config: &UiConfig, path: &str) -> String {
    format!("{}{path}", config.base.trim_end_matches('/'))
}

fn page(app: &AppStatus, config: &UiConfig, active: &str, title: &str, body: Markup) -> Markup {
    let running = app.ended_ms.is_none() && app.state == RunState::Running;
    let tabs = [
        ("Jobs", "/"),
        ("Stages", "/stages/"),
        ("Executors", "/executors/"),
        ("Environment", "/environment/"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if running { meta http-equiv="refresh" content="2"; }
                title { (title) " · " (app.app_name) " · Spindle" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    span.brand { "Spindle" }
                    nav {
                        @for (name, path) in tabs {
                            a.active[name == active] href=(link(config, path)) { (name) }
                        }
                    }
                    span.app { (app.app_name) " · " (app.app_id) " · " (app.user) }
                }
                main {
                    @if !config.banner.is_empty() { div.banner { (config.banner) } }
                    (body)
                }
            }
        }
    }
}

fn state(s: &str) -> Markup {
    html! { span class={"state " (s)} { (s) } }
}

fn bar(done: usize, failed: usize, total: usize) -> Markup {
    let pct = |n: usize| {
        if total == 0 {
            0.0
        } else {
            (n as f64 * 100.0 / total as f64).min(100.0)
        }
    };
    html! {
        div.bar title={(done) "/" (total) " done, " (failed) " failed attempts"} {
            span style={"width:" (format!("{:.1}", pct(done))) "%"} {}
        }
    }
}

/// `2026-11-27 23:10:02`, UTC.
pub(crate) fn time(ms: u64) -> String {
    if ms == 0 {
        return "—".into();
    }
    let t = UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// `850 ms`, `12.3 s`, `4.5 min`.
pub(crate) fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{:.1} min", ms as f64 / 60_000.0),
    }
}

/// `1.5 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn elapsed(start: u64, end: Option<u64>, now: u64) -> String {
    if start == 0 {
        return "—".into();
    }
    duration(end.unwrap_or(now).saturating_sub(start))
}

fn now() -> u64 {
    spindle_core::status::now_ms()
}

pub(crate) fn jobs(app: &AppStatus, config: &UiConfig) -> Markup {
    let now = now();
    let tasks: usize = app.stages.iter().map(|s| s.total).sum();
    let done: usize = app.stages.iter().map(|s| s.done).sum();
    let alive = app.executors.iter().filter(|e| e.alive).count();
    let body = html! {
        h1 { "Jobs" }
        div.summary {
            div { "Application" b { (state(app.state.as_str())) } }
            div { "Started" b { (time(app.started_ms)) } }
            div { "Duration" b { (elapsed(app.started_ms, app.ended_ms, now)) } }
            div { "Progress" b { (format!("{:.0}%", app.progress() * 100.0)) } }
            div { "Tasks" b { (done) " / " (tasks) } }
            div { "Executors" b { (alive) " live / " (app.executors.len()) } }
        }
        @if !app.message.is_empty() { p { (app.message) } }
        table #jobs {
            thead { tr { th { "Job" } th { "Description" } th { "State" } th { "Submitted" }
                th { "Duration" } th { "Stages" } th { "Tasks (done/total)" } th {} } }
            tbody {
                @for j in app.jobs.iter().rev() {
                    @let stages: Vec<&StageStatus> = app.stages.iter().filter(|s| s.job_id == j.id).collect();
                    @let (t, d, f) = stages.iter().fold((0, 0, 0), |(t, d, f), s| (t + s.total, d + s.done, f + s.failed));
                    tr {
                        td.num { (j.id) }
                        td { (j.description)
                            @if !j.error.is_empty() { div.error { (j.error) } } }
                        td { (state(j.state.as_str())) }
                        td { (time(j.submitted_ms)) }
                        td { (elapsed(j.submitted_ms, j.completed_ms, now)) }
                        td { @for s in &stages {
                            a href=(link(config, &format!("/stages/{}", s.id))) { (s.name) " (" (s.id) ")" } " " } }
                        td.num { (d) " / " (t) }
                        td { (bar(d, f, t)) }
                    }
                }
                @if app.jobs.is_empty() { tr { td colspan="8" .muted { "No job yet: planning." } } }
            }
        }
    };
    page(app, config, "Jobs", "Jobs", body)
}

pub(crate) fn stages(app: &AppStatus, config: &UiConfig) -> Markup {
    let now = now();
    let body = html! {
        h1 { "Stages" }
        table #stages {
            thead { tr { th { "Stage" } th { "Job" } th { "Name" } th { "State" } th { "Submitted" }
                th { "Duration" } th { "Tasks (done/total)" } th {} th { "Running" }
                th { "Failed attempts" } th { "Input" } } }
            tbody {
                @for s in app.stages.iter().rev() {
                    tr {
                        td.num { a href=(link(config, &format!("/stages/{}", s.id))) { (s.id) } }
                        td.num { (s.job_id) }
                        td { a href=(link(config, &format!("/stages/{}", s.id))) { (s.name) } }
                        td { (state(s.state.as_str())) }
                        td { (time(s.submitted_ms)) }
                        td { (elapsed(s.submitted_ms, s.completed_ms, now)) }
                        td.num { (s.done) " / " (s.total) }
                        td { (bar(s.done, s.failed, s.total)) }
                        td.num { (s.running) }
                        td.num { (s.failed) }
                        td.num { (bytes(s.input_bytes)) }
                    }
                }
                @if app.stages.is_empty() { tr { td colspan="11" .muted { "No stage yet." } } }
            }
        }
    };
    page(app, config, "Stages", "Stages", body)
}

pub(crate) fn stage(
    app: &AppStatus,
    s: &StageStatus,
    offset: usize,
    limit: usize,
    config: &UiConfig,
) -> Markup {
    let now = now();
    let shown: Vec<_> = s.attempts.iter().skip(offset).take(limit).collect();
    let href = |o: usize| {
        link(
            config,
            &format!("/stages/{}?offset={o}&limit={limit}", s.id),
        )
    };
    let mut durations: Vec<u64> = s.attempts.iter().filter_map(|a| a.duration_ms).collect();
    durations.sort_unstable();
    let pick = |q: f64| {
        durations
            .get(((durations.len().saturating_sub(1)) as f64 * q) as usize)
            .copied()
    };
    let body = html! {
        h1 { "Stage " (s.id) ": " (s.name) " " (state(s.state.as_str())) }
        div.summary {
            div { "Job" b { a href=(link(config, "/")) { (s.job_id) } } }
            div { "Tasks" b { (s.done) " / " (s.total) } }
            div { "Running" b { (s.running) } }
            div { "Failed attempts" b { (s.failed) } }
            div { "Input" b { (bytes(s.input_bytes)) } }
            div { "Duration" b { (elapsed(s.submitted_ms, s.completed_ms, now)) } }
            @if let (Some(min), Some(med), Some(max)) = (pick(0.0), pick(0.5), pick(1.0)) {
                div { "Task time min / median / max" b { (duration(min)) " / " (duration(med)) " / " (duration(max)) } }
            }
        }
        h2 { "Task attempts " ((offset + 1).min(s.attempts.len())) "–" (offset + shown.len()) " of " (s.attempts.len()) }
        p {
            @if offset > 0 { a href=(href(offset.saturating_sub(limit))) { "← previous" } " " }
            @if offset + shown.len() < s.attempts.len() { a href=(href(offset + limit)) { "next →" } }
        }
        table #tasks {
            thead { tr { th { "Task" } th { "Partition" } th { "Attempt" } th { "State" } th { "Locality" }
                th { "Executor" } th { "Host" } th { "Launched" } th { "Duration" } th { "Input" } th { "Error" } } }
            tbody {
                @for a in &shown {
                    tr {
                        td.num { (a.task_id) }
                        td.num { (a.partition) }
                        td.num { (a.attempt) }
                        td { (state(a.state.as_str())) }
                        td { (a.locality.as_str()) }
                        td { (a.executor) }
                        td { (a.host) }
                        td { (time(a.launched_ms)) }
                        td.num { @match a.duration_ms { Some(d) => (duration(d)), None => (elapsed(a.launched_ms, None, now)) } }
                        td.num { (bytes(a.input_bytes)) }
                        td { @if !a.error.is_empty() { div.error { (a.error) } } }
                    }
                }
                @if shown.is_empty() { tr { td colspan="11" .muted { "No task launched yet." } } }
            }
        }
    };
    page(app, config, "Stages", &format!("Stage {}", s.id), body)
}

pub(crate) fn executors(app: &AppStatus, config: &UiConfig) -> Markup {
    let body = html! {
        h1 { "Executors" }
        table #executors {
            thead { tr { th { "Executor" } th { "Host" } th { "Container" } th { "State" } th { "Cores" }
                th { "RSS" } th { "Cache" } th { "Tasks done" } th { "Tasks failed" } th { "Logs" } } }
            tbody {
                @for e in &app.executors {
                    tr {
                        td { (e.id) }
                        td { (e.host) }
                        td { (e.container_id) }
                        td { @if e.alive { (state("RUNNING")) }
                            @else if e.lost_reason.starts_with("shut down") { (state("EXITED")) }
                            @else { (state("LOST")) " " span.muted { (e.lost_reason) } } }
                        td.num { (e.cores) }
                        td.num { (bytes(e.rss_bytes)) }
                        td.num { (bytes(e.cache_bytes)) }
                        td.num { (e.tasks_done) }
                        td.num { (e.tasks_failed) }
                        td { @if e.logs_url.is_empty() { span.muted { "—" } } @else {
                            a href=(e.logs_url) { "logs" } " " a href=(format!("{}/stderr/?start=-65536", e.logs_url.trim_end_matches('/'))) { "stderr" } } }
                    }
                }
                @if app.executors.is_empty() { tr { td colspan="10" .muted { "No executor registered yet." } } }
            }
        }
    };
    page(app, config, "Executors", "Executors", body)
}

pub(crate) fn environment(app: &AppStatus, config: &UiConfig) -> Markup {
    let body = html! {
        h1 { "Environment" }
        @for section in &app.environment {
            h2 { (section.title) }
            table {
                thead { tr { th style="width:30%" { "Name" } th { "Value" } } }
                tbody {
                    @for (k, v) in &section.entries { tr { td { (k) } td { (v) } } }
                }
            }
        }
        @if app.environment.is_empty() { p.muted { "No environment recorded." } }
    };
    page(app, config, "Environment", "Environment", body)
}
