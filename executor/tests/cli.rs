//! The `spindle-executor` binary: its help, its exit codes, and one run against a fake
//! driver with the container environment a NodeManager would set.

mod common;

use std::process::Stdio;

use common::{FakeDriver, NONCE, SECRET, WAIT};
use spindle_core::transport::{SECRET_ALIAS, secret_proof};
use spindle_hadoop_ipc::Credentials;
use spindle_proto::spindle::{Shutdown, driver_message};
use tokio::process::{Child, Command};
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_spindle-executor");

/// The binary with a container's environment (and nothing else from ours).
fn executor(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut creds = Credentials::new();
    creds.add_secret(SECRET_ALIAS, SECRET.to_vec());
    let tokens = dir.join("container_tokens");
    std::fs::write(&tokens, creds.write_token_storage()).expect("write tokens");
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("CONTAINER_ID", "container_1700000000000_0001_01_000002")
        .env("NM_HOST", "node1.example")
        .env("HADOOP_TOKEN_FILE_LOCATION", &tokens)
        .env("HADOOP_USER_NAME", "tester")
        .env("SPINDLE_DEFAULT_FS", "file:///")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn exit_of(child: Child) -> (i32, String) {
    let out = timeout(WAIT, child.wait_with_output())
        .await
        .expect("the executor exits in time")
        .expect("wait");
    (
        out.status.code().expect("an exit code, not a signal"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn help_names_the_flags_and_the_environment() {
    let out = Command::new(BIN).arg("--help").output().await.expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--driver",
        "--executor-id",
        "--cores",
        "--memory-mb",
        "HADOOP_TOKEN_FILE_LOCATION",
        "SPINDLE_DEFAULT_FS",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[tokio::test]
async fn bad_flags_and_a_missing_environment_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zero = executor(
        dir.path(),
        &[
            "--driver",
            "127.0.0.1:1",
            "--executor-id",
            "1",
            "--cores",
            "0",
        ],
    )
    .spawn()
    .expect("spawn");
    let (code, _) = exit_of(zero).await;
    assert_eq!(code, 1);

    let mut bare = executor(
        dir.path(),
        &[
            "--driver",
            "127.0.0.1:1",
            "--executor-id",
            "1",
            "--cores",
            "1",
        ],
    );
    bare.env_remove("CONTAINER_ID");
    let (code, stderr) = exit_of(bare.spawn().expect("spawn")).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("CONTAINER_ID"), "{stderr}");
}

#[tokio::test]
async fn exits_0_on_shutdown_and_2_when_the_driver_vanishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    for vanish in [false, true] {
        let driver = FakeDriver::bind().await;
        let address = driver.address();
        let child = executor(
            dir.path(),
            &[
                "--driver",
                &address,
                "--executor-id",
                "4",
                "--cores",
                "2",
                "--memory-mb",
                "1024",
            ],
        )
        .spawn()
        .expect("spawn");
        let (mut conn, reg) = driver.accept().await;
        assert_eq!(reg.executor_id, "4");
        assert_eq!(reg.container_id, "container_1700000000000_0001_01_000002");
        assert_eq!(reg.host, "node1.example");
        assert_eq!(reg.cores, 2);
        assert_eq!(reg.memory_bytes, 1024 << 20);
        assert_eq!(reg.secret_proof, secret_proof(SECRET, NONCE));
        conn.ack(100).await;
        conn.heartbeat().await;
        if vanish {
            drop(conn);
            let (code, stderr) = exit_of(child).await;
            assert_eq!(code, 2, "{stderr}");
            assert!(stderr.contains("went away"), "{stderr}");
        } else {
            conn.send(driver_message::Kind::Shutdown(Shutdown {
                reason: "application finished".into(),
            }))
            .await;
            let (code, stderr) = exit_of(child).await;
            assert_eq!(code, 0, "{stderr}");
            assert!(stderr.contains("application finished"), "{stderr}");
        }
    }
}
