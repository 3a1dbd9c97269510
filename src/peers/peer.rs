//! One peer program as the manifest describes it, checked: its fields, its build directory,
//! and a command made from one of its templates.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::template::{Vars, expand};

/// One peer program.
#[derive(Debug, Clone)]
pub struct Peer {
    /// `language/variant`, e.g. `go/goroutines`.
    pub id: String,
    /// What a table calls it, e.g. "Go goroutines".
    pub label: String,
    /// Whether every task is one OS thread (the machine's thread limits apply).
    pub threads: bool,
    /// How to install its toolchain on Debian.
    pub install: String,
    /// Its source directory (absolute).
    pub src: PathBuf,
    /// The manifest's directory (absolute): `{peers}`.
    pub(super) peers_dir: PathBuf,
    /// The `locate` command, when the peer has one.
    pub(super) locate: Option<Vec<String>>,
    /// The `check` commands.
    pub(super) check: Vec<Vec<String>>,
    /// The `build` commands.
    pub(super) build: Vec<Vec<String>>,
    /// The `run` command.
    pub(super) run: Vec<String>,
}

impl Peer {
    /// This peer's build directory under `build_root`: `<build_root>/<id>`.
    pub fn build_dir(&self, build_root: &Path) -> PathBuf {
        build_root.join(&self.id)
    }

    pub(super) fn vars<'a>(&'a self, build: &'a Path, tool: Option<&'a str>) -> Vars<'a> {
        Vars {
            src: &self.src,
            build,
            peers: &self.peers_dir,
            tool,
            n: None,
            sleep_ms: None,
            procs: None,
        }
    }

    pub(super) fn command(argv: &[String], vars: &Vars) -> Command {
        let mut words = argv.iter().map(|w| expand(w, vars));
        let mut cmd = Command::new(words.next().unwrap_or_default());
        cmd.args(words);
        cmd
    }
}
