//! The "Your tasks" section: cases recorded from users' own benches (ids that are not the
//! matrix's, e.g. `handler/tokio-mt/spawn/1000`), in a small table of their own, so that
//! they neither crash the report nor mix with the published matrix.

use super::view::{Kind, PairView, of_kind};
use crate::report::{Align, Section, Table, format_count};
use taskmem::format_bytes;

/// One row per user case; `None` when there are none.
pub(super) fn user_section(views: &[PairView<'_>]) -> Option<Section> {
    let users = of_kind(views, Kind::User);
    if users.is_empty() {
        return None;
    }
    let mut t = Table::new("your-tasks", "Cases recorded from your own benches")
        .column("case", Align::Left)
        .column("runtime", Align::Left)
        .column("N", Align::Right)
        .column("metric", Align::Left)
        .column("value", Align::Right)
        .column("per task", Align::Right)
        .column("size_of task", Align::Right);
    for v in users {
        for c in &v.pair.cases {
            let runtime = c
                .runtime
                .clone()
                .filter(|r| !r.is_empty())
                .or_else(|| Some(v.pair.runtime.clone()).filter(|r| !r.is_empty()))
                .unwrap_or_else(|| "-".into());
            t.row(vec![
                c.id.clone(),
                runtime,
                format_count(c.n as f64),
                c.metric.id().to_string(),
                format_bytes(c.value.median),
                format_bytes(c.per_task),
                c.future_size
                    .or(v.pair.future_size)
                    .map_or("-".into(), |s| format!("{s} B")),
            ]);
        }
    }
    Some(
        Section::new("your-tasks", "Your tasks")
            .text(
                "Cases measured by your own benches with taskmem's API, not cases of the \
                 matrix: they are shown here as recorded and left out of the charts above.",
            )
            .table(t),
    )
}
