//! Progress of a long run (cases of a bench, child processes of a sweep): which item runs,
//! how many are done and how many remain, with elapsed time and an estimate of what is left.
//!
//! On a terminal it is an `indicatif` bar on stderr, redrawn in place:
//!
//! ```text
//! dhat profiles [========>           ] 9/21 4s eta 6s case 10/21: tokio-mt/spawn/10000
//! ```
//!
//! The bar is redrawn on the calling thread when an item starts or ends (no background thread
//! unless [`Progress::steady_tick`] asks for one), so a bench measuring its own heap between
//! those calls sees no allocation from it.
//!
//! When stderr is not a terminal (CI logs, pipes, `cargo test`) it shows nothing: the run's
//! own per-item lines are the record. Lines printed while a bar is shown go through
//! [`Progress::suspend`] (or [`Progress::println`]) so that the bar does not tear them.
//!
//! ```no_run
//! let cases = ["tokio-ct/spawn/1", "tokio-ct/spawn/10000"];
//! let progress = taskmem::progress::Progress::new(cases.len(), "dhat profiles");
//! for id in cases {
//!     progress.case(id);
//!     // ... run it ...
//!     progress.println(&format!("{id}: done"));
//!     progress.inc();
//! }
//! progress.finish();
//! ```

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over a known number of items.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` items named `what` (`"dhat profiles"`), shown on stderr when it is a
    /// terminal, hidden otherwise.
    pub fn new(total: usize, what: &str) -> Progress {
        Progress::with_display(total, what, std::io::stderr().is_terminal())
    }

    /// The same, shown only if `shown`.
    pub fn with_display(total: usize, what: &str, shown: bool) -> Progress {
        let target = if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total as u64), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:20}] {pos}/{len} {elapsed} eta {eta} {wide_msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        Progress { bar }
    }

    /// Redraws the bar four times a second from a background thread, so elapsed time moves
    /// while one long item runs (a sweep of child processes). Not for a process measuring its
    /// own heap: that thread allocates. Without it the bar is redrawn only by [`case`](Self::case)
    /// and [`inc`](Self::inc), on the calling thread.
    pub fn steady_tick(&self) {
        if self.is_shown() {
            self.bar.enable_steady_tick(Duration::from_millis(250));
        }
    }

    /// Whether the bar is drawn.
    pub fn is_shown(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Names the item that starts now: `case k/n: id`, k counting it.
    pub fn case(&self, id: &str) {
        self.bar
            .set_message(format!("case {}/{}: {id}", self.done() + 1, self.total()));
    }

    /// Counts one item as done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Items done.
    pub fn done(&self) -> u64 {
        self.bar.position()
    }

    /// Items in all.
    pub fn total(&self) -> u64 {
        self.bar.length().unwrap_or(0)
    }

    /// The current message (`case k/n: id`).
    pub fn message(&self) -> String {
        self.bar.message()
    }

    /// Runs `f` (which prints) with the bar cleared, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Prints a line on stdout above the bar.
    pub fn println(&self, line: &str) {
        self.suspend(|| println!("{line}"));
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_items_and_names_the_current_one() {
        let p = Progress::with_display(3, "cases", false);
        assert!(!p.is_shown());
        assert_eq!((p.done(), p.total()), (0, 3));
        p.case("tokio-ct/spawn/1");
        assert_eq!(p.message(), "case 1/3: tokio-ct/spawn/1");
        p.inc();
        p.case("tokio-ct/spawn/10000");
        assert_eq!(p.message(), "case 2/3: tokio-ct/spawn/10000");
        p.inc();
        assert_eq!(p.done(), 2);
        assert_eq!(p.suspend(|| 7), 7);
        p.finish();
    }
}
