//! The closing sections: the runtime x strategy pairs that do not exist, and the machine and
//! build the figures came from.

use std::path::Path;

use super::about::utc_date;
use crate::report::{Align, Section, Table};
use taskmem::format_bytes;
use taskmem::summary::Summary;

pub(super) fn unsupported_section(summary: &Summary) -> Section {
    let mut t = Table::new("unsupported", "Runtime x strategy pairs that do not exist")
        .column("pair", Align::Left)
        .column("why", Align::Left);
    for u in &summary.unsupported {
        t.row(vec![u.id.clone(), u.reason.clone()]);
    }
    Section::new("unsupported", "Pairs that do not exist").table(t)
}

pub(super) fn machine_section(summary: &Summary, summary_path: &Path) -> Section {
    let p = &summary.machine.provenance;
    let mut t = Table::new("machine", "The machine and build the figures came from")
        .column("what", Align::Left)
        .column("value", Align::Left);
    t.row(vec!["cores".into(), p.cores.to_string()]);
    t.row(vec!["memory".into(), format_bytes(p.memory_bytes as f64)]);
    t.row(vec!["kernel".into(), p.kernel.clone()]);
    t.row(vec!["rustc".into(), p.rustc.clone()]);
    for (name, version) in &p.crates {
        t.row(vec![name.clone(), version.clone()]);
    }
    t.row(vec![
        "jemalloc dirty_decay_ms".into(),
        summary
            .machine
            .jemalloc_dirty_decay_ms
            .map_or("unknown".into(), |d| d.to_string()),
    ]);
    t.row(vec![
        "git revision".into(),
        p.git_revision.clone().unwrap_or_else(|| "unknown".into()),
    ]);
    t.row(vec!["taskmem".into(), summary.tool.clone()]);
    t.row(vec!["summary".into(), summary_path.display().to_string()]);
    t.row(vec!["updated".into(), utc_date(summary.updated_unix)]);
    Section::new("machine", "Machine and versions").table(t)
}
