//! dhat heap profiles of the memory suite's cases: allocations and requested bytes per task,
//! beside jemalloc's figures from `cargo bench --bench memory` when its summary exists.
//!
//! Run with:
//!
//! ```text
//! cargo bench --features dhat --bench dhat                    # N = 1, 10K, 100K
//! cargo bench --features dhat --bench dhat -- tokio-mt/spawn  # a slice, Criterion-style filter
//! TASKMEM_SIZES=1m cargo bench --features dhat --bench dhat -- join_all
//! ```

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    taskmem_suite::heap_profile::main();
}
