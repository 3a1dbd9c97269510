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
//! - `eventpoll_epi`: one per socket registered with an epoll instance: the server registers
//!   each accepted socket once (the runtime's I/O driver; the client uses blocking sockets and
//!   no epoll). Counted as N x the cache's object size, not from the cache's growth: the
//!   kernel merges caches of one object size and flags (`/sys/kernel/slab/eventpoll_epi` is then
//!   a link to a cache such as `:A-0000128`), and the merged cache also holds `tcp_bind_bucket`
//!   and `tcp_bind2_bucket`, the port bindings of the client's sockets: it grows about 3
//!   objects per connection. Its growth is shown beside the figure as a bound ([`MergedBound`]),
//!   not inside it.
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

use taskmem::probe::os;

/// The slab caches a server's socket uses, and whether the server owns all of each cache's
/// growth (`true`) or half of it (both ends have one each).
pub const SLABS: [(&str, bool); 5] = [
    ("TCP", false),
    ("sock_inode_cache", false),
    ("filp", false),
    ("dentry", false),
    (EPOLL_CACHE, true),
];

/// The cache of epoll entries: one per registered socket.
pub const EPOLL_CACHE: &str = "eventpoll_epi";

/// Where the kernel lists its slab caches (a merged cache's names are links to it).
pub const SYS_SLAB: &str = "/sys/kernel/slab";

/// A slab cache the kernel merged with others of the same object size and flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedCache {
    /// The cache the names link to, e.g. `:A-0000128`.
    pub cache: String,
    /// Every name that links to it, this one included, sorted.
    pub names: Vec<String>,
}

/// Whether `name`'s cache is merged: `<root>/<name>` is a link to a cache that other names
/// link to as well. `None` when it is not a link, or no other name shares it (or `root` cannot
/// be read).
pub fn merged_cache(root: &std::path::Path, name: &str) -> Option<MergedCache> {
    let target = std::fs::read_link(root.join(name)).ok()?;
    let cache = target.file_name()?.to_string_lossy().into_owned();
    let mut names: Vec<String> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let link = std::fs::read_link(e.path()).ok()?;
            (link.file_name()? == target.file_name()?)
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    (names.len() > 1).then_some(MergedCache { cache, names })
}

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
    /// The epoll entries' cache, when the kernel merged it with others.
    epoll_merged: Option<MergedCache>,
}

impl Reading {
    /// A reading from the contents of `/proc/slabinfo` and `/proc/net/sockstat` and what
    /// [`merged_cache`] found of the epoll entries' cache.
    pub fn parse(
        slabinfo: &str,
        sockstat: &str,
        epoll_merged: Option<MergedCache>,
    ) -> Result<Reading, String> {
        let names: Vec<&str> = SLABS.iter().map(|(n, _)| *n).collect();
        let slabs = parse_slabs(slabinfo, &names);
        if slabs.is_empty() {
            return Err("none of the socket slab caches is in /proc/slabinfo".into());
        }
        let tcp_pages = parse_tcp_mem_pages(sockstat)
            .ok_or("no `TCP: ... mem N` line in /proc/net/sockstat")?;
        Ok(Reading {
            slabs,
            tcp_pages,
            epoll_merged,
        })
    }
}

/// Reads the counters (root only: `/proc/slabinfo` is mode 0400).
pub fn read() -> Result<Reading, String> {
    Reading::parse(
        &read_file("/proc/slabinfo")?,
        &read_file("/proc/net/sockstat")?,
        merged_cache(std::path::Path::new(SYS_SLAB), EPOLL_CACHE),
    )
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
    /// How each part was read, by part (`TCP`: "slab growth / 2", `eventpoll_epi`: "1 per
    /// connection x 128 B objects", `buffers`: ...).
    #[serde(default)]
    pub how: BTreeMap<String, String>,
    /// The growth of the epoll entries' merged cache, per connection: a bound beside the
    /// figure (it holds other objects too, the client's port bindings among them), not in it.
    /// `None` when the cache is not merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_bound: Option<MergedBound>,
}

/// A merged cache's growth per connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedBound {
    /// The cache and the names that share it.
    pub cache: MergedCache,
    /// Objects it grew by, per connection.
    pub objects_per_connection: f64,
    /// The same in bytes.
    pub bytes_per_connection: f64,
}

/// The server's share of the growth from `before` to `peak`, per connection.
pub fn share(before: &Reading, peak: &Reading, n: usize) -> KernelShare {
    let n_f = n.max(1) as f64;
    let mut slabs = BTreeMap::new();
    let mut how = BTreeMap::new();
    let mut merged_bound = None;
    for (name, server_only) in SLABS {
        let find = |r: &Reading| r.slabs.iter().find(|s| s.name == name).cloned();
        let (Some(b), Some(p)) = (find(before), find(peak)) else {
            continue;
        };
        let grown = p.active as f64 - b.active as f64;
        if server_only {
            // One entry per registered server socket, whatever else shares the cache.
            slabs.insert(name.to_string(), p.object_size as f64);
            how.insert(
                name.to_string(),
                format!("1 per connection x {} B objects", p.object_size),
            );
            let merged = peak.epoll_merged.clone().filter(|_| name == EPOLL_CACHE);
            merged_bound = merged.map(|cache| MergedBound {
                cache,
                objects_per_connection: grown / n_f,
                bytes_per_connection: grown * p.object_size as f64 / n_f,
            });
        } else {
            slabs.insert(name.to_string(), grown * p.object_size as f64 * 0.5 / n_f);
            how.insert(
                name.to_string(),
                format!(
                    "slab growth / 2 (both loopback ends), {} B objects",
                    p.object_size
                ),
            );
        }
    }
    let pages = peak.tcp_pages as f64 - before.tcp_pages as f64;
    let buffers = pages * os::page_size() as f64 * 0.5 / n_f;
    how.insert("buffers".into(), "sockstat TCP mem pages growth / 2".into());
    KernelShare {
        n,
        per_connection: slabs.values().sum::<f64>() + buffers,
        slabs,
        buffers,
        how,
        merged_bound,
    }
}

impl KernelShare {
    /// One line: the figure, each part with how it was read, and the merged cache's bound.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .slabs
            .iter()
            .map(|(name, bytes)| {
                let how = self.how.get(name).map_or("", String::as_str);
                format!("{name} {bytes:.0} B ({how})")
            })
            .chain(std::iter::once(format!(
                "buffers {:.0} B ({})",
                self.buffers,
                self.how.get("buffers").map_or("", String::as_str)
            )))
            .collect();
        let mut line = format!(
            "kernel {:.0} B per connection: {}",
            self.per_connection,
            parts.join(", ")
        );
        if let Some(b) = &self.merged_bound {
            line.push_str(&format!(
                "; beside it, not in it: {EPOLL_CACHE} is the merged cache {} ({}), which grew \
                 {:.2} objects = {:.0} B per connection (the client's port bindings among them)",
                b.cache.cache,
                b.cache.names.join(", "),
                b.objects_per_connection,
                b.bytes_per_connection
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/slabinfo` lines for the socket caches, with `active` objects each.
    fn slabinfo(tcp: u64, inode: u64, filp: u64, dentry: u64, epi: u64) -> String {
        let line = |name: &str, active: u64, size: u64| {
            format!(
                "{name:<17} {active:>6} {:>6} {size:>6}   32    2 : tunables    0    0    0 : slabdata  1  1  0\n",
                active + 10
            )
        };
        format!(
            "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> ...\n{}{}{}{}{}",
            line("TCP", tcp, 2368),
            line("sock_inode_cache", inode, 832),
            line("filp", filp, 192),
            line("dentry", dentry, 192),
            line("eventpoll_epi", epi, 128),
        )
    }

    const SOCKSTAT: &str = "sockets: used 300\nTCP: inuse 10 orphan 0 tw 0 alloc 12 mem 4\n";

    /// 1000 loopback connections: both ends grow TCP, inode, filp and dentry by one object
    /// each; the merged epoll cache grows by 3 objects per connection (the server's epoll
    /// entry and the client's two port bindings). The server's own share is one of each of the
    /// first four and one epoll entry: 2368 + 832 + 192 + 192 + 128 = 3712 B, with the merged
    /// cache's 384 B shown beside it.
    #[test]
    fn the_server_counts_one_epoll_entry_and_the_merged_cache_is_a_bound() {
        let merged = MergedCache {
            cache: ":A-0000128".into(),
            names: vec![
                "eventpoll_epi".into(),
                "tcp_bind2_bucket".into(),
                "tcp_bind_bucket".into(),
            ],
        };
        let before = Reading::parse(
            &slabinfo(100, 400, 900, 5000, 50),
            SOCKSTAT,
            Some(merged.clone()),
        )
        .unwrap();
        let n = 1000;
        let peak = Reading::parse(
            &slabinfo(
                100 + 2 * n,
                400 + 2 * n,
                900 + 2 * n,
                5000 + 2 * n,
                50 + 3 * n,
            ),
            SOCKSTAT,
            Some(merged.clone()),
        )
        .unwrap();
        let k = share(&before, &peak, n as usize);
        assert_eq!(k.per_connection, 3712.0);
        assert_eq!(k.slabs["eventpoll_epi"], 128.0);
        assert_eq!(k.how["eventpoll_epi"], "1 per connection x 128 B objects");
        assert_eq!(
            k.how["TCP"],
            "slab growth / 2 (both loopback ends), 2368 B objects"
        );
        let bound = k.merged_bound.clone().unwrap();
        assert_eq!(bound.cache, merged);
        assert_eq!(
            (bound.objects_per_connection, bound.bytes_per_connection),
            (3.0, 384.0)
        );
        let line = k.describe();
        assert!(
            line.starts_with("kernel 3712 B per connection: TCP 2368 B"),
            "{line}"
        );
        assert!(
            line.contains(
                "beside it, not in it: eventpoll_epi is the merged cache :A-0000128 \
                           (eventpoll_epi, tcp_bind2_bucket, tcp_bind_bucket), which grew 3.00 \
                           objects = 384 B per connection"
            ),
            "{line}"
        );
    }

    /// `/sys/kernel/slab`: a merged cache's names are links to one directory; an unmerged
    /// cache's name is a directory itself.
    #[test]
    fn merged_caches_are_found_by_their_links() {
        let root = std::env::temp_dir().join(format!("taskmem-slab-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(":A-0000128")).unwrap();
        std::fs::create_dir_all(root.join(":A-0000064")).unwrap();
        std::fs::create_dir_all(root.join("TCP")).unwrap();
        for name in ["eventpoll_epi", "tcp_bind_bucket", "tcp_bind2_bucket"] {
            std::os::unix::fs::symlink(":A-0000128", root.join(name)).unwrap();
        }
        std::os::unix::fs::symlink(":A-0000064", root.join("alone")).unwrap();
        let m = merged_cache(&root, "eventpoll_epi").unwrap();
        assert_eq!(m.cache, ":A-0000128");
        assert_eq!(
            m.names,
            ["eventpoll_epi", "tcp_bind2_bucket", "tcp_bind_bucket"]
        );
        assert_eq!(merged_cache(&root, "TCP"), None);
        assert_eq!(merged_cache(&root, "alone"), None);
        assert_eq!(merged_cache(&root.join("missing"), "eventpoll_epi"), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
