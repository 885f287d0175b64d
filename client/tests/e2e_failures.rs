//! Failure handling end to end on the real cluster: a task that can never succeed
//! fails the job after its attempts, with the cause in the RM diagnostics and on the
//! client's screen and no output left; a killed executor's tasks are re-run elsewhere
//! and the job still gives the right answer.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

mod common;
use common::{fs_shell, spindle_cmd};
use spindle_integration::{Cluster, ensure_cluster};
use spindle_integration::{output_text as text, unique_name as unique};

async fn exists(cluster: &Cluster, path: &str) -> bool {
    cluster
        .hadoop_cli("org.apache.hadoop.fs.FsShell", &["-test", "-e", path])
        .await
        .expect("run FsShell")
        .status
        .success()
}

#[tokio::test]
async fn an_unreadable_input_fails_the_job_with_its_cause() {
    let cluster = ensure_cluster().await.expect("cluster up");
    // The input is readable by its owner only and the job runs as another user: the
    // NameNode refuses (a real failure, not an injected one).
    let user = "spindle-tester";
    let base = format!("/tmp/{}", unique("e2e-denied"));
    let input = format!("{base}/in/secret.txt");
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("secret.txt");
    std::fs::write(&local, "not for you\n").expect("write");
    let local_s = local.to_string_lossy().into_owned();
    fs_shell(
        cluster,
        &[
            "-mkdir",
            "-p",
            &format!("{base}/in"),
            &format!("/user/{user}"),
        ],
    )
    .await;
    fs_shell(cluster, &["-chown", user, &format!("/user/{user}")]).await;
    fs_shell(cluster, &["-chmod", "777", &base]).await;
    fs_shell(cluster, &["-put", &local_s, &input]).await;
    fs_shell(cluster, &["-chmod", "600", &input]).await;

    let out_dir = format!("{base}/out");
    let out = spindle_cmd(
        cluster,
        user,
        &[
            "submit",
            "--conf",
            "spindle.uber.max-input=0",
            "--timeout",
            "5m",
            "--num-executors",
            "2",
            "wordcount",
            &format!("{base}/in"),
            &out_dir,
        ],
    )
    .output()
    .await
    .expect("run spindle");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED"), "{t}");
    assert!(
        t.contains("Permission denied"),
        "the cause is on screen: {t}"
    );
    assert!(
        !t.contains("\tat org.apache"),
        "no Java stack trace on screen: {t}"
    );
    assert!(
        !exists(cluster, &out_dir).await,
        "a failed job left {out_dir}"
    );
    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &base]).await;
}

#[tokio::test]
async fn a_task_that_always_fails_fails_the_job_after_its_attempts() {
    let cluster = ensure_cluster().await.expect("cluster up");
    // A file whose block replicas are gone from both DataNodes' disks: the NameNode
    // still lists them (until the next block report), so planning succeeds and every
    // read attempt of the task fails.
    let base = format!("/tmp/{}", unique("e2e-lostblock"));
    let input = format!("{base}/in.txt");
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("in.txt");
    std::fs::write(&local, "a block that will vanish\n".repeat(100)).expect("write");
    let local_s = local.to_string_lossy().into_owned();
    fs_shell(cluster, &["-mkdir", "-p", &base]).await;
    fs_shell(cluster, &["-put", &local_s, &input]).await;
    let fsck = cluster
        .hadoop_cli(
            "org.apache.hadoop.hdfs.tools.DFSck",
            &[&input, "-files", "-blocks"],
        )
        .await
        .expect("fsck");
    let report = String::from_utf8_lossy(&fsck.stdout).into_owned();
    let block = report
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("blk_"))
        .and_then(|w| w.rsplit_once('_').map(|(b, _)| b.to_string()))
        .expect("a block id in fsck's report");
    let mut removed = 0;
    let mut stack = vec![cluster.settings().data_dir()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name == block || name.starts_with(&format!("{block}_")) {
                std::fs::remove_file(&p).expect("remove replica");
                removed += 1;
            }
        }
    }
    assert!(removed >= 2, "removed {removed} replica files of {block}");

    let out_dir = format!("{base}/out");
    let out = spindle_cmd(
        cluster,
        "root",
        &[
            "submit",
            "--conf",
            "spindle.uber.max-input=0",
            "--timeout",
            "5m",
            "--num-executors",
            "2",
            "--conf",
            "spindle.task.max-attempts=3",
            "wordcount",
            &input,
            &out_dir,
        ],
    )
    .output()
    .await
    .expect("run spindle");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILED"), "{t}");
    assert!(
        t.contains("failed 3 times"),
        "the attempts (as set) and the cause are on screen: {t}"
    );
    assert!(t.contains(&input), "the failing input is named: {t}");
    assert!(
        !exists(cluster, &out_dir).await,
        "a failed job left {out_dir}"
    );
    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &base]).await;
}

#[tokio::test]
async fn a_lost_executor_is_replaced_and_its_tasks_rerun() {
    let cluster = ensure_cluster().await.expect("cluster up");
    // Many splits so the job runs long enough to lose an executor in the middle.
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("in.txt");
    let mut data = Vec::new();
    for i in 0..600_000u32 {
        data.extend_from_slice(format!("alpha beta{} gamma\n", i % 7).as_bytes());
    }
    std::fs::write(&local, &data).expect("write");
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for w in String::from_utf8_lossy(&data).split_whitespace() {
        *want.entry(w.to_string()).or_default() += 1;
    }
    let base = format!("/tmp/{}", unique("e2e-lost"));
    let input = format!("{base}/in.txt");
    fs_shell(cluster, &["-mkdir", "-p", &base]).await;
    let local_s = local.to_string_lossy().into_owned();
    fs_shell(
        cluster,
        &["-D", "dfs.blocksize=65536", "-put", &local_s, &input],
    )
    .await;
    let out_dir = format!("{base}/out");

    let child = spindle_cmd(
        cluster,
        "root",
        &[
            "submit",
            "--conf",
            "spindle.uber.max-input=0",
            "--timeout",
            "5m",
            "--num-executors",
            "2",
            "wordcount",
            &input,
            &out_dir,
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn spindle");

    // Kill one executor process (they run on this machine) once two are up.
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        let out = tokio::process::Command::new("pgrep")
            // Executors run the examples binary without arguments; the AM has the job's.
            .args(["-x", "-f", "./spindle-examples"])
            .output()
            .await
            .expect("pgrep");
        let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if pids.len() >= 2 {
            break pids[0].clone();
        }
        assert!(Instant::now() < deadline, "executors never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let killed = tokio::process::Command::new("kill")
        .args(["-9", &victim])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());

    let out = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("job ends")
        .expect("spindle output");
    let t = text(&out);
    assert!(
        out.status.success(),
        "the job should survive a lost executor: {t}"
    );
    let result = fs_shell(cluster, &["-cat", &format!("{out_dir}/part-*")]).await;
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for line in result.lines() {
        let (w, n) = line.split_once('\t').expect("word<TAB>count");
        got.insert(w.to_string(), n.parse().expect("count"));
    }
    assert_eq!(got, want);
    fs_shell(cluster, &["-rm", "-r", "-skipTrash", &base]).await;
}
