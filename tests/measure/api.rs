//! The public API as a user's bench sees it: accuracy of `Tasks` on the user's own futures,
//! the `Memory` measurement around plain routines, and misuse turned into one-line errors.
//!
//! Accuracy: a future that holds a 3000-byte array across its await, and one that holds a
//! 3000-byte `Vec`, each beside the same future without it, on tokio and smol. The exact
//! allocated bytes per task (slope over two N) must grow by the futures' `size_of_val`
//! difference (the array) or by the `Vec`'s 3000 bytes plus it, within the runtime's task
//! cell rounding; resident bytes within jemalloc's size-class rounding.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use taskmem::{Error, Memory, Metric, Runtime, Sample, Strategy, Tasks};

use crate::serial;

const HELD: usize = 3000;
const SLEEP: Duration = Duration::from_secs(10);
const SMALL: usize = 1_000;
const LARGE: usize = 5_000;

/// The median of five runs' sample, by the requested bytes.
fn median_run<F, M>(tasks: &Tasks, make: M) -> Sample
where
    M: Fn() -> F,
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tasks.measure(&make).expect("warm-up run");
    let mut runs: Vec<Sample> = (0..5).map(|_| tasks.measure(&make).expect("run")).collect();
    runs.sort_by_key(|s| s.requested);
    runs[2]
}

/// Bytes per task between SMALL and LARGE tasks: (allocated, resident), and the future size.
fn per_task<F, M>(tasks: &Tasks, make: M) -> (f64, f64, usize)
where
    M: Fn() -> F + Copy,
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let small = tasks.with_n(SMALL);
    let large = tasks.with_n(LARGE);
    let a = median_run(&small, make);
    let b = median_run(&large, make);
    let n = (LARGE - SMALL) as f64;
    (
        (b.requested - a.requested) as f64 / n,
        (b.resident - a.resident) as f64 / n,
        large.future_size().expect("a run records its future size"),
    )
}

/// Checks both planted kinds against the plain future on one runtime and strategy; `cell` is
/// how far the runtime rounds a task's allocation (tokio aligns its task cells to 128 B).
fn check_accuracy(runtime: Runtime, strategy: Strategy, sleep: fn(Duration) -> Sleep, cell: f64) {
    let _serial = serial();
    let tasks = Tasks::new(runtime, strategy, SMALL);
    let plain = per_task(&tasks, move || {
        let s = sleep(SLEEP);
        async move {
            s.await;
        }
    });
    let array = per_task(&tasks, move || {
        let s = sleep(SLEEP);
        async move {
            let held = [7u8; HELD];
            s.await;
            black_box(&held);
        }
    });
    let vec = per_task(&tasks, move || {
        let s = sleep(SLEEP);
        async move {
            let held = vec![7u8; HELD];
            s.await;
            black_box(&held);
        }
    });
    let label = format!("{runtime}/{strategy}");
    // The array is inside the future: allocated grows by the future's growth.
    let grown = (array.2 - plain.2) as f64;
    assert!(
        grown >= HELD as f64,
        "{label}: array future grew by {grown}"
    );
    let found = array.0 - plain.0;
    assert!(
        (found - grown).abs() <= cell,
        "{label}: array: allocated per task grew by {found:.1} B, the future by {grown} B"
    );
    // The Vec is a separate allocation of HELD bytes; its 24-byte header is in the future.
    let grown = (vec.2 - plain.2) as f64 + HELD as f64;
    let found = vec.0 - plain.0;
    assert!(
        (found - grown).abs() <= cell,
        "{label}: vec: allocated per task grew by {found:.1} B, expected {grown} B"
    );
    // Resident: the same bytes in jemalloc's size classes (3000 B is in the 3072 class; the
    // spacing there is 512 B) and whole pages.
    let found = vec.1 - plain.1;
    let class = taskmem::alloc::size_class(HELD, 1) as f64;
    assert!(
        found >= HELD as f64 && (found - grown - (class - HELD as f64)).abs() <= cell + 512.0,
        "{label}: vec: resident per task grew by {found:.1} B, expected about {grown} + {} B",
        class - HELD as f64
    );
    println!(
        "{label}: plain {:.1} B/task (future {}), array +{:.1} (future +{}), vec +{:.1} allocated / +{:.1} resident",
        plain.0,
        plain.2,
        array.0 - plain.0,
        array.2 - plain.2,
        vec.0 - plain.0,
        vec.1 - plain.1
    );
}

/// One sleep type for every runtime under test: a boxed sleep keeps the futures' shapes the
/// same whatever the runtime.
type Sleep = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn tokio_sleep(d: Duration) -> Sleep {
    Box::pin(tokio::time::sleep(d))
}

fn smol_sleep(d: Duration) -> Sleep {
    Box::pin(async move {
        smol::Timer::after(d).await;
    })
}

#[test]
fn planted_bytes_are_found_on_tokio_spawn() {
    check_accuracy(
        Runtime::TokioMultiThread,
        Strategy::Spawn,
        tokio_sleep,
        128.0,
    );
}

#[test]
fn planted_bytes_are_found_on_tokio_join_all() {
    check_accuracy(
        Runtime::TokioCurrentThread,
        Strategy::JoinAll,
        tokio_sleep,
        16.0,
    );
}

#[test]
fn planted_bytes_are_found_on_smol_spawn() {
    check_accuracy(Runtime::Smol, Strategy::Spawn, smol_sleep, 16.0);
}

#[test]
fn a_future_that_completes_before_the_peak_is_an_error() {
    let _serial = serial();
    for strategy in [Strategy::JoinAll, Strategy::Spawn] {
        let tasks = Tasks::new(Runtime::TokioMultiThread, strategy, 100);
        let e = tasks.measure(|| async {}).unwrap_err();
        assert!(
            matches!(e, Error::CompletedEarly { count: 100, n: 100 }),
            "{strategy}: {e}"
        );
        assert!(e.to_string().contains("must stay pending"), "{e}");
    }
}

#[test]
fn a_panicking_future_is_an_error_with_its_message() {
    let _serial = serial();
    for (runtime, strategy) in [
        (Runtime::TokioMultiThread, Strategy::Spawn),
        (Runtime::TokioCurrentThread, Strategy::JoinAll),
        (Runtime::Smol, Strategy::Spawn),
    ] {
        let tasks = Tasks::new(runtime, strategy, 50);
        let e = tasks
            .measure(|| async {
                if black_box(true) {
                    panic!("the handler broke");
                }
                tokio::time::sleep(SLEEP).await;
            })
            .unwrap_err();
        assert_eq!(
            e,
            Error::Panicked("the handler broke".into()),
            "{runtime}/{strategy}"
        );
        // The runtime is still usable afterwards.
        tasks
            .measure(|| async_io_free_sleep(runtime))
            .unwrap_or_else(|e| panic!("{runtime}/{strategy} after a panic: {e}"));
    }
}

/// A sleep for `runtime` that is not tied to a reactor of the wrong runtime.
fn async_io_free_sleep(runtime: Runtime) -> Sleep {
    match runtime {
        Runtime::Smol => smol_sleep(SLEEP),
        _ => tokio_sleep(SLEEP),
    }
}

#[test]
fn a_tokio_future_on_smol_is_a_panic_not_a_crash() {
    let _serial = serial();
    // tokio's sleep outside a tokio runtime panics when it is created: the run ends with
    // that message instead of a backtrace.
    let tasks = Tasks::new(Runtime::Smol, Strategy::Spawn, 10);
    let e = tasks.measure(|| tokio::time::sleep(SLEEP)).unwrap_err();
    let Error::Panicked(message) = e else {
        panic!("expected a panic, got {e}");
    };
    assert!(
        message.contains("reactor") || message.contains("runtime"),
        "{message}"
    );
}

#[test]
fn spawned_tasks_that_are_not_polled_in_time_are_an_error() {
    let _serial = serial();
    // The first task blocks the only thread of a current-thread runtime past the deadline:
    // the others are not polled by then.
    static BLOCK: AtomicBool = AtomicBool::new(true);
    BLOCK.store(true, Ordering::SeqCst);
    let tasks = Tasks::new(Runtime::TokioCurrentThread, Strategy::Spawn, 500)
        .timeout(Duration::from_millis(400));
    let e = tasks
        .measure(|| async {
            if BLOCK.swap(false, Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(600));
            }
            tokio::time::sleep(SLEEP).await;
        })
        .unwrap_err();
    match e {
        Error::NotPolled { polled, n, .. } => {
            assert!(polled < n, "{e}");
            assert_eq!(n, 500);
        }
        other => panic!("expected NotPolled, got {other}"),
    }
}

#[test]
fn joinset_on_smol_is_unsupported() {
    let _serial = serial();
    let e = Tasks::new(Runtime::Smol, Strategy::JoinSet, 10)
        .measure(|| smol_sleep(SLEEP))
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
}

/// The samples kept for the summary are the ones Criterion analysed, however their number is
/// set: in code here (`sample_size(12)`), where `group` read only `--sample-size N` from argv
/// and kept the last 10 calls, one of them a warm-up call or two real samples dropped.
#[test]
fn the_kept_samples_are_criterions_whatever_sets_their_number() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("taskmem-samples-{}", std::process::id()));
    let tasks = Tasks::new(Runtime::TokioCurrentThread, Strategy::JoinAll, 100);
    for n in [12, 15] {
        // Plots off, and one directory per run: Criterion 0.8.2's KDE and t-test panic on
        // samples that are all equal.
        let mut c = taskmem::criterion()
            .sample_size(n)
            .without_plots()
            .output_directory(&dir.join(n.to_string()));
        c.bench_function("samples", |b| tasks.bench(b, || tokio::time::sleep(SLEEP)));
        let calls = tasks.take_calls();
        let all = calls.len();
        let samples = calls.into_samples();
        assert_eq!(samples.len(), n, "{all} calls in all");
        assert!(all > n, "no warm-up call among {all}");
        assert!(samples.iter().all(|runs| !runs.is_empty()));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per-run state lives outside the tasks for one run: made before it, kept through the peak
/// (the tasks wait on channels whose senders it holds: were it gone, they would complete
/// early), and dropped after each run, so nothing piles up across runs (with `tasks()` a
/// user's bench kept 110,000 senders, and the Vec's regrowth landed inside measured runs).
#[test]
fn per_run_state_lives_outside_the_tasks_and_goes_after_each_run() {
    use std::sync::atomic::AtomicUsize;
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Senders(Vec<tokio::sync::mpsc::Sender<u64>>);
    impl Drop for Senders {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _serial = serial();
    let n = 2_000;
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, n);
    let mut requested = Vec::new();
    for run in 1..=3 {
        let sample = tasks
            .measure_with(
                || Senders(Vec::with_capacity(n)),
                |senders| {
                    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(4);
                    senders.0.push(tx);
                    async move { while rx.recv().await.is_some() {} }
                },
            )
            .expect("the tasks wait on their channels through the peak");
        assert_eq!(
            DROPPED.load(Ordering::SeqCst),
            run,
            "the state of run {run}"
        );
        requested.push(sample.requested);
    }
    // The same figure each run: nothing of an earlier run's state is held or regrown.
    let (lo, hi) = (
        requested.iter().min().unwrap(),
        requested.iter().max().unwrap(),
    );
    assert!((hi - lo) as f64 <= 0.01 * *lo as f64, "{requested:?}");
}

/// The first measurement on a fresh runtime reads what the runs after it read: taskmem makes
/// the runtime's first run, which read high (+1.6 to +2.2 % resident; 2384 against 2328
/// requested bytes at N = 1), unmeasured.
#[test]
fn the_first_measurement_of_a_runtime_reads_as_the_next_ones() {
    let _serial = serial();
    for n in [1, 1000] {
        let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, n);
        let sleep = || tokio::time::sleep(SLEEP);
        let first = tasks.measure(sleep).unwrap().requested;
        let mut next: Vec<i64> = (0..3)
            .map(|_| tasks.measure(sleep).unwrap().requested)
            .collect();
        next.sort_unstable();
        let median = next[1];
        assert!(
            (first - median).abs() as f64 <= 0.005 * median as f64,
            "N = {n}: the first measurement read {first} B, the next ones {next:?}"
        );
    }
}

/// Input that cannot give a figure is refused with an error before anything runs: no task
/// (it measured 56 B of runtime bookkeeping), a bound of 0 (312 B), and a count whose tasks
/// would not fit in the machine's memory (it ran until the kernel killed the process).
#[test]
fn runs_that_cannot_measure_are_refused_before_they_start() {
    let _serial = serial();
    let sleep = || tokio::time::sleep(SLEEP);
    let e = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 0)
        .measure(sleep)
        .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e}");
    assert_eq!(
        e.to_string(),
        "refused: tokio-mt/spawn/0: a run needs at least one task (N = 0)"
    );
    for strategy in [Strategy::BufferUnordered(0), Strategy::Semaphore(0)] {
        let e = Tasks::new(Runtime::TokioCurrentThread, strategy, 100)
            .measure(sleep)
            .unwrap_err();
        assert!(
            e.to_string().contains("a bound of 0 lets no task run"),
            "{strategy:?}: {e}"
        );
    }
    let started = std::time::Instant::now();
    let e = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 1 << 40)
        .measure(sleep)
        .unwrap_err();
    assert!(matches!(e, Error::TooLarge(_)), "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with("refused before it started: tokio-mt/spawn/1099511627776 (about ")
            && (text.contains("MemAvailable") || text.contains("the cgroup allows")),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The other entry points refuse the same way.
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::JoinAll, 0);
    assert!(matches!(
        tasks.run(sleep, &mut || {}),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(tasks.time_to_peak(sleep), Err(Error::Invalid(_))));
}

#[test]
fn memory_around_a_routine_finds_its_peak_and_what_it_kept() {
    use criterion::measurement::Measurement;
    let _serial = serial();
    const MIB: usize = 1 << 20;
    // Peak: a routine that builds and drops 1 MiB peaks at 1 MiB and keeps nothing.
    let peak = Memory::new(Metric::Allocated);
    let start = peak.start();
    drop(black_box(vec![1u8; MIB]));
    let bytes = peak.end(start);
    assert!(
        (MIB as u64..MIB as u64 + 4096).contains(&bytes),
        "peak {bytes}"
    );
    // Retained: the same routine keeps nothing; one that keeps 256 KiB reports it.
    let kept = Memory::retained(Metric::Allocated);
    let start = kept.start();
    drop(black_box(vec![1u8; MIB]));
    assert!(kept.end(start) < 4096);
    let start = kept.start();
    let keep = black_box(vec![1u8; MIB / 4]);
    let bytes = kept.end(start);
    drop(keep);
    assert!(
        (MIB as u64 / 4..MIB as u64 / 4 + 4096).contains(&bytes),
        "retained {bytes}"
    );
    // Resident has no peak counter: it reports the pages kept at the end.
    let resident = Memory::new(Metric::Resident);
    let start = resident.start();
    let keep = black_box(vec![1u8; MIB]);
    let bytes = resident.end(start);
    drop(keep);
    assert!(bytes >= MIB as u64, "resident {bytes}");
}

#[test]
fn future_size_is_the_size_as_held() {
    let _serial = serial();
    let make = || tokio::time::sleep(SLEEP);
    let unspawned = Tasks::new(Runtime::TokioCurrentThread, Strategy::JoinAll, 10);
    let spawned = unspawned.with_strategy(Strategy::Spawn);
    let plain = size_of::<tokio::time::Sleep>();
    assert_eq!(unspawned.held_size(&make), plain);
    // taskmem's first-poll wrapper adds no byte to a spawned task.
    assert_eq!(spawned.held_size(&make), plain);
    spawned.measure(make).unwrap();
    assert_eq!(spawned.future_size(), Some(plain));
}

/// A future that never completes and whose `Drop` never returns.
struct StuckInDrop;

impl std::future::Future for StuckInDrop {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Pending
    }
}

impl Drop for StuckInDrop {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The release after the peak is bounded by `Tasks::timeout` (at least 5 s): tasks that
/// cannot be dropped end the process with one line and exit code 1, not a hang. The run is in
/// a child process (this binary, re-run on the ignored test below).
#[test]
fn a_release_whose_drop_blocks_ends_the_process_in_one_line() {
    use std::process::{Command, Stdio};
    let start = std::time::Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "api::release_stuck_in_drop",
            "--test-threads=1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Without the bound the child would hang for an hour: kill it and fail instead.
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the release was not bounded: the run still hangs after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("taskmem: the tasks were cancelled and are not all dropped after 5s"),
        "{stderr}"
    );
}

/// Run by the test above: its process must end inside the measurement.
#[test]
#[ignore = "run by a_release_whose_drop_blocks_ends_the_process_in_one_line"]
fn release_stuck_in_drop() {
    let result = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 4)
        .timeout(Duration::from_millis(300))
        .measure(|| StuckInDrop);
    panic!("the run returned: {result:?}");
}
