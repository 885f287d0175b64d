//! `spindle status`, `spindle list` and `spindle kill`, and how they print: aligned
//! tables for people, JSON for programs.

use std::time::{Duration, Instant};

use serde::Serialize;
use spindle_conf::HadoopConf;

use crate::cli::OutputFormat;
use crate::rm::{APP_STATES, AppReport, RmClient, is_app_id};
use crate::submit::APP_TYPE;
use crate::{ClientError, hadoop_user};

/// States `list` shows when none are asked for, as `yarn application -list` does.
pub const ACTIVE_STATES: [&str; 3] = ["SUBMITTED", "ACCEPTED", "RUNNING"];

fn rm_client() -> Result<(RmClient, HadoopConf), ClientError> {
    let conf = HadoopConf::from_env()?;
    let user = hadoop_user()?;
    Ok((RmClient::new(&conf.rm_web_url(), &user)?, conf))
}

fn check_id(id: &str) -> Result<(), ClientError> {
    if is_app_id(id) {
        Ok(())
    } else {
        Err(ClientError::Usage(format!(
            "{id:?} is not an application id (like application_1700000000000_0001)"
        )))
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// `spindle status <appId>`.
pub async fn status(id: &str, output: OutputFormat) -> Result<(), ClientError> {
    check_id(id)?;
    let (rm, _) = rm_client()?;
    let app = rm.app(id).await?;
    crate::emit(&render_app(&app, output));
    Ok(())
}

/// Validates `--state` values; `ALL` (or nothing asked with `all_default`) means every
/// state, nothing asked means the active ones.
pub fn states(asked: &[String]) -> Result<Vec<String>, ClientError> {
    let asked: Vec<String> = asked
        .iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    if asked.is_empty() {
        return Ok(ACTIVE_STATES.iter().map(|s| s.to_string()).collect());
    }
    if asked.iter().any(|s| s == "ALL") {
        return Ok(Vec::new());
    }
    for s in &asked {
        if !APP_STATES.contains(&s.as_str()) {
            return Err(ClientError::Usage(format!(
                "--state {s} is not a YARN application state; states: {}, or ALL",
                APP_STATES.join(", ")
            )));
        }
    }
    Ok(asked)
}

/// `spindle list`.
pub async fn list(asked: &[String], all: bool, output: OutputFormat) -> Result<(), ClientError> {
    let states = states(asked)?;
    let (rm, _) = rm_client()?;
    let apps = rm
        .apps(if all { None } else { Some(APP_TYPE) }, &states)
        .await?;
    crate::emit(&render_list(&apps, output));
    Ok(())
}

/// `spindle kill <appId>`: asks the RM to kill, then waits until it shows KILLED.
pub async fn kill(id: &str, timeout: Duration, output: OutputFormat) -> Result<(), ClientError> {
    check_id(id)?;
    let (rm, conf) = rm_client()?;
    let before = rm.app(id).await?;
    if before.is_final() {
        eprintln!(
            "{id} already ended {}/{}; nothing to kill",
            before.state, before.final_status
        );
        crate::emit(&render_app(&before, output));
        return Ok(());
    }
    rm.kill(id).await?;
    let deadline = Instant::now() + timeout;
    let last = loop {
        let app = rm.app(id).await?;
        if app.is_final() {
            break app;
        }
        if Instant::now() >= deadline {
            return Err(ClientError::KillTimeout {
                id: id.to_string(),
                state: app.state,
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if last.state == "KILLED" {
        eprintln!("{id} killed");
    } else {
        eprintln!(
            "{id} ended {}/{} before the kill took effect",
            last.state, last.final_status
        );
    }
    if last.application_type == APP_TYPE {
        // A killed AM cannot delete its staging directory; do it for it.
        remove_staging(&conf, rm.user(), id).await;
    }
    crate::emit(&render_app(&last, output));
    Ok(())
}

async fn remove_staging(conf: &HadoopConf, user: &str, id: &str) {
    let Ok(fs) = conf.default_fs() else {
        return;
    };
    let dir = crate::submit::staging_dir(&fs, user, id);
    let result = match spindle_core::fs::for_uri(&dir, conf, user).await {
        Ok(fs) => fs.delete(&dir).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("spindle: warning: cannot delete the staging directory {dir}: {e}");
    }
}

/// One application as text or JSON.
pub fn render_app(app: &AppReport, output: OutputFormat) -> String {
    match output {
        OutputFormat::Json => format!("{}\n", to_json(app)),
        OutputFormat::Table => {
            let mut rows = vec![
                ("Application", app.id.clone()),
                ("Name", app.name.clone()),
                ("Type", app.application_type.clone()),
                ("User", app.user.clone()),
                ("Queue", app.queue.clone()),
                ("State", app.state.clone()),
                ("Final status", app.final_status.clone()),
                ("Progress", format!("{:.0}%", app.progress)),
                ("Started", format_time(app.started_time)),
            ];
            if app.finished_time > 0 {
                rows.push(("Finished", format_time(app.finished_time)));
            }
            rows.push(("Elapsed", format_elapsed(app.elapsed_time)));
            if let Some(u) = app.tracking_url.as_ref().filter(|u| !u.is_empty()) {
                rows.push(("Tracking URL", u.clone()));
            }
            if let Some(u) = app.am_container_logs.as_ref().filter(|u| !u.is_empty()) {
                rows.push(("AM logs", u.clone()));
            }
            if !app.diagnostics.trim().is_empty() {
                rows.push(("Diagnostics", app.diagnostics.trim().replace('\n', "\n  ")));
            }
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            rows.iter()
                .map(|(k, v)| format!("{k:<width$}  {v}\n"))
                .collect()
        }
    }
}

/// A list of applications as a table or a JSON array.
pub fn render_list(apps: &[AppReport], output: OutputFormat) -> String {
    match output {
        OutputFormat::Json => format!("{}\n", to_json(&apps)),
        OutputFormat::Table => {
            let header = [
                "ID", "NAME", "TYPE", "USER", "QUEUE", "STATE", "FINAL", "PROGRESS", "STARTED",
            ];
            let rows: Vec<Vec<String>> = apps
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        a.name.clone(),
                        a.application_type.clone(),
                        a.user.clone(),
                        a.queue.clone(),
                        a.state.clone(),
                        a.final_status.clone(),
                        format!("{:.0}%", a.progress),
                        format_time(a.started_time),
                    ]
                })
                .collect();
            table(&header, &rows)
        }
    }
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`; `-` for none.
pub fn format_time(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let secs = ms / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds as `1.5 s`, `2 min 5 s`, `1 h 2 min`.
pub fn format_elapsed(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let s = ms / 1000;
    match s {
        0..60 => format!("{:.1} s", ms as f64 / 1000.0),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppReport {
        AppReport {
            id: "application_1795814129912_0006".into(),
            name: "spindle-wordcount".into(),
            application_type: "SPINDLE".into(),
            user: "root".into(),
            queue: "root.default".into(),
            state: "FINISHED".into(),
            final_status: "SUCCEEDED".into(),
            progress: 100.0,
            tracking_url: Some(
                "http://localhost:8088/proxy/application_1795814129912_0006/".into(),
            ),
            diagnostics: "line one\nline two".into(),
            started_time: 1_700_000_000_000,
            finished_time: 1_700_000_002_401,
            elapsed_time: 2401,
            am_container_logs: None,
        }
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "-");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_elapsed(2401), "2.4 s");
        assert_eq!(format_elapsed(125_000), "2 min 5 s");
        assert_eq!(format_elapsed(3_720_000), "1 h 2 min");
    }

    #[test]
    fn status_table() {
        let t = render_app(&app(), OutputFormat::Table);
        assert!(
            t.starts_with("Application   application_1795814129912_0006\n"),
            "{t}"
        );
        assert!(t.contains("\nState         FINISHED\n"), "{t}");
        assert!(t.contains("\nDiagnostics   line one\n  line two\n"), "{t}");
        let j: serde_json::Value =
            serde_json::from_str(&render_app(&app(), OutputFormat::Json)).expect("JSON");
        assert_eq!(j["id"], "application_1795814129912_0006");
        assert_eq!(j["finalStatus"], "SUCCEEDED");
        assert_eq!(j["applicationType"], "SPINDLE");
    }

    #[test]
    fn list_table_and_json() {
        let t = render_list(&[app()], OutputFormat::Table);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("ID                              NAME"),
            "{t}"
        );
        assert!(lines[1].contains("spindle-wordcount  SPINDLE"), "{t}");
        let j: serde_json::Value =
            serde_json::from_str(&render_list(&[], OutputFormat::Json)).expect("JSON");
        assert_eq!(j, serde_json::json!([]));
    }

    #[test]
    fn state_filters() {
        assert_eq!(states(&[]).expect("ok"), ACTIVE_STATES);
        assert!(states(&["all".into()]).expect("ok").is_empty());
        assert_eq!(
            states(&["running".into(), " FINISHED".into()]).expect("ok"),
            ["RUNNING", "FINISHED"]
        );
        let e = states(&["DONE".into()]).expect_err("should be refused");
        assert!(e.to_string().contains("--state DONE"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }
}
