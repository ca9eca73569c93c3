//! The distributed potential-balancing algorithm ([MCF-Grid] §5, after Awerbuch–Leighton;
//! design §5): every user, broker, provider and bandwidth node decides each round on
//! local information and its neighbours' messages alone.
//!
//! The engine is a **protocol** and **runtimes** (design §5, "Protocol and runtimes"):
//! - [`protocol`]: what one node does in a round, on borrowed state with reusable
//!   buffers — [`protocol::step`] (learn, inject, balance, push by reverse
//!   water-filling) and [`protocol::receive`] (take delivery in the canonical order);
//!   [`node`]: the same as owned, serialisable configuration, state and messages, for
//!   a broker that embeds a node; [`setup`]: configuring one node, or a partition, from
//!   G′.
//! - [`variants`]: the push weights and what they need, one [`variants::PushPolicy`]
//!   per [`Variant`].
//! - [`runtime`]: who runs the nodes — [`Runtime::Flat`] (default; flat arrays,
//!   nothing allocated per round, parallel over node chunks) or [`Runtime::Nodes`]
//!   (every node through [`node`]'s owned step and messages: the reference). Both give
//!   the same bits, for any thread count.
//! - [`accounting`]: the job ledger (injected = absorbed + queued + in flight +
//!   discarded + lost, per commodity), every node's capacity, the sliding window and
//!   the convergence test, reduced from per-node reports in a fixed order.
//! - [`faults`]: fault schedules (nodes down, links cut, messages lost, delayed or
//!   duplicated, liars) applied between the steps, on the `flat` and `nodes` runtimes.
//! - [`observe`]: trace, checkpoints and progress attach from outside the round loop.
//!
//! [`run`] runs until every commodity has been satisfied over the sliding window for a
//! whole window of rounds, or the round limit; [`Engine`] is the same run as explicit
//! state (init / next round / finish).
//!
//! Variants differ only in the push weights ([`Variant`]); injection modes in what the
//! sources inject ([`Injection`]).

pub mod accounting;
pub mod faults;
pub mod magnitudes;
pub mod node;
pub mod observe;
pub mod protocol;
pub mod replan;
pub mod report;
pub mod runtime;
pub mod session;
pub mod settings;
pub mod setup;
pub mod steady;
pub mod variants;
mod water_fill;

use brokerflow_graphs::{ExpandedGraph, Flow, Market, NodeKind};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde::Serialize;
use thiserror::Error;

pub use observe::{Observe, ObserverMode, Observers, Trace};
pub use runtime::{Footprint, Runtime};
pub use variants::Variant;
pub use water_fill::{reverse_water_fill, Potential, Term, WaterFill};

use accounting::{Accounting, RoundLedger};
use runtime::Executor;
use setup::Setup;

/// What the sources inject each round ([MCF-Grid] §5.1 step 1, design §5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Injection {
    /// a_k = (1 − η)·min(δ*,1)·d_k: the paper's runs; needs P1's δ* (`None` =
    /// unbounded, i.e. min(δ*,1) = 1).
    Feasible {
        /// P1's δ*.
        delta: Option<f64>,
    },
    /// a_k = d_k, no LP needed; sources discard above a queue ceiling.
    Demand,
}

impl Injection {
    /// `feasible` or `demand`.
    pub fn name(self) -> &'static str {
        self.mode().name()
    }

    /// The mode alone, without P1's δ*.
    pub fn mode(self) -> InjectionMode {
        match self {
            Injection::Feasible { .. } => InjectionMode::Feasible,
            Injection::Demand => InjectionMode::Demand,
        }
    }
}

/// What the sources inject, as chosen before P1 is solved: an [`Injection`] without
/// its δ* ([`session::injection`] solves P1 for it).
///
/// The first paragraph of each variant's doc is its help on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum InjectionMode {
    /// (1 − η)·min(δ*,1)·d_k, where δ* comes from the LP P1 (the paper's runs).
    ///
    /// [MCF-Grid] §5's runs: feasible by construction.
    Feasible,
    /// The full demand d_k; no LP needed; sources discard what exceeds a queue ceiling.
    ///
    /// The default.
    #[default]
    Demand,
}

impl InjectionMode {
    /// Every mode.
    pub const ALL: [InjectionMode; 2] = [InjectionMode::Feasible, InjectionMode::Demand];

    /// `feasible` or `demand`: the name on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            InjectionMode::Feasible => "feasible",
            InjectionMode::Demand => "demand",
        }
    }
}

impl std::str::FromStr for InjectionMode {
    type Err = UnknownChoice;

    fn from_str(name: &str) -> Result<InjectionMode, UnknownChoice> {
        InjectionMode::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                UnknownChoice::new(
                    "injection mode",
                    name,
                    InjectionMode::ALL.map(InjectionMode::name),
                )
            })
    }
}

/// A name that is none of a choice's values ([`Variant`], [`Runtime`], [`Potential`],
/// [`InjectionMode`] parse from their names).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {kind} '{name}' (known: {})", .known.join(", "))]
pub struct UnknownChoice {
    /// What was chosen (`variant`, `runtime`, …).
    pub kind: &'static str,
    /// The name given.
    pub name: String,
    /// The names known.
    pub known: Vec<&'static str>,
}

impl UnknownChoice {
    fn new<const N: usize>(
        kind: &'static str,
        name: &str,
        known: [&'static str; N],
    ) -> UnknownChoice {
        UnknownChoice {
            kind,
            name: name.to_string(),
            known: known.to_vec(),
        }
    }
}

/// β of momentum on pushes by default in demand mode: measured in
/// experiments/rounds.md (0.95, 0.97, 0.98 on the same scenarios). A steady flow x̄
/// needs a height gradient of 2(1 − β)·x̄ per hop, which acts like a per-hop cost and
/// is the routing error of welfare-seeking prices; on a backbone with long paths
/// (Abilene, \[SNDlib\]) 0.95 left 4.3 % of P3's welfare unserved, 0.98 leaves 1.2 %.
pub const DEFAULT_MOMENTUM_DEMAND: f64 = 0.98;

/// β of momentum on pushes by default in feasible mode: measured in
/// experiments/rounds.md; above 0.95 the slow feasible runs get slower (at 0.98 one
/// run of 400 hit the round limit).
pub const DEFAULT_MOMENTUM_FEASIBLE: f64 = 0.95;

/// The largest η + ε a run accepts ([`EngineOptions::check`]).
pub const MAX_SLACK: f64 = 0.05;

/// Every setting of a run of the distributed algorithm ([MCF-Grid] §5.1), with
/// documented defaults (design §5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EngineOptions {
    /// Push weights.
    pub variant: Variant,
    /// Injection mode.
    pub injection: Injection,
    /// Potential Φ; default quadratic.
    pub potential: Potential,
    /// η, the slack of feasible injection; default 0.02 (η + ε ≤ [`MAX_SLACK`]).
    pub eta: f64,
    /// ε of the convergence test; default 0.03.
    pub epsilon: f64,
    /// Rounds in the sliding window of convergence and of the reported averages;
    /// default 50 (measured in experiments/rounds.md: with momentum the routing is
    /// steady enough that 50 rounds average it as well as 200 did, and a run needs at
    /// least two windows).
    pub window: usize,
    /// Round limit; default 20 000.
    pub max_rounds: usize,
    /// Demand mode: the height a source's queues of a commodity may reach after
    /// injecting, so that the source holds at most `ceiling` × its queues of k × d_k
    /// jobs and discards the excess (\[Awerbuch–Leighton\]'s discard; [MCF-Grid] §5
    /// injects d_k and has no ceiling). A height, as welfare-seeking's admission gate
    /// is, so a user with several links is not held lower than one with a single link.
    /// `None` = the variant's default ([`EngineOptions::effective_ceiling`]). Higher
    /// serves more over long paths but converges slower: every queue a commodity can
    /// reach fills towards the source's height, and on a backbone where demand far
    /// exceeds capacity that reservoir is what the run waits for (experiments/rounds.md,
    /// "Abilene: fair and utility-aware in demand mode").
    pub ceiling: Option<f64>,
    /// Positive floor of utility-aware weights (before the ×d_k); `None` = the
    /// smallest valuation of any user with demand (design §5: a floor of that order
    /// converges, 1e-3 often does not).
    pub weight_floor: Option<f64>,
    /// Welfare-seeking variant: the dimensionless c of V_k = c / C^k_s (feasible mode)
    /// or V_k = c / (v_k − C^k_s) (demand mode); error shrinks like
    /// 1/c, rounds grow like c. `None` = 3 in demand mode, 1 in feasible mode (with
    /// momentum; experiments/rounds.md).
    pub welfare_scale: Option<f64>,
    /// Who runs the nodes; default [`Runtime::Flat`]. Every runtime gives the same
    /// result, bit for bit.
    pub runtime: Runtime,
    /// β of momentum on pushes (heavy ball, \[Local-MCF\]): each push over an edge adds
    /// β × the node's own last push over it (normalised), so a steady flow needs a
    /// (1 − β) times smaller height gradient. Local: a node remembers what it sent.
    /// In [0, 1); `None` = the default ([`EngineOptions::effective_momentum`]).
    pub momentum: Option<f64>,
}

impl EngineOptions {
    /// The welfare-seeking variant's c in effect: `welfare_scale`, or its default (3 in
    /// demand mode, 1 in feasible mode).
    pub fn effective_welfare_scale(&self) -> f64 {
        self.welfare_scale.unwrap_or(match self.injection {
            Injection::Demand => 3.0,
            Injection::Feasible { .. } => 1.0,
        })
    }

    /// The demand-mode source ceiling in effect (a queue height): `ceiling`, or the
    /// variant's default ([`Variant::default_ceiling`]).
    pub fn effective_ceiling(&self) -> f64 {
        self.ceiling
            .unwrap_or_else(|| self.variant.default_ceiling())
    }

    /// The momentum β in effect: `momentum`, or its default for the injection mode,
    /// [`DEFAULT_MOMENTUM_DEMAND`] or [`DEFAULT_MOMENTUM_FEASIBLE`].
    pub fn effective_momentum(&self) -> f64 {
        self.momentum.unwrap_or(match self.injection {
            Injection::Demand => DEFAULT_MOMENTUM_DEMAND,
            Injection::Feasible { .. } => DEFAULT_MOMENTUM_FEASIBLE,
        })
    }

    /// Refuses settings out of range (η, ε and η + ε ≤ [`MAX_SLACK`], window, round
    /// limit, ceiling, momentum, welfare scale, weight floor), as a run would: for
    /// callers that check before any other work.
    pub fn check(&self) -> Result<(), EngineError> {
        setup::validate(self)
    }

    /// The defaults for a variant and injection mode.
    pub fn new(variant: Variant, injection: Injection) -> EngineOptions {
        EngineOptions {
            variant,
            injection,
            potential: Potential::Quadratic,
            eta: 0.02,
            epsilon: 0.03,
            window: 50,
            max_rounds: 20_000,
            ceiling: None,
            weight_floor: None,
            welfare_scale: None,
            runtime: Runtime::Flat,
            momentum: None,
        }
    }
}

/// Why the engine refuses a run, or a run's result.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A numeric setting out of range.
    #[error("{name} = {value} is out of range: {rule}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The rule.
        rule: &'static str,
    },
    /// A fault schedule on a runtime that does not run them.
    #[error("the {0} runtime does not run fault schedules (use --runtime flat or nodes)")]
    FaultsUnsupported(&'static str),
    /// A market number outside the range the rounds compute in ([`magnitudes`]).
    #[error("{place}: {field} = {value:e} is out of the engine's range: {rule}")]
    Magnitude {
        /// The participant (`user u1`, `link b1 -> p1`, …).
        place: String,
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The rule.
        rule: &'static str,
    },
    /// Some node used more than its capacity in some round: the run's averages are not
    /// a routing, and the run is not reported as one.
    #[error("a node used {excess:.3e} of its capacity more than it has (relative, tolerance {CAPACITY_TOLERANCE:e}) in some round: the run is not a valid routing")]
    CapacityViolated {
        /// The largest relative excess ([`EngineRun::max_capacity_violation`]).
        excess: f64,
    },
    /// A saved state that cannot be resumed from ([`replan`]).
    #[error(transparent)]
    State(#[from] replan::StateError),
}

/// The largest relative excess of a node's use over its capacity that a run may show
/// (round-off of the water-fill's sums); more fails the run
/// ([`EngineError::CapacityViolated`]).
pub const CAPACITY_TOLERANCE: f64 = 1e-9;

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// Every commodity was satisfied over the window.
    Converged,
    /// The round limit came first.
    RoundLimit,
    /// No commodity carries demand (nothing to route).
    NothingToRoute,
}

/// One row of the trace: what happened to commodity k in one round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TraceRow {
    /// Round number, from 1.
    pub round: usize,
    /// Commodity index.
    pub commodity: usize,
    /// Jobs injected at the source this round.
    pub injected: f64,
    /// Jobs absorbed at the collection point this round.
    pub absorbed: f64,
    /// Jobs held anywhere in the network after the round.
    pub queued: f64,
    /// Jobs discarded at the source this round.
    pub discarded: f64,
    /// Jobs in flight after the round (delayed by a fault; design §5, "Faults").
    pub in_flight: f64,
    /// Jobs lost this round (in messages a fault lost).
    pub lost: f64,
}

impl TraceRow {
    /// The row's ledger terms in the trace CSV's column order: injected, absorbed,
    /// queued, discarded, in flight, lost.
    pub fn terms(&self) -> [f64; 6] {
        [
            self.injected,
            self.absorbed,
            self.queued,
            self.discarded,
            self.in_flight,
            self.lost,
        ]
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct EngineRun {
    /// The options it ran with.
    pub options: EngineOptions,
    /// Whether every commodity was satisfied over the window.
    pub converged: bool,
    /// Rounds run.
    pub rounds: usize,
    /// Why it stopped.
    pub stop: Stop,
    /// The routing in steady state: the window-averaged flow per (edge, commodity) with
    /// circulation cancelled, trimmed to its steady part ([`steady::steady_flow`]) so
    /// that it conserves jobs at every node, serves no commodity more than its source
    /// admitted over the window (injected minus discarded, at most d_k) and passes the
    /// same independent check as an LP's flow. Its served amounts are routable by
    /// construction: the flow itself routes them within every capacity. Acyclic per
    /// commodity as every reported flow.
    pub flow: Flow,
    /// Per commodity, what the window-averaged rates delivered beyond the steady flow
    /// (absorbed at t_k per round minus [`EngineRun::served`]): jobs that queues
    /// released (the source's included), or that reached t_k along routes the averages
    /// cannot carry steadily. Neither served nor valued in [`EngineRun::welfare`].
    pub unsteady: Vec<f64>,
    /// Per commodity, the window-averaged growth of the jobs held in the network per
    /// round (injected − discarded − absorbed; negative while queues drain). 0 in an
    /// exact steady state.
    pub queue_drift: Vec<f64>,
    /// Window-averaged jobs moved per (edge, commodity), circulation included.
    pub moved: Flow,
    /// Cost per round of the jobs that moved in circles during the window: the cost
    /// of `moved` minus that of the same flow with its cycles cancelled.
    pub cycle_cost: f64,
    /// Per commodity, window-averaged jobs injected per round.
    pub injected: Vec<f64>,
    /// Per commodity, window-averaged jobs discarded per round.
    pub discarded: Vec<f64>,
    /// Per commodity, the injection a_k (0 for stranded or zero-demand users).
    pub injection: Vec<f64>,
    /// Largest |injected − absorbed − queued − discarded| seen, relative to what was
    /// injected (the ledger, checked every round).
    pub max_ledger_residual: f64,
    /// Largest relative excess of any node's use over its capacity in any round.
    pub max_capacity_violation: f64,
    /// Per G′ node, the window-averaged multiplier λ of its capacity in the push
    /// problem (`None` for nodes of unlimited capacity). In the welfare-seeking variant
    /// this is the node's own price in money per resource unit — a decentralised
    /// counterpart of P3's dual price of the node (design §4); in the fair and
    /// utility-aware variants it is in weight units and not a price.
    pub prices: Vec<Option<f64>>,
    /// What the fault schedule did, if the run had one.
    pub faults: Option<faults::FaultOutcome>,
}

impl EngineRun {
    /// The run itself if no node ever used more than its capacity (within
    /// [`CAPACITY_TOLERANCE`]), else [`EngineError::CapacityViolated`]: a run that broke
    /// a capacity is an error, never a result.
    pub fn valid(self) -> Result<EngineRun, EngineError> {
        // Written so that a violation that is not a number fails too.
        if self.max_capacity_violation <= CAPACITY_TOLERANCE {
            Ok(self)
        } else {
            Err(EngineError::CapacityViolated {
                excess: self.max_capacity_violation,
            })
        }
    }

    /// Steady absorbed rate of commodity k: what it is served (the steady flow's
    /// inflow at t_k, at most what its source admitted over the window).
    pub fn served(&self, g: &ExpandedGraph, k: usize) -> f64 {
        self.flow.served(g, k)
    }

    /// The market's welfare W ([MCF-Grid] §4.1) of the run's steady state on
    /// window-averaged rates: the welfare of the reported steady flow (values of the
    /// jobs it serves, [`EngineRun::served`], minus the costs of moving them) minus
    /// the cost of the jobs that moved in circles ([`EngineRun::circulation_cost`]).
    /// What the window's averages moved beyond that — jobs a draining queue released
    /// ([`EngineRun::unsteady`]) and jobs on their way into a filling one — is
    /// transient and counts neither its value nor its costs, so W is at most the
    /// welfare of a routing of the served amounts (P2 there) and never counts a job
    /// admitted before the window.
    pub fn welfare(&self, g: &ExpandedGraph) -> f64 {
        self.flow.welfare(g) - self.cycle_cost
    }

    /// Cost per round of jobs that moved in circles (broker→broker links both ways)
    /// during the window ([`EngineRun::cycle_cost`]): the welfare of the reported flow
    /// minus the engine's welfare. (`g` is not needed; the cost is computed when the
    /// run finishes.)
    pub fn circulation_cost(&self, _g: &ExpandedGraph) -> f64 {
        self.cycle_cost
    }
}

/// A broker's routing table entry: the share of its commodity-k jobs sent to a next
/// hop (a provider or a linked broker), from the window-averaged flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// The broker's id.
    pub broker: String,
    /// The user (commodity) id.
    pub commodity: String,
    /// The next hop's id.
    pub next_hop: String,
    /// Fraction of the broker's outflow of k, in [0, 1].
    pub fraction: f64,
}

/// Runs the distributed algorithm on G′ ([MCF-Grid] §5.1): rounds of announce, step
/// (inject, balance, push) and deliver (absorb), until converged or the round limit,
/// on the runtime `options.runtime`.
///
/// # Arguments
/// * `market`: the market (for its participants' ids and prices).
/// * `g`: its expanded graph G′.
/// * `options`: the variant, the injection (d_k or δ*·d_k), the potential, the round
///   limit, the window and the rest of the engine's settings.
///
/// # Returns
/// The [`EngineRun`]: its steady flow (which passes the independent check), welfare
/// terms, rounds, why it stopped and the node multipliers.
///
/// # Errors
/// [`EngineError`]: options out of range, numbers too large for the engine, or a run
/// in which some node used more than its capacity.
///
/// # Complexity
/// O(R · (N + |P| log |P|)) time for R rounds, N nodes of G′ and |P| usable pairs
/// (each round every node solves its push problem by reverse water-filling over its
/// pairs); O(N + |P| · W) space for the window of W rounds.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::check::{verify, Tolerance};
/// use brokerflow_solvers::engine::{self, EngineOptions, Injection, Variant};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// // Feasible injection at tiny's δ* = 0.5 (graphs/markets/tiny.md §4).
/// let o = EngineOptions::new(Variant::UtilityAware, Injection::Feasible { delta: Some(0.5) });
/// let r = engine::run(&m, &g, &o)?;
/// assert!(verify(&g, &r.flow, Tolerance::default()).is_ok());
/// // A feasible flow never beats P3's optimum, 141 (tiny.md §7).
/// assert!(r.flow.welfare(&g) <= 141.0 + 1e-6);
/// // Deterministic: the same market and options give the same run.
/// assert_eq!(engine::run(&m, &g, &o)?.flow, r.flow);
/// # Ok::<_, brokerflow_solvers::engine::EngineError>(())
/// ```
///
/// Paper: [MCF-Grid] §5.1, after \[Awerbuch–Leighton\].
pub fn run(
    market: &Market,
    g: &ExpandedGraph,
    options: &EngineOptions,
) -> Result<EngineRun, EngineError> {
    run_observed(market, g, options, &mut Observers::new())
}

/// [`run`] with observers attached (trace, checkpoints, progress): the same result.
///
/// # Arguments
/// * `market`, `g`, `options`: as for [`run`].
/// * `observers`: called after rounds, as each one's [`ObserverMode`] asks.
///
/// # Returns
/// The same [`EngineRun`] as [`run`].
///
/// # Errors
/// As [`run`].
///
/// # Complexity
/// As [`run`], plus the observers' own work.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::{self, EngineOptions, Injection, Observers, Variant};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// let o = EngineOptions::new(Variant::Fair, Injection::Demand);
/// let watched = engine::run_observed(&m, &g, &o, &mut Observers::new())?;
/// assert_eq!(watched.flow, engine::run(&m, &g, &o)?.flow);
/// # Ok::<_, brokerflow_solvers::engine::EngineError>(())
/// ```
///
/// Paper: [MCF-Grid] §5.1.
pub fn run_observed(
    market: &Market,
    g: &ExpandedGraph,
    options: &EngineOptions,
    observers: &mut Observers<'_>,
) -> Result<EngineRun, EngineError> {
    Engine::new(market, g, options)?.run(observers).valid()
}

/// [`run_observed`] under a fault schedule: the distributed algorithm with nodes
/// that crash, lag or lie and messages that are lost or delayed (design §5,
/// "Faults"; `None`: none).
///
/// # Arguments
/// * `market`, `g`, `options`, `observers`: as for [`run_observed`].
/// * `faults`: the schedule, checked against `g`, or `None`.
///
/// # Returns
/// The [`EngineRun`], with what the faults did in [`EngineRun::faults`].
///
/// # Errors
/// As [`run`]; also a runtime that cannot run faults.
///
/// # Complexity
/// As [`run`], plus O(F) for the F scheduled faults.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::{self, EngineOptions, Injection, Observers, Variant};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// let o = EngineOptions::new(Variant::Fair, Injection::Demand);
/// // No schedule: the fault-free run.
/// let r = engine::run_with_faults(&m, &g, &o, None, &mut Observers::new())?;
/// assert!(r.faults.is_none());
/// assert_eq!(r.flow, engine::run(&m, &g, &o)?.flow);
/// # Ok::<_, brokerflow_solvers::engine::EngineError>(())
/// ```
///
/// Paper: [MCF-Grid] §5.1; the faults are brokerflow's robustness tests (design §5).
pub fn run_with_faults(
    market: &Market,
    g: &ExpandedGraph,
    options: &EngineOptions,
    faults: Option<&faults::FaultPlan>,
    observers: &mut Observers<'_>,
) -> Result<EngineRun, EngineError> {
    Engine::with_faults(market, g, options, faults)?
        .run(observers)
        .valid()
}

/// The round engine as explicit state (init / next round / finish), so a caller can
/// drive it round by round; [`run`] is the usual entry point, and observers
/// ([`observe`]) watch a run without driving it.
pub struct Engine<'g> {
    g: &'g ExpandedGraph,
    options: EngineOptions,
    injection: Vec<f64>,
    runtime: Box<dyn Executor + 'g>,
    /// The last round's ledger.
    ledger: RoundLedger,
    accounting: Accounting,
    rounds: usize,
    /// Consecutive rounds in which every commodity passed the window test.
    satisfied_for: usize,
    /// Half a window into a stretch of settled amounts: the window welfare then, and
    /// the gross amount it is measured against (values plus costs), to test that the
    /// welfare has settled too.
    welfare_mark: Option<(f64, f64)>,
    stop: Option<Stop>,
    /// The run does not converge before this round: the first round after the fault
    /// schedule's last fault, or what [`Engine::hold_until`] asked for (0: no hold).
    hold: usize,
}

impl<'g> Engine<'g> {
    /// Configures every node from G′ on the options' runtime and empties every queue.
    pub fn new(
        market: &Market,
        g: &'g ExpandedGraph,
        options: &EngineOptions,
    ) -> Result<Engine<'g>, EngineError> {
        Engine::with_faults(market, g, options, None)
    }

    /// [`Engine::new`] under a fault schedule (`None`: none); refused on a runtime
    /// that does not run faults ([`Runtime::supports_faults`]).
    pub fn with_faults(
        market: &Market,
        g: &'g ExpandedGraph,
        options: &EngineOptions,
        faults: Option<&faults::FaultPlan>,
    ) -> Result<Engine<'g>, EngineError> {
        if faults.is_some() && !options.runtime.supports_faults() {
            return Err(EngineError::FaultsUnsupported(options.runtime.name()));
        }
        let setup = Setup::new(market, g, options)?;
        let injection = setup.injections();
        let stop = injection
            .iter()
            .all(|&a| a <= 0.0)
            .then_some(Stop::NothingToRoute);
        Ok(Engine {
            g,
            options: *options,
            runtime: runtime::executor(&setup, options.runtime, faults),
            ledger: RoundLedger::new(g.commodities.len()),
            accounting: Accounting::new(injection.clone(), options.window),
            injection,
            rounds: 0,
            satisfied_for: 0,
            welfare_mark: None,
            stop,
            hold: faults.map_or(0, faults::FaultPlan::end),
        })
    }

    /// Keeps the run from converging before round `round` (it may still stop at the
    /// round limit): a fault-free reference then runs as long as the faulty run it is
    /// compared with, round by round.
    pub fn hold_until(&mut self, round: usize) {
        self.hold = self.hold.max(round);
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// G′.
    pub fn graph(&self) -> &'g ExpandedGraph {
        self.g
    }

    /// Rounds run so far.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// Why the run stopped, once it has.
    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }

    /// The ledger of the last round, per commodity.
    pub fn ledger(&self) -> &RoundLedger {
        &self.ledger
    }

    /// Consecutive rounds, up to now, in which every commodity passed the window test
    /// (the run converges when this reaches the window).
    pub fn satisfied_for(&self) -> usize {
        self.satisfied_for
    }

    /// The runtime's memory.
    pub fn footprint(&self) -> Footprint {
        let mut f = self.runtime.footprint();
        f.window += self.accounting.window_bytes();
        f
    }

    /// design §2's engine welfare of the current window (values of absorbed jobs,
    /// costs of every job moved): what [`EngineRun::welfare`] would report if the run
    /// stopped now. O(window × usable pairs); for checkpoints, not for every round.
    pub fn window_welfare(&self) -> f64 {
        self.runtime.moved().welfare(self.g)
    }

    /// The gross amount of the current window: |values of the absorbed jobs| + |costs
    /// of the moved jobs|, the yardstick the convergence test settles the window
    /// welfare against. O(window × usable pairs); for the end of a run.
    pub fn window_gross(&self) -> f64 {
        self.welfare_and_gross().1
    }

    /// design §2's welfare of the last round alone: values of the jobs absorbed in it,
    /// costs of the jobs moved in it (0 before the first round). O(usable pairs).
    pub fn round_welfare(&self) -> f64 {
        self.runtime
            .last_round()
            .map_or(0.0, |flow| flow.welfare(self.g))
    }

    /// Runs one round; returns whether it ran one (false once converged or at the
    /// limit).
    pub fn next_round(&mut self) -> bool {
        if self.stop.is_some() {
            return false;
        }
        if self.rounds >= self.options.max_rounds {
            self.stop = Some(Stop::RoundLimit);
            return false;
        }
        self.rounds += 1;
        let excess = self.runtime.round(&mut self.ledger);
        self.accounting.book(&self.ledger, excess);
        // Converged once the amounts have settled for a whole window of rounds (so
        // the reported averages cover a steady state, not the ramp-up) and the window
        // welfare has too: it is read half a window into the stretch and at its end
        // (two windows overlapping by half), and must agree within ε of the gross
        // amount (values plus costs) — else the test goes on for another half window.
        // While faults are still to come, the run is not settled, whatever it looks like.
        if self.rounds >= self.hold
            && self.accounting.window_full()
            && self.accounting.satisfied(self.g, &self.options)
        {
            self.satisfied_for += 1;
        } else {
            self.satisfied_for = 0;
            self.welfare_mark = None;
        }
        let window = self.options.window;
        let half = (window / 2).max(1);
        if self.satisfied_for == half && self.welfare_mark.is_none() {
            self.welfare_mark = Some(self.welfare_and_gross());
        }
        if self.satisfied_for >= window {
            let (now, gross) = self.welfare_and_gross();
            match self.welfare_mark {
                Some((then, scale))
                    if (now - then).abs() <= self.options.epsilon * gross.max(scale) =>
                {
                    self.stop = Some(Stop::Converged);
                }
                _ => {
                    self.welfare_mark = Some((now, gross));
                    self.satisfied_for = half;
                }
            }
        }
        true
    }

    /// The window welfare and its gross amount (values of absorbed jobs plus costs of
    /// moved ones), O(window × usable pairs).
    fn welfare_and_gross(&self) -> (f64, f64) {
        let moved = self.runtime.moved();
        let (welfare, cost) = (moved.welfare(self.g), moved.cost(self.g));
        (welfare, (welfare + cost).abs() + cost.abs())
    }

    /// Runs to the end with `observers` watching, and finishes.
    pub fn run(mut self, observers: &mut Observers<'_>) -> EngineRun {
        self.advance(usize::MAX, observers);
        observers.finish(&self);
        self.finish()
    }

    /// Runs up to `rounds` more rounds (fewer if the run stops first) with `observers`
    /// watching; returns the rounds run. The rounds run on a rayon worker thread, so a
    /// caller outside the pool hands over once, not in every round.
    pub fn advance(&mut self, rounds: usize, observers: &mut Observers<'_>) -> usize {
        rayon::scope(|_| {
            let mut ran = 0;
            while ran < rounds && self.next_round() {
                ran += 1;
                observers.round(self);
            }
            ran
        })
    }

    /// The outcome: window-averaged flows and rates, ledger and capacity checks.
    pub fn finish(self) -> EngineRun {
        let stop = self.stop.unwrap_or(Stop::RoundLimit);
        let moved = self.runtime.moved();
        let mut averaged = moved.clone();
        crate::cycles::cancel_cycles(self.g, &mut averaged);
        let cycle_cost = (moved.cost(self.g) - averaged.cost(self.g)).max(0.0);
        // A commodity is served at most what its source admitted over the window (and
        // at most d_k): a source queue that drains sends more than that, and the excess
        // was admitted before the window.
        let (injected, discarded) = self.accounting.window_averages();
        let bounds: Vec<f64> = self
            .g
            .commodities
            .iter()
            .enumerate()
            .map(|(k, c)| (injected[k] - discarded[k]).min(c.demand))
            .collect();
        let flow = steady::steady_flow(self.g, &averaged, &bounds);
        let unsteady = (0..self.g.commodities.len())
            .map(|k| averaged.served(self.g, k) - flow.served(self.g, k))
            .collect();
        EngineRun {
            options: self.options,
            converged: stop == Stop::Converged,
            rounds: self.rounds,
            stop,
            flow,
            unsteady,
            queue_drift: self.accounting.window_drift(),
            moved,
            cycle_cost,
            injected,
            discarded,
            injection: self.injection,
            max_ledger_residual: self.accounting.max_ledger_residual,
            max_capacity_violation: self.accounting.max_capacity_violation,
            prices: self.runtime.prices(),
            faults: self.runtime.fault_outcome(),
        }
    }
}

/// Every broker's routing table from a flow: per (commodity, next hop), the share of
/// the broker's outflow of that commodity (design §5). Next hops are market
/// participants: a bandwidth node stands for the link's receiver.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow, usually an engine run's steady flow.
///
/// # Returns
/// One [`Route`] per (broker, commodity, next hop) with flow, by broker node, then
/// commodity, then next hop; each broker's fractions of one commodity add up to 1.
///
/// # Complexity
/// O(B · K · (deg + log |U_k|)) time for B brokers, K commodities and brokers' out-degree
/// deg.
///
/// # Example
/// ```
/// use brokerflow_graphs::formats::flows_csv::read_flows;
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::routing_table;
///
/// // u2 splits 10 jobs at b1: 5 to p1 and 5 over the link to b2 (P2, tiny.md §5).
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// let text = "commodity,from,to,flow\nu2,u2,b1,10\nu2,b1,p1,5\nu2,b1,b2,5\n\
///             u2,b2,p2,5\nu2,p1,sink,5\nu2,p2,sink,5\n";
/// let (flow, _) = read_flows(&m, &g, text, "u2.csv").unwrap();
/// let at_b1: Vec<_> = routing_table(&g, &flow)
///     .into_iter()
///     .filter(|r| r.broker == "b1")
///     .map(|r| (r.next_hop, r.fraction))
///     .collect();
/// assert_eq!(at_b1, vec![("b2".to_string(), 0.5), ("p1".to_string(), 0.5)]);
/// ```
///
/// Paper: [MCF-Grid] §4.1.2 (brokers route jobs to providers and linked brokers).
pub fn routing_table(g: &ExpandedGraph, flow: &Flow) -> Vec<Route> {
    let mut routes = Vec::new();
    for n in g.graph.node_indices() {
        if !matches!(g.node(n).kind, NodeKind::Broker(_)) {
            continue;
        }
        for (k, c) in g.commodities.iter().enumerate() {
            let out: Vec<(NodeIndex, f64)> = g
                .graph
                .edges(n)
                .filter(|e| c.can_use(e.id()))
                .map(|e| {
                    let hop = match g.node(e.target()).kind {
                        NodeKind::Bandwidth(l) => {
                            let second = g.link_edges[l].1.expect("two edges");
                            g.graph.edge_endpoints(second).expect("edge").1
                        }
                        _ => e.target(),
                    };
                    (hop, flow.get(g, k, e.id()))
                })
                .collect();
            let total: f64 = out.iter().map(|(_, x)| x).sum();
            if total <= 0.0 {
                continue;
            }
            let mut out = out;
            out.sort_by_key(|(hop, _)| *hop);
            for (hop, x) in out {
                if x > 0.0 {
                    routes.push(Route {
                        broker: g.node(n).name.clone(),
                        commodity: c.id.clone(),
                        next_hop: g.node(hop).name.clone(),
                        fraction: x / total,
                    });
                }
            }
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::{InjectionMode, Potential, Runtime, UnknownChoice, Variant};

    /// Every value of a choice: its name parses back to it, and no two share a name.
    fn round_trips<T>(all: &[T], name: fn(&T) -> &'static str)
    where
        T: std::str::FromStr<Err = UnknownChoice> + PartialEq + std::fmt::Debug,
    {
        for v in all {
            assert_eq!(name(v).parse::<T>().as_ref(), Ok(v));
        }
        let mut names: Vec<_> = all.iter().map(name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn every_choice_parses_back_from_its_name() {
        round_trips(&Variant::ALL, |v| v.name());
        round_trips(&Runtime::ALL, |r| r.name());
        round_trips(&Potential::ALL, |p| p.name());
        round_trips(&InjectionMode::ALL, |m| m.name());
        let e = "warp".parse::<Runtime>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown runtime 'warp' (known: flat, nodes, timely)"
        );
    }

    /// The command line offers exactly the library's names, in the library's order.
    #[cfg(feature = "clap")]
    #[test]
    fn the_command_line_values_are_the_names() {
        fn values<T: clap::ValueEnum>() -> Vec<String> {
            T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|p| p.get_name().to_string())
                .collect()
        }
        let names = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(values::<Variant>(), names(&Variant::ALL.map(Variant::name)));
        assert_eq!(values::<Runtime>(), names(&Runtime::ALL.map(Runtime::name)));
        assert_eq!(
            values::<Potential>(),
            names(&Potential::ALL.map(Potential::name))
        );
        assert_eq!(
            values::<InjectionMode>(),
            names(&InjectionMode::ALL.map(InjectionMode::name))
        );
        // A variant's help is its policy's one line.
        for v in Variant::ALL {
            let p = clap::ValueEnum::to_possible_value(&v).unwrap();
            assert_eq!(
                p.get_help().map(|h| h.to_string()).as_deref(),
                Some(v.summary())
            );
        }
    }
}
