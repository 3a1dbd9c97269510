//! The servers under measurement, one `async fn` per kind and runtime, each taking the
//! connection its `make()` accepted ([`Server::next`](super::Server::next)). They are what a
//! service author writes; a bench makes N of them with the public API:
//!
//! ```ignore
//! group.tasks_named("tcp", &tasks, || workloads::tokio_tcp(server.next()));
//! ```
//!
//! A failed accept becomes a task that panics with its reason on its first poll, so the run
//! ends with that reason (taskmem reports a task's panic as the run's error).
//!
//! HTTP/1.1 and WebSocket connections do their exchange on their first poll: the request is
//! in the socket before the task exists, and hyper's and tungstenite's state machines read,
//! answer and flush without yielding when the socket is ready. [`answered`] counts the
//! exchanges done, so a check at the peak can confirm it (tests/connections.rs does).

use std::convert::Infallible;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use http_body_util::Full;
use hyper::body::Bytes;

/// The raw TCP server's read buffer, bytes (tokio's echo example uses 1 KiB).
pub const READ_BUFFER: usize = 1024;

static ANSWERED: AtomicUsize = AtomicUsize::new(0);

/// HTTP/1.1 responses sent and WebSocket handshakes done since the process started.
pub fn answered() -> usize {
    ANSWERED.load(Ordering::SeqCst)
}

/// Raw TCP on tokio: the stream registered with tokio's I/O driver, its task awaiting a read
/// into a [`READ_BUFFER`] buffer.
pub async fn tokio_tcp(accepted: Result<TcpStream, String>) {
    use tokio::io::AsyncReadExt;
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let mut stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    let mut buf = vec![0u8; READ_BUFFER];
    let _ = stream.read(&mut buf).await;
}

/// Raw TCP on smol: the stream registered with async-io's reactor (`smol::net` is async-net),
/// its task awaiting a read into a [`READ_BUFFER`] buffer.
pub async fn smol_tcp(accepted: Result<TcpStream, String>) {
    use smol::io::AsyncReadExt;
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let mut stream = smol::net::TcpStream::try_from(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with async-io: {e}"));
    let mut buf = vec![0u8; READ_BUFFER];
    let _ = stream.read(&mut buf).await;
}

/// HTTP/1.1 on tokio: hyper's server connection (keep-alive, the default), answering `ok` to
/// each request; after the first one it waits for the next.
pub async fn tokio_http1(accepted: Result<TcpStream, String>) {
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    let service = hyper::service::service_fn(|_request| async {
        ANSWERED.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

/// WebSocket on tokio: tokio-tungstenite's server handshake, then the connection awaits a
/// message.
pub async fn tokio_ws(accepted: Result<TcpStream, String>) {
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        panic!("WebSocket handshake failed");
    };
    ANSWERED.fetch_add(1, Ordering::SeqCst);
    let _ = ws.next().await;
}
