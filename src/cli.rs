//! The `taskmem` command line: list the matrix, measure one case, save a baseline, compare
//! a run with one (the regression gate), and write the report (HTML, markdown, SVG charts).
//!
//! Exit codes: 0 success; 1 a case regressed (compare), was skipped or failed, or a probe
//! could not be read; 2 bad input, including a missing, corrupt or newer-format baseline
//! (one line on stderr naming the file, never a usage dump or a backtrace).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::baseline;
use crate::config::{self, Filter};
use crate::matrix::{self, Case};
use crate::report::{self, markdown, memory};
use crate::workload::{CaseError, Driver, RunOptions};
use taskmem::format_bytes;
use taskmem::sample::Metric;
use taskmem::summary;

/// taskmem: how much memory N concurrent tasks take, per runtime and spawn strategy.
#[derive(Debug, Parser)]
#[command(name = "taskmem", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the matrix: every case at the given sizes, and what this machine would skip.
    Cases {
        /// Task counts, comma-separated, with k/m suffixes [default: TASKMEM_SIZES or 1,10k,100k,1m].
        #[arg(long)]
        sizes: Option<String>,
        /// Only cases whose id matches this regular expression.
        #[arg(long)]
        filter: Option<String>,
        /// Payload cases: off, default, all, or payloads such as p1024-inline,p4096-heap
        /// [default: TASKMEM_PAYLOAD or default].
        #[arg(long)]
        payload: Option<String>,
        /// K of the bounded strategies [default: TASKMEM_BOUND or 1000].
        #[arg(long)]
        bound: Option<String>,
    },
    /// Save the latest run (target/taskmem/summary.json) as a baseline.
    Baseline {
        #[command(subcommand)]
        action: BaselineAction,
    },
    /// Compare the latest run with a saved baseline; exit 1 if any case regressed.
    ///
    /// Rows: baseline, current, change in bytes and percent, verdict (regressed, improved,
    /// unchanged, new, removed). A change counts when it passes both the relative threshold
    /// and the absolute noise floor, from --threshold/--floor or the thresholds file
    /// (target-baselines/thresholds.toml: defaults, then rules per case regex and metric).
    Compare(CompareOptions),
    /// Run one case in its own process the published way: every task really sleeps, and the
    /// process's peak RSS and wall time are reported (wake-up lateness with `--lateness`).
    ///
    /// The case runs in the binary of the chosen allocator (taskmem-run-system, -jemalloc,
    /// -mimalloc, built beside taskmem by `cargo build --release --bins`), which replaces
    /// this process.
    Run(crate::run::RunArgs),
    /// Run every case in a fresh process (and the peers in other languages), the published
    /// way, and print the table: peak MiB per runtime or language at each N, bytes per task.
    Sweep(crate::sweep::SweepArgs),
    /// Write the report of the latest run: an HTML page with charts and tables next to
    /// Criterion's report, markdown tables, or the charts as SVG files.
    ///
    /// With neither --markdown nor --svg, writes the page to
    /// target/criterion/taskmem/index.html (or --out). With either, writes the page only when
    /// --out is given.
    Report(ReportOptions),
    /// The bill of one task, for the cases of your own bench: the future's states and the
    /// locals each holds (from the compiler's layouts), the runtime's share, the rest, and
    /// what to change.
    ///
    /// Compiles the bench target once with rustc's -Zprint-type-sizes (RUSTC_BOOTSTRAP=1, said
    /// when it runs), runs the bench (unless --no-run), then prints the bill of every pair of
    /// its cases in the summary.
    Bill(BillOptions),
    /// Measure one case (runtime/strategy/N) a few times and print every counter.
    Measure {
        /// The case, e.g. tokio-mt/spawn/100000 (N takes k/m suffixes).
        case: String,
        /// The metric to report: resident, allocated or rss [default: the case's].
        #[arg(long)]
        metric: Option<String>,
        /// How many runs.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

#[derive(Debug, Subcommand)]
enum BaselineAction {
    /// Save the latest run as target-baselines/NAME.json (atomically: an interrupted save
    /// keeps the previous file).
    Save {
        /// The baseline's name: letters, digits, '.', '_', '-'.
        name: String,
        /// The run to save [default: target/taskmem/summary.json].
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
        /// Where baselines live.
        #[arg(long, default_value = baseline::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

/// Prints the first line of a command-line error as `taskmem: ...` and returns exit code 2
/// (it lives in [`crate::run`], which the allocator binaries parse with too).
pub use crate::gate::{CompareOptions, Format, compare};
pub use crate::run::usage_error;

/// Runs the command line; returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli: Cli = match crate::run::parse_command_line(args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Command::Cases {
            sizes,
            filter,
            payload,
            bound,
        } => cases(sizes, filter, payload, bound),
        Command::Measure { case, metric, runs } => measure(&case, metric.as_deref(), runs),
        Command::Baseline {
            action: BaselineAction::Save { name, summary, dir },
        } => save(&name, summary, &dir),
        Command::Compare(options) => compare(&options),
        Command::Run(args) => crate::run::exec(&args),
        Command::Sweep(args) => crate::sweep::main(&args),
        Command::Report(options) => write_report(&options),
        Command::Bill(options) => bill(&options),
    }
}

/// What `taskmem bill` reads and runs.
#[derive(Debug, Clone, clap::Args)]
pub struct BillOptions {
    /// The bench target whose cases to bill (its `[[bench]]` name).
    #[arg(long)]
    pub bench: String,
    /// The bench's package [default: the one in the current directory].
    #[arg(long, value_name = "FILE")]
    pub manifest_path: Option<PathBuf>,
    /// Only pairs whose id, or one of whose case ids, matches this regular expression (also
    /// passed to the bench as Criterion's filter).
    #[arg(long)]
    pub filter: Option<String>,
    /// Cargo features to build the bench with (`connections` for the suite's idle
    /// connections), as `cargo bench --features` takes them.
    #[arg(long)]
    pub features: Option<String>,
    /// Bill the cases already in the summary; do not run the bench.
    #[arg(long)]
    pub no_run: bool,
    /// The cargo profile the layouts are compiled in (`test` reuses what `cargo test` built;
    /// a layout is matched to the measured future by its size, so a profile that laid the
    /// future out differently is said, not used).
    #[arg(long, default_value = "bench")]
    pub profile: String,
    /// The summary to read [default: target/taskmem/summary.json beside the bench's package].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}

/// `taskmem bill`: the compiler's layouts, the bench's run, then each pair's bill.
fn bill(o: &BillOptions) -> i32 {
    let filter = match o.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(f) => f,
        Err(e) => {
            // regex's message spans lines (the pattern, a caret, the error): its last says it.
            let e = e.to_string();
            let why = e.lines().last().unwrap_or("").trim_start_matches("error: ");
            eprintln!(
                "taskmem: --filter '{}': {why}",
                o.filter.as_deref().unwrap_or("")
            );
            return 2;
        }
    };
    println!("{}", crate::layouts::NOTICE);
    let build = match crate::layouts::of_bench(
        o.manifest_path.as_deref(),
        &o.bench,
        &o.profile,
        o.features.as_deref(),
    ) {
        Ok(build) => build,
        Err(e) => {
            eprintln!("taskmem: {e}");
            return 1;
        }
    };
    let layouts = crate::bill::layout::parse(&build.layouts);
    if !o.no_run {
        let Some(exe) = &build.executable else {
            eprintln!(
                "taskmem: cargo named no executable for the bench {}",
                o.bench
            );
            return 1;
        };
        // The executable the layouts came from (with line tables for the sites), run as
        // `cargo bench` runs it, with each case followed by a site recording.
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--bench").env(taskmem::SITES_ENV, "1");
        if let Some(dir) = &build.package_dir {
            cmd.current_dir(dir);
        }
        if let Some(f) = &o.filter {
            cmd.arg(f);
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("taskmem: the bench {} failed ({s})", o.bench);
                return 1;
            }
            Err(e) => {
                eprintln!("taskmem: cannot run the bench {}: {e}", exe.display());
                return 1;
            }
        }
    }
    let path = o.summary.clone().unwrap_or_else(|| match &o.manifest_path {
        Some(m) if std::env::var_os("CARGO_TARGET_DIR").is_none() => m
            .parent()
            .unwrap_or(Path::new("."))
            .join("target/taskmem/summary.json"),
        _ => summary::default_path(),
    });
    let s = match summary::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("taskmem: {e}");
            return 1;
        }
    };
    let pairs: Vec<_> = s
        .pairs
        .iter()
        .filter(|p| p.cases.iter().any(|c| c.future_type.is_some()))
        // The filter is Criterion's, on case ids: a pair is in when it or one of its cases
        // matches.
        .filter(|p| {
            filter
                .as_ref()
                .is_none_or(|f| f.is_match(&p.id) || p.cases.iter().any(|c| f.is_match(&c.id)))
        })
        // After a run, the pairs it recorded (the summary keeps other benches' too).
        .filter(|p| {
            o.no_run
                || p.cases.iter().any(|c| {
                    c.sites_from.is_some()
                        && c.sites_from.as_deref().map(Path::new) == build.executable.as_deref()
                })
        })
        .collect();
    if pairs.is_empty() {
        eprintln!(
            "taskmem: no pair in {} records its future's type{}: run the bench with this \
             taskmem first",
            path.display(),
            o.filter
                .as_deref()
                .map(|f| format!(" and matches '{f}'"))
                .unwrap_or_default()
        );
        return 1;
    }
    let root = build
        .package_dir
        .as_deref()
        .map(|d| d.to_string_lossy().into_owned());
    let mut records = BTreeMap::new();
    for p in pairs {
        println!();
        let sites = pair_sites(p, build.executable.as_deref(), root.as_deref());
        let bill = crate::bill::of(p, &layouts, sites);
        for line in bill.lines() {
            println!("{line}");
        }
        records.insert(p.id.clone(), (p.cases.clone(), bill.record()));
    }
    println!();
    match record_bills(&path, records) {
        Ok(n) => println!(
            "taskmem: {n} bill{} written to {} (each pair's `bill`; `taskmem report` draws \
             them)",
            if n == 1 { "" } else { "s" },
            path.display()
        ),
        Err(e) => {
            eprintln!("taskmem: the bills were printed but not kept: {e}");
            return 1;
        }
    }
    0
}

/// Writes each pair's bill into the summary at `path`, under its lock and atomically (a
/// bench writing the summary meanwhile is waited for; a pair it measured again meanwhile
/// keeps no bill, its cases no longer being the billed ones). Returns how many were kept.
fn record_bills(
    path: &Path,
    mut records: BTreeMap<String, (Vec<summary::CaseSummary>, crate::bill::Record)>,
) -> Result<usize, String> {
    let _lock = summary::journal::lock(path)?;
    let mut s = summary::load(path)?;
    let mut kept = 0;
    for p in &mut s.pairs {
        if let Some((_, r)) = records.remove(&p.id).filter(|(cases, _)| *cases == p.cases) {
            p.bill =
                Some(serde_json::to_value(r).map_err(|e| format!("cannot encode a bill: {e}"))?);
            kept += 1;
        }
    }
    summary::save(path, &s)?;
    Ok(kept)
}

/// The allocation sites of a pair's cases, per task and named from `exe`; why not, when the
/// run recorded none or they cannot be named.
fn pair_sites(
    pair: &summary::PairSummary,
    exe: Option<&Path>,
    root: Option<&str>,
) -> Result<Vec<crate::bill::sites::SiteShare>, String> {
    let cases: Vec<(usize, &[taskmem::sites::Site])> = pair
        .cases
        .iter()
        .filter_map(|c| Some((c.n, c.sites.as_deref()?)))
        .collect();
    if cases.is_empty() {
        return Err(
            "the summary holds none for this pair (a run without taskmem bill, or \
                    --no-run after one)"
                .into(),
        );
    }
    let exe = exe.ok_or("cargo named no executable to name them from")?;
    let this = exe.to_string_lossy();
    if let Some(other) = pair
        .cases
        .iter()
        .filter_map(|c| c.sites_from.as_deref())
        .find(|from| *from != this)
    {
        return Err(format!(
            "recorded by another executable ({other}): bill that bench, or run without \
             --no-run"
        ));
    }
    let addresses = crate::bill::sites::addresses(cases.iter().flat_map(|(_, s)| s.iter()));
    let frames = crate::symbols::resolve(exe, &addresses)?;
    Ok(crate::bill::sites::shares(&cases, &frames, root))
}

/// What `taskmem report` writes.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportOptions {
    /// The run to report [default: target/taskmem/summary.json].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Add each case's change against this saved baseline (target-baselines/NAME.json).
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Print the report's tables as markdown on stdout (for a README or a PR comment).
    #[arg(long)]
    pub markdown: bool,
    /// Write each chart as `DIR/<chart>.svg`.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Write the HTML page here [default: target/criterion/taskmem/index.html].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where baselines live.
    #[arg(long, default_value = baseline::DEFAULT_DIR)]
    pub dir: PathBuf,
}

/// Writes the report; returns 0, 1 (an output could not be written) or 2 (bad input: a
/// missing or corrupt summary or baseline).
pub fn write_report(o: &ReportOptions) -> i32 {
    let path = o.summary.clone().unwrap_or_else(summary::default_path);
    let s = match summary::load(&path) {
        Ok(s) => s,
        Err(e) => return bad_input(format!("{e} (run `cargo bench` first)")),
    };
    let comparison = match &o.baseline {
        Some(name) => match memory::compare(&s, &o.dir, name) {
            Ok(c) => Some(c),
            Err(e) => return bad_input(e),
        },
        None => None,
    };
    let page = o.out.clone().or_else(|| {
        (!o.markdown && o.svg.is_none())
            .then(|| report::page_path(&baseline::criterion_home_for(&path)))
    });
    let link = page.as_deref().and_then(report::criterion_link);
    let sources = report::sources::Sources::load(path.parent().unwrap_or(Path::new(".")));
    let mut r = memory::report(&s, &path, comparison.as_ref(), link, sources.sweep());
    r.sections.extend(report::sources::breakdown_section(&s));
    report::sources::add(&mut r, &sources);
    // With --markdown, stdout holds the markdown only.
    let status = |line: String| {
        if o.markdown {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if let Some(dir) = &o.svg {
        match report::write_svgs(&r, dir) {
            Ok(files) => status(format!(
                "taskmem: {} charts written to {}",
                files.len(),
                dir.display()
            )),
            Err(e) => {
                eprintln!("taskmem: {e}");
                return 1;
            }
        }
    }
    if let Some(file) = &page {
        match report::write_page(&r, file) {
            Ok(()) => status(format!("taskmem: report written to {}", file.display())),
            Err(e) => {
                eprintln!("taskmem: {e}");
                return 1;
            }
        }
    }
    if o.markdown {
        print!("{}", markdown::render(&r, o.svg.as_deref()));
    }
    0
}

fn save(name: &str, summary: Option<PathBuf>, dir: &Path) -> i32 {
    if let Err(e) = baseline::check_name(name) {
        return bad_input(e);
    }
    let path = summary.unwrap_or_else(summary::default_path);
    let summary = match summary::load(&path) {
        Ok(s) => s,
        Err(e) => return bad_input(format!("{e} (run `cargo bench` first)")),
    };
    let home = baseline::criterion_home_for(&path);
    let b = baseline::from_summary(name, &summary, Some(&home));
    match baseline::save(dir, &b) {
        Ok(file) => {
            println!(
                "taskmem: saved {} cases to {}",
                b.cases.len(),
                file.display()
            );
            0
        }
        Err(e) => {
            eprintln!("taskmem: {e}");
            1
        }
    }
}

fn bad_input(message: impl std::fmt::Display) -> i32 {
    eprintln!("taskmem: {message}");
    2
}

fn cases(
    sizes: Option<String>,
    filter: Option<String>,
    payload: Option<String>,
    bound: Option<String>,
) -> i32 {
    let sizes = sizes.or_else(|| std::env::var("TASKMEM_SIZES").ok());
    let sizes = match sizes.as_deref().map(config::parse_sizes) {
        Some(Ok(s)) => s,
        Some(Err(e)) => return bad_input(format!("--sizes: {e}")),
        None => matrix::DEFAULT_SIZES.to_vec(),
    };
    let payload = payload.or_else(|| std::env::var("TASKMEM_PAYLOAD").ok());
    let payload = match payload.as_deref().map(str::parse::<config::PayloadSet>) {
        Some(Ok(p)) => p,
        Some(Err(e)) => return bad_input(format!("--payload: {e}")),
        None => config::PayloadSet::Default,
    };
    let bound = bound.or_else(|| std::env::var("TASKMEM_BOUND").ok());
    let bound = match bound.as_deref().map(config::parse_bound) {
        Some(Ok(k)) => k,
        Some(Err(e)) => return bad_input(format!("--bound: {e}")),
        None => matrix::DEFAULT_BOUND,
    };
    let filter = match filter.map(|f| regex::Regex::new(&f).map_err(|_| f)) {
        None => Filter::All,
        Some(Ok(r)) => Filter::Regex(r),
        Some(Err(f)) => {
            return bad_input(format!("--filter '{f}' is not a valid regular expression"));
        }
    };
    let mut all = matrix::cases_bounded(&sizes, bound);
    all.extend(payload.cases(&sizes));
    all.sort_unstable();
    all.dedup();
    for case in all.iter().filter(|c| filter.matches(&c.id())) {
        match crate::limits::check_case(case, None) {
            Ok(()) => println!("{}", case.id()),
            Err(e) => println!("{}  ({e})", case.id()),
        }
    }
    for (pair, why) in matrix::unsupported() {
        if filter.matches(&pair.id()) {
            println!("{}  (not available: {why})", pair.id());
        }
    }
    0
}

fn measure(case: &str, metric: Option<&str>, runs: usize) -> i32 {
    let case: Case = match case.parse() {
        Ok(c) => c,
        Err(e) => return bad_input(e),
    };
    let metric = match metric.map(str::parse::<Metric>) {
        Some(Ok(m)) => m,
        Some(Err(e)) => return bad_input(e),
        None => case.default_metric(),
    };
    if runs == 0 {
        return bad_input("--runs must be at least 1");
    }
    if let Err(why) = matrix::support(case.runtime, case.strategy) {
        return bad_input(format!("{} does not exist: {why}", case.pair().id()));
    }
    if let Err(e) = taskmem::probe::check() {
        eprintln!("taskmem: {e}");
        return 1;
    }
    let driver = match Driver::new(case.runtime) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("taskmem: {}: {e}", case.id());
            return 1;
        }
    };
    for run in 1..=runs {
        let result = crate::workload::measure(&driver, &case, &RunOptions::default())
            .and_then(|s| Ok((s, s.value(metric)?)));
        match result {
            Ok((s, v)) => println!(
                "{} run {run}: {} [{metric}{}] = {} per task | resident {} | allocated {} | usable {} | rss {}",
                case.id(),
                format_bytes(v.bytes as f64),
                if v.below_resolution {
                    ", below page resolution: exact bytes"
                } else {
                    ""
                },
                format_bytes(v.bytes as f64 / case.n as f64),
                format_bytes(s.resident as f64),
                format_bytes(s.requested as f64),
                format_bytes(s.usable as f64),
                format_bytes(s.rss as f64),
            ),
            Err(CaseError::Skipped(why)) => {
                eprintln!("taskmem: {} skipped: {why}", case.id());
                return 1;
            }
            Err(e) => {
                eprintln!("taskmem: {}: {e}", case.id());
                return 1;
            }
        }
    }
    0
}
