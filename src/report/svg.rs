//! Any chart of the report's model as a standalone SVG document: rankings drawn by
//! [`super::ranking`], stacked bars by [`super::stacked`], every other chart by
//! [`super::chart`]; each with the title and role a
//! screen reader reads.

use super::markup::escape;
use super::{Chart, ChartKind};

/// Renders `chart` as a standalone SVG document.
pub fn svg(chart: &Chart) -> Result<String, String> {
    let svg = match &chart.kind {
        ChartKind::Ranking {
            notes,
            hatched,
            hatched_key,
        } => super::ranking::svg(chart, notes, hatched, hatched_key.as_deref()),
        ChartKind::Stacked { bars, key } => super::stacked::svg(chart, bars, key),
        _ => super::chart::draw_svg(chart)?,
    };
    Ok(with_title(&svg, &chart.title))
}

/// Adds `role="img"` and a `<title>` (read by screen readers and shown on hover).
fn with_title(svg: &str, title: &str) -> String {
    match svg.find("<svg ").zip(svg.find('>')) {
        Some((start, end)) if start < end => format!(
            "{}<svg role=\"img\" {}><title>{}</title>{}",
            &svg[..start],
            &svg[start + 5..end],
            escape(title),
            &svg[end + 1..]
        ),
        _ => svg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_chart_carries_its_title_for_screen_readers() {
        let lines = svg(&super::super::chart::tests::memory_chart()).unwrap();
        assert!(lines.contains("<title>Memory &amp; N</title>"), "{lines}");
        assert!(lines.contains("<svg role=\"img\" "), "{lines}");
        let ranking = svg(&super::super::ranking::tests::ranking(&[
            ("a/spawn", 1024.0 * 1024.0),
            ("os/threads", 4.0 * 1048576.0),
        ]))
        .unwrap();
        assert!(ranking.contains("<title>At 1M</title>"), "{ranking}");
    }
}
