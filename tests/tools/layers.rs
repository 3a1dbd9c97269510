//! The module graphs of both packages, at every depth: which module imports which
//! (`crate::a::b`, `super::x` and `self::x` paths in code, not in comments). Neither graph may
//! have a cycle, between top-level modules or between the files of one folder
//! (`report/chart.rs` and `report/html.rs`); unit tests at the end of a file are left out. The library's measuring core imports nothing but
//! itself, and reads no environment and no files; the suite's layers import only downward
//! (README, "Layout"); the suite reaches the library only as `taskmem::`, its public API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's measuring core: allocator counters, probes, one measured run, the Criterion
/// measurement, the task drivers, what a run is made of, and their error type.
const CORE: [&str; 8] = [
    "alloc",
    "error",
    "measurement",
    "probe",
    "runtime",
    "sample",
    "sites",
    "tasks",
];

/// The suite's layers, bottom first: each module may import its own layer's and those below.
const SUITE_LAYERS: [(&str, &[&str]); 4] = [
    ("the suite's data", &["cores", "fail", "limits", "matrix"]),
    (
        "what runs and records",
        &[
            "baseline",
            "bill",
            "connections",
            "gate",
            "pairs",
            "timing",
            "workload",
        ],
    ),
    ("what presents", &["report"]),
    (
        "the benches' mains, the command line and whole-process tools",
        &[
            "child",
            "cli",
            "config",
            "heap_profile",
            "interrupt",
            "jobs",
            "layouts",
            "peers",
            "progress",
            "run",
            "sample_time",
            "spawn_time",
            "suite",
            "sweep",
            "symbols",
        ],
    ),
];

/// A module's path from its file: `src/report/memory/view.rs` is `report::memory::view`,
/// `src/report/mod.rs` is `report`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of `text`, comment lines and trailing comments left out, up to its unit tests
/// (`#[cfg(test)]`, at the end of a file): a test may build its input with any module.
fn code(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split("//").next().unwrap_or(""))
}

/// Every path `text` names from `crate::` (and, resolved against `here`, from `super::` and
/// `self::`), as module paths; `use a::{b, c}` groups are expanded one level.
fn imports(text: &str, here: &[String]) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for line in code(text) {
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", here[..here.len().saturating_sub(1)].to_vec()),
            ("self::", here.to_vec()),
        ] {
            let mut rest = line;
            while let Some(i) = rest.find(prefix) {
                // `super::super::` and `crate::` inside a longer word are not this prefix.
                let before = rest[..i].chars().last();
                rest = &rest[i + prefix.len()..];
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let mut path = base.clone();
                let mut tail = rest;
                loop {
                    let name = ident(tail);
                    if name.is_empty() {
                        if let Some(group) = tail.strip_prefix('{') {
                            for item in group.split('}').next().unwrap_or("").split(',') {
                                let item = ident(item.trim());
                                if !item.is_empty() && item != "self" {
                                    let mut p = path.clone();
                                    p.push(item);
                                    found.insert(p);
                                }
                            }
                        }
                        break;
                    }
                    tail = &tail[name.len()..];
                    path.push(name);
                    match tail.strip_prefix("::") {
                        Some(t) => tail = t,
                        None => break,
                    }
                }
                found.insert(path);
            }
        }
    }
    found
}

/// The module graph of the package whose sources are in `src` (a file's imports resolved to
/// the longest module path of the package they name).
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.retain(|f| !f.starts_with(src.join("bin")));
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_path(src, f))
        .filter(|m| m.first().is_some_and(|f| f != "lib"))
        .collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let from = module_path(src, file);
        if !modules.contains(&from) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let deps = graph.entry(from.clone()).or_default();
        for path in imports(&text, &from) {
            let to = (1..=path.len())
                .rev()
                .map(|k| path[..k].to_vec())
                .find(|p| modules.contains(p));
            if let Some(to) = to.filter(|to| *to != from) {
                deps.insert(to);
            }
        }
    }
    graph
}

/// The same graph at one level: folder `parent`'s children (the top level for `[]`), each
/// edge between two of them; an import of a child's descendant counts as the child's.
fn level(
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    parent: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let child = |m: &Vec<String>| -> Option<String> {
        (m.len() > parent.len() && m.starts_with(parent)).then(|| m[parent.len()].clone())
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph {
        let Some(a) = child(from) else { continue };
        let deps = out.entry(a.clone()).or_default();
        for to in tos {
            if let Some(b) = child(to).filter(|b| *b != a) {
                deps.insert(b);
            }
        }
    }
    out
}

fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search with colours; a grey node reached again closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(1) => {
                let start = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut state, &mut Vec::new()))
}

fn library_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("taskmem/src")
}

fn suite_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every folder of a graph's modules, the top level first.
fn folders(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> BTreeSet<Vec<String>> {
    graph
        .keys()
        .flat_map(|m| (0..m.len()).map(|k| m[..k].to_vec()))
        .collect()
}

#[test]
fn neither_module_graph_has_a_cycle_at_any_depth() {
    for (package, src) in [("taskmem", library_src()), ("taskmem-suite", suite_src())] {
        let graph = graph(&src);
        println!("{package}:");
        for folder in folders(&graph) {
            let level = level(&graph, &folder);
            let name = if folder.is_empty() {
                "the top level".to_string()
            } else {
                format!("{}/", folder.join("/"))
            };
            if let Some(c) = cycle(&level) {
                panic!("{package}: import cycle in {name}: {}", c.join(" -> "));
            }
            if folder.is_empty() {
                for (from, to) in &level {
                    let to: Vec<&str> = to.iter().map(String::as_str).collect();
                    println!("  {from} -> {}", to.join(", "));
                }
            }
        }
    }
}

#[test]
fn the_graph_sees_imports_inside_folders() {
    // The reader itself: a cycle planted between two files of one folder is found, through a
    // `super::` path one way and a `crate::` group the other; a path in a comment is not.
    let src = std::env::temp_dir().join(format!("taskmem-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("report")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod report;\npub mod data;\n").unwrap();
    std::fs::write(src.join("data.rs"), "// crate::report::chart\n").unwrap();
    std::fs::write(src.join("report/mod.rs"), "mod chart;\nmod html;\n").unwrap();
    std::fs::write(src.join("report/chart.rs"), "use super::html::Page;\n").unwrap();
    std::fs::write(
        src.join("report/html.rs"),
        "use crate::data;\nuse crate::report::chart::{self, Bar};\n",
    )
    .unwrap();
    let graph = graph(&src);
    let _ = std::fs::remove_dir_all(&src);
    let report = level(&graph, &["report".to_string()]);
    assert_eq!(
        cycle(&report),
        Some(vec!["chart".into(), "html".into(), "chart".into()]),
        "{graph:?}"
    );
    assert!(level(&graph, &[])["data"].is_empty(), "{graph:?}");
}

#[test]
fn the_core_imports_only_the_core() {
    let level = level(&graph(&library_src()), &[]);
    for module in CORE {
        let outside: Vec<&String> = level
            .get(module)
            .into_iter()
            .flatten()
            .filter(|to| !CORE.contains(&to.as_str()))
            .collect();
        assert!(
            outside.is_empty(),
            "core module {module} imports {outside:?}"
        );
    }
}

#[test]
fn the_suite_imports_only_downward() {
    let level = level(&graph(&suite_src()), &[]);
    let layer_of = |m: &str| {
        SUITE_LAYERS
            .iter()
            .position(|(_, mods)| mods.contains(&m))
            .unwrap_or_else(|| panic!("module {m} is in no layer of SUITE_LAYERS (and README)"))
    };
    for (from, tos) in &level {
        for to in tos {
            assert!(
                layer_of(to) <= layer_of(from),
                "{from} ({}) imports {to} ({}), a layer above it",
                SUITE_LAYERS[layer_of(from)].0,
                SUITE_LAYERS[layer_of(to)].0
            );
        }
    }
}

#[test]
fn the_suite_reaches_the_library_only_through_its_public_api() {
    // Every module of the library that the suite names must be public in taskmem/src/lib.rs
    // (`pub mod`, not hidden); the compiler checks the rest.
    let lib = std::fs::read_to_string(library_src().join("lib.rs")).unwrap();
    assert!(
        !lib.contains("doc(hidden)"),
        "taskmem/src/lib.rs hides a module"
    );
    let mut files = Vec::new();
    rust_files(&suite_src(), &mut files);
    for dir in ["benches", "tests"] {
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in code(&text) {
            for (i, _) in line.match_indices("taskmem::") {
                if line[..i].ends_with('_') {
                    continue;
                }
                let name: String = line[i + "taskmem::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && line[i + "taskmem::".len() + name.len()..].starts_with("::")
                {
                    assert!(
                        lib.contains(&format!("pub mod {name}")),
                        "{} names taskmem::{name}, which is not a public module",
                        file.display()
                    );
                }
            }
        }
    }
}

#[test]
fn the_core_reads_no_environment_and_no_files() {
    let src = library_src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let module = module_path(&src, &file);
        // probe/ is the instrument: it reads /proc (the process's own counters) and the
        // cgroup's limits, never configuration.
        let top = module.first().map(String::as_str).unwrap_or("");
        if !CORE.contains(&top) || top == "probe" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in ["std::env::var", "env::var(", "fs::read", "File::open"] {
            let hit = code(&text).any(|l| l.contains(needle));
            assert!(!hit, "{} uses {needle}", file.display());
        }
    }
}
