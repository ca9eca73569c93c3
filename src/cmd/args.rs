//! Flag groups shared by `run`, `compare` and `settle`: the engine's and the runtime's
//! settings and the fault schedule, defined once. The choices are the library's own
//! enums ([`Variant`], [`InjectionMode`], [`Potential`], [`Runtime`]).

use std::path::PathBuf;

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::faults::{self, FaultFile};
use brokerflow_solvers::engine::report::Sources;
use brokerflow_solvers::engine::{self, session, EngineOptions, Injection, Potential, Runtime};
use brokerflow_solvers::engine::{InjectionMode, Variant};
use brokerflow_solvers::lp::{self, Backend};
use brokerflow_solvers::workload;

use crate::cmd::LoadedMarket;

/// Old name of [`Variant`] as a flag value, kept for `bench` until it takes `Variant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantArg(pub Variant);
impl clap::ValueEnum for VariantArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [VariantArg; Variant::ALL.len()] = {
            let mut all = [VariantArg(Variant::Fair); Variant::ALL.len()];
            let mut i = 0;
            while i < all.len() {
                all[i] = VariantArg(Variant::ALL[i]);
                i += 1;
            }
            all
        };
        &ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        clap::ValueEnum::to_possible_value(&self.0)
    }
}
/// Old name of [`Runtime`] as a flag value (removed at the merge).
pub type RuntimeArg = Runtime;
/// Old name of [`InjectionMode`] as a flag value (removed at the merge).
pub type InjectArg = InjectionMode;

/// Engine settings shared by `run`, `compare` and `settle`: one definition of the
/// engine's and the runtime's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Round limit.
    #[arg(long, default_value_t = 20_000)]
    pub rounds: usize,
    /// ε: convergence tolerance (over the window, every commodity's absorbed and
    /// admitted amounts agree within ε of the admitted amount, and the window welfare
    /// agrees within ε of its gross amount with the window half a window earlier).
    #[arg(long, default_value_t = 0.03)]
    pub epsilon: f64,
    /// η: feasible mode injects (1 − η)·min(δ*,1)·d_k (headroom for convergence).
    #[arg(long, default_value_t = 0.02)]
    pub eta: f64,
    /// Rounds of the sliding window for convergence and for the reported averages.
    #[arg(long, default_value_t = 50)]
    pub window: usize,
    /// Demand mode: a source holds at most this many times its demand; more is
    /// discarded (counted as unserved). Higher serves more over long paths but
    /// converges slower.
    #[arg(long, default_value_t = 20.0)]
    pub ceiling: f64,
    /// Queue potential.
    #[arg(long, value_enum, default_value = "quadratic")]
    pub potential: Potential,
    /// welfare-seeking variant: the dimensionless scale c of V (error shrinks like 1/c,
    /// rounds grow like c); default 3 in demand mode, 1 in feasible mode.
    #[arg(long)]
    pub welfare_scale: Option<f64>,
    /// Momentum β on pushes, in [0, 1): each push over an edge adds β × the node's own
    /// last push over it; default 0.98 in demand mode, 0.95 in feasible mode (0 switches it
    /// off).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// LP solver (see `brokerflow solve --help`): for δ* in feasible mode, and in
    /// `settle` for P3, its duals and VCG's re-solves.
    #[arg(long, default_value = "auto")]
    pub backend: Backend,
    /// Who runs the nodes; every runtime gives the same result, bit for bit.
    #[arg(long, value_enum, default_value = "flat")]
    pub runtime: Runtime,
    #[command(flatten)]
    pub cluster: crate::cmd::cluster::ClusterArgs,
    #[command(flatten)]
    pub size: crate::cmd::SizeArgs,
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

    /// The engine options for a variant and injection mode on the market of `g`
    /// (solving P1 for δ* when feasible injection needs it).
    pub fn options(
        &self,
        g: &ExpandedGraph,
        variant: Variant,
        inject: InjectionMode,
    ) -> anyhow::Result<EngineOptions> {
        let mut o = self.settings(variant)?;
        o.injection = session::injection(inject, g, self.backend)?;
        Ok(o)
    }

    /// The settings alone (demand injection), every one checked: what a command
    /// refuses before any work, whether or not it runs the engine.
    pub fn settings(&self, variant: Variant) -> anyhow::Result<EngineOptions> {
        if self.window > self.rounds {
            // Also what keeps a mistyped window from allocating window × pairs.
            anyhow::bail!(
                "--window {} is longer than the round limit (--rounds {}): a run never fills it",
                self.window,
                self.rounds
            );
        }
        let o = EngineOptions {
            max_rounds: self.rounds,
            epsilon: self.epsilon,
            eta: self.eta,
            window: self.window,
            ceiling: self.ceiling,
            potential: self.potential,
            welfare_scale: self.welfare_scale,
            momentum: self.momentum,
            runtime: self.runtime,
            ..EngineOptions::new(variant, Injection::Demand)
        };
        o.check()
            .map_err(|e| anyhow::anyhow!("engine settings: {e}"))?;
        Ok(o)
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
    pub fn load(&self, loaded: &LoadedMarket, runtime: Runtime) -> anyhow::Result<Option<FaultFile>> {
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
pub fn engine_provenance(loaded: &LoadedMarket, backend: Backend, runtime: Runtime) -> serde_json::Value {
    engine::report::provenance(&sources(loaded, None), backend, runtime)
}
