//! The peers in other languages: the same program as the published "1 million concurrent tasks"
//! comparisons, written in Go, JavaScript (Node.js), Python, Java, Elixir and C#, under
//! `peers/`, and listed in `peers/peers.toml` (its header documents every field).
//!
//! Each peer is a program `PROGRAM N SLEEP_MS` that starts N concurrent tasks, each sleeping
//! SLEEP_MS milliseconds, waits for all of them, prints `done N spawn_ms=MS` ([`Done`]: how
//! long starting the tasks took) and exits 0 (bad arguments: one line on stderr, exit code 2).
//! This module
//!
//! - loads and checks the manifest ([`Manifest::load`]): a malformed one is a one-line error
//!   naming the file, the peer and the field;
//! - finds out whether a peer's toolchain is installed ([`Peer::detect`]): [`Status::Ready`]
//!   with the toolchain's version, or [`Status::NotInstalled`] with what is missing and the
//!   Debian install hint;
//! - builds it once into `target/taskmem/peers/<id>/` ([`Peer::build`]), again only when its
//!   sources, build commands or toolchain version change;
//! - gives the command of one run ([`Built::command`]). That command execs the measured program
//!   itself (or a launcher that `exec`s it), never a shell that stays the parent, so
//!   [`crate::child::run_measured`] reads the program's own peak RSS.
//!
//! A peer whose every task is one OS thread (`threads = true`) is bounded by the machine's
//! thread limits: [`Peer::check_limits`] gives the skip reason, as the suite does for
//! `os/threads`.

use crate::child::{self, ChildRun};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The manifest's path in this source tree: `<crate root>/peers/peers.toml`.
pub fn default_manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join("peers.toml")
}

/// Where peers are built by default: `<target>/taskmem/peers` (see
/// [`crate::summary::target_dir`]); each peer in its own `<id>/` below.
pub fn default_build_root() -> PathBuf {
    crate::summary::target_dir().join("taskmem").join("peers")
}

/// How long a toolchain check or `locate` command may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one build command may take (a first Go build compiles the standard library).
const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The stamp file in a build directory: the hash of what the build was made from.
const STAMP: &str = ".taskmem-build-stamp";

/// The BEAM's default process limit, the floor of `{procs}`.
const DEFAULT_PROCS: u64 = 262_144;

/// Placeholders every command may use.
const PATHS: [&str; 2] = ["src", "peers"];

/// Placeholders only `run` may use.
const RUN_ONLY: [&str; 3] = ["n", "sleep_ms", "procs"];

/// The manifest file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    peer: Vec<PeerEntry>,
}

/// One `[[peer]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerEntry {
    id: String,
    label: String,
    dir: String,
    #[serde(default)]
    threads: bool,
    locate: Option<Vec<String>>,
    check: Vec<Vec<String>>,
    #[serde(default)]
    build: Vec<Vec<String>>,
    run: Vec<String>,
    install: String,
}

/// The peers of a manifest, checked.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Its peers, in the file's order.
    pub peers: Vec<Peer>,
}

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
    peers_dir: PathBuf,
    locate: Option<Vec<String>>,
    check: Vec<Vec<String>>,
    build: Vec<Vec<String>>,
    run: Vec<String>,
}

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

/// What [`Peer::prepare`] found.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// Built and ready to run.
    Ready(Box<Built>),
    /// Its toolchain is not installed: a row saying so, not a failure.
    NotInstalled {
        /// What was missing, in one line.
        missing: String,
        /// How to install it on Debian.
        hint: String,
    },
}

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
    peer: Peer,
}

/// The values placeholders expand to.
struct Vars<'a> {
    src: &'a Path,
    build: &'a Path,
    peers: &'a Path,
    tool: Option<&'a str>,
    n: Option<&'a str>,
    sleep_ms: Option<&'a str>,
    procs: Option<String>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        match name {
            "src" => Some(path(self.src)),
            "build" => Some(path(self.build)),
            "peers" => Some(path(self.peers)),
            "tool" => self.tool.map(str::to_string),
            "n" => self.n.map(str::to_string),
            "sleep_ms" => self.sleep_ms.map(str::to_string),
            "procs" => self.procs.clone(),
            _ => None,
        }
    }
}

/// The names of the `{placeholders}` in `text`, or an error for an unclosed or stray brace.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("'{text}' has a '}}' without its '{{'"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("'{text}' has a '{{' without its '}}'"))?;
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    Ok(names)
}

/// `template` with every placeholder replaced (the manifest was checked: all are known).
fn expand(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `{procs}` for a task count: the larger of the BEAM's default and `n + 1024`.
pub fn procs_for(n: u64) -> u64 {
    n.saturating_add(1024).max(DEFAULT_PROCS)
}

fn is_id_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Manifest {
    /// Reads and checks a manifest; every error is one line naming the file.
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = std::path::absolute(dir.unwrap_or(Path::new(".")))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Manifest::parse(&text, path, &dir)
    }

    /// Reads and checks the manifest of this source tree ([`default_manifest_path`]).
    pub fn load_default() -> Result<Manifest, String> {
        Manifest::load(&default_manifest_path())
    }

    /// Checks a manifest's text; `path` names it in errors and `dir` is where its `dir`s are.
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<Manifest, String> {
        let file: ManifestFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    let before = &text.as_bytes()[..s.start.min(text.len())];
                    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                    format!(" line {line}:")
                })
                .unwrap_or_default();
            let msg = e.message().lines().next().unwrap_or("").trim().to_string();
            format!(
                "{} is not a valid peers manifest:{line} {msg}",
                path.display()
            )
        })?;
        if file.peer.is_empty() {
            return Err(format!("{}: no [[peer]] in it", path.display()));
        }
        let mut peers: Vec<Peer> = Vec::new();
        for e in file.peer {
            let id = e.id.clone();
            let peer = Peer::from_entry(e, dir)
                .map_err(|err| format!("{}: peer '{id}': {err}", path.display()))?;
            if peers.iter().any(|p| p.id == peer.id) {
                return Err(format!(
                    "{}: peer id '{}' appears twice",
                    path.display(),
                    peer.id
                ));
            }
            peers.push(peer);
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            peers,
        })
    }

    /// The peer with this id, or one line listing the valid ids.
    pub fn get(&self, id: &str) -> Result<&Peer, String> {
        self.peers.iter().find(|p| p.id == id).ok_or_else(|| {
            format!(
                "unknown peer '{id}' (valid: {})",
                self.peers
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

impl Peer {
    fn from_entry(e: PeerEntry, dir: &Path) -> Result<Peer, String> {
        let id_ok =
            e.id.split_once('/')
                .is_some_and(|(a, b)| is_id_part(a) && is_id_part(b));
        if !id_ok {
            return Err(
                "id is not 'language/variant' (lowercase letters, digits, '-', '_')".into(),
            );
        }
        if e.label.trim().is_empty() {
            return Err("label is empty".into());
        }
        if e.install.trim().is_empty() {
            return Err("install is empty".into());
        }
        let rel = Path::new(&e.dir);
        if e.dir.is_empty() || rel.is_absolute() {
            return Err(format!(
                "dir '{}' must be a directory relative to the manifest",
                e.dir
            ));
        }
        let src = dir.join(rel);
        if !src.is_dir() {
            return Err(format!("dir '{}' is not a directory", src.display()));
        }
        if e.check.is_empty() {
            return Err("check has no command".into());
        }

        let tool: &[&str] = if e.locate.is_some() { &["tool"] } else { &[] };
        let with_build: Vec<&str> = tool.iter().copied().chain(["build"]).collect();
        let check_argv = |field: &str, argv: &[String], extra: &[&str]| {
            if argv.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(format!("{field} has an empty command"));
            }
            for word in argv {
                for name in placeholders(word).map_err(|m| format!("{field}: {m}"))? {
                    if !PATHS.contains(&name) && !extra.contains(&name) {
                        let mut valid: Vec<String> = PATHS
                            .iter()
                            .chain(extra)
                            .map(|v| format!("{{{v}}}"))
                            .collect();
                        valid.sort();
                        return Err(format!(
                            "{field} uses unknown placeholder {{{name}}} (valid there: {})",
                            valid.join(", ")
                        ));
                    }
                }
            }
            Ok(())
        };
        if let Some(locate) = &e.locate {
            check_argv("locate", locate, &[])?;
        }
        for c in &e.check {
            check_argv("check", c, tool)?;
        }
        for b in &e.build {
            check_argv("build", b, &with_build)?;
        }
        let run_names: Vec<&str> = with_build.iter().chain(&RUN_ONLY).copied().collect();
        check_argv("run", &e.run, &run_names)?;
        for needed in ["n", "sleep_ms"] {
            let used = e
                .run
                .iter()
                .any(|w| placeholders(w).is_ok_and(|p| p.contains(&needed)));
            if !used {
                return Err(format!("run does not pass {{{needed}}}"));
            }
        }
        Ok(Peer {
            id: e.id,
            label: e.label,
            threads: e.threads,
            install: e.install,
            src,
            peers_dir: dir.to_path_buf(),
            locate: e.locate,
            check: e.check,
            build: e.build,
            run: e.run,
        })
    }

    /// This peer's build directory under `build_root`: `<build_root>/<id>`.
    pub fn build_dir(&self, build_root: &Path) -> PathBuf {
        build_root.join(&self.id)
    }

    fn vars<'a>(&'a self, build: &'a Path, tool: Option<&'a str>) -> Vars<'a> {
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

    fn command(argv: &[String], vars: &Vars) -> Command {
        let mut words = argv.iter().map(|w| expand(w, vars));
        let mut cmd = Command::new(words.next().unwrap_or_default());
        cmd.args(words);
        cmd
    }

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

    /// Builds the peer into `<build_root>/<id>/` with `toolchain` (from [`Peer::detect`]),
    /// unless the build there was made from the same sources, build commands and toolchain.
    /// A failed build is one line naming the command; its full output is in `build.log` there.
    pub fn build(&self, toolchain: &Toolchain, build_root: &Path) -> Result<Built, String> {
        let build_root = std::path::absolute(build_root)
            .map_err(|e| format!("{}: {e}", build_root.display()))?;
        let build_dir = self.build_dir(&build_root);
        let built = |rebuilt| Built {
            id: self.id.clone(),
            build_dir: build_dir.clone(),
            rebuilt,
            toolchain: toolchain.clone(),
            peer: self.clone(),
        };
        let vars = self.vars(&build_dir, toolchain.tool.as_deref());
        let commands: Vec<Vec<String>> = self
            .build
            .iter()
            .map(|argv| argv.iter().map(|w| expand(w, &vars)).collect())
            .collect();
        let stamp = self.stamp(toolchain, &commands)?;
        let stamp_file = build_dir.join(STAMP);
        if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s.trim() == stamp) {
            return Ok(built(false));
        }
        std::fs::create_dir_all(&build_dir)
            .map_err(|e| format!("{}: cannot create {}: {e}", self.id, build_dir.display()))?;
        let _ = std::fs::remove_file(&stamp_file);
        let log_file = build_dir.join("build.log");
        let mut log = String::new();
        for argv in &self.build {
            let mut cmd = Peer::command(argv, &vars);
            cmd.current_dir(&self.src);
            let shown = child::describe(&cmd);
            log.push_str(&format!("$ {shown}\n"));
            let result = child::run_measured(cmd, BUILD_TIMEOUT);
            if let Ok(run) = &result {
                log.push_str(&run.stdout);
                log.push_str(&run.stderr);
            }
            let failed = result.and_then(|run| run.check(&format!("`{shown}`")));
            if let Err(e) = failed {
                log.push_str(&format!("{e}\n"));
                let _ = crate::summary::write_atomic(&log_file, log.as_bytes());
                return Err(format!(
                    "{}: build failed: {e} (full output: {})",
                    self.id,
                    log_file.display()
                ));
            }
        }
        crate::summary::write_atomic(&log_file, log.as_bytes())?;
        crate::summary::write_atomic(&stamp_file, format!("{stamp}\n").as_bytes())?;
        Ok(built(true))
    }

    /// [`Peer::detect`], then [`Peer::build`] when the toolchain is there. `Err` is a failed
    /// build (one line); a missing toolchain is [`Prepared::NotInstalled`].
    pub fn prepare(&self, build_root: &Path) -> Result<Prepared, String> {
        match self.detect() {
            Status::Ready(toolchain) => self
                .build(&toolchain, build_root)
                .map(|b| Prepared::Ready(Box::new(b))),
            Status::NotInstalled { missing, hint } => Ok(Prepared::NotInstalled { missing, hint }),
        }
    }

    /// Why `n` tasks of this peer cannot run on this machine, if they cannot: for a
    /// one-thread-per-task peer, the kernel and resource limits on threads
    /// ([`crate::limits::check_threads`]); one line naming the limit.
    pub fn check_limits(&self, n: u64) -> Result<(), String> {
        if !self.threads {
            return Ok(());
        }
        crate::limits::check_threads(n).map_err(|e| match e {
            crate::workload::CaseError::Skipped(why) | crate::workload::CaseError::Failed(why) => {
                why
            }
        })
    }

    /// A hash of everything a build is made from: the toolchain's version lines, the expanded
    /// build commands and every source file (name and contents; `bin/`, `obj/` and hidden
    /// entries left out).
    fn stamp(&self, toolchain: &Toolchain, commands: &[Vec<String>]) -> Result<String, String> {
        let mut h = Fnv::new();
        h.write(b"taskmem peer build 1\0");
        h.write(toolchain.version.as_bytes());
        for other in &toolchain.others {
            h.write(b"\0");
            h.write(other.as_bytes());
        }
        h.write(b"\0");
        h.write(toolchain.tool.as_deref().unwrap_or("").as_bytes());
        for argv in commands {
            for w in argv {
                h.write(b"\0");
                h.write(w.as_bytes());
            }
            h.write(b"\n");
        }
        let mut files = Vec::new();
        collect_files(&self.src, &self.src, &mut files)
            .map_err(|e| format!("{}: cannot read {}: {e}", self.id, self.src.display()))?;
        files.sort();
        for rel in files {
            let bytes = std::fs::read(self.src.join(&rel))
                .map_err(|e| format!("{}: cannot read {}: {e}", self.id, rel.display()))?;
            h.write(b"\0file\0");
            h.write(rel.to_string_lossy().as_bytes());
            h.write(&(bytes.len() as u64).to_le_bytes());
            h.write(&bytes);
        }
        Ok(format!("{:016x}", h.0))
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "bin" || name == "obj" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

/// 64-bit FNV-1a: a stable hash (the same across Rust releases) for build stamps.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("taskmem-peers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        dir
    }

    const GOOD: &str = r#"
[[peer]]
id = "sh/sleep"
label = "POSIX sleep"
dir = "src"
check = [["sh", "-c", "echo sh 1.0"]]
build = [["sh", "-c", "echo built >> {build}/count; cp {src}/prog.sh {build}/prog.sh"]]
run = ["sh", "{build}/prog.sh", "{n}", "{sleep_ms}", "{procs}"]
install = "apt-get install dash"
"#;

    fn parse(text: &str, dir: &Path) -> Result<Manifest, String> {
        Manifest::parse(text, Path::new("peers.toml"), dir)
    }

    fn parse_err(text: &str) -> String {
        let dir = tmp_dir("bad");
        let err = parse(text, &dir).unwrap_err();
        assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
        assert!(err.starts_with("peers.toml"), "{err}");
        err
    }

    #[test]
    fn the_shipped_manifest_loads_with_every_published_peer() {
        let m = Manifest::load_default().unwrap();
        let ids: Vec<&str> = m.peers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "go/goroutines",
                "node/promises",
                "python/asyncio",
                "python/threads",
                "java/threads",
                "java/virtual-threads",
                "elixir/processes",
                "csharp/tasks"
            ]
        );
        let threads: Vec<&str> = m
            .peers
            .iter()
            .filter(|p| p.threads)
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(threads, ["python/threads", "java/threads"]);
        assert!(m.peers.iter().all(|p| p.src.is_dir()));
    }

    #[test]
    fn placeholders_expand_in_the_run_command() {
        let dir = tmp_dir("expand");
        let m = parse(GOOD, &dir).unwrap();
        let peer = m.get("sh/sleep").unwrap();
        let tc = Toolchain {
            version: "sh 1.0".into(),
            others: Vec::new(),
            tool: None,
        };
        let built = Built {
            id: peer.id.clone(),
            build_dir: dir.join("b"),
            rebuilt: false,
            toolchain: tc,
            peer: peer.clone(),
        };
        let cmd = built.command(1_000_000, Duration::from_millis(1500));
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "sh");
        assert_eq!(
            args,
            [
                dir.join("b").join("prog.sh").to_string_lossy().into_owned(),
                "1000000".into(),
                "1500".into(),
                "1001024".into()
            ]
        );
        assert_eq!(procs_for(10), 262_144);
    }

    #[test]
    fn expand_keeps_text_around_placeholders() {
        let vars = Vars {
            src: Path::new("/s"),
            build: Path::new("/b"),
            peers: Path::new("/p"),
            tool: Some("/usr/bin/java"),
            n: Some("10"),
            sleep_ms: None,
            procs: Some("262144".into()),
        };
        assert_eq!(expand("+P {procs}", &vars), "+P 262144");
        assert_eq!(
            expand("{build}/x-{n}.{tool}", &vars),
            "/b/x-10./usr/bin/java"
        );
        assert_eq!(expand("plain", &vars), "plain");
    }

    #[test]
    fn the_build_runs_once_and_again_when_the_sources_change() {
        let dir = tmp_dir("build");
        std::fs::write(dir.join("src/prog.sh"), "echo done $1\n").unwrap();
        let m = parse(GOOD, &dir).unwrap();
        let peer = &m.peers[0];
        let Status::Ready(tc) = peer.detect() else {
            panic!("sh is not installed?")
        };
        assert_eq!(tc.version, "sh 1.0");
        let root = dir.join("target");
        let first = peer.build(&tc, &root).unwrap();
        assert!(first.rebuilt);
        assert_eq!(first.build_dir, root.join("sh/sleep"));
        let again = peer.build(&tc, &root).unwrap();
        assert!(!again.rebuilt, "an up-to-date build ran again");
        std::fs::write(dir.join("src/prog.sh"), "echo done  $1\n").unwrap();
        assert!(peer.build(&tc, &root).unwrap().rebuilt);
        let newer = Toolchain {
            version: "sh 2.0".into(),
            others: Vec::new(),
            tool: None,
        };
        assert!(peer.build(&newer, &root).unwrap().rebuilt);
        let other_compiler = Toolchain {
            others: vec!["cc 2".into()],
            ..newer
        };
        assert!(peer.build(&other_compiler, &root).unwrap().rebuilt);
        assert!(!peer.build(&other_compiler, &root).unwrap().rebuilt);
        let count = std::fs::read_to_string(root.join("sh/sleep/count")).unwrap();
        assert_eq!(count.lines().count(), 4);

        let run = child::run_measured(
            again.command(3, Duration::from_millis(1)),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(run.stdout.trim(), "done 3");
    }

    #[test]
    fn a_failed_build_is_one_line_with_its_log() {
        let dir = tmp_dir("buildfail");
        let text = GOOD.replace(
            r#"build = [["sh", "-c", "echo built >> {build}/count; cp {src}/prog.sh {build}/prog.sh"]]"#,
            r#"build = [["sh", "-c", "echo compiling; echo 'main.x:3: syntax error' >&2; exit 1"]]"#,
        );
        let m = parse(&text, &dir).unwrap();
        let tc = Toolchain {
            version: "sh".into(),
            others: Vec::new(),
            tool: None,
        };
        let err = m.peers[0].build(&tc, &dir.join("target")).unwrap_err();
        assert_eq!(err.lines().count(), 1, "{err:?}");
        assert!(
            err.starts_with("sh/sleep: build failed: `sh -c echo compiling;"),
            "{err}"
        );
        assert!(
            err.contains("exited with code 1: main.x:3: syntax error"),
            "{err}"
        );
        let log = std::fs::read_to_string(dir.join("target/sh/sleep/build.log")).unwrap();
        assert!(log.contains("compiling"), "{log}");
        // No stamp: the next call tries again.
        assert!(!dir.join("target/sh/sleep").join(STAMP).exists());
    }

    #[test]
    fn a_missing_toolchain_is_not_installed_with_the_hint() {
        let dir = tmp_dir("missing");
        let text = GOOD.replace(
            r#"check = [["sh", "-c", "echo sh 1.0"]]"#,
            r#"check = [["taskmem-no-such-compiler", "--version"]]"#,
        );
        let m = parse(&text, &dir).unwrap();
        match m.peers[0].detect() {
            Status::NotInstalled { missing, hint } => {
                assert!(
                    missing.starts_with("cannot run `taskmem-no-such-compiler --version`"),
                    "{missing}"
                );
                assert_eq!(hint, "apt-get install dash");
            }
            ready => panic!("{ready:?}"),
        }
        let prepared = m.peers[0].prepare(&dir.join("target")).unwrap();
        assert!(
            matches!(prepared, Prepared::NotInstalled { .. }),
            "{prepared:?}"
        );
        assert!(
            !dir.join("target").exists(),
            "built a peer that is not installed"
        );
    }

    #[test]
    fn locate_prints_the_tool_and_a_failing_locate_is_not_installed() {
        let dir = tmp_dir("locate");
        let text = GOOD
            .replace(
                r#"check = [["sh", "-c", "echo sh 1.0"]]"#,
                "locate = [\"sh\", \"-c\", \"echo /bin/sh\"]\ncheck = [[\"{tool}\", \"-c\", \"echo v9\"]]",
            )
            .replace(r#"run = ["sh","#, r#"run = ["{tool}","#);
        let m = parse(&text, &dir).unwrap();
        assert_eq!(
            m.peers[0].detect(),
            Status::Ready(Toolchain {
                version: "v9".into(),
                others: Vec::new(),
                tool: Some("/bin/sh".into())
            })
        );
        let text = text.replace("echo /bin/sh", "echo no java here >&2; exit 1");
        let m = parse(&text, &dir).unwrap();
        match m.peers[0].detect() {
            Status::NotInstalled { missing, .. } => {
                assert!(
                    missing.ends_with("exited with code 1: no java here"),
                    "{missing}"
                )
            }
            ready => panic!("{ready:?}"),
        }
    }

    #[test]
    fn thread_peers_are_bounded_by_the_machines_thread_limits() {
        let m = Manifest::load_default().unwrap();
        let threads = m.get("python/threads").unwrap();
        let err = threads.check_limits(100_000_000).unwrap_err();
        assert!(err.contains("100000000 OS threads exceed"), "{err}");
        assert!(threads.check_limits(10).is_ok());
        assert!(
            m.get("go/goroutines")
                .unwrap()
                .check_limits(100_000_000)
                .is_ok()
        );
    }

    #[test]
    fn the_done_line_is_read_and_a_slow_spawn_is_flagged() {
        let done = Done::parse("starting\ndone 1000000 spawn_ms=12500\n\n").unwrap();
        assert_eq!(
            done,
            Done {
                n: 1_000_000,
                spawn: Duration::from_millis(12_500)
            }
        );
        let warning = done.overlap_warning(Duration::from_secs(10)).unwrap();
        assert!(
            warning.starts_with(
                "starting the 1000000 tasks took 12500 ms, at least the 10000 ms sleep"
            ),
            "{warning}"
        );
        assert_eq!(done.overlap_warning(Duration::from_secs(20)), None);
        for bad in [
            "",
            "done 10",
            "done ten spawn_ms=1",
            "done 10 spawn=1",
            "done 10 spawn_ms=1 x",
        ] {
            let err = Done::parse(bad).unwrap_err();
            assert!(err.starts_with("expected `done N spawn_ms=MS`"), "{err}");
        }
    }

    #[test]
    fn an_unknown_peer_lists_the_valid_ones() {
        let m = Manifest::load_default().unwrap();
        let err = m.get("rust/tokio").unwrap_err();
        assert!(
            err.starts_with("unknown peer 'rust/tokio' (valid: go/goroutines, node/promises,"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_manifest_is_one_line() {
        assert!(
            parse_err("[[peer]\nid = 1")
                .contains("is not a valid peers manifest: line 1: unclosed array table")
        );
        assert!(
            parse_err(&GOOD.replace("label =", "lable ="))
                .contains("line 4: unknown field `lable`")
        );
        assert!(
            parse_err(&GOOD.replace("install = \"apt-get install dash\"", ""))
                .contains("missing field `install`")
        );
        assert!(parse_err("").contains("missing field `peer`"));
        assert!(parse_err("peer = []").contains("no [[peer]]"));
        assert!(
            parse_err(&GOOD.replace("sh/sleep", "Sleep"))
                .contains("peer 'Sleep': id is not 'language/variant'")
        );
        assert!(
            parse_err(&GOOD.replace("dir = \"src\"", "dir = \"nowhere\""))
                .contains("peer 'sh/sleep': dir '")
        );
        assert!(
            parse_err(&GOOD.replace("{procs}", "{proc}"))
                .contains("run uses unknown placeholder {proc} (valid there: {build}, {n}, {peers}, {procs}, {sleep_ms}, {src})")
        );
        assert!(
            parse_err(&GOOD.replace("\"{sleep_ms}\", ", ""))
                .contains("run does not pass {sleep_ms}")
        );
        assert!(
            parse_err(&GOOD.replace("echo sh 1.0", "echo {build}"))
                .contains("check uses unknown placeholder {build}")
        );
        assert!(
            parse_err(&GOOD.replace("echo sh 1.0", "echo {n}"))
                .contains("check uses unknown placeholder {n} (valid there: {peers}, {src})")
        );
        assert!(
            parse_err(&GOOD.replace("{build}/prog.sh\",", "{build/prog.sh\","))
                .contains("run: '{build/prog.sh' has a '{' without its '}'")
        );
        assert!(
            parse_err(&GOOD.replace("run = [\"sh\",", "run = [\"\","))
                .contains("run has an empty command")
        );
        let twice = format!("{GOOD}\n{GOOD}");
        assert!(parse_err(&twice).contains("peer id 'sh/sleep' appears twice"));
    }
}
