//! The compiler's type layouts of a bench target, for the bill of one task
//! ([`crate::bill`]): `cargo rustc --profile bench --bench NAME -- -Zprint-type-sizes`.
//! Other lines of the output (a build script's, a `println!` at compile time) are left to
//! the reader, which keeps only the layout lines.
//!
//! `-Zprint-type-sizes` is unstable: it needs a nightly compiler, or the stable one with
//! `RUSTC_BOOTSTRAP=1`, which this sets for the workspace's own crates alone (and says so).
//! Set in cargo's environment, `RUSTC_BOOTSTRAP` would change the fingerprint of every crate
//! whose build script watches it (13 in the README's example, 57 s of build, and as much
//! again for the next `cargo bench`); instead the `taskmem` binary itself is cargo's
//! `RUSTC_WORKSPACE_WRAPPER` ([`as_rustc_wrapper`]), which runs rustc with it for the
//! workspace's members only. Those are compiled again; the next `cargo bench` compiles them
//! again without. The layout of a type does not depend on the flag.

use std::path::Path;
use std::process::Command;

/// Set for [`as_rustc_wrapper`]: this process is cargo's rustc wrapper.
const WRAPPER: &str = "TASKMEM_AS_RUSTC_WRAPPER";

/// When this process was started by cargo as the workspace's rustc wrapper (by
/// [`of_bench`]): runs the rustc it was given, with its arguments and `RUSTC_BOOTSTRAP=1`,
/// and returns its exit code. `None` otherwise.
pub fn as_rustc_wrapper() -> Option<i32> {
    std::env::var_os(WRAPPER)?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let status = Command::new(rustc)
        .args(args)
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove(WRAPPER)
        .status();
    Some(match status {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("taskmem: as rustc wrapper: cannot run rustc: {e}");
            1
        }
    })
}

/// The cargo that runs this (`$CARGO` under cargo), or the one on the `PATH`.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// What [`of_bench`] says before it compiles, once.
pub const NOTICE: &str = "taskmem bill: the futures' layouts come from rustc's \
    -Zprint-type-sizes, an unstable flag, used here with RUSTC_BOOTSTRAP=1 on this compiler \
    for the crates of the bench's workspace alone";

/// rustc's `-Zprint-type-sizes` output for the bench target `bench` of the package at
/// `manifest` (the current one when `None`), compiled in cargo profile `profile` (`bench`,
/// as `cargo bench` compiles it), as text.
pub fn of_bench(manifest: Option<&Path>, bench: &str, profile: &str) -> Result<String, String> {
    let cargo = cargo();
    let run = |extra: &[&str]| -> Result<String, String> {
        let mut cmd = Command::new(&cargo);
        cmd.args(["rustc", "--profile", profile, "--bench", bench]);
        if let Some(m) = manifest {
            cmd.arg("--manifest-path").arg(m);
        }
        cmd.args(["--", "-Zprint-type-sizes"]).args(extra);
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
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // A value of its own each time, so that cargo compiles the target again (it would find
    // it fresh, and print nothing, when the flags were the same as last time).
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let text = run(&["--cfg", &format!("taskmem_bill=\"{nonce}\"")])?;
    if text.contains("print-type-size type:") {
        Ok(text)
    } else {
        Err(format!(
            "rustc printed no type layouts for the bench {bench} (a compiler without \
             -Zprint-type-sizes?)"
        ))
    }
}
