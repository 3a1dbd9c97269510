//! Which runtime's strategies a run is compiled with. [`Any`] matches the built runtime and
//! runs its strategy, so a user's future can run anywhere; the suite's futures each belong to
//! one runtime and to one half of the strategies (spawned or polled), and use
//! [`Spawned`] or [`Polled`] of [`Tokio`], [`Smol`] or [`AsyncStd`], which compile that
//! runtime's half alone: each of the suite's task bodies compiles a sixth of the strategy
//! code that [`Any`] would.

use std::future::Future;
use std::marker::PhantomData;

use super::guard::{FirstPoll, Watch};
use super::strategies::{self, AtPeak};
use super::{Executor, Strategy, Tasks};

/// A set of runtimes a run is compiled for: [`Any`], or one runtime's drivers, whole or one
/// half. Sealed: implemented by the types of [`taskmem::on`](crate::on) alone.
pub trait On: Dispatch {}

impl<T: Dispatch> On for T {}

/// How an [`On`] runs the tasks (the sealed half of [`On`]; not nameable outside taskmem).
pub trait Dispatch {
    /// Creates, holds and releases the tasks with their strategy on their runtime; false when
    /// it is not one of this set's runtimes, or not built (nothing ran).
    fn dispatch<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// A set of runtimes' strategies in two halves: those that spawn each task (spawn, `JoinSet`,
/// the semaphore) and those that poll them all from one future (`join_all`, sequential,
/// `FuturesUnordered`, `buffer_unordered`). A future made for one half alone compiles that
/// half alone ([`Spawned`], [`Polled`]): the suite's task bodies each belong to one.
pub trait Halves {
    /// Runs a spawning strategy; false for another strategy or runtime.
    fn spawned<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Runs an unspawned strategy; false for another strategy or runtime.
    fn polled<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

impl<H: Halves> Dispatch for H {
    fn dispatch<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if tasks.strategy.spawns() {
            H::spawned(tasks, make, at_peak)
        } else {
            H::polled(tasks, make, at_peak)
        }
    }
}

/// The spawning strategies of `H` alone (`Strategy::Spawn`, `JoinSet`, `Semaphore`): a
/// future that only ever runs spawned compiles no unspawned strategy.
pub struct Spawned<H>(PhantomData<H>);

impl<H: Halves> Halves for Spawned<H> {
    fn spawned<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        H::spawned(tasks, make, at_peak)
    }

    fn polled<F, M>(_: &Tasks, _: &M, _: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        false
    }
}

/// The unspawned strategies of `H` alone (`JoinAll`, `Sequential`, `FuturesUnordered`,
/// `BufferUnordered`): a future that is never spawned compiles no spawning strategy.
pub struct Polled<H>(PhantomData<H>);

impl<H: Halves> Halves for Polled<H> {
    fn spawned<F, M>(_: &Tasks, _: &M, _: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        false
    }

    fn polled<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        H::polled(tasks, make, at_peak)
    }
}

/// Every runtime compiled into taskmem, every strategy: what [`Tasks::measure`] and the
/// other methods without `_on` compile.
pub struct Any;

/// `Any`'s halves: the built runtime's.
macro_rules! any_half {
    ($half:ident) => {
        #[allow(unused_variables)]
        fn $half<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
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
                Executor::Tokio(_) => Tokio::$half(tasks, make, at_peak),
                #[cfg(feature = "async-std")]
                Executor::AsyncStd(_) => AsyncStd::$half(tasks, make, at_peak),
                #[cfg(feature = "smol")]
                Executor::Smol(_) => Smol::$half(tasks, make, at_peak),
            }
        }
    };
}

impl Halves for Any {
    any_half!(spawned);
    any_half!(polled);
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
pub struct Tokio;

#[cfg(feature = "tokio")]
impl Halves for Tokio {
    fn spawned<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
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
            _ => return false,
        }
        true
    }

    fn polled<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
    where
        M: Fn() -> F,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        #[allow(irrefutable_let_patterns)]
        let Ok(Executor::Tokio(rt)) = tasks.executor() else {
            return false;
        };
        unspawned(tasks, rt, make, at_peak)
    }
}

/// One of the async-io runtimes (async-std, smol): spawn and the semaphore on their own
/// executor, no `JoinSet`.
macro_rules! async_io_runtime {
    ($(#[$doc:meta])* $on:ident, $variant:ident, $feature:literal) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub struct $on;

        #[cfg(feature = $feature)]
        impl Halves for $on {
            fn spawned<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
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
                    _ => return false,
                }
                true
            }

            fn polled<F, M>(tasks: &Tasks, make: &M, at_peak: AtPeak<'_>) -> bool
            where
                M: Fn() -> F,
                F: Future + Send + 'static,
                F::Output: Send + 'static,
            {
                #[allow(irrefutable_let_patterns)]
                let Ok(Executor::$variant(rt)) = tasks.executor() else {
                    return false;
                };
                unspawned(tasks, rt, make, at_peak)
            }
        }
    };
}

async_io_runtime!(
    /// async-std's executor only.
    AsyncStd,
    AsyncStd,
    "async-std"
);
async_io_runtime!(
    /// smol's executor only.
    Smol,
    Smol,
    "smol"
);
