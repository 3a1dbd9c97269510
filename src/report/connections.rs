//! The "Memory per idle connection" section, from the connection bench's `connections.json`
//! (and the summary beside it, for the Criterion samples' spread): one chart of bytes per
//! connection at the largest N measured, user space and kernel stacked side by side for each
//! server (Rust cases and the Go and Node.js peers), and a table with the breakdown at every
//! N. Skipped cases are listed with their reason.

use std::collections::BTreeMap;

use super::{
    Align, Axis, Chart, ChartKind, Dash, Marker, OKABE_ITO, Point, Scale, Section, Series, Style,
    Table, Unit, format_count, format_seconds,
};
use crate::connections::record::Extra;
use taskmem::format_bytes;
use taskmem::summary::Summary;

/// The section's heading.
pub const HEADING: &str = "Memory per idle connection";

/// `server/kind/N` split into (`server/kind`, N).
fn split(id: &str) -> Option<(&str, usize)> {
    let (pair, n) = id.rsplit_once('/')?;
    Some((pair, n.parse().ok()?))
}

/// The section from the bench's records, with the Criterion samples' CV from `summary`
/// where it has the case.
pub fn section(extras: &BTreeMap<String, Extra>, summary: Option<&Summary>) -> Section {
    let cv = |id: &str| -> Option<f64> {
        summary?
            .pairs
            .iter()
            .flat_map(|p| &p.cases)
            .find(|c| c.id == id)
            .map(|c| c.value.cv_percent)
    };
    let mut t = Table::new("connections", "Bytes per idle connection, server side")
        .column("server/kind", Align::Left)
        .column("N", Align::Right);
    for h in [
        "resident",
        "CV",
        "task",
        "I/O registration",
        "protocol",
        "rounding",
        "unexplained",
        "kernel",
        "RSS (peers)",
        "open N",
    ] {
        t = t.column(h, Align::Right);
    }
    let mut skipped = Vec::new();
    // The merged cache's growth, by case, beside the kernel column (not in it).
    let mut bounds = Vec::new();
    let mut ids: Vec<(&str, usize, &String, &Extra)> = extras
        .iter()
        .filter_map(|(id, e)| split(id).map(|(p, n)| (p, n, id, e)))
        .collect();
    ids.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let largest = ids
        .iter()
        .filter(|(_, _, _, e)| e.skipped.is_none())
        .map(|(_, n, _, _)| *n)
        .max();
    let mut user = Vec::new();
    let mut kernel = Vec::new();
    let mut labels = Vec::new();
    let b = |v: f64| format_bytes(v);
    for (pair, n, id, e) in &ids {
        if let Some(why) = &e.skipped {
            skipped.push(format!("`{id}`: {why}"));
            continue;
        }
        let peer_rss = (!e.peer_runs.is_empty()).then(|| {
            e.peer_runs
                .iter()
                .map(|r| r.per_connection(*n))
                .sum::<f64>()
                / e.peer_runs.len() as f64
        });
        let peer_cv = (e.peer_runs.len() > 1).then(|| {
            let per: Vec<f64> = e.peer_runs.iter().map(|r| r.per_connection(*n)).collect();
            taskmem::summary::Stats::of(&per).cv_percent
        });
        let k = e
            .breakdown
            .and_then(|b| b.kernel)
            .or(e.kernel.as_ref().map(|k| k.per_connection));
        if let Some(m) = e.kernel.as_ref().and_then(|k| k.merged_bound.as_ref()) {
            bounds.push(format!(
                "`{id}`: {} B ({:.2} objects of `{}`)",
                m.bytes_per_connection.round(),
                m.objects_per_connection,
                m.cache.cache
            ));
        }
        let d = e.breakdown;
        let dash = || "-".to_string();
        t.row(vec![
            pair.to_string(),
            format_count(*n as f64),
            d.map_or_else(dash, |d| b(d.resident)),
            cv(id)
                .or(peer_cv)
                .map_or_else(dash, |c| format!("{c:.1} %")),
            d.map_or_else(dash, |d| b(d.task)),
            d.map_or_else(dash, |d| b(d.io_registration)),
            d.map_or_else(dash, |d| b(d.protocol)),
            d.map_or_else(dash, |d| b(d.size_class_rounding)),
            d.map_or_else(dash, |d| b(d.unexplained)),
            k.map_or_else(|| "not measured".into(), b),
            peer_rss.map_or_else(dash, b),
            e.open_seconds.map_or_else(dash, format_seconds),
        ]);
        if Some(*n) == largest {
            let user_bytes = d.map(|d| d.resident).or(peer_rss);
            if let Some(u) = user_bytes {
                labels.push(pair.to_string());
                user.push(u);
                kernel.push(k.unwrap_or(0.0));
            }
        }
    }
    let mut s = Section::new("connections", HEADING).text(
        "N idle loopback connections held by a server, measured on its side at the peak (every \
         connection accepted, its exchange done, waiting for input), the clients in another \
         process. Rust cases: jemalloc resident bytes per connection, split into the bare \
         task, the socket's registration with the runtime's I/O driver, the protocol's state \
         and buffers (exact allocated bytes, by difference between runs), jemalloc's rounding \
         and the unexplained rest; the kernel's share from /proc/slabinfo (root only). Peers \
         in other languages: whole-process RSS growth per connection (3 runs). See \
         docs/connections.md.",
    );
    if let Some(n) = largest.filter(|_| !labels.is_empty()) {
        let series = |label: &str, ys: &[f64], i: usize| Series {
            label: label.into(),
            style: Style {
                colour: OKABE_ITO[i % OKABE_ITO.len()],
                marker: Marker::Square,
                dash: Dash::Solid,
            },
            points: ys
                .iter()
                .enumerate()
                .map(|(x, &y)| Point {
                    x: x as f64,
                    y,
                    mark: None,
                })
                .collect(),
        };
        s = s.chart(Chart {
            id: "per-connection".into(),
            title: format!("Memory per idle connection, N = {}", format_count(n as f64)),
            caption: "Per server and kind: user space (Rust: jemalloc resident; Go, Node.js: \
                      process RSS) and the kernel's share of the socket (not measured for the \
                      peers: the same kernel objects per socket)."
                .into(),
            kind: ChartKind::Bars { categories: labels },
            x: Axis {
                label: "server/kind".into(),
                unit: Unit::Other(String::new()),
                scale: Scale::Linear,
            },
            y: Axis {
                label: "bytes per connection".into(),
                unit: Unit::Bytes,
                scale: Scale::Linear,
            },
            series: vec![series("user space", &user, 0), series("kernel", &kernel, 1)],
            mark_label: None,
            bar_values: true,
        });
    }
    s = s.table(t);
    if !bounds.is_empty() {
        s = s.text(format!(
            "Kernel: slab objects at both loopback ends halved, and one epoll entry per server \
             socket. The epoll entries' cache is merged with others of its object size (the \
             client's port bindings among them); its growth per connection, a bound beside the \
             kernel column and not in it: {}.",
            bounds.join("; ")
        ));
    }
    if !skipped.is_empty() {
        s = s.text(format!("Skipped here: {}.", skipped.join("; ")));
    }
    s
}
