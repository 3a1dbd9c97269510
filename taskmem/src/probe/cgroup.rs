//! Container limits: the memory and pids limits of this process's cgroup, v1 or v2.
//!
//! A CI container or a Kubernetes pod bounds memory and tasks with a cgroup, which
//! `MemAvailable` and the kernel's thread limits do not see: a case past the cgroup's memory
//! limit is killed by the kernel (SIGKILL) with no message. The limits layer reads them here.
//!
//! `/proc/self/cgroup` names this process's cgroup: `N:memory:/path` per v1 controller,
//! `0::/path` for v2. The limit that binds is the tightest of the cgroup and its ancestors,
//! so every level from the cgroup up to the hierarchy's root is read:
//!
//! | | v1 (`/sys/fs/cgroup/<controller>/`) | v2 (`/sys/fs/cgroup/` or `.../unified/`) |
//! |---|---|---|
//! | memory | `memory.limit_in_bytes`, `memory.usage_in_bytes` | `memory.max`, `memory.current` |
//! | pids | `pids.max`, `pids.current` | `pids.max`, `pids.current` |
//!
//! `max` (and v1's "no limit", a value near 2^63) means unlimited; a missing file or
//! directory means the controller is not there (a container may see only its own cgroup,
//! mounted at the root): no limit known from it. The parsing is pure; the reading takes the
//! mount root as a value, so tests run on made-up trees of v1 and v2 files.

use std::path::{Path, PathBuf};

/// A cgroup limit and what is used of it, at the level of the hierarchy that leaves the
/// least room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The file holding the limit, as a user would look it up (`memory.limit_in_bytes`).
    pub file: &'static str,
    /// Where it is (the cgroup directory).
    pub dir: PathBuf,
    /// The limit (bytes, or tasks for pids).
    pub max: u64,
    /// In use now, from the matching usage file.
    pub current: u64,
}

impl Limit {
    /// Room left: `max - current`.
    pub fn headroom(&self) -> u64 {
        self.max.saturating_sub(self.current)
    }
}

/// v1's "no limit" is `PAGE_COUNTER_MAX` in bytes (9223372036854771712 with 4 KiB pages);
/// anything from 2^62 up is taken as unlimited.
const UNLIMITED_FROM: u64 = 1 << 62;

/// A limit file's value: `None` for `max` or v1's huge "no limit" value.
pub fn parse_max(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|v| *v < UNLIMITED_FROM)
}

/// The cgroup path of `controller` in `/proc/self/cgroup`'s text: the v1 line naming it
/// (`4:memory:/a/b`, or `3:cpu,cpuacct:/`), else the v2 line (`0::/a/b`). `Some((v2, path))`.
pub fn cgroup_path(proc_cgroup: &str, controller: &str) -> Option<(bool, String)> {
    let mut v2 = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.split(',').any(|c| c == controller) {
            return Some((false, path.to_string()));
        }
        if id == "0" && controllers.is_empty() {
            v2 = Some((true, path.to_string()));
        }
    }
    v2
}

/// The directories from the cgroup `path` under `mount` up to `mount` itself, deepest first;
/// only those that exist.
fn levels(mount: &Path, path: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut rel = PathBuf::from(path.trim_start_matches('/'));
    loop {
        let dir = mount.join(&rel);
        if dir.is_dir() {
            out.push(dir);
        }
        if !rel.pop() {
            break;
        }
    }
    out
}

fn read_value(file: &Path) -> Option<String> {
    std::fs::read_to_string(file).ok()
}

/// The tightest limit of `limit_file` (with usage in `usage_file`) over the levels of `path`
/// under `mount`.
fn tightest(mount: &Path, path: &str, limit_file: &'static str, usage_file: &str) -> Option<Limit> {
    levels(mount, path)
        .into_iter()
        .filter_map(|dir| {
            let max = parse_max(&read_value(&dir.join(limit_file))?)?;
            let current = read_value(&dir.join(usage_file))
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            Some(Limit {
                file: limit_file,
                dir,
                max,
                current,
            })
        })
        .min_by_key(Limit::headroom)
}

/// Which controller: the v1 and v2 names of its limit and usage files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// Memory, in bytes.
    Memory,
    /// Tasks (processes and threads).
    Pids,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
        }
    }

    fn files(self, v2: bool) -> (&'static str, &'static str) {
        match (self, v2) {
            (Controller::Memory, false) => ("memory.limit_in_bytes", "memory.usage_in_bytes"),
            (Controller::Memory, true) => ("memory.max", "memory.current"),
            (Controller::Pids, _) => ("pids.max", "pids.current"),
        }
    }
}

/// The limit of `controller` for the cgroup named in `proc_cgroup` (the text of
/// `/proc/self/cgroup`), with cgroup file systems mounted under `root` (`/sys/fs/cgroup`).
/// v1 is looked up at `root/<controller>`; v2 at `root` (unified) or `root/unified` (hybrid).
/// A cgroup path the mount does not show (a container without a cgroup namespace) is read
/// from the mount's root, which is then the container's own cgroup.
pub fn limit_in(root: &Path, proc_cgroup: &str, controller: Controller) -> Option<Limit> {
    let (v2, path) = cgroup_path(proc_cgroup, controller.name())?;
    let (limit_file, usage_file) = controller.files(v2);
    let mounts: Vec<PathBuf> = if v2 {
        vec![root.to_path_buf(), root.join("unified")]
    } else {
        vec![root.join(controller.name())]
    };
    mounts
        .iter()
        .filter(|m| !v2 || m.join("cgroup.controllers").is_file())
        .filter_map(|m| tightest(m, &path, limit_file, usage_file))
        .min_by_key(Limit::headroom)
}

/// This process's cgroup limit on `controller`, if it has one (Linux; `None` elsewhere or
/// when `/proc/self/cgroup` cannot be read).
pub fn limit(controller: Controller) -> Option<Limit> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    limit_in(Path::new("/sys/fs/cgroup"), &text, controller)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up cgroup tree under the temporary directory, removed when dropped.
    struct Tree(PathBuf);

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl std::ops::Deref for Tree {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    fn tree(files: &[(&str, &str)]) -> Tree {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "taskmem-cgroup-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        Tree(root)
    }

    #[test]
    fn max_values() {
        assert_eq!(parse_max("max\n"), None);
        assert_eq!(parse_max("9223372036854771712\n"), None);
        assert_eq!(parse_max("209715200\n"), Some(200 << 20));
        assert_eq!(parse_max("garbage"), None);
    }

    #[test]
    fn proc_self_cgroup_lines() {
        let v1 = "12:pids:/ci/job\n4:memory:/ci/job\n3:cpu,cpuacct:/\n0::/\n";
        assert_eq!(
            cgroup_path(v1, "memory"),
            Some((false, "/ci/job".to_string()))
        );
        assert_eq!(cgroup_path(v1, "cpu"), Some((false, "/".to_string())));
        let v2 = "0::/user.slice/pod\n";
        assert_eq!(
            cgroup_path(v2, "memory"),
            Some((true, "/user.slice/pod".to_string()))
        );
        assert_eq!(cgroup_path("", "memory"), None);
    }

    #[test]
    fn v1_memory_takes_the_tightest_level() {
        let root = tree(&[
            ("memory/memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory/ci/memory.limit_in_bytes", "1073741824\n"),
            ("memory/ci/memory.usage_in_bytes", "104857600\n"),
            (
                "memory/ci/job/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("memory/ci/job/memory.usage_in_bytes", "5\n"),
        ]);
        let l = limit_in(&root, "4:memory:/ci/job\n", Controller::Memory).unwrap();
        assert_eq!(l.file, "memory.limit_in_bytes");
        assert_eq!((l.max, l.current), (1 << 30, 100 << 20));
        assert_eq!(l.headroom(), (1 << 30) - (100 << 20));
        assert!(l.dir.ends_with("memory/ci"), "{}", l.dir.display());
    }

    #[test]
    fn v2_memory_and_pids() {
        let root = tree(&[
            ("cgroup.controllers", "memory pids\n"),
            ("pod/memory.max", "209715200\n"),
            ("pod/memory.current", "12582912\n"),
            ("pod/pids.max", "3000\n"),
            ("pod/pids.current", "17\n"),
        ]);
        let m = limit_in(&root, "0::/pod\n", Controller::Memory).unwrap();
        assert_eq!(
            (m.file, m.max, m.current),
            ("memory.max", 200 << 20, 12 << 20)
        );
        let p = limit_in(&root, "0::/pod\n", Controller::Pids).unwrap();
        assert_eq!((p.file, p.headroom()), ("pids.max", 2983));
    }

    #[test]
    fn max_or_missing_files_are_no_limit() {
        let root = tree(&[
            ("cgroup.controllers", "memory\n"),
            ("pod/memory.max", "max\n"),
            ("pids/other/pids.max", "10\n"),
        ]);
        assert_eq!(limit_in(&root, "0::/pod\n", Controller::Memory), None);
        // No pids file at any level of this cgroup.
        assert_eq!(limit_in(&root, "0::/pod\n", Controller::Pids), None);
        assert_eq!(limit_in(&root, "5:pids:/job\n", Controller::Pids), None);
        // v1 usage missing: counted as 0 in use.
        let root = tree(&[("pids/job/pids.max", "100\n")]);
        let p = limit_in(&root, "5:pids:/job\n", Controller::Pids).unwrap();
        assert_eq!((p.max, p.current), (100, 0));
    }

    #[test]
    fn a_path_the_mount_does_not_show_reads_the_mount_root() {
        // A container without a cgroup namespace: the host's path, the container's root.
        let root = tree(&[
            ("memory/memory.limit_in_bytes", "209715200\n"),
            ("memory/memory.usage_in_bytes", "0\n"),
        ]);
        let l = limit_in(&root, "4:memory:/kubepods/pod1/abc\n", Controller::Memory).unwrap();
        assert_eq!(l.max, 200 << 20);
    }
}
