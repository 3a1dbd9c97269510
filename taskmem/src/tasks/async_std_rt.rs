//! async-std (legacy: discontinued upstream, kept because the published comparisons measure
//! it): `async_std::task::spawn` on its global executor, its own `block_on`, and
//! `JoinHandle::cancel` to release.

use std::future::Future;

use super::Release;
use super::strategies::{AtPeak, Exec, semaphore_spawn, spawn_then_cancel};

/// async-std's global executor.
pub(super) struct AsyncStd;

/// Starts cancelling a task: the first poll of `JoinHandle::cancel` marks it cancelled and
/// schedules it; dropping the rest of that future detaches it, and the executor drops the
/// task's future when it runs it (a dropped async-std `JoinHandle` only detaches).
fn start_cancel<T>(handle: async_std::task::JoinHandle<T>) {
    let cancel = std::pin::pin!(handle.cancel());
    let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    let _ = cancel.poll(&mut cx);
}

impl AsyncStd {
    /// `async_std::task::spawn` N tasks from `make`, keep the handles, await (or cancel) them.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        n: usize,
        release: Release,
        at_peak: AtPeak<'_>,
        make: impl Fn() -> F,
    ) {
        async_std::task::block_on(spawn_then_cancel(
            n,
            release,
            at_peak,
            || async_std::task::spawn(make()),
            start_cancel,
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
        async_std::task::block_on(semaphore_spawn(
            n,
            k,
            release,
            at_peak,
            |permit| async_std::task::spawn(make(permit)),
            start_cancel,
        ));
    }

    /// async-io's cancelled timers are drained when its reactor next wakes: a 1 ms sleep
    /// wakes it now (see `smol_rt::Smol::flush_timers`).
    pub(super) fn flush_timers(&self) {
        async_std::task::block_on(async_std::task::sleep(std::time::Duration::from_millis(1)));
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
