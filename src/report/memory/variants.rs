//! The sections of what the published matrix leaves out, each with a chart scaled to what it
//! shows: payload variants (bytes per task on their own log axis, the payload's size marked)
//! and bounded pairs (memory flat in N: bytes per live task).

use super::view::{Kind, PairView, metric_mode, metric_name, of_kind, per_task};
use crate::report::{Axis, Chart, ChartKind, Point, Scale, Section, Series, Unit, format_count};
use taskmem::format_bytes;
use taskmem::summary::PairSummary;

/// `runtime/strategy` of a pair id.
fn base(id: &str) -> String {
    id.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// A payload pair's variant as a reader says it: `1024 B inline` (from its id's third
/// segment `p1024-inline`).
fn variant(id: &str) -> String {
    let seg = id.split('/').nth(2).unwrap_or("");
    match seg.strip_prefix('p').and_then(|r| r.split_once('-')) {
        Some((bytes, place)) => format!("{bytes} B {place}"),
        None => seg.to_string(),
    }
}

/// The payload section: bytes per task of each payload variant, grouped by variant, one bar
/// per runtime/strategy, beside the same pair without a payload. `None` without payload
/// pairs.
pub(super) fn payload_section(views: &[PairView<'_>]) -> Option<Section> {
    let payloads = of_kind(views, Kind::Payload);
    if payloads.is_empty() {
        return None;
    }
    let metric = metric_mode(payloads.iter().map(|v| v.metric));
    let mut categories = vec!["no payload".to_string()];
    for v in &payloads {
        let c = variant(&v.pair.id);
        if !categories.contains(&c) {
            categories.push(c);
        }
    }
    let mut series: Vec<Series> = Vec::new();
    let mut add = |label: String, v: &PairView<'_>, x: usize, mark: Option<f64>| {
        let Some(y) = per_task(v.pair, v.metric) else {
            return;
        };
        let point = Point {
            x: x as f64,
            y,
            mark,
        };
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                label,
                style: v.line,
                points: vec![point],
            }),
        }
    };
    for v in &payloads {
        let b = base(&v.pair.id);
        if let Some(bare) = views
            .iter()
            .find(|w| w.kind == Kind::Published && w.pair.id == b)
        {
            add(b.clone(), bare, 0, None);
        }
        let x = categories
            .iter()
            .position(|c| *c == variant(&v.pair.id))
            .unwrap_or(0);
        add(b, v, x, payload_mark(v.pair));
    }
    for s in &mut series {
        s.points.dedup_by(|a, b| a.x == b.x);
    }
    let chart = Chart {
        id: "payload-per-task".into(),
        title: "Bytes per task with a payload held across the await".into(),
        caption: format!(
            "Each group is one payload: P bytes kept inline in the task's future, in a heap \
             allocation the future owns, or dropped before the await; the first group is the \
             same pairs without a payload. Bars are bytes per task ({}, the slope across N), \
             on a logarithmic axis so that 200 B and 24 KiB both read; the black tick is P. \
             A bar above its tick is what the runtime adds to the payload: its task cell, \
             the future's other state, jemalloc's size classes and the page it pads each \
             large allocation with (see the breakdown table, when there is one).",
            metric_name(metric)
        ),
        kind: ChartKind::Bars { categories },
        x: Axis {
            label: "payload per task".into(),
            unit: Unit::Other(String::new()),
            scale: Scale::Linear,
        },
        y: Axis {
            label: format!("bytes per task ({}, slope across N)", metric_name(metric)),
            unit: Unit::Bytes,
            scale: Scale::Log,
        },
        series,
        mark_label: Some("P, the payload's bytes".into()),
        bar_values: true,
    };
    Some(Section::new("payloads", "Payloads held across the await").chart(chart))
}

/// P, for a payload kept alive across the await (inline or on the heap).
fn payload_mark(pair: &PairSummary) -> Option<f64> {
    let p = crate::pairs::payload(pair)?;
    (p.place != crate::matrix::Place::Dropped && p.bytes > 0).then_some(p.bytes as f64)
}

/// Bytes per task alive at the peak of a bounded pair: the summary's figure, or the value at
/// the largest N over min(N, K).
pub(super) fn per_live_task(pair: &PairSummary) -> Option<f64> {
    if let Some(b) = pair.bytes_per_live_task {
        return Some(b);
    }
    let k = bound(pair)?;
    let c = pair.cases.iter().max_by_key(|c| c.n)?;
    Some(c.value.median / c.n.min(k).max(1) as f64)
}

/// K of a bounded pair: its `bound`, or its id's `kK` segment.
pub(super) fn bound(pair: &PairSummary) -> Option<usize> {
    pair.bound
        .or_else(|| pair.id.split('/').nth(2)?.strip_prefix('k')?.parse().ok())
}

/// The bounded section: one bar per bounded pair, its bytes per live task, least first.
/// `None` without bounded pairs.
pub(super) fn bounded_section(views: &[PairView<'_>]) -> Option<Section> {
    let bounded = of_kind(views, Kind::Bounded);
    if bounded.is_empty() {
        return None;
    }
    let metric = metric_mode(bounded.iter().map(|v| v.metric));
    let mut rows: Vec<(&PairView<'_>, f64)> = bounded
        .iter()
        .filter_map(|v| Some((*v, per_live_task(v.pair)?)))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let notes = rows
        .iter()
        .map(|(v, _)| match v.pair.cases.iter().max_by_key(|c| c.n) {
            Some(c) => format!(
                "per live task (flat: {} at N = {})",
                format_bytes(c.value.median),
                format_count(c.n as f64)
            ),
            None => "per live task".into(),
        })
        .collect();
    let chart = Chart {
        id: "bounded".into(),
        title: "Bounded pairs: bytes per live task".into(),
        caption: format!(
            "`buffer_unordered` and a semaphore keep at most K of the N tasks alive, so their \
             memory is flat in N once N passes K: a cost per task across N would read as zero. \
             Each bar is the memory at the peak at the largest N ({}) divided by the tasks \
             alive then, min(N, K); the flat total is printed after it.",
            metric_name(metric)
        ),
        kind: ChartKind::Ranking {
            notes,
            hatched: Vec::new(),
            hatched_key: None,
        },
        x: Axis {
            label: "runtime/strategy/K".into(),
            unit: Unit::Other(String::new()),
            scale: Scale::Linear,
        },
        y: Axis {
            label: format!("bytes per live task ({})", metric_name(metric)),
            unit: Unit::Bytes,
            scale: Scale::Linear,
        },
        series: rows
            .iter()
            .map(|(v, y)| Series {
                label: v.pair.id.clone(),
                style: v.line,
                points: vec![Point {
                    x: 0.0,
                    y: *y,
                    mark: None,
                }],
            })
            .collect(),
        mark_label: None,
        bar_values: true,
    };
    Some(Section::new("bounded", "Bounded pairs: flat in N").chart(chart))
}
