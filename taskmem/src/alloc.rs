//! The global allocator of the memory benches: jemalloc, with exact byte counters.
//!
//! [`TrackedJemalloc`] forwards every call to [`tikv_jemallocator::Jemalloc`] and keeps
//! three process-wide counters beside it:
//!
//! - **requested live bytes**: the sizes the program asked for (`Layout::size`), allocated
//!   minus freed, on every thread. This is the `allocated` metric.
//! - **usable live bytes**: the same allocations rounded up to jemalloc's size classes
//!   (`nallocx`), i.e. what jemalloc really hands out.
//! - **peak requested bytes**, while peak tracking is switched on ([`track_peak`]).
//! - **live large allocations**: how many live allocations are in jemalloc's large size
//!   classes (four pages and up, 16 KiB with 4 KiB pages). jemalloc places each in an extent
//!   one page longer than its size class when `opt.cache_oblivious` is on (the default), so
//!   that page is resident beside the usable bytes: see [`crate::probe::large_pad_bytes`].
//!
//! Why a wrapper and not jemalloc's own counters: `stats.allocated` is batched through the
//! per-thread caches (objects sitting in a cache count as allocated), and the exact
//! `thread.allocatedp` counters see only the thread that reads them, while runtimes allocate
//! tasks on their worker threads. The wrapper counts every thread exactly.
//!
//! The library never installs an allocator; a binary opts in with
//! [`use_tracked_jemalloc!`](crate::use_tracked_jemalloc), which also sets jemalloc's
//! options so that freed pages are returned at once (see [`MALLOC_CONF`]).
//!
//! Implementation: two relaxed atomic additions and one `nallocx` call per allocation, on
//! the calling thread's own set of counters (threads share 64 sets out in turn, each on its
//! own cache lines, so that runtime worker threads allocating and freeing at once do not
//! contend for one line; a reading sums every set, which is exact), and a shared addition
//! and `fetch_max` while peak tracking is on. Memory that does not go through the global
//! allocator (thread stacks, `mmap` by other code) is not counted here: use the process RSS
//! probe for that. One more relaxed load per call checks whether an allocation-site
//! recording is on ([`crate::sites`]).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

use tikv_jemallocator::Jemalloc;

use crate::sites;

/// jemalloc options the memory benches start with: dirty and muzzy pages are returned to the
/// OS as soon as they are freed, so `stats.resident` measured in one run is not inflated by the
/// pages a previous run freed (the default 10 s decay made only the first run show growth).
pub const MALLOC_CONF: &str = "dirty_decay_ms:0,muzzy_decay_ms:0";

/// How many sets of counters the threads share out ([`stripe`]): a thread adds to its own
/// set, so that two threads allocating at once do not fight over one cache line.
const STRIPES: usize = 64;

/// One set of live counters, alone on its cache lines (128 bytes: adjacent-line prefetch).
#[repr(align(128))]
struct Stripe {
    requested: AtomicIsize,
    usable: AtomicIsize,
    large: AtomicIsize,
}

static COUNTS: [Stripe; STRIPES] = [const {
    Stripe {
        requested: AtomicIsize::new(0),
        usable: AtomicIsize::new(0),
        large: AtomicIsize::new(0),
    }
}; STRIPES];
static NEXT_STRIPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor: usable from inside the allocator, and on
    // a thread that is exiting.
    static MY_STRIPE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// The calling thread's counters: threads take the sets in turn, the first time they
/// allocate. Sums over every set are exact whichever thread frees what.
#[inline]
fn stripe() -> &'static Stripe {
    let i = MY_STRIPE
        .try_with(|mine| {
            let i = mine.get();
            if i != usize::MAX {
                return i;
            }
            let i = NEXT_STRIPE.fetch_add(1, Relaxed) % STRIPES;
            mine.set(i);
            i
        })
        .unwrap_or(0);
    &COUNTS[i]
}

/// Live requested bytes while peak tracking is on (one shared counter, only then).
static TRACKED: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static TRACK_PEAK: AtomicBool = AtomicBool::new(false);
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// jemalloc's smallest large size class (`SC_LARGE_MINCLASS`: four pages); 0 until known.
static LARGE_MIN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// jemalloc's smallest large size class: four pages (`SC_LARGE_MINCLASS` = `PAGE << 2`).
/// Reads the page size once, without allocating.
pub fn large_min_class() -> usize {
    let known = LARGE_MIN.load(Relaxed);
    if known != 0 {
        return known;
    }
    // SAFETY: sysconf reads a constant and allocates nothing.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let min = if page > 0 { page as usize * 4 } else { 16384 };
    LARGE_MIN.store(min, Relaxed);
    min
}

/// Largest alignment jemalloc gives without being asked (`alignof(max_align_t)`).
const MIN_ALIGN: usize = 16;

/// jemalloc as the global allocator, with exact live-byte counters on every thread.
///
/// Install it in a binary with [`use_tracked_jemalloc!`](crate::use_tracked_jemalloc).
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackedJemalloc;

impl TrackedJemalloc {
    /// The allocator, for a `#[global_allocator]` static.
    pub const fn new() -> Self {
        TrackedJemalloc
    }
}

/// jemalloc's size class for `size` bytes at `align` (`nallocx`, with the flags
/// tikv-jemallocator passes for that layout): the bytes such an allocation really takes.
/// Needs no jemalloc heap, so it works under any global allocator. 0 for 0.
pub fn size_class(size: usize, align: usize) -> usize {
    if size == 0 {
        return 0;
    }
    let flags = if align <= MIN_ALIGN && align <= size {
        0
    } else {
        align.trailing_zeros() as libc::c_int
    };
    // SAFETY: nallocx only computes a size class from a non-zero size.
    let usable = unsafe { tikv_jemalloc_sys::nallocx(size, flags) };
    if usable == 0 { size } else { usable }
}

fn usable_size(layout: Layout) -> usize {
    size_class(layout.size(), layout.align())
}

#[inline]
fn record_alloc(layout: Layout) {
    let size = layout.size() as isize;
    let usable = usable_size(layout);
    let mine = stripe();
    mine.requested.fetch_add(size, Relaxed);
    mine.usable.fetch_add(usable as isize, Relaxed);
    if usable >= large_min_class() {
        mine.large.fetch_add(1, Relaxed);
    }
    if TRACK_PEAK.load(Relaxed) {
        let now = TRACKED.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(now, Relaxed);
    }
}

#[inline]
fn record_free(layout: Layout) {
    let size = layout.size() as isize;
    let usable = usable_size(layout);
    let mine = stripe();
    mine.requested.fetch_sub(size, Relaxed);
    mine.usable.fetch_sub(usable as isize, Relaxed);
    if usable >= large_min_class() {
        mine.large.fetch_sub(1, Relaxed);
    }
    if TRACK_PEAK.load(Relaxed) {
        TRACKED.fetch_sub(size, Relaxed);
    }
}

/// Marks the wrapper as installed (a load first: no write to a shared line per allocation).
#[inline]
fn mark_installed() {
    if !INSTALLED.load(Relaxed) {
        INSTALLED.store(true, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to jemalloc; the counters do not touch memory.
unsafe impl GlobalAlloc for TrackedJemalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        mark_installed();
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { Jemalloc.alloc(layout) };
        if !ptr.is_null() {
            record_alloc(layout);
            if sites::recording() {
                sites::on_alloc(ptr, layout, usable_size(layout));
            }
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        mark_installed();
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { Jemalloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            record_alloc(layout);
            if sites::recording() {
                sites::on_alloc(ptr, layout, usable_size(layout));
            }
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record_free(layout);
        if sites::recording() {
            sites::on_free(ptr);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { Jemalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { Jemalloc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            record_free(layout);
            // SAFETY: GlobalAlloc::realloc guarantees new_size with this alignment is valid.
            let grown = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            record_alloc(grown);
            if sites::recording() {
                sites::on_free(ptr);
                sites::on_alloc(new, grown, usable_size(grown));
            }
        }
        new
    }
}

/// Live bytes as the wrapper counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Bytes requested and not yet freed, all threads.
    pub requested: i64,
    /// The same allocations in jemalloc's size classes.
    pub usable: i64,
    /// How many of them are in jemalloc's large size classes ([`large_min_class`] and up).
    pub large: i64,
}

/// Whether [`TrackedJemalloc`] is this binary's global allocator (it has served an allocation).
pub fn installed() -> bool {
    if !serving() {
        // One allocation decides it: it goes through the wrapper if the wrapper is installed.
        drop(std::hint::black_box(Box::new(0u64)));
    }
    serving()
}

/// Whether [`TrackedJemalloc`] has served an allocation in this process, without
/// allocating to find out (unlike [`installed`]).
pub(crate) fn serving() -> bool {
    INSTALLED.load(Relaxed)
}

/// The live byte counters now.
pub fn counters() -> Counters {
    let mut sum = Counters {
        requested: 0,
        usable: 0,
        large: 0,
    };
    for s in &COUNTS {
        sum.requested += s.requested.load(Relaxed) as i64;
        sum.usable += s.usable.load(Relaxed) as i64;
        sum.large += s.large.load(Relaxed) as i64;
    }
    sum
}

/// Starts (or restarts) peak tracking from the current live requested bytes.
pub fn track_peak() {
    let now = counters().requested as isize;
    TRACKED.store(now, Relaxed);
    PEAK.store(now, Relaxed);
    TRACK_PEAK.store(true, Relaxed);
}

/// Stops peak tracking and returns the highest live requested bytes seen since [`track_peak`].
pub fn take_peak() -> i64 {
    TRACK_PEAK.store(false, Relaxed);
    PEAK.load(Relaxed) as i64
}

/// Installs [`TrackedJemalloc`] as the global allocator of the calling binary and exports
/// jemalloc's start-up options ([`MALLOC_CONF`]). Use it once, at the top level of a bench,
/// test or binary crate:
///
/// ```
/// taskmem::use_tracked_jemalloc!();
///
/// fn main() {
///     // Every allocation of every thread now goes through the counting wrapper.
///     let before = taskmem::Sample::default();
///     let bytes = taskmem::Tasks::new(
///         taskmem::Runtime::TokioCurrentThread,
///         taskmem::Strategy::JoinAll,
///         100,
///     )
///     .measure(|| tokio::time::sleep(std::time::Duration::from_secs(10)))
///     .map(|s| s.requested);
///     assert!(bytes.is_ok_and(|b| b > before.requested));
/// }
/// ```
#[macro_export]
macro_rules! use_tracked_jemalloc {
    () => {
        #[global_allocator]
        static TASKMEM_GLOBAL_ALLOCATOR: $crate::alloc::TrackedJemalloc =
            $crate::alloc::TrackedJemalloc::new();

        /// jemalloc reads its options from this symbol at start-up (the `_rjem_` prefix is
        /// tikv-jemalloc-sys's); it must be a NUL-terminated C string.
        #[unsafe(export_name = "_rjem_malloc_conf")]
        #[used]
        static TASKMEM_MALLOC_CONF: &[u8; $crate::alloc::MALLOC_CONF.len() + 1] = &{
            let mut bytes = [0u8; $crate::alloc::MALLOC_CONF.len() + 1];
            let src = $crate::alloc::MALLOC_CONF.as_bytes();
            let mut i = 0;
            while i < src.len() {
                bytes[i] = src[i];
                i += 1;
            }
            bytes
        };
    };
}
