//! The report's first section, the headline: memory at the peak of every published runtime x
//! strategy pair (and OS threads) at one N, one labelled bar each, sorted from least to most,
//! with one tab per N (the largest first); and the same figures as one compact table, in the
//! order of the first chart, for a pull-request comment.
//!
//! Only the published matrix is here (bare sleeps, every task alive): payload variants,
//! bounded pairs and users' own cases have their own sections.

use super::tables::{skip_n, skip_pair};
use super::view::{Kind, PairView, metric_mode, metric_name, of_kind, per_task};
use crate::measurement::format_bytes;
use crate::report::{
    Align, Axis, Chart, ChartKind, Point, Scale, Section, Series, Table, Tabs, Unit, format_count,
};
use crate::summary::Summary;

/// The value of a view's case at `n`, when measured.
fn at(v: &PairView<'_>, n: usize) -> Option<f64> {
    v.pair
        .cases
        .iter()
        .find(|c| c.n == n)
        .map(|c| c.value.median)
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

/// The pairs measured at `n`, least memory first (ties: summary order).
fn ranked<'v, 'a>(published: &[&'v PairView<'a>], n: usize) -> Vec<(&'v PairView<'a>, f64)> {
    let mut r: Vec<(&PairView<'_>, f64)> = published
        .iter()
        .filter_map(|v| Some((*v, at(v, n)?)))
        .collect();
    r.sort_by(|a, b| a.1.total_cmp(&b.1));
    r
}

/// The id of the headline chart at `n`.
pub(super) fn chart_id(n: usize) -> String {
    format!("peak-n{n}")
}

fn chart_at(summary: &Summary, published: &[&PairView<'_>], n: usize) -> Chart {
    let main = metric_mode(published.iter().map(|v| v.metric));
    let rows = ranked(published, n);
    let notes = rows
        .iter()
        .map(|(v, _)| {
            if v.metric == main {
                String::new()
            } else {
                metric_name(v.metric).to_string()
            }
        })
        .collect();
    let series = rows
        .iter()
        .map(|(v, y)| Series {
            label: v.pair.id.clone(),
            style: v.line,
            points: vec![Point {
                x: n as f64,
                y: *y,
                mark: None,
            }],
        })
        .collect();
    let skipped: Vec<String> = summary
        .skipped
        .iter()
        .filter(|s| skip_n(&s.id) == Some(n))
        .filter(|s| published.iter().any(|v| v.pair.id == skip_pair(&s.id)))
        .map(|s| format!("`{}` was skipped: {}", skip_pair(&s.id), s.reason))
        .collect();
    let mut caption = format!(
        "Every runtime x strategy pair of the published matrix with N = {} tasks alive, each \
         polled once and sleeping on its runtime's timer; least memory at the top. Colour \
         names the runtime, the marker the strategy; each bar's value is printed at its end \
         ({}{}).",
        format_count(n as f64),
        metric_name(main),
        if rows.iter().any(|(v, _)| v.metric != main) {
            "; a different metric is named after the value"
        } else {
            ""
        }
    );
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
        kind: ChartKind::Ranking { notes },
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
        series,
        mark_label: None,
        bar_values: true,
    }
}

/// The headline section: one ranking per N behind tabs (largest N first), and the table.
pub(super) fn headline_section(summary: &Summary, views: &[PairView<'_>]) -> Section {
    let published = of_kind(views, Kind::Published);
    let section = Section::new("headline", "Memory at the peak");
    let ns = sizes(&published);
    let Some(&largest) = ns.last() else {
        return section.text("No case of the published matrix was measured in this summary.");
    };
    let charts = ns
        .iter()
        .rev()
        .map(|n| {
            (
                format!("N = {}", format_count(*n as f64)),
                chart_at(summary, &published, *n),
            )
        })
        .collect();
    section
        .tabs(Tabs {
            id: "headline-n".into(),
            charts,
        })
        .table(headline_table(summary, &published, &ns, largest))
}

/// Every published pair at every N, ordered as the first chart; pairs not measured at the
/// largest N follow, by their value at the largest N they reached.
fn headline_table(
    summary: &Summary,
    published: &[&PairView<'_>],
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
    let mut order: Vec<(&PairView<'_>, (bool, f64))> = published
        .iter()
        .map(|v| {
            let reached = v.pair.cases.iter().map(|c| c.n).max().unwrap_or(0);
            (*v, (reached != largest, at(v, reached).unwrap_or(0.0)))
        })
        .collect();
    order.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.1.1.total_cmp(&b.1.1)));
    for (v, _) in order {
        let mut row = vec![if v.metric == main {
            v.pair.id.clone()
        } else {
            format!("{} ({})", v.pair.id, metric_name(v.metric))
        }];
        for n in ns {
            row.push(match at(v, *n) {
                Some(b) => format_bytes(b),
                None if summary
                    .skipped
                    .iter()
                    .any(|s| skip_pair(&s.id) == v.pair.id && skip_n(&s.id) == Some(*n)) =>
                {
                    "skipped".into()
                }
                None => "-".into(),
            });
        }
        row.push(per_task(v.pair, v.metric).map_or("-".into(), format_bytes));
        t.row(row);
    }
    t
}
