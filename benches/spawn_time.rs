//! The time side of the matrix: time to create N tasks and reach all-pending, and wake-up
//! lateness, per runtime x strategy (see `taskmem_suite::spawn_time`).
//!
//! Run with: `cargo bench --bench spawn_time` (filter like Criterion: `-- tokio-mt/spawn`;
//! sizes with `TASKMEM_SIZES=1,10k`; lateness runs with `TASKMEM_LATENESS_TASKS` and
//! `TASKMEM_LATENESS_SLEEP`, default 1000 tasks of 10 ms).

// jemalloc as in the memory suite, without the counting wrapper or the memory suite's
// eager page purging: both would add to the times.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    taskmem_suite::spawn_time::main();
}
