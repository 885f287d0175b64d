//! `spindle logs` on the real cluster: the logs of a running word count come from the
//! NodeManagers, those of the finished one from YARN's aggregated files in HDFS (and
//! equal what Hadoop's own `yarn logs` prints), for every container; an application
//! the RM does not know is found in HDFS; unknown ids, logs still being aggregated and
//! damaged files are refused with messages that say so.
//!
//! Needs `spindle-examples` built beside `spindle` (`cargo build -p spindle-examples`).

use std::collections::BTreeMap;
use std::path::Path;

use std::time::{Duration, Instant};

mod common;
use common::{fs_shell, rm_app, spindle};
use spindle_integration::{Cluster, ensure_cluster};
use spindle_integration::{output_text as text, unique_name as unique};

/// Text without the ANSI colours tracing writes into the log files.
fn plain(data: &[u8]) -> String {
    let re = regex::Regex::new("\x1b\\[[0-9;]*m").expect("regex");
    re.replace_all(&String::from_utf8_lossy(data), "")
        .into_owned()
}

/// One `yarn logs`-style section: container, node, aggregation type, file, text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    container: String,
    node: String,
    kind: String,
    file: String,
    data: Vec<u8>,
}

/// Splits `yarn logs` (and `spindle logs`) output into its sections, taking each
/// file's text by its LogLength.
fn sections(out: &[u8]) -> Vec<Section> {
    let mut found = Vec::new();
    let mut rest = out;
    let take_line = |rest: &mut &[u8]| -> Option<String> {
        let end = rest.iter().position(|b| *b == b'\n')?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        *rest = &rest[end + 1..];
        Some(line)
    };
    while let Some(line) = take_line(&mut rest) {
        let Some(title) = line.strip_prefix("Container: ") else {
            continue;
        };
        let (container, node) = title.split_once(" on ").expect("Container: X on N");
        let kind = take_line(&mut rest).expect("type line");
        let kind = kind
            .strip_prefix("LogAggregationType: ")
            .expect("LogAggregationType")
            .to_string();
        let mut file = String::new();
        let mut len = None;
        loop {
            let l = take_line(&mut rest).expect("header line");
            if let Some(f) = l.strip_prefix("LogType:") {
                file = f.to_string();
            } else if let Some(n) = l.strip_prefix("LogLength:") {
                len = Some(n.trim().parse::<usize>().expect("length"));
            } else if l == "LogContents:" {
                break;
            }
        }
        let len = len.expect("LogLength");
        let data = rest[..len].to_vec();
        rest = &rest[len..];
        let trailer = format!("\nEnd of LogType:{file}");
        assert!(
            rest.starts_with(trailer.as_bytes()),
            "no {trailer:?} after {container} {file}"
        );
        found.push(Section {
            container: container.to_string(),
            node: node.to_string(),
            kind,
            file,
            data,
        });
    }
    found
}

fn by_key(s: &[Section]) -> BTreeMap<(String, String), Vec<u8>> {
    s.iter()
        .map(|s| ((s.container.clone(), s.file.clone()), s.data.clone()))
        .collect()
}

/// A text file of about `mib` MiB in HDFS at `path`, big enough for a word count with
/// one executor to run for several seconds.
async fn put_input(cluster: &Cluster, path: &str, mib: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("in.txt");
    let mut data = Vec::with_capacity(mib << 20);
    let mut seed = 11u64;
    while data.len() < mib << 20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        for k in 0..10 {
            data.extend_from_slice(format!("w{} ", (seed >> (k * 4)) % 3000).as_bytes());
        }
        data.push(b'\n');
    }
    std::fs::write(&local, &data).expect("write input");
    fs_shell(cluster, &["-put", &local.to_string_lossy(), path]).await;
}

#[tokio::test]
async fn logs_of_a_running_then_finished_wordcount() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique("logs-e2e"));
    fs_shell(cluster, &["-mkdir", "-p", &base]).await;
    let input = format!("{base}/in.txt");
    put_input(cluster, &input, 100).await;
    let out = format!("{base}/out");
    let submitted = spindle(
        cluster,
        &[
            "submit",
            "--detach",
            "--num-executors",
            "1",
            "wordcount",
            &input,
            &out,
        ],
    )
    .await;
    assert!(submitted.status.success(), "{}", text(&submitted));
    let app = String::from_utf8_lossy(&submitted.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(app.starts_with("application_"), "{}", text(&submitted));

    // While it runs: from the NodeManagers, the AM's and the executor's tracing.
    let deadline = Instant::now() + Duration::from_secs(180);
    let live = loop {
        let o = spindle(cluster, &["logs", "--file", "stderr", &app]).await;
        let s = sections(&o.stdout);
        let am = s
            .iter()
            .find(|s| s.container.ends_with("_000001"))
            .map(|s| plain(&s.data));
        let executor = s
            .iter()
            .find(|s| !s.container.ends_with("_000001"))
            .map(|s| plain(&s.data));
        if o.status.success()
            && am
                .as_deref()
                .is_some_and(|t| t.contains("executor registered"))
            && executor
                .as_deref()
                .is_some_and(|t| t.contains("registered with the driver"))
        {
            break s;
        }
        let state = rm_app(cluster, &app).await["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !["FINISHED", "FAILED", "KILLED"].contains(&state.as_str()),
            "{app} ended {state} before its running logs showed the executor; last try:\n{}",
            text(&o)
        );
        assert!(
            Instant::now() < deadline,
            "no running logs in time:\n{}",
            text(&o)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(live.iter().all(|s| s.kind == "LOCAL"), "{live:?}");
    assert!(live.iter().all(|s| s.file == "stderr"), "{live:?}");
    assert!(
        live.iter().all(|s| s.node.starts_with("127.0.0.")),
        "{live:?}"
    );

    // Finished and aggregated: from HDFS.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let rm = rm_app(cluster, &app).await;
        if rm["state"] == "FINISHED" && rm["logAggregationStatus"] == "SUCCEEDED" {
            assert_eq!(rm["finalStatus"], "SUCCEEDED", "{rm}");
            break;
        }
        assert!(
            !["FAILED", "KILLED"].contains(&rm["state"].as_str().unwrap_or_default()),
            "{rm}"
        );
        assert!(Instant::now() < deadline, "not aggregated in time: {rm}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let o = spindle(cluster, &["logs", &app]).await;
    assert!(o.status.success(), "{}", text(&o));
    let all = sections(&o.stdout);
    assert!(all.iter().all(|s| s.kind == "AGGREGATED"), "{all:?}");
    let am_id = format!(
        "container_{}_01_000001",
        app.trim_start_matches("application_")
    );
    let am_stderr = all
        .iter()
        .find(|s| s.container == am_id && s.file == "stderr")
        .map(|s| plain(&s.data))
        .expect("the AM's stderr");
    for want in [
        "registered",
        "executor launched",
        "executor registered",
        "job done",
    ] {
        assert!(am_stderr.contains(want), "{want} missing:\n{am_stderr}");
    }
    // Every container the AM launched is there, with the executor's own lines.
    let launched: Vec<String> = regex::Regex::new(r"executor launched container=(\S+)")
        .expect("regex")
        .captures_iter(&am_stderr)
        .map(|c| c[1].to_string())
        .collect();
    assert!(!launched.is_empty(), "{am_stderr}");
    let mut containers: Vec<&str> = all.iter().map(|s| s.container.as_str()).collect();
    containers.dedup();
    let mut want: Vec<&str> = launched.iter().map(String::as_str).collect();
    want.push(&am_id);
    want.sort();
    assert_eq!(containers, want);
    for c in &launched {
        let files: Vec<&str> = all
            .iter()
            .filter(|s| &s.container == c)
            .map(|s| s.file.as_str())
            .collect();
        for f in ["stderr", "stdout", "launch_container.sh", "prelaunch.out"] {
            assert!(files.contains(&f), "{c} lacks {f}: {files:?}");
        }
        let stderr = all
            .iter()
            .find(|s| &s.container == c && s.file == "stderr")
            .map(|s| plain(&s.data))
            .unwrap_or_default();
        assert!(
            stderr.contains("registered with the driver at") && stderr.contains(c.as_str()),
            "{c}:\n{stderr}"
        );
    }
    // The AM's stdout has the job's summary line.
    let am_stdout = all
        .iter()
        .find(|s| s.container == am_id && s.file == "stdout")
        .map(|s| plain(&s.data))
        .expect("the AM's stdout");
    assert!(am_stdout.contains("wordcount of"), "{am_stdout}");

    // The same bytes as Hadoop's own reader.
    let yarn = cluster
        .hadoop_cli(
            "org.apache.hadoop.yarn.client.cli.LogsCLI",
            &["-applicationId", &app],
        )
        .await
        .expect("yarn logs");
    assert!(yarn.status.success(), "{}", text(&yarn));
    assert_eq!(by_key(&all), by_key(&sections(&yarn.stdout)));

    // Choosing containers and files.
    let o = spindle(cluster, &["logs", "--am-only", "--file", "stderr", &app]).await;
    assert!(o.status.success(), "{}", text(&o));
    let s = sections(&o.stdout);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (s[0].container.as_str(), s[0].file.as_str()),
        (am_id.as_str(), "stderr")
    );
    let o = spindle(
        cluster,
        &[
            "logs",
            "--container",
            &launched[0],
            "--file",
            "stdout,stderr",
            &app,
        ],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let s = sections(&o.stdout);
    assert_eq!(
        s.iter().map(|s| s.file.as_str()).collect::<Vec<_>>(),
        ["stderr", "stdout"]
    );
    assert!(s.iter().all(|s| s.container == launched[0]), "{s:?}");
    let o = spindle(cluster, &["logs", "--file", "gc.log", &app]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no log file named gc.log") && text(&o).contains("stderr"),
        "{}",
        text(&o)
    );

    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &base]).await;
}

/// An id no RM of this test cluster has handed out (`cluster` is a made-up cluster
/// timestamp), and where its aggregated logs would be.
fn forgotten_app(cluster: u64) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = 1000 + (nanos ^ std::process::id()) % 9000;
    let app = format!("application_{cluster}_{n:04}");
    let dir = format!("/app-logs/root/bucket-logs-tfile/{n:04}/{app}");
    (app, dir)
}

#[tokio::test]
async fn applications_the_rm_forgot_are_read_from_hdfs() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let (app, dir) = forgotten_app(1_000_000_000_000);
    fs_shell(cluster, &["-mkdir", "-p", &dir]).await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");

    // Only a file still being written: aggregation is under way.
    let tmp = format!("{dir}/127.0.0.2_8041.tmp");
    let none = fixtures.join("aggregated-none.tfile");
    fs_shell(cluster, &["-put", &none.to_string_lossy(), &tmp]).await;
    let o = spindle(cluster, &["logs", &app]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("being aggregated") && text(&o).contains("try again in a few seconds"),
        "{}",
        text(&o)
    );

    // Done: a real node file (from the fixture) and a gz one from another node.
    fs_shell(cluster, &["-mv", &tmp, &format!("{dir}/127.0.0.2_8041")]).await;
    let gz = fixtures.join("aggregated-gz.tfile");
    fs_shell(
        cluster,
        &[
            "-put",
            &gz.to_string_lossy(),
            &format!("{dir}/127.0.0.3_8041"),
        ],
    )
    .await;
    let o = spindle(cluster, &["logs", "--file", "stderr", &app]).await;
    assert!(o.status.success(), "{}", text(&o));
    let s = sections(&o.stdout);
    let nodes: std::collections::BTreeSet<&str> = s.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(
        nodes.into_iter().collect::<Vec<_>>(),
        ["127.0.0.2_8041", "127.0.0.3_8041"]
    );
    // Both files hold the same three containers: six stderr sections, AMs first.
    assert_eq!(s.len(), 6, "{s:?}");
    assert!(s[0].container.ends_with("_000001"), "{s:?}");
    assert!(plain(&s[0].data).contains("executor registered"), "{s:?}");

    // A damaged file is named in the error.
    let bad = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(bad.path(), b"not a tfile at all").expect("write");
    fs_shell(
        cluster,
        &[
            "-put",
            &bad.path().to_string_lossy(),
            &format!("{dir}/127.0.0.9_8041"),
        ],
    )
    .await;
    let o = spindle(cluster, &["logs", &app]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("127.0.0.9_8041 is not a readable YARN aggregated log file"),
        "{}",
        text(&o)
    );
    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &dir]).await;
    let bucket = dir.rsplit_once('/').map(|(b, _)| b).unwrap_or(&dir);
    fs_shell(cluster, &["-rmdir", "--ignore-fail-on-non-empty", bucket]).await;
}

#[tokio::test]
async fn unknown_and_invalid_ids_are_refused() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let (app, _) = forgotten_app(1_000_000_000_001);
    let o = spindle(cluster, &["logs", &app]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "application {app} is not known to the ResourceManager"
        )) && text(&o).contains("no aggregated logs under /app-logs"),
        "{}",
        text(&o)
    );
    let o = spindle(cluster, &["logs", "application_x"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not an application id"), "{}", text(&o));
    let o = spindle(
        cluster,
        &["logs", "--container", "container_1_0001_01_000001", &app],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is not a container of"), "{}", text(&o));
}
