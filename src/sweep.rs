//! The published methodology, reproduced: `taskmem sweep`.
//!
//! Every case runs in a fresh process (so one case's peak never pollutes the next), every
//! task really sleeps (10 s by default), and the figure is the whole process's peak RSS: the
//! table the public comparisons print, on this machine. Rust cases run in the allocator
//! binaries of [`crate::run`], without `--lateness` (the bare published task, nothing of
//! taskmem's kept per task).
//!
//! The peers in other languages ([`crate::peers`], `peers/`) run the same way, each its own
//! row; a peer whose toolchain is missing is a row saying so, with the install hint.
//!
//! How the peak is read: [`crate::child::run_measured`]. The child's `ru_maxrss` when it is
//! above the sweep's own peak (Linux starts a child's `ru_maxrss` at its parent's mark, so a
//! smaller child would read as the sweep's size: a 300 MiB parent's `/bin/true` reports
//! 313 MiB), else the child's own `VmHWM` polled while it runs.
//!
//! Bytes per task: (peak at N - peak of the same program at N = 1) / N. N = 1 always runs.
//!
//! Output: the table on stdout, a progress line per case on stderr, and
//! `target/taskmem/sweep.json` in the memory summary's shape (pairs of cases, metric `rss`
//! meaning whole-process peak), so `taskmem baseline save NAME --summary
//! target/taskmem/sweep.json` and the report read it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Args;

use crate::progress::Progress;

use crate::matrix::{self, Case, Runtime, Strategy};
use crate::run::{Allocator, RunArgs, RunRecord};
use taskmem::sample::Metric;
use taskmem::summary::{self, CaseSummary, PairSummary, Skip, Stats, Summary};

/// `taskmem sweep`'s options.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Task counts, comma-separated, k/m suffixes (N = 1 always runs: bytes per task are
    /// measured above it).
    #[arg(long, value_delimiter = ',', default_value = "1,10k,100k,1m", value_parser = crate::config::parse_size)]
    pub sizes: Vec<usize>,
    /// Only rows whose id (e.g. `tokio-mt/spawn@system`, `go/goroutines`) matches this
    /// regular expression.
    #[arg(long, value_parser = parse_regex)]
    pub only: Option<regex::Regex>,
    /// How long every task sleeps.
    #[arg(long, default_value = "10s", value_parser = crate::config::parse_duration)]
    pub sleep: Duration,
    /// Allocators of the Rust rows, comma-separated: system (the published programs'),
    /// jemalloc (the Criterion suite's), mimalloc.
    #[arg(long, value_delimiter = ',', default_value = "system")]
    pub allocator: Vec<Allocator>,
    /// Where the results go.
    #[arg(long, default_value_os_t = default_path())]
    pub json: PathBuf,
    /// Leave out the peers in other languages (peers/peers.toml).
    #[arg(long)]
    pub no_peers: bool,
}

fn parse_regex(s: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(s).map_err(|e| {
        format!(
            "'{s}' is not a regular expression: {}",
            e.to_string().lines().last().unwrap_or("")
        )
    })
}

/// Where the sweep writes its results.
pub fn default_path() -> PathBuf {
    summary::target_dir().join("taskmem").join("sweep.json")
}

/// A program the sweep runs at each N.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Row id: `tokio-mt/spawn@system`, `go/goroutines`.
    pub id: String,
    /// What runs it (`rust`, `go`, ...).
    pub language: String,
    /// One OS thread per task: the machine's thread limits apply.
    pub threads: bool,
    /// What the program is, or why it cannot run here.
    pub kind: SubjectKind,
}

/// How a subject runs.
#[derive(Debug, Clone)]
pub enum SubjectKind {
    /// A peer program in another language, built.
    Peer(Box<crate::peers::Built>),
    /// A case of the matrix in an allocator's binary.
    Rust {
        /// The runtime.
        runtime: Runtime,
        /// The strategy.
        strategy: Strategy,
        /// The binary's allocator.
        allocator: Allocator,
    },
    /// Cannot run here; the reason (with an install hint).
    Unavailable(String),
}

/// The Rust rows: every supported runtime x strategy pair with every allocator asked for.
pub fn rust_subjects(allocators: &[Allocator]) -> Vec<Subject> {
    let mut out = Vec::new();
    for &allocator in allocators {
        // Not the bounded strategies: with real sleeps their N tasks pass K at a time, so a
        // run would last N / K sleeps; they are the memory suite's.
        for p in matrix::pairs()
            .into_iter()
            .filter(|p| !p.strategy.bounded())
        {
            out.push(Subject {
                id: format!("{}@{allocator}", p.id()),
                language: "rust".into(),
                threads: p.strategy == Strategy::Threads,
                kind: SubjectKind::Rust {
                    runtime: p.runtime,
                    strategy: p.strategy,
                    allocator,
                },
            });
        }
    }
    out
}

/// The outcome of one row at one N.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Ran: peak RSS (bytes) and wall time.
    Ran {
        /// Peak RSS, bytes.
        peak_rss: u64,
        /// Wall time of the process.
        wall: Duration,
        /// A caveat on the figure (a peer whose tasks took longer to start than to sleep).
        note: Option<String>,
    },
    /// Did not run, and why (a limit, a missing toolchain).
    Skipped(String),
    /// Started and failed.
    Failed(String),
}

/// Runs one subject at `n`.
pub fn run_one(subject: &Subject, n: usize, sleep: Duration) -> Cell {
    if subject.threads {
        if let Err(e) = crate::limits::check_threads(n as u64) {
            return Cell::Skipped(e.to_string().trim_start_matches("skipped: ").to_string());
        }
    }
    let cmd = match &subject.kind {
        SubjectKind::Unavailable(why) => return Cell::Skipped(why.clone()),
        SubjectKind::Peer(built) => {
            // Past a memory limit (a container's cgroup), the kernel would kill it.
            if let Err(why) = built.peer().check_limits(n as u64) {
                return Cell::Skipped(why);
            }
            built.command(n as u64, sleep)
        }
        SubjectKind::Rust {
            runtime,
            strategy,
            allocator,
        } => {
            if let Some(why) = crate::run::serial_sleeps(*runtime, *strategy, n, sleep) {
                return Cell::Skipped(why);
            }
            let case = crate::matrix::Case::new(*runtime, *strategy, n);
            if let Err(e) = crate::limits::check_case(&case, None) {
                return Cell::Skipped(e.to_string().trim_start_matches("skipped: ").to_string());
            }
            let path = match allocator.binary_path() {
                Ok(p) => p,
                Err(e) => return Cell::Failed(e),
            };
            let args = RunArgs {
                runtime: *runtime,
                strategy: *strategy,
                tasks: n,
                sleep,
                allocator: *allocator,
                lateness: false,
                no_lateness: false,
                json: true,
            };
            let mut c = Command::new(path);
            c.args(args.to_args());
            c
        }
    };
    // Generous: the sleep, plus creating and tearing down N tasks on a loaded machine.
    let timeout = sleep * 3 + Duration::from_secs(120);
    let run = match crate::child::run_measured(cmd, timeout) {
        Ok(run) => run,
        Err(e) => return Cell::Failed(e),
    };
    if !run.success() {
        let line = crate::child::last_line(&run.stderr)
            .unwrap_or_else(|| crate::child::ended(&run.status));
        let line = line.trim_start_matches("taskmem: ");
        // A Rust case refused by a limit exits 1 with "skipped:" in its line.
        return match line.split_once("skipped: ") {
            Some((_, why)) => Cell::Skipped(why.to_string()),
            None => Cell::Failed(run.check(&subject.id).err().unwrap_or_default()),
        };
    }
    let note = match &subject.kind {
        SubjectKind::Rust { .. } => match serde_json::from_str::<RunRecord>(run.stdout.trim()) {
            Ok(r) if r.n == n => None,
            Ok(r) => return Cell::Failed(format!("ran {} tasks, not {n}", r.n)),
            Err(e) => return Cell::Failed(format!("unreadable record from the case: {e}")),
        },
        _ => match crate::peers::Done::parse(&run.stdout) {
            Ok(done) if done.n == n as u64 => done.overlap_warning(sleep),
            Ok(done) => return Cell::Failed(format!("ran {} tasks, not {n}", done.n)),
            Err(e) => return Cell::Failed(e),
        },
    };
    Cell::Ran {
        peak_rss: run.peak_rss_bytes,
        wall: run.wall,
        note,
    }
}

/// The peers of `peers/peers.toml`, each prepared (built once, cached) or marked not
/// installed with its install hint. `keep` selects by id before anything is built.
pub fn peer_subjects(keep: impl Fn(&str) -> bool) -> Result<Vec<Subject>, String> {
    let manifest = crate::peers::Manifest::load_default()?;
    let root = crate::peers::default_build_root();
    let mut out = Vec::new();
    for peer in manifest.peers.iter().filter(|p| keep(&p.id)) {
        let language = peer.id.split('/').next().unwrap_or(&peer.id).to_string();
        let kind = match peer.prepare(&root) {
            Ok(crate::peers::Prepared::Ready(built)) => SubjectKind::Peer(built),
            Ok(crate::peers::Prepared::NotInstalled { missing, hint }) => {
                SubjectKind::Unavailable(format!("not installed ({missing}); {hint}"))
            }
            Err(e) => SubjectKind::Unavailable(format!("cannot build: {e}")),
        };
        out.push(Subject {
            id: peer.id.clone(),
            language,
            threads: peer.threads,
            kind,
        });
    }
    Ok(out)
}

/// One row of results: a subject at every N.
#[derive(Debug, Clone)]
pub struct Row {
    /// The subject.
    pub subject: Subject,
    /// (N, outcome), N ascending, N = 1 first.
    pub cells: Vec<(usize, Cell)>,
}

impl Row {
    /// Peak RSS at `n`, if it ran.
    pub fn peak(&self, n: usize) -> Option<u64> {
        self.cells
            .iter()
            .find(|(m, _)| *m == n)
            .and_then(|(_, c)| match c {
                Cell::Ran { peak_rss, .. } => Some(*peak_rss),
                _ => None,
            })
    }

    /// Bytes per task at `n`: (peak(n) - peak(1)) / n.
    pub fn bytes_per_task(&self, n: usize) -> Option<f64> {
        if n <= 1 {
            return None;
        }
        Some((self.peak(n)? as f64 - self.peak(1)? as f64) / n as f64)
    }
}

/// `taskmem sweep`.
pub fn main(args: &SweepArgs) -> i32 {
    let mut sizes = args.sizes.clone();
    sizes.push(1);
    sizes.sort_unstable();
    sizes.dedup();
    let keep = |id: &str| args.only.as_ref().is_none_or(|r| r.is_match(id));
    let mut subjects: Vec<Subject> = rust_subjects(&args.allocator)
        .into_iter()
        .filter(|s| keep(&s.id))
        .collect();
    if !args.no_peers {
        match peer_subjects(keep) {
            Ok(peers) => subjects.extend(peers),
            Err(e) => {
                eprintln!("taskmem: {e}");
                return 2;
            }
        }
    }
    if subjects.is_empty() {
        eprintln!(
            "taskmem: --only matches no row (rows: runtime/strategy@allocator, as `taskmem cases` \
             lists the pairs, and the peers of peers/peers.toml)"
        );
        return 2;
    }
    let started = Instant::now();
    let progress = Progress::new(subjects.len() * sizes.len(), "sweep");
    let mut rows = Vec::new();
    for subject in subjects {
        let mut cells = Vec::new();
        for &n in &sizes {
            progress.case(&format!("{} N={n}", subject.id));
            let cell = run_one(&subject, n, args.sleep);
            if let Cell::Failed(why) = &cell {
                progress.println(&format!("taskmem: {} N={n}: failed: {why}", subject.id));
            }
            progress.inc();
            cells.push((n, cell));
        }
        rows.push(Row { subject, cells });
    }
    progress.finish();
    let elapsed = started.elapsed();
    print!("{}", table(&rows, &sizes));
    let ran: u32 = rows
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|(_, c)| matches!(c, Cell::Ran { .. }))
        .count() as u32;
    let sleeps = args.sleep * ran;
    println!(
        "\nsweep: {} processes in {:.1} s; their sleeps alone take {:.1} s (+{:.1} %)",
        ran,
        elapsed.as_secs_f64(),
        sleeps.as_secs_f64(),
        100.0 * (elapsed.as_secs_f64() / sleeps.as_secs_f64().max(1e-9) - 1.0)
    );
    print!("{}", against_published(&rows, &sizes));
    print!("{}", against_suite(&rows, &sizes));
    let summary = to_summary(&rows, args.sleep);
    let written = serde_json::to_vec_pretty(&summary)
        .map_err(|e| e.to_string())
        .and_then(|json| summary::write_atomic(&args.json, &json));
    match written {
        Ok(()) => println!("taskmem: sweep written to {}", args.json.display()),
        Err(e) => {
            eprintln!("taskmem: cannot write {}: {e}", args.json.display());
            return 1;
        }
    }
    let failed = rows
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|(_, c)| matches!(c, Cell::Failed(_)))
        .count();
    if failed > 0 {
        eprintln!("taskmem: {failed} run(s) failed");
        return 1;
    }
    0
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

fn size_label(n: usize) -> String {
    crate::report::format_count(n as f64)
}

/// The published-style table: peak MiB per row at each N, then bytes per task at the
/// largest N that ran; rows that did not run say why below the table.
pub fn table(rows: &[Row], sizes: &[usize]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = write!(out, "\n{:<36} {:<9}", "peak RSS, MiB", "language");
    for &n in sizes {
        let _ = write!(out, " {:>9}", size_label(n));
    }
    let _ = writeln!(out, " {:>14}", "B/task (at N)");
    let mut notes = Vec::new();
    for r in rows {
        let _ = write!(out, "{:<36} {:<9}", r.subject.id, r.subject.language);
        for (n, cell) in &r.cells {
            let text = match cell {
                Cell::Ran { peak_rss, note, .. } => {
                    if let Some(note) = note {
                        notes.push(format!("{} N={n}: {note}", r.subject.id));
                    }
                    mib(*peak_rss)
                }
                Cell::Skipped(why) => {
                    notes.push(format!("{} N={n}: skipped: {why}", r.subject.id));
                    "skipped".into()
                }
                Cell::Failed(why) => {
                    notes.push(format!("{} N={n}: failed: {why}", r.subject.id));
                    "failed".into()
                }
            };
            let _ = write!(out, " {text:>9}");
        }
        let per = sizes
            .iter()
            .rev()
            .find_map(|&n| {
                r.bytes_per_task(n)
                    .map(|b| format!("{b:.0} ({})", size_label(n)))
            })
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(out, " {per:>14}");
    }
    notes.dedup();
    for n in notes {
        let _ = writeln!(out, "{n}");
    }
    out
}

/// The row of the published Rust program ([`PUBLISHED`], a peer) and the runner's rows of the
/// same case.
pub const PUBLISHED: &str = "rust/tokio";

/// `taskmem run`'s rows of the published Rust program's case (`tokio-mt/spawn@<allocator>`)
/// beside that program itself (the [`PUBLISHED`] peer, glibc malloc): peak RSS at each N both
/// ran, and their ratio. Empty when either row is missing.
pub fn against_published(rows: &[Row], sizes: &[usize]) -> String {
    use std::fmt::Write;
    let Some(published) = rows.iter().find(|r| r.subject.id == PUBLISHED) else {
        return String::new();
    };
    let ours: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.subject.kind,
                SubjectKind::Rust {
                    runtime: Runtime::TOKIO_MT,
                    strategy: Strategy::SPAWN,
                    ..
                }
            )
        })
        .collect();
    if ours.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{:<36} {:>6} {:>12} {:>12} {:>7} {:>10} {:>10} {:>7}\n",
        format!("against the published program ({PUBLISHED})"),
        "N",
        "taskmem MiB",
        "program MiB",
        "ratio",
        "taskmem B",
        "program B",
        "ratio"
    );
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.3}", a / b)
        } else {
            "-".into()
        }
    };
    for r in ours {
        for &n in sizes {
            let (Some(a), Some(b)) = (r.peak(n), published.peak(n)) else {
                continue;
            };
            let (pa, pb) = (r.bytes_per_task(n), published.bytes_per_task(n));
            let per = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
            let per_ratio = match (pa, pb) {
                (Some(x), Some(y)) => ratio(x, y),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:<36} {:>6} {:>12} {:>12} {:>7} {:>10} {:>10} {:>7}",
                r.subject.id,
                size_label(n),
                mib(a),
                mib(b),
                ratio(a as f64, b as f64),
                per(pa),
                per(pb),
                per_ratio
            );
        }
    }
    out.push_str(
        "(B: bytes per task, the growth of the peak from N = 1, per task; the peaks also hold \
         each program's own code and start-up, a constant)\n",
    );
    out
}

/// For the Rust async rows on jemalloc: the sweep's bytes per task at the largest N beside
/// the Criterion suite's resident bytes per task (from `target/taskmem/summary.json`).
pub fn against_suite(rows: &[Row], sizes: &[usize]) -> String {
    use std::fmt::Write;
    let Some(&largest) = sizes.last() else {
        return String::new();
    };
    let jemalloc: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            matches!(r.subject.kind, SubjectKind::Rust { allocator: Allocator::Jemalloc, strategy, .. } if strategy != Strategy::Threads)
        })
        .collect();
    if jemalloc.is_empty() || largest < 2 {
        return String::new();
    }
    if largest < 100_000 {
        return format!(
            "\nagainst the Criterion suite: not compared at N = {largest} (whole-process RSS \
             moves by pages and thread stacks; compare at N = 100K or more)\n"
        );
    }
    let suite = match summary::load(&summary::default_path()) {
        Ok(s) => s,
        Err(e) => {
            return format!("\nagainst the Criterion suite: no suite figures to compare ({e})\n");
        }
    };
    let mut out = format!(
        "\n{:<36} {:>14} {:>14} {:>8}\n",
        format!("bytes per task at N={}", size_label(largest)),
        "sweep (RSS)",
        "suite (resident)",
        "ratio"
    );
    for r in jemalloc {
        let SubjectKind::Rust {
            runtime, strategy, ..
        } = r.subject.kind
        else {
            continue;
        };
        let pair = format!("{}/{}", runtime.id(), strategy.id());
        let suite_bpt = suite
            .pairs
            .iter()
            .find(|p| p.id == pair)
            .and_then(|p| p.bytes_per_task.get("resident").copied());
        let sweep_bpt = r.bytes_per_task(largest);
        let cell = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        let ratio = match (sweep_bpt, suite_bpt) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<36} {:>14} {:>14} {:>8}",
            r.subject.id,
            cell(sweep_bpt),
            cell(suite_bpt),
            ratio
        );
    }
    out
}

/// The sweep in the memory summary's shape: a pair per row (id `<row id>`), a case per N
/// that ran (id `<row id>/<N>`, metric `rss` = whole-process peak), skips with reasons.
pub fn to_summary(rows: &[Row], sleep: Duration) -> Summary {
    let mut pairs = Vec::new();
    let mut skipped = Vec::new();
    for r in rows {
        let mut cases = Vec::new();
        for (n, cell) in &r.cells {
            let id = format!("{}/{n}", r.subject.id);
            match cell {
                Cell::Ran { peak_rss, wall, .. } => {
                    let v = *peak_rss as f64;
                    let mut metrics = BTreeMap::new();
                    metrics.insert("peak_rss".to_string(), Stats::of(&[v]));
                    if let Some(b) = r.bytes_per_task(*n) {
                        metrics.insert("growth_per_task".to_string(), Stats::of(&[b]));
                    }
                    metrics.insert(
                        "wall_ms".to_string(),
                        Stats::of(&[wall.as_secs_f64() * 1e3]),
                    );
                    cases.push(CaseSummary {
                        id,
                        n: *n,
                        metric: Metric::Rss,
                        runs: 1,
                        value: Stats::of(&[v]),
                        per_task: r.bytes_per_task(*n).unwrap_or(v / *n as f64),
                        below_resolution: false,
                        values: vec![*peak_rss],
                        metrics,
                        large_allocations: None,
                        runtime: None,
                        future_size: None,
                        future_type: None,
                        sites: None,
                        sites_from: None,
                    });
                }
                Cell::Skipped(why) | Cell::Failed(why) => skipped.push(Skip {
                    id,
                    reason: why.clone(),
                }),
            }
        }
        let mut bytes_per_task = BTreeMap::new();
        if let Some(b) = r.cells.iter().rev().find_map(|(n, _)| r.bytes_per_task(*n)) {
            bytes_per_task.insert("rss".to_string(), b);
        }
        pairs.push(PairSummary {
            id: r.subject.id.clone(),
            runtime: format!(
                "{} (sleep {:?}, fresh process per N)",
                r.subject.language, sleep
            ),
            future_size: match r.subject.kind {
                SubjectKind::Rust {
                    runtime, strategy, ..
                } => crate::workload::future_size(&Case::new(runtime, strategy, 1)),
                SubjectKind::Peer(_) | SubjectKind::Unavailable(_) => None,
            },
            bytes_per_task,
            cases,
            payload: None,
            bound: None,
            breakdown: None,
            bytes_per_live_task: None,
            bill: None,
        });
    }
    let mut s = summary::merge(None, Vec::new(), Vec::new(), None);
    s.tool = format!("taskmem sweep {}", env!("CARGO_PKG_VERSION"));
    s.pairs = pairs;
    s.skipped = skipped;
    s.unsupported.clear();
    s
}
