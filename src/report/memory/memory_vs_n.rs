//! The "Memory against N" section: one log-log line per runtime x strategy.

use super::view::{PairView, main_metric, metric_name};
use crate::report::{Axis, Chart, ChartKind, Point, Scale, Section, Series, Unit};

pub(super) fn memory_section(views: &[PairView<'_>]) -> Section {
    let main = main_metric(views);
    let others: Vec<String> = views
        .iter()
        .filter(|v| v.metric != main)
        .map(|v| format!("{} for {}", metric_name(v.metric), v.pair.id))
        .collect();
    let metric_text = if others.is_empty() {
        metric_name(main).to_string()
    } else {
        format!("{}; {}", metric_name(main), others.join(", "))
    };
    let series = views
        .iter()
        .map(|v| Series {
            label: if v.metric == main {
                v.pair.id.clone()
            } else {
                format!("{} ({})", v.pair.id, v.metric.id())
            },
            style: v.line,
            points: v
                .pair
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
        id: "memory-vs-n".into(),
        title: "Memory against the number of tasks".into(),
        caption: "Both axes are logarithmic. Colour and dash pattern name the runtime, the \
                  marker names the strategy. A line's slope is how memory grows with N: a \
                  straight line at 45° is a fixed cost per task, and the height between two \
                  lines is the ratio of their costs. At N = 1 the figures are the pages the \
                  first allocations touched, not a cost per task. Lines that coincide hide \
                  each other; the table below has every value."
            .into(),
        kind: ChartKind::Lines,
        x: Axis {
            label: "tasks alive at the peak, N (count)".into(),
            unit: Unit::Count,
            scale: Scale::Log,
        },
        y: Axis {
            label: format!("memory at the peak (bytes, {metric_text})"),
            unit: Unit::Bytes,
            scale: Scale::Log,
        },
        series,
        mark_label: None,
        bar_values: false,
    };
    Section::new("memory", "Memory against N").chart(chart)
}
