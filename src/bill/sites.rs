//! The heap a task holds at the peak, by allocation site: the call stacks a site recording
//! found ([`taskmem::sites`], one more run per case), named (frames from the bench's debug
//! information, inlined calls included), told apart by whose code allocated (the runtime's,
//! taskmem's harness, a library's, the bench's own) and put per task: the slope of each
//! site's live bytes across the pair's N, as the exact figure is.

use std::collections::BTreeMap;

use taskmem::sites::Site;

/// One frame of a call stack, as the debug information names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function (demangled, with its generic parameters' names).
    pub function: String,
    /// Its source file, when the debug information has one.
    pub file: Option<String>,
    /// The line in it.
    pub line: Option<u32>,
}

/// Whose code allocated a site's blocks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// The bench's own code (a frame of a source file outside the toolchain and the
    /// registry).
    Yours,
    /// A library the task's code calls (the crate's name), on behalf of the bench's code.
    Library(String),
    /// The runtime (its crate's name: `tokio`, `async-task`, ...).
    Runtime(String),
    /// taskmem's own harness (what a strategy keeps per task, like the `JoinHandle`s).
    Taskmem,
    /// No frame could be named (no debug information, or an address outside the executable).
    Unknown,
}

/// One allocation site's share of each task.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteShare {
    /// Whose code allocated.
    pub owner: Owner,
    /// The allocating function: the first frame that is not the allocator's, `alloc`'s,
    /// `core`'s or `std`'s.
    pub function: String,
    /// The allocating frame's file and line (`benches/tasks.rs:11`,
    /// `tokio-1.54.1/src/time/interval.rs:128`), where the debug information has it.
    pub site: Option<String>,
    /// For a library's allocation, the bench's own line it was called from.
    pub place: Option<String>,
    /// For a library's allocation made for another library (`bytes` growing a buffer of
    /// hyper's): that library and its line (`hyper at hyper-1.12.0/src/proto/h1/io.rs:538`).
    pub via: Option<String>,
    /// Requested bytes per task (the slope across N).
    pub bytes: f64,
    /// The same blocks in jemalloc's size classes, per task.
    pub usable: f64,
    /// Live blocks per task.
    pub blocks: f64,
    /// The size of one block, when every block of the site has the same (at the largest N).
    pub block_size: Option<u64>,
}

/// The runtimes' crates, by the name that begins their paths.
const RUNTIMES: [(&str, &str); 10] = [
    ("tokio", "tokio"),
    ("async_task", "async-task"),
    ("async_executor", "async-executor"),
    ("async_io", "async-io"),
    ("async_std", "async-std"),
    ("async_global_executor", "async-std"),
    ("smol", "smol"),
    ("polling", "polling"),
    ("concurrent_queue", "concurrent-queue"),
    ("event_listener", "event-listener"),
];

/// The crate a function's path begins with (`<tokio::runtime::..>::new`: `tokio`).
fn crate_of(function: &str) -> &str {
    let f = function.trim_start_matches(['<', '&', '*']);
    let f = f.strip_prefix("mut ").unwrap_or(f);
    let f = f.strip_prefix("dyn ").unwrap_or(f);
    let end = f
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(f.len());
    &f[..end]
}

/// The crate a source file belongs to: a registry crate by its folder
/// (`.cargo/registry/src/<index>/tokio-1.54.1/src/..`: `tokio`), taskmem by its `taskmem/src/`
/// folder (a path dependency), the standard library by the toolchain's paths; `None` for the
/// bench's own files.
fn crate_of_file(file: &str) -> Option<String> {
    // The toolchain's sources, and the crates std vendors (hashbrown under `/rust/deps/`).
    if file.starts_with("/rustc/")
        || file.contains("/lib/rustlib/")
        || file.starts_with("/rust/deps/")
    {
        return Some("std".into());
    }
    // No line tables, a symbol's codegen unit instead (`tokio.fe41323c772c0f3e-cgu.13`): a
    // dependency compiled without debug information.
    if !file.contains('/') && file.contains("-cgu.") {
        return Some(file.split('.').next().unwrap_or("").to_string());
    }
    for registry in ["/.cargo/registry/src/", "/.cargo/git/checkouts/"] {
        if let Some((_, rest)) = file.split_once(registry) {
            let folder = rest.split('/').nth(1).unwrap_or("");
            let name = match folder.rsplit_once('-') {
                Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => name,
                _ => folder,
            };
            return Some(name.replace('-', "_"));
        }
    }
    file.contains("/taskmem/src/").then(|| "taskmem".into())
}

/// The crate of a frame: its file's, or where the debug information has no file (none, or a
/// codegen unit's name, which is the crate that instantiated the code, not the one that wrote
/// it), its function path's.
fn frame_crate(frame: &Frame) -> Option<String> {
    match frame.file.as_deref() {
        Some(file) if file.contains('/') => crate_of_file(file),
        _ if frame.function.contains("::") => Some(crate_of(&frame.function).to_string()),
        Some(file) => crate_of_file(file),
        None => Some(crate_of(&frame.function).to_string()),
    }
}

/// The allocator's own frames and the standard library's, which allocate for their caller.
fn is_machinery(frame: &Frame) -> bool {
    let name = frame.function.as_str();
    if name == "??" || name.starts_with("__rust") || name.starts_with("__rdl") {
        return true;
    }
    if name.starts_with("_Unwind") || name.starts_with("__rg_") {
        return true;
    }
    let path = name.trim_start_matches(['<', '&']);
    if path.starts_with("taskmem::sites") || path.starts_with("taskmem::alloc") {
        return true;
    }
    if let Some(file) = frame.file.as_deref() {
        // The counting allocator and the site recorder, wherever taskmem's source is.
        let taskmem = crate_of_file(file).as_deref() == Some("taskmem");
        if taskmem && (file.ends_with("/src/alloc.rs") || file.ends_with("/src/sites.rs")) {
            return true;
        }
    }
    matches!(
        frame_crate(frame).as_deref(),
        Some("alloc" | "core" | "std" | "hashbrown")
    )
}

/// A frame's file and line as the bill shows them: a registry crate's from its folder
/// (`tokio-1.54.1/src/time/interval.rs:128`), the bench's relative to `root`.
fn place_of(frame: &Frame, root: Option<&str>) -> Option<String> {
    let file = frame.file.as_deref()?;
    if !file.contains('/') {
        return None;
    }
    let shown = ["/.cargo/registry/src/", "/.cargo/git/checkouts/"]
        .iter()
        .find_map(|r| {
            file.split_once(r)
                .map(|(_, rest)| rest.split_once('/').map_or(rest, |(_, p)| p))
        })
        .or_else(|| {
            root.and_then(|r| file.strip_prefix(r))
                .map(|f| f.trim_start_matches('/'))
        })
        .or_else(|| file.rfind("/taskmem/src/").map(|i| &file[i + 1..]))
        .unwrap_or(file);
    Some(format!("{shown}:{}", frame.line.unwrap_or(0)))
}

/// What [`classify`] tells of one call stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Class {
    owner: Owner,
    /// The allocating frame's file and line.
    site: Option<String>,
    /// The bench's own line the allocation came from, for the bench's and a library's.
    yours: Option<String>,
    /// The first library outward of the allocating one, before the bench's code: its name
    /// (its line is not part of the key: one buffer reached by two paths is one site).
    via: Option<String>,
}

/// A call stack's [`Class`], the allocating function's name, and the line of the library it
/// allocated for (`hyper at hyper-1.12.0/src/proto/h1/io.rs:242`).
type Classified = (Class, String, Option<String>);

/// Who allocated a call stack's blocks (its frames innermost first), where, and where in
/// the bench's own code; with the allocating function's name.
fn classify(frames: &[Frame], root: Option<&str>) -> Classified {
    let Some(site) = frames.iter().position(|f| !is_machinery(f)) else {
        return (
            Class {
                owner: Owner::Unknown,
                site: None,
                yours: None,
                via: None,
            },
            "?".into(),
            None,
        );
    };
    let frame = &frames[site];
    let yours = frames[site..]
        .iter()
        .find(|f| {
            f.file
                .as_deref()
                .is_some_and(|f| crate_of_file(f).is_none())
        })
        .and_then(|f| place_of(f, root));
    let krate = frame_crate(frame);
    let owner = match krate.as_deref() {
        None => Owner::Yours,
        Some("taskmem") => Owner::Taskmem,
        Some("") => Owner::Unknown,
        Some(k) => match RUNTIMES.iter().find(|(c, _)| *c == k) {
            Some((_, name)) => Owner::Runtime((*name).to_string()),
            None => Owner::Library(k.replace('_', "-")),
        },
    };
    let yours = match owner {
        Owner::Library(_) => yours,
        _ => None,
    };
    // The library that called this one, if another stands between it and the bench's code.
    let via = match &owner {
        Owner::Library(_) => frames[site..]
            .iter()
            .take_while(|f| f.file.as_deref().is_none_or(|f| crate_of_file(f).is_some()))
            .find(|f| {
                !is_machinery(f)
                    && frame_crate(f).is_some_and(|c| {
                        Some(&c) != krate.as_ref() && !c.is_empty() && c != "taskmem"
                    })
            })
            .map(|f| (frame_crate(f).unwrap_or_default().replace('_', "-"), f)),
        _ => None,
    };
    let via_at = via.as_ref().map(|(name, f)| match place_of(f, root) {
        Some(at) => format!("{name} at {at}"),
        None => name.clone(),
    });
    // The function's qualified name: its own, or the next qualified one of the same code
    // (an inlined frame has its short name alone).
    let function = frames[site..]
        .iter()
        .map(|f| f.function.as_str())
        .find(|f| f.contains("::"))
        .filter(|_| !frame.function.contains("::"))
        .map_or(frame.function.clone(), |outer| {
            format!("{} in {outer}", frame.function)
        });
    (
        Class {
            owner,
            site: place_of(frame, root),
            yours,
            via: via.map(|(name, _)| name),
        },
        function,
        via_at,
    )
}

/// Per-task shares of every site of a pair's cases (`(N, sites)` each), with `frames`
/// naming each return address (innermost first); `root` is stripped from the bench's file
/// names. Largest first.
pub fn shares(
    cases: &[(usize, &[Site])],
    frames: &BTreeMap<u64, Vec<Frame>>,
    root: Option<&str>,
) -> Vec<SiteShare> {
    // One row per class: per case (blocks, bytes, usable), the block sizes seen at the
    // largest N, and the first function name seen.
    let mut by_key: BTreeMap<Class, Vec<(u64, u64, u64)>> = BTreeMap::new();
    let mut sizes: BTreeMap<Class, (bool, Option<u64>)> = BTreeMap::new();
    let mut names: BTreeMap<Class, (String, Option<String>)> = BTreeMap::new();
    let largest = cases.iter().map(|(n, _)| *n).max().unwrap_or(0);
    for (i, (n, sites)) in cases.iter().enumerate() {
        for site in *sites {
            let stack: Vec<Frame> = site
                .frames
                .iter()
                .flat_map(|a| frames.get(a).cloned().unwrap_or_default())
                .collect();
            let (key, function, via_at) = classify(&stack, root);
            names.entry(key.clone()).or_insert((function, via_at));
            let row = by_key
                .entry(key.clone())
                .or_insert_with(|| vec![(0, 0, 0); cases.len()]);
            row[i].0 += site.blocks;
            row[i].1 += site.bytes;
            row[i].2 += site.usable;
            if *n == largest && site.blocks > 0 {
                let size = (site.bytes % site.blocks == 0).then(|| site.bytes / site.blocks);
                let seen = sizes.entry(key).or_insert((true, size));
                if seen.1 != size {
                    *seen = (false, None);
                }
            }
        }
    }
    let ns: Vec<f64> = cases.iter().map(|(n, _)| *n as f64).collect();
    let per_task = |values: Vec<f64>| -> f64 {
        let distinct = ns
            .iter()
            .map(|n| n.to_bits())
            .collect::<std::collections::BTreeSet<_>>();
        if distinct.len() >= 2 {
            let points: Vec<(f64, f64)> = ns.iter().copied().zip(values).collect();
            taskmem::summary::slope(&points)
        } else {
            let n: f64 = ns.iter().sum();
            values.iter().sum::<f64>() / n.max(1.0)
        }
    };
    let mut out: Vec<SiteShare> = by_key
        .into_iter()
        .map(|(key, row)| {
            let blocks = per_task(row.iter().map(|r| r.0 as f64).collect());
            let bytes = per_task(row.iter().map(|r| r.1 as f64).collect());
            let usable = per_task(row.iter().map(|r| r.2 as f64).collect());
            let block_size = sizes.get(&key).and_then(|(same, s)| s.filter(|_| *same));
            let (function, via) = names.remove(&key).unwrap_or_default();
            SiteShare {
                function,
                owner: key.owner,
                site: key.site,
                place: key.yours,
                via,
                bytes,
                usable,
                blocks,
                block_size,
            }
        })
        .collect();
    out.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
    out
}

/// Every return address the sites name, once.
pub fn addresses<'a>(sites: impl IntoIterator<Item = &'a Site>) -> Vec<u64> {
    let set: std::collections::BTreeSet<u64> = sites
        .into_iter()
        .flat_map(|s| s.frames.iter().copied())
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: Some(file.into()),
            line: Some(line),
        }
    }

    #[test]
    fn the_first_frame_past_the_allocator_is_the_site_and_the_benchs_line_its_place() {
        let stack = [
            frame(
                "(inlined)",
                "/x/.cargo/registry/src/idx/taskmem-0.1.0/src/sites.rs",
                1,
            ),
            frame(
                "__rustc::__rust_alloc",
                "/rustc/a/library/alloc/src/alloc.rs",
                2,
            ),
            frame(
                "alloc::raw_vec::RawVec<T>::allocate",
                "/rustc/a/raw_vec.rs",
                3,
            ),
            frame(
                "mybench::handler::{{closure}}",
                "/home/me/b/benches/tasks.rs",
                11,
            ),
            frame(
                "tokio::runtime::task::core::Core<T,S>::poll",
                "/x/.cargo/registry/src/idx/tokio-1.54.1/src/core.rs",
                4,
            ),
        ];
        let (class, function, _) = classify(&stack, Some("/home/me/b"));
        assert_eq!(class.owner, Owner::Yours);
        assert_eq!(function, "mybench::handler::{{closure}}");
        assert_eq!(class.site.as_deref(), Some("benches/tasks.rs:11"));
    }

    #[test]
    fn the_runtimes_allocations_are_the_runtimes_and_a_librarys_point_at_the_caller() {
        let cell = [
            frame("alloc::boxed::Box<T>::new", "/rustc/a/boxed.rs", 1),
            frame(
                "tokio::runtime::task::core::Cell<T,S>::new",
                "/x/.cargo/registry/src/idx/tokio-1.54.1/src/core.rs",
                2,
            ),
            frame("mybench::bench", "/home/me/b/benches/tasks.rs", 30),
        ];
        let (class, _, _) = classify(&cell, None);
        assert_eq!(class.owner, Owner::Runtime("tokio".into()));
        assert_eq!(class.site.as_deref(), Some("tokio-1.54.1/src/core.rs:2"));
        assert_eq!(class.yours, None);
        let lib = [
            frame(
                "bytes::bytes_mut::BytesMut::with_capacity",
                "/x/.cargo/registry/src/idx/bytes-1.1.0/src/b.rs",
                1,
            ),
            frame(
                "mybench::handler::{{closure}}",
                "/home/me/b/benches/tasks.rs",
                12,
            ),
        ];
        let (class, _, _) = classify(&lib, Some("/home/me/b/"));
        assert_eq!(class.owner, Owner::Library("bytes".into()));
        assert_eq!(class.yours.as_deref(), Some("benches/tasks.rs:12"));
        assert_eq!(class.via, None);
        // The same buffer grown for hyper: the library it was grown for is named too.
        let grown = [
            lib[0].clone(),
            frame(
                "hyper::proto::h1::io::Buffered<T,B>::poll_read_from_io",
                "/x/.cargo/registry/src/idx/hyper-1.12.0/src/proto/h1/io.rs",
                190,
            ),
            lib[1].clone(),
        ];
        let (class, _, via_at) = classify(&grown, Some("/home/me/b/"));
        assert_eq!(class.owner, Owner::Library("bytes".into()));
        assert_eq!(class.via.as_deref(), Some("hyper"));
        assert_eq!(
            via_at.as_deref(),
            Some("hyper at hyper-1.12.0/src/proto/h1/io.rs:190")
        );
        // std's vendored hashbrown allocates for its caller; a dependency without line
        // tables is known by its codegen unit.
        let map = [
            frame(
                "do_alloc",
                "/rust/deps/hashbrown-0.16.1/src/raw/alloc.rs",
                19,
            ),
            frame(
                "mybench::session::{closure#0}",
                "/home/me/b/benches/more.rs",
                23,
            ),
        ];
        assert_eq!(classify(&map, Some("/home/me/b")).0.owner, Owner::Yours);
        let interval = [frame(
            "tokio::time::interval::internal_interval_at",
            "tokio.fe41-cgu.13",
            0,
        )];
        assert_eq!(
            classify(&interval, None).0.owner,
            Owner::Runtime("tokio".into())
        );
    }

    #[test]
    fn a_sites_share_is_its_slope_across_n() {
        let frames = BTreeMap::from([(
            1u64,
            vec![frame("mybench::handler::{{closure}}", "/b/benches/t.rs", 5)],
        )]);
        let small = [Site {
            frames: vec![1],
            blocks: 1_000,
            bytes: 1_000 * 3000 + 500,
            usable: 1_000 * 3072 + 512,
        }];
        let large = [Site {
            frames: vec![1],
            blocks: 10_000,
            bytes: 10_000 * 3000 + 500,
            usable: 10_000 * 3072 + 512,
        }];
        let shares = shares(&[(1_000, &small), (10_000, &large)], &frames, Some("/b"));
        assert_eq!(shares.len(), 1);
        assert!((shares[0].bytes - 3000.0).abs() < 1e-6, "{:?}", shares[0]);
        assert!((shares[0].usable - 3072.0).abs() < 1e-6);
        assert!((shares[0].blocks - 1.0).abs() < 1e-9);
        assert_eq!(
            shares[0].block_size, None,
            "500 B more at one site: sizes differ"
        );
    }
}
