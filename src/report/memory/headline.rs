//! The report's first section, the headline: memory at the peak of every published runtime x
//! strategy pair (and OS threads) at one N, one labelled bar each, sorted from least to most,
//! with one tab per N the suite measured (the largest first); and the same figures as one
//! compact table, in the order of the first chart, for a pull-request comment.
//!
//! When a sweep (`taskmem sweep`, `sweep.json`) is there, its rows in other languages join
//! each chart and the table at the sizes it ran: hatched bars, their metric (whole-process
//! peak RSS) named after their value, so they do not read as the suite's jemalloc figures.
//! The sweep's Rust rows stay in its own section.
//!
//! Only the published matrix is here (bare sleeps, every task alive): payload variants,
//! bounded pairs and users' own cases have their own sections. A skipped pair is named under
//! the chart of its N, or, at a size no pair reached (so without a tab), under the tabs.

use super::tables::{skip_n, skip_pair};
use super::view::{Kind, PairView, metric_mode, metric_name, of_kind, per_task};
use crate::report::{
    Align, Axis, Chart, ChartKind, Colour, Dash, Marker, Point, Scale, Section, Series, Style,
    Table, Tabs, Unit, format_count,
};
use taskmem::format_bytes;
use taskmem::summary::{PairSummary, Summary};

/// How the bars of other languages name their metric.
const PEER_METRIC: &str = "whole-process peak RSS";

/// The key of the hatched bars, drawn in the chart.
const PEER_KEY: &str = "hatched: another language, from taskmem sweep (whole-process peak RSS: \
                        runtime and binary included)";

/// The value of a pair's case at `n`, when measured.
fn at(pair: &PairSummary, n: usize) -> Option<f64> {
    pair.cases.iter().find(|c| c.n == n).map(|c| c.value.median)
}

/// The published sizes, ascending.
fn sizes(published: &[&PairView<'_>]) -> Vec<usize> {
    let mut ns: Vec<usize> = published
        .iter()
        .flat_map(|v| v.pair.cases.iter().map(|c| c.n))
        .collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

/// A row of the sweep in another language: its pair, its skips and how its bar is drawn.
struct Peer<'a> {
    pair: &'a PairSummary,
    /// The sweep's skips of this row (`go/goroutines/1000000`: reason).
    skipped: Vec<(usize, &'a str)>,
    /// Black, hatched in the chart, a marker of its own.
    style: Style,
}

/// The rows of a sweep in other languages, in sweep order: those whose id names no Rust
/// allocator (`go/goroutines`, not `tokio-mt/spawn@system`).
fn peers(sweep: Option<&Summary>) -> Vec<Peer<'_>> {
    let Some(sweep) = sweep else {
        return Vec::new();
    };
    sweep
        .pairs
        .iter()
        .filter(|p| !p.id.contains('@'))
        .enumerate()
        .map(|(i, pair)| Peer {
            pair,
            skipped: sweep
                .skipped
                .iter()
                .filter(|s| skip_pair(&s.id) == pair.id)
                .filter_map(|s| Some((skip_n(&s.id)?, s.reason.as_str())))
                .collect(),
            style: Style {
                colour: Colour(0, 0, 0),
                marker: Marker::ALL[i % Marker::ALL.len()],
                dash: Dash::Sparse,
            },
        })
        .collect()
}

/// One bar of a headline chart.
struct Bar {
    label: String,
    value: f64,
    style: Style,
    note: String,
    hatched: bool,
}

/// The id of the headline chart at `n`.
pub(super) fn chart_id(n: usize) -> String {
    format!("peak-n{n}")
}

/// The suite's skips of published pairs, as (N, pair, reason).
fn published_skips<'s>(
    summary: &'s Summary,
    published: &[&PairView<'_>],
) -> Vec<(usize, &'s str, &'s str)> {
    summary
        .skipped
        .iter()
        .filter(|s| published.iter().any(|v| v.pair.id == skip_pair(&s.id)))
        .filter_map(|s| Some((skip_n(&s.id)?, skip_pair(&s.id), s.reason.as_str())))
        .collect()
}

fn chart_at(summary: &Summary, published: &[&PairView<'_>], peers: &[Peer<'_>], n: usize) -> Chart {
    let main = metric_mode(published.iter().map(|v| v.metric));
    let mut bars: Vec<Bar> = published
        .iter()
        .filter_map(|v| {
            Some(Bar {
                label: v.pair.id.clone(),
                value: at(v.pair, n)?,
                style: v.line,
                note: if v.metric == main {
                    String::new()
                } else {
                    metric_name(v.metric).to_string()
                },
                hatched: false,
            })
        })
        .collect();
    bars.extend(peers.iter().filter_map(|p| {
        Some(Bar {
            label: p.pair.id.clone(),
            value: at(p.pair, n)?,
            style: p.style,
            note: PEER_METRIC.into(),
            hatched: true,
        })
    }));
    // Least first; ties keep the suite's order, then the sweep's.
    bars.sort_by(|a, b| a.value.total_cmp(&b.value));
    let mut skipped: Vec<String> = published_skips(summary, published)
        .into_iter()
        .filter(|(m, _, _)| *m == n)
        .map(|(_, pair, reason)| format!("`{pair}` was skipped: {reason}"))
        .collect();
    skipped.extend(peers.iter().flat_map(|p| {
        p.skipped
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, reason)| format!("`{}` (sweep) was skipped: {reason}", p.pair.id))
    }));
    let any_peer = bars.iter().any(|b| b.hatched);
    let mut caption = format!(
        "Every runtime x strategy pair of the published matrix with N = {} tasks alive, each \
         polled once and sleeping on its runtime's timer; least memory at the top. Colour \
         names the runtime, the marker the strategy; each bar's value is printed at its end \
         ({}{}).",
        format_count(n as f64),
        metric_name(main),
        if bars.iter().any(|b| !b.note.is_empty()) {
            "; a different metric is named after the value"
        } else {
            ""
        }
    );
    if any_peer {
        caption += " Hatched bars are other languages from `taskmem sweep`: the whole \
                    process's peak RSS, one fresh process per N, runtime and binary included. \
                    Another metric: compare them with the suite's bars only as orders of \
                    magnitude.";
    } else if !peers.is_empty() && skipped.iter().all(|s| !s.contains("(sweep)")) {
        caption += &format!(
            " The sweep did not run at N = {}: its other languages are in its own section.",
            format_count(n as f64)
        );
    }
    if n == 1 {
        caption += " At N = 1 the figures are the pages the first allocations touched, not a \
                    cost per task.";
    }
    if !skipped.is_empty() {
        caption += &format!(" {}.", skipped.join("; "));
    }
    Chart {
        id: chart_id(n),
        title: format!("Memory at the peak, N = {} tasks", format_count(n as f64)),
        caption,
        kind: ChartKind::Ranking {
            notes: bars.iter().map(|b| b.note.clone()).collect(),
            hatched: bars.iter().map(|b| b.hatched).collect(),
            hatched_key: any_peer.then(|| PEER_KEY.to_string()),
        },
        x: Axis {
            label: "runtime/strategy".into(),
            unit: Unit::Other(String::new()),
            scale: Scale::Linear,
        },
        y: Axis {
            label: format!("memory at the peak (bytes, {})", metric_name(main)),
            unit: Unit::Bytes,
            scale: Scale::Linear,
        },
        series: bars
            .into_iter()
            .map(|b| Series {
                label: b.label,
                style: b.style,
                points: vec![Point {
                    x: n as f64,
                    y: b.value,
                    mark: None,
                }],
            })
            .collect(),
        mark_label: None,
        bar_values: true,
    }
}

/// The headline section: one ranking per N behind tabs (largest N first), the pairs skipped
/// at a size no pair reached, and the table.
pub(super) fn headline_section(
    summary: &Summary,
    views: &[PairView<'_>],
    sweep: Option<&Summary>,
) -> Section {
    let published = of_kind(views, Kind::Published);
    let peers = peers(sweep);
    let mut section = Section::new("headline", "Memory at the peak");
    let ns = sizes(&published);
    // A skip at an N with no tab (no pair reached it) would otherwise be nowhere near the
    // chart: it is named under the tabs, whichever is open.
    let unreached: Vec<String> = published_skips(summary, &published)
        .into_iter()
        .filter(|(n, _, _)| !ns.contains(n))
        .map(|(n, pair, reason)| {
            format!(
                "N = {}: `{pair}` was skipped: {reason}",
                format_count(n as f64)
            )
        })
        .collect();
    let Some(&largest) = ns.last() else {
        section = section.text("No case of the published matrix was measured in this summary.");
        for s in unreached {
            section = section.text(s);
        }
        return section;
    };
    let charts = ns
        .iter()
        .rev()
        .map(|n| {
            (
                format!("N = {}", format_count(*n as f64)),
                chart_at(summary, &published, &peers, *n),
            )
        })
        .collect();
    section = section.tabs(Tabs {
        id: "headline-n".into(),
        charts,
    });
    if !unreached.is_empty() {
        section = section.text(format!(
            "Skipped at a size no pair reached, so it has no chart: {}.",
            unreached.join("; ")
        ));
    }
    section.table(headline_table(summary, &published, &peers, &ns, largest))
}

/// Every published pair (and every other language of the sweep) at every N, ordered as the
/// first chart; rows without a value at the largest N follow, by their value at the largest
/// N they reached.
fn headline_table(
    summary: &Summary,
    published: &[&PairView<'_>],
    peers: &[Peer<'_>],
    ns: &[usize],
    largest: usize,
) -> Table {
    let main = metric_mode(published.iter().map(|v| v.metric));
    let mut t = Table::new(
        "headline",
        format!(
            "Memory at the peak ({}), ordered as the chart at N = {}",
            metric_name(main),
            format_count(largest as f64)
        ),
    )
    .column("pair", Align::Left);
    for n in ns {
        t = t.column(format!("N = {}", format_count(*n as f64)), Align::Right);
    }
    t = t.column("per task", Align::Right);
    /// One row: its label, its figures, the sizes it was skipped at, its bytes per task.
    struct Row<'a> {
        label: String,
        pair: &'a PairSummary,
        skipped: Vec<usize>,
        per_task: Option<f64>,
    }
    let skips = published_skips(summary, published);
    let mut rows: Vec<Row<'_>> = published
        .iter()
        .map(|v| Row {
            label: if v.metric == main {
                v.pair.id.clone()
            } else {
                format!("{} ({})", v.pair.id, metric_name(v.metric))
            },
            pair: v.pair,
            skipped: skips
                .iter()
                .filter(|(_, p, _)| *p == v.pair.id)
                .map(|(n, _, _)| *n)
                .collect(),
            per_task: per_task(v.pair, v.metric),
        })
        .collect();
    rows.extend(peers.iter().map(|p| Row {
        label: format!("{} ({PEER_METRIC})", p.pair.id),
        pair: p.pair,
        skipped: p.skipped.iter().map(|(n, _)| *n).collect(),
        per_task: p.pair.bytes_per_task.get("rss").copied(),
    }));
    // Rows with no value at any of the suite's sizes (a sweep run at other sizes) are left
    // out: the sweep's section has them.
    rows.retain(|r| {
        ns.iter()
            .any(|n| at(r.pair, *n).is_some() || r.skipped.contains(n))
    });
    let key = |pair: &PairSummary| {
        let reached = ns.iter().rev().find_map(|n| at(pair, *n));
        (at(pair, largest).is_none(), reached.unwrap_or(0.0))
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a.pair), key(b.pair));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    for r in rows {
        let mut row = vec![r.label];
        for n in ns {
            row.push(match at(r.pair, *n) {
                Some(b) => format_bytes(b),
                None if r.skipped.contains(n) => "skipped".into(),
                None => "-".into(),
            });
        }
        row.push(r.per_task.map_or("-".into(), format_bytes));
        t.row(row);
    }
    t
}
