//! The README's own-tasks example, as a new user runs it: a scratch crate outside the
//! repository depends on taskmem by path, takes the README's toml and rust blocks verbatim,
//! and runs its bench. A bytes-per-task figure must come out, the summary must hold the
//! cases, and the crate must build none of the parts it does not use (async-std, smol, clap,
//! plotters, dhat, mimalloc). A second bench in the same crate asks for smol, which its build
//! of taskmem lacks, and must get one line naming the feature.
//!
//! The crate builds into the same target directory as this test, with the test profile's
//! settings, so it reuses what `cargo test` built and compiles little more than taskmem's
//! lean build and the bench itself.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The first fenced block of `lang` (its info string starts with it) under `heading`.
fn block(readme: &str, heading: &str, lang: &str) -> String {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let open = section
        .find(&format!("```{lang}"))
        .unwrap_or_else(|| panic!("no ```{lang} block under {heading:?}"));
    let body = &section[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// The target directory this test binary was built in (`target/` or `$CARGO_TARGET_DIR`):
/// the directory above `debug/deps/`.
fn test_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary is in <target>/debug/deps")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> (bool, Option<i32>, String, String) {
    let out = cmd.output().expect("cargo runs");
    (
        out.status.success(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch_crate(repo: &Path) -> PathBuf {
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let heading = "## Measure your own tasks";
    let toml = block(&readme, heading, "toml");
    let rust = block(&readme, heading, "rust");
    // The library's folder of a checkout beside the user's crate.
    assert!(toml.contains("path = \"../taskmem/taskmem\""), "{toml}");
    assert!(rust.contains("criterion_main!"), "{rust}");

    let root = std::env::temp_dir().join(format!("taskmem-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(repo, root.join("taskmem")).unwrap();
    let krate = root.join("mybench");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::create_dir_all(krate.join("benches")).unwrap();
    std::fs::write(krate.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"mybench\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             {toml}\n[[bench]]\nname = \"not_compiled\"\nharness = false\n"
        ),
    )
    .unwrap();
    std::fs::write(krate.join("benches/tasks.rs"), rust).unwrap();
    std::fs::write(
        krate.join("benches/not_compiled.rs"),
        "taskmem::use_tracked_jemalloc!();\n\
         fn main() {\n\
             let tasks = taskmem::Tasks::new(taskmem::Runtime::Smol, taskmem::Strategy::Spawn, 10);\n\
             if let Err(e) = tasks.measure(|| std::future::pending::<()>()) {\n\
                 eprintln!(\"taskmem: {e}\");\n\
                 std::process::exit(1);\n\
             }\n\
         }\n",
    )
    .unwrap();
    // The repository's lock file: the same versions, no resolution against the registry.
    std::fs::copy(repo.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    krate
}

#[test]
fn the_readme_example_runs_in_a_crate_of_its_own() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let krate = scratch_crate(&repo);
    let _gone = super::common::Removed(krate.parent().unwrap().to_path_buf());
    // The bench is built into this test's own target directory with the repository's
    // profiles and `--profile test`, so the dependencies `cargo test` has just built
    // (jemalloc's C library above all, two minutes of build on 2 cores) are reused, not
    // built again optimized: the example's bytes do not depend on the optimization level,
    // only its times would. The build directory is set in the crate's `.cargo/config.toml`,
    // not in the environment, so the bench itself writes its results under the scratch crate
    // (`target/taskmem/`, `target/criterion/`), never into this repository's summary.
    let target = test_target_dir();
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let profiles = &manifest[manifest.find("[profile.").expect("Cargo.toml has profiles")..];
    std::fs::create_dir_all(krate.join(".cargo")).unwrap();
    std::fs::write(
        krate.join(".cargo/config.toml"),
        format!(
            "[build]\ntarget-dir = {:?}\n\n{profiles}",
            target.display().to_string()
        ),
    )
    .unwrap();
    let cargo = || {
        let mut c = Command::new(env!("CARGO"));
        c.current_dir(&krate)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            // Criterion would otherwise ask cargo for the build directory and write there.
            .env("CRITERION_HOME", krate.join("target").join("criterion"));
        c
    };

    let (ok, _, tree, err) = run(cargo().args(["tree", "-e", "normal,dev", "--prefix", "none"]));
    assert!(ok, "cargo tree failed: {err}");
    for heavy in [
        "async-std ",
        "smol ",
        "plotters ",
        "dhat ",
        "mimalloc ",
        "indicatif ",
        "toml ",
        "humantime ",
        "rayon ",
        "taskmem-suite ",
        "hyper ",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(heavy)),
            "the lean crate builds {heavy}"
        );
    }
    // The library package alone, from its own folder.
    assert!(
        tree.lines()
            .any(|l| l.starts_with("taskmem v") && l.trim_end().ends_with("/taskmem)")),
        "{tree}"
    );
    // Criterion itself needs clap and regex; taskmem adds neither.
    for (name, via) in [("clap", "criterion"), ("regex", "criterion")] {
        let (_, _, users, _) = run(cargo().args([
            "tree",
            "-i",
            name,
            "-e",
            "normal,dev",
            "--depth",
            "1",
            "--prefix",
            "none",
        ]));
        for user in users.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            assert!(
                user.starts_with(via) || user.starts_with(name),
                "{name} is built for {user}"
            );
        }
    }
    let crates: std::collections::BTreeSet<&str> =
        tree.lines().filter_map(|l| l.split(" v").next()).collect();
    println!("the lean crate depends on {} crates", crates.len());

    let (ok, _, out, err) = run(cargo().args(["bench", "--profile", "test", "--bench", "tasks"]));
    assert!(ok, "the README's bench failed:\n{out}\n{err}");
    // Criterion's throughput line in bytes per task, and taskmem's line after it.
    let thrpt = out
        .lines()
        .find(|l| l.contains("thrpt:") && l.contains("B/task"))
        .unwrap_or_else(|| panic!("no bytes-per-task line:\n{out}"));
    println!("{out}");
    println!("{thrpt}");
    assert!(out.contains("handler/tokio-mt/spawn/10000"), "{out}");
    assert!(out.contains("per task [resident"), "{out}");
    let summary = krate.join("target").join("taskmem").join("summary.json");
    let json = std::fs::read_to_string(&summary).expect("the summary is written");
    assert!(json.contains("\"handler/tokio-mt/spawn\""), "{json}");
    assert!(!err.contains("panicked"), "{err}");
    // Criterion's "Unable to complete 10 samples in 1.0ns" says only that a sample is one
    // run, as taskmem's settings make it: it is kept off stderr.
    assert!(!err.contains("Unable to complete"), "{err}");

    // The bill of one task, as the README's "What one task holds" runs it (the layouts in
    // the test profile, which this crate was just built in).
    let text = bill(&krate, "tasks");
    assert!(text.contains("RUSTC_BOOTSTRAP=1"), "{text}");
    // The handler's state machine: the 2 KiB buffer's Vec (24 B) held across its one await,
    // on tokio's Sleep, and tokio's cell around the future.
    assert!(text.contains("{async fn body of handler()}"), "{text}");
    let fattest = text
        .lines()
        .find(|l| l.contains("<- fattest"))
        .unwrap_or_else(|| panic!("no fattest state: {text}"));
    assert!(
        fattest.contains("Suspend0") && fattest.contains("request 24 B"),
        "{fattest}"
    );
    assert!(fattest.contains("awaiting Sleep"), "{fattest}");
    let figure = |key: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no line with {key:?}: {text}"));
        line.split_whitespace()
            .find_map(|w| w.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no figure in {line:?}"))
    };
    // By allocation site: the handler's 2048 B buffer at its own line of the bench, tokio's
    // 256 B cell, and what the parts leave unexplained within 1 % of the measured figure.
    let rust = block(
        &std::fs::read_to_string(repo.join("README.md")).unwrap(),
        "## Measure your own tasks",
        "rust",
    );
    let line = rust
        .lines()
        .position(|l| l.contains("vec![0u8; 2048]"))
        .expect("the README's handler allocates its buffer")
        + 1;
    let buffer = figure(&format!("your code at benches/tasks.rs:{line} "));
    assert_eq!(buffer, 2048.0, "{text}");
    assert_eq!(
        figure("tokio: the task cell: the future 144 B"),
        256.0,
        "{text}"
    );
    parts_add_up(&text);
    // The same bill kept in the summary, part by part with its owner, and drawn by the
    // report as a stacked bar whose parts carry their names.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let pair = json["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "handler/tokio-mt/spawn")
        .expect("the pair is in the summary");
    let parts = pair["bill"]["parts"].as_array().expect("the pair's bill");
    let yours = parts
        .iter()
        .find(|p| p["whose"] == "yours")
        .unwrap_or_else(|| panic!("{parts:?}"));
    assert_eq!(yours["bytes"].as_f64(), Some(2048.0), "{yours}");
    let sum: f64 = parts.iter().map(|p| p["bytes"].as_f64().unwrap()).sum();
    let allocated = pair["bill"]["allocated"].as_f64().unwrap();
    assert!((sum - allocated).abs() < 0.5, "{sum} vs {allocated}");
    let page = krate.join("target/bill-report.html");
    let report = Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .arg("report")
        .arg("--summary")
        .arg(&summary)
        .arg("--out")
        .arg(&page)
        .output()
        .expect("taskmem runs");
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let drawn = format!("class=\"part\" data-name=\"your code at benches/tasks.rs:{line} ",);
    assert!(html.contains(&drawn), "no part {drawn:?} in the report");

    // Beyond the README's example: a future past tokio's box threshold, and three
    // realistic tasks (a session holding a map and a name, a ticker on tokio's Interval, an
    // actor's mailbox), each billed by site with the parts adding up to the figure.
    std::fs::write(krate.join("benches/more.rs"), MORE).unwrap();
    let mut toml = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    toml.push_str("\n[[bench]]\nname = \"more\"\nharness = false\n");
    std::fs::write(krate.join("Cargo.toml"), toml).unwrap();
    let text = bill(&krate, "more");
    assert_eq!(text.matches("\nbill of ").count(), 6, "{text}");
    assert!(
        !text.contains("bill of handler/"),
        "another bench's pair: {text}"
    );
    parts_add_up(&text);
    let big = text
        .lines()
        .find(|l| l.contains("tokio: the future ({async fn body of big()}), boxed"))
        .unwrap_or_else(|| panic!("no boxed future: {text}"));
    assert!(big.trim_start().starts_with("17120 B"), "{big}");
    assert!(
        text.contains("tokio: the task cell around the boxed future (128 B"),
        "{text}"
    );
    let map_line = MORE
        .lines()
        .position(|l| l.contains("headers.insert"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("your code at benches/more.rs:{map_line} ")),
        "{text}"
    );
    assert!(
        text.contains(
            "tokio: the Interval's boxed Sleep [tokio::time::interval::internal_interval_at]"
        ),
        "{text}"
    );
    assert!(text.contains("tokio: the mpsc channel"), "{text}");
    assert!(text.contains("src/sync/mpsc/"), "{text}");
    worked_example(&text);
    // A runtime this build of taskmem lacks: one line naming the feature, exit code 1.
    let (ok, code, _, err) =
        run(cargo().args(["bench", "--profile", "test", "--bench", "not_compiled"]));
    assert!(!ok && code == Some(1), "exit {code:?}: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("taskmem: "))
        .unwrap_or_else(|| panic!("no taskmem line: {err}"));
    assert_eq!(
        line,
        "taskmem: the smol runtime is not compiled into taskmem: enable its cargo feature (features = [\"smol\"])"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The library's own README (its crate page and its docs) shows the same example as the
/// repository's, byte for byte: one example, written twice on purpose, checked here.
#[test]
fn the_library_readme_shows_the_same_example() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let lib = std::fs::read_to_string(repo.join("taskmem/README.md")).unwrap();
    let example = block(&root, "## Measure your own tasks", "rust");
    assert!(
        lib.contains(&example),
        "taskmem/README.md lacks the README's example"
    );
    let toml = block(&root, "## Measure your own tasks", "toml");
    assert!(
        lib.contains(&toml),
        "taskmem/README.md lacks the README's toml"
    );
}

/// `taskmem bill --bench BENCH` in the scratch crate, the layouts in the test profile (which
/// the crate was built in): what it printed, once it succeeded.
fn bill(krate: &Path, bench: &str) -> String {
    let bill = Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .current_dir(krate)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .args(["bill", "--bench", bench, "--profile", "test"])
        .output()
        .expect("taskmem runs");
    let text = String::from_utf8_lossy(&bill.stdout).into_owned();
    let err = String::from_utf8_lossy(&bill.stderr);
    println!("{text}");
    assert!(bill.status.success(), "taskmem bill failed: {err}\n{text}");
    text
}

/// Every bill in `text` explains its measured figure: what no site explains is within 1 % of
/// the exact allocated bytes per task.
fn parts_add_up(text: &str) {
    let mut allocated = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("bill of ") {
            let bytes = rest.split(": ").nth(1).and_then(|r| r.split(' ').next());
            allocated = bytes.and_then(|b| b.parse::<f64>().ok());
            assert!(allocated.is_some(), "{line}");
        }
        if line.contains("B  ") && line.contains("the rest: no site explains it") {
            let rest: f64 = line.split_whitespace().next().unwrap().parse().unwrap();
            let all = allocated.expect("a rest after its bill's line");
            assert!(
                rest.abs() <= 0.01 * all,
                "{rest} B of {all} B unexplained: {text}"
            );
        }
    }
    assert!(
        text.contains("the rest: no site explains it"),
        "no bill by site: {text}"
    );
}

/// The docs' worked example, measured: `fat`'s bill advises dropping its buffer before the
/// await, with the future's size without it; `lean`, the task so changed, has that size, and
/// the measured bytes per task fall by what tokio's cell around the future sheds.
fn worked_example(text: &str) {
    let bill = |pair: &str| -> &str {
        let start = text
            .find(&format!("bill of more/{pair}: "))
            .unwrap_or_else(|| panic!("no bill of {pair}: {text}"));
        let rest = &text[start..];
        &rest[..rest[1..].find("\nbill of ").map_or(rest.len(), |e| e + 1)]
    };
    let first_number = |line: &str, after: &str| -> u64 {
        let at = line
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} in {line}"))
            + after.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (fat, lean) = (bill("fat"), bill("lean"));
    let allocated = |b: &str| first_number(b, ": ");
    let cell = |b: &str| {
        let line = b
            .lines()
            .find(|l| l.contains("tokio: the task cell: the future"))
            .unwrap_or_else(|| panic!("no cell: {b}"));
        first_number(line, "trailer and padding; ")
    };
    let advice = fat
        .lines()
        .find(|l| l.contains("change: `buffer` (1000 B)"))
        .unwrap_or_else(|| panic!("no advice on the buffer: {fat}"));
    let promised = first_number(advice, "the future is ");
    let lean_size = first_number(lean, "{async fn body of lean()}: ");
    assert_eq!(lean_size, promised, "{advice}\n{lean}");
    let saved = allocated(fat) - allocated(lean);
    assert_eq!(saved, cell(fat) - cell(lean), "{fat}\n{lean}");
    assert!(saved >= 896, "{fat}\n{lean}");
    println!(
        "worked example: fat {} B per task (cell {} B), lean {} B per task (cell {} B, future \
         {lean_size} B as advised): {saved} B less per task",
        allocated(fat),
        cell(fat),
        allocated(lean),
        cell(lean)
    );
}

/// The bench of the bill's further checks (`benches/more.rs` in the scratch crate).
const MORE: &str = r#"//! The bill's checks beyond the README's example. Run with: taskmem bill --bench more
use std::collections::HashMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use taskmem::{Memory, Runtime, Strategy, Tasks};

taskmem::use_tracked_jemalloc!();

/// 17,000 bytes held across the await: past tokio's box threshold (16 KiB; 2 KiB in a debug
/// build), so tokio boxes the future before it makes the task.
async fn big() {
    let frame = [7u8; 17_000];
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box(&frame);
}

/// A session: eight headers in a map and a name, held across the await.
async fn session(id: u64) {
    let mut headers = HashMap::new();
    for i in 0..8u64 {
        headers.insert(format!("x-header-{i}"), i * id);
    }
    let name = format!("session-{id}");
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box((&headers, &name));
}

/// The docs' worked example, before: a 1000-byte buffer held across the await.
async fn fat() {
    let buffer = [7u8; 1000];
    let sum: u64 = buffer.iter().map(|&b| b as u64).sum();
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box((&buffer, sum));
}

/// After, as its bill advises: the buffer dropped before the await, its sum kept.
async fn lean() {
    let sum: u64 = {
        let buffer = [7u8; 1000];
        buffer.iter().map(|&b| b as u64).sum()
    };
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box(sum);
}

/// A ticker: tokio's `Interval`, which keeps its `Sleep` in a box.
async fn ticker() {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.tick().await;
    interval.tick().await;
}

fn bench(c: &mut Criterion<Memory>) {
    let mut group = taskmem::group(c, "more");
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 1_000);
    for n in [1_000, 4_000] {
        let tasks = tasks.with_n(n);
        group.tasks_named("big", &tasks, big);
        group.tasks_named("session", &tasks, || session(7));
        group.tasks_named("ticker", &tasks, ticker);
        group.tasks_named("fat", &tasks, fat);
        group.tasks_named("lean", &tasks, lean);
        // An actor: its mailbox's receiver; the senders are kept outside the tasks.
        group.tasks_with(
            &tasks,
            || Vec::with_capacity(n),
            |senders| {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
                senders.push(tx);
                async move { while let Some(m) = rx.recv().await { drop(m) } }
            },
        );
    }
}

criterion_group!(name = benches; config = taskmem::criterion(); targets = bench);
criterion_main!(benches);
"#;
