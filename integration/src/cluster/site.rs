//! The cluster's `HADOOP_CONF_DIR` and the per-daemon overrides that make two DataNodes
//! and two NodeManagers out of one configuration.

use std::fmt::Write as _;
use std::path::Path;

use super::settings::Settings;

/// Which JVM a daemon runs and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    /// Short name, used for pid and log files (`namenode`, `datanode1`, …).
    pub name: &'static str,
    /// Java main class.
    pub main_class: &'static str,
    /// `-D key=value` overrides on the command line.
    pub overrides: Vec<(String, String)>,
    /// (host, port) pairs this daemon listens on, checked free before starting.
    pub ports: Vec<(&'static str, u16)>,
}

/// Loopback addresses standing for the two worker nodes.
pub const NODE_HOSTS: [&str; 2] = ["127.0.0.2", "127.0.0.3"];

/// The six daemons, in start order.
pub fn daemons(s: &Settings) -> Vec<DaemonSpec> {
    let data = s.data_dir();
    let d = |p: &Path| p.to_string_lossy().into_owned();
    let mut out = vec![DaemonSpec {
        name: "namenode",
        main_class: "org.apache.hadoop.hdfs.server.namenode.NameNode",
        overrides: vec![],
        ports: vec![("127.0.0.1", s.port(9000)), ("127.0.0.1", s.port(9870))],
    }];
    for (i, host) in NODE_HOSTS.iter().enumerate() {
        // DataNodes bind data and HTTP on the wildcard: the NameNode hands clients the
        // IP it saw (127.0.0.1) while WebHDFS redirects go by host name (127.0.0.2/.3).
        let shift = 100 * i as u16;
        let (xfer, http, ipc) = (
            s.port(9866 - shift),
            s.port(9864 - shift),
            s.port(9867 - shift),
        );
        out.push(DaemonSpec {
            name: ["datanode1", "datanode2"][i],
            main_class: "org.apache.hadoop.hdfs.server.datanode.DataNode",
            overrides: vec![
                ("dfs.datanode.hostname".into(), host.to_string()),
                ("dfs.datanode.address".into(), format!("0.0.0.0:{xfer}")),
                (
                    "dfs.datanode.http.address".into(),
                    format!("0.0.0.0:{http}"),
                ),
                (
                    "dfs.datanode.ipc.address".into(),
                    format!("127.0.0.1:{ipc}"),
                ),
                (
                    "dfs.datanode.data.dir".into(),
                    d(&data.join(format!("dn{}", i + 1))),
                ),
            ],
            ports: vec![("127.0.0.1", xfer), ("127.0.0.1", http), ("127.0.0.1", ipc)],
        });
    }
    out.push(DaemonSpec {
        name: "resourcemanager",
        main_class: "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager",
        overrides: vec![],
        ports: [8030, 8031, 8032, 8033, 8088]
            .iter()
            .map(|p| ("127.0.0.1", s.port(*p)))
            .collect(),
    });
    for (i, host) in NODE_HOSTS.iter().enumerate() {
        let n = i + 1;
        out.push(DaemonSpec {
            name: ["nodemanager1", "nodemanager2"][i],
            main_class: "org.apache.hadoop.yarn.server.nodemanager.NodeManager",
            overrides: vec![
                ("yarn.nodemanager.hostname".into(), host.to_string()),
                (
                    "yarn.nodemanager.address".into(),
                    format!("{host}:{}", s.port(8041)),
                ),
                (
                    "yarn.nodemanager.localizer.address".into(),
                    format!("{host}:{}", s.port(8040)),
                ),
                (
                    "yarn.nodemanager.webapp.address".into(),
                    format!("{host}:{}", s.port(8042)),
                ),
                (
                    "yarn.nodemanager.local-dirs".into(),
                    d(&data.join(format!("nm{n}/local"))),
                ),
                (
                    "yarn.nodemanager.log-dirs".into(),
                    d(&data.join(format!("nm{n}/logs"))),
                ),
                // Each NodeManager's ShuffleHandler binds the wildcard: give each its own.
                (
                    "mapreduce.shuffle.port".into(),
                    s.port(13562 + i as u16).to_string(),
                ),
            ],
            ports: vec![
                (host, s.port(8041)),
                (host, s.port(8040)),
                (host, s.port(8042)),
                ("127.0.0.1", s.port(13562 + i as u16)),
            ],
        });
    }
    out
}

/// The site files as (file name, contents).
pub fn site_files(s: &Settings) -> Vec<(&'static str, String)> {
    let conf = s.conf_dir();
    let lib = s.dist_dir().join("lib");
    let data = s.data_dir();
    let p = |p: &Path| p.to_string_lossy().into_owned();
    let classpath = format!("{},{}/*", p(&conf), p(&lib));
    let port = |b: u16| s.port(b).to_string();

    let core = xml(&[
        ("fs.defaultFS", format!("hdfs://{}", s.namenode_address())),
        ("hadoop.tmp.dir", p(&data.join("tmp"))),
        ("hadoop.rpc.protection", s.rpc_protection.clone()),
        ("hadoop.security.authentication", "simple".into()),
        ("hadoop.http.staticuser.user", "root".into()),
        // Let the REST client act for any user on this test cluster.
        ("hadoop.proxyuser.root.hosts", "*".into()),
        ("hadoop.proxyuser.root.groups", "*".into()),
    ]);
    let hdfs = xml(&[
        ("dfs.replication", "2".into()),
        ("dfs.blocksize", s.block_size.to_string()),
        // Tests write files with tiny blocks to make many-block inputs cheaply.
        ("dfs.namenode.fs-limits.min-block-size", "4096".into()),
        ("dfs.namenode.name.dir", p(&data.join("nn"))),
        ("dfs.namenode.rpc-address", s.namenode_address()),
        (
            "dfs.namenode.http-address",
            format!("127.0.0.1:{}", port(9870)),
        ),
        ("dfs.namenode.secondary.http-address", "127.0.0.1:0".into()),
        ("dfs.namenode.safemode.extension", "0".into()),
        (
            "dfs.namenode.datanode.registration.ip-hostname-check",
            "false".into(),
        ),
        // A writer's close need not wait for the DataNodes' report of the last block
        // (HDFS-8999): without it every HDFS client (Java's and hdfs-native) races that
        // report and, losing, sleeps 0.4-0.5 s before retrying `complete`.
        ("dfs.namenode.file.close.num-committed-allowed", "1".into()),
        ("dfs.heartbeat.interval", "1".into()),
        ("dfs.namenode.heartbeat.recheck-interval", "10000".into()),
        ("dfs.permissions.superusergroup", "root".into()),
        ("dfs.webhdfs.enabled", "true".into()),
    ]);
    let yarn = xml(&[
        ("yarn.resourcemanager.hostname", "127.0.0.1".into()),
        ("yarn.resourcemanager.address", format!("127.0.0.1:{}", port(8032))),
        (
            "yarn.resourcemanager.scheduler.address",
            format!("127.0.0.1:{}", port(8030)),
        ),
        (
            "yarn.resourcemanager.resource-tracker.address",
            format!("127.0.0.1:{}", port(8031)),
        ),
        ("yarn.resourcemanager.admin.address", format!("127.0.0.1:{}", port(8033))),
        ("yarn.resourcemanager.webapp.address", format!("127.0.0.1:{}", port(8088))),
        ("yarn.nodemanager.resource.memory-mb", s.nm_memory_mb.to_string()),
        ("yarn.nodemanager.resource.cpu-vcores", s.nm_vcores.to_string()),
        ("yarn.scheduler.minimum-allocation-mb", "128".into()),
        ("yarn.scheduler.maximum-allocation-mb", s.nm_memory_mb.to_string()),
        ("yarn.scheduler.maximum-allocation-vcores", s.nm_vcores.to_string()),
        ("yarn.nodemanager.vmem-check-enabled", "false".into()),
        ("yarn.nodemanager.pmem-check-enabled", s.pmem_check.to_string()),
        // YARN counts "used" against the disk's total size, not what this machine may
        // use of it: on a shared disk with 250 GB total and a few GB free, the default
        // 90% (and even 99%) turned every NodeManager UNHEALTHY mid-run. At 100 only a
        // full disk does; jobs then fail on their writes with HDFS's own error.
        (
            "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage",
            "100.0".into(),
        ),
        ("yarn.log-aggregation-enable", "true".into()),
        ("yarn.nodemanager.remote-app-log-dir", "/app-logs".into()),
        ("yarn.log-aggregation.retain-seconds", "86400".into()),
        ("yarn.nodemanager.aux-services", "mapreduce_shuffle".into()),
        (
            "yarn.nodemanager.aux-services.mapreduce_shuffle.class",
            "org.apache.hadoop.mapred.ShuffleHandler".into(),
        ),
        (
            "yarn.nodemanager.env-whitelist",
            "JAVA_HOME,HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR,CLASSPATH_PREPEND_DISTCACHE,HADOOP_YARN_HOME,HADOOP_HOME,PATH,LANG,TZ,HADOOP_MAPRED_HOME".into(),
        ),
        ("yarn.application.classpath", classpath.clone()),
        // Keep finished containers' directories a while for post-mortems.
        ("yarn.nodemanager.delete.debug-delay-sec", "300".into()),
        ("yarn.nodemanager.sleep-delay-before-sigkill.ms", "250".into()),
        ("yarn.resourcemanager.nodemanagers.heartbeat-interval-ms", "250".into()),
        ("yarn.nodemanager.health-checker.interval-ms", "60000".into()),
        ("yarn.webapp.ui2.enable", "false".into()),
        ("yarn.timeline-service.enabled", "false".into()),
        ("yarn.resourcemanager.system-metrics-publisher.enabled", "false".into()),
    ]);
    let mapred = xml(&[
        ("mapreduce.framework.name", "yarn".into()),
        ("mapreduce.application.classpath", classpath),
        ("yarn.app.mapreduce.am.resource.mb", "512".into()),
        ("yarn.app.mapreduce.am.command-opts", "-Xmx384m".into()),
        ("mapreduce.map.memory.mb", "512".into()),
        ("mapreduce.reduce.memory.mb", "512".into()),
        ("mapreduce.map.java.opts", "-Xmx384m".into()),
        ("mapreduce.reduce.java.opts", "-Xmx384m".into()),
        (
            "yarn.app.mapreduce.am.staging-dir",
            "/tmp/hadoop-yarn/staging".into(),
        ),
        ("mapreduce.client.completion.pollinterval", "1000".into()),
    ]);
    let capacity = xml(&[
        ("yarn.scheduler.capacity.root.queues", "default".into()),
        (
            "yarn.scheduler.capacity.root.default.capacity",
            "100".into(),
        ),
        (
            "yarn.scheduler.capacity.root.default.maximum-capacity",
            "100".into(),
        ),
        (
            "yarn.scheduler.capacity.maximum-am-resource-percent",
            "0.5".into(),
        ),
        (
            "yarn.scheduler.capacity.root.default.state",
            "RUNNING".into(),
        ),
        (
            "yarn.scheduler.capacity.root.default.acl_submit_applications",
            "*".into(),
        ),
        ("yarn.scheduler.capacity.node-locality-delay", "40".into()),
    ]);
    vec![
        ("core-site.xml", core),
        ("hdfs-site.xml", hdfs),
        ("yarn-site.xml", yarn),
        ("mapred-site.xml", mapred),
        ("capacity-scheduler.xml", capacity),
        ("log4j.properties", LOG4J.to_string()),
    ]
}

const LOG4J: &str = "\
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.yarn.server.nodemanager.containermanager.monitor=WARN
# Container logs (YARN's ContainerLogAppender) for MapReduce tasks.
log4j.appender.CLA=org.apache.hadoop.yarn.ContainerLogAppender
log4j.appender.CLA.containerLogDir=${yarn.app.container.log.dir}
log4j.appender.CLA.containerLogFile=${hadoop.root.logfile}
log4j.appender.CLA.totalLogFileSize=${yarn.app.container.log.filesize}
log4j.appender.CLA.layout=org.apache.log4j.PatternLayout
log4j.appender.CLA.layout.ConversionPattern=%d{ISO8601} %p [%t] %c: %m%n
";

fn xml(props: &[(&str, String)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\"?>\n<!-- Written by integration/cluster; edits are overwritten. -->\n<configuration>\n",
    );
    for (k, v) in props {
        let _ = writeln!(
            out,
            "  <property><name>{}</name><value>{}</value></property>",
            escape(k),
            escape(v)
        );
    }
    out.push_str("</configuration>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_listening_port_is_distinct() {
        let s = Settings::defaults();
        let mut seen = HashSet::new();
        for d in daemons(&s) {
            for (host, port) in d.ports {
                // Wildcard binds clash across hosts: compare ports on 127.0.0.1 globally.
                let key = if host == "127.0.0.1" {
                    ("any", port)
                } else {
                    (host, port)
                };
                assert!(seen.insert(key), "{} reuses {host}:{port}", d.name);
            }
        }
    }

    #[test]
    fn site_files_parse_with_our_own_reader() {
        let s = Settings::defaults();
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in site_files(&s) {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let conf = spindle_conf::HadoopConf::from_dir(dir.path()).expect("parse");
        assert_eq!(conf.namenode_address().ok(), Some(s.namenode_address()));
        assert_eq!(conf.rm_web_url(), s.rm_url());
        assert_eq!(conf.get("dfs.replication").as_deref(), Some("2"));
    }

    #[test]
    fn offsets_move_every_port() {
        let a = Settings::defaults();
        let b = Settings {
            port_offset: 1000,
            ..Settings::defaults()
        };
        let pa: HashSet<u16> = daemons(&a)
            .iter()
            .flat_map(|d| d.ports.iter().map(|p| p.1))
            .collect();
        let pb: HashSet<u16> = daemons(&b)
            .iter()
            .flat_map(|d| d.ports.iter().map(|p| p.1))
            .collect();
        assert!(pa.is_disjoint(&pb));
    }
}
