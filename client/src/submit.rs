//! `spindle submit`: settings, checks before anything is done, staging to
//! `/user/<user>/.spindle/<appId>/`, the submission context for the RM, and following.
//!
//! Checks (input, output, queue, container sizes, local files) all run before an
//! application id is asked for, so a refused request leaves no trace on the cluster;
//! once staging has begun, any failure deletes the staging directory again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use spindle_conf::spindle::{
    DRIVER_MEMORY, EXECUTOR_CORES, EXECUTOR_INSTANCES, EXECUTOR_MEMORY, FILES, Origin, QUEUE,
    REDUCERS,
};
use spindle_conf::{HadoopConf, SettingsLayers, SpindleSettings};
use spindle_core::CoreError;
use spindle_core::fs::{FileInfo, FileSystem, for_uri};
use spindle_hadoop_ipc::Visibility;

use crate::cli::{Job, SubmitArgs, Target};
use crate::follow::{FollowOptions, follow};
use crate::keycache::{KeyCache, Stamp};
use crate::rm::{NewApplication, ResourceLimit, RmClient, SchedulerFacts};
use crate::shell;
use crate::{ClientError, hadoop_user};

/// The YARN application type of Spindle applications.
pub const APP_TYPE: &str = "SPINDLE";
/// The bundled examples binary (an application on the `spindle` crate): the built-in
/// jobs `wordcount`, `linecount` and `grep` are its subcommands.
pub const EXAMPLES_BINARY: &str = "spindle-examples";
/// Names the examples binary when it is not next to `spindle`.
pub const EXAMPLES_BINARY_VAR: &str = "SPINDLE_EXAMPLES_BINARY";
/// The credentials alias of the application secret (driver↔executor authentication).
pub const SECRET_ALIAS: &str = spindle_core::transport::SECRET_ALIAS;
/// For tests only: executors of an application run this binary instead of the
/// application's own (to check that they refuse a driver of another build).
pub const PROGRAM_EXECUTOR_VAR: &str = "SPINDLE_TEST_PROGRAM_EXECUTOR";
/// The AM's binary's SHA-256 as the client staged it (read by `spindle`'s driver).
pub const PROGRAM_SHA256_VAR: &str = "SPINDLE_PROGRAM_SHA256";
/// The redirections YARN fills in with the container's log directory.
const LOG_REDIRECTS: &str = "1><LOG_DIR>/stdout 2><LOG_DIR>/stderr";

/// Layers settings: defaults < settings file < environment < `--conf` < named flags.
pub fn settings(args: &SubmitArgs) -> Result<SpindleSettings, ClientError> {
    let mut layers = SettingsLayers::defaults();
    layers.apply_conf_dir_from_env()?;
    layers.apply_process_env();
    apply_flags(&mut layers, args)?;
    Ok(layers.resolve()?)
}

/// Layers the command line's `--conf` pairs, then its named flags, over `layers`.
pub fn apply_flags(layers: &mut SettingsLayers, args: &SubmitArgs) -> Result<(), ClientError> {
    for pair in &args.conf {
        layers.set_pair(pair, "--conf")?;
    }
    let named = [
        (spindle_conf::spindle::APP_NAME, "--name", &args.name),
        (QUEUE, "--queue", &args.queue),
        (EXECUTOR_INSTANCES, "--num-executors", &args.num_executors),
        (EXECUTOR_MEMORY, "--executor-memory", &args.executor_memory),
        (EXECUTOR_CORES, "--executor-cores", &args.executor_cores),
        (DRIVER_MEMORY, "--driver-memory", &args.driver_memory),
        (REDUCERS, "--reducers", &args.reducers),
        (FILES, "--files", &args.files),
    ];
    for (key, flag, value) in named {
        if let Some(v) = value {
            layers.set(key, v, Origin::Flag(flag.to_string()))?;
        }
    }
    Ok(())
}

/// Checks the job's arguments: none for wordcount and linecount, one valid regular
/// expression for grep.
pub fn check_job_args(job: Job, args: &[String]) -> Result<(), String> {
    match (job, args) {
        (Job::Grep, [pattern]) => regex::bytes::Regex::new(pattern)
            .map(|_| ())
            .map_err(|e| format!("grep's regular expression {pattern:?} is invalid: {e}")),
        (Job::Grep, _) => Err(format!(
            "grep takes exactly one job argument, the regular expression (got {})",
            args.len()
        )),
        (_, []) => Ok(()),
        (job, extra) => Err(format!(
            "{} takes no job arguments (got {extra:?})",
            job.name()
        )),
    }
}

/// A full URI for `path`: URIs unchanged, absolute paths on `default_fs`, relative ones
/// under the user's home directory `/user/<user>` as Hadoop resolves them.
pub fn resolve_uri(path: &str, default_fs: &str, user: &str) -> String {
    if path.contains("://") {
        return path.to_string();
    }
    let fs = fs_root(default_fs);
    if path.starts_with('/') {
        format!("{fs}{path}")
    } else {
        format!("{fs}/user/{user}/{}", path.trim_start_matches("./"))
    }
}

/// `fs.defaultFS` without trailing slashes (`hdfs://nn:8020/` → `hdfs://nn:8020`,
/// `file:///` → `file://`), ready to have an absolute path appended.
pub fn fs_root(default_fs: &str) -> String {
    match default_fs.find("://") {
        Some(i) => {
            let (scheme, rest) = default_fs.split_at(i + 3);
            format!("{scheme}{}", rest.trim_end_matches('/'))
        }
        None => default_fs.trim_end_matches('/').to_string(),
    }
}

/// Where history files go: `spindle.history.dir` (a path is on the default FS), else
/// `<fs>/user/<user>/.spindle/history`.
pub fn history_dir(default_fs: &str, user: &str, setting: Option<&str>) -> String {
    let fs = default_fs.trim_end_matches('/');
    match setting {
        Some(d) if d.contains("://") => d.trim_end_matches('/').to_string(),
        Some(d) => format!("{fs}/{}", d.trim_matches('/')),
        None => format!("{fs}/user/{user}/.spindle/history"),
    }
}

/// The staging directory of an application: `<fs>/user/<user>/.spindle/<appId>`.
pub fn staging_dir(default_fs: &str, user: &str, app_id: &str) -> String {
    format!("{}/user/{user}/.spindle/{app_id}", fs_root(default_fs))
}

/// Finds the bundled examples binary: `SPINDLE_EXAMPLES_BINARY`, else next to the
/// running `spindle`.
pub fn find_examples() -> Result<PathBuf, String> {
    let (path, how) = match std::env::var_os(EXAMPLES_BINARY_VAR).filter(|v| !v.is_empty()) {
        Some(p) => (PathBuf::from(p), format!("named by {EXAMPLES_BINARY_VAR}")),
        None => (
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_default()
                .join(EXAMPLES_BINARY),
            format!(
                "expected next to the spindle binary: build it with `cargo build --release -p spindle-examples`, or set {EXAMPLES_BINARY_VAR} to its path"
            ),
        ),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the built-in jobs run on the {EXAMPLES_BINARY} binary, and {} does not exist ({how})",
            path.display()
        ))
    }
}

/// Where a shipped file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A local file, copied to the staging directory.
    Local(PathBuf),
    /// A file already on a cluster file system, used in place.
    Remote(String),
}

/// A file shipped with the application under `name` in the containers' directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedFile {
    /// The link name in the container (the source's file name).
    pub name: String,
    /// Where it comes from.
    pub source: FileSource,
}

/// Sorts `--files` entries into local and remote ones; names must be unique and not
/// clash with the application's binary, `program`.
pub fn plan_files(files: &[String], program: &str) -> Result<Vec<ShippedFile>, Vec<String>> {
    let mut out: Vec<ShippedFile> = Vec::new();
    let mut failures = Vec::new();
    for f in files {
        let remote = f.contains("://") && !f.starts_with("file://");
        let local_path = f.strip_prefix("file://").unwrap_or(f);
        let name = f
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() || name == "." || name == ".." {
            failures.push(format!("--files entry {f:?} names no file"));
            continue;
        }
        if name == program {
            failures.push(format!(
                "--files entry {f} is named {name}, like the application's binary"
            ));
            continue;
        }
        if let Some(m) = shell::yarn_marker(&name) {
            failures.push(format!(
                "--files entry {f} contains {m}, which YARN rewrites"
            ));
            continue;
        }
        if out.iter().any(|o| o.name == name) {
            failures.push(format!(
                "--files has two files named {name}; they would land on the same path"
            ));
            continue;
        }
        let source = if remote {
            FileSource::Remote(f.clone())
        } else {
            let path = PathBuf::from(local_path);
            if !path.is_file() {
                failures.push(format!("--files entry {f} is not a local file"));
                continue;
            }
            FileSource::Local(path)
        };
        out.push(ShippedFile { name, source });
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(failures)
    }
}

/// Checks requested container sizes against the largest container YARN grants.
pub fn check_sizes(settings: &SpindleSettings, max: ResourceLimit, source: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, size) in [
        ("executor memory", settings.executor_memory),
        ("driver memory", settings.driver_memory),
    ] {
        if size.mib() > max.memory {
            failures.push(format!(
                "{what} {size} ({} MB) is more than the largest container {source}: {} MB",
                size.mib(),
                max.memory
            ));
        }
    }
    if u64::from(settings.executor_cores) > max.vcores {
        failures.push(format!(
            "executor cores {} is more than the largest container {source}: {} vcores",
            settings.executor_cores, max.vcores
        ));
    }
    failures
}

/// The largest container for `queue`: the queue's own limit, else the scheduler's,
/// else the client's `yarn-site.xml`, with where it came from.
pub fn max_container(
    facts: &SchedulerFacts,
    queue: Option<&crate::rm::QueueFacts>,
    conf: &HadoopConf,
) -> (ResourceLimit, String) {
    if let Some((q, m)) = queue.and_then(|q| q.max_allocation.map(|m| (q, m))) {
        return (m, format!("queue {} allows", q.path));
    }
    if let Some(m) = facts.max_allocation {
        return (m, "the scheduler allows".into());
    }
    let num = |k: &str, d: u64| conf.get(k).and_then(|v| v.trim().parse().ok()).unwrap_or(d);
    (
        ResourceLimit {
            memory: num("yarn.scheduler.maximum-allocation-mb", 8192),
            vcores: num("yarn.scheduler.maximum-allocation-vcores", 4),
        },
        "yarn-site.xml allows".into(),
    )
}

/// A built-in job as the examples binary's arguments: the subcommand, its flags, then
/// `--` and the positional arguments (so an input or a pattern starting with `-` is
/// never read as a flag).
pub fn builtin_args(
    job: Job,
    job_args: &[String],
    input: &str,
    output: &str,
    reducers: Option<u32>,
) -> Vec<String> {
    let mut w = vec![job.name().to_string()];
    if let (Some(r), Job::Wordcount | Job::Grep) = (reducers, job) {
        w.extend(["--partitions".to_string(), r.to_string()]);
    }
    w.extend(["--".to_string(), input.to_string(), output.to_string()]);
    w.extend(job_args.iter().cloned());
    w
}

/// A staged (or in-place) file as YARN localizes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Full URI.
    pub uri: String,
    /// Exact length in bytes.
    pub size: u64,
    /// Modification time, ms since the epoch.
    pub timestamp: u64,
    /// APPLICATION (staged per application) or PRIVATE (a cached binary).
    pub visibility: Visibility,
}

impl Resource {
    /// `uri|size|timestamp|visibility`, as the AM reads `SPINDLE_EXECUTOR_RESOURCE`.
    pub fn env_form(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.uri,
            self.size,
            self.timestamp,
            self.visibility.as_str()
        )
    }

    fn local_resource(&self, name: &str) -> Value {
        json!({
            "key": name,
            "value": {
                "resource": self.uri,
                "type": "FILE",
                "visibility": self.visibility.as_str(),
                "size": self.size,
                "timestamp": self.timestamp,
            }
        })
    }
}

/// 32 random bytes, encoded as the RM's REST API decodes `credentials.secrets` values:
/// `RMWebAppUtil.createCredentials` uses commons-codec `new Base64(0, null, true)`,
/// i.e. URL-safe base64 (its encoder writes no padding; its decoder takes either).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    encode_secret(&bytes)
}

/// Encodes secret bytes for `credentials.secrets`.
pub fn encode_secret(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Everything the submission context is built from.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The id from `new-application`.
    pub app_id: String,
    /// The application name.
    pub name: String,
    /// The queue.
    pub queue: String,
    /// AM container memory, MiB.
    pub driver_mb: u64,
    /// The AM binary's name in its container.
    pub am_name: String,
    /// The staged AM binary.
    pub am: Resource,
    /// Shipped files by link name.
    pub files: Vec<(String, Resource)>,
    /// The AM's environment.
    pub environment: BTreeMap<String, String>,
    /// The AM's command (already quoted for YARN).
    pub command: String,
    /// The application secret, encoded for the RM.
    pub secret: String,
}

/// The JSON body of `POST /ws/v1/cluster/apps`. Environment values are escaped for the
/// double quotes YARN puts them in (`export K="v"`).
pub fn submission_body(s: &Submission) -> Value {
    let mut resources = vec![s.am.local_resource(&s.am_name)];
    resources.extend(s.files.iter().map(|(n, r)| r.local_resource(n)));
    let env: Vec<Value> = s
        .environment
        .iter()
        .map(|(k, v)| json!({"key": k, "value": shell::escape_double_quoted(v)}))
        .collect();
    json!({
        "application-id": s.app_id,
        "application-name": s.name,
        "application-type": APP_TYPE,
        "queue": s.queue,
        "max-app-attempts": 1,
        "unmanaged-AM": false,
        "keep-containers-across-application-attempts": false,
        "resource": {"memory": s.driver_mb, "vCores": 1},
        "am-container-spec": {
            "local-resources": {"entry": resources},
            "environment": {"entry": env},
            "commands": {"command": s.command},
            "credentials": {
                "secrets": {"entry": [{"key": SECRET_ALIAS, "value": s.secret}]}
            },
        },
    })
}

/// What an application's AM (its own binary, as the driver) reads besides the common
/// environment: its role, its name in containers, and how to size executors.
pub fn program_environment(name: &str, settings: &SpindleSettings) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        ("SPINDLE_ROLE".to_string(), "driver".to_string()),
        ("SPINDLE_APP_PROGRAM".to_string(), name.to_string()),
        (
            "SPINDLE_EXECUTOR_INSTANCES".to_string(),
            settings.num_executors.to_string(),
        ),
        (
            "SPINDLE_EXECUTOR_MEMORY_MB".to_string(),
            settings.executor_memory.mib().to_string(),
        ),
        (
            "SPINDLE_EXECUTOR_CORES".to_string(),
            settings.executor_cores.to_string(),
        ),
        (
            "SPINDLE_TASK_MAX_ATTEMPTS".to_string(),
            settings.task_max_attempts.to_string(),
        ),
    ]);
    if let Some(m) = settings.task_memory {
        env.insert("SPINDLE_TASK_MEMORY".to_string(), m.to_string());
    }
    // The driver's tasks inside the AM share its allocator: cap glibc's arenas there
    // too (see the executors' launch context).
    env.insert("MALLOC_ARENA_MAX".to_string(), "2".to_string());
    env
}

/// The AM's environment.
#[allow(clippy::too_many_arguments)]
pub fn am_environment(
    conf: &HadoopConf,
    default_fs: &str,
    user: &str,
    staging_dir: &str,
    executor: &Resource,
    files: &[(String, Resource)],
    log: &str,
) -> BTreeMap<String, String> {
    let scheduler = conf
        .get("yarn.resourcemanager.scheduler.address")
        .unwrap_or_else(|| {
            format!(
                "{}:8030",
                conf.get_or("yarn.resourcemanager.hostname", "0.0.0.0")
            )
        });
    let mut env = BTreeMap::from([
        ("SPINDLE_EXECUTOR_RESOURCE".to_string(), executor.env_form()),
        ("SPINDLE_STAGING_DIR".to_string(), staging_dir.to_string()),
        ("SPINDLE_RM_SCHEDULER_ADDRESS".to_string(), scheduler),
        (
            "SPINDLE_RPC_PROTECTION".to_string(),
            conf.get_or("hadoop.rpc.protection", "authentication"),
        ),
        ("SPINDLE_DEFAULT_FS".to_string(), default_fs.to_string()),
        ("HADOOP_USER_NAME".to_string(), user.to_string()),
        ("RUST_LOG".to_string(), log.to_string()),
    ]);
    if !files.is_empty() {
        // Same form as the executor's, comma-separated; the link name is the URI's
        // last segment. The AM passes them on to executors.
        let list = files
            .iter()
            .map(|(_, r)| r.env_form())
            .collect::<Vec<_>>()
            .join(",");
        env.insert("SPINDLE_FILE_RESOURCES".to_string(), list);
    }
    env
}

/// What was checked and is ready to stage.
struct Checked {
    /// The binary, being read and fingerprinted while the checks talk to the cluster.
    binary: tokio::task::JoinHandle<Result<LoadedBinary, ClientError>>,
    conf: HadoopConf,
    user: String,
    default_fs: String,
    name: String,
    target: CheckedTarget,
    files: Vec<ShippedFile>,
    remote_files: BTreeMap<String, Resource>,
}

/// The binary to run and its arguments (a built-in job is the examples binary's).
struct CheckedTarget {
    path: PathBuf,
    /// Its file name, also its name in containers.
    name: String,
    args: Vec<String>,
    /// A built-in job's input and output URIs, checked before submitting.
    builtin_paths: Option<(String, String)>,
}

/// Checks an application's binary: a plain-named, executable ELF file.
pub fn check_program(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
        .ok_or_else(|| {
            format!("application {shown}: its file name must be letters, digits, '.', '_' or '-'")
        })?;
    let meta = std::fs::metadata(path).map_err(|e| format!("application {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("application {shown} is not a file"));
    }
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "application {shown} is not executable (chmod +x it, or build it with cargo)"
        ));
    }
    let mut magic = [0u8; 4];
    let read =
        std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic));
    if read.is_err() || magic != *b"\x7fELF" {
        return Err(format!(
            "application {shown} is not a Linux executable (an ELF binary built with cargo for the cluster's platform)"
        ));
    }
    Ok(name.to_string())
}

fn fs_error(what: String) -> impl FnOnce(CoreError) -> ClientError {
    move |source| ClientError::Fs { what, source }
}

async fn file_system(
    uri: &str,
    conf: &HadoopConf,
    user: &str,
) -> Result<Arc<dyn FileSystem>, ClientError> {
    for_uri(uri, conf, user)
        .await
        .map_err(fs_error(format!("cannot open the file system of {uri}")))
}

/// Runs every check; returns all failures together.
async fn check(
    target: &Target,
    settings: &SpindleSettings,
    rm: &RmClient,
    conf: HadoopConf,
    user: String,
) -> Result<Checked, ClientError> {
    let mut failures = Vec::new();
    let default_fs = conf.default_fs()?;
    let (checked, name) = match target {
        Target::Builtin {
            job,
            input,
            output,
            job_args,
        } => {
            if let Err(e) = check_job_args(*job, job_args) {
                failures.push(e);
            }
            let input = resolve_uri(input, &default_fs, &user);
            let output = resolve_uri(output, &default_fs, &user);
            let args = builtin_args(*job, job_args, &input, &output, settings.reducers);
            if let Err(e) = program_command(EXAMPLES_BINARY, &args) {
                failures.push(e);
            }
            let path = find_examples().unwrap_or_else(|e| {
                failures.push(e);
                PathBuf::new()
            });
            let checked = CheckedTarget {
                path,
                name: EXAMPLES_BINARY.to_string(),
                args,
                builtin_paths: Some((input, output)),
            };
            (checked, format!("spindle-{}", job.name()))
        }
        Target::Program { path, args } => {
            let name = check_program(path).unwrap_or_else(|e| {
                failures.push(e);
                String::new()
            });
            if let Err(e) = program_command(&name, args) {
                failures.push(e);
            }
            let checked = CheckedTarget {
                path: path.clone(),
                name: name.clone(),
                args: args.clone(),
                builtin_paths: None,
            };
            (checked, name)
        }
    };
    let name = settings.app_name.clone().unwrap_or(name);
    let binary = load_binary(checked.path.clone());
    let files = plan_files(&settings.files, &checked.name).unwrap_or_else(|f| {
        failures.extend(f);
        Vec::new()
    });

    // The cluster (queue and container sizes: read-only calls, no id is allocated)
    // and the file systems, at once.
    let (facts, paths) = tokio::join!(rm.scheduler(), check_paths(&checked, &files, &conf, &user));
    let facts = facts?;
    let queue = match facts.leaf_queue(&settings.queue) {
        Ok(q) => Some(q),
        Err(e) => {
            if !facts.queues.is_empty() {
                failures.push(e);
            }
            None
        }
    };
    let (max, source) = max_container(&facts, queue, &conf);
    failures.extend(check_sizes(settings, max, &source));
    let (path_failures, remote_files) = paths?;
    failures.extend(path_failures);
    if !failures.is_empty() {
        return Err(ClientError::Checks(failures));
    }
    Ok(Checked {
        binary,
        conf,
        user,
        default_fs,
        name,
        target: checked,
        files,
        remote_files,
    })
}

/// The file systems: input present, output absent (for a built-in job: what an
/// application reads and writes is its own), remote files present. Returns what
/// failed and the remote files as YARN will localize them.
async fn check_paths(
    checked: &CheckedTarget,
    files: &[ShippedFile],
    conf: &HadoopConf,
    user: &str,
) -> Result<(Vec<String>, BTreeMap<String, Resource>), ClientError> {
    let mut failures = Vec::new();
    if let Some((input, output)) = &checked.builtin_paths {
        let in_fs = file_system(input, conf, user).await?;
        match in_fs.list_inputs(input).await {
            Ok(_) => {}
            Err(CoreError::InputMissing(_)) => {
                failures.push(format!("input {input} does not exist"))
            }
            Err(e) => return Err(fs_error(format!("cannot list the input {input}"))(e)),
        }
        let out_fs = file_system(output, conf, user).await?;
        match out_fs.info(output).await {
            Ok(None) => {}
            Ok(Some(_)) => failures.push(format!(
                "output {output} already exists; choose another path or delete it first"
            )),
            Err(e) => return Err(fs_error(format!("cannot look up the output {output}"))(e)),
        }
    }
    let mut remote_files = BTreeMap::new();
    for f in files {
        if let FileSource::Remote(uri) = &f.source {
            let fs = file_system(uri, conf, user).await?;
            match fs.info(uri).await {
                Ok(Some(i)) if !i.is_dir => {
                    remote_files.insert(
                        f.name.clone(),
                        Resource {
                            uri: i.path,
                            size: i.length,
                            timestamp: i.modification_time,
                            visibility: Visibility::Application,
                        },
                    );
                }
                Ok(Some(_)) => failures.push(format!("--files entry {uri} is a directory")),
                Ok(None) => failures.push(format!("--files entry {uri} does not exist")),
                Err(e) => return Err(fs_error(format!("cannot look up {uri}"))(e)),
            }
        }
    }
    Ok((failures, remote_files))
}

/// An application's AM command: the binary with its arguments, quoted for YARN.
pub fn program_command(name: &str, args: &[String]) -> Result<String, String> {
    let words: Vec<String> = std::iter::once(format!("./{name}"))
        .chain(args.iter().cloned())
        .collect();
    shell::yarn_command(&words, LOG_REDIRECTS)
}

async fn read_local(local: &Path) -> Result<Vec<u8>, ClientError> {
    tokio::fs::read(local)
        .await
        .map_err(|source| ClientError::Io {
            path: local.to_path_buf(),
            source,
        })
}

/// Copies one local file to `dir/name` and returns it as HDFS has it.
async fn stage_file(
    fs: &dyn FileSystem,
    local: &Path,
    dir: &str,
    name: &str,
) -> Result<Resource, ClientError> {
    let data = read_local(local).await?;
    let target = format!("{dir}/{name}");
    let what = || format!("cannot stage {} to {target}", local.display());
    fs.write(&target, Bytes::from(data))
        .await
        .map_err(fs_error(what()))?;
    let info = staged_info(fs, &target, what()).await?;
    Ok(Resource {
        uri: info.path,
        size: info.length,
        timestamp: info.modification_time,
        visibility: Visibility::Application,
    })
}

/// The file just staged at `target`, as the file system reports it.
async fn staged_info(
    fs: &dyn FileSystem,
    target: &str,
    what: String,
) -> Result<FileInfo, ClientError> {
    match fs.info(target).await {
        Ok(Some(info)) => Ok(info),
        Ok(None) => Err(ClientError::Fs {
            what,
            source: CoreError::Fs {
                op: "stat",
                path: target.to_string(),
                message: "the file is gone right after staging it".into(),
            },
        }),
        Err(e) => Err(fs_error(what)(e)),
    }
}

/// A binary read into memory with its content key.
struct LoadedBinary {
    path: PathBuf,
    /// Its bytes; `None` when its hash came from the local memo (read if it must be
    /// uploaded after all).
    data: Option<Bytes>,
    len: u64,
    /// Its whole SHA-256 in hex; the first 32 digits are its cache key.
    sha256: String,
}

/// Fingerprints a binary on a blocking thread: from the local memo of hashes when the
/// file is unchanged since it was last hashed, else by reading it (a 14 MB binary
/// takes some 20 ms; the checks' round trips to the cluster hide part of it).
fn load_binary(path: PathBuf) -> tokio::task::JoinHandle<Result<LoadedBinary, ClientError>> {
    tokio::task::spawn_blocking(move || read_binary(&path, KeyCache::default_location().as_ref()))
}

fn read_binary(path: &Path, memo: Option<&KeyCache>) -> Result<LoadedBinary, ClientError> {
    let io = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let stamp = Stamp::of(path).map_err(io)?;
    if let Some(sha256) = memo.and_then(|m| m.lookup(&stamp)) {
        tracing::debug!("binary's hash from the local memo");
        return Ok(LoadedBinary {
            path: path.to_path_buf(),
            data: None,
            len: stamp.bytes(),
            sha256,
        });
    }
    let data = std::fs::read(path).map_err(io)?;
    let sha256 = sha256_hex(&data);
    tracing::debug!(bytes = data.len(), "binary read and fingerprinted");
    // Remembered only when the file did not change while it was read.
    if let Some(memo) = memo
        && Stamp::of(path).is_ok_and(|now| now == stamp)
    {
        memo.remember(stamp, &sha256);
    }
    Ok(LoadedBinary {
        path: path.to_path_buf(),
        len: data.len() as u64,
        data: Some(Bytes::from(data)),
        sha256,
    })
}

/// Waits for [`load_binary`].
async fn finish_loading(
    loading: impl std::future::Future<
        Output = Result<Result<LoadedBinary, ClientError>, tokio::task::JoinError>,
    >,
) -> Result<LoadedBinary, ClientError> {
    loading.await.map_err(|e| ClientError::Io {
        path: PathBuf::from("(the binary being staged)"),
        source: std::io::Error::other(e),
    })?
}

/// Where submissions keep their binaries: `<fs>/user/<user>/.spindle/cache`.
pub fn binary_cache_dir(default_fs: &str, user: &str) -> String {
    format!("{}/user/{user}/.spindle/cache", fs_root(default_fs))
}

/// The SHA-256 of a binary, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cache key of a binary: the first 128 bits of its SHA-256, in hex.
pub fn content_key(data: &[u8]) -> String {
    key_of(&sha256_hex(data)).to_string()
}

fn key_of(sha256_hex: &str) -> &str {
    &sha256_hex[..32]
}

/// Stages a binary once per content, at `<cache>/<content key>/<name>` with PRIVATE
/// visibility: a later submission of the same build uploads nothing, and each
/// NodeManager localizes it once for this user instead of once per application.
/// The upload goes to a temporary name first, so a half-written binary is never
/// found at its final path.
async fn cached_binary(
    fs: &dyn FileSystem,
    binary: LoadedBinary,
    cache: &str,
    name: &str,
) -> Result<Resource, ClientError> {
    let LoadedBinary {
        path: local,
        data,
        len,
        sha256,
    } = binary;
    let dir = format!("{cache}/{}", key_of(&sha256));
    let target = format!("{dir}/{name}");
    let what = || format!("cannot stage {} to {target}", local.display());
    let info = match fs.info(&target).await.map_err(fs_error(what()))? {
        Some(info) if info.length == len => info,
        found => {
            if found.is_some() {
                // Not what this key promises (someone wrote over it): replace it.
                fs.delete(&target).await.map_err(fs_error(what()))?;
            }
            let data = match data {
                Some(data) => data,
                None => {
                    // The memo gave the hash; the bytes are read now, and must be
                    // what it said.
                    let read = {
                        let local = local.clone();
                        tokio::task::spawn_blocking(move || read_binary(&local, None))
                    };
                    let read = finish_loading(read).await?;
                    if read.sha256 != sha256 {
                        return Err(ClientError::Io {
                            path: local,
                            source: std::io::Error::other(
                                "the file changed while it was being staged; submit again",
                            ),
                        });
                    }
                    read.data.unwrap_or_default()
                }
            };
            upload(fs, data, &dir, &target, name, what()).await?;
            staged_info(fs, &target, what()).await?
        }
    };
    Ok(Resource {
        uri: info.path,
        size: info.length,
        timestamp: info.modification_time,
        visibility: Visibility::Private,
    })
}

/// Writes `data` under a temporary name in `dir`, then renames it to `target`; a
/// target that a concurrent submission put there first with the same length counts.
async fn upload(
    fs: &dyn FileSystem,
    data: Bytes,
    dir: &str,
    target: &str,
    name: &str,
    what: String,
) -> Result<(), ClientError> {
    let len = data.len() as u64;
    fs.mkdirs(dir).await.map_err(fs_error(what.clone()))?;
    let tmp = format!("{dir}/.{name}.{:016x}.tmp", rand::rng().next_u64());
    fs.write(&tmp, data).await.map_err(fs_error(what.clone()))?;
    if let Err(e) = fs.rename(&tmp, target).await {
        // A concurrent submission of the same build may have got there first.
        let _ = fs.delete(&tmp).await;
        let theirs = fs.info(target).await.map_err(fs_error(what.clone()))?;
        if theirs.is_none_or(|i| i.length != len) {
            return Err(fs_error(what)(e));
        }
    }
    Ok(())
}

/// The staged binaries and files.
struct Staged {
    am: Resource,
    /// The AM's binary's SHA-256 (hex): the driver's fingerprint, which it need not
    /// compute before its first task (see `spindle::ship`).
    am_sha256: String,
    executor: Resource,
    files: Vec<(String, Resource)>,
}

async fn stage(
    fs: &dyn FileSystem,
    dir: &str,
    c: &Checked,
    binary: LoadedBinary,
) -> Result<Staged, ClientError> {
    let cache = binary_cache_dir(&c.default_fs, &c.user);
    let t = &c.target;
    let am_sha256 = binary.sha256.clone();
    let (made, am) = tokio::join!(fs.mkdirs(dir), cached_binary(fs, binary, &cache, &t.name));
    made.map_err(fs_error(format!(
        "cannot create the staging directory {dir}"
    )))?;
    let am = am?;
    // The same binary is the driver and every executor, unless a test asks the
    // executors to run another build (which they then refuse to serve).
    let executor = match std::env::var_os(PROGRAM_EXECUTOR_VAR).filter(|v| !v.is_empty()) {
        Some(other) => {
            let other = finish_loading(load_binary(PathBuf::from(other))).await?;
            cached_binary(fs, other, &cache, &t.name).await?
        }
        None => am.clone(),
    };
    let mut files = Vec::new();
    for f in &c.files {
        let r = match &f.source {
            FileSource::Local(p) => stage_file(fs, p, dir, &f.name).await?,
            FileSource::Remote(_) => match c.remote_files.get(&f.name) {
                Some(r) => r.clone(),
                None => continue,
            },
        };
        files.push((f.name.clone(), r));
    }
    Ok(Staged {
        am,
        am_sha256,
        executor,
        files,
    })
}

/// Deletes the staging directory, saying so when that fails.
async fn remove_staging(fs: &dyn FileSystem, dir: &str) {
    if let Err(e) = fs.delete(dir).await {
        eprintln!("spindle: warning: cannot delete the staging directory {dir}: {e}");
    }
}

/// `spindle submit`.
pub async fn run(args: SubmitArgs) -> Result<(), ClientError> {
    let target = args.target().map_err(ClientError::Usage)?;
    let settings = settings(&args)?;
    let conf = HadoopConf::from_env()?;
    let user = hadoop_user()?;
    let rm = RmClient::new(&conf.rm_web_url(), &user)?;
    tracing::debug!("settings read");
    let mut c = check(&target, &settings, &rm, conf, user).await?;
    tracing::debug!("checks passed");

    let NewApplication { application_id, .. } = rm.new_application().await?;
    let app_id = application_id;
    tracing::debug!(%app_id, "new application");
    let staging_dir = staging_dir(&c.default_fs, &c.user, &app_id);
    let fs = file_system(&staging_dir, &c.conf, &c.user).await?;
    let staged = tokio::select! {
        r = async {
            let binary = finish_loading(&mut c.binary).await?;
            stage(fs.as_ref(), &staging_dir, &c, binary).await
        } => r,
        _ = tokio::signal::ctrl_c() => Err(ClientError::Interrupted(format!("while staging {app_id}"))),
    };
    let staged = match staged {
        Ok(s) => s,
        Err(e) => {
            remove_staging(fs.as_ref(), &staging_dir).await;
            return Err(e);
        }
    };
    tracing::debug!("staged");
    let command = program_command(&c.target.name, &c.target.args).map_err(ClientError::Usage)?;
    let am_name = c.target.name.clone();
    let mut environment = am_environment(
        &c.conf,
        &c.default_fs,
        &c.user,
        &staging_dir,
        &staged.executor,
        &staged.files,
        &settings.log,
    );
    environment.extend([
        ("SPINDLE_APP_NAME".to_string(), c.name.clone()),
        ("SPINDLE_RM_WEB_URL".to_string(), c.conf.rm_web_url()),
        (
            "SPINDLE_HISTORY_DIR".to_string(),
            history_dir(&c.default_fs, &c.user, settings.history_dir.as_deref()),
        ),
        (PROGRAM_SHA256_VAR.to_string(), staged.am_sha256.clone()),
        (
            "SPINDLE_UI_LINGER".to_string(),
            settings.ui_linger_secs.to_string(),
        ),
        (
            "SPINDLE_UBER_MAX_BYTES".to_string(),
            settings
                .uber_max_input
                .map(|m| (m.mib() << 20).to_string())
                .unwrap_or_else(|| "0".into()),
        ),
    ]);
    environment.extend(program_environment(&c.target.name, &settings));
    let submission = Submission {
        app_id: app_id.clone(),
        name: c.name.clone(),
        queue: settings.queue.clone(),
        driver_mb: settings.driver_memory.mib(),
        am_name,
        am: staged.am,
        environment,
        files: staged.files,
        command,
        secret: new_secret(),
    };
    if let Err(e) = rm.submit(&submission_body(&submission)).await {
        remove_staging(fs.as_ref(), &staging_dir).await;
        return Err(e);
    }
    tracing::debug!("submitted");

    // This report is also the first poll of `follow`.
    let first = rm.app(&app_id).await.ok();
    let tracking = first
        .as_ref()
        .and_then(|app| app.tracking_url.clone())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            format!(
                "{}/proxy/{app_id}/",
                rm.base().as_str().trim_end_matches('/')
            )
        });
    crate::emit(&format!("{app_id}\ntracking URL: {tracking}\n"));
    if args.detach {
        return Ok(());
    }
    let options = FollowOptions {
        timeout: args.timeout,
        ..FollowOptions::default()
    };
    let last = follow(&rm, &app_id, first, &options).await?;
    tracing::debug!(state = %last.state, "followed to the end");
    // The AM deletes its staging directory itself; this covers an AM that died first.
    remove_staging(fs.as_ref(), &staging_dir).await;
    tracing::debug!("staging directory removed");
    if last.succeeded() {
        if let Some((_, output)) = &c.target.builtin_paths {
            crate::emit(&format!("output: {output}\n"));
        }
        Ok(())
    } else {
        eprintln!("spindle: logs: yarn logs -applicationId {app_id}");
        Err(ClientError::AppFailed {
            id: app_id,
            state: last.state,
            final_status: last.final_status,
            diagnostics: last.diagnostics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_conf::MemorySize;

    fn settings() -> SpindleSettings {
        SettingsLayers::defaults().resolve().expect("defaults")
    }

    #[test]
    fn history_dir_defaults_per_user_and_takes_paths_or_uris() {
        assert_eq!(
            history_dir("hdfs://nn:9000/", "ann", None),
            "hdfs://nn:9000/user/ann/.spindle/history"
        );
        assert_eq!(
            history_dir("hdfs://nn:9000", "ann", Some("/shared/history/")),
            "hdfs://nn:9000/shared/history"
        );
        assert_eq!(
            history_dir("hdfs://nn:9000", "ann", Some("hdfs://other:8020/h/")),
            "hdfs://other:8020/h"
        );
    }

    fn args(extra: &[&str]) -> SubmitArgs {
        use clap::Parser;
        let mut argv = vec!["spindle", "submit"];
        argv.extend_from_slice(extra);
        match crate::Cli::try_parse_from(argv).expect("parses").command {
            crate::Command::Submit(s) => *s,
            _ => panic!("not submit"),
        }
    }

    #[test]
    fn named_flags_win_over_conf_pairs() {
        let a = args(&[
            "--conf",
            "spindle.executor.memory=4g",
            "--conf",
            "spindle.executor.cores=2",
            "--executor-memory",
            "1g",
            "--files",
            "x,y",
            "wordcount",
            "/in",
            "/out",
        ]);
        let mut layers = SettingsLayers::defaults();
        layers.apply_env([
            ("SPINDLE_EXECUTOR_CORES", "5"),
            ("SPINDLE_DRIVER_MEMORY", "1g"),
        ]);
        apply_flags(&mut layers, &a).expect("valid flags");
        let s = layers.resolve().expect("valid");
        assert_eq!(s.executor_memory.mib(), 1024);
        assert_eq!(s.executor_cores, 2); // --conf over environment
        assert_eq!(s.driver_memory.mib(), 1024); // environment over default
        assert_eq!(s.files, vec!["x", "y"]);
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        let a = args(&["--num-executors", "0", "wordcount", "/in", "/out"]);
        let mut layers = SettingsLayers::defaults();
        apply_flags(&mut layers, &a).expect("known keys");
        let e = ClientError::from(layers.resolve().expect_err("should be refused"));
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("--num-executors"), "{msg}");
        assert!(msg.contains("at least 1"), "{msg}");
        let a = args(&["--conf", "spindle.nope=1", "wordcount", "/in", "/out"]);
        let err = apply_flags(&mut SettingsLayers::defaults(), &a).expect_err("should be refused");
        assert!(
            err.to_string().contains("unknown setting spindle.nope"),
            "{err}"
        );
    }

    #[test]
    fn job_args() {
        assert!(check_job_args(Job::Wordcount, &[]).is_ok());
        assert!(check_job_args(Job::Linecount, &[]).is_ok());
        assert!(check_job_args(Job::Grep, &["a+b".into()]).is_ok());
        let e = check_job_args(Job::Grep, &[]).expect_err("should be refused");
        assert!(e.contains("exactly one"), "{e}");
        let e = check_job_args(Job::Grep, &["(".into()]).expect_err("should be refused");
        assert!(e.contains("invalid"), "{e}");
        let e = check_job_args(Job::Wordcount, &["x".into()]).expect_err("should be refused");
        assert!(e.contains("wordcount takes no job arguments"), "{e}");
    }

    #[test]
    fn uris() {
        let fs = "hdfs://127.0.0.1:9000";
        assert_eq!(resolve_uri("/a/b", fs, "u"), "hdfs://127.0.0.1:9000/a/b");
        assert_eq!(
            resolve_uri("/a/b", "hdfs://nn:8020/", "u"),
            "hdfs://nn:8020/a/b"
        );
        assert_eq!(
            resolve_uri("in", fs, "alice"),
            "hdfs://127.0.0.1:9000/user/alice/in"
        );
        assert_eq!(
            resolve_uri("./in", fs, "alice"),
            "hdfs://127.0.0.1:9000/user/alice/in"
        );
        assert_eq!(resolve_uri("hdfs://o:1/x", fs, "u"), "hdfs://o:1/x");
        assert_eq!(resolve_uri("file:///tmp/x", fs, "u"), "file:///tmp/x");
        assert_eq!(resolve_uri("/tmp/x", "file:///", "u"), "file:///tmp/x");
        assert_eq!(
            staging_dir("hdfs://nn:9000/", "u", "application_1_0001"),
            "hdfs://nn:9000/user/u/.spindle/application_1_0001"
        );
    }

    #[test]
    fn builtin_jobs_are_the_examples_subcommands() {
        let args = builtin_args(
            Job::Grep,
            &["-x [a-z]+ 'q' $HOME".into()],
            "hdfs://nn:9000/in",
            "hdfs://nn:9000/out dir",
            Some(3),
        );
        assert_eq!(
            args,
            [
                "grep",
                "--partitions",
                "3",
                "--",
                "hdfs://nn:9000/in",
                "hdfs://nn:9000/out dir",
                "-x [a-z]+ 'q' $HOME",
            ]
        );
        let cmd = program_command(EXAMPLES_BINARY, &args).expect("quotable");
        assert_eq!(
            cmd,
            r#"./spindle-examples grep --partitions 3 -- hdfs://nn:9000/in 'hdfs://nn:9000/out dir' '-x [a-z]+ '\\''q'\\'' \$HOME' 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"#
        );
        // Line counts have one output file, whatever the reducers.
        let args = builtin_args(Job::Linecount, &[], "i", "o", Some(4));
        assert_eq!(args, ["linecount", "--", "i", "o"]);
        let bad = builtin_args(Job::Grep, &["a{{2}}".into()], "i", "o", None);
        assert!(program_command(EXAMPLES_BINARY, &bad).is_err());
    }

    #[test]
    fn secrets_are_url_safe_base64_of_32_bytes() {
        let s = new_secret();
        assert_eq!(s.len(), 43);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&s)
            .expect("decodes");
        assert_eq!(bytes.len(), 32);
        assert_ne!(new_secret(), s);
        assert_eq!(encode_secret(&[0xfb, 0xff]), "-_8");
    }

    #[tokio::test]
    async fn binaries_are_uploaded_once_per_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = spindle_core::fs::LocalFs::new(0);
        let cache = format!("file://{}/cache", dir.path().display());
        let bin = dir.path().join("spindle-examples");
        std::fs::write(&bin, b"build one").expect("write");
        let load = |p: &Path| {
            let p = p.to_path_buf();
            async move { read_binary(&p, None).expect("read") }
        };
        let first = cached_binary(&fs, load(&bin).await, &cache, EXAMPLES_BINARY)
            .await
            .expect("staged");
        assert_eq!(first.visibility, Visibility::Private);
        assert_eq!(first.size, 9);
        let key = content_key(b"build one");
        assert_eq!(key.len(), 32);
        assert!(
            first
                .uri
                .ends_with(&format!("/cache/{key}/spindle-examples")),
            "{}",
            first.uri
        );
        // The same bytes again: the same file, untouched (same modification time).
        let again = cached_binary(&fs, load(&bin).await, &cache, EXAMPLES_BINARY)
            .await
            .expect("staged");
        assert_eq!(again, first);
        // A new build gets its own entry; no temporary file is left behind.
        std::fs::write(&bin, b"build two!").expect("write");
        let second = cached_binary(&fs, load(&bin).await, &cache, EXAMPLES_BINARY)
            .await
            .expect("staged");
        assert_ne!(second.uri, first.uri);
        for entry in [&key, &content_key(b"build two!")] {
            let names: Vec<String> = std::fs::read_dir(dir.path().join("cache").join(entry))
                .expect("cache entry")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["spindle-examples"]);
        }
        // An entry whose length is not the binary's is replaced, not used.
        let wrong = dir.path().join("cache").join(&key).join("spindle-examples");
        std::fs::write(&bin, b"build one").expect("write");
        std::fs::write(&wrong, b"trunc").expect("write");
        let fixed = cached_binary(&fs, load(&bin).await, &cache, EXAMPLES_BINARY)
            .await
            .expect("staged");
        assert_eq!(fixed.size, 9);
        assert_eq!(std::fs::read(&wrong).expect("read"), b"build one");
    }

    #[tokio::test]
    async fn a_remembered_hash_skips_reading_until_an_upload_needs_the_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let memo = KeyCache::at(dir.path().join("memo.json"));
        let fs = spindle_core::fs::LocalFs::new(0);
        let bin = dir.path().join("my-app");
        std::fs::write(&bin, b"build one").expect("write");
        let first = read_binary(&bin, Some(&memo)).expect("read");
        assert!(first.data.is_some());
        assert_eq!(first.sha256, sha256_hex(b"build one"));
        let again = read_binary(&bin, Some(&memo)).expect("read");
        assert!(again.data.is_none(), "hashed again");
        assert_eq!(
            (again.sha256.as_str(), again.len),
            (first.sha256.as_str(), 9)
        );
        // Not in this cluster's cache yet: the bytes are read for the upload.
        let cache = format!("file://{}/cache", dir.path().display());
        let staged = cached_binary(&fs, again, &cache, "my-app")
            .await
            .expect("staged");
        assert_eq!(staged.size, 9);
        // A memo that lies (it cannot, short of a file rewritten with its times
        // restored) is caught before anything is uploaded under the wrong key.
        memo.remember(Stamp::of(&bin).expect("stamp"), &sha256_hex(b"other"));
        let lied = read_binary(&bin, Some(&memo)).expect("read");
        let other_cache = format!("file://{}/other", dir.path().display());
        let e = cached_binary(&fs, lied, &other_cache, "my-app")
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("changed while"), "{e}");
    }

    #[test]
    fn body_has_everything_the_rm_needs() {
        let am = Resource {
            uri: "hdfs://nn:9000/user/u/.spindle/cache/00ff/spindle-am".into(),
            size: 123,
            timestamp: 456,
            visibility: Visibility::Private,
        };
        let exec = Resource {
            uri: "hdfs://nn:9000/user/u/.spindle/cache/00ff/spindle-executor".into(),
            size: 7,
            timestamp: 8,
            visibility: Visibility::Private,
        };
        let file = Resource {
            uri: "hdfs://nn:9000/user/u/.spindle/application_1_0001/words.txt".into(),
            size: 9,
            timestamp: 10,
            visibility: Visibility::Application,
        };
        let mut conf = HadoopConf::default();
        conf.set("yarn.resourcemanager.scheduler.address", "127.0.0.1:8030");
        conf.set("hadoop.rpc.protection", "privacy");
        let files = vec![("words.txt".to_string(), file)];
        let env = am_environment(
            &conf,
            "hdfs://nn:9000",
            "u",
            "hdfs://nn:9000/user/u/.spindle/application_1_0001",
            &exec,
            &files,
            "info,spindle=debug",
        );
        let s = Submission {
            am_name: EXAMPLES_BINARY.into(),
            app_id: "application_1_0001".into(),
            name: "spindle-wordcount".into(),
            queue: "default".into(),
            driver_mb: 256,
            am,
            files,
            environment: env,
            command: "./spindle-examples wordcount 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr".into(),
            secret: "c2VjcmV0".into(),
        };
        let b = submission_body(&s);
        assert_eq!(b["application-id"], "application_1_0001");
        assert_eq!(b["application-type"], "SPINDLE");
        assert_eq!(b["max-app-attempts"], 1);
        assert_eq!(b["resource"], json!({"memory": 256, "vCores": 1}));
        let spec = &b["am-container-spec"];
        assert_eq!(
            spec["local-resources"]["entry"][0],
            json!({"key": "spindle-examples", "value": {
                "resource": "hdfs://nn:9000/user/u/.spindle/cache/00ff/spindle-am",
                "type": "FILE", "visibility": "PRIVATE", "size": 123, "timestamp": 456}})
        );
        assert_eq!(spec["local-resources"]["entry"][1]["key"], "words.txt");
        assert_eq!(
            spec["local-resources"]["entry"][1]["value"]["visibility"],
            "APPLICATION"
        );
        let env: BTreeMap<String, String> = spec["environment"]["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap_or_default().to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(
            env["SPINDLE_EXECUTOR_RESOURCE"],
            "hdfs://nn:9000/user/u/.spindle/cache/00ff/spindle-executor|7|8|PRIVATE"
        );
        assert_eq!(
            env["SPINDLE_STAGING_DIR"],
            "hdfs://nn:9000/user/u/.spindle/application_1_0001"
        );
        assert_eq!(env["SPINDLE_RM_SCHEDULER_ADDRESS"], "127.0.0.1:8030");
        assert_eq!(env["SPINDLE_RPC_PROTECTION"], "privacy");
        assert_eq!(env["SPINDLE_DEFAULT_FS"], "hdfs://nn:9000");
        assert_eq!(env["HADOOP_USER_NAME"], "u");
        assert_eq!(env["RUST_LOG"], "info,spindle=debug");
        assert_eq!(
            env["SPINDLE_FILE_RESOURCES"],
            "hdfs://nn:9000/user/u/.spindle/application_1_0001/words.txt|9|10|APPLICATION"
        );
        assert_eq!(spec["commands"]["command"], s.command);
        assert_eq!(
            spec["credentials"],
            json!({"secrets": {"entry": [{"key": "spindle.app.secret", "value": "c2VjcmV0"}]}})
        );
    }

    #[test]
    fn environment_defaults_and_escaping() {
        let mut conf = HadoopConf::default();
        conf.set("yarn.resourcemanager.hostname", "rm.example");
        let exec = Resource {
            uri: "hdfs://nn/x".into(),
            size: 1,
            timestamp: 2,
            visibility: Visibility::Application,
        };
        let env = am_environment(&conf, "hdfs://nn", "u", "hdfs://nn/s", &exec, &[], "info");
        assert_eq!(env["SPINDLE_RM_SCHEDULER_ADDRESS"], "rm.example:8030");
        assert_eq!(env["SPINDLE_RPC_PROTECTION"], "authentication");
        assert!(!env.contains_key("SPINDLE_FILE_RESOURCES"));
        let s = Submission {
            am_name: EXAMPLES_BINARY.into(),
            app_id: "a".into(),
            name: "n".into(),
            queue: "q".into(),
            driver_mb: 1,
            am: exec.clone(),
            files: vec![],
            environment: BTreeMap::from([("RUST_LOG".into(), r#"a"$b"#.into())]),
            command: String::new(),
            secret: String::new(),
        };
        let b = submission_body(&s);
        assert_eq!(
            b["am-container-spec"]["environment"]["entry"][0]["value"],
            r#"a\"\$b"#
        );
    }

    #[test]
    fn sizes_against_the_largest_container() {
        let mut s = settings();
        let max = ResourceLimit {
            memory: 6144,
            vcores: 6,
        };
        assert!(check_sizes(&s, max, "queue root.default allows").is_empty());
        s.executor_memory = "100g".parse().expect("size");
        s.executor_cores = 8;
        let f = check_sizes(&s, max, "queue root.default allows");
        assert_eq!(
            f,
            [
                "executor memory 100g (102400 MB) is more than the largest container queue root.default allows: 6144 MB",
                "executor cores 8 is more than the largest container queue root.default allows: 6 vcores",
            ]
        );
        s.executor_memory = MemorySize::from_mib(512);
        s.executor_cores = 1;
        s.driver_memory = MemorySize::from_mib(8192);
        let f = check_sizes(&s, max, "x");
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("driver memory 8g (8192 MB)"), "{f:?}");
    }

    #[test]
    fn max_container_falls_back_to_yarn_site() {
        let facts = SchedulerFacts {
            kind: "x".into(),
            queues: vec![],
            max_allocation: None,
        };
        let mut conf = HadoopConf::default();
        conf.set("yarn.scheduler.maximum-allocation-mb", "2048");
        let (m, src) = max_container(&facts, None, &conf);
        assert_eq!((m.memory, m.vcores), (2048, 4));
        assert!(src.contains("yarn-site.xml"));
    }

    #[test]
    fn shipped_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.txt");
        std::fs::write(&a, "x").expect("write");
        let a = a.to_string_lossy().into_owned();
        let ok = plan_files(&[a.clone(), "hdfs://nn/data/b.txt".into()], "my-app").expect("valid");
        assert_eq!(ok[0].name, "a.txt");
        assert_eq!(ok[0].source, FileSource::Local(PathBuf::from(&a)));
        assert_eq!(ok[1].name, "b.txt");
        assert_eq!(
            ok[1].source,
            FileSource::Remote("hdfs://nn/data/b.txt".into())
        );
        let err = plan_files(
            &[
                a.clone(),
                "hdfs://nn/a.txt".into(),
                "/no/such/file".into(),
                "hdfs://nn/my-app".into(),
            ],
            "my-app",
        )
        .expect_err("should be refused");
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err[0].contains("two files named a.txt"), "{err:?}");
        assert!(
            err[1].contains("/no/such/file is not a local file"),
            "{err:?}"
        );
        assert!(err[2].contains("like the application's binary"), "{err:?}");
    }
}
