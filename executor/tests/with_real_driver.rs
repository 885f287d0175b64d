//! The executor runtime against `spindle_core::driver::Driver` itself, in one process
//! over loopback: a stage whose tasks answer, one of them failing once, on two
//! executors, then the driver's stop; and an executor with the wrong secret refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use spindle_conf::HadoopConf;
use spindle_core::driver::{Driver, DriverConfig, StageTask, TaskInput};
use spindle_executor::{
    ExecutorConfig, ExecutorError, ExitReason, TaskOutput, TaskRequest, TaskRunner,
};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(60);

fn executor(driver: &str, id: &str, secret: &[u8]) -> ExecutorConfig {
    ExecutorConfig {
        driver: driver.to_string(),
        executor_id: id.to_string(),
        container_id: format!("container_1700000000000_0001_01_00000{id}"),
        host: "127.0.0.1".into(),
        cores: 2,
        memory_bytes: 0,
        secret: secret.to_vec(),
        default_fs: "file:///".into(),
        user: "tester".into(),
        hadoop_conf: HadoopConf::default(),
    }
}

/// Answers `partition × 2` after a moment; partition 7's first attempt fails.
struct Doubler {
    failed_once: AtomicBool,
}

impl TaskRunner for Doubler {
    fn run(&self, task: TaskRequest) -> Result<TaskOutput, String> {
        std::thread::sleep(Duration::from_millis(5));
        if task.partition == 7 && !self.failed_once.swap(true, Ordering::SeqCst) {
            return Err("a failure the retry gets past".into());
        }
        let n: u32 = String::from_utf8_lossy(&task.payload)
            .parse()
            .map_err(|e| format!("payload: {e}"))?;
        Ok(TaskOutput {
            result: (n * 2).to_le_bytes().to_vec(),
            input_bytes: 1,
            ..TaskOutput::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_runs_on_two_executors_and_survives_a_failed_attempt() {
    let mut conf = DriverConfig::new(
        b"secret".to_vec(),
        "127.0.0.1:0".parse().expect("addr"),
        "127.0.0.1",
    );
    conf.heartbeat_interval = Duration::from_millis(100);
    conf.locality_wait = Duration::ZERO;
    let driver = Driver::start(conf).await.expect("driver starts");
    let runner: Arc<dyn TaskRunner> = Arc::new(Doubler {
        failed_once: AtomicBool::new(false),
    });
    let executors: Vec<_> = ["1", "2"]
        .into_iter()
        .map(|id| {
            tokio::spawn(spindle_executor::run_tasks(
                executor(driver.address(), id, b"secret"),
                runner.clone(),
            ))
        })
        .collect();

    let tasks: Vec<StageTask> = (0..40)
        .map(|p| StageTask {
            partition: p,
            hosts: Vec::new(),
            input: TaskInput::None,
        })
        .collect();
    let job = driver.begin_job("doubling");
    let out = timeout(
        WAIT,
        driver.run_stage(job, "double", tasks, |p, _| Bytes::from(p.to_string())),
    )
    .await
    .expect("the stage ends in time")
    .expect("the stage succeeds");
    driver.end_job(job, Ok(()));
    let mut answers: Vec<(u32, u32)> = out
        .winners
        .iter()
        .zip(&out.results)
        .map(|(w, (_, r))| {
            let bytes: [u8; 4] = r[..].try_into().expect("4 bytes");
            (w.0, u32::from_le_bytes(bytes))
        })
        .collect();
    answers.sort_unstable();
    assert_eq!(answers, (0..40).map(|p| (p, p * 2)).collect::<Vec<_>>());
    assert_eq!(out.failed_attempts, 1);
    assert_eq!(out.input_bytes, 40);
    let status = driver.status();
    let ran: Vec<u64> = status.executors.iter().map(|e| e.tasks_done).collect();
    assert_eq!(ran.iter().sum::<u64>(), 40, "{ran:?}");
    assert!(
        ran.iter().all(|&n| n > 0),
        "both executors ran tasks: {ran:?}"
    );

    driver.stop("job done").await;
    for e in executors {
        let exit = timeout(WAIT, e)
            .await
            .expect("executor ends")
            .expect("no panic")
            .expect("no error");
        assert_eq!(
            exit,
            ExitReason::Shutdown {
                reason: "job done".into()
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_secret_is_refused() {
    let conf = DriverConfig::new(
        b"secret".to_vec(),
        "127.0.0.1:0".parse().expect("addr"),
        "127.0.0.1",
    );
    let driver = Driver::start(conf).await.expect("driver starts");
    let err = timeout(
        WAIT,
        spindle_executor::run_tasks(executor(driver.address(), "9", b"guess"), common::runner()),
    )
    .await
    .expect("answered in time")
    .expect_err("refused");
    assert!(matches!(err, ExecutorError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("secret"), "{err}");
}
