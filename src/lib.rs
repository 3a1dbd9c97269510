//! The taskmem suite: every runtime and spawn strategy at N = 1, 10K, 100K and 1M, measured
//! in bytes with the `taskmem` library (the workspace's `taskmem/` package) through its public
//! API, like any user's bench. Not published: `cargo bench` and `cargo test` at the
//! repository's root run it.
//!
//! Layers, from the bottom (each module imports only those below it; `tests/tools/layers.rs`
//! checks it, inside folders too):
//!
//! 1. the suite's data: [`matrix`] (runtimes, strategies, sizes, payloads, defined once on
//!    the library's [`taskmem::Runtime`] and [`taskmem::Strategy`]), [`limits`], [`cores`];
//! 2. what runs and records: [`workload`] (the cases written on [`taskmem::Tasks`]; OS
//!    threads), [`pairs`] (the matrix's pairs in the summary file), [`suite`] (the bench
//!    driver), [`baseline`] and [`gate`], [`timing`], [`spawn_time`], [`sample_time`],
//!    [`connections`], `heap_profile` (cargo feature `dhat`);
//! 3. what presents: [`report`];
//! 4. the command line and whole-process tools: [`config`], [`cli`], [`run`], [`sweep`],
//!    [`child`], [`jobs`], [`interrupt`], [`peers`], [`progress`].
#![warn(missing_docs)]

pub mod baseline;
pub mod bill;
pub mod child;
pub mod cli;
pub mod config;
pub mod connections;
pub mod cores;
pub mod fail;
pub mod gate;
#[cfg(feature = "dhat")]
pub mod heap_profile;
pub mod interrupt;
pub mod jobs;
pub mod layouts;
pub mod limits;
pub mod matrix;
pub mod pairs;
pub mod peers;
pub mod progress;
pub mod report;
pub mod run;
pub mod sample_time;
pub mod spawn_time;
pub mod suite;
pub mod sweep;
pub mod symbols;
pub mod timing;
pub mod workload;
