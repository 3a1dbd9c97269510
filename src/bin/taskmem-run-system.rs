//! One taskmem case in one process with the system allocator (see `taskmem_suite::run`).
//!
//! Run with: `cargo build --release --bins`, then
//! `target/release/taskmem run --allocator system --runtime tokio-mt --strategy spawn --tasks 1m`
//! (or this binary directly, with the same options).

// The system allocator (glibc malloc): what the published Rust programs ran on.
#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    std::process::exit(taskmem_suite::run::main(
        taskmem_suite::run::Allocator::System,
        std::env::args_os(),
    ));
}
