//! The kernel's share of the server's sockets: slab objects and socket buffer pages, read
//! from `/proc/slabinfo` (root only) and `/proc/net/sockstat` before the client connects and
//! at the peak.
//!
//! On loopback both ends of every connection live in this kernel, so the growth counts the
//! client's sockets too. They are separated per cache by who owns its objects:
//!
//! - `TCP`, `sock_inode_cache`, `filp`, `dentry`: one object per socket at each end (a
//!   socket's `struct tcp_sock`, its inode, its open file and its dentry; the client's
//!   blocking sockets have all four too). The server's share is half the growth: exact for
//!   the objects (both ends allocate the same objects of the same sizes), with whatever else
//!   the machine did meanwhile in `filp` and `dentry` (other processes open files too) as the
//!   error, averaged over N.
//! - `eventpoll_epi`: one per socket registered with an epoll instance. The client uses
//!   blocking sockets and no epoll, so all of it is the server's (the runtime's I/O driver).
//! - socket buffers (`TCP: mem` pages in sockstat): halved like the objects; at the peak the
//!   requests are read and the client has read its responses, so little is queued.
//!
//! Objects are counted as `active_objs × objsize`: slab pages' free slots and per-CPU caches
//! are not, so this is the objects' own size, a lower bound of the pages the kernel holds.
//!
//! The file reading lives here, not in taskmem's probes: the measuring core reads no files
//! beyond its own process's counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::probe::os;

/// The slab caches a server's socket uses, and whether the server owns all of each cache's
/// growth (`true`) or half of it (both ends have one each).
pub const SLABS: [(&str, bool); 5] = [
    ("TCP", false),
    ("sock_inode_cache", false),
    ("filp", false),
    ("dentry", false),
    ("eventpoll_epi", true),
];

/// One cache of `/proc/slabinfo`: its name, objects in use and object size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slab {
    /// The cache's name, e.g. `TCP`.
    pub name: String,
    /// `active_objs`.
    pub active: u64,
    /// `objsize`, bytes.
    pub object_size: u64,
}

/// The caches of `text` (the contents of `/proc/slabinfo`) named in `names`.
pub fn parse_slabs(text: &str, names: &[&str]) -> Vec<Slab> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            if !names.contains(&name) {
                return None;
            }
            let active = fields.next()?.parse().ok()?;
            let object_size = fields.nth(1)?.parse().ok()?;
            Some(Slab {
                name: name.to_string(),
                active,
                object_size,
            })
        })
        .collect()
}

/// The pages of socket buffers the kernel holds for TCP: `mem` of the `TCP:` line of `text`
/// (the contents of `/proc/net/sockstat`).
pub fn parse_tcp_mem_pages(text: &str) -> Option<u64> {
    text.lines().find(|l| l.starts_with("TCP:")).and_then(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "mem")?;
        fields.get(at + 1)?.parse().ok()
    })
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// `RLIMIT_NOFILE` after raising the soft limit to the hard one: (soft, hard).
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
pub fn raise_open_files_limit() -> Result<(u64, u64), String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!(
            "getrlimit(RLIMIT_NOFILE): {}",
            std::io::Error::last_os_error()
        ));
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    Ok((limit.rlim_cur as u64, limit.rlim_max as u64))
}

/// The kernel's counters at one instant.
#[derive(Debug, Clone)]
pub struct Reading {
    slabs: Vec<Slab>,
    tcp_pages: u64,
}

/// Reads the counters (root only: `/proc/slabinfo` is mode 0400).
pub fn read() -> Result<Reading, String> {
    let names: Vec<&str> = SLABS.iter().map(|(n, _)| *n).collect();
    let slabs = parse_slabs(&read_file("/proc/slabinfo")?, &names);
    if slabs.is_empty() {
        return Err("none of the socket slab caches is in /proc/slabinfo".into());
    }
    let tcp_pages = parse_tcp_mem_pages(&read_file("/proc/net/sockstat")?)
        .ok_or("no `TCP: ... mem N` line in /proc/net/sockstat")?;
    Ok(Reading { slabs, tcp_pages })
}

/// The server's kernel bytes per connection, by part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelShare {
    /// Connections.
    pub n: usize,
    /// Every part together, bytes per connection.
    pub per_connection: f64,
    /// Each slab cache's share, bytes per connection (`TCP`, `sock_inode_cache`, ...).
    pub slabs: BTreeMap<String, f64>,
    /// Socket buffer pages (sockstat `TCP: mem`), bytes per connection.
    pub buffers: f64,
}

/// The server's share of the growth from `before` to `peak`, per connection.
pub fn share(before: &Reading, peak: &Reading, n: usize) -> KernelShare {
    let n_f = n.max(1) as f64;
    let mut slabs = BTreeMap::new();
    for (name, whole) in SLABS {
        let find = |r: &Reading| r.slabs.iter().find(|s| s.name == name).cloned();
        let (Some(b), Some(p)) = (find(before), find(peak)) else {
            continue;
        };
        let grown = p.active as f64 - b.active as f64;
        let bytes = grown * p.object_size as f64 * if whole { 1.0 } else { 0.5 };
        slabs.insert(name.to_string(), bytes / n_f);
    }
    let pages = peak.tcp_pages as f64 - before.tcp_pages as f64;
    let buffers = pages * os::page_size() as f64 * 0.5 / n_f;
    KernelShare {
        n,
        per_connection: slabs.values().sum::<f64>() + buffers,
        slabs,
        buffers,
    }
}
