//! smol: `smol::spawn` on its global executor, `smol::block_on`, `Timer::after` for sleeps,
//! and `Task::cancel` to release.

use std::future::Future;

use super::{CaseError, Exec, RunOptions, Spawner, spawn_then_cancel, task};
use crate::matrix::{Case, Strategy};

/// smol's global executor (its threads start on first use; `SMOL_THREADS`, default 1).
pub(super) struct Smol;

impl Smol {
    /// `smol::spawn` N tasks from `make`, keep the `Task`s, await (or cancel) them.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
        make: impl Fn() -> F,
    ) -> Result<(), CaseError> {
        smol::block_on(spawn_then_cancel(
            n,
            opts,
            at_peak,
            || smol::spawn(make()),
            smol::Task::cancel,
        ));
        Ok(())
    }
}

impl Spawner for Smol {
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
                smol::block_on(super::bounded::semaphore_spawn(
                    case.n,
                    k,
                    opts,
                    at_peak,
                    |permit| smol::spawn(super::bounded::with_permit(make(), permit)),
                    smol::Task::cancel,
                ));
                Ok(())
            }
            (s, _) => Err(CaseError::Failed(format!(
                "{s} is not a smol spawning strategy"
            ))),
        }
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
        Strategy::JoinAll
        | Strategy::Sequential
        | Strategy::FuturesUnordered
        | Strategy::BufferUnordered => Some(size_of::<smol::Timer>()),
        Strategy::Spawn => Some(size_of_val(&task(smol::Timer::after))),
        Strategy::JoinSet | Strategy::Semaphore | Strategy::Threads => None,
    }
}
