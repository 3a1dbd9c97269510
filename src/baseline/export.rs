//! Exporters of a comparison's rows: the plain-text table `taskmem compare` prints, Bencher
//! Metric Format, and github-action-benchmark's `customSmallerIsBetter` input.

use super::{Row, Verdict};

/// The rows as a plain-text table, with a closing count line.
pub fn table(rows: &[Row]) -> String {
    use taskmem::format_bytes;
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), format_bytes);
    let mut out = format!(
        "{:<34} {:<9} {:>12} {:>12} {:>12} {:>8}  {}\n",
        "case", "metric", "baseline", "current", "change", "change%", "verdict"
    );
    for r in rows {
        let change = r.change().map_or_else(
            || "-".to_string(),
            |c| format!("{}{}", if c > 0.0 { "+" } else { "" }, format_bytes(c)),
        );
        let pct = r
            .change_percent()
            .map_or_else(|| "-".to_string(), |p| format!("{p:+.2}%"));
        out += &format!(
            "{:<34} {:<9} {:>12} {:>12} {:>12} {:>8}  {}\n",
            r.id,
            r.metric.id(),
            fmt(r.baseline),
            fmt(r.current),
            change,
            pct,
            r.verdict.word()
        );
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    out += &format!(
        "{} regressed, {} improved, {} unchanged, {} new, {} removed\n",
        count(Verdict::Regressed),
        count(Verdict::Improved),
        count(Verdict::Unchanged),
        count(Verdict::New),
        count(Verdict::Removed)
    );
    out
}

/// The current values in Bencher Metric Format: `{ case: { metric: { value, lower_value,
/// upper_value } } }`, bytes.
pub fn bencher_json(rows: &[Row]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for r in rows {
        let Some(value) = r.current else { continue };
        let mut m = serde_json::Map::new();
        m.insert("value".into(), value.into());
        if let Some((lo, hi)) = r.current_interval {
            m.insert("lower_value".into(), lo.into());
            m.insert("upper_value".into(), hi.into());
        }
        let mut measure = serde_json::Map::new();
        measure.insert(format!("{}-bytes", r.metric.id()), m.into());
        out.insert(r.id.clone(), measure.into());
    }
    out.into()
}

/// The current values as github-action-benchmark's `customSmallerIsBetter` input.
pub fn github_json(rows: &[Row]) -> serde_json::Value {
    rows.iter()
        .filter_map(|r| {
            let value = r.current?;
            let mut item = serde_json::json!({
                "name": format!("{} ({})", r.id, r.metric.id()),
                "unit": "bytes",
                "value": value,
            });
            if let Some((lo, hi)) = r.current_interval {
                item["range"] = format!("{lo:.0}..{hi:.0}").into();
            }
            if let Some(p) = r.change_percent() {
                item["extra"] = format!("{}: {p:+.2}% vs baseline", r.verdict.word()).into();
            }
            Some(item)
        })
        .collect::<Vec<_>>()
        .into()
}
