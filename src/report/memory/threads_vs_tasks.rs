//! The "OS threads against async tasks" section: both at the sizes both reached.

use super::view::PairView;
use crate::report::{Axis, Chart, ChartKind, Point, Scale, Section, Series, Unit};

pub(super) fn threads_section(views: &[PairView<'_>]) -> Section {
    let section = Section::new("threads", "OS threads against async tasks");
    let threads: Vec<&PairView<'_>> = views.iter().filter(|v| v.runtime == "os").collect();
    let tasks: Vec<&PairView<'_>> = views
        .iter()
        .filter(|v| v.runtime != "os" && v.strategy == "spawn")
        .collect();
    let ns = |v: &PairView<'_>| -> Vec<usize> { v.pair.cases.iter().map(|c| c.n).collect() };
    let thread_ns: std::collections::BTreeSet<usize> = threads.iter().flat_map(|v| ns(v)).collect();
    let task_ns: std::collections::BTreeSet<usize> = tasks.iter().flat_map(|v| ns(v)).collect();
    let both: Vec<usize> = thread_ns.intersection(&task_ns).copied().collect();
    if both.is_empty() {
        return section.text(
            "No size was measured for both OS threads (`os/threads`) and spawned async tasks \
             (`*/spawn`) in this summary, so there is nothing to set side by side.",
        );
    }
    let series = threads
        .iter()
        .chain(tasks.iter())
        .map(|v| Series {
            label: format!("{} ({})", v.pair.id, v.metric.id()),
            style: v.line,
            points: v
                .pair
                .cases
                .iter()
                .filter_map(|c| {
                    let i = both.iter().position(|n| *n == c.n)?;
                    Some(Point {
                        x: i as f64,
                        y: c.value.median,
                        mark: None,
                    })
                })
                .collect(),
        })
        .collect();
    let chart = Chart {
        id: "threads-vs-tasks".into(),
        title: "OS threads against spawned async tasks".into(),
        caption: "Memory at the peak at each N both reached, on a logarithmic axis: equal \
                  heights are equal ratios, so the gap between a thread's bar and a task's is \
                  how many times more the thread takes. Threads report process RSS (their \
                  stacks are mapped by the C library, not the allocator); async tasks report \
                  their case's metric, named in the legend. Spawned tasks (`spawn`, one join \
                  handle each) are the async counterpart of a spawned thread."
            .into(),
        kind: ChartKind::Bars {
            categories: both
                .iter()
                .map(|n| format!("N = {}", crate::report::format_count(*n as f64)))
                .collect(),
        },
        x: Axis {
            label: "tasks or threads alive at the peak".into(),
            unit: Unit::Count,
            scale: Scale::Linear,
        },
        y: Axis {
            label: "memory at the peak (bytes)".into(),
            unit: Unit::Bytes,
            scale: Scale::Log,
        },
        series,
        mark_label: None,
        bar_values: true,
    };
    section.chart(chart)
}
