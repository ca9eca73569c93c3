//! One module per subcommand: its `run` function over the library's flag struct.

pub mod args;
pub mod bench;
pub mod cluster;
pub mod compare;
pub mod evaluate;
pub mod experiment;
pub mod generate;
pub mod import;
pub mod inspect;
pub mod mca;
pub mod output;
pub mod progress;
pub mod run;
pub mod settle;
pub mod solve;
pub mod stream;

use std::path::Path;

/// A finished command whose answer is a negative verdict (not an error of the run):
/// `main` prints nothing more and exits with `code`. The codes are documented in
/// README ("Exit codes"): 1 an error, 2 a usage error (clap), 3 an aborted replicated
/// settlement, 4 an infeasible routing (`evaluate`), 5 an experiment with failed rows.
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

/// `experiment`'s exit code when it wrote every output but some rows failed.
pub const EXIT_FAILED_ROWS: u8 = 5;

pub use brokerflow_graphs::text::{census, count};

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
        let text = read_text(path)?;
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

/// Reads a UTF-8 text file, naming it in the error.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))
}

/// Refuses, before any work, what an estimate puts above the size limits
/// (`brokerflow_solvers::workload`, README "Size limits") unless `--force`: the error
/// names the file, the estimate, the limit and `--force`.
pub fn within_limits(
    origin: &Path,
    checked: Result<(), brokerflow_solvers::workload::TooLarge>,
    force: bool,
) -> anyhow::Result<()> {
    match checked {
        Err(e) if !force => {
            anyhow::bail!("{}: {e}; pass --force to start it anyway", origin.display())
        }
        _ => Ok(()),
    }
}

/// What made an output (design §8): version, backend, tolerances, input hash.
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
