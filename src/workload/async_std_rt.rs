//! async-std (legacy: discontinued upstream): its global executor, `task::spawn`, and
//! `JoinHandle::cancel` to release.

use std::future::Future;
use std::time::Duration;

use super::{
    CaseError, Exec, RunOptions, Spawners, payload_task, spawn_then_cancel, task, timed_task,
};
use crate::matrix::Strategy;

/// async-std's global runtime (started on first use).
pub(super) struct AsyncStd;

/// async-std's sleep (an `async fn`: its future type has no name).
pub(super) fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
    async_std::task::sleep(d)
}

impl AsyncStd {
    /// `task::spawn` N tasks, keep the handles, await (or cancel) them.
    pub(super) fn spawn(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        async_std::task::block_on(spawn_then_cancel(
            n,
            opts,
            at_peak,
            Spawners {
                plain: || async_std::task::spawn(task(sleep)),
                payload: |p| async_std::task::spawn(payload_task(p, sleep)),
                timed: || async_std::task::spawn(timed_task(sleep)),
            },
            async_std::task::JoinHandle::cancel,
        ));
        Ok(())
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
        Strategy::JoinAll | Strategy::Sequential | Strategy::FuturesUnordered => {
            Some(size_of_val(&sleep(Duration::ZERO)))
        }
        Strategy::Spawn => Some(size_of_val(&task(sleep))),
        Strategy::JoinSet | Strategy::Threads => None,
    }
}
