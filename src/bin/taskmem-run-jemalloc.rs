//! One taskmem case in one process with the jemalloc allocator (see `taskmem_suite::run`).
//!
//! Run with: `cargo build --release --bins`, then
//! `target/release/taskmem run --allocator jemalloc --runtime tokio-mt --strategy spawn --tasks 1m`
//! (or this binary directly, with the same options).

// jemalloc with its default options (the memory suite turns page decay off; a published-style
// run keeps what a service would run with).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(taskmem_suite::run::main(
        taskmem_suite::run::Allocator::Jemalloc,
        std::env::args_os(),
    ));
}
