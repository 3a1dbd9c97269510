//! Thresholds: the defaults, the rules of `target-baselines/thresholds.toml`, and the
//! threshold one case and metric gets.

use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::Result;
use taskmem::sample::Metric;

/// The default relative threshold, in percent.
pub const DEFAULT_PERCENT: f64 = 5.0;

/// The default absolute noise floor, in bytes.
pub const DEFAULT_FLOOR: f64 = 65536.0;

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
