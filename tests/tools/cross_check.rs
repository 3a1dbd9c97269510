//! The bill's figures against tokio's own instrumentation: with `--cfg tokio_unstable` and
//! tokio's `tracing` feature, every spawn opens a `runtime.spawn` span whose `size.bytes` is
//! the size of the future tokio stores, and `original_size.bytes` the future's own when tokio
//! boxed it (past its threshold: 16 KiB, 2 KiB in a build with debug assertions, as this one
//! is). A program of its own (tokio rebuilt with that cfg, in a crate of its own) spawns N
//! tasks through taskmem and checks that taskmem's size of the future is tokio's, and, for a
//! future tokio boxes, that the allocation sites taskmem records hold the box: one block of
//! the future's size per task.
//!
//! And the sites against dhat's: a second program of the crate runs the same task under
//! dhat's allocator (`src/bin/dhat.rs`), and its profile's program points at the peak (dhat's
//! t-gmax, checked to be within 1 % of the tasks' peak) are put beside taskmem's sites, named by the
//! suite's own `bill::sites`: the task's line of code and tokio's task cell, in bytes per
//! task, agree to the byte.
//!
//! Ignored by `cargo test` (it builds tokio and taskmem again, about a minute); `.ci/run` runs
//! it: `cargo test --test tools cross_check -- --ignored`.

use std::path::PathBuf;
use std::process::Command;

/// The program: a subscriber that keeps the sizes of every `runtime.spawn` span (in atomics:
/// nothing allocated while the tasks are measured), two futures, and what it finds.
const MAIN: &str = r#"
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use taskmem::{Runtime, Strategy, Tasks};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

taskmem::use_tracked_jemalloc!();

/// Each span's (size.bytes, original_size.bytes), the first `SLOTS` of a check.
const SLOTS: usize = 4096;
static SPANS: AtomicU64 = AtomicU64::new(0);
static SIZES: [(AtomicU64, AtomicU64); SLOTS] =
    [const { (AtomicU64::new(0), AtomicU64::new(0)) }; SLOTS];

struct Sizes(Option<u64>, Option<u64>);

impl Visit for Sizes {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "size.bytes" => self.0 = Some(value),
            "original_size.bytes" => self.1 = Some(value),
            _ => {}
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value as u64);
    }
    fn record_debug(&mut self, _: &Field, _: &dyn Debug) {}
}

struct Spawns;

impl Subscriber for Spawns {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.name() == "runtime.spawn"
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut sizes = Sizes(None, None);
        span.record(&mut sizes);
        if let Some(size) = sizes.0 {
            let i = SPANS.fetch_add(1, Relaxed) as usize;
            if let Some((s, o)) = SIZES.get(i) {
                s.store(size, Relaxed);
                o.store(sizes.1.unwrap_or(0), Relaxed);
            }
        }
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

async fn handler() {
    let request = vec![0u8; 2048];
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box(&request);
}

async fn big() {
    let buffer = [7u8; 17_000];
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box(&buffer);
}

const N: u64 = 100;

fn check<F: std::future::Future<Output = ()> + Send + 'static>(name: &str, make: fn() -> F) {
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, N as usize);
    SPANS.store(0, Relaxed);
    tasks.measure(make).unwrap_or_else(|e| panic!("{e}"));
    let ours = tasks.future_size().expect("taskmem knows the future's size");
    let spans = (SPANS.load(Relaxed) as usize).min(SLOTS);
    // How many spans had each (size.bytes, original_size.bytes): the run's N tasks, and
    // what else was spawned (taskmem's and the runtime's own).
    let mut seen = std::collections::BTreeMap::new();
    for (s, o) in &SIZES[..spans] {
        *seen.entry((s.load(Relaxed), o.load(Relaxed))).or_insert(0u64) += 1;
    }
    let (&(size, original), &count) = seen.iter().max_by_key(|(_, c)| **c).unwrap();
    println!(
        "{name}: taskmem future_size {ours} B; tokio runtime.spawn spans, most often: \
         {count} with size.bytes {size} and original_size.bytes {original} (all: {seen:?})"
    );
    let sites = tasks.sites(make).unwrap_or_else(|e| panic!("{e}"));
    // Blocks by size, over the sites whose blocks are all of one size (one line reached
    // through two call stacks is two sites here, as tokio's workers poll from two places).
    let mut by_size = std::collections::BTreeMap::new();
    for s in sites.iter().filter(|s| s.blocks > 0 && s.bytes % s.blocks == 0) {
        *by_size.entry(s.bytes / s.blocks).or_insert(0u64) += s.blocks;
    }
    let blocks: Vec<(u64, u64)> = by_size.into_iter().filter(|(_, b)| *b >= N).collect();
    println!("{name}: sites with a block per task (size, blocks): {blocks:?}");
}

fn main() {
    tracing::subscriber::set_global_default(Spawns).expect("the only subscriber");
    check("handler", handler);
    check("big", big);
    // The handler's sites as recorded, for the test to name and to put beside dhat's.
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, N as usize);
    for s in tasks.sites(handler).unwrap_or_else(|e| panic!("{e}")) {
        let frames: Vec<String> = s.frames.iter().map(|a| format!("{a:x}")).collect();
        println!("site {} {} {} {}", s.blocks, s.bytes, s.usable, frames.join(","));
    }
}
"#;

/// The same handler under dhat: one unprofiled run, then one profiled, with dhat's live
/// heap read at the peak (to check that the profile's t-gmax is that peak).
const DHAT: &str = r#"
use std::time::Duration;

use taskmem::{Runtime, Strategy, Tasks};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

async fn handler() {
    let request = vec![0u8; 2048];
    tokio::time::sleep(Duration::from_secs(10)).await;
    std::hint::black_box(&request);
}

fn main() {
    let tasks = Tasks::new(Runtime::TokioMultiThread, Strategy::Spawn, 100);
    tasks.run(handler, &mut || {}).unwrap_or_else(|e| panic!("{e}"));
    let profiler = dhat::Profiler::builder().file_name("dhat-heap.json").build();
    let mut at_peak = 0;
    tasks
        .run(handler, &mut || at_peak = dhat::HeapStats::get().curr_bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    let max = dhat::HeapStats::get().max_bytes;
    drop(profiler);
    println!("dhat: live at the peak {at_peak} B, t-gmax {max} B");
}
"#;

/// The line of `handler`'s buffer in both programs' source.
fn buffer_line(source: &str) -> usize {
    source
        .lines()
        .position(|l| l.contains("vec![0u8; 2048]"))
        .expect("the handler's buffer")
        + 1
}

#[test]
#[ignore = "builds tokio with --cfg tokio_unstable in a crate of its own (about a minute); .ci/run runs it"]
fn taskmems_future_size_is_tokios_and_a_boxed_future_is_a_site_of_its_own() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::temp_dir().join(format!("taskmem-cross-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // Its build is 600 MB: gone when the test ends, failed or not.
    let _gone = super::common::Removed(root.clone());
    std::os::unix::fs::symlink(&repo, root.join("taskmem")).unwrap();
    let krate = root.join("cross");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"cross\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\ntaskmem = { path = \"../taskmem/taskmem\" }\n\
         tokio = { version = \"1\", features = [\"rt-multi-thread\", \"time\", \"tracing\"] }\n\
         tracing = \"0.1\"\ndhat = \"0.3\"\n",
    )
    .unwrap();
    std::fs::write(krate.join("src/main.rs"), MAIN).unwrap();
    std::fs::create_dir_all(krate.join("src/bin")).unwrap();
    std::fs::write(krate.join("src/bin/dhat.rs"), DHAT).unwrap();
    // The repository's versions where it has them (tracing is added to them).
    std::fs::copy(repo.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    // One of the crate's programs, built with tokio's unstable cfg.
    let run = |bin: &str| {
        Command::new(env!("CARGO"))
            .current_dir(&krate)
            .env_remove("CARGO_TARGET_DIR")
            .env("RUSTFLAGS", "--cfg tokio_unstable")
            .args(["run", "--quiet", "--bin", bin])
            .output()
            .expect("cargo runs")
    };
    let out = run("cross");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let shown: Vec<&str> = text.lines().filter(|l| !l.starts_with("site ")).collect();
    println!("{}", shown.join("\n"));
    assert!(
        out.status.success(),
        "the cross-check failed:\n{err}\n{text}"
    );
    let dhat = run("dhat");
    let dhat_text = String::from_utf8_lossy(&dhat.stdout).into_owned();
    assert!(
        dhat.status.success(),
        "the dhat program failed:\n{}",
        String::from_utf8_lossy(&dhat.stderr)
    );
    println!("{dhat_text}");
    let profile = std::fs::read_to_string(krate.join("dhat-heap.json")).expect("dhat's profile");
    sites_against_dhat(&krate, &text, &dhat_text, &profile);
    let figures = |name: &str| -> Vec<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}: taskmem")))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"));
        line.split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .map(|w| w.parse().unwrap())
            .collect()
    };
    // handler: taskmem's size is the size tokio names for the tasks of each run (a multiple
    // of N spans: the measured run and its warm-up), and no box.
    let [ours, count, size, original, ..] = figures("handler")[..] else {
        panic!("{text}")
    };
    assert!(count >= 100 && count % 100 == 0, "{text}");
    assert_eq!((size, original), (ours, 0), "{text}");
    // big: tokio boxed it (the box pointer is what it stores) and names the future's own size
    // as its original size: taskmem's.
    let [ours, count, size, original, ..] = figures("big")[..] else {
        panic!("{text}")
    };
    assert!(count >= 100 && count % 100 == 0, "{text}");
    assert!(ours > 17_000, "{text}");
    assert_eq!(original, ours, "{text}");
    assert!(size < 64, "{text}");
    // The box is a site of its own: one block of the future's size per task (and the
    // handler's 2 KiB buffer, one per task).
    let buffer = text
        .lines()
        .find(|l| l.starts_with("handler: sites"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(buffer.contains("(2048, 100)"), "{buffer}");
    let boxed = format!("({ours}, 100)");
    let sites = text
        .lines()
        .find(|l| l.starts_with("big: sites"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(sites.contains(&boxed), "no site {boxed}: {sites}");
}

/// taskmem's sites of the handler (named as `taskmem bill` names them) beside dhat's program
/// points at t-gmax, per task: the handler's buffer at its line, and tokio's task cell.
fn sites_against_dhat(krate: &std::path::Path, text: &str, dhat_text: &str, profile: &str) {
    use taskmem::sites::Site;
    use taskmem_suite::bill::sites::{Owner, SiteShare, shares};
    const N: f64 = 100.0;
    // dhat's t-gmax is the tasks' peak: the live heap there is dhat's maximum.
    let figures: Vec<u64> = dhat_text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(figures.len(), 2, "{dhat_text}");
    let (peak, gmax) = (figures[0] as f64, figures[1] as f64);
    assert!(
        gmax >= peak && gmax - peak <= 0.01 * peak,
        "dhat's t-gmax is not the tasks' peak: {dhat_text}"
    );
    // taskmem's sites, named from the executable.
    let sites: Vec<Site> = text
        .lines()
        .filter_map(|l| l.strip_prefix("site "))
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            Site {
                blocks: w[0].parse().unwrap(),
                bytes: w[1].parse().unwrap(),
                usable: w[2].parse().unwrap(),
                frames: w[3]
                    .split(',')
                    .map(|a| u64::from_str_radix(a, 16).unwrap())
                    .collect(),
            }
        })
        .collect();
    assert!(!sites.is_empty(), "no sites: {text}");
    let exe = krate.join("target/debug/cross");
    let addresses = taskmem_suite::bill::sites::addresses(&sites);
    let frames = taskmem_suite::symbols::resolve(&exe, &addresses).expect("addr2line names them");
    let root = krate.to_string_lossy().into_owned();
    let ours = shares(&[(100, &sites)], &frames, Some(&root));
    let line = buffer_line(MAIN);
    let mine = |pred: &dyn Fn(&SiteShare) -> bool| -> f64 {
        ours.iter().filter(|s| pred(s)).map(|s| s.bytes).sum()
    };
    let at = format!("src/main.rs:{line}");
    let buffer = mine(&|s| s.owner == Owner::Yours && s.site.as_deref() == Some(at.as_str()));
    let cell = mine(&|s| {
        s.owner == Owner::Runtime("tokio".into())
            && s.site
                .as_deref()
                .is_some_and(|f| f.contains("/src/runtime/task/core.rs:"))
    });
    // dhat's program points: bytes at t-gmax of those whose stack holds the line, or
    // tokio's Cell::new, of ten blocks or more (the profile starts before the run, so a cell
    // of the runtime's own, one block, is in it; taskmem's recording starts with the tasks).
    let json: serde_json::Value = serde_json::from_str(profile).expect("dhat's JSON");
    let ftbl: Vec<&str> = json["ftbl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let theirs = |pred: &dyn Fn(&str) -> bool| -> f64 {
        json["pps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|pp| pp["gbk"].as_u64().unwrap_or(0) >= 10)
            .filter(|pp| {
                pp["fs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| pred(ftbl[f.as_u64().unwrap() as usize]))
            })
            .map(|pp| pp["gb"].as_f64().unwrap())
            .sum::<f64>()
            / N
    };
    let dhat_line = buffer_line(DHAT);
    let dhat_buffer = theirs(&|f| f.contains(&format!("src/bin/dhat.rs:{dhat_line}:")));
    let dhat_cell = theirs(&|f| f.contains("tokio::runtime::task::core::Cell<T,S>::new"));
    println!(
        "sites per task, taskmem against dhat: the handler's buffer {buffer} B against \
         {dhat_buffer} B; tokio's task cell {cell} B against {dhat_cell} B"
    );
    assert_eq!(buffer, 2048.0, "{ours:?}");
    assert_eq!(buffer, dhat_buffer);
    assert!(cell >= 128.0, "{ours:?}");
    assert_eq!(cell, dhat_cell);
}
