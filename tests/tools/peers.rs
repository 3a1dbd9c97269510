//! Every peer in `peers/peers.toml` whose toolchain is installed here is built and run at
//! N = 10 with a 200 ms sleep, measured whole by `taskmem_suite::child::run_measured`: it must exit 0,
//! print `done 10 spawn_ms=MS`, take at least the sleep, and peak between 1 MiB and 2 GiB; bad arguments
//! must give one line on stderr and exit code 2. Peers not installed are listed as skipped (on
//! stderr, past the test harness's capture), with their install hint.
//!
//! Run with: cargo test --test tools peers::
//! (`peers/install-debian.sh` installs the toolchains Debian offers.)

use std::io::Write;
use std::time::Duration;
use taskmem_suite::child::run_measured;
use taskmem_suite::peers::{Done, Manifest, Prepared, default_build_root};

const N: u64 = 10;
const SLEEP: Duration = Duration::from_millis(200);
/// Generous: a first run of a JVM or the BEAM on a loaded 2-core machine is slow.
const TIMEOUT: Duration = Duration::from_secs(120);
const MIB: u64 = 1 << 20;

/// Written straight to the process's stderr, so `cargo test` shows it without `--nocapture`.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[test]
fn every_installed_peer_runs_ten_tasks_and_reports_a_plausible_peak() {
    let manifest = Manifest::load_default().unwrap();
    let root = default_build_root();
    let mut failures = Vec::new();
    let mut ran = 0;
    for peer in &manifest.peers {
        let built = match peer.prepare(&root) {
            Ok(Prepared::Ready(built)) => *built,
            Ok(Prepared::NotInstalled { missing, hint }) => {
                say(&format!(
                    "peers: {}: skipped, not installed ({missing}); install: {hint}",
                    peer.id
                ));
                continue;
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let run = match run_measured(built.command(N, SLEEP), TIMEOUT) {
            Ok(run) => run,
            Err(e) => {
                failures.push(format!("{}: {e}", peer.id));
                continue;
            }
        };
        ran += 1;
        let mut problems = Vec::new();
        if let Err(e) = run.check(&peer.id) {
            problems.push(e);
        }
        match Done::parse(&run.stdout) {
            Ok(done) if done.n != N => problems.push(format!("ran {} tasks, not {N}", done.n)),
            Ok(done) if done.spawn > run.wall => problems.push(format!(
                "says starting took {:?}, longer than its whole run ({:?})",
                done.spawn, run.wall
            )),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
        if run.wall < SLEEP {
            problems.push(format!(
                "took {:?}, less than the {SLEEP:?} sleep",
                run.wall
            ));
        }
        if !(MIB..=2048 * MIB).contains(&run.peak_rss_bytes) {
            problems.push(format!(
                "peak RSS {} B is not between 1 MiB and 2 GiB",
                run.peak_rss_bytes
            ));
        }

        // Bad arguments: one line on stderr, exit code 2.
        match run_measured(built.command_with_args("ten", "200"), TIMEOUT) {
            Ok(bad) => {
                let lines = bad.stderr.trim_end().lines().count();
                if bad.status.code() != Some(2) || lines != 1 {
                    problems.push(format!(
                        "bad N gave {} and {lines} stderr lines: {:?}",
                        taskmem_suite::child::ended(&bad.status),
                        bad.stderr
                    ));
                }
            }
            Err(e) => problems.push(format!("bad N: {e}")),
        }

        say(&format!(
            "peers: {}: {:.1} MiB peak ({:?}), {:.0} ms wall ({}){}",
            peer.id,
            run.peak_rss_bytes as f64 / MIB as f64,
            run.peak_source,
            run.wall.as_secs_f64() * 1000.0,
            built.toolchain.version,
            if problems.is_empty() { "" } else { ": FAILED" }
        ));
        failures.extend(problems.into_iter().map(|p| format!("{}: {p}", peer.id)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    say(&format!(
        "peers: {ran} of {} peers ran",
        manifest.peers.len()
    ));
}
