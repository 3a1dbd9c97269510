//! The report's opening section: what was measured, from which summary, and the baseline
//! comparison's counts; and the UTC dates it prints.

use std::path::Path;

use super::comparison::Comparison;
use crate::baseline::Verdict;
use crate::report::Section;
use taskmem::summary::Summary;

pub(super) fn about(
    summary: &Summary,
    summary_path: &Path,
    comparison: Option<&Comparison>,
) -> Section {
    let cases: usize = summary.pairs.iter().map(|p| p.cases.len()).sum();
    let mut s = Section::new("about", "This run").text(format!(
        "Memory held at the peak by N concurrent tasks, per runtime and spawn strategy: every \
         task alive and polled once, each sleeping on its runtime's timer. {} pairs, {} cases \
         measured, {} skipped, from `{}` (updated {}).",
        summary.pairs.len(),
        cases,
        summary.skipped.len(),
        summary_path.display(),
        utc_date(summary.updated_unix)
    ));
    s = match comparison {
        Some(c) => {
            let removed = c
                .rows
                .iter()
                .filter(|r| r.verdict == Verdict::Removed)
                .count();
            let count = |v: Verdict| c.rows.iter().filter(|r| r.verdict == v).count();
            let mut text = format!(
                "Compared with baseline `{}` (`{}`): {} regressed, {} improved, {} unchanged, {} new, {} not in this run.",
                c.name,
                c.file.display(),
                count(Verdict::Regressed),
                count(Verdict::Improved),
                count(Verdict::Unchanged),
                count(Verdict::New),
                removed
            );
            if !c.differences.is_empty() {
                text += &format!(
                    " The baseline comes from a different machine or build: {}.",
                    c.differences.join("; ")
                );
            }
            s.text(text)
        }
        None => s.text(
            "No baseline was chosen, so the tables have no change column (choose one with \
             `TASKMEM_COMPARE=NAME cargo bench` or `taskmem report --baseline NAME`).",
        ),
    };
    s
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time.
pub(super) fn utc_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}
