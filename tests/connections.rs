//! Idle connections measured with the public API (cargo feature `connections`): the raw TCP
//! figure against the bare task's, the exchange done by the peak, the kernel's share, and a
//! size past the open-files limit skipped with the limit named.

#![cfg(feature = "connections")]

use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use taskmem::connections::{Kind, Server, Skip, kernel, workloads};
use taskmem::{Latch, Runtime, Strategy, Tasks};

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
