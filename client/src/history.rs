//! `spindle history`: finished applications from the history files their AMs wrote
//! (`spindle.history.dir`, default `/user/<user>/.spindle/history/<appId>.json`).
//! Without an id it lists them; with one it serves the application's UI — the same
//! pages the AM served while it ran — on this machine, or prints its JSON.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use spindle_conf::{HadoopConf, SettingsLayers};
use spindle_core::status::AppStatus;
use spindle_ui::{History, UiConfig};

use crate::submit::history_dir;
use crate::{ClientError, emit, hadoop_user};

/// `spindle history [appId]`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The application; without it, the applications in the history directory are listed.
    pub app_id: Option<String>,
    /// Address to serve the UI on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub bind: SocketAddr,
    /// Print the application's status as JSON (every task attempt) instead of serving it.
    #[arg(long)]
    pub json: bool,
    /// The history directory (URI, or path on the default FS); default: the
    /// `spindle.history.dir` setting, else /user/<user>/.spindle/history.
    #[arg(long)]
    pub dir: Option<String>,
}

/// Runs `spindle history`.
pub async fn run(args: &HistoryArgs) -> Result<(), ClientError> {
    let conf = HadoopConf::from_env()?;
    let user = hadoop_user()?;
    let mut layers = SettingsLayers::defaults();
    layers.apply_conf_dir_from_env()?;
    layers.apply_process_env();
    let settings = layers.resolve()?;
    let dir = history_dir(
        &conf.default_fs()?,
        &user,
        args.dir.as_deref().or(settings.history_dir.as_deref()),
    );
    let fs = spindle_core::fs::for_uri(&dir, &conf, &user)
        .await
        .map_err(|source| ClientError::Fs {
            what: format!("cannot open the file system of {dir}"),
            source,
        })?;
    let Some(app_id) = &args.app_id else {
        return list(fs.as_ref(), &dir).await;
    };
    if !app_id.starts_with("application_") && !app_id.starts_with("local-") {
        return Err(ClientError::Usage(format!(
            "{app_id:?} is not an application id (application_<cluster>_<n>)"
        )));
    }
    let path = format!("{dir}/{app_id}.json");
    let Some(info) = fs.info(&path).await.map_err(|source| ClientError::Fs {
        what: format!("cannot look up {path}"),
        source,
    })?
    else {
        return Err(ClientError::Usage(format!(
            "no history for {app_id}: {path} does not exist (the application may still run — see `spindle status {app_id}` — or it kept no history)"
        )));
    };
    let bytes = fs
        .read_range(&path, 0, info.length)
        .await
        .map_err(|source| ClientError::Fs {
            what: format!("cannot read {path}"),
            source,
        })?;
    let status = parse(&bytes, &path)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&status).map_err(|e| ClientError::Usage(e.to_string()))?;
        emit(&format!("{text}\n"));
        return Ok(());
    }
    let config = UiConfig {
        banner: format!(
            "History: {} ended {}; read from {path}.",
            status.app_id, status.state
        ),
        ..Default::default()
    };
    let router = spindle_ui::router(Arc::new(History(status)), config);
    let addr = spindle_ui::serve(args.bind, router)
        .await
        .map_err(|e| ClientError::Usage(e.to_string()))?;
    emit(&format!(
        "History UI of {app_id}: http://{addr}/  (Ctrl-C to stop)\n"
    ));
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// A history file's contents.
pub fn parse(bytes: &[u8], path: &str) -> Result<AppStatus, ClientError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ClientError::Usage(format!("{path} is not a Spindle history file: {e}")))
}

async fn list(fs: &dyn spindle_core::fs::FileSystem, dir: &str) -> Result<(), ClientError> {
    let listing_error = |source| ClientError::Fs {
        what: format!("cannot list {dir}"),
        source,
    };
    let mut files = match fs.info(dir).await.map_err(listing_error)? {
        None => Vec::new(),
        Some(_) => fs.list_dir(dir).await.map_err(listing_error)?,
    };
    files.retain(|f| !f.is_dir && f.path.ends_with(".json"));
    files.sort_by_key(|f| std::cmp::Reverse(f.modification_time));
    if files.is_empty() {
        emit(&format!("No application history in {dir}.\n"));
        return Ok(());
    }
    let mut out = format!(
        "{:<32} {:<10} {:>10}  {}\n",
        "APPLICATION", "STATE", "DURATION", "NAME"
    );
    for f in files.iter().take(100) {
        let id = f
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".json");
        let status = match fs.read_range(&f.path, 0, f.length).await {
            Ok(bytes) => parse(&bytes, &f.path).ok(),
            Err(_) => None,
        };
        let (state, secs, name) = match &status {
            Some(s) => (
                s.state.to_string(),
                s.ended_ms
                    .map(|e| format!("{:.1} s", e.saturating_sub(s.started_ms) as f64 / 1000.0))
                    .unwrap_or_else(|| "—".into()),
                s.app_name.clone(),
            ),
            None => ("UNREADABLE".to_string(), "—".to_string(), String::new()),
        };
        out.push_str(&format!("{id:<32} {state:<10} {secs:>10}  {name}\n"));
    }
    emit(&out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_the_file_on_garbage() {
        let err = parse(b"not json", "hdfs://nn/h/x.json").expect_err("garbage");
        assert!(
            err.to_string()
                .contains("hdfs://nn/h/x.json is not a Spindle history file")
        );
        let ok = parse(
            br#"{"app_id":"application_1_0001","state":"SUCCEEDED"}"#,
            "p",
        )
        .expect("parses");
        assert_eq!(ok.state, spindle_core::status::RunState::Succeeded);
    }
}
