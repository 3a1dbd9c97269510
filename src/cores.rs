//! How long a cache line takes to go from one CPU to another and back: the time benches
//! read it around each sample, because it is not a constant of the machine.
//!
//! [`round_trip`] pins two threads to the first two CPUs this thread may run on and passes
//! one cache line between them (each waits for the other's write, then writes), as a
//! contended atomic or lock passes between two of a runtime's workers. On a virtual machine
//! the figure is the host's placement of the two vCPUs, and the host changes it while a bench
//! runs: on the 2-vCPU machine this was built on it read 50-80 ns, or about 330 ns for
//! stretches of seconds, and a `tokio-mt/joinset/1000000` run that fell in the slow stretches
//! took 1.6-1.8x as long (contended locks and reference counts pass a line per task between
//! its workers). A time compared with a floor measured in another process means something
//! only if both read the same round trip.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Round trips per batch; the figure is the median of [`BATCHES`] batches' means.
const ROUND_TRIPS: u64 = 2_000;
const BATCHES: usize = 5;
/// A batch slower than this (a CPU that never runs the other thread) ends the reading.
const GIVE_UP: Duration = Duration::from_millis(500);

/// The line itself, alone in its cache line.
#[repr(align(128))]
struct Line(AtomicU64);

/// One cache line's round trip between the first two CPUs the calling thread may run on,
/// in nanoseconds (median of five batches of 2,000 round trips, after a warm-up batch; a
/// few milliseconds). An error, in one line, when it cannot be measured: fewer than two
/// allowed CPUs, an affinity the OS refuses, or a batch that does not finish within 500 ms.
pub fn round_trip() -> Result<f64, String> {
    let cpus = allowed_cpus()?;
    let [a, b] = match cpus[..] {
        [a, b, ..] => [a, b],
        _ => {
            return Err(format!(
                "not measured: this process may run on {} CPU only, and a round trip needs two",
                cpus.len()
            ));
        }
    };
    let line = Line(AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let echo = s.spawn(|| -> Result<(), String> {
            pin(b)?;
            // Answers each odd value with the next even one until told to stop.
            while !stop.load(Ordering::Relaxed) {
                let v = line.0.load(Ordering::Acquire);
                if v % 2 == 1 {
                    line.0.store(v + 1, Ordering::Release);
                }
                std::hint::spin_loop();
            }
            Ok(())
        });
        // Its own thread too: pinning the caller would keep it on one CPU for good.
        let timer = s.spawn(|| {
            pin(a).and_then(|()| {
                let mut means = Vec::with_capacity(BATCHES);
                for batch in 0..=BATCHES {
                    let start = Instant::now();
                    for _ in 0..ROUND_TRIPS {
                        let sent = line.0.load(Ordering::Relaxed) + 1;
                        line.0.store(sent, Ordering::Release);
                        let mut spins = 0u32;
                        while line.0.load(Ordering::Acquire) == sent {
                            spins = spins.wrapping_add(1);
                            // The clock is read rarely, so that it does not add to the trip.
                            if spins % 4096 == 0 && start.elapsed() > GIVE_UP {
                                return Err(format!(
                                    "not measured: CPU {b} did not answer within {GIVE_UP:?}"
                                ));
                            }
                            std::hint::spin_loop();
                        }
                    }
                    // Batch 0 is the warm-up.
                    if batch > 0 {
                        means.push(start.elapsed().as_secs_f64() * 1e9 / ROUND_TRIPS as f64);
                    }
                }
                means.sort_by(f64::total_cmp);
                Ok(means[BATCHES / 2])
            })
        });
        let timed = timer
            .join()
            .unwrap_or_else(|_| Err("not measured: the timing thread panicked".to_string()));
        stop.store(true, Ordering::Relaxed);
        match echo.join() {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => timed,
            Err(_) => Err("not measured: the echoing thread panicked".to_string()),
        }
    })
}

/// The CPUs the calling thread may run on, in order.
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

/// The lowest and highest reading, if any.
pub fn bounds(readings: &[f64]) -> Option<(f64, f64)> {
    let lo = readings.iter().copied().reduce(f64::min)?;
    let hi = readings.iter().copied().reduce(f64::max)?;
    Some((lo, hi))
}

/// Whether the readings are more than 2x apart: taken in two states of the machine.
pub fn moved(readings: &[f64]) -> bool {
    bounds(readings).is_some_and(|(lo, hi)| hi > 2.0 * lo)
}

/// Readings as a span: `52-330 ns`, `71 ns`, or `-` for none.
pub fn span(readings: &[f64]) -> String {
    match bounds(readings) {
        None => "-".to_string(),
        Some((lo, hi)) if hi.round() == lo.round() => format!("{lo:.0} ns"),
        Some((lo, hi)) => format!("{lo:.0}-{hi:.0} ns"),
    }
}

/// The readings that were taken; the reason for a missing one goes to stderr once per
/// process (it is the same for every case).
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
        let reading = round_trip();
        if cpus.len() < 2 {
            let e = reading.expect_err("one CPU cannot give a round trip");
            assert!(e.contains("needs two"), "{e}");
            return;
        }
        let ns = reading.expect("two CPUs give a round trip");
        // A cache line between two cores: tens to hundreds of ns, never a context switch's
        // microseconds (the two threads spin on their own CPUs) or a fraction of a ns.
        assert!((5.0..20_000.0).contains(&ns), "{ns} ns");
    }

    #[test]
    fn one_cpu_is_named_as_the_reason_there_is_no_figure() {
        let cpus = allowed_cpus().expect("the thread's CPUs");
        let reading = std::thread::spawn(move || {
            pin(cpus[0]).expect("a thread may keep to one of its own CPUs");
            round_trip()
        })
        .join()
        .expect("no panic");
        let e = reading.expect_err("one CPU cannot give a round trip");
        assert_eq!(
            e,
            "not measured: this process may run on 1 CPU only, and a round trip needs two"
        );
    }

    #[test]
    fn readings_show_as_a_span() {
        assert_eq!(span(&[]), "-");
        assert_eq!(span(&[71.2, 70.9]), "71 ns");
        assert_eq!(span(&[330.4, 52.0]), "52-330 ns");
        assert!(moved(&[61.0, 63.0, 130.0]));
        assert!(!moved(&[61.0, 63.0, 120.0]));
        assert!(!moved(&[]));
        let kept = readings([Ok(52.0), Err("not measured: why".into())]);
        assert_eq!(kept, vec![52.0]);
    }
}
