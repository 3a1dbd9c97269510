//! Running a built peer: the command of one run, the machine's limits on a
//! one-thread-per-task peer, and the `done N spawn_ms=MS` line it prints at the end.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::Peer;
use super::template::{Vars, procs_for};
use super::toolchain::Toolchain;

/// A built peer, ready to run.
#[derive(Debug, Clone)]
pub struct Built {
    /// The peer's id.
    pub id: String,
    /// Its build directory (absolute): `{build}`.
    pub build_dir: PathBuf,
    /// Whether this call built it (false: the earlier build was up to date).
    pub rebuilt: bool,
    /// The toolchain it was built with.
    pub toolchain: Toolchain,
    pub(super) peer: Peer,
}

impl Built {
    /// The command of one run: `n` tasks, each sleeping `sleep` (whole milliseconds). It execs
    /// the measured program directly; hand it to [`crate::child::run_measured`].
    pub fn command(&self, n: u64, sleep: Duration) -> Command {
        self.command_with_args(&n.to_string(), &sleep.as_millis().to_string())
    }

    /// The command of one run with `{n}` and `{sleep_ms}` given as text, which need not be
    /// valid (to check a peer's answer to bad arguments). `{procs}` follows `n` when it is a
    /// number, else is the default floor.
    pub fn command_with_args(&self, n: &str, sleep_ms: &str) -> Command {
        let procs = procs_for(n.parse().unwrap_or(0)).to_string();
        let vars = Vars {
            n: Some(n),
            sleep_ms: Some(sleep_ms),
            procs: Some(procs),
            ..self
                .peer
                .vars(&self.build_dir, self.toolchain.tool.as_deref())
        };
        let mut cmd = Peer::command(&self.peer.run, &vars);
        cmd.current_dir(&self.peer.src);
        cmd
    }

    /// The peer this was built from.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }
}

impl Peer {
    /// Why `n` tasks of this peer cannot run on this machine, if they cannot: for a
    /// one-thread-per-task peer, the kernel, resource and cgroup limits on threads
    /// ([`crate::limits::check_threads`]); for every peer, memory
    /// ([`crate::limits::check_bytes`], at [`crate::limits::PEER_TASK_COST_BYTES`] per task, or
    /// [`crate::limits::THREAD_COST_BYTES`] per thread): one line naming the limit, so that
    /// a peer past the cgroup's memory limit is skipped, not killed.
    pub fn check_limits(&self, n: u64) -> Result<(), String> {
        let why = |e: crate::workload::CaseError| match e {
            crate::workload::CaseError::Skipped(why) | crate::workload::CaseError::Failed(why) => {
                why
            }
        };
        let per_task = if self.threads {
            crate::limits::check_threads(n).map_err(why)?;
            crate::limits::THREAD_COST_BYTES
        } else {
            crate::limits::PEER_TASK_COST_BYTES
        };
        crate::limits::check_bytes(
            &format!("{} at N = {n}", self.id),
            n.saturating_mul(per_task),
        )
        .map_err(why)
    }
}

/// What a peer prints when it ends: `done N spawn_ms=MS`, the task count and how long starting
/// the N tasks took (from before the first to after the last, inside the program).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The task count the peer ran.
    pub n: u64,
    /// How long starting the tasks took.
    pub spawn: Duration,
}

impl Done {
    /// Reads the last non-empty line of a peer's stdout; one line when it is not `done N
    /// spawn_ms=MS`.
    pub fn parse(stdout: &str) -> Result<Done, String> {
        let line = stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let bad =
            || format!("expected `done N spawn_ms=MS` at the end of the output, got {line:?}");
        let mut words = line.split_whitespace();
        if words.next() != Some("done") {
            return Err(bad());
        }
        let n = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
        let ms: u64 = words
            .next()
            .and_then(|w| w.strip_prefix("spawn_ms="))
            .and_then(|w| w.parse().ok())
            .ok_or_else(bad)?;
        if words.next().is_some() {
            return Err(bad());
        }
        Ok(Done {
            n,
            spawn: Duration::from_millis(ms),
        })
    }

    /// A warning when starting the tasks took at least `sleep`: where tasks run while the
    /// program is still starting more (goroutines, threads, BEAM processes, .NET timers), the
    /// first ones may have ended before the last started, so the peak may fall short of N tasks
    /// alive at once. (Node.js and asyncio fire no timer before the spawning loop ends, so for
    /// them the warning errs on the safe side.)
    pub fn overlap_warning(&self, sleep: Duration) -> Option<String> {
        (self.spawn >= sleep).then(|| {
            format!(
                "starting the {} tasks took {} ms, at least the {} ms sleep: the first may have \
                 ended before the last started, so the peak may be below {} tasks alive at once \
                 (use a longer sleep)",
                self.n,
                self.spawn.as_millis(),
                sleep.as_millis(),
                self.n
            )
        })
    }
}
