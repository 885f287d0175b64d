//! The application master: registers with the ResourceManager, hosts the driver, asks
//! for executor containers where the data is, launches them through the NodeManagers
//! and unregisters with the outcome. An application's own binary runs it
//! ([`AppMaster`], through the `spindle` crate). The `spindle-am` binary's `shell`
//! mode (one command per container) is the smallest whole AM, kept as a probe of the
//! AM–RM and AM–NM protocols and as the benchmark's YARN floor.

mod app;
mod container_env;
mod lifecycle;
mod shell;
mod web;

pub use app::{AppMaster, AppSettings};
pub use container_env::ContainerEnv;
pub use shell::{ShellJob, run_shell_job};

use spindle_hadoop_ipc::IpcError;

/// Everything that can stop the AM, each saying what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum AmError {
    /// The container environment YARN gives every AM is incomplete or unreadable.
    #[error("container environment: {0}")]
    Environment(String),
    /// Hadoop configuration could not be read.
    #[error(transparent)]
    Conf(#[from] spindle_conf::ConfError),
    /// Talking to the ResourceManager or a NodeManager failed.
    #[error("{what}: {source}")]
    Ipc {
        what: String,
        #[source]
        source: IpcError,
    },
    /// The job ran but did not succeed.
    #[error("{0}")]
    JobFailed(String),
    /// YARN (or `spindle kill`) terminated the AM.
    #[error("killed")]
    Killed,
    /// The ResourceManager told the AM to stop.
    #[error("the ResourceManager ordered a shutdown")]
    Shutdown,
}

pub(crate) fn ipc(what: impl Into<String>) -> impl FnOnce(IpcError) -> AmError {
    let what = what.into();
    move |source| AmError::Ipc { what, source }
}
