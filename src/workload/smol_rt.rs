//! smol: `smol::spawn` on its global executor, `smol::block_on`, `Timer::after` for sleeps,
//! and `Task::cancel` to release.

use std::future::Future;

use super::{
    CaseError, Exec, RunOptions, Spawners, payload_task, spawn_then_cancel, task, timed_task,
};
use crate::matrix::Strategy;

/// smol's global executor (its threads start on first use; `SMOL_THREADS`, default 1).
pub(super) struct Smol;

impl Smol {
    /// `smol::spawn` N tasks, keep the `Task`s, await (or cancel) them.
    pub(super) fn spawn(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        smol::block_on(spawn_then_cancel(
            n,
            opts,
            at_peak,
            Spawners {
                plain: || smol::spawn(task(smol::Timer::after)),
                payload: |p| smol::spawn(payload_task(p, smol::Timer::after)),
                timed: || smol::spawn(timed_task(smol::Timer::after)),
            },
            smol::Task::cancel,
        ));
        Ok(())
    }
}

impl Exec for Smol {
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        smol::block_on(f)
    }

    fn unconstrained<F: Future>(f: F) -> impl Future<Output = F::Output> {
        f
    }
}

/// `size_of` of one task's future.
pub(super) fn future_size(strategy: Strategy) -> Option<usize> {
    match strategy {
        Strategy::JoinAll | Strategy::Sequential | Strategy::FuturesUnordered => {
            Some(size_of::<smol::Timer>())
        }
        Strategy::Spawn => Some(size_of_val(&task(smol::Timer::after))),
        Strategy::JoinSet | Strategy::Threads => None,
    }
}
