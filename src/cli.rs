//! The `taskmem` command line: list the matrix, measure one case.
//!
//! Exit codes: 0 success; 1 a case was skipped or failed, or a probe could not be read;
//! 2 bad input (one line on stderr, never a usage dump or a backtrace).

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::config::{self, Filter};
use crate::matrix::{self, Case};
use crate::measurement::format_bytes;
use crate::sample::{self, Metric};
use crate::workload::{CaseError, Driver, RunOptions};

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
    },
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

/// Runs the command line; returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            print!("{e}");
            return 0;
        }
        Err(e) => {
            let text = e.to_string();
            let line = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!("taskmem: {line}");
            return 2;
        }
    };
    match cli.command {
        Command::Cases { sizes, filter } => cases(sizes, filter),
        Command::Measure { case, metric, runs } => measure(&case, metric.as_deref(), runs),
    }
}

fn bad_input(message: impl std::fmt::Display) -> i32 {
    eprintln!("taskmem: {message}");
    2
}

fn cases(sizes: Option<String>, filter: Option<String>) -> i32 {
    let sizes = sizes.or_else(|| std::env::var("TASKMEM_SIZES").ok());
    let sizes = match sizes.as_deref().map(config::parse_sizes) {
        Some(Ok(s)) => s,
        Some(Err(e)) => return bad_input(format!("--sizes: {e}")),
        None => matrix::DEFAULT_SIZES.to_vec(),
    };
    let filter = match filter.map(|f| regex::Regex::new(&f).map_err(|_| f)) {
        None => Filter::All,
        Some(Ok(r)) => Filter::Regex(r),
        Some(Err(f)) => {
            return bad_input(format!("--filter '{f}' is not a valid regular expression"));
        }
    };
    for case in matrix::cases(&sizes)
        .iter()
        .filter(|c| filter.matches(&c.id()))
    {
        match crate::limits::check_case(case, &RunOptions::default()) {
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
        None => Metric::default_for(&case),
    };
    if runs == 0 {
        return bad_input("--runs must be at least 1");
    }
    if let Err(why) = matrix::support(case.runtime, case.strategy) {
        return bad_input(format!("{} does not exist: {why}", case.pair().id()));
    }
    if let Err(e) = crate::probe::check() {
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
        let result = sample::measure(&driver, &case, &RunOptions::default())
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
