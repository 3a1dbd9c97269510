//! The compiler's type layouts of a bench target, and the executable the bill runs
//! ([`crate::bill`]): `cargo rustc --profile bench --bench NAME -- -Zprint-type-sizes`, with
//! cargo's JSON messages for the executable's path. Other lines of the output (a build
//! script's, a `println!` at compile time) are left to the reader, which keeps only the
//! layout lines.
//!
//! `-Zprint-type-sizes` is unstable: it needs a nightly compiler, or the stable one with
//! `RUSTC_BOOTSTRAP=1`, which this sets for the workspace's own crates alone (and says so).
//! Set in cargo's environment, `RUSTC_BOOTSTRAP` would change the fingerprint of every crate
//! whose build script watches it (13 in the README's example, 57 s of build, and as much
//! again for the next `cargo bench`); instead the `taskmem` binary itself is cargo's
//! `RUSTC_WORKSPACE_WRAPPER` ([`as_rustc_wrapper`]), which runs rustc with it for the
//! workspace's members only, and with line tables where the profile has no debug
//! information, so that the allocation sites of the run can be named down to the line.
//! Those crates are compiled again; the next `cargo bench` compiles them again without. The
//! layout of a type does not depend on either. The workspace's libraries are compiled with
//! `-Zprint-type-sizes` too, their layouts kept beside their artifacts
//! (`<crate><hash>.layouts.txt`, read back for fresh ones): a future a library instantiates
//! itself (the suite's workloads, reached through its `Driver`) is laid out there, not in the
//! bench target.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set for [`as_rustc_wrapper`]: this process is cargo's rustc wrapper.
const WRAPPER: &str = "TASKMEM_AS_RUSTC_WRAPPER";

/// When this process was started by cargo as the workspace's rustc wrapper (by
/// [`of_bench`]): runs the rustc it was given, with its arguments, `RUSTC_BOOTSTRAP=1`, and
/// line tables when the profile gives no debug information (`-C debuginfo=line-tables-only
/// -C strip=none`: the file and line of each allocation site, inlined calls included; the
/// code is the same), and returns its exit code. `None` otherwise.
pub fn as_rustc_wrapper() -> Option<i32> {
    std::env::var_os(WRAPPER)?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let args: Vec<_> = args.collect();
    let mut cmd = Command::new(rustc);
    cmd.args(&args);
    // Cargo passes `-C strip=debuginfo` where the profile has no debug information: line
    // tables need it off. A later `-C` of the same name wins.
    let debuginfo = args.iter().any(|a| {
        let a = a.to_string_lossy();
        a.contains("debuginfo=") && !a.ends_with("debuginfo=0")
    });
    if !debuginfo {
        cmd.args(["-C", "debuginfo=line-tables-only", "-C", "strip=none"]);
    }
    // A library of the workspace: its layouts too (the futures it instantiates itself, such
    // as the suite's workloads), kept beside its artifact.
    let layouts = lib_layouts_file(&args);
    let tmp = layouts.as_ref().map(|f| f.with_extension("txt.tmp"));
    if let Some(tmp) = &tmp {
        match std::fs::File::create(tmp) {
            Ok(file) => {
                cmd.arg("-Zprint-type-sizes").stdout(file);
            }
            Err(e) => eprintln!(
                "taskmem: as rustc wrapper: cannot write {}: {e}",
                tmp.display()
            ),
        }
    }
    let status = cmd.env("RUSTC_BOOTSTRAP", "1").env_remove(WRAPPER).status();
    if let (Some(tmp), Some(file)) = (&tmp, &layouts) {
        if status.as_ref().is_ok_and(|s| s.success()) {
            let _ = std::fs::rename(tmp, file);
        } else {
            let _ = std::fs::remove_file(tmp);
        }
    }
    Some(match status {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("taskmem: as rustc wrapper: cannot run rustc: {e}");
            1
        }
    })
}

/// Where a library's layouts go, for rustc arguments that compile a library without
/// `-Zprint-type-sizes` of their own: `<out-dir>/<crate-name><extra-filename>.layouts.txt`,
/// beside its `.rlib` (see [`lib_layouts_of`]). `None` for any other compilation.
fn lib_layouts_file(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if value("--crate-type").as_deref() != Some("lib")
        || args.iter().any(|a| a.contains("print-type-sizes"))
    {
        return None;
    }
    let extra = args
        .iter()
        .find_map(|a| a.strip_prefix("extra-filename="))
        .unwrap_or("");
    Some(
        PathBuf::from(value("--out-dir")?)
            .join(format!("{}{extra}.layouts.txt", value("--crate-name")?)),
    )
}

/// The layouts the wrapper kept for a library artifact (its `.rlib`, from cargo's
/// `compiler-artifact` message), when it compiled it.
fn lib_layouts_of(rlib: &Path) -> Option<String> {
    let stem = rlib.file_stem()?.to_str()?.strip_prefix("lib")?;
    std::fs::read_to_string(rlib.with_file_name(format!("{stem}.layouts.txt"))).ok()
}

/// The cargo that runs this (`$CARGO` under cargo), or the one on the `PATH`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// What [`of_bench`] says before it compiles, once.
pub const NOTICE: &str = "taskmem bill: the futures' layouts come from rustc's \
    -Zprint-type-sizes, an unstable flag, used here with RUSTC_BOOTSTRAP=1 on this compiler \
    for the crates of the bench's workspace alone";

/// What [`of_bench`] compiled.
#[derive(Debug, Clone)]
pub struct Build {
    /// rustc's `-Zprint-type-sizes` output, as text.
    pub layouts: String,
    /// The bench executable it linked, with line tables for the workspace's crates.
    pub executable: Option<PathBuf>,
    /// The folder of the bench's package (where `cargo bench` runs it).
    pub package_dir: Option<PathBuf>,
}

/// Compiles the bench target `bench` of the package at `manifest` (the current one when
/// `None`) in cargo profile `profile` (`bench`, as `cargo bench` compiles it) with rustc's
/// `-Zprint-type-sizes`, with the cargo `features` given (a bench that requires some), and
/// returns the layouts and the executable.
pub fn of_bench(
    manifest: Option<&Path>,
    bench: &str,
    profile: &str,
    features: Option<&str>,
) -> Result<Build, String> {
    let mut cmd = Command::new(cargo());
    cmd.args(["rustc", "--profile", profile, "--bench", bench]);
    if let Some(f) = features {
        cmd.args(["--features", f]);
    }
    cmd.arg("--message-format=json-render-diagnostics");
    if let Some(m) = manifest {
        cmd.arg("--manifest-path").arg(m);
    }
    // A value of its own each time, so that cargo compiles the target again (it would find
    // it fresh, and print nothing, when the flags were the same as last time).
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    cmd.args(["--", "-Zprint-type-sizes", "--cfg"])
        .arg(format!("taskmem_bill=\"{nonce}\""));
    match std::env::current_exe() {
        Ok(me) => {
            cmd.env("RUSTC_WORKSPACE_WRAPPER", me).env(WRAPPER, "1");
        }
        Err(_) => {
            cmd.env("RUSTC_BOOTSTRAP", "1");
        }
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or_else(|| err.lines().last().unwrap_or(""));
        return Err(format!(
            "cargo rustc --bench {bench} -Zprint-type-sizes failed: {first}"
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !text.contains("print-type-size type:") {
        return Err(format!(
            "rustc printed no type layouts for the bench {bench} (a compiler without \
             -Zprint-type-sizes?)"
        ));
    }
    let artifacts: Vec<serde_json::Value> = artifacts(&text).collect();
    let (executable, package_dir) = bench_artifact(&artifacts, bench);
    // The workspace's libraries' layouts, kept beside their artifacts (fresh ones too).
    let mut text = text;
    for rlib in rlibs(&artifacts) {
        if let Some(more) = lib_layouts_of(&rlib) {
            text.push('\n');
            text.push_str(&more);
        }
    }
    Ok(Build {
        layouts: text,
        executable,
        package_dir,
    })
}

/// cargo's `compiler-artifact` messages among the lines of `text`.
fn artifacts(text: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
}

/// Every `.rlib` the artifacts name.
fn rlibs(artifacts: &[serde_json::Value]) -> Vec<PathBuf> {
    artifacts
        .iter()
        .filter_map(|m| m["filenames"].as_array())
        .flatten()
        .filter_map(|f| f.as_str())
        .filter(|f| f.ends_with(".rlib"))
        .map(PathBuf::from)
        .collect()
}

/// The executable and package folder of the bench target `bench`, among the artifacts.
fn bench_artifact(
    artifacts: &[serde_json::Value],
    bench: &str,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let Some(msg) = artifacts.iter().find(|m| {
        m["target"]["name"] == bench
            && m["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bench"))
    }) else {
        return (None, None);
    };
    let exe = msg["executable"].as_str().map(PathBuf::from);
    let dir = msg["manifest_path"]
        .as_str()
        .and_then(|m| Path::new(m).parent().map(Path::to_path_buf));
    (exe, dir)
}
