//! What taskmem puts around a caller's futures to know when the peak is reached, and to turn
//! misuse into an error instead of a hang or a wrong number.
//!
//! - [`FirstPoll`] wraps each *spawned* task: after its first poll it arrives at the
//!   [`STARTED`] latch, which the driver awaits before the peak is read. It is a newtype, so
//!   it adds no byte to the task: which tasks have been polled is kept beside them, in a
//!   table of the tasks' waker addresses ([`Seen`]) that is allocated and touched before a
//!   measurement starts, so that no counter sees it grow. When its future is dropped it
//!   arrives at [`DROPPED`], which a release that cancels every task at once awaits
//!   (async-std, smol, tokio's `spawn` and `JoinSet`). When the tasks report their first
//!   poll themselves (`Tasks::first_poll_latch`), there is no table ([`TRACKED`] is false)
//!   and each arrival at the run's latch arrives at [`STARTED`]: the run then holds nothing
//!   per task, which a whole-process figure (peak RSS) needs.
//! - [`Watch`] wraps each *unspawned* future (`join_all`, sequential, `FuturesUnordered`,
//!   `buffer_unordered`): a newtype, so it adds no byte; the driver polls them itself.
//! - Both count futures that complete before the peak ([`take_early`]) and catch a panic in
//!   the caller's `poll` ([`take_panic`]): the panic is kept, not printed, and the run ends
//!   with it as its error.
//! - [`Watchdog`]: while a run waits for its tasks' first polls, a deadline; past it the
//!   wait ends with the count of tasks that were polled. A poll that never returns (a
//!   blocking call inside a task) cannot be interrupted: past twice the deadline the process
//!   ends with one line naming it. A cancelling release has a deadline too: tasks not all
//!   dropped by then (a drop that blocks, a poll that never returns) end the process the
//!   same way.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, Once, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;

use crate::error::exit_with;

/// Counts tasks that reached a point (polled once: [`STARTED`]; future dropped:
/// [`DROPPED`]), and wakes the waiter when all have (or, for [`STARTED`], when the watchdog
/// gives up).
pub(super) struct Latch {
    arrived: AtomicUsize,
    target: AtomicUsize,
    timed_out: AtomicBool,
    waker: AtomicWaker,
}

/// The latch of the current run (runs are serialised by [`super::exclusive`]).
pub(super) static STARTED: Latch = Latch::new();

/// Counts the spawned tasks of the current run whose future has been dropped ([`FirstPoll`]'s
/// `Drop`): a release that cancels every task without awaiting each one waits on it.
pub(super) static DROPPED: Latch = Latch::new();

impl Latch {
    /// A latch nobody has arrived at, with no target until [`Latch::reset`].
    const fn new() -> Latch {
        Latch {
            arrived: AtomicUsize::new(0),
            target: AtomicUsize::new(usize::MAX),
            timed_out: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    pub(super) fn reset(&self, target: usize) {
        self.arrived.store(0, Ordering::SeqCst);
        self.timed_out.store(false, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }

    #[inline]
    pub(super) fn arrive(&self) {
        let now = self.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        if now == self.target.load(Ordering::Acquire) {
            self.waker.wake();
        }
    }

    /// How many tasks have arrived.
    pub(super) fn arrived(&self) -> usize {
        self.arrived.load(Ordering::Acquire)
    }

    fn done(&self) -> bool {
        self.arrived() >= self.target.load(Ordering::Acquire)
            || self.timed_out.load(Ordering::Acquire)
    }

    fn give_up(&self) {
        self.timed_out.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Resolves once every task has arrived, or the watchdog gave up (then
    /// [`Latch::all_arrived`] is false).
    pub(super) fn wait(&'static self) -> impl Future<Output = ()> {
        futures::future::poll_fn(move |cx| {
            if self.done() {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            if self.done() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// Whether the watchdog gave up on the current run.
    pub(super) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Acquire)
    }

    /// Wakes `waker` when the watchdog gives up (or every task arrives).
    pub(super) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// Whether every task arrived.
    pub(super) fn all_arrived(&self) -> bool {
        self.arrived() >= self.target.load(Ordering::Acquire)
    }
}

/// Whether the peak of the current run has been read: futures that complete before it
/// count as early.
static BEFORE_PEAK: AtomicBool = AtomicBool::new(false);
/// Futures that completed before the peak in the current run.
static EARLY: AtomicUsize = AtomicUsize::new(0);
/// The first panic caught in a caller's future in the current run.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Starts the bookkeeping of a run.
pub(super) fn begin_run() {
    EARLY.store(0, Ordering::SeqCst);
    BEFORE_PEAK.store(true, Ordering::SeqCst);
    *PANIC.lock().unwrap_or_else(|p| p.into_inner()) = None;
    install_quiet_hook();
}

/// Marks the peak as read: completions from here on are the release's.
pub(super) fn peak_read() {
    BEFORE_PEAK.store(false, Ordering::SeqCst);
}

/// How many futures have completed before the peak so far.
pub(super) fn early() -> usize {
    EARLY.load(Ordering::SeqCst)
}

/// Whether a panic was caught in the run so far.
pub(super) fn panicked() -> bool {
    PANIC.lock().unwrap_or_else(|p| p.into_inner()).is_some()
}

/// How many futures completed before the peak.
pub(super) fn take_early() -> usize {
    EARLY.swap(0, Ordering::SeqCst)
}

/// The first panic caught in the run, if any.
pub(super) fn take_panic() -> Option<String> {
    PANIC.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// A panic payload's message, when it is a string (what `panic!` with a message carries).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// Records a caught panic's message (the first of a run wins).
pub(super) fn record_panic(payload: &(dyn std::any::Any + Send)) {
    let message =
        panic_message(payload).unwrap_or_else(|| "a panic with a non-string payload".into());
    let mut first = PANIC.lock().unwrap_or_else(|p| p.into_inner());
    if first.is_none() {
        *first = Some(message);
    }
}

thread_local! {
    /// Set while this thread runs code of the caller's under taskmem's `catch_unwind`.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with panics caught and kept quiet (the default hook would print a message and
/// a backtrace note per task: one line per task at N = 1M).
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn std::any::Any + Send>> {
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result
}

/// Installs, once, a panic hook that stays silent for panics inside [`guarded`] and hands
/// every other panic to the hook that was there before.
fn install_quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| g.get()) {
                previous(info);
            }
        }));
    });
}

#[inline]
fn note_ready() {
    if BEFORE_PEAK.load(Ordering::Relaxed) {
        EARLY.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether the current run keeps the table of polled tasks ([`Seen`]): false when the tasks
/// report their first poll themselves (`Tasks::first_poll_latch`), so that the run holds
/// nothing per task.
pub(super) static TRACKED: AtomicBool = AtomicBool::new(true);

/// The tasks of the current run that have been polled, by the address of their waker's data
/// (the runtime's task header: one per task while it is alive). An open-addressing table of
/// at least twice the live tasks, allocated and written before a measurement reads its first
/// counters, and only written to (never grown) during the run.
pub(super) struct Seen;

static SEEN: Mutex<Vec<AtomicUsize>> = Mutex::new(Vec::new());
static SEEN_PTR: std::sync::atomic::AtomicPtr<AtomicUsize> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
static SEEN_MASK: AtomicUsize = AtomicUsize::new(0);

impl Seen {
    /// Makes room for `tasks` live tasks: grows the table if needed (this allocates and
    /// touches every slot: call it before the first reading of a measurement).
    pub(super) fn reserve(tasks: usize) {
        let want = (tasks.max(1) * 2).next_power_of_two();
        let mut table = SEEN.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() < want {
            *table = (0..want).map(|_| AtomicUsize::new(0)).collect();
        }
    }

    /// Empties the table for a run of `tasks` live tasks (no allocation once
    /// [`Seen::reserve`] made room; an unmeasured run may grow it here).
    pub(super) fn clear(tasks: usize) {
        Seen::reserve(tasks);
        let table = SEEN.lock().unwrap_or_else(|p| p.into_inner());
        table
            .iter()
            .for_each(|slot| slot.store(0, Ordering::Relaxed));
        SEEN_MASK.store(table.len() - 1, Ordering::SeqCst);
        SEEN_PTR.store(table.as_ptr() as *mut AtomicUsize, Ordering::SeqCst);
    }

    /// Records `key`; true the first time it is seen in this run.
    #[inline]
    fn first(key: usize) -> bool {
        let ptr = SEEN_PTR.load(Ordering::Acquire);
        let mask = SEEN_MASK.load(Ordering::Acquire);
        if ptr.is_null() || key == 0 {
            return true;
        }
        // The page's number is hashed, the offset in the page is kept: tasks are polled first
        // in about the order they were allocated, mostly side by side in the same pages, so
        // consecutive first polls write neighbouring slots (cache hits) instead of a random
        // slot each (a cache miss per task: 17 % of a 1M-task JoinSet run).
        let page = (key >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let mut i = ((page << 8) | ((key >> 4) & 0xFF)) & mask;
        loop {
            // SAFETY: the table outlives the run (it is only replaced by `reserve`, which runs
            // before a run starts, under the run lock) and `i <= mask < len`.
            let slot = unsafe { &*ptr.add(i) };
            match slot.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(k) if k == key => return false,
                Err(_) => i = (i + 1) & mask,
            }
        }
    }
}

/// A spawned task: the caller's future, unchanged in size. Its output is dropped inside the
/// task. Its first poll (by its waker's address, see [`Seen`]) arrives at [`STARTED`]; once
/// the future is dropped, it arrives at [`DROPPED`].
pub(super) struct FirstPoll<F> {
    inner: std::mem::ManuallyDrop<F>,
}

impl<F> FirstPoll<F> {
    pub(super) fn new(inner: F) -> Self {
        FirstPoll {
            inner: std::mem::ManuallyDrop::new(inner),
        }
    }
}

impl<F> Drop for FirstPoll<F> {
    fn drop(&mut self) {
        /// Arrives at [`DROPPED`] when dropped: after the future, even if its `Drop` panics.
        struct Arrive;
        impl Drop for Arrive {
            fn drop(&mut self) {
                DROPPED.arrive();
            }
        }
        let _arrive = Arrive;
        // SAFETY: `inner` is dropped here once, in place (it may be pinned), and never used
        // again.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.inner) };
    }
}

impl<F: Future> Future for FirstPoll<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is structurally pinned (never moved out).
        let inner = unsafe { self.map_unchecked_mut(|w| &mut *w.inner) };
        let result = guarded(|| inner.poll(cx));
        // Without the table (the tasks report their first poll themselves at the run's
        // latch, `Tasks::first_poll_latch`), the latch arrives at STARTED for them.
        let tracked = TRACKED.load(Ordering::Relaxed);
        let first = tracked && Seen::first(cx.waker().data() as usize);
        if !tracked {
            // A thread-local check once set.
            crate::probe::runtime_thread();
        }
        let out = match result {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(_)) => {
                note_ready();
                Poll::Ready(())
            }
            Err(payload) => {
                record_panic(&*payload);
                Poll::Ready(())
            }
        };
        if first {
            // The global executors of async-std and smol have no thread-start hook.
            crate::probe::runtime_thread();
            STARTED.arrive();
        }
        out
    }
}

/// An unspawned future: the caller's, unchanged in size, watched for early completion and
/// panics. After a panic it reads as complete (it is never polled again; the run fails).
pub(super) struct Watch<F> {
    inner: F,
}

impl<F> Watch<F> {
    pub(super) fn new(inner: F) -> Self {
        Watch { inner }
    }
}

impl<F: Future> Future for Watch<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is structurally pinned.
        let inner = unsafe { self.map_unchecked_mut(|w| &mut w.inner) };
        match guarded(|| inner.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(_)) => {
                note_ready();
                Poll::Ready(())
            }
            Err(payload) => {
                record_panic(&*payload);
                Poll::Ready(())
            }
        }
    }
}

/// What an armed deadline bounds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// From a run's start to its peak: past the deadline the wait for first polls ends.
    Start,
    /// From the peak to the end of a cancelling release: past the deadline nothing can free
    /// the tasks, so the process ends.
    Release,
}

/// The deadline of the current wait, shared with the watchdog thread.
struct Deadline {
    armed: Mutex<Option<(u64, Instant, Duration, Phase)>>,
    changed: Condvar,
}

static DEADLINE: Deadline = Deadline {
    armed: Mutex::new(None),
    changed: Condvar::new(),
};

static GENERATION: AtomicUsize = AtomicUsize::new(0);

/// A running deadline: disarmed when dropped.
pub(super) struct Watchdog(u64);

impl Watchdog {
    /// Starts the watchdog thread, once per process (before any measurement, so that its
    /// own allocations are never inside one).
    pub(super) fn start() {
        static THREAD: OnceLock<()> = OnceLock::new();
        THREAD.get_or_init(|| {
            let spawned = std::thread::Builder::new()
                .name("taskmem-watchdog".into())
                .spawn(watch);
            // Without the thread a wait is unbounded, as it was before: not worth failing for.
            drop(spawned);
        });
    }

    /// Arms a deadline of `timeout` from now for the wait up to the peak.
    pub(super) fn arm(timeout: Duration) -> Watchdog {
        Watchdog::arm_for(timeout, Phase::Start)
    }

    /// Arms a deadline of `timeout` from now for a cancelling release: the tasks must all be
    /// dropped by then, or the process ends with one line (a future whose `Drop` blocks
    /// would otherwise hang the run).
    pub(super) fn arm_release(timeout: Duration) -> Watchdog {
        Watchdog::arm_for(timeout, Phase::Release)
    }

    fn arm_for(timeout: Duration, phase: Phase) -> Watchdog {
        let generation = GENERATION.fetch_add(1, Ordering::SeqCst) as u64;
        let mut armed = DEADLINE.armed.lock().unwrap_or_else(|p| p.into_inner());
        *armed = Some((generation, Instant::now() + timeout, timeout, phase));
        DEADLINE.changed.notify_all();
        Watchdog(generation)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let mut armed = DEADLINE.armed.lock().unwrap_or_else(|p| p.into_inner());
        if armed.is_some_and(|(g, _, _, _)| g == self.0) {
            *armed = None;
        }
        DEADLINE.changed.notify_all();
    }
}

fn watch() {
    let mut armed = DEADLINE.armed.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let Some((generation, deadline, timeout, phase)) = *armed else {
            armed = DEADLINE
                .changed
                .wait(armed)
                .unwrap_or_else(|p| p.into_inner());
            continue;
        };
        let now = Instant::now();
        if now < deadline {
            armed = DEADLINE
                .changed
                .wait_timeout(armed, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            continue;
        }
        if phase == Phase::Release {
            exit_with(
                &format!(
                    "the tasks were cancelled and are not all dropped after {timeout:?} (a \
                     future whose drop blocks, or a poll that never returns?); ending the process"
                ),
                1,
            );
        }
        // Past the deadline: end the wait. If the same deadline is still armed after as
        // long again, a poll is blocking the thread that would notice.
        STARTED.give_up();
        let hard = deadline + timeout;
        loop {
            let now = Instant::now();
            if armed.is_none_or(|(g, _, _, _)| g != generation) {
                break;
            }
            if now >= hard {
                exit_with(
                    &format!(
                        "a task's poll has not returned for {:?} (a blocking call inside an \
                         async task?); ending the process",
                        timeout * 2
                    ),
                    1,
                );
            }
            armed = DEADLINE
                .changed
                .wait_timeout(armed, hard - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
