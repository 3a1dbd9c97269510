//! Whether a peer's toolchain is installed: its `locate` and `check` commands, and the
//! versions they print.

use std::path::Path;
use std::time::Duration;

use super::Peer;
use super::template::Vars;
use crate::child::{self, ChildRun};

/// How long a toolchain check or `locate` command may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a peer's toolchain is on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Installed: the peer can be built and run.
    Ready(Toolchain),
    /// Not installed: a row saying so, not a failure.
    NotInstalled {
        /// What was missing, in one line (e.g. "`go version`: No such file or directory").
        missing: String,
        /// How to install it on Debian (the manifest's `install`).
        hint: String,
    },
}

/// A toolchain found by [`Peer::detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// The first line the first `check` command printed, e.g. "go version go1.19.8 linux/amd64".
    pub version: String,
    /// The first line each further `check` command printed (e.g. "javac 17.0.15"): a
    /// change rebuilds the peer too.
    pub others: Vec<String>,
    /// What `locate` printed (the program to run), when the peer has a `locate`.
    pub tool: Option<String>,
}

impl Peer {
    /// Runs one check or locate command; one line when it fails.
    fn probe(argv: &[String], vars: &Vars, cwd: &Path) -> Result<ChildRun, String> {
        let mut cmd = Peer::command(argv, vars);
        cmd.current_dir(cwd);
        let what = format!("`{}`", child::describe(&cmd));
        // A missing program reads "cannot run `go version`: No such file or directory ...".
        let run = child::run_measured(cmd, CHECK_TIMEOUT)?;
        run.check(&what)?;
        Ok(run)
    }

    /// Whether this peer's toolchain is installed: runs `locate` (when given) and every
    /// `check` command. Never fails: a missing toolchain is [`Status::NotInstalled`].
    pub fn detect(&self) -> Status {
        let not_installed = |missing: String| Status::NotInstalled {
            missing,
            hint: self.install.clone(),
        };
        // No `{build}` here (the manifest allows none in locate and check).
        let mut tool = None;
        if let Some(locate) = &self.locate {
            let vars = self.vars(Path::new(""), None);
            match Peer::probe(locate, &vars, &self.src) {
                Ok(run) => match run.stdout.lines().map(str::trim).find(|l| !l.is_empty()) {
                    Some(path) => tool = Some(path.to_string()),
                    None => return not_installed("locate printed nothing".into()),
                },
                Err(e) => return not_installed(e),
            }
        }
        let vars = self.vars(Path::new(""), tool.as_deref());
        let first = |t: &str| {
            t.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        };
        let mut lines = Vec::new();
        for argv in &self.check {
            match Peer::probe(argv, &vars, &self.src) {
                Ok(run) => lines.push(
                    first(&run.stdout)
                        .or_else(|| first(&run.stderr))
                        .unwrap_or_default(),
                ),
                Err(e) => return not_installed(e),
            }
        }
        let mut lines = lines.into_iter();
        Status::Ready(Toolchain {
            version: lines.next().unwrap_or_default(),
            others: lines.collect(),
            tool,
        })
    }
}
