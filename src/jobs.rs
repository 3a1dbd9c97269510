//! The suite's cases shared out over several processes at once (`TASKMEM_JOBS`).
//!
//! Most cases keep one core busy: a current-thread runtime, a `join_all` polled on the bench's
//! own thread, a sequential loop. So where there are several cores, `cargo bench` runs the
//! bench again as [`count`] child processes, the *jobs*, and this process only watches them.
//! Each job walks the same list of cases in the same order and takes the next pair (a
//! runtime x strategy x payload, every N of it) no other job has taken ([`Claims`]: one file
//! per pair, created with `O_EXCL` in a directory this run made), so every job stays busy
//! until the list is done, and each of Criterion's per-function pages (bytes against N) is
//! drawn by the one job that ran all of its N. Criterion's per-runtime pages
//! (`target/criterion/<runtime>/report/`) show the pairs of the job that finished that runtime
//! last; its index of every benchmark is written once, by this process, at the end.
//!
//! A job measures its own process: jemalloc's resident pages, the heap counters and the
//! process RSS do not see another process, so the bytes are those of a run case by case.
//! (Checked on this 2-core machine: the whole default matrix in two jobs against
//! `target-baselines/main.json`, 0 regressed on `resident` and on `allocated`.) What two
//! jobs do share is the machine's memory: [`count`] runs fewer jobs when the largest case
//! would not fit once per job ([`crate::limits::memory_room`]), so a case that runs alone is
//! not skipped for lack of the room another job holds.
//!
//! This process prints each job's output a case at a time: the lines of one case (Criterion's,
//! then taskmem's) when the case ends, so two cases never mix. On a terminal a line before
//! each case says where the run is ([`crate::progress::CaseClock`]); Criterion's
//! `Benchmarking <id>` lines are left out, since two jobs' would interleave. Every job
//! records its cases in the summary as it goes ([`taskmem::summary::journal`]); the end tables, the
//! report and the gate come once, here, when all have ended.
//!
//! The jobs are in a process group of their own, so Ctrl-C reaches this process only, which
//! asks every job once to stop between two runs ([`crate::interrupt`]). A job that fails
//! stops the others the same way; a job killed (the OOM killer) also, and the run names the
//! case it was in. Every finished case is kept. Jobs die with this process
//! (`PR_SET_PDEATHSIG`).

use std::cell::RefCell;
use std::collections::HashSet;
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

/// The claims of a job (in a job's process: `TASKMEM_JOB` names a directory that exists).
#[derive(Debug)]
pub struct Claims {
    dir: PathBuf,
    /// The pairs this job took.
    mine: RefCell<HashSet<String>>,
}

impl Claims {
    /// This process's claims when it is a job.
    pub fn of_this_process() -> Option<Claims> {
        let dir = PathBuf::from(std::env::var_os(JOB_ENV)?);
        dir.is_dir().then(|| Claims {
            dir,
            mine: RefCell::default(),
        })
    }

    /// Whether this job runs the case: the first case of each pair takes the pair for this
    /// job if no other job has it. `Ok(false)` when another job has it, or the run that made
    /// the directory is over; an error when the claim cannot be written.
    pub fn take(&self, case: &Case) -> Result<bool, String> {
        let pair = case.pair().id();
        if self.mine.borrow().contains(&pair) {
            return Ok(true);
        }
        let file = self.dir.join(pair.replace('/', "_"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
        {
            Ok(_) => {
                self.mine.borrow_mut().insert(pair);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("cannot claim {}: {e}", file.display())),
        }
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
/// last time and how many failed (the run adds up every job's).
pub fn outcome(same_bytes: usize, failed: usize) {
    println!("{MARK}same {same_bytes}");
    println!("{MARK}failed {failed}");
}

/// How the jobs ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// Cases the jobs ran to their end.
    pub finished: usize,
    /// The run must end with this exit code; its reason is printed already.
    pub exit_code: Option<i32>,
    /// Cases that measured the same bytes as last time ([`outcome`]).
    pub same_bytes: usize,
    /// Cases that failed in a job that went on ([`outcome`]).
    pub failed: usize,
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
    let parent = summary.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    remove_stale(parent);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = parent.join(format!(".jobs-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _remove = RemoveOnDrop(dir.clone());
    let mut running = start(jobs, &dir)?;
    let mut ended = relay(&mut running.jobs, &running.lines, order);
    reap(&mut running.jobs, &mut ended, summary)?;
    if ended.exit_code.is_none() && ended.finished < order.len() {
        eprintln!(
            "taskmem: {} of {} case(s) were run by no job",
            order.len() - ended.finished,
            order.len()
        );
        ended.exit_code = Some(1);
    }
    Ok(ended)
}

/// Removes a directory when dropped (the run's claims, however the run ends).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the jobs: this bench again, with the same arguments, each line of its output sent
/// to this process.
fn start(jobs: usize, dir: &Path) -> Result<Running, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this bench: {e}"))?;
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Criterion colours its lines only on a terminal; the jobs write to pipes. Any colour
    // option of the user's (`--color`, `--colour=never`, `-cnever`) is left alone.
    use std::io::IsTerminal;
    let coloured = args.iter().any(|a| {
        let a = a.to_string_lossy();
        a.starts_with("--colo") || (a.starts_with("-c") && !a.starts_with("--"))
    });
    if std::io::stdout().is_terminal() && !coloured {
        args.extend(["--color".into(), "always".into()]);
    }
    let (tx, rx) = mpsc::channel();
    let mut running: Vec<Job> = Vec::with_capacity(jobs);
    for k in 0..jobs {
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .env(JOB_ENV, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        detach(&mut cmd);
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                // The jobs already started stop with the run (their parent stays: ask).
                for job in &running {
                    interrupt(&job.child);
                }
                return Err(format!("cannot start job {}: {e}", k + 1));
            }
        };
        forward(child.stdout.take(), tx.clone(), move |l| Line::Out(k, l));
        forward(child.stderr.take(), tx.clone(), Line::Err);
        running.push(Job {
            child,
            running: None,
            status: None,
        });
    }
    Ok(Running {
        jobs: running,
        lines: rx,
    })
}

/// The jobs started, and the lines of their output as they come.
struct Running {
    jobs: Vec<Job>,
    lines: mpsc::Receiver<Line>,
}

/// Prints the jobs' output a case at a time until every job has closed its output; stops
/// them all (once) when one fails or on Ctrl-C.
fn relay(running: &mut [Job], rx: &mpsc::Receiver<Line>, order: &[Case]) -> Ended {
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
                        } else if let Some(n) = rest.strip_prefix("failed ") {
                            ended.failed += n.parse::<usize>().unwrap_or(0);
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
    ended
}

/// Waits for every job and decides the run's exit code: a job's failure before Ctrl-C's
/// 130. A job that ended inside a case, or was killed, is named in one line.
fn reap(jobs: &mut [Job], ended: &mut Ended, summary: &Path) -> Result<(), String> {
    for (k, job) in jobs.iter_mut().enumerate() {
        let status = match job.status {
            Some(s) => s,
            None => job
                .child
                .wait()
                .map_err(|e| format!("cannot wait for job {}: {e}", k + 1))?,
        };
        let in_case = job.running.take();
        if let Some((_, lines)) = &in_case {
            // What the job printed of the case it was in.
            print_lines(lines);
        }
        let stopped = status.code() == Some(130);
        if !status.success() && !stopped && (in_case.is_some() || status.code().is_none()) {
            let place = in_case.map_or_else(
                || format!("job {} (between two cases)", k + 1),
                |(id, _)| format!("{id}: the job running it"),
            );
            eprintln!(
                "taskmem: {place} {}; the {} case(s) finished are in {}",
                crate::child::ended(&status),
                ended.finished,
                summary.display()
            );
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
    Ok(())
}

/// Removes the claims of runs that were killed (`.jobs-<pid>-*` of a process that is gone).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(".jobs-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !taskmem::summary::journal::alive(pid)) {
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
    #[cfg(not(unix))]
    let _ = child;
}

/// Puts the job in a process group of its own (Ctrl-C on the terminal reaches this process
/// only, which passes it on once), and has it killed when this process dies (Linux), so a
/// killed run leaves no job behind.
fn detach(cmd: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: getpid before the fork; between fork and exec only prctl, getppid and
        // _exit, which are async-signal-safe and touch no memory of the parent.
        let parent = unsafe { libc::getpid() };
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // The run died before the line above: nobody would watch this job.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(unix))]
    let _ = cmd;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Runtime, Strategy};

    fn case(n: usize, strategy: Strategy) -> Case {
        crate::matrix::cases_bounded(&[n], 1000)
            .into_iter()
            .find(|c| c.runtime == Runtime::TOKIO_CT && c.strategy == strategy)
            .unwrap()
    }

    #[test]
    fn never_more_jobs_than_cases_and_always_one() {
        let spawn = |n| case(n, Strategy::SPAWN);
        assert_eq!(count(Some(4), &[spawn(1)]), 1);
        assert_eq!(count(Some(2), &[spawn(1), spawn(10)]), 2);
        assert_eq!(count(None, &[]), 1);
        assert!(count(None, &[spawn(1), spawn(10), spawn(100)]) >= 1);
    }

    #[test]
    fn a_pair_is_taken_by_one_job_with_every_n() {
        let dir = std::env::temp_dir().join(format!("taskmem-claims-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let claims = || Claims {
            dir: dir.clone(),
            mine: RefCell::default(),
        };
        let (a, b) = (claims(), claims());
        let spawn = |n| case(n, Strategy::SPAWN);
        assert_eq!(a.take(&spawn(1)), Ok(true));
        assert_eq!(b.take(&spawn(1)), Ok(false));
        assert_eq!(b.take(&spawn(10)), Ok(false), "the pair is a's");
        assert_eq!(a.take(&spawn(10)), Ok(true), "a runs every N of it");
        assert_eq!(b.take(&case(10, Strategy::JOIN_ALL)), Ok(true));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            a.take(&case(1, Strategy::JOIN_ALL)),
            Ok(false),
            "the run is over"
        );
    }
}
