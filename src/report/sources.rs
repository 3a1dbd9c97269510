//! Report sections from the other sources beside the memory summary: the spawn-time bench's
//! `time.json` (time to all-pending per case, wake-up lateness per pair) and the sweep's
//! `sweep.json` (whole-process peak RSS per row at each N, the published way), and the
//! connection bench's `connections.json` ([`super::connections`]). Each section
//! appears when its file exists next to the summary; a file that cannot be read is named in
//! the section's text instead of failing the report.

use std::collections::BTreeMap;
use std::path::Path;

use super::memory::line_style;
use super::{
    Align, Axis, Chart, ChartKind, Dash, Marker, OKABE_ITO, Point, Report, Scale, Section, Series,
    Style, Table, Unit, format_seconds,
};
use crate::timing::TimeSummary;
use taskmem::format_bytes;
use taskmem::summary::Summary;

/// Where each task's bytes go, per pair of the memory summary (its `breakdown`): the
/// future, the heap payload, the runtime's header, jemalloc's rounding and large-allocation
/// pad, and the unexplained rest. `None` when no pair has a breakdown.
pub fn breakdown_section(s: &Summary) -> Option<Section> {
    let mut t = Table::new("breakdown", "Bytes per task, explained")
        .column("pair", Align::Left)
        .column("metric", Align::Left);
    for h in [
        "measured",
        "future (size_of_val)",
        "heap payload",
        "header",
        "size-class rounding",
        "large pad",
        "unexplained",
    ] {
        t = t.column(h, Align::Right);
    }
    for p in &s.pairs {
        let Some(b) = &p.breakdown else { continue };
        let f = |v: f64| format!("{v:.0}");
        t.row(vec![
            p.id.clone(),
            b.metric.to_string(),
            f(b.measured),
            f(b.future),
            b.heap_payload.map_or_else(|| "-".into(), f),
            // A user's own tasks: the runtime's and the task's heap together, not split.
            b.header.map_or_else(
                || format!("{} (with the task's heap)", f(b.beyond_future)),
                f,
            ),
            f(b.size_class_rounding),
            f(b.large_pad),
            format!("{:.0} ({:.1} %)", b.unexplained, b.unexplained_percent),
        ]);
    }
    (!t.rows.is_empty()).then(|| {
        Section::new("breakdown", "Where each task's bytes go")
            .text(
                "Bytes per task (slope across N) split into what is known: `size_of_val` of the \
                 task's future, the payload it holds on the heap, the runtime's or combinator's \
                 per-task header (exact allocated bytes minus the two), jemalloc's size-class \
                 rounding (usable minus allocated), the page jemalloc adds to every allocation \
                 of 16 KiB or more, and the rest, unexplained.",
            )
            .table(t)
    })
}

/// The other sources found beside a summary, each `None` when its file is absent and an
/// error (one line naming the file) when it cannot be read.
#[derive(Debug, Default)]
pub struct Sources {
    /// `time.json`, from `cargo bench --bench spawn_time`.
    pub time: Option<Result<TimeSummary, String>>,
    /// `sweep.json`, from `taskmem sweep`.
    pub sweep: Option<Result<Summary, String>>,
    /// `connections.json`, from `cargo bench --features connections --bench connections`.
    pub connections: Option<Result<BTreeMap<String, crate::connections::record::Extra>, String>>,
    /// `summary.json` beside it, for the connection cases' CV (when `connections.json` is there).
    pub summary: Option<Summary>,
}

impl Sources {
    /// Reads the sources in `dir` (the summary's directory).
    pub fn load(dir: &Path) -> Sources {
        let time = dir.join("time.json");
        let sweep = dir.join("sweep.json");
        let connections = dir.join("connections.json");
        let connections = connections
            .is_file()
            .then(|| crate::connections::record::load_from(&connections));
        Sources {
            time: time.is_file().then(|| crate::timing::load(&time)),
            sweep: sweep.is_file().then(|| taskmem::summary::load(&sweep)),
            summary: connections
                .as_ref()
                .and_then(|_| taskmem::summary::load(&dir.join("summary.json")).ok()),
            connections,
        }
    }

    /// The sweep, when its file was there and read (the headline shows its other languages).
    pub fn sweep(&self) -> Option<&Summary> {
        self.sweep.as_ref()?.as_ref().ok()
    }
}

/// Adds the sections of every source in `sources`; one that could not be read is a section
/// naming the error.
pub fn add(report: &mut Report, sources: &Sources) {
    if let Some(time) = &sources.time {
        report.sections.push(match time {
            Ok(t) => time_section(t),
            Err(e) => {
                Section::new("time", "Time to all-pending and wake-up lateness").text(e.clone())
            }
        });
    }
    if let Some(connections) = &sources.connections {
        report.sections.push(match connections {
            Ok(c) => super::connections::section(c, sources.summary.as_ref()),
            Err(e) => Section::new("connections", super::connections::HEADING).text(e.clone()),
        });
    }
    if let Some(sweep) = &sources.sweep {
        report.sections.push(match sweep {
            Ok(s) => sweep_section(s),
            Err(e) => {
                Section::new("sweep", "Whole-process peak, the published way").text(e.clone())
            }
        });
    }
}

fn pair_of(case_id: &str) -> &str {
    case_id.rsplit_once('/').map_or(case_id, |(p, _)| p)
}

/// Time per case and lateness per pair, from `cargo bench --bench spawn_time`.
pub fn time_section(t: &TimeSummary) -> Section {
    let mut cases = Table::new(
        "time-cases",
        "Time from creating the first task to all pending",
    )
    .column("case", Align::Left)
    .column("N", Align::Right)
    .column("time", Align::Right)
    .column("per task", Align::Right)
    .column("tasks per second", Align::Right);
    for c in &t.cases {
        cases.row(vec![
            c.id.clone(),
            c.n.to_string(),
            format_seconds(c.seconds.median),
            format_seconds(c.ns_per_task / 1e9),
            format!("{:.0}", c.tasks_per_second),
        ]);
    }
    let mut pairs: Vec<&str> = t.cases.iter().map(|c| pair_of(&c.id)).collect();
    pairs.dedup();
    let series = pairs
        .iter()
        .map(|p| Series {
            label: p.to_string(),
            style: line_style(p),
            points: t
                .cases
                .iter()
                .filter(|c| pair_of(&c.id) == *p && c.ns_per_task > 0.0)
                .map(|c| Point {
                    x: c.n as f64,
                    y: c.ns_per_task / 1e9,
                    mark: None,
                })
                .collect(),
        })
        .collect();
    let chart = Chart {
        id: "time-per-task".into(),
        title: "Time per task to reach all-pending".into(),
        caption: "Both axes are logarithmic. Wall time from creating the first task to every \
                  task pending, divided by N (median of Criterion's samples). At N = 1 the \
                  figure is the fixed cost of a run."
            .into(),
        kind: ChartKind::Lines,
        x: Axis {
            label: "tasks, N (count)".into(),
            unit: Unit::Count,
            scale: Scale::Log,
        },
        y: Axis {
            label: "time per task (seconds)".into(),
            unit: Unit::Seconds,
            scale: Scale::Log,
        },
        series,
        mark_label: None,
        bar_values: false,
    };
    let mut lateness = Table::new(
        "lateness",
        "Wake-up lateness: how late each task resumed past its deadline",
    )
    .column("pair", Align::Left)
    .column("tasks", Align::Right)
    .column("sleep", Align::Right)
    .column("p50", Align::Right)
    .column("p99", Align::Right)
    .column("max", Align::Right)
    .column("total", Align::Right);
    for l in &t.lateness {
        lateness.row(vec![
            l.id.clone(),
            l.lateness.tasks.to_string(),
            format_seconds(l.sleep_ms / 1e3),
            format_seconds(l.lateness.p50_us / 1e6),
            format_seconds(l.lateness.p99_us / 1e6),
            format_seconds(l.lateness.max_us / 1e6),
            format_seconds(l.total_ms / 1e3),
        ]);
    }
    let mut s = Section::new("time", "Time to all-pending and wake-up lateness")
        .text(
            "From `cargo bench --bench spawn_time`: the time to create N tasks and reach \
             all-pending (the memory suite's peak), and N tasks with a short sleep that record \
             how late they woke (nearest-rank percentiles).",
        )
        .chart(chart)
        .table(cases)
        .table(lateness);
    for k in &t.skipped {
        s = s.text(format!("{}: skipped: {}", k.id, k.reason));
    }
    s
}

/// The published-style table and chart, from `taskmem sweep`.
pub fn sweep_section(s: &Summary) -> Section {
    let mut sizes: Vec<usize> = s
        .pairs
        .iter()
        .flat_map(|p| p.cases.iter().map(|c| c.n))
        .collect();
    sizes.extend(
        s.skipped
            .iter()
            .filter_map(|k| k.id.rsplit_once('/')?.1.parse::<usize>().ok()),
    );
    sizes.sort_unstable();
    sizes.dedup();
    let mut table = Table::new(
        "sweep",
        "Peak RSS of the whole process, one process per row and N",
    )
    .column("row", Align::Left);
    for &n in &sizes {
        table = table.column(
            format!("N = {}", super::format_count(n as f64)),
            Align::Right,
        );
    }
    table = table.column("bytes per task", Align::Right);
    for p in &s.pairs {
        let mut cells = vec![p.id.clone()];
        for &n in &sizes {
            let id = format!("{}/{n}", p.id);
            cells.push(match p.cases.iter().find(|c| c.n == n) {
                Some(c) => format_bytes(c.value.median),
                None => s
                    .skipped
                    .iter()
                    .find(|k| k.id == id)
                    .map_or("-".into(), |_| "skipped".into()),
            });
        }
        cells.push(
            p.bytes_per_task
                .get("rss")
                .map_or("-".into(), |b| format!("{b:.0} B")),
        );
        table.row(cells);
    }
    // Rust rows (`runtime/strategy@allocator`) look as in the memory charts; each peer in
    // another language gets its own colour and marker, and one dash pattern for all.
    let mut peers = 0;
    let mut style_of = |id: &str| match id.split_once('@') {
        Some((pair, _)) => line_style(pair),
        None => {
            peers += 1;
            Style {
                colour: OKABE_ITO[(peers - 1) % OKABE_ITO.len()],
                marker: Marker::ALL[(peers - 1) % Marker::ALL.len()],
                dash: Dash::Sparse,
            }
        }
    };
    let series = s
        .pairs
        .iter()
        .map(|p| Series {
            label: p.id.clone(),
            style: style_of(&p.id),
            points: p
                .cases
                .iter()
                .map(|c| Point {
                    x: c.n as f64,
                    y: c.value.median,
                    mark: None,
                })
                .collect(),
        })
        .collect();
    let chart = Chart {
        id: "sweep-peak".into(),
        title: "Whole-process peak RSS against N (fresh process per point)".into(),
        caption: "Both axes are logarithmic. Every point is one process whose tasks really \
                  slept; its peak RSS includes the runtime and the binary, so at small N the \
                  lines sit on the process's own size."
            .into(),
        kind: ChartKind::Lines,
        x: Axis {
            label: "tasks, N (count)".into(),
            unit: Unit::Count,
            scale: Scale::Log,
        },
        y: Axis {
            label: "peak RSS of the process (bytes)".into(),
            unit: Unit::Bytes,
            scale: Scale::Log,
        },
        series,
        mark_label: None,
        bar_values: false,
    };
    let mut section = Section::new("sweep", "Whole-process peak, the published way")
        .text(format!(
            "From `taskmem sweep` ({}): bytes per task are (peak at N - peak at N = 1) / N.",
            s.tool
        ))
        .chart(chart)
        .table(table);
    for k in &s.skipped {
        section = section.text(format!("{}: skipped: {}", k.id, k.reason));
    }
    section
}
