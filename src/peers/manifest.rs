//! The manifest, `peers/peers.toml`: reading it, and checking every peer's fields, commands
//! and placeholders so that a malformed one is a one-line error naming the file, the peer and
//! the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::peer::Peer;
use super::template::placeholders;

/// Placeholders every command may use.
const PATHS: [&str; 2] = ["src", "peers"];

/// Placeholders only `run` may use.
const RUN_ONLY: [&str; 3] = ["n", "sleep_ms", "procs"];

/// The manifest's path in this source tree: `<crate root>/peers/peers.toml`.
pub fn default_manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join("peers.toml")
}

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
}
