//! Surviving the machine: the suite's bench run as a child process (this binary, re-run with
//! `TASKMEM_RESILIENCE_CHILD=suite`, is the memory bench), killed with SIGKILL mid-run, run
//! twice at once, and run inside a small memory cgroup.
//!
//! Run with: `cargo test --test resilience` (about a minute; the cgroup part needs root and
//! a cgroup v1 memory controller or a v2 hierarchy with the memory controller; otherwise it
//! says why it skipped).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taskmem::summary::{self, Summary};
use taskmem_suite::config::Config;

taskmem::use_tracked_jemalloc!();

fn temp_dir(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("taskmem-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The bench as a child: `filter` at `sizes`, its target directory `dir`, output in
/// `dir/<name>.out`.
fn bench(dir: &Path, name: &str, sizes: &str, filter: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TASKMEM_") || key.starts_with("CRITERION") {
            cmd.env_remove(key);
        }
    }
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).expect("output file");
    cmd.env("TASKMEM_RESILIENCE_CHILD", "suite")
        .env("TASKMEM_SIZES", sizes)
        .env("CARGO_TARGET_DIR", dir)
        .args(["--bench", "--noplot", filter])
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out);
    cmd
}

fn output(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default()
}

fn summary_path(dir: &Path) -> PathBuf {
    dir.join("taskmem").join("summary.json")
}

/// Every case id in the summary, measured or skipped.
fn ids(s: &Summary) -> Vec<String> {
    s.pairs
        .iter()
        .flat_map(|p| p.cases.iter().map(|c| c.id.clone()))
        .chain(s.skipped.iter().map(|k| k.id.clone()))
        .collect()
}

fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the bench did not finish within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A run killed with SIGKILL at a random point after its second case keeps every case it
/// finished; at most the case in flight is lost, and the next run says what it recovered.
fn a_killed_run_keeps_its_finished_cases() {
    let dir = temp_dir("killed");
    let mut child = bench(&dir, "killed", "1,10,100", "^tokio-ct/")
        .spawn()
        .expect("bench starts");
    let path = summary_path(&dir);
    let start = Instant::now();
    while summary::load(&path).map_or(0, |s| ids(&s).len()) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no two cases within 300 s: {}",
            output(&dir, "killed")
        );
        assert!(child.try_wait().unwrap().is_none(), "the bench ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(u64::from(nanos % 3000)));
    let jobs = jobs_of(child.id());
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(status.code().is_none(), "ended by a signal: {status:?}");
    // Its jobs die with it (PR_SET_PDEATHSIG).
    let start_kill = Instant::now();
    while jobs.iter().any(|&pid| alive(pid)) {
        assert!(
            start_kill.elapsed() < Duration::from_secs(10),
            "jobs {jobs:?} outlived the run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = output(&dir, "killed");
    // The suite prints a case's line just before recording it.
    let finished = text.matches(" per task [").count() + text.matches(": skipped: ").count();
    let saved = ids(&summary::load(&path).expect("a summary")).len();
    let lost = finished.saturating_sub(saved);
    println!(
        "killed after {:.1} s: {finished} case(s) finished, {saved} in the summary, {lost} lost",
        start.elapsed().as_secs_f64()
    );
    assert!(
        saved >= 2 && saved + 1 >= finished,
        "{finished} finished, {saved} saved"
    );
    let (_journal, recovered) =
        taskmem::summary::Journal::open_with(&path, Some(taskmem_suite::pairs::pairing));
    println!("next run: {recovered:?}");
    // One journal per job that recorded a case (the run and every job keep their own).
    assert!(
        (1..=jobs.len().max(1)).contains(&recovered.len()),
        "{} jobs: {recovered:?}",
        jobs.len()
    );
    let in_journals: usize = recovered
        .iter()
        .map(|r| {
            let count = r.split("its ").nth(1).and_then(|t| t.split(' ').next());
            count.and_then(|c| c.parse::<usize>().ok()).expect(r)
        })
        .sum();
    // Killed between the journal line and the summary update, a job's journal holds one
    // more, which the recovery folds in.
    assert!(
        (saved..=saved + jobs.len()).contains(&in_journals),
        "{saved} saved, journals {recovered:?}"
    );
    // Recovered once: the dead run's journal is gone.
    let (_journal, again) =
        taskmem::summary::Journal::open_with(&path, Some(taskmem_suite::pairs::pairing));
    assert!(again.is_empty(), "{again:?}");
}

/// The processes `pid` started (a run's jobs).
fn jobs_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn alive(pid: i32) -> bool {
    // A zombie is dead too: its state in /proc/<pid>/stat is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(") ").next().is_some_and(|t| !t.starts_with('Z')))
}

/// Two jobs share the cases: each case is measured once and its lines are printed together
/// (no other case's lines inside them), and every case is in the summary.
fn two_jobs_print_each_case_whole() {
    let dir = temp_dir("jobs");
    let mut cmd = bench(
        &dir,
        "jobs",
        "1,10,1000",
        "^(tokio-ct|smol)/(spawn|join_all)/",
    );
    cmd.env("TASKMEM_JOBS", "2");
    let status = wait(
        &mut cmd.spawn().expect("bench starts"),
        Duration::from_secs(600),
    );
    let text = output(&dir, "jobs");
    assert!(status.success(), "{status:?}: {text}");
    let config = Config::from_parts(
        Some("1,10,1000"),
        None,
        &["^(tokio-ct|smol)/(spawn|join_all)/".to_string()],
    )
    .unwrap();
    let cases: Vec<String> = config.cases().iter().map(|c| c.id()).collect();
    // A case's lines start with its id and end with its "per task [" line.
    let mut open: Option<&str> = None;
    let mut whole = 0;
    for line in text.lines() {
        let id = cases.iter().find(|id| {
            line.strip_prefix(id.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        });
        if let Some(id) = id {
            assert!(
                open.is_none_or(|o| o == id),
                "{id} starts inside {open:?}: {text}"
            );
            open = Some(id);
        }
        if line.contains(" per task [") {
            assert!(open.is_some(), "a result outside any case: {line}");
            open = None;
            whole += 1;
        }
    }
    assert_eq!(whole, cases.len(), "{text}");
    assert!(!text.contains("Benchmarking "), "{text}");
    let have = ids(&summary::load(&summary_path(&dir)).expect("a summary"));
    for id in &cases {
        assert_eq!(
            have.iter().filter(|h| *h == id).count(),
            1,
            "{id}: {have:?}"
        );
    }
    println!("two jobs: {whole} cases, each printed whole and measured once");
}

/// A job killed by the kernel (SIGKILL, as the OOM killer does) ends the run: one line
/// naming the case it was in and how it ended, exit code 1, the other job stopped, and every
/// finished case kept.
fn a_killed_job_ends_the_run_in_one_line() {
    let dir = temp_dir("killed-job");
    let mut cmd = bench(&dir, "killed-job", "1,100000", "^tokio-ct/");
    cmd.env("TASKMEM_JOBS", "2");
    let mut child = cmd.spawn().expect("bench starts");
    let path = summary_path(&dir);
    let start = Instant::now();
    while summary::load(&path).map_or(0, |s| ids(&s).len()) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no case in 300 s"
        );
        assert!(child.try_wait().unwrap().is_none(), "the bench ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let jobs = jobs_of(child.id());
    assert_eq!(jobs.len(), 2, "two jobs: {jobs:?}");
    // SAFETY: kill sends a signal to a process this test started (by way of the bench).
    unsafe { libc::kill(jobs[0], libc::SIGKILL) };
    let status = wait(&mut child, Duration::from_secs(60));
    let text = output(&dir, "killed-job");
    assert_eq!(status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("was killed by signal 9"))
        .collect();
    println!("a job killed: {lines:?}");
    assert_eq!(lines.len(), 1, "{text}");
    // It names the case it was in, or says it was between two.
    assert!(
        lines[0].starts_with("taskmem: tokio-ct/")
            || lines[0].starts_with("taskmem: job 1 (between two cases)"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        jobs.iter().all(|&pid| !alive(pid)),
        "a job outlived the run"
    );
    let saved = ids(&summary::load(&path).expect("a summary")).len();
    assert!(saved >= 1, "{text}");
}

/// Two filtered runs at once: both sets of cases end up in the summary.
fn two_runs_at_once_keep_both() {
    let dir = temp_dir("two");
    let filters = ["^tokio-ct/spawn/", "^smol/spawn/"];
    let mut children: Vec<Child> = filters
        .iter()
        .enumerate()
        .map(|(i, f)| bench(&dir, &format!("run{i}"), "1,10", f).spawn().unwrap())
        .collect();
    for (i, c) in children.iter_mut().enumerate() {
        let status = wait(c, Duration::from_secs(600));
        assert!(status.success(), "{}", output(&dir, &format!("run{i}")));
    }
    let s = summary::load(&summary_path(&dir)).expect("a summary");
    let have = ids(&s);
    let mut expected = 0;
    for f in filters {
        let config = Config::from_parts(Some("1,10"), None, &[f.to_string()]).unwrap();
        for case in config.cases() {
            expected += 1;
            assert!(have.contains(&case.id()), "{} lost: {have:?}", case.id());
        }
    }
    println!("two runs at once: all {expected} cases of both in the summary");
}

/// The cgroup directory of this process's memory controller, and whether it is v2.
fn memory_cgroup() -> Result<(PathBuf, bool), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root: cannot create a cgroup".into());
    }
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let (v2, path) = taskmem::probe::cgroup::cgroup_path(&text, "memory")
        .ok_or("no memory controller in /proc/self/cgroup")?;
    let root = Path::new("/sys/fs/cgroup");
    let mount = if !v2 {
        root.join("memory")
    } else if root.join("cgroup.controllers").is_file() {
        root.to_path_buf()
    } else {
        root.join("unified")
    };
    let own = mount.join(path.trim_start_matches('/'));
    let file = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    if !own.join(file).is_file() && !v2 {
        return Err(format!("no {} here", own.join(file).display()));
    }
    Ok((own, v2))
}

/// Inside a 200 MiB memory cgroup, `tokio-mt/spawn` at 10K runs and at 1M is skipped before
/// it starts, naming the cgroup's limit; the 10K result is in the summary.
fn a_small_cgroup_skips_the_big_case() {
    let (parent, v2) = match memory_cgroup() {
        Ok(c) => c,
        Err(why) => {
            println!("cgroup test skipped: {why}");
            return;
        }
    };
    let cg = parent.join(format!("taskmem-test-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&cg) {
        println!("cgroup test skipped: cannot create {}: {e}", cg.display());
        return;
    }
    let file = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    if let Err(e) = std::fs::write(cg.join(file), (200u64 << 20).to_string()) {
        let _ = std::fs::remove_dir(&cg);
        println!("cgroup test skipped: cannot write {file}: {e}");
        return;
    }
    let dir = temp_dir("cgroup");
    let mut cmd = bench(&dir, "cgroup", "10k,1m", "^tokio-mt/spawn/(10000|1000000)$");
    let procs =
        std::ffi::CString::new(cg.join("cgroup.procs").to_string_lossy().as_bytes()).expect("path");
    // SAFETY: between fork and exec only async-signal-safe calls (open, write, close).
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
            libc::close(fd);
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let status = cmd
        .spawn()
        .map(|mut c| wait(&mut c, Duration::from_secs(600)));
    let _ = std::fs::remove_dir(&cg);
    let status = status.expect("bench starts in the cgroup");
    let text = output(&dir, "cgroup");
    assert!(status.success(), "{status:?}: {text}");
    let skip_line = text
        .lines()
        .find(|l| l.starts_with("tokio-mt/spawn/1000000: skipped:"))
        .unwrap_or_else(|| panic!("1M not skipped: {text}"));
    println!("in a 200 MiB cgroup: {skip_line}");
    assert!(
        skip_line.contains("the cgroup allows 200 MiB"),
        "{skip_line}"
    );
    let s = summary::load(&summary_path(&dir)).expect("a summary");
    assert!(
        s.pairs
            .iter()
            .flat_map(|p| &p.cases)
            .any(|c| c.id == "tokio-mt/spawn/10000"),
        "the 10K result is lost"
    );
}

/// A filter that matches no case ends the bench in one line with exit code 2, and the last
/// run's results stay as they were: the summary is not rewritten, its end tables are not
/// printed as if they were this run's (they were, with a skip line naming a cgroup of the old
/// run, and exit code 0).
fn a_filter_that_matches_nothing_says_so_and_keeps_the_last_results() {
    let dir = temp_dir("nomatch");
    let status = bench(&dir, "first", "1", "^tokio-ct/join_all/1$")
        .status()
        .expect("bench runs");
    assert!(status.success(), "{}", output(&dir, "first"));
    let before = std::fs::read(summary_path(&dir)).expect("the first run's summary");
    let status = bench(&dir, "none", "1", "no-such-case")
        .status()
        .expect("bench runs");
    let out = output(&dir, "none");
    assert_eq!(status.code(), Some(2), "{out}");
    assert_eq!(
        out.trim_end(),
        "taskmem: no case matches the filter 'no-such-case' (ids look like \
         tokio-mt/spawn/1; `cargo bench --bench memory -- --list` lists them)",
        "not one line"
    );
    assert_eq!(
        std::fs::read(summary_path(&dir)).unwrap(),
        before,
        "the summary changed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if std::env::var_os("TASKMEM_RESILIENCE_CHILD").is_some() {
        taskmem_suite::suite::main();
        return;
    }
    // `cargo test -- --list` and friends: nothing to list but the one test.
    if std::env::args().any(|a| a == "--list") {
        println!("resilience: test");
        return;
    }
    a_filter_that_matches_nothing_says_so_and_keeps_the_last_results();
    a_small_cgroup_skips_the_big_case();
    a_killed_run_keeps_its_finished_cases();
    two_runs_at_once_keep_both();
    two_jobs_print_each_case_whole();
    a_killed_job_ends_the_run_in_one_line();
    println!("resilience: ok");
}
