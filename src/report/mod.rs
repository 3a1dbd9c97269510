//! Reports people read at a glance: an ordered list of sections, each a heading with text,
//! tables and charts, rendered to one self-contained HTML page ([`html`]), to markdown
//! ([`markdown`]) and each chart to SVG ([`chart`]).
//!
//! The model knows nothing about where its numbers come from: [`memory`] builds the memory
//! suite's sections from a summary (`target/taskmem/summary.json`), and other sources add
//! their own [`Section`]s to the same [`Report`] without touching the renderers.
//!
//! - A [`Table`] has a caption, headers, rows of text cells and an alignment per column.
//! - A [`Chart`] has a title, two [`Axis`]es (label with unit, linear or log scale, tick
//!   format from the [`Unit`]), and [`Series`] each with a label, points and a [`Style`]
//!   (colour, [`Marker`], [`Dash`]). It is a line chart over numeric x, a bar chart over
//!   named categories, a ranking: one labelled horizontal bar per series, or stacked bars
//!   cut into named parts ([`ChartKind`]).
//! - [`Tabs`] hold charts shown one at a time (one per N), picked without a script.
//! - Colours come from the Okabe-Ito palette ([`OKABE_ITO`]), which colour-blind readers can
//!   tell apart; markers and dash patterns carry the same information without colour.
//!
//! The page is written next to Criterion's report: `target/criterion/taskmem/index.html`
//! ([`page_path`]), with CSS and SVG inline and nothing fetched from any host.

pub mod chart;
pub mod connections;
pub mod html;
pub mod markdown;
pub mod markup;
pub mod memory;
pub mod ranking;
pub mod sources;
pub mod stacked;
pub mod svg;

use std::path::{Path, PathBuf};

/// A whole report: a title, links shown at the top, and sections in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The page title and top heading.
    pub title: String,
    /// Links shown under the title (text, relative address).
    pub links: Vec<Link>,
    /// The sections, in reading order.
    pub sections: Vec<Section>,
}

/// A link shown at the top of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// What the reader sees.
    pub text: String,
    /// Where it goes: a relative address (the page fetches nothing from any host).
    pub href: String,
}

/// One section: a heading and its blocks, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The anchor id (letters, digits, `-`), unique in the report.
    pub id: String,
    /// The heading.
    pub heading: String,
    /// Text, tables and charts, in reading order.
    pub blocks: Vec<Block>,
}

/// A piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph of plain text; `` `code` `` spans are shown as code.
    Text(String),
    /// A table.
    Table(Table),
    /// A chart.
    Chart(Chart),
    /// Charts of which one shows at a time, picked by its tab (e.g. one per N).
    Tabs(Tabs),
}

/// Charts shown one at a time, each behind a tab named by its label; the first is shown
/// first. On the page the tabs are radio buttons styled by CSS (no script); in markdown and
/// `--svg` output every chart is there.
#[derive(Debug, Clone, PartialEq)]
pub struct Tabs {
    /// The HTML id of the group (letters, digits, `-`), unique in the report.
    pub id: String,
    /// Each tab's label and its chart, in tab order.
    pub charts: Vec<(String, Chart)>,
}

impl Section {
    /// An empty section.
    pub fn new(id: &str, heading: &str) -> Section {
        Section {
            id: id.to_string(),
            heading: heading.to_string(),
            blocks: Vec::new(),
        }
    }

    /// Adds a paragraph.
    pub fn text(mut self, text: impl Into<String>) -> Section {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    /// Adds a table.
    pub fn table(mut self, table: Table) -> Section {
        self.blocks.push(Block::Table(table));
        self
    }

    /// Adds a chart.
    pub fn chart(mut self, chart: Chart) -> Section {
        self.blocks.push(Block::Chart(chart));
        self
    }

    /// Adds charts shown one at a time behind tabs.
    pub fn tabs(mut self, tabs: Tabs) -> Section {
        self.blocks.push(Block::Tabs(tabs));
        self
    }
}

impl Report {
    /// Every table of the report, in order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .filter_map(|b| match b {
                Block::Table(t) => Some(t),
                _ => None,
            })
    }

    /// Every chart of the report, in order (those behind tabs included).
    pub fn charts(&self) -> impl Iterator<Item = &Chart> {
        self.sections.iter().flat_map(|s| &s.blocks).flat_map(
            |b| -> Box<dyn Iterator<Item = &Chart> + '_> {
                match b {
                    Block::Chart(c) => Box::new(std::iter::once(c)),
                    Block::Tabs(t) => Box::new(t.charts.iter().map(|(_, c)| c)),
                    _ => Box::new(std::iter::empty()),
                }
            },
        )
    }
}

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Flush left (text).
    Left,
    /// Flush right (numbers).
    Right,
    /// Centred.
    Center,
}

/// A table of text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The HTML id (letters, digits, `-`), unique in the report.
    pub id: String,
    /// What the table shows, in one line.
    pub caption: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Alignment of each column (as many as headers).
    pub align: Vec<Align>,
    /// Rows of cells (as many cells as headers).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table.
    pub fn new(id: &str, caption: impl Into<String>) -> Table {
        Table {
            id: id.to_string(),
            caption: caption.into(),
            headers: Vec::new(),
            align: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Adds a column.
    pub fn column(mut self, header: impl Into<String>, align: Align) -> Table {
        self.headers.push(header.into());
        self.align.push(align);
        self
    }

    /// Adds a row; missing cells are left empty, extra cells dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }
}

/// A colour, 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

impl Colour {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }
}

/// The Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2008) without its yellow,
/// which is too pale on white: blue, orange, bluish green, reddish purple, vermillion, sky
/// blue, black. Distinguishable under the common forms of colour blindness.
pub const OKABE_ITO: [Colour; 7] = [
    Colour(0x00, 0x72, 0xB2),
    Colour(0xE6, 0x9F, 0x00),
    Colour(0x00, 0x9E, 0x73),
    Colour(0xCC, 0x79, 0xA7),
    Colour(0xD5, 0x5E, 0x00),
    Colour(0x56, 0xB4, 0xE9),
    Colour(0x00, 0x00, 0x00),
];

/// A point marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// No marker.
    None,
    /// A filled circle.
    Circle,
    /// A filled square.
    Square,
    /// A filled triangle, point up.
    Triangle,
    /// A filled diamond.
    Diamond,
    /// An x-shaped cross.
    Cross,
    /// A hollow circle.
    Ring,
    /// A hollow square.
    HollowSquare,
}

impl Marker {
    /// Markers that differ in shape or fill, in the order series take them.
    pub const ALL: [Marker; 7] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Diamond,
        Marker::Cross,
        Marker::Ring,
        Marker::HollowSquare,
    ];
}

/// A line's dash pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    /// Unbroken.
    Solid,
    /// Medium dashes.
    Dashed,
    /// Dots.
    Dotted,
    /// Long dashes.
    LongDashed,
    /// Short dashes, wide gaps.
    Sparse,
}

impl Dash {
    /// Patterns that differ, in the order series take them.
    pub const ALL: [Dash; 5] = [
        Dash::Solid,
        Dash::Dashed,
        Dash::Dotted,
        Dash::LongDashed,
        Dash::Sparse,
    ];

    /// Dash and gap lengths in pixels; `None` for a solid line.
    pub fn pattern(self) -> Option<(u32, u32)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((8, 5)),
            Dash::Dotted => Some((2, 4)),
            Dash::LongDashed => Some((18, 6)),
            Dash::Sparse => Some((4, 10)),
        }
    }
}

/// How one series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Line, marker and bar colour.
    pub colour: Colour,
    /// The marker at each point (on a bar: at its top).
    pub marker: Marker,
    /// The line's pattern (line charts).
    pub dash: Dash,
}

/// What the numbers on an axis are; decides how ticks read.
#[derive(Debug, Clone, PartialEq)]
pub enum Unit {
    /// Bytes, ticks in binary units (`64 KiB`, `1 MiB`).
    Bytes,
    /// A count, ticks with K/M suffixes (`10K`, `1M`).
    Count,
    /// Seconds, ticks in ns/µs/ms/s.
    Seconds,
    /// A plain number followed by this unit.
    Other(String),
}

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values, from zero.
    Linear,
    /// Evenly spaced powers (values must be positive).
    Log,
}

/// One axis of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The label, naming the quantity and its unit (`memory at the peak (bytes, resident)`).
    pub label: String,
    /// The unit of the values; ticks are formatted in it.
    pub unit: Unit,
    /// Linear or log.
    pub scale: Scale,
}

/// What kind of chart, and how x reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartKind {
    /// Lines through points over a numeric x axis.
    Lines,
    /// Bars grouped by category: a point's x is the index of its category, one bar per
    /// series in each group. The x axis has no scale or ticks of its own.
    Bars {
        /// The category names, in order.
        categories: Vec<String>,
    },
    /// Horizontal bars, one per series (its first point's y), top to bottom in series
    /// order, each named by the series label on its left and its value printed at its end
    /// followed by the note of the same index (empty: none). The value axis is `y`, drawn
    /// horizontally; `x` is unused. Drawn by [`ranking::svg`].
    Ranking {
        /// A note after each bar's value (`process RSS`, `per live task`), by series index.
        notes: Vec<String>,
        /// Which bars are hatched rather than filled, by series index (missing: filled):
        /// figures from another source and metric, such as other languages' whole-process
        /// peak RSS from `taskmem sweep`, which must not read as the suite's own.
        hatched: Vec<bool>,
        /// What a hatched bar is, drawn with a hatched swatch under the title when any bar
        /// is hatched.
        hatched_key: Option<String>,
    },
    /// Horizontal bars cut into named parts, one bar per entry top to bottom, each part's
    /// name and value listed under its bar in the bar's order. The value axis is `y`, drawn
    /// horizontally; `x` and `series` are unused. Drawn by [`stacked::svg`].
    Stacked {
        /// The bars, in order.
        bars: Vec<StackedBar>,
        /// What each colour means, drawn as a key under the title.
        key: Vec<(String, Colour)>,
    },
}

/// One bar of a [`ChartKind::Stacked`] chart.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBar {
    /// Its label, above the bar.
    pub label: String,
    /// Its parts, left to right; a part below zero is listed but not drawn.
    pub parts: Vec<StackedPart>,
}

/// One part of a [`StackedBar`].
#[derive(Debug, Clone, PartialEq)]
pub struct StackedPart {
    /// What it is, listed under the bar.
    pub name: String,
    /// Its value, in the chart's `y` unit.
    pub value: f64,
    /// Its colour (the key says what it means).
    pub colour: Colour,
}

/// One point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// x (in a bar chart, the category's index).
    pub x: f64,
    /// y.
    pub y: f64,
    /// A second value marked on the point's bar (e.g. `size_of` of a future), shown as a
    /// black tick; see [`Chart::mark_label`].
    pub mark: Option<f64>,
}

/// One line, or one bar per category.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend's text.
    pub label: String,
    /// How it is drawn.
    pub style: Style,
    /// The points, by increasing x.
    pub points: Vec<Point>,
}

/// A chart, rendered to SVG by [`svg::svg`].
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The HTML id and the file stem of `--svg` output (letters, digits, `-`).
    pub id: String,
    /// The title drawn above the plot.
    pub title: String,
    /// How to read it, shown under the chart (not in the SVG).
    pub caption: String,
    /// Line or bar chart.
    pub kind: ChartKind,
    /// The horizontal axis (for bars, only its label is used).
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The series, in legend order.
    pub series: Vec<Series>,
    /// The legend's text for [`Point::mark`] ticks, when any point has one.
    pub mark_label: Option<String>,
    /// Print each bar's value above it (bar charts).
    pub bar_values: bool,
}

/// Where the page goes for Criterion output in `criterion_home`: `<home>/taskmem/index.html`,
/// next to Criterion's `<home>/report/index.html`.
pub fn page_path(criterion_home: &Path) -> PathBuf {
    criterion_home.join("taskmem").join("index.html")
}

/// The address of Criterion's report relative to a page at `page`
/// (`../report/index.html`), when that file exists.
pub fn criterion_link(page: &Path) -> Option<&'static str> {
    let dir = page.parent()?;
    let criterion = dir.parent()?.join("report").join("index.html");
    criterion.is_file().then_some("../report/index.html")
}

/// Writes the report as one HTML page, atomically.
pub fn write_page(report: &Report, file: &Path) -> Result<(), String> {
    let page = html::page(report)?;
    taskmem::summary::write_atomic(file, page.as_bytes())
}

/// Writes every chart as `<dir>/<chart id>.svg` (each atomically); returns the files.
pub fn write_svgs(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for c in report.charts() {
        let file = dir.join(format!("{}.svg", c.id));
        let svg = svg::svg(c)?;
        taskmem::summary::write_atomic(&file, svg.as_bytes())?;
        files.push(file);
    }
    Ok(files)
}

/// `n` with a K/M/G suffix where it is a whole number of them (`10K`, `1M`, `1.5M`, `999`).
pub fn format_count(n: f64) -> String {
    let a = n.abs();
    let (div, suffix) = if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "K")
    } else {
        (1.0, "")
    };
    let v = n / div;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}{suffix}", v.round())
    } else if v.abs() >= 100.0 {
        format!("{v:.0}{suffix}")
    } else {
        let s = format!("{v:.1}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}{suffix}")
    }
}

/// Seconds in ns, µs, ms or s (`250 ns`, `1.5 ms`).
pub fn format_seconds(s: f64) -> String {
    let a = s.abs();
    let (mult, unit) = if a == 0.0 || a >= 1.0 {
        (1.0, "s")
    } else if a >= 1e-3 {
        (1e3, "ms")
    } else if a >= 1e-6 {
        (1e6, "µs")
    } else {
        (1e9, "ns")
    };
    let v = s * mult;
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// Bytes on an axis tick: binary units, no needless decimals (`512 B`, `64 KiB`, `1.5 MiB`).
pub fn format_bytes_tick(bytes: f64) -> String {
    let (scale, unit) = taskmem::binary_unit(bytes);
    let v = bytes / scale;
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

impl Unit {
    /// A value printed beside a point or bar: [`format_bytes`](taskmem::format_bytes)
    /// for bytes (`192 B`, `25.18 MiB`), the tick format otherwise.
    pub fn value(&self, v: f64) -> String {
        match self {
            Unit::Bytes => taskmem::format_bytes(v),
            _ => self.tick(v),
        }
    }

    /// A tick label for `v`.
    pub fn tick(&self, v: f64) -> String {
        match self {
            Unit::Bytes => format_bytes_tick(v),
            Unit::Count => format_count(v),
            Unit::Seconds => format_seconds(v),
            Unit::Other(u) => {
                let text = format!("{v:.3}");
                let text = text.trim_end_matches('0').trim_end_matches('.');
                if u.is_empty() {
                    text.to_string()
                } else {
                    format!("{text} {u}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_suffixes() {
        assert_eq!(format_count(1.0), "1");
        assert_eq!(format_count(999.0), "999");
        assert_eq!(format_count(10_000.0), "10K");
        assert_eq!(format_count(100_000.0), "100K");
        assert_eq!(format_count(1_000_000.0), "1M");
        assert_eq!(format_count(1_500_000.0), "1.5M");
        assert_eq!(format_count(250_000.0), "250K");
    }

    #[test]
    fn byte_ticks_use_binary_units() {
        assert_eq!(format_bytes_tick(512.0), "512 B");
        assert_eq!(format_bytes_tick(65536.0), "64 KiB");
        assert_eq!(format_bytes_tick(1_572_864.0), "1.5 MiB");
        assert_eq!(format_bytes_tick(4.0 * 1024.0 * 1024.0 * 1024.0), "4 GiB");
    }

    #[test]
    fn seconds_pick_their_unit() {
        assert_eq!(format_seconds(250e-9), "250 ns");
        assert_eq!(format_seconds(1.5e-3), "1.5 ms");
        assert_eq!(format_seconds(2.0), "2 s");
        assert_eq!(format_seconds(12e-6), "12 µs");
    }

    #[test]
    fn rows_are_padded_to_the_columns() {
        let mut t = Table::new("t", "caption")
            .column("a", Align::Left)
            .column("b", Align::Right);
        t.row(vec!["1".into()]);
        t.row(vec!["1".into(), "2".into(), "3".into()]);
        assert_eq!(t.rows, vec![vec!["1", ""], vec!["1", "2"]]);
    }
}
