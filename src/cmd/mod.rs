//! One module per subcommand: its clap arguments and its `run` function.

pub mod bench;
pub mod bench_peers;
pub mod cluster;
pub mod compare;
pub mod evaluate;
pub mod experiment;
pub mod generate;
pub mod import;
pub mod inspect;
pub mod mca;
pub mod run;
pub mod settle;
pub mod solve;
pub mod stream;

use std::io::Write;
use std::path::Path;

/// A finished command whose answer is a negative verdict (not an error of the run):
/// `main` prints nothing more and exits with `code`. The codes are documented in
/// README ("Exit codes"): 1 an error, 2 a usage error (clap), 3 an aborted replicated
/// settlement, 4 an infeasible
/// routing (`evaluate`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Verdict {
    /// The process exit code.
    pub code: u8,
    /// One line for stderr.
    pub message: String,
}

/// `evaluate`'s exit code for a routing that breaks a constraint.
pub const EXIT_INFEASIBLE: u8 = 4;

/// Writes a whole file or nothing: a temporary file beside it, then a rename, so a
/// failed run never leaves a partial file that looks complete.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?;
    let tmp = dir.unwrap_or(Path::new(".")).join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A market file as read: the validated market, its G′, and the hash of its bytes.
pub struct LoadedMarket {
    /// Where it was read from.
    pub path: std::path::PathBuf,
    /// The validated market.
    pub market: brokerflow_graphs::ValidMarket,
    /// Its expanded graph G′.
    pub graph: brokerflow_graphs::ExpandedGraph,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

impl LoadedMarket {
    /// Reads, validates and expands a market file.
    pub fn load(path: &Path) -> anyhow::Result<LoadedMarket> {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))?;
        let market = brokerflow_graphs::Market::from_json_str(&text, &path.display().to_string())?;
        let graph = brokerflow_graphs::ExpandedGraph::new(&market);
        Ok(LoadedMarket {
            path: path.to_path_buf(),
            sha256: brokerflow_graphs::input_hash(text.as_bytes()),
            market,
            graph,
        })
    }
}

/// What made an output (DESIGN §8): version, backend, tolerances, input hash.
pub fn provenance(
    loaded: &LoadedMarket,
    backend: brokerflow_solvers::lp::Backend,
) -> serde_json::Value {
    serde_json::json!({
        "brokerflow": env!("CARGO_PKG_VERSION"),
        "market": loaded.path.display().to_string(),
        "market_sha256": loaded.sha256,
        "lp_backend": backend.name(),
        "solver_tolerance": backend.tolerance(),
        "check_tolerance": brokerflow_solvers::lp::CHECK_TOLERANCE,
    })
}
