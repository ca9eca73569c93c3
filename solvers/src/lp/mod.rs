//! The LP baselines of [MCF-Grid] §4.2, the analyst's yardstick:
//!
//! | objective | function | what it answers |
//! |---|---|---|
//! | P1 maximum concurrent flow | [`max_concurrent_flow`] | the largest δ with every user served δ·d_k |
//! | P2 maximum-utility flow | [`max_utility_flow`] | the best routing of the amounts min(δ*,1)·d_k |
//! | P2⁻ minimum-utility flow | [`min_utility_flow`] | the worst routing of the same amounts |
//! | P3 maximum welfare | [`max_welfare`] | which demands to serve, 0 ≤ f_k ≤ d_k, for the most welfare; its duals are prices |
//!
//! All four are built on G′ with per-commodity pruning ([`Formulation`]), conditioned
//! ([`demand_caps`]: a demand the network cannot carry is capped at what it can),
//! solved by a [`Backend`], cleaned of cycles, and checked independently of the builder
//! before they are returned: feasible by [`crate::check`], optimal by
//! [`crate::certificate`] (the resource prices must prove a dual bound equal to the
//! optimum). A solution that fails either is an error, never a result.

mod backend;
mod conditioning;
pub mod evaluate;
mod formulation;
mod margins;
mod program;
pub mod render;
mod warm;

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::NodeIndex;
use serde::Serialize;
use thiserror::Error;

pub use backend::{
    solve_lp, solve_lp_with, Backend, BackendFailure, BackendNameError, LpAnswer, LpBackend,
    SolveWithDuals,
};
use conditioning::check_scale;
pub use conditioning::{demand_caps, dynamic_range};
pub use formulation::{Formulation, Supply};
pub use margins::profitable_pairs;
pub use program::{Cmp, Domain, LinearProgram, Row, Sense};
pub use warm::WarmLp;

use crate::certificate::{certify, Certificate, Claim};
use crate::cycles::cancel_cycles;

/// Which LP of [MCF-Grid] §4.2. The variants' doc comments are also the command
/// line's help for each value (clap's `ValueEnum`, behind the `clap` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// P1 maximum concurrent flow: the largest fraction δ of every user's demand that
    /// can be served at once (δ ≥ 1: everything fits).
    Concurrent,
    /// P2: serve min(δ,1) of every demand, routed for the most welfare (best routing).
    Utility,
    /// P2⁻: the same amounts routed for the least welfare (worst routing); only on
    /// markets without broker→broker cycles.
    WorstUtility,
    /// P3 maximum welfare / market clearing: serve any amount up to each demand, for
    /// the most welfare (values minus costs); its dual prices clear the market.
    Welfare,
}

impl Objective {
    /// Every LP baseline, in the order of [MCF-Grid] §4.2 (P1, P2, P2⁻, P3).
    pub const ALL: [Objective; 4] = [
        Objective::Concurrent,
        Objective::Utility,
        Objective::WorstUtility,
        Objective::Welfare,
    ];

    /// The name used on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Concurrent => "concurrent",
            Objective::Utility => "utility",
            Objective::WorstUtility => "worst-utility",
            Objective::Welfare => "welfare",
        }
    }

    /// The LP's title in reports, with its number in [MCF-Grid] §4.2.
    pub fn title(self) -> &'static str {
        match self {
            Objective::Concurrent => "P1 maximum concurrent flow",
            Objective::Utility => "P2 maximum-utility flow at min(delta*,1)*d_k",
            Objective::WorstUtility => "P2- minimum-utility flow at min(delta*,1)*d_k",
            Objective::Welfare => "P3 maximum welfare",
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no LP baseline's ([`Objective::name`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown LP objective '{name}' (known: {})", Objective::ALL.map(Objective::name).join(", "))]
pub struct UnknownObjective {
    /// The name given.
    pub name: String,
}

impl std::str::FromStr for Objective {
    type Err = UnknownObjective;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Objective::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| UnknownObjective {
                name: s.to_string(),
            })
    }
}

/// Whether the LP had a finite optimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LpStatus {
    /// Solved to optimality.
    Optimal,
    /// P1 only: nothing limits δ (every served user has a path of unlimited capacity).
    Unbounded,
}

/// Why an LP could not be solved.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LpError {
    /// P2⁻ on a market whose G′ has a directed cycle.
    #[error("the worst-utility LP (P2-) is undefined on a market with a directed cycle (broker->broker links both ways): minimising welfare would just circulate jobs around it")]
    CyclicWorstCase,
    /// The backend reports no feasible point (after the documented back-off for P2).
    #[error("{backend}: the LP is infeasible")]
    Infeasible {
        /// The backend.
        backend: Backend,
    },
    /// The backend reports an unbounded objective where brokerflow expected a bound.
    #[error("{backend}: the LP is unbounded")]
    Unbounded {
        /// The backend.
        backend: Backend,
    },
    /// The backend panicked (microlp warns it may on hard inputs); caught.
    #[error("{backend}: the solver failed internally on this LP; try `--backend clarabel`")]
    BackendPanicked {
        /// The backend.
        backend: Backend,
    },
    /// A backend that is not compiled in.
    #[error("the {0} backend is not enabled in this build (rebuild with `--features highs`)")]
    NotEnabled(Backend),
    /// Any other backend failure.
    #[error("{backend}: {failure}")]
    Backend {
        /// The backend.
        backend: Backend,
        /// What failed.
        failure: BackendFailure,
    },
    /// The solution failed the independent check.
    #[error("the {backend} solution failed the independent check: {report}")]
    CheckFailed {
        /// The backend.
        backend: Backend,
        /// The first violations, named.
        report: String,
    },
    /// The solution is feasible but not proven optimal: the resource prices the solver
    /// reported prove a bound that differs from its optimum ([`crate::certificate`]).
    #[error("the {backend} solution is not proven optimal (the solver lost precision on this LP; try another `--backend`): {report}")]
    NotOptimal {
        /// The backend.
        backend: Backend,
        /// The certificate's residuals.
        report: String,
    },
    /// A market built for a re-solve (a participant removed, say) broke a rule of
    /// design §3.
    #[error("{0}")]
    InvalidMarket(Box<brokerflow_graphs::MarketError>),
    /// A number of the LP that the backend cannot resolve to the check's tolerance.
    #[error("{backend} cannot solve this LP to the check's tolerance: {what} is {value:e}, and the LP's numbers span more than {limit:e} (scale the market's units, or try `--backend microlp`)")]
    BadlyScaled {
        /// The backend.
        backend: Backend,
        /// The market element and field, e.g. `user u1's demand (capped at twice its maximum flow)`.
        what: String,
        /// Its value.
        value: f64,
        /// The backend's limit on the ratio of the largest to the smallest magnitude.
        limit: f64,
    },
}

impl LpError {
    /// The error of `backend` failing with `failure`, under the variant that names it.
    pub fn from_failure(backend: Backend, failure: BackendFailure) -> LpError {
        match failure {
            BackendFailure::Infeasible => LpError::Infeasible { backend },
            BackendFailure::Unbounded => LpError::Unbounded { backend },
            BackendFailure::NotEnabled => LpError::NotEnabled(backend),
            failure => LpError::Backend { backend, failure },
        }
    }
}

/// Options shared by every LP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LpOptions {
    /// Which solver.
    pub backend: Backend,
    /// Also compute the resource prices (duals of the capacity rows) — P3 only.
    pub prices: bool,
}

impl Default for LpOptions {
    fn default() -> Self {
        LpOptions {
            backend: Backend::DEFAULT,
            prices: false,
        }
    }
}

/// Relative back-offs tried, in order, when P2/P2⁻ at the amounts min(δ*,1)·d_k is
/// infeasible by round-off of the floating-point δ*. The one used is
/// reported as [`LpSolution::amount_backoff`].
pub const AMOUNT_BACKOFFS: [f64; 4] = [0.0, 1e-9, 1e-7, 1e-6];

/// Relative tolerance of the independent check every solution passes:
/// residuals are compared with this times max(1, the constraint's scale).
pub const CHECK_TOLERANCE: f64 = 1e-6;

/// A solved LP baseline.
#[derive(Debug, Clone)]
pub struct LpSolution {
    /// Which LP.
    pub objective: Objective,
    /// Optimal, or (P1 only) unbounded.
    pub status: LpStatus,
    /// P1's δ* (for P1, P2 and P2⁻); `None` when unbounded or for P3.
    pub delta: Option<f64>,
    /// The flow (acyclic per commodity); `None` when unbounded. For P1, scaled to
    /// serve min(δ*,1)·d_k.
    pub flow: Option<Flow>,
    /// Commodities left out because they are stranded.
    pub stranded: Vec<usize>,
    /// Relative back-off of the P2/P2⁻ amounts that made the LP feasible (0 = none).
    pub amount_backoff: f64,
    /// Per node index: the P3 dual price of its resource (0 for slack or unlimited
    /// nodes); `None` unless asked for.
    pub prices: Option<Vec<f64>>,
    /// |primal − dual bound| of the optimality certificate, when prices were asked for
    /// (the same number as `certificate.gap`).
    pub duality_gap: Option<f64>,
    /// The optimality certificate ([`crate::certificate`]); `None` only when P1 is
    /// unbounded.
    pub certificate: Option<Certificate>,
    /// Commodities whose demand the LP capped at twice their maximum flow through G′
    /// ([`demand_caps`]), with the cap; the reported demand stays the market's.
    pub capped: Vec<(usize, f64)>,
    /// LP size: variables.
    pub variables: usize,
    /// LP size: constraint rows.
    pub constraints: usize,
    /// The backend used.
    pub backend: Backend,
    /// The independent check's largest conservation residual.
    pub max_conservation_residual: f64,
    /// The independent check's largest capacity violation.
    pub max_capacity_violation: f64,
}

impl LpSolution {
    /// A solution of `f` before the independent check fills in its residuals.
    fn unchecked(
        g: &ExpandedGraph,
        objective: Objective,
        status: LpStatus,
        delta: Option<f64>,
        flow: Option<Flow>,
        f: &Formulation,
        backend: Backend,
    ) -> LpSolution {
        LpSolution {
            objective,
            status,
            delta,
            flow,
            stranded: stranded(g),
            amount_backoff: 0.0,
            prices: None,
            duality_gap: None,
            certificate: None,
            capped: Vec::new(),
            variables: f.lp.variables(),
            constraints: f.lp.rows.len(),
            backend: backend.resolve(f.lp.variables()),
            max_conservation_residual: 0.0,
            max_capacity_violation: 0.0,
        }
    }

    /// W of the flow, `None` when unbounded.
    pub fn welfare(&self, g: &ExpandedGraph) -> Option<f64> {
        self.flow.as_ref().map(|f| f.welfare(g))
    }

    /// f_k per commodity (0 for stranded), `None` when unbounded.
    pub fn served(&self, g: &ExpandedGraph) -> Option<Vec<f64>> {
        self.flow
            .as_ref()
            .map(|f| (0..g.commodities.len()).map(|k| f.served(g, k)).collect())
    }

    /// Nodes whose resource is used to its capacity (within the check tolerance),
    /// with the amount used.
    pub fn binding(&self, g: &ExpandedGraph) -> Vec<(NodeIndex, f64)> {
        let Some(flow) = &self.flow else {
            return Vec::new();
        };
        resource_use(g, flow)
            .into_iter()
            .enumerate()
            .filter_map(|(n, used)| {
                let cap = g.graph[NodeIndex::new(n)].capacity?;
                (used > 0.0 && used >= cap - CHECK_TOLERANCE * cap.max(1.0))
                    .then_some((NodeIndex::new(n), used))
            })
            .collect()
    }
}

/// Σ_k r^k_n · (flow of k out of n), per node index ([`Flow::resource_use`]).
pub fn resource_use(g: &ExpandedGraph, flow: &Flow) -> Vec<f64> {
    flow.resource_use(g)
}

/// Solves the LP baseline `objective` on G′: [`max_concurrent_flow`],
/// [`max_utility_flow`], [`min_utility_flow`] or [`max_welfare`].
///
/// # Arguments
/// * `g`: the expanded graph G′ of a validated market.
/// * `objective`: which of P1, P2, P2⁻, P3.
/// * `options`: the backend and whether P3 returns prices.
///
/// # Returns
/// The checked and certified [`LpSolution`], or the [`LpError`].
///
/// # Complexity
/// That of the function it calls.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::{solve, LpOptions, Objective};
///
/// // The best routing of fixed amounts never beats the welfare optimum (§4.2).
/// let g = ExpandedGraph::new(&examples::tiny());
/// let w = |o| solve(&g, o, &LpOptions::default()).map(|s| s.welfare(&g).unwrap());
/// assert!(w(Objective::WorstUtility)? <= w(Objective::Utility)?);
/// assert!(w(Objective::Utility)? <= w(Objective::Welfare)? + 1e-9);
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2.
pub fn solve(
    g: &ExpandedGraph,
    objective: Objective,
    options: &LpOptions,
) -> Result<LpSolution, LpError> {
    solve_observed(g, objective, options, &mut |_| {})
}

/// A step of an LP solve, as [`solve_observed`]'s observer hears of it. `lp` is the LP
/// the step is about: the one asked for, or P1, which P2 and P2⁻ solve first for δ*.
/// A step can come again: P2 re-solved at backed-off amounts ([`AMOUNT_BACKOFFS`]),
/// or `auto`'s re-solve with microlp when the large backend's answer fails the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LpStep {
    /// `lp` is built: it has `variables` variables (its usable pairs, after P3's
    /// margin pruning, plus δ for P1).
    Building {
        /// Which LP.
        lp: Objective,
        /// Its variables, counted on the built LP.
        variables: usize,
    },
    /// `lp` is being solved by `backend`, the one that runs (`auto` resolved on the
    /// built LP's variable count, [`Backend::resolve`]).
    Solving {
        /// Which LP.
        lp: Objective,
        /// The backend that solves it.
        backend: Backend,
    },
    /// `lp`'s solution is being checked independently of the solver (flow
    /// conservation and capacities from the incidence matrix, [`crate::check`]) and
    /// proven optimal by its resource prices ([`crate::certificate`]).
    Checking {
        /// Which LP.
        lp: Objective,
    },
}

impl std::fmt::Display for LpStep {
    /// "building P1 (17 variables)", "solving P1 with microlp", "checking P1's
    /// solution independently".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number = |lp: Objective| lp.title().split(' ').next().unwrap_or("");
        match *self {
            LpStep::Building { lp, variables } => {
                write!(f, "building {} ({variables} variables)", number(lp))
            }
            LpStep::Solving { lp, backend } => write!(f, "solving {} with {backend}", number(lp)),
            LpStep::Checking { lp } => {
                write!(f, "checking {}'s solution independently", number(lp))
            }
        }
    }
}

/// [`solve`], telling `observe` of each [`LpStep`] as the solve reaches it: the
/// built LP's variable count, the backend that actually runs, the check.
///
/// # Arguments
/// * `g`, `objective`, `options`: as for [`solve`].
/// * `observe`: told of each step, in order.
///
/// # Returns
/// The same as [`solve`].
///
/// # Complexity
/// That of [`solve`]; each report is O(1).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::{solve_observed, Backend, LpOptions, LpStep, Objective};
///
/// // tiny's P3 is built on the 12 of its 16 usable pairs that lie on a route of
/// // non-negative margin (u3's only route loses 1 per job); `auto` is microlp there.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let mut steps = Vec::new();
/// solve_observed(&g, Objective::Welfare, &LpOptions::default(), &mut |s| steps.push(s))?;
/// let lp = Objective::Welfare;
/// assert_eq!(
///     steps,
///     [
///         LpStep::Building { lp, variables: 12 },
///         LpStep::Solving { lp, backend: Backend::Microlp },
///         LpStep::Checking { lp },
///     ]
/// );
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2.
pub fn solve_observed(
    g: &ExpandedGraph,
    objective: Objective,
    options: &LpOptions,
    observe: &mut dyn FnMut(LpStep),
) -> Result<LpSolution, LpError> {
    match objective {
        Objective::Concurrent => concurrent_observed(g, options, observe),
        Objective::Utility => utility_flow(g, Sense::Maximise, options, observe),
        Objective::WorstUtility => {
            if g.is_cyclic() {
                return Err(LpError::CyclicWorstCase);
            }
            utility_flow(g, Sense::Minimise, options, observe)
        }
        Objective::Welfare => with_auto_fallback(options, |o| max_welfare_with(g, o, observe)),
    }
}

/// The formulation `f` of `lp` is built: tells the observer its variable count.
fn built(observe: &mut dyn FnMut(LpStep), lp: Objective, f: &Formulation) {
    observe(LpStep::Building {
        lp,
        variables: f.lp.variables(),
    });
}

/// `f` passed the scale check and goes to the backend: tells the observer which one
/// runs (`auto` resolved on the built LP's variable count, as [`run_with`] does).
fn solving(observe: &mut dyn FnMut(LpStep), lp: Objective, f: &Formulation, options: &LpOptions) {
    observe(LpStep::Solving {
        lp,
        backend: options.backend.resolve(f.lp.variables()),
    });
}

/// Commodities that get LP variables: positive demand and not stranded.
fn active(g: &ExpandedGraph) -> Vec<bool> {
    g.commodities
        .iter()
        .map(|c| c.demand > 0.0 && !c.is_stranded())
        .collect()
}

fn stranded(g: &ExpandedGraph) -> Vec<usize> {
    (0..g.commodities.len())
        .filter(|&k| g.commodities[k].is_stranded())
        .collect()
}

/// P1 is unbounded when every served commodity has an s_k → t_k path through
/// unlimited nodes only: then all of them can grow without touching any capacity.
fn concurrent_is_unbounded(g: &ExpandedGraph, active: &[bool]) -> bool {
    let pairs = g.pairs();
    let mut seen = vec![false; g.graph.node_count()];
    let mut visited: Vec<NodeIndex> = Vec::new();
    g.commodities.iter().enumerate().all(|(k, c)| {
        if !active[k] {
            return true;
        }
        for n in visited.drain(..) {
            seen[n.index()] = false;
        }
        let mut stack = vec![c.source];
        seen[c.source.index()] = true;
        visited.push(c.source);
        while let Some(n) = stack.pop() {
            if n == c.sink {
                return true;
            }
            for &pair in pairs.leaving_of(n, k) {
                let head = pairs.head(pair);
                if !seen[head.index()] && g.node(head).capacity.is_none() {
                    seen[head.index()] = true;
                    visited.push(head);
                    stack.push(head);
                }
            }
        }
        false
    })
}

/// The P1 LP itself (for export): max δ s.t. out of s_k = δ·d_k, conservation, capacity.
pub fn concurrent_formulation(g: &ExpandedGraph) -> Formulation {
    let active = active(g);
    let mut f = Formulation::new(g, Sense::Maximise, &active, |_, _| 0.0);
    let delta =
        f.lp.add_variable("delta".to_string(), Domain::NonNegative, 1.0);
    f.add_conservation(g, Supply::Concurrent { delta }, &[]);
    f.add_capacity(g);
    f
}

/// P1 maximum concurrent flow: the largest δ such that every non-stranded user with
/// d_k > 0 gets δ·d_k through G′. δ ≥ 1 means every demand fits. Unbounded when
/// nothing limits δ.
///
/// The returned flow is one δ*-optimal flow scaled by min(δ*,1)/δ*, so it serves
/// exactly min(δ*,1)·d_k and is feasible for P2. It is checked independently
/// ([`crate::check`]) and proven optimal by its resource prices
/// ([`crate::certificate`]) before it is returned.
///
/// # Arguments
/// * `g`: the expanded graph G′ of a validated market.
/// * `options`: the backend ([`LpOptions::backend`]; `auto` re-solves with microlp
///   when the large backend's answer fails the check or the certificate).
///
/// # Returns
/// The [`LpSolution`] with `delta` = δ* (status [`LpStatus::Unbounded`] and no flow
/// when nothing limits δ), or the [`LpError`] that stopped it.
///
/// # Complexity
/// One LP of one variable per usable (edge, commodity) pair plus δ, and one row per
/// (node, commodity) plus one per capacitated node; its solve time is the backend's
/// (simplex: exponential in the worst case, fast in practice). Building, the
/// check and the certificate are O(usable pairs); the explicit dual LP is solved too
/// when the backend reports no duals.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::{max_concurrent_flow, LpOptions};
///
/// // tiny's bandwidth u1->b1 (5) carries only half of u1's demand 10.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let p1 = max_concurrent_flow(&g, &LpOptions::default())?;
/// assert!((p1.delta.unwrap() - 0.5).abs() < 1e-6);
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2.1.
pub fn max_concurrent_flow(g: &ExpandedGraph, options: &LpOptions) -> Result<LpSolution, LpError> {
    concurrent_observed(g, options, &mut |_| {})
}

fn concurrent_observed(
    g: &ExpandedGraph,
    options: &LpOptions,
    observe: &mut dyn FnMut(LpStep),
) -> Result<LpSolution, LpError> {
    with_auto_fallback(options, |o| max_concurrent_flow_with(g, o, observe))
}

fn max_concurrent_flow_with(
    g: &ExpandedGraph,
    options: &LpOptions,
    observe: &mut dyn FnMut(LpStep),
) -> Result<LpSolution, LpError> {
    let active = active(g);
    let f = concurrent_formulation(g);
    if concurrent_is_unbounded(g, &active) {
        // Nothing limits δ: the LP is built, never solved.
        built(observe, Objective::Concurrent, &f);
        return Ok(LpSolution::unchecked(
            g,
            Objective::Concurrent,
            LpStatus::Unbounded,
            None,
            None,
            &f,
            options.backend,
        ));
    }
    built(observe, Objective::Concurrent, &f);
    check_scale(g, &f, options.backend, None)?;
    solving(observe, Objective::Concurrent, &f, options);
    let answer = run_with(&f.lp, options.backend, true)?;
    observe(LpStep::Checking {
        lp: Objective::Concurrent,
    });
    let x = &answer.x;
    let delta = x[f.lp.variables() - 1].max(0.0);
    let mut flow = f.flow(g, x);
    if delta > 1.0 {
        for xs in &mut flow.x {
            xs.iter_mut().for_each(|v| *v /= delta);
        }
    }
    let amounts: Vec<f64> = g
        .commodities
        .iter()
        .enumerate()
        .map(|(k, c)| {
            if active[k] {
                delta.min(1.0) * c.demand
            } else {
                0.0
            }
        })
        .collect();
    let s = finish(
        g,
        Objective::Concurrent,
        Some(delta),
        flow,
        &f,
        options,
        Some(&amounts),
    )?;
    let prices = node_prices(&f, answer.row_duals, options.backend)?;
    certified(
        g,
        s,
        &prices,
        Claim::Concurrent {
            delta,
            active: &active,
        },
    )
}

/// The P2/P2⁻ LP at given amounts (for export and for [`max_utility_flow`]).
pub fn utility_formulation(g: &ExpandedGraph, sense: Sense, amounts: &[f64]) -> Formulation {
    let active: Vec<bool> = active(g)
        .into_iter()
        .zip(amounts)
        .map(|(a, &x)| a && x > 0.0)
        .collect();
    let mut f = Formulation::new(g, sense, &active, |k, e| -g.unit_cost(e, k));
    f.lp.constant = g
        .commodities
        .iter()
        .zip(amounts)
        .enumerate()
        .filter(|(k, _)| active[*k])
        .map(|(_, (c, a))| c.valuation * a)
        .sum();
    f.add_conservation(g, Supply::Fixed, amounts);
    f.add_capacity(g);
    f
}

/// The amounts P2 fixes: min(δ*,1)·d_k for served users (d_k if δ is unbounded).
pub fn utility_amounts(g: &ExpandedGraph, delta: Option<f64>) -> Vec<f64> {
    let scale = delta.map_or(1.0, |d| d.min(1.0));
    let active = active(g);
    g.commodities
        .iter()
        .enumerate()
        .map(|(k, c)| if active[k] { scale * c.demand } else { 0.0 })
        .collect()
}

/// P2 maximum-utility feasible flow: solves P1, fixes f_k = min(δ*,1)·d_k and
/// maximises welfare W — the best routing of those amounts. If round-off in δ* makes
/// that infeasible, the amounts are backed off by the first of [`AMOUNT_BACKOFFS`]
/// that works, reported in the solution.
///
/// # Arguments
/// * `g`: the expanded graph G′ of a validated market.
/// * `options`: the backend, as for [`max_concurrent_flow`].
///
/// # Returns
/// The checked and certified [`LpSolution`] (with P1's δ*), or the [`LpError`].
///
/// # Complexity
/// Two LPs (P1, then P2 on the same usable pairs; up to [`AMOUNT_BACKOFFS`]`.len()`
/// re-solves of P2 when round-off makes it infeasible), each as in
/// [`max_concurrent_flow`].
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::{max_utility_flow, LpOptions};
///
/// // tiny serves half of every demand; its best routing of them earns W = 130.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let p2 = max_utility_flow(&g, &LpOptions::default())?;
/// assert!((p2.welfare(&g).unwrap() - 130.0).abs() < 1e-6);
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2.2.
pub fn max_utility_flow(g: &ExpandedGraph, options: &LpOptions) -> Result<LpSolution, LpError> {
    solve(g, Objective::Utility, options)
}

/// P2⁻ minimum-utility flow: the same amounts as P2, routed for the least
/// welfare — the worst routing, the lower end of `gap_closed`. Refused on
/// markets whose G′ has a directed cycle (minimising welfare would circulate jobs).
///
/// # Arguments
/// * `g`: the expanded graph G′ of a validated market.
/// * `options`: the backend, as for [`max_concurrent_flow`].
///
/// # Returns
/// The checked and certified [`LpSolution`], [`LpError::CyclicWorstCase`] on a cyclic
/// G′, or another [`LpError`].
///
/// # Complexity
/// As [`max_utility_flow`], plus O(nodes + edges) for the cycle test.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::{min_utility_flow, LpOptions};
///
/// // The worst routing of the same amounts earns W = 122 (worked out in tiny.md).
/// let g = ExpandedGraph::new(&examples::tiny());
/// let worst = min_utility_flow(&g, &LpOptions::default())?;
/// assert!((worst.welfare(&g).unwrap() - 122.0).abs() < 1e-6);
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2.2 (its minimising counterpart).
pub fn min_utility_flow(g: &ExpandedGraph, options: &LpOptions) -> Result<LpSolution, LpError> {
    solve(g, Objective::WorstUtility, options)
}

fn utility_flow(
    g: &ExpandedGraph,
    sense: Sense,
    options: &LpOptions,
    observe: &mut dyn FnMut(LpStep),
) -> Result<LpSolution, LpError> {
    let p1 = concurrent_observed(g, options, observe)?;
    let objective = match sense {
        Sense::Maximise => Objective::Utility,
        Sense::Minimise => Objective::WorstUtility,
    };
    let amounts = utility_amounts(g, p1.delta);
    with_auto_fallback(options, |o| {
        utility_flow_for_with(g, objective, p1.delta, &amounts, o, observe)
    })
}

/// P2 or P2⁻ at a known δ* (`None` = unbounded), so callers that already solved P1
/// do not solve it again.
pub fn utility_flow_at(
    g: &ExpandedGraph,
    objective: Objective,
    delta: Option<f64>,
    options: &LpOptions,
) -> Result<LpSolution, LpError> {
    utility_flow_for(g, objective, delta, &utility_amounts(g, delta), options)
}

/// P2 or P2⁻ at given amounts f_k per commodity — e.g. what an engine run
/// actually served — backing off by [`AMOUNT_BACKOFFS`] if round-off makes them
/// infeasible. `delta` is only recorded in the solution.
pub fn utility_flow_for(
    g: &ExpandedGraph,
    objective: Objective,
    delta: Option<f64>,
    exact: &[f64],
    options: &LpOptions,
) -> Result<LpSolution, LpError> {
    with_auto_fallback(options, |o| {
        utility_flow_for_with(g, objective, delta, exact, o, &mut |_| {})
    })
}

fn utility_flow_for_with(
    g: &ExpandedGraph,
    objective: Objective,
    delta: Option<f64>,
    exact: &[f64],
    options: &LpOptions,
    observe: &mut dyn FnMut(LpStep),
) -> Result<LpSolution, LpError> {
    let sense = match objective {
        Objective::WorstUtility => {
            if g.is_cyclic() {
                return Err(LpError::CyclicWorstCase);
            }
            Sense::Minimise
        }
        _ => Sense::Maximise,
    };
    let mut last = None;
    for backoff in AMOUNT_BACKOFFS {
        let amounts: Vec<f64> = exact.iter().map(|a| a * (1.0 - backoff)).collect();
        let f = utility_formulation(g, sense, &amounts);
        built(observe, objective, &f);
        check_scale(g, &f, options.backend, Some(&amounts))?;
        solving(observe, objective, &f, options);
        match run_with(&f.lp, options.backend, true) {
            Ok(answer) => {
                observe(LpStep::Checking { lp: objective });
                let flow = f.flow(g, &answer.x);
                let mut s = finish(g, objective, delta, flow, &f, options, Some(&amounts))?;
                s.amount_backoff = backoff;
                let prices = node_prices(&f, answer.row_duals, options.backend)?;
                let claim = match sense {
                    Sense::Maximise => Claim::BestRouting { amounts: &amounts },
                    Sense::Minimise => Claim::WorstRouting { amounts: &amounts },
                };
                return certified(g, s, &prices, claim);
            }
            Err(e @ LpError::Infeasible { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(LpError::Infeasible {
        backend: options.backend,
    }))
}

/// The P3 LP (for export and [`max_welfare`]), on the usable pairs that lie on a
/// path of non-negative margin ([`profitable_pairs`]: no optimal P3 flow uses the
/// others, so the optimum, its flows and its prices are P3's).
pub fn welfare_formulation(g: &ExpandedGraph) -> Formulation {
    welfare_formulation_capped(g, &demand_caps(g))
}

/// [`welfare_formulation`] with the demand bounds d̄_k given.
fn welfare_formulation_capped(g: &ExpandedGraph, caps: &[f64]) -> Formulation {
    let active = active(g);
    let profitable = profitable_pairs(g);
    let mut f = Formulation::on_pairs(
        g,
        Sense::Maximise,
        |k, pair| active[k] && profitable[pair],
        |k, e| {
            let c = &g.commodities[k];
            let (_, head) = g.graph.edge_endpoints(e).expect("edge of G'");
            let value = if head == c.sink { c.valuation } else { 0.0 };
            value - g.unit_cost(e, k)
        },
    );
    f.add_conservation(g, Supply::UpToDemand, caps);
    f.add_capacity(g);
    f
}

/// P3 maximum welfare / market clearing: 0 ≤ f_k ≤ d_k, maximise W.
/// With `options.prices`, the duals of the resource rows are competitive per-unit
/// prices: from the same solve where the backend reports duals
/// ([`SolveWithDuals`]: clarabel, HiGHS), otherwise (microlp) exactly, by solving the
/// explicit dual LP ([`LinearProgram::dual`]) with the same backend. Where the optimum
/// is degenerate the prices are one optimal dual point among several.
///
/// # Arguments
/// * `g`: the expanded graph G′ of a validated market.
/// * `options`: the backend, as for [`max_concurrent_flow`], and whether to return
///   the prices ([`LpOptions::prices`]).
///
/// # Returns
/// The checked and certified [`LpSolution`] (with `prices` per node index when asked
/// for, and the demands it capped in `capped`), or the [`LpError`].
///
/// # Complexity
/// One LP on the usable pairs that lie on a path of non-negative margin
/// ([`profitable_pairs`], O(usable pairs) to find), solved as in
/// [`max_concurrent_flow`].
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::{max_welfare, LpOptions};
///
/// // tiny's welfare optimum drops u3 and earns W* = 141; the binding bandwidth
/// // u1->b1 is priced at 16 per job.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let p3 = max_welfare(&g, &LpOptions { prices: true, ..LpOptions::default() })?;
/// assert!((p3.welfare(&g).unwrap() - 141.0).abs() < 1e-6);
/// let u1b1 = g.graph.node_indices().find(|&n| g.node(n).name == "u1->b1").unwrap();
/// assert!((p3.prices.unwrap()[u1b1.index()] - 16.0).abs() < 1e-6);
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2.3.
pub fn max_welfare(g: &ExpandedGraph, options: &LpOptions) -> Result<LpSolution, LpError> {
    solve(g, Objective::Welfare, options)
}

/// `auto` means "whatever answers exactly": when the large backend's solution fails
/// the independent check or the optimality certificate (an interior point's answer
/// can be off by 1e-4 relative on badly scaled LPs), the same LP is solved again by
/// microlp's exact simplex. The solution records the backend that answered.
fn with_auto_fallback(
    options: &LpOptions,
    mut solve: impl FnMut(&LpOptions) -> Result<LpSolution, LpError>,
) -> Result<LpSolution, LpError> {
    match solve(options) {
        Err(LpError::NotOptimal { .. } | LpError::CheckFailed { .. })
            if options.backend == Backend::Auto =>
        {
            solve(&LpOptions {
                backend: Backend::Microlp,
                ..*options
            })
        }
        other => other,
    }
}

fn max_welfare_with(
    g: &ExpandedGraph,
    options: &LpOptions,
    observe: &mut dyn FnMut(LpStep),
) -> Result<LpSolution, LpError> {
    let caps = demand_caps(g);
    let f = welfare_formulation_capped(g, &caps);
    built(observe, Objective::Welfare, &f);
    check_scale(g, &f, options.backend, Some(&caps))?;
    solving(observe, Objective::Welfare, &f, options);
    let answer = run_with(&f.lp, options.backend, true)?;
    observe(LpStep::Checking {
        lp: Objective::Welfare,
    });
    let flow = f.flow(g, &answer.x);
    let mut s = finish(g, Objective::Welfare, None, flow, &f, options, None)?;
    s.capped = caps
        .iter()
        .enumerate()
        .filter(|&(k, &cap)| cap < g.commodities[k].demand && !g.commodities[k].is_stranded())
        .map(|(k, &cap)| (k, cap))
        .collect();
    let prices = node_prices(&f, answer.row_duals, options.backend)?;
    let mut s = certified(g, s, &prices, Claim::Welfare { caps: &caps })?;
    if options.prices {
        s.duality_gap = s.certificate.map(|c| c.gap);
        s.prices = Some(prices);
    }
    Ok(s)
}

/// Per G′ node, the resource price π_n ≥ 0 from the LP's capacity-row duals: from the
/// solve itself where the backend reports duals, else from the explicit dual LP
/// ([`LinearProgram::dual`]) solved by the same backend (or, where that fails, from
/// clarabel's duals of the same LP). Read in
/// [`LinearProgram::dual_values`]'s convention (y ≥ 0 on ≤ rows of a maximisation,
/// y ≤ 0 of a minimisation); a slightly negative price from round-off counts as 0,
/// which keeps every bound of the certificate valid.
fn node_prices(
    f: &Formulation,
    row_duals: Option<Vec<f64>>,
    backend: Backend,
) -> Result<Vec<f64>, LpError> {
    let y = match row_duals {
        Some(y) => y,
        None => {
            let dual = f.lp.dual();
            match run(&dual, backend) {
                Ok(y) => f.lp.dual_values(&y),
                // microlp misjudges a few explicit duals (free variables of the
                // equality rows) as unbounded. The certificate accepts prices from
                // anywhere, so take an interior-point solve's duals of the same LP.
                Err(_) => {
                    let answer = solve_lp_with(&f.lp, Backend::Clarabel, true)?;
                    answer.row_duals.ok_or(LpError::Backend {
                        backend: Backend::Clarabel,
                        failure: BackendFailure::NoDuals,
                    })?
                }
            }
        }
    };
    let sign = match f.lp.sense {
        Sense::Maximise => 1.0,
        Sense::Minimise => -1.0,
    };
    Ok(f.capacity_rows
        .iter()
        .map(|r| r.map_or(0.0, |r| (sign * y[r]).max(0.0)))
        .collect())
}

/// Runs the optimality certificate on a checked solution: an error unless the prices
/// prove its optimum.
fn certified(
    g: &ExpandedGraph,
    mut s: LpSolution,
    prices: &[f64],
    claim: Claim<'_>,
) -> Result<LpSolution, LpError> {
    let backend = s.backend;
    let flow = s.flow.as_ref().expect("a finished solution has a flow");
    let c = certify(g, flow, prices, claim).map_err(|e| LpError::NotOptimal {
        backend,
        report: e.to_string(),
    })?;
    if !c.ok() {
        return Err(LpError::NotOptimal {
            backend,
            report: c.summary(),
        });
    }
    s.certificate = Some(c);
    Ok(s)
}

fn run(lp: &LinearProgram, backend: Backend) -> Result<Vec<f64>, LpError> {
    run_with(lp, backend, false).map(|a| a.x)
}

fn run_with(lp: &LinearProgram, backend: Backend, duals: bool) -> Result<LpAnswer, LpError> {
    let backend = backend.resolve(lp.variables());
    if !backend.enabled() {
        return Err(LpError::NotEnabled(backend));
    }
    let answer = solve_lp_with(lp, backend, duals)?;
    let finite = |v: &[f64]| v.iter().all(|v| v.is_finite());
    if !finite(&answer.x) || !answer.row_duals.as_deref().is_none_or(finite) {
        return Err(LpError::Backend {
            backend,
            failure: BackendFailure::NonFinite,
        });
    }
    Ok(answer)
}

/// Cleans round-off, cancels cycles and runs the independent check.
fn finish(
    g: &ExpandedGraph,
    objective: Objective,
    delta: Option<f64>,
    mut flow: Flow,
    f: &Formulation,
    options: &LpOptions,
    amounts: Option<&[f64]>,
) -> Result<LpSolution, LpError> {
    let backend = options.backend.resolve(f.lp.variables());
    // Round-off below the solver's tolerance is not flow: it would only add noise rows.
    // Scaled by the commodity's own flow, not its demand: a demand of 10¹⁰ that the
    // network caps at 5 must not make 5 jobs look like round-off.
    let zero = backend.tolerance();
    for xs in flow.x.iter_mut() {
        let scale = xs.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        xs.iter_mut().for_each(|v| {
            if *v < zero * scale {
                *v = 0.0;
            }
        });
    }
    cancel_cycles(g, &mut flow);
    let report = crate::check::check_flow(g, &flow, crate::check::Tolerance::new(CHECK_TOLERANCE));
    let fixed_ok = amounts.is_none_or(|a| {
        (0..g.commodities.len()).all(|k| {
            (flow.served(g, k) - a[k]).abs() <= CHECK_TOLERANCE * g.commodities[k].demand.max(1.0)
        })
    });
    if !report.ok() || !fixed_ok {
        let mut text = report.summary();
        if !fixed_ok {
            text.push_str("; served amounts differ from the fixed amounts");
        }
        return Err(LpError::CheckFailed {
            backend,
            report: text,
        });
    }
    let mut s = LpSolution::unchecked(
        g,
        objective,
        LpStatus::Optimal,
        delta,
        Some(flow),
        f,
        options.backend,
    );
    s.max_conservation_residual = report.max_conservation_residual;
    s.max_capacity_violation = report.max_capacity_violation;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::Objective;

    #[test]
    fn every_objective_name_parses_back_to_it_and_is_its_serde_name() {
        for o in Objective::ALL {
            assert_eq!(o.name().parse::<Objective>(), Ok(o));
            assert_eq!(o.to_string(), o.name());
            assert_eq!(serde_json::to_value(o).unwrap(), o.name());
        }
    }

    #[test]
    fn an_unknown_objective_is_refused_with_every_name() {
        let text = "p4".parse::<Objective>().unwrap_err().to_string();
        for o in Objective::ALL {
            assert!(text.contains(o.name()), "{text} lacks {}", o.name());
        }
    }

    #[cfg(feature = "clap")]
    #[test]
    fn the_command_line_offers_exactly_the_names_in_order() {
        use clap::ValueEnum;
        let offered: Vec<String> = Objective::value_variants()
            .iter()
            .map(|o| o.to_possible_value().unwrap().get_name().to_string())
            .collect();
        assert_eq!(offered, Objective::ALL.map(|o| o.name().to_string()));
    }
}
