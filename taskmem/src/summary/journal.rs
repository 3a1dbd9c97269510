//! Nothing lost: every case is on disk as soon as it is measured, and two runs at once never
//! lose each other's cases.
//!
//! A user's groups ([`crate::group`]) and the taskmem suite record each case
//! through a [`Journal`] as soon as it is measured or skipped:
//!
//! 1. the case is appended, one JSON line, to this run's journal beside the summary
//!    (`.summary.json.journal-<pid>-<k>`), and synced;
//! 2. the summary is updated with it under an exclusive lock (`flock` on
//!    `summary.json.lock`): read, merged by case id ([`crate::summary::merge`]), written
//!    atomically. Two runs at once take turns on the lock, each merging over the other's
//!    latest file, so neither loses a case.
//!
//! A run that ends normally removes its journal. A run killed (SIGKILL, the kernel's OOM
//! killer, a closed terminal) keeps every case it finished in the summary; the next run to
//! open a journal finds the dead run's journal, folds in any case the summary lacks (one
//! killed between the two steps) and says what it recovered, in one line.
//!
//! The lock is waited for at most [`LOCK_WAIT`]; past that, the update fails with one line
//! naming the lock file (a stopped process holding it), and the case stays in the journal.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::summary::{self, CaseSummary, Pairing, Skip, Summary};

/// How long an update waits for another run's lock on the summary.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// One line of a journal: a case measured, or skipped with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
// One entry per case, read and written one at a time: boxing the large variant would save
// nothing that matters.
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    /// A measured case.
    Case(CaseSummary),
    /// A case skipped before it ran.
    Skip(Skip),
}

impl Entry {
    fn id(&self) -> &str {
        match self {
            Entry::Case(c) => &c.id,
            Entry::Skip(s) => &s.id,
        }
    }
}

/// An exclusive lock on a summary file, held until dropped.
pub struct Lock {
    _file: File,
}

/// Takes the lock of `summary` (`<summary>.lock`), waiting at most [`LOCK_WAIT`].
pub fn lock(summary: &Path) -> Result<Lock, String> {
    let path = sibling(summary, "", ".lock");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open the lock {}: {e}", path.display()))?;
    let start = Instant::now();
    loop {
        if try_lock(&file) {
            return Ok(Lock { _file: file });
        }
        if start.elapsed() > LOCK_WAIT {
            return Err(format!(
                "another process has held {} for over {} s; the summary was not updated",
                path.display(),
                LOCK_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; released when the file is closed.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> bool {
    true
}

/// Merges `measured` and `skipped` into the summary at `path` under its lock
/// ([`summary::merge`], with `pairing`) and writes it atomically; returns the summary written.
pub fn update(
    path: &Path,
    measured: Vec<CaseSummary>,
    skipped: Vec<Skip>,
    pairing: Option<Pairing>,
) -> Result<Summary, String> {
    let _lock = lock(path)?;
    let earlier = summary::load(path).ok();
    let merged = summary::merge(earlier, measured, skipped, pairing);
    summary::save(path, &merged)?;
    Ok(merged)
}

/// `<dir>/<prefix><name><suffix>` for the summary file `<dir>/<name>`.
fn sibling(summary: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = summary
        .file_name()
        .map_or("summary.json".into(), |n| n.to_string_lossy().into_owned());
    summary.with_file_name(format!("{prefix}{name}{suffix}"))
}

/// This run's record of the cases it measured, and the summary kept up to date with each.
pub struct Journal {
    summary: PathBuf,
    file: PathBuf,
    recorded: usize,
    pairing: Option<Pairing>,
}

impl Journal {
    /// A journal for the summary at `summary`, merging with `pairing` (see
    /// [`summary::merge`]). First recovers the journals of runs that died, with one line per
    /// such run on stdout.
    pub fn open(summary: &Path, pairing: Option<Pairing>) -> Journal {
        let (journal, recovered) = Journal::open_with(summary, pairing);
        for r in recovered {
            println!("taskmem: {r}");
        }
        journal
    }

    /// [`Journal::open`] returning the recovery lines instead of printing them.
    pub fn open_with(summary: &Path, pairing: Option<Pairing>) -> (Journal, Vec<String>) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let file = sibling(
            summary,
            ".",
            &format!(".journal-{}-{k}", std::process::id()),
        );
        let recovered = recover(summary, pairing);
        let journal = Journal {
            summary: summary.to_path_buf(),
            file,
            recorded: 0,
            pairing,
        };
        (journal, recovered)
    }

    /// The summary file this journal keeps up to date.
    pub fn summary_path(&self) -> &Path {
        &self.summary
    }

    /// Cases recorded so far by this journal.
    pub fn recorded(&self) -> usize {
        self.recorded
    }

    /// Records `entry`: appended to the journal (synced), then merged into the summary under
    /// its lock. An error is one line; the entry is in the journal when it got that far.
    pub fn record(&mut self, entry: Entry) -> Result<(), String> {
        let mut line = serde_json::to_string(&entry)
            .map_err(|e| format!("cannot encode {}: {e}", entry.id()))?;
        line.push('\n');
        // A fresh target directory has no taskmem/ yet.
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let appended = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.sync_data()
            });
        if let Err(e) = appended {
            return Err(format!("cannot write {}: {e}", self.file.display()));
        }
        let (measured, skipped) = match entry {
            Entry::Case(c) => (vec![c], vec![]),
            Entry::Skip(s) => (vec![], vec![s]),
        };
        update(&self.summary, measured, skipped, self.pairing)?;
        self.recorded += 1;
        Ok(())
    }

    /// Ends the journal: every case is in the summary, so the journal file goes.
    pub fn close(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Whether process `pid` is alive (on non-Unix: assumed alive, nothing is recovered).
pub fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists.
        if unsafe { libc::kill(pid, 0) } == 0 {
            // A zombie exists until its parent waits for it, but its run is over (a job
            // whose parent was killed waits for init to reap it).
            return !zombie(pid);
        }
        std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Whether `pid` is a zombie (state `Z` in `/proc/<pid>/stat`; false where there is none).
#[cfg(unix)]
fn zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z')))
}

/// The pid in a journal's file name `.<summary>.journal-<pid>-<k>`, for `summary`'s journals.
fn journal_pid(file_name: &str, summary_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix(&format!(".{summary_name}.journal-"))?;
    let (pid, k) = rest.split_once('-')?;
    k.parse::<usize>().ok()?;
    pid.parse().ok()
}

/// The entries of a journal's text; a last line cut short by a kill is left out.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Folds the journals of dead runs into the summary; one line per journal found.
fn recover(summary: &Path, pairing: Option<Pairing>) -> Vec<String> {
    let dir = summary
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = summary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for file in entries.flatten() {
        let file_name = file.file_name().to_string_lossy().into_owned();
        let Some(pid) = journal_pid(&file_name, &name) else {
            continue;
        };
        if pid == std::process::id() || alive(pid) {
            continue;
        }
        match recover_one(summary, &file.path(), pairing) {
            Ok((total, folded)) => {
                lines.push(format!(
                    "an earlier run (pid {pid}) ended before it finished; its {total} \
                     recorded case(s) are in {}{}",
                    summary.display(),
                    if folded > 0 {
                        format!(" ({folded} recovered from its journal)")
                    } else {
                        String::new()
                    }
                ));
                let _ = std::fs::remove_file(file.path());
            }
            Err(e) => lines.push(format!("cannot recover {}: {e}", file.path().display())),
        }
    }
    lines
}

/// Folds one dead run's journal into the summary: the entries whose case the summary does
/// not hold at all (a later run's result for the same case is newer). Returns (entries,
/// folded in).
fn recover_one(
    summary: &Path,
    journal: &Path,
    pairing: Option<Pairing>,
) -> Result<(usize, usize), String> {
    let file = File::open(journal).map_err(|e| e.to_string())?;
    let text: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .collect();
    let entries = parse(&text.join("\n"));
    let _lock = lock(summary)?;
    let earlier = summary::load(summary).ok();
    let known: std::collections::BTreeSet<String> = earlier
        .iter()
        .flat_map(|s| {
            s.pairs
                .iter()
                .flat_map(|p| p.cases.iter().map(|c| c.id.clone()))
                .chain(s.skipped.iter().map(|k| k.id.clone()))
        })
        .collect();
    let (mut measured, mut skipped) = (Vec::new(), Vec::new());
    for e in entries.iter().filter(|e| !known.contains(e.id())) {
        match e.clone() {
            Entry::Case(c) => measured.push(c),
            Entry::Skip(s) => skipped.push(s),
        }
    }
    let folded = measured.len() + skipped.len();
    if folded > 0 {
        let merged = summary::merge(earlier, measured, skipped, pairing);
        summary::save(summary, &merged)?;
    }
    Ok((entries.len(), folded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_names() {
        assert_eq!(
            journal_pid(".summary.json.journal-123-0", "summary.json"),
            Some(123)
        );
        assert_eq!(
            journal_pid(".summary.json.journal-x-0", "summary.json"),
            None
        );
        assert_eq!(journal_pid(".other.json.journal-1-0", "summary.json"), None);
        assert_eq!(journal_pid("summary.json.lock", "summary.json"), None);
    }

    #[test]
    fn a_cut_line_is_left_out() {
        let skip = Entry::Skip(Skip {
            id: "a/b/1".into(),
            reason: "r".into(),
        });
        let line = serde_json::to_string(&skip).unwrap();
        let text = format!("{line}\n{}", &line[..line.len() / 2]);
        assert_eq!(parse(&text), vec![skip]);
    }
}
