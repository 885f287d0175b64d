//! Spindle's executor runtime: connects to the driver in the application master,
//! proves it holds the application secret, then runs the tasks the driver sends (map
//! tasks over file splits, reduce tasks over shuffle blocks) and reports on them until
//! the driver says stop or goes away.
//!
//! It owns the executor's side of the protocol and task execution; the protocol's
//! framing and the jobs themselves are `spindle-core`'s, the container's launch is the
//! application master's.

mod config;
mod connect;
mod error;
mod session;
mod task;

pub use config::ExecutorConfig;
pub use error::ExecutorError;

use connect::ConnectPolicy;

/// Why [`run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The driver sent `Shutdown`.
    Shutdown {
        /// The driver's reason.
        reason: String,
    },
    /// The connection to the driver ended (closed, reset, or unusable) without a
    /// `Shutdown`; running tasks were cancelled.
    DriverGone {
        /// What happened to the connection.
        detail: String,
    },
}

/// Connects to the driver (retrying for about 30 s), registers, and serves it until it
/// sends `Shutdown` or goes away. Errors are failures to get registered.
pub async fn run(config: ExecutorConfig) -> Result<ExitReason, ExecutorError> {
    run_with(config, &ConnectPolicy::default()).await
}

async fn run_with(
    config: ExecutorConfig,
    policy: &ConnectPolicy,
) -> Result<ExitReason, ExecutorError> {
    config.validate()?;
    let mut stream = connect::connect(&config.driver, policy).await?;
    let ack = connect::register(&mut stream, &config, policy).await?;
    let exit = session::serve(stream, ack, &config).await;
    match &exit {
        ExitReason::Shutdown { reason } => tracing::info!("the driver said stop: {reason}"),
        ExitReason::DriverGone { detail } => {
            tracing::warn!("lost the driver at {}: {detail}", config.driver)
        }
    }
    Ok(exit)
}
