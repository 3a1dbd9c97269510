//! Saved baselines and the regression gate.
//!
//! A baseline is a versioned JSON file, `target-baselines/<NAME>.json`, committed with the
//! repository. It holds, per case and per metric, the value (the median over the sampled
//! runs), the range of those runs, bytes per task, and for the metric Criterion reported its
//! mean estimate with the confidence interval; and where it came from ([`Provenance`]).
//!
//! [`compare`] lines a current run up against a baseline, case by case, and gives each a
//! [`Verdict`]. A change counts when it passes both the relative threshold (default 5 %) and
//! the absolute noise floor (default 64 KiB); both can be set per metric and per case
//! pattern ([`Thresholds`], `target-baselines/thresholds.toml`).
//!
//! ## File format (version 1)
//!
//! ```json
//! {
//!   "format": 1,
//!   "kind": "taskmem-baseline",
//!   "name": "main",
//!   "created_unix": 1795000000,
//!   "provenance": { "cores": 2, "memory_bytes": 25769803776, "kernel": "6.1.0",
//!                   "rustc": "rustc 1.95.0 (...)", "crates": { "tokio": "1.54.1", "...": "..." },
//!                   "git_revision": "0a29365...", "taskmem": "0.1.0" },
//!   "cases": {
//!     "tokio-mt/spawn/100000": {
//!       "n": 100000,
//!       "reported": "resident",
//!       "metrics": {
//!         "resident": { "value": 26398720.0, "min": 26398720.0, "max": 26402816.0,
//!                       "per_task": 263.98,
//!                       "criterion": { "mean": 26398720.0, "low": 26397900.0, "high": 26399500.0 } },
//!         "allocated": { "value": 26400000.0, "min": 26400000.0, "max": 26400000.0, "per_task": 264.0 },
//!         "usable": { "...": "..." },
//!         "rss": { "...": "..." }
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! A file is written atomically (a temporary file beside it, then a rename), so an interrupted
//! save leaves either the old baseline or the new one, never half of one. A file whose
//! `format` is newer than this taskmem reads is refused with a one-line error naming it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::provenance::Provenance;
use crate::sample::Metric;
use crate::summary::Summary;

/// The baseline format this taskmem writes and reads.
pub const FORMAT: u32 = 1;

/// The `kind` tag of a baseline file.
pub const KIND: &str = "taskmem-baseline";

/// Where baselines live, relative to the package root.
pub const DEFAULT_DIR: &str = "target-baselines";

/// The baseline `compare` uses when none is named.
pub const DEFAULT_NAME: &str = "main";

/// The default relative threshold, in percent.
pub const DEFAULT_PERCENT: f64 = 5.0;

/// The default absolute noise floor, in bytes.
pub const DEFAULT_FLOOR: f64 = 65536.0;

/// Criterion's mean estimate of a case, with its confidence interval (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Point estimate of the mean.
    pub mean: f64,
    /// Lower bound of the confidence interval.
    pub low: f64,
    /// Upper bound of the confidence interval.
    pub high: f64,
}

/// One metric of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// Median over the sampled runs (bytes).
    pub value: f64,
    /// Smallest sampled run.
    pub min: f64,
    /// Largest sampled run.
    pub max: f64,
    /// `value / n`.
    pub per_task: f64,
    /// Criterion's estimate, for the metric Criterion reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<Estimate>,
}

/// One case of a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseValues {
    /// Task count.
    pub n: usize,
    /// The metric the benchmark reported.
    pub reported: Metric,
    /// Every metric: `resident`, `allocated`, `usable`, `rss`.
    pub metrics: BTreeMap<String, MetricValue>,
}

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// [`FORMAT`].
    pub format: u32,
    /// [`KIND`].
    pub kind: String,
    /// The baseline's name.
    pub name: String,
    /// Unix time it was saved.
    pub created_unix: u64,
    /// Where its numbers came from.
    pub provenance: Provenance,
    /// Cases by id.
    pub cases: BTreeMap<String, CaseValues>,
}

/// An error with a one-line message (a file named in it where one is involved).
pub type Result<T> = std::result::Result<T, String>;

/// Checks a baseline name: letters, digits, `.`, `_` and `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "baseline name '{name}' may hold only letters, digits, '.', '_' and '-'"
        ))
    }
}

/// The file of baseline `name` in `dir`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Criterion's output directory: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, or
/// `target/criterion`.
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    crate::summary::target_dir().join("criterion")
}

/// Criterion's output directory for the run whose summary is `summary`
/// (`<target>/taskmem/summary.json` goes with `<target>/criterion`), unless `CRITERION_HOME`
/// says otherwise.
pub fn criterion_home_for(summary: &Path) -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    summary
        .parent()
        .and_then(Path::parent)
        .map_or_else(criterion_home, |target| target.join("criterion"))
}

/// The directory Criterion keeps a case's results in: `<home>/<group>/<function>/<N>`, where
/// the group is the runtime and the function the rest of the id but N, with `/` made `_` as
/// Criterion does (`tokio-mt/spawn/p1024-inline/10000` is in
/// `<home>/tokio-mt/spawn_p1024-inline/10000`).
pub fn criterion_dir(home: &Path, id: &str) -> PathBuf {
    let parts: Vec<&str> = id.split('/').collect();
    match parts[..] {
        [group, ref function @ .., n] if !function.is_empty() => {
            home.join(group).join(function.join("_")).join(n)
        }
        _ => parts
            .iter()
            .fold(home.to_path_buf(), |p, part| p.join(part)),
    }
}

/// The case id of a Criterion case directory: the `full_id` Criterion recorded in
/// `<case_dir>/<which>/benchmark.json`, else read back from the path
/// (`<rt>/spawn_p1024-inline/<N>`: a `_` before `p<digit>` or `k<digit>` was a `/`).
fn criterion_case_id(case_dir: &Path, which: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Benchmark {
        full_id: String,
    }
    let recorded = std::fs::read_to_string(case_dir.join(which).join("benchmark.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Benchmark>(&text).ok());
    if let Some(b) = recorded {
        return Some(b.full_id);
    }
    let name = |p: &Path| p.file_name()?.to_str().map(str::to_string);
    let n = name(case_dir)?;
    let function_dir = case_dir.parent()?;
    let function = name(function_dir)?;
    let runtime = name(function_dir.parent()?)?;
    let mut function_id = String::new();
    for (i, token) in function.split('_').enumerate() {
        let qualifier = token.len() > 1
            && token.starts_with(['p', 'k'])
            && token.as_bytes()[1].is_ascii_digit();
        if i > 0 {
            function_id.push(if qualifier { '/' } else { '_' });
        }
        function_id.push_str(token);
    }
    Some(format!("{runtime}/{function_id}/{n}"))
}

#[derive(Deserialize)]
struct CriterionEstimates {
    mean: CriterionStat,
}

#[derive(Deserialize)]
struct CriterionStat {
    point_estimate: f64,
    confidence_interval: CriterionInterval,
}

#[derive(Deserialize)]
struct CriterionInterval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Reads Criterion's mean estimate for a case from `<dir>/<which>/estimates.json`.
pub fn read_criterion_estimate(case_dir: &Path, which: &str) -> Result<Option<Estimate>> {
    let file = case_dir.join(which).join("estimates.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let est: CriterionEstimates = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not Criterion's estimates.json: {e}", file.display()))?;
    Ok(Some(Estimate {
        mean: est.mean.point_estimate,
        low: est.mean.confidence_interval.lower_bound,
        high: est.mean.confidence_interval.upper_bound,
    }))
}

/// Builds a baseline from a suite summary, adding Criterion's estimates found under
/// `criterion_home` (`new/estimates.json` of each case) when given.
pub fn from_summary(name: &str, summary: &Summary, criterion_home: Option<&Path>) -> Baseline {
    let mut cases = BTreeMap::new();
    for pair in &summary.pairs {
        for c in &pair.cases {
            let n = c.n.max(1) as f64;
            let estimate = criterion_home
                .and_then(|home| read_criterion_estimate(&criterion_dir(home, &c.id), "new").ok())
                .flatten();
            let mut metrics = BTreeMap::new();
            for (key, stats) in &c.metrics {
                let reported = key == c.metric.id();
                // The reported metric's figure is what Criterion saw (with the page fallback).
                let s = if reported { &c.value } else { stats };
                metrics.insert(
                    key.clone(),
                    MetricValue {
                        value: s.median,
                        min: s.min,
                        max: s.max,
                        per_task: s.median / n,
                        criterion: if reported { estimate } else { None },
                    },
                );
            }
            cases.insert(
                c.id.clone(),
                CaseValues {
                    n: c.n,
                    reported: c.metric,
                    metrics,
                },
            );
        }
    }
    Baseline {
        format: FORMAT,
        kind: KIND.to_string(),
        name: name.to_string(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        provenance: summary.machine.provenance.clone(),
        cases,
    }
}

/// Reads a baseline file: a missing, corrupt or newer-format file is a one-line error
/// naming it.
pub fn load(file: &Path) -> Result<Baseline> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no baseline at {} (save one with `taskmem baseline save`)",
                file.display()
            )
        } else {
            format!("cannot read {}: {e}", file.display())
        }
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not valid JSON ({e}): the baseline is corrupt",
            file.display()
        )
    })?;
    if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(format!(
            "{} is not a taskmem baseline (no \"kind\": \"{KIND}\")",
            file.display()
        ));
    }
    match value.get("format").and_then(|f| f.as_u64()) {
        Some(f) if f == u64::from(FORMAT) => {}
        Some(f) if f > u64::from(FORMAT) => {
            return Err(format!(
                "{} has baseline format {f}, newer than this taskmem reads ({FORMAT}): upgrade taskmem",
                file.display()
            ));
        }
        other => {
            return Err(format!(
                "{} has baseline format {other:?}, this taskmem reads {FORMAT}",
                file.display()
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| format!("{} is a corrupt baseline: {e}", file.display()))
}

/// Saves a baseline as `<dir>/<name>.json`, atomically.
pub fn save(dir: &Path, baseline: &Baseline) -> Result<PathBuf> {
    check_name(&baseline.name)?;
    let file = path(dir, &baseline.name);
    let json = serde_json::to_vec_pretty(baseline).map_err(|e| format!("cannot encode: {e}"))?;
    crate::summary::write_atomic_with(&file, |f| {
        f.write_all(&json)?;
        f.write_all(b"\n")
    })?;
    Ok(file)
}

/// A threshold: a change must pass both to count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Relative threshold in percent of the baseline value.
    pub percent: f64,
    /// Absolute noise floor in bytes.
    pub floor_bytes: f64,
}

/// One rule of a thresholds file: where it applies, and what it sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A regular expression on the case id (`runtime/strategy/N`); all cases if absent.
    #[serde(default)]
    pub cases: Option<String>,
    /// The metric it applies to; all if absent.
    #[serde(default)]
    pub metric: Option<Metric>,
    /// Sets the relative threshold (percent).
    #[serde(default)]
    pub percent: Option<f64>,
    /// Sets the noise floor (bytes).
    #[serde(default)]
    pub floor_bytes: Option<f64>,
    /// Why the rule exists (shown nowhere; for the reader of the file).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Thresholds: defaults, then rules applied in order (a later rule overrides an earlier one).
///
/// `target-baselines/thresholds.toml`:
///
/// ```toml
/// percent = 5.0          # default relative threshold
/// floor_bytes = 65536    # default absolute noise floor
///
/// [[rule]]
/// cases = "/1$"          # regex on runtime/strategy/N
/// floor_bytes = 262144
/// reason = "N = 1 is a few pages, which move between processes"
///
/// [[rule]]
/// metric = "rss"
/// percent = 10.0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Default relative threshold (percent).
    #[serde(default = "default_percent")]
    pub percent: f64,
    /// Default noise floor (bytes).
    #[serde(default = "default_floor")]
    pub floor_bytes: f64,
    /// Rules, in order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

fn default_percent() -> f64 {
    DEFAULT_PERCENT
}

fn default_floor() -> f64 {
    DEFAULT_FLOOR
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            percent: DEFAULT_PERCENT,
            floor_bytes: DEFAULT_FLOOR,
            rules: Vec::new(),
        }
    }
}

impl Thresholds {
    /// Reads a thresholds file; its regexes and numbers are checked here.
    pub fn load(file: &Path) -> Result<Thresholds> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let t: Thresholds = toml::from_str(&text).map_err(|e| {
            let first = e.to_string().lines().next().unwrap_or("").to_string();
            format!("{} is not a valid thresholds file: {first}", file.display())
        })?;
        t.check().map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(t)
    }

    /// Checks the numbers and regexes.
    pub fn check(&self) -> Result<()> {
        let pct = |p: f64| (0.0..=1000.0).contains(&p);
        let floor = |f: f64| (0.0..=1e15).contains(&f);
        if !pct(self.percent) || !floor(self.floor_bytes) {
            return Err("percent must be 0-1000 and floor_bytes 0 or more".into());
        }
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(c) = &r.cases {
                Regex::new(c).map_err(|_| format!("rule {}: '{c}' is not a valid regex", i + 1))?;
            }
            if r.percent.is_some_and(|p| !pct(p)) || r.floor_bytes.is_some_and(|f| !floor(f)) {
                return Err(format!(
                    "rule {}: percent must be 0-1000 and floor_bytes 0 or more",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    /// The threshold for one case and metric.
    pub fn for_case(&self, id: &str, metric: Metric) -> Threshold {
        let mut t = Threshold {
            percent: self.percent,
            floor_bytes: self.floor_bytes,
        };
        for r in &self.rules {
            let case_ok = r
                .cases
                .as_deref()
                .is_none_or(|c| Regex::new(c).is_ok_and(|re| re.is_match(id)));
            if case_ok && r.metric.is_none_or(|m| m == metric) {
                t.percent = r.percent.unwrap_or(t.percent);
                t.floor_bytes = r.floor_bytes.unwrap_or(t.floor_bytes);
            }
        }
        t
    }
}

/// A case's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Grew past both thresholds.
    Regressed,
    /// Shrank past both thresholds.
    Improved,
    /// Within the thresholds.
    Unchanged,
    /// Not in the baseline.
    New,
    /// In the baseline, not in this run.
    Removed,
}

impl Verdict {
    /// The word printed in the table.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::New => "new",
            Verdict::Removed => "removed",
        }
    }
}

/// One row of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Case id.
    pub id: String,
    /// Task count.
    pub n: usize,
    /// The metric compared.
    pub metric: Metric,
    /// Baseline value (bytes), if the case is in the baseline.
    pub baseline: Option<f64>,
    /// Current value (bytes), if the case ran.
    pub current: Option<f64>,
    /// The current estimate's interval, where Criterion gave one.
    pub current_interval: Option<(f64, f64)>,
    /// The threshold applied.
    pub threshold: Threshold,
    /// The verdict.
    pub verdict: Verdict,
}

impl Row {
    /// current - baseline, in bytes.
    pub fn change(&self) -> Option<f64> {
        Some(self.current? - self.baseline?)
    }

    /// The change in percent of the baseline.
    pub fn change_percent(&self) -> Option<f64> {
        let b = self.baseline?;
        let change = self.change()?;
        (b != 0.0).then(|| 100.0 * change / b)
    }
}

/// One case's figure on one side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Task count.
    pub n: usize,
    /// The metric the value is of.
    pub metric: Metric,
    /// The value (bytes).
    pub value: f64,
    /// Criterion's confidence interval of the mean, where known.
    pub interval: Option<(f64, f64)>,
}

/// One side of a comparison: a value per case for one metric choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// Where the figures come from (for messages).
    pub label: String,
    /// Provenance, where known.
    pub provenance: Option<Provenance>,
    /// Per case id.
    pub values: BTreeMap<String, Point>,
}

impl Side {
    /// The cases of a baseline, each with `metric` (or the metric its benchmark reported).
    pub fn from_baseline(b: &Baseline, label: &str, metric: Option<Metric>) -> Side {
        let values = b
            .cases
            .iter()
            .filter_map(|(id, c)| {
                let m = metric.unwrap_or(c.reported);
                let v = c.metrics.get(m.id())?;
                let point = Point {
                    n: c.n,
                    metric: m,
                    value: v.value,
                    interval: v.criterion.map(|e| (e.low, e.high)),
                };
                Some((id.clone(), point))
            })
            .collect();
        Side {
            label: label.to_string(),
            provenance: Some(b.provenance.clone()),
            values,
        }
    }

    /// The cases of Criterion's saved results named `which` (`new` for the latest run, or a
    /// `--save-baseline` name), for the metric the benchmarks reported, from the mean
    /// estimates. Every case directory under `home` with a `<which>/estimates.json` counts.
    pub fn from_criterion(home: &Path, which: &str) -> Result<Side> {
        let mut values = BTreeMap::new();
        let mut cases: Vec<crate::matrix::Case> = case_dirs_in(home)
            .iter()
            .filter_map(|dir| criterion_case_id(dir, which)?.parse().ok())
            .collect();
        cases.sort_unstable();
        cases.dedup();
        for case in cases {
            let id = case.id();
            if let Some(e) = read_criterion_estimate(&criterion_dir(home, &id), which)? {
                let point = Point {
                    n: case.n,
                    metric: Metric::default_for(&case),
                    value: e.mean,
                    interval: Some((e.low, e.high)),
                };
                values.insert(id, point);
            }
        }
        if values.is_empty() {
            return Err(format!(
                "no Criterion results named '{which}' under {} (run `cargo bench -- --save-baseline {which}`)",
                home.display()
            ));
        }
        Ok(Side {
            label: format!("criterion:{which}"),
            provenance: None,
            values,
        })
    }
}

/// Every case directory Criterion has under `home` (`<home>/<rt>/<function>/<N>`).
fn case_dirs_in(home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    for rt in dirs(home) {
        for function in dirs(&rt) {
            out.extend(dirs(&function));
        }
    }
    out
}

/// Compares `current` against `baseline` case by case.
pub fn compare(baseline: &Side, current: &Side, thresholds: &Thresholds) -> Vec<Row> {
    let ids: std::collections::BTreeSet<&String> = baseline
        .values
        .keys()
        .chain(current.values.keys())
        .collect();
    let mut rows: Vec<Row> = ids
        .into_iter()
        .map(|id| {
            let b = baseline.values.get(id);
            let c = current.values.get(id);
            let (n, metric) = c.or(b).map_or((0, Metric::Resident), |p| (p.n, p.metric));
            let threshold = thresholds.for_case(id, metric);
            let verdict = match (b, c) {
                (None, _) => Verdict::New,
                (_, None) => Verdict::Removed,
                (Some(b), Some(c)) => {
                    let change = c.value - b.value;
                    let limit =
                        (threshold.percent / 100.0 * b.value.abs()).max(threshold.floor_bytes);
                    if change > limit {
                        Verdict::Regressed
                    } else if change < -limit {
                        Verdict::Improved
                    } else {
                        Verdict::Unchanged
                    }
                }
            };
            Row {
                id: id.clone(),
                n,
                metric,
                baseline: b.map(|p| p.value),
                current: c.map(|p| p.value),
                current_interval: c.and_then(|p| p.interval),
                threshold,
                verdict,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &Row| r.id.parse::<crate::matrix::Case>().ok();
        key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
    });
    rows
}

/// The rows as a plain-text table, with a closing count line.
pub fn table(rows: &[Row]) -> String {
    use crate::measurement::format_bytes;
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), format_bytes);
    let mut out = format!(
        "{:<34} {:<9} {:>12} {:>12} {:>12} {:>8}  {}\n",
        "case", "metric", "baseline", "current", "change", "change%", "verdict"
    );
    for r in rows {
        let change = r.change().map_or_else(
            || "-".to_string(),
            |c| format!("{}{}", if c > 0.0 { "+" } else { "" }, format_bytes(c)),
        );
        let pct = r
            .change_percent()
            .map_or_else(|| "-".to_string(), |p| format!("{p:+.2}%"));
        out += &format!(
            "{:<34} {:<9} {:>12} {:>12} {:>12} {:>8}  {}\n",
            r.id,
            r.metric.id(),
            fmt(r.baseline),
            fmt(r.current),
            change,
            pct,
            r.verdict.word()
        );
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    out += &format!(
        "{} regressed, {} improved, {} unchanged, {} new, {} removed\n",
        count(Verdict::Regressed),
        count(Verdict::Improved),
        count(Verdict::Unchanged),
        count(Verdict::New),
        count(Verdict::Removed)
    );
    out
}

/// The current values in Bencher Metric Format: `{ case: { metric: { value, lower_value,
/// upper_value } } }`, bytes.
pub fn bencher_json(rows: &[Row]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for r in rows {
        let Some(value) = r.current else { continue };
        let mut m = serde_json::Map::new();
        m.insert("value".into(), value.into());
        if let Some((lo, hi)) = r.current_interval {
            m.insert("lower_value".into(), lo.into());
            m.insert("upper_value".into(), hi.into());
        }
        let mut measure = serde_json::Map::new();
        measure.insert(format!("{}-bytes", r.metric.id()), m.into());
        out.insert(r.id.clone(), measure.into());
    }
    out.into()
}

/// The current values as github-action-benchmark's `customSmallerIsBetter` input.
pub fn github_json(rows: &[Row]) -> serde_json::Value {
    rows.iter()
        .filter_map(|r| {
            let value = r.current?;
            let mut item = serde_json::json!({
                "name": format!("{} ({})", r.id, r.metric.id()),
                "unit": "bytes",
                "value": value,
            });
            if let Some((lo, hi)) = r.current_interval {
                item["range"] = format!("{lo:.0}..{hi:.0}").into();
            }
            if let Some(p) = r.change_percent() {
                item["extra"] = format!("{}: {p:+.2}% vs baseline", r.verdict.word()).into();
            }
            Some(item)
        })
        .collect::<Vec<_>>()
        .into()
}
