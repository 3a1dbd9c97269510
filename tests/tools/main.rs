//! Tests of the tools around the measurement: the `taskmem` command line, the report (and its
//! browser test), the sweep and the peers, timing, unit conversions, the module layers and
//! the README's example in a crate of its own. One test binary, no counting allocator (fewer
//! binaries to link for `cargo test`).
//!
//! Run with: `cargo test --test tools` (a module alone: `cargo test --test tools cli::`).

mod bill;
mod cli;
mod common;
mod cross_check;
mod layers;
mod package;
mod peers;
mod readme;
mod report_browser;
mod report_cli;
mod sweep;
mod timing;
mod units;
