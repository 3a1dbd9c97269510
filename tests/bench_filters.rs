//! A Criterion filter that matches no case, in every bench of the project: one line naming
//! the filter, exit code 2, and the earlier run's files neither rewritten nor printed. Also
//! what must keep working around it: `--list` (with `--exact`), `--ignored`, and test mode
//! (`cargo test --benches -- NAME`, where a binary without NAME is not an error).
//!
//! This binary, re-run with `TASKMEM_BENCH_FILTERS_CHILD=<bench>`, is that bench (as
//! tests/resilience.rs is the memory bench): `memory`, `spawn_time`, `sample_time`, and with
//! the cargo feature `dhat`, `dhat` (its bench's `main` on this binary's allocator: a filter
//! that matches nothing ends it before any profile starts). Each child gets a target
//! directory of its own holding the files an earlier run left.
//!
//! Run with: `cargo test --test bench_filters` (under a second; `--features dhat` adds the
//! dhat bench).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use taskmem::summary::{self, Skip};

taskmem::use_tracked_jemalloc!();

/// Which bench the child is.
const CHILD: &str = "TASKMEM_BENCH_FILTERS_CHILD";

fn temp_dir(what: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("taskmem-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Every file under `dir` with its contents and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, Option<SystemTime>)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
                let bytes = std::fs::read(&path).expect("readable file");
                files.push((path, bytes, modified));
            }
        }
    }
    files.sort();
    files
}

/// The earlier run's files: the memory suite's summary (with a skip naming a cgroup that is
/// gone, as the issue saw), spawn_time's times and dhat's summary.
fn earlier_run(target: &Path) {
    let skip = Skip {
        id: "tokio-mt/spawn/1000000".into(),
        reason: "1000000 tasks need about 252 MiB; the cgroup \
                 /sys/fs/cgroup/memory/taskmem-gone allows 200 MiB"
            .into(),
    };
    let memory = summary::merge(None, Vec::new(), vec![skip.clone()], None);
    let times = taskmem_suite::timing::merge(None, Vec::new(), Vec::new(), vec![skip]);
    let dir = target.join("taskmem");
    std::fs::create_dir_all(dir.join("dhat")).expect("dirs");
    std::fs::write(dir.join("summary.json"), json(&memory)).expect("write");
    std::fs::write(dir.join("time.json"), json(&times)).expect("write");
    std::fs::write(
        dir.join("dhat").join("summary.json"),
        b"{\"earlier\": true}\n",
    )
    .expect("write");
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("encode")
}

/// Runs this binary as `bench` with `args` at `TASKMEM_SIZES=1,10k`, in a target directory
/// of its own with [`earlier_run`]'s files, and checks that it wrote nothing there. Returns
/// its output and how long it took.
fn run(bench: &str, args: &[&str]) -> (Output, Duration) {
    let target = temp_dir("bench-filters");
    earlier_run(&target);
    let before = snapshot(&target);
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TASKMEM_") || key.starts_with("CRITERION") {
            cmd.env_remove(key);
        }
    }
    cmd.env(CHILD, bench)
        .env("TASKMEM_SIZES", "1,10k")
        .env("CARGO_TARGET_DIR", &target)
        .args(args)
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("the bench starts");
    let took = start.elapsed();
    let after = snapshot(&target);
    let names = |s: &[(PathBuf, Vec<u8>, Option<SystemTime>)]| -> Vec<PathBuf> {
        s.iter().map(|f| f.0.clone()).collect()
    };
    assert_eq!(
        names(&after),
        names(&before),
        "{bench} {args:?} wrote files: {}",
        text(&out)
    );
    assert!(
        after == before,
        "{bench} {args:?} rewrote the earlier run's files: {}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&target);
    (out, took)
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A bench run (`--bench`, as `cargo bench` passes) whose filter matches no case: exit code
/// 2, `line` alone on stderr, nothing on stdout (no table of the earlier run).
fn no_match(bench: &str, args: &[&str], line: &str) -> Duration {
    let (out, took) = run(bench, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{bench} {args:?}: {}",
        text(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("{line}\n"),
        "{bench} {args:?}: {}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "{bench} {args:?}: {}", text(&out));
    took
}

/// Exit code 0 and exactly `stdout` (Criterion's list ends with an empty line, not counted).
fn quiet_success(bench: &str, args: &[&str], stdout: &str) {
    let (out, _) = run(bench, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{bench} {args:?}: {}",
        text(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        stdout.trim_end(),
        "{bench} {args:?}: {}",
        text(&out)
    );
}

/// The line for `filter` in `bench` (the command that runs it).
fn line(filter: &str, bench: &str) -> String {
    format!(
        "taskmem: no case matches {filter} (ids look like tokio-mt/spawn/10000; `{bench} -- \
         --list` lists them)"
    )
}

fn memory_bench() -> Duration {
    let cmd = "cargo bench --bench memory";
    let took = no_match(
        "memory",
        &["--bench", "no-such-case"],
        &line("the filter 'no-such-case'", cmd),
    );
    no_match(
        "memory",
        &["--bench", "--exact", "tokio-mt/spawn"],
        &line("the exact filter 'tokio-mt/spawn'", cmd),
    );
    // Options with a value are not the filter; the filter is still found after them.
    no_match(
        "memory",
        &["--bench", "--save-baseline", "x", "tokio-mt/spwan"],
        &line("the filter 'tokio-mt/spwan'", cmd),
    );
    // `--ignored`: no ignored case, nothing runs, nothing said.
    quiet_success("memory", &["--bench", "--ignored"], "");
    // `--list`: what matches, possibly nothing.
    quiet_success("memory", &["--bench", "--list", "no-such-case"], "");
    quiet_success(
        "memory",
        &["--bench", "--list", "--exact", "tokio-ct/spawn/1"],
        "tokio-ct/spawn/1: benchmark\n",
    );
    // Test mode (no --bench: `cargo test --benches -- NAME` gives every binary NAME).
    quiet_success(
        "memory",
        &["no-such-case"],
        &format!(
            "{}; nothing to test\n",
            line("the filter 'no-such-case'", cmd)
        ),
    );
    took
}

fn spawn_time_bench() -> Duration {
    let cmd = "cargo bench --bench spawn_time";
    let took = no_match(
        "spawn_time",
        &["--bench", "no-such-case"],
        &line("the filter 'no-such-case'", cmd),
    );
    // The bounded strategies are the memory suite's only.
    no_match(
        "spawn_time",
        &["--bench", "buffer_unordered"],
        &line("the filter 'buffer_unordered'", cmd),
    );
    // Runs no case (it used to run each once, then fail).
    quiet_success("spawn_time", &["--bench", "--ignored"], "");
    quiet_success(
        "spawn_time",
        &["--bench", "--list", "--exact", "tokio-ct/spawn/1"],
        "tokio-ct/spawn/1: benchmark\n",
    );
    took
}

fn sample_time_bench() -> Duration {
    let took = no_match(
        "sample_time",
        &["--bench", "no-such-case"],
        &line(
            "the filter 'no-such-case'",
            "cargo bench --bench sample_time",
        ),
    );
    quiet_success("sample_time", &["--bench", "--ignored"], "");
    // The ids it lists are those it measures (and Criterion filters) under.
    quiet_success(
        "sample_time",
        &["--bench", "--list", "--exact", "tokio-ct/spawn/1"],
        "tokio-ct/spawn/1: benchmark\n",
    );
    took
}

/// Without the dhat feature there is no dhat bench to run.
#[cfg(not(feature = "dhat"))]
fn dhat_bench() -> Option<Duration> {
    None
}

#[cfg(feature = "dhat")]
fn dhat_bench() -> Option<Duration> {
    let took = no_match(
        "dhat",
        &["--bench", "no-such-case"],
        &line(
            "the filter 'no-such-case'",
            "cargo bench --features dhat --bench dhat",
        ),
    );
    quiet_success(
        "dhat",
        &["--bench", "--list", "tokio-ct/spawn/1$"],
        "tokio-ct/spawn/1: dhat profile\n",
    );
    Some(took)
}

fn main() {
    match std::env::var(CHILD).as_deref() {
        Ok("memory") => return taskmem_suite::suite::main(),
        Ok("spawn_time") => return taskmem_suite::spawn_time::main(),
        Ok("sample_time") => return taskmem_suite::sample_time::main(),
        #[cfg(feature = "dhat")]
        Ok("dhat") => return taskmem_suite::heap_profile::main(),
        Ok(other) => panic!("{CHILD}={other}: no such bench here"),
        Err(_) => {}
    }
    // `cargo test -- --list` and friends: nothing to list but the one test.
    if std::env::args().any(|a| a == "--list") {
        println!("bench_filters: test");
        return;
    }
    let took = [
        ("memory", Some(memory_bench())),
        ("spawn_time", Some(spawn_time_bench())),
        ("sample_time", Some(sample_time_bench())),
        ("dhat", dhat_bench()),
    ];
    let took: Vec<String> = took
        .into_iter()
        .filter_map(|(bench, t)| Some(format!("{bench} {} ms", t?.as_millis())))
        .collect();
    println!(
        "bench_filters: ok (a filter that matches nothing ends the bench in: {})",
        took.join(", ")
    );
}
