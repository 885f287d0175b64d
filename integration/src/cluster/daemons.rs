//! One daemon JVM: start it detached, know whether it still runs, stop it.
//!
//! A daemon is ours only when its command line carries our marker (`-Dspindle.cluster=`
//! with this state directory and its name), so a recycled pid is never signalled.

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::settings::Settings;
use super::site::DaemonSpec;
use super::{ClusterError, io, last_lines};

/// Flags the ResourceManager and NodeManagers need on Java 17 (Guice/cglib reflection).
const ADD_OPENS: [&str; 6] = [
    "java.base/java.lang=ALL-UNNAMED",
    "java.base/java.lang.reflect=ALL-UNNAMED",
    "java.base/java.util=ALL-UNNAMED",
    "java.base/java.util.concurrent=ALL-UNNAMED",
    "java.base/java.net=ALL-UNNAMED",
    "java.base/java.io=ALL-UNNAMED",
];

/// Whether a daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonState {
    /// Alive, started by this cluster.
    Running,
    /// Has a pid file but the process is gone.
    Dead,
    /// Not started.
    Stopped,
}

/// A daemon of the cluster.
#[derive(Debug, Clone)]
pub struct Daemon {
    spec: DaemonSpec,
    marker: String,
    pid_file: PathBuf,
    log_file: PathBuf,
}

impl Daemon {
    pub(super) fn new(spec: DaemonSpec, s: &Settings) -> Self {
        Daemon {
            marker: format!("-Dspindle.cluster={}/{}", s.state_dir.display(), spec.name),
            pid_file: s.pid_dir().join(format!("{}.pid", spec.name)),
            log_file: s.log_dir().join(format!("{}.log", spec.name)),
            spec,
        }
    }

    /// Short name (`namenode`, `nodemanager2`, …).
    pub fn name(&self) -> &str {
        self.spec.name
    }

    /// The file the daemon logs to.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.recorded_pid().filter(|pid| self.is_ours(*pid))
    }

    /// The pid in the pid file, running or not.
    fn recorded_pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Running, dead (pid file, no process) or stopped.
    pub fn state(&self) -> DaemonState {
        if self.pid().is_some() {
            DaemonState::Running
        } else if self.pid_file.exists() {
            DaemonState::Dead
        } else {
            DaemonState::Stopped
        }
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    fn is_ours(&self, pid: u32) -> bool {
        self.cmdline(pid).is_some_and(|buf| {
            buf.split(|b| *b == 0)
                .any(|arg| arg == self.marker.as_bytes())
        })
    }

    /// The process's command line; empty for a zombie and, for a moment, for a
    /// process in the middle of `execve` (its new arguments are not mapped yet).
    fn cmdline(&self, pid: u32) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        std::fs::File::open(format!("/proc/{pid}/cmdline"))
            .and_then(|mut f| f.read_to_end(&mut buf))
            .ok()?;
        Some(buf)
    }

    /// True when the pid file names a process that is certainly not our daemon:
    /// none, a zombie, or another program. A process whose command line reads
    /// empty but which has not exited is still exec'ing the JVM, not dead.
    fn certainly_gone(&self) -> bool {
        let Some(pid) = self.recorded_pid() else {
            return self.pid_file.exists();
        };
        if self.is_ours(pid) {
            return false;
        }
        match self.cmdline(pid) {
            None => true,
            Some(cmd) if !cmd.is_empty() => true,
            Some(_) => process_state(pid).is_none_or(|s| s == 'Z' || s == 'X'),
        }
    }

    /// Fails, naming the daemon and port, when something already listens where it would.
    pub(super) fn check_ports(&self) -> Result<(), ClusterError> {
        for (host, port) in &self.spec.ports {
            let Ok(ip) = host.parse() else { continue };
            let addr = SocketAddr::new(ip, *port);
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Err(ClusterError::PortTaken {
                    daemon: self.spec.name.to_string(),
                    host: host.to_string(),
                    port: *port,
                });
            }
        }
        Ok(())
    }

    /// Starts the JVM detached (own process group, output to its log file).
    pub(super) fn start(
        &self,
        java: &Path,
        java_home: &Path,
        classpath: &str,
        s: &Settings,
    ) -> Result<(), ClusterError> {
        let log = std::fs::File::create(&self.log_file)
            .map_err(io(format!("creating {}", self.log_file.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io(format!("opening {}", self.log_file.display())))?;
        let mut cmd = Command::new(java);
        cmd.arg(&self.marker)
            .arg(format!("-Xmx{}", s.daemon_heap))
            // C1 only and the serial collector: half the boot time on 2 cores.
            .args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg("-Djava.net.preferIPv4Stack=true")
            .arg(format!("-Dhadoop.log.dir={}", s.log_dir().display()))
            .arg(format!("-Dyarn.log.dir={}", s.log_dir().display()))
            .arg(format!("-Dhadoop.log.file={}.log", self.spec.name))
            .arg(format!("-Dhadoop.home.dir={}", s.dist_dir().display()))
            .arg("-Dhadoop.root.logger=INFO,console");
        for opens in ADD_OPENS {
            cmd.arg("--add-opens").arg(opens);
        }
        cmd.arg("-cp").arg(classpath).arg(self.spec.main_class);
        for (k, v) in &self.spec.overrides {
            cmd.arg("-D").arg(format!("{k}={v}"));
        }
        cmd.env("HADOOP_CONF_DIR", s.conf_dir())
            .env("JAVA_HOME", java_home)
            .env("HADOOP_HOME", s.dist_dir())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(io(format!("starting the {}", self.spec.name)))?;
        std::fs::write(&self.pid_file, child.id().to_string())
            .map_err(io(format!("writing {}", self.pid_file.display())))?;
        // `spawn` returns once the child has begun exec'ing, not once the JVM's
        // command line (with our marker) is visible: wait for that, so that a
        // later liveness check does not mistake a starting daemon for a dead one.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.is_ours(child.id()) && Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(self.died(status.to_string()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    fn died(&self, status: String) -> ClusterError {
        let text = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        ClusterError::DaemonDied {
            daemon: self.spec.name.to_string(),
            status,
            log: self.log_file.clone(),
            tail: last_lines(&text, 30),
        }
    }

    /// Errors with the tail of its log when a started daemon is gone.
    pub(super) fn check_alive(&self) -> Result<(), ClusterError> {
        if self.state() == DaemonState::Dead && self.certainly_gone() {
            return Err(self.died("exited".into()));
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL after 20 s; removes the pid file. No-op when not running.
    pub(super) async fn stop(&self) -> Result<(), ClusterError> {
        if let Some(pid) = self.pid() {
            signal(pid, "TERM")?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while self.is_ours(pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if self.is_ours(pid) {
                signal(pid, "KILL")?;
                while self.is_ours(pid) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        match std::fs::remove_file(&self.pid_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ClusterError::Io {
                what: format!("removing {}", self.pid_file.display()),
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// The one-letter state in /proc/<pid>/stat (R, S, D, Z, …), if the process exists.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may itself hold spaces or parentheses.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn signal(pid: u32, sig: &str) -> Result<(), ClusterError> {
    // The kill(1) command keeps this crate free of unsafe FFI.
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
        .map_err(io(format!("signalling pid {pid}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_reads_running_and_zombie_processes() {
        let me = process_state(std::process::id()).expect("own state");
        assert!(matches!(me, 'R' | 'S'), "{me}");
        let mut child = Command::new("true").spawn().expect("spawn true");
        // Not reaped yet, so once it exits it stays a zombie.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut state = process_state(child.id());
        while state != Some('Z') && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            state = process_state(child.id());
        }
        assert_eq!(state, Some('Z'));
        child.wait().expect("reap");
        assert_eq!(process_state(child.id()), None);
    }
}
