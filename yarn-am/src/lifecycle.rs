//! What every Spindle AM does around the application it hosts: reads what the client
//! staged (`SPINDLE_*` variables), starts the driver and its web UI and registers with
//! the ResourceManager, describes itself on the environment page, writes the history
//! file and removes the staging directory at the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spindle_conf::HadoopConf;
use spindle_core::driver::{Driver, DriverConfig};
use spindle_core::fs::{FileSystem, for_uri};
use spindle_core::transport::SECRET_ALIAS;
use spindle_hadoop_ipc::rm::AmRmClient;
use spindle_hadoop_ipc::{LocalResource, Visibility};
use tracing::{info, warn};

use spindle_core::status::EnvSection;

use crate::{AmError, ContainerEnv, ipc, web};

/// Settings the client put in the AM's environment.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    pub executor: LocalResource,
    /// `--files`, localized into every executor's working directory too.
    pub files: Vec<(String, LocalResource)>,
    pub staging_dir: Option<String>,
    pub default_fs: String,
    pub user: String,
    pub app_name: String,
    pub rm_web_url: String,
    pub history_dir: Option<String>,
    pub ui_linger: Duration,
}

pub(crate) fn staged_from_env() -> Result<Staged, AmError> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let spec = var("SPINDLE_EXECUTOR_RESOURCE").ok_or_else(|| {
        AmError::Environment(
            "SPINDLE_EXECUTOR_RESOURCE is not set (submit with `spindle submit`)".into(),
        )
    })?;
    let executor = parse_resource(&spec)?;
    let default_fs = var("SPINDLE_DEFAULT_FS")
        .or_else(|| {
            HadoopConf::from_env()
                .ok()
                .and_then(|c| c.default_fs().ok())
        })
        .unwrap_or_else(|| format!("hdfs://{}:{}", executor.host, executor.port));
    let mut files = Vec::new();
    for spec in var("SPINDLE_FILE_RESOURCES")
        .iter()
        .flat_map(|l| l.split(','))
    {
        let r = parse_resource(spec)?;
        let name = r.file.rsplit('/').next().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(AmError::Environment(format!(
                "SPINDLE_FILE_RESOURCES entry {spec:?} names no file"
            )));
        }
        files.push((name, r));
    }
    Ok(Staged {
        executor,
        files,
        staging_dir: var("SPINDLE_STAGING_DIR"),
        default_fs,
        user: var("HADOOP_USER_NAME")
            .or_else(|| var("USER"))
            .unwrap_or_else(|| "yarn".into()),
        app_name: var("SPINDLE_APP_NAME").unwrap_or_else(|| "spindle".into()),
        rm_web_url: var("SPINDLE_RM_WEB_URL").unwrap_or_else(|| {
            HadoopConf::from_env()
                .map(|c| c.rm_web_url())
                .unwrap_or_else(|_| "http://0.0.0.0:8088".into())
        }),
        history_dir: var("SPINDLE_HISTORY_DIR"),
        ui_linger: Duration::from_secs(
            var("SPINDLE_UI_LINGER")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
    })
}

/// `hdfs://host:port/path|size|timestamp[|visibility]` → a YARN local resource
/// (visibility `APPLICATION`, the default, or `PRIVATE`).
fn parse_resource(spec: &str) -> Result<LocalResource, AmError> {
    let bad =
        |why: &str| AmError::Environment(format!("SPINDLE_EXECUTOR_RESOURCE {spec:?}: {why}"));
    let mut parts = spec.split('|');
    let (Some(uri), Some(size), Some(ts), visibility, None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("want <uri>|<size>|<timestamp>[|<visibility>]"));
    };
    let visibility = match visibility {
        None => Visibility::Application,
        Some(v) => {
            Visibility::parse(v).ok_or_else(|| bad("visibility is not APPLICATION or PRIVATE"))?
        }
    };
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("not a URI"))?;
    let (authority, path) = rest.split_at(rest.find('/').ok_or_else(|| bad("no path"))?);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
        None => (authority, -1),
    };
    Ok(LocalResource {
        scheme: scheme.to_string(),
        host: host.to_string(),
        port,
        file: path.to_string(),
        size: size.parse().map_err(|_| bad("bad size"))?,
        timestamp: ts.parse().map_err(|_| bad("bad timestamp"))?,
        archive: false,
        visibility,
    })
}

/// The driver started and the AM registered, with what both gave.
pub(crate) struct Registered {
    /// The application secret, from the AM's credentials.
    pub secret: Vec<u8>,
    pub driver: Arc<Driver>,
    pub app_id: String,
    /// The web UI, registered as the tracking URL.
    pub tracking_url: String,
    pub rm: AmRmClient,
    /// The queue the RM put the application in.
    pub queue: String,
}

/// Starts the driver (executors prove the secret in the AM's credentials) and its web
/// UI on this node, then registers with the RM with the UI as the tracking URL.
pub(crate) async fn start_and_register(
    env: &ContainerEnv,
    staged: &Staged,
    max_attempts: u32,
) -> Result<Registered, AmError> {
    let secret = env
        .credentials
        .secret(SECRET_ALIAS)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| AmError::Environment(format!("the credentials hold no {SECRET_ALIAS}")))?;
    let ip = tokio::net::lookup_host((env.nm_host.as_str(), 0))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| AmError::Environment(format!("cannot resolve NM_HOST {}", env.nm_host)))?;
    let mut driver_config =
        DriverConfig::new(secret.clone(), SocketAddr::new(ip, 0), env.nm_host.clone());
    driver_config.max_attempts = max_attempts.max(1);
    let driver = Driver::start(driver_config)
        .await
        .map_err(|e| AmError::JobFailed(e.to_string()))?;
    let app_id = env.container_id.attempt.app.to_string();
    driver.set_app_info(&app_id, &staged.app_name, &staged.user);
    let proxy = web::ProxyInfo {
        rm_web_url: staged.rm_web_url.clone(),
        app_id: app_id.clone(),
    };
    let web = web::serve(SocketAddr::new(ip, 0), driver.clone(), &proxy).await?;
    let tracking_url = format!("http://{}:{}/", env.nm_host, web.port());

    let mut rm = AmRmClient::new(
        &env.scheduler_address,
        env.amrm_token.clone(),
        env.qops.clone(),
    );
    let reg = rm
        .register(&env.nm_host, 0, &tracking_url)
        .await
        .map_err(ipc(format!(
            "registering with the ResourceManager at {}",
            env.scheduler_address
        )))?;
    info!(queue = %reg.queue, driver = %driver.address(), %tracking_url, "registered");
    Ok(Registered {
        secret,
        driver,
        app_id,
        tracking_url,
        rm,
        queue: reg.queue,
    })
}

/// Removes the application's staging directory (its uploaded files); a failure is
/// logged, not fatal.
pub(crate) async fn remove_staging_dir(staged: &Staged) {
    if let Some(dir) = &staged.staging_dir
        && let Ok(fs) = output_fs(dir, staged).await
        && let Err(e) = fs.delete(dir).await
    {
        warn!("could not remove the staging directory {dir}: {e}");
    }
}

/// Writes the application's final status to `<history dir>/<appId>.json` for
/// `spindle history`; a failure is logged, not fatal.
pub(crate) async fn write_history(driver: &Driver, staged: &Staged, app_id: &str) {
    let Some(dir) = &staged.history_dir else {
        return;
    };
    let path = format!("{}/{app_id}.json", dir.trim_end_matches('/'));
    let json = match serde_json::to_vec(&driver.status()) {
        Ok(j) => j,
        Err(e) => {
            warn!("could not encode the history of {app_id}: {e}");
            return;
        }
    };
    let written = async {
        let fs = output_fs(dir, staged).await?;
        fs.mkdirs(dir)
            .await
            .map_err(|e| AmError::JobFailed(e.to_string()))?;
        fs.write(&path, bytes::Bytes::from(json))
            .await
            .map_err(|e| AmError::JobFailed(e.to_string()))
    };
    match written.await {
        Ok(()) => info!(%path, "history written"),
        Err(e) => warn!("could not write the history file {path}: {e}"),
    }
}

/// The environment page: what the application runs, with what settings, where.
pub(crate) fn environment_sections(
    env: &ContainerEnv,
    staged: &Staged,
    app_id: &str,
    queue: &str,
    tracking_url: &str,
    job: EnvSection,
) -> Vec<EnvSection> {
    let kv = |k: &str, v: String| (k.to_string(), v);
    let application = vec![
        kv("Application id", app_id.to_string()),
        kv("Name", staged.app_name.clone()),
        kv("User", staged.user.clone()),
        kv("Queue", queue.to_string()),
        kv("AM container", env.container_id.to_string()),
        kv("AM host", env.nm_host.clone()),
        kv(
            "AM web address (redirects to the proxy)",
            tracking_url.to_string(),
        ),
        kv(
            "Through the proxy",
            format!(
                "{}/proxy/{app_id}/",
                staged.rm_web_url.trim_end_matches('/')
            ),
        ),
        kv(
            "YARN UI",
            format!(
                "{}/cluster/app/{app_id}",
                staged.rm_web_url.trim_end_matches('/')
            ),
        ),
        kv("Default file system", staged.default_fs.clone()),
        kv(
            "History file",
            staged
                .history_dir
                .as_ref()
                .map(|d| format!("{}/{app_id}.json", d.trim_end_matches('/')))
                .unwrap_or_else(|| "(none)".into()),
        ),
    ];
    let secretive = |k: &str| {
        let k = k.to_ascii_uppercase();
        ["SECRET", "TOKEN", "PASSWORD", "CREDENTIAL", "KEY"]
            .iter()
            .any(|w| k.contains(w))
    };
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            (k.starts_with("SPINDLE_")
                || k.starts_with("HADOOP_")
                || k.starts_with("YARN_")
                || k == "RUST_LOG"
                || k == "CONTAINER_ID"
                || k == "NM_HOST"
                || k == "APPLICATION_WEB_PROXY_BASE")
                && !secretive(k)
        })
        .collect();
    vars.sort();
    let process = vec![
        kv("Spindle version", env!("CARGO_PKG_VERSION").to_string()),
        kv("Process id", std::process::id().to_string()),
        kv(
            "Platform",
            format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        ),
    ];
    vec![
        EnvSection {
            title: "Application".into(),
            entries: application,
        },
        job,
        EnvSection {
            title: "Environment variables".into(),
            entries: vars,
        },
        EnvSection {
            title: "Process".into(),
            entries: process,
        },
    ]
}

pub(crate) async fn output_fs(uri: &str, staged: &Staged) -> Result<Arc<dyn FileSystem>, AmError> {
    let mut conf = HadoopConf::from_env().unwrap_or_default();
    conf.set("fs.defaultFS", &staged.default_fs);
    for_uri(uri, &conf, &staged.user)
        .await
        .map_err(|e| AmError::JobFailed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse() {
        let r =
            parse_resource("hdfs://127.0.0.1:9000/user/u/.spindle/app/spindle-executor|123|456")
                .expect("parses");
        assert_eq!(
            (r.host.as_str(), r.port, r.size, r.timestamp),
            ("127.0.0.1", 9000, 123, 456)
        );
        assert_eq!(r.file, "/user/u/.spindle/app/spindle-executor");
        assert_eq!(r.visibility, Visibility::Application);
        let cached =
            parse_resource("hdfs://nn:9000/user/u/.spindle/cache/ab/spindle-executor|1|2|PRIVATE")
                .expect("parses");
        assert_eq!(cached.visibility, Visibility::Private);
        for bad in [
            "",
            "x|1|2",
            "hdfs://h:p/x|1|2",
            "hdfs://h:1/x|a|2",
            "hdfs://h:1/x|1|2|PUBLIC",
            "hdfs://h:1/x|1|2|PRIVATE|4",
        ] {
            assert!(parse_resource(bad).is_err(), "{bad}");
        }
    }
}
