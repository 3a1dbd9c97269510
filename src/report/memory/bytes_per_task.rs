//! The "Bytes per task" section: the slope across N per strategy, bars grouped by runtime,
//! with `size_of` of the task's future marked.

use super::view::{PairView, main_metric, metric_name, per_task};
use crate::report::{Axis, Chart, ChartKind, Point, Scale, Section, Series, Unit};
use taskmem::format_bytes;

pub(super) fn per_task_section(views: &[PairView<'_>]) -> Section {
    let main = main_metric(views);
    let shown: Vec<&PairView<'_>> = views
        .iter()
        .filter(|v| v.metric == main && v.pair.cases.iter().any(|c| c.n >= 2))
        .collect();
    let mut runtimes: Vec<String> = Vec::new();
    for v in &shown {
        if !runtimes.contains(&v.runtime) {
            runtimes.push(v.runtime.clone());
        }
    }
    let mut series: Vec<Series> = Vec::new();
    for v in &shown {
        let Some(y) = per_task(v.pair, v.metric) else {
            continue;
        };
        let x = runtimes.iter().position(|r| *r == v.runtime).unwrap_or(0) as f64;
        let point = Point {
            x,
            y,
            mark: v.pair.future_size.map(|s| s as f64),
        };
        let label = match v.pair.id.splitn(3, '/').nth(2) {
            Some(rest) => format!("{}/{rest}", v.strategy),
            None => v.strategy.clone(),
        };
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                label,
                style: v.bar,
                points: vec![point],
            }),
        }
    }
    let left_out: Vec<String> = views
        .iter()
        .filter(|v| !shown.iter().any(|s| s.pair.id == v.pair.id))
        .map(|v| {
            let why = if v.metric != main {
                format!(
                    "reports {} ({} per task)",
                    metric_name(v.metric),
                    per_task(v.pair, v.metric).map_or("-".into(), format_bytes)
                )
            } else {
                "measured at N = 1 only".to_string()
            };
            format!("{} {why}", v.pair.id)
        })
        .collect();
    let mut caption = format!(
        "Bytes per task is the slope of {} across N (least squares over the sizes measured), \
         so fixed costs drop out. Bars are grouped by runtime; colour and marker name the \
         strategy. The black tick on a bar is `size_of` of one task's future: what the \
         future itself takes, the rest of the bar being what the runtime or the combinator \
         keeps beside it (task header, scheduler links, timer entry, join handle).",
        metric_name(main)
    );
    if !left_out.is_empty() {
        caption += &format!(
            " Not shown, to keep one metric on the axis: {}; see the tables.",
            left_out.join("; ")
        );
    }
    let chart = Chart {
        id: "bytes-per-task".into(),
        title: "Bytes per task, by runtime and strategy".into(),
        caption,
        kind: ChartKind::Bars {
            categories: runtimes,
        },
        x: Axis {
            label: "runtime".into(),
            unit: Unit::Other(String::new()),
            scale: Scale::Linear,
        },
        y: Axis {
            label: format!("bytes per task ({}, slope across N)", metric_name(main)),
            unit: Unit::Bytes,
            scale: Scale::Linear,
        },
        series,
        mark_label: Some("size_of the task's future".into()),
        bar_values: true,
    };
    Section::new("per-task", "Bytes per task").chart(chart)
}
