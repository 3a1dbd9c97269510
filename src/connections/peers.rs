//! The same idle connections held by servers in other languages, measured whole-process like
//! the sweep's peers: Go's `net/http` and a goroutine per raw TCP socket (`peers/go-conn`),
//! Node.js's `http` and `net` servers (`peers/node-conn`).
//!
//! A peer server prints `listening PORT`, then `idle N` once it has accepted N connections
//! (raw TCP) or answered N requests (HTTP/1.1). Its resident set (`VmRSS` of
//! `/proc/PID/status`) is read once it listens, idle, and again once the client
//! (`taskmem-conn-client`, the Rust cases' own) has read every response and the server said
//! `idle N`; the growth divided by N is its bytes per connection. The kernel's share is not
//! read for peers (it is the same sockets; see [`super::kernel`]). Every wait is bounded; the
//! server is killed at the end of the case and exits by itself if its stdin closes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Kind;

/// How long a peer may take to listen, and to hold N connections.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// A peer server program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerServer {
    /// Go: `net/http`, and a goroutine per raw TCP connection.
    Go,
    /// Node.js: the `http` and `net` modules.
    Node,
}

impl PeerServer {
    /// Both peers.
    pub const ALL: [PeerServer; 2] = [PeerServer::Go, PeerServer::Node];

    /// The id's first segment: `go`, `node`.
    pub fn id(self) -> &'static str {
        match self {
            PeerServer::Go => "go",
            PeerServer::Node => "node",
        }
    }

    /// What the report calls it.
    pub fn label(self) -> &'static str {
        match self {
            PeerServer::Go => "Go net/http, goroutines",
            PeerServer::Node => "Node.js http, net",
        }
    }

    /// The kinds it serves.
    pub fn kinds(self) -> [Kind; 2] {
        [Kind::Tcp, Kind::Http1]
    }

    /// Builds the server if needed (Go: `go build` into `build_dir`) and returns the command
    /// that runs it for `kind`; one line when the toolchain is missing or the build fails.
    pub fn prepare(self, peers_dir: &Path, build_dir: &Path) -> Result<Prepared, String> {
        match self {
            PeerServer::Go => {
                let src = peers_dir.join("go-conn");
                // Absolute: `go build` runs in the source directory, where a relative output
                // path would land (and the server would then not be found).
                let out = std::path::absolute(build_dir.join("go-conn"))
                    .map_err(|e| format!("cannot resolve {}: {e}", build_dir.display()))?;
                std::fs::create_dir_all(build_dir)
                    .map_err(|e| format!("cannot create {}: {e}", build_dir.display()))?;
                let status = Command::new("go")
                    .args(["build", "-o"])
                    .arg(&out)
                    .arg(".")
                    .current_dir(&src)
                    .stdout(Stdio::null())
                    .status()
                    .map_err(|e| format!("go is not installed ({e}): apt-get install golang-go"))?;
                if !status.success() {
                    return Err(format!("go build in {} failed ({status})", src.display()));
                }
                Ok(Prepared {
                    program: out,
                    args: vec![],
                })
            }
            PeerServer::Node => {
                let version = Command::new("node").arg("--version").output();
                if !version.is_ok_and(|o| o.status.success()) {
                    return Err("node is not installed: apt-get install nodejs".into());
                }
                Ok(Prepared {
                    program: PathBuf::from("node"),
                    args: vec![
                        peers_dir
                            .join("node-conn")
                            .join("main.js")
                            .to_string_lossy()
                            .into_owned(),
                    ],
                })
            }
        }
    }
}

/// A peer ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    program: PathBuf,
    args: Vec<String>,
}

/// One run of a peer holding N idle connections.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeerRun {
    /// The server's resident set once listening, idle, bytes.
    pub rss_before: u64,
    /// Its resident set holding N idle connections, bytes.
    pub rss_peak: u64,
    /// Seconds from the client's start to the server holding N idle connections.
    pub open_seconds: f64,
}

impl PeerRun {
    /// Resident bytes per connection.
    pub fn per_connection(&self, n: usize) -> f64 {
        (self.rss_peak as f64 - self.rss_before as f64) / n.max(1) as f64
    }
}

/// Runs `peer` holding `n` idle connections of `kind` opened by `client`.
pub fn run(peer: &Prepared, kind: Kind, n: usize, client: &Path) -> Result<PeerRun, String> {
    let mut server = Command::new(&peer.program)
        .args(&peer.args)
        .args([kind.id(), &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", peer.program.display()))?;
    let result = hold(&mut server, kind, n, client);
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn hold(server: &mut Child, kind: Kind, n: usize, client: &Path) -> Result<PeerRun, String> {
    let stdout = server.stdout.take().ok_or("the peer has no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + PEER_TIMEOUT;
    let next = |what: &str| -> Result<String, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        lines
            .recv_timeout(left)
            .map_err(|_| format!("the peer did not print `{what}` within {PEER_TIMEOUT:?}"))
    };
    let line = next("listening PORT")?;
    let port: u16 = line
        .strip_prefix("listening ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("expected `listening PORT`, got {line:?}"))?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = rss_of(server.id())?;
    let start = Instant::now();
    let mut client = Command::new(client)
        .args([format!("127.0.0.1:{port}"), kind.id().into(), n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", client.display()))?;
    let outcome = (|| {
        client
            .stdin
            .as_mut()
            .ok_or("the client has no stdin")?
            .write_all(b"g")
            .map_err(|e| format!("the client process is gone: {e}"))?;
        let line = next("idle N")?;
        if line.trim() != format!("idle {n}") {
            return Err(format!("expected `idle {n}`, got {line:?}"));
        }
        let open_seconds = start.elapsed().as_secs_f64();
        // The last response's bytes on their way, the runtime's bookkeeping after it.
        std::thread::sleep(Duration::from_millis(500));
        Ok(PeerRun {
            rss_before,
            rss_peak: rss_of(server.id())?,
            open_seconds,
        })
    })();
    // The server's end closes every connection; the client then ends its round and exits
    // once its stdin closes.
    let _ = server.kill();
    let _ = server.wait();
    drop(client.stdin.take());
    let waited = Instant::now() + Duration::from_secs(10);
    while Instant::now() < waited {
        if let Ok(Some(_)) = client.try_wait() {
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = client.kill();
    let _ = client.wait();
    outcome
}

/// `VmRSS` of process `pid`, bytes.
fn rss_of(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmRSS in {path}"))
}
