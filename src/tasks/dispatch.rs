//! Which runtime's strategies a run is compiled with. [`Any`] matches the built runtime and
//! runs its strategy, so a user's future can run anywhere; the suite's futures each belong to
//! one runtime and use [`OnTokio`], [`OnSmol`] or [`OnAsyncStd`], which compile that
//! runtime's strategies alone (a third of the code for each of the suite's ~45 task bodies).

use std::future::Future;

use super::guard::{FirstPoll, Watch};
use super::strategies::{self, AtPeak};
use super::{Executor, Strategy, Tasks};

/// A set of runtimes a run is compiled for.
pub(crate) trait On {
    /// Creates, holds and releases the tasks with their strategy on their runtime; false when
    /// it is not one of this set's runtimes, or not built (nothing ran).
    fn dispatch<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// Every runtime compiled into taskmem.
pub(crate) struct Any;

impl On for Any {
    #[allow(unused_variables)]
    fn dispatch<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Ok(executor) = tasks.executor() else {
            return false;
        };
        match *executor {
            #[cfg(feature = "tokio")]
            Executor::Tokio(_) => OnTokio::dispatch(tasks, make, at_peak),
            #[cfg(feature = "async-std")]
            Executor::AsyncStd(_) => OnAsyncStd::dispatch(tasks, make, at_peak),
            #[cfg(feature = "smol")]
            Executor::Smol(_) => OnSmol::dispatch(tasks, make, at_peak),
        }
    }
}

/// Runs an unspawned strategy (`join_all`, sequential, `FuturesUnordered`,
/// `buffer_unordered`) on `exec`; false for a spawning one.
#[allow(dead_code)]
fn unspawned<E: strategies::Exec, F, M>(
    tasks: &Tasks,
    exec: &E,
    make: &M,
    at_peak: AtPeak<'_>,
) -> bool
where
    M: Fn() -> F,
    F: Future,
{
    let (n, release) = (tasks.n, tasks.release);
    let watched = || Watch::new(make());
    match tasks.strategy {
        Strategy::JoinAll => strategies::join_all(exec, n, watched, release, at_peak),
        Strategy::Sequential => strategies::sequential(exec, n, watched, release, at_peak),
        Strategy::FuturesUnordered => {
            strategies::futures_unordered(exec, n, watched, release, at_peak)
        }
        Strategy::BufferUnordered(k) => {
            strategies::buffer_unordered(exec, n, k, watched, release, at_peak)
        }
        Strategy::Spawn | Strategy::JoinSet | Strategy::Semaphore(_) => return false,
    }
    true
}

/// tokio's runtimes only.
#[cfg(feature = "tokio")]
pub(crate) struct OnTokio;

#[cfg(feature = "tokio")]
impl On for OnTokio {
    fn dispatch<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        #[allow(irrefutable_let_patterns)]
        let Ok(Executor::Tokio(rt)) = tasks.executor() else {
            return false;
        };
        let (n, release) = (tasks.n, tasks.release);
        let spawned = || FirstPoll::new(make());
        match tasks.strategy {
            Strategy::Spawn => rt.spawn(n, release, at_peak, spawned),
            Strategy::JoinSet => rt.join_set(n, release, at_peak, spawned),
            Strategy::Semaphore(k) => rt.semaphore(n, k, release, at_peak, |permit| {
                FirstPoll::new(strategies::with_permit(make(), permit))
            }),
            _ => return unspawned(tasks, rt, make, at_peak),
        }
        true
    }
}

/// One of the async-io runtimes (async-std, smol): spawn and the semaphore on their own
/// executor, no `JoinSet`.
macro_rules! async_io_runtime {
    ($(#[$doc:meta])* $on:ident, $variant:ident, $feature:literal) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub(crate) struct $on;

        #[cfg(feature = $feature)]
        impl On for $on {
            fn dispatch<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
            where
                M: Fn() -> F,
                F: Future + Send + 'static,
                F::Output: Send + 'static,
            {
                #[allow(irrefutable_let_patterns)]
                let Ok(Executor::$variant(rt)) = tasks.executor() else {
                    return false;
                };
                let (n, release) = (tasks.n, tasks.release);
                match tasks.strategy {
                    Strategy::Spawn => rt.spawn(n, release, at_peak, || FirstPoll::new(make())),
                    Strategy::Semaphore(k) => rt.semaphore(n, k, release, at_peak, |permit| {
                        FirstPoll::new(strategies::with_permit(make(), permit))
                    }),
                    Strategy::JoinSet => return false,
                    _ => return unspawned(tasks, rt, make, at_peak),
                }
                true
            }
        }
    };
}

async_io_runtime!(
    /// async-std's executor only.
    OnAsyncStd,
    AsyncStd,
    "async-std"
);
async_io_runtime!(
    /// smol's executor only.
    OnSmol,
    Smol,
    "smol"
);
