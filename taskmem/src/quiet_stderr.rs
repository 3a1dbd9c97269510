//! Silences this process's stderr (file descriptor 2) for a stretch of code, to keep out
//! lines that Criterion prints by design but that the suite's own settings make meaningless.
//!
//! Two such lines, both printed by Criterion 0.8 with `eprint!` and no switch to turn them off:
//!
//! - "Gnuplot not found, using plotters backend", once, when `Criterion::default()` looks for
//!   gnuplot. The suite draws with plotters either way.
//! - "Warning: Unable to complete 10 samples in 1.0ns ...", once per case, between the
//!   warm-up and the first sample, whenever a sample is one iteration: that is the suite's
//!   design (each sample is one whole run of the case, see [`crate::criterion`]).
//!
//! [`Silence::start`] points fd 2 at `/dev/null` and keeps the real stderr; [`Silence::stop`]
//! (or dropping the guard) puts it back. Every thread's stderr goes quiet meanwhile, so the
//! suite holds it only while Criterion alone runs (no case is measuring), and never around
//! its own messages: an error in a case restores stderr before it is printed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// While alive (between [`Silence::start`] and [`Silence::stop`]), stderr goes to
/// `/dev/null`.
#[derive(Debug, Default)]
pub struct Silence {
    saved: Option<OwnedFd>,
}

impl Silence {
    /// Silences stderr now (nothing happens if `/dev/null` cannot be opened).
    pub fn start() -> Silence {
        let mut silence = Silence::default();
        silence.silence();
        silence
    }

    /// Silences stderr if it is not already silenced by this guard.
    pub fn silence(&mut self) {
        if self.saved.is_some() {
            return;
        }
        let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
            return;
        };
        // SAFETY: dup returns a new descriptor we then own, or -1.
        let saved = unsafe { libc::dup(2) };
        if saved < 0 {
            return;
        }
        // SAFETY: both descriptors are open; dup2 replaces fd 2 atomically.
        if unsafe { libc::dup2(null.as_raw_fd(), 2) } < 0 {
            // SAFETY: `saved` is ours and open.
            drop(unsafe { OwnedFd::from_raw_fd(saved) });
            return;
        }
        // SAFETY: `saved` is a descriptor we own.
        self.saved = Some(unsafe { OwnedFd::from_raw_fd(saved) });
    }

    /// Puts the real stderr back (nothing to do if it is not silenced).
    pub fn stop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // SAFETY: `saved` is the real stderr, open; dup2 restores fd 2 from it.
            unsafe { libc::dup2(saved.as_raw_fd(), 2) };
        }
    }

    /// Runs `f` with stderr silenced.
    pub fn during<R>(f: impl FnOnce() -> R) -> R {
        let mut silence = Silence::start();
        let r = f();
        silence.stop();
        r
    }
}

impl Drop for Silence {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_is_back_after_the_guard() {
        // fd 2 points at the same file before and after (its device and inode).
        let id = || {
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: fstat on fd 2 into a zeroed stat.
            assert_eq!(unsafe { libc::fstat(2, &mut st) }, 0);
            (st.st_dev, st.st_ino)
        };
        let before = id();
        let mut s = Silence::start();
        let null = std::fs::metadata("/dev/null").unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(id().1, null.ino(), "fd 2 is /dev/null while silenced");
        s.stop();
        assert_eq!(id(), before);
    }
}
