//! The command line on bad input: one line on stderr, exit code 2, never a backtrace; a case
//! past the machine's limits: its reason and exit code 1.

use std::process::{Command, Output};

use crate::common;

fn taskmem(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskmem"));
    cmd.args(args)
        .env_remove("TASKMEM_SIZES")
        .env_remove("TASKMEM_METRIC")
        .env_remove("TASKMEM_PAYLOAD")
        .env_remove("TASKMEM_BOUND");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("taskmem runs")
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
}

#[test]
fn malformed_size_list_is_one_line_and_exit_2() {
    let out = taskmem(&["cases", "--sizes", "1,ten,100"], &[]);
    assert_one_line_error(&out, 2, "'ten' is not a task count");
}

#[test]
fn malformed_size_list_in_the_environment_is_one_line_and_exit_2() {
    let out = taskmem(&["cases"], &[("TASKMEM_SIZES", "1,,2")]);
    assert_one_line_error(&out, 2, "is not a task count");
}

#[test]
fn zero_tasks_are_refused() {
    let out = taskmem(&["cases", "--sizes", "0"], &[]);
    assert_one_line_error(&out, 2, "must be between 1 and");
}

#[test]
fn unknown_metric_lists_the_valid_ones() {
    let out = taskmem(&["measure", "tokio-ct/spawn/10", "--metric", "heap"], &[]);
    assert_one_line_error(
        &out,
        2,
        "unknown metric 'heap' (valid: resident, allocated, rss)",
    );
}

#[test]
fn unknown_runtime_lists_the_valid_ones() {
    let out = taskmem(&["measure", "glommio/spawn/10"], &[]);
    assert_one_line_error(&out, 2, "unknown runtime 'glommio' (valid: tokio-ct");
}

#[test]
fn malformed_case_id_is_refused() {
    let out = taskmem(&["measure", "tokio-ct/spawn"], &[]);
    assert_one_line_error(&out, 2, "is not runtime/strategy/N");
}

#[test]
fn a_pair_that_does_not_exist_says_why() {
    let out = taskmem(&["measure", "smol/joinset/10"], &[]);
    assert_one_line_error(&out, 2, "JoinSet is tokio's API");
}

#[test]
fn unknown_flag_is_one_line_and_exit_2() {
    let out = taskmem(&["cases", "--bogus"], &[]);
    assert_one_line_error(&out, 2, "--bogus");
}

#[test]
fn invalid_filter_regex_is_one_line_and_exit_2() {
    let out = taskmem(&["cases", "--filter", "tokio-(mt"], &[]);
    assert_one_line_error(&out, 2, "not a valid regular expression");
}

/// regex is built without its default features: Perl classes (`\d`, `\w`, `\b`, its feature
/// "unicode-perl") and case-insensitive matching (`(?i)`, "unicode-case") must still parse.
#[test]
fn filters_take_perl_classes_and_case_insensitive_matching() {
    let filter = r"(?i)^\w+-MT/\bspawn\b/\d+$";
    let out = taskmem(&["cases", "--sizes", "1,10k", "--filter", filter], &[]);
    let stdout = common::succeeded(&out);
    let listed: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        listed,
        ["tokio-mt/spawn/1", "tokio-mt/spawn/10000"],
        "{stdout}"
    );
}

#[test]
fn threads_past_pid_max_are_skipped_with_the_limit_named() {
    let out = taskmem(&["measure", "os/threads/1000000"], &[]);
    assert_one_line_error(&out, 1, "skipped: 1000000 OS threads exceed");
}

#[test]
fn cases_lists_the_matrix_with_skips_and_missing_pairs() {
    let out = taskmem(&["cases", "--sizes", "1,1m"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "tokio-mt/spawn/1000000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("os/threads/1000000  (skipped: 1000000 OS threads exceed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("async-std/joinset  (not available: JoinSet is tokio's API"),
        "{stdout}"
    );
}

#[test]
fn measure_prints_every_counter() {
    let out = taskmem(&["measure", "tokio-ct/join_all/10k", "--runs", "1"], &[]);
    let stdout = common::succeeded(&out);
    assert!(
        stdout.starts_with("tokio-ct/join_all/10000 run 1: "),
        "{stdout}"
    );
    for word in ["resident", "allocated", "usable", "rss", "per task"] {
        assert!(stdout.contains(word), "{stdout} lacks {word}");
    }
}

#[test]
fn an_inline_payload_that_is_not_compiled_in_names_the_valid_sizes() {
    let out = taskmem(&["measure", "tokio-mt/spawn/p100-inline/10"], &[]);
    assert_one_line_error(&out, 2, "inline sizes: 0, 64, 1024, 16385");
    let out = taskmem(
        &["cases"],
        &[("TASKMEM_PAYLOAD", "p1024-inline,p100-inline")],
    );
    assert_one_line_error(&out, 2, "--payload: no inline payload of 100 B");
    let out = taskmem(&["cases", "--bound", "none"], &[]);
    assert_one_line_error(&out, 2, "--bound: bound K");
}

#[test]
fn cases_lists_payload_and_bounded_cases() {
    let out = taskmem(
        &[
            "cases",
            "--sizes",
            "10k",
            "--payload",
            "p64-heap",
            "--bound",
            "50",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in [
        "tokio-mt/spawn/10000",
        "tokio-mt/spawn/p64-heap/10000",
        "smol/sequential/p64-heap/10000",
        "tokio-ct/buffer_unordered/k50/10000",
        "async-std/semaphore/k50/10000",
    ] {
        assert!(stdout.lines().any(|l| l == id), "{id} missing: {stdout}");
    }
    let default = taskmem(&["cases", "--sizes", "1", "--filter", "/p"], &[]);
    let stdout = String::from_utf8_lossy(&default.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l == "tokio-mt/spawn/p16385-inline/10000"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 44, "{stdout}");
}

#[test]
fn measure_runs_a_payload_case() {
    let out = taskmem(
        &["measure", "smol/spawn/p1024-dropped/1k", "--runs", "1"],
        &[],
    );
    let stdout = common::succeeded(&out);
    assert!(
        stdout.starts_with("smol/spawn/p1024-dropped/1000 run 1: "),
        "{stdout}"
    );
}

#[test]
fn a_bill_of_a_bench_that_does_not_exist_is_one_line_and_exit_1() {
    let out = taskmem(&["bill", "--bench", "no_such_bench", "--no-run"], &[]);
    assert_one_line_error(&out, 1, "no bench target named `no_such_bench`");
}

#[test]
fn a_bill_with_a_bad_filter_is_one_line_and_exit_2() {
    let out = taskmem(&["bill", "--bench", "memory", "--filter", "("], &[]);
    assert_one_line_error(&out, 2, "--filter");
}

#[test]
fn a_bill_with_a_feature_the_package_lacks_is_one_line_and_exit_1() {
    let out = taskmem(
        &[
            "bill",
            "--bench",
            "memory",
            "--features",
            "no-such-feature",
            "--no-run",
        ],
        &[],
    );
    assert_one_line_error(&out, 1, "no-such-feature");
}
