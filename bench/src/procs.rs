//! Peak memory of YARN containers, from `/proc`: every ~100 ms the sampler finds the
//! processes that belong to a container (their `CONTAINER_ID` environment variable, or
//! a container directory in their command line) and records each process's `VmHWM`
//! (the kernel's own high-water mark of resident memory) and the sum of `VmRSS` over
//! the container's processes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One process's memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcMem {
    /// `Name:` (the executable's short name, e.g. `java`, `spindle-am`, `bash`).
    pub name: String,
    /// `VmHWM:` in bytes.
    pub hwm: u64,
    /// `VmRSS:` in bytes.
    pub rss: u64,
}

/// Parses `/proc/<pid>/status`; `None` for kernel threads and zombies (no Vm lines).
pub fn parse_status(text: &str) -> Option<ProcMem> {
    let mut name = None;
    let mut hwm = None;
    let mut rss = None;
    let kib = |v: &str| -> Option<u64> {
        v.trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("VmHWM:") {
            hwm = kib(v);
        } else if let Some(v) = line.strip_prefix("VmRSS:") {
            rss = kib(v);
        }
    }
    Some(ProcMem {
        name: name?,
        hwm: hwm?,
        rss: rss?,
    })
}

/// The `CONTAINER_ID` in a NUL-separated environment block.
pub fn container_of_environ(environ: &[u8]) -> Option<String> {
    environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"CONTAINER_ID="))
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| v.starts_with("container_"))
        .map(str::to_string)
}

/// A container id named in a command line (`…/container_1_0001_01_000002/…`).
pub fn container_in_cmdline(cmdline: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(cmdline);
    let at = text.find("container_")?;
    let id: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    app_of_container(&id).map(|_| id)
}

/// `application_<ts>_<seq>` of a container id (`container_[e<epoch>_]<ts>_<seq>_<attempt>_<n>`).
pub fn app_of_container(container: &str) -> Option<String> {
    let rest = container.strip_prefix("container_")?;
    let parts: Vec<&str> = rest.split('_').collect();
    let parts = match parts.as_slice() {
        [e, rest @ ..] if e.starts_with('e') => rest.to_vec(),
        p => p.to_vec(),
    };
    match parts.as_slice() {
        [ts, seq, attempt, n]
            if [ts, seq, attempt, n]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some(format!("application_{ts}_{seq}"))
        }
        _ => None,
    }
}

/// Whether a container is its attempt's first (the ApplicationMaster's).
pub fn is_am_container(container: &str) -> bool {
    container
        .rsplit('_')
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        == Some(1)
}

/// Shells YARN wraps commands in; the program measured is the heaviest other process.
fn is_shell(name: &str) -> bool {
    matches!(name, "bash" | "sh" | "dash")
}

/// What was seen of one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSeen {
    /// (pid, start time) → the process's name and highest `VmHWM` seen.
    pub processes: HashMap<(u32, u64), ProcMem>,
    /// The highest sum of `VmRSS` over the container's processes in one sample.
    pub tree_peak: u64,
}

/// One container's peak, for the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPeak {
    /// The container id.
    pub container: String,
    /// The program measured (the heaviest process that is not a shell).
    pub process: String,
    /// Its `VmHWM`, bytes.
    pub peak_bytes: u64,
    /// The highest sampled `VmRSS` sum of all the container's processes (shells too).
    pub tree_peak_bytes: u64,
}

/// An application's memory: its AM and every other container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppMemory {
    /// The AM container (attempt 1's container 1; for Spark in cluster mode the driver).
    pub am: Option<ContainerPeak>,
    /// Executors, task JVMs, shell containers.
    pub executors: Vec<ContainerPeak>,
}

impl AppMemory {
    /// The largest executor peak.
    pub fn max_executor(&self) -> Option<u64> {
        self.executors.iter().map(|e| e.peak_bytes).max()
    }
}

/// Everything a sampler saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Container id → what was seen.
    pub containers: BTreeMap<String, ContainerSeen>,
    /// How many samples were taken.
    pub samples: u64,
}

impl Observed {
    /// The peaks of one application's containers.
    pub fn for_app(&self, app_id: &str) -> AppMemory {
        let mut mem = AppMemory::default();
        for (id, seen) in &self.containers {
            if app_of_container(id).as_deref() != Some(app_id) {
                continue;
            }
            let main = seen
                .processes
                .values()
                .filter(|p| !is_shell(&p.name))
                .max_by_key(|p| p.hwm)
                .or_else(|| seen.processes.values().max_by_key(|p| p.hwm));
            let Some(main) = main else { continue };
            let peak = ContainerPeak {
                container: id.clone(),
                process: main.name.clone(),
                peak_bytes: main.hwm,
                tree_peak_bytes: seen.tree_peak,
            };
            if is_am_container(id) && mem.am.is_none() {
                mem.am = Some(peak);
            } else {
                mem.executors.push(peak);
            }
        }
        mem
    }

    fn sample(&mut self, owners: &mut HashMap<(u32, u64), Owner>) {
        self.samples += 1;
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut sums: HashMap<String, u64> = HashMap::new();
        let mut alive = std::collections::HashSet::new();
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Some((comm, start)) = stat_fields(pid) else {
                continue;
            };
            let key = (pid, start);
            alive.insert(key);
            // Resolved again after an exec (a new name): a process caught between the
            // NodeManager's fork and its exec still has the NodeManager's environment.
            let owner = owners.entry(key).or_insert_with(|| Owner {
                comm: String::new(),
                container: None,
            });
            if owner.comm != comm {
                owner.comm = comm;
                owner.container = container_of_pid(pid);
            }
            let Some(container) = owner.container.clone() else {
                continue;
            };
            let Some(mem) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| parse_status(&s))
            else {
                continue;
            };
            *sums.entry(container.clone()).or_default() += mem.rss;
            let seen = self.containers.entry(container).or_default();
            let p = seen.processes.entry(key).or_insert_with(|| mem.clone());
            p.hwm = p.hwm.max(mem.hwm);
            p.rss = mem.rss;
            p.name = mem.name;
        }
        owners.retain(|k, _| alive.contains(k));
        for (c, sum) in sums {
            if let Some(seen) = self.containers.get_mut(&c) {
                seen.tree_peak = seen.tree_peak.max(sum);
            }
        }
    }
}

/// Which container a process belongs to, as last resolved, and under which name.
#[derive(Debug, Clone)]
struct Owner {
    comm: String,
    container: Option<String>,
}

fn container_of_pid(pid: u32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .ok()
        .and_then(|env| container_of_environ(&env))
        .or_else(|| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .ok()
                .and_then(|c| container_in_cmdline(&c))
        })
}

/// The name (field 2) and start time (field 22, clock ticks) of `/proc/<pid>/stat`:
/// with the pid, the start time is a key no recycled pid shares.
fn stat_fields(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Parses a `/proc/<pid>/stat` line (the name may hold spaces and parentheses).
pub fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let start = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    Some((comm, start))
}

/// A background thread sampling container processes until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Observed>,
}

impl Sampler {
    /// Starts sampling every `every`; stops by itself after `limit`.
    pub fn start(every: Duration, limit: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut seen = Observed::default();
            let mut owners = HashMap::new();
            let end = Instant::now() + limit;
            while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                seen.sample(&mut owners);
                std::thread::sleep(every);
            }
            seen.sample(&mut owners);
            seen
        });
        Sampler { stop, handle }
    }

    /// Stops and returns what was seen.
    pub fn finish(self) -> Observed {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let text = "Name:\tspindle-am\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  200000 kB\nVmHWM:\t    9000 kB\nVmRSS:\t    8000 kB\n";
        assert_eq!(
            parse_status(text),
            Some(ProcMem {
                name: "spindle-am".into(),
                hwm: 9000 * 1024,
                rss: 8000 * 1024
            })
        );
        assert_eq!(parse_status("Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn stat_names_and_start_times() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(
            parse_stat(line),
            Some(("my (odd) name".to_string(), 987_654))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn container_ids() {
        let env = b"PATH=/bin\0CONTAINER_ID=container_1795821085526_0003_01_000002\0HOME=/\0";
        assert_eq!(
            container_of_environ(env).as_deref(),
            Some("container_1795821085526_0003_01_000002")
        );
        assert_eq!(container_of_environ(b"PATH=/bin\0"), None);
        let cmd = b"java\0-Djava.io.tmpdir=/x/appcache/application_1_0003/container_e02_1795821085526_0003_01_000001/tmp\0Main\0";
        assert_eq!(
            container_in_cmdline(cmd).as_deref(),
            Some("container_e02_1795821085526_0003_01_000001")
        );
        assert_eq!(container_in_cmdline(b"grep\0container_\0"), None);
        assert_eq!(
            app_of_container("container_e02_1795821085526_0003_01_000001").as_deref(),
            Some("application_1795821085526_0003")
        );
        assert_eq!(
            app_of_container("container_1795821085526_10003_01_000012").as_deref(),
            Some("application_1795821085526_10003")
        );
        assert_eq!(app_of_container("container_x_1_2"), None);
        assert!(is_am_container("container_1795821085526_0003_01_000001"));
        assert!(!is_am_container("container_1795821085526_0003_01_000002"));
    }

    #[test]
    fn per_app_peaks_skip_shells_and_other_apps() {
        let mut obs = Observed::default();
        let mut add = |c: &str, pid: u32, name: &str, hwm: u64, tree: u64| {
            let seen = obs.containers.entry(c.to_string()).or_default();
            seen.processes.insert(
                (pid, 1),
                ProcMem {
                    name: name.into(),
                    hwm,
                    rss: hwm,
                },
            );
            seen.tree_peak = seen.tree_peak.max(tree);
        };
        add(
            "container_9_0001_01_000001",
            10,
            "bash",
            4_000_000,
            30_000_000,
        );
        add(
            "container_9_0001_01_000001",
            11,
            "spindle-am",
            20_000_000,
            30_000_000,
        );
        add(
            "container_9_0001_01_000002",
            12,
            "bash",
            4_000_000,
            19_000_000,
        );
        add(
            "container_9_0001_01_000002",
            13,
            "spindle-executor",
            15_000_000,
            19_000_000,
        );
        add(
            "container_9_0002_01_000002",
            14,
            "java",
            300_000_000,
            300_000_000,
        );
        let m = obs.for_app("application_9_0001");
        let am = m.am.clone().expect("am");
        assert_eq!(
            (am.process.as_str(), am.peak_bytes, am.tree_peak_bytes),
            ("spindle-am", 20_000_000, 30_000_000)
        );
        assert_eq!(m.executors.len(), 1);
        assert_eq!(m.max_executor(), Some(15_000_000));
        assert_eq!(obs.for_app("application_9_0003"), AppMemory::default());
    }

    #[test]
    fn sampler_stops_promptly_when_asked() {
        // It samples at least twice (start and end) and stops well before its limit.
        let s = Sampler::start(Duration::from_millis(10), Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        let obs = s.finish();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(obs.samples >= 2);
        assert!(stat_fields(std::process::id()).is_some());
    }
}
