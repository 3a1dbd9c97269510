//! Stacked bars ([`ChartKind::Stacked`](super::ChartKind::Stacked)) drawn as SVG: one
//! horizontal bar per entry, cut into its parts left to right, with the bar's label and total
//! above it and every part listed under it (a swatch of its colour, its value, its name), in
//! the bar's order, so the parts read without colour. Each bar spans the chart's width: its
//! parts are shares of its own total (printed above it), since the bars of one report differ
//! by a thousand times (a task of 200 B, a WebSocket connection of 130 KiB); lengths compare
//! within a bar, the totals across bars. A key under the title says what each colour means.
//!
//! Written by hand, like the rankings: every part carries `class="part"`, `data-name` and
//! `data-value` (and a `<title>` shown on hover), every bar `class="stack"` and
//! `data-label`, so a test can read the parts and their names back from the page.

use std::fmt::Write;

use super::chart::WIDTH;
use super::markup::{escape, svg_head};
use super::{Chart, Colour, StackedBar};

const TOP: u32 = 52;
/// The key's row under the title.
const KEY: u32 = 24;
/// The bar's label above it.
const LABEL: u32 = 20;
const BAR: u32 = 20;
/// One listed part under a bar.
const LINE: u32 = 17;
/// Space after a bar's list.
const GAP: u32 = 16;
const BOTTOM: u32 = 16;
const LEFT: u32 = 16;
const RIGHT: u32 = 24;
/// Width of one character of 12 px sans-serif text, for layout (an overestimate).
const CHAR: u32 = 7;

/// A part's name as listed: at most as many characters as fit the width (the whole name is
/// in the part's `<title>`).
fn fitted(name: &str) -> String {
    let max = ((WIDTH - LEFT - RIGHT - 110) / CHAR) as usize;
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let head: String = name.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

/// Height of the SVG for these bars.
pub fn height(bars: &[StackedBar]) -> u32 {
    TOP + KEY
        + bars
            .iter()
            .map(|b| LABEL + BAR + 6 + LINE * b.parts.len() as u32 + GAP)
            .sum::<u32>()
        + BOTTOM
}

/// The stacked bars as a standalone SVG document (without its `<title>`, which the report's
/// `svg::svg` adds).
pub fn svg(chart: &Chart, bars: &[StackedBar], key: &[(String, Colour)]) -> String {
    let h = height(bars);
    let total = |b: &StackedBar| b.parts.iter().map(|p| p.value.max(0.0)).sum::<f64>();
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let top = TOP + KEY;

    let mut out = svg_head(WIDTH, h, &chart.title);
    let mut x = LEFT;
    for (what, colour) in key {
        let _ = writeln!(
            out,
            "<rect class=\"key\" x=\"{x}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{}\"/>\n\
             <text class=\"key\" x=\"{}\" y=\"{}\" font-size=\"13\" \
             dominant-baseline=\"central\">{}</text>",
            TOP - 4,
            colour.hex(),
            x + 20,
            TOP + 3,
            escape(what)
        );
        x += 20 + CHAR * what.chars().count() as u32 + 18;
    }
    let mut y = top;
    for b in bars {
        let whole = total(b);
        let px =
            |v: f64| f64::from(x0) + if whole > 0.0 { v / whole } else { 0.0 } * f64::from(x1 - x0);
        let _ = writeln!(
            out,
            "<g class=\"stack\" data-label=\"{}\">\n<text class=\"stack-label\" x=\"{LEFT}\" \
             y=\"{}\" font-size=\"13\" font-weight=\"bold\">{} ({}, the whole bar)</text>",
            escape(&b.label),
            y + LABEL - 6,
            escape(&b.label),
            escape(&chart.y.unit.value(whole))
        );
        let bar_y = y + LABEL;
        let mut at = 0.0;
        for p in &b.parts {
            let value = chart.y.unit.value(p.value);
            if p.value > 0.0 {
                let (from, to) = (px(at), px(at + p.value));
                let _ = writeln!(
                    out,
                    "<rect class=\"part\" data-name=\"{}\" data-value=\"{}\" x=\"{from:.1}\" \
                     y=\"{bar_y}\" width=\"{:.1}\" height=\"{BAR}\" fill=\"{}\" \
                     stroke=\"#FFFFFF\"><title>{}: {}</title></rect>",
                    escape(&p.name),
                    p.value,
                    (to - from).max(0.0),
                    p.colour.hex(),
                    escape(&p.name),
                    escape(&value)
                );
                at += p.value;
            }
        }
        let mut line_y = bar_y + BAR + 6;
        for p in &b.parts {
            let _ = writeln!(
                out,
                "<rect x=\"{LEFT}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\n\
                 <text class=\"part-name\" x=\"{}\" y=\"{}\" font-size=\"12\" \
                 dominant-baseline=\"central\"><tspan font-weight=\"bold\">{}</tspan>  {}</text>",
                line_y + 2,
                p.colour.hex(),
                LEFT + 16,
                line_y + 7,
                escape(&value_text(chart, p.value)),
                escape(&fitted(&p.name))
            );
            line_y += LINE;
        }
        out += "</g>\n";
        y = line_y + GAP;
    }
    out += "</svg>\n";
    out
}

/// A part's value as listed: its unit's text, right-aligned by padding to a few characters.
fn value_text(chart: &Chart, v: f64) -> String {
    format!("{:>9}", chart.y.unit.value(v))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::{Axis, ChartKind, OKABE_ITO, Scale, StackedPart, Unit};

    /// A chart of two bars: `a` of 256 + 2048 B, `b` of 64 B and a rest below zero.
    pub(crate) fn stacked() -> Chart {
        let part = |name: &str, value: f64, i: usize| StackedPart {
            name: name.into(),
            value,
            colour: OKABE_ITO[i],
        };
        Chart {
            id: "bill".into(),
            title: "The bill".into(),
            caption: String::new(),
            kind: ChartKind::Stacked {
                bars: vec![
                    StackedBar {
                        label: "a/tokio-mt/spawn".into(),
                        parts: vec![
                            part("your code at benches/a.rs:11 & co", 2048.0, 0),
                            part("tokio: the task cell", 256.0, 2),
                        ],
                    },
                    StackedBar {
                        label: "b/smol/spawn".into(),
                        parts: vec![part("async-task", 64.0, 2), part("the rest", -1.0, 6)],
                    },
                ],
                key: vec![
                    ("your code".into(), OKABE_ITO[0]),
                    ("the runtime".into(), OKABE_ITO[2]),
                ],
            },
            x: Axis {
                label: String::new(),
                unit: Unit::Count,
                scale: Scale::Linear,
            },
            y: Axis {
                label: "bytes per task".into(),
                unit: Unit::Bytes,
                scale: Scale::Linear,
            },
            series: Vec::new(),
            mark_label: None,
            bar_values: false,
        }
    }

    #[test]
    fn every_part_is_drawn_in_proportion_and_listed_by_name_under_its_bar() {
        let c = stacked();
        let ChartKind::Stacked { bars, key } = &c.kind else {
            unreachable!()
        };
        let svg = svg(&c, bars, key);
        // Names are escaped, in the bar's data and in its list.
        assert!(
            svg.contains("data-name=\"your code at benches/a.rs:11 &amp; co\" data-value=\"2048\""),
            "{svg}"
        );
        let width = |name: &str| -> f64 {
            let at = svg.find(&format!("data-name=\"{name}\"")).unwrap();
            let w = &svg[at..];
            let w = &w[w.find("width=\"").unwrap() + 7..];
            w[..w.find('"').unwrap()].parse().unwrap()
        };
        let (yours, cell) = (
            width("your code at benches/a.rs:11 &amp; co"),
            width("tokio: the task cell"),
        );
        assert!((yours / cell - 8.0).abs() < 0.01, "{yours} vs {cell}");
        // A part below zero is listed, not drawn.
        assert!(!svg.contains("data-name=\"the rest\""), "{svg}");
        assert!(svg.contains("the rest</text>"), "{svg}");
        assert_eq!(svg.matches("class=\"stack\"").count(), 2);
        assert!(svg.contains("class=\"key\""), "{svg}");
        // Totals above each bar (the rest below zero left out of the drawn total), each bar
        // the whole width: b's one part as wide as a's two.
        assert!(
            svg.contains("a/tokio-mt/spawn (2.25 KiB, the whole bar)"),
            "{svg}"
        );
        assert!(((yours + cell) - width("async-task")).abs() < 0.2, "{svg}");
    }
}
