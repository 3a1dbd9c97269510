//! The strategies, written once for every runtime: the unspawned ones (`join_all`,
//! sequential await, `FuturesUnordered`, `buffer_unordered`) over an [`Exec`], and the
//! spawning skeletons shared by runtimes whose handles cancel asynchronously (async-std's
//! `JoinHandle`, smol's `Task`).
//!
//! Each takes `make`, which builds one future (already wrapped by [`super::guard`]), and
//! `at_peak`, called once every future is alive and polled; then it releases them as
//! [`Release`] says. `at_peak` returns whether the run goes on to the release (false: the
//! peak was not reached, release at once).

use std::future::Future;
use std::pin::Pin;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::Release;
#[cfg(any(feature = "smol", feature = "async-std"))]
use super::guard::{DROPPED, STARTED};

/// An async runtime as the generic strategies see it.
pub(super) trait Exec {
    /// Runs `f` to completion on this runtime.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// Awaits `f` outside the runtime's cooperative budget (tokio's would stop timers from
    /// registering after 128 polls in one task).
    fn unconstrained<F: Future>(f: F) -> impl Future<Output = F::Output>;
}

/// Polls `fut` once, outside the cooperative budget; then, if the run has a
/// [`Latch`](super::Latch), on until every task has arrived at it (or the watchdog gives up).
/// True if `fut` completed meanwhile (it must not be polled again).
async fn poll_once<E: Exec, F: Future>(mut fut: Pin<&mut F>) -> bool {
    let once = E::unconstrained(fut.as_mut());
    if futures::poll!(std::pin::pin!(once)).is_ready() {
        return true;
    }
    if super::ready::settled() {
        return false;
    }
    E::unconstrained(super::ready::drive(fut)).await
}

/// The peak callback of a run: called once, when every task is alive and polled.
pub type AtPeak<'a> = &'a mut dyn FnMut();

/// `join_all` over N futures from `make`, polled once.
pub(super) fn join_all<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: AtPeak<'_>,
) {
    exec.block_on(async {
        let mut all = std::pin::pin!(futures::future::join_all((0..n).map(|_| make())));
        let done = poll_once::<E, _>(all.as_mut()).await;
        at_peak();
        if release == Release::Complete && !done {
            E::unconstrained(all).await;
        }
    })
}

/// A Vec of N futures awaited one by one; the first is polled.
pub(super) fn sequential<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: AtPeak<'_>,
) {
    exec.block_on(async {
        let futures: Vec<F> = (0..n).map(|_| make()).collect();
        let mut all = std::pin::pin!(async move {
            for f in futures {
                f.await;
            }
        });
        let done = poll_once::<E, _>(all.as_mut()).await;
        at_peak();
        if release == Release::Complete && !done {
            E::unconstrained(all).await;
        }
    })
}

/// `FuturesUnordered` over N futures, polled once.
pub(super) fn futures_unordered<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: AtPeak<'_>,
) {
    exec.block_on(async {
        let mut set: FuturesUnordered<F> = (0..n).map(|_| make()).collect();
        poll_once::<E, _>(std::pin::pin!(set.next())).await;
        at_peak();
        if release == Release::Complete {
            E::unconstrained(async { while set.next().await.is_some() {} }).await;
        }
    })
}

/// `buffer_unordered(k)` over a lazy stream of N futures from `make`: at most K exist at a
/// time. Polled once, the stream creates and polls the first K.
pub(super) fn buffer_unordered<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    k: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: AtPeak<'_>,
) {
    exec.block_on(async {
        let mut stream = std::pin::pin!(
            futures::stream::iter(0..n)
                .map(|_| make())
                .buffer_unordered(k)
        );
        poll_once::<E, _>(std::pin::pin!(stream.next())).await;
        at_peak();
        if release == Release::Complete {
            E::unconstrained(async { while stream.next().await.is_some() {} }).await;
        }
    })
}

/// A task body that keeps a semaphore permit until it completes. A struct, not an `async
/// fn`: an `async fn` taking the body by value keeps it twice in its state machine (the
/// argument and the awaited value), which doubled the size of a task holding 1 KiB inline.
pub(super) struct WithPermit<F, P> {
    body: F,
    permit: Option<P>,
}

/// Keeps `permit` until `body` completes.
pub(super) fn with_permit<F: Future, P>(body: F, permit: P) -> WithPermit<F, P> {
    WithPermit {
        body,
        permit: Some(permit),
    }
}

impl<F: Future, P> Future for WithPermit<F, P> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        // SAFETY: `body` is structurally pinned; `permit` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let body = unsafe { Pin::new_unchecked(&mut this.body) };
        let out = std::task::ready!(body.poll(cx));
        drop(this.permit.take());
        std::task::Poll::Ready(out)
    }
}

/// Spawns N tasks with `spawn`, waits until each has been polled once, calls `at_peak`, then
/// cancels every task with `cancel` or awaits each in turn.
///
/// `cancel` only starts a task's cancellation (the executor's threads drop its future); the
/// run then waits until every future is dropped ([`DROPPED`]). Awaiting each cancellation in
/// a `join_all` instead allocated a future and a node per task and took longer than the
/// spawning did (async-std at 1M: 380 ms against 340 ms to spawn).
#[cfg(any(feature = "smol", feature = "async-std"))]
pub(super) async fn spawn_then_cancel<H: Future>(
    n: usize,
    release: Release,
    at_peak: AtPeak<'_>,
    spawn: impl Fn() -> H,
    cancel: impl Fn(H),
) {
    STARTED.reset(n);
    DROPPED.reset(n);
    let handles: Vec<H> = (0..n).map(|_| spawn()).collect();
    STARTED.wait().await;
    super::ready::wait().await;
    at_peak();
    match release {
        Release::Complete if STARTED.all_arrived() => {
            // One by one: a join_all here would allocate beside the live tasks.
            for h in handles {
                h.await;
            }
        }
        _ => {
            handles.into_iter().for_each(cancel);
            DROPPED.wait().await;
        }
    }
}

/// N spawned tasks through an async-lock semaphore of `k` permits (async-std and smol): the
/// first min(N, K) are spawned at once and awaited to their first poll; then they are
/// cancelled, or the other N - K pass through K at a time.
#[cfg(any(feature = "smol", feature = "async-std"))]
pub(super) async fn semaphore_spawn<H>(
    n: usize,
    k: usize,
    release: Release,
    at_peak: AtPeak<'_>,
    spawn: impl Fn(async_lock::SemaphoreGuardArc) -> H,
    cancel: impl Fn(H),
) where
    H: Future + Unpin,
{
    use futures::FutureExt;
    let permits = std::sync::Arc::new(async_lock::Semaphore::new(k));
    let mut live: FuturesUnordered<H> = FuturesUnordered::new();
    let first = n.min(k);
    STARTED.reset(first);
    DROPPED.reset(first);
    for _ in 0..first {
        live.push(spawn(permits.acquire_arc().await));
    }
    STARTED.wait().await;
    super::ready::wait().await;
    at_peak();
    match release {
        Release::Complete if STARTED.all_arrived() => {
            for _ in first..n {
                let permit = permits.acquire_arc().await;
                while let Some(Some(_)) = live.next().now_or_never() {}
                live.push(spawn(permit));
            }
            while live.next().await.is_some() {}
        }
        _ => {
            live.into_iter().for_each(cancel);
            DROPPED.wait().await;
        }
    }
}
