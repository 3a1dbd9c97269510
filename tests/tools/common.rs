//! A summary for the report's tests: every pair of the matrix at N = 1 and 10K, with made-up
//! but self-consistent figures (a fixed cost plus a cost per task that differs per pair),
//! and `os/threads` at 100K skipped, as on a machine with `kernel.pid_max` = 32768; and a
//! sweep's summary (`taskmem sweep`) with a Rust row and rows in other languages.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use taskmem::sample::Sample;
use taskmem::summary::{self, Skip, Summary};
use taskmem_suite::matrix::{self, Case, Strategy};

/// Bytes per task of the `i`-th pair: 100 B + 24 B per pair, threads 25 KiB.
fn per_task(i: usize, case: &Case) -> i64 {
    if case.strategy == Strategy::Threads {
        25 * 1024
    } else {
        100 + 24 * i as i64
    }
}

/// The fixture summary.
pub fn summary() -> Summary {
    let mut measured = Vec::new();
    let mut skipped = Vec::new();
    for (i, pair) in matrix::pairs().into_iter().enumerate() {
        for n in [1, 10_000, 100_000] {
            let case = Case::new(pair.runtime, pair.strategy, n);
            if n == 100_000 {
                if case.strategy == Strategy::Threads {
                    skipped.push(Skip {
                        id: case.id(),
                        reason: "100000 OS threads exceed kernel.pid_max = 32768".into(),
                    });
                }
                continue;
            }
            // Ten runs a little apart, so the spread is not zero.
            let samples: Vec<Sample> = (0..10)
                .map(|r| {
                    let bytes = 8192 + per_task(i, &case) * n as i64 + 4096 * (r % 2);
                    Sample {
                        resident: bytes,
                        requested: bytes - 4096,
                        usable: bytes - 2048,
                        large: 0,
                        rss: bytes + 4096,
                    }
                })
                .collect();
            measured.push(summary::summarise(
                &case.id(),
                case.n,
                case.default_metric(),
                &samples,
                11,
            ));
        }
    }
    summary::merge(None, measured, skipped, Some(taskmem_suite::pairs::pairing))
}

/// The fixture with what the published matrix leaves out: a payload pair
/// (`tokio-mt/spawn/p1024-inline` at 1K and 10K) and a case recorded from a user's own bench
/// (`handler/tokio-mt/spawn`, no payload, an empty runtime), as users' summaries may hold.
pub fn summary_with_variants() -> Summary {
    use taskmem_suite::matrix::{Payload, Place, Runtime};
    let mut measured = Vec::new();
    for n in [1_000, 10_000] {
        let case = Case::new(Runtime::TOKIO_MT, Strategy::SPAWN, n)
            .with_payload(Payload::new(1024, Place::Inline).expect("a compiled-in size"));
        let samples: Vec<Sample> = (0..10)
            .map(|r| {
                let bytes = 8192 + 1400 * n as i64 + 4096 * (r % 2);
                Sample {
                    resident: bytes,
                    requested: bytes - 4096,
                    usable: bytes - 2048,
                    large: 0,
                    rss: bytes + 4096,
                }
            })
            .collect();
        measured.push(summary::summarise(
            &case.id(),
            case.n,
            case.default_metric(),
            &samples,
            11,
        ));
    }
    let base = summary();
    let mut s = summary::merge(
        Some(base),
        measured,
        Vec::new(),
        Some(taskmem_suite::pairs::pairing),
    );
    let mut user = s.pairs[0].clone();
    user.id = "handler/tokio-mt/spawn".into();
    user.runtime = String::new();
    user.payload = None;
    user.bound = None;
    for c in &mut user.cases {
        c.id = format!("handler/tokio-mt/spawn/{}", c.n);
        c.runtime = Some(String::new());
    }
    s.pairs.push(user);
    s
}

/// A sweep's summary as `taskmem sweep` writes it (through its own `to_summary`): a Rust
/// row (`tokio-mt/spawn@system`), Go at N = 1, 10K and 100K (a size the suite fixture did not
/// reach), Node.js at 1 and 10K, and Java threads not installed (skipped at every N).
/// Whole-process peaks: a base size plus a cost per task, made up but self-consistent.
pub fn sweep_summary() -> Summary {
    use std::time::Duration;
    use taskmem_suite::matrix::Runtime;
    use taskmem_suite::run::Allocator;
    use taskmem_suite::sweep::{Cell, Row, Subject, SubjectKind};
    let ran = |base: u64, per_task: u64, n: usize| Cell::Ran {
        peak_rss: base + per_task * n as u64,
        wall: Duration::from_millis(200),
        note: None,
    };
    // A peer's kind only decides its `future_size` in the summary (none for any peer), and a
    // built peer cannot be made without its toolchain: the rows that ran say `Unavailable`.
    let subject = |id: &str, language: &str, kind: SubjectKind| Subject {
        id: id.into(),
        language: language.into(),
        threads: false,
        kind,
    };
    let rows = vec![
        Row {
            subject: subject(
                "tokio-mt/spawn@system",
                "rust",
                SubjectKind::Rust {
                    runtime: Runtime::TOKIO_MT,
                    strategy: Strategy::SPAWN,
                    allocator: Allocator::System,
                },
            ),
            cells: [1, 10_000]
                .into_iter()
                .map(|n| (n, ran(3 << 20, 300, n)))
                .collect(),
        },
        Row {
            subject: subject(
                "go/goroutines",
                "go",
                SubjectKind::Unavailable(String::new()),
            ),
            cells: [1, 10_000, 100_000]
                .into_iter()
                .map(|n| (n, ran(2 << 20, 2700, n)))
                .collect(),
        },
        Row {
            subject: subject(
                "node/promises",
                "node",
                SubjectKind::Unavailable(String::new()),
            ),
            cells: [1, 10_000]
                .into_iter()
                .map(|n| (n, ran(44 << 20, 120, n)))
                .collect(),
        },
        Row {
            subject: subject(
                "java/threads",
                "java",
                SubjectKind::Unavailable("not installed".into()),
            ),
            cells: [1, 10_000]
                .into_iter()
                .map(|n| {
                    let why = "not installed (java); apt-get install default-jdk";
                    (n, Cell::Skipped(why.into()))
                })
                .collect(),
        },
    ];
    taskmem_suite::sweep::to_summary(&rows, Duration::from_millis(200))
}

/// Writes a sweep's summary as `<dir>/sweep.json` (where the report looks for it, beside
/// `summary.json`); returns the file.
pub fn write_sweep(dir: &Path, s: &Summary) -> PathBuf {
    let file = dir.join("sweep.json");
    std::fs::write(&file, serde_json::to_vec_pretty(s).expect("encode")).expect("write");
    file
}

/// How many rows the cases table must have: every measured case and every skip.
pub fn case_rows(s: &Summary) -> usize {
    s.pairs.iter().map(|p| p.cases.len()).sum::<usize>() + s.skipped.len()
}

/// A fresh, empty directory under the system's temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("taskmem-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes the fixture summary as `<dir>/summary.json`; returns the file.
pub fn write_summary(dir: &Path, s: &Summary) -> PathBuf {
    let file = dir.join("summary.json");
    std::fs::write(&file, serde_json::to_vec_pretty(s).expect("encode")).expect("write");
    file
}

/// Asserts that a command exited with 0 (its stderr in the message if not) and returns its
/// stdout.
pub fn succeeded(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A folder removed when this is dropped: at the end of a test, or as a failed one unwinds
/// (a scratch crate's build is hundreds of MB, and CI's disk is not endless).
pub struct Removed(pub PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
