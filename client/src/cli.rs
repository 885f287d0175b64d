//! The command line, in spark-submit's words: `submit`, `status`, `list`, `kill`.
//!
//! Flags are kept as typed text here and validated once, with the settings file and
//! environment, by `spindle_conf::SettingsLayers`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Spark-style data jobs on an existing Hadoop cluster, without a JVM";

const LONG_ABOUT: &str = "\
Spark-style data jobs on an existing Hadoop cluster, without a JVM.

The cluster is found through HADOOP_CONF_DIR (core-site.xml, yarn-site.xml); the user \
is HADOOP_USER_NAME, else the login name.";

/// The examples, shown by `-h` and at the end of `--help`.
macro_rules! submit_examples {
    () => {
        "\
Examples:
  spindle submit wordcount /data/books /out/wc
  spindle submit --num-executors 4 --executor-memory 1g --reducers 8 \\
      wordcount hdfs://nn:8020/data/books /out/wc
  spindle submit --queue etl --name errors grep /logs/2024 /out/errors 'ERROR [a-z]+'
  spindle submit --detach --conf spindle.log=debug linecount /data /out/lines
  spindle submit --num-executors 4 ./target/release/my-app --input /data --iterations 10"
    };
}

const SUBMIT_EXAMPLES: &str = submit_examples!();

const SUBMIT_HELP: &str = concat!(
    "\
Settings are layered, later wins: built-in defaults < $SPINDLE_CONF_DIR/spindle-defaults.conf \
(`key value` lines) < environment (SPINDLE_EXECUTOR_MEMORY, …) < --conf key=value < the \
named flags. Keys: spindle.app.name, spindle.yarn.queue, spindle.executor.instances, \
spindle.executor.memory, spindle.executor.cores, spindle.driver.memory, spindle.reducers, spindle.task.max-attempts, \
spindle.files, spindle.log (RUST_LOG of the AM and executors, default info).

Before anything is staged or submitted, spindle checks that the input exists, the output \
does not, the queue is a leaf queue of the scheduler and the containers asked for fit the \
largest one YARN grants. The built-in jobs are subcommands of the bundled spindle-examples \
binary (an application on the spindle crate, like your own), found beside spindle itself \
or named by SPINDLE_EXAMPLES_BINARY.

An application of your own (a Rust binary whose main calls spindle::main) is staged once \
per build and runs as the driver inside the AM and as every executor; its arguments follow \
its path. Its inputs and outputs are its own business: spindle checks only the binary.

Exit codes: 0 the application FINISHED and SUCCEEDED (with --detach: it was submitted); \
1 it failed or was killed, or the cluster could not be used; 2 the request is invalid or a \
check failed, nothing was submitted; 3 stopped following (--timeout or Ctrl-C), the \
application keeps running; 130 interrupted while staging, nothing was submitted.

",
    submit_examples!()
);

/// The `spindle` command.
#[derive(Parser, Debug)]
#[command(name = "spindle", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Submit a job to YARN and follow it until it ends.
    #[command(after_help = SUBMIT_EXAMPLES, after_long_help = SUBMIT_HELP)]
    Submit(Box<SubmitArgs>),
    /// Show one application.
    Status {
        /// The application id (application_<cluster>_<n>).
        app_id: String,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// List applications (Spindle's by default), newest first.
    List {
        /// Only these states, comma-separated (NEW, NEW_SAVING, SUBMITTED, ACCEPTED,
        /// RUNNING, FINISHED, FAILED, KILLED, or ALL) [default: SUBMITTED,ACCEPTED,RUNNING]
        #[arg(long, value_delimiter = ',', value_name = "STATES")]
        state: Vec<String>,
        /// Applications of every type, not only SPINDLE.
        #[arg(long)]
        all: bool,
        /// How to print them.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// Run a job in this process, without YARN: the same driver and executors.
    ///
    /// Example: spindle run --master local[4] wordcount ./books ./counts
    Run(RunArgs),
    /// Show an application's container logs (AM and executors), like `yarn logs`.
    #[command(long_about = crate::logs::LOGS_HELP)]
    Logs(crate::logs::LogsArgs),
    /// Finished applications' UI from their history files: list them, or serve one.
    ///
    /// The AM writes its final status (jobs, stages, every task attempt, executors,
    /// environment) to spindle.history.dir (default /user/<user>/.spindle/history) when
    /// it ends. `spindle history` lists them; `spindle history <appId>` serves the same
    /// pages the AM served while running at http://127.0.0.1:18080/ until Ctrl-C;
    /// `--json` prints the status instead.
    ///
    /// Example: spindle history application_1700000000000_0042 --bind 127.0.0.1:0
    History(crate::history::HistoryArgs),
    /// Kill an application and wait until YARN shows it KILLED.
    Kill {
        /// The application id.
        app_id: String,
        /// How long to wait for KILLED (e.g. 30s, 2m).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        timeout: Duration,
        /// How to print the final report.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

/// `spindle run`'s arguments.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    /// Where to run: local (1 executor), local[N] or local[*] (one per core)
    #[arg(long, default_value = "local[*]")]
    pub master: String,
    /// Number of reduce tasks (output files) [default: one per executor]
    #[arg(long, value_name = "N")]
    pub reducers: Option<u32>,
    /// The job: wordcount, linecount or grep
    pub job: String,
    /// Input file, directory or glob (local path, file:// or hdfs:// URI)
    pub input: String,
    /// Output directory; must not exist
    pub output: String,
    /// The job's arguments (grep: the regular expression)
    #[arg(allow_hyphen_values = true)]
    pub job_args: Vec<String>,
}

/// `spindle submit`'s arguments.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct SubmitArgs {
    /// Application name shown by YARN [spindle.app.name; default: spindle-<job>]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// YARN queue, a leaf queue (short name or full path) [spindle.yarn.queue; default: default]
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Number of executors [spindle.executor.instances; default: 2]
    #[arg(long, value_name = "N")]
    pub num_executors: Option<String>,
    /// Memory of each executor container, e.g. 512m, 2g [spindle.executor.memory; default: 512m]
    #[arg(long, value_name = "SIZE")]
    pub executor_memory: Option<String>,
    /// Virtual cores of each executor container [spindle.executor.cores; default: 1]
    #[arg(long, value_name = "N")]
    pub executor_cores: Option<String>,
    /// Memory of the application master, which hosts the driver [spindle.driver.memory; default: 256m]
    #[arg(long, value_name = "SIZE")]
    pub driver_memory: Option<String>,
    /// Number of reduce tasks (output files) [spindle.reducers; default: the AM decides]
    #[arg(long, value_name = "N")]
    pub reducers: Option<String>,
    /// A setting as key=value (see below); repeatable; the named flags win over it
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    pub conf: Vec<String>,
    /// Comma-separated local files (or hdfs:// URIs) put in the containers' working
    /// directories [spindle.files]
    #[arg(long, value_name = "FILES")]
    pub files: Option<String>,
    /// Print the application id and return once YARN has accepted the application.
    #[arg(long)]
    pub detach: bool,
    /// Stop following after this long (e.g. 90s, 30m, 2h); the application keeps running
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// What to run: a built-in job (wordcount, linecount or grep), or the path of an
    /// application built on the spindle crate (e.g. ./target/release/my-app)
    #[arg(value_name = "APP")]
    pub app: String,
    /// A built-in job's INPUT OUTPUT [REGEX] (bare paths are on fs.defaultFS; the output
    /// must not exist), or the application's own arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// What `spindle submit` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A built-in job.
    Builtin {
        job: Job,
        input: String,
        output: String,
        job_args: Vec<String>,
    },
    /// A user's application binary and its arguments.
    Program { path: PathBuf, args: Vec<String> },
}

impl SubmitArgs {
    /// Tells a built-in job from an application's path: a name with a `/`, or a file
    /// that exists, is a program.
    pub fn target(&self) -> Result<Target, String> {
        match Job::from_name(&self.app) {
            Some(job) if !self.app.contains('/') => match self.args.as_slice() {
                [input, output, rest @ ..] => Ok(Target::Builtin {
                    job,
                    input: input.clone(),
                    output: output.clone(),
                    job_args: rest.to_vec(),
                }),
                _ => Err(format!("{} needs an INPUT and an OUTPUT", job.name())),
            },
            _ if self.app.contains('/') || Path::new(&self.app).is_file() => Ok(Target::Program {
                path: PathBuf::from(&self.app),
                args: self.args.clone(),
            }),
            _ => Err(format!(
                "{:?} is neither a built-in job (wordcount, linecount, grep) nor an application's path (like ./target/release/my-app)",
                self.app
            )),
        }
    }
}

/// The built-in jobs.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Count words (split on whitespace).
    Wordcount,
    /// Count lines.
    Linecount,
    /// Count the matches of a regular expression (the one job argument).
    Grep,
}

impl Job {
    /// The job called `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Job> {
        Job::value_variants()
            .iter()
            .find(|j| j.name() == name)
            .copied()
    }

    /// The name users type (and the examples binary's subcommand).
    pub fn name(&self) -> &'static str {
        match self {
            Job::Wordcount => "wordcount",
            Job::Linecount => "linecount",
            Job::Grep => "grep",
        }
    }
}

/// How `status`, `list` and `kill` print.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Parses a duration as humantime writes them (`90s`, `30m`, `2h`, `1h30m`, `500ms`),
/// or bare seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = |why: String| format!("{s:?} is not a duration like 90s, 30m or 2h: {why}");
    let d = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(t.parse().map_err(|e| bad(format!("{e}")))?)
    } else {
        humantime::parse_duration(t).map_err(|e| bad(e.to_string()))?
    };
    if d.is_zero() {
        return Err(format!("{s:?} is zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    fn submit(args: &[&str]) -> SubmitArgs {
        let mut argv = vec!["spindle", "submit"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Submit(s) => *s,
            other => panic!("not submit: {other:?}"),
        }
    }

    #[test]
    fn submit_flags_and_job_args() {
        let s = submit(&[
            "--num-executors",
            "4",
            "--executor-memory",
            "1g",
            "--conf",
            "spindle.reducers=3",
            "--conf",
            "spindle.log=debug",
            "--files",
            "a.txt,b.txt",
            "--detach",
            "--timeout",
            "2m",
            "grep",
            "/in",
            "/out",
            "-v|--x",
        ]);
        assert_eq!(
            s.target(),
            Ok(Target::Builtin {
                job: Job::Grep,
                input: "/in".into(),
                output: "/out".into(),
                job_args: vec!["-v|--x".into()],
            })
        );
        assert_eq!(s.num_executors.as_deref(), Some("4"));
        assert_eq!(s.executor_memory.as_deref(), Some("1g"));
        assert_eq!(s.conf, vec!["spindle.reducers=3", "spindle.log=debug"]);
        assert_eq!(s.files.as_deref(), Some("a.txt,b.txt"));
        assert!(s.detach);
        assert_eq!(s.timeout, Some(Duration::from_secs(120)));
    }

    #[test]
    fn unknown_jobs_are_usage_errors_and_paths_are_programs() {
        let err = submit(&["sort", "/in", "/out"])
            .target()
            .expect_err("should be refused");
        assert!(err.contains("neither a built-in job"), "{err}");
        let err = submit(&["wordcount", "/in"])
            .target()
            .expect_err("no output");
        assert!(err.contains("needs an INPUT and an OUTPUT"), "{err}");
        assert_eq!(
            submit(&["./target/my-app", "--iterations", "3"]).target(),
            Ok(Target::Program {
                path: PathBuf::from("./target/my-app"),
                args: vec!["--iterations".into(), "3".into()],
            })
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        for bad in ["", "s", "-1s", "10x", "0s", "0"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
