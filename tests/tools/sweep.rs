//! `taskmem run` and `taskmem sweep`: the published methodology on small N with short
//! sleeps, the fresh-process isolation the sweep relies on, and bad input.
//!
//! Run with: `cargo test --test tools sweep::` (cargo builds the allocator binaries beside
//! `taskmem` for integration tests).

use std::process::{Command, Output};
use std::time::Duration;

use taskmem::run::{Allocator, RunRecord};
use taskmem::summary::Summary;
use taskmem::sweep::{Cell, Subject, SubjectKind, run_one};

/// The processes measure themselves; running two at once would only slow both.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn taskmem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("taskmem runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const MIB: u64 = 1 << 20;

#[test]
fn run_reports_peak_wall_time_and_lateness() {
    let _s = serial();
    let out = taskmem(&[
        "run",
        "--runtime",
        "smol",
        "--strategy",
        "spawn",
        "--tasks",
        "1000",
        "--sleep",
        "50ms",
        "--allocator",
        "mimalloc",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: RunRecord = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        (r.id.as_str(), r.allocator, r.n),
        ("smol/spawn/1000", Allocator::Mimalloc, 1000)
    );
    assert!(r.wall_s >= 0.05, "wall {} s for 50 ms sleeps", r.wall_s);
    assert!(r.peak_rss > MIB && r.peak_rss >= r.rss_at_peak / 2, "{r:?}");
    let l = r.lateness.expect("lateness is on by default");
    assert_eq!(l.tasks, 1000);
    assert!(l.p50_us <= l.p99_us && l.p99_us <= l.max_us, "{l:?}");
}

#[test]
fn sweep_prints_the_table_and_writes_a_summary() {
    let _s = serial();
    let json = std::env::temp_dir().join(format!("taskmem-sweep-{}.json", std::process::id()));
    let out = taskmem(&[
        "sweep",
        "--sizes",
        "1000",
        "--sleep",
        "100ms",
        "--only",
        "^(tokio-ct/join_all|smol/spawn|os/threads)@",
        "--allocator",
        "system,jemalloc",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("peak RSS, MiB"), "{stdout}");
    for row in [
        "tokio-ct/join_all@system",
        "smol/spawn@jemalloc",
        "os/threads@jemalloc",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row}:\n{stdout}"));
        // Two MiB figures (N = 1 and 1K), then bytes per task at 1K.
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols[2].parse::<f64>().unwrap() > 1.0, "{line}");
        assert!(cols[3].parse::<f64>().unwrap() > 1.0, "{line}");
        assert!(
            cols[4].parse::<f64>().is_ok() && cols[5] == "(1K)",
            "{line}"
        );
    }
    assert!(stdout.contains("sweep: 12 processes in"), "{stdout}");
    let summary: Summary = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(summary.pairs.len(), 6);
    for p in &summary.pairs {
        let ns: Vec<usize> = p.cases.iter().map(|c| c.n).collect();
        assert_eq!(ns, [1, 1000], "{}", p.id);
        assert!(p.cases.iter().all(|c| c.values[0] > MIB), "{}", p.id);
    }
    // Threads cost stacks: 1000 threads peak at least 4 MiB above one thread.
    let threads = summary
        .pairs
        .iter()
        .find(|p| p.id == "os/threads@system")
        .unwrap();
    assert!(
        threads.cases[1].values[0] > threads.cases[0].values[0] + 4 * MIB,
        "{threads:?}"
    );
    let _ = std::fs::remove_file(json);
}

fn subject(runtime: &str, strategy: &str) -> Subject {
    Subject {
        id: format!("{runtime}/{strategy}@jemalloc"),
        language: "rust".into(),
        threads: false,
        kind: SubjectKind::Rust {
            runtime: runtime.parse().unwrap(),
            strategy: strategy.parse().unwrap(),
            allocator: Allocator::Jemalloc,
        },
    }
}

fn peak(cell: Cell) -> u64 {
    match cell {
        Cell::Ran { peak_rss, .. } => peak_rss,
        other => panic!("did not run: {other:?}"),
    }
}

#[test]
fn each_case_starts_from_a_fresh_process() {
    let _s = serial();
    let s = subject("tokio-mt", "spawn");
    let big = peak(run_one(&s, 300_000, Duration::from_millis(100)));
    let small = peak(run_one(&s, 1, Duration::from_millis(100)));
    // 300K tasks hold ~80 MiB; the next process does not start with them.
    assert!(big > 60 * MIB, "300K tasks peaked at {big} B");
    assert!(
        small < big / 4,
        "N = 1 after N = 300K peaked at {small} B (the big run: {big} B)"
    );
}

#[test]
fn the_sweep_reads_the_childs_own_peak_not_the_parents() {
    let _s = serial();
    // This test process touches 200 MiB first: a child's ru_maxrss would inherit it.
    let ballast = vec![1u8; 200 * MIB as usize];
    std::hint::black_box(&ballast);
    let small = peak(run_one(
        &subject("tokio-ct", "join_all"),
        1,
        Duration::from_millis(50),
    ));
    assert!(small < 50 * MIB, "a one-task process peaked at {small} B");
    drop(ballast);
}

fn one_line_error(out: &Output, code: i32, starts: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(starts), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_gets_one_line_and_a_non_zero_exit() {
    one_line_error(
        &taskmem(&["sweep", "--sizes", "1,ten"]),
        2,
        "taskmem: invalid value 'ten' for '--sizes",
    );
    let out = taskmem(&[
        "run",
        "--runtime",
        "tokyo",
        "--strategy",
        "spawn",
        "--tasks",
        "1",
    ]);
    one_line_error(&out, 2, "taskmem: invalid value 'tokyo' for '--runtime");
    assert!(text(&out.stderr).contains("valid: tokio-ct, tokio-mt, async-std, smol, os"));
    one_line_error(
        &taskmem(&[
            "run",
            "--runtime",
            "smol",
            "--strategy",
            "spawn",
            "--tasks",
            "0",
        ]),
        2,
        "taskmem: invalid value '0' for '--tasks",
    );
    one_line_error(
        &taskmem(&["sweep", "--allocator", "tcmalloc"]),
        2,
        "taskmem: invalid value 'tcmalloc' for '--allocator",
    );
    one_line_error(
        &taskmem(&["sweep", "--only", "nothing-matches-this"]),
        2,
        "taskmem: --only matches no row",
    );
}

#[test]
fn cases_past_the_machines_limits_are_skipped_with_the_reason() {
    let _s = serial();
    let out = taskmem(&[
        "run",
        "--runtime",
        "os",
        "--strategy",
        "threads",
        "--tasks",
        "1m",
        "--sleep",
        "1ms",
    ]);
    one_line_error(
        &out,
        1,
        "taskmem: os/threads/1000000: skipped: 1000000 OS threads exceed",
    );
    let out = taskmem(&[
        "run",
        "--runtime",
        "smol",
        "--strategy",
        "joinset",
        "--tasks",
        "10",
        "--sleep",
        "1ms",
    ]);
    one_line_error(&out, 1, "taskmem: smol/joinset/10: skipped:");
    // Sequential async-std sleeps run one after another: 10K x 10 s is refused.
    let out = taskmem(&[
        "run",
        "--runtime",
        "async-std",
        "--strategy",
        "sequential",
        "--tasks",
        "10k",
    ]);
    one_line_error(
        &out,
        1,
        "taskmem: async-std/sequential/10000: skipped: async-std's sleep starts its timer",
    );
}
