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
//! let progress = taskmem_suite::progress::Progress::new(cases.len(), "dhat profiles");
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

/// Where a bench run is, as one line printed before each case on a terminal (nothing when
/// stderr is not one: CI logs keep Criterion's own lines only):
///
/// ```text
/// taskmem: case 38/150, 0:41 elapsed, about 1:12 left: tokio-mt/spawn/1000000
/// ```
///
/// A plain line and not a bar: Criterion redraws its own lines on stdout while a case runs,
/// and a bar would tear them. What is left is estimated from the time so far, weighting
/// each case by its task count plus a fixed cost ([`CaseClock::FIXED_TASKS`]).
#[derive(Debug)]
pub struct CaseClock {
    started: std::time::Instant,
    weights: Vec<u64>,
    done: usize,
    shown: bool,
}

impl CaseClock {
    /// A case's fixed cost (runtime set-up, Criterion's analysis), in tasks.
    pub const FIXED_TASKS: u64 = 50_000;

    /// A clock over cases of these task counts, in the order they run.
    pub fn new(task_counts: impl IntoIterator<Item = usize>) -> CaseClock {
        CaseClock::with_display(task_counts, std::io::stderr().is_terminal())
    }

    /// The same, shown only if `shown`.
    pub fn with_display(task_counts: impl IntoIterator<Item = usize>, shown: bool) -> CaseClock {
        CaseClock {
            started: std::time::Instant::now(),
            weights: task_counts
                .into_iter()
                .map(|n| n as u64 + Self::FIXED_TASKS)
                .collect(),
            done: 0,
            shown,
        }
    }

    /// The line for the case that starts now (the `done + 1`-th), and counts it as started.
    pub fn next_line(&mut self, id: &str) -> String {
        let elapsed = self.started.elapsed();
        let total = self.weights.len();
        let done_weight: u64 = self.weights.iter().take(self.done).sum();
        let left_weight: u64 = self.weights.iter().skip(self.done).sum();
        let left = if done_weight == 0 {
            "estimating".to_string()
        } else {
            let secs = elapsed.as_secs_f64() * left_weight as f64 / done_weight as f64;
            format!("about {} left", clock(Duration::from_secs_f64(secs)))
        };
        self.done += 1;
        format!(
            "taskmem: case {}/{total}, {} elapsed, {left}: {id}",
            self.done.min(total),
            clock(elapsed)
        )
    }

    /// Prints [`CaseClock::next_line`] on stderr when shown.
    pub fn start_case(&mut self, id: &str) {
        let line = self.next_line(id);
        if self.shown {
            eprintln!("{line}");
        }
    }
}

/// `m:ss`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn the_line_counts_cases_and_waits_for_one_before_estimating() {
        let mut c = CaseClock::with_display([1, 1_000_000], false);
        let first = c.next_line("a/1");
        assert!(
            first.starts_with("taskmem: case 1/2, 0:00 elapsed, estimating: a/1"),
            "{first}"
        );
        let second = c.next_line("a/1000000");
        assert!(second.starts_with("taskmem: case 2/2, "), "{second}");
        assert!(second.contains(" left: a/1000000"), "{second}");
    }
}
