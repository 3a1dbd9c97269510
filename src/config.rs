//! Suite settings from the environment and the bench's command line, checked before anything
//! runs so that bad input ends with a one-line error and exit code 2.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TASKMEM_SIZES` | task counts, comma-separated; `k`/`m` suffixes (`1,10k,100k,1m`) | `1,10k,100k,1m` |
//! | `TASKMEM_METRIC` | `resident`, `allocated` or `rss` for every case | `resident` (async), `rss` (threads) |
//! | `TASKMEM_COMPARE` | after the run, compare with `target-baselines/<NAME>.json`; exit 1 on a regression | none |
//! | `TASKMEM_PAYLOAD` | the payload dimension: `off`, `default` (a reduced set at N = 1K, 10K: [`matrix::default_payload_cases`]), `all` (every default payload on every async pair at `TASKMEM_SIZES`), or a list of payloads (`p1024-inline,p4096-heap`) run on every async pair at `TASKMEM_SIZES` | `default` |
//! | `TASKMEM_BOUND` | K of the bounded strategies (`buffer_unordered`, `semaphore`); written in their ids (`k1000`) | `1000` |
//! | `TASKMEM_SITES` | `1`: each case is followed by one run that records where its tasks' heap was allocated, kept in the summary for `taskmem bill --bench memory` | off |
//! | `TASKMEM_JOBS` | how many processes run cases at once ([`crate::jobs`]); `1` runs every case in the bench's own process | one per core, fewer when memory is short |
//!
//! The command line is Criterion's; taskmem reads its filter (a regex matched anywhere in
//! the case id, or an exact id with `--exact`; `--ignored` selects nothing) to run only the
//! cases Criterion will report, and how Criterion runs ([`Mode`]: `--list`, `--help`, test
//! mode). Every bench of the project checks its filter with [`select`] before it measures
//! anything: a filter that matches none of the bench's cases is one line naming it and exit
//! code 2, with no file written and no earlier result printed.

use std::path::Path;

use regex::Regex;

use crate::matrix::{self, Case, DEFAULT_BOUND, DEFAULT_SIZES, Payload};
use taskmem::sample::Metric;

pub use crate::matrix::{MAX_TASKS, parse_size};

/// Parses a duration: `10s`, `10ms`, `1m 30s`, `500us` (humantime's syntax); it must be
/// more than zero.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration ({e}; examples: 10s, 10ms, 1m)"))?;
    if d.is_zero() {
        return Err(format!("duration '{text}' must be more than zero"));
    }
    Ok(d)
}

/// Parses a comma-separated list of task counts.
pub fn parse_sizes(text: &str) -> Result<Vec<usize>, String> {
    if text.trim().is_empty() {
        return Err("the size list is empty (example: 1,10k,100k,1m)".into());
    }
    let mut sizes = text
        .split(',')
        .map(parse_size)
        .collect::<Result<Vec<_>, _>>()?;
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

/// Which payload cases run (`TASKMEM_PAYLOAD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadSet {
    /// None.
    Off,
    /// The reduced default set ([`matrix::default_payload_cases`]), at its own two sizes.
    Default,
    /// Every default payload ([`Payload::defaults`]) on every async pair, at the run's sizes.
    All,
    /// These payloads on every async pair, at the run's sizes.
    List(Vec<Payload>),
}

impl std::str::FromStr for PayloadSet {
    type Err = String;
    /// `off`, `default`, `all`, or a comma-separated list of payloads.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "off" | "none" => Ok(PayloadSet::Off),
            "default" => Ok(PayloadSet::Default),
            "all" => Ok(PayloadSet::All),
            "" => Err(
                "empty (valid: off, default, all, or payloads such as p1024-inline,p4096-heap)"
                    .into(),
            ),
            list => {
                let mut payloads = list
                    .split(',')
                    .map(|p| p.trim().parse::<Payload>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        format!("{e}; valid: off, default, all, or payloads such as p1024-inline,p4096-heap")
                    })?;
                payloads.sort_unstable();
                payloads.dedup();
                Ok(PayloadSet::List(payloads))
            }
        }
    }
}

impl PayloadSet {
    /// The payload cases this selection runs, given the run's sizes.
    pub fn cases(&self, sizes: &[usize]) -> Vec<Case> {
        match self {
            PayloadSet::Off => Vec::new(),
            PayloadSet::Default => matrix::default_payload_cases(),
            PayloadSet::All => matrix::payload_cases(&Payload::defaults(), sizes),
            PayloadSet::List(list) => matrix::payload_cases(list, sizes),
        }
    }
}

/// Parses `TASKMEM_JOBS`: a whole number of processes, at least 1.
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|&j| j >= 1)
        .ok_or_else(|| format!("'{text}' is not a number of processes (a whole number, 1 or more)"))
}

/// Parses `TASKMEM_BOUND`: K, at least 1 (`1000`, `1k`).
pub fn parse_bound(text: &str) -> Result<usize, String> {
    parse_size(text).map_err(|e| format!("bound K: {e}"))
}

/// Which cases Criterion will run, mirroring its filter semantics.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every case.
    All,
    /// Cases whose id the regex matches anywhere.
    Regex(Regex),
    /// The case with exactly this id (`--exact`).
    Exact(String),
    /// No case (`--ignored`: the project's benches have no ignored case).
    Nothing,
}

impl Filter {
    /// Whether the case with this id runs.
    pub fn matches(&self, id: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Regex(r) => r.is_match(id),
            Filter::Exact(e) => e == id,
            Filter::Nothing => false,
        }
    }
}

/// How Criterion runs the bench, from its command line (Criterion's own rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench` (`--bench`), also with `--profile-time`: the cases are measured.
    Bench,
    /// Without `--bench` (`cargo test --benches`, `--all-targets`), or with `--test`: each
    /// case runs once, as a test.
    Test,
    /// `--list`: Criterion lists the cases; nothing runs.
    List,
    /// `--help` or `-h`: Criterion prints its help and exits; nothing runs.
    Help,
}

impl Mode {
    /// Whether nothing is run (`--list`, `--help`).
    pub fn runs_nothing(self) -> bool {
        matches!(self, Mode::List | Mode::Help)
    }
}

/// Why a bench runs none of its cases: [`select`]'s answer when the filter leaves none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCase {
    /// The line to print (`taskmem: ` is added), or `None` to end in silence.
    pub message: Option<String>,
    /// The exit code: 2 for a filter that matches nothing in a bench run, otherwise 0.
    pub code: i32,
}

impl NoCase {
    /// Prints the line (on stderr for an error, on stdout otherwise) and ends the process.
    pub fn exit(self) -> ! {
        match self.message {
            Some(m) if self.code != 0 => crate::fail::exit_with(&m, self.code),
            Some(m) => println!("taskmem: {m}"),
            None => {}
        }
        std::process::exit(self.code)
    }
}

/// The cases of `all` (every case the bench `bench` has at this configuration, before the
/// filter) that `filter` selects, in their order; an error when it selects none:
///
/// - a filter that matches no case, in a bench run: one line naming the filter, an example
///   id and how to list them, exit code 2 (the bench then writes nothing: no summary, no
///   report, no earlier result printed as if it were this run's);
/// - the same in test mode (`cargo test --benches -- NAME`, where cargo gives every test and
///   bench binary the same filter, and a binary without NAME is not an error): the line on
///   stdout, exit code 0;
/// - `--ignored` ([`Filter::Nothing`]): nothing to run, exit code 0 in silence, as
///   Criterion.
///
/// With `--list` or `--help` the selection is `Ok`, empty or not: the list is what the filter
/// matches, and Criterion prints its help whatever the filter.
pub fn select(filter: &Filter, mode: Mode, bench: &str, all: &[Case]) -> Result<Vec<Case>, NoCase> {
    let selected: Vec<Case> = all
        .iter()
        .filter(|c| filter.matches(&c.id()))
        .copied()
        .collect();
    if !selected.is_empty() || mode.runs_nothing() {
        return Ok(selected);
    }
    // The suite's best-known case, at the bench's largest N.
    let example = all
        .iter()
        .filter(|c| {
            c.runtime == matrix::Runtime::TOKIO_MT
                && c.strategy == matrix::Strategy::SPAWN
                && c.payload.is_none()
        })
        .max_by_key(|c| c.n)
        .or(all.last())
        .map_or_else(|| "tokio-mt/spawn/10000".to_string(), Case::id);
    Err(no_case(filter, mode, bench, &example))
}

/// [`select`] over a bench's case ids (any bench, whatever its ids are made of); `example` is
/// the id the message shows.
pub fn select_ids(
    filter: &Filter,
    mode: Mode,
    bench: &str,
    all: &[String],
    example: &str,
) -> Result<Vec<String>, NoCase> {
    let selected: Vec<String> = all
        .iter()
        .filter(|id| filter.matches(id))
        .cloned()
        .collect();
    if !selected.is_empty() || mode.runs_nothing() {
        return Ok(selected);
    }
    Err(no_case(filter, mode, bench, example))
}

/// What a bench says when `filter` selects none of its cases (a list may be empty, and
/// Criterion prints its help whatever the filter: the callers return those as `Ok`).
fn no_case(filter: &Filter, mode: Mode, bench: &str, example: &str) -> NoCase {
    let what = match filter {
        Filter::Regex(r) => format!("the filter '{}'", r.as_str()),
        Filter::Exact(e) => format!("the exact filter '{e}'"),
        // `--ignored` (or a bench without cases): nothing to run, and nothing wrong.
        Filter::All | Filter::Nothing => {
            return NoCase {
                message: None,
                code: 0,
            };
        }
    };
    let message =
        format!("no case matches {what} (ids look like {example}; `{bench} -- --list` lists them)");
    match mode {
        Mode::Test => NoCase {
            message: Some(format!("{message}; nothing to test")),
            code: 0,
        },
        _ => NoCase {
            message: Some(message),
            code: 2,
        },
    }
}

/// Everything the suite takes from its environment and arguments.
#[derive(Debug, Clone)]
pub struct Config {
    /// Task counts to run.
    pub sizes: Vec<usize>,
    /// The metric for every case; `None` is each case's default ([`Case::default_metric`]).
    pub metric: Option<Metric>,
    /// Criterion's filter.
    pub filter: Filter,
    /// How Criterion runs (`--list`, `--help`, test mode, a bench run).
    pub mode: Mode,
    /// Criterion's sample count (`--sample-size`, default [`taskmem::SAMPLE_SIZE`]).
    pub sample_size: usize,
    /// `TASKMEM_COMPARE`: the baseline to gate the run against.
    pub compare: Option<String>,
    /// `TASKMEM_PAYLOAD`: the payload cases to run beside the matrix.
    pub payload: PayloadSet,
    /// `TASKMEM_BOUND`: K of the bounded strategies.
    pub bound: usize,
    /// `TASKMEM_JOBS`: processes running cases at once; `None` lets [`crate::jobs::count`]
    /// choose.
    pub jobs: Option<usize>,
    /// `TASKMEM_SITES` (set, not `0`): each case is followed by one run that records its
    /// allocation sites into the summary, for `taskmem bill`.
    pub sites: bool,
}

impl Config {
    /// Reads `TASKMEM_SIZES`, `TASKMEM_METRIC` and the bench's arguments.
    pub fn from_env_and_args(args: &[String]) -> Result<Config, String> {
        let var = |name: &str| std::env::var(name).ok();
        let mut config = Config::from_parts(
            var("TASKMEM_SIZES").as_deref(),
            var("TASKMEM_METRIC").as_deref(),
            args,
        )?
        .with_dimensions(
            var("TASKMEM_PAYLOAD").as_deref(),
            var("TASKMEM_BOUND").as_deref(),
        )?;
        config.sites = var(taskmem::SITES_ENV).is_some_and(|v| v != "0");
        if let Some(jobs) = var("TASKMEM_JOBS") {
            config.jobs = Some(parse_jobs(&jobs).map_err(|e| format!("TASKMEM_JOBS: {e}"))?);
        }
        if let Some(name) = var("TASKMEM_COMPARE") {
            crate::baseline::check_name(&name).map_err(|e| format!("TASKMEM_COMPARE: {e}"))?;
            let file = crate::baseline::path(Path::new(crate::baseline::DEFAULT_DIR), &name);
            crate::baseline::load(&file).map_err(|e| format!("TASKMEM_COMPARE: {e}"))?;
            config.compare = Some(name);
        }
        Ok(config)
    }

    /// The same from explicit values (for tests).
    pub fn from_parts(
        sizes: Option<&str>,
        metric: Option<&str>,
        args: &[String],
    ) -> Result<Config, String> {
        let sizes = match sizes {
            Some(s) => parse_sizes(s).map_err(|e| format!("TASKMEM_SIZES: {e}"))?,
            None => DEFAULT_SIZES.to_vec(),
        };
        let metric = metric
            .map(|m| {
                m.parse::<Metric>()
                    .map_err(|e| format!("TASKMEM_METRIC: {e}"))
            })
            .transpose()?;
        let bench = parse_bench_args(args)?;
        Ok(Config {
            sizes,
            metric,
            filter: bench.filter,
            mode: bench.mode,
            sample_size: bench.sample_size,
            compare: None,
            payload: PayloadSet::Default,
            bound: DEFAULT_BOUND,
            jobs: None,
            sites: false,
        })
    }

    /// The same configuration with `TASKMEM_PAYLOAD` and `TASKMEM_BOUND` values (unset:
    /// the defaults); a malformed value is a one-line error naming the variable.
    pub fn with_dimensions(
        mut self,
        payload: Option<&str>,
        bound: Option<&str>,
    ) -> Result<Config, String> {
        if let Some(p) = payload {
            self.payload = p.parse().map_err(|e| format!("TASKMEM_PAYLOAD: {e}"))?;
        }
        if let Some(k) = bound {
            self.bound = parse_bound(k).map_err(|e| format!("TASKMEM_BOUND: {e}"))?;
        }
        Ok(self)
    }

    /// Every case this configuration runs, in report order: the matrix at the run's sizes
    /// (bounded strategies with K = [`Config::bound`]), then the payload cases, all through
    /// the filter.
    pub fn cases(&self) -> Vec<Case> {
        let mut cases = self.unfiltered_cases();
        cases.retain(|c| self.filter.matches(&c.id()));
        cases
    }

    /// [`Config::cases`] before the filter: every case of the suite at this configuration.
    pub fn unfiltered_cases(&self) -> Vec<Case> {
        let mut cases = matrix::cases_bounded(&self.sizes, self.bound);
        cases.extend(self.payload.cases(&self.sizes));
        cases.sort_unstable();
        cases.dedup();
        cases
    }

    /// [`select`] with this configuration's filter and mode.
    pub fn select(&self, bench: &str, all: &[Case]) -> Result<Vec<Case>, NoCase> {
        select(&self.filter, self.mode, bench, all)
    }

    /// Whether Criterion only lists the cases or prints its help: nothing is measured.
    pub fn list_only(&self) -> bool {
        self.mode.runs_nothing()
    }

    /// The metric a case reports under this configuration.
    pub fn metric_for(&self, case: &Case) -> Metric {
        self.metric.unwrap_or_else(|| case.default_metric())
    }
}

/// Criterion's options that take a value (the next argument is not the filter).
const VALUE_OPTIONS: [&str; 17] = [
    "--color",
    "-c",
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
];

/// What taskmem reads of Criterion's command line.
struct BenchArgs {
    filter: Filter,
    mode: Mode,
    sample_size: usize,
}

/// Finds Criterion's filter (with `--exact` and `--ignored`), its mode (`--list`, `--help`,
/// `--bench`, `--test`) and `--sample-size` in the bench's arguments (program name
/// excluded).
fn parse_bench_args(args: &[String]) -> Result<BenchArgs, String> {
    let mut filter = None;
    let (mut exact, mut list, mut ignored, mut help) = (false, false, false, false);
    let (mut bench, mut test) = (false, false);
    let mut sample_size = taskmem::SAMPLE_SIZE;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--exact" {
            exact = true;
        } else if a == "--list" {
            list = true;
        } else if a == "--ignored" {
            ignored = true;
        } else if a == "--help" || a == "-h" {
            help = true;
        } else if a == "--bench" {
            bench = true;
        } else if a == "--test" {
            test = true;
        } else if a == "--sample-size" {
            let v = args.get(i + 1).map(String::as_str).unwrap_or("");
            sample_size = v.parse().ok().filter(|&n| n >= 10).ok_or_else(|| {
                format!("--sample-size '{v}' must be a whole number of at least 10")
            })?;
            i += 1;
        } else if VALUE_OPTIONS.contains(&a) || a == "--plotting-backend" || a == "--output-format"
        {
            i += 1;
        } else if !a.starts_with('-') && filter.is_none() {
            filter = Some(a.to_string());
        }
        i += 1;
    }
    // Criterion's order: --ignored overrides the filter; --list before test mode, which is
    // any run without --bench (`cargo test --benches`) or with --test.
    let mode = if help {
        Mode::Help
    } else if list {
        Mode::List
    } else if !bench || test {
        Mode::Test
    } else {
        Mode::Bench
    };
    let filter = match filter {
        _ if ignored => Filter::Nothing,
        None => Filter::All,
        Some(f) if exact => Filter::Exact(f),
        Some(f) => Filter::Regex(Regex::new(&f).map_err(|e| {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            format!("the filter '{f}' is not a valid regular expression: {first}")
        })?),
    };
    Ok(BenchArgs {
        filter,
        mode,
        sample_size,
    })
}
