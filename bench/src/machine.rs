//! Facts about the machine and software a result was measured on.

use serde::{Deserialize, Serialize};

/// Where and with what the benchmark ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub cores: usize,
    /// MemTotal, GiB.
    pub ram_gib: f64,
    /// /etc/os-release PRETTY_NAME and the kernel release.
    pub os: String,
    /// The cluster's Hadoop (RM `/ws/v1/cluster/info`).
    pub hadoop_version: String,
    /// pyspark's version, when Spark ran.
    pub spark_version: Option<String>,
    /// `java -version`'s first line.
    pub java_version: String,
    /// `rustc --version`.
    pub rustc_version: String,
    /// `git rev-parse HEAD`, `-dirty` when the tree has changes.
    pub git_commit: String,
    /// When the run started, UTC, ISO 8601.
    pub date_utc: String,
    /// The loopback cluster's shape.
    pub cluster: String,
}

/// The first value of `key` in `key : value` lines.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// PRETTY_NAME of an os-release file.
pub fn pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn first_line_of(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// What can be read from this machine (Hadoop and Spark versions are filled in later).
pub fn local_facts(repo: &std::path::Path) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: f64 = field(&meminfo, "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let os = pretty_name(&std::fs::read_to_string("/etc/os-release").unwrap_or_default())
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let repo_s = repo.to_string_lossy().into_owned();
    let commit = first_line_of("git", &["-C", &repo_s, "rev-parse", "HEAD"]);
    let dirty = std::process::Command::new("git")
        .args([
            "-C",
            &repo_s,
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Machine {
        cpu_model: field(&cpuinfo, "model name")
            .unwrap_or("unknown")
            .to_string(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        ram_gib: (ram_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        os: format!("{os}, Linux {}", kernel.trim()),
        hadoop_version: String::new(),
        spark_version: None,
        java_version: first_line_of("java", &["-version"]),
        rustc_version: first_line_of("rustc", &["--version"]),
        git_commit: if dirty {
            format!("{commit}-dirty")
        } else {
            commit
        },
        date_utc: iso_utc(now),
        cluster: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn proc_and_os_release_fields() {
        let cpu = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(field(cpu, "model name"), Some("AMD EPYC 7B13"));
        assert_eq!(
            field("MemTotal:       24577700 kB\n", "MemTotal"),
            Some("24577700 kB")
        );
        assert_eq!(
            pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
                .as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }
}
