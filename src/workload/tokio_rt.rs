//! tokio: current-thread and multi-thread runtimes, `tokio::spawn`, `JoinSet`, and spawning
//! through a `tokio::sync::Semaphore` of K permits.

use std::future::Future;
use std::sync::Arc;

use super::{CaseError, Exec, Release, RunOptions, STARTED, Spawner, task};
use crate::matrix::{Case, Strategy};

/// A tokio runtime with its time driver.
pub(super) struct Tokio(tokio::runtime::Runtime);

impl Tokio {
    pub(super) fn current_thread() -> Result<Self, CaseError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map(Tokio)
            .map_err(|e| CaseError::Failed(format!("cannot build tokio runtime: {e}")))
    }

    pub(super) fn multi_thread() -> Result<Self, CaseError> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_time()
            .build()
            .map(Tokio)
            .map_err(|e| CaseError::Failed(format!("cannot build tokio runtime: {e}")))
    }

    /// `tokio::spawn` N tasks from `make`, keep the handles, await (or abort) them.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        self.0.block_on(async {
            STARTED.reset(n);
            let handles: Vec<tokio::task::JoinHandle<()>> =
                (0..n).map(|_| tokio::spawn(make())).collect();
            STARTED.wait().await;
            at_peak();
            if opts.release == Release::Cancel {
                handles.iter().for_each(|h| h.abort());
            }
            for h in handles {
                match h.await {
                    Ok(()) => {}
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => return Err(CaseError::Failed(format!("task failed: {e}"))),
                }
            }
            Ok(())
        })
    }

    /// `JoinSet::spawn` N tasks from `make`; shut the set down (or join every task).
    pub(super) fn join_set<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        self.0.block_on(async {
            STARTED.reset(n);
            let mut set = tokio::task::JoinSet::new();
            (0..n).for_each(|_| drop(set.spawn(make())));
            STARTED.wait().await;
            at_peak();
            match opts.release {
                Release::Cancel => set.shutdown().await,
                Release::Complete => {
                    while let Some(r) = set.join_next().await {
                        r.map_err(|e| CaseError::Failed(format!("task failed: {e}")))?;
                    }
                }
            }
            Ok(())
        })
    }
}

impl Tokio {
    /// N tasks from `make` through a semaphore of `k` permits: each task is spawned into a
    /// `JoinSet` once it has a permit and gives it back when it finishes; finished tasks are
    /// reaped before each spawn, so the set never holds more than K. The peak is when the
    /// first min(N, K) are alive and polled; then the set is shut down (or the other tasks
    /// pass through, K at a time).
    pub(super) fn semaphore<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        k: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        let closed = |e: tokio::sync::AcquireError| CaseError::Failed(format!("semaphore: {e}"));
        let failed = |e: tokio::task::JoinError| CaseError::Failed(format!("task failed: {e}"));
        self.0.block_on(async {
            let permits = Arc::new(tokio::sync::Semaphore::new(k));
            let mut set = tokio::task::JoinSet::new();
            let first = n.min(k);
            STARTED.reset(first);
            for _ in 0..first {
                let permit = Arc::clone(&permits).acquire_owned().await.map_err(closed)?;
                set.spawn(super::bounded::with_permit(make(), permit));
            }
            STARTED.wait().await;
            at_peak();
            if opts.release == Release::Cancel {
                set.shutdown().await;
                return Ok(());
            }
            for _ in first..n {
                let permit = Arc::clone(&permits).acquire_owned().await.map_err(closed)?;
                while let Some(done) = set.try_join_next() {
                    done.map_err(failed)?;
                }
                set.spawn(super::bounded::with_permit(make(), permit));
            }
            while let Some(done) = set.join_next().await {
                done.map_err(failed)?;
            }
            Ok(())
        })
    }
}

impl Spawner for Tokio {
    fn run_spawned<F: Future<Output = ()> + Send + 'static>(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        match (case.strategy, case.bound) {
            (Strategy::Spawn, _) => self.spawn(case.n, opts, at_peak, make),
            (Strategy::JoinSet, _) => self.join_set(case.n, opts, at_peak, make),
            (Strategy::Semaphore, Some(k)) => self.semaphore(case.n, k, opts, at_peak, make),
            (s, _) => Err(CaseError::Failed(format!(
                "{s} is not a tokio spawning strategy"
            ))),
        }
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

/// `size_of` of one task's future.
pub(super) fn future_size(strategy: Strategy) -> Option<usize> {
    match strategy {
        Strategy::JoinAll
        | Strategy::Sequential
        | Strategy::FuturesUnordered
        | Strategy::BufferUnordered => Some(size_of::<tokio::time::Sleep>()),
        Strategy::Spawn | Strategy::JoinSet => Some(size_of_val(&task(tokio::time::sleep))),
        Strategy::Semaphore | Strategy::Threads => None,
    }
}
