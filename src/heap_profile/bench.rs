//! The `cargo bench --features dhat --bench dhat` binary: its `main`, where it writes the
//! profiles and the summary, and what it prints per case and per pair.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::cross_check::{cross_check, explain, jemalloc_figures, per_task};
use super::profile::profile_case_around;
use super::summary_file::merge;
use super::{CaseEntry, DhatSummary, FORMAT, Output, PairEntry, Settings, error_line};
use crate::matrix::{Case, Runtime};
use crate::progress::Progress;
use crate::workload::{CaseError, Driver, RunOptions};
use taskmem::format_bytes;
use taskmem::summary::{self, Skip};

/// `$CARGO_TARGET_DIR/taskmem/dhat` or `target/taskmem/dhat`.
fn output_dir() -> PathBuf {
    summary::default_path()
        .parent()
        .map_or_else(|| PathBuf::from("taskmem"), Path::to_path_buf)
        .join("dhat")
}

/// Where a case's profile is written: `<output_dir>/<runtime>/<strategy>/<N>/dhat-heap.json`.
fn profile_path(case: &Case) -> PathBuf {
    case.id()
        .split('/')
        .fold(output_dir(), |dir, part| dir.join(part))
        .join("dhat-heap.json")
}

/// Prints one profiled case: dhat's figures, jemalloc's beside them, the check.
fn print_case(entry: &CaseEntry, have_summary: bool) {
    let p = &entry.profile;
    let pad = "   ";
    println!("{}", p.id);
    println!(
        "{pad}dhat      {:.2} allocations/task | {} requested/task | heap at peak {} (dhat max {}) | {} allocated over the run in {} blocks | run {:.2} s profiled, {:.2} s unprofiled",
        p.allocations_per_task,
        per_task(p.requested_bytes_per_task),
        format_bytes(p.peak_bytes as f64),
        format_bytes(p.max_bytes as f64),
        format_bytes(p.total_bytes as f64),
        p.total_blocks,
        p.profiled_seconds,
        p.warm_up_seconds,
    );
    match (&entry.jemalloc, &entry.cross_check) {
        (Some(j), Some(x)) => {
            println!(
                "{pad}jemalloc  allocated {} | usable {} | resident {} per task (medians of the memory suite's {} sampled runs)",
                per_task(j.allocated_per_task),
                per_task(j.usable_per_task),
                per_task(j.resident_per_task),
                j.runs,
            );
            let verdict = if x.flagged { "FLAGGED" } else { "ok" };
            println!(
                "{pad}check     dhat requested - jemalloc allocated = {:+.1} B over the run ({:+.2} B/task); size-class rounding {}/task: {verdict}",
                x.difference_per_task * p.n as f64,
                x.difference_per_task,
                per_task(x.rounding_per_task),
            );
            if let Some(reason) = &x.reason {
                println!("{pad}          reason: {reason}");
            }
            println!("{pad}          {}", explain(p, j));
        }
        _ if have_summary => println!(
            "{pad}jemalloc  the memory suite's summary has no figures for this case (`cargo bench --bench memory -- '^{}$'` adds them)",
            p.id
        ),
        _ => println!("{pad}jemalloc  no memory suite summary: nothing to cross-check"),
    }
    if let Some(file) = &p.file {
        println!("{pad}profile   {file}");
    }
}

/// Prints the per-pair table.
fn print_pairs(pairs: &[PairEntry]) {
    println!(
        "\n{:<30} {:>9} {:>10} {:>10} {:>10} {:>10}  check (bytes per task: slope across the N profiled)",
        "pair", "allocs", "dhat req", "allocated", "usable", "resident"
    );
    for p in pairs {
        let j = |k: &str| {
            p.jemalloc
                .as_ref()
                .and_then(|m| m.get(k))
                .map_or("-".to_string(), |v| format!("{v:.2}"))
        };
        let check = match &p.cross_check {
            None => "no jemalloc figures".to_string(),
            Some(x) if x.flagged => format!(
                "FLAGGED: {:+.2} B/task, rounding {:.2}: {}",
                x.difference_per_task,
                x.rounding_per_task,
                x.reason.as_deref().unwrap_or("")
            ),
            Some(x) => format!(
                "ok ({:+.2} B/task, rounding {:.2})",
                x.difference_per_task, x.rounding_per_task
            ),
        };
        println!(
            "{:<30} {:>9.4} {:>10.2} {:>10} {:>10} {:>10}  {check}",
            p.id,
            p.allocations_per_task,
            p.requested_bytes_per_task,
            j("allocated"),
            j("usable"),
            j("resident"),
        );
    }
}

/// Reads the memory suite's summary for the cross-check; `Err` says why there is none.
fn load_jemalloc() -> Result<(summary::Summary, PathBuf), String> {
    let path = summary::default_path();
    if !path.exists() {
        return Err(format!(
            "no memory suite summary at {} (run `cargo bench --bench memory` for the jemalloc cross-check)",
            path.display()
        ));
    }
    summary::load(&path).map(|s| (s, path))
}

/// The bench binary's `main`: profile the configured cases under dhat.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::from_env_and_args(&args).unwrap_or_else(|e| {
        eprintln!("{}", error_line(&e));
        std::process::exit(2)
    });
    // A filter that matches no case: one line and exit code 2, before any file is read.
    let cases = settings.cases().unwrap_or_else(|no| no.exit());
    if settings.list_only() {
        for c in &cases {
            println!("{}: dhat profile", c.id());
        }
        return;
    }
    let (jemalloc, source) = match load_jemalloc() {
        Ok((s, path)) => {
            let source = path.display().to_string();
            println!("taskmem: jemalloc figures from {source}");
            (Some(s), source)
        }
        Err(why) => {
            println!("taskmem: no jemalloc cross-check: {why}");
            (None, why)
        }
    };
    let started = Instant::now();
    // About 11 s on the default sizes: a bar on a terminal, nothing in a log. No steady tick:
    // the bar draws only between cases, never inside a profiled run.
    let progress = Progress::new(cases.len(), "dhat profiles");
    let mut measured: Vec<CaseEntry> = Vec::new();
    let mut skipped: Vec<Skip> = Vec::new();
    let mut failed = 0;
    for runtime in Runtime::ALL {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.runtime == runtime).collect();
        if mine.is_empty() {
            continue;
        }
        let driver = match Driver::new(runtime) {
            Ok(d) => d,
            Err(e) => {
                progress.suspend(|| eprintln!("taskmem: {runtime}: {e}"));
                failed += mine.len();
                mine.iter().for_each(|_| progress.inc());
                continue;
            }
        };
        for case in mine {
            let id = case.id();
            progress.case(&id);
            let output = Output::File(profile_path(case));
            let around = |stop: &mut dyn FnMut()| progress.suspend(stop);
            match profile_case_around(&driver, case, &RunOptions::default(), &output, &around) {
                Ok(profile) => {
                    let jem = jemalloc.as_ref().and_then(|s| jemalloc_figures(s, &id));
                    let check = jem.as_ref().map(|j| cross_check(&profile, j));
                    let entry = CaseEntry {
                        profile,
                        jemalloc: jem,
                        cross_check: check,
                    };
                    progress.suspend(|| print_case(&entry, jemalloc.is_some()));
                    measured.push(entry);
                }
                Err(CaseError::Skipped(why)) => {
                    progress.println(&format!("{id}: skipped: {why}"));
                    skipped.push(Skip { id, reason: why });
                }
                Err(CaseError::Failed(why)) => {
                    progress.suspend(|| eprintln!("taskmem: {id}: failed: {why}"));
                    failed += 1;
                }
            }
            progress.inc();
        }
    }
    progress.finish();
    let elapsed = started.elapsed();
    let flagged: Vec<String> = measured
        .iter()
        .filter(|c| c.cross_check.as_ref().is_some_and(|x| x.flagged))
        .map(|c| c.profile.id.clone())
        .collect();
    let path = output_dir().join("summary.json");
    let earlier = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<DhatSummary>(&t).ok())
        .filter(|s| s.format == FORMAT);
    let merged = merge(earlier, measured, skipped, jemalloc.as_ref(), source);
    print_pairs(&merged.pairs);
    match serde_json::to_vec_pretty(&merged) {
        Ok(json) => match summary::write_atomic(&path, &json) {
            Ok(()) => println!("\ntaskmem: dhat summary written to {}", path.display()),
            Err(e) => {
                eprintln!("{}", error_line(&e));
                std::process::exit(1)
            }
        },
        Err(e) => {
            eprintln!(
                "{}",
                error_line(&format!("cannot encode the dhat summary: {e}"))
            );
            std::process::exit(1)
        }
    }
    println!(
        "taskmem: profiled in {:.1} s; profiles open in DHAT's viewer (dh_view.html, \"Load...\")",
        elapsed.as_secs_f64()
    );
    if !flagged.is_empty() {
        println!(
            "taskmem: {} case(s) differ from jemalloc by more than its size-class rounding: {}",
            flagged.len(),
            flagged.join(", ")
        );
    }
    if failed > 0 {
        eprintln!("{}", error_line(&format!("{failed} case(s) failed")));
        std::process::exit(1);
    }
}
