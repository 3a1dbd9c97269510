//! Records, at build time, what a baseline needs to say where its numbers came from: the
//! rustc that compiled the suite and the locked versions of the crates it measures.

use std::process::Command;

/// The crates whose versions change what the suite measures.
const CRATES: [&str; 7] = [
    "tokio",
    "async-std",
    "smol",
    "futures",
    "criterion",
    "tikv-jemallocator",
    "tikv-jemalloc-sys",
];

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TASKMEM_RUSTC={version}");

    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut found = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if CRATES.contains(&n.as_str()) {
                found.push(format!("{n}={}", v.trim_matches('"')));
            }
        }
    }
    println!("cargo:rustc-env=TASKMEM_CRATES={}", found.join(","));
}
