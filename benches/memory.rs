//! The memory suite: N concurrent tasks x spawn strategies x runtimes, in bytes at the peak.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench memory                       # the whole default matrix
//! cargo bench --bench memory -- tokio-mt/spawn     # a slice, by Criterion filter
//! TASKMEM_SIZES=1,10k TASKMEM_METRIC=allocated cargo bench --bench memory
//! ```
//!
//! Every case is a `taskmem::Tasks` measured like a user's own (see the README): one
//! Criterion group per runtime, one benchmark per case, `Throughput::Elements(N)`.

use criterion::{Criterion, SamplingMode};
use taskmem::Memory;
use taskmem_suite::suite::Suite;

taskmem::use_tracked_jemalloc!();

/// The matrix (`TASKMEM_SIZES`, `TASKMEM_PAYLOAD`, `TASKMEM_BOUND`): one Criterion group per
/// runtime (`tokio-mt/spawn/100000` is group `tokio-mt`, function `spawn`, N = 100000).
fn matrix(c: &mut Criterion<Memory>, suite: &mut Suite) {
    for (runtime, cases) in suite.groups() {
        let mut group = c.benchmark_group(runtime.id());
        group.sampling_mode(SamplingMode::Flat);
        for case in &cases {
            suite.bench(&mut group, case);
        }
        group.finish();
    }
}

fn main() {
    let mut suite = Suite::from_env();
    let mut criterion = taskmem_suite::suite::criterion();
    // Several cores: the cases run in child processes of this bench ("jobs", `TASKMEM_JOBS`,
    // one per core by default), each running `matrix` on the cases no other job has taken;
    // this process prints their results as they come (taskmem_suite::jobs).
    if !suite.run_jobs() {
        matrix(&mut criterion, &mut suite);
    }
    // Criterion's final summary, then taskmem's: the end tables, the report, and the gate
    // (`TASKMEM_COMPARE`).
    suite.finish(criterion);
}
