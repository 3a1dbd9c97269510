//! The client program (`taskmem-conn-client ADDR KIND N`): rounds of N connections to the
//! server under measurement, in a process of its own so that none of its memory is the
//! server's.
//!
//! One round per byte read on stdin; stdin's end ends the program. A round connects N
//! blocking sockets (each connect bounded by a timeout), sends each its kind's request, reads
//! each response (HTTP/1.1: one response; WebSocket: the `101` of the handshake), writes one
//! byte on stdout, then holds every connection until the server closes it (a bounded wait)
//! and closes them all. Any failure ends the program with one line naming the connection and
//! the reason.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::Kind;

/// How long one connect, or one response, may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a round holds its connections open waiting for the server to close them.
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs the client: `args` are ADDR KIND N. Returns the one-line reason of a failure.
pub fn main(args: &[String]) -> Result<(), String> {
    let [addr, kind, n] = args else {
        return Err("usage: taskmem-conn-client ADDR KIND N (KIND: tcp, http1, ws)".into());
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    let kind = Kind::parse(kind).ok_or_else(|| format!("unknown kind {kind:?}"))?;
    let n: usize = n.parse().map_err(|e| format!("bad N {n:?}: {e}"))?;
    super::kernel::raise_open_files_limit()?;
    let mut stdin = std::io::stdin().lock();
    let mut byte = [0u8];
    let mut streams = Vec::with_capacity(n);
    while stdin.read(&mut byte).map_err(|e| format!("stdin: {e}"))? == 1 {
        round(addr, kind, n, &mut streams)?;
    }
    Ok(())
}

fn round(
    addr: SocketAddr,
    kind: Kind,
    n: usize,
    streams: &mut Vec<TcpStream>,
) -> Result<(), String> {
    let at = |i: usize| format!("connection {} of {n} to {addr}", i + 1);
    for i in 0..n {
        let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| format!("{}: {e}", at(i)))?;
        stream
            .write_all(kind.request())
            .map_err(|e| format!("{}: sending the request: {e}", at(i)))?;
        streams.push(stream);
    }
    let mut buf = [0u8; 1024];
    if kind != Kind::Tcp {
        for (i, stream) in streams.iter_mut().enumerate() {
            stream
                .set_read_timeout(Some(CONNECT_TIMEOUT))
                .map_err(|e| e.to_string())?;
            read_response(stream, &mut buf).map_err(|e| format!("{}: the response: {e}", at(i)))?;
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(b"a")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    for (i, stream) in streams.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(HOLD_TIMEOUT))
            .map_err(|e| e.to_string())?;
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                // A reset is a close too.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => {
                    return Err(format!(
                        "{}: waiting for the server to close it: {e}",
                        at(i)
                    ));
                }
            }
        }
    }
    streams.clear();
    Ok(())
}

/// Reads one response head (up to its blank line) and, for a `200`, its short body.
fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> Result<(), String> {
    let mut len = 0;
    loop {
        let read = stream.read(&mut buf[len..]).map_err(|e| e.to_string())?;
        if read == 0 {
            return Err("closed by the server".into());
        }
        len += read;
        let text = String::from_utf8_lossy(&buf[..len]);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let status_ok = text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.1 101");
            if !status_ok {
                let line = text.lines().next().unwrap_or("");
                return Err(format!("unexpected response {line:?}"));
            }
            let body: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if len >= head_end + 4 + body {
                return Ok(());
            }
        }
        if len == buf.len() {
            return Err("response longer than 1 KiB".into());
        }
    }
}
