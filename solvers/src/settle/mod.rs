//! Settlement (design §6): who pays whom for an allocation, with the guarantees each
//! mechanism promises.
//!
//! Input: the market with the participants' *true* values, the *declared* market
//! (the same market with the bids of a [`Bids`] file applied), an [`Allocation`] and a
//! [`Mechanism`]. Output: a [`Statement`] with one [`Line`] per participant — volume,
//! pays, receives, utility (true values minus payments, design §2) — and the totals:
//! welfare at true values and the market's surplus (Σ pays − Σ receives; negative is
//! a deficit somebody outside the market must cover).
//!
//! A participant's *value* of a flow is the part of design §2's welfare it owns: a
//! user gets v_k per job served; every sender bears its own cost and the cost of the
//! link it sends on (a broker c_b per job forwarded, a provider c_p·r_k per job run).
//! These parts add up to W exactly, so Σ utility = W − surplus.
//!
//! # When to pick which mechanism
//!
//! | mechanism | allocation | IR | budget | truthful | pick it when |
//! |---|---|---|---|---|---|
//! | [`posted`](posted::posted) | any | no | balanced (= 0) | no | the market file's prices are the contract |
//! | [`lp-prices`](lp_prices::lp_prices) | any (clears only `lp`) | yes at `lp` | surplus ≥ 0 at `lp` | no | competitive prices that clear P3 |
//! | [`vcg`](vcg::vcg) | `lp` only | yes | deficit possible | yes, everyone | efficiency and truth matter, someone funds the deficit |
//! | [`mcafee`](mcafee::mcafee) | any, as possible trades | yes | surplus ≥ 0 | users and providers, for a fixed trade set | the market must never run a deficit |
//! | [`vickrey`](vickrey::vickrey) | any, as possible trades | yes | balanced (= 0) | providers, per user's auction | users procure lots from competing providers, single-lot or entirety bids (\[NOMAD\]) |
//! | [`mca`](mca::mca) | any, as possible trades | providers | balanced (= 0) | no | providers settle lots among themselves with neighbour-only messages ([MCA-Alloy]) |
//! | [`engine-prices`](engine_prices::engine_prices) | `welfare-seeking` only | approximately | surplus ≥ 0 | no | no LP at all: the nodes' own prices settle the market |
//!
//! vcg and mcafee can also be computed without a trusted auctioneer, by m of the
//! market's providers robust to k deviators: [`replicated`] (design §10).
//!
//! "Allocation as possible trades" (design §6): mcafee and vickrey keep a subset of
//! the allocation's trades (and may move a lot to another provider of the same broker
//! market); their truthfulness holds for a fixed set of possible trades. With
//! `--allocation lp` that set is P3 at the declared bids, so a bid that changes P3's
//! allocation also changes the set; the property tests report how often that pays.

pub mod bids;
pub mod engine_prices;
pub mod error;
pub mod lp_prices;
pub mod mca;
pub mod mcafee;
pub mod mechanism;
pub mod posted;
pub mod replicated;
pub mod report;
pub mod session;
pub mod statement;
pub mod vcg;
pub mod vickrey;

use brokerflow_graphs::{ExpandedGraph, Flow, Market, NodeKind, ValidMarket};
use petgraph::graph::EdgeIndex;
use serde::Serialize;

pub use bids::{Bids, Declaration, Declared, EntiretyAsks};
pub use error::{BidProblem, LpContext, SettleError, ShapeError};
pub use mechanism::{Allocations, BudgetBalance, Mechanism, Promises, UnknownMechanism};
pub use statement::{
    participant_values, participant_volumes, Line, Participants, Statement, Transfers,
};
// The flow algorithms the mechanisms build on live in `crate::flows`; re-exported here
// where settlement's callers have always found them.
pub use crate::flows::{
    add_flow, decompose, delivery_edge, reach_costs, sell_links, support, PathFlow, SellLink,
};

use crate::engine::{self, EngineOptions, Variant};
use crate::lp::{self, Backend, LpOptions};
use crate::mca::Rules;

/// Every settlement mechanism, in documentation order: one line per mechanism. The
/// command line's `--mechanism` values and help, [`mechanism()`], `FromStr` for
/// `&dyn Mechanism` and the property tests of [`Promises`] all read this list.
pub static MECHANISMS: &[&dyn Mechanism] = &[
    &posted::Posted,
    &lp_prices::LpPrices,
    &vcg::Vcg,
    &mcafee::Mcafee,
    &vickrey::Vickrey,
    &engine_prices::EnginePrices,
    &mca::Mca,
];

/// The registered mechanism named `name` ([`Mechanism::name`]), if any.
pub fn mechanism(name: &str) -> Option<&'static dyn Mechanism> {
    MECHANISMS.iter().copied().find(|m| m.name() == name)
}

/// Relative tolerance of settlement's own checks (IR, budget, round-off clamps):
/// amounts are compared with this times max(1, the amount's scale).
pub const SETTLE_TOLERANCE: f64 = 1e-6;

/// Where an allocation came from (design §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "variant")]
pub enum AllocationSource {
    /// P3's welfare-maximising allocation at the declared bids (design §4).
    Lp,
    /// A run of the distributed engine in demand mode (design §5) with this push
    /// variant (serialised by its name: `fair`, `utility-aware`, …).
    Engine(Variant),
}

impl AllocationSource {
    /// The name used on the command line (`lp`, or the engine variant).
    pub fn name(&self) -> &str {
        match self {
            AllocationSource::Lp => "lp",
            AllocationSource::Engine(v) => v.name(),
        }
    }
}

impl std::fmt::Display for AllocationSource {
    /// The name used on the command line ([`AllocationSource::name`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An allocation to settle: a flow on G′ and where it came from (design §6).
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// x^k_e on G′ (acyclic per commodity).
    pub flow: Flow,
    /// What produced it.
    pub source: AllocationSource,
    /// Node prices that came with it, per G′ node (money per resource unit; `None` for
    /// nodes of unlimited capacity): the welfare-seeking engine's own window-averaged
    /// multipliers ([`crate::engine::EngineRun::prices`]), used by `engine-prices`.
    /// `None` for the LP's allocation and the other engine variants.
    pub prices: Option<Vec<Option<f64>>>,
}

impl Allocation {
    /// P3 on the declared market's G′ (design §4): the `lp` allocation.
    pub fn lp(declared: &ExpandedGraph, backend: Backend) -> Result<Allocation, SettleError> {
        let s = lp::max_welfare(
            declared,
            &LpOptions {
                backend,
                prices: false,
            },
        )?;
        let flow = s.flow.ok_or(SettleError::NoFlow)?;
        Ok(Allocation {
            flow,
            source: AllocationSource::Lp,
            prices: None,
        })
    }

    /// An engine run on the declared market with `options` (the potential-balancing
    /// rounds of \[MCF-Grid\] §5; settlement runs them in demand mode, on any runtime): its
    /// window-averaged, cycle-free flow, and for the welfare-seeking variant its node
    /// prices. Also returns whether the run converged (a caller should say so if not).
    /// Every runtime gives the same allocation, bit for bit.
    pub fn engine(
        declared: &Market,
        declared_graph: &ExpandedGraph,
        options: &EngineOptions,
    ) -> Result<(Allocation, bool), SettleError> {
        let variant = options.variant;
        let run = engine::run(declared, declared_graph, options)?;
        let allocation = Allocation {
            flow: run.flow,
            source: AllocationSource::Engine(variant),
            prices: (variant == Variant::WelfareSeeking).then_some(run.prices),
        };
        Ok((allocation, run.converged))
    }
}

/// Which allocation to settle: P3's optimum, or a run of one of the engine's
/// registered variants in demand mode ([MCF-Grid] §5). On the command line: `lp` or
/// the variant's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocationRule {
    /// P3's welfare-maximising allocation at the declared bids.
    Lp,
    /// The distributed engine's `variant` in demand mode, at the declared bids.
    Engine(Variant),
}

impl AllocationRule {
    /// Every allocation rule: `lp`, then each engine variant in its registry's order.
    pub fn all() -> Vec<AllocationRule> {
        std::iter::once(AllocationRule::Lp)
            .chain(Variant::ALL.into_iter().map(AllocationRule::Engine))
            .collect()
    }

    /// The name used on the command line (`lp`, or the engine variant's).
    pub fn name(self) -> &'static str {
        match self {
            AllocationRule::Lp => "lp",
            AllocationRule::Engine(v) => v.name(),
        }
    }

    /// The engine variant this allocation runs; `None` for `lp`.
    pub fn variant(self) -> Option<Variant> {
        match self {
            AllocationRule::Lp => None,
            AllocationRule::Engine(v) => Some(v),
        }
    }

    /// One line for `--help`.
    pub fn summary(self) -> String {
        match self {
            AllocationRule::Lp => {
                "P3's welfare-maximising allocation at the declared bids".to_string()
            }
            AllocationRule::Engine(v) => format!(
                "the distributed engine's {} variant in demand mode: {}",
                v.name(),
                v.summary()
            ),
        }
    }
}

#[cfg(feature = "clap")]
impl clap::ValueEnum for AllocationRule {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<Vec<AllocationRule>> =
            std::sync::LazyLock::new(AllocationRule::all);
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.summary()))
    }
}

/// What a mechanism settles: the true and declared markets and their G′ (same
/// structure: bids change only values and costs), and who is who.
pub struct Setting<'a> {
    /// The market with true values.
    pub truth: &'a Market,
    /// The market with declared bids.
    pub declared: &'a Market,
    /// G′ of `truth`.
    pub g_true: ExpandedGraph,
    /// G′ of `declared`.
    pub g_declared: ExpandedGraph,
    /// Participant indexing.
    pub who: Participants,
    /// The declared entirety asks (\[NOMAD\] §2.2; only `vickrey` reads them).
    pub entirety: &'a EntiretyAsks,
}

impl<'a> Setting<'a> {
    /// Builds both G′. `declared` must be `truth` with bids applied (a [`Declared`]
    /// from [`Bids::apply`], or a market declaring no entirety asks).
    pub fn new<D: Declaration + ?Sized>(truth: &'a ValidMarket, declared: &'a D) -> Setting<'a> {
        let market = declared.declared();
        Setting {
            truth: truth.market(),
            declared: market.market(),
            g_true: ExpandedGraph::new(truth),
            g_declared: ExpandedGraph::new(market),
            who: Participants::of(truth),
            entirety: declared.entirety(),
        }
    }

    /// Builds the statement: lines from `trades` and `transfers`, utilities at true
    /// values.
    pub fn statement(
        &self,
        mechanism: &'static dyn Mechanism,
        allocation: &AllocationSource,
        trades: Flow,
        transfers: &Transfers,
        notes: Vec<String>,
    ) -> Statement {
        let values = participant_values(&self.g_true, self.who, &trades);
        let volumes = participant_volumes(&self.g_true, self.who, &trades);
        let participants = (0..self.who.len())
            .map(|i| {
                let (role, _) = self.who.role(i);
                let (pays, receives) = (transfers.pays[i] + 0.0, transfers.receives[i] + 0.0);
                Line {
                    id: self.who.id(self.truth, i),
                    role,
                    volume: volumes[i] + 0.0,
                    pays,
                    receives,
                    utility: values[i] + receives - pays + 0.0,
                }
            })
            .collect();
        let surplus = transfers.pays.iter().sum::<f64>() - transfers.receives.iter().sum::<f64>();
        Statement {
            mechanism,
            allocation: allocation.clone(),
            participants,
            welfare: trades.welfare(&self.g_true) + 0.0,
            declared_welfare: trades.welfare(&self.g_declared) + 0.0,
            surplus: surplus + 0.0,
            notes,
            trades,
        }
    }
}

/// Options of [`settle`].
#[derive(Debug, Clone)]
pub struct SettleOptions {
    /// LP backend for P3, its duals and VCG's re-solves.
    pub backend: Backend,
    /// Conflict rules of the `mca` mechanism's auctions (\[CBBA\] by default).
    pub rules: Rules,
    /// Told as VCG's re-solves finish (a progress display).
    pub resolves: session::ResolveObserver,
}

impl Default for SettleOptions {
    fn default() -> Self {
        SettleOptions {
            backend: Backend::DEFAULT,
            rules: Rules::default(),
            resolves: session::ResolveObserver::default(),
        }
    }
}

/// Settles `allocation` (a flow on G′ of `declared`) with `mechanism`.
///
/// `truth` has the true values, used for utilities and welfare; `declared` is
/// `truth` with the bids applied ([`Bids::apply`]), used by the mechanism.
///
/// # Errors
/// [`SettleError::AllocationShape`] when the flow does not fit G′ of `declared`;
/// otherwise the mechanism's own refusals.
pub fn settle<D: Declaration + ?Sized>(
    truth: &ValidMarket,
    declared: &D,
    allocation: &Allocation,
    mechanism: &dyn Mechanism,
    options: &SettleOptions,
) -> Result<Statement, SettleError> {
    let s = Setting::new(truth, declared);
    check_shape(&s.g_declared, &allocation.flow)?;
    mechanism.settle(&s, allocation, options)
}

pub(crate) fn check_shape(g: &ExpandedGraph, flow: &Flow) -> Result<(), SettleError> {
    let bad = |e| Err(SettleError::AllocationShape(e));
    if flow.x.len() != g.commodities.len() {
        return bad(ShapeError::Commodities {
            flow: flow.x.len(),
            users: g.commodities.len(),
        });
    }
    for (k, c) in g.commodities.iter().enumerate() {
        if flow.x[k].len() != c.usable.len() {
            return bad(ShapeError::Edges {
                commodity: c.id.clone(),
                values: flow.x[k].len(),
                usable: c.usable.len(),
            });
        }
        if flow.x[k].iter().any(|x| !x.is_finite() || *x < 0.0) {
            return bad(ShapeError::Negative(c.id.clone()));
        }
    }
    Ok(())
}

/// User k reimburses the broker at the tail of edge e its declared per-job cost
/// for `a` jobs (nothing if the tail is not a broker): how vickrey and mca pay the
/// brokers along a lot's path.
pub(crate) fn reimburse_broker(s: &Setting<'_>, t: &mut Transfers, k: usize, e: EdgeIndex, a: f64) {
    let g = &s.g_declared;
    let Some((tail, _)) = g.graph.edge_endpoints(e) else {
        return;
    };
    if matches!(g.node(tail).kind, NodeKind::Broker(_)) {
        t.pay(Some(k), s.who.of_node(g, tail), g.unit_cost(e, k) * a);
    }
}
