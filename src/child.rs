//! One child process, run and measured whole: its peak resident set size, its wall time and its
//! output. `taskmem sweep` runs every case, Rust or another language's peer, through
//! [`run_measured`], one fresh process per case, so one case's peak never pollutes the next.
//!
//! # What the peak is
//!
//! [`ChildRun::peak_rss_bytes`] is the high-water mark of the child's resident set size over its
//! whole life, in bytes: heap, thread stacks, the runtime's own baseline (an interpreter, a JIT,
//! a garbage collector's reserve), the program's code and shared libraries as far as they are
//! resident. It is the figure the published "1 million concurrent tasks" comparisons report, and
//! what GNU `time -v` calls "Maximum resident set size". Pages shared with other processes count
//! in full while mapped; swapped-out pages do not. It comes from one of two readings
//! ([`PeakSource`]):
//!
//! - `ru_maxrss` from `wait4(pid, ..)` on the child itself (Linux reports KiB; converted). It is
//!   the child's own, not `getrusage(RUSAGE_CHILDREN)`, whose `ru_maxrss` is the largest peak of
//!   *every* child reaped so far. But Linux starts a new child's mark at its parent's: the child
//!   begins as a copy of the parent (or, spawned with vfork as `std` does, inside the parent's
//!   address space), and `exec` keeps the old image's mark. A 300 MiB parent's `/bin/true`
//!   reports 313 MiB. So `ru_maxrss` is used only when it is above this process's own peak
//!   (`VmHWM`, read right after the spawn): then it can only be the child's
//!   ([`PeakSource::Rusage`], exact).
//! - Otherwise, `VmHWM` of `/proc/<pid>/status`, the child's own mark since its `exec`, read
//!   every [`POLL`] while it runs; the largest reading ([`PeakSource::Polled`]). This misses
//!   only growth in the child's last poll interval; programs that peak while their tasks sleep
//!   lose nothing. A child that lived less than one interval gets no reading: the figure is
//!   then `ru_maxrss`, an upper bound ([`PeakSource::UpperBound`]).
//!
//! A launcher that `exec`s the program (the `elixir` script execs `erl`, which execs the BEAM)
//! is the same process; its own image is small (a shell), and the peak covers the larger of the
//! two. A shell that forks the program and stays the parent would measure the shell.
//! Descendants the child waited for itself are folded into `ru_maxrss` as the largest single
//! peak among them (a maximum, not a sum), and `VmHWM` does not see them.
//!
//! The wall time runs from just before the spawn to the moment the child exited.
//!
//! # Limits
//!
//! Unix only (`wait4`); `/proc` polling on Linux only (elsewhere the figure is `ru_maxrss`).
//! On timeout the child (not its descendants) gets `SIGKILL`. A process that sets `SIGCHLD` to
//! `SIG_IGN` loses its children's rusage: the kernel reaps them itself, and [`run_measured`]
//! says so.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How much of each of the child's stdout and stderr is kept (the rest is read and dropped).
pub const OUTPUT_CAP_BYTES: usize = 1 << 20;

/// How often the child's `VmHWM` is read while it runs.
pub const POLL: Duration = Duration::from_millis(2);

/// How long to wait, after the child exited, for its output pipes to close (a descendant that
/// inherited them may keep them open).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Which reading [`ChildRun::peak_rss_bytes`] came from (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakSource {
    /// `ru_maxrss`, above this process's own peak, so the child's own: exact.
    Rusage,
    /// The largest `VmHWM` read from `/proc/<pid>/status` while the child ran: `ru_maxrss`
    /// was no higher than this process's peak, which Linux passes on to a child. A lower bound
    /// that misses only growth in the child's last poll interval.
    Polled,
    /// `ru_maxrss` with no reading to check it against (the child lived under one poll
    /// interval, or this OS has no `/proc`): an upper bound, this process's peak included.
    UpperBound,
}

/// What one measured child did.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// How it ended: exit code or signal.
    pub status: ExitStatus,
    /// Its peak resident set size over its whole life, in bytes; see the module doc for what
    /// it counts and [`ChildRun::peak_source`] for how it was read.
    pub peak_rss_bytes: u64,
    /// Which reading `peak_rss_bytes` is.
    pub peak_source: PeakSource,
    /// `ru_maxrss` from `wait4`, in bytes: the child's peak or the mark it started from
    /// (this process's), whichever is larger.
    pub rusage_maxrss_bytes: u64,
    /// The largest `VmHWM` read from `/proc/<pid>/status` while it ran, in bytes (0: none).
    pub polled_hwm_bytes: u64,
    /// This process's own peak RSS (`VmHWM`) right after the spawn, in bytes (0: unknown).
    pub parent_hwm_bytes: u64,
    /// From just before the spawn to its exit.
    pub wall: Duration,
    /// CPU time it spent in user mode (`ru_utime`).
    pub user_time: Duration,
    /// CPU time it spent in the kernel (`ru_stime`).
    pub system_time: Duration,
    /// Its standard output (lossy UTF-8, at most [`OUTPUT_CAP_BYTES`]).
    pub stdout: String,
    /// Its standard error (lossy UTF-8, at most [`OUTPUT_CAP_BYTES`]).
    pub stderr: String,
}

impl ChildRun {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `Ok` when it exited with code 0, else one line: `what`, how it ended, and the last line
    /// of its stderr (or stdout) that says something.
    pub fn check(&self, what: &str) -> Result<(), String> {
        if self.success() {
            return Ok(());
        }
        let ended = ended(&self.status);
        match last_line(&self.stderr).or_else(|| last_line(&self.stdout)) {
            Some(line) => Err(format!("{what} {ended}: {line}")),
            None => Err(format!("{what} {ended}")),
        }
    }
}

/// How a process ended, in words: "exited with code 1", "was killed by signal 9 (SIGKILL;
/// likely out of memory: ...)". A SIGKILL nobody here sent is most often the kernel's OOM
/// killer, or the cgroup's memory limit; the note names that limit when there is one.
pub fn ended(status: &ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("was killed by signal {sig}{}", signal_note(sig));
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "ended without an exit code".into(),
    }
}

/// The name and likely cause of a signal that ended a child.
#[cfg(unix)]
pub fn signal_note(sig: i32) -> String {
    match sig {
        libc::SIGKILL => format!(
            " (SIGKILL; likely out of memory: the kernel's OOM killer{})",
            crate::limits::memory_limit_note()
        ),
        libc::SIGSEGV => " (SIGSEGV: a crash of the child)".into(),
        libc::SIGABRT => " (SIGABRT: the child aborted)".into(),
        libc::SIGTERM => " (SIGTERM)".into(),
        libc::SIGINT => " (SIGINT: interrupted)".into(),
        _ => String::new(),
    }
}

/// The last non-empty line of `text`, trimmed and shortened to 300 characters.
pub fn last_line(text: &str) -> Option<String> {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(shorten(line, 300))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}...")
    }
}

/// The command as a user would type it (program and arguments), shortened for messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    shorten(&words.join(" "), 200)
}

/// Runs `cmd` as a child process with stdin closed and stdout/stderr captured, waits for it at
/// most `timeout`, and measures it (see the module doc).
///
/// A child that ran and exited, whatever its code, is `Ok`: see [`ChildRun::check`]. `Err` is
/// one line: the program could not be started, or it did not finish within `timeout` (it was
/// killed), or it could not be waited for.
pub fn run_measured(cmd: Command, timeout: Duration) -> Result<ChildRun, String> {
    imp::run_measured(cmd, timeout)
}

/// Reads one pipe to its end on its own thread (so a chatty child never blocks on a full pipe),
/// keeping at most [`OUTPUT_CAP_BYTES`].
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = OUTPUT_CAP_BYTES.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
    });
    rx
}

fn spawn_piped(mut cmd: Command) -> Result<(Child, String), String> {
    let shown = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    Ok((child, shown))
}

#[cfg(unix)]
mod imp {
    use super::*;

    fn timeval(t: libc::timeval) -> Duration {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    }

    /// `ru_maxrss` in bytes: KiB on Linux and the BSDs, bytes on macOS.
    fn maxrss_bytes(ru: &libc::rusage) -> u64 {
        let v = ru.ru_maxrss.max(0) as u64;
        if cfg!(target_os = "macos") {
            v
        } else {
            v * 1024
        }
    }

    /// `VmHWM` of `/proc/<pid>/status` in bytes: the child's peak RSS since its last `exec`
    /// (none once it has exited, or off Linux).
    fn vm_hwm(pid: libc::pid_t) -> Option<u64> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(kib * 1024)
    }

    /// Blocks until `pid` has exited, without reaping it: while it is a zombie its pid stays
    /// ours, so a kill after a timeout can never reach a recycled pid.
    fn wait_exited(pid: libc::pid_t) -> Result<(), String> {
        loop {
            // SAFETY: siginfo_t is plain data; waitid fills it.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: a valid pointer to a siginfo_t; WNOWAIT leaves the child waitable.
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err.to_string());
            }
        }
    }

    /// Reaps `pid` and returns its wait status and its own rusage.
    fn reap(pid: libc::pid_t) -> Result<(libc::c_int, libc::rusage), String> {
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: rusage is plain data; wait4 fills it.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: valid pointers to a status and a rusage.
            let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            if rc == pid {
                return Ok((status, ru));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err.to_string());
            }
        }
    }

    pub(super) fn run_measured(cmd: Command, timeout: Duration) -> Result<ChildRun, String> {
        use std::os::unix::process::ExitStatusExt;

        let start = Instant::now();
        let deadline = start + timeout;
        // `spawn` returns once the child has exec'd (std waits for it), so from here on its
        // `VmHWM` is its own; this process's mark is what the child's `ru_maxrss` started at.
        let (mut child, shown) = spawn_piped(cmd)?;
        let pid = child.id() as libc::pid_t;
        let parent_hwm = taskmem::probe::os::peak_rss_bytes().unwrap_or(0);
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        // `child` is never waited for through std: `reap` does it, with the rusage.

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let exited = wait_exited(pid);
            let _ = tx.send((exited, Instant::now()));
        });
        let mut polled = 0;
        let waited = loop {
            if let Some(hwm) = vm_hwm(pid) {
                polled = polled.max(hwm);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            match rx.recv_timeout(POLL.min(left)) {
                Ok(exited) => break Some(exited),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("lost track of `{shown}` (pid {pid})"));
                }
            }
        };
        let (exited, end, timed_out) = match waited {
            Some((exited, end)) => (exited, end, false),
            None => {
                // SAFETY: `pid` is our unreaped child (see wait_exited), so it is still ours.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                let (exited, end) = rx
                    .recv()
                    .map_err(|_| format!("lost track of `{shown}` (pid {pid})"))?;
                (exited, end, true)
            }
        };
        let waited = exited.and_then(|()| reap(pid)).map_err(|e| {
            let hint = if e.contains("No child process") {
                " (is SIGCHLD ignored in this process?)"
            } else {
                ""
            };
            format!("cannot wait for `{shown}` (pid {pid}): {e}{hint}")
        });
        drop(child);
        let (status, ru) = waited?;
        let wall = end.duration_since(start);
        if timed_out {
            return Err(format!(
                "`{shown}` did not finish within {:.1} s: killed it",
                timeout.as_secs_f64()
            ));
        }
        let collect = |rx: mpsc::Receiver<String>| {
            rx.recv_timeout(PIPE_GRACE).unwrap_or_else(|_| {
                "(output still open after the child exited: a descendant holds it)".into()
            })
        };
        let maxrss = maxrss_bytes(&ru);
        let (peak, source) = if maxrss > parent_hwm && parent_hwm > 0 {
            (maxrss, PeakSource::Rusage)
        } else if polled > 0 {
            (polled, PeakSource::Polled)
        } else {
            (maxrss, PeakSource::UpperBound)
        };
        Ok(ChildRun {
            status: ExitStatus::from_raw(status),
            peak_rss_bytes: peak,
            peak_source: source,
            rusage_maxrss_bytes: maxrss,
            polled_hwm_bytes: polled,
            parent_hwm_bytes: parent_hwm,
            wall,
            user_time: timeval(ru.ru_utime),
            system_time: timeval(ru.ru_stime),
            stdout: collect(stdout),
            stderr: collect(stderr),
        })
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;

    pub(super) fn run_measured(cmd: Command, _timeout: Duration) -> Result<ChildRun, String> {
        Err(format!(
            "cannot measure `{}`: whole-process peak RSS needs wait4, which this OS lacks",
            describe(&cmd)
        ))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn python(code: &str) -> Command {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", code]);
        cmd
    }

    /// A python3 that builds and holds a 64 MiB bytes object (filled, so every page is touched).
    fn python_64_mib() -> Command {
        python("import time; b = b'x' * (64 << 20); time.sleep(0.05); print(len(b))")
    }

    #[test]
    fn a_child_touching_64_mib_peaks_above_64_mib_and_a_bare_one_far_below() {
        let big = run_measured(python_64_mib(), Duration::from_secs(60)).unwrap();
        big.check("python3").unwrap();
        assert_eq!(big.stdout.trim(), (64 << 20).to_string());
        assert!(
            big.peak_rss_bytes >= 64 * MIB,
            "peak {} B < 64 MiB",
            big.peak_rss_bytes
        );
        assert!(big.peak_rss_bytes < 512 * MIB, "{} B", big.peak_rss_bytes);

        let bare = run_measured(python("pass"), Duration::from_secs(60)).unwrap();
        bare.check("python3").unwrap();
        assert!(bare.peak_rss_bytes > 0);
        assert!(
            bare.peak_rss_bytes + 48 * MIB < big.peak_rss_bytes,
            "bare {} B vs big {} B",
            bare.peak_rss_bytes,
            big.peak_rss_bytes
        );
    }

    #[test]
    fn consecutive_children_are_measured_apart() {
        // The isolation the sweep relies on: a small child after a big one reports its own
        // peak, not the largest so far (as RUSAGE_CHILDREN would).
        let big = run_measured(python_64_mib(), Duration::from_secs(60)).unwrap();
        let small = run_measured(python("pass"), Duration::from_secs(60)).unwrap();
        assert!(big.peak_rss_bytes >= 64 * MIB, "{}", big.peak_rss_bytes);
        assert!(
            small.peak_rss_bytes < 32 * MIB,
            "second child's peak {} B looks like the first's {} B",
            small.peak_rss_bytes,
            big.peak_rss_bytes
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_big_parent_does_not_inflate_a_small_childs_peak() {
        // Linux starts a child's ru_maxrss at its parent's mark: here 256 MiB, touched.
        let big = vec![7u8; 256 << 20];
        let run = run_measured(
            python("import time; time.sleep(0.3)"),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(big.iter().map(|&b| b as u64).sum::<u64>(), 7 * (256 << 20));
        assert!(
            run.rusage_maxrss_bytes >= 256 * MIB,
            "the kernel fact changed: ru_maxrss {} B",
            run.rusage_maxrss_bytes
        );
        assert_eq!(run.peak_source, PeakSource::Polled);
        assert!(
            run.peak_rss_bytes < 64 * MIB,
            "peak {} B is the parent's",
            run.peak_rss_bytes
        );
        assert!(run.peak_rss_bytes > MIB, "{}", run.peak_rss_bytes);
    }

    #[test]
    fn wall_time_covers_the_childs_life() {
        let mut cmd = Command::new("sleep");
        cmd.arg("0.3");
        let run = run_measured(cmd, Duration::from_secs(30)).unwrap();
        assert!(run.success());
        assert!(run.wall >= Duration::from_millis(300), "{:?}", run.wall);
        assert!(run.wall < Duration::from_secs(10), "{:?}", run.wall);
    }

    #[test]
    fn a_timeout_kills_the_child_and_says_so_in_one_line() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let start = Instant::now();
        let err = run_measured(cmd, Duration::from_millis(200)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "not killed");
        assert!(
            err.contains("`sleep 30` did not finish within 0.2 s"),
            "{err}"
        );
        assert!(err.contains("killed"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
    }

    #[test]
    fn a_missing_program_is_one_line() {
        let cmd = Command::new("taskmem-no-such-program");
        let err = run_measured(cmd, Duration::from_secs(5)).unwrap_err();
        assert!(
            err.starts_with("cannot run `taskmem-no-such-program`:"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err:?}");
    }

    #[test]
    fn a_failing_child_is_ok_and_check_gives_its_last_stderr_line() {
        let run = run_measured(
            python("import sys; print('first', file=sys.stderr); print('boom', file=sys.stderr); sys.exit(3)"),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(run.status.code(), Some(3));
        assert_eq!(
            run.check("python3").unwrap_err(),
            "python3 exited with code 3: boom"
        );
    }

    #[test]
    fn a_killed_child_is_reported_by_its_signal() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "kill -9 $$"]);
        let run = run_measured(cmd, Duration::from_secs(30)).unwrap();
        let err = run.check("sh").unwrap_err();
        assert!(
            err.starts_with("sh was killed by signal 9 (SIGKILL; likely out of memory"),
            "{err}"
        );
    }

    #[test]
    fn output_past_the_cap_is_drained_and_dropped() {
        // 4 MiB on stdout: the child must not block on a full pipe.
        let run = run_measured(
            python("import sys; sys.stdout.write('y' * (4 << 20))"),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(run.success());
        assert_eq!(run.stdout.len(), OUTPUT_CAP_BYTES);
    }
}
