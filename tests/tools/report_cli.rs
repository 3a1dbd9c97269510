//! `taskmem report` on good and bad input: the page, markdown and SVG files from a fixture
//! summary; one line on stderr and a non-zero exit, with nothing written, for a missing or
//! corrupt summary or baseline.
//!
//! Run with: `cargo test --test tools report_cli::`

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn taskmem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .args(args)
        .env_remove("CRITERION_HOME")
        .output()
        .expect("taskmem runs")
}

fn assert_one_line_error(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(stderr.starts_with("taskmem: "), "{stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_corrupt_summary_is_one_line_exit_2_and_no_page() {
    let dir = common::temp_dir("report-corrupt");
    let summary = dir.join("summary.json");
    std::fs::write(&summary, "{\"format\": 1, \"pairs\": [tru").unwrap();
    let page = dir.join("out").join("index.html");
    let out = taskmem(&["report", "--summary", s(&summary), "--out", s(&page)]);
    assert_one_line_error(&out, 2, "is not a taskmem summary");
    assert!(!page.exists() && !dir.join("out").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_summary_says_to_run_the_bench() {
    let dir = common::temp_dir("report-missing");
    let out = taskmem(&[
        "report",
        "--summary",
        s(&dir.join("none.json")),
        "--markdown",
    ]);
    assert_one_line_error(&out, 2, "(run `cargo bench` first)");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_or_corrupt_baseline_is_one_line_naming_the_file() {
    let dir = common::temp_dir("report-baseline");
    let summary = common::write_summary(&dir, &common::summary());
    let baselines = dir.join("baselines");
    std::fs::create_dir_all(&baselines).unwrap();
    let args = |name: &'static str| {
        vec![
            "report".to_string(),
            "--summary".into(),
            s(&summary).into(),
            "--markdown".into(),
            "--dir".into(),
            s(&baselines).into(),
            "--baseline".into(),
            name.into(),
        ]
    };
    let run = |a: Vec<String>| taskmem(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args("main"));
    assert_one_line_error(&out, 2, "main.json");
    std::fs::write(baselines.join("broken.json"), "not json").unwrap();
    let out = run(args("broken"));
    assert_one_line_error(&out, 2, "broken.json is not valid JSON");
    let out = run(args("../etc"));
    assert_one_line_error(&out, 2, "may hold only letters");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let out = taskmem(&["report", "--html"]);
    assert_one_line_error(&out, 2, "--html");
}

/// Bytes of a printed value (`986.6 KiB`).
fn bytes(text: &str) -> f64 {
    let (v, unit) = text.trim().split_once(' ').expect("value and unit");
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other}"),
    };
    v.parse::<f64>().expect("a number") * scale
}

#[test]
fn markdown_prints_every_case_and_nothing_else_on_stdout() {
    let dir = common::temp_dir("report-markdown");
    let fixture = common::summary();
    let summary = common::write_summary(&dir, &fixture);
    let out = taskmem(&["report", "--summary", s(&summary), "--markdown"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("# taskmem: memory of N concurrent tasks\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "\n| case | N | metric | value | per task | CV | allocated per task | note |\n"
        )
    );
    let case_rows = md
        .lines()
        .filter(|l| {
            l.split(" | ")
                .nth(1)
                .is_some_and(|n| ["1", "10K", "100K"].contains(&n))
                && l.matches('/').count() >= 2
        })
        .count();
    assert_eq!(case_rows, common::case_rows(&fixture), "{md}");
    // tokio-ct/join_all is the first pair: 8 KiB plus 100 B per task, half the runs 4 KiB
    // more: a median of 8192 + 1,000,000 + 2048 = 1,010,240 B, 101 B per task.
    assert!(
        md.contains("| tokio-ct/join_all/10000 | 10K | resident | 986.6 KiB | 101 B |"),
        "{md}"
    );
    assert!(
        md.contains("| os/threads/100000 | 100K | - | skipped |"),
        "{md}"
    );
    assert!(
        !md.contains("<svg") && !md.contains("!["),
        "markdown without --svg has no images"
    );
    // The headline table comes first, ordered as the first chart: least memory at 10K first.
    let head = md
        .find("**Memory at the peak (jemalloc resident), ordered as the chart at N = 10K**")
        .expect("the headline table");
    assert!(head < md.find("| case | N |").unwrap());
    let at_10k: Vec<f64> = md[head..]
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .map(|l| bytes(l.split(" | ").nth(2).unwrap()))
        .collect();
    assert_eq!(at_10k.len(), 19, "{md}");
    assert!(at_10k.windows(2).all(|w| w[0] <= w[1]), "{at_10k:?}");
    // No page was written where Criterion's report would be.
    assert!(!dir.join("criterion").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn svg_writes_each_chart_and_the_page_goes_where_asked() {
    let dir = common::temp_dir("report-svg");
    let summary = common::write_summary(&dir, &common::summary());
    let charts = dir.join("charts");
    let page = dir.join("page.html");
    let out = taskmem(&[
        "report",
        "--summary",
        s(&summary),
        "--svg",
        s(&charts),
        "--out",
        s(&page),
    ]);
    let stdout = common::succeeded(&out);
    // One headline chart per N (1 and 10K), the three charts of the matrix and the bounded
    // pairs' own.
    let ids = [
        "peak-n10000",
        "peak-n1",
        "memory-vs-n",
        "bytes-per-task",
        "threads-vs-tasks",
        "bounded",
    ];
    assert!(
        stdout.contains(&format!("taskmem: {} charts written to", ids.len())),
        "{stdout}"
    );
    assert!(stdout.contains("taskmem: report written to"), "{stdout}");
    for id in ids {
        let svg = std::fs::read_to_string(charts.join(format!("{id}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg role=\"img\" width=\"960\""),
            "{id}: {}",
            &svg[..80]
        );
        assert!(
            svg.contains("xmlns=\"http://www.w3.org/2000/svg\""),
            "{id}: a standalone file needs its namespace"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), ids.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_page_goes_next_to_criterions_report() {
    let dir = common::temp_dir("report-default");
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("taskmem")).unwrap();
    let summary = common::write_summary(&target.join("taskmem"), &common::summary());
    let out = taskmem(&["report", "--summary", s(&summary)]);
    common::succeeded(&out);
    let page = target.join("criterion").join("taskmem").join("index.html");
    assert!(page.is_file());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!("taskmem: report written to {}", page.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_beside_the_summary_puts_its_other_languages_in_the_headline_table() {
    let dir = common::temp_dir("report-sweep");
    let summary = common::write_summary(&dir, &common::summary());
    common::write_sweep(&dir, &common::sweep_summary());
    let out = taskmem(&["report", "--summary", s(&summary), "--markdown"]);
    common::succeeded(&out);
    let md = String::from_utf8(out.stdout).unwrap();
    let head = md
        .find("**Memory at the peak (jemalloc resident), ordered as the chart at N = 10K**")
        .expect("the headline table");
    let rows: Vec<&str> = md[head..]
        .lines()
        .skip(4)
        .take_while(|l| l.starts_with('|'))
        .collect();
    // Every published pair, then Go and Node.js with their metric named, and Java (skipped at
    // every N); not the sweep's Rust row. Still ordered by the value at 10K.
    assert_eq!(rows.len(), 19 + 3, "{md}");
    assert!(!rows.iter().any(|r| r.contains('@')), "{md}");
    let go = rows
        .iter()
        .position(|r| r.starts_with("| go/goroutines (whole-process peak RSS) |"))
        .expect("Go's row");
    assert!(
        rows[go].ends_with("| 2.00 MiB | 27.75 MiB | 2.64 KiB |"),
        "{}",
        rows[go]
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("| node/promises (whole-process peak RSS) |"))
    );
    assert_eq!(
        rows.last().unwrap(),
        &"| java/threads (whole-process peak RSS) | skipped | skipped | - |"
    );
    let at_10k: Vec<f64> = rows[..rows.len() - 1]
        .iter()
        .map(|l| bytes(l.split(" | ").nth(2).unwrap()))
        .collect();
    assert!(at_10k.windows(2).all(|w| w[0] <= w[1]), "{at_10k:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_sweep_is_named_on_the_page_and_the_page_still_written() {
    let dir = common::temp_dir("report-bad-sweep");
    let summary = common::write_summary(&dir, &common::summary());
    std::fs::write(dir.join("sweep.json"), "{\"format\": 1, \"pairs\": [tru").unwrap();
    let page = dir.join("page.html");
    let out = taskmem(&["report", "--summary", s(&summary), "--out", s(&page)]);
    common::succeeded(&out);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("sweep.json is not a taskmem summary"),
        "{html}"
    );
    assert!(!html.contains("class=\"bar hatched\""));
    assert!(html.contains("id=\"chart-peak-n10000\""));
    let _ = std::fs::remove_dir_all(&dir);
}
