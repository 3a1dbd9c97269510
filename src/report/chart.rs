//! Charts rendered to SVG with plotters' SVG backend: axes with their units, ticks the
//! reader can read (`10K`, `1M`, `64 KiB`), series in colour with a marker and a dash pattern
//! each, and a legend beside the plot that reads without colour.
//!
//! Log axes are drawn on the logarithms of the values, with ticks placed at round values:
//! powers of ten for counts and times, powers of two (4 KiB, 16 KiB, ...) for bytes, so that
//! every tick label is a whole binary unit. Points a log axis cannot show (zero, negative,
//! not finite) are left out.
//!
//! Text is written as SVG `<text>` in the `sans-serif` family; the browser lays it out, so no
//! font is embedded or fetched.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Axis, Chart, ChartKind, Colour, Marker, Scale, Series, Style, Unit};

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 960;

/// Smallest height of a chart, in pixels (a long legend makes it taller).
pub const HEIGHT: u32 = 520;

const FONT: &str = "sans-serif";
const LEGEND_ROW: i32 = 20;
const MARKER_RADIUS: i32 = 5;

fn rgb(c: Colour) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Draws a line or bar `chart` (any kind but a ranking) as an SVG document, without its
/// title (the report's `svg::svg` adds it).
pub fn draw_svg(chart: &Chart) -> Result<String, String> {
    let mut out = String::new();
    draw(chart, &mut out).map_err(|e| format!("cannot draw chart '{}': {e}", chart.id))?;
    Ok(out)
}

/// A point in the plot's own coordinates (log axes hold logarithms).
fn to_plot(scale: Scale, v: f64) -> Option<f64> {
    match scale {
        Scale::Linear if v.is_finite() => Some(v),
        Scale::Log if v.is_finite() && v > 0.0 => Some(v.log10()),
        _ => None,
    }
}

fn from_plot(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log => 10f64.powf(v),
    }
}

/// The plotted range (in plot coordinates) and its ticks (values) for data from `lo` to `hi`.
/// Linear axes start at zero (or below, for negative data); log axes pad by a fraction of a
/// decade on each side.
pub fn axis_range(axis: &Axis, lo: f64, hi: f64) -> ((f64, f64), Vec<f64>) {
    match axis.scale {
        Scale::Linear => {
            let lo = lo.min(0.0);
            let hi = if hi > lo { hi } else { lo + 1.0 };
            let step = linear_step(&axis.unit, hi - lo);
            let top = (hi / step).ceil() * step;
            let bottom = (lo / step).floor() * step;
            let count = ((top - bottom) / step).round() as usize;
            let ticks = (0..=count).map(|i| bottom + i as f64 * step).collect();
            ((bottom, top), ticks)
        }
        Scale::Log => {
            let (lo, hi) = if lo > 0.0 && hi >= lo {
                (lo, hi)
            } else {
                (1.0, 10.0)
            };
            let (l, h) = (lo.log10() - 0.15, hi.log10() + 0.15);
            let ticks = log_ticks(&axis.unit, 10f64.powf(l), 10f64.powf(h));
            ((l, h), ticks)
        }
    }
}

/// A round tick step giving at most about 8 ticks over `span`: 1, 2 or 5 times a power of
/// ten, in the binary unit that suits the span for bytes (so ticks read `100 KiB`, not
/// `102400 B`).
fn linear_step(unit: &Unit, span: f64) -> f64 {
    let scale = match unit {
        Unit::Bytes => taskmem::binary_unit(span).0,
        _ => 1.0,
    };
    let raw = span / scale / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    step * scale
}

/// Ticks of a log axis between `lo` and `hi` (values): powers of two for bytes (every 1st,
/// 2nd, 5th or 10th power, so that at most 11 remain and whole KiB/MiB/GiB are among them);
/// powers of ten otherwise (with 2 and 5 times them when fewer than three powers fall in
/// range).
fn log_ticks(unit: &Unit, lo: f64, hi: f64) -> Vec<f64> {
    let in_range = |v: &f64| *v >= lo * 0.999 && *v <= hi * 1.001;
    match unit {
        Unit::Bytes => {
            let (a, b) = (lo.log2().ceil() as i32, hi.log2().floor() as i32);
            let count = (b - a + 1).max(1);
            // Steps that divide 10, so 1 KiB, 1 MiB and 1 GiB are always among the ticks.
            let step = [1, 2, 5, 10]
                .into_iter()
                .find(|s| count / s <= 10)
                .unwrap_or(10);
            // Multiples of the step from 2^0, so the ticks land on whole binary units.
            let first = a + (step - a.rem_euclid(step)) % step;
            (first..=b)
                .step_by(step as usize)
                .map(|p| 2f64.powi(p))
                .collect()
        }
        _ => {
            let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
            let powers: Vec<f64> = (a..=b).map(|p| 10f64.powi(p)).filter(in_range).collect();
            if powers.len() >= 3 {
                return powers;
            }
            (a..=b)
                .flat_map(|p| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(p)))
                .filter(in_range)
                .collect()
        }
    }
}

/// The points a series can show on these axes, in plot coordinates.
fn plotted(series: &Series, x: Scale, y: Scale) -> Vec<(f64, f64)> {
    series
        .points
        .iter()
        .filter_map(|p| Some((to_plot(x, p.x)?, to_plot(y, p.y)?)))
        .collect()
}

fn draw(chart: &Chart, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let legend_rows = chart.series.len() as i32 + i32::from(chart.mark_label.is_some());
    let height = HEIGHT.max((90 + LEGEND_ROW * legend_rows) as u32);
    let longest = chart
        .series
        .iter()
        .map(|s| s.label.chars().count())
        .chain(chart.mark_label.iter().map(|l| l.chars().count()))
        .max()
        .unwrap_or(0);
    let legend_width = (56 + 7 * longest as u32).clamp(120, 320);
    {
        let root = SVGBackend::with_string(out, (WIDTH, height)).into_drawing_area();
        draw_on(&root, chart, legend_width)?;
        root.present()?;
    }
    Ok(())
}

fn draw_on(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    legend_width: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let title_style = TextStyle::from((FONT, 18).into_font().style(FontStyle::Bold)).color(&BLACK);
    root.draw_text(&chart.title, &title_style, (16, 12))?;
    let body = root.margin(40, 8, 8, 8);
    let (plot_area, legend_area) = body.split_horizontally(WIDTH - 16 - legend_width);

    let (x_scale, categories) = match &chart.kind {
        ChartKind::Lines | ChartKind::Ranking { .. } | ChartKind::Stacked { .. } => {
            (chart.x.scale, None)
        }
        ChartKind::Bars { categories } => (Scale::Linear, Some(categories.as_slice())),
    };
    let y_scale = chart.y.scale;
    // Every value the y axis must show (bar marks included), with its x.
    let all: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| &s.points)
        .flat_map(|p| std::iter::once(p.y).chain(p.mark).map(move |y| (p.x, y)))
        .filter(|(x, y)| {
            to_plot(y_scale, *y).is_some()
                && (categories.is_some() || to_plot(x_scale, *x).is_some())
        })
        .collect();
    let min_max = |f: fn(&(f64, f64)) -> f64| {
        all.iter().map(f).fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(a, b)| (a.min(v), b.max(v))))
        })
    };
    let (ylo, yhi) = min_max(|p| p.1).unwrap_or((1.0, 10.0));
    // Room above the tallest bar for its value, printed upright when the bar is narrow.
    let yhi = match (categories.is_some() && chart.bar_values, y_scale) {
        (false, _) => yhi,
        (true, Scale::Linear) => yhi * 1.15,
        (true, Scale::Log) => yhi * 2.5,
    };
    let ((y0, y1), yticks) = axis_range(&chart.y, ylo, yhi);
    let ((x0, x1), xticks) = match categories {
        Some(c) => (
            (0.0, c.len().max(1) as f64),
            (0..c.len()).map(|i| i as f64 + 0.5).collect(),
        ),
        None => {
            let (xlo, xhi) = min_max(|p| p.0).unwrap_or((1.0, 10.0));
            axis_range(&chart.x, xlo, xhi)
        }
    };
    let x_key: Vec<f64> = match categories {
        Some(_) => xticks.clone(),
        None => xticks.iter().filter_map(|v| to_plot(x_scale, *v)).collect(),
    };
    let y_key: Vec<f64> = yticks.iter().filter_map(|v| to_plot(y_scale, *v)).collect();

    let mut ctx = ChartBuilder::on(&plot_area)
        .margin_right(16)
        .margin_top(8)
        .x_label_area_size(52)
        .y_label_area_size(84)
        .build_cartesian_2d(
            Ticked {
                lo: x0,
                hi: x1,
                ticks: x_key,
            },
            Ticked {
                lo: y0,
                hi: y1,
                ticks: y_key,
            },
        )?;
    let x_label = |v: &f64| match categories {
        Some(c) => c
            .get(v.floor().max(0.0) as usize)
            .cloned()
            .unwrap_or_default(),
        None => chart.x.unit.tick(from_plot(x_scale, *v)),
    };
    let y_label = |v: &f64| chart.y.unit.tick(from_plot(y_scale, *v));
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(chart.x.label.as_str())
        .y_desc(chart.y.label.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT);
    if categories.is_some() {
        mesh.disable_x_mesh();
    }
    mesh.draw()?;

    match categories {
        None => draw_lines(&mut ctx, root, chart, x_scale, y_scale)?,
        Some(c) => draw_bars(&mut ctx, root, chart, c.len(), y_scale, y0)?,
    }
    draw_legend(&legend_area, root, chart)?;
    Ok(())
}

/// A linear axis in plot coordinates with exactly the given ticks (no light lines).
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = if self.hi > self.lo {
            self.hi - self.lo
        } else {
            1.0
        };
        let r = (value - self.lo) / span;
        limit.0 + (r * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

fn draw_lines(
    ctx: &mut Ctx<'_, '_>,
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    x: Scale,
    y: Scale,
) -> Result<(), Box<dyn std::error::Error>> {
    for s in &chart.series {
        let pts = plotted(s, x, y);
        let style = ShapeStyle::from(&rgb(s.style.colour)).stroke_width(2);
        match s.style.dash.pattern() {
            None => {
                ctx.draw_series(std::iter::once(PathElement::new(pts.clone(), style)))?;
            }
            Some((on, off)) => {
                ctx.draw_series(DashedLineSeries::new(pts.clone(), on, off, style))?;
            }
        }
    }
    // Markers after every line, so no line hides a marker.
    for s in &chart.series {
        for p in plotted(s, x, y) {
            draw_marker(root, ctx.backend_coord(&p), s.style)?;
        }
    }
    Ok(())
}

fn draw_bars(
    ctx: &mut Ctx<'_, '_>,
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    categories: usize,
    y: Scale,
    bottom: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let value_style = TextStyle::from((FONT, 11)).color(&BLACK);
    for c in 0..categories {
        let bars: Vec<(&Series, f64, Option<f64>)> = chart
            .series
            .iter()
            .filter_map(|s| {
                let p = s.points.iter().find(|p| p.x.round() as usize == c)?;
                Some((s, to_plot(y, p.y)?, p.mark.and_then(|m| to_plot(y, m))))
            })
            .collect();
        if bars.is_empty() {
            continue;
        }
        let width = 0.8 / bars.len() as f64;
        for (i, (s, top, mark)) in bars.into_iter().enumerate() {
            let left = c as f64 + 0.1 + i as f64 * width;
            let (l, r) = (left + width * 0.08, left + width * 0.92);
            let colour = rgb(s.style.colour);
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(l, bottom), (r, top)],
                colour.filled(),
            )))?;
            let (pl, pt) = ctx.backend_coord(&(l, top));
            let (pr, _) = ctx.backend_coord(&(r, top));
            if let Some(m) = mark {
                let (_, pm) = ctx.backend_coord(&(l, m));
                root.draw(&PathElement::new(
                    vec![(pl + 1, pm), (pr - 1, pm)],
                    BLACK.stroke_width(3),
                ))?;
            }
            let centre = (pl + pr) / 2;
            draw_marker(root, (centre, pt), s.style)?;
            if chart.bar_values {
                let text = chart.y.unit.value(from_plot(y, top));
                let fits = (text.chars().count() as i32) * 6 + 4 <= (pr - pl).max(0) + 8;
                if fits {
                    root.draw(&Text::new(
                        text,
                        (centre, pt - MARKER_RADIUS - 4),
                        value_style.pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ))?;
                } else {
                    let style = value_style
                        .transform(FontTransform::Rotate270)
                        .pos(Pos::new(HPos::Left, VPos::Center));
                    root.draw(&Text::new(text, (centre, pt - MARKER_RADIUS - 4), style))?;
                }
            }
        }
    }
    Ok(())
}

/// Draws `style.marker` centred at `at` (pixels of the whole chart).
fn draw_marker(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    at: (i32, i32),
    style: Style,
) -> Result<(), Box<dyn std::error::Error>> {
    let (x, y) = at;
    let r = MARKER_RADIUS;
    let colour = rgb(style.colour);
    let fill = colour.filled();
    let outline = WHITE.stroke_width(1);
    match style.marker {
        Marker::None => {}
        Marker::Circle => {
            root.draw(&Circle::new(at, r, fill))?;
            root.draw(&Circle::new(at, r, outline))?;
        }
        Marker::Ring => {
            root.draw(&Circle::new(at, r, WHITE.filled()))?;
            root.draw(&Circle::new(at, r, colour.stroke_width(2)))?;
        }
        Marker::Square => {
            root.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], fill))?;
            root.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], outline))?;
        }
        Marker::HollowSquare => {
            root.draw(&Rectangle::new(
                [(x - r, y - r), (x + r, y + r)],
                WHITE.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(x - r, y - r), (x + r, y + r)],
                colour.stroke_width(2),
            ))?;
        }
        Marker::Triangle => {
            let pts = vec![(x, y - r - 2), (x + r + 1, y + r), (x - r - 1, y + r)];
            root.draw(&Polygon::new(pts.clone(), fill))?;
            let mut closed = pts;
            closed.push(closed[0]);
            root.draw(&PathElement::new(closed, outline))?;
        }
        Marker::Diamond => {
            let d = r + 2;
            let pts = vec![(x, y - d), (x + d, y), (x, y + d), (x - d, y)];
            root.draw(&Polygon::new(pts.clone(), fill))?;
            let mut closed = pts;
            closed.push(closed[0]);
            root.draw(&PathElement::new(closed, outline))?;
        }
        Marker::Cross => {
            let s = colour.stroke_width(3);
            root.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], s))?;
            root.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], s))?;
        }
    }
    Ok(())
}

/// The legend, one row per series: a line (line charts: with its dash) or a bar swatch
/// (bar charts), the marker, and the label.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
) -> Result<(), Box<dyn std::error::Error>> {
    let (ox, oy) = area.get_base_pixel();
    let text = TextStyle::from((FONT, 13))
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let bars = matches!(chart.kind, ChartKind::Bars { .. });
    let mut y = oy + 16;
    for s in &chart.series {
        let colour = rgb(s.style.colour);
        let (x0, x1) = (ox + 4, ox + 40);
        if bars {
            root.draw(&Rectangle::new(
                [(x0, y - 7), (x0 + 14, y + 7)],
                colour.filled(),
            ))?;
            draw_marker(root, (x0 + 28, y), s.style)?;
        } else {
            let style = ShapeStyle::from(&colour).stroke_width(2);
            match s.style.dash.pattern() {
                None => root.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))?,
                Some((on, off)) => root.draw(&DashedPathElement::new(
                    vec![(x0, y), (x1, y)],
                    on,
                    off,
                    style,
                ))?,
            }
            draw_marker(root, ((x0 + x1) / 2, y), s.style)?;
        }
        root.draw(&Text::new(s.label.clone(), (x1 + 8, y), text.clone()))?;
        y += LEGEND_ROW;
    }
    if let Some(label) = &chart.mark_label {
        root.draw(&PathElement::new(
            vec![(ox + 4, y), (ox + 40, y)],
            BLACK.stroke_width(3),
        ))?;
        root.draw(&Text::new(label.clone(), (ox + 48, y), text))?;
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::report::{Dash, Point};

    /// The text of every `<text>` element, trimmed.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = &t[t.find('>')? + 1..t.find("</text>")?];
                Some(body.trim().to_string())
            })
            .collect()
    }

    fn axis(unit: Unit, scale: Scale) -> Axis {
        Axis {
            label: "x".into(),
            unit,
            scale,
        }
    }

    #[test]
    fn log_byte_ticks_are_whole_binary_units() {
        let a = axis(Unit::Bytes, Scale::Log);
        let (_, ticks) = axis_range(&a, 4096.0, 321.0 * 1024.0 * 1024.0);
        let labels: Vec<String> = ticks.iter().map(|t| a.unit.tick(*t)).collect();
        assert!(labels.len() >= 4 && labels.len() <= 11, "{labels:?}");
        assert!(labels.iter().all(|l| !l.contains('.')), "{labels:?}");
        assert!(labels.contains(&"1 MiB".to_string()), "{labels:?}");
    }

    #[test]
    fn log_count_ticks_are_powers_of_ten() {
        let a = axis(Unit::Count, Scale::Log);
        let (_, ticks) = axis_range(&a, 1.0, 1e6);
        let labels: Vec<String> = ticks.iter().map(|t| a.unit.tick(*t)).collect();
        assert_eq!(labels, ["1", "10", "100", "1K", "10K", "100K", "1M"]);
    }

    #[test]
    fn narrow_log_ranges_get_two_and_five_ticks() {
        let a = axis(Unit::Count, Scale::Log);
        let (_, ticks) = axis_range(&a, 1.0, 10_000.0);
        assert!(ticks.len() >= 5, "{ticks:?}");
        let (_, ticks) = axis_range(&a, 10.0, 40.0);
        assert!(ticks.contains(&20.0), "{ticks:?}");
    }

    #[test]
    fn linear_byte_ticks_start_at_zero_and_cover_the_data() {
        let a = axis(Unit::Bytes, Scale::Linear);
        let ((lo, hi), ticks) = axis_range(&a, 56.0, 337.0);
        assert_eq!(lo, 0.0);
        assert!(hi >= 337.0);
        assert_eq!(ticks.first(), Some(&0.0));
        assert!(ticks.len() <= 10, "{ticks:?}");
    }

    /// A line chart of two series over three points, titled "Memory & N" (svg.rs's tests
    /// use it too).
    pub(in crate::report) fn memory_chart() -> Chart {
        let series = |label: &str, marker, dash| Series {
            label: label.into(),
            style: Style {
                colour: crate::report::OKABE_ITO[0],
                marker,
                dash,
            },
            points: [1.0, 10_000.0, 1_000_000.0]
                .map(|x| Point {
                    x,
                    y: x * 200.0,
                    mark: None,
                })
                .to_vec(),
        };
        Chart {
            id: "t".into(),
            title: "Memory & N".into(),
            caption: String::new(),
            kind: ChartKind::Lines,
            x: axis(Unit::Count, Scale::Log),
            y: Axis {
                label: "memory (bytes)".into(),
                unit: Unit::Bytes,
                scale: Scale::Log,
            },
            series: vec![
                series("a/spawn", Marker::Ring, Dash::Solid),
                series("b/spawn", Marker::Ring, Dash::Dashed),
            ],
            mark_label: None,
            bar_values: false,
        }
    }

    #[test]
    fn an_svg_has_its_title_axes_legend_and_one_marker_per_point() {
        let chart = memory_chart();
        let svg = draw_svg(&chart).unwrap();
        let texts = texts(&svg);
        for t in [
            "Memory &amp; N",
            "memory (bytes)",
            "1",
            "10K",
            "1M",
            "a/spawn",
            "b/spawn",
        ] {
            assert!(texts.iter().any(|x| x == t), "{t} not in {texts:?}");
        }
        // Ticks are round binary units.
        assert!(texts.iter().any(|x| x == "1 MiB"), "{texts:?}");
        // A ring is a white disc under a stroked circle: 3 points and 1 legend entry per
        // series, two series.
        let rings = svg.matches("<circle").count();
        assert_eq!(rings, 2 * 2 * (3 + 1), "{rings}");
    }

    #[test]
    fn bars_carry_marks_and_values() {
        let chart = Chart {
            id: "b".into(),
            title: "per task".into(),
            caption: String::new(),
            kind: ChartKind::Bars {
                categories: vec!["tokio".into(), "smol".into()],
            },
            x: axis(Unit::Other(String::new()), Scale::Linear),
            y: axis(Unit::Bytes, Scale::Linear),
            series: vec![Series {
                label: "spawn".into(),
                style: Style {
                    colour: crate::report::OKABE_ITO[1],
                    marker: Marker::Square,
                    dash: Dash::Solid,
                },
                points: vec![
                    Point {
                        x: 0.0,
                        y: 264.0,
                        mark: Some(120.0),
                    },
                    Point {
                        x: 1.0,
                        y: 224.0,
                        mark: Some(64.0),
                    },
                ],
            }],
            mark_label: Some("size_of future".into()),
            bar_values: true,
        };
        let svg = draw_svg(&chart).unwrap();
        let texts = texts(&svg);
        for t in ["tokio", "smol", "264 B", "224 B", "size_of future", "spawn"] {
            assert!(texts.iter().any(|x| x == t), "{t} not in {texts:?}");
        }
        // Two bars (and one legend swatch), two size_of ticks (and one legend line) in black.
        assert!(svg.matches("fill=\"#E69F00\"").count() >= 3, "{svg}");
        assert_eq!(
            svg.matches("stroke=\"#000000\" stroke-width=\"3\"").count(),
            3,
            "{svg}"
        );
    }
}
