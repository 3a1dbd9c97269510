//! The tables section: every pair at every N, and every case (value, bytes per task, spread,
//! change against the baseline, skipped cases with their reason).

use std::collections::BTreeMap;

use super::comparison::Comparison;
use super::variants::{bound, per_live_task};
use super::view::{Kind, PairView, per_task};
use crate::baseline::Row;
use crate::report::{Align, Section, Table};
use taskmem::format_bytes;
use taskmem::summary::Summary;

/// The sizes in the summary, measured or skipped, ascending.
fn sizes(summary: &Summary) -> Vec<usize> {
    let mut ns: Vec<usize> = summary
        .pairs
        .iter()
        .flat_map(|p| p.cases.iter().map(|c| c.n))
        .chain(summary.skipped.iter().filter_map(|s| skip_n(&s.id)))
        .collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

/// N of a skipped case id (`runtime/strategy/.../N`).
pub(super) fn skip_n(id: &str) -> Option<usize> {
    id.rsplit_once('/').and_then(|(_, n)| n.parse().ok())
}

/// The pair of a skipped case id (the id without its N).
pub(super) fn skip_pair(id: &str) -> &str {
    id.rsplit_once('/').map_or(id, |(p, _)| p)
}

pub(super) fn tables_section(
    summary: &Summary,
    views: &[PairView<'_>],
    comparison: Option<&Comparison>,
) -> Section {
    let mut s = Section::new("tables", "Every pair and every case");
    s = s.table(pairs_table(summary, views));
    s = s.table(cases_table(summary, views, comparison));
    s.text(
        "Values are medians over the sampled runs (Criterion's samples). Per task: the value \
         divided by N; for a bounded pair, divided by the tasks alive at the peak, min(N, K), \
         since its memory is flat in N. CV: the coefficient of variation over the runs. Allocated per task: the \
         exact heap bytes requested, whatever metric the case reports.",
    )
}

fn pairs_table(summary: &Summary, views: &[PairView<'_>]) -> Table {
    let ns = sizes(summary);
    let mut t = Table::new(
        "pairs",
        "Memory at the peak at each N, and bytes per task (slope across N)",
    )
    .column("pair", Align::Left)
    .column("metric", Align::Left);
    for n in &ns {
        t = t.column(
            format!("N = {}", crate::report::format_count(*n as f64)),
            Align::Right,
        );
    }
    t = t
        .column("per task", Align::Right)
        .column("allocated per task", Align::Right)
        .column("size_of future", Align::Right);
    for v in views {
        let mut row = vec![v.pair.id.clone(), v.metric.id().to_string()];
        for n in &ns {
            let cell = match v.pair.cases.iter().find(|c| c.n == *n) {
                Some(c) => format_bytes(c.value.median),
                None if summary
                    .skipped
                    .iter()
                    .any(|s| skip_pair(&s.id) == v.pair.id && skip_n(&s.id) == Some(*n)) =>
                {
                    "skipped".to_string()
                }
                None => "-".to_string(),
            };
            row.push(cell);
        }
        row.push(if v.kind == Kind::Bounded {
            per_live_task(v.pair).map_or("-".into(), |b| {
                format!("flat: {} per live task", format_bytes(b))
            })
        } else {
            per_task(v.pair, v.metric).map_or("-".into(), format_bytes)
        });
        row.push(
            v.pair
                .bytes_per_task
                .get("allocated")
                .map_or("-".into(), |b| format_bytes(*b)),
        );
        row.push(v.pair.future_size.map_or("-".into(), |s| format!("{s} B")));
        t.row(row);
    }
    t
}

fn cases_table(
    summary: &Summary,
    views: &[PairView<'_>],
    comparison: Option<&Comparison>,
) -> Table {
    let caption = match comparison {
        Some(c) => format!(
            "Every case, with its change against baseline `{}` and skipped cases with their reason",
            c.name
        ),
        None => "Every case, with skipped cases and their reason (no baseline chosen)".into(),
    };
    let mut t = Table::new("cases", caption)
        .column("case", Align::Left)
        .column("N", Align::Right)
        .column("metric", Align::Left)
        .column("value", Align::Right)
        .column("per task", Align::Right)
        .column("CV", Align::Right)
        .column("allocated per task", Align::Right);
    if comparison.is_some() {
        t = t
            .column("baseline", Align::Right)
            .column("change", Align::Right)
            .column("verdict", Align::Left);
    }
    t = t.column("note", Align::Left);
    let rows_by_id: BTreeMap<&str, &Row> = comparison
        .map(|c| c.rows.iter().map(|r| (r.id.as_str(), r)).collect())
        .unwrap_or_default();
    let change_cells = |id: &str| -> Vec<String> {
        match rows_by_id.get(id) {
            Some(r) => vec![
                r.baseline.map_or("-".into(), format_bytes),
                match (r.change(), r.change_percent()) {
                    (Some(c), Some(p)) => format!(
                        "{}{} ({p:+.2} %)",
                        if c > 0.0 { "+" } else { "" },
                        format_bytes(c)
                    ),
                    (Some(c), None) => format_bytes(c),
                    _ => "-".into(),
                },
                r.verdict.word().to_string(),
            ],
            None => vec!["-".into(), "-".into(), "-".into()],
        }
    };
    // Measured and skipped cases in pair order, then by N.
    let order = |pair: &str| {
        views
            .iter()
            .position(|v| v.pair.id == pair)
            .unwrap_or(usize::MAX)
    };
    let mut entries: Vec<(usize, usize, Vec<String>)> = Vec::new();
    for v in views {
        for c in &v.pair.cases {
            let n = c.n.max(1) as f64;
            let mut row = vec![
                c.id.clone(),
                crate::report::format_count(c.n as f64),
                c.metric.id().to_string(),
                format_bytes(c.value.median),
                match bound(v.pair).filter(|_| v.kind == Kind::Bounded) {
                    Some(k) => format!(
                        "{} per live task",
                        format_bytes(c.value.median / c.n.min(k).max(1) as f64)
                    ),
                    None => format_bytes(c.per_task),
                },
                format!("{:.2} %", c.value.cv_percent),
                c.metrics
                    .get("allocated")
                    .map_or("-".into(), |a| format_bytes(a.median / n)),
            ];
            if comparison.is_some() {
                row.extend(change_cells(&c.id));
            }
            row.push(if c.below_resolution {
                "grew by less than a page in some run: exact allocated bytes".into()
            } else {
                String::new()
            });
            entries.push((order(&v.pair.id), c.n, row));
        }
    }
    for skip in &summary.skipped {
        let n = skip_n(&skip.id);
        let mut row = vec![
            skip.id.clone(),
            n.map_or("-".into(), |n| crate::report::format_count(n as f64)),
            "-".into(),
            "skipped".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ];
        if comparison.is_some() {
            row.extend(change_cells(&skip.id));
        }
        row.push(format!("skipped: {}", skip.reason));
        entries.push((order(skip_pair(&skip.id)), n.unwrap_or(0), row));
    }
    entries.sort_by_key(|(p, n, _)| (*p, *n));
    for (_, _, row) in entries {
        t.row(row);
    }
    t
}
