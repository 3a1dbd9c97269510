//! tokio: current-thread and multi-thread runtimes, `tokio::spawn`, `JoinSet`, and spawning
//! through a `tokio::sync::Semaphore` of K permits.

use std::future::Future;
use std::sync::Arc;

use super::guard::{DROPPED, STARTED};
use super::ready;
use super::strategies::{AtPeak, Exec};
use super::{Error, Release};

/// A tokio runtime with its time driver (and its I/O driver, for tasks that hold sockets).
pub(super) struct Tokio(tokio::runtime::Runtime);

impl Tokio {
    pub(super) fn current_thread() -> Result<Self, Error> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_start(crate::probe::runtime_thread)
            .build()
            .map(Tokio)
            .map_err(|e| Error::Runtime(format!("cannot build tokio's runtime: {e}")))
    }

    pub(super) fn multi_thread() -> Result<Self, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .on_thread_start(crate::probe::runtime_thread)
            .build()
            .map(Tokio)
            .map_err(|e| Error::Runtime(format!("cannot build tokio's runtime: {e}")))
    }

    /// `tokio::spawn` N tasks from `make`, keep the handles; abort them and wait until every
    /// future is dropped, or await each.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        release: Release,
        at_peak: AtPeak<'_>,
        make: impl Fn() -> F,
    ) {
        self.0.block_on(async {
            STARTED.reset(n);
            DROPPED.reset(n);
            let handles: Vec<tokio::task::JoinHandle<()>> =
                (0..n).map(|_| tokio::spawn(make())).collect();
            STARTED.wait().await;
            ready::wait().await;
            at_peak();
            if release == Release::Cancel && STARTED.all_arrived() {
                on_a_worker(move || handles.iter().for_each(|h| h.abort())).await;
                DROPPED.wait().await;
                return;
            }
            if !STARTED.all_arrived() {
                handles.iter().for_each(|h| h.abort());
            }
            for h in handles {
                // A task's panic is caught inside it (guard::FirstPoll); cancellation is
                // the release.
                let _ = h.await;
            }
        })
    }

    /// `JoinSet::spawn` N tasks from `make`; drop the set, which aborts every task, and wait
    /// until each future is dropped (or join every task). `JoinSet::shutdown` joins the N
    /// cancelled tasks one `join_next` at a time: tokio-mt at 1M took 0.80-1.28 s per sample
    /// that way, 0.69-0.95 s this way (`--bench sample_time`, six runs each).
    pub(super) fn join_set<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        release: Release,
        at_peak: AtPeak<'_>,
        make: impl Fn() -> F,
    ) {
        self.0.block_on(async {
            STARTED.reset(n);
            DROPPED.reset(n);
            let mut set = tokio::task::JoinSet::new();
            (0..n).for_each(|_| drop(set.spawn(make())));
            STARTED.wait().await;
            ready::wait().await;
            at_peak();
            if release == Release::Complete && STARTED.all_arrived() {
                while set.join_next().await.is_some() {}
            } else {
                if STARTED.all_arrived() {
                    on_a_worker(move || drop(set)).await;
                } else {
                    drop(set);
                }
                DROPPED.wait().await;
            }
        })
    }

    /// N tasks from `make` through a semaphore of `k` permits: each task is spawned into a
    /// `JoinSet` once it has a permit and gives it back when it finishes; finished tasks are
    /// reaped before each spawn, so the set never holds more than K. The peak is when the
    /// first min(N, K) are alive and polled; then the set is shut down (or the other tasks
    /// pass through, K at a time).
    pub(super) fn semaphore<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        k: usize,
        release: Release,
        at_peak: AtPeak<'_>,
        make: impl Fn(tokio::sync::OwnedSemaphorePermit) -> F,
    ) {
        self.0.block_on(async {
            let permits = Arc::new(tokio::sync::Semaphore::new(k));
            let mut set = tokio::task::JoinSet::new();
            let first = n.min(k);
            STARTED.reset(first);
            for _ in 0..first {
                // The semaphore is never closed: acquiring cannot fail.
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                set.spawn(make(permit));
            }
            STARTED.wait().await;
            ready::wait().await;
            at_peak();
            if release == Release::Cancel || !STARTED.all_arrived() {
                set.shutdown().await;
                return;
            }
            for _ in first..n {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                while set.try_join_next().is_some() {}
                set.spawn(make(permit));
            }
            while set.join_next().await.is_some() {}
        })
    }
}

impl Exec for Tokio {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn unconstrained<F: Future>(f: F) -> impl Future<Output = F::Output> {
        tokio::task::unconstrained(f)
    }
}

/// Runs `f` in a task of the runtime and waits for it: a release that cancels every task
/// does it from a worker, where each cancelled task goes to that worker's own queue, not
/// through the shared queue and a wake-up of a parked worker, as from the bench's thread
/// (tokio-mt at 1M: `spawn`'s release 135-145 ms instead of 130-190, a `JoinSet` sample 418
/// instead of 506 ms). Only once every task has started: on a current-thread runtime the task
/// would queue behind unpolled ones, and one of them could complete first.
async fn on_a_worker(f: impl FnOnce() + Send + 'static) {
    let _ = tokio::spawn(async move { f() }).await;
}
