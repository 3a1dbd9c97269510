//! Pure logic: the matrix and its ids, size and argument parsing, the byte formatter, the
//! summary's statistics and slope, and the thread-limit check.

use criterion::Throughput;
use criterion::measurement::ValueFormatter;
use taskmem::config::{Config, parse_size, parse_sizes};
use taskmem::matrix::{self, Case, Runtime, Strategy};
use taskmem::measurement::{BytesFormatter, format_bytes};
use taskmem::sample::{Metric, Sample};
use taskmem::summary::{Stats, slope};
use taskmem::workload::CaseError;

#[test]
fn case_ids_read_runtime_strategy_n_and_parse_back() {
    let case = Case::new(Runtime::TokioMt, Strategy::Spawn, 100_000);
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
    assert!(matrix::support(Runtime::Os, Strategy::Spawn).is_err());
    assert!(Runtime::AsyncStd.describe().contains("legacy"));
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

#[test]
fn default_metric_counts_thread_stacks() {
    let threads = Case::new(Runtime::Os, Strategy::Threads, 10);
    let spawn = Case::new(Runtime::Smol, Strategy::Spawn, 10);
    assert_eq!(Metric::default_for(&threads), Metric::Rss);
    assert_eq!(Metric::default_for(&spawn), Metric::Resident);
}

#[test]
fn formatter_scales_to_binary_units() {
    let f = BytesFormatter;
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
    let f = BytesFormatter;
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
        Err(CaseError::Failed(_))
    ));
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
    let err = taskmem::limits::check_threads(10_000_000).unwrap_err();
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
    assert_eq!(taskmem::limits::check_threads(8), Ok(()));
}
