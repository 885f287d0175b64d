//! The executor against `spindle_core::driver::Driver` itself, in one process over
//! loopback: a word count over local files with two executors, then the driver's stop;
//! and an executor with the wrong secret refused.

use std::collections::BTreeMap;
use std::time::Duration;

use spindle_conf::HadoopConf;
use spindle_core::driver::{Driver, DriverConfig, JobSpec};
use spindle_core::fs::for_uri;
use spindle_core::job::JobKind;
use spindle_executor::{ExecutorConfig, ExecutorError, ExitReason};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_word_count_runs_on_two_executors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    let mut reference: BTreeMap<String, u64> = BTreeMap::new();
    for f in 0..3 {
        let mut text = String::new();
        for l in 0..200 {
            let line = format!("w{} w{} common line{f}\n", l % 7, (l * f) % 5);
            for w in line.split_ascii_whitespace() {
                *reference.entry(w.to_string()).or_default() += 1;
            }
            text.push_str(&line);
        }
        std::fs::write(input.join(format!("part-{f}")), text).expect("write input");
    }
    let input = format!("file://{}", input.display());
    let output = format!("file://{}/out", dir.path().display());

    let mut conf = DriverConfig::new(
        b"secret".to_vec(),
        "127.0.0.1:0".parse().expect("addr"),
        "127.0.0.1",
    );
    conf.heartbeat_interval = Duration::from_millis(100);
    let driver = Driver::start(conf).await.expect("driver starts");
    let executors: Vec<_> = ["1", "2"]
        .into_iter()
        .map(|id| {
            tokio::spawn(spindle_executor::run(executor(
                driver.address(),
                id,
                b"secret",
            )))
        })
        .collect();

    let fs = for_uri(&input, &HadoopConf::default(), "tester")
        .await
        .expect("local fs");
    let spec = JobSpec {
        job: JobKind::WordCount,
        input,
        output: output.clone(),
        reducers: 3,
        max_split_size: 1000,
    };
    let splits = driver.plan(&spec, fs.as_ref()).await.expect("planned");
    let report = timeout(WAIT, driver.run_job(&spec, splits, fs))
        .await
        .expect("the job ends in time")
        .expect("the job succeeds");
    assert!(report.map_tasks > 3, "{report:?}");
    assert_eq!(report.failed_attempts, 0);
    assert_eq!(report.output_files.len(), 3);

    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for part in &report.output_files {
        let path = part.strip_prefix("file://").expect("file URI");
        let text = std::fs::read_to_string(path).expect("part file");
        for line in text.lines() {
            let (word, n) = line.split_once('\t').expect("key\\tcount");
            let n: u64 = n.parse().expect("count");
            assert!(counted.insert(word.to_string(), n).is_none());
        }
    }
    assert_eq!(counted, reference);

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
        spindle_executor::run(executor(driver.address(), "9", b"guess")),
    )
    .await
    .expect("answered in time")
    .expect_err("refused");
    assert!(matches!(err, ExecutorError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("secret"), "{err}");
}
