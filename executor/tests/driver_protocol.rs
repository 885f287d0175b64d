//! The executor runtime against a fake driver: registration, heartbeats, tasks that
//! answer, fail, panic or are killed, slots, shutdown, and a driver that disappears.
//! Tasks run through [`common::ScriptRunner`], which their payloads script.

mod common;

use common::{Conn, FakeDriver, NONCE, SECRET, WAIT, runner};
use spindle_conf::HadoopConf;
use spindle_core::transport::{PROTOCOL_VERSION, secret_proof};
use spindle_executor::{ExecutorConfig, ExecutorError, ExitReason};
use spindle_proto::spindle::{
    KillTask, RegisterAck, Shutdown, TaskDescription, TaskState, TaskStatus, driver_message,
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
    let exec = tokio::spawn(spindle_executor::run_tasks(
        config(driver.address(), cores),
        runner(),
    ));
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

/// Task `task_id` (attempt 0) running `payload`.
fn task(task_id: u64, payload: &str) -> TaskDescription {
    TaskDescription {
        task_id,
        stage_id: 3,
        partition: task_id as u32,
        attempt: 0,
        input: None,
        payload: payload.as_bytes().to_vec(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_a_proof_of_the_secret_and_shuts_down() {
    let driver = FakeDriver::bind().await;
    let exec = tokio::spawn(spindle_executor::run_tasks(
        config(driver.address(), 3),
        runner(),
    ));
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
    let exec = tokio::spawn(spindle_executor::run_tasks(
        config(driver.address(), 1),
        runner(),
    ));
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
    let exec = tokio::spawn(spindle_executor::run_tasks(
        config(driver.address(), 1),
        runner(),
    ));
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
async fn a_task_answers_with_its_result_and_metrics() {
    let (mut conn, exec) = registered(2, 1000).await;
    let end = run_alone(&mut conn, task(1, "echo the answer")).await;
    assert_eq!(
        end.state,
        TaskState::Succeeded as i32,
        "{}",
        end.error_message
    );
    assert_eq!(end.result, b"the answer");
    let m = end.metrics.expect("metrics");
    assert_eq!(
        (m.input_bytes, m.input_records, m.output_records),
        (10, 1, 1)
    );
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_panics_are_failed_attempts_with_their_message() {
    let (mut conn, exec) = registered(1, 1000).await;
    let end = run_alone(&mut conn, task(1, "fail cannot read hdfs://nn/x")).await;
    assert_eq!(end.state, TaskState::Failed as i32);
    assert_eq!(end.error_message, "cannot read hdfs://nn/x");
    assert!(end.result.is_empty());

    let end = run_alone(&mut conn, task(2, "panic")).await;
    assert_eq!(end.state, TaskState::Failed as i32);
    assert!(
        end.error_message.contains("the task's own panic"),
        "{}",
        end.error_message
    );
    // The executor lives on: the slot is free for the next task.
    let end = run_alone(&mut conn, task(3, "echo still here")).await;
    assert_eq!(end.result, b"still here");
    shut_down(conn, exec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_tasks_are_reported_at_once_and_give_their_slot_back() {
    // One core: task 1 runs, task 2 waits for the slot.
    let (mut conn, exec) = registered(1, 20).await;
    launch(&mut conn, task(1, "sleep 600")).await;
    launch(&mut conn, task(2, "echo queued")).await;
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

    // Once the killed task's code returns, its slot runs the next task, and nothing
    // more is said of 1 or 2.
    launch(&mut conn, task(3, "echo next")).await;
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
    let (mut conn, exec) = registered(2, 1000).await;
    for id in 1..=6 {
        launch(&mut conn, task(id, "sleep 30")).await;
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
