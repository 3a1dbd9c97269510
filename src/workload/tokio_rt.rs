//! tokio: current-thread and multi-thread runtimes, `tokio::spawn` and `JoinSet`.

use std::future::Future;

use super::{
    CaseError, Exec, Release, RunOptions, STARTED, Spawners, payload_task, task, timed_task,
};
use crate::matrix::Strategy;

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

    /// `tokio::spawn` N tasks, keep the handles, await (or abort) them.
    pub(super) fn spawn(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        self.0.block_on(async {
            STARTED.reset(n);
            let handles = Spawners {
                plain: || tokio::spawn(task(tokio::time::sleep)),
                payload: |p| tokio::spawn(payload_task(p, tokio::time::sleep)),
                timed: || tokio::spawn(timed_task(tokio::time::sleep)),
            }
            .spawn_all(n, opts);
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

    /// `JoinSet::spawn` N tasks; shut the set down (or join every task).
    pub(super) fn join_set(
        &self,
        n: usize,
        opts: &RunOptions,
        at_peak: &mut dyn FnMut(),
    ) -> Result<(), CaseError> {
        self.0.block_on(async {
            STARTED.reset(n);
            let mut set = tokio::task::JoinSet::new();
            let set_ref = &std::cell::RefCell::new(&mut set);
            let spawned = Spawners {
                plain: || drop(set_ref.borrow_mut().spawn(task(tokio::time::sleep))),
                payload: |p| {
                    drop(
                        set_ref
                            .borrow_mut()
                            .spawn(payload_task(p, tokio::time::sleep)),
                    )
                },
                timed: || drop(set_ref.borrow_mut().spawn(timed_task(tokio::time::sleep))),
            }
            .spawn_all(n, opts);
            drop(spawned);
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
        Strategy::JoinAll | Strategy::Sequential | Strategy::FuturesUnordered => {
            Some(size_of::<tokio::time::Sleep>())
        }
        Strategy::Spawn | Strategy::JoinSet => Some(size_of_val(&task(tokio::time::sleep))),
        Strategy::Threads => None,
    }
}
