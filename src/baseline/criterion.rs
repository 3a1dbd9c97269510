//! Criterion's results on disk: where Criterion keeps a case's results, which cases it has,
//! and reading its mean estimates.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Result;

/// Criterion's mean estimate of a case, with its confidence interval (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Point estimate of the mean.
    pub mean: f64,
    /// Lower bound of the confidence interval.
    pub low: f64,
    /// Upper bound of the confidence interval.
    pub high: f64,
}

/// Criterion's output directory: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, or
/// `target/criterion`.
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    taskmem::summary::target_dir().join("criterion")
}

/// Criterion's output directory for the run whose summary is `summary`
/// (`<target>/taskmem/summary.json` goes with `<target>/criterion`), unless `CRITERION_HOME`
/// says otherwise.
pub fn criterion_home_for(summary: &Path) -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    summary
        .parent()
        .and_then(Path::parent)
        .map_or_else(criterion_home, |target| target.join("criterion"))
}

/// The directory Criterion keeps a case's results in: `<home>/<group>/<function>/<N>`, where
/// the group is the runtime and the function the rest of the id but N, with `/` made `_` as
/// Criterion does (`tokio-mt/spawn/p1024-inline/10000` is in
/// `<home>/tokio-mt/spawn_p1024-inline/10000`).
pub fn criterion_dir(home: &Path, id: &str) -> PathBuf {
    let parts: Vec<&str> = id.split('/').collect();
    match parts[..] {
        [group, ref function @ .., n] if !function.is_empty() => {
            home.join(group).join(function.join("_")).join(n)
        }
        _ => parts
            .iter()
            .fold(home.to_path_buf(), |p, part| p.join(part)),
    }
}

/// The case id of a Criterion case directory: the `full_id` Criterion recorded in
/// `<case_dir>/<which>/benchmark.json`, else read back from the path
/// (`<rt>/spawn_p1024-inline/<N>`: a `_` before `p<digit>` or `k<digit>` was a `/`).
pub(super) fn criterion_case_id(case_dir: &Path, which: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Benchmark {
        full_id: String,
    }
    let recorded = std::fs::read_to_string(case_dir.join(which).join("benchmark.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Benchmark>(&text).ok());
    if let Some(b) = recorded {
        return Some(b.full_id);
    }
    let name = |p: &Path| p.file_name()?.to_str().map(str::to_string);
    let n = name(case_dir)?;
    let function_dir = case_dir.parent()?;
    let function = name(function_dir)?;
    let runtime = name(function_dir.parent()?)?;
    let mut function_id = String::new();
    for (i, token) in function.split('_').enumerate() {
        let qualifier = token.len() > 1
            && token.starts_with(['p', 'k'])
            && token.as_bytes()[1].is_ascii_digit();
        if i > 0 {
            function_id.push(if qualifier { '/' } else { '_' });
        }
        function_id.push_str(token);
    }
    Some(format!("{runtime}/{function_id}/{n}"))
}

#[derive(Deserialize)]
struct CriterionEstimates {
    mean: CriterionStat,
}

#[derive(Deserialize)]
struct CriterionStat {
    point_estimate: f64,
    confidence_interval: CriterionInterval,
}

#[derive(Deserialize)]
struct CriterionInterval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Reads Criterion's mean estimate for a case from `<dir>/<which>/estimates.json`.
pub(super) fn read_criterion_estimate(case_dir: &Path, which: &str) -> Result<Option<Estimate>> {
    let file = case_dir.join(which).join("estimates.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let est: CriterionEstimates = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not Criterion's estimates.json: {e}", file.display()))?;
    Ok(Some(Estimate {
        mean: est.mean.point_estimate,
        low: est.mean.confidence_interval.lower_bound,
        high: est.mean.confidence_interval.upper_bound,
    }))
}

/// Every case directory Criterion has under `home` (`<home>/<rt>/<function>/<N>`).
pub(super) fn case_dirs_in(home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    for rt in dirs(home) {
        for function in dirs(&rt) {
            out.extend(dirs(&function));
        }
    }
    out
}
