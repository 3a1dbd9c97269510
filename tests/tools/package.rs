//! What `cargo package -p taskmem` would publish: the library alone (its sources, build
//! script, README and license files), nothing of the suite, the peers, the tests or the docs.

use std::process::Command;

#[test]
fn the_published_package_holds_only_the_library() {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "package",
            "-p",
            "taskmem",
            "--list",
            "--allow-dirty",
            "--offline",
        ])
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo package --list failed: {stderr}"
    );
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    for needed in [
        "Cargo.toml",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "build.rs",
        "src/lib.rs",
        "src/tasks/mod.rs",
        "src/summary/mod.rs",
    ] {
        assert!(
            files.iter().any(|f| f == needed),
            "{needed} is not packaged: {files:?}"
        );
    }
    let allowed = |f: &str| {
        f.starts_with("src/")
            || [
                ".cargo_vcs_info.json",
                "Cargo.lock",
                "Cargo.toml",
                "Cargo.toml.orig",
                "README.md",
                "LICENSE-MIT",
                "LICENSE-APACHE",
                "build.rs",
            ]
            .contains(&f)
    };
    let extra: Vec<&String> = files.iter().filter(|f| !allowed(f)).collect();
    assert!(extra.is_empty(), "packaged beyond the library: {extra:?}");
    // The suite's modules are not in the library's sources.
    for suite in [
        "src/matrix.rs",
        "src/report/mod.rs",
        "src/cli.rs",
        "src/workload/mod.rs",
    ] {
        assert!(!files.iter().any(|f| f == suite), "{suite} is packaged");
    }
}
