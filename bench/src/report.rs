//! The results of one benchmark run, the goals of issue 6 checked against them, and the
//! Markdown table written to `docs/bench/results.md`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::answer::Answer;
use super::machine::Machine;
use super::p4::P4Result;
use super::procs::AppMemory;
use super::size::format_size;
use super::stats::{Stats, num};

/// One run of one system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// 1-based.
    pub run: usize,
    /// The YARN application (none for the local count).
    pub app_id: Option<String>,
    /// It ended well (SUCCEEDED, the answer read back).
    pub ok: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// RM accepted → finished, seconds.
    pub rm_seconds: Option<f64>,
    /// The client's (or local count's) wall time, seconds.
    pub wall_seconds: f64,
    /// The normalised answer.
    pub answer: Option<Answer>,
    /// Equal to the reference answer.
    pub answer_matches: Option<bool>,
    /// Peak memory of its containers.
    pub memory: Option<AppMemory>,
}

/// One system's runs in one part, with their summaries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemResult {
    /// `spindle`, `spark`, `mapreduce`, `floor` or `local`.
    pub system: String,
    /// How the tables name it.
    pub label: String,
    /// Every run.
    pub runs: Vec<RunRecord>,
    /// RM time of the good runs, seconds.
    pub rm_seconds: Option<Stats>,
    /// Wall time of the good runs, seconds.
    pub wall_seconds: Option<Stats>,
    /// Input MB (10^6 B) per second of RM time (local: of wall time).
    pub throughput_mb_s: Option<Stats>,
    /// The AM's peak RSS, MB.
    pub am_peak_mb: Option<Stats>,
    /// The largest executor peak RSS of each run, MB.
    pub executor_peak_mb: Option<Stats>,
    /// Executor (non-AM) containers seen per run, the median.
    pub executor_containers: Option<f64>,
}

impl SystemResult {
    /// Fills the summaries from the runs (only runs that succeeded with the right answer count).
    pub fn summarise(&mut self, input_bytes: u64) {
        let good: Vec<&RunRecord> = self
            .runs
            .iter()
            .filter(|r| r.ok && r.answer_matches != Some(false))
            .collect();
        let of = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Option<Stats> {
            let v: Vec<f64> = good.iter().filter_map(|r| f(r)).collect();
            Stats::of(&v)
        };
        self.rm_seconds = of(&|r| r.rm_seconds);
        self.wall_seconds = of(&|r| Some(r.wall_seconds));
        let local = self.system == "local";
        self.throughput_mb_s = of(&|r| {
            let secs = if local {
                Some(r.wall_seconds)
            } else {
                r.rm_seconds
            };
            secs.filter(|s| *s > 0.0 && input_bytes > 0)
                .map(|s| input_bytes as f64 / 1e6 / s)
        });
        self.am_peak_mb = of(&|r| {
            r.memory
                .as_ref()
                .and_then(|m| m.am.as_ref())
                .map(|a| a.peak_bytes as f64 / 1e6)
        });
        self.executor_peak_mb = of(&|r| {
            r.memory
                .as_ref()
                .and_then(|m| m.max_executor())
                .map(|b| b as f64 / 1e6)
        });
        self.executor_containers =
            of(&|r| r.memory.as_ref().map(|m| m.executors.len() as f64)).map(|s| s.median);
    }

    /// Runs that failed or answered wrongly.
    pub fn bad_runs(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| !r.ok || r.answer_matches == Some(false))
            .count()
    }
}

/// P1 or P2.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Input size, bytes.
    pub input_bytes: u64,
    /// The input in HDFS.
    pub input_path: String,
    /// The answer every system must give (the local count's).
    pub reference: Option<Answer>,
    /// Per system, in table order.
    pub systems: Vec<SystemResult>,
}

impl Part {
    /// A system's results.
    pub fn get(&self, system: &str) -> Option<&SystemResult> {
        self.systems.iter().find(|s| s.system == system)
    }
}

/// How the run was set up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    /// Systems run.
    pub systems: Vec<String>,
    /// Runs per figure (P2, P4).
    pub runs: usize,
    /// Runs per figure of P1 (older results: same as `runs`).
    #[serde(default)]
    pub p1_runs: usize,
    /// Untimed runs of each system before P1's timed runs.
    #[serde(default)]
    pub warmup: usize,
    /// Executors for Spindle and Spark.
    pub executors: u32,
    /// Cores of each.
    pub executor_cores: u32,
    /// Memory of each executor container, MB.
    pub executor_memory_mb: u64,
    /// Memory of the AM (Spindle) / driver (Spark), MB.
    pub driver_memory_mb: u64,
    /// Reduce tasks (Spindle `--reducers`, MapReduce `mapreduce.job.reduces`, Spark
    /// `spark.sql.shuffle.partitions`).
    pub reducers: u32,
    /// Text generator seed.
    pub seed: u64,
    /// What the Spindle job is.
    pub spindle_job: String,
    /// What the YARN floor application is.
    pub floor: String,
    /// What the bare YARN floor (an AM whose command is `true`) is.
    #[serde(default)]
    pub bare_floor: String,
    /// What the Spark job is.
    pub spark_job: String,
    /// What the MapReduce job is.
    pub mapreduce_job: String,
    /// The single-machine limit's program.
    pub local_job: String,
    /// Memory sampling.
    pub memory_method: String,
    /// P5's jobs, per system.
    #[serde(default)]
    pub sort_jobs: String,
}

/// Whether a goal was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GoalStatus {
    /// Met.
    #[serde(rename = "PASS")]
    Pass,
    /// Not met.
    #[serde(rename = "MISS")]
    Miss,
    /// A system it needs did not run (or has no figure).
    #[serde(rename = "n/a")]
    NotMeasured,
    /// A system it needs failed a run or gave a wrong answer.
    #[serde(rename = "INVALID")]
    Invalid,
}

impl GoalStatus {
    /// As shown in the table.
    pub fn word(self) -> &'static str {
        match self {
            GoalStatus::Pass => "PASS",
            GoalStatus::Miss => "MISS",
            GoalStatus::NotMeasured => "n/a",
            GoalStatus::Invalid => "INVALID",
        }
    }
}

/// One goal of issue 6.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// `P1-spark`, `P2-local`, `P3-am-p1`, …
    pub id: String,
    /// What it says.
    pub text: String,
    /// The target, e.g. `≤ 0.20`.
    pub target: String,
    /// The measured value (a ratio or a figure), when there is one.
    pub value: Option<f64>,
    /// The value as shown, with what it was computed from.
    pub measured: String,
    /// PASS, MISS, n/a or INVALID.
    pub status: GoalStatus,
}

/// Everything one `integration/bench` run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Where.
    pub machine: Machine,
    /// How.
    pub settings: BenchSettings,
    /// Tiny job.
    pub p1: Option<Part>,
    /// Throughput.
    pub p2: Option<Part>,
    /// Driver scale.
    pub p4: Option<P4Result>,
    /// Sort of 100-byte records.
    #[serde(default)]
    pub p5: Option<Part>,
    /// The goals, checked.
    pub goals: Vec<Goal>,
    /// Failed runs, wrong answers, missing parts.
    pub problems: Vec<String>,
    /// No failed run and no wrong answer.
    pub valid: bool,
}

fn median_of(
    part: Option<&Part>,
    system: &str,
    f: fn(&SystemResult) -> Option<Stats>,
) -> (Option<f64>, bool) {
    match part.and_then(|p| p.get(system)) {
        None => (None, false),
        Some(s) => (f(s).map(|st| st.median), s.bad_runs() > 0),
    }
}

enum Cmp {
    AtMost(f64),
    AtLeast(f64),
}

fn judge(value: Option<f64>, invalid: bool, cmp: &Cmp) -> GoalStatus {
    if invalid {
        return GoalStatus::Invalid;
    }
    match (value, cmp) {
        (None, _) => GoalStatus::NotMeasured,
        (Some(v), Cmp::AtMost(t)) if v <= *t => GoalStatus::Pass,
        (Some(v), Cmp::AtLeast(t)) if v >= *t => GoalStatus::Pass,
        _ => GoalStatus::Miss,
    }
}

fn target_text(cmp: &Cmp, unit: &str) -> String {
    match cmp {
        Cmp::AtMost(t) => format!("≤ {}{unit}", trim_num(*t)),
        Cmp::AtLeast(t) => format!("≥ {}{unit}", trim_num(*t)),
    }
}

fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let digits = (v.abs() as u64).to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) && digits.len() > 4 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else {
        format!("{v}")
    }
}

/// A ratio goal between two systems' medians, `a / b` (a time ratio or a throughput ratio).
#[allow(clippy::too_many_arguments)]
fn ratio_goal(
    id: &str,
    text: &str,
    part: Option<&Part>,
    a: &str,
    b: &str,
    f: fn(&SystemResult) -> Option<Stats>,
    cmp: Cmp,
    unit: &str,
    decimals: usize,
) -> Goal {
    let (va, bad_a) = median_of(part, a, f);
    let (vb, bad_b) = median_of(part, b, f);
    let value = match (va, vb) {
        (Some(x), Some(y)) if y > 0.0 => Some(x / y),
        _ => None,
    };
    let measured = match (va, vb, value) {
        (Some(x), Some(y), Some(r)) => format!(
            "{r:.*} ({x:.*}{unit} / {y:.*}{unit})",
            2, decimals, decimals
        ),
        _ => {
            let missing: Vec<&str> = [(a, va), (b, vb)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(s, _)| *s)
                .collect();
            format!("not measured: {}", missing.join(", "))
        }
    };
    Goal {
        id: id.into(),
        text: text.into(),
        target: target_text(&cmp, "×"),
        status: judge(value, bad_a || bad_b, &cmp),
        value,
        measured,
    }
}

/// Runs per round of [`rounds_goal`].
const ROUND: usize = 3;

/// The client wall time medians of `system`'s good runs, per round of [`ROUND`] runs
/// (runs 1–3, 4–6, …; a round without a good run is `None`).
fn round_medians(s: &SystemResult) -> Vec<Option<f64>> {
    let rounds = s
        .runs
        .iter()
        .map(|r| r.run)
        .max()
        .unwrap_or(0)
        .div_ceil(ROUND);
    (0..rounds)
        .map(|k| {
            let walls: Vec<f64> = s
                .runs
                .iter()
                .filter(|r| r.ok && (r.run - 1) / ROUND == k)
                .map(|r| r.wall_seconds)
                .collect();
            Stats::of(&walls).map(|st| st.median)
        })
        .collect()
}

/// A goal on `a`'s client wall time in every round, as issue 16 measured it (medians
/// of 3, round by round, against the floor's steady figure): each round's median over
/// `b`'s median of all runs; the worst round's ratio is the value. (The floor's own
/// rounds swing with the NodeManager heartbeats as much as anyone's; its median over
/// all runs is the steady reference the issue compared with.)
fn rounds_goal(id: &str, text: &str, part: Option<&Part>, a: &str, b: &str, cmp: Cmp) -> Goal {
    let (sa, sb) = (part.and_then(|p| p.get(a)), part.and_then(|p| p.get(b)));
    let invalid = [sa, sb].iter().flatten().any(|s| s.bad_runs() > 0);
    let floor = sb.and_then(|s| s.wall_seconds).map(|w| w.median);
    let ratios: Option<Vec<f64>> = match (sa, floor) {
        (Some(sa), Some(y)) if y > 0.0 => round_medians(sa)
            .into_iter()
            .map(|x| x.map(|x| x / y))
            .collect::<Option<Vec<f64>>>()
            .filter(|r| !r.is_empty()),
        _ => None,
    };
    let value = ratios
        .as_ref()
        .and_then(|r| r.iter().copied().max_by(f64::total_cmp));
    let measured = match &ratios {
        Some(r) => format!(
            "worst {:.2} of {} round(s): {}",
            value.unwrap_or(f64::NAN),
            r.len(),
            r.iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("not measured: {a} and {b} in rounds of {ROUND} runs"),
    };
    Goal {
        id: id.into(),
        text: text.into(),
        target: target_text(&cmp, "×"),
        status: judge(value, invalid, &cmp),
        value,
        measured,
    }
}

#[allow(clippy::too_many_arguments)]
fn value_goal(
    id: &str,
    text: &str,
    value: Option<f64>,
    invalid: bool,
    cmp: Cmp,
    unit: &str,
    decimals: usize,
    from: &str,
) -> Goal {
    Goal {
        id: id.into(),
        text: text.into(),
        target: target_text(&cmp, unit),
        status: judge(value, invalid, &cmp),
        measured: match value {
            Some(v) => format!("{}{unit} ({from})", num(v, decimals)),
            None => "not measured".into(),
        },
        value,
    }
}

/// The goals of issue 6, checked against the medians (each goal names what it used).
pub fn check_goals(r: &Results) -> Vec<Goal> {
    let p1 = r.p1.as_ref();
    let p2 = r.p2.as_ref();
    let rm = |s: &SystemResult| s.rm_seconds;
    let tp = |s: &SystemResult| s.throughput_mb_s;
    let wall = |s: &SystemResult| s.wall_seconds;
    let mut g = vec![
        ratio_goal(
            "P1-spark",
            "P1 tiny job: Spindle's RM time ≤ 1/5 of Spark's",
            p1,
            "spindle",
            "spark",
            rm,
            Cmp::AtMost(0.2),
            " s",
            2,
        ),
        ratio_goal(
            "P1-mapreduce",
            "P1 tiny job: Spindle's RM time ≤ 1/5 of MapReduce's",
            p1,
            "spindle",
            "mapreduce",
            rm,
            Cmp::AtMost(0.2),
            " s",
            2,
        ),
        ratio_goal(
            "P1-floor",
            "P1 tiny job: Spindle's RM time ≤ 1.5× the YARN floor's",
            p1,
            "spindle",
            "floor",
            rm,
            Cmp::AtMost(1.5),
            " s",
            2,
        ),
        ratio_goal(
            "P1-wall",
            "P1 tiny job: Spindle's client wall time ≤ 1.5× the bare YARN floor's (an AM whose command is `true`, polled every 50 ms)",
            p1,
            "spindle",
            "floor-true",
            wall,
            Cmp::AtMost(1.5),
            " s",
            2,
        ),
        rounds_goal(
            "P1-wall-rounds",
            "P1 tiny job: the same for every round of 3 runs (each round's median against the floor's median; the worst round shown)",
            p1,
            "spindle",
            "floor-true",
            Cmp::AtMost(1.5),
        ),
        ratio_goal(
            "P2-spark",
            "P2 throughput: Spindle ≥ 5× Spark",
            p2,
            "spindle",
            "spark",
            tp,
            Cmp::AtLeast(5.0),
            " MB/s",
            1,
        ),
        ratio_goal(
            "P2-mapreduce",
            "P2 throughput: Spindle ≥ 10× MapReduce",
            p2,
            "spindle",
            "mapreduce",
            tp,
            Cmp::AtLeast(10.0),
            " MB/s",
            1,
        ),
        ratio_goal(
            "P2-local",
            "P2 throughput: Spindle ≥ 60% of the single-machine limit",
            p2,
            "spindle",
            "local",
            tp,
            Cmp::AtLeast(0.6),
            " MB/s",
            1,
        ),
    ];
    let p5 = r.p5.as_ref();
    for (id, other, cmp, text) in [
        ("P5-spark", "spark", 5.0, "P5 sort: Spindle ≥ 5× Spark"),
        (
            "P5-mapreduce",
            "mapreduce",
            20.0,
            "P5 sort: Spindle ≥ 20× MapReduce (TeraSort)",
        ),
        (
            "P5-local",
            "local",
            0.5,
            "P5 sort: Spindle ≥ 50% of the single-machine limit",
        ),
    ] {
        g.push(ratio_goal(
            id,
            text,
            p5,
            "spindle",
            other,
            tp,
            Cmp::AtLeast(cmp),
            " MB/s",
            1,
        ));
    }
    for (id, part, name) in [("P3-am-p1", p1, "P1"), ("P3-am-p2", p2, "P2")] {
        let (v, bad) = median_of(part, "spindle", |s| s.am_peak_mb);
        g.push(value_goal(
            id,
            &format!("P3 memory: Spindle's AM ≤ 30 MB RSS ({name})"),
            v,
            bad,
            Cmp::AtMost(30.0),
            " MB",
            1,
            "median peak VmHWM",
        ));
    }
    // "Executor ≤ 20 MB plus its data": checked on P1, where the data is the tiny input;
    // `spindle` runs that inside its AM, so the figure is `spindle-exec`'s.
    let data_mb = p1.map(|p| p.input_bytes as f64 / 1e6).unwrap_or(0.0);
    let (v, bad) = median_of(p1, "spindle-exec", |s| s.executor_peak_mb);
    let mut executor = value_goal(
        "P3-executor-p1",
        &format!(
            "P3 memory: Spindle's executor ≤ 20 MB plus its data (P1 with executors in containers: {} of data)",
            p1.map(|p| format_size(p.input_bytes)).unwrap_or_default()
        ),
        v,
        bad,
        Cmp::AtMost(20.0 + data_mb),
        " MB",
        1,
        "median of each run's largest executor VmHWM",
    );
    executor.target = format!(
        "≤ 20 MB + {}",
        p1.map(|p| format_size(p.input_bytes))
            .unwrap_or_else(|| "data".into())
    );
    g.push(executor);
    let p4 = r.p4.as_ref().filter(|p| p.available);
    let p4_bad =
        r.p4.as_ref()
            .is_some_and(|p| p.available && p.error.is_some());
    g.push(value_goal(
        "P4-rate",
        "P4 driver scale: ≥ 100,000 tasks/s on one core",
        p4.and_then(|p| p.tasks_per_sec).map(|s| s.median),
        p4_bad,
        Cmp::AtLeast(100_000.0),
        " tasks/s",
        0,
        "median",
    ));
    g.push(value_goal(
        "P4-memory",
        "P4 driver scale: ≤ 1 KB (1000 B) driver memory per task",
        p4.and_then(|p| p.driver_bytes_per_task).map(|s| s.median),
        p4_bad,
        Cmp::AtMost(1000.0),
        " B",
        0,
        "median",
    ));
    g
}

fn cell(s: Option<Stats>, decimals: usize) -> String {
    s.map(|s| s.show(decimals)).unwrap_or_else(|| "–".into())
}

fn answer_cell(s: &SystemResult) -> String {
    let bad = s.bad_runs();
    let n = s.runs.len();
    let checked = s.runs.iter().filter(|r| r.answer_matches.is_some()).count();
    if bad > 0 {
        let wrong = s
            .runs
            .iter()
            .filter(|r| r.answer_matches == Some(false))
            .count();
        let failed = s.runs.iter().filter(|r| !r.ok).count();
        format!("**INVALID**: {failed} failed, {wrong} wrong of {n}")
    } else if checked == 0 {
        format!("{n} ok (no output)")
    } else {
        format!("equal ({checked}/{n})")
    }
}

fn part_table(out: &mut String, part: &Part, throughput: bool, sort: bool) {
    let _ = writeln!(
        out,
        "| system | RM time s | {}client wall s | AM peak RSS MB | executor peak RSS MB | executor containers | answer |",
        if throughput { "throughput MB/s | " } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|---:|{}---:|---:|---:|---:|---|",
        if throughput { "---:|" } else { "" }
    );
    for s in &part.systems {
        let tp = if throughput {
            format!("{} | ", cell(s.throughput_mb_s, 1))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {tp}{} | {} | {} | {} | {} |",
            s.label,
            cell(s.rm_seconds, 2),
            cell(s.wall_seconds, 2),
            cell(s.am_peak_mb, 1),
            cell(s.executor_peak_mb, 1),
            s.executor_containers
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "–".into()),
            answer_cell(s),
        );
    }
    match &part.reference {
        Some(a) if sort => {
            let _ = writeln!(
                out,
                "\nReference answer (single-machine sort): {} records, {} bytes, SHA-256 `{}`.",
                a.distinct,
                a.total,
                a.short()
            );
        }
        Some(a) => {
            let _ = writeln!(
                out,
                "\nReference answer (single-machine count): {} distinct words, {} words, SHA-256 `{}`.",
                a.distinct,
                a.total,
                a.short()
            );
        }
        None => {}
    }
}

/// The Markdown report.
pub fn markdown(r: &Results) -> String {
    let m = &r.machine;
    let s = &r.settings;
    let mut out = String::new();
    let _ = writeln!(out, "# Spindle benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `integration/bench` on {} at commit `{}`. Each figure is the median of {} run(s) ({} for P1, \
         whose times swing by up to a NodeManager heartbeat) with (min–max). \
         Times are the ResourceManager's (application accepted → finished); MB = 10^6 bytes.\n",
        m.date_utc,
        m.git_commit,
        s.runs,
        if s.p1_runs == 0 { s.runs } else { s.p1_runs }
    );
    if !r.valid {
        let _ = writeln!(out, "**This run is INVALID: see Problems below.**\n");
    }
    let _ = writeln!(out, "## Machine\n\n| | |\n|---|---|");
    let spark = m.spark_version.clone().unwrap_or_else(|| "not run".into());
    for (k, v) in [
        (
            "CPU",
            format!("{} ({} logical cores)", m.cpu_model, m.cores),
        ),
        ("RAM", format!("{} GiB", m.ram_gib)),
        ("OS", m.os.clone()),
        ("Hadoop", m.hadoop_version.clone()),
        ("Spark", spark),
        ("Java", m.java_version.clone()),
        ("Rust", m.rustc_version.clone()),
        ("Cluster", m.cluster.clone()),
        ("Commit", m.git_commit.clone()),
        ("Date", m.date_utc.clone()),
    ] {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    let _ = writeln!(
        out,
        "\n## Goals (issue 6)\n\n| goal | target | measured | result |\n|---|---|---|---|"
    );
    for g in &r.goals {
        let word = match g.status {
            GoalStatus::Pass | GoalStatus::NotMeasured => g.status.word().to_string(),
            _ => format!("**{}**", g.status.word()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {word} |",
            g.text, g.target, g.measured
        );
    }
    if let Some(p) = &r.p1 {
        let _ = writeln!(
            out,
            "\n## P1: tiny job (word count of {})\n",
            format_size(p.input_bytes)
        );
        part_table(&mut out, p, false, false);
    }
    if let Some(p) = &r.p2 {
        let _ = writeln!(
            out,
            "\n## P2: throughput (word count of {})\n",
            format_size(p.input_bytes)
        );
        let _ = writeln!(
            out,
            "Throughput is input bytes over RM time; for the single-machine limit, over its wall time (read, count, merge, write).\n"
        );
        part_table(&mut out, p, true, false);
    }
    if let Some(p) = &r.p5 {
        let _ = writeln!(
            out,
            "\n## P5: sort ({} of 100-byte records)\n",
            format_size(p.input_bytes)
        );
        let _ = writeln!(
            out,
            "Throughput is input bytes over RM time; for the single-machine limit, over its wall time (read, sort on all cores, write). \
             Every output is checked: whole records, keys in order across the part files, the same bytes as the limit's (SHA-256).\n"
        );
        part_table(&mut out, p, true, true);
    }
    let _ = writeln!(
        out,
        "\n## P3: memory\n\nPeak RSS is in the P1 and P2 tables: the AM column is the ApplicationMaster \
         container's program (Spark in cluster mode: the driver; MapReduce: MRAppMaster), the executor \
         column the largest other container of each run (Spark executors, MapReduce map/reduce task JVMs, \
         Spindle executors). {}\n",
        s.memory_method
    );
    if let Some(p4) = &r.p4 {
        let _ = writeln!(out, "## P4: driver scale (no YARN)\n");
        if p4.available {
            let first = p4.samples.first();
            let _ = writeln!(
                out,
                "`{}`{}\n\n| executors | tasks | tasks/s | driver B/task | peak driver MB | seconds |\n|---:|---:|---:|---:|---:|---:|",
                p4.command,
                if p4.one_core {
                    " (pinned to one core)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                first.map(|f| f.executors).unwrap_or_default(),
                first.map(|f| f.tasks).unwrap_or_default(),
                cell(p4.tasks_per_sec, 0),
                cell(p4.driver_bytes_per_task, 0),
                cell(p4.peak_driver_mb, 1),
                cell(p4.seconds, 2)
            );
        }
        if let Some(e) = &p4.error {
            let _ = writeln!(out, "\n{e}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## How\n");
    for (k, v) in [
        ("Systems", s.systems.join(", ")),
        (
            "Warm-up",
            format!(
                "{} untimed run(s) of each cluster system before P1's timed runs (the first applications after a cluster boot \
                 or a rebuild pay cold caches: localisation, the daemons' JIT); none before P2, whose runs are long",
                s.warmup
            ),
        ),
        (
            "Executors",
            format!(
                "{} × {} core(s), {} MB containers, for Spindle and Spark; AM/driver {} MB; {} reduce task(s) for all three",
                s.executors, s.executor_cores, s.executor_memory_mb, s.driver_memory_mb, s.reducers
            ),
        ),
        ("Spindle", s.spindle_job.clone()),
        ("Spark", s.spark_job.clone()),
        ("MapReduce", s.mapreduce_job.clone()),
        ("YARN floor", s.floor.clone()),
        ("YARN floor, AM `true`", s.bare_floor.clone()),
        ("Single-machine limit", s.local_job.clone()),
        ("P5 jobs", s.sort_jobs.clone()),
        (
            "Input",
            format!(
                "generated text (seed {}), the same bytes locally and in HDFS; answers are normalised (sorted `word\\tcount` lines) and compared by SHA-256",
                s.seed
            ),
        ),
    ] {
        let _ = writeln!(out, "- **{k}**: {v}");
    }
    if !r.problems.is_empty() {
        let _ = writeln!(out, "\n## Problems\n");
        for p in &r.problems {
            let one_line = p.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = one_line.chars().take(600).collect();
            let more = if short.len() < one_line.len() {
                "… (full text in results.json)"
            } else {
                ""
            };
            let _ = writeln!(out, "- {short}{more}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procs::ContainerPeak;

    fn run(rm: f64, ok: bool, matches: bool, am: u64, exec: u64) -> RunRecord {
        RunRecord {
            run: 1,
            app_id: Some("application_1_0001".into()),
            ok,
            error: (!ok).then(|| "failed".into()),
            rm_seconds: Some(rm),
            wall_seconds: rm + 1.0,
            answer: None,
            answer_matches: Some(matches),
            memory: Some(AppMemory {
                am: Some(ContainerPeak {
                    container: "container_1_0001_01_000001".into(),
                    process: "x".into(),
                    peak_bytes: am,
                    tree_peak_bytes: am,
                }),
                executors: vec![ContainerPeak {
                    container: "container_1_0001_01_000002".into(),
                    process: "y".into(),
                    peak_bytes: exec,
                    tree_peak_bytes: exec,
                }],
            }),
        }
    }

    fn system(name: &str, runs: Vec<RunRecord>, bytes: u64) -> SystemResult {
        let mut s = SystemResult {
            system: name.into(),
            label: name.into(),
            runs,
            ..Default::default()
        };
        s.summarise(bytes);
        s
    }

    fn results() -> Results {
        let p1 = Part {
            input_bytes: 1024,
            input_path: "/bench/in".into(),
            reference: None,
            systems: vec![
                system(
                    "spindle",
                    vec![
                        run(2.0, true, true, 12_000_000, 9_000_000),
                        run(3.0, true, true, 14_000_000, 9_000_000),
                        run(2.5, true, true, 13_000_000, 9_000_000),
                    ],
                    1024,
                ),
                system(
                    "spindle-exec",
                    vec![run(3.0, true, true, 12_000_000, 8_000_000)],
                    1024,
                ),
                system(
                    "spark",
                    vec![run(25.0, true, true, 400_000_000, 300_000_000)],
                    1024,
                ),
                system(
                    "mapreduce",
                    vec![run(10.0, true, true, 300_000_000, 200_000_000)],
                    1024,
                ),
                system("floor", vec![run(1.0, true, true, 5_000_000, 0)], 1024),
            ],
        };
        let p2 = Part {
            input_bytes: 1_000_000_000,
            input_path: "/bench/in2".into(),
            reference: None,
            systems: vec![
                system("local", vec![run(1.0, true, true, 0, 0)], 1_000_000_000),
                system(
                    "spindle",
                    vec![run(4.0, true, true, 25_000_000, 50_000_000)],
                    1_000_000_000,
                ),
                system("spark", vec![run(10.0, true, false, 1, 1)], 1_000_000_000),
            ],
        };
        let mut r = Results {
            p1: Some(p1),
            p2: Some(p2),
            ..Default::default()
        };
        r.goals = check_goals(&r);
        r
    }

    fn goal<'a>(r: &'a Results, id: &str) -> &'a Goal {
        r.goals.iter().find(|g| g.id == id).expect(id)
    }

    #[test]
    fn summaries_use_good_runs_only() {
        let s = system(
            "spindle",
            vec![
                run(2.0, true, true, 1, 1),
                run(100.0, false, true, 1, 1),
                run(4.0, true, true, 3_000_000, 1),
            ],
            1_000_000,
        );
        let rm = s.rm_seconds.expect("rm");
        assert_eq!((rm.median, rm.n), (3.0, 2));
        assert_eq!(s.bad_runs(), 1);
        let tp = s.throughput_mb_s.expect("tp");
        assert_eq!((tp.min, tp.max), (0.25, 0.5));
        assert_eq!(s.am_peak_mb.expect("am").max, 3.0);
        assert_eq!(s.executor_containers, Some(1.0));
    }

    #[test]
    fn client_wall_goals_on_medians_and_on_every_round() {
        // Spindle's wall times by run (run number, seconds).
        let walls = |ws: &[(usize, f64)]| -> Vec<RunRecord> {
            ws.iter()
                .map(|&(n, w)| RunRecord {
                    run: n,
                    wall_seconds: w,
                    ..run(w, true, true, 1, 1)
                })
                .collect()
        };
        // The floor's median is 0.3 s; its second round's is 0.2 s, which the rounds
        // goal does not divide by (the floor's median over all runs is the reference).
        let floor = [(1, 0.3), (2, 0.3), (3, 0.3), (4, 0.2), (5, 0.2), (6, 0.3)];
        let part = |spindle: &[(usize, f64)]| Part {
            input_bytes: 1024,
            input_path: "/in".into(),
            reference: None,
            systems: vec![
                system("spindle", walls(spindle), 1024),
                system("floor-true", walls(&floor), 1024),
            ],
        };
        let goals_of = |p: Part| {
            check_goals(&Results {
                p1: Some(p),
                ..Default::default()
            })
        };
        // Median of all: 0.41 / 0.3; rounds: 0.39 and 0.42 → worst 1.4.
        let g = goals_of(part(&[
            (1, 0.39),
            (2, 0.60),
            (3, 0.35),
            (4, 0.42),
            (5, 0.40),
            (6, 0.45),
        ]));
        let find = |id: &str| g.iter().find(|x| x.id == id).expect(id).clone();
        let median = find("P1-wall");
        assert_eq!(median.status, GoalStatus::Pass);
        assert!((median.value.expect("value") - 0.41 / 0.3).abs() < 1e-9);
        let rounds = find("P1-wall-rounds");
        assert_eq!(rounds.status, GoalStatus::Pass);
        assert!((rounds.value.expect("value") - 1.4).abs() < 1e-9);
        assert!(
            rounds.measured.contains("2 round(s)"),
            "{}",
            rounds.measured
        );
        // One slow round fails the rounds goal while the overall median still passes.
        let g = goals_of(part(&[
            (1, 0.39),
            (2, 0.35),
            (3, 0.36),
            (4, 0.50),
            (5, 0.40),
            (6, 0.47),
        ]));
        let find = |id: &str| g.iter().find(|x| x.id == id).expect(id).clone();
        assert_eq!(find("P1-wall").status, GoalStatus::Pass);
        assert_eq!(find("P1-wall-rounds").status, GoalStatus::Miss);
        // Without the bare floor, neither is measured.
        let g = goals_of(Part {
            systems: vec![system("spindle", walls(&[(1, 0.4)]), 1024)],
            ..part(&[])
        });
        let find = |id: &str| g.iter().find(|x| x.id == id).expect(id).clone();
        assert_eq!(find("P1-wall").status, GoalStatus::NotMeasured);
        assert_eq!(find("P1-wall-rounds").status, GoalStatus::NotMeasured);
    }

    #[test]
    fn goals_pass_miss_invalid_and_not_measured() {
        let r = results();
        // 2.5 / 25 = 0.1 ≤ 0.2
        assert_eq!(goal(&r, "P1-spark").status, GoalStatus::Pass);
        assert_eq!(goal(&r, "P1-spark").value, Some(0.1));
        // 2.5 / 10 = 0.25 > 0.2
        assert_eq!(goal(&r, "P1-mapreduce").status, GoalStatus::Miss);
        // 2.5 / 1.0 > 1.5
        assert_eq!(goal(&r, "P1-floor").status, GoalStatus::Miss);
        // Spark's P2 answer was wrong.
        assert_eq!(goal(&r, "P2-spark").status, GoalStatus::Invalid);
        assert_eq!(goal(&r, "P2-mapreduce").status, GoalStatus::NotMeasured);
        // 250 MB/s vs 500 MB/s local (1 GB in 2 s of wall time) = 0.5 < 0.6
        let local = goal(&r, "P2-local");
        assert_eq!((local.status, local.value), (GoalStatus::Miss, Some(0.5)));
        assert_eq!(goal(&r, "P3-am-p1").status, GoalStatus::Pass);
        // The executor figure is spindle-exec's (the uber-mode row has none in real runs).
        let exec = goal(&r, "P3-executor-p1");
        assert_eq!((exec.status, exec.value), (GoalStatus::Pass, Some(8.0)));
        assert_eq!(goal(&r, "P4-rate").status, GoalStatus::NotMeasured);
        assert_eq!(goal(&r, "P4-rate").target, "≥ 100,000 tasks/s");
        assert_eq!(goal(&r, "P3-executor-p1").target, "≤ 20 MB + 1 KiB");
        assert_eq!(trim_num(1500.0), "1500");
        assert_eq!(trim_num(1_000_000.0), "1,000,000");
        assert_eq!(trim_num(0.6), "0.6");
    }

    #[test]
    fn markdown_has_every_section_and_marks() {
        let mut r = results();
        r.problems.push("spark P2 run 1: answer differs".into());
        let md = markdown(&r);
        for needle in [
            "# Spindle benchmarks",
            "## Machine",
            "## Goals (issue 6)",
            "## P1: tiny job (word count of 1 KiB)",
            "## P2: throughput",
            "| spindle | 2.50 (2.00–3.00) |",
            "**INVALID**",
            "**MISS**",
            "| PASS |",
            "## Problems",
        ] {
            assert!(md.contains(needle), "{needle} missing in\n{md}");
        }
        let json = serde_json::to_string(&r).expect("json");
        let back: Results = serde_json::from_str(&json).expect("parse back");
        assert_eq!(back, r);
    }
}
