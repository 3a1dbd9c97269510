//! Allocation sites: which call stack allocated the bytes a run's tasks hold at the peak.
//!
//! While a site recording is on ([`crate::Tasks::sites`]: from just before the first task is
//! created to the peak), [`crate::TrackedJemalloc`] hands every allocation and free to this
//! module. An allocation is recorded with the return addresses of its call stack (at most
//! [`DEPTH`], innermost first, read with the platform unwinder, `_Unwind_Backtrace`: nothing
//! is allocated or resolved to names while the program runs), its requested size and its
//! size in jemalloc's classes; a free of a recorded block removes it. At the peak, the blocks
//! still live are summed by call stack: what the tasks hold, site by site, including what the
//! runtime allocated for them.
//!
//! The addresses are relative to the executable's load address, as `addr2line -e <exe>` and
//! the debug information read them: turning them into function, file and line is the
//! reader's work (the suite's `taskmem bill`). Addresses in shared libraries are not made
//! relative and do not resolve against the executable.
//!
//! Cost: one relaxed load per allocation and free when no recording is on. While one is, each
//! allocation takes a stack walk and a lock, several microseconds: a recording run is slower
//! than a measured one, and its own bookkeeping (the table of blocks, not recorded) grows the
//! process's heap, so it is a run of its own, never a measured one.
//!
//! Linux only (the unwinder and the load address are read through glibc and libgcc); on other
//! systems [`supported`] is false and a recording finds no site.

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// The most return addresses kept per allocation, innermost first: the allocator's own
/// frames, the allocating function and enough of its callers to tell whose code it is.
pub const DEPTH: usize = 40;

/// One call stack's blocks live at the peak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Return addresses, innermost first (the allocator's own frames included), relative to
    /// the executable's load address.
    pub frames: Vec<u64>,
    /// Live blocks this stack allocated.
    pub blocks: u64,
    /// Their requested bytes (`Layout::size`; a reallocated block counts its new size).
    pub bytes: u64,
    /// The same blocks in jemalloc's size classes.
    pub usable: u64,
}

static RECORDING: AtomicBool = AtomicBool::new(false);
/// The executable's load address (its `dlpi_addr`), read when a recording starts.
static LOAD_BIAS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised, no destructor: usable inside the allocator and on an exiting thread.
    // Set while this thread records, so that the table's own allocations are not recorded.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// A live block: its stack's index, requested and usable bytes.
struct Block {
    stack: u32,
    bytes: u64,
    usable: u64,
}

#[derive(Default)]
struct Table {
    live: HashMap<usize, Block>,
    index: HashMap<Box<[usize]>, u32>,
    stacks: Vec<Box<[usize]>>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn table() -> std::sync::MutexGuard<'static, Option<Table>> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether this build can record sites (Linux).
pub const fn supported() -> bool {
    cfg!(target_os = "linux")
}

/// Whether a recording is on: the allocator's one check per call.
#[inline]
pub(crate) fn recording() -> bool {
    RECORDING.load(Relaxed)
}

/// Runs `f` unless this thread is already inside the recorder (the table allocating).
fn outside(f: impl FnOnce()) {
    let _ = INSIDE.try_with(|inside| {
        if inside.replace(true) {
            return;
        }
        f();
        inside.set(false);
    });
}

/// Starts a recording with an empty table.
pub(crate) fn start() {
    outside(|| {
        LOAD_BIAS.store(unwind::load_bias(), Relaxed);
        *table() = Some(Table::default());
    });
    RECORDING.store(supported(), Relaxed);
}

/// The blocks live now, summed by call stack, largest first.
pub(crate) fn snapshot() -> Vec<Site> {
    let mut sites = Vec::new();
    outside(|| {
        let guard = table();
        let Some(t) = guard.as_ref() else { return };
        let bias = LOAD_BIAS.load(Relaxed);
        let mut sums = vec![(0u64, 0u64, 0u64); t.stacks.len()];
        for b in t.live.values() {
            let s = &mut sums[b.stack as usize];
            s.0 += 1;
            s.1 += b.bytes;
            s.2 += b.usable;
        }
        sites = t
            .stacks
            .iter()
            .zip(sums)
            .filter(|(_, (blocks, _, _))| *blocks > 0)
            .map(|(stack, (blocks, bytes, usable))| Site {
                frames: stack
                    .iter()
                    .map(|&ip| ip.wrapping_sub(bias) as u64)
                    .collect(),
                blocks,
                bytes,
                usable,
            })
            .collect();
        drop(guard);
        sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.frames.cmp(&b.frames)));
    });
    sites
}

/// Ends the recording and frees its table.
pub(crate) fn stop() {
    RECORDING.store(false, Relaxed);
    outside(|| {
        let old = table().take();
        drop(old);
    });
}

/// Records a new block (from the allocator, after jemalloc returned it).
#[cold]
pub(crate) fn on_alloc(ptr: *mut u8, layout: Layout, usable: usize) {
    outside(|| {
        let mut frames = [0usize; DEPTH];
        let depth = unwind::trace(&mut frames);
        let stack = &frames[..depth];
        let mut guard = table();
        let Some(t) = guard.as_mut() else { return };
        let id = match t.index.get(stack) {
            Some(&id) => id,
            None => {
                let id = t.stacks.len() as u32;
                let boxed: Box<[usize]> = stack.into();
                t.stacks.push(boxed.clone());
                t.index.insert(boxed, id);
                id
            }
        };
        t.live.insert(
            ptr as usize,
            Block {
                stack: id,
                bytes: layout.size() as u64,
                usable: usable as u64,
            },
        );
    });
}

/// Forgets a freed block (before jemalloc takes it back).
#[cold]
pub(crate) fn on_free(ptr: *mut u8) {
    outside(|| {
        if let Some(t) = table().as_mut() {
            t.live.remove(&(ptr as usize));
        }
    });
}

#[cfg(target_os = "linux")]
mod unwind {
    use std::ffi::{c_int, c_void};

    #[repr(C)]
    pub struct Context {
        _opaque: [u8; 0],
    }

    type Trace = extern "C" fn(*mut Context, *mut c_void) -> c_int;

    // libgcc's unwinder, which std links on Linux for panics and backtraces.
    unsafe extern "C" {
        fn _Unwind_Backtrace(trace: Trace, arg: *mut c_void) -> c_int;
        fn _Unwind_GetIP(ctx: *mut Context) -> usize;
    }

    /// `_URC_NO_REASON`: go on to the caller; `_URC_NORMAL_STOP`: enough frames.
    const GO_ON: c_int = 0;
    const STOP: c_int = 4;

    struct Frames<'a> {
        out: &'a mut [usize],
        len: usize,
    }

    extern "C" fn one(ctx: *mut Context, arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the `Frames` that `trace` passed, alive for the walk.
        let frames = unsafe { &mut *arg.cast::<Frames<'_>>() };
        // SAFETY: the unwinder hands a valid context to its callback.
        let ip = unsafe { _Unwind_GetIP(ctx) };
        if ip == 0 || frames.len == frames.out.len() {
            return STOP;
        }
        frames.out[frames.len] = ip;
        frames.len += 1;
        GO_ON
    }

    /// Fills `out` with the return addresses of the calling stack, innermost first; how many.
    pub fn trace(out: &mut [usize]) -> usize {
        let mut frames = Frames { out, len: 0 };
        // SAFETY: the callback only writes into `frames`, which outlives the walk.
        unsafe { _Unwind_Backtrace(one, (&mut frames as *mut Frames<'_>).cast()) };
        frames.len
    }

    /// The executable's load address: the first object `dl_iterate_phdr` reports.
    pub fn load_bias() -> usize {
        unsafe extern "C" fn first(
            info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            data: *mut c_void,
        ) -> c_int {
            // SAFETY: glibc passes a valid info, and `data` is the `usize` below.
            unsafe { *data.cast::<usize>() = (*info).dlpi_addr as usize };
            1
        }
        let mut bias = 0usize;
        // SAFETY: the callback writes one usize into `bias` and stops the iteration.
        unsafe { libc::dl_iterate_phdr(Some(first), (&mut bias as *mut usize).cast()) };
        bias
    }
}

#[cfg(not(target_os = "linux"))]
mod unwind {
    pub fn trace(_: &mut [usize]) -> usize {
        0
    }

    pub fn load_bias() -> usize {
        0
    }
}
