//! `spindle logs <appId>`: the containers' log files (the AM's and executors' tracing
//! on stderr, stdout, YARN's `prelaunch.*`, `launch_container.sh`, `directory.info`),
//! printed in the layout of `yarn logs`.
//!
//! Where they come from depends on the application's state in the RM's report:
//!
//! * while it runs (or is waiting for containers): from each NodeManager's REST API,
//!   found through the RM's node list (`/ws/v1/cluster/nodes`, then
//!   `/ws/v1/node/apps/{appId}`, `/ws/v1/node/containers/{cid}/logs` and
//!   `/ws/v1/node/containerlogs/{cid}/{file}` on each NodeManager);
//! * once it has ended and YARN's log aggregation SUCCEEDED (or FAILED / TIME_OUT:
//!   what arrived is shown, with a warning): from the aggregated files in HDFS, one
//!   per node, under `<remote-app-log-dir>/<owner>/bucket-<suffix>/<nnnn>/<appId>/`
//!   (and the layouts before Hadoop 3.3), parsed by [`crate::aggregated_logs`];
//! * when the RM no longer knows the application (it was restarted or forgot it):
//!   from HDFS too, looking under every owner when needed.
//!
//! Aggregation still running, aggregation disabled and nothing logged yet are errors
//! that say so. It does not change anything on the cluster.

use std::collections::BTreeSet;
use std::io::Write;

use clap::Args;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use spindle_conf::HadoopConf;

use crate::aggregated_logs::{self, LogFile};
use crate::rm::{RmClient, error_chain, is_app_id, remote_message};
use crate::{ClientError, hadoop_user};

/// `--help` of `spindle logs`.
pub const LOGS_HELP: &str = "\
Show an application's container logs: the application master's (which hosts the driver) \
and the executors' tracing output (stderr), their stdout, and YARN's own files \
(prelaunch.out, prelaunch.err, launch_container.sh, directory.info).

While the application runs, the logs are read from the NodeManagers (their REST API; the \
ResourceManager's node list says where they are). Once it has ended and YARN has \
aggregated its logs, they are read from HDFS (yarn.nodemanager.remote-app-log-dir, e.g. \
/app-logs/<user>/bucket-logs-tfile/<nnnn>/<appId>/), also after the ResourceManager has \
forgotten the application. While YARN is still aggregating, spindle says so: try again in \
a few seconds.

The output has the layout of `yarn logs`: for each container and file a header \
(Container: <id> on <node>, LogAggregationType LOCAL or AGGREGATED, LogType: <file>, \
LogLength: <bytes>, LogContents:), the text, and End of LogType: <file>.

Exit codes: 0 shown; 1 no logs yet, logs being aggregated, aggregation disabled, or the \
cluster could not be used; 2 invalid request or unknown application.

Examples:
  spindle logs application_1795814129912_0009
  spindle logs --am-only --file stderr application_1795814129912_0009
  spindle logs --container container_1795814129912_0009_01_000002 application_1795814129912_0009";

/// `spindle logs`'s arguments.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct LogsArgs {
    /// The application id (application_<cluster>_<n>).
    pub app_id: String,
    /// Only this container (container_…); repeatable
    #[arg(long, value_name = "CONTAINER_ID")]
    pub container: Vec<String>,
    /// Only these log files, comma-separated or repeated (stderr, stdout, prelaunch.err,
    /// prelaunch.out, launch_container.sh, directory.info) [default: all]
    #[arg(long, value_delimiter = ',', value_name = "FILE")]
    pub file: Vec<String>,
    /// Only the application master's container (one per attempt): the driver's logs
    #[arg(long)]
    pub am_only: bool,
}

/// Which containers and files to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these containers (empty: all).
    pub containers: BTreeSet<String>,
    /// Only these file names (empty: all).
    pub files: BTreeSet<String>,
    /// Only AM containers.
    pub am_only: bool,
}

impl Selection {
    /// Checks the flags against the application id.
    pub fn from_args(args: &LogsArgs) -> Result<Self, ClientError> {
        check_app_id(&args.app_id)?;
        let app_part = args.app_id.trim_start_matches("application_");
        let mut containers = BTreeSet::new();
        for c in &args.container {
            let c = c.trim();
            if container_seq(c).is_none() {
                return Err(ClientError::Usage(format!(
                    "--container {c:?} is not a container id (like container_1700000000000_0001_01_000002)"
                )));
            }
            if !c.contains(&format!("_{app_part}_")) {
                return Err(ClientError::Usage(format!(
                    "--container {c} is not a container of {}",
                    args.app_id
                )));
            }
            containers.insert(c.to_string());
        }
        let files = args
            .file
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        Ok(Selection {
            containers,
            files,
            am_only: args.am_only,
        })
    }

    /// Whether the container `id` is wanted.
    pub fn wants_container(&self, id: &str) -> bool {
        (self.containers.is_empty() || self.containers.contains(id))
            && (!self.am_only || is_am_container(id))
    }

    /// Whether the file `name` is wanted.
    pub fn wants_file(&self, name: &str) -> bool {
        self.files.is_empty() || self.files.contains(name)
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

/// The container's number within its attempt (the last `_` part), if `id` is a
/// container id.
pub fn container_seq(id: &str) -> Option<u64> {
    let rest = id.strip_prefix("container_")?;
    let parts: Vec<&str> = rest.split('_').collect();
    // <cluster>_<app>_<attempt>_<n>, optionally after an epoch part `e<k>`.
    let numeric = match parts.as_slice() {
        [e, rest @ ..] if e.starts_with('e') && rest.len() == 4 => rest,
        all if all.len() == 4 => all,
        _ => return None,
    };
    if numeric
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    numeric[3].parse().ok()
}

/// Whether `id` is an application master's container: YARN gives the AM the first
/// container of each attempt.
pub fn is_am_container(id: &str) -> bool {
    container_seq(id) == Some(1)
}

/// Where the logs are to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// From the NodeManagers: the application has not ended.
    NodeManagers {
        /// Its YARN state.
        state: String,
    },
    /// From the aggregated files in HDFS.
    Aggregated {
        /// The owner, when the RM says (else every owner is looked at).
        owner: Option<String>,
        /// A warning to print first (aggregation failed or timed out somewhere).
        warning: Option<String>,
    },
}

/// The RM's facts about an application that decide where its logs are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppLogFacts {
    /// YARN state.
    #[serde(default)]
    pub state: String,
    /// The owner.
    #[serde(default)]
    pub user: String,
    /// `DISABLED`, `NOT_START`, `RUNNING`, `RUNNING_WITH_FAILURE`, `SUCCEEDED`,
    /// `FAILED`, `TIME_OUT` (absent on RMs that do not report it).
    #[serde(default)]
    pub log_aggregation_status: Option<String>,
}

/// Decides where `id`'s logs are from what the RM says (`None`: it does not know it).
pub fn source_for(id: &str, facts: Option<&AppLogFacts>) -> Result<Source, ClientError> {
    let Some(f) = facts else {
        return Ok(Source::Aggregated {
            owner: None,
            warning: None,
        });
    };
    let owner = Some(f.user.clone()).filter(|u| !u.is_empty());
    if !matches!(f.state.as_str(), "FINISHED" | "FAILED" | "KILLED") {
        return Ok(Source::NodeManagers {
            state: f.state.clone(),
        });
    }
    let unavailable = |reason: String| ClientError::LogsUnavailable {
        id: id.to_string(),
        reason,
    };
    match f.log_aggregation_status.as_deref().unwrap_or("") {
        "SUCCEEDED" | "" => Ok(Source::Aggregated {
            owner,
            warning: None,
        }),
        "DISABLED" => Err(unavailable(format!(
            "it ended {} and log aggregation is disabled on this cluster \
             (yarn.log-aggregation-enable=false), so its logs stayed on the nodes, in \
             yarn.nodemanager.log-dirs, until the NodeManagers deleted them",
            f.state
        ))),
        "NOT_START" | "RUNNING" | "RUNNING_WITH_FAILURE" => Err(unavailable(format!(
            "it ended {} and its logs are being aggregated (log aggregation {}), try \
             again in a few seconds",
            f.state,
            f.log_aggregation_status.as_deref().unwrap_or_default()
        ))),
        other => Ok(Source::Aggregated {
            owner,
            warning: Some(format!(
                "YARN's log aggregation for {id} ended {other}: the logs of some \
                 containers may be missing or cut short"
            )),
        }),
    }
}

/// One container's log files, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerOutput {
    /// `container_…`.
    pub container_id: String,
    /// The node as YARN names it in this source (`host:port` live, the aggregated
    /// file's name `host_port` otherwise).
    pub node: String,
    /// `LOCAL` or `AGGREGATED`.
    pub kind: &'static str,
    /// `LogLastModifiedTime` (live: the NodeManager's; aggregated: the upload time).
    pub time: String,
    /// Its files.
    pub files: Vec<LogFile>,
}

/// `spindle logs`.
pub async fn run(args: &LogsArgs) -> Result<(), ClientError> {
    let selection = Selection::from_args(args)?;
    let id = args.app_id.as_str();
    let conf = HadoopConf::from_env()?;
    let user = hadoop_user()?;
    let rm = RmClient::new(&conf.rm_web_url(), &user)?;
    let mut facts = app_facts(&rm, id).await?;
    let mut asked_again = false;
    let containers = loop {
        match source_for(id, facts.as_ref())? {
            Source::NodeManagers { state } => {
                let found = live_logs(&rm, id, &selection).await?;
                let started = found
                    .iter()
                    .any(|c| selection.wants_container(&c.container_id) && !c.files.is_empty());
                if started {
                    break found;
                }
                // It may have ended meanwhile: then its logs are on their way to HDFS.
                if !asked_again {
                    asked_again = true;
                    facts = app_facts(&rm, id).await?;
                    if facts.as_ref().is_some_and(|f| f.state != state) {
                        continue;
                    }
                }
                return Err(nothing_live(id, &state, &selection, found.is_empty()));
            }
            Source::Aggregated { owner, warning } => {
                if let Some(w) = warning {
                    eprintln!("spindle: warning: {w}");
                }
                match aggregated_logs(&conf, &user, id, owner.as_deref()).await? {
                    Some(c) => break c,
                    None if facts.is_none() => {
                        return Err(ClientError::UnknownApp {
                            id: id.to_string(),
                            rm: rm.base().to_string(),
                            looked_in: remote_root(&conf),
                        });
                    }
                    None => {
                        return Err(ClientError::LogsUnavailable {
                            id: id.to_string(),
                            reason: format!(
                                "YARN reports its logs aggregated, but there are none under {}",
                                remote_root(&conf)
                            ),
                        });
                    }
                }
            }
        }
    };
    let selected = select(containers, &selection, id)?;
    let mut out = std::io::stdout().lock();
    match write_all(&mut out, &selected).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `| head`: the reader has seen enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(ClientError::Io {
            path: "standard output".into(),
            source,
        }),
    }
}

fn nothing_live(id: &str, state: &str, selection: &Selection, no_containers: bool) -> ClientError {
    let reason = if !selection.containers.is_empty() {
        format!(
            "it is {state} and no NodeManager has logs of {}",
            selection
                .containers
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if no_containers {
        format!(
            "it is {state} and no NodeManager has a container of it yet, so there are no \
             logs yet; try again when it is RUNNING"
        )
    } else {
        format!(
            "it is {state} and its containers have not started yet, so there are no logs \
             yet; try again in a few seconds"
        )
    };
    ClientError::LogsUnavailable {
        id: id.to_string(),
        reason,
    }
}

/// Applies `--container`, `--am-only` and `--file`; sorted by container id (AMs of
/// each attempt first). Errors name what there is when the selection matches nothing.
pub fn select(
    mut containers: Vec<ContainerOutput>,
    selection: &Selection,
    id: &str,
) -> Result<Vec<ContainerOutput>, ClientError> {
    containers.sort_by(|a, b| a.container_id.cmp(&b.container_id));
    let all_ids: Vec<String> = containers.iter().map(|c| c.container_id.clone()).collect();
    let all_files: BTreeSet<String> = containers
        .iter()
        .flat_map(|c| c.files.iter().map(|f| f.name.clone()))
        .collect();
    let mut picked: Vec<ContainerOutput> = containers
        .into_iter()
        .filter(|c| selection.wants_container(&c.container_id))
        .collect();
    if picked.is_empty() {
        return Err(ClientError::Usage(format!(
            "no container of {id} matches{}{}; its containers: {}",
            if selection.am_only { " --am-only" } else { "" },
            selection
                .containers
                .iter()
                .map(|c| format!(" --container {c}"))
                .collect::<String>(),
            all_ids.join(", ")
        )));
    }
    for c in &mut picked {
        c.files.retain(|f| selection.wants_file(&f.name));
    }
    picked.retain(|c| !c.files.is_empty());
    if picked.is_empty() {
        return Err(ClientError::Usage(format!(
            "no log file named {} in the containers chosen; files: {}",
            selection
                .files
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            all_files.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(picked)
}

/// Writes every file of every container in the layout of `yarn logs`.
pub fn write_all(out: &mut dyn Write, containers: &[ContainerOutput]) -> std::io::Result<()> {
    for c in containers {
        let title = format!("Container: {} on {}", c.container_id, c.node);
        for f in &c.files {
            let end = format!("End of LogType:{}", f.name);
            write!(
                out,
                "{title}\nLogAggregationType: {}\n{}\nLogType:{}\nLogLastModifiedTime:{}\nLogLength:{}\nLogContents:\n",
                c.kind,
                "=".repeat(title.len()),
                f.name,
                c.time,
                f.data.len()
            )?;
            out.write_all(&f.data)?;
            writeln!(out, "\n{end}\n{}\n", "*".repeat(end.len() + 50))?;
        }
    }
    Ok(())
}

/// The RM's report of `id` as far as logs go; `None` when it does not know it.
async fn app_facts(rm: &RmClient, id: &str) -> Result<Option<AppLogFacts>, ClientError> {
    let url = rm.url(&format!("/ws/v1/cluster/apps/{id}"), &[]);
    let what = format!("reading application {id}");
    let (status, body) = get(rm, &what, &url, JSON).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if status != StatusCode::OK {
        return Err(rm_error(&what, &url, status, &body));
    }
    #[derive(Deserialize)]
    struct One {
        app: AppLogFacts,
    }
    serde_json::from_slice::<One>(&body)
        .map(|o| Some(o.app))
        .map_err(|e| ClientError::Rm {
            what,
            url: url.to_string(),
            status: status.as_u16(),
            message: format!("answer is not an application report ({e})"),
        })
}

/// JSON, for the REST calls that answer it.
const JSON: &str = "application/json";
/// Anything: `containerlogs` answers text only and refuses (406) an `Accept` of JSON.
const ANY: &str = "*/*";

/// One GET; the status and body, or an error naming the URL.
async fn get(
    rm: &RmClient,
    what: &str,
    url: &Url,
    accept: &str,
) -> Result<(StatusCode, Vec<u8>), ClientError> {
    let http_error = |message: String| ClientError::Http {
        what: what.to_string(),
        url: url.to_string(),
        message,
    };
    let resp = rm
        .http()
        .get(url.clone())
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .map_err(|e| http_error(error_chain(&e)))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| http_error(error_chain(&e)))?;
    Ok((status, body.to_vec()))
}

fn rm_error(what: &str, url: &Url, status: StatusCode, body: &[u8]) -> ClientError {
    ClientError::Rm {
        what: what.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        message: remote_message(&String::from_utf8_lossy(body)),
    }
}

/// Jersey writes a one-element list as the element itself on some versions.
fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// The NodeManagers' web addresses (`host:port`), from `/ws/v1/cluster/nodes`.
pub fn node_addresses(nodes: &Value) -> Vec<String> {
    let mut out: Vec<String> = list(&nodes["nodes"]["node"])
        .into_iter()
        .filter(|n| {
            !matches!(
                n["state"].as_str(),
                Some("LOST" | "SHUTDOWN" | "DECOMMISSIONED")
            )
        })
        .filter_map(|n| n["nodeHTTPAddress"].as_str())
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The container ids of `/ws/v1/node/apps/{appId}`.
pub fn app_container_ids(app: &Value) -> Vec<String> {
    list(&app["app"]["containerids"])
        .into_iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

/// A container's local log files (name, size) from `/ws/v1/node/containers/{cid}/logs`,
/// and the NodeManager's node id and last-modified time of the newest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalLogList {
    /// The node id (`host:port`), when given.
    pub node_id: Option<String>,
    /// (file name, last modified) in the NodeManager's order.
    pub files: Vec<(String, String)>,
}

/// Parses `/ws/v1/node/containers/{cid}/logs` (the `LOCAL` entry; aggregated entries of
/// rolling aggregation are left to the aggregated reader).
pub fn local_log_list(v: &Value) -> LocalLogList {
    let mut out = LocalLogList::default();
    for info in list(&v["containerLogsInfo"]) {
        let kind = info["logAggregationType"].as_str().unwrap_or("LOCAL");
        if kind != "LOCAL" {
            continue;
        }
        if out.node_id.is_none() {
            out.node_id = info["nodeId"].as_str().map(str::to_string);
        }
        for f in list(&info["containerLogInfo"]) {
            if let Some(name) = f["fileName"].as_str() {
                let time = f["lastModifiedTime"].as_str().unwrap_or("-").to_string();
                out.files.push((name.to_string(), time));
            }
        }
    }
    out
}

/// The file's text out of a `/ws/v1/node/containerlogs/{cid}/{file}` answer, which
/// wraps it: `Container: … LogLength:<n>\nLogContents:\n<n bytes>End of LogType:…`
/// (Hadoop's `LogToolUtils`), with no header at all for an empty file.
pub fn nm_log_text(body: &[u8]) -> Vec<u8> {
    const CONTENTS: &[u8] = b"\nLogContents:\n";
    const LENGTH: &[u8] = b"\nLogLength:";
    if !body.starts_with(b"Container: ") {
        return Vec::new();
    }
    let Some(start) = find(body, CONTENTS).map(|i| i + CONTENTS.len()) else {
        return Vec::new();
    };
    let header = &body[..start];
    let declared = find(header, LENGTH).and_then(|i| {
        let rest = &header[i + LENGTH.len()..];
        let end = rest.iter().position(|b| *b == b'\n')?;
        std::str::from_utf8(&rest[..end])
            .ok()?
            .trim()
            .parse::<usize>()
            .ok()
    });
    let rest = &body[start..];
    match declared {
        Some(n) if n <= rest.len() => rest[..n].to_vec(),
        // A length that does not fit: cut at the trailer instead.
        _ => {
            let end = rfind(rest, b"End of LogType:").unwrap_or(rest.len());
            rest[..end].to_vec()
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The logs of a running application, from every NodeManager holding its containers.
async fn live_logs(
    rm: &RmClient,
    id: &str,
    selection: &Selection,
) -> Result<Vec<ContainerOutput>, ClientError> {
    let nodes_url = rm.url("/ws/v1/cluster/nodes", &[]);
    let what = "listing the cluster's nodes";
    let (status, body) = get(rm, what, &nodes_url, JSON).await?;
    if status != StatusCode::OK {
        return Err(rm_error(what, &nodes_url, status, &body));
    }
    let nodes: Value = serde_json::from_slice(&body).map_err(|e| ClientError::Rm {
        what: what.into(),
        url: nodes_url.to_string(),
        status: status.as_u16(),
        message: format!("answer is not the node list ({e})"),
    })?;
    let mut out = Vec::new();
    for addr in node_addresses(&nodes) {
        match node_logs(rm, &addr, id, selection).await {
            Ok(mut found) => out.append(&mut found),
            // One NodeManager out of reach should not hide the others' logs.
            Err(e) => eprintln!("spindle: warning: skipping the NodeManager at {addr}: {e}"),
        }
    }
    Ok(out)
}

fn nm_url(rm: &RmClient, addr: &str, path: &str) -> Result<Url, ClientError> {
    let mut url = Url::parse(&format!("http://{addr}")).map_err(|e| ClientError::Http {
        what: "addressing a NodeManager".into(),
        url: addr.to_string(),
        message: e.to_string(),
    })?;
    url.set_path(path);
    url.query_pairs_mut().append_pair("user.name", rm.user());
    Ok(url)
}

/// The selected containers of `id` on one NodeManager, with their files' text.
async fn node_logs(
    rm: &RmClient,
    addr: &str,
    id: &str,
    selection: &Selection,
) -> Result<Vec<ContainerOutput>, ClientError> {
    let url = nm_url(rm, addr, &format!("/ws/v1/node/apps/{id}"))?;
    let what = format!("asking the NodeManager at {addr} for {id}");
    let (status, body) = get(rm, &what, &url, JSON).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if status != StatusCode::OK {
        return Err(rm_error(&what, &url, status, &body));
    }
    let app: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut out = Vec::new();
    for cid in app_container_ids(&app) {
        if !selection.wants_container(&cid) {
            // Still listed (with no files) so that a selection error can name it.
            out.push(ContainerOutput {
                container_id: cid,
                node: addr.to_string(),
                kind: "LOCAL",
                time: String::new(),
                files: Vec::new(),
            });
            continue;
        }
        let url = nm_url(rm, addr, &format!("/ws/v1/node/containers/{cid}/logs"))?;
        let what = format!("listing the log files of {cid} at {addr}");
        let (status, body) = get(rm, &what, &url, JSON).await?;
        if status != StatusCode::OK {
            // Not started yet (still localizing), or finished and forgotten between
            // the two calls: no logs of it here, which is no reason to stop.
            let message = remote_message(&String::from_utf8_lossy(&body));
            if !message.contains("NotFoundException") {
                eprintln!(
                    "spindle: warning: the NodeManager at {addr} does not list the logs of {cid}: {message}"
                );
            }
            out.push(ContainerOutput {
                container_id: cid,
                node: addr.to_string(),
                kind: "LOCAL",
                time: String::new(),
                files: Vec::new(),
            });
            continue;
        }
        let listed = local_log_list(&serde_json::from_slice(&body).unwrap_or(Value::Null));
        let node = listed.node_id.clone().unwrap_or_else(|| addr.to_string());
        let mut files = Vec::new();
        let mut time = String::new();
        for (name, modified) in listed.files {
            if !selection.wants_file(&name) {
                files.push(LogFile {
                    name,
                    data: Vec::new(),
                });
                continue;
            }
            let url = nm_url(rm, addr, &format!("/ws/v1/node/containerlogs/{cid}/{name}"))?;
            let what = format!("reading {name} of {cid} at {addr}");
            let (status, body) = get(rm, &what, &url, ANY).await?;
            if status != StatusCode::OK {
                eprintln!(
                    "spindle: warning: cannot read {name} of {cid} at {addr}: {}",
                    remote_message(&String::from_utf8_lossy(&body))
                );
                continue;
            }
            time = modified;
            files.push(LogFile {
                name,
                data: nm_log_text(&body),
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(ContainerOutput {
            container_id: cid,
            node,
            kind: "LOCAL",
            time,
            files,
        });
    }
    Ok(out)
}

/// `yarn.log-aggregation.TFile.remote-app-log-dir`, else
/// `yarn.nodemanager.remote-app-log-dir` (YARN's default `/tmp/logs`).
pub fn remote_root(conf: &HadoopConf) -> String {
    let root = conf
        .get("yarn.log-aggregation.TFile.remote-app-log-dir")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| conf.get_or("yarn.nodemanager.remote-app-log-dir", "/tmp/logs"));
    let trimmed = root.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// The directories that may hold `id`'s aggregated logs for `owner`, newest layout
/// first: `bucket-<suffix>/<id % 10000>/<id>` (Hadoop 3.3+), `<suffix>/<id>`, and the
/// plain NodeManager suffix (`logs/<id>`, before per-format suffixes).
pub fn app_log_dirs(conf: &HadoopConf, owner: &str, id: &str) -> Vec<String> {
    let root = remote_root(conf);
    let root = root.trim_end_matches('/');
    let nm_suffix = conf.get_or("yarn.nodemanager.remote-app-log-dir-suffix", "logs");
    let suffix = conf
        .get("yarn.log-aggregation.TFile.remote-app-log-dir-suffix")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| format!("{nm_suffix}-tfile"));
    let seq: u64 = id
        .rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut dirs = vec![
        format!("{root}/{owner}/bucket-{suffix}/{:04}/{id}", seq % 10_000),
        format!("{root}/{owner}/{suffix}/{id}"),
        format!("{root}/{owner}/{nm_suffix}/{id}"),
    ];
    dirs.dedup();
    dirs
}

/// The aggregated logs of `id`, `None` when there are none. With no `owner`, the
/// current user's directory is tried first, then every user's.
async fn aggregated_logs(
    conf: &HadoopConf,
    user: &str,
    id: &str,
    owner: Option<&str>,
) -> Result<Option<Vec<ContainerOutput>>, ClientError> {
    let formats = conf.get_or("yarn.log-aggregation.file-formats", "TFile");
    if !formats.split(',').any(|f| f.trim() == "TFile") {
        return Err(ClientError::LogsUnavailable {
            id: id.to_string(),
            reason: format!(
                "this cluster aggregates logs as {formats} (yarn.log-aggregation.file-formats); \
                 spindle reads only YARN's TFile format, use `yarn logs`"
            ),
        });
    }
    let root = remote_root(conf);
    let fs = spindle_core::fs::for_uri(&root, conf, user)
        .await
        .map_err(|source| ClientError::Fs {
            what: format!("opening the file system of {root}"),
            source,
        })?;
    let mut owners: Vec<String> = match owner {
        Some(o) => vec![o.to_string()],
        None => vec![user.to_string()],
    };
    let mut looked_everywhere = owner.is_some();
    let mut i = 0;
    loop {
        while i < owners.len() {
            for dir in app_log_dirs(conf, &owners[i], id) {
                if let Some(found) = read_app_dir(fs.as_ref(), &dir, id).await? {
                    return Ok(Some(found));
                }
            }
            i += 1;
        }
        if looked_everywhere {
            return Ok(None);
        }
        looked_everywhere = true;
        let listed = match fs.list_dir(&root).await {
            Ok(l) => l,
            // No root directory: nothing was ever aggregated here.
            Err(_) if matches!(fs.info(&root).await, Ok(None)) => return Ok(None),
            Err(source) => {
                return Err(ClientError::Fs {
                    what: format!("listing {root} for the owner of {id}"),
                    source,
                });
            }
        };
        for d in listed.into_iter().filter(|d| d.is_dir) {
            let name = base_name(&d.path).to_string();
            if !owners.contains(&name) {
                owners.push(name);
            }
        }
    }
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// The containers in one application directory of aggregated logs; `None` when it does
/// not exist; an error saying so when YARN is still writing it.
async fn read_app_dir(
    fs: &dyn spindle_core::fs::FileSystem,
    dir: &str,
    id: &str,
) -> Result<Option<Vec<ContainerOutput>>, ClientError> {
    let fs_err = |what: String| move |source| ClientError::Fs { what, source };
    match fs
        .info(dir)
        .await
        .map_err(fs_err(format!("looking for {dir}")))?
    {
        Some(i) if i.is_dir => {}
        _ => return Ok(None),
    }
    let files = fs
        .list_dir(dir)
        .await
        .map_err(fs_err(format!("listing {dir}")))?;
    let (in_progress, done): (Vec<_>, Vec<_>) = files
        .into_iter()
        .filter(|f| !f.is_dir)
        .partition(|f| f.path.ends_with(".tmp"));
    if done.is_empty() {
        if in_progress.is_empty() {
            return Ok(None);
        }
        return Err(ClientError::LogsUnavailable {
            id: id.to_string(),
            reason: format!("its logs are being aggregated into {dir}, try again in a few seconds"),
        });
    }
    let mut out = Vec::new();
    for f in done {
        let data = fs
            .read_range(&f.path, 0, f.length)
            .await
            .map_err(fs_err(format!("reading {}", f.path)))?;
        let node = base_name(&f.path).to_string();
        let parsed = aggregated_logs::parse(&f.path, &data)?;
        let time = crate::report::format_time(f.modification_time as i64);
        for c in parsed.containers {
            out.push(ContainerOutput {
                container_id: c.container_id,
                node: node.clone(),
                kind: "AGGREGATED",
                time: time.clone(),
                files: c.files,
            });
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(extra: &[&str]) -> LogsArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: LogsArgs,
        }
        let mut argv = vec!["t"];
        argv.extend_from_slice(extra);
        T::try_parse_from(argv).expect("parses").a
    }

    #[test]
    fn the_subcommand() {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from([
            "spindle",
            "logs",
            "--am-only",
            "--file",
            "stderr",
            "application_1_0004",
        ])
        .expect("parses");
        match cli.command {
            crate::Command::Logs(a) => {
                assert!(a.am_only);
                assert_eq!(a.file, ["stderr"]);
                assert_eq!(a.app_id, "application_1_0004");
            }
            other => panic!("not logs: {other:?}"),
        }
    }

    #[test]
    fn container_ids() {
        assert_eq!(
            container_seq("container_1795821085526_0004_01_000001"),
            Some(1)
        );
        assert_eq!(
            container_seq("container_e17_1410901177871_0001_01_000005"),
            Some(5)
        );
        assert!(is_am_container("container_1_0004_02_000001"));
        assert!(!is_am_container("container_1_0004_01_000002"));
        for bad in [
            "",
            "container_1_2_3",
            "container_x_1_2_3",
            "application_1_2",
            "container_1_2_3_",
        ] {
            assert_eq!(container_seq(bad), None, "{bad}");
        }
    }

    #[test]
    fn selections() {
        let a = args(&[
            "--file",
            "stderr,stdout",
            "--container",
            "container_1_0004_01_000002",
            "application_1_0004",
        ]);
        let s = Selection::from_args(&a).expect("valid");
        assert!(s.wants_file("stderr") && s.wants_file("stdout"));
        assert!(!s.wants_file("prelaunch.err"));
        assert!(s.wants_container("container_1_0004_01_000002"));
        assert!(!s.wants_container("container_1_0004_01_000001"));
        let am = Selection::from_args(&args(&["--am-only", "application_1_0004"])).expect("ok");
        assert!(am.wants_container("container_1_0004_01_000001"));
        assert!(!am.wants_container("container_1_0004_01_000003"));
        assert!(am.wants_file("anything"));
        let e = Selection::from_args(&args(&[
            "--container",
            "container_1_0005_01_000002",
            "application_1_0004",
        ]))
        .expect_err("another app's container");
        assert!(
            e.to_string()
                .contains("is not a container of application_1_0004"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
        let e = Selection::from_args(&args(&["--container", "c2", "application_1_0004"]))
            .expect_err("not a container id");
        assert!(e.to_string().contains("not a container id"), "{e}");
        let e = Selection::from_args(&args(&["app_1"])).expect_err("not an app id");
        assert_eq!(e.exit_code(), 2);
    }

    fn facts(state: &str, agg: Option<&str>) -> AppLogFacts {
        AppLogFacts {
            state: state.into(),
            user: "alice".into(),
            log_aggregation_status: agg.map(str::to_string),
        }
    }

    #[test]
    fn where_logs_are_read_from() {
        let id = "application_1_0004";
        for state in ["NEW", "ACCEPTED", "RUNNING"] {
            assert_eq!(
                source_for(id, Some(&facts(state, Some("NOT_START")))).expect("ok"),
                Source::NodeManagers {
                    state: state.into()
                }
            );
        }
        assert_eq!(
            source_for(id, Some(&facts("FINISHED", Some("SUCCEEDED")))).expect("ok"),
            Source::Aggregated {
                owner: Some("alice".into()),
                warning: None
            }
        );
        assert_eq!(
            source_for(id, None).expect("ok"),
            Source::Aggregated {
                owner: None,
                warning: None
            }
        );
        for agg in ["NOT_START", "RUNNING", "RUNNING_WITH_FAILURE"] {
            let e = source_for(id, Some(&facts("FINISHED", Some(agg)))).expect_err("wait");
            let t = e.to_string();
            assert!(t.contains("being aggregated"), "{t}");
            assert!(t.contains("try again in a few seconds"), "{t}");
            assert_eq!(e.exit_code(), 1);
        }
        let e = source_for(id, Some(&facts("KILLED", Some("DISABLED")))).expect_err("off");
        assert!(e.to_string().contains("log aggregation is disabled"), "{e}");
        match source_for(id, Some(&facts("FAILED", Some("TIME_OUT")))).expect("ok") {
            Source::Aggregated {
                warning: Some(w), ..
            } => assert!(w.contains("ended TIME_OUT"), "{w}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn node_manager_answers() {
        // As the RM and a 3.4 NodeManager write them.
        let nodes = json!({"nodes": {"node": [
            {"id": "127.0.0.3:8041", "state": "RUNNING", "nodeHTTPAddress": "127.0.0.3:8042"},
            {"id": "127.0.0.2:8041", "state": "RUNNING", "nodeHTTPAddress": "127.0.0.2:8042"},
            {"id": "127.0.0.4:8041", "state": "LOST", "nodeHTTPAddress": "127.0.0.4:8042"}
        ]}});
        assert_eq!(node_addresses(&nodes), ["127.0.0.2:8042", "127.0.0.3:8042"]);
        assert!(node_addresses(&json!({"nodes": null})).is_empty());
        let one = json!({"nodes": {"node": {"state": "RUNNING", "nodeHTTPAddress": "h:1"}}});
        assert_eq!(node_addresses(&one), ["h:1"]);

        let app = json!({"app": {"id": "application_1_0002", "state": "RUNNING", "user": "root",
            "containerids": ["container_1_0002_01_000003", "container_1_0002_01_000001"]}});
        assert_eq!(app_container_ids(&app).len(), 2);
        let single = json!({"app": {"containerids": "container_1_0002_01_000001"}});
        assert_eq!(app_container_ids(&single), ["container_1_0002_01_000001"]);

        let logs: Value = serde_json::from_str(r#"{"containerLogsInfo":{"containerLogInfo":[{"fileName":"launch_container.sh","fileSize":"4655","lastModifiedTime":"Fri Nov 27 23:13:44 +0000 2026"},{"fileName":"stderr","fileSize":"803","lastModifiedTime":"Fri Nov 27 23:13:44 +0000 2026"}],"logAggregationType":"LOCAL","containerId":"container_1_0002_01_000001","nodeId":"127.0.0.2:8041"}}"#).expect("json");
        let l = local_log_list(&logs);
        assert_eq!(l.node_id.as_deref(), Some("127.0.0.2:8041"));
        assert_eq!(
            l.files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
            ["launch_container.sh", "stderr"]
        );
        let both = json!({"containerLogsInfo": [
            {"logAggregationType": "LOCAL", "containerLogInfo": {"fileName": "stdout"}},
            {"logAggregationType": "AGGREGATED", "containerLogInfo": [{"fileName": "old"}]}
        ]});
        let l = local_log_list(&both);
        assert_eq!(l.files, [("stdout".to_string(), "-".to_string())]);
    }

    #[test]
    fn node_manager_log_text() {
        let body = b"Container: container_1_0002_01_000001 on 127.0.0.2:8041\nLogAggregationType: LOCAL\n===\nLogType:stderr\nLogLastModifiedTime:Fri Nov 27 23:13:44 +0000 2026\nLogLength:12\nLogContents:\nline 1\nline2End of LogType:stderr.This log file belongs to a running container (c) and so may not be complete.\n*****\n\n";
        assert_eq!(nm_log_text(body), b"line 1\nline2");
        // An empty file has no header at all.
        assert_eq!(nm_log_text(b"End of LogType:stdout.\n****\n\n"), b"");
        // A length longer than what came: cut at the trailer.
        let short = b"Container: c on n\nLogLength:999\nLogContents:\nabcEnd of LogType:x.\n";
        assert_eq!(nm_log_text(short), b"abc");
    }

    fn out(id: &str, files: &[(&str, &str)]) -> ContainerOutput {
        ContainerOutput {
            container_id: id.into(),
            node: "127.0.0.2_8041".into(),
            kind: "AGGREGATED",
            time: "t".into(),
            files: files
                .iter()
                .map(|(n, d)| LogFile {
                    name: n.to_string(),
                    data: d.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn selecting_and_printing_like_yarn_logs() {
        let all = vec![
            out(
                "container_1_0004_01_000002",
                &[("stderr", "exec\n"), ("stdout", "")],
            ),
            out(
                "container_1_0004_01_000001",
                &[("stderr", "am\n"), ("stdout", "")],
            ),
        ];
        let s =
            Selection::from_args(&args(&["--file", "stderr", "application_1_0004"])).expect("ok");
        let picked = select(all.clone(), &s, "application_1_0004").expect("some");
        assert_eq!(picked[0].container_id, "container_1_0004_01_000001");
        let mut text = Vec::new();
        write_all(&mut text, &picked).expect("write");
        let text = String::from_utf8(text).expect("utf8");
        let title = "Container: container_1_0004_01_000001 on 127.0.0.2_8041";
        assert!(
            text.starts_with(&format!(
                "{title}\nLogAggregationType: AGGREGATED\n{}\nLogType:stderr\nLogLastModifiedTime:t\nLogLength:3\nLogContents:\nam\n\nEnd of LogType:stderr\n{}\n\n",
                "=".repeat(title.len()),
                "*".repeat("End of LogType:stderr".len() + 50)
            )),
            "{text}"
        );
        assert!(!text.contains("LogType:stdout"), "{text}");
        assert!(text.contains("LogContents:\nexec\n"), "{text}");

        let s =
            Selection::from_args(&args(&["--file", "gc.log", "application_1_0004"])).expect("ok");
        let e = select(all.clone(), &s, "application_1_0004").expect_err("none");
        assert!(e.to_string().contains("no log file named gc.log"), "{e}");
        assert!(e.to_string().contains("files: stderr, stdout"), "{e}");
        let s = Selection::from_args(&args(&[
            "--container",
            "container_1_0004_01_000009",
            "application_1_0004",
        ]))
        .expect("ok");
        let e = select(all, &s, "application_1_0004").expect_err("none");
        assert!(
            e.to_string()
                .contains("its containers: container_1_0004_01_000001, container_1_0004_01_000002"),
            "{e}"
        );
    }

    #[test]
    fn aggregated_log_directories() {
        let mut conf = HadoopConf::default();
        conf.set("yarn.nodemanager.remote-app-log-dir", "/app-logs/");
        assert_eq!(
            app_log_dirs(&conf, "root", "application_1795814129912_0029"),
            [
                "/app-logs/root/bucket-logs-tfile/0029/application_1795814129912_0029",
                "/app-logs/root/logs-tfile/application_1795814129912_0029",
                "/app-logs/root/logs/application_1795814129912_0029",
            ]
        );
        conf.set(
            "yarn.log-aggregation.TFile.remote-app-log-dir",
            "hdfs://nn:8020/agg",
        );
        conf.set("yarn.log-aggregation.TFile.remote-app-log-dir-suffix", "tf");
        assert_eq!(
            app_log_dirs(&conf, "bob", "application_1_123456")[0],
            "hdfs://nn:8020/agg/bob/bucket-tf/3456/application_1_123456"
        );
        assert_eq!(remote_root(&HadoopConf::default()), "/tmp/logs");
    }
}
