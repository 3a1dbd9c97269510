//! The memory suite's report, built from a summary (`target/taskmem/summary.json`) and,
//! when one is chosen, its comparison with a saved baseline.
//!
//! Sections, in order:
//!
//! 1. memory against N (log-log), one line per runtime x strategy, in each case's reported
//!    metric (jemalloc resident by default, process RSS for OS threads);
//! 2. bytes per task (the slope across N) per strategy, grouped by runtime, with `size_of`
//!    of the task's future marked;
//! 3. OS threads against spawned async tasks at the sizes both reached;
//! 4. the tables: every pair at every N, and every case (value, bytes per task, spread,
//!    change against the baseline, skipped cases with their reason);
//! 5. pairs that do not exist, and the machine and versions the run came from.
//!
//! Runtime, strategy and N come from the summary's fields (a pair id's first two segments,
//! a case's `n`), so pair ids with more segments (`tokio-mt/spawn/p1024-inline`) work. Styles
//! follow the matrix order: one colour and dash pattern per runtime, one marker per strategy.
//!
//! Files: `view.rs` what the report knows of each pair (parts, metric, style);
//! `comparison.rs` the comparison with a baseline; one file per section: `about.rs`,
//! `memory_vs_n.rs`, `bytes_per_task.rs`, `threads_vs_tasks.rs` (the three charts),
//! `tables.rs`, `machine.rs` (pairs that do not exist, machine and versions).

use std::path::Path;

use super::{Link, Report};
use crate::summary::Summary;

mod about;
mod bytes_per_task;
mod comparison;
mod machine;
mod memory_vs_n;
mod tables;
mod threads_vs_tasks;
mod view;

#[cfg(test)]
mod tests;

pub use comparison::{Comparison, compare};
pub use view::line_style;

use about::about;
use bytes_per_task::per_task_section;
use machine::{machine_section, unsupported_section};
use memory_vs_n::memory_section;
use tables::tables_section;
use threads_vs_tasks::threads_section;
use view::views;

/// Builds the whole report. `summary_path` is named on the page; `criterion_report` is the
/// relative address of Criterion's report, when there is one next to the page.
pub fn report(
    summary: &Summary,
    summary_path: &Path,
    comparison: Option<&Comparison>,
    criterion_report: Option<&str>,
) -> Report {
    let views = views(summary);
    let mut links = Vec::new();
    if let Some(href) = criterion_report {
        links.push(Link {
            text: "Criterion's report (one page per case; its axes say \"time\": read bytes)"
                .into(),
            href: href.to_string(),
        });
    }
    let mut sections = vec![about(summary, summary_path, comparison)];
    sections.push(memory_section(&views));
    sections.push(per_task_section(&views));
    sections.push(threads_section(&views));
    sections.push(tables_section(summary, &views, comparison));
    if !summary.unsupported.is_empty() {
        sections.push(unsupported_section(summary));
    }
    sections.push(machine_section(summary, summary_path));
    Report {
        title: "taskmem: memory of N concurrent tasks".into(),
        links,
        sections,
    }
}
