//! The engine core shared by the driver (in the YARN AM or in local mode) and the
//! executors: file systems (HDFS and local) behind one trait, input splits at block
//! boundaries with their hosts, Hadoop's line-record semantics over splits, the task
//! scheduler and the driver (executors, task attempts, the status the web UI shows).
//! What a task computes is opaque bytes here: the `spindle` crate's business.
//!
//! It knows nothing of YARN: containers and NodeManagers are `spindle-yarn-am`'s.

pub mod driver;
pub mod error;
pub mod fs;
pub mod lines;
pub mod scheduler;
pub mod split;
pub mod status;
pub mod transport;

pub use error::CoreError;
