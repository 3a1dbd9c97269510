//! Bounded concurrency: N tasks of which at most K are alive at a time, the remedy for
//! runtimes (or machines) that cannot afford N live tasks.
//!
//! - `buffer_unordered`: `futures::StreamExt::buffer_unordered(K)` over a lazy stream of N
//!   futures, polled in one task: the stream makes a future only when one of the K slots is
//!   free, so nothing of size N ever exists.
//! - `semaphore`: N spawned tasks, each started once it holds one of K permits and giving it
//!   back when it finishes (tokio's `Semaphore` in [`super::tokio_rt`], async-lock's here for
//!   async-std and smol). The handles of finished tasks are reaped before each spawn, so at
//!   most K handles exist either.
//!
//! The peak is when the first min(N, K) tasks are alive and polled once: what the process
//! holds for the whole run, whatever N is. Released by cancelling, the remaining N - K
//! tasks are never created; with [`Release::Complete`] they pass through K at a time (a test
//! checks that the highest heap over such a run is the same as at the first K).

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::payload::Body;
use super::{Exec, Release, RunOptions, STARTED, poll_once};
use crate::matrix::Runtime;

/// Runs `body`, then gives back `permit`: a bounded task. A combinator, not an `async fn`: an
/// `async fn` taking the body by value keeps it twice in its state machine (the argument and
/// the awaited value), which doubled the size of a task holding 1 KiB inline.
pub(super) fn with_permit<F: Future, P>(body: F, permit: P) -> impl Future<Output = F::Output> {
    body.map(move |out| {
        drop(permit);
        out
    })
}

/// `buffer_unordered(k)` over N futures from `make`, polled once (the first min(N, K) are
/// created and polled).
pub(super) fn buffer_unordered<E: Exec, F: Future>(
    exec: &E,
    n: usize,
    k: usize,
    make: impl Fn() -> F,
    release: Release,
    at_peak: &mut dyn FnMut(),
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

/// N tasks through a semaphore of `k` permits (async-lock's, on any runtime): `spawn` starts
/// one task holding the permit it is given; `cancel` cancels a handle. At most K handles are
/// kept: finished ones are reaped before each spawn.
pub(super) async fn semaphore_spawn<H, C>(
    n: usize,
    k: usize,
    opts: &RunOptions,
    at_peak: &mut dyn FnMut(),
    spawn: impl Fn(smol::lock::SemaphoreGuardArc) -> H,
    cancel: impl Fn(H) -> C,
) where
    H: Future + Unpin,
    C: Future,
{
    let permits = Arc::new(smol::lock::Semaphore::new(k));
    let mut live: FuturesUnordered<H> = FuturesUnordered::new();
    let first = n.min(k);
    STARTED.reset(first);
    for _ in 0..first {
        live.push(spawn(permits.acquire_arc().await));
    }
    STARTED.wait().await;
    at_peak();
    match opts.release {
        Release::Cancel => {
            futures::future::join_all(live.into_iter().map(cancel)).await;
        }
        Release::Complete => {
            for _ in first..n {
                let permit = permits.acquire_arc().await;
                while let Some(Some(_)) = live.next().now_or_never() {}
                live.push(spawn(permit));
            }
            while live.next().await.is_some() {}
        }
    }
}

/// A [`Body`] that returns `size_of_val` of one bounded task: the body wrapped with its
/// permit, as `semaphore` spawns it.
pub(super) enum SizeWithPermit {
    /// tokio's owned permit.
    Tokio(tokio::sync::OwnedSemaphorePermit),
    /// async-lock's owned guard (async-std, smol).
    AsyncLock(smol::lock::SemaphoreGuardArc),
}

impl SizeWithPermit {
    /// A permit of the kind `runtime`'s `semaphore` strategy uses.
    pub(super) fn for_runtime(runtime: Runtime) -> Option<SizeWithPermit> {
        match runtime {
            Runtime::TokioCt | Runtime::TokioMt => Arc::new(tokio::sync::Semaphore::new(1))
                .try_acquire_owned()
                .ok()
                .map(SizeWithPermit::Tokio),
            Runtime::AsyncStd | Runtime::Smol => Arc::new(smol::lock::Semaphore::new(1))
                .try_acquire_arc()
                .map(SizeWithPermit::AsyncLock),
            Runtime::Os => None,
        }
    }
}

impl Body for SizeWithPermit {
    type Out = usize;
    fn with<F: Future<Output = ()> + Send + 'static>(self, make: impl Fn() -> F) -> usize {
        match self {
            SizeWithPermit::Tokio(p) => size_of_val(&with_permit(make(), p)),
            SizeWithPermit::AsyncLock(p) => size_of_val(&with_permit(make(), p)),
        }
    }
}
