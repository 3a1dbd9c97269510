//! The server's side of a case: a loopback listener, the client process that connects to it,
//! and accepts bounded by a timeout.
//!
//! The client does one *round* per byte it reads on its stdin: connect N, send each its
//! request, read each response, then hold every connection until the server closes it. The
//! first `make()` of a run writes that byte (a `write(2)` of one static byte: nothing is
//! allocated inside the measured window), and every `make()` accepts one connection. After
//! the first failed accept every later one fails at once, so a broken run ends in seconds,
//! with the reason.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Kind;

/// How long one accept, or one request's arrival, may take.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// File descriptors the server process needs beside its N sockets (listener, pipes, runtime).
const FD_MARGIN: u64 = 64;

/// Why a case cannot run here: one line naming the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

/// The listener's backlog of connections not yet accepted (capped by `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 65_535;

/// A listener on `127.0.0.1` and the client process connected to it.
pub struct Server {
    kind: Kind,
    n: usize,
    listener: TcpListener,
    child: Mutex<Child>,
    stdin: Option<ChildStdin>,
    stdout: Mutex<ChildStdout>,
    made: Cell<usize>,
    failed: Mutex<Option<String>>,
}

impl Server {
    /// Listens and starts `client` (the `taskmem-conn-client` binary) for rounds of `n`
    /// connections of `kind`. A case past this process's open-files limit is a [`Skip`].
    pub fn start(kind: Kind, n: usize, client: &Path) -> Result<Result<Server, Skip>, String> {
        let (soft, hard) = super::kernel::raise_open_files_limit()?;
        let need = n as u64 + FD_MARGIN;
        if need > soft {
            return Ok(Err(Skip(format!(
                "{n} connections need {need} file descriptors; RLIMIT_NOFILE is {soft} \
                 (hard limit {hard})"
            ))));
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        // std listens with a backlog of 128: N clients connecting at once overflow it and
        // wait for SYN retries (1 s, 3 s, ...: 50 s to open 10K). Listening again raises the
        // backlog (the kernel caps it at net.core.somaxconn).
        // SAFETY: a plain syscall on a socket this function owns.
        if unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) } != 0 {
            return Err(format!(
                "cannot raise the listen backlog: {}",
                std::io::Error::last_os_error()
            ));
        }
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot make the listener non-blocking: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut child = Command::new(client)
            .args([addr.to_string(), kind.id().to_string(), n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", client.display()))?;
        let stdin = child.stdin.take().ok_or("the client has no stdin")?;
        let stdout = child.stdout.take().ok_or("the client has no stdout")?;
        Ok(Ok(Server {
            kind,
            n,
            listener,
            child: Mutex::new(child),
            stdin: Some(stdin),
            stdout: Mutex::new(stdout),
            made: Cell::new(0),
            failed: Mutex::new(None),
        }))
    }

    /// The kind of connection.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Connections per round.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The next accepted connection, non-blocking, with its request (if its kind has one)
    /// already arrived. The first call of each round of N asks the client for the round.
    pub fn next(&self) -> Result<TcpStream, String> {
        let made = self.made.get();
        self.made.set(made + 1);
        if made % self.n == 0 {
            *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let written = match &self.stdin {
                Some(stdin) => {
                    let mut pipe: &ChildStdin = stdin;
                    pipe.write_all(b"g")
                }
                None => Err(std::io::ErrorKind::BrokenPipe.into()),
            };
            if let Err(e) = written {
                return self.fail(format!("the client process is gone: {e}"));
            }
        }
        if let Some(why) = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(why);
        }
        let deadline = Instant::now() + ACCEPT_TIMEOUT;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !wait_readable(self.listener.as_raw_fd(), deadline) {
                        return self.fail(format!(
                            "connection {} of {}: none arrived within {ACCEPT_TIMEOUT:?} (see \
                             the client's message, if any)",
                            made % self.n + 1,
                            self.n
                        ));
                    }
                }
                Err(e) => return self.fail(format!("accept: {e}")),
            }
        };
        if self.kind != Kind::Tcp && !wait_readable(stream.as_raw_fd(), deadline) {
            return self.fail(format!(
                "connection {} of {}: no request within {ACCEPT_TIMEOUT:?}",
                made % self.n + 1,
                self.n
            ));
        }
        if let Err(e) = stream.set_nonblocking(true) {
            return self.fail(format!("cannot make a connection non-blocking: {e}"));
        }
        Ok(stream)
    }

    fn fail<T>(&self, why: String) -> Result<T, String> {
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
        Err(why)
    }

    /// Waits until the client has read every response of its current round (it writes one
    /// byte then), at most `timeout`. Only meaningful for the first round read this way.
    pub fn wait_answered(&self, timeout: Duration) -> Result<(), String> {
        let mut stdout = self.stdout.lock().unwrap_or_else(|p| p.into_inner());
        if !wait_readable(stdout.as_raw_fd(), Instant::now() + timeout) {
            return Err(format!(
                "the client did not read its responses within {timeout:?}"
            ));
        }
        let mut byte = [0u8];
        match stdout.read(&mut byte) {
            Ok(1) => Ok(()),
            _ => Err("the client process ended before reading its responses".into()),
        }
    }
}

impl Drop for Server {
    /// Ends the client: its stdin closes, so it exits after its round; killed if it has not
    /// after a few seconds. The listener closes with the server.
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Waits until `fd` is readable (or closed), until `deadline`. False on timeout.
fn wait_readable(fd: i32, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms.max(1)) };
        if ready > 0 {
            return true;
        }
        if ready < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}
