//! Ctrl-C during the suite: the case in flight is abandoned, the run ends cleanly.
//!
//! Every finished case is already in the summary ([`taskmem::summary::journal`]); the first SIGINT only
//! sets a flag, which the suite checks between runs of a case, then ends the run with one
//! line and exit code 130. A second SIGINT ends the process at once (exit code 130).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the SIGINT handler (Unix; elsewhere Ctrl-C keeps its default).
pub fn install() {
    #[cfg(unix)]
    {
        let handler: extern "C" fn(libc::c_int) = on_sigint;
        // SAFETY: the handler only touches an atomic and calls _exit, both signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        }
    }
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
