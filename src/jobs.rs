//! The suite's cases shared out over several processes at once (`TASKMEM_JOBS`).
//!
//! Most cases keep one core busy: a current-thread runtime, a `join_all` polled on the bench's
//! own thread, a sequential loop. So where there are several cores, `cargo bench` runs the
//! bench again as [`count`] child processes, the *jobs*, and this process only watches them.
//! Each job walks the same list of cases in the same order and takes the next case no other
//! job has taken ([`Claims`]: one file per case, created with `O_EXCL` in a directory this
//! process made), so every job stays busy until the list is done.
//!
//! A job measures its own process: jemalloc's resident pages, the heap counters and the
//! process RSS do not see another process, so the bytes are those of a run case by case.
//! (Checked on this 2-core machine: the whole default matrix in two jobs against
//! `target-baselines/main.json`, 0 regressed on `resident` and on `allocated`.) What two
//! jobs do share is the machine's memory: [`count`] runs fewer jobs when the largest case
//! would not fit twice ([`crate::limits::memory_room`]), so a case that runs alone is not
//! skipped for lack of room because another job holds some.
//!
//! This process prints each job's output a case at a time: the lines of one case (Criterion's,
//! then taskmem's) when the case ends, so two cases never mix. On a terminal a line before
//! each case says where the run is ([`crate::progress::CaseClock`]); Criterion's
//! "Benchmarking <id>" lines are left out, since two jobs' would interleave. Every job
//! records its cases in the summary as it goes ([`crate::journal`]); the end tables, the
//! report and the gate come once, here, when all have ended.
//!
//! A job that fails or is killed (the OOM killer) stops the others between two runs (SIGINT,
//! [`crate::interrupt`]) and the run ends with one line naming the case; Ctrl-C does the same.
//! Every finished case is kept. Jobs die with this process (`PR_SET_PDEATHSIG`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::matrix::Case;
use crate::progress::CaseClock;

/// Set in a job's environment: the directory of the run's claims.
const JOB_ENV: &str = "TASKMEM_JOB";

/// Starts the lines by which a job tells this process where it is.
const MARK: &str = "\u{1e}taskmem-job ";

/// How many jobs run `cases`: `requested` (`TASKMEM_JOBS`) when given, else one per core,
/// and never more than there are cases, nor (unless requested) more than the memory room
/// holds the largest case that this machine can run ([`crate::limits::need`]; a case past
/// a limit is skipped anyway).
pub fn count(requested: Option<usize>, cases: &[Case]) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let by_memory = || {
        let largest = cases
            .iter()
            .filter(|c| crate::limits::check_case(c, None).is_ok())
            .map(|c| crate::limits::need(c, None))
            .max()
            .unwrap_or(0)
            .max(1);
        crate::limits::memory_room().map_or(1, |room| (room / largest) as usize)
    };
    let jobs = requested.unwrap_or_else(|| cores.min(by_memory()));
    jobs.min(cases.len()).max(1)
}

/// The claims of a job (in a job's process: `TASKMEM_JOB` is set).
#[derive(Debug)]
pub struct Claims {
    dir: PathBuf,
}

impl Claims {
    /// This process's claims when it is a job.
    pub fn of_this_process() -> Option<Claims> {
        let dir = std::env::var_os(JOB_ENV)?;
        Some(Claims { dir: dir.into() })
    }

    /// Takes the case `id` for this job: true when no other job had it. When the directory
    /// is gone (the run that made it ended), nothing more is taken.
    pub fn take(&self, id: &str) -> bool {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.dir.join(id.replace('/', "_")))
            .is_ok()
    }
}

/// Tells the run, from a job, that the case `id` starts.
pub fn started(id: &str) {
    println!("{MARK}start {id}");
}

/// Tells the run, from a job, that the case `id` ended (its lines are all printed).
pub fn ended(id: &str) {
    println!("{MARK}end {id}");
}

/// Tells the run, from a job at its end, how many of its cases measured the same bytes as
/// last time (the run says it once for every job).
pub fn same_bytes(cases: usize) {
    println!("{MARK}same {cases}");
}

/// How the jobs ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// Cases the jobs ran to their end.
    pub finished: usize,
    /// The run must end with this exit code; its reason is printed already.
    pub exit_code: Option<i32>,
    /// Cases that measured the same bytes as last time ([`same_bytes`]).
    pub same_bytes: usize,
}

/// One line from a job.
enum Line {
    Out(usize, String),
    Err(String),
}

/// A job as this process sees it.
struct Job {
    child: Child,
    /// The case it runs, and that case's lines so far.
    running: Option<(String, Vec<String>)>,
    status: Option<ExitStatus>,
}

/// Runs the bench again as `jobs` processes over `order` (the cases, in the order the jobs
/// take them), printing their output a case at a time, until all have ended. `summary` is
/// named when the run stops early.
pub fn run(jobs: usize, order: &[Case], summary: &Path) -> Result<Ended, String> {
    let dir = summary
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".jobs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    remove_stale(summary.parent().unwrap_or(Path::new(".")));
    let ended = watch(jobs, order, &dir, summary);
    let _ = std::fs::remove_dir_all(&dir);
    ended
}

fn watch(jobs: usize, order: &[Case], dir: &Path, summary: &Path) -> Result<Ended, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this bench: {e}"))?;
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Criterion colours its lines only on a terminal; the jobs write to pipes.
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && !args.iter().any(|a| a == "--color" || a == "-c") {
        args.extend(["--color".into(), "always".into()]);
    }
    let (tx, rx) = mpsc::channel();
    let mut running = Vec::with_capacity(jobs);
    for k in 0..jobs {
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .env(JOB_ENV, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start job {}: {e}", k + 1))?;
        forward(child.stdout.take(), tx.clone(), move |l| Line::Out(k, l));
        forward(child.stderr.take(), tx.clone(), Line::Err);
        running.push(Job {
            child,
            running: None,
            status: None,
        });
    }
    drop(tx);
    let mut clock = CaseClock::new(order.iter().map(|c| c.n));
    let mut ended = Ended::default();
    let mut stopping = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Line::Out(k, line)) => {
                let job = &mut running[k];
                match line.strip_prefix(MARK) {
                    Some(rest) => {
                        if let Some(id) = rest.strip_prefix("start ") {
                            clock.start_case(id);
                            job.running = Some((id.to_string(), Vec::new()));
                        } else if let Some(n) = rest.strip_prefix("same ") {
                            ended.same_bytes += n.parse::<usize>().unwrap_or(0);
                        } else if rest.starts_with("end ") {
                            if let Some((_, lines)) = job.running.take() {
                                print_lines(&lines);
                            }
                            ended.finished += 1;
                        }
                    }
                    None => match &mut job.running {
                        Some((_, lines)) => lines.push(line),
                        None => println!("{line}"),
                    },
                }
            }
            // Criterion's "Benchmarking <id>" lines: the clock's line stands for them.
            Ok(Line::Err(line)) if line.starts_with("Benchmarking ") => {}
            Ok(Line::Err(line)) => eprintln!("{line}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        for job in running.iter_mut().filter(|j| j.status.is_none()) {
            job.status = job.child.try_wait().ok().flatten();
        }
        let failed = running
            .iter()
            .any(|j| j.status.is_some_and(|s| !s.success()));
        if !stopping && (failed || crate::interrupt::requested()) {
            stopping = true;
            // The others end between two runs of their case, keeping what they finished.
            for job in running.iter().filter(|j| j.status.is_none()) {
                interrupt(&job.child);
            }
        }
    }
    for (k, job) in running.iter_mut().enumerate() {
        let status = match job.status {
            Some(s) => s,
            None => job
                .child
                .wait()
                .map_err(|e| format!("cannot wait for job {}: {e}", k + 1))?,
        };
        if let Some((id, lines)) = job.running.take() {
            // A job that ended inside a case: what it printed of it, then why.
            print_lines(&lines);
            if status.code() != Some(130) && !status.success() {
                eprintln!(
                    "taskmem: {id}: the job running it {}; the {} case(s) finished are in {}",
                    crate::child::ended(&status),
                    ended.finished,
                    summary.display()
                );
            }
        }
        if !status.success() && ended.exit_code.is_none_or(|c| c == 130) {
            ended.exit_code = Some(status.code().filter(|&c| c != 0).unwrap_or(1));
        }
    }
    if ended.exit_code == Some(130) {
        eprintln!(
            "taskmem: interrupted (Ctrl-C): the {} case(s) this run finished are in {}",
            ended.finished,
            summary.display()
        );
    }
    Ok(ended)
}

/// Removes the claims of runs that were killed (`.jobs-<pid>` of a process that is gone).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".jobs-"))
            .and_then(|p| p.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Prints a case's lines together.
fn print_lines(lines: &[String]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

/// Sends every line `from` gives to `to`, on a thread of its own.
fn forward(
    from: Option<impl Read + Send + 'static>,
    to: mpsc::Sender<Line>,
    line: impl Fn(String) -> Line + Send + 'static,
) {
    let Some(from) = from else { return };
    std::thread::spawn(move || {
        let mut from = BufReader::new(from);
        let mut buf = Vec::new();
        while matches!(from.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&buf);
            if to
                .send(line(text.trim_end_matches(['\n', '\r']).to_string()))
                .is_err()
            {
                return;
            }
            buf.clear();
        }
    });
}

/// Asks a job to stop between two runs, as Ctrl-C does.
fn interrupt(child: &Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGINT) };
    }
}

/// The job is killed when this process dies (Linux), so a killed run leaves no job behind.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Runtime, Strategy};

    fn case(n: usize) -> Case {
        crate::matrix::cases_bounded(&[n], 1000)
            .into_iter()
            .find(|c| c.runtime == Runtime::TokioCt && c.strategy == Strategy::Spawn)
            .unwrap()
    }

    #[test]
    fn never_more_jobs_than_cases_and_always_one() {
        assert_eq!(count(Some(4), &[case(1)]), 1);
        assert_eq!(count(Some(2), &[case(1), case(10)]), 2);
        assert_eq!(count(None, &[]), 1);
        assert!(count(None, &[case(1), case(10), case(100)]) >= 1);
    }

    #[test]
    fn a_case_is_taken_once() {
        let dir = std::env::temp_dir().join(format!("taskmem-claims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = Claims { dir: dir.clone() };
        let b = Claims { dir: dir.clone() };
        assert!(a.take("tokio-ct/spawn/1"));
        assert!(!b.take("tokio-ct/spawn/1"));
        assert!(b.take("tokio-ct/spawn/10000"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!a.take("tokio-ct/spawn/100000"), "the run is over");
    }
}
