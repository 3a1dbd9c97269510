//! The "Bill of one task" section: for every pair that `taskmem bill` billed (its `bill` in
//! the summary), one stacked bar of a task's bytes cut into the bill's parts, each named and
//! coloured by whose code allocated it, and the same parts as a table, with the fattest state
//! of the future and what to change.

use crate::bill::future::Change;
use crate::bill::{Record, Whose};
use crate::report::{
    Align, Axis, Chart, ChartKind, Colour, OKABE_ITO, Scale, Section, StackedBar, StackedPart,
    Table, Unit,
};
use taskmem::format_bytes;
use taskmem::summary::Summary;

/// The colour of each owner's parts: the Okabe-Ito palette's, the rest in black.
fn colour(whose: Whose) -> Colour {
    match whose {
        Whose::Yours => OKABE_ITO[0],
        Whose::Library => OKABE_ITO[1],
        Whose::Runtime => OKABE_ITO[2],
        Whose::Taskmem => OKABE_ITO[3],
        Whose::Unknown => OKABE_ITO[4],
        Whose::Rest => OKABE_ITO[6],
    }
}

/// The section, when any pair of the summary carries a bill; a bill this taskmem cannot
/// read is named in the section's text, not drawn.
pub(super) fn bill_section(summary: &Summary) -> Option<Section> {
    let mut unreadable = Vec::new();
    let billed: Vec<(&str, Record)> = summary
        .pairs
        .iter()
        .filter_map(|p| {
            let value = p.bill.clone()?;
            match serde_json::from_value::<Record>(value) {
                Ok(r) => Some((p.id.as_str(), r)),
                Err(_) => {
                    unreadable.push(p.id.as_str());
                    None
                }
            }
        })
        .collect();
    if billed.is_empty() && unreadable.is_empty() {
        return None;
    }
    let mut bars = Vec::new();
    let mut t = Table::new(
        "bill",
        "Each task's bytes by part, as `taskmem bill` found them",
    )
    .column("pair", Align::Left)
    .column("part", Align::Left)
    .column("whose", Align::Left)
    .column("bytes per task", Align::Right)
    .column("+ size-class rounding", Align::Right);
    for (id, r) in &billed {
        for p in &r.parts {
            t.row(vec![
                id.to_string(),
                p.what.clone(),
                p.whose.describe().into(),
                format!("{:.0} B", p.bytes),
                if p.rounding.abs() >= 0.5 {
                    format!("{:.0} B", p.rounding)
                } else {
                    String::new()
                },
            ]);
        }
        bars.push(StackedBar {
            label: format!("{id}: allocated per task"),
            parts: r
                .parts
                .iter()
                .map(|p| StackedPart {
                    name: p.what.clone(),
                    value: p.bytes,
                    colour: colour(p.whose),
                })
                .collect(),
        });
    }
    let used: Vec<Whose> = Whose::ALL
        .into_iter()
        .filter(|w| {
            billed
                .iter()
                .any(|(_, r)| r.parts.iter().any(|p| p.whose == *w))
        })
        .collect();
    let chart = Chart {
        id: "bill-parts".into(),
        title: "The bill of one task: each pair's bytes per task, by part".into(),
        caption: "Exact allocated bytes per task (the slope across N), cut into the parts \
                  `taskmem bill` found: by allocation site when the run recorded them, each \
                  coloured by whose code allocated it and listed under its bar in the bar's \
                  order; the rest is what no part explains. Each bar is its pair's whole (its \
                  total above it): lengths compare within a bar. Size-class rounding is in \
                  the table."
            .into(),
        kind: ChartKind::Stacked {
            bars,
            key: used
                .into_iter()
                .map(|w| (w.describe().to_string(), colour(w)))
                .collect(),
        },
        x: Axis {
            label: String::new(),
            unit: Unit::Count,
            scale: Scale::Linear,
        },
        y: Axis {
            label: "allocated bytes per task".into(),
            unit: Unit::Bytes,
            scale: Scale::Linear,
        },
        series: Vec::new(),
        mark_label: None,
        bar_values: false,
    };
    let mut futures = Table::new(
        "bill-futures",
        "Each billed pair's future: its fattest state and what to change",
    )
    .column("pair", Align::Left)
    .column("future", Align::Left)
    .column("size", Align::Right)
    .column("fattest state", Align::Left)
    .column("what to change", Align::Left);
    for (id, r) in &billed {
        let row = match &r.future {
            Some(f) => {
                let fattest = f.states.get(f.fattest);
                vec![
                    id.to_string(),
                    f.name.clone(),
                    format_bytes(f.size as f64),
                    fattest.map_or("-".into(), |s| match &s.awaits {
                        Some(a) => format!("{} ({} B), awaiting {a}", s.name, s.bytes),
                        None => format!("{} ({} B)", s.name, s.bytes),
                    }),
                    if f.advice.is_empty() {
                        "-".into()
                    } else {
                        f.advice
                            .iter()
                            .map(|a| {
                                let saves = f.size.saturating_sub(a.future_without);
                                match a.change {
                                    Change::DropBefore => format!(
                                        "`{}` ({} B) held across {}: {saves} B less per task \
                                         without it",
                                        a.local,
                                        a.bytes,
                                        a.held_across.join(", ")
                                    ),
                                    Change::Box => format!(
                                        "box the awaited {} ({} B) of {}: {saves} B less per \
                                         task where the tasks wait in another state",
                                        a.local,
                                        a.bytes,
                                        a.held_across.join(", ")
                                    ),
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                ]
            }
            None => vec![
                id.to_string(),
                format!(
                    "not read: {}",
                    r.future_not_read.as_deref().unwrap_or("no layout")
                ),
            ],
        };
        futures.row(row);
    }
    let mut section = Section::new("bill", "The bill of one task").text(
        "What one task of each billed pair holds at the peak, part by part: run `taskmem bill \
         --bench <your bench>` (docs/bill.md) and the pairs it billed show here.",
    );
    if !unreadable.is_empty() {
        section = section.text(format!(
            "Bills this taskmem cannot read (written by another version; run `taskmem bill` \
             again): {}.",
            unreadable.join(", ")
        ));
    }
    if billed.is_empty() {
        return Some(section);
    }
    Some(section.chart(chart).table(t).table(futures))
}
