//! Unit tests of the memory report, on a summary of three measured pairs (one with an extra
//! id segment) and OS threads with a skip.

use std::collections::BTreeMap;
use std::path::Path;

use super::about::utc_date;
use super::*;
use crate::baseline;
use crate::report::{Block, ChartKind};
use crate::report::{Chart, Scale, Table};
use taskmem::sample::Metric;
use taskmem::summary::Provenance;
use taskmem::summary::{CaseSummary, PairSummary};
use taskmem::summary::{Machine, Skip, Stats};

fn stats(v: f64) -> Stats {
    Stats {
        median: v,
        mean: v,
        cv_percent: 0.5,
        min: v,
        max: v,
    }
}

fn case(pair: &str, n: usize, metric: Metric, value: f64, allocated: f64) -> CaseSummary {
    let mut metrics = BTreeMap::new();
    metrics.insert("resident".to_string(), stats(value));
    metrics.insert("allocated".to_string(), stats(allocated));
    metrics.insert("usable".to_string(), stats(allocated));
    metrics.insert("rss".to_string(), stats(value));
    CaseSummary {
        id: format!("{pair}/{n}"),
        n,
        metric,
        runs: 11,
        value: stats(value),
        per_task: value / n as f64,
        below_resolution: false,
        values: vec![value as u64; 10],
        metrics,
        large_allocations: None,
        runtime: None,
        future_size: None,
        future_type: None,
        sites: None,
        sites_from: None,
    }
}

fn pair(id: &str, future: Option<usize>, per_task: f64, cases: Vec<CaseSummary>) -> PairSummary {
    let mut bytes_per_task = BTreeMap::new();
    bytes_per_task.insert("reported".to_string(), per_task);
    bytes_per_task.insert("allocated".to_string(), per_task - 8.0);
    PairSummary {
        id: id.to_string(),
        runtime: String::new(),
        future_size: future,
        bytes_per_task,
        cases,
        payload: None,
        bound: None,
        breakdown: None,
        bytes_per_live_task: None,
        bill: None,
    }
}

/// Three measured pairs (one with an extra id segment), OS threads with a skip.
fn summary() -> Summary {
    use Metric::{Resident, Rss};
    Summary {
        format: taskmem::summary::FORMAT,
        tool: "taskmem 0.1.0".into(),
        updated_unix: 1_700_000_000,
        machine: Machine {
            provenance: Provenance {
                cores: 2,
                memory_bytes: 24 << 30,
                kernel: "6.1.0".into(),
                rustc: "rustc 1.95.0".into(),
                crates: [("tokio".to_string(), "1.54.1".to_string())].into(),
                git_revision: Some("abc123".into()),
                taskmem: "0.1.0".into(),
            },
            jemalloc_dirty_decay_ms: Some(0),
            jemalloc_large_pad: None,
        },
        pairs: vec![
            pair(
                "tokio-ct/spawn",
                Some(120),
                264.0,
                vec![
                    case("tokio-ct/spawn", 1, Resident, 8192.0, 264.0),
                    case("tokio-ct/spawn", 10_000, Resident, 2_648_192.0, 2_640_000.0),
                ],
            ),
            pair(
                "tokio-mt/spawn/p1024-inline",
                Some(1144),
                1300.0,
                vec![case(
                    "tokio-mt/spawn/p1024-inline",
                    10_000,
                    Resident,
                    13_000_000.0,
                    12_900_000.0,
                )],
            ),
            pair(
                "smol/join_all",
                Some(56),
                216.0,
                vec![
                    case("smol/join_all", 1, Resident, 4096.0, 206.0),
                    case("smol/join_all", 10_000, Resident, 2_164_096.0, 2_060_000.0),
                ],
            ),
            pair(
                "os/threads",
                None,
                25_997.0,
                vec![
                    case("os/threads", 1, Rss, 24_576.0, 266.0),
                    case("os/threads", 10_000, Rss, 259_994_576.0, 2_660_000.0),
                ],
            ),
        ],
        skipped: vec![Skip {
            id: "os/threads/100000".into(),
            reason: "100000 OS threads exceed kernel.pid_max = 32768".into(),
        }],
        unsupported: vec![Skip {
            id: "smol/joinset".into(),
            reason: "JoinSet is tokio's API; this runtime has none".into(),
        }],
    }
}

fn table<'a>(r: &'a Report, id: &str) -> &'a Table {
    r.tables().find(|t| t.id == id).unwrap()
}

fn chart<'a>(r: &'a Report, id: &str) -> &'a Chart {
    r.charts().find(|c| c.id == id).unwrap()
}

fn column(t: &Table, header: &str) -> usize {
    t.headers.iter().position(|h| h == header).unwrap()
}

#[test]
fn the_pairs_table_has_every_n_and_bytes_per_task() {
    let s = summary();
    let r = report(&s, Path::new("s.json"), None, None, None);
    let t = table(&r, "pairs");
    assert_eq!(
        t.headers,
        [
            "pair",
            "metric",
            "N = 1",
            "N = 10K",
            "N = 100K",
            "per task",
            "allocated per task",
            "size_of future"
        ]
    );
    assert_eq!(
        t.rows[0],
        [
            "tokio-ct/spawn",
            "resident",
            "8.00 KiB",
            "2.53 MiB",
            "-",
            "264 B",
            "256 B",
            "120 B"
        ]
    );
    assert_eq!(
        t.rows[3],
        [
            "os/threads",
            "rss",
            "24.00 KiB",
            "248.0 MiB",
            "skipped",
            "25.39 KiB",
            "25.38 KiB",
            "-"
        ]
    );
}

#[test]
fn the_cases_table_has_every_case_and_every_skip_in_order() {
    let s = summary();
    let r = report(&s, Path::new("s.json"), None, None, None);
    let t = table(&r, "cases");
    assert!(!t.headers.iter().any(|h| h == "baseline" || h == "verdict"));
    let ids: Vec<&str> = t.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        ids,
        [
            "tokio-ct/spawn/1",
            "tokio-ct/spawn/10000",
            "tokio-mt/spawn/p1024-inline/10000",
            "smol/join_all/1",
            "smol/join_all/10000",
            "os/threads/1",
            "os/threads/10000",
            "os/threads/100000",
        ]
    );
    let row = &t.rows[1];
    assert_eq!(row[column(t, "N")], "10K");
    assert_eq!(row[column(t, "value")], "2.53 MiB");
    assert_eq!(row[column(t, "per task")], "265 B");
    assert_eq!(row[column(t, "allocated per task")], "264 B");
    let skipped = &t.rows[7];
    assert_eq!(skipped[column(t, "value")], "skipped");
    assert_eq!(
        skipped[column(t, "note")],
        "skipped: 100000 OS threads exceed kernel.pid_max = 32768"
    );
    let about = &r.sections[0];
    assert!(
        about
            .blocks
            .iter()
            .any(|b| matches!(b, Block::Text(t) if t.starts_with("No baseline was chosen")))
    );
}

#[test]
fn charts_take_runtime_strategy_and_n_from_the_summary() {
    let s = summary();
    let r = report(&s, Path::new("s.json"), None, None, None);
    let ids: Vec<&str> = r.charts().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "peak-n10000",
            "peak-n1",
            "memory-vs-n",
            "bytes-per-task",
            "threads-vs-tasks",
            "payload-per-task"
        ]
    );

    // The published matrix only: the payload pair has its own section.
    let m = chart(&r, "memory-vs-n");
    let labels: Vec<&str> = m.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        ["tokio-ct/spawn", "smol/join_all", "os/threads (rss)"]
    );
    assert_eq!(m.series[0].points[1].x, 10_000.0);
    assert_eq!(m.series[0].points[1].y, 2_648_192.0);
    assert!(
        m.y.label.contains("process RSS for os/threads"),
        "{}",
        m.y.label
    );
    assert_eq!((m.x.scale, m.y.scale), (Scale::Log, Scale::Log));
    // One colour and dash per runtime, one marker per strategy.
    assert_ne!(m.series[0].style.colour, m.series[1].style.colour);
    assert_ne!(m.series[0].style.dash, m.series[1].style.dash);
    assert_ne!(m.series[0].style.marker, m.series[1].style.marker);
    assert_eq!(
        m.series[0].style.marker,
        line_style("tokio-mt/spawn").marker
    );

    let b = chart(&r, "bytes-per-task");
    let ChartKind::Bars { categories } = &b.kind else {
        panic!("not bars")
    };
    assert_eq!(categories, &["tokio-ct", "smol"]);
    let labels: Vec<&str> = b.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["spawn", "join_all"]);
    assert_eq!(b.series[0].points[0].y, 264.0);
    assert_eq!(b.series[0].points[0].mark, Some(120.0));
    assert!(
        b.caption.contains("os/threads reports process RSS"),
        "{}",
        b.caption
    );

    let t = chart(&r, "threads-vs-tasks");
    let ChartKind::Bars { categories } = &t.kind else {
        panic!("not bars")
    };
    assert_eq!(categories, &["N = 1", "N = 10K"]);
    let labels: Vec<&str> = t.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["os/threads (rss)", "tokio-ct/spawn (resident)"]);
    assert_eq!(t.series[0].points[1].y, 259_994_576.0);
}

#[test]
fn the_headline_ranks_the_published_pairs_at_each_n_least_first() {
    let s = summary();
    let r = report(&s, Path::new("s.json"), None, None, None);
    assert_eq!(r.sections[1].id, "headline");
    let h = chart(&r, "peak-n10000");
    let ChartKind::Ranking { notes, .. } = &h.kind else {
        panic!("not a ranking")
    };
    let bars: Vec<(&str, f64)> = h
        .series
        .iter()
        .map(|s| (s.label.as_str(), s.points[0].y))
        .collect();
    assert_eq!(
        bars,
        [
            ("smol/join_all", 2_164_096.0),
            ("tokio-ct/spawn", 2_648_192.0),
            ("os/threads", 259_994_576.0)
        ]
    );
    assert_eq!(notes, &["", "", "process RSS"]);
    let t = table(&r, "headline");
    let order: Vec<&str> = t.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        order,
        [
            "smol/join_all",
            "tokio-ct/spawn",
            "os/threads (process RSS)"
        ]
    );
    // Only the sizes some published pair reached: os/threads' skip at 100K adds no column.
    assert_eq!(t.headers, ["pair", "N = 1", "N = 10K", "per task"]);
    assert_eq!(t.rows[2][3], "25.39 KiB");
    let at_100k = r.charts().find(|c| c.id == "peak-n100000");
    assert!(at_100k.is_none(), "no published pair was measured at 100K");
    // ... so its skip is named under the tabs, outside every tab's caption.
    let texts: Vec<&str> = r.sections[1]
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Skipped at a size no pair reached, so it has no chart: N = 100K: `os/threads` was \
          skipped: 100000 OS threads exceed kernel.pid_max = 32768."
        ]
    );
    assert!(!h.caption.contains("skipped"), "{}", h.caption);
}

/// A sweep's summary: a Rust row, Go at 1, 10K and 1M, Java skipped at 10K.
fn sweep() -> Summary {
    use Metric::Rss;
    let mut s = summary();
    s.tool = "taskmem sweep 0.1.0".into();
    s.pairs = vec![
        pair(
            "tokio-ct/spawn@system",
            Some(120),
            300.0,
            vec![
                case("tokio-ct/spawn@system", 1, Rss, 3e6, 0.0),
                case("tokio-ct/spawn@system", 10_000, Rss, 6e6, 0.0),
            ],
        ),
        pair(
            "go/goroutines",
            None,
            2700.0,
            vec![
                case("go/goroutines", 1, Rss, 2e6, 0.0),
                case("go/goroutines", 10_000, Rss, 29e6, 0.0),
                case("go/goroutines", 1_000_000, Rss, 2.7e9, 0.0),
            ],
        ),
        pair("java/threads", None, 0.0, Vec::new()),
    ];
    s.pairs[1].bytes_per_task = [("rss".to_string(), 2700.0)].into();
    s.skipped = vec![Skip {
        id: "java/threads/10000".into(),
        reason: "not installed (java)".into(),
    }];
    s.unsupported.clear();
    s
}

#[test]
fn other_languages_of_a_sweep_join_the_headline_hatched_with_their_metric_named() {
    let s = summary();
    let sw = sweep();
    let r = report(&s, Path::new("s.json"), None, None, Some(&sw));
    let h = chart(&r, "peak-n10000");
    let ChartKind::Ranking {
        notes,
        hatched,
        hatched_key,
    } = &h.kind
    else {
        panic!("not a ranking")
    };
    let bars: Vec<(&str, &str, bool)> = h
        .series
        .iter()
        .zip(notes)
        .zip(hatched)
        .map(|((s, n), h)| (s.label.as_str(), n.as_str(), *h))
        .collect();
    // Sorted with the suite's pairs; the sweep's Rust row is not in the headline.
    assert_eq!(
        bars,
        [
            ("smol/join_all", "", false),
            ("tokio-ct/spawn", "", false),
            ("go/goroutines", "whole-process peak RSS", true),
            ("os/threads", "process RSS", false),
        ]
    );
    assert!(
        hatched_key
            .as_deref()
            .is_some_and(|k| k.contains("another language"))
    );
    assert!(
        h.caption.contains("Hatched bars are other languages"),
        "{}",
        h.caption
    );
    assert!(
        h.caption
            .contains("`java/threads` (sweep) was skipped: not installed (java)"),
        "{}",
        h.caption
    );
    // At N = 1 Go is there, Java's skip is not (it was skipped at 10K only).
    let one = chart(&r, "peak-n1");
    assert!(one.series.iter().any(|s| s.label == "go/goroutines"));
    assert!(!one.caption.contains("java"), "{}", one.caption);
    // The sweep's 1M has no tab: the suite did not run it.
    assert!(r.charts().all(|c| c.id != "peak-n1000000"));
    let t = table(&r, "headline");
    let order: Vec<&str> = t.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        order,
        [
            "smol/join_all",
            "tokio-ct/spawn",
            "go/goroutines (whole-process peak RSS)",
            "os/threads (process RSS)",
            "java/threads (whole-process peak RSS)",
        ]
    );
    assert_eq!(t.rows[2][1..], ["1.91 MiB", "27.66 MiB", "2.64 KiB"]);
    assert_eq!(t.rows[4][1..], ["-", "skipped", "-"]);
}

#[test]
fn without_a_sweep_no_bar_is_hatched() {
    let s = summary();
    let r = report(&s, Path::new("s.json"), None, None, None);
    for c in r.charts() {
        if let ChartKind::Ranking {
            hatched,
            hatched_key,
            ..
        } = &c.kind
        {
            assert!(
                hatched.iter().all(|h| !h) && hatched_key.is_none(),
                "{}",
                c.id
            );
        }
    }
}

#[test]
fn payloads_and_bounded_pairs_have_their_own_charts() {
    let mut s = summary();
    let mut bounded = s.pairs[0].clone();
    bounded.id = "tokio-ct/semaphore/k1000".into();
    bounded.bound = Some(1000);
    bounded.bytes_per_task.insert("reported".into(), 0.07);
    for (c, v) in bounded.cases.iter_mut().zip([440.0, 315_392.0]) {
        c.id = format!("tokio-ct/semaphore/k1000/{}", c.n);
        c.value.median = v;
    }
    s.pairs.push(bounded);
    let r = report(&s, Path::new("s.json"), None, None, None);
    let p = chart(&r, "payload-per-task");
    let ChartKind::Bars { categories } = &p.kind else {
        panic!("not bars")
    };
    assert_eq!(categories, &["no payload", "1024 B inline"]);
    assert_eq!(p.y.scale, Scale::Log);
    let b = chart(&r, "bounded");
    assert_eq!(b.series.len(), 1);
    // 315,392 B at N = 10K with at most 1000 alive: 315.4 B per live task, not 0.07.
    assert!((b.series[0].points[0].y - 315.392).abs() < 1e-9);
    let pairs = table(&r, "pairs");
    let row = pairs
        .rows
        .iter()
        .find(|r| r[0] == "tokio-ct/semaphore/k1000")
        .unwrap();
    assert_eq!(row[column(pairs, "per task")], "flat: 315 B per live task");
    assert!(
        !chart(&r, "peak-n10000")
            .series
            .iter()
            .any(|s| s.label.contains("/k"))
    );
}

#[test]
fn users_cases_get_their_own_table_and_stay_out_of_the_charts() {
    let mut s = summary();
    let mut user = s.pairs[0].clone();
    user.id = "handler/tokio-mt/spawn".into();
    user.runtime = String::new();
    for c in &mut user.cases {
        c.id = format!("handler/tokio-mt/spawn/{}", c.n);
        c.runtime = Some("tokio-mt".into());
    }
    s.pairs.push(user);
    let r = report(&s, Path::new("s.json"), None, None, None);
    let t = table(&r, "your-tasks");
    assert_eq!(t.rows.len(), 2);
    assert_eq!(
        t.rows[1][..3],
        ["handler/tokio-mt/spawn/10000", "tokio-mt", "10K"]
    );
    for c in r.charts() {
        crate::report::svg::svg(c).unwrap();
        assert!(
            !c.series.iter().any(|s| s.label.contains("handler")),
            "{}",
            c.id
        );
    }
}

#[test]
fn a_baseline_adds_the_change_and_verdict() {
    let s = summary();
    let mut before = summary();
    // The baseline held 10 % less for tokio-ct/spawn/10000: a regression past 5 % and
    // 64 KiB.
    let c = &mut before.pairs[0].cases[1];
    c.value.median = 2_400_000.0;
    c.metrics.get_mut("resident").unwrap().median = 2_400_000.0;
    let dir = std::env::temp_dir().join(format!("taskmem-report-unit-{}", std::process::id()));
    let b = baseline::from_summary("before", &before, None);
    baseline::save(&dir, &b).unwrap();
    let cmp = compare(&s, &dir, "before").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let r = report(&s, Path::new("s.json"), Some(&cmp), None, None);
    let t = table(&r, "cases");
    let row = &t.rows[1];
    assert_eq!(row[0], "tokio-ct/spawn/10000");
    assert_eq!(row[column(t, "baseline")], "2.29 MiB");
    assert_eq!(row[column(t, "change")], "+242.4 KiB (+10.34 %)");
    assert_eq!(row[column(t, "verdict")], "regressed");
    assert_eq!(t.rows[0][column(t, "verdict")], "unchanged");
    assert!(t.caption.contains("baseline `before`"));
    let text = crate::report::markdown::render(&r, None);
    assert!(
        text.contains("| tokio-ct/spawn/10000 | 10K | resident | 2.53 MiB |"),
        "{text}"
    );
    assert!(
        text.contains("1 regressed, 0 improved, 6 unchanged, 0 new, 0 not in this run"),
        "{text}"
    );
}

#[test]
fn a_missing_baseline_is_one_line_naming_the_file() {
    let e = compare(&summary(), Path::new("/nonexistent-dir"), "nope").unwrap_err();
    assert!(e.contains("/nonexistent-dir/nope.json"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn dates_are_utc() {
    assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc_date(1_700_000_000), "2023-11-14 22:13 UTC");
    assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
}

#[test]
fn a_billed_pair_gets_a_stacked_bar_of_its_named_parts_and_a_table() {
    let mut s = summary();
    assert!(
        !r_has_section(&report(&s, Path::new("s.json"), None, None, None), "bill"),
        "no bill, no section"
    );
    let part = |what: &str, whose: &str, bytes: f64| serde_json::json!({"what": what, "whose": whose, "bytes": bytes, "rounding": 0.0});
    s.pairs[0].bill = Some(serde_json::json!({
        "allocated": 2312.0,
        "rounding": 0.0,
        "by_site": true,
        "parts": [
            part("your code at benches/tasks.rs:11 [tasks::handler]", "yours", 2048.0),
            part("tokio: the task cell", "runtime", 256.0),
            part("taskmem's harness", "taskmem", 8.0),
            part("the rest: no site explains it", "rest", 0.0),
        ],
        "notes": [],
        "lines": ["bill of tokio-mt/spawn: 2312 B"],
    }));
    s.pairs[1].bill = Some(serde_json::json!({"allocated": "a lot"}));
    let r = report(&s, Path::new("s.json"), None, None, None);
    let c = chart(&r, "bill-parts");
    let ChartKind::Stacked { bars, key } = &c.kind else {
        panic!("{:?}", c.kind)
    };
    assert_eq!(bars.len(), 1);
    let names: Vec<(&str, f64)> = bars[0]
        .parts
        .iter()
        .map(|p| (p.name.as_str(), p.value))
        .collect();
    assert_eq!(
        names[..2],
        [
            ("your code at benches/tasks.rs:11 [tasks::handler]", 2048.0),
            ("tokio: the task cell", 256.0)
        ]
    );
    let sum: f64 = bars[0].parts.iter().map(|p| p.value).sum();
    assert_eq!(sum, 2312.0);
    assert_eq!(key.len(), 4, "{key:?}");
    let svg = crate::report::svg::svg(c).unwrap();
    assert!(svg.contains("data-name=\"tokio: the task cell\""), "{svg}");
    let t = table(&r, "bill");
    assert_eq!(t.rows.len(), 4);
    assert_eq!(t.rows[0][column(t, "whose")], "your code");
    assert_eq!(t.rows[0][column(t, "bytes per task")], "2048 B");
    // The other pair's bill is not this taskmem's: named, not drawn.
    let section = r.sections.iter().find(|x| x.id == "bill").unwrap();
    let said = section.blocks.iter().any(
        |b| matches!(b, Block::Text(t) if t.contains("cannot read") && t.contains(&s.pairs[1].id)),
    );
    assert!(said, "{:?}", section.blocks);
}

fn r_has_section(r: &Report, id: &str) -> bool {
    r.sections.iter().any(|s| s.id == id)
}
