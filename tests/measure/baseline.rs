//! Baselines and the regression gate, through the `taskmem` binary: an injected regression
//! fails the gate, an unchanged run passes, bad files are one-line errors naming the file,
//! saves are atomic, the exports have the documented shape, a changed matrix is reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use taskmem::sample::Sample;
use taskmem::summary::{self, Summary};
use taskmem_suite::baseline;
use taskmem_suite::matrix::Case;
use taskmem_suite::workload::{self, Driver, RunOptions};

use crate::serial;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskmem-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn taskmem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .args(args)
        .env("CRITERION_HOME", "/nonexistent-criterion-home")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Measures the cases (10 runs each, like the suite) and writes a summary file.
fn measured_summary(dir: &Path, file: &str, cases: &[&str], payload: Option<usize>) -> PathBuf {
    let mut measured = Vec::new();
    for id in cases {
        let case: Case = id.parse().unwrap();
        let driver = Driver::new(case.runtime).unwrap();
        let opts = RunOptions {
            payload,
            ..RunOptions::default()
        };
        workload::measure(&driver, &case, &opts).unwrap();
        let runs: Vec<Sample> = (0..10)
            .map(|_| workload::measure(&driver, &case, &opts).unwrap())
            .collect();
        measured.push(summary::summarise(
            &case.id(),
            case.n,
            case.default_metric(),
            &runs,
            11,
        ));
    }
    write_summary(
        dir,
        file,
        &summary::merge(None, measured, vec![], Some(taskmem_suite::pairs::pairing)),
    )
}

fn write_summary(dir: &Path, file: &str, s: &Summary) -> PathBuf {
    let path = dir.join(file);
    summary::write_atomic(&path, &serde_json::to_vec(s).unwrap()).unwrap();
    path
}

fn save(dir: &Path, name: &str, summary: &Path) -> Output {
    taskmem(&[
        "baseline",
        "save",
        name,
        "--summary",
        summary.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ])
}

fn compare(dir: &Path, name: &str, summary: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "compare",
        name,
        "--summary",
        summary.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    taskmem(&args)
}

#[test]
fn injected_regression_fails_the_gate_and_an_unchanged_run_passes() {
    let _serial = serial();
    let dir = scratch("gate");
    let cases = ["tokio-ct/spawn/10000", "tokio-mt/join_all/10000"];
    // The test-only variant: every task also holds 64 bytes on the heap.
    let before = measured_summary(&dir, "before.json", &cases, Some(0));
    let again = measured_summary(&dir, "again.json", &cases, Some(0));
    let worse = measured_summary(&dir, "worse.json", &cases[..1], Some(64));
    let out = save(&dir, "main", &before);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let out = compare(&dir, "main", &again, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("0 regressed, 0 improved, 2 unchanged"),
        "{stdout}"
    );

    // 64 B more per task at 10K is ~640 KB: past 5 % and the 64 KiB floor.
    let out = compare(&dir, "main", &worse, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("tokio-ct/spawn/10000"))
        .unwrap();
    assert!(row.ends_with("regressed"), "{row}");
    // The case missing from the worse run is reported, not a crash.
    let row = stdout
        .lines()
        .find(|l| l.starts_with("tokio-mt/join_all/10000"))
        .unwrap();
    assert!(row.ends_with("removed"), "{row}");

    // A generous threshold for that case lets it pass.
    std::fs::write(
        dir.join("thresholds.toml"),
        "[[rule]]\ncases = \"^tokio-ct/spawn/\"\npercent = 50.0\nreason = \"test\"\n",
    )
    .unwrap();
    let out = compare(&dir, "main", &worse, &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

fn synthetic(ids: &[(&str, f64)]) -> Summary {
    let measured = ids
        .iter()
        .map(|(id, bytes)| {
            let case: Case = id.parse().unwrap();
            let b = *bytes as i64;
            let s = Sample {
                resident: b,
                requested: b,
                usable: b,
                large: 0,
                rss: b,
            };
            summary::summarise(&case.id(), case.n, case.default_metric(), &[s; 10], 10)
        })
        .collect();
    summary::merge(None, measured, vec![], Some(taskmem_suite::pairs::pairing))
}

#[test]
fn a_changed_matrix_is_reported_as_new_and_removed() {
    let dir = scratch("matrix");
    let old = write_summary(
        &dir,
        "old.json",
        &synthetic(&[("smol/spawn/10000", 2.2e6), ("smol/join_all/10000", 2.0e6)]),
    );
    let new = write_summary(
        &dir,
        "new.json",
        &synthetic(&[
            ("smol/spawn/10000", 2.2e6),
            ("smol/sequential/10000", 6.5e5),
        ]),
    );
    assert_eq!(save(&dir, "m", &old).status.code(), Some(0));
    let out = compare(&dir, "m", &new, &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("0 regressed, 0 improved, 1 unchanged, 1 new, 1 removed"),
        "{stdout}"
    );
}

#[test]
fn improvements_and_the_noise_floor() {
    let dir = scratch("floor");
    let old = write_summary(
        &dir,
        "old.json",
        &synthetic(&[
            ("tokio-ct/spawn/1", 20_000.0),
            ("tokio-ct/spawn/10000", 2.6e6),
        ]),
    );
    // +50 % at N = 1 is 10 KB: under the 64 KiB floor. -10 % at 10K is an improvement.
    let new = write_summary(
        &dir,
        "new.json",
        &synthetic(&[
            ("tokio-ct/spawn/1", 30_000.0),
            ("tokio-ct/spawn/10000", 2.34e6),
        ]),
    );
    assert_eq!(save(&dir, "f", &old).status.code(), Some(0));
    let out = compare(&dir, "f", &new, &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("tokio-ct/spawn/1 ") && l.ends_with("unchanged")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("tokio-ct/spawn/10000") && l.ends_with("improved")),
        "{stdout}"
    );
    // With no floor, the N = 1 growth counts.
    let out = compare(&dir, "f", &new, &["--floor", "0"]);
    assert_eq!(out.status.code(), Some(1));
}

fn assert_one_line(out: &Output, code: i32, needle: &str) {
    let (_, stderr) = text(out);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn missing_corrupt_and_newer_baselines_are_one_line_errors_naming_the_file() {
    let dir = scratch("bad");
    let current = write_summary(&dir, "cur.json", &synthetic(&[("smol/spawn/10000", 2.2e6)]));
    let out = compare(&dir, "nothere", &current, &[]);
    assert_one_line(&out, 2, "nothere.json");

    std::fs::write(
        dir.join("broken.json"),
        "{\"format\": 1, \"kind\": \"taskmem-baseline\", \"cas",
    )
    .unwrap();
    assert_one_line(
        &compare(&dir, "broken", &current, &[]),
        2,
        "broken.json is not valid JSON",
    );

    assert_eq!(save(&dir, "future", &current).status.code(), Some(0));
    let file = dir.join("future.json");
    let text_now =
        std::fs::read_to_string(&file)
            .unwrap()
            .replacen("\"format\": 1", "\"format\": 9", 1);
    std::fs::write(&file, text_now).unwrap();
    assert_one_line(
        &compare(&dir, "future", &current, &[]),
        2,
        "future.json has baseline format 9, newer",
    );

    std::fs::write(dir.join("other.json"), "{\"format\": 1}").unwrap();
    assert_one_line(
        &compare(&dir, "other", &current, &[]),
        2,
        "not a taskmem baseline",
    );

    assert_one_line(
        &save(&dir, "../escape", &current),
        2,
        "may hold only letters",
    );
    std::fs::write(dir.join("thresholds.toml"), "percent = \"five\"\n").unwrap();
    assert_one_line(
        &compare(&dir, "future", &current, &[]),
        2,
        "thresholds.toml is not a valid thresholds file",
    );
}

#[test]
fn an_interrupted_save_keeps_the_existing_baseline() {
    let dir = scratch("atomic");
    let file = dir.join("keep.json");
    std::fs::write(&file, "the existing baseline").unwrap();
    let err = summary::write_atomic_with(&file, |f| {
        use std::io::Write;
        f.write_all(b"{\"format\": 1, \"half")?;
        Err(std::io::Error::other("interrupted"))
    })
    .unwrap_err();
    assert!(
        err.contains("keep.json") && err.contains("unchanged"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "the existing baseline"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "a temporary file was left behind: {leftovers:?}"
    );
}

#[test]
fn exports_have_the_documented_shape() {
    let dir = scratch("export");
    let s = write_summary(
        &dir,
        "s.json",
        &synthetic(&[
            ("tokio-mt/spawn/100000", 26_394_624.0),
            ("os/threads/10", 300_000.0),
        ]),
    );
    assert_eq!(save(&dir, "e", &s).status.code(), Some(0));
    let out = compare(&dir, "e", &s, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let bmf: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        bmf["tokio-mt/spawn/100000"]["resident-bytes"]["value"],
        26_394_624.0
    );
    assert_eq!(bmf["os/threads/10"]["rss-bytes"]["value"], 300_000.0);
    let out = compare(&dir, "e", &s, &["--format", "github"]);
    let gh: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = gh.as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["unit"], "bytes");
        assert!(item["name"].as_str().unwrap().contains('('));
        assert!(item["value"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn criterion_baselines_compare_like_criterion() {
    let dir = scratch("criterion");
    let write = |id: &str, which: &str, mean: f64| {
        let d = baseline::criterion_dir(&dir, id).join(which);
        std::fs::create_dir_all(&d).unwrap();
        let est = serde_json::json!({"mean": {"point_estimate": mean, "confidence_interval":
            {"lower_bound": mean * 0.999, "upper_bound": mean * 1.001, "confidence_level": 0.95}}});
        std::fs::write(d.join("estimates.json"), est.to_string()).unwrap();
    };
    write("tokio-ct/spawn/10000", "before", 2_662_400.0);
    write("tokio-ct/spawn/10000", "new", 2_928_640.0);
    // Payload and bounded cases live in Criterion's `<function>_<qualifier>` directories.
    write("tokio-ct/join_all/p1024-heap/1000", "before", 1_300_000.0);
    write("tokio-ct/join_all/p1024-heap/1000", "new", 1_300_000.0);
    write("smol/buffer_unordered/k1000/10000", "before", 200_000.0);
    write("smol/buffer_unordered/k1000/10000", "new", 200_000.0);
    assert!(
        baseline::criterion_dir(&dir, "tokio-ct/join_all/p1024-heap/1000")
            .ends_with("tokio-ct/join_all_p1024-heap/1000")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .args([
            "compare",
            "--criterion",
            "before",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .env("CRITERION_HOME", &dir)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // Criterion's own change figure for these means is (new - old) / old = +10.00 %.
    assert!(stdout.contains("+10.00%"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("tokio-ct/spawn/10000") && l.ends_with("regressed"))
    );
    for id in [
        "tokio-ct/join_all/p1024-heap/1000",
        "smol/buffer_unordered/k1000/10000",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(id) && l.ends_with("unchanged")),
            "{id}: {stdout}"
        );
    }
}
