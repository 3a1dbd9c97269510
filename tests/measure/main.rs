//! Tests that measure: the public API on users' own futures, the accuracy of every metric
//! against planted bytes, payloads and bounded strategies, release after the peak, and
//! baselines built from measured runs. One test binary with taskmem's counting allocator
//! (fewer binaries to link for `cargo test`).
//!
//! Run with: `cargo test --test measure` (a module alone: `cargo test --test measure api::`).

taskmem::use_tracked_jemalloc!();

mod accuracy;
mod api;
mod baseline;
mod payload;
mod release;
mod sites;

/// The probes are process-wide: a test that builds or drops a runtime while another measures
/// would move its figures, so the measuring tests of every module take this lock and run one
/// at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the binary's measurement lock until dropped (a panicked holder does not poison it).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}
