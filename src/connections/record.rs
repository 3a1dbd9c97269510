//! What the connection bench knows beside the summary's user-space figures, per case id:
//! the kernel's share, the time to open the N connections, and skipped cases with their
//! reason. Kept in `<target>/taskmem/connections.json`, merged by id, written atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::breakdown::ConnBreakdown;
use super::kernel::KernelShare;
use super::peers::PeerRun;
use taskmem::summary;

/// One case's extra figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extra {
    /// The kernel's share of the server's sockets (absent when `/proc/slabinfo` is not
    /// readable: not root).
    pub kernel: Option<KernelShare>,
    /// Seconds from the first accept to every connection's task polled (clients connecting
    /// meanwhile, from their own process).
    pub open_seconds: Option<f64>,
    /// Why the case did not run here.
    pub skipped: Option<String>,
    /// Where a Rust case's bytes per connection go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<ConnBreakdown>,
    /// A peer in another language (`go/...`, `node/...`): each run's whole-process figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_runs: Vec<PeerRun>,
}

/// `<target>/taskmem/connections.json`.
pub fn path() -> PathBuf {
    summary::target_dir()
        .join("taskmem")
        .join("connections.json")
}

/// Every recorded case, by id (empty if there is no file or it cannot be read).
pub fn load() -> BTreeMap<String, Extra> {
    load_from(&path()).unwrap_or_default()
}

/// Every case recorded in `file`, by id; one line when it cannot be read.
pub fn load_from(file: &std::path::Path) -> Result<BTreeMap<String, Extra>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// Merges `cases` into the file.
pub fn save(cases: BTreeMap<String, Extra>) -> Result<(), String> {
    let mut all = load();
    all.extend(cases);
    let json = serde_json::to_vec_pretty(&all).map_err(|e| e.to_string())?;
    let path = path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    summary::write_atomic(&path, &json)
}
