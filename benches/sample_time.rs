//! The memory suite's own speed: wall time of one sample (one whole measured run) per case,
//! beside the case's time to all-pending (see `taskmem_suite::sample_time`).
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench spawn_time -- '/1000000$'    # the floor: time to all-pending
//! cargo bench --bench sample_time -- '/1000000$'   # per sample, and the table
//! ```

taskmem::use_tracked_jemalloc!();

fn main() {
    taskmem_suite::sample_time::main();
}
