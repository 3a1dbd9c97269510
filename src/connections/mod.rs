//! Idle connections over loopback, measured on the server's side (cargo feature
//! `connections`; see docs/connections.md).
//!
//! A [`Server`] listens on `127.0.0.1`, starts the client program (`taskmem-conn-client`, in
//! its own process) and hands accepted sockets to the futures a [`Tasks`](taskmem::Tasks) run
//! makes: `workloads` (feature `connections`) has one maker per [`Kind`] and runtime, written
//! with the public API as a user would write them. At the peak every connection is accepted,
//! registered with the runtime's I/O driver, has had its protocol's exchange (HTTP/1.1: one
//! request and its response; WebSocket: the handshake) and waits for input. [`kernel`] reads
//! what the kernel holds for the server's sockets; [`record`] keeps those figures beside the
//! summary; [`peers`] runs the same connections against Go and Node.js servers, whole-process.

pub mod breakdown;
pub mod client;
pub mod kernel;
pub mod peers;
pub mod record;
mod server;
#[cfg(feature = "connections")]
pub mod workloads;

pub use server::{ACCEPT_TIMEOUT, Server, Skip};

use std::fmt;

/// What each connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A plain TCP stream whose task awaits a read into a 1 KiB buffer.
    Tcp,
    /// A hyper HTTP/1.1 server connection after one request and its response, in keep-alive.
    Http1,
    /// A tokio-tungstenite WebSocket server connection after its handshake, awaiting a message.
    Ws,
}

impl Kind {
    /// Every kind, in the order the bench runs them.
    pub const ALL: [Kind; 3] = [Kind::Tcp, Kind::Http1, Kind::Ws];

    /// The id segment: `tcp`, `http1`, `ws`.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Http1 => "http1",
            Kind::Ws => "ws",
        }
    }

    /// The kind named `id`.
    pub fn parse(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// What the client sends right after connecting (nothing for raw TCP).
    pub fn request(self) -> &'static [u8] {
        match self {
            Kind::Tcp => b"",
            Kind::Http1 => b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            Kind::Ws => {
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            }
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
