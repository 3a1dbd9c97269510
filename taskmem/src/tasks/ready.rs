//! [`Latch`]: the caller's futures say "I have reached my idle state", and a run waits for
//! all of them before it reads the peak.
//!
//! A task that is pending is not always idle: a server connection is pending while it waits
//! for the rest of a request as much as while it waits for the next one. Give the tasks a
//! [`Latch`] ([`Tasks::ready_latch`](super::Tasks::ready_latch)), call [`Latch::arrive`]
//! once from each future where it reaches the state you mean to measure, and the run reads
//! the peak only when every task has arrived, bounded by [`Tasks::timeout`](super::Tasks::timeout)
//! (past it the run fails with [`Error::NotReady`](crate::Error::NotReady), naming how many
//! arrived).
//!
//! Nothing here allocates once the latch exists: arriving is an atomic increment (and, for
//! the last task, a wake), and the run's waiter registers its waker in place.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::task::AtomicWaker;

use super::guard::STARTED;

/// A count of tasks that reached their idle state, shared by the caller's futures and the
/// run that waits for them. Cloning it shares it (an `Arc`: cloning allocates nothing).
///
/// ```
/// use std::time::Duration;
/// use taskmem::{Latch, Runtime, Strategy, Tasks};
///
/// taskmem::use_tracked_jemalloc!();
///
/// # fn main() -> Result<(), taskmem::Error> {
/// let ready = Latch::new();
/// let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 100)
///     .ready_latch(&ready);
/// let sample = tasks.measure(|| {
///     let ready = ready.clone();
///     async move {
///         // Some work the task does before it settles: the peak must not be read before.
///         tokio::task::yield_now().await;
///         let buffer = vec![7u8; 1024];
///         ready.arrive();
///         tokio::time::sleep(Duration::from_secs(10)).await;
///         std::hint::black_box(&buffer);
///     }
/// })?;
/// // Read with every task holding its buffer: at least 100 KiB.
/// assert!(sample.requested >= 100 * 1024);
/// assert_eq!(ready.arrived(), 100);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Latch {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    arrived: AtomicUsize,
    target: AtomicUsize,
    waker: AtomicWaker,
}

impl Latch {
    /// A latch no task has arrived at.
    pub fn new() -> Latch {
        Latch::default()
    }

    /// Records that the calling task has reached its idle state. Call it once per task per
    /// run; it allocates nothing.
    #[inline]
    pub fn arrive(&self) {
        if FORWARD.load(Ordering::Relaxed) {
            STARTED.arrive();
        }
        let now = self.inner.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        if now == self.inner.target.load(Ordering::Acquire) {
            self.inner.waker.wake();
        }
    }

    /// How many tasks have arrived in the current (or last) run.
    pub fn arrived(&self) -> usize {
        self.inner.arrived.load(Ordering::Acquire)
    }

    /// Starts a run that waits for `target` arrivals.
    pub(super) fn reset(&self, target: usize) {
        self.inner.arrived.store(0, Ordering::SeqCst);
        self.inner.target.store(target.max(1), Ordering::SeqCst);
    }

    /// Whether every task of the run has arrived.
    pub(super) fn complete(&self) -> bool {
        self.arrived() >= self.inner.target.load(Ordering::Acquire)
    }

    /// The arrivals the run waits for.
    pub(super) fn target(&self) -> usize {
        self.inner.target.load(Ordering::Acquire)
    }
}

/// Whether arrivals at a latch are first polls too (the current run's tasks report their first
/// poll themselves, `Tasks::first_poll_latch`): each then arrives at [`STARTED`] as well.
static FORWARD: AtomicBool = AtomicBool::new(false);

/// Starts (or ends, with `false`) a run whose latch counts first polls.
pub(super) fn forward_first_polls(on: bool) {
    FORWARD.store(on, Ordering::SeqCst);
}

/// The latch of the current run, if it has one (runs are serialised by
/// [`crate::sample::exclusive`]). Setting it clones an `Arc`: no allocation.
static CURRENT: Mutex<Option<Latch>> = Mutex::new(None);

/// Sets (or clears) the current run's latch, reset for `target` arrivals.
pub(super) fn begin(latch: Option<&Latch>, target: usize) {
    if let Some(l) = latch {
        l.reset(target);
    }
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = latch.cloned();
}

/// Whether the current run waits for nothing more: no latch, every task arrived, or the
/// watchdog gave up.
pub(super) fn settled() -> bool {
    let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    current.as_ref().is_none_or(Latch::complete) || STARTED.timed_out()
}

/// Resolves once every task has arrived at the current run's latch (at once without one),
/// or the watchdog gave up.
pub(super) fn wait() -> impl Future<Output = ()> {
    futures::future::poll_fn(|cx| {
        if settled() {
            return Poll::Ready(());
        }
        if let Some(l) = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            l.inner.waker.register(cx.waker());
        }
        STARTED.register(cx.waker());
        if settled() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

/// Polls `fut` (an unspawned strategy's combined future) until every task has arrived at
/// the current run's latch, or the watchdog gave up, or it completed. True if it completed.
pub(super) fn drive<F: Future>(mut fut: std::pin::Pin<&mut F>) -> impl Future<Output = bool> {
    futures::future::poll_fn(move |cx| {
        if fut.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        if settled() {
            return Poll::Ready(false);
        }
        if let Some(l) = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            l.inner.waker.register(cx.waker());
        }
        STARTED.register(cx.waker());
        if settled() {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    })
}
