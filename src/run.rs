//! One case in one process, the published way: `taskmem run`.
//!
//! The public comparisons launch one program per runtime and N, let every task really sleep
//! (10 s), and report the whole process's peak memory. [`main`] does that for one case of
//! the matrix: it creates the N tasks, lets each sleep the full duration and complete, and
//! reports
//!
//! - **peak RSS**: the process's high-water resident set (`VmHWM` of `/proc/self/status`;
//!   everything the process touched: heap, thread stacks, the runtime, the binary itself);
//! - **wall time** from creating the first task to the last one completing, and the time to
//!   reach all-pending, with the RSS there (read inside the run, every task alive and
//!   pending);
//! - with `--lateness` (opt-in), **wake-up lateness** p50/p99/max: how late each task resumed
//!   past its deadline (see [`crate::timing`]). To know its deadline each task keeps it (16
//!   bytes of state), and the run logs one 8-byte entry per task, so those tasks are not the
//!   published ones: the output says what lateness added to each task.
//!
//! By default the run is the published program's: each task is `async { sleep(d).await }`
//! and nothing else is kept per task but what the strategy itself needs (the `JoinHandle`s of
//! `spawn`): the spawned tasks report their first poll to a counter
//! ([`crate::workload::RunOptions::bare`]) instead of the table of polled tasks that the
//! suite's measured runs keep.
//!
//! One global allocator per binary: a process built with the system allocator (glibc
//! malloc, what the published Rust programs ran on), jemalloc, or mimalloc. Each is its own
//! small binary (`taskmem-run-system`, `taskmem-run-jemalloc`, `taskmem-run-mimalloc`, built
//! with the crate's binaries) calling [`main`]; `taskmem run --allocator NAME` replaces
//! itself with that binary (exec), so nothing of the `taskmem` process is in the figures.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use clap::{Args, Parser, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::matrix::{Case, Runtime, Strategy};
use crate::timing::LatenessStats;
use crate::workload::{self, CaseError, Driver, Release, RunOptions};

/// The global allocator of a process.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    /// The system allocator (glibc malloc on Linux).
    System,
    /// jemalloc (tikv-jemallocator), default options.
    Jemalloc,
    /// mimalloc.
    Mimalloc,
}

impl Allocator {
    /// Every allocator, in table order.
    pub const ALL: [Allocator; 3] = [Allocator::System, Allocator::Jemalloc, Allocator::Mimalloc];

    /// The name used on the command line and in ids.
    pub fn id(self) -> &'static str {
        match self {
            Allocator::System => "system",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Mimalloc => "mimalloc",
        }
    }

    /// The binary that runs cases with this allocator.
    pub fn binary(self) -> String {
        format!("taskmem-run-{}", self.id())
    }

    /// Where this allocator's binary is: beside the running executable (or, for a test or
    /// bench executable in `target/<profile>/deps/`, in `target/<profile>/`).
    pub fn binary_path(self) -> Result<std::path::PathBuf, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find the running executable: {e}"))?;
        let dir = exe.parent().unwrap_or(std::path::Path::new("."));
        let beside = dir.join(self.binary());
        let above = (dir.file_name() == Some(std::ffi::OsStr::new("deps")))
            .then(|| dir.parent().map(|d| d.join(self.binary())))
            .flatten();
        if let Some(path) = std::iter::once(beside).chain(above).find(|p| p.is_file()) {
            Ok(path)
        } else {
            Err(format!(
                "{} is not built next to {} (build it with: cargo build --release --bins)",
                self.binary(),
                exe.display()
            ))
        }
    }
}

impl std::fmt::Display for Allocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// `taskmem run`'s options.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The runtime: tokio-ct, tokio-mt, async-std, smol or os.
    #[arg(long, value_parser = parse_runtime)]
    pub runtime: Runtime,
    /// The strategy: join_all, sequential, spawn, joinset, futures_unordered or threads.
    #[arg(long, value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// How many tasks (k/m suffixes: 1m).
    #[arg(long, value_parser = crate::config::parse_size)]
    pub tasks: usize,
    /// How long every task sleeps.
    #[arg(long, default_value = "10s", value_parser = crate::config::parse_duration)]
    pub sleep: Duration,
    /// The process's global allocator.
    #[arg(long, value_enum, default_value_t = Allocator::System)]
    pub allocator: Allocator,
    /// Record each task's wake-up lateness: each task then keeps its deadline (16 bytes) and the
    /// run logs 8 bytes per task, so the figures are no longer the published program's (the
    /// output says what it added per task). Off by default.
    #[arg(long)]
    pub lateness: bool,
    /// The default (the bare published task); kept so that older scripts still run.
    #[arg(long, hide = true, conflicts_with = "lateness")]
    pub no_lateness: bool,
    /// Print one JSON object instead of the text lines.
    #[arg(long)]
    pub json: bool,
}

fn parse_runtime(s: &str) -> Result<Runtime, String> {
    s.parse()
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse()
}

impl RunArgs {
    /// The arguments that reproduce these options (for the allocator's binary).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--runtime".into(),
            self.runtime.id().into(),
            "--strategy".into(),
            self.strategy.id().into(),
            "--tasks".into(),
            self.tasks.to_string(),
            "--sleep".into(),
            format!("{}ns", self.sleep.as_nanos()),
            "--allocator".into(),
            self.allocator.id().into(),
        ];
        if self.lateness {
            args.push("--lateness".into());
        }
        if self.json {
            args.push("--json".into());
        }
        args
    }
}

/// What one process run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `runtime/strategy/N`.
    pub id: String,
    /// The process's allocator.
    pub allocator: Allocator,
    /// Task count.
    pub n: usize,
    /// Each task's sleep, in seconds.
    pub sleep_s: f64,
    /// The process's peak resident set (VmHWM), bytes.
    pub peak_rss: u64,
    /// Resident set when every task was alive and pending, bytes.
    pub rss_at_peak: u64,
    /// From creating the first task to every task pending, seconds.
    pub time_to_peak_s: f64,
    /// From creating the first task to the last one completing, seconds.
    pub wall_s: f64,
    /// Wake-up lateness, with `--lateness`.
    pub lateness: Option<LatenessStats>,
    /// With `--lateness`: what recording it added to each task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_cost: Option<LatenessCost>,
}

/// What recording wake-up lateness adds to each task of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatenessCost {
    /// `size_of` of one task as held, without lateness (bytes).
    pub future_bytes: Option<usize>,
    /// The same with lateness: the deadline each task keeps.
    pub future_bytes_with: Option<usize>,
    /// The log entry per task (bytes; reserved for N before the run).
    pub log_bytes: usize,
    /// Heap per task without and with lateness, with the system allocator (glibc malloc's own
    /// count of its chunks in use, headers and rounding included: the size class a task lands
    /// in), from two short runs of 4,096 tasks after the measured one; `None` where it
    /// cannot be read (another allocator, not glibc), with the reason in `heap_unmeasured`.
    pub heap_per_task: Option<(f64, f64)>,
    /// Why `heap_per_task` is `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_unmeasured: Option<String>,
}

/// Tasks in each run that calibrates [`LatenessCost::heap_per_task`].
const CALIBRATION_TASKS: usize = 4096;

/// The calibration runs are cancelled at their peak: their sleep only has to outlast it.
const CALIBRATION_SLEEP: Duration = Duration::from_secs(60);

/// Longest a case whose tasks sleep one after another may take before it is refused.
pub const SERIAL_LIMIT: Duration = Duration::from_secs(60);

/// async-std's sleep starts its timer when first polled, so its sequential strategy sleeps
/// N times in a row: past [`SERIAL_LIMIT`] the case is refused, with that reason.
pub fn serial_sleeps(
    runtime: Runtime,
    strategy: Strategy,
    n: usize,
    sleep: Duration,
) -> Option<String> {
    if (runtime, strategy) != (Runtime::ASYNC_STD, Strategy::SEQUENTIAL) {
        return None;
    }
    let total = sleep.saturating_mul(n.min(u32::MAX as usize) as u32);
    (total > SERIAL_LIMIT).then(|| {
        format!(
            "async-std's sleep starts its timer when first polled, so {n} sequential sleeps \
             of {sleep:?} take {:.0} s in a row (more than {} s)",
            total.as_secs_f64(),
            SERIAL_LIMIT.as_secs()
        )
    })
}

/// Runs the case in this process with its tasks really sleeping; the caller's process has
/// the allocator `allocator` (recorded, not checked).
pub fn run_case(args: &RunArgs) -> Result<RunRecord, CaseError> {
    if let Some(why) = serial_sleeps(args.runtime, args.strategy, args.tasks, args.sleep) {
        return Err(CaseError::Skipped(why));
    }
    let case = Case::new(args.runtime, args.strategy, args.tasks);
    // Past a limit (a container's cgroup memory or pids), skipped before it starts rather
    // than killed by the kernel.
    crate::limits::check_case(&case, None)?;
    let driver = Driver::new(case.runtime)?;
    let opts = RunOptions {
        sleep: args.sleep,
        release: Release::Complete,
        lateness: args.lateness,
        bare: true,
        ..RunOptions::default()
    };
    let _guard = workload::exclusive();
    let start = Instant::now();
    let mut rss_at_peak = 0;
    let time_to_peak = driver.time_to_peak(&case, &opts, &mut || {
        rss_at_peak = taskmem::probe::os::rss_bytes().unwrap_or(0);
    })?;
    let wall = start.elapsed();
    // VmHWM comes from the kernel's batched RSS counters, statm's RSS from their exact sum:
    // the reading at all-pending can exceed it by a few pages, and the peak is at least that.
    let peak_rss = taskmem::probe::os::peak_rss_bytes()
        .map_err(|e| CaseError::Failed(format!("cannot read the peak RSS: {e}")))?
        .max(rss_at_peak);
    let lateness = if !args.lateness {
        None
    } else {
        let l = workload::take_lateness();
        if l.len() != case.n {
            return Err(CaseError::Failed(format!(
                "{} of {} tasks recorded their wake-up",
                l.len(),
                case.n
            )));
        }
        Some(LatenessStats::of(&l))
    };
    // After the peak was read: these runs cannot raise it.
    let lateness_cost = args
        .lateness
        .then(|| lateness_cost(&driver, &case, args.allocator));
    Ok(RunRecord {
        id: case.id(),
        allocator: args.allocator,
        n: case.n,
        sleep_s: args.sleep.as_secs_f64(),
        peak_rss,
        rss_at_peak,
        time_to_peak_s: time_to_peak.as_secs_f64(),
        wall_s: wall.as_secs_f64(),
        lateness,
        lateness_cost,
    })
}

/// What lateness adds per task: the futures' sizes with and without the deadline, the log
/// entry, and (glibc malloc) the heap per task of each, from two short cancelled runs.
fn lateness_cost(driver: &Driver, case: &Case, allocator: Allocator) -> LatenessCost {
    let with = RunOptions {
        lateness: true,
        ..RunOptions::default()
    };
    let mut cost = LatenessCost {
        future_bytes: workload::future_size(case),
        future_bytes_with: workload::future_size_with(case, &with),
        log_bytes: size_of::<u64>(),
        heap_per_task: None,
        heap_unmeasured: None,
    };
    if allocator != Allocator::System {
        cost.heap_unmeasured = Some(format!(
            "the heap per task is read from glibc malloc's statistics: not measured with {allocator}"
        ));
        return cost;
    }
    let small = Case::new(case.runtime, case.strategy, CALIBRATION_TASKS.min(case.n));
    let per_task = |lateness: bool| -> Result<f64, String> {
        let opts = RunOptions {
            sleep: CALIBRATION_SLEEP,
            lateness,
            bare: true,
            ..RunOptions::default()
        };
        let before = taskmem::probe::os::system_malloc_in_use().map_err(|e| e.to_string())?;
        let mut at_peak = None;
        driver
            .run(&small, &opts, &mut || {
                at_peak = taskmem::probe::os::system_malloc_in_use().ok()
            })
            .map_err(|e| e.to_string())?;
        let _ = workload::take_lateness();
        let at_peak = at_peak.ok_or("the calibration run never reached its peak")?;
        Ok((at_peak as f64 - before as f64) / small.n as f64)
    };
    match per_task(false).and_then(|a| Ok((a, per_task(true)?))) {
        Ok(pair) => cost.heap_per_task = Some(pair),
        Err(e) => cost.heap_unmeasured = Some(format!("cannot read the heap per task: {e}")),
    }
    cost
}

/// The text lines of a record.
pub fn describe(r: &RunRecord) -> String {
    use crate::report::format_seconds;
    use taskmem::format_bytes;
    let mut out = format!(
        "{} [{}]: peak RSS {} (all pending: {}); wall {:.3} s for {} s sleeps; all pending after {:.3} s",
        r.id,
        r.allocator,
        format_bytes(r.peak_rss as f64),
        format_bytes(r.rss_at_peak as f64),
        r.wall_s,
        r.sleep_s,
        r.time_to_peak_s
    );
    if let Some(l) = &r.lateness {
        out.push_str(&format!(
            "\nwake-up lateness over {} tasks: p50 {}, p99 {}, max {}",
            l.tasks,
            format_seconds(l.p50_us / 1e6),
            format_seconds(l.p99_us / 1e6),
            format_seconds(l.max_us / 1e6)
        ));
    }
    if let Some(c) = &r.lateness_cost {
        out.push_str(&format!("\n{}", describe_cost(c)));
    }
    out
}

/// One line: what recording lateness added to each task.
pub fn describe_cost(c: &LatenessCost) -> String {
    let future = match (c.future_bytes, c.future_bytes_with) {
        (Some(a), Some(b)) => format!(
            "each task's future {a} -> {b} B (+{} B: its deadline)",
            b.saturating_sub(a)
        ),
        _ => "each task keeps its deadline (16 B)".into(),
    };
    let heap = match (&c.heap_per_task, &c.heap_unmeasured) {
        (Some((a, b)), _) => format!(
            "; heap per task {a:.0} -> {b:.0} B (+{:.0} B: the task's size class and the log entry, \
             glibc malloc's count)",
            b - a
        ),
        (None, Some(why)) => format!("; {why}"),
        (None, None) => String::new(),
    };
    format!(
        "lateness added: {future}, and {} B per task of log{heap}; these are not the published \
         program's tasks (leave out --lateness for those)",
        c.log_bytes
    )
}

#[derive(Debug, Parser)]
#[command(
    name = "taskmem-run",
    about = "Run one taskmem case in this process, tasks really sleeping"
)]
struct Standalone {
    #[command(flatten)]
    args: RunArgs,
}

/// Prints the first line of a command-line error as `taskmem: ...` and returns exit code 2.
pub fn usage_error(e: &clap::Error) -> i32 {
    let text = e.to_string();
    let line = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ");
    eprintln!("taskmem: {line}");
    2
}

/// Parses a command line (program name first). `Err` is the exit code when there is nothing
/// to run: 0 after printing `--help` or `--version` on stdout, 2 after a usage error
/// ([`usage_error`]). `taskmem` and the allocator binaries share it.
pub(crate) fn parse_command_line<P: Parser>(
    args: impl IntoIterator<Item = OsString>,
) -> Result<P, i32> {
    match P::try_parse_from(args) {
        Ok(parsed) => Ok(parsed),
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            print!("{e}");
            Err(0)
        }
        Err(e) => Err(usage_error(&e)),
    }
}

/// `main` of an allocator's binary: parse the run options, run, print; returns the exit
/// code (0 ran, 1 skipped or failed, 2 bad input).
pub fn main(allocator: Allocator, argv: impl IntoIterator<Item = OsString>) -> i32 {
    let parsed: Standalone = match parse_command_line(argv) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut args = parsed.args;
    if args.allocator != allocator {
        eprintln!(
            "taskmem: this binary runs with {allocator}, not {} (use {})",
            args.allocator,
            args.allocator.binary()
        );
        return 2;
    }
    args.allocator = allocator;
    match run_case(&args) {
        Ok(record) => {
            if args.json {
                match serde_json::to_string(&record) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("taskmem: cannot encode the record: {e}");
                        return 1;
                    }
                }
            } else {
                println!("{}", describe(&record));
            }
            0
        }
        Err(CaseError::Skipped(why)) => {
            eprintln!(
                "taskmem: {}/{}/{}: skipped: {why}",
                args.runtime, args.strategy, args.tasks
            );
            1
        }
        Err(CaseError::Failed(why)) => {
            eprintln!(
                "taskmem: {}/{}/{}: failed: {why}",
                args.runtime, args.strategy, args.tasks
            );
            1
        }
    }
}

/// `taskmem run`: replace this process with the allocator's binary (so the figures are that
/// program's alone). Returns only on failure.
pub fn exec(args: &RunArgs) -> i32 {
    use std::os::unix::process::CommandExt;
    let path = match args.allocator.binary_path() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("taskmem: {e}");
            return 2;
        }
    };
    let err = std::process::Command::new(&path)
        .args(args.to_args())
        .exec();
    eprintln!("taskmem: cannot run {}: {err}", path.display());
    1
}
