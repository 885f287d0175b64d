//! Spindle's dataset API: write a Spark-style application as an ordinary Rust `main`.
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     spindle::main(|sc| {
//!         let counts = sc
//!             .text_file("hdfs:///data/books")?
//!             .flat_map(|line| line.split_whitespace().map(str::to_string).collect::<Vec<_>>())
//!             .map(|word| (word, 1u64))
//!             .reduce_by_key(|a, b| a + b, None);
//!         counts
//!             .map(|(word, n)| format!("{word}\t{n}"))
//!             .save_as_text_file("hdfs:///out/counts")?;
//!         Ok::<(), spindle::Error>(())
//!     })
//! }
//! ```
//!
//! A [`Context`] makes [`Dataset`]s from sources (`text_file`, `parallelize`);
//! transformations (`map`, `reduce_by_key`, `join`, `sort_by_key`, …) build lineage
//! lazily; each action (`collect`, `count`, `save_as_text_file`, …) runs a job: stages
//! cut at shuffles, a task per partition, narrow transformations pipelined inside a task.
//!
//! # How code reaches executors, and why this way
//!
//! Rust closures cannot be serialized, so the executable is the code: the driver and
//! every executor run the same binary, and a task names what to run by the offset of a
//! monomorphized function from a fixed symbol in that binary, checked against the
//! SHA-256 of the driver's executable before anything is decoded (see [`ship`] for the
//! safety argument). The alternatives we read:
//!
//! * **vega, constellation** (same executable, closures by code address, captures via
//!   `serde_closure`'s `Fn!` macro): the address part is ours too; the macro part is
//!   not, because a macro around each closure defeats closure parameter inference on
//!   stable Rust (`|x| x.len()` no longer compiles) and `serde_traitobject` needs
//!   nightly.
//! * **timely-dataflow** (every process builds the same dataflow): the executors would
//!   have to run the user's whole `main` and agree on every value it computes from
//!   earlier results; one `rand` or clock call in the driver would silently diverge.
//! * **Ballista** (functions registered by name): not closures.
//!
//! So: a function given to Spindle is a closure that captures nothing (checked at
//! compile time; such a closure is a zero-sized `Copy` type, which an executor can
//! materialize from its type alone), and what it needs from the driver is handed to it
//! explicitly with [`Dataset::with`], serialized with serde:
//!
//! ```no_run
//! # fn demo(lines: spindle::Dataset<String>) -> spindle::Result<()> {
//! let word = "spindle".to_string();
//! let hits = lines.with(word)?.filter(|word, line| line.contains(word.as_str()));
//! # Ok(()) }
//! ```
//!
//! Partitioning hashes keys with a fixed seed, so every process agrees where a key goes.
//!
//! # Memory
//!
//! Every buffer that grows with the data is bounded by the task's budget
//! (`SPINDLE_TASK_MEMORY`): map-side combining, shuffle output, reduce-side aggregation,
//! grouping and sorting spill sorted runs to the local directory and merge them as they
//! are read; shuffle records move in compressed frames of at most 256 KiB.

mod cluster;
mod codec;
mod context;
mod dataset;
mod env;
mod error;
mod external;
mod fetch;
mod net;
mod ops;
mod plan;
mod scheduler;
pub mod ship;
mod shuffle;
mod task;

pub use context::{Config, Context, Master, main};
pub use dataset::{Dataset, Outer, With};
pub use error::{Error, Result};
pub use ops::Data;
pub use plan::{Partition, TaskContext};
pub use ship::Shippable;
pub use shuffle::Groups;
