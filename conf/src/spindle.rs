//! Spindle's own settings for `spindle submit`, layered like Spark's: built-in defaults <
//! `$SPINDLE_CONF_DIR/spindle-defaults.conf` < `SPINDLE_*` environment variables <
//! command-line flags, merged by key and validated once into [`SpindleSettings`].
//!
//! It owns the key names, the file format and the validation of each value on its own;
//! checks against a cluster (queue names, maximum container sizes) are the client's.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::ConfError;

/// The settings file's name inside `SPINDLE_CONF_DIR`.
pub const DEFAULTS_FILE: &str = "spindle-defaults.conf";

/// One known setting: its key, built-in default (if any) and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingKey {
    /// The key, e.g. `spindle.executor.memory`.
    pub key: &'static str,
    /// The built-in default; `None` when unset means "decided elsewhere".
    pub default: Option<&'static str>,
    /// One line saying what it means.
    pub doc: &'static str,
}

impl SettingKey {
    /// The environment variable that sets this key: `spindle.executor.memory` →
    /// `SPINDLE_EXECUTOR_MEMORY`.
    pub fn env_var(&self) -> String {
        env_var_for(self.key)
    }
}

/// `spindle.app.name`: the YARN application name.
pub const APP_NAME: &str = "spindle.app.name";
/// `spindle.yarn.queue`: the YARN queue.
pub const QUEUE: &str = "spindle.yarn.queue";
/// `spindle.executor.instances`: how many executors.
pub const EXECUTOR_INSTANCES: &str = "spindle.executor.instances";
/// `spindle.executor.memory`: memory of each executor container.
pub const EXECUTOR_MEMORY: &str = "spindle.executor.memory";
/// `spindle.executor.cores`: vcores of each executor container.
pub const EXECUTOR_CORES: &str = "spindle.executor.cores";
/// `spindle.driver.memory`: memory of the AM container, which hosts the driver.
pub const DRIVER_MEMORY: &str = "spindle.driver.memory";
/// `spindle.reducers`: how many reduce tasks.
pub const REDUCERS: &str = "spindle.reducers";
/// `spindle.task.max-attempts`: attempts per task before the job fails.
pub const TASK_MAX_ATTEMPTS: &str = "spindle.task.max-attempts";
/// `spindle.files`: comma-separated files shipped with the application.
pub const FILES: &str = "spindle.files";
/// `spindle.log`: the `RUST_LOG` filter of the AM and executors.
pub const LOG: &str = "spindle.log";
/// `spindle.history.dir`: where the AM writes the application's final status.
pub const HISTORY_DIR: &str = "spindle.history.dir";
/// `spindle.ui.linger`: seconds the AM keeps its UI up after the job ended.
pub const UI_LINGER: &str = "spindle.ui.linger";
/// `spindle.uber.max-input`: inputs up to this size run inside the AM.
pub const UBER_MAX_INPUT: &str = "spindle.uber.max-input";
/// `spindle.task.memory`: what one task of an application buffers before it spills.
pub const TASK_MEMORY: &str = "spindle.task.memory";

/// Every setting Spindle knows, in the order they are documented.
pub const KEYS: &[SettingKey] = &[
    SettingKey {
        key: APP_NAME,
        default: None,
        doc: "YARN application name (default spindle-<job>)",
    },
    SettingKey {
        key: QUEUE,
        default: Some("default"),
        doc: "YARN queue to submit to (a leaf queue)",
    },
    SettingKey {
        key: EXECUTOR_INSTANCES,
        default: Some("2"),
        doc: "number of executors",
    },
    SettingKey {
        key: EXECUTOR_MEMORY,
        default: Some("512m"),
        doc: "memory of each executor container (512m, 2g, …)",
    },
    SettingKey {
        key: EXECUTOR_CORES,
        default: Some("1"),
        doc: "vcores of each executor container",
    },
    SettingKey {
        key: DRIVER_MEMORY,
        default: Some("256m"),
        doc: "memory of the application master, which hosts the driver",
    },
    SettingKey {
        key: REDUCERS,
        default: None,
        doc: "number of reduce tasks (default: the AM decides)",
    },
    SettingKey {
        key: TASK_MAX_ATTEMPTS,
        default: Some("4"),
        doc: "attempts of a task (each on another executor when possible) before the job fails",
    },
    SettingKey {
        key: FILES,
        default: None,
        doc: "comma-separated files shipped to the application's containers",
    },
    SettingKey {
        key: LOG,
        default: Some("info"),
        doc: "RUST_LOG filter of the application master and executors",
    },
    SettingKey {
        key: HISTORY_DIR,
        default: None,
        doc: "directory (URI or path on the default FS) of the history files `spindle history` reads (default: /user/<user>/.spindle/history)",
    },
    SettingKey {
        key: UI_LINGER,
        default: Some("0"),
        doc: "seconds the application master keeps serving its web UI after the job ended (0: exit at once; `spindle kill` ends it early)",
    },
    SettingKey {
        key: TASK_MEMORY,
        default: None,
        doc: "what one task of an application (a binary on the spindle crate) may buffer before it spills to disk (default: 40% of the executor's memory less 96m, shared by its cores)",
    },
    SettingKey {
        key: UBER_MAX_INPUT,
        default: Some("32m"),
        doc: "jobs whose input is at most this size run inside the application master, without executor containers, like MapReduce's uber mode (0: never)",
    },
];

/// The environment variable for a key: `spindle.a.b` → `SPINDLE_A_B`.
pub fn env_var_for(key: &str) -> String {
    key.replace(['.', '-'], "_").to_ascii_uppercase()
}

fn known(key: &str) -> Option<&'static SettingKey> {
    KEYS.iter().find(|k| k.key == key)
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A line of a settings file.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag, as the user typed it (`--executor-memory`, `--conf`).
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "built-in default"),
            Origin::File { path, line } => write!(f, "{} line {line}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// An amount of memory, held in MiB (YARN's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemorySize {
    mib: u64,
}

impl MemorySize {
    /// A size of `mib` MiB.
    pub const fn from_mib(mib: u64) -> Self {
        MemorySize { mib }
    }

    /// The size in MiB.
    pub const fn mib(&self) -> u64 {
        self.mib
    }
}

impl FromStr for MemorySize {
    type Err = String;

    /// JVM-style sizes as Spark takes them: `512m`, `2g`, `1t`, `1048576k`, `512mb`; a
    /// bare number is MiB. Kilobytes round up to whole MiB.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_suffix('b').unwrap_or(&t);
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let bad = || format!("{s:?} is not a size like 512m or 2g");
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let mib = match unit {
            "" | "m" => Some(n),
            "k" => Some(n.div_ceil(1024)),
            "g" => n.checked_mul(1024),
            "t" => n.checked_mul(1024 * 1024),
            _ => return Err(bad()),
        }
        .ok_or_else(|| format!("{s:?} is too large"))?;
        if mib == 0 {
            return Err(format!("{s:?} is less than 1 MiB"));
        }
        Ok(MemorySize { mib })
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mib >= 1024 && self.mib.is_multiple_of(1024) {
            write!(f, "{}g", self.mib / 1024)
        } else {
            write!(f, "{}m", self.mib)
        }
    }
}

/// Spindle's submission settings after layering and validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpindleSettings {
    /// `spindle.app.name`; `None` means `spindle-<job>`.
    pub app_name: Option<String>,
    /// `spindle.yarn.queue`.
    pub queue: String,
    /// `spindle.executor.instances`, at least 1.
    pub num_executors: u32,
    /// `spindle.executor.memory`.
    pub executor_memory: MemorySize,
    /// `spindle.executor.cores`, at least 1.
    pub executor_cores: u32,
    /// `spindle.driver.memory`.
    pub driver_memory: MemorySize,
    /// `spindle.reducers`, at least 1 when set.
    pub reducers: Option<u32>,
    /// `spindle.task.max-attempts`, at least 1.
    pub task_max_attempts: u32,
    /// `spindle.files`: local paths or URIs.
    pub files: Vec<String>,
    /// `spindle.log`.
    pub log: String,
    /// `spindle.history.dir`; `None`: `/user/<user>/.spindle/history`.
    pub history_dir: Option<String>,
    /// `spindle.ui.linger`, seconds.
    pub ui_linger_secs: u32,
    /// `spindle.uber.max-input`; `None`: never run inside the AM.
    pub uber_max_input: Option<MemorySize>,
    /// `spindle.task.memory`; `None`: derived from the executor's memory.
    pub task_memory: Option<MemorySize>,
}

/// Raw values by key with their origins, before validation. Later layers replace
/// earlier ones key by key.
#[derive(Debug, Clone)]
pub struct SettingsLayers {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl Default for SettingsLayers {
    fn default() -> Self {
        Self::defaults()
    }
}

impl SettingsLayers {
    /// The built-in defaults alone.
    pub fn defaults() -> Self {
        let values = KEYS
            .iter()
            .filter_map(|k| k.default.map(|d| (k.key, (d.to_string(), Origin::Default))))
            .collect();
        SettingsLayers { values }
    }

    /// Sets `key` from `origin`; unknown keys are an error (they are usually typos).
    pub fn set(&mut self, key: &str, value: &str, origin: Origin) -> Result<(), ConfError> {
        let Some(k) = known(key.trim()) else {
            return Err(ConfError::UnknownSetting {
                key: key.to_string(),
                origin: origin.to_string(),
                known: KEYS.iter().map(|k| k.key).collect::<Vec<_>>().join(", "),
            });
        };
        self.values
            .insert(k.key, (value.trim().to_string(), origin));
        Ok(())
    }

    /// Applies `key=value` as given to `--conf`.
    pub fn set_pair(&mut self, pair: &str, flag: &str) -> Result<(), ConfError> {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(ConfError::Setting {
                key: pair.to_string(),
                value: String::new(),
                origin: Origin::Flag(flag.to_string()).to_string(),
                reason: "expected key=value".into(),
            });
        };
        let key = key.trim();
        self.set(key, value, Origin::Flag(format!("{flag} {key}")))
    }

    /// Layers `$SPINDLE_CONF_DIR/spindle-defaults.conf` when `SPINDLE_CONF_DIR` is set and
    /// the file exists; returns the file read, if any.
    pub fn apply_conf_dir_from_env(&mut self) -> Result<Option<PathBuf>, ConfError> {
        let Some(dir) = std::env::var_os("SPINDLE_CONF_DIR").filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let path = PathBuf::from(dir).join(DEFAULTS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        self.apply_file(&path)?;
        Ok(Some(path))
    }

    /// Layers a `spark-defaults.conf`-style file: one `key value` (or `key=value`) a
    /// line, `#` comments and blank lines ignored.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.apply_text(&text, path)
    }

    /// Layers the text of a settings file; `path` names it in errors.
    pub fn apply_text(&mut self, text: &str, path: &Path) -> Result<(), ConfError> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let split = line
                .find(|c: char| c.is_whitespace() || c == '=' || c == ':')
                .ok_or_else(|| ConfError::Parse {
                    path: path.to_path_buf(),
                    message: format!("line {}: {line:?} has a key but no value", i + 1),
                })?;
            let (key, rest) = line.split_at(split);
            let value = rest
                .trim_start()
                .strip_prefix(['=', ':'])
                .unwrap_or(rest)
                .trim();
            self.set(
                key,
                value,
                Origin::File {
                    path: path.to_path_buf(),
                    line: i + 1,
                },
            )?;
        }
        Ok(())
    }

    /// Layers the `SPINDLE_*` variables of the known keys found in `vars`.
    pub fn apply_env<I, K, V>(&mut self, vars: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        for k in KEYS {
            let var = k.env_var();
            if let Some(v) = vars.get(&var) {
                self.values
                    .insert(k.key, (v.trim().to_string(), Origin::Env(var)));
            }
        }
    }

    /// Layers the process environment.
    pub fn apply_process_env(&mut self) {
        self.apply_env(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        );
    }

    /// The raw value of `key` and where it came from.
    pub fn get(&self, key: &str) -> Option<(&str, &Origin)> {
        self.values.get(key).map(|(v, o)| (v.as_str(), o))
    }

    /// Validates every value into the typed settings.
    pub fn resolve(&self) -> Result<SpindleSettings, ConfError> {
        let app_name = match self.values.get(APP_NAME) {
            Some((v, o)) if v.is_empty() => return Err(invalid(APP_NAME, v, o, "empty name")),
            Some((v, _)) => Some(v.clone()),
            None => None,
        };
        let queue = self.text(QUEUE)?;
        let reducers = match self.values.get(REDUCERS) {
            Some((v, o)) if !v.is_empty() => Some(count(REDUCERS, v, o)?),
            _ => None,
        };
        let files = self
            .values
            .get(FILES)
            .map(|(v, _)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(SpindleSettings {
            app_name,
            queue,
            num_executors: self.count(EXECUTOR_INSTANCES)?,
            executor_memory: self.memory(EXECUTOR_MEMORY)?,
            executor_cores: self.count(EXECUTOR_CORES)?,
            driver_memory: self.memory(DRIVER_MEMORY)?,
            reducers,
            task_max_attempts: self.count(TASK_MAX_ATTEMPTS)?,
            files,
            log: self.text(LOG)?,
            history_dir: self
                .values
                .get(HISTORY_DIR)
                .map(|(v, _)| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            uber_max_input: {
                let (v, o) = self.raw(UBER_MAX_INPUT)?;
                if v.trim() == "0" {
                    None
                } else {
                    Some(
                        v.parse()
                            .map_err(|reason: String| invalid(UBER_MAX_INPUT, v, o, &reason))?,
                    )
                }
            },
            task_memory: match self.values.get(TASK_MEMORY) {
                Some((v, o)) if !v.trim().is_empty() => Some(
                    v.parse()
                        .map_err(|reason: String| invalid(TASK_MEMORY, v, o, &reason))?,
                ),
                _ => None,
            },
            ui_linger_secs: {
                let (v, o) = self.raw(UI_LINGER)?;
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| invalid(UI_LINGER, v, o, "not a whole number of seconds"))?
            },
        })
    }

    fn raw(&self, key: &'static str) -> Result<&(String, Origin), ConfError> {
        self.values
            .get(key)
            .ok_or_else(|| ConfError::Missing(key.to_string()))
    }

    fn text(&self, key: &'static str) -> Result<String, ConfError> {
        let (v, o) = self.raw(key)?;
        if v.is_empty() {
            return Err(invalid(key, v, o, "must not be empty"));
        }
        Ok(v.clone())
    }

    fn count(&self, key: &'static str) -> Result<u32, ConfError> {
        let (v, o) = self.raw(key)?;
        count(key, v, o)
    }

    fn memory(&self, key: &'static str) -> Result<MemorySize, ConfError> {
        let (v, o) = self.raw(key)?;
        v.parse()
            .map_err(|reason: String| invalid(key, v, o, &reason))
    }
}

fn count(key: &str, value: &str, origin: &Origin) -> Result<u32, ConfError> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err(invalid(key, value, origin, "must be at least 1")),
        Err(_) => Err(invalid(key, value, origin, "not a whole number")),
    }
}

fn invalid(key: &str, value: &str, origin: &Origin, reason: &str) -> ConfError {
    ConfError::Setting {
        key: key.to_string(),
        value: value.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> SettingsLayers {
        SettingsLayers::defaults()
    }

    #[test]
    fn defaults_resolve() {
        let s = layers().resolve().expect("defaults are valid");
        assert_eq!(s.queue, "default");
        assert_eq!(s.num_executors, 2);
        assert_eq!(s.executor_memory.mib(), 512);
        assert_eq!(s.executor_cores, 1);
        assert_eq!(s.driver_memory.mib(), 256);
        assert_eq!(s.reducers, None);
        assert_eq!(s.task_max_attempts, 4);
        assert_eq!(s.app_name, None);
        assert!(s.files.is_empty());
        assert_eq!(s.log, "info");
    }

    #[test]
    fn later_layers_win_key_by_key() {
        let mut l = layers();
        l.apply_text(
            "# comment\n\nspindle.executor.memory 1g\nspindle.yarn.queue=etl\nspindle.executor.cores : 3\n",
            Path::new("/etc/spindle/spindle-defaults.conf"),
        )
        .expect("file parses");
        l.apply_env([
            ("SPINDLE_EXECUTOR_MEMORY", "2g"),
            ("SPINDLE_REDUCERS", "4"),
            ("SPINDLE_PORT_OFFSET", "10"), // not a setting: ignored
        ]);
        l.set(
            EXECUTOR_MEMORY,
            "3g",
            Origin::Flag("--executor-memory".into()),
        )
        .expect("known key");
        let s = l.resolve().expect("valid");
        assert_eq!(s.executor_memory.mib(), 3072); // flag over env over file
        assert_eq!(s.queue, "etl"); // file over default
        assert_eq!(s.executor_cores, 3);
        assert_eq!(s.reducers, Some(4)); // env over (no) default
        assert_eq!(s.num_executors, 2); // default
        let (_, origin) = l.get(EXECUTOR_MEMORY).expect("set");
        assert_eq!(origin, &Origin::Flag("--executor-memory".into()));
        let (_, origin) = l.get(REDUCERS).expect("set");
        assert_eq!(origin, &Origin::Env("SPINDLE_REDUCERS".into()));
    }

    #[test]
    fn conf_pairs_and_files_list() {
        let mut l = layers();
        l.set_pair("spindle.files=a.txt, hdfs://nn/b.txt,,", "--conf")
            .expect("pair");
        l.set_pair("spindle.app.name=my job", "--conf")
            .expect("pair");
        let s = l.resolve().expect("valid");
        assert_eq!(s.files, vec!["a.txt", "hdfs://nn/b.txt"]);
        assert_eq!(s.app_name.as_deref(), Some("my job"));
        let err = l
            .set_pair("spindle.executor.memory", "--conf")
            .expect_err("should be refused");
        assert!(err.to_string().contains("key=value"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_origin() {
        let mut l = layers();
        let err = l
            .apply_text(
                "spindle.executor.memroy 1g\n",
                Path::new("/x/spindle-defaults.conf"),
            )
            .expect_err("should be refused");
        let msg = err.to_string();
        assert!(msg.contains("spindle.executor.memroy"), "{msg}");
        assert!(msg.contains("/x/spindle-defaults.conf line 1"), "{msg}");
        assert!(
            msg.contains("spindle.executor.memory"),
            "lists known keys: {msg}"
        );
        let err = l
            .apply_text("spindle.executor.memory\n", Path::new("/x/f"))
            .expect_err("should be refused");
        assert!(err.to_string().contains("no value"), "{err}");
    }

    #[test]
    fn invalid_values_name_key_value_and_origin() {
        let cases: &[(&str, &str, &str)] = &[
            (EXECUTOR_MEMORY, "5x", "not a size"),
            (EXECUTOR_MEMORY, "0m", "less than 1 MiB"),
            (DRIVER_MEMORY, "", "not a size"),
            (EXECUTOR_INSTANCES, "0", "at least 1"),
            (EXECUTOR_CORES, "-1", "not a whole number"),
            (EXECUTOR_CORES, "two", "not a whole number"),
            (REDUCERS, "0", "at least 1"),
            (QUEUE, "", "must not be empty"),
            (APP_NAME, "", "empty name"),
        ];
        for (key, value, reason) in cases {
            let mut l = layers();
            l.apply_env([(env_var_for(key), value.to_string())]);
            let msg = l.resolve().expect_err("should be refused").to_string();
            assert!(msg.contains(key), "{key}={value:?}: {msg}");
            assert!(msg.contains(reason), "{key}={value:?}: {msg}");
            assert!(msg.contains(&env_var_for(key)), "{key}={value:?}: {msg}");
        }
    }

    #[test]
    fn memory_sizes() {
        let ok: &[(&str, u64)] = &[
            ("512m", 512),
            ("512M", 512),
            ("512mb", 512),
            ("512", 512),
            ("2g", 2048),
            ("2G", 2048),
            ("1t", 1024 * 1024),
            ("1024k", 1),
            ("1025k", 2),
            (" 100g ", 102_400),
        ];
        for (s, mib) in ok {
            assert_eq!(s.parse::<MemorySize>().map(|m| m.mib()), Ok(*mib), "{s}");
        }
        for s in [
            "",
            "m",
            "1.5g",
            "-1m",
            "2x",
            "g2",
            "99999999999999999999t",
            "0",
        ] {
            assert!(s.parse::<MemorySize>().is_err(), "{s} should be rejected");
        }
        assert_eq!(MemorySize::from_mib(2048).to_string(), "2g");
        assert_eq!(MemorySize::from_mib(512).to_string(), "512m");
    }

    #[test]
    fn env_var_names() {
        assert_eq!(
            env_var_for("spindle.executor.memory"),
            "SPINDLE_EXECUTOR_MEMORY"
        );
        let vars: Vec<String> = KEYS.iter().map(SettingKey::env_var).collect();
        assert!(vars.contains(&"SPINDLE_YARN_QUEUE".to_string()));
        assert!(vars.contains(&"SPINDLE_EXECUTOR_INSTANCES".to_string()));
    }
}
