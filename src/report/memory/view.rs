//! What the report knows of each pair: runtime and strategy from its id, its metric, and its
//! styles (one colour and dash pattern per runtime, one marker per strategy, in matrix
//! order); and the names and per-task figures every section uses.

use crate::matrix::{Runtime, Strategy};
use crate::report::{Dash, Marker, OKABE_ITO, Style};
use taskmem::sample::Metric;
use taskmem::summary::{CaseSummary, PairSummary, Summary};

/// Runtime, strategy and any further segments of a pair id.
fn split_pair(id: &str) -> (&str, &str) {
    let mut parts = id.splitn(3, '/');
    let runtime = parts.next().unwrap_or("");
    let strategy = parts.next().unwrap_or("");
    (runtime, strategy)
}

/// Index of a runtime for its colour and dash: matrix order, unknown ones after.
fn runtime_index(runtime: &str, seen: &[String]) -> usize {
    Runtime::ALL
        .iter()
        .position(|r| r.id() == runtime)
        .unwrap_or_else(|| Runtime::ALL.len() + seen.iter().position(|s| s == runtime).unwrap_or(0))
}

/// Index of a strategy for its marker: matrix order, unknown ones after.
fn strategy_index(strategy: &str, seen: &[String]) -> usize {
    Strategy::ALL
        .iter()
        .position(|s| s.id() == strategy)
        .unwrap_or_else(|| {
            Strategy::ALL.len() + seen.iter().position(|s| s == strategy).unwrap_or(0)
        })
}

/// The line style of a pair id (`runtime/strategy...`) on its own: colour and dash from the
/// runtime, marker from the strategy, as in the memory charts (other sources' charts use it
/// so a pair looks the same everywhere).
pub fn line_style(pair_id: &str) -> Style {
    let (runtime, strategy) = split_pair(pair_id);
    let r = runtime_index(runtime, &[]);
    let s = strategy_index(strategy, &[]);
    Style {
        colour: OKABE_ITO[r % OKABE_ITO.len()],
        marker: Marker::ALL[s % Marker::ALL.len()],
        dash: Dash::ALL[r % Dash::ALL.len()],
    }
}

/// Which part of the report a pair belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The published matrix: a known runtime and strategy, a bare sleep, every task alive.
    Published,
    /// A payload variant (`runtime/strategy/pP-place`).
    Payload,
    /// A bounded pair (`runtime/strategy/kK`): at most K tasks alive, memory flat in N.
    Bounded,
    /// A case recorded from a user's own bench (an id that is not the matrix's).
    User,
}

/// The kind of a pair, from its fields first (`payload`, `bound`), then its id: a runtime
/// and strategy the matrix knows, and a third segment `pP-place` or `kK` when there is one.
pub(super) fn kind(pair: &PairSummary) -> Kind {
    let mut parts = pair.id.split('/');
    let runtime = parts.next().unwrap_or("");
    let strategy = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    if runtime.parse::<Runtime>().is_err() || strategy.parse::<Strategy>().is_err() {
        return Kind::User;
    }
    let numbered = |seg: &str, prefix: char| {
        seg.strip_prefix(prefix)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    match (pair.payload.is_some(), pair.bound, rest.as_slice()) {
        (true, _, _) => Kind::Payload,
        (false, Some(_), _) => Kind::Bounded,
        (false, None, []) => Kind::Published,
        (false, None, [seg]) if numbered(seg, 'p') => Kind::Payload,
        (false, None, [seg]) if numbered(seg, 'k') => Kind::Bounded,
        _ => Kind::User,
    }
}

/// What the report knows of each pair: its parts, metric and style.
pub(super) struct PairView<'a> {
    /// The pair's figures.
    pub(super) pair: &'a PairSummary,
    /// The runtime: the id's first segment.
    pub(super) runtime: String,
    /// The strategy: the id's second segment.
    pub(super) strategy: String,
    /// The metric its cases report.
    pub(super) metric: Metric,
    /// Colour and dash from the runtime, marker from the strategy.
    pub(super) line: Style,
    /// Colour and marker from the strategy (bars grouped by runtime).
    pub(super) bar: Style,
    /// Which part of the report shows it.
    pub(super) kind: Kind,
}

pub(super) fn views(summary: &Summary) -> Vec<PairView<'_>> {
    let unknown_runtimes: Vec<String> = summary
        .pairs
        .iter()
        .map(|p| split_pair(&p.id).0.to_string())
        .filter(|r| r.parse::<Runtime>().is_err())
        .collect();
    let unknown_strategies: Vec<String> = summary
        .pairs
        .iter()
        .map(|p| split_pair(&p.id).1.to_string())
        .filter(|s| s.parse::<Strategy>().is_err())
        .collect();
    summary
        .pairs
        .iter()
        .map(|pair| {
            let (runtime, strategy) = split_pair(&pair.id);
            let r = runtime_index(runtime, &unknown_runtimes);
            let s = strategy_index(strategy, &unknown_strategies);
            let marker = Marker::ALL[s % Marker::ALL.len()];
            PairView {
                pair,
                runtime: runtime.to_string(),
                strategy: strategy.to_string(),
                metric: pair
                    .cases
                    .first()
                    .map_or(Metric::Resident, |c: &CaseSummary| c.metric),
                line: Style {
                    colour: OKABE_ITO[r % OKABE_ITO.len()],
                    marker,
                    dash: Dash::ALL[r % Dash::ALL.len()],
                },
                bar: Style {
                    colour: OKABE_ITO[s % OKABE_ITO.len()],
                    marker,
                    dash: Dash::Solid,
                },
                kind: kind(pair),
            }
        })
        .collect()
}

/// The views of one kind, in summary order.
pub(super) fn of_kind<'v, 'a>(views: &'v [PairView<'a>], k: Kind) -> Vec<&'v PairView<'a>> {
    views.iter().filter(|v| v.kind == k).collect()
}

/// The metric most pairs report (ties: the first in [`Metric::ALL`]).
pub(super) fn main_metric(views: &[PairView<'_>]) -> Metric {
    metric_mode(views.iter().map(|v| v.metric))
}

/// The metric that occurs most often (ties: the first in [`Metric::ALL`]).
pub(super) fn metric_mode(metrics: impl Iterator<Item = Metric> + Clone) -> Metric {
    let mut best = (Metric::Resident, 0);
    for m in Metric::ALL {
        let count = metrics.clone().filter(|x| *x == m).count();
        if count > best.1 {
            best = (m, count);
        }
    }
    best.0
}

/// How a metric is named on axes and in tables.
pub(super) fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Resident => "jemalloc resident",
        Metric::Allocated => "allocated heap",
        Metric::Rss => "process RSS",
    }
}

/// Bytes per task of a pair in its reported metric (the slope across N).
pub(super) fn per_task(pair: &PairSummary, metric: Metric) -> Option<f64> {
    pair.bytes_per_task
        .get("reported")
        .or_else(|| pair.bytes_per_task.get(metric.id()))
        .copied()
}
