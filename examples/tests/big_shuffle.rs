//! A word count whose shuffle is larger than 1 GiB (128 M distinct words, 1.1 GiB of
//! text) on the real cluster, with 512 MB executors: the answer is right, the AM's peak
//! RSS stays under 50 MB and each executor's under its container size.
//!
//! It runs the release build of the examples (built here if needed): a debug build
//! would spend half an hour on the same bytes. Peaks are the kernel's own high-water
//! marks (`VmHWM`), read from `/proc` by the bench's sampler.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use spindle_bench::procs::Sampler;
use spindle_integration::{Cluster, ensure_cluster, output_text, unique_name};

const LINES: u64 = 16_000_000;
const WORDS: u64 = LINES * 8;
const MIB: u64 = 1024 * 1024;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The release builds of `spindle-examples` and `spindle`.
fn release_binaries() -> (PathBuf, PathBuf) {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "spindle-examples",
            "-p",
            "spindle-client",
        ])
        .current_dir(workspace())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "release build failed:\n{}",
        output_text(&out)
    );
    let dir = workspace().join("target").join("release");
    (dir.join("spindle-examples"), dir.join("spindle"))
}

async fn submit(cluster: &Cluster, spindle: &Path, args: &[&str]) -> String {
    let started = Instant::now();
    let out = tokio::process::Command::new(spindle)
        .arg("submit")
        .args(["--timeout", "30m"])
        .args(args)
        .env("HADOOP_CONF_DIR", cluster.conf_dir())
        .env("HADOOP_USER_NAME", "root")
        .kill_on_drop(true)
        .output()
        .await
        .expect("spindle submit");
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "spindle submit {args:?} failed:\n{text}"
    );
    eprintln!("{args:?}: {:.1} s", started.elapsed().as_secs_f64());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

async fn cat(cluster: &Cluster, glob: &str) -> String {
    String::from_utf8_lossy(&cluster.fs_shell(&["-cat", glob]).await.expect("cat")).into_owned()
}

#[tokio::test]
async fn a_word_count_with_a_shuffle_over_1_gib_fits_512_mb_executors_and_a_small_am() {
    let (examples, spindle) = release_binaries();
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique_name("big-shuffle"));
    let (text, counts) = (format!("{base}/text"), format!("{base}/counts"));
    let bin = examples.to_string_lossy();
    let no_uber = ["--conf", "spindle.uber.max-input=0"];
    submit(
        cluster,
        &spindle,
        &[
            &no_uber[..],
            &[
                "--num-executors",
                "4",
                &bin,
                "textgen",
                &LINES.to_string(),
                &text,
                "--partitions",
                "16",
            ],
        ]
        .concat(),
    )
    .await;

    let sampler = Sampler::start(Duration::from_millis(100), Duration::from_secs(1800));
    let app = submit(
        cluster,
        &spindle,
        &[
            &no_uber[..],
            &[
                "--num-executors",
                "2",
                "--executor-memory",
                "512m",
                &bin,
                "wordcount",
                &text,
                &counts,
                "--partitions",
                "8",
            ],
        ]
        .concat(),
    )
    .await;
    let memory = sampler.finish().for_app(&app);

    // Every word once, each counted once: checked by two more jobs on the output.
    let (lines, not_one) = (format!("{base}/lines"), format!("{base}/not-one"));
    submit(cluster, &spindle, &[&bin, "linecount", &counts, &lines]).await;
    assert_eq!(
        cat(cluster, &format!("{lines}/part-*")).await.trim(),
        format!("lines\t{WORDS}")
    );
    submit(
        cluster,
        &spindle,
        &[&bin, "grep", &counts, &not_one, "\t([02-9]|1[0-9])"],
    )
    .await;
    assert_eq!(
        cat(cluster, &format!("{not_one}/part-*")).await,
        "",
        "a count other than 1"
    );

    let am = memory.am.expect("the AM was sampled");
    eprintln!(
        "AM peak {} MiB; executors {:?} MiB",
        am.peak_bytes / MIB,
        memory
            .executors
            .iter()
            .map(|e| e.peak_bytes / MIB)
            .collect::<Vec<_>>()
    );
    assert!(
        am.peak_bytes < 50 * MIB,
        "AM peak {} MiB",
        am.peak_bytes / MIB
    );
    assert!(!memory.executors.is_empty(), "no executor was sampled");
    for e in &memory.executors {
        assert!(
            e.peak_bytes < 512 * MIB,
            "{} peaked at {} MiB",
            e.container,
            e.peak_bytes / MIB
        );
    }
    cluster
        .fs_shell(&["-rm", "-r", "-skipTrash", &base])
        .await
        .expect("clean up");
}
