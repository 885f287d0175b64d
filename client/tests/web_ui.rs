//! The AM's web UI on the real cluster, in a real headless Chromium, through the
//! ResourceManager's proxy: pages show the job, its stages with task attempts, the
//! executors and the environment; links stay under the proxy; a direct visit is
//! redirected to the proxy; the JSON API agrees; the YARN UI gets progress and the
//! final diagnostics; after the end `spindle history` serves the same pages from HDFS.
//!
//! Needs Debian's `chromium` (`integration/test-all` installs it) and `spindle-examples`
//! built beside `spindle`. `SPINDLE_UI_SCREENSHOT_DIR=docs` makes it
//! refresh the committed screenshots.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
mod common;
use common::{rm_app, spindle_cmd};
use spindle_integration::{ensure_cluster, output_text, unique_name};
use tokio::io::{AsyncBufReadExt, BufReader};

fn chromium_path() -> PathBuf {
    let p = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        p.is_file(),
        "{} missing: install Debian's chromium (integration/test-all does) or set CHROMIUM",
        p.display()
    );
    p
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=…`).
async fn chromium(url: &str, mode: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(chromium_path())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1360,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(mode)
            .arg(url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium within 60 s")
    .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url}: not JSON: {e}"))
}

fn screenshot_to(name: &str, scratch: &Path) -> PathBuf {
    match std::env::var_os("SPINDLE_UI_SCREENSHOT_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let dir = if dir.is_absolute() {
                dir
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
            };
            dir.join(name)
        }
        None => scratch.join(name),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_through_the_rm_proxy_in_chromium_then_history() {
    let cluster = ensure_cluster().await.expect("cluster");
    let http = reqwest::Client::new();
    let scratch = tempfile::tempdir().expect("tempdir");
    let base = format!("/tmp/{}", unique_name("web-ui"));
    let input = format!("{base}/in.txt");
    let output = format!("{base}/out");
    let local = scratch.path().join("in.txt");
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(24);
    std::fs::write(&local, &text).expect("input");
    let put = cluster.fs_shell(&["-mkdir", "-p", &base]).await.and(
        cluster
            .fs_shell(&["-put", &local.to_string_lossy(), &input])
            .await,
    );
    put.expect("input in HDFS");

    // The job takes a second; the UI stays up 45 s after it (spindle.ui.linger).
    let mut submit = spindle_cmd(
        cluster,
        "root",
        &[
            "submit",
            "--conf",
            "spindle.uber.max-input=0",
            "--name",
            "ui-check",
            "--num-executors",
            "2",
            "--conf",
            "spindle.ui.linger=45",
            "wordcount",
            &input,
            &output,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spindle submit");
    let mut lines = BufReader::new(submit.stdout.take().expect("stdout")).lines();
    let app = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("an application id within 60 s")
            .expect("stdout")
            .expect("submit printed its application id");
        if line.starts_with("application_") {
            break line.trim().to_string();
        }
    };
    let proxy = format!("{}/proxy/{app}", cluster.rm_url());

    // Wait until the job is over, following the JSON API through the proxy.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = http.get(format!("{proxy}/api/v1/progress")).send().await;
        if let Ok(r) = r
            && let Ok(v) = r.json::<Value>().await
            && v["state"] == "SUCCEEDED"
        {
            assert_eq!(v["progress"], 1.0);
            break;
        }
        assert!(Instant::now() < deadline, "job not SUCCEEDED within 90 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The YARN UI sees the AM's progress while it lingers.
    // (The AM reports it with its next heartbeat.)
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let report = rm_app(cluster, &app).await;
        assert_eq!(report["state"], "RUNNING", "{report}");
        if report["progress"].as_f64() == Some(100.0) {
            break;
        }
        assert!(Instant::now() < deadline, "RM progress not 100%: {report}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Jobs page, rendered by Chromium through the proxy.
    let jobs = chromium(&format!("{proxy}/"), "--dump-dom").await;
    // The examples name their jobs (`Context::set_job_description`).
    assert!(jobs.contains("wordcount of hdfs://"), "{jobs}");
    assert!(jobs.contains(&input) && jobs.contains(&output), "{jobs}");
    assert!(
        jobs.contains("SUCCEEDED") && jobs.contains("ui-check"),
        "{jobs}"
    );
    let stage_link = format!("href=\"/proxy/{app}/stages/0\"");
    assert!(
        jobs.contains(&stage_link),
        "links stay under the proxy: {jobs}"
    );

    // The map stage (the shuffle's map side): every task attempt with status, locality,
    // executor, duration, input.
    let stage = chromium(&format!("{proxy}/stages/0"), "--dump-dom").await;
    assert!(stage.contains("Stage 0: shuffle 0 of"), "{stage}");
    assert!(stage.contains("SUCCEEDED"), "{stage}");
    assert!(
        stage.contains("NODE_LOCAL") || stage.contains("NO_PREF") || stage.contains("ANY"),
        "{stage}"
    );
    assert!(stage.contains("container_"), "executor column: {stage}");
    let stage_json = json(&http, &format!("{proxy}/api/v1/stages/0")).await;
    let attempts = stage_json["stage"]["attempts"]
        .as_array()
        .expect("attempts");
    assert!(!attempts.is_empty());
    let bytes_read: u64 = attempts
        .iter()
        .filter(|a| a["state"] == "SUCCEEDED")
        .filter_map(|a| a["input_bytes"].as_u64())
        .sum();
    assert_eq!(
        bytes_read,
        text.len() as u64,
        "input bytes of the map tasks"
    );
    assert!(attempts.iter().all(|a| a["duration_ms"].is_u64()));

    // Executors: host, container, RSS, tasks, logs link to the NodeManager.
    let execs = chromium(&format!("{proxy}/executors/"), "--dump-dom").await;
    assert!(execs.contains("/node/containerlogs/container_"), "{execs}");
    let ex = json(&http, &format!("{proxy}/api/v1/executors")).await;
    let ex = ex["executors"].as_array().expect("executors").clone();
    assert!(!ex.is_empty());
    let done: u64 = ex.iter().filter_map(|e| e["tasks_done"].as_u64()).sum();
    assert!(done >= 2, "map and reduce tasks counted: {ex:?}");
    assert!(ex.iter().any(|e| e["rss_bytes"].as_u64().unwrap_or(0) > 0) || done > 0);

    // Environment: what runs where; the direct address redirects to the proxy.
    let env_page = chromium(&format!("{proxy}/environment/"), "--dump-dom").await;
    assert!(env_page.contains(&app), "{env_page}");
    assert!(env_page.contains("SPINDLE_UI_LINGER"), "{env_page}");
    let env = json(&http, &format!("{proxy}/api/v1/environment")).await;
    let direct = env["environment"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["entries"].as_array().cloned().unwrap_or_default())
        .find(|e| e[0] == "AM web address (redirects to the proxy)")
        .and_then(|e| e[1].as_str().map(str::to_string))
        .expect("the AM's own address on the environment page");
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = elsewhere
        .get(format!("{direct}stages/0"))
        .send()
        .await
        .expect("the AM answers");
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("{proxy}/stages/0").as_str())
    );

    // A screenshot of the stage page, as a user sees it through the YARN proxy.
    let shot = screenshot_to("ui-stage.png", scratch.path());
    chromium(
        &format!("{proxy}/stages/0"),
        &format!("--screenshot={}", shot.display()),
    )
    .await;
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    let jobs_shot = screenshot_to("ui-jobs.png", scratch.path());
    chromium(
        &format!("{proxy}/"),
        &format!("--screenshot={}", jobs_shot.display()),
    )
    .await;

    // The lingering AM ends by itself: the application SUCCEEDED with diagnostics.
    let status = tokio::time::timeout(Duration::from_secs(120), submit.wait())
        .await
        .expect("submit returns after the linger")
        .expect("exit status");
    let mut err = String::new();
    if let Some(mut e) = submit.stderr.take() {
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut err).await;
    }
    assert!(status.success(), "spindle submit: {status}: {err}");
    let report = rm_app(cluster, &app).await;
    assert_eq!(report["finalStatus"], "SUCCEEDED", "{report}");
    assert!(
        report["diagnostics"]
            .as_str()
            .is_some_and(|d| d.contains("the application finished (in executor containers)")),
        "{report}"
    );

    // History: the same pages, served by `spindle history` from HDFS.
    let hist = spindle_cmd(cluster, "root", &["history", &app, "--json"])
        .output()
        .await
        .expect("spindle history --json");
    assert!(hist.status.success(), "{}", output_text(&hist));
    let saved: Value = serde_json::from_slice(&hist.stdout).expect("history JSON");
    assert_eq!(saved["app_id"], app.as_str());
    assert_eq!(saved["state"], "SUCCEEDED");
    assert_eq!(
        saved["stages"][0]["attempts"].as_array().map(Vec::len),
        Some(attempts.len())
    );

    let listing = spindle_cmd(cluster, "root", &["history"])
        .output()
        .await
        .expect("list");
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains(&app),
        "{}",
        output_text(&listing)
    );

    let mut server = spindle_cmd(cluster, "root", &["history", &app, "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spindle history");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("history serves within 30 s")
        .expect("stdout")
        .expect("a URL line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("URL")
        .to_string();
    let page = chromium(&format!("{url}stages/0"), "--dump-dom").await;
    assert!(
        page.contains("History: ") && page.contains("Stage 0: shuffle 0 of"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/stages/0?") || page.contains("Task attempts 1–"),
        "{page}"
    );
    let jobs_hist = chromium(&url, "--dump-dom").await;
    assert!(jobs_hist.contains(&input) && jobs_hist.contains("SUCCEEDED"));
    let _ = server.kill().await;

    let unknown = spindle_cmd(cluster, "root", &["history", "application_1_99999"])
        .output()
        .await
        .expect("history of nothing");
    assert_eq!(unknown.status.code(), Some(2), "{}", output_text(&unknown));
    assert!(output_text(&unknown).contains("no history for application_1_99999"));
    let _ = cluster.fs_shell(&["-rm", "-r", "-f", &base]).await;
}
