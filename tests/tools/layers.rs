//! The module graph: which top-level module of `src/` imports which (`crate::x` in code, not
//! in comments). It must have no cycle, and the measuring core must import nothing but
//! itself: no configuration, suite, baseline, report or command line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The measuring core: allocator counters, probes, one measured run, the Criterion
/// measurement, the task drivers, what a run is made of, and their error type.
const CORE: [&str; 7] = [
    "alloc",
    "error",
    "measurement",
    "probe",
    "runtime",
    "sample",
    "tasks",
];

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::name` references in the code of `text` (comment lines left out).
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(&src, f))
        .filter(|m| m != "lib" && m != "bin")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" || from == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let deps = graph.entry(from.clone()).or_default();
        // Re-exports at the crate root (`crate::Tasks`) are the core's public API.
        for to in imports(&text) {
            let to = match to.as_str() {
                "Tasks" | "DEFAULT_TIMEOUT" => "tasks".into(),
                "Runtime" | "Strategy" | "Release" => "runtime".into(),
                "Error" => "error".into(),
                "Memory" | "Mode" | "criterion" => "measurement".into(),
                "Metric" | "Sample" => "sample".into(),
                "Group" | "group" => "group".into(),
                "TrackedJemalloc" => "alloc".into(),
                other => other.to_string(),
            };
            if to != from && modules.contains(&to) {
                deps.insert(to);
            }
        }
    }
    graph
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
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
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut state, &mut Vec::new()) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    for (from, to) in &graph {
        println!(
            "{from} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
}

#[test]
fn the_core_imports_only_the_core() {
    let graph = graph();
    for module in CORE {
        let outside: Vec<&String> = graph
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
fn the_core_reads_no_environment_and_no_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let module = module_of(&src, &file);
        // probe/ is the instrument: it reads /proc (the process's own counters), never
        // configuration.
        if !CORE.contains(&module.as_str()) || module == "probe" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in ["std::env::var", "env::var(", "fs::read", "File::open"] {
            let hit = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .any(|l| l.contains(needle));
            assert!(!hit, "{} uses {needle}", file.display());
        }
    }
}
