//! The whole benchmark: set up, P1, P2, P5, P4, then the tables, JSON and chart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::answer::{Answer, answer_of_parts};
use super::hdfs::Hdfs;
use super::p4;
use super::procs::Sampler;
use super::report::{BenchSettings, Part, Results, RunRecord, SystemResult, check_goals, markdown};
use super::rm::Rm;
use super::size::{format_size, size_tag};
use super::systems::{Env, run_job, stage_floor};
use super::terasort::{self, sort_file, sorted_answer};
use super::textgen::{GENERATOR_VERSION, generate};
use super::wordcount::{count_file, write_counts};
use super::{BenchConfig, BenchError, System, Workload, chart, machine, progress, spark};

/// Which part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    P1,
    P2,
    P5,
}

impl PartKind {
    fn key(self) -> &'static str {
        match self {
            PartKind::P1 => "p1",
            PartKind::P2 => "p2",
            PartKind::P5 => "p5",
        }
    }

    fn workload(self) -> Workload {
        match self {
            PartKind::P1 | PartKind::P2 => Workload::WordCount,
            PartKind::P5 => Workload::Sort,
        }
    }

    /// Whether it measures throughput against the single-machine limit.
    fn has_limit(self) -> bool {
        self != PartKind::P1
    }
}

/// A row of a part: a cluster system or the single-machine count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Cluster(System),
    Local,
}

impl Row {
    fn key(self) -> &'static str {
        match self {
            Row::Cluster(s) => s.key(),
            Row::Local => "local",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Row::Cluster(s) => s.label(),
            Row::Local => "Single-machine limit",
        }
    }
}

/// Runs the benchmark and writes `results.md`, `results.json` and `chart.svg` into
/// `cfg.out_dir`. A failed job or a wrong answer does not stop it: the results say so
/// (`valid: false`). Setup problems (no Java, no pip, no binaries) stop it early.
pub async fn run(cfg: &BenchConfig) -> Result<Results, BenchError> {
    if cfg.runs == 0 || cfg.p1_runs == 0 {
        return Err(BenchError::Invalid(
            "--runs and --p1-runs must be at least 1".into(),
        ));
    }
    if cfg.systems.is_empty() {
        return Err(BenchError::Invalid("no system to run".into()));
    }
    progress("cluster: using the loopback cluster (starting it if it is down)");
    let cluster = spindle_integration::ensure_cluster().await?;
    let hdfs = Hdfs::new(cluster)?;
    let rm = Rm::new(cluster)?;
    let data_dir = cfg.work_dir.join("data");
    let log_dir = cfg.work_dir.join("logs");
    for d in [&data_dir, &log_dir, &cfg.out_dir] {
        std::fs::create_dir_all(d)
            .map_err(|e| BenchError::io(format!("creating {}", d.display()), e))?;
    }

    let mut machine = machine::local_facts(&cfg.repo_dir);
    machine.hadoop_version = rm.hadoop_version().await?;
    let s = cluster.settings();
    machine.cluster = format!(
        "loopback: NameNode, 2 DataNodes, ResourceManager, 2 NodeManagers ({} MB, {} vcores each); inputs in HDFS blocks of {}, replication 2",
        s.nm_memory_mb,
        s.nm_vcores,
        format_size(crate::hdfs::INPUT_BLOCK_SIZE)
    );

    // Setup, none of it timed.
    if cfg.runs_system(System::Spindle)
        || cfg.runs_system(System::SpindleExecutors)
        || cfg.runs_system(System::Floor)
    {
        for b in ["spindle", "spindle-am", "spindle-examples"] {
            let p = cfg.bin_dir.join(b);
            if !p.is_file() {
                return Err(BenchError::Invalid(format!(
                    "{} not found: build it first (cargo build --release -p spindle-client -p spindle-yarn-am -p spindle-examples; integration/bench does)",
                    p.display()
                )));
            }
        }
    }
    let mr_jar = if cfg.runs_system(System::MapReduce) {
        Some(cluster.jar("hadoop-mapreduce-examples")?)
    } else {
        None
    };
    let spark = if cfg.runs_system(System::Spark) {
        Some(spark::prepare(cluster, &hdfs, &cfg.work_dir, &cfg.spark_version).await?)
    } else {
        None
    };
    machine.spark_version = spark.as_ref().map(|s| s.version.clone());
    // Its own directory: another harness run may stage its own binary meanwhile.
    let floor_dir = format!("/bench/floor/{}", spindle_integration::unique_name("am"));
    let floor_resource = if cfg.runs_system(System::Floor) {
        progress("floor: staging spindle-am in HDFS (not timed)");
        Some(stage_floor(cluster, &hdfs, &cfg.bin_dir.join("spindle-am"), &floor_dir).await?)
    } else {
        None
    };
    hdfs.mkdirs("/bench/out").await?;

    let settings = BenchSettings {
        systems: cfg.systems.iter().map(|s| s.key().to_string()).collect(),
        runs: cfg.runs,
        p1_runs: cfg.p1_runs,
        warmup: cfg.warmup,
        executors: cfg.executors,
        executor_cores: cfg.executor_cores,
        executor_memory_mb: cfg.executor_memory_mb,
        driver_memory_mb: cfg.driver_memory_mb,
        reducers: cfg.reducers(),
        seed: cfg.seed,
        spindle_job: "`spindle submit wordcount` (release build) with --num-executors, --executor-cores, --executor-memory, \
            --driver-memory and --reducers as above: the bundled spindle-examples binary (the word count on the dataset API) as the driver in the AM \
            and as every executor. The binary is kept in HDFS by content (the first submission of a build, \
            here a warm-up run, uploads it; PRIVATE visibility, so each node localizes it once); checking them is in the wall time, not the RM time. \
            Inputs up to spindle.uber.max-input (32 MiB) run inside the AM, so P1's Spindle has no executor container; \
            \"Spindle, executors in containers\" (spindle-exec, P1 only) is the same job with --conf spindle.uber.max-input=0, \
            for P3's executor figure"
            .into(),
        floor: format!(
            "`{}` submitted through the RM REST API (128 MB AM container): the AM registers and unregisters SUCCEEDED, nothing else; \
             its binary is localized from HDFS like Spindle's AM (staged once, not timed; PRIVATE, so cached on the nodes like Spindle's)",
            super::systems::FLOOR_COMMAND.split(" 1>").next().unwrap_or_default()
        ),
        bare_floor: "an AM whose command is `true`, no local resources, 128 MB, submitted through the RM REST API and polled every 50 ms; \
            it exits without registering, so YARN ends it FAILED (exit code 0). Its wall time (from asking for an application id to \
            seeing it ended) is the least a user can wait for a YARN application, and Spindle's client wall time (from starting \
            `spindle submit` to its exit) is compared with it"
            .into(),
        spark_job: format!(
            "pyspark {} from PyPI (Spark's jars, YARN module included) in a venv; `spark-submit --master yarn --deploy-mode cluster` \
             of a Java DataFrame word count (split on `[ \\t\\n\\r\\f]+`, groupBy().count(), text output `word\\tcount`), \
             spark.sql.shuffle.partitions = reducers; spark.yarn.archive in HDFS (uploaded once, not timed); SPARK_LOCAL_IP=127.0.0.1",
            spark.as_ref().map(|s| s.version.as_str()).unwrap_or(cfg.spark_version.as_str())
        ),
        mapreduce_job: "`hadoop jar hadoop-mapreduce-examples-*.jar wordcount` (StringTokenizer, combiner) with the cluster's \
            mapred-site (512 MB task containers), mapreduce.job.reduces = reducers, client poll 500 ms"
            .into(),
        local_job: format!(
            "this harness's Rust word count of the local copy: {} threads, 32 MiB chunks aligned at word delimiters, \
             foldhash tables merged, output written; same tokenisation; it reads through the page cache, as the DataNodes do",
            machine.cores
        ),
        sort_jobs: format!(
            "TeraSort-style records (10-byte printable key, record number, filler, newline: 100 bytes, one text line), \
             the same file for all; {} range partitions for all. Spindle: `spindle submit spindle-examples sort --partitions N` \
             (text_file, key_by the first 10 bytes, sort_by_key with sampled range bounds, values, save_as_text_file); \
             Spark: a Java RDD sortBy(first 10 characters, N partitions) of textFile, saveAsTextFile; \
             MapReduce: `hadoop jar hadoop-mapreduce-examples-*.jar terasort` (TeraInputFormat reads the same bytes as \
             100-byte records; sampled total-order partitioner), mapreduce.job.reduces = N; \
             single-machine limit: this harness reads the local copy, sorts (key, index) pairs in per-core chunks, merges, writes",
            cfg.reducers()
        ),
        memory_method: format!(
            "Sampled every {} ms from /proc: a process belongs to a container by its CONTAINER_ID environment variable; \
             a container's figure is the VmHWM (the kernel's peak RSS) of its heaviest process that is not a shell; \
             results.json also has each container's peak sampled VmRSS sum including YARN's bash wrappers.",
            cfg.sample_every.as_millis()
        ),
    };
    let env = Env {
        cluster,
        hdfs,
        rm,
        cfg,
        spark,
        floor_resource,
        mr_jar,
        log_dir,
    };

    let mut results = Results {
        machine,
        settings,
        ..Results::default()
    };
    if !cfg.skip_p1 {
        results.p1 = Some(
            run_part(
                &env,
                PartKind::P1,
                cfg.p1_bytes,
                &data_dir,
                &mut results.problems,
            )
            .await?,
        );
    }
    if !cfg.skip_p2 {
        results.p2 = Some(
            run_part(
                &env,
                PartKind::P2,
                cfg.p2_bytes,
                &data_dir,
                &mut results.problems,
            )
            .await?,
        );
    }
    if !cfg.skip_p5 {
        results.p5 = Some(
            run_part(
                &env,
                PartKind::P5,
                cfg.p5_bytes,
                &data_dir,
                &mut results.problems,
            )
            .await?,
        );
    }
    if env.floor_resource.is_some()
        && let Err(e) = env.hdfs.delete(&floor_dir).await
    {
        progress(&format!("warning: could not delete {floor_dir}: {e}"));
    }
    if !cfg.skip_p4 {
        progress(&format!(
            "P4: driver_scale --executors {} --tasks {} ({} runs)",
            cfg.p4_executors, cfg.p4_tasks, cfg.runs
        ));
        let r = p4::run(
            &cfg.bin_dir.join("examples/driver_scale"),
            cfg.p4_executors,
            cfg.p4_tasks,
            cfg.runs,
            Duration::from_secs(1800),
        )
        .await;
        if let Some(e) = &r.error {
            results.problems.push(format!("P4: {e}"));
        }
        results.p4 = Some(r);
    }
    results.valid = [
        results.p1.as_ref(),
        results.p2.as_ref(),
        results.p5.as_ref(),
    ]
    .into_iter()
    .flatten()
    .all(|p| p.systems.iter().all(|s| s.bad_runs() == 0))
        && results
            .p4
            .as_ref()
            .is_none_or(|p| !p.available || p.error.is_none());
    results.goals = check_goals(&results);
    write_outputs(&results, &cfg.out_dir)?;
    Ok(results)
}

fn write_outputs(r: &Results, dir: &Path) -> Result<(), BenchError> {
    let json = serde_json::to_string_pretty(r)
        .map_err(|e| BenchError::Invalid(format!("encoding results: {e}")))?;
    for (name, text) in [
        ("results.json", json + "\n"),
        ("results.md", markdown(r)),
        ("chart.svg", chart::chart(r)),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text)
            .map_err(|e| BenchError::io(format!("writing {}", p.display()), e))?;
    }
    Ok(())
}

/// Free bytes on the file system holding `dir` (from `df`), if it can tell.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().nth(1)?;
    line.split_whitespace()
        .nth(3)?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

/// The local input file of this size, generated once: text for the word counts,
/// 100-byte records (`bytes` rounded down to whole records) for the sort.
fn local_input(
    data_dir: &Path,
    workload: Workload,
    bytes: u64,
    seed: u64,
) -> Result<PathBuf, BenchError> {
    let (path, bytes) = match workload {
        Workload::WordCount => (
            data_dir.join(format!(
                "words-{}-s{seed}-g{GENERATOR_VERSION}.txt",
                size_tag(bytes)
            )),
            bytes,
        ),
        Workload::Sort => (
            data_dir.join(format!(
                "records-{}-s{seed}-g{}.txt",
                size_tag(bytes),
                terasort::GENERATOR_VERSION
            )),
            bytes / terasort::RECORD as u64 * terasort::RECORD as u64,
        ),
    };
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes) {
        return Ok(path);
    }
    // The local copy, two HDFS replicas and some room.
    let need = bytes.saturating_mul(3) + (1 << 30);
    if let Some(free) = free_bytes(data_dir)
        && free < need
    {
        return Err(BenchError::Invalid(format!(
            "{} of input needs about {} free on {} (local copy + 2 HDFS replicas); {} free",
            format_size(bytes),
            format_size(need),
            data_dir.display(),
            format_size(free)
        )));
    }
    progress(&format!(
        "input: generating {} of {} (seed {seed}) at {}",
        format_size(bytes),
        match workload {
            Workload::WordCount => "text",
            Workload::Sort => "100-byte records",
        },
        path.display()
    ));
    let started = Instant::now();
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp)
        .map_err(|e| BenchError::io(format!("creating {}", tmp.display()), e))?;
    let mut w = std::io::BufWriter::with_capacity(4 << 20, file);
    match workload {
        Workload::WordCount => generate(&mut w, bytes, seed),
        Workload::Sort => terasort::generate(&mut w, bytes, seed),
    }
    .map_err(|e| BenchError::io(format!("writing {}", tmp.display()), e))?;
    std::io::Write::flush(&mut w)
        .map_err(|e| BenchError::io(format!("writing {}", tmp.display()), e))?;
    drop(w);
    std::fs::rename(&tmp, &path)
        .map_err(|e| BenchError::io(format!("renaming {}", tmp.display()), e))?;
    progress(&format!(
        "input: generated in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(path)
}

/// Counts (or sorts) the local file on all cores and writes the result beside it; the
/// answer and the time.
async fn local_run(
    workload: Workload,
    path: &Path,
    out: &Path,
) -> Result<(Answer, f64), BenchError> {
    let (path, out) = (path.to_path_buf(), out.to_path_buf());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let answer = match workload {
            Workload::WordCount => {
                let counts = count_file(&path, threads)
                    .map_err(|e| BenchError::io(format!("counting {}", path.display()), e))?;
                write_counts(&counts, &out)
                    .map_err(|e| BenchError::io(format!("writing {}", out.display()), e))?;
                Answer::of(counts.iter().map(|(w, c)| (w.as_slice(), *c)))
            }
            Workload::Sort => sort_file(&path, &out, threads)
                .map_err(|e| BenchError::io(format!("sorting {}", path.display()), e))?,
        };
        Ok((answer, started.elapsed().as_secs_f64()))
    })
    .await
    .map_err(|e| BenchError::Invalid(format!("the local count panicked: {e}")))?
}

async fn run_part(
    env: &Env<'_>,
    kind: PartKind,
    bytes: u64,
    data_dir: &Path,
    problems: &mut Vec<String>,
) -> Result<Part, BenchError> {
    let cfg = env.cfg;
    let name = kind.key().to_ascii_uppercase();
    let workload = kind.workload();
    let local = local_input(data_dir, workload, bytes, cfg.seed)?;
    let bytes = std::fs::metadata(&local)
        .map(|m| m.len())
        .map_err(|e| BenchError::io(format!("reading {}", local.display()), e))?;
    let file_name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let input = format!("/bench/input/{file_name}");
    if env.hdfs.put_if_changed(env.cluster, &local, &input).await? {
        progress(&format!("{name}: put the input at {input} (not timed)"));
    }
    let local_out = data_dir.join(format!("{file_name}.out"));

    let mut rows: Vec<Row> = Vec::new();
    let mut reference = None;
    if kind.has_limit() {
        rows.push(Row::Local);
    } else {
        let (a, _) = local_run(workload, &local, &local_out).await?;
        reference = Some(a);
    }
    let cluster_systems: Vec<System> = cfg
        .systems
        .iter()
        .copied()
        .filter(|s| kind == PartKind::P1 || !s.p1_only())
        .collect();
    rows.extend(cluster_systems.iter().map(|s| Row::Cluster(*s)));
    let mut results: Vec<SystemResult> = rows
        .iter()
        .map(|r| SystemResult {
            system: r.key().into(),
            label: r.label().into(),
            ..SystemResult::default()
        })
        .collect();

    if kind == PartKind::P1 {
        for w in 1..=cfg.warmup {
            for &system in &cluster_systems {
                let record = measure(env, kind, system, 0, &input, reference.as_ref()).await;
                report_run(
                    &format!("{name} warm-up"),
                    Row::Cluster(system),
                    w,
                    cfg.warmup,
                    None,
                    &record,
                    reference.as_ref(),
                    problems,
                );
            }
        }
    }
    let runs = if kind == PartKind::P1 {
        cfg.p1_runs
    } else {
        cfg.runs
    };
    for run in 1..=runs {
        // Rotate the cluster systems' order so none always goes first.
        let mut order: Vec<Row> = rows.iter().copied().filter(|r| *r == Row::Local).collect();
        let n = cluster_systems.len();
        order.extend((0..n).map(|i| Row::Cluster(cluster_systems[(i + run - 1) % n])));
        for row in order {
            let record = match row {
                Row::Local => {
                    let (answer, secs) = local_run(workload, &local, &local_out).await?;
                    let matches = reference.as_ref().map(|r: &Answer| *r == answer);
                    if reference.is_none() {
                        reference = Some(answer.clone());
                    }
                    RunRecord {
                        run,
                        ok: true,
                        wall_seconds: secs,
                        answer: Some(answer),
                        answer_matches: Some(matches.unwrap_or(true)),
                        ..RunRecord::default()
                    }
                }
                Row::Cluster(system) => {
                    measure(env, kind, system, run, &input, reference.as_ref()).await
                }
            };
            let rate_bytes = kind.has_limit().then_some(bytes);
            report_run(
                &name,
                row,
                run,
                runs,
                rate_bytes,
                &record,
                reference.as_ref(),
                problems,
            );
            if let Some(r) = results.iter_mut().find(|r| r.system == row.key()) {
                r.runs.push(record);
            }
        }
    }
    for r in &mut results {
        r.summarise(bytes);
    }
    Ok(Part {
        input_bytes: bytes,
        input_path: input,
        reference,
        systems: results,
    })
}

/// One job of one system with its memory sampled and its answer checked.
async fn measure(
    env: &Env<'_>,
    kind: PartKind,
    system: System,
    run: usize,
    input: &str,
    reference: Option<&Answer>,
) -> RunRecord {
    let tag = spindle_integration::unique_name(&format!("sbench-{}-{}", kind.key(), system.key()))
        .to_ascii_lowercase();
    let output = format!("/bench/out/{tag}");
    let sampler = Sampler::start(
        env.cfg.sample_every,
        env.cfg.job_timeout + Duration::from_secs(600),
    );
    let workload = kind.workload();
    let result = run_job(env, system, workload, input, &output, &tag).await;
    let observed = sampler.finish();
    let mut record = RunRecord {
        run,
        ..RunRecord::default()
    };
    match result {
        Err(e) => {
            record.error = Some(e.to_string());
        }
        Ok(ran) => {
            record.app_id = Some(ran.report.id.clone());
            record.rm_seconds = ran.report.rm_seconds();
            record.wall_seconds = ran.wall_seconds;
            record.memory = Some(observed.for_app(&ran.report.id));
            record.ok = true;
            if system.has_output() {
                match env.hdfs.read_parts(&output).await {
                    Err(e) => {
                        record.ok = false;
                        record.error = Some(format!("reading the output {output}: {e}"));
                    }
                    Ok(parts) => match match workload {
                        Workload::WordCount => answer_of_parts(&parts),
                        Workload::Sort => sorted_answer(&parts),
                    } {
                        Err(e) => {
                            record.ok = false;
                            record.error = Some(format!("output {output}: {e}"));
                        }
                        Ok(a) => {
                            record.answer_matches = reference.map(|r| *r == a);
                            record.answer = Some(a);
                        }
                    },
                }
            }
        }
    }
    if system.has_output()
        && let Err(e) = env.hdfs.delete(&output).await
    {
        progress(&format!("warning: could not delete {output}: {e}"));
    }
    // Let the NodeManagers finish cleaning up the containers before the next job.
    tokio::time::sleep(Duration::from_secs(1)).await;
    record
}

#[allow(clippy::too_many_arguments)]
fn report_run(
    part: &str,
    row: Row,
    run: usize,
    runs: usize,
    bytes: Option<u64>,
    r: &RunRecord,
    reference: Option<&Answer>,
    problems: &mut Vec<String>,
) {
    let head = format!("{part} run {run}/{runs} {}", row.key());
    if let Some(e) = &r.error {
        progress(&format!("{head}: FAILED: {e}"));
        problems.push(format!("{head} failed: {e}"));
        return;
    }
    let time = match r.rm_seconds {
        Some(rm) => format!("RM {rm:.2} s, wall {:.2} s", r.wall_seconds),
        None => format!("{:.2} s", r.wall_seconds),
    };
    let secs = r.rm_seconds.unwrap_or(r.wall_seconds);
    let rate = match bytes {
        Some(b) if secs > 0.0 => format!(", {:.1} MB/s", b as f64 / 1e6 / secs),
        _ => String::new(),
    };
    let mb = |b: u64| format!("{:.1}", b as f64 / 1e6);
    let mem = match &r.memory {
        None => String::new(),
        Some(m) => {
            let am =
                m.am.as_ref()
                    .map(|a| mb(a.peak_bytes))
                    .unwrap_or_else(|| "?".into());
            match m.max_executor() {
                Some(e) => format!(
                    ", AM {am} MB, {} other container(s) ≤ {} MB",
                    m.executors.len(),
                    mb(e)
                ),
                None => format!(", AM {am} MB"),
            }
        }
    };
    let answer = match (&r.answer, r.answer_matches) {
        (Some(a), Some(true)) => format!(", answer ok ({})", a.short()),
        (Some(a), Some(false)) => {
            let want = reference
                .map(|w| format!("{} ({} distinct, {} words)", w.short(), w.distinct, w.total))
                .unwrap_or_default();
            let msg = format!(
                "{head}: ANSWER MISMATCH: got {} ({} distinct, {} words), want {want}",
                a.short(),
                a.distinct,
                a.total
            );
            eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
            problems.push(msg);
            ", ANSWER MISMATCH".into()
        }
        (Some(a), None) => format!(", answer {}", a.short()),
        (None, _) => String::new(),
    };
    progress(&format!("{head}: {time}{rate}{mem}{answer}"));
}
