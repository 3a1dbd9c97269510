//! Where a set of numbers came from: the machine, the compiler, the measured crates' versions
//! and the git revision. Summaries and baselines both carry it, and a comparison warns when
//! two differ.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::probe::os;

/// The machine, build and source a run came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Logical CPUs.
    pub cores: usize,
    /// Total memory in bytes (`MemTotal`).
    pub memory_bytes: u64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version` of the compiler that built the suite.
    pub rustc: String,
    /// Locked versions of the crates whose versions move what is measured (tokio,
    /// async-std, smol, futures, criterion, tikv-jemallocator, tikv-jemalloc-sys), from the
    /// `Cargo.lock` of the bench's workspace (the nearest one above the directory the bench
    /// runs in, as cargo runs benches from their package's root).
    pub crates: BTreeMap<String, String>,
    /// `git rev-parse HEAD` of the working tree, where there is one.
    pub git_revision: Option<String>,
    /// taskmem's version.
    pub taskmem: String,
}

impl Provenance {
    /// This machine and build. Read once per process (it runs `git rev-parse` and reads the
    /// lock file) and the same after: a summary is merged and written once per case.
    pub fn current() -> Provenance {
        static CURRENT: std::sync::OnceLock<Provenance> = std::sync::OnceLock::new();
        CURRENT.get_or_init(Provenance::read).clone()
    }

    fn read() -> Provenance {
        let git_revision = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string());
        Provenance {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: os::mem_total_bytes().unwrap_or(0),
            kernel: os::kernel_release().unwrap_or_else(|_| std::env::consts::OS.to_string()),
            rustc: env!("TASKMEM_RUSTC").to_string(),
            crates: std::env::current_dir()
                .ok()
                .and_then(|dir| locked_versions(&dir))
                .unwrap_or_default(),
            git_revision,
            taskmem: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// What differs between two provenances in a way that moves memory figures (machine
    /// size, kernel, compiler, crate versions), one phrase each; empty when comparable.
    pub fn differences(&self, other: &Provenance) -> Vec<String> {
        let mut out = Vec::new();
        let mut diff = |what: &str, a: &str, b: &str| {
            if a != b {
                out.push(format!("{what} {a} vs {b}"));
            }
        };
        diff("cores", &self.cores.to_string(), &other.cores.to_string());
        diff(
            "memory",
            &format!("{} MiB", self.memory_bytes >> 20),
            &format!("{} MiB", other.memory_bytes >> 20),
        );
        diff("kernel", &self.kernel, &other.kernel);
        diff("rustc", &self.rustc, &other.rustc);
        let names: std::collections::BTreeSet<&String> =
            self.crates.keys().chain(other.crates.keys()).collect();
        for name in names {
            let none = String::from("absent");
            diff(
                name,
                self.crates.get(name).unwrap_or(&none),
                other.crates.get(name).unwrap_or(&none),
            );
        }
        out
    }
}

/// The crates whose locked versions a [`Provenance`] records.
const CRATES: [&str; 7] = [
    "tokio",
    "async-std",
    "smol",
    "futures",
    "criterion",
    "tikv-jemallocator",
    "tikv-jemalloc-sys",
];

/// The locked versions of [`CRATES`] in the nearest `Cargo.lock` at or above `dir`.
fn locked_versions(dir: &std::path::Path) -> Option<BTreeMap<String, String>> {
    let lock = dir
        .ancestors()
        .find_map(|d| std::fs::read_to_string(d.join("Cargo.lock")).ok())?;
    Some(parse_lock(&lock))
}

/// The versions of [`CRATES`] in a `Cargo.lock`'s text.
fn parse_lock(lock: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if CRATES.contains(&n.as_str()) {
                found.insert(n, v.trim_matches('"').to_string());
            }
        }
    }
    found
}
