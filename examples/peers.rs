//! Measures the peers in other languages (`peers/peers.toml`) whole, one fresh process per run,
//! at each N: peak RSS (and which reading it is: `taskmem::child::PeakSource`), wall time, spawn
//! time, and bytes per task above the N = 1 run.
//! A small stand-in for the peers' rows of `taskmem sweep`.
//!
//! Run with: cargo run --release --example peers -- [--sizes 10k,100k] [--sleep-ms 1000] [ID...]
//! (IDs filter by substring, e.g. `go java/virtual`; default sizes 10k,100k; N = 1 is always
//! run first as the baseline.)

use std::time::Duration;
use taskmem::child::run_measured;
use taskmem::config::parse_sizes;
use taskmem::peers::{Done, Manifest, Prepared, default_build_root};

const MIB: f64 = (1 << 20) as f64;

struct Args {
    sizes: Vec<usize>,
    sleep: Duration,
    only: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sizes: vec![10_000, 100_000],
        sleep: Duration::from_millis(1000),
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                let v = it.next().ok_or("--sizes needs a list, e.g. 10k,100k")?;
                args.sizes = parse_sizes(&v)?;
            }
            "--sleep-ms" => {
                let v = it.next().ok_or("--sleep-ms needs a number")?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("--sleep-ms: '{v}' is not a number of milliseconds"))?;
                args.sleep = Duration::from_millis(ms);
            }
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown option '{flag}' (valid: --sizes LIST, --sleep-ms MS, then peer ids)"
                ));
            }
            id => args.only.push(id.to_string()),
        }
    }
    Ok(args)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("peers: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let manifest = Manifest::load_default()?;
    let root = default_build_root();
    // Generous: the published runs' 1M cases take the sleep plus tens of seconds to start.
    let timeout = args.sleep * 3 + Duration::from_secs(600);
    println!(
        "{:<22} {:>9} {:>11} {:>8} {:>9} {:>9} {:>10}  toolchain",
        "peer", "N", "peak MiB", "from", "wall s", "spawn s", "B/task"
    );
    for peer in &manifest.peers {
        if !args.only.is_empty() && !args.only.iter().any(|o| peer.id.contains(o.as_str())) {
            continue;
        }
        let built = match peer.prepare(&root)? {
            Prepared::Ready(built) => *built,
            Prepared::NotInstalled { hint, .. } => {
                println!("{:<22} not installed: {hint}", peer.id);
                continue;
            }
        };
        let mut base = None;
        for n in std::iter::once(1).chain(args.sizes.iter().copied()) {
            let n = n as u64;
            if let Err(why) = peer.check_limits(n) {
                println!("{:<22} {n:>9} skipped: {why}", peer.id);
                continue;
            }
            let run = run_measured(built.command(n, args.sleep), timeout)
                .and_then(|run| run.check(&peer.id).map(|()| run))
                .and_then(|run| Ok((Done::parse(&run.stdout)?, run)));
            match run {
                Ok((done, run)) => {
                    let peak = run.peak_rss_bytes;
                    if n == 1 {
                        base = Some(peak);
                    }
                    let per_task = match base {
                        Some(b) if n > 1 => format!("{:.0}", (peak as f64 - b as f64) / n as f64),
                        _ => "-".into(),
                    };
                    println!(
                        "{:<22} {n:>9} {:>11.1} {:>8} {:>9.2} {:>9.2} {per_task:>10}  {}",
                        peer.id,
                        peak as f64 / MIB,
                        format!("{:?}", run.peak_source),
                        run.wall.as_secs_f64(),
                        done.spawn.as_secs_f64(),
                        built.toolchain.version
                    );
                    if let Some(warning) = done.overlap_warning(args.sleep) {
                        println!("{:<22} {n:>9} warning: {warning}", peer.id);
                    }
                }
                Err(e) => println!("{:<22} {n:>9} failed: {e}", peer.id),
            }
        }
    }
    Ok(())
}
