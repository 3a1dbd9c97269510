//! The published Rust program of the "1 million concurrent tasks" comparisons, as a peer of
//! taskmem: tokio's multi-thread runtime, N tasks spawned, each sleeping SLEEP_MS, the handles
//! kept in a `Vec` and awaited in turn, glibc malloc (no global allocator is declared).
//! Nothing else: no counters, no tables, no wrapper around the tasks. At the end it prints
//! `done N spawn_ms=MS` (how long spawning the N tasks took), as every peer does.
//!
//! Usage: `taskmem-peer-tokio N SLEEP_MS`; bad arguments give one line and exit code 2.
//! `taskmem sweep` builds and runs it (peers/peers.toml, id `rust/tokio`) beside
//! `tokio-mt/spawn@system`, taskmem's own whole-process run of the same task.

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        fail(&format!("expected 2 arguments, got {}", args.len()));
    }
    let Ok(n) = args[0].parse::<usize>() else {
        fail(&format!("N '{}' is not a non-negative integer", args[0]));
    };
    let Ok(ms) = args[1].parse::<u64>() else {
        fail(&format!("SLEEP_MS '{}' is not a non-negative integer", args[1]));
    };
    // What `#[tokio::main]` builds.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("taskmem-peer-tokio: cannot build the runtime: {e}");
            std::process::exit(1);
        }
    };
    let spawned = runtime.block_on(async move {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..n {
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }));
        }
        let spawned = start.elapsed();
        for task in tasks {
            if let Err(e) = task.await {
                eprintln!("taskmem-peer-tokio: a task failed: {e}");
                std::process::exit(1);
            }
        }
        spawned
    });
    println!("done {n} spawn_ms={}", spawned.as_millis());
}

fn fail(message: &str) -> ! {
    eprintln!("taskmem-peer-tokio: {message} (usage: taskmem-peer-tokio N SLEEP_MS)");
    std::process::exit(2);
}
