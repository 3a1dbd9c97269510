//! smol: `smol::spawn` on its global executor, `smol::block_on`, and `Task::cancel` to
//! release.

use std::future::Future;

use super::Release;
use super::strategies::{AtPeak, Exec, semaphore_spawn, spawn_then_cancel};

/// smol's global executor (its threads start on first use; `SMOL_THREADS`, default 1).
pub(super) struct Smol;

impl Smol {
    /// `smol::spawn` N tasks from `make`, keep the `Task`s, await (or cancel) them.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        release: Release,
        at_peak: AtPeak<'_>,
        make: impl Fn() -> F,
    ) {
        smol::block_on(spawn_then_cancel(
            n,
            release,
            at_peak,
            || smol::spawn(make()),
            drop,
        ));
    }

    /// N tasks through an async-lock semaphore of `k` permits.
    pub(super) fn semaphore<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        k: usize,
        release: Release,
        at_peak: AtPeak<'_>,
        make: impl Fn(async_lock::SemaphoreGuardArc) -> F,
    ) {
        smol::block_on(semaphore_spawn(
            n,
            k,
            release,
            at_peak,
            |permit| smol::spawn(make(permit)),
            drop,
        ));
    }

    /// async-io drops cancelled timers through a queue that its reactor drains only when it
    /// next wakes; a 1 ms timer makes it drain now, so the next run does not start with the
    /// last run's timers (and their tasks) still alive.
    pub(super) fn flush_timers(&self) {
        let _woke = smol::block_on(smol::Timer::after(std::time::Duration::from_millis(1)));
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
