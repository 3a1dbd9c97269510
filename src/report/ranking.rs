//! Rankings ([`ChartKind::Ranking`](super::ChartKind::Ranking)) drawn as SVG: one horizontal
//! bar per series, top to bottom in series order, its label on the left, its value (and
//! note) printed at its end, and a marker there that reads without colour. The value axis
//! is linear from zero, so bar lengths compare as the values do; its ticks are at the
//! bottom.
//!
//! A bar may be hatched instead of filled (black diagonal lines over white, outlined in its
//! colour): a figure from another source in another metric, such as another language's
//! whole-process peak RSS from a sweep. A key under the title says what hatching means, and
//! the bar's note names the metric, so it reads without colour too.
//!
//! Written by hand rather than with plotters: every bar carries `class="bar"` and
//! `data-value` (a hatched one also `class="bar hatched"`), and its texts `class="bar-label"`
//! / `class="bar-value"`, so a browser test can read the order and the labels back from the
//! page.

use std::fmt::Write;

use super::chart::{WIDTH, axis_range};
use super::markup::{escape, svg_head};
use super::{Chart, Marker, Style};

const TOP: u32 = 52;
/// Room for the key of hatched bars under the title.
const KEY: u32 = 24;
const ROW: u32 = 26;
const BAR: u32 = 18;
const BOTTOM: u32 = 60;
/// Width of one character of 12-13 px sans-serif text, for layout (an overestimate).
const CHAR: u32 = 7;

/// The value of each series: its first point's y (missing or not finite: 0).
fn value(chart: &Chart, i: usize) -> f64 {
    chart.series[i]
        .points
        .first()
        .map(|p| p.y)
        .filter(|y| y.is_finite())
        .unwrap_or(0.0)
}

/// The text printed at the end of bar `i`: its value, then its note.
pub fn bar_text(chart: &Chart, notes: &[String], i: usize) -> String {
    let v = chart.y.unit.value(value(chart, i));
    match notes.get(i).filter(|n| !n.is_empty()) {
        Some(n) => format!("{v} {n}"),
        None => v,
    }
}

/// Height of the SVG for `rows` bars, with or without the key of hatched bars.
pub fn height(rows: usize, key: bool) -> u32 {
    TOP + if key { KEY } else { 0 } + ROW * rows.max(1) as u32 + BOTTOM
}

/// The ranking as a standalone SVG document (without its `<title>`, which
/// the report's `svg::svg` adds). `hatched` and `key` as in
/// [`ChartKind::Ranking`](super::ChartKind::Ranking).
pub fn svg(chart: &Chart, notes: &[String], hatched: &[bool], key: Option<&str>) -> String {
    let rows = chart.series.len();
    let is_hatched = |i: usize| hatched.get(i).copied().unwrap_or(false);
    let key = key.filter(|_| (0..rows).any(is_hatched));
    let top = TOP + if key.is_some() { KEY } else { 0 };
    let h = height(rows, key.is_some());
    let longest_label = chart
        .series
        .iter()
        .map(|s| s.label.chars().count() as u32)
        .max()
        .unwrap_or(0);
    let label_w = (CHAR * longest_label + 24).clamp(120, 380);
    let longest_value = (0..rows)
        .map(|i| bar_text(chart, notes, i).chars().count() as u32)
        .max()
        .unwrap_or(0);
    let (x0, x1) = (label_w, WIDTH - 16 - 20 - CHAR * longest_value);
    let x1 = x1.max(x0 + 100);
    let max = (0..rows).map(|i| value(chart, i)).fold(0.0, f64::max);
    let ((lo, hi), ticks) = axis_range(&chart.y, 0.0, max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let px = |v: f64| f64::from(x0) + (v - lo) / span * f64::from(x1 - x0);
    let bottom = top + ROW * rows.max(1) as u32;
    // One pattern per chart: ids are page-wide, and a pattern inside a hidden tab would not
    // paint the bars of another.
    let pattern = format!("hatch-{}", chart.id);

    let mut out = svg_head(WIDTH, h, &chart.title);
    if let Some(key) = key {
        let _ = writeln!(
            out,
            "<defs><pattern id=\"{p}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
             patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#FFFFFF\"/>\
             <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#000000\" stroke-width=\"3\"/>\
             </pattern></defs>\n\
             <rect class=\"key\" x=\"16\" y=\"{}\" width=\"28\" height=\"{BAR}\" fill=\"url(#{p})\" \
             stroke=\"#000000\"/>\n<text class=\"key\" x=\"52\" y=\"{}\" font-size=\"13\" \
             dominant-baseline=\"central\">{}</text>",
            TOP - 8,
            TOP - 8 + BAR / 2,
            escape(key),
            p = escape(&pattern),
        );
    }
    for t in &ticks {
        let x = px(*t);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom}\" stroke=\"#000000\" \
             stroke-opacity=\"0.12\"/>\n<text x=\"{x:.1}\" y=\"{}\" font-size=\"13\" \
             text-anchor=\"middle\">{}</text>",
            bottom + 18,
            escape(&chart.y.unit.tick(*t))
        );
    }
    let _ = writeln!(
        out,
        "<line x1=\"{x0}\" y1=\"{top}\" x2=\"{x0}\" y2=\"{bottom}\" stroke=\"#000000\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2,
        bottom + 44,
        escape(&chart.y.label)
    );
    for (i, s) in chart.series.iter().enumerate() {
        let v = value(chart, i);
        let y = top + ROW * i as u32 + (ROW - BAR) / 2;
        let mid = y + BAR / 2;
        let end = px(v.max(lo));
        let _ = writeln!(
            out,
            "<text class=\"bar-label\" x=\"{}\" y=\"{mid}\" font-size=\"13\" \
             text-anchor=\"end\" dominant-baseline=\"central\">{}</text>\n\
             <rect class=\"{}\" data-value=\"{v}\" x=\"{x0}\" y=\"{y}\" width=\"{:.1}\" \
             height=\"{BAR}\" {}/>",
            x0 - 8,
            escape(&s.label),
            if is_hatched(i) { "bar hatched" } else { "bar" },
            (end - f64::from(x0)).max(0.0),
            if is_hatched(i) {
                format!(
                    "fill=\"url(#{})\" stroke=\"{}\" stroke-width=\"2\"",
                    escape(&pattern),
                    s.style.colour.hex()
                )
            } else {
                format!("fill=\"{}\"", s.style.colour.hex())
            }
        );
        out += &marker(end + 8.0, f64::from(mid), s.style);
        let _ = writeln!(
            out,
            "<text class=\"bar-value\" x=\"{:.1}\" y=\"{mid}\" font-size=\"12\" \
             dominant-baseline=\"central\">{}</text>",
            end + 18.0,
            escape(&bar_text(chart, notes, i))
        );
    }
    out += "</svg>\n";
    out
}

/// `style.marker` centred at (x, y), as SVG.
fn marker(x: f64, y: f64, style: Style) -> String {
    let c = style.colour.hex();
    let r = 5.0;
    let poly = |pts: &[(f64, f64)]| {
        let p: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        format!(
            "<polygon points=\"{}\" fill=\"{c}\" stroke=\"#FFFFFF\"/>\n",
            p.join(" ")
        )
    };
    match style.marker {
        Marker::None => String::new(),
        Marker::Circle => {
            format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"{c}\" stroke=\"#FFFFFF\"/>\n"
            )
        }
        Marker::Ring => format!(
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"#FFFFFF\" stroke=\"{c}\" \
             stroke-width=\"2\"/>\n"
        ),
        Marker::Square | Marker::HollowSquare => {
            let fill = if style.marker == Marker::Square {
                c.clone()
            } else {
                "#FFFFFF".into()
            };
            let stroke = if style.marker == Marker::Square {
                "#FFFFFF".into()
            } else {
                c.clone()
            };
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" \
                 stroke=\"{stroke}\" stroke-width=\"2\"/>\n",
                x - r,
                y - r,
                2.0 * r,
                2.0 * r
            )
        }
        Marker::Triangle => poly(&[(x, y - r - 2.0), (x + r + 1.0, y + r), (x - r - 1.0, y + r)]),
        Marker::Diamond => {
            let d = r + 2.0;
            poly(&[(x, y - d), (x + d, y), (x, y + d), (x - d, y)])
        }
        Marker::Cross => format!(
            "<path d=\"M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}\" stroke=\"{c}\" \
             stroke-width=\"3\"/>\n",
            x - r,
            y - r,
            x + r,
            y + r,
            x - r,
            y + r,
            x + r,
            y - r
        ),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::report::{Axis, ChartKind, Dash, OKABE_ITO, Point, Scale, Series, Unit};

    /// A ranking of `values`, titled "At 1M" (svg.rs's tests use it too).
    pub(in crate::report) fn ranking(values: &[(&str, f64)]) -> Chart {
        Chart {
            id: "r".into(),
            title: "At 1M".into(),
            caption: String::new(),
            kind: ChartKind::Ranking {
                notes: vec![String::new(), "process RSS".into()],
                hatched: Vec::new(),
                hatched_key: None,
            },
            x: Axis {
                label: String::new(),
                unit: Unit::Count,
                scale: Scale::Linear,
            },
            y: Axis {
                label: "memory at the peak".into(),
                unit: Unit::Bytes,
                scale: Scale::Linear,
            },
            series: values
                .iter()
                .enumerate()
                .map(|(i, (label, y))| Series {
                    label: label.to_string(),
                    style: Style {
                        colour: OKABE_ITO[i],
                        marker: Marker::ALL[i],
                        dash: Dash::Solid,
                    },
                    points: vec![Point {
                        x: 0.0,
                        y: *y,
                        mark: None,
                    }],
                })
                .collect(),
            mark_label: None,
            bar_values: true,
        }
    }

    /// A ranking chart drawn by this file (svg.rs adds the title around it).
    fn render(c: &Chart) -> String {
        match &c.kind {
            ChartKind::Ranking {
                notes,
                hatched,
                hatched_key,
            } => svg(c, notes, hatched, hatched_key.as_deref()),
            _ => panic!("not a ranking"),
        }
    }

    #[test]
    fn bars_keep_the_series_order_and_lengths_compare_as_values() {
        let c = ranking(&[
            ("a/spawn", 1024.0 * 1024.0),
            ("os/threads", 4.0 * 1048576.0),
        ]);
        let svg = render(&c);
        let widths: Vec<f64> = svg
            .split("class=\"bar\"")
            .skip(1)
            .map(|t| {
                let w = &t[t.find("width=\"").unwrap() + 7..];
                w[..w.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(widths.len(), 2);
        assert!((widths[1] / widths[0] - 4.0).abs() < 0.01, "{widths:?}");
        assert!(svg.contains(">1.00 MiB</text>"), "{svg}");
        assert!(svg.contains(">4.00 MiB process RSS</text>"), "{svg}");
        let a = svg.find(">a/spawn<").unwrap();
        assert!(a < svg.find(">os/threads<").unwrap());
        assert!(
            !svg.contains("hatch"),
            "no bar is hatched: no pattern, no key"
        );
    }

    #[test]
    fn hatched_bars_use_the_charts_own_pattern_and_the_key_says_what_they_are() {
        let mut c = ranking(&[("a/spawn", 1024.0), ("go/goroutines", 4096.0)]);
        c.kind = ChartKind::Ranking {
            notes: vec![String::new(), "whole-process peak RSS".into()],
            hatched: vec![false, true],
            hatched_key: Some("other languages".into()),
        };
        let svg = render(&c);
        assert_eq!(svg.matches("<pattern id=\"hatch-r\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"bar\"").count(), 1);
        let go = &svg[svg.find("class=\"bar hatched\"").expect("a hatched bar")..];
        assert!(go[..go.find("/>").unwrap()].contains("fill=\"url(#hatch-r)\""));
        assert!(svg.contains(">other languages</text>"));
        assert!(svg.contains(">4.00 KiB whole-process peak RSS</text>"));
        // The key takes a row: the SVG is taller than without it.
        let plain = render(&ranking(&[("a", 1.0), ("b", 2.0)]));
        let h = |s: &str| {
            s[s.find("height=\"").unwrap() + 8..]
                .split('"')
                .next()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        };
        assert_eq!(h(&svg), h(&plain) + KEY);
    }
}
