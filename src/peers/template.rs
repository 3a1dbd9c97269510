//! The `{placeholders}` of a peer's commands (`{src}`, `{build}`, `{peers}`, `{tool}`, `{n}`,
//! `{sleep_ms}`, `{procs}`): finding them in a word, what they expand to, and a command made
//! from a template.

use std::path::Path;

/// The BEAM's default process limit, the floor of `{procs}`.
const DEFAULT_PROCS: u64 = 262_144;

/// The values placeholders expand to.
pub(super) struct Vars<'a> {
    pub(super) src: &'a Path,
    pub(super) build: &'a Path,
    pub(super) peers: &'a Path,
    pub(super) tool: Option<&'a str>,
    pub(super) n: Option<&'a str>,
    pub(super) sleep_ms: Option<&'a str>,
    pub(super) procs: Option<String>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        match name {
            "src" => Some(path(self.src)),
            "build" => Some(path(self.build)),
            "peers" => Some(path(self.peers)),
            "tool" => self.tool.map(str::to_string),
            "n" => self.n.map(str::to_string),
            "sleep_ms" => self.sleep_ms.map(str::to_string),
            "procs" => self.procs.clone(),
            _ => None,
        }
    }
}

/// The names of the `{placeholders}` in `text`, or an error for an unclosed or stray brace.
pub(super) fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("'{text}' has a '}}' without its '{{'"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("'{text}' has a '{{' without its '}}'"))?;
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    Ok(names)
}

/// `template` with every placeholder replaced (the manifest was checked: all are known).
pub(super) fn expand(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `{procs}` for a task count: the larger of the BEAM's default and `n + 1024`.
pub fn procs_for(n: u64) -> u64 {
    n.saturating_add(1024).max(DEFAULT_PROCS)
}
