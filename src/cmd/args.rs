//! Flag groups shared by `run`, `compare` and `settle`: the engine's and the runtime's
//! settings and the fault schedule, defined once. The choices are the library's own
//! enums ([`Variant`], [`InjectionMode`], [`Potential`](brokerflow_solvers::engine::Potential), [`Runtime`]).

use std::path::PathBuf;

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::faults::{self, FaultFile};
use brokerflow_solvers::engine::report::Sources;
use brokerflow_solvers::engine::settings::EngineSettings;
use brokerflow_solvers::engine::{self, EngineOptions, InjectionMode, Runtime, Variant};
use brokerflow_solvers::lp::{self, Backend};
use brokerflow_solvers::workload;

use crate::cmd::LoadedMarket;

/// Engine settings shared by `run`, `compare` and `settle`: the library's
/// [`EngineSettings`] (one definition of the engine's and the runtime's flags) and
/// `--force`.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    #[command(flatten)]
    pub settings: EngineSettings,
    #[command(flatten)]
    pub size: crate::cmd::SizeArgs,
}

impl std::ops::Deref for EngineArgs {
    type Target = EngineSettings;
    fn deref(&self) -> &EngineSettings {
        &self.settings
    }
}

impl EngineArgs {
    /// Refuses, before any work, an engine run on `g` with these settings — and the
    /// LPs `lps` beside it — whose size estimate is above the limits, unless `--force`.
    pub fn within_limits(
        &self,
        loaded: &LoadedMarket,
        g: &ExpandedGraph,
        lps: &[lp::Objective],
    ) -> anyhow::Result<()> {
        // Settings that contradict each other are named before any size.
        self.settings(Variant::WelfareSeeking)?;
        let engine = Some((self.window, self.rounds));
        let checked = workload::check_plan(g, lps, engine, &workload::Limits::DEFAULT);
        crate::cmd::within_limits(&loaded.path, checked, self.size.force)
    }

    /// [`EngineSettings::options`].
    pub fn options(
        &self,
        g: &ExpandedGraph,
        v: Variant,
        inject: InjectionMode,
    ) -> anyhow::Result<EngineOptions> {
        Ok(self.settings.options(g, v, inject)?)
    }

    /// [`EngineSettings::settings`].
    pub fn settings(&self, variant: Variant) -> anyhow::Result<EngineOptions> {
        Ok(self.settings.settings(variant)?)
    }
}

/// `--faults`, shared by `run` and `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct FaultArgs {
    /// Run under the fault schedule in FILE (JSON `{"seed": …, "faults": […]}`: nodes
    /// down, links cut, messages lost, delayed or duplicated, liars; see README
    /// "Faults"), and report what each fault cost and how soon the run recovered,
    /// against the fault-free run of the same market and options (run too). Runtimes
    /// flat and nodes (the same bits); timely refuses it.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

impl FaultArgs {
    /// Reads and checks the fault file against the market, and refuses a runtime that
    /// does not run faults — before any work starts.
    pub fn load(
        &self,
        loaded: &LoadedMarket,
        runtime: Runtime,
    ) -> anyhow::Result<Option<FaultFile>> {
        let read = |p| faults::read_file(p, runtime, &loaded.market, &loaded.graph);
        Ok(self.faults.as_deref().map(read).transpose()?)
    }
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
