//! The report as markdown, for a README or a pull-request comment: headings, text and
//! GitHub-flavoured tables (alignment row included). Charts are images only when their SVG
//! files exist somewhere to point at (`taskmem report --markdown --svg DIR`).

use std::path::Path;

use super::{Align, Block, Report, Table};

/// A table cell: pipes escaped, line breaks folded, never empty.
fn cell(text: &str) -> String {
    let t = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    if t.trim().is_empty() {
        " ".to_string()
    } else {
        t
    }
}

/// One table: its caption in bold, the header row, the alignment row and the rows.
pub fn table(t: &Table) -> String {
    let mut out = format!("**{}**\n\n", t.caption.replace('\n', " "));
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out += &line(t.headers.iter().map(|h| cell(h)).collect());
    out += &line(
        t.headers
            .iter()
            .enumerate()
            .map(|(i, _)| {
                match t.align.get(i).copied().unwrap_or(Align::Left) {
                    Align::Left => ":---",
                    Align::Right => "---:",
                    Align::Center => ":---:",
                }
                .to_string()
            })
            .collect(),
    );
    for row in &t.rows {
        out += &line(row.iter().map(|c| cell(c)).collect());
    }
    out
}

/// The whole report. With `charts`, each chart becomes `![title](<charts>/<id>.svg)`;
/// without, charts are left out (their figures are in the tables).
pub fn render(report: &Report, charts: Option<&Path>) -> String {
    let mut out = format!("# {}\n", report.title);
    for s in &report.sections {
        out += &format!("\n## {}\n", s.heading);
        for b in &s.blocks {
            match b {
                Block::Text(t) => out += &format!("\n{t}\n"),
                Block::Table(t) => out += &format!("\n{}", table(t)),
                Block::Chart(c) => {
                    if let Some(dir) = charts {
                        let file = dir.join(format!("{}.svg", c.id));
                        out += &format!("\n![{}]({})\n\n{}\n", c.title, file.display(), c.caption);
                    }
                }
                Block::Tabs(t) => {
                    if let Some(dir) = charts {
                        for (label, c) in &t.charts {
                            let file = dir.join(format!("{}.svg", c.id));
                            out +=
                                &format!("\n**{label}**\n\n![{}]({})\n", c.title, file.display());
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_github_flavoured_with_its_alignment() {
        let mut t = Table::new("t", "Every case")
            .column("case", Align::Left)
            .column("value", Align::Right)
            .column("note", Align::Left);
        t.row(vec![
            "os/threads/100000".into(),
            "skipped".into(),
            "a | b".into(),
        ]);
        t.row(vec![
            "tokio-ct/spawn/1".into(),
            "4.00 KiB".into(),
            String::new(),
        ]);
        assert_eq!(
            table(&t),
            "**Every case**\n\n\
             | case | value | note |\n\
             | :--- | ---: | :--- |\n\
             | os/threads/100000 | skipped | a \\| b |\n\
             | tokio-ct/spawn/1 | 4.00 KiB |   |\n"
        );
    }
}
