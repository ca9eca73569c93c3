//! Flag groups shared by `run`, `compare` and `settle` are the library's
//! ([`EngineFlags`](brokerflow_solvers::commands::EngineFlags),
//! [`FaultFlags`](brokerflow_solvers::commands::FaultFlags)); here is what they
//! need of a loaded market file: the size check naming the file, the fault file, and
//! provenance.

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::faults::FaultFile;
use brokerflow_solvers::engine::report::Sources;
use brokerflow_solvers::engine::{self, Runtime, Variant};
use brokerflow_solvers::lp::{self, Backend};
use brokerflow_solvers::workload;

pub use brokerflow_solvers::commands::{EngineFlags as EngineArgs, FaultFlags as FaultArgs};

use crate::cmd::LoadedMarket;

/// Refuses, before any work, an engine run on `g` with these settings — and the LPs
/// `lps` beside it — whose size estimate is above the limits, unless `--force`.
pub fn engine_within_limits(
    engine: &EngineArgs,
    loaded: &LoadedMarket,
    g: &ExpandedGraph,
    lps: &[lp::Objective],
) -> anyhow::Result<()> {
    // Settings that contradict each other are named before any size.
    engine.settings(Variant::WelfareSeeking)?;
    let rounds = Some((engine.window, engine.rounds));
    let checked = workload::check_plan(g, lps, rounds, &workload::Limits::DEFAULT);
    crate::cmd::within_limits(&loaded.path, checked, engine.size.force)
}

/// `--faults`' file, read and checked against the market before any work.
pub fn load_faults(
    flags: &FaultArgs,
    loaded: &LoadedMarket,
    runtime: Runtime,
) -> anyhow::Result<Option<FaultFile>> {
    Ok(flags.load(&loaded.market, &loaded.graph, runtime)?)
}

/// The files of `loaded` (and the fault file, if any) for provenance.
pub fn sources(loaded: &LoadedMarket, faults: Option<&FaultFile>) -> Sources {
    Sources {
        market: loaded.path.display().to_string(),
        market_sha256: loaded.sha256.clone(),
        faults: faults.map(|f| (f.path.clone(), f.sha256.clone())),
        resumed_from: None,
    }
}

/// What made an engine output ([`engine::report::provenance`]).
pub fn engine_provenance(
    loaded: &LoadedMarket,
    backend: Backend,
    runtime: Runtime,
) -> serde_json::Value {
    engine::report::provenance(&sources(loaded, None), backend, runtime)
}
