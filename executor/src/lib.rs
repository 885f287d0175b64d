//! The executor: registers with the driver, runs tasks, returns results.
