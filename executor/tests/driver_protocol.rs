//! The executor against a fake driver: registration, heartbeats, map, reduce, failing
//! and killed tasks, shutdown, and a driver that disappears. Inputs are local files
//! under `file://` URIs.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{Conn, FakeDriver, NONCE, SECRET, WAIT};
use spindle_conf::HadoopConf;
use spindle_core::job::{
    Counts, JobKind, TaskPayload, decode_map_result, decode_shuffle_block, encode_payload,
    encode_shuffle_block, merge_into,
};
use spindle_core::transport::{PROTOCOL_VERSION, secret_proof};
use spindle_executor::{ExecutorConfig, ExecutorError, ExitReason};
use spindle_proto::spindle::task_description::Input;
use spindle_proto::spindle::{
    FileSplit, KillTask, RegisterAck, ShuffleInput, Shutdown, TaskDescription, TaskState,
    TaskStatus, driver_message,
};
use tokio::task::JoinHandle;
use tokio::time::timeout;

type Running = JoinHandle<Result<ExitReason, ExecutorError>>;

fn config(driver: String, cores: u32) -> ExecutorConfig {
    ExecutorConfig {
        driver,
        executor_id: "exec-7".into(),
        container_id: "container_1700000000000_0001_01_000007".into(),
        host: "node7.example".into(),
        cores,
        memory_bytes: 512 << 20,
        secret: SECRET.to_vec(),
        default_fs: "file:///".into(),
        user: "tester".into(),
        hadoop_conf: HadoopConf::default(),
    }
}

/// An executor registered with a fresh fake driver (heartbeats every `heartbeat_ms`).
async fn registered(cores: u32, heartbeat_ms: u64) -> (Conn, Running) {
    let driver = FakeDriver::bind().await;
    let exec = tokio::spawn(spindle_executor::run(config(driver.address(), cores)));
    let (mut conn, _) = driver.accept().await;
    conn.ack(heartbeat_ms).await;
    (conn, exec)
}

async fn finish(exec: Running) -> Result<ExitReason, ExecutorError> {
    timeout(WAIT, exec)
        .await
        .expect("the executor returns in time")
        .expect("the executor does not panic")
}

async fn shut_down(mut conn: Conn, exec: Running) {
    conn.send(driver_message::Kind::Shutdown(Shutdown {
        reason: "test over".into(),
    }))
    .await;
    let exit = finish(exec).await.expect("clean exit");
    assert_eq!(
        exit,
        ExitReason::Shutdown {
            reason: "test over".into()
        }
    );
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn map_task(task_id: u64, path: &str, start: u64, length: u64, reducers: u32) -> TaskDescription {
    TaskDescription {
        task_id,
        stage_id: 0,
        partition: 0,
        attempt: 0,
        input: Some(Input::FileSplit(FileSplit {
            path: path.to_string(),
            start,
            length,
            hosts: vec!["node7.example".into()],
        })),
        payload: encode_payload(&TaskPayload::Map {
            job: JobKind::WordCount,
            reducers,
        }),
    }
}

async fn launch(conn: &mut Conn, task: TaskDescription) {
    conn.send(driver_message::Kind::LaunchTask(task)).await;
}

/// The RUNNING status, then the final one, of a single task.
async fn run_alone(conn: &mut Conn, task: TaskDescription) -> TaskStatus {
    let id = task.task_id;
    launch(conn, task).await;
    let running = conn.status().await;
    assert_eq!(
        (running.task_id, running.state),
        (id, TaskState::Running as i32)
    );
    let end = conn.status().await;
    assert_eq!(end.task_id, id);
    end
}

/// Hadoop's `StringTokenizer` word count, the reference.
fn reference_word_count(text: &[u8]) -> Counts {
    let mut counts = Counts::default();
    for word in text
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_vec()).or_default() += 1;
    }
    counts
}

const TEXT: &str = "the quick brown fox\r\njumps over the lazy dog\n\
                    the dog sleeps\tand the fox runs\rnaïve café déjà vu\n\
                    \n   leading spaces and trailing   \nthe end";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_a_proof_of_the_secret_and_shuts_down() {
    let driver = FakeDriver::bind().await;
    let exec = tokio::spawn(spindle_executor::run(config(driver.address(), 3)));
    let (mut conn, reg) = driver.accept().await;
    assert_eq!(reg.protocol_version, PROTOCOL_VERSION);
    assert_eq!(reg.executor_id, "exec-7");
    assert_eq!(reg.container_id, "container_1700000000000_0001_01_000007");
    assert_eq!(reg.host, "node7.example");
    assert_eq!(reg.cores, 3);
    assert_eq!(reg.memory_bytes, 512 << 20);
    assert_eq!(reg.secret_proof, secret_proof(SECRET, NONCE));
    assert_ne!(reg.secret_proof, secret_proof(b"another secret", NONCE));
    conn.ack(1000).await;
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_an_error_with_the_drivers_reason() {
    let driver = FakeDriver::bind().await;
    let exec = tokio::spawn(spindle_executor::run(config(driver.address(), 1)));
    let (mut conn, _) = driver.accept().await;
    conn.send(driver_message::Kind::RegisterAck(RegisterAck {
        accepted: false,
        reason: "wrong application secret".into(),
        heartbeat_interval_ms: 0,
    }))
    .await;
    let err = finish(exec).await.expect_err("refused");
    assert!(
        matches!(&err, ExecutorError::Refused { reason, .. } if reason == "wrong application secret"),
        "{err}"
    );
    assert!(
        err.to_string().contains("wrong application secret"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_closing_during_registration_is_an_error() {
    let driver = FakeDriver::bind().await;
    let exec = tokio::spawn(spindle_executor::run(config(driver.address(), 1)));
    let (conn, _) = driver.accept().await;
    drop(conn);
    let err = finish(exec).await.expect_err("no answer");
    assert!(matches!(err, ExecutorError::Handshake { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_come_at_the_drivers_interval() {
    let (mut conn, exec) = registered(2, 50).await;
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        let hb = conn.heartbeat().await;
        assert_eq!(hb.executor_id, "exec-7");
        assert!(hb.running_task_ids.is_empty());
        assert!(hb.rss_bytes > 0, "VmRSS is reported");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_driver_ends_the_executor() {
    let (conn, exec) = registered(1, 1000).await;
    drop(conn);
    let exit = finish(exec).await.expect("not an error");
    assert!(matches!(exit, ExitReason::DriverGone { .. }), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_task_counts_words_into_reducer_buckets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.txt");
    std::fs::write(&path, TEXT).expect("write input");
    let uri = file_uri(&path);
    let len = TEXT.len() as u64;
    let reference = reference_word_count(TEXT.as_bytes());

    let (mut conn, exec) = registered(2, 1000).await;
    // Whole file in one split, then the same file in two splits cut mid-line.
    let whole = run_alone(&mut conn, map_task(1, &uri, 0, len, 3)).await;
    let half = len / 2;
    let first = run_alone(&mut conn, map_task(2, &uri, 0, half, 3)).await;
    let second = run_alone(&mut conn, map_task(3, &uri, half, len - half, 3)).await;

    let merged = |statuses: &[&TaskStatus]| {
        let mut all = Counts::default();
        for s in statuses {
            assert_eq!(s.state, TaskState::Succeeded as i32, "{}", s.error_message);
            let buckets = decode_map_result(&s.result).expect("map result");
            assert_eq!(buckets.len(), 3);
            for b in buckets {
                merge_into(&mut all, decode_shuffle_block(&b).expect("bucket"));
            }
        }
        all
    };
    assert_eq!(merged(&[&whole]), reference);
    assert_eq!(merged(&[&first, &second]), reference);

    let m = whole.metrics.expect("metrics");
    assert_eq!(m.input_records, TEXT.lines().count() as u64 + 1); // a lone \r ends a line too
    assert!(m.input_bytes >= len, "{m:?}");
    assert_eq!(m.output_records, reference.len() as u64);
    let lines = |s: &TaskStatus| s.metrics.as_ref().map_or(0, |m| m.input_records);
    assert_eq!(lines(&first) + lines(&second), m.input_records);

    // Each key lands in exactly one bucket.
    let buckets = decode_map_result(&whole.result).expect("map result");
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, b) in buckets.iter().enumerate() {
        for key in decode_shuffle_block(b).expect("bucket").into_keys() {
            assert_eq!(seen.insert(key, i), None);
        }
    }
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reduce_task_writes_the_merged_part_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir
        .path()
        .join("out/_temporary/attempt_1_00000_0/part-00000");
    let a: Counts = [(b"pear".to_vec(), 2), (b"apple".to_vec(), 1)]
        .into_iter()
        .collect();
    let b: Counts = [(b"apple".to_vec(), 4), (b"\xc3\xa9t\xc3\xa9".to_vec(), 1)]
        .into_iter()
        .collect();
    let task = TaskDescription {
        task_id: 11,
        stage_id: 1,
        partition: 0,
        attempt: 0,
        input: Some(Input::Shuffle(ShuffleInput {
            blocks: vec![
                encode_shuffle_block(&a),
                encode_shuffle_block(&b),
                encode_shuffle_block(&Counts::default()),
            ],
        })),
        payload: encode_payload(&TaskPayload::Reduce {
            job: JobKind::WordCount,
            output_file: file_uri(&output),
        }),
    };
    let (mut conn, exec) = registered(1, 1000).await;
    let end = run_alone(&mut conn, task).await;
    assert_eq!(
        end.state,
        TaskState::Succeeded as i32,
        "{}",
        end.error_message
    );
    assert!(end.result.is_empty());
    assert_eq!(end.metrics.expect("metrics").output_records, 3);
    let written = std::fs::read(&output).expect("part file");
    assert_eq!(written, "apple\t5\npear\t2\nété\t1\n".as_bytes());
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_say_what_failed_on_which_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = file_uri(&dir.path().join("no-such-file.txt"));
    let (mut conn, exec) = registered(2, 1000).await;

    let end = run_alone(&mut conn, map_task(1, &missing, 0, 1 << 20, 2)).await;
    assert_eq!(end.state, TaskState::Failed as i32);
    assert!(
        end.error_message.contains(&missing),
        "{}",
        end.error_message
    );
    assert!(end.result.is_empty());

    // A map payload with a shuffle input, and no input at all.
    let mut wrong = map_task(2, &missing, 0, 1, 2);
    wrong.input = Some(Input::Shuffle(ShuffleInput { blocks: vec![] }));
    let end = run_alone(&mut conn, wrong).await;
    assert_eq!(end.state, TaskState::Failed as i32);
    assert!(
        end.error_message.contains("file_split"),
        "{}",
        end.error_message
    );
    let mut none = map_task(3, &missing, 0, 1, 2);
    none.input = None;
    let end = run_alone(&mut conn, none).await;
    assert!(
        end.error_message.contains("no input"),
        "{}",
        end.error_message
    );

    // A payload that is not one.
    let mut garbage = map_task(4, &missing, 0, 1, 2);
    garbage.payload = b"\xffnot a payload".to_vec();
    let end = run_alone(&mut conn, garbage).await;
    assert_eq!(end.state, TaskState::Failed as i32);
    assert!(
        end.error_message.contains("payload"),
        "{}",
        end.error_message
    );

    // A corrupt shuffle block.
    let out = file_uri(&dir.path().join("out/part-00000"));
    let reduce = TaskDescription {
        task_id: 5,
        input: Some(Input::Shuffle(ShuffleInput {
            blocks: vec![
                encode_shuffle_block(&Counts::default()),
                b"\xff\xff\xff\xff\xff".to_vec(),
            ],
        })),
        payload: encode_payload(&TaskPayload::Reduce {
            job: JobKind::WordCount,
            output_file: out,
        }),
        ..Default::default()
    };
    let end = run_alone(&mut conn, reduce).await;
    assert_eq!(end.state, TaskState::Failed as i32);
    assert!(
        end.error_message.contains("shuffle block 1 of 2"),
        "{}",
        end.error_message
    );
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_tasks_stop_and_free_their_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Big enough that a debug build cannot count it before the kill arrives.
    let big = dir.path().join("big.txt");
    let line = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do\n";
    let big_text: Vec<u8> = line.iter().copied().cycle().take(64 << 20).collect();
    std::fs::write(&big, &big_text).expect("write big");
    let small = dir.path().join("small.txt");
    std::fs::write(&small, TEXT).expect("write small");
    let (big, small) = (file_uri(&big), file_uri(&small));

    // One core: task 1 runs, task 2 waits for the slot.
    let (mut conn, exec) = registered(1, 20).await;
    launch(&mut conn, map_task(1, &big, 0, big_text.len() as u64, 2)).await;
    launch(&mut conn, map_task(2, &small, 0, TEXT.len() as u64, 2)).await;
    let s = conn.status().await;
    assert_eq!((s.task_id, s.state), (1, TaskState::Running as i32));
    loop {
        let hb = conn.heartbeat().await;
        if hb.running_task_ids == [1, 2] {
            break;
        }
    }

    // Killing the queued task: it never runs.
    conn.send(driver_message::Kind::KillTask(KillTask {
        task_id: 2,
        attempt: 0,
        reason: "not needed".into(),
    }))
    .await;
    let s = conn.status().await;
    assert_eq!((s.task_id, s.state), (2, TaskState::Killed as i32));

    // Killing the running one; a kill of an unknown attempt is ignored.
    for (task_id, attempt) in [(1, 5), (1, 0)] {
        conn.send(driver_message::Kind::KillTask(KillTask {
            task_id,
            attempt,
            reason: "speculation lost".into(),
        }))
        .await;
    }
    let s = conn.status().await;
    assert_eq!((s.task_id, s.state), (1, TaskState::Killed as i32));

    // The slot is free again: the next task runs and nothing more is said of 1 or 2.
    launch(&mut conn, map_task(3, &small, 0, TEXT.len() as u64, 2)).await;
    let s = conn.status().await;
    assert_eq!((s.task_id, s.state), (3, TaskState::Running as i32));
    let s = conn.status().await;
    assert_eq!(
        (s.task_id, s.state),
        (3, TaskState::Succeeded as i32),
        "{}",
        s.error_message
    );
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_at_most_cores_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.txt");
    std::fs::write(&path, TEXT).expect("write input");
    let uri = file_uri(&path);
    let (mut conn, exec) = registered(2, 1000).await;
    for id in 1..=6 {
        launch(&mut conn, map_task(id, &uri, 0, TEXT.len() as u64, 2)).await;
    }
    let mut running = 0i32;
    let mut finished = 0;
    while finished < 6 {
        let s = conn.status().await;
        if s.state == TaskState::Running as i32 {
            running += 1;
            assert!(running <= 2, "more tasks than cores at once");
        } else {
            assert_eq!(s.state, TaskState::Succeeded as i32, "{}", s.error_message);
            running -= 1;
            finished += 1;
        }
    }
    shut_down(conn, exec).await;
}
