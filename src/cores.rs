//! How long a cache line takes to go from one CPU to another and back: the time benches
//! read it around their samples, because it is not a constant of the machine.
//!
//! [`round_trip`] pins two threads of its own to the first two CPUs the calling thread may
//! run on and passes one cache line between them (each waits for the other's write, then
//! writes), as a contended atomic or lock passes between two of a runtime's workers. On a
//! virtual machine the figure is the host's placement of the vCPUs, which can change while a
//! bench runs, and cases whose threads pass lines per task (tokio's multi-thread runtime)
//! slow down with it: see "How long a run takes" in `docs/methodology.md` for the figures
//! on the machine taskmem was built on. A time compared with a floor measured in another
//! process means something only if both were taken at the same round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use taskmem::summary::Stats;

/// Round trips per batch.
const ROUND_TRIPS: u64 = 2_000;
/// Batches after the warm-up batch; the reading is the median of their means.
const BATCHES: usize = 5;
/// A reading that takes longer (a CPU that seldom runs one of the two threads: a busy or
/// throttled machine) is given up; a normal one takes well under 10 ms.
const GIVE_UP: Duration = Duration::from_millis(200);
/// How long the caller waits for the reading's threads at most.
const WAIT: Duration = Duration::from_secs(2);

/// What the two threads share: the line, alone in its cache line, and two flags.
#[repr(align(128))]
struct Shared {
    line: AtomicU64,
    stop: AtomicBool,
    echo_gone: AtomicBool,
}

/// One cache line's round trip between the first two CPUs the calling thread may run on,
/// in nanoseconds: the median of `BATCHES` (5) batches of `ROUND_TRIPS` (2,000) round trips,
/// after a warm-up batch, in two threads of its own (the caller's CPUs are left as they
/// were). An error, in one line, when it cannot be measured: fewer than two allowed CPUs, a
/// thread the OS will not start or pin, or a reading longer than `GIVE_UP` (200 ms). It
/// returns within `WAIT` (2 s) whatever the threads do.
pub fn round_trip() -> Result<f64, String> {
    let cpus = allowed_cpus()?;
    let [a, b] = match cpus[..] {
        [a, b, ..] => [a, b],
        _ => {
            return Err(format!(
                "not measured: this thread may run on {} CPU only, and a round trip needs two",
                cpus.len()
            ));
        }
    };
    let shared = Arc::new(Shared {
        line: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        echo_gone: AtomicBool::new(false),
    });
    let (tx, rx) = mpsc::channel();
    let echo = {
        let (shared, tx) = (Arc::clone(&shared), tx.clone());
        std::thread::Builder::new()
            .name("taskmem-cores".into())
            .spawn(move || {
                if let Err(e) = pin(b) {
                    shared.echo_gone.store(true, Ordering::Release);
                    let _ = tx.send(Err(e));
                    return;
                }
                // Answers each odd value with the next even one until told to stop.
                while !shared.stop.load(Ordering::Relaxed) {
                    let v = shared.line.load(Ordering::Acquire);
                    if v % 2 == 1 {
                        shared.line.store(v + 1, Ordering::Release);
                    }
                    std::hint::spin_loop();
                }
            })
            .map_err(|e| format!("not measured: cannot start a thread: {e}"))?
    };
    let timer = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("taskmem-cores".into())
            .spawn(move || {
                let reading = pin(a).and_then(|()| time(&shared, [a, b]));
                let _ = tx.send(reading);
            })
    };
    let reading = match timer {
        Ok(_) => rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| Err(format!("not measured: no reading within {WAIT:?}"))),
        Err(e) => Err(format!("not measured: cannot start a thread: {e}")),
    };
    shared.stop.store(true, Ordering::Relaxed);
    // After a reading the echoing thread is running and ends at once; after an error it may
    // not be scheduled soon, and is left to end on its own.
    if reading.is_ok() {
        let _ = echo.join();
    }
    reading
}

/// The timing thread's part, on CPU `cpus[0]`, against the echo on `cpus[1]`.
fn time(shared: &Shared, cpus: [usize; 2]) -> Result<f64, String> {
    let start = Instant::now();
    let mut means = [0.0; BATCHES];
    for batch in 0..=BATCHES {
        let batch_start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            let sent = shared.line.load(Ordering::Relaxed) + 1;
            shared.line.store(sent, Ordering::Release);
            let mut spins = 0u32;
            while shared.line.load(Ordering::Acquire) == sent {
                spins = spins.wrapping_add(1);
                // The clock and the flag are read rarely, so that they do not add to the trip.
                if spins % 4096 == 0 {
                    if shared.echo_gone.load(Ordering::Acquire) {
                        return Err("not measured: the echoing thread did not start".into());
                    }
                    if start.elapsed() > GIVE_UP {
                        return Err(format!(
                            "not measured: CPUs {} and {} did not pass the line {} times \
                             within {GIVE_UP:?} (a busy or throttled machine)",
                            cpus[0],
                            cpus[1],
                            (BATCHES as u64 + 1) * ROUND_TRIPS
                        ));
                    }
                }
                std::hint::spin_loop();
            }
        }
        // Batch 0 is the warm-up.
        if batch > 0 {
            means[batch - 1] = batch_start.elapsed().as_secs_f64() * 1e9 / ROUND_TRIPS as f64;
        }
    }
    means.sort_by(f64::total_cmp);
    Ok(means[BATCHES / 2])
}

/// The CPUs the calling thread may run on, in order.
#[cfg(target_os = "linux")]
fn allowed_cpus() -> Result<Vec<usize>, String> {
    // SAFETY: a zeroed cpu_set_t is an empty set, and sched_getaffinity writes at most its
    // size.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(format!(
                "not measured: cannot read this thread's CPUs: {}",
                std::io::Error::last_os_error()
            ));
        }
        set
    };
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Keeps the calling thread on `cpu`.
#[cfg(target_os = "linux")]
fn pin(cpu: usize) -> Result<(), String> {
    // SAFETY: as in `allowed_cpus`; CPU_SET is given a CPU below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "not measured: cannot keep a thread on CPU {cpu}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> Result<Vec<usize>, String> {
    Err("not measured: pinning threads to CPUs is implemented for Linux only".into())
}

#[cfg(not(target_os = "linux"))]
fn pin(_cpu: usize) -> Result<(), String> {
    Err("not measured: pinning threads to CPUs is implemented for Linux only".into())
}

/// Whether two sets of readings were taken in two states of the machine: their medians
/// more than 2x apart. `false` when either has none.
pub fn apart(one: &[f64], other: &[f64]) -> bool {
    if one.is_empty() || other.is_empty() {
        return false;
    }
    let (x, y) = (Stats::of(one).median, Stats::of(other).median);
    x.max(y) > 2.0 * x.min(y)
}

/// Readings as a span: `52-330 ns`, `71 ns`, or `-` for none.
pub fn span(readings: &[f64]) -> String {
    if readings.is_empty() {
        return "-".to_string();
    }
    let Stats { min, max, .. } = Stats::of(readings);
    if max.round() == min.round() {
        format!("{min:.0} ns")
    } else {
        format!("{min:.0}-{max:.0} ns")
    }
}

/// The readings that were taken. Why one was not goes to stderr, once per process: the
/// usual reasons (one CPU, no pinning) hold for every reading, and a bench should not
/// repeat a line per sample.
pub fn readings(taken: impl IntoIterator<Item = Result<f64, String>>) -> Vec<f64> {
    static SAID: std::sync::Once = std::sync::Once::new();
    taken
        .into_iter()
        .filter_map(|r| {
            r.map_err(|e| SAID.call_once(|| eprintln!("taskmem: the cores' round trip is {e}")))
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_is_read_between_two_cpus() {
        let cpus = allowed_cpus().expect("the thread's CPUs");
        if cpus.len() < 2 {
            let e = round_trip().expect_err("one CPU cannot give a round trip");
            assert!(e.contains("needs two"), "{e}");
            return;
        }
        // Other tests run beside this one and can keep a CPU busy past the give-up: a few
        // tries, and every reason kept for the failure message.
        let mut why = Vec::new();
        for _ in 0..5 {
            match round_trip() {
                Ok(ns) => {
                    // A cache line between two cores: tens to hundreds of ns. Never below a
                    // ns, and never as slow as a give-up spread over every trip.
                    let most = GIVE_UP.as_nanos() as f64 / ROUND_TRIPS as f64;
                    assert!(ns > 1.0 && ns < most, "{ns} ns");
                    return;
                }
                Err(e) => why.push(e),
            }
        }
        panic!("no reading in five tries: {why:?}");
    }

    #[test]
    fn one_cpu_is_named_as_the_reason_there_is_no_figure() {
        let cpus = allowed_cpus().expect("the thread's CPUs");
        let started = Instant::now();
        let reading = std::thread::spawn(move || {
            pin(cpus[0]).expect("a thread may keep to one of its own CPUs");
            round_trip()
        })
        .join()
        .expect("no panic");
        let e = reading.expect_err("one CPU cannot give a round trip");
        assert_eq!(
            e,
            "not measured: this thread may run on 1 CPU only, and a round trip needs two"
        );
        assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
    }

    #[test]
    fn readings_show_as_a_span_and_states_compare_by_median() {
        assert_eq!(span(&[]), "-");
        assert_eq!(span(&[71.2, 70.9]), "71 ns");
        assert_eq!(span(&[330.4, 52.0]), "52-330 ns");
        // One slow reading among the case's does not make it another state; a median does.
        assert!(!apart(&[61.0, 63.0], &[60.0, 62.0, 64.0, 330.0]));
        assert!(apart(&[61.0, 63.0], &[60.0, 330.0, 334.0]));
        assert!(apart(&[330.0], &[61.0]));
        assert!(!apart(&[], &[61.0]));
        let kept = readings([Ok(52.0), Err("not measured: why".into())]);
        assert_eq!(kept, vec![52.0]);
    }
}
