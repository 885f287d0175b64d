//! A user's application outside this workspace: a fresh crate that depends on the
//! `spindle` library by path, its `main.rs` the README's example (a local variable
//! handed to a closure with `with`), built with cargo, run locally, then submitted to
//! the real cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use spindle_integration::{ensure_cluster, output_text, unique_name};

/// The `src/main.rs` the README gives newcomers to copy: the block after "and this
/// `src/main.rs`:". Testing that very text keeps the README's example from rotting.
fn readme_main_rs() -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let after = readme
        .split_once("and this `src/main.rs`:")
        .expect("the README's example application")
        .1;
    let block = after.split_once("```rust\n").expect("a rust block").1;
    block
        .split_once("```")
        .expect("the block's end")
        .0
        .to_string()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// Creates and builds the application; returns its binary.
fn build_app(dir: &Path) -> PathBuf {
    let spindle = workspace().join("spindle");
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"long-words\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nspindle = {{ path = {:?} }}\n\n\
             # As the Spindle workspace builds, so that this test reuses little and stays lean.\n\
             [profile.dev]\ndebug = \"line-tables-only\"\n[profile.dev.package.\"*\"]\ndebug = false\n",
            spindle.to_string_lossy()
        ),
    )
    .expect("Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), readme_main_rs()).expect("main.rs");
    // The workspace's lock file: the same dependency versions, no network needed.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).expect("Cargo.lock");
    let target = workspace().join("target").join("outside-workspace");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the application failed:\n{}",
        output_text(&out)
    );
    target.join("debug").join("long-words")
}

#[tokio::test]
async fn an_application_outside_the_workspace_runs_locally_and_on_yarn() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = build_app(&tmp.path().join("long-words"));

    // Locally, with no cluster and no Hadoop configuration.
    let input = tmp.path().join("in.txt");
    std::fs::write(&input, "a bb ccc dddd\nccc dddd eeeee\n").expect("input");
    let local_out = tmp.path().join("out");
    let out = Command::new(&app)
        .args([
            input.to_str().expect("utf-8"),
            local_out.to_str().expect("utf-8"),
            "3",
        ])
        .env_remove("HADOOP_CONF_DIR")
        .env_remove("HADOOP_HOME")
        .output()
        .expect("run the application");
    assert!(out.status.success(), "{}", output_text(&out));
    let mut got: Vec<String> = std::fs::read_dir(&local_out)
        .expect("output")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("part-"))
        .flat_map(|e| {
            std::fs::read_to_string(e.path())
                .expect("part")
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    got.sort();
    assert_eq!(got, vec!["ccc\t2", "dddd\t2", "eeeee\t1"]);

    // On YARN: the same binary as driver and executors.
    let cluster = ensure_cluster().await.expect("cluster up");
    let base = format!("/tmp/{}", unique_name("outside"));
    cluster
        .fs_shell(&["-mkdir", "-p", &base])
        .await
        .expect("mkdir");
    cluster
        .fs_shell(&[
            "-put",
            input.to_str().expect("utf-8"),
            &format!("{base}/in.txt"),
        ])
        .await
        .expect("put");
    let spindle = PathBuf::from(env!("CARGO_BIN_EXE_spindle-examples")).with_file_name("spindle");
    let out = tokio::process::Command::new(spindle)
        .args([
            "submit",
            "--timeout",
            "10m",
            "--conf",
            "spindle.uber.max-input=0",
        ])
        .arg(&app)
        .args([
            format!("{base}/in.txt"),
            format!("{base}/out"),
            "3".to_string(),
        ])
        .env("HADOOP_CONF_DIR", cluster.conf_dir())
        .env("HADOOP_USER_NAME", "root")
        .output()
        .await
        .expect("spindle submit");
    assert!(out.status.success(), "{}", output_text(&out));
    let listing = cluster
        .fs_shell(&["-cat", &format!("{base}/out/part-*")])
        .await
        .expect("cat");
    let mut got: Vec<String> = String::from_utf8_lossy(&listing)
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    assert_eq!(got, vec!["ccc\t2", "dddd\t2", "eeeee\t1"]);
}
