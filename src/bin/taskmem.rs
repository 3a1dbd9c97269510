//! `taskmem`: the command line beside the Criterion suite.
//!
//! Run with:
//!
//! ```text
//! cargo run --release --bin taskmem -- cases                     # the matrix, with skips
//! cargo run --release --bin taskmem -- measure tokio-mt/spawn/100000 --runs 5
//! ```
//!
//! Bad input (an unknown case, metric or flag, a malformed size list) prints one line and
//! exits with code 2; a case this machine cannot run prints its reason and exits with 1.

taskmem::use_tracked_jemalloc!();

fn main() {
    // `taskmem bill` names this binary as cargo's workspace rustc wrapper: then it is rustc.
    if let Some(code) = taskmem_suite::layouts::as_rustc_wrapper() {
        std::process::exit(code);
    }
    std::process::exit(taskmem_suite::cli::main(std::env::args_os()));
}
