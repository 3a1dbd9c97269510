//! dhat heap profiles of the memory suite's cases, beside jemalloc's figures.
//!
//! [`main`] is the whole `cargo bench --features dhat --bench dhat` binary. For every case of
//! the matrix (default N = 1, 10K and 100K; `TASKMEM_SIZES` chooses others, 1M included), it
//! makes one unprofiled warm-up run, then one run under a [`dhat::Profiler`], reads dhat's
//! [`dhat::HeapStats`] just before the tasks are created and again at the peak (every task
//! alive and polled once, the heap quiet: see [`crate::workload`]), and prints per task:
//! the allocations (live blocks at the peak minus before, / N) and the requested bytes (live
//! bytes at the peak minus before, / N); per run: the live heap at the peak, dhat's own peak
//! over the profile and the bytes allocated from task creation to release. Each case's
//! profile is written to `target/taskmem/dhat/<runtime>/<strategy>/<N>/dhat-heap.json` (one
//! directory per segment of the case id, so `.../buffer_unordered/k1000/<N>/` for a bounded
//! case), for DHAT's viewer (`dh_view.html`), and every figure to
//! `target/taskmem/dhat/summary.json`.
//!
//! # What dhat counts
//!
//! dhat counts what goes through the global allocator while its profiler runs, on every
//! thread: each allocation (`alloc`, `alloc_zeroed`) and reallocation with the size the
//! program requested (`Layout::size`), and each free of a block it saw allocated. Its byte
//! figures are therefore *requested* bytes, the same quantity as the memory suite's exact
//! `allocated` metric; `dhat::Alloc` hands the calls to the system allocator (glibc malloc),
//! not to jemalloc, which changes no requested size. A reallocation counts as one more block
//! in dhat's totals (`total_blocks`) with its whole new size in `total_bytes`, while the live
//! figures move by the size difference only.
//!
//! # What dhat does not count
//!
//! - Size-class rounding, allocator metadata and page granularity: the bytes an allocator
//!   really hands out or keeps resident. The memory suite's `usable` (jemalloc size classes)
//!   and `resident` (jemalloc pages) figures, printed beside dhat's when
//!   `target/taskmem/summary.json` exists, show them.
//! - Memory that does not go through the global allocator: OS thread stacks and TLS (mapped
//!   by pthread), memory mapped by other code. An `os/threads` figure here is the heap part
//!   of a thread only; the memory suite's `rss` metric counts the rest.
//! - Blocks allocated before the profiler started: freeing one while it runs changes nothing
//!   (dhat ignores it) and reallocating one counts as a new block of its full new size. The
//!   profiler starts after the runtime is built and after the warm-up run, so what they
//!   allocate (the runtime, global executors and their threads) is not counted against the
//!   tasks.
//! - dhat's own bookkeeping (its block table and backtraces).
//!
//! # Cross-check with jemalloc
//!
//! dhat's requested bytes and jemalloc's `allocated` bytes count the same thing, so per task
//! they should agree to within jemalloc's size-class rounding of those allocations (`usable`
//! minus `allocated`). Each case and each runtime x strategy pair (slope across N) is checked;
//! a difference larger than that is flagged with its reason (see [`CrossCheck`]).
//!
//! # Cost and viewing
//!
//! dhat takes a backtrace at every allocation, so a profiled run is several times slower
//! than the unprofiled warm-up (both times are printed per case): 1M runs only on request.
//! The viewer shows function names; for file and line too, build the bench with line tables:
//! `CARGO_PROFILE_BENCH_DEBUG=line-tables-only cargo bench --features dhat --bench dhat` (a full
//! rebuild).
//!
//! # Files
//!
//! `settings.rs` the bench's settings; `profile.rs` one case profiled under dhat;
//! `cross_check.rs` dhat's figures against jemalloc's; `summary_file.rs` the summary file,
//! its per-pair slopes and the merge over an earlier one; `bench.rs` the bench binary's
//! `main`, where it writes and what it prints.

mod bench;
mod cross_check;
mod profile;
mod settings;
mod summary_file;

pub use bench::main;
pub use cross_check::{CrossCheck, Jemalloc, cross_check};
pub use profile::{Output, Profile, profile_case};
pub use settings::{DEFAULT_SIZES, Settings, error_line};
pub use summary_file::{CaseEntry, DhatSummary, FORMAT, PairEntry};
