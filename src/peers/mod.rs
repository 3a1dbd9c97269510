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
//!
//! Files: `manifest.rs` the manifest and its checks; `peer.rs` one peer as checked;
//! `template.rs` the `{placeholders}` of its commands; `toolchain.rs` detecting a
//! toolchain; `build.rs` the cached build; `run.rs` a built peer's run command, the
//! machine's limits on it and the line it prints.

mod build;
mod manifest;
mod peer;
mod run;
mod template;
mod toolchain;

#[cfg(test)]
mod tests;

pub use build::{Prepared, default_build_root};
pub use manifest::{Manifest, default_manifest_path};
pub use peer::Peer;
pub use run::{Built, Done};
pub use template::procs_for;
pub use toolchain::{Status, Toolchain};
