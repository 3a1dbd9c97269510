//! OS threads: `std::thread::Builder::spawn` + join, each thread waiting on a condition
//! variable with the sleep's deadline, so that it can be woken right after the peak.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{CaseError, Release, RunOptions};

/// How long the main thread waits for all threads to start before calling the run failed.
const START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Default)]
struct State {
    arrived: usize,
    released: bool,
}

#[derive(Default)]
struct Gate {
    state: Mutex<State>,
    all_arrived: Condvar,
    release: Condvar,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A thread's body: report in, then wait until released or the deadline passes; with
    /// `lateness`, record how late it woke past the deadline (noted when the thread starts).
    fn wait(&self, target: usize, sleep: Duration, held: Vec<u8>, lateness: bool) {
        let deadline = Instant::now() + sleep;
        let mut state = self.lock();
        state.arrived += 1;
        if state.arrived == target {
            self.all_arrived.notify_one();
        }
        while !state.released {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .release
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let released = state.released;
        drop(state);
        if lateness && !released {
            super::record_lateness(deadline);
        }
        std::hint::black_box(&held);
    }

    fn release(&self) {
        self.lock().released = true;
        self.release.notify_all();
    }

    /// Waits until `target` threads have reported in; false on timeout.
    fn wait_arrived(&self, target: usize) -> bool {
        let state = self.lock();
        let (state, timeout) = self
            .all_arrived
            .wait_timeout_while(state, START_TIMEOUT, |s| s.arrived < target)
            .unwrap_or_else(|p| p.into_inner());
        !timeout.timed_out() || state.arrived >= target
    }
}

pub(super) fn run(n: usize, opts: &RunOptions, at_peak: &mut dyn FnMut()) -> Result<(), CaseError> {
    let gate = Arc::new(Gate::default());
    let mut handles = Vec::with_capacity(n);
    let (sleep, payload, lateness) = (opts.sleep, opts.payload, opts.lateness);
    for i in 0..n {
        let g = Arc::clone(&gate);
        // A payload is allocated here, not in the thread: a thread's first allocation would
        // also create its jemalloc cache, which is not the payload.
        let held = payload.map_or_else(Vec::new, |p| vec![1u8; p]);
        match std::thread::Builder::new().spawn(move || g.wait(n, sleep, held, lateness)) {
            Ok(h) => handles.push(h),
            Err(e) => {
                gate.release();
                handles.into_iter().for_each(|h| drop(h.join()));
                return Err(CaseError::Skipped(format!(
                    "the OS refused thread {} of {n}: {e}",
                    i + 1
                )));
            }
        }
    }
    let arrived = gate.wait_arrived(n);
    if arrived {
        at_peak();
    }
    if opts.release == Release::Cancel || !arrived {
        gate.release();
    }
    let mut panicked = 0;
    for h in handles {
        if h.join().is_err() {
            panicked += 1;
        }
    }
    if !arrived {
        return Err(CaseError::Failed(format!(
            "{n} threads did not all start within {START_TIMEOUT:?}"
        )));
    }
    if panicked > 0 {
        return Err(CaseError::Failed(format!("{panicked} threads panicked")));
    }
    Ok(())
}
