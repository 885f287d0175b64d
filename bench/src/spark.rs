//! Spark on YARN as a peer: `pyspark` (which carries Spark's jars, the YARN module
//! included, and `spark-submit`) installed with pip into a venv the harness owns; a
//! small Java DataFrame word count compiled against those jars; the jars zipped once and
//! put in HDFS as `spark.yarn.archive`, so no run uploads them.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::hdfs::Hdfs;
use super::{BenchError, find_tool, progress};
use spindle_integration::Cluster;

/// The word count's source (one class, default package).
pub const APP_SOURCE: &str = include_str!("SpindleBenchWordCount.java");

/// The word count's main class.
pub const APP_CLASS: &str = "SpindleBenchWordCount";

/// P5's sort (one class, default package), in the same jar.
pub const SORT_SOURCE: &str = include_str!("SpindleBenchSort.java");

/// The sort's main class.
pub const SORT_CLASS: &str = "SpindleBenchSort";

/// What a Spark run needs, prepared once.
#[derive(Debug, Clone)]
pub struct SparkSetup {
    /// `pyspark`'s package directory, used as `SPARK_HOME`.
    pub spark_home: PathBuf,
    /// `pyspark.__version__`.
    pub version: String,
    /// The compiled word count.
    pub app_jar: PathBuf,
    /// `hdfs://…/spark-jars-<version>.zip`.
    pub archive_uri: String,
    /// The JDK's home, for `spark-submit`.
    pub java_home: Option<PathBuf>,
}

async fn run_cmd(cmd: &mut tokio::process::Command, what: &str) -> Result<String, BenchError> {
    let out = cmd
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| BenchError::io(format!("running {what}"), e))?;
    let text = spindle_integration::output_text(&out);
    if !out.status.success() {
        return Err(BenchError::Command {
            what: what.to_string(),
            detail: super::last_lines(&text, 25),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The installed pyspark's version and directory, if the venv has one.
async fn installed(python: &Path) -> Option<(String, PathBuf)> {
    let out = tokio::process::Command::new(python)
        .args([
            "-c",
            "import os, pyspark; print(pyspark.__version__); print(os.path.dirname(pyspark.__file__))",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let version = lines.next()?.trim().to_string();
    let dir = PathBuf::from(lines.next()?.trim());
    Some((version, dir))
}

/// Installs Spark (once), builds the app (when its source changed) and puts the jars
/// archive in HDFS (once). Nothing here is timed.
pub async fn prepare(
    cluster: &Cluster,
    hdfs: &Hdfs,
    work: &Path,
    version: &str,
) -> Result<SparkSetup, BenchError> {
    let venv = work.join("venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        let py = find_tool("python3").ok_or_else(|| {
            BenchError::ToolMissing(
                "python3".into(),
                "apt-get install python3 python3-venv".into(),
            )
        })?;
        progress(&format!("spark: creating the venv {}", venv.display()));
        run_cmd(
            tokio::process::Command::new(py)
                .arg("-m")
                .arg("venv")
                .arg(&venv),
            "python3 -m venv (Debian: apt-get install python3-venv)",
        )
        .await?;
    }
    let (found, spark_home) = match installed(&python).await {
        Some((v, dir)) if v == version => (v, dir),
        _ => {
            progress(&format!(
                "spark: pip install pyspark=={version} into {} (≈460 MB, once)",
                venv.display()
            ));
            run_cmd(
                tokio::process::Command::new(venv.join("bin/pip"))
                    .arg("install")
                    .arg("--disable-pip-version-check")
                    .arg(format!("pyspark=={version}")),
                &format!("pip install pyspark=={version}"),
            )
            .await?;
            installed(&python)
                .await
                .ok_or_else(|| BenchError::Command {
                    what: "importing pyspark after pip install".into(),
                    detail: format!("{} cannot import pyspark", python.display()),
                })?
        }
    };
    let jars = spark_home.join("jars");
    let has_yarn = std::fs::read_dir(&jars)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("spark-yarn_"))
        })
        .unwrap_or(false);
    if !has_yarn {
        return Err(BenchError::Command {
            what: "finding Spark's YARN module".into(),
            detail: format!("no spark-yarn_*.jar in {}", jars.display()),
        });
    }
    let javac = find_jdk_tool("javac")?;
    let jar = find_jdk_tool("jar")?;
    let java_home = javac.parent().and_then(Path::parent).map(Path::to_path_buf);

    // The apps, rebuilt when a source or Spark changed.
    let app_dir = work.join("spark-app");
    let app_jar = app_dir.join(format!("spindle-bench-apps-{found}.jar"));
    let sources = [(APP_CLASS, APP_SOURCE), (SORT_CLASS, SORT_SOURCE)]
        .map(|(class, text)| (app_dir.join(format!("{class}.java")), text));
    let fresh = app_jar.is_file()
        && sources
            .iter()
            .all(|(src, text)| std::fs::read_to_string(src).is_ok_and(|s| s == *text));
    if !fresh {
        progress("spark: compiling the word count and the sort against Spark's jars");
        let classes = app_dir.join("classes");
        if classes.exists() {
            std::fs::remove_dir_all(&classes)
                .map_err(|e| BenchError::io(format!("clearing {}", classes.display()), e))?;
        }
        std::fs::create_dir_all(&classes)
            .map_err(|e| BenchError::io(format!("creating {}", classes.display()), e))?;
        for (src, text) in &sources {
            std::fs::write(src, text)
                .map_err(|e| BenchError::io(format!("writing {}", src.display()), e))?;
        }
        run_cmd(
            tokio::process::Command::new(&javac)
                .args(["--release", "17", "-nowarn", "-cp"])
                .arg(format!("{}/*", jars.display()))
                .arg("-d")
                .arg(&classes)
                .args(sources.iter().map(|(src, _)| src)),
            "javac (the Spark apps)",
        )
        .await?;
        run_cmd(
            tokio::process::Command::new(&jar)
                .arg("--create")
                .arg("--file")
                .arg(&app_jar)
                .arg("-C")
                .arg(&classes)
                .arg("."),
            "jar (the Spark apps)",
        )
        .await?;
    }

    // The jars archive, stored (no compression) like Spark's docs suggest.
    let archive = work.join(format!("spark-jars-{found}.zip"));
    if !archive.is_file() {
        progress("spark: zipping Spark's jars for spark.yarn.archive (once)");
        let tmp = work.join(format!("spark-jars-{found}.zip.tmp"));
        let _ = std::fs::remove_file(&tmp);
        run_cmd(
            tokio::process::Command::new(&jar)
                .args(["--create", "--no-compress", "--no-manifest", "--file"])
                .arg(&tmp)
                .arg("-C")
                .arg(&jars)
                .arg("."),
            "jar (Spark's jars archive)",
        )
        .await?;
        std::fs::rename(&tmp, &archive)
            .map_err(|e| BenchError::io(format!("renaming {}", tmp.display()), e))?;
    }
    let remote = format!("/bench/spark/spark-jars-{found}.zip");
    if hdfs.put_if_changed(cluster, &archive, &remote).await? {
        progress(&format!(
            "spark: put the jars archive at {remote} (not timed)"
        ));
    }
    Ok(SparkSetup {
        spark_home,
        version: found,
        app_jar,
        archive_uri: format!("{}{remote}", cluster.default_fs()),
        java_home,
    })
}

/// A JDK tool (`javac`, `jar`): beside `$JAVA_HOME/bin/java`, else on PATH.
pub fn find_jdk_tool(name: &str) -> Result<PathBuf, BenchError> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let p = PathBuf::from(home).join("bin").join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    find_tool(name)
        .and_then(|p| std::fs::canonicalize(p).ok())
        .ok_or_else(|| {
            BenchError::ToolMissing(
                format!("{name} (a JDK 17; Spark's word count is compiled with it)"),
                "apt-get install openjdk-17-jdk-headless".into(),
            )
        })
}

/// `spark-submit`'s arguments for one run (yarn cluster mode) of `class` with
/// `app_args`.
#[allow(clippy::too_many_arguments)]
pub fn submit_args(
    setup: &SparkSetup,
    class: &str,
    tag: &str,
    executors: u32,
    cores: u32,
    executor_memory_mb: u64,
    driver_memory_mb: u64,
    partitions: u32,
    app_args: &[&str],
) -> Vec<String> {
    let conf = |k: &str, v: &str| ["--conf".to_string(), format!("{k}={v}")];
    let mut a: Vec<String> = [
        "--master",
        "yarn",
        "--deploy-mode",
        "cluster",
        "--name",
        tag,
        "--class",
        class,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend([
        "--num-executors".into(),
        executors.to_string(),
        "--executor-cores".into(),
        cores.to_string(),
        "--executor-memory".into(),
        format!("{executor_memory_mb}m"),
        "--driver-memory".into(),
        format!("{driver_memory_mb}m"),
    ]);
    a.extend(conf("spark.yarn.archive", &setup.archive_uri));
    a.extend(conf("spark.yarn.tags", tag));
    a.extend(conf("spark.yarn.maxAppAttempts", "1"));
    a.extend(conf("spark.yarn.appMasterEnv.SPARK_LOCAL_IP", "127.0.0.1"));
    a.extend(conf("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1"));
    a.extend(conf(
        "spark.sql.shuffle.partitions",
        &partitions.to_string(),
    ));
    a.push(setup.app_jar.to_string_lossy().into_owned());
    a.extend(app_args.iter().map(|s| s.to_string()));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_arguments() {
        let s = SparkSetup {
            spark_home: "/sh".into(),
            version: "4.3.0".into(),
            app_jar: "/w/app.jar".into(),
            archive_uri: "hdfs://nn/bench/spark/a.zip".into(),
            java_home: None,
        };
        let a = submit_args(&s, APP_CLASS, "t-1", 2, 1, 1024, 512, 2, &["/in", "/out"]);
        let text = a.join(" ");
        assert!(
            text.starts_with(
                "--master yarn --deploy-mode cluster --name t-1 --class SpindleBenchWordCount"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "--num-executors 2 --executor-cores 1 --executor-memory 1024m --driver-memory 512m"
            ),
            "{text}"
        );
        assert!(
            text.contains("--conf spark.yarn.archive=hdfs://nn/bench/spark/a.zip"),
            "{text}"
        );
        assert!(
            text.contains("--conf spark.sql.shuffle.partitions=2"),
            "{text}"
        );
        assert!(text.ends_with("/w/app.jar /in /out"), "{text}");
    }

    #[test]
    fn app_splits_like_string_tokenizer() {
        assert!(APP_SOURCE.contains(r#""[ \t\n\r\f]+""#));
        assert!(APP_SOURCE.contains(&format!("class {APP_CLASS}")));
        assert!(SORT_SOURCE.contains(&format!("class {SORT_CLASS}")));
    }
}
