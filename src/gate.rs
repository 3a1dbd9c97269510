//! The regression gate: a run's summary (or Criterion's latest results) against a saved
//! baseline, case by case, with the thresholds file's rules; `taskmem compare` and
//! `TASKMEM_COMPARE=NAME cargo bench` both end here.

use std::path::PathBuf;

use crate::baseline;
use taskmem::sample::Metric;
use taskmem::summary;

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A plain-text table.
    Table,
    /// Bencher Metric Format.
    Json,
    /// github-action-benchmark's customSmallerIsBetter.
    Github,
}

/// What `taskmem compare` (and `TASKMEM_COMPARE` at the end of `cargo bench`) compares.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareOptions {
    /// The baseline's name (target-baselines/NAME.json).
    #[arg(default_value = baseline::DEFAULT_NAME)]
    pub name: String,
    /// Compare Criterion's saved baseline of this name (`cargo bench -- --save-baseline
    /// NAME`) with Criterion's latest results instead, from target/criterion.
    #[arg(long, value_name = "CRITERION_BASELINE")]
    pub criterion: Option<String>,
    /// The metric to compare: resident, allocated or rss [default: each case's].
    #[arg(long)]
    pub metric: Option<String>,
    /// Default relative threshold in percent [default: thresholds file, else 5].
    #[arg(long, value_name = "PERCENT")]
    pub threshold: Option<f64>,
    /// Default absolute noise floor in bytes [default: thresholds file, else 65536].
    #[arg(long, value_name = "BYTES")]
    pub floor: Option<f64>,
    /// Thresholds file (default: `<dir>/thresholds.toml` when present).
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Output: a table, Bencher Metric Format JSON (json), or github-action-benchmark's
    /// customSmallerIsBetter JSON (github).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The run to compare [default: target/taskmem/summary.json].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Where baselines live.
    #[arg(long, default_value = baseline::DEFAULT_DIR)]
    pub dir: PathBuf,
}

impl CompareOptions {
    /// `compare NAME` with every other option at its default.
    pub fn named(name: &str) -> CompareOptions {
        CompareOptions {
            name: name.to_string(),
            criterion: None,
            metric: None,
            threshold: None,
            floor: None,
            thresholds: None,
            format: Format::Table,
            summary: None,
            dir: PathBuf::from(baseline::DEFAULT_DIR),
        }
    }
}

/// Compares and prints; returns 0 (no regression), 1 (a case regressed) or 2 (bad input).
pub fn compare(o: &CompareOptions) -> i32 {
    let metric = match o.metric.as_deref().map(parse_compare_metric).transpose() {
        Ok(m) => m,
        Err(e) => return bad_input(e),
    };
    // An explicit --thresholds file, else <dir>/thresholds.toml when it exists.
    let file = o
        .thresholds
        .clone()
        .or_else(|| Some(o.dir.join("thresholds.toml")).filter(|f| f.exists()));
    let mut thresholds = match file.map(|f| baseline::Thresholds::load(&f)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return bad_input(e),
        None => baseline::Thresholds::default(),
    };
    if let Some(p) = o.threshold {
        thresholds.percent = p;
    }
    if let Some(f) = o.floor {
        thresholds.floor_bytes = f;
    }
    if let Err(e) = thresholds.check() {
        return bad_input(e);
    }
    let sides = match &o.criterion {
        Some(which) => {
            if metric.is_some_and(|m| m.0 != "resident" && m.0 != "rss") {
                eprintln!("taskmem: warning: Criterion keeps only the metric each case reported");
            }
            let home = baseline::criterion_home();
            baseline::Side::from_criterion(&home, which)
                .and_then(|b| Ok((b, baseline::Side::from_criterion(&home, "new")?)))
        }
        None => {
            let file = baseline::path(&o.dir, &o.name);
            let base = baseline::check_name(&o.name).and_then(|()| baseline::load(&file));
            let path = o.summary.clone().unwrap_or_else(summary::default_path);
            base.and_then(|b| {
                let s =
                    summary::load(&path).map_err(|e| format!("{e} (run `cargo bench` first)"))?;
                let current = baseline::from_summary("current", &s, None);
                let pick = metric.map(|m| m.1);
                Ok((
                    baseline::Side::from_baseline(&b, &file.display().to_string(), pick),
                    baseline::Side::from_baseline(&current, &path.display().to_string(), pick),
                ))
            })
        }
    };
    let (base, current) = match sides {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    if let (Some(a), Some(b)) = (&base.provenance, &current.provenance) {
        let diffs = a.differences(b);
        if !diffs.is_empty() {
            eprintln!(
                "taskmem: warning: {} and {} come from different machines or builds: {}",
                base.label,
                current.label,
                diffs.join("; ")
            );
        }
    }
    let rows = baseline::compare(&base, &current, &thresholds);
    match o.format {
        Format::Table => print!("{}", baseline::table(&rows)),
        Format::Json => println!("{:#}", baseline::bencher_json(&rows)),
        Format::Github => println!("{:#}", baseline::github_json(&rows)),
    }
    if rows
        .iter()
        .any(|r| r.verdict == baseline::Verdict::Regressed)
    {
        1
    } else {
        0
    }
}

/// `resident`, `allocated`, `usable` or `rss`, with the metric it maps to.
fn parse_compare_metric(m: &str) -> Result<(&'static str, Metric), String> {
    match m {
        "usable" => {
            Err("compare takes resident, allocated or rss (usable is in the summary only)".into())
        }
        other => other.parse::<Metric>().map(|m| (m.id(), m)),
    }
}

fn bad_input(message: impl std::fmt::Display) -> i32 {
    eprintln!("taskmem: {message}");
    2
}
