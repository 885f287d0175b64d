//! The example applications submitted to the real cluster with `spindle submit
//! <binary> …`: the binary runs as the driver in the AM and as every executor, shuffles
//! go executor to executor, and the outputs equal references computed here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use spindle_integration::{Cluster, ensure_cluster, output_text, unique_name};

fn examples_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_spindle-examples"))
}

/// The `spindle` client, built beside the examples by `cargo test --workspace`.
fn spindle_bin() -> PathBuf {
    let p = examples_bin().with_file_name("spindle");
    assert!(
        p.is_file(),
        "{} missing: build the workspace (cargo build --workspace)",
        p.display()
    );
    p
}

async fn spindle(cluster: &Cluster, args: &[&str]) -> std::process::Output {
    spindle_with(cluster, args, &[]).await
}

async fn spindle_with(
    cluster: &Cluster,
    args: &[&str],
    env: &[(&str, &Path)],
) -> std::process::Output {
    let started = Instant::now();
    let out = tokio::process::Command::new(spindle_bin())
        .args(args)
        .envs(env.iter().copied())
        .env("HADOOP_CONF_DIR", cluster.conf_dir())
        .env("HADOOP_USER_NAME", "root")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run spindle");
    eprintln!("spindle {args:?}: {:.1} s", started.elapsed().as_secs_f64());
    out
}

async fn submit_ok(cluster: &Cluster, args: &[&str]) {
    let mut full = vec!["submit", "--timeout", "10m"];
    full.extend_from_slice(args);
    let out = spindle(cluster, &full).await;
    assert!(
        out.status.success(),
        "spindle {full:?} failed:\n{}",
        output_text(&out)
    );
}

async fn fs(cluster: &Cluster, args: &[&str]) {
    cluster.fs_shell(args).await.expect("hdfs dfs");
}

/// The part files of an HDFS output directory, fetched and concatenated in order;
/// checks `_SUCCESS` is there and `_temporary` is not.
async fn fetch_output(cluster: &Cluster, dir: &str) -> String {
    let local = tempfile::tempdir().expect("tempdir");
    let to = local.path().join("out");
    fs(cluster, &["-get", dir, &to.to_string_lossy()]).await;
    assert!(to.join("_SUCCESS").exists(), "no _SUCCESS in {dir}");
    assert!(!to.join("_temporary").exists(), "_temporary left in {dir}");
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&to)
        .expect("read output")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        })
        .collect();
    parts.sort();
    parts
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("part file"))
        .collect()
}

fn write_words(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut want = BTreeMap::new();
    for f in 0..3 {
        let mut text = String::new();
        for i in 0..20_000u64 {
            // Skewed: "the" on every line; many distinct tokens too.
            let line = format!(
                "the w{} x{} {}\n",
                i % 97,
                (i * 7 + f) % 5003,
                if i % 10 == 0 { "ünïcode" } else { "" }
            );
            for w in line
                .split([' ', '\t', '\n', '\r', '\u{c}'])
                .filter(|w| !w.is_empty())
            {
                *want.entry(w.to_string()).or_default() += 1;
            }
            text.push_str(&line);
        }
        std::fs::write(dir.join(format!("part-{f}")), text).expect("write");
    }
    want
}

fn parse_counts(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .map(|l| {
            let (w, n) = l.rsplit_once('\t').expect("word<TAB>count");
            (w.to_string(), n.parse().expect("count"))
        })
        .collect()
}

#[tokio::test]
async fn a_user_binary_runs_as_driver_and_executors_with_an_executor_to_executor_shuffle() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let local = tempfile::tempdir().expect("tempdir");
    let want = write_words(&local.path().join("in"));
    let base = format!("/tmp/{}", unique_name("user-app"));
    let input = format!("{base}/in");
    fs(cluster, &["-mkdir", "-p", &base]).await;
    // 64 KiB blocks: a dozen map tasks spread over both executors.
    fs(
        cluster,
        &[
            "-D",
            "dfs.blocksize=65536",
            "-put",
            &local.path().join("in").to_string_lossy(),
            &input,
        ],
    )
    .await;
    let bin = examples_bin();
    let bin = bin.to_string_lossy();

    // In executor containers (uber mode off): map outputs are fetched between executors.
    let out = format!("{base}/wc");
    submit_ok(
        cluster,
        &[
            "--conf",
            "spindle.uber.max-input=0",
            "--num-executors",
            "2",
            &bin,
            "wordcount",
            &input,
            &out,
            "--partitions",
            "3",
        ],
    )
    .await;
    assert_eq!(parse_counts(&fetch_output(cluster, &out).await), want);

    // Small enough to run inside the AM (the default for inputs up to 32 MiB).
    let out = format!("{base}/wc-in-am");
    submit_ok(cluster, &[&bin, "wordcount", &input, &out]).await;
    assert_eq!(parse_counts(&fetch_output(cluster, &out).await), want);

    // The application's own error fails the application, with its message.
    let failed = spindle(
        cluster,
        &[
            "submit",
            "--timeout",
            "10m",
            &bin,
            "wordcount",
            &input,
            &out,
        ],
    )
    .await;
    assert_eq!(failed.status.code(), Some(1), "{}", output_text(&failed));
    let text = output_text(&failed);
    assert!(text.contains("already exists"), "{text}");
}

#[tokio::test]
async fn teragen_sort_on_yarn_is_totally_ordered_and_keeps_every_record() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique_name("user-sort"));
    let bin = examples_bin();
    let bin = bin.to_string_lossy();
    let generated_dir = format!("{base}/gen");
    let sorted = format!("{base}/sorted");
    let n = 50_000u64;
    submit_ok(
        cluster,
        &[
            "--conf",
            "spindle.uber.max-input=0",
            "--num-executors",
            "2",
            &bin,
            "teragen",
            &n.to_string(),
            &generated_dir,
            "--partitions",
            "4",
        ],
    )
    .await;
    submit_ok(
        cluster,
        &[
            "--conf",
            "spindle.uber.max-input=0",
            "--num-executors",
            "2",
            &bin,
            "sort",
            &generated_dir,
            &sorted,
            "--partitions",
            "5",
        ],
    )
    .await;
    let generated = fetch_output(cluster, &generated_dir).await;
    let got = fetch_output(cluster, &sorted).await;
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got.len() as u64, n);
    for w in got.windows(2) {
        assert!(
            w[0][..10] <= w[1][..10],
            "out of order: {:?} then {:?}",
            &w[0][..10],
            &w[1][..10]
        );
    }
    let mut want: Vec<&str> = generated.lines().collect();
    let mut have = got.clone();
    want.sort_unstable();
    have.sort_unstable();
    assert_eq!(have, want, "the sort must keep every record exactly once");
}

#[tokio::test]
async fn every_transformation_matches_the_reference_on_yarn_with_spills() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let bin = examples_bin();
    let bin = bin.to_string_lossy();
    // 2 MiB per task: shuffles, aggregations, groups and sorts spill on the executors.
    submit_ok(
        cluster,
        &[
            "--conf",
            "spindle.uber.max-input=0",
            "--conf",
            "spindle.task.memory=2m",
            "--num-executors",
            "2",
            &bin,
            "selftest",
            "--records",
            "30000",
            "--partitions",
            "5",
        ],
    )
    .await;
}

#[tokio::test]
async fn executors_of_another_build_refuse_the_driver_and_the_job_fails_clearly() {
    let cluster = ensure_cluster().await.expect("cluster up");
    let local = tempfile::tempdir().expect("tempdir");
    // The same program, but another build: its bytes (and so its SHA-256) differ.
    let other = local.path().join("spindle-examples");
    let mut bytes = std::fs::read(examples_bin()).expect("read binary");
    bytes.extend_from_slice(b"\0another build");
    std::fs::write(&other, bytes).expect("write copy");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let base = format!("/tmp/{}", unique_name("mismatch"));
    fs(cluster, &["-mkdir", "-p", &base]).await;
    let input = local.path().join("in.txt");
    std::fs::write(&input, "a b c\n").expect("input");
    fs(
        cluster,
        &["-put", &input.to_string_lossy(), &format!("{base}/in.txt")],
    )
    .await;
    let bin = examples_bin();
    let bin = bin.to_string_lossy();
    let started = Instant::now();
    let out = spindle_with(
        cluster,
        &[
            "submit",
            "--timeout",
            "5m",
            "--conf",
            "spindle.uber.max-input=0",
            "--conf",
            "spindle.task.max-attempts=2",
            &bin,
            "wordcount",
            &format!("{base}/in.txt"),
            &format!("{base}/out"),
        ],
        &[("SPINDLE_TEST_PROGRAM_EXECUTOR", other.as_path())],
    )
    .await;
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("different binary than the driver"), "{text}");
    assert!(
        started.elapsed().as_secs() < 120,
        "took {:?}",
        started.elapsed()
    );
    let listing = cluster.fs_shell(&["-ls", &base]).await.expect("ls");
    assert!(
        !String::from_utf8_lossy(&listing).contains("/out"),
        "no output may be left"
    );
}
