//! What an executor needs to know before it connects: the driver's address and its own
//! identity (command line), and what YARN and the AM put in the container's environment
//! (container id, node, application secret, user, default file system).

use std::fmt;
use std::path::{Path, PathBuf};

use spindle_conf::HadoopConf;
use spindle_core::transport::SECRET_ALIAS;
use spindle_hadoop_ipc::Credentials;

use crate::error::ExecutorError;

/// Everything [`crate::run`] needs, validated once.
#[derive(Clone)]
pub struct ExecutorConfig {
    /// The driver's executor endpoint, `host:port`.
    pub driver: String,
    /// This executor's id, as the driver assigned it.
    pub executor_id: String,
    /// The YARN container the executor runs in (`CONTAINER_ID`).
    pub container_id: String,
    /// The node as YARN names it (`NM_HOST`), for locality.
    pub host: String,
    /// Tasks run at once (at least 1).
    pub cores: u32,
    /// The container's memory, reported to the driver (0 when unknown).
    pub memory_bytes: u64,
    /// The application secret proven to the driver (never sent, never logged).
    pub secret: Vec<u8>,
    /// The default file system for bare paths, e.g. `hdfs://nn:8020` or `file:///`.
    pub default_fs: String,
    /// The user file systems are accessed as.
    pub user: String,
    /// Hadoop's site files (empty without `HADOOP_CONF_DIR`/`HADOOP_HOME`), handed to
    /// the file systems with `fs.defaultFS` set to [`Self::default_fs`].
    pub hadoop_conf: HadoopConf,
}

impl fmt::Debug for ExecutorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorConfig")
            .field("driver", &self.driver)
            .field("executor_id", &self.executor_id)
            .field("container_id", &self.container_id)
            .field("host", &self.host)
            .field("cores", &self.cores)
            .field("memory_bytes", &self.memory_bytes)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("default_fs", &self.default_fs)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ExecutorConfig {
    /// Builds the configuration from the command line's values and the container's
    /// environment: `CONTAINER_ID`, `NM_HOST`, `HADOOP_TOKEN_FILE_LOCATION` (the secret
    /// under [`SECRET_ALIAS`]), `HADOOP_USER_NAME` (else `USER`), `SPINDLE_DEFAULT_FS`
    /// (else `fs.defaultFS` from `HADOOP_CONF_DIR`, else `$HADOOP_HOME/etc/hadoop`).
    pub fn from_container_env(
        driver: String,
        executor_id: String,
        cores: u32,
        memory_bytes: u64,
    ) -> Result<Self, ExecutorError> {
        Self::from_lookup(driver, executor_id, cores, memory_bytes, |k| {
            std::env::var(k).ok()
        })
    }

    /// [`Self::from_container_env`] over any variable lookup (tests pass a map).
    fn from_lookup(
        driver: String,
        executor_id: String,
        cores: u32,
        memory_bytes: u64,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ExecutorError> {
        let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let require = |k: &'static str| var(k).ok_or(ExecutorError::MissingEnv(k));

        let container_id = require("CONTAINER_ID")?;
        let host = require("NM_HOST")?;
        let token_file = PathBuf::from(require("HADOOP_TOKEN_FILE_LOCATION")?);
        let secret = read_secret(&token_file)?;
        let user = var("HADOOP_USER_NAME")
            .or_else(|| var("USER"))
            .ok_or(ExecutorError::MissingEnv("HADOOP_USER_NAME"))?;

        let conf_dir = var("HADOOP_CONF_DIR")
            .map(PathBuf::from)
            .or_else(|| var("HADOOP_HOME").map(|h| PathBuf::from(h).join("etc").join("hadoop")));
        let spindle_default_fs = var("SPINDLE_DEFAULT_FS");
        let hadoop_conf = match conf_dir.map(|dir| (HadoopConf::from_dir(&dir), dir)) {
            None => HadoopConf::default(),
            Some((Ok(conf), _)) => conf,
            // The site files only add HDFS client settings once the AM named the default
            // file system; a node without them can still run tasks.
            Some((Err(e), dir)) if spindle_default_fs.is_some() => {
                tracing::warn!(
                    "ignoring the Hadoop configuration in {}: {e}",
                    dir.display()
                );
                HadoopConf::default()
            }
            Some((Err(e), dir)) => {
                return Err(ExecutorError::Config(format!(
                    "reading the Hadoop configuration in {}: {e}",
                    dir.display()
                )));
            }
        };
        let default_fs = spindle_default_fs
            .or_else(|| hadoop_conf.get("fs.defaultFS").filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                ExecutorError::Config(
                    "no default file system: set SPINDLE_DEFAULT_FS, or fs.defaultFS in HADOOP_CONF_DIR's core-site.xml"
                        .into(),
                )
            })?;

        let config = ExecutorConfig {
            driver,
            executor_id,
            container_id,
            host,
            cores,
            memory_bytes,
            secret,
            default_fs,
            user,
            hadoop_conf,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types cannot say.
    pub(crate) fn validate(&self) -> Result<(), ExecutorError> {
        if self.cores == 0 {
            return Err(ExecutorError::Config("cores must be at least 1".into()));
        }
        if self.executor_id.is_empty() {
            return Err(ExecutorError::Config("the executor id is empty".into()));
        }
        if !self.driver.contains(':') {
            return Err(ExecutorError::Config(format!(
                "driver address {:?} is not host:port",
                self.driver
            )));
        }
        Ok(())
    }

    /// The Hadoop configuration the file systems get: the site files with `fs.defaultFS`
    /// set to [`Self::default_fs`].
    /// The Hadoop settings with `fs.defaultFS` set to [`Self::default_fs`].
    pub fn fs_conf(&self) -> HadoopConf {
        let mut conf = self.hadoop_conf.clone();
        conf.set("fs.defaultFS", &self.default_fs);
        conf
    }
}

/// The application secret from a credentials file.
fn read_secret(path: &Path) -> Result<Vec<u8>, ExecutorError> {
    let err = |message: String| ExecutorError::Credentials {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let credentials = Credentials::read_token_storage(&bytes).map_err(|e| err(e.to_string()))?;
    match credentials.secret(SECRET_ALIAS) {
        Some(s) if !s.is_empty() => Ok(s.to_vec()),
        Some(_) => Err(err(format!("the secret under {SECRET_ALIAS} is empty"))),
        None => Err(err(format!("no secret under the alias {SECRET_ALIAS}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Env {
        dir: tempfile::TempDir,
        vars: HashMap<String, String>,
    }

    impl Env {
        fn new() -> Env {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut creds = Credentials::new();
            creds.add_secret(SECRET_ALIAS, b"app-secret".to_vec());
            let token_file = dir.path().join("container_tokens");
            std::fs::write(&token_file, creds.write_token_storage()).expect("write tokens");
            let conf_dir = dir.path().join("conf");
            std::fs::create_dir(&conf_dir).expect("mkdir");
            std::fs::write(
                conf_dir.join("core-site.xml"),
                "<configuration><property><name>fs.defaultFS</name>\
                 <value>hdfs://nn.example:9000</value></property></configuration>",
            )
            .expect("write core-site");
            let mut vars = HashMap::new();
            for (k, v) in [
                (
                    "CONTAINER_ID",
                    "container_1700000000000_0001_01_000002".to_string(),
                ),
                ("NM_HOST", "node1.example".to_string()),
                (
                    "HADOOP_TOKEN_FILE_LOCATION",
                    token_file.display().to_string(),
                ),
                ("USER", "yarn".to_string()),
                ("HADOOP_CONF_DIR", conf_dir.display().to_string()),
            ] {
                vars.insert(k.to_string(), v);
            }
            Env { dir, vars }
        }

        fn config(&self) -> Result<ExecutorConfig, ExecutorError> {
            ExecutorConfig::from_lookup("am:4040".into(), "3".into(), 2, 1 << 30, |k| {
                self.vars.get(k).cloned()
            })
        }
    }

    #[test]
    fn reads_the_container_environment() {
        let env = Env::new();
        let c = env.config().expect("config");
        assert_eq!(c.container_id, "container_1700000000000_0001_01_000002");
        assert_eq!(c.host, "node1.example");
        assert_eq!(c.secret, b"app-secret");
        assert_eq!(c.user, "yarn");
        assert_eq!(c.default_fs, "hdfs://nn.example:9000");
        assert_eq!(c.cores, 2);
        assert_eq!(c.memory_bytes, 1 << 30);
        assert!(!format!("{c:?}").contains("app-secret"));
    }

    #[test]
    fn spindle_variables_win() {
        let mut env = Env::new();
        env.vars.insert("HADOOP_USER_NAME".into(), "alice".into());
        env.vars
            .insert("SPINDLE_DEFAULT_FS".into(), "file:///".into());
        let c = env.config().expect("config");
        assert_eq!(c.user, "alice");
        assert_eq!(c.default_fs, "file:///");
        assert_eq!(c.fs_conf().get("fs.defaultFS").as_deref(), Some("file:///"));

        // An unreadable HADOOP_CONF_DIR is only fatal when it had to name the default FS.
        env.vars
            .insert("HADOOP_CONF_DIR".into(), "/nonexistent/conf".into());
        assert_eq!(env.config().expect("config").default_fs, "file:///");
        env.vars.remove("SPINDLE_DEFAULT_FS");
        let err = env.config().expect_err("no conf");
        assert!(err.to_string().contains("/nonexistent/conf"), "{err}");
    }

    #[test]
    fn missing_pieces_are_named() {
        let mut env = Env::new();
        env.vars.remove("NM_HOST");
        assert!(matches!(
            env.config(),
            Err(ExecutorError::MissingEnv("NM_HOST"))
        ));

        let mut env = Env::new();
        env.vars.remove("HADOOP_CONF_DIR");
        let err = env.config().expect_err("no default fs");
        assert!(err.to_string().contains("SPINDLE_DEFAULT_FS"), "{err}");

        let env = Env::new();
        let other = env.dir.path().join("other_tokens");
        std::fs::write(&other, Credentials::new().write_token_storage()).expect("write");
        let mut env = env;
        env.vars.insert(
            "HADOOP_TOKEN_FILE_LOCATION".into(),
            other.display().to_string(),
        );
        let err = env.config().expect_err("no secret");
        assert!(matches!(err, ExecutorError::Credentials { .. }), "{err}");
        assert!(err.to_string().contains(SECRET_ALIAS), "{err}");

        let mut env = Env::new();
        env.vars
            .insert("HADOOP_TOKEN_FILE_LOCATION".into(), "/nonexistent/x".into());
        let err = env.config().expect_err("no file");
        assert!(err.to_string().contains("/nonexistent/x"), "{err}");
    }

    #[test]
    fn zero_cores_is_refused() {
        let env = Env::new();
        let err = ExecutorConfig::from_lookup("am:4040".into(), "3".into(), 0, 0, |k| {
            env.vars.get(k).cloned()
        })
        .expect_err("zero cores");
        assert!(err.to_string().contains("cores"), "{err}");
    }
}
