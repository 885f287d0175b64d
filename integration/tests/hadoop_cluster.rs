//! Proof that the loopback cluster is real Hadoop: HDFS through Hadoop's own CLI
//! classes, DistributedShell and MapReduce on YARN, aggregated logs, and the script's
//! error paths.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use spindle_integration::{Cluster, Settings, ensure_cluster};
use spindle_integration::{output_text as text, unique_name as unique};

async fn cli(cluster: &Cluster, main: &str, args: &[&str]) -> String {
    let out = cluster.hadoop_cli(main, args).await.expect("run java");
    assert!(
        out.status.success(),
        "{main} {args:?} failed:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const FS_SHELL: &str = "org.apache.hadoop.fs.FsShell";

/// The RM's record of the newest application with this name or tag.
async fn rm_app_named(cluster: &Cluster, name: &str) -> serde_json::Value {
    let url = format!("{}/ws/v1/cluster/apps?user.name=root", cluster.rm_url());
    let apps: serde_json::Value = reqwest::get(&url)
        .await
        .expect("RM REST answers")
        .json()
        .await
        .expect("RM REST gives JSON");
    apps["apps"]["app"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            a["name"] == name
                || a["applicationTags"]
                    .as_str()
                    .is_some_and(|t| t.split(',').any(|t| t == name))
        })
        .max_by_key(|a| a["startedTime"].as_u64())
        .cloned()
        .unwrap_or_else(|| panic!("RM knows no application named {name}: {apps}"))
}

#[tokio::test]
async fn hdfs_round_trip_with_hadoop_cli() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let dir = tempfile::tempdir().expect("tempdir");
    // 3.5 blocks of 1 MiB with a recognisable pattern.
    let data: Vec<u8> = (0..(3 * 1024 * 1024 + 512 * 1024))
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let local = dir.path().join("blocks.bin");
    std::fs::write(&local, &data).expect("write local file");
    let remote = format!("/tmp/{}.bin", unique("roundtrip"));
    let local_s = local.to_string_lossy().into_owned();
    cli(
        cluster,
        FS_SHELL,
        &["-D", "dfs.blocksize=1048576", "-put", &local_s, &remote],
    )
    .await;

    let back = dir.path().join("back.bin");
    let back_s = back.to_string_lossy().into_owned();
    cli(cluster, FS_SHELL, &["-get", &remote, &back_s]).await;
    assert!(
        std::fs::read(&back).expect("read back") == data,
        "bytes differ after put/get"
    );

    let fsck = cli(
        cluster,
        "org.apache.hadoop.hdfs.tools.DFSck",
        &[&remote, "-files", "-blocks", "-locations"],
    )
    .await;
    assert!(fsck.contains("Total blocks (validated):\t4"), "{fsck}");
    assert!(fsck.contains("is HEALTHY"), "{fsck}");
    // Two replicas per block, on both DataNodes.
    let block_lines: Vec<&str> = fsck.lines().filter(|l| l.contains("len=")).collect();
    assert_eq!(block_lines.len(), 4, "{fsck}");
    for l in block_lines {
        assert_eq!(l.matches("DatanodeInfoWithStorage").count(), 2, "{l}");
    }
    cli(cluster, FS_SHELL, &["-rm", "-skipTrash", &remote]).await;
}

#[tokio::test]
async fn distributed_shell_succeeds_on_two_containers() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let jar = cluster
        .jar("hadoop-yarn-applications-distributedshell")
        .expect("distributedshell jar");
    let jar = jar.to_string_lossy().into_owned();
    let name = unique("spindle-ds");
    let out = cli(
        cluster,
        "org.apache.hadoop.yarn.applications.distributedshell.Client",
        &[
            "-jar",
            &jar,
            "-appname",
            &name,
            "-shell_command",
            "echo spindle-ds-ok",
            "-num_containers",
            "2",
            "-container_memory",
            "128",
            "-master_memory",
            "256",
            "-timeout",
            "120000",
        ],
    )
    .await;
    let app = rm_app_named(cluster, &name).await;
    assert_eq!(app["state"], "FINISHED", "{app}\n{out}");
    assert_eq!(app["finalStatus"], "SUCCEEDED", "{app}\n{out}");
}

#[tokio::test]
async fn mapreduce_word_count_and_its_aggregated_logs() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let input = "the quick brown fox\njumps over the lazy dog\nthe end\n";
    let mut want: BTreeMap<&str, u32> = BTreeMap::new();
    for w in input.split_whitespace() {
        *want.entry(w).or_default() += 1;
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("words.txt");
    std::fs::write(&local, input).expect("write input");
    let base = format!("/tmp/{}", unique("mr-wc"));
    let (in_dir, out_dir) = (format!("{base}/in"), format!("{base}/out"));
    cli(cluster, FS_SHELL, &["-mkdir", "-p", &in_dir]).await;
    let local_s = local.to_string_lossy().into_owned();
    cli(cluster, FS_SHELL, &["-put", &local_s, &in_dir]).await;

    let examples = cluster
        .jar("hadoop-mapreduce-examples")
        .expect("examples jar");
    let examples = examples.to_string_lossy().into_owned();
    let name = unique("spindle-mr-wc");
    // WordCount names every job "word count": find ours by tag.
    let job_name = format!("-Dmapreduce.job.tags={name}");
    cli(
        cluster,
        "org.apache.hadoop.util.RunJar",
        &[&examples, "wordcount", &job_name, &in_dir, &out_dir],
    )
    .await;

    let result = cli(cluster, FS_SHELL, &["-cat", &format!("{out_dir}/part-r-*")]).await;
    let mut got: BTreeMap<&str, u32> = BTreeMap::new();
    for line in result.lines() {
        let (w, n) = line.split_once('\t').expect("word<TAB>count");
        got.insert(w, n.parse().expect("count"));
    }
    assert_eq!(got, want);

    let app = rm_app_named(cluster, &name).await;
    assert_eq!(app["finalStatus"], "SUCCEEDED", "{app}");
    let app_id = app["id"].as_str().expect("application id").to_string();

    // Aggregation finishes shortly after the application: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = cluster
            .hadoop_cli(
                "org.apache.hadoop.yarn.client.cli.LogsCLI",
                &["-applicationId", &app_id, "-appOwner", "root"],
            )
            .await
            .expect("run LogsCLI");
        let logs = text(&out);
        if out.status.success() && logs.contains("LogType:syslog") && logs.contains("MRAppMaster") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no aggregated logs for {app_id} after 90 s:\n{logs}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    cli(cluster, FS_SHELL, &["-rm", "-r", "-skipTrash", &base]).await;
}

/// A cluster that is never started: its own state directory and ports.
fn spare_settings(dir: &std::path::Path, offset: u16) -> Settings {
    Settings {
        state_dir: dir.to_path_buf(),
        dist_root: dir.to_path_buf(),
        port_offset: offset,
        ..Settings::defaults()
    }
}

#[tokio::test]
async fn down_on_a_stopped_cluster_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::new(spare_settings(dir.path(), 3000)).expect("java present");
    cluster.down().await.expect("down of nothing");
    cluster.down().await.expect("down again");
    assert!(!cluster.all_running());
}

#[tokio::test]
async fn a_taken_port_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = spare_settings(dir.path(), 3100);
    let port = s.port(9000);
    let _holder = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let err = Cluster::new(s)
        .expect("java present")
        .up()
        .await
        .expect_err("port is taken");
    let msg = err.to_string();
    assert!(
        msg.contains(&port.to_string()) && msg.contains("namenode"),
        "{msg}"
    );
}

#[test]
fn missing_java_and_failing_fetch_are_explained() {
    let bin = env!("CARGO_BIN_EXE_spindle-cluster");
    let dir = tempfile::tempdir().expect("tempdir");

    let out = std::process::Command::new(bin)
        .arg("up")
        .env_remove("JAVA_HOME")
        .env("PATH", "/nonexistent")
        .env("SPINDLE_CLUSTER_DIR", dir.path())
        .output()
        .expect("run spindle-cluster");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(msg.contains("java") && msg.contains("not found"), "{msg}");

    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .arg("up")
        .env("HADOOP_VERSION", "0.0.1-no-such-release")
        .env("SPINDLE_CLUSTER_DIR", dir.path())
        .env("SPINDLE_PORT_OFFSET", "3200")
        .output()
        .expect("run spindle-cluster");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        msg.contains("fetching Hadoop 0.0.1-no-such-release from Maven Central failed"),
        "{msg}"
    );
    assert!(start.elapsed() < Duration::from_secs(300));
}
