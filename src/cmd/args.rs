//! Flag groups shared by `run`, `compare` and `settle`: the engine's and the runtime's
//! settings and the fault schedule, defined once.

use std::path::PathBuf;

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::faults::{self, FaultPlan};
use brokerflow_solvers::engine::{EngineOptions, Injection, Potential, Runtime, Variant};
use brokerflow_solvers::lp::{self, Backend, LpOptions};
use brokerflow_solvers::workload;
use serde_json::json;

use crate::cmd::{provenance, LoadedMarket};

/// Push weights (see `brokerflow run --help`): every variant the engine registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantArg(pub Variant);

impl clap::ValueEnum for VariantArg {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<Vec<VariantArg>> =
            std::sync::LazyLock::new(|| Variant::ALL.into_iter().map(VariantArg).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name()).help(self.0.summary()))
    }
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Variant {
        v.0
    }
}

/// Who runs the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeArg {
    /// In process over flat arrays, parallel over chunks of nodes (fast).
    Flat,
    /// Every node through the public per-node step and its messages, as a broker
    /// embeds it (the reference; the same result, slower).
    Nodes,
    /// The per-node step on timely-dataflow, over --workers threads and --processes
    /// (local, or on several machines with --hosts); the same result.
    Timely,
}

impl From<RuntimeArg> for Runtime {
    fn from(r: RuntimeArg) -> Runtime {
        match r {
            RuntimeArg::Flat => Runtime::Flat,
            RuntimeArg::Nodes => Runtime::Nodes,
            RuntimeArg::Timely => Runtime::Timely,
        }
    }
}

/// What sources inject each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InjectArg {
    /// (1 − η)·min(δ*,1)·d_k, where δ* comes from the LP P1 (the paper's runs).
    Feasible,
    /// The full demand d_k; no LP needed; sources discard what exceeds a queue ceiling.
    Demand,
}

/// The potential of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PotentialArg {
    /// Φ(y) = y²/2 (the paper's).
    Quadratic,
    /// Φ(y) = e^y.
    Exponential,
}

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
    pub potential: PotentialArg,
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
    pub runtime: RuntimeArg,
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
        // Settings that contradict each other are named before any size: a window
        // longer than the round limit is a mistake, not a big run.
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
        inject: InjectArg,
    ) -> anyhow::Result<EngineOptions> {
        let mut o = self.settings(variant)?;
        if inject == InjectArg::Feasible {
            let p1 = lp::max_concurrent_flow(
                g,
                &LpOptions {
                    backend: self.backend,
                    prices: false,
                },
            )?;
            o.injection = Injection::Feasible { delta: p1.delta };
        }
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
        let mut o = EngineOptions::new(variant, Injection::Demand);
        o.max_rounds = self.rounds;
        o.epsilon = self.epsilon;
        o.eta = self.eta;
        o.window = self.window;
        o.ceiling = self.ceiling;
        o.potential = match self.potential {
            PotentialArg::Quadratic => Potential::Quadratic,
            PotentialArg::Exponential => Potential::Exponential,
        };
        o.welfare_scale = self.welfare_scale;
        o.momentum = self.momentum;
        o.runtime = self.runtime.into();
        o.check()
            .map_err(|e| anyhow::anyhow!("engine settings: {e}"))?;
        Ok(o)
    }
}
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

/// A fault file as read: the schedule resolved on the market, and its hash.
pub struct LoadedFaults {
    /// Where it was read from.
    pub path: PathBuf,
    /// The schedule, checked against the market and resolved on G′.
    pub plan: FaultPlan,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

impl FaultArgs {
    /// Reads and checks the fault file against the market, and refuses a runtime that
    /// does not run faults — before any work starts.
    pub fn load(
        &self,
        loaded: &LoadedMarket,
        runtime: Runtime,
    ) -> anyhow::Result<Option<LoadedFaults>> {
        let Some(path) = &self.faults else {
            return Ok(None);
        };
        if !runtime.supports_faults() {
            anyhow::bail!(
                "--faults {}: the {} runtime does not run fault schedules; use --runtime flat or nodes (the same bits)",
                path.display(),
                runtime.name()
            );
        }
        let origin = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("{origin}: cannot read: {e}"))?;
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{origin}: not UTF-8 text"))?;
        let schedule = faults::parse(&text, &origin)?;
        let plan = FaultPlan::new(&schedule, &loaded.market, &loaded.graph, &origin)?;
        Ok(Some(LoadedFaults {
            path: path.clone(),
            plan,
            sha256: brokerflow_graphs::input_hash(text.as_bytes()),
        }))
    }
}

impl LoadedFaults {
    /// The fault file in an output's provenance.
    pub fn provenance(&self) -> serde_json::Value {
        json!({"file": self.path.display().to_string(), "sha256": self.sha256})
    }
}

/// [`provenance`] with the engine's runtime (every runtime gives the same result; the
/// record says which one made it).
pub fn engine_provenance(
    loaded: &LoadedMarket,
    backend: Backend,
    runtime: Runtime,
) -> serde_json::Value {
    let mut p = provenance(loaded, backend);
    p["engine_runtime"] = json!(runtime.name());
    p
}
