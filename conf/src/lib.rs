//! Configuration shared by every Spindle process.
//!
//! Owns reading Hadoop's `*-site.xml` files (from `HADOOP_CONF_DIR`, else
//! `$HADOOP_HOME/etc/hadoop`) with `${var}` substitution and `final` honoured, and the
//! well-known addresses derived from them, and Spindle's own layered settings
//! ([`spindle`]: defaults < `spindle-defaults.conf` < `SPINDLE_*` environment < flags).
//! It does not talk to the network.

mod hadoop;
pub mod spindle;

pub use hadoop::{HadoopConf, SITE_FILES};
pub use spindle::{MemorySize, SettingsLayers, SpindleSettings};

use std::path::PathBuf;

/// Everything that can go wrong while reading configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// Neither `HADOOP_CONF_DIR` nor `HADOOP_HOME` names a configuration directory.
    #[error(
        "no Hadoop configuration: set HADOOP_CONF_DIR (or HADOOP_HOME) to the directory holding core-site.xml"
    )]
    NoConfDir,
    /// A configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not well-formed Hadoop configuration XML.
    #[error("cannot parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A required key is absent.
    #[error("configuration key {0} is not set")]
    Missing(String),
    /// A key's value cannot be used as asked.
    #[error("configuration key {key} has an unusable value {value:?}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    /// A Spindle setting names no known key.
    #[error("unknown setting {key} (from {origin}); known settings: {known}")]
    UnknownSetting {
        key: String,
        origin: String,
        known: String,
    },
    /// A Spindle setting's value is invalid.
    #[error("setting {key} = {value:?} (from {origin}): {reason}")]
    Setting {
        key: String,
        value: String,
        origin: String,
        reason: String,
    },
}
