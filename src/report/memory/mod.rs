//! The memory suite's report, built from a summary (`target/taskmem/summary.json`) and,
//! when one is chosen, its comparison with a saved baseline.
//!
//! Sections, in order:
//!
//! 1. the headline: memory at the peak of each published runtime x strategy pair at one N,
//!    one labelled bar each, least first, one tab per N, with the other languages of a sweep
//!    (`taskmem sweep`), when there is one, as hatched bars named by their metric; and the
//!    same figures as a table;
//! 2. memory against N (log-log), one line per published pair, in each case's reported
//!    metric (jemalloc resident by default, process RSS for OS threads);
//! 3. bytes per task (the slope across N) per strategy, grouped by runtime, with `size_of`
//!    of the task's future marked;
//! 4. OS threads against spawned async tasks at the sizes both reached;
//! 5. payload variants and bounded pairs, each with its own chart, cases from users' own
//!    benches ("your tasks"), and the bill of one task of each pair `taskmem bill` billed (a
//!    stacked bar of named parts per pair), when the summary has them;
//! 6. the tables: every pair at every N, and every case (value, bytes per task, spread,
//!    change against the baseline, skipped cases with their reason);
//! 7. pairs that do not exist, and the machine and versions the run came from.
//!
//! The published matrix (sections 1 to 4) is the pairs of a known runtime and strategy with
//! a bare sleep and every task alive (`view::Kind`).
//!
//! Runtime, strategy and N come from the summary's fields (a pair id's first two segments,
//! a case's `n`), so pair ids with more segments (`tokio-mt/spawn/p1024-inline`) work. Styles
//! follow the matrix order: one colour and dash pattern per runtime, one marker per strategy.
//!
//! Files: `view.rs` what the report knows of each pair (parts, metric, style);
//! `comparison.rs` the comparison with a baseline; one file per section: `about.rs`,
//! `headline.rs`, `memory_vs_n.rs`, `bytes_per_task.rs`, `threads_vs_tasks.rs`,
//! `variants.rs` (payloads, bounded pairs), `user.rs` (your tasks), `bill.rs` (the bill of
//! one task), `tables.rs`,
//! `machine.rs` (pairs that do not exist, machine and versions).

use std::path::Path;

use super::{Link, Report};
use taskmem::summary::Summary;

mod about;
mod bill;
mod bytes_per_task;
mod comparison;
mod headline;
mod machine;
mod memory_vs_n;
mod tables;
mod threads_vs_tasks;
mod user;
mod variants;
mod view;

#[cfg(test)]
mod tests;

pub use comparison::{Comparison, compare};
pub use view::line_style;

use about::about;
use bill::bill_section;
use bytes_per_task::per_task_section;
use headline::headline_section;
use machine::{machine_section, unsupported_section};
use memory_vs_n::memory_section;
use tables::tables_section;
use threads_vs_tasks::threads_section;
use user::user_section;
use variants::{bounded_section, payload_section};
use view::{Kind, PairView, views};

/// Builds the whole report. `summary_path` is named on the page; `criterion_report` is the
/// relative address of Criterion's report, when there is one next to the page; `sweep` is
/// `taskmem sweep`'s summary, when there is one, whose other languages join the headline.
pub fn report(
    summary: &Summary,
    summary_path: &Path,
    comparison: Option<&Comparison>,
    criterion_report: Option<&str>,
    sweep: Option<&Summary>,
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
    sections.push(headline_section(summary, &views, sweep));
    // The published matrix only, from here to the tables.
    let published: Vec<PairView<'_>> = view::views(summary)
        .into_iter()
        .filter(|v| v.kind == Kind::Published)
        .collect();
    sections.push(memory_section(&published));
    sections.push(per_task_section(&published));
    sections.push(threads_section(&published));
    sections.extend(payload_section(&views));
    sections.extend(bounded_section(&views));
    sections.extend(user_section(&views));
    sections.extend(bill_section(summary));
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
