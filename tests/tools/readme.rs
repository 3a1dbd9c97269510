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
    let bill = Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .current_dir(&krate)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .args(["bill", "--bench", "tasks", "--profile", "test", "--no-run"])
        .output()
        .expect("taskmem runs");
    let text = String::from_utf8_lossy(&bill.stdout);
    let err = String::from_utf8_lossy(&bill.stderr);
    println!("{text}");
    assert!(bill.status.success(), "taskmem bill failed: {err}\n{text}");
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
    assert!(
        text.contains("tokio's task cell around it") && text.contains("256 B in all"),
        "{text}"
    );
    // What is left beyond the future, the cell and the handle is the buffer the handler
    // allocated, 2048 B, within 1 % of the measured figure.
    let figure = |key: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no line with {key:?}: {text}"));
        line.split_whitespace()
            .find_map(|w| w.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no figure in {line:?}"))
    };
    let allocated = text
        .lines()
        .find(|l| l.starts_with("bill of handler/tokio-mt/spawn"))
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|b| b.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no bill line: {text}"));
    let rest = figure("the rest:");
    assert!(
        (rest - 2048.0).abs() <= 0.01 * allocated,
        "the rest is {rest} B of {allocated} B, not the planted 2048 B"
    );

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
    let _ = std::fs::remove_dir_all(krate.parent().unwrap());
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
