//! The report as one self-contained HTML page: CSS and SVG inline, no script, and nothing
//! fetched from any host (no stylesheet, font or image address; links are relative).
//!
//! Each section is a `<section id=...>` with an `<h2>`; each table a `<table id=...>` with a
//! `<caption>`, a `<thead>` row and one `<tbody>` row per table row; each chart a
//! `<figure id="chart-...">` holding the inline `<svg>` and a `<figcaption>`. [`Tabs`] are
//! radio buttons and labels followed by one `<div class="panel">` per chart; CSS shows the
//! checked one's panel, so switching needs no script.
//!
//! Everything fits a 1280 px window: the text column is at most 1100 px, charts scale down
//! to it, table headers wrap and long cells wrap after a `/` (ids break between their
//! segments, never inside a word such as `resident`).

use super::markup::escape;
use super::{Align, Block, Chart, Report, Table, Tabs};

/// Escapes `text` and shows its `` `code` `` spans as `<code>`.
pub fn inline(text: &str) -> String {
    spans(text, escape)
}

/// [`inline`] with a line-break opportunity (`<wbr>`) after every `/`, for table cells: an id
/// such as `tokio-ct/buffer_unordered/k1000/100000` wraps between its segments instead of
/// widening its column or breaking inside a word.
pub fn breakable(text: &str) -> String {
    spans(text, |t| escape(t).replace('/', "/<wbr>"))
}

/// `text` with its `` `code` `` spans as `<code>`, each part passed through `f`.
fn spans(text: &str, f: impl Fn(&str) -> String) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", f(part))
            } else {
                f(part)
            }
        })
        .collect()
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.45}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 20px}
header{padding-top:16px}
h1{font-size:1.6em;margin:0.4em 0}
h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:0.2em}
nav a{margin-right:1.2em}
nav.toc{font-size:0.92em;margin-top:0.4em}
figure{margin:1em 0}
figure svg{max-width:100%;height:auto;display:block;border:1px solid #e4e4e4}
figcaption{font-size:0.92em;color:#333;margin-top:0.5em;max-width:960px}
.scroll{overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-size:0.88em}
caption{text-align:left;font-weight:600;padding:0.3em 0}
th,td{padding:0.25em 0.5em;border-bottom:1px solid #e4e4e4;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0;white-space:normal;vertical-align:bottom}
td.l{white-space:normal;overflow-wrap:break-word}
td.note{min-width:14em}
.tabs>input{position:absolute;opacity:0;pointer-events:none}
.tabs>label{display:inline-block;padding:0.3em 0.9em;margin:0 0.3em 0.3em 0;border:1px solid #bbb;border-radius:4px;cursor:pointer;font-variant-numeric:tabular-nums}
.tabs>input:checked+label{background:#1a1a1a;color:#fff;border-color:#1a1a1a}
.tabs>input:focus-visible+label{outline:2px solid #0072B2;outline-offset:2px}
.tabs>.panel{display:none}
tbody tr:nth-child(even){background:#fafafa}
.r{text-align:right;font-variant-numeric:tabular-nums}.l{text-align:left}.c{text-align:center}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:0.92em;background:#f3f3f3;padding:0 0.2em}
footer{color:#666;font-size:0.85em;padding-bottom:2em;margin-top:2em}
";

fn class(a: Align) -> &'static str {
    match a {
        Align::Left => "l",
        Align::Right => "r",
        Align::Center => "c",
    }
}

/// One table as HTML.
pub fn table(t: &Table) -> String {
    let mut out = format!(
        "<div class=\"scroll\"><table id=\"{}\">\n<caption>{}</caption>\n<thead><tr>",
        escape(&t.id),
        inline(&t.caption)
    );
    for (i, h) in t.headers.iter().enumerate() {
        let a = t.align.get(i).copied().unwrap_or(Align::Left);
        out += &format!("<th class=\"{}\">{}</th>", class(a), inline(h));
    }
    out += "</tr></thead>\n<tbody>\n";
    for row in &t.rows {
        out += "<tr>";
        for (i, cell) in row.iter().enumerate() {
            let a = t.align.get(i).copied().unwrap_or(Align::Left);
            let note = if t.headers.get(i).is_some_and(|h| h == "note" || h == "why") {
                " note"
            } else {
                ""
            };
            out += &format!("<td class=\"{}{note}\">{}</td>", class(a), breakable(cell));
        }
        out += "</tr>\n";
    }
    out += "</tbody></table></div>\n";
    out
}

/// One chart as an HTML figure with its SVG inline.
pub fn figure(c: &Chart) -> Result<String, String> {
    let svg = super::svg::svg(c)?;
    // Inline SVG in HTML needs no namespace declaration; dropping it leaves the page without
    // a single absolute address.
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    Ok(format!(
        "<figure id=\"chart-{}\" class=\"chart\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(&c.id),
        svg.trim(),
        inline(&c.caption)
    ))
}

/// Charts behind tabs: one radio button and label per chart, then the panels; the first
/// chart is checked. The rules that show the checked panel are inline, per group.
pub fn tabs(t: &Tabs) -> Result<String, String> {
    let id = escape(&t.id);
    let mut rules = String::new();
    let mut buttons = String::new();
    let mut panels = String::new();
    for (i, (label, chart)) in t.charts.iter().enumerate() {
        let checked = if i == 0 { " checked" } else { "" };
        buttons += &format!(
            "<input type=\"radio\" name=\"{id}\" id=\"{id}-{i}\"{checked}><label for=\"{id}-{i}\">{}</label>\n",
            escape(label)
        );
        rules += &format!("#{id}-{i}:checked~#{id}-panel-{i}{{display:block}}\n");
        panels += &format!(
            "<div class=\"panel\" id=\"{id}-panel-{i}\">\n{}</div>\n",
            figure(chart)?
        );
    }
    Ok(format!(
        "<style>\n{rules}</style>\n<div class=\"tabs\" id=\"{id}\">\n{buttons}{panels}</div>\n"
    ))
}

/// The whole report as one HTML page.
pub fn page(report: &Report) -> Result<String, String> {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    out += &format!(
        "<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n",
        escape(&report.title)
    );
    out += &format!("<h1>{}</h1>\n", escape(&report.title));
    if !report.links.is_empty() {
        out += "<nav class=\"links\">";
        for l in &report.links {
            out += &format!("<a href=\"{}\">{}</a>", escape(&l.href), escape(&l.text));
        }
        out += "</nav>\n";
    }
    out += "<nav class=\"toc\">";
    for s in &report.sections {
        out += &format!("<a href=\"#{}\">{}</a>", escape(&s.id), escape(&s.heading));
    }
    out += "</nav>\n</header>\n<main>\n";
    for s in &report.sections {
        out += &format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            escape(&s.id),
            escape(&s.heading)
        );
        for b in &s.blocks {
            match b {
                Block::Text(t) => out += &format!("<p>{}</p>\n", inline(t)),
                Block::Table(t) => out += &table(t),
                Block::Chart(c) => out += &figure(c)?,
                Block::Tabs(t) => out += &tabs(t)?,
            }
        }
        out += "</section>\n";
    }
    out += &format!(
        "</main>\n<footer>Written by taskmem {}. Charts drawn with plotters; colours from the Okabe-Ito palette, with markers and dash patterns for readers who do not tell colours apart.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_code_spans_shown() {
        assert_eq!(
            inline("a <b> & `x<y>` \"q\""),
            "a &lt;b&gt; &amp; <code>x&lt;y&gt;</code> &quot;q&quot;"
        );
    }

    #[test]
    fn a_table_has_one_body_row_per_row_and_aligned_cells() {
        let mut t = Table::new("t", "cap")
            .column("case", Align::Left)
            .column("value", Align::Right);
        t.row(vec!["a/b/1".into(), "4 KiB".into()]);
        t.row(vec!["a/b/<2>".into(), "8 KiB".into()]);
        let html = table(&t);
        assert!(html.contains("<table id=\"t\">"));
        assert!(html.contains("<caption>cap</caption>"));
        let body = &html[html.find("<tbody>").unwrap()..];
        assert_eq!(body.matches("<tr>").count(), 2);
        assert!(body.contains("<td class=\"r\">8 KiB</td>"));
        assert!(body.contains("a/<wbr>b/<wbr>&lt;2&gt;"));
        assert_eq!(breakable("`a/b` c/d"), "<code>a/<wbr>b</code> c/<wbr>d");
    }
}
