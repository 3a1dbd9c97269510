//! One taskmem case in one process with the mimalloc allocator (see `taskmem_suite::run`).
//!
//! Run with: `cargo build --release --bins`, then
//! `target/release/taskmem run --allocator mimalloc --runtime tokio-mt --strategy spawn --tasks 1m`
//! (or this binary directly, with the same options).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(taskmem_suite::run::main(
        taskmem_suite::run::Allocator::Mimalloc,
        std::env::args_os(),
    ));
}
