//! async-std (legacy: discontinued upstream): its global executor, `task::spawn`, and
//! `JoinHandle::cancel` to release.

use std::future::Future;
use std::time::Duration;

use super::{CaseError, Exec, RunOptions, Spawner, spawn_then_cancel, task};
use crate::matrix::{Case, Strategy};

/// async-std's global runtime (started on first use).
pub(super) struct AsyncStd;

/// async-std's sleep (an `async fn`: its future type has no name).
pub(super) fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
    async_std::task::sleep(d)
}

impl AsyncStd {
    /// `task::spawn` N tasks from `make`, keep the handles, await (or cancel) them.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        async_std::task::block_on(spawn_then_cancel(
            n,
            opts,
            at_peak,
            || async_std::task::spawn(make()),
            async_std::task::JoinHandle::cancel,
        ));
        Ok(())
    }
}

impl Spawner for AsyncStd {
    fn run_spawned<F: Future<Output = ()> + Send + 'static>(
        &self,
        case: &Case,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        match (case.strategy, case.bound) {
            (Strategy::Spawn, _) => self.spawn(case.n, opts, at_peak, make),
            (Strategy::Semaphore, Some(k)) => {
                async_std::task::block_on(super::bounded::semaphore_spawn(
                    case.n,
                    k,
                    opts,
                    at_peak,
                    |permit| async_std::task::spawn(super::bounded::with_permit(make(), permit)),
                    async_std::task::JoinHandle::cancel,
                ));
                Ok(())
            }
            (s, _) => Err(CaseError::Failed(format!(
                "{s} is not an async-std spawning strategy"
            ))),
        }
    }
}

impl Exec for AsyncStd {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        async_std::task::block_on(f)
    }

    fn unconstrained<F: Future>(f: F) -> impl Future<Output = F::Output> {
        f
    }
}

/// `size_of` of one task's future.
pub(super) fn future_size(strategy: Strategy) -> Option<usize> {
    match strategy {
        Strategy::JoinAll
        | Strategy::Sequential
        | Strategy::FuturesUnordered
        | Strategy::BufferUnordered => Some(size_of_val(&sleep(Duration::ZERO))),
        Strategy::Spawn => Some(size_of_val(&task(sleep))),
        Strategy::JoinSet | Strategy::Semaphore | Strategy::Threads => None,
    }
}
