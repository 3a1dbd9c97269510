//! The memory suite: N concurrent tasks x spawn strategies x runtimes, in bytes at the peak.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench memory                       # the whole default matrix
//! cargo bench --bench memory -- tokio-mt/spawn     # a slice, by Criterion filter
//! TASKMEM_SIZES=1,10k TASKMEM_METRIC=allocated cargo bench --bench memory
//! ```

taskmem::use_tracked_jemalloc!();

fn main() {
    taskmem::suite::main();
}
