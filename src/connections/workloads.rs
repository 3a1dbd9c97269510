//! The servers under measurement, one `async fn` per kind and runtime, each taking the
//! connection its `make()` accepted ([`Server::next`](super::Server::next)). They are what a
//! service author writes; a bench makes N of them with the public API:
//!
//! ```ignore
//! let ready = taskmem::Latch::new();
//! let tasks = tasks.ready_latch(&ready);
//! group.tasks_named("tcp", &tasks, || workloads::tokio_tcp(server.next(), ready.clone()));
//! ```
//!
//! A failed accept becomes a task that panics with its reason on its first poll, so the run
//! ends with that reason (taskmem reports a task's panic as the run's error).
//!
//! Each arrives at a [`Latch`] once idle, so the run reads the peak only when every
//! connection is (a pending task is not necessarily idle: an HTTP connection is pending
//! mid-exchange too): raw TCP before its read; WebSocket once the handshake is done; HTTP/1.1
//! after the first poll that returns pending once hyper has flushed its response ([`Idle`]
//! watches the socket's flushes, [`ArriveWhenIdle`] the connection's polls: hyper does not
//! always poll the socket for the next request in the poll that answered, so "a read found
//! nothing" is no signal). The latch's clone is 8 bytes of each connection's state (about 32
//! for HTTP/1.1, with the wrappers' flag and references): the harness's, counted in the
//! figure. [`answered`]
//! counts the exchanges done, so a check at the peak can confirm them (the bench and
//! tests/connections.rs do).

use std::convert::Infallible;
use std::future::Future;
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::StreamExt;
use http_body_util::Full;
use hyper::body::Bytes;
use taskmem::Latch;

/// The raw TCP server's read buffer, bytes (tokio's echo example uses 1 KiB).
pub const READ_BUFFER: usize = 1024;

static ANSWERED: AtomicUsize = AtomicUsize::new(0);

/// HTTP/1.1 responses sent and WebSocket handshakes done since the process started.
pub fn answered() -> usize {
    ANSWERED.load(Ordering::SeqCst)
}

/// Raw TCP on tokio: the stream registered with tokio's I/O driver, its task awaiting a read
/// into a [`READ_BUFFER`] buffer.
pub async fn tokio_tcp(accepted: Result<TcpStream, String>, ready: Latch) {
    use tokio::io::AsyncReadExt;
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let mut stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    let mut buf = vec![0u8; READ_BUFFER];
    ready.arrive();
    let _ = stream.read(&mut buf).await;
}

/// Raw TCP on smol: the stream registered with async-io's reactor (`smol::net` is async-net),
/// its task awaiting a read into a [`READ_BUFFER`] buffer.
pub async fn smol_tcp(accepted: Result<TcpStream, String>, ready: Latch) {
    use smol::io::AsyncReadExt;
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let mut stream = smol::net::TcpStream::try_from(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with async-io: {e}"));
    let mut buf = vec![0u8; READ_BUFFER];
    ready.arrive();
    let _ = stream.read(&mut buf).await;
}

/// A raw TCP socket registered with tokio's I/O driver and held, never read: the
/// registration's share in [`super::breakdown`].
pub async fn tokio_registered(accepted: Result<TcpStream, String>, ready: Latch) {
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    ready.arrive();
    std::future::pending::<()>().await;
    drop(stream);
}

/// A raw TCP socket registered with async-io's reactor and held, never read.
pub async fn smol_registered(accepted: Result<TcpStream, String>, ready: Latch) {
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let stream = smol::net::TcpStream::try_from(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with async-io: {e}"));
    ready.arrive();
    std::future::pending::<()>().await;
    drop(stream);
}

/// A bare task with the latch: the task's share in [`super::breakdown`].
pub async fn bare(ready: Latch) {
    ready.arrive();
    std::future::pending::<()>().await;
}

/// HTTP/1.1 on tokio: hyper's server connection (keep-alive, the default), answering `ok` to
/// each request; after the first one it waits for the next.
pub async fn tokio_http1(accepted: Result<TcpStream, String>, ready: Latch) {
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    // Pinned with this future: the socket wrapper and the outer wrapper share it by reference.
    let idle = AtomicBool::new(false);
    let stream = Idle::new(stream, &idle);
    let service = hyper::service::service_fn(|_request| async {
        ANSWERED.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let connection = std::pin::pin!(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
    );
    let _ = ArriveWhenIdle::new(connection, &idle, ready).await;
}

/// WebSocket on tokio: tokio-tungstenite's server handshake, then the connection awaits a
/// message.
pub async fn tokio_ws(accepted: Result<TcpStream, String>, ready: Latch) {
    let stream = accepted.unwrap_or_else(|why| panic!("{why}"));
    let stream = tokio::net::TcpStream::from_std(stream)
        .unwrap_or_else(|e| panic!("cannot register a connection with tokio: {e}"));
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        panic!("WebSocket handshake failed");
    };
    ANSWERED.fetch_add(1, Ordering::SeqCst);
    ready.arrive();
    let _ = ws.next().await;
}

/// A socket that marks `idle` once a write has been flushed: a request/response server,
/// having answered, waits for the next request. It forwards everything unchanged.
pub struct Idle<'a, S> {
    inner: S,
    idle: &'a AtomicBool,
    written: bool,
}

impl<'a, S> Idle<'a, S> {
    /// Wraps `inner`; `idle` is set once a write has been flushed.
    pub fn new(inner: S, idle: &'a AtomicBool) -> Idle<'a, S> {
        Idle {
            inner,
            idle,
            written: false,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Idle<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Idle<'_, S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let out = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(out, Poll::Ready(Ok(k)) if k > 0) {
            self.written = true;
        }
        out
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let out = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(out, Poll::Ready(Ok(k)) if k > 0) {
            self.written = true;
        }
        out
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let out = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(out, Poll::Ready(Ok(()))) && self.written {
            self.idle.store(true, Ordering::Relaxed);
        }
        out
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Polls `inner`, and arrives at `ready` after the first poll that returns pending with
/// `idle` set: the task has answered and settled, waiting for input.
pub struct ArriveWhenIdle<'a, F> {
    inner: F,
    idle: &'a AtomicBool,
    ready: Option<Latch>,
}

impl<'a, F> ArriveWhenIdle<'a, F> {
    /// Wraps `inner`.
    pub fn new(inner: F, idle: &'a AtomicBool, ready: Latch) -> ArriveWhenIdle<'a, F> {
        ArriveWhenIdle {
            inner,
            idle,
            ready: Some(ready),
        }
    }
}

impl<F: Future + Unpin> Future for ArriveWhenIdle<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = Pin::new(&mut self.inner).poll(cx);
        if out.is_pending()
            && self.idle.load(Ordering::Relaxed)
            && let Some(ready) = self.ready.take()
        {
            ready.arrive();
        }
        out
    }
}
