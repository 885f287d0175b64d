//! `spindle` against the real loopback cluster: requests that must be refused before
//! anything happens (exit 2, a message naming the problem, no application in the RM, no
//! staging directory), and status/list/kill of applications that do not exist.

use std::collections::BTreeSet;
use std::process::Output;

use spindle_integration::unique_name as unique;
use spindle_integration::{Cluster, ensure_cluster};

/// Runs the built `spindle` against the cluster as root, with no settings from the
/// developer's environment. The binary to stage points at `spindle` itself: these
/// requests must be refused before anything is staged.
async fn spindle(cluster: &Cluster, args: &[&str]) -> Output {
    spindle_with_env(cluster, args, &[]).await
}

/// [`spindle`] with extra environment variables.
async fn spindle_with_env(cluster: &Cluster, args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = env!("CARGO_BIN_EXE_spindle");
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args)
        .env("HADOOP_CONF_DIR", cluster.conf_dir())
        .env("HADOOP_USER_NAME", "root")
        .env("SPINDLE_EXAMPLES_BINARY", bin)
        .env_remove("SPINDLE_CONF_DIR");
    for k in spindle_conf::spindle::KEYS {
        cmd.env_remove(k.env_var());
    }
    cmd.envs(env.iter().copied());
    cmd.output().await.expect("run spindle")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn fs_shell(cluster: &Cluster, args: &[&str]) {
    cluster.fs_shell(args).await.expect("hdfs dfs");
}

/// `/tmp/<unique>/in` with one small file; `/tmp/<unique>/out` too when asked.
async fn make_dirs(cluster: &Cluster, base: &str, with_output: bool) {
    let local = tempfile::tempdir().expect("tempdir");
    let file = local.path().join("part-0");
    std::fs::write(&file, "a b a\nc\n").expect("write local file");
    let input = format!("{base}/in");
    let output = format!("{base}/out");
    let mut mkdir = vec!["-mkdir", "-p", input.as_str()];
    if with_output {
        mkdir.push(output.as_str());
    }
    fs_shell(cluster, &mkdir).await;
    let file = file.to_string_lossy().into_owned();
    fs_shell(cluster, &["-put", &file, &format!("{input}/part-0")]).await;
}

/// The application staging directories in `/user/root/.spindle` (not the binary
/// cache or the history), through WebHDFS.
async fn staging_entries(cluster: &Cluster) -> BTreeSet<String> {
    let url = format!(
        "{}/webhdfs/v1/user/root/.spindle?op=LISTSTATUS&user.name=root",
        cluster.settings().namenode_http_url()
    );
    let resp = reqwest::get(&url).await.expect("WebHDFS answers");
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return BTreeSet::new();
    }
    let v: serde_json::Value = resp.json().await.expect("WebHDFS JSON");
    v["FileStatuses"]["FileStatus"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["pathSuffix"].as_str().map(str::to_string))
        .filter(|name| name.starts_with("application_"))
        .collect()
}

/// Every application the RM knows, as (id, name, type).
async fn rm_apps(cluster: &Cluster) -> Vec<(String, String, String)> {
    let url = format!("{}/ws/v1/cluster/apps?user.name=root", cluster.rm_url());
    let v: serde_json::Value = reqwest::get(&url)
        .await
        .expect("RM answers")
        .json()
        .await
        .expect("RM JSON");
    v["apps"]["app"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("name"), s("applicationType"))
        })
        .collect()
}

/// Asserts that `spindle submit` left nothing: no application named `name`, and no
/// staging directory beyond those of applications other tests submitted meanwhile.
async fn assert_nothing_left(cluster: &Cluster, name: &str, staging_before: &BTreeSet<String>) {
    let apps = rm_apps(cluster).await;
    assert!(
        !apps.iter().any(|(_, n, _)| n == name),
        "an application named {name} reached the RM: {apps:?}"
    );
    let known: BTreeSet<&str> = apps.iter().map(|(id, _, _)| id.as_str()).collect();
    let after = staging_entries(cluster).await;
    let leaked: Vec<&String> = after
        .difference(staging_before)
        .filter(|d| !known.contains(d.as_str()))
        .collect();
    assert!(leaked.is_empty(), "staging directories left: {leaked:?}");
}

/// Runs a submission that must be refused and returns its stderr.
async fn refused(cluster: &Cluster, name: &str, args: &[&str]) -> String {
    let before = staging_entries(cluster).await;
    let mut all = vec!["submit", "--name", name, "--detach"];
    all.extend_from_slice(args);
    let out = spindle(cluster, &all).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing submitted, nothing printed: {out:?}"
    );
    assert!(err.contains("nothing was staged or submitted"), "{err}");
    assert_nothing_left(cluster, name, &before).await;
    err
}

#[tokio::test]
async fn missing_input_is_refused() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique("spindle-missing"));
    let input = format!("{base}/no-such-input");
    let name = unique("checks-missing-input");
    let err = refused(
        cluster,
        &name,
        &["wordcount", &input, &format!("{base}/out")],
    )
    .await;
    let want = format!("input {}{input} does not exist", cluster.default_fs());
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
    // Only that: the rest of the request is fine.
    assert_eq!(err.matches("\n  - ").count(), 1, "{err}");
}

#[tokio::test]
async fn existing_output_is_refused() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique("spindle-exists"));
    make_dirs(cluster, &base, true).await;
    let name = unique("checks-existing-output");
    let err = refused(
        cluster,
        &name,
        &["wordcount", &format!("{base}/in"), &format!("{base}/out")],
    )
    .await;
    let want = format!("output {}{base}/out already exists", cluster.default_fs());
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
    assert_eq!(err.matches("\n  - ").count(), 1, "{err}");
}

#[tokio::test]
async fn too_much_memory_is_refused() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique("spindle-memory"));
    make_dirs(cluster, &base, false).await;
    let url = format!(
        "{}/ws/v1/cluster/scheduler?user.name=root",
        cluster.rm_url()
    );
    let v: serde_json::Value = reqwest::get(&url)
        .await
        .expect("RM answers")
        .json()
        .await
        .expect("RM JSON");
    let max = v["scheduler"]["schedulerInfo"]["maximumAllocation"]["memory"]
        .as_u64()
        .expect("the scheduler reports its maximum allocation");
    let name = unique("checks-memory");
    let input = format!("{base}/in");
    let output = format!("{base}/out");
    let err = refused(
        cluster,
        &name,
        &["--executor-memory", "100g", "linecount", &input, &output],
    )
    .await;
    assert!(
        err.contains("executor memory 100g (102400 MB) is more than the largest container"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{max} MB")),
        "names the limit {max} MB: {err}"
    );

    // The driver's memory is checked too, and a settings layer names its origin.
    let name = unique("checks-driver-memory");
    let err = refused(
        cluster,
        &name,
        &[
            "--conf",
            "spindle.driver.memory=1t",
            "linecount",
            &input,
            &output,
        ],
    )
    .await;
    assert!(
        err.contains("driver memory 1024g (1048576 MB) is more than the largest container"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_queue_is_refused() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique("spindle-queue"));
    make_dirs(cluster, &base, false).await;
    let name = unique("checks-queue");
    let err = refused(
        cluster,
        &name,
        &[
            "--queue",
            "no-such-queue",
            "wordcount",
            &format!("{base}/in"),
            &format!("{base}/out"),
        ],
    )
    .await;
    assert!(err.contains("queue no-such-queue does not exist"), "{err}");
    assert!(err.contains("leaf queues: root.default"), "{err}");
    let err = refused(
        cluster,
        &unique("checks-parent-queue"),
        &[
            "--queue",
            "root",
            "wordcount",
            &format!("{base}/in"),
            &format!("{base}/out"),
        ],
    )
    .await;
    assert!(err.contains("queue root is a parent queue"), "{err}");
}

#[tokio::test]
async fn invalid_settings_are_refused_before_the_cluster_is_asked() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let out = spindle(
        cluster,
        &["submit", "--num-executors", "0", "wordcount", "/in", "/out"],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("spindle.executor.instances"), "{err}");
    assert!(err.contains("--num-executors"), "{err}");
    let out = spindle(cluster, &["submit", "grep", "/in", "/out"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("grep takes exactly one job argument"), "{err}");
}

#[tokio::test]
async fn settings_file_and_environment_reach_the_checks() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let conf_dir = tempfile::tempdir().expect("tempdir");
    let dir = conf_dir.path().to_string_lossy().into_owned();
    std::fs::write(
        conf_dir.path().join("spindle-defaults.conf"),
        "# site defaults\nspindle.executor.memory   200g\nspindle.yarn.queue default\n",
    )
    .expect("write settings file");
    let base = format!("/tmp/{}", unique("spindle-layers"));
    let (input, output) = (format!("{base}/in"), format!("{base}/out"));
    let args = [
        "submit",
        "--detach",
        "linecount",
        input.as_str(),
        output.as_str(),
    ];
    // The file's value is used...
    let out = spindle_with_env(cluster, &args, &[("SPINDLE_CONF_DIR", &dir)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("executor memory 200g (204800 MB)"), "{err}");
    // ...the environment wins over it...
    let env = [
        ("SPINDLE_CONF_DIR", dir.as_str()),
        ("SPINDLE_EXECUTOR_MEMORY", "300g"),
    ];
    let out = spindle_with_env(cluster, &args, &env).await;
    let err = stderr(&out);
    assert!(err.contains("executor memory 300g (307200 MB)"), "{err}");
    // ...and a flag over both.
    let mut flagged = vec!["submit", "--executor-memory", "400g"];
    flagged.extend_from_slice(&args[1..]);
    let out = spindle_with_env(cluster, &flagged, &env).await;
    let err = stderr(&out);
    assert!(err.contains("executor memory 400g (409600 MB)"), "{err}");
    // A bad value in the file is named with its file and line.
    std::fs::write(
        conf_dir.path().join("spindle-defaults.conf"),
        "spindle.executor.cores  many\n",
    )
    .expect("write settings file");
    let out = spindle_with_env(cluster, &args, &[("SPINDLE_CONF_DIR", &dir)]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("spindle.executor.cores = \"many\""), "{err}");
    assert!(err.contains("spindle-defaults.conf line 1"), "{err}");
}

#[tokio::test]
async fn unknown_applications_give_clear_errors() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let id = "application_1000000000000_9999";
    for cmd in ["status", "kill"] {
        let out = spindle(cluster, &[cmd, id]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(&format!(
                "application {id} is not known to the ResourceManager"
            )),
            "{cmd}: {err}"
        );
        let out = spindle(cluster, &[cmd, "not-an-id"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("\"not-an-id\" is not an application id"),
            "{cmd}: {err}"
        );
    }
    let out = spindle(cluster, &["list", "--state", "DONE"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--state DONE is not a YARN application state"),
        "{err}"
    );
}

#[tokio::test]
async fn list_shows_what_the_rm_knows() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let out = spindle(
        cluster,
        &["list", "--all", "--state", "ALL", "--output", "json"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON array");
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect();
    let known: BTreeSet<String> = rm_apps(cluster).await.into_iter().map(|a| a.0).collect();
    // Applications may be submitted meanwhile; what was listed must have existed.
    assert!(listed.is_subset(&known), "{listed:?} vs {known:?}");
    if let Some(id) = listed.iter().next() {
        let out = spindle(cluster, &["status", id, "--output", "json"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let app: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(app["id"], id.as_str());
        let out = spindle(cluster, &["status", id]).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(&format!("Application   {id}\n")), "{text}");
    }
    let out = spindle(cluster, &["list"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ID "));
}
