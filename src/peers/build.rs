//! Building a peer once into `target/taskmem/peers/<id>/`, again only when its sources,
//! build commands or toolchain change (the build stamp).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Peer;
use super::run::Built;
use super::template::expand;
use super::toolchain::{Status, Toolchain};
use crate::child;

/// How long one build command may take (a first Go build compiles the standard library).
const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The stamp file in a build directory: the hash of what the build was made from.
pub(super) const STAMP: &str = ".taskmem-build-stamp";

/// Where peers are built by default: `<target>/taskmem/peers` (see
/// [`taskmem::summary::target_dir`]); each peer in its own `<id>/` below.
pub fn default_build_root() -> PathBuf {
    taskmem::summary::target_dir().join("taskmem").join("peers")
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

impl Peer {
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
                let _ = taskmem::summary::write_atomic(&log_file, log.as_bytes());
                return Err(format!(
                    "{}: build failed: {e} (full output: {})",
                    self.id,
                    log_file.display()
                ));
            }
        }
        taskmem::summary::write_atomic(&log_file, log.as_bytes())?;
        taskmem::summary::write_atomic(&stamp_file, format!("{stamp}\n").as_bytes())?;
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
