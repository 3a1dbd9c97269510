//! Pure logic: the matrix and its ids, size and argument parsing, the byte formatter, the
//! summary's statistics and slope, and the thread-limit check.

use criterion::Throughput;
use criterion::measurement::Measurement;
use taskmem::sample::{Metric, Sample};
use taskmem::summary::{Stats, slope};
use taskmem::{Memory, format_bytes};
use taskmem_suite::config::{Config, parse_size, parse_sizes};
use taskmem_suite::matrix::{self, Case, Runtime, Strategy};
use taskmem_suite::workload::CaseError;

#[test]
fn case_ids_read_runtime_strategy_n_and_parse_back() {
    let case = Case::new(Runtime::TOKIO_MT, Strategy::SPAWN, 100_000);
    assert_eq!(case.id(), "tokio-mt/spawn/100000");
    assert_eq!("tokio-mt/spawn/100k".parse::<Case>().unwrap(), case);
    for c in matrix::cases(&matrix::DEFAULT_SIZES) {
        assert_eq!(c.id().parse::<Case>().unwrap(), c);
    }
}

#[test]
fn default_matrix_has_every_supported_pair_at_every_size() {
    let cases = matrix::cases(&matrix::DEFAULT_SIZES);
    // 4 async runtimes x (4 portable strategies + 2 bounded ones) + JoinSet on 2 tokio
    // runtimes + OS threads.
    assert_eq!(matrix::pairs().len(), 4 * 6 + 2 + 1);
    assert_eq!(cases.len(), matrix::pairs().len() * 4);
    assert!(
        cases
            .iter()
            .any(|c| c.id() == "smol/futures_unordered/1000000")
    );
    assert!(
        !cases
            .iter()
            .any(|c| c.id().starts_with("async-std/joinset"))
    );
    assert!(!cases.iter().any(|c| c.id().starts_with("tokio-ct/threads")));
}

#[test]
fn missing_pairs_say_why() {
    let missing = matrix::unsupported();
    let ids: Vec<String> = missing.iter().map(|(p, _)| p.id()).collect();
    assert_eq!(ids, ["async-std/joinset", "smol/joinset"]);
    assert!(matrix::support(Runtime::Os, Strategy::SPAWN).is_err());
    assert!(Runtime::ASYNC_STD.describe().contains("legacy"));
}

#[test]
fn sizes_parse_with_suffixes_and_reject_garbage() {
    assert_eq!(parse_size("10k"), Ok(10_000));
    assert_eq!(parse_size("1M"), Ok(1_000_000));
    assert_eq!(parse_size("100_000"), Ok(100_000));
    assert_eq!(parse_sizes("1m,1,10k,1"), Ok(vec![1, 10_000, 1_000_000]));
    assert!(
        parse_size("ten")
            .unwrap_err()
            .contains("'ten' is not a task count")
    );
    assert!(parse_size("0").is_err());
    assert!(parse_size("-5").is_err());
    assert!(parse_size("1g").is_err());
    assert!(parse_size("99999999999999999999").is_err());
    assert!(parse_sizes("").is_err());
    assert!(parse_sizes("1,,2").is_err());
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn bench_config_reads_filter_metric_and_sizes() {
    let c = Config::from_parts(
        Some("1,10k"),
        Some("allocated"),
        &args(&["--bench", "--save-baseline", "x", "tokio-mt/spawn"]),
    )
    .unwrap();
    assert_eq!(c.sizes, [1, 10_000]);
    assert_eq!(c.metric, Some(Metric::Allocated));
    assert!(c.filter.matches("tokio-mt/spawn/10000"));
    assert!(!c.filter.matches("tokio-ct/spawn/10000"));
    assert!(
        !c.filter.matches("x"),
        "the baseline name is not the filter"
    );
    let exact = Config::from_parts(None, None, &args(&["--exact", "smol/spawn/1"])).unwrap();
    assert!(exact.filter.matches("smol/spawn/1"));
    assert!(!exact.filter.matches("smol/spawn/10"));
}

#[test]
fn bench_config_rejects_bad_input_in_one_line() {
    let bad = [
        Config::from_parts(Some("1,x"), None, &[]),
        Config::from_parts(None, Some("bytes"), &[]),
        Config::from_parts(None, None, &args(&["tokio-(mt"])),
        Config::from_parts(None, None, &args(&["--sample-size", "3"])),
    ];
    let messages: Vec<String> = bad.into_iter().map(|r| r.unwrap_err()).collect();
    assert!(messages[0].starts_with("TASKMEM_SIZES: 'x' is not a task count"));
    assert!(messages[1].starts_with("TASKMEM_METRIC: unknown metric 'bytes'"));
    assert!(messages[2].contains("not a valid regular expression"));
    assert!(messages[3].contains("--sample-size"));
    assert!(messages.iter().all(|m| !m.contains('\n')), "{messages:?}");
}

/// Criterion's mode, read as Criterion reads it: test mode without `--bench` or with
/// `--test`, `--list` and `--help` before it, `--profile-time` a bench run, and `--ignored`
/// over any filter. With `--help` the selection is whatever matches, so that Criterion
/// prints its help even after a filter that matches nothing.
#[test]
fn criterion_modes_are_read_as_criterion_reads_them() {
    use taskmem_suite::config::{Filter, Mode};
    let config = |a: &[&str]| Config::from_parts(Some("1"), None, &args(a)).unwrap();
    let mode = |a: &[&str]| config(a).mode;
    assert_eq!(mode(&["--bench"]), Mode::Bench);
    assert_eq!(mode(&["--bench", "--profile-time", "5"]), Mode::Bench);
    assert_eq!(
        mode(&[]),
        Mode::Test,
        "cargo test --benches passes no --bench"
    );
    assert_eq!(mode(&["--bench", "--test"]), Mode::Test);
    assert_eq!(mode(&["--bench", "--list"]), Mode::List);
    assert_eq!(mode(&["--list"]), Mode::List, "--list wins over test mode");
    assert_eq!(mode(&["--bench", "--help"]), Mode::Help);
    assert_eq!(mode(&["-h"]), Mode::Help);
    let ignored = config(&["--bench", "--ignored", "tokio-("]);
    assert!(
        matches!(ignored.filter, Filter::Nothing),
        "--ignored overrides the filter, even one that is no regex"
    );
    let help = config(&["--bench", "--help", "no-such-case"]);
    let selected = help
        .select("cargo bench --bench memory", &help.unfiltered_cases())
        .expect("help is not refused");
    assert!(selected.is_empty());
}

/// Criterion's filter selects a bench's cases as Criterion does (a regular expression on the
/// whole id, or `--exact`); a filter that matches none is one line and exit code 2 in a bench
/// run, a line on stdout and exit code 0 in test mode, nothing with `--ignored`; `--list`
/// lists what it matches, empty or not.
#[test]
fn a_filter_selects_like_criterion_and_says_when_it_matches_nothing() {
    use taskmem_suite::config::select_ids;
    let ids: Vec<String> = ["tokio-mt/tcp/1", "tokio-mt/tcp/10000", "go/tcp/10000"]
        .map(String::from)
        .to_vec();
    let pick = |a: &[&str]| {
        let c = Config::from_parts(None, None, &args(a)).unwrap();
        select_ids(
            &c.filter,
            c.mode,
            "cargo bench --features connections --bench connections",
            &ids,
            "tokio-mt/tcp/10000",
        )
    };
    assert_eq!(
        pick(&["--bench", "^tokio-mt/tcp/10000$"]).unwrap(),
        ["tokio-mt/tcp/10000"]
    );
    assert_eq!(
        pick(&["--bench", "tcp/10000"]).unwrap(),
        ["tokio-mt/tcp/10000", "go/tcp/10000"]
    );
    assert_eq!(
        pick(&["--bench", "--exact", "go/tcp/10000"]).unwrap(),
        ["go/tcp/10000"]
    );
    let none = pick(&["--bench", "^nothing$"]).unwrap_err();
    assert_eq!(none.code, 2);
    assert_eq!(
        none.message.as_deref(),
        Some(
            "no case matches the filter '^nothing$' (ids look like tokio-mt/tcp/10000; `cargo \
             bench --features connections --bench connections -- --list` lists them)"
        )
    );
    let test_mode = pick(&["^nothing$"]).unwrap_err();
    assert_eq!(test_mode.code, 0);
    assert!(test_mode.message.unwrap().ends_with("; nothing to test"));
    let ignored = pick(&["--bench", "--ignored"]).unwrap_err();
    assert_eq!((ignored.code, ignored.message), (0, None));
    assert!(
        pick(&["--bench", "--list", "^nothing$"])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn default_metric_counts_thread_stacks() {
    let threads = Case::new(Runtime::Os, Strategy::Threads, 10);
    let spawn = Case::new(Runtime::SMOL, Strategy::SPAWN, 10);
    assert_eq!(threads.default_metric(), Metric::Rss);
    assert_eq!(spawn.default_metric(), Metric::Resident);
}

#[test]
fn formatter_scales_to_binary_units() {
    let memory = Memory::default();
    let f = memory.formatter();
    let mut v = [512.0, 2048.0];
    assert_eq!(f.scale_values(512.0, &mut v), "B");
    assert_eq!(v, [512.0, 2048.0]);
    let mut v = [26_394_624.0];
    assert_eq!(f.scale_values(26_394_624.0, &mut v), "MiB");
    assert!((v[0] - 25.171875).abs() < 1e-9);
    let mut v = [3.0 * 1024.0 * 1024.0 * 1024.0];
    assert_eq!(f.scale_values(v[0], &mut v), "GiB");
    assert_eq!(format_bytes(264.0), "264 B");
    assert_eq!(format_bytes(26_394_624.0), "25.17 MiB");
    assert_eq!(f.scale_for_machines(&mut [1.0]), "B");
}

#[test]
fn formatter_handles_every_throughput() {
    let memory = Memory::default();
    let f = memory.formatter();
    let total = 26_400_000.0;
    let cases = [
        (Throughput::Elements(100_000), "B/task", 264.0),
        (
            Throughput::ElementsAndBytes {
                elements: 100_000,
                bytes: 7,
            },
            "B/task",
            264.0,
        ),
        (Throughput::Bytes(1_000), "KiB/B", 26_400.0 / 1024.0),
        (Throughput::BytesDecimal(1_000), "KiB/B", 26_400.0 / 1024.0),
        (Throughput::Bits(0), "MiB/bit", total / 1024.0 / 1024.0),
    ];
    for (t, unit, expected) in cases {
        let mut v = [total];
        assert_eq!(f.scale_throughputs(total, &t, &mut v), unit, "{t:?}");
        assert!((v[0] - expected).abs() < 1e-6, "{t:?}: {}", v[0]);
    }
}

#[test]
fn page_granular_metrics_fall_back_to_exact_bytes_below_a_page() {
    let s = Sample {
        resident: 0,
        requested: 208,
        usable: 208,
        large: 0,
        rss: 4096,
    };
    let r = s.value(Metric::Resident).unwrap();
    assert_eq!((r.bytes, r.below_resolution), (208, true));
    let rss = s.value(Metric::Rss).unwrap();
    assert_eq!((rss.bytes, rss.below_resolution), (4096, false));
    let nothing = Sample {
        resident: 0,
        requested: 0,
        usable: 0,
        large: 0,
        rss: 0,
    };
    assert!(matches!(
        nothing.value(Metric::Allocated),
        Err(taskmem::Error::NothingMeasured(_))
    ));
}

/// A sample's figure per task (with the fallback below a page), and every counter in words.
#[test]
fn a_sample_gives_bytes_per_task_and_prints_its_counters() {
    let s = Sample {
        resident: 23_068_672,
        requested: 23_080_000,
        usable: 23_100_000,
        large: 0,
        rss: 0,
    };
    assert_eq!(s.per_task(Metric::Resident, 10_000).unwrap(), 2306.8672);
    // RSS grew by less than a page: the exact allocated bytes, per task.
    assert_eq!(s.per_task(Metric::Rss, 10_000).unwrap(), 2308.0);
    assert!(matches!(
        s.per_task(Metric::Allocated, 0),
        Err(taskmem::Error::Invalid(_))
    ));
    assert_eq!(
        s.to_string(),
        "resident 22.00 MiB | allocated 22.01 MiB | usable 22.03 MiB | rss 0 B"
    );
    assert!(format!("{s:#}").ends_with(" | 0 large allocations"));
}

#[test]
fn stats_and_slope_are_computed_right() {
    let s = Stats::of(&[10.0, 12.0, 11.0, 13.0]);
    assert_eq!(s.median, 11.5);
    assert_eq!(s.mean, 11.5);
    assert_eq!((s.min, s.max), (10.0, 13.0));
    assert!((s.cv_percent - 100.0 * (5.0f64 / 3.0).sqrt() / 11.5).abs() < 1e-9);
    // value = 1000 + 264 * n
    let pts: Vec<(f64, f64)> = [1.0, 1e4, 1e5, 1e6]
        .iter()
        .map(|&n| (n, 1000.0 + 264.0 * n))
        .collect();
    assert!((slope(&pts) - 264.0).abs() < 1e-9);
    assert_eq!(slope(&[(10.0, 2640.0)]), 264.0);
}

#[test]
fn thread_limits_name_the_binding_limit() {
    let err = taskmem_suite::limits::check_threads(10_000_000).unwrap_err();
    let CaseError::Skipped(why) = err else {
        panic!("{err:?}")
    };
    assert!(why.starts_with("10000000 OS threads exceed "), "{why}");
    assert!(
        [
            "kernel.pid_max",
            "kernel.threads-max",
            "vm.max_map_count",
            "RLIMIT_NPROC"
        ]
        .iter()
        .any(|l| why.contains(l)),
        "{why}"
    );
    assert_eq!(taskmem_suite::limits::check_threads(8), Ok(()));
}

#[test]
fn payload_and_bounded_ids_parse_back() {
    use taskmem_suite::config::PayloadSet;
    use taskmem_suite::matrix::{Payload, Place};
    let case = Case::new(Runtime::TOKIO_MT, Strategy::SPAWN, 100_000)
        .with_payload(Payload::new(1024, Place::Inline).unwrap());
    assert_eq!(case.id(), "tokio-mt/spawn/p1024-inline/100000");
    assert_eq!("tokio-mt/spawn/p1024-inline/100k".parse::<Case>(), Ok(case));
    let bounded = Case::new(Runtime::SMOL, Strategy::BUFFER_UNORDERED, 1_000_000);
    assert_eq!(bounded.id(), "smol/buffer_unordered/k1000/1000000");
    assert_eq!(bounded.live_tasks(), 1000);
    assert_eq!(
        "smol/semaphore/k50/p77-heap/10"
            .parse::<Case>()
            .unwrap()
            .id(),
        "smol/semaphore/k50/p77-heap/10"
    );
    // Plain ids are unchanged: the committed baselines stay valid.
    assert_eq!(
        Case::new(Runtime::TOKIO_CT, Strategy::JOIN_ALL, 1).id(),
        "tokio-ct/join_all/1"
    );
    let every = [
        PayloadSet::All.cases(&matrix::DEFAULT_SIZES),
        PayloadSet::Default.cases(&matrix::DEFAULT_SIZES),
        matrix::cases_bounded(&matrix::DEFAULT_SIZES, 7),
    ];
    for c in every.iter().flatten() {
        assert_eq!(c.id().parse::<Case>().as_ref(), Ok(c), "{}", c.id());
    }
    // 18 async pairs that are not bounded x 12 payloads x 4 sizes.
    assert_eq!(every[0].len(), 18 * 12 * 4);
    assert_eq!(every[1].len(), (8 + 8 + 3 + 3) * 2);
}

#[test]
fn bad_payload_and_bound_input_is_one_line() {
    let bad = [
        (
            "tokio-mt/spawn/p100-inline/10",
            "no inline payload of 100 B is compiled in (inline sizes: 0, 64, 1024, 16385",
        ),
        (
            "tokio-mt/spawn/p-inline/10",
            "is not p{bytes}-{inline|heap|dropped}",
        ),
        (
            "tokio-mt/spawn/p12-stack/10",
            "unknown place 'stack' (valid: inline, heap, dropped)",
        ),
        (
            "tokio-mt/spawn/p12-heap/p12-heap/10",
            "names its payload twice",
        ),
        ("tokio-mt/spawn/k5/10", "only the bounded strategies"),
        (
            "tokio-mt/semaphore/10",
            "needs its bound K in the id: tokio-mt/semaphore/k1000/10",
        ),
        ("tokio-mt/semaphore/k0/10", "must be between 1 and"),
        ("os/threads/p64-heap/10", "os/threads takes none"),
        ("smol/joinset/p64-heap/10", "JoinSet is tokio's API"),
        ("tokio-mt/spawn/x/y/z/10", "is not runtime/strategy/N"),
        ("tokio-mt/spawn/q1/10", "neither a payload"),
    ];
    for (id, needle) in bad {
        let e = id.parse::<Case>().unwrap_err();
        assert!(e.contains(needle), "{id}: {e}");
        assert!(!e.contains('\n'), "{id}: {e}");
    }
    let config = |p: Option<&str>, k: Option<&str>| {
        Config::from_parts(None, None, &[]).and_then(|c| c.with_dimensions(p, k))
    };
    let e = config(Some("p1024-inline,p9-inline"), None).unwrap_err();
    assert!(
        e.starts_with("TASKMEM_PAYLOAD: no inline payload of 9 B"),
        "{e}"
    );
    assert!(
        config(Some(""), None)
            .unwrap_err()
            .starts_with("TASKMEM_PAYLOAD: empty")
    );
    assert!(config(Some("everything"), None).is_err());
    assert!(
        config(None, Some("0"))
            .unwrap_err()
            .starts_with("TASKMEM_BOUND: bound K")
    );
    assert!(config(None, Some("lots")).is_err());
    let c = config(Some("p4096-heap,p64-inline"), Some("2k")).unwrap();
    assert_eq!(c.bound, 2000);
    let ids: Vec<String> = c.cases().iter().map(|c| c.id()).collect();
    assert!(ids.contains(&"tokio-mt/semaphore/k2000/10000".to_string()));
    assert!(ids.contains(&"smol/futures_unordered/p4096-heap/100000".to_string()));
    assert!(ids.contains(&"async-std/sequential/p64-inline/1".to_string()));
    let off = config(Some("off"), None).unwrap();
    assert!(off.cases().iter().all(|c| c.payload.is_none()));
}

#[test]
fn breakdown_splits_a_known_layout() {
    use taskmem::summary::{Breakdown, PerTask};
    // A task whose 160-byte future holds a 1000-byte heap payload; the runtime allocates a
    // 256-byte cell for the future and its header plus an 8-byte handle: 1264 B requested.
    // jemalloc rounds the cell to 256 and the payload to 1024 (+24), the handle lives in a
    // Vec (no rounding per task), and pages add 10 B.
    let b = Breakdown::compute(
        PerTask {
            metric: Metric::Resident,
            measured: 1298.0,
            allocated: 1264.0,
            usable: 1288.0,
            large_pad: 0.0,
        },
        160,
        Some(1000),
    );
    assert_eq!(b.future, 160.0);
    assert_eq!(b.heap_payload, Some(1000.0));
    assert_eq!(b.header, Some(104.0));
    assert_eq!(b.size_class_rounding, 24.0);
    assert_eq!(b.unexplained, 10.0);
    assert!((b.unexplained_percent - 1000.0 / 1298.0).abs() < 1e-9);
    let parts = b.future + b.beyond_future + b.size_class_rounding + b.large_pad;
    assert_eq!(parts + b.unexplained, b.measured);
    // The allocated metric has no rounding or pad: all of it is explained.
    let exact = Breakdown::compute(
        PerTask {
            metric: Metric::Allocated,
            measured: 1264.0,
            allocated: 1264.0,
            usable: 1288.0,
            large_pad: 4096.0,
        },
        160,
        Some(1000),
    );
    assert_eq!(
        (
            exact.size_class_rounding,
            exact.large_pad,
            exact.unexplained
        ),
        (0.0, 0.0, 0.0)
    );
}

#[test]
fn summary_breaks_down_a_synthetic_pair() {
    use taskmem::summary;
    // tokio-mt/spawn/p16385-heap at N = 1000 and 10000, with a per-task layout of: future,
    // 16385 heap bytes, a 136-byte header; usable adds 4095 B of size class, each task has
    // one large allocation (its payload), resident adds the pad and 4 B.
    let case: Case = "tokio-mt/spawn/p16385-heap/1".parse().unwrap();
    let future = taskmem_suite::workload::future_size(&case).unwrap() as i64;
    let pad = taskmem::probe::large_pad_bytes().unwrap() as i64;
    let measured = [1000i64, 10_000]
        .iter()
        .map(|&n| {
            let c = Case {
                n: n as usize,
                ..case
            };
            let allocated = 3000 + n * (future + 16385 + 136);
            let usable = allocated + 500 + n * 4095;
            let s = Sample {
                resident: usable + 8192 + n * (pad + 4),
                requested: allocated,
                usable,
                large: n,
                rss: usable + n * pad,
            };
            summary::summarise(&c.id(), c.n, Metric::Resident, &[s; 10], 11)
        })
        .collect();
    let s = summary::merge(None, measured, vec![], Some(taskmem_suite::pairs::pairing));
    assert_eq!(s.pairs.len(), 1);
    let p = &s.pairs[0];
    assert_eq!(p.id, "tokio-mt/spawn/p16385-heap");
    assert_eq!(taskmem_suite::pairs::payload(p), case.payload);
    let b = p.breakdown.expect("a breakdown");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(b.future, future as f64));
    assert!(close(b.heap_payload.unwrap(), 16385.0));
    assert!(close(b.header.unwrap(), 136.0), "{b:?}");
    assert!(close(b.size_class_rounding, 4095.0), "{b:?}");
    assert!(close(b.large_pad, pad as f64), "{b:?}");
    assert!(close(b.unexplained, 4.0), "{b:?}");
    // A summary without the new fields (an older file) still loads.
    let mut json = serde_json::to_value(&s).unwrap();
    let pair = &mut json["pairs"][0];
    for key in ["payload", "bound", "breakdown", "bytes_per_live_task"] {
        pair.as_object_mut().unwrap().remove(key);
    }
    pair["cases"][0]
        .as_object_mut()
        .unwrap()
        .remove("large_allocations");
    json["machine"]
        .as_object_mut()
        .unwrap()
        .remove("jemalloc_large_pad");
    let old: summary::Summary = serde_json::from_value(json).unwrap();
    assert!(old.pairs[0].breakdown.is_none());
}

/// A user's own pair (its id is not the matrix's): the heap beyond its future is one part,
/// the runtime's allocations and the task's own heap together, not filed as the runtime's
/// header with a heap payload of 0 (an actor's 2,224 B of channel and state read as
/// `"header"`).
#[test]
fn a_users_own_pair_does_not_file_its_heap_as_the_runtimes_header() {
    use taskmem::summary;
    let future = 184usize;
    let cases = [1000i64, 10_000]
        .iter()
        .map(|&n| {
            let allocated = 3000 + n * (future as i64 + 2224);
            let s = Sample {
                resident: allocated + 8192,
                requested: allocated,
                usable: allocated,
                large: 0,
                rss: allocated,
            };
            let mut c = summary::summarise(
                &format!("actor/tokio-mt/spawn/{n}"),
                n as usize,
                Metric::Resident,
                &[s; 10],
                11,
            );
            c.future_size = Some(future);
            c
        })
        .collect();
    let s = summary::merge(None, cases, vec![], Some(taskmem_suite::pairs::pairing));
    let b = s.pairs[0]
        .breakdown
        .expect("a breakdown: the future's size is known");
    assert_eq!((b.header, b.heap_payload), (None, None), "{b:?}");
    assert!((b.beyond_future - 2224.0).abs() < 1e-6, "{b:?}");
    assert!(b.unexplained.abs() < 1.0, "{b:?}");
}
