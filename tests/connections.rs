//! Idle connections measured with the public API (cargo feature `connections`): the raw TCP
//! figure against the bare task's, the exchange done by the peak, the kernel's share, and a
//! size past the open-files limit skipped with the limit named.

#![cfg(feature = "connections")]

use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use taskmem::{Latch, Runtime, Strategy, Tasks};
use taskmem_suite::connections::{Kind, Server, Skip, kernel, workloads};

taskmem::use_tracked_jemalloc!();

const CLIENT: &str = env!("CARGO_BIN_EXE_taskmem-conn-client");

/// One test at a time: the kernel's counters are machine-wide, so another test's sockets
/// would be counted in them.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn server(kind: Kind, n: usize) -> Server {
    match Server::start(kind, n, Path::new(CLIENT)) {
        Ok(Ok(s)) => s,
        Ok(Err(Skip(why))) => panic!("cannot run {n} connections here: {why}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn raw_tcp_costs_more_than_a_bare_task_and_less_than_a_generous_bound() {
    let _serial = serial();
    let n = 1000;
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, n);
    let bare = tasks
        .measure(std::future::pending::<()>)
        .expect("bare tasks");
    let srv = server(Kind::Tcp, n);
    let ready = Latch::new();
    let conn = tasks
        .with_n(n)
        .ready_latch(&ready)
        .measure(|| workloads::tokio_tcp(srv.next(), ready.clone()))
        .expect("connections");
    let per = |bytes: i64| bytes as f64 / n as f64;
    let (bare, conn) = (per(bare.requested), per(conn.requested));
    // The read buffer alone is 1 KiB; the I/O registration adds more.
    assert!(
        conn > bare + workloads::READ_BUFFER as f64,
        "a connection ({conn:.0} B) should cost more than a bare task ({bare:.0} B) + its buffer"
    );
    assert!(
        conn < 64.0 * 1024.0,
        "{conn:.0} B per idle TCP connection is past 64 KiB"
    );
}

/// Runs `serve` over `n` connections of `kind` and returns the exchanges counted at the peak.
fn answered_at_peak<F>(
    kind: Kind,
    n: usize,
    serve: fn(Result<TcpStream, String>, Latch) -> F,
) -> usize
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let srv = server(kind, n);
    let ready = Latch::new();
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, n).ready_latch(&ready);
    let before = workloads::answered();
    let mut answered = 0;
    let mut client = Ok(());
    tasks
        .run(|| serve(srv.next(), ready.clone()), &mut || {
            answered = workloads::answered() - before;
            client = srv.wait_answered(Duration::from_secs(30));
        })
        .expect("run");
    client.expect("the client read every response at the peak");
    answered
}

/// Without the ready latch a run read HTTP/1.1's peak with 199 of 200 exchanges done (a
/// connection is pending mid-exchange too); with it, every one is done, run after run.
#[test]
fn http1_and_websocket_exchanges_are_done_by_the_peak() {
    let _serial = serial();
    // One test, so the two do not share the process-wide counter concurrently.
    for _ in 0..3 {
        assert_eq!(
            answered_at_peak(Kind::Http1, 500, workloads::tokio_http1),
            500
        );
    }
    assert_eq!(answered_at_peak(Kind::Ws, 500, workloads::tokio_ws), 500);
}

#[test]
fn smol_holds_connections_too() {
    let _serial = serial();
    let n = 200;
    let srv = server(Kind::Tcp, n);
    let ready = Latch::new();
    let tasks = Tasks::new(Runtime::Smol, Strategy::Spawn, n).ready_latch(&ready);
    let sample = tasks
        .measure(|| workloads::smol_tcp(srv.next(), ready.clone()))
        .expect("smol");
    assert!(sample.requested as usize > n * workloads::READ_BUFFER);
}

fn kernel_share(n: usize) -> Option<f64> {
    let Ok(before) = kernel::read() else {
        return None;
    };
    let srv = server(Kind::Tcp, n);
    let ready = Latch::new();
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, n).ready_latch(&ready);
    let mut peak = None;
    tasks
        .run(
            || workloads::tokio_tcp(srv.next(), ready.clone()),
            &mut || peak = kernel::read().ok(),
        )
        .expect("run");
    Some(
        kernel::share(&before, &peak.expect("kernel counters at the peak"), n).per_connection
            * n as f64,
    )
}

#[test]
fn kernel_share_is_non_zero_and_scales_with_n() {
    let _serial = serial();
    let Some(small) = kernel_share(100) else {
        eprintln!("skipped: /proc/slabinfo is not readable (run as root)");
        return;
    };
    let large = kernel_share(1000).expect("kernel counters");
    assert!(small > 0.0, "100 connections: kernel share {small} B");
    // Ten times the sockets: well above five times the bytes, whatever else the machine did.
    assert!(
        large > 5.0 * small,
        "1000 connections: {large} B vs 100: {small} B"
    );
}

#[test]
fn a_case_past_the_open_files_limit_is_skipped_with_the_limit_named() {
    let _serial = serial();
    match Server::start(Kind::Tcp, 10_000_000, Path::new(CLIENT)) {
        Ok(Err(Skip(why))) => assert!(why.contains("RLIMIT_NOFILE"), "{why}"),
        Ok(Ok(_)) => panic!("ten million sockets cannot fit under any open-files limit"),
        Err(e) => panic!("{e}"),
    }
}

// The ready latch (`taskmem::Latch`, core API): tested here with the connections, its first
// user.

/// Tasks that take their buffer only after a pause: pending all along, idle only after it.
async fn late_buffer(ready: Option<Latch>) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let buffer = vec![1u8; 4096];
    if let Some(r) = ready {
        r.arrive();
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::hint::black_box(&buffer);
}

#[test]
fn a_latch_makes_the_run_wait_for_the_idle_state() {
    let _serial = serial();
    let n = 500;
    for (runtime, strategy) in [
        (Runtime::TokioMultiThread, Strategy::Spawn),
        (Runtime::TokioCurrentThread, Strategy::JoinAll),
    ] {
        let tasks = Tasks::new(runtime, strategy, n);
        // Without it the peak is read while every task is pending in its first sleep.
        let early = tasks.measure(|| late_buffer(None)).expect("run");
        assert!(
            (early.requested as usize) < n * 4096,
            "{runtime}/{strategy}: without a latch the buffers should not be there yet"
        );
        let ready = Latch::new();
        let waited = tasks
            .with_n(n)
            .ready_latch(&ready)
            .measure(|| late_buffer(Some(ready.clone())))
            .expect("run with a latch");
        assert_eq!(ready.arrived(), n);
        assert!(
            waited.requested as usize >= n * 4096,
            "{runtime}/{strategy}: with a latch every 4 KiB buffer is held at the peak: {} B",
            waited.requested
        );
    }
}

#[test]
fn a_latch_that_never_fills_is_a_one_line_error_not_a_hang() {
    let _serial = serial();
    let n = 100;
    for (runtime, strategy) in [
        (Runtime::TokioMultiThread, Strategy::Spawn),
        (Runtime::Smol, Strategy::Spawn),
        (Runtime::TokioCurrentThread, Strategy::JoinAll),
    ] {
        let ready = Latch::new();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let tasks = Tasks::new(runtime, strategy, n)
            .timeout(Duration::from_millis(500))
            .ready_latch(&ready);
        let started = std::time::Instant::now();
        let e = tasks
            .measure(|| {
                // Every other task never arrives.
                let arrives = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 0;
                let ready = ready.clone();
                async move {
                    if arrives {
                        ready.arrive();
                    }
                    std::future::pending::<()>().await;
                }
            })
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "it waited too long"
        );
        match e {
            taskmem::Error::NotReady { ready, n: want, .. } => {
                assert_eq!((ready, want), (n / 2, n), "{e}")
            }
            other => panic!("{runtime}/{strategy}: expected NotReady, got {other}"),
        }
        let line = e.to_string();
        assert!(!line.contains('\n') && line.contains("50 of 100"), "{line}");
    }
}

// The bench's command line and environment, as a user gives them: the bench binary itself
// (`benches/connections.rs`), built by cargo into this test's target directory with this
// test's profile and features, and run in a scratch directory so it writes nowhere here.

/// The connections bench's executable, built once per test process.
fn bench_exe() -> &'static Path {
    static EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        // <target>/<profile dir>/deps/connections-<hash>
        let me = std::env::current_exe().expect("the test binary's path");
        let dir = me.ancestors().nth(2).expect("<target>/<profile dir>");
        let target = dir.parent().expect("<target>");
        let profile = match dir.file_name().and_then(|d| d.to_str()) {
            Some("release") => "bench",
            Some("debug") => "test",
            Some(other) => other,
            None => panic!("no profile directory in {}", me.display()),
        };
        let out = std::process::Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target)
            .args(["test", "--no-run", "--quiet", "--message-format=json"])
            .args(["--features", "connections", "--bench", "connections"])
            .args(["--profile", profile])
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "the bench does not build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| {
                m["target"]["name"] == "connections"
                    && m["target"]["kind"]
                        .as_array()
                        .is_some_and(|k| k.contains(&"bench".into()))
            })
            .find_map(|m| m["executable"].as_str().map(std::path::PathBuf::from))
            .expect("cargo names the bench's executable")
    })
}

/// The bench run as `cargo bench --features connections --bench connections -- ARGS` runs
/// it, with `TASKMEM_CONN_N=sizes` and no peers, in a scratch directory; (exit code, stdout,
/// stderr, what it wrote to `connections.json`).
fn run_bench(sizes: &str, args: &[&str]) -> (Option<i32>, String, String, Option<String>) {
    let dir = std::env::temp_dir().join(format!(
        "taskmem-conn-bench-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let out = std::process::Command::new(bench_exe())
        .current_dir(&dir)
        .arg("--bench")
        .args(args)
        .env_remove("CARGO_TARGET_DIR")
        .env("CRITERION_HOME", dir.join("criterion"))
        .env("TASKMEM_CONN_N", sizes)
        .env("TASKMEM_CONN_PEERS", "0")
        .output()
        .expect("the bench runs");
    let written = std::fs::read_to_string(dir.join("target/taskmem/connections.json")).ok();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        written,
    )
}

/// The filter is Criterion's: a regular expression on the whole id (`^...$` selects one
/// case), or `--exact`. It read filters as substrings: `'^tokio-mt/tcp/1$'` ran no case,
/// wrote `{}` and exited 0.
#[test]
fn the_bench_filter_is_a_regex_on_the_whole_id() {
    let _serial = serial();
    let (code, out, err, _) = run_bench("1,10", &["--list", "^tokio-mt/tcp/1$"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "tokio-mt/tcp/1: benchmark\n", "{err}");
    let (code, out, err, _) = run_bench("1,10", &["--list", "--exact", "smol/tcp/10"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "smol/tcp/10: benchmark\n"),
        "{err}"
    );
    let (code, out, err, _) = run_bench("1,10", &["--list", "tcp/1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "tokio-mt/tcp/1: benchmark",
            "smol/tcp/1: benchmark",
            "tokio-mt/tcp/10: benchmark",
            "smol/tcp/10: benchmark"
        ]
    );
    // A run: that one case is measured and recorded, and no other.
    let (code, out, err, written) = run_bench("1,10", &["^tokio-mt/tcp/1$"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let written: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&written.expect("connections.json")).expect("JSON");
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        ["tokio-mt/tcp/1"],
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("tokio-mt/tcp/1: per connection:")),
        "{out}"
    );
}

/// A filter that matches no case is one line naming it and exit code 2, with nothing written
/// and nothing else printed.
#[test]
fn a_bench_filter_that_matches_no_case_says_so_and_writes_nothing() {
    let _serial = serial();
    for (args, what) in [
        (&["^x$"][..], "the filter '^x$'"),
        (
            &["--exact", "tokio-mt/tcp"][..],
            "the exact filter 'tokio-mt/tcp'",
        ),
    ] {
        let (code, out, err, written) = run_bench("1,10", args);
        assert_eq!(code, Some(2), "{args:?}: {out}\n{err}");
        assert_eq!(
            err,
            format!(
                "taskmem: no case matches {what} (ids look like tokio-mt/tcp/10; `cargo bench \
                 --features connections --bench connections -- --list` lists them)\n"
            )
        );
        assert_eq!((out.as_str(), written), ("", None), "{args:?}");
    }
}

/// `TASKMEM_CONN_N` is read as `TASKMEM_SIZES` is (`k`/`m` suffixes, each at least 1): a bad
/// list is one line naming the variable and the value, and exit code 2, at once.
/// `TASKMEM_CONN_N=0` waited 60 s for a ready latch and then failed the case.
#[test]
fn a_bad_connection_count_is_refused_at_once_in_one_line() {
    let _serial = serial();
    for (value, line) in [
        ("0", "task count '0' must be between 1 and 100000000"),
        ("1,0", "task count '0' must be between 1 and 100000000"),
        ("", "the size list is empty (example: 1,10k,100k,1m)"),
        (
            "1,,10",
            "'' is not a task count (examples: 1, 10000, 10k, 1m)",
        ),
        (
            "1;10",
            "'1;10' is not a task count (examples: 1, 10000, 10k, 1m)",
        ),
        (
            "ten",
            "'ten' is not a task count (examples: 1, 10000, 10k, 1m)",
        ),
    ] {
        // Built first: the time is the bench's, not cargo's.
        bench_exe();
        let started = std::time::Instant::now();
        let (code, out, err, written) = run_bench(value, &[]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "TASKMEM_CONN_N={value:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(code, Some(2), "TASKMEM_CONN_N={value:?}: {out}\n{err}");
        assert_eq!(err, format!("taskmem: TASKMEM_CONN_N: {line}\n"));
        assert_eq!((out.as_str(), written), ("", None), "{value:?}");
    }
    // Suffixes are read as the memory bench reads them.
    let (code, out, err, _) = run_bench("1k", &["--list", "^smol/"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "smol/tcp/1000: benchmark\n"),
        "{err}"
    );
}

/// The sites of N connections of `kind` on tokio, named from this test's own executable
/// (function names: the bench profile has no line tables) as `taskmem bill` names them.
fn named_sites(kind: Kind, n: usize) -> Vec<taskmem_suite::bill::sites::SiteShare> {
    let srv = server(kind, n);
    let ready = Latch::new();
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, n).ready_latch(&ready);
    let sites = match kind {
        Kind::Http1 => tasks.sites(|| workloads::tokio_http1(srv.next(), ready.clone())),
        Kind::Ws => tasks.sites(|| workloads::tokio_ws(srv.next(), ready.clone())),
        Kind::Tcp => tasks.sites(|| workloads::tokio_tcp(srv.next(), ready.clone())),
    }
    .expect("the sites are recorded");
    let exe = std::env::current_exe().unwrap();
    let frames =
        taskmem_suite::symbols::resolve(&exe, &taskmem_suite::bill::sites::addresses(&sites))
            .expect("addr2line names them");
    taskmem_suite::bill::sites::shares(&[(n, &sites)], &frames, None)
}

#[test]
fn hypers_and_tungstenites_buffers_are_sites_of_their_own() {
    use taskmem_suite::bill::sites::Owner;
    let _serial = serial();
    let n = 200;
    let per_task = |shares: &[taskmem_suite::bill::sites::SiteShare], owner: &str| -> f64 {
        shares
            .iter()
            .filter(|s| {
                s.owner == Owner::Library(owner.into())
                    || s.via.as_deref().is_some_and(|v| v.starts_with(owner))
            })
            .map(|s| s.bytes)
            .sum()
    };
    // hyper's read and write buffers, 8 KiB each, per connection (the read one grown by
    // `bytes`, for hyper).
    let http = named_sites(Kind::Http1, n);
    let hyper = per_task(&http, "hyper");
    assert!(hyper >= 2.0 * 8192.0, "{hyper} B per connection: {http:#?}");
    // tungstenite's read buffer, 128 KiB.
    let ws = named_sites(Kind::Ws, n);
    let tungstenite = per_task(&ws, "tungstenite");
    assert!(
        tungstenite >= 131_072.0,
        "{tungstenite} B per connection: {ws:#?}"
    );
    // tokio's cell, the runtime's, in each (without line tables, the socket's I/O
    // registration is inlined into the caller's frame: `taskmem bill`, which adds them, names
    // it).
    for shares in [&http, &ws] {
        let runtime: Vec<&str> = shares
            .iter()
            .filter(|s| s.owner == Owner::Runtime("tokio".into()))
            .map(|s| s.function.as_str())
            .collect();
        assert!(
            runtime.iter().any(|f| f.contains("task::core::Cell")),
            "{runtime:?}"
        );
    }
}
