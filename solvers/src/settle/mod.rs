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

pub mod engine_prices;
pub mod lp_prices;
pub mod mca;
pub mod mcafee;
pub mod posted;
pub mod replicated;
pub mod vcg;
pub mod vickrey;

use std::collections::BTreeMap;

use brokerflow_graphs::{ExpandedGraph, Flow, Market, MarketError, NodeKind, Role, ValidMarket};
use petgraph::graph::{EdgeIndex, NodeIndex};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::{self, EngineOptions, Variant};
use crate::lp::{self, Backend, LpError, LpOptions};

/// Relative tolerance of settlement's own checks (IR, budget, round-off clamps):
/// amounts are compared with this times max(1, the amount's scale).
pub const SETTLE_TOLERANCE: f64 = 1e-6;

/// Where an allocation came from (design §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "variant")]
pub enum AllocationSource {
    /// P3's welfare-maximising allocation at the declared bids (design §4).
    Lp,
    /// A run of the distributed engine in demand mode (design §5), by variant name
    /// (`fair`, `utility-aware`, …).
    Engine(String),
}

impl AllocationSource {
    /// The name used on the command line (`lp`, or the engine variant).
    pub fn name(&self) -> &str {
        match self {
            AllocationSource::Lp => "lp",
            AllocationSource::Engine(v) => v,
        }
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
            source: AllocationSource::Engine(variant.name().to_string()),
            prices: (variant == Variant::WelfareSeeking).then_some(run.prices),
        };
        Ok((allocation, run.converged))
    }
}

/// The settlement mechanisms of design §6 implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// The market file's posted prices ([`posted::posted`]).
    Posted,
    /// Competitive prices from P3's duals ([`lp_prices::lp_prices`]).
    LpPrices,
    /// Vickrey–Clarke–Groves over P3 ([`vcg::vcg`]).
    Vcg,
    /// McAfee's trade-reduction double auction per broker market ([`mcafee::mcafee`]).
    Mcafee,
    /// NOMAD's sealed-bid procurement per user, single-lot and entirety bids
    /// ([`vickrey::vickrey`]).
    Vickrey,
    /// The welfare-seeking engine's own node prices ([`engine_prices::engine_prices`]).
    EnginePrices,
    /// Max-consensus auctions among providers, at the winning bids ([`mca::mca`]).
    Mca,
}

impl Mechanism {
    /// Every mechanism, in documentation order.
    pub const ALL: [Mechanism; 7] = [
        Mechanism::Posted,
        Mechanism::LpPrices,
        Mechanism::Vcg,
        Mechanism::Mcafee,
        Mechanism::Vickrey,
        Mechanism::EnginePrices,
        Mechanism::Mca,
    ];

    /// The name used on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Posted => "posted",
            Mechanism::LpPrices => "lp-prices",
            Mechanism::Vcg => "vcg",
            Mechanism::Mcafee => "mcafee",
            Mechanism::Vickrey => "vickrey",
            Mechanism::EnginePrices => "engine-prices",
            Mechanism::Mca => "mca",
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown mechanism '{s}' (known: posted, lp-prices, vcg, mcafee, vickrey, engine-prices, mca)")
            })
    }
}

/// Declared bids that override the market file's values (design §6): what a user
/// runs to see what a misreport would do.
///
/// JSON, every map optional, unknown fields refused:
/// ```json
/// {"valuations": {"u1": 12}, "costs": {"p1": 0.5, "b1": 0},
///  "entirety": {"p1": {"u1": 12.5}}}
/// ```
/// `valuations` names users (v_k per job); `costs` names brokers (c_b per job) or
/// providers (c_p per resource unit). `entirety` names providers, then users: the
/// provider's *entirety ask* in [`vickrey`](vickrey::vickrey), the money it asks in
/// total for running all of that user's lots (\[NOMAD\] §2.2: "an entirety bid is a
/// bid for all the lots in the RDG"). Without an entry the entirety ask is the sum
/// of the provider's single-lot asks, which is also its truthful value: costs are
/// linear (design §2), so combining lots saves nothing in the market model. Only
/// `vickrey` reads entirety asks; the other mechanisms ignore them. Link costs,
/// capacities, demands and requirements are not bids. Amounts must be finite and
/// ≥ 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Bids {
    /// User id → declared valuation v_k.
    #[serde(default)]
    pub valuations: BTreeMap<String, f64>,
    /// Broker or provider id → declared cost.
    #[serde(default)]
    pub costs: BTreeMap<String, f64>,
    /// Provider id → user id → declared entirety ask (money per time unit for all
    /// of the user's lots, transport excluded; \[NOMAD\] §2.2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entirety: BTreeMap<String, BTreeMap<String, f64>>,
}

/// Key under which [`Bids::apply`] records the entirety asks in the declared
/// market's `meta`, where [`vickrey`](vickrey::vickrey) reads them (the declared
/// market is everything that was declared; the market file format has no field for
/// bundle asks). `apply` always replaces this key, so a market file cannot smuggle
/// entirety asks in; the value has the shape of [`Bids::entirety`].
pub const ENTIRETY_META_KEY: &str = "declared_entirety_asks";

/// Declared entirety asks by (provider index, user index) in market order (\[NOMAD\]
/// §2.2), as recorded in `declared`'s meta by [`Bids::apply`]. Empty when none were
/// declared; an unreadable record or an unknown id is a typed error.
pub fn declared_entirety(declared: &Market) -> Result<BTreeMap<(usize, usize), f64>, SettleError> {
    let mut out = BTreeMap::new();
    let Some(value) = declared
        .meta
        .as_ref()
        .and_then(|m| m.get(ENTIRETY_META_KEY))
    else {
        return Ok(out);
    };
    let asks: BTreeMap<String, BTreeMap<String, f64>> = serde_json::from_value(value.clone())
        .map_err(|e| SettleError::Bids {
            origin: format!("the declared market's meta.{ENTIRETY_META_KEY}"),
            message: e.to_string(),
        })?;
    for (pid, per_user) in &asks {
        let p = entirety_provider(declared, pid)?;
        for (uid, &ask) in per_user {
            let k = entirety_user(declared, pid, uid, ask)?;
            out.insert((p, k), ask);
        }
    }
    Ok(out)
}

/// The index of the provider `pid` of an entirety ask, or why it cannot bid.
fn entirety_provider(m: &Market, pid: &str) -> Result<usize, SettleError> {
    m.providers
        .iter()
        .position(|p| p.id == pid)
        .ok_or_else(|| SettleError::BadBid {
            id: pid.to_string(),
            message: match m.role_of(pid) {
                Some(r) => format!(
                    "is a {r}: only providers make entirety bids (\"entirety\": {{\"<provider>\": {{\"<user>\": ask}}}})"
                ),
                None => "unknown participant: no provider has this id (in \"entirety\")".to_string(),
            },
        })
}

/// The index of the user `uid` in provider `pid`'s entirety asks, with the ask checked.
fn entirety_user(m: &Market, pid: &str, uid: &str, ask: f64) -> Result<usize, SettleError> {
    let bad = |message: String| SettleError::BadBid {
        id: pid.to_string(),
        message,
    };
    let k = m.users.iter().position(|u| u.id == uid).ok_or_else(|| {
        bad(match m.role_of(uid) {
            Some(r) => format!(
                "entirety ask for '{uid}', which is a {r}: entirety asks are per user (the auctioneer)"
            ),
            None => format!("entirety ask for '{uid}': unknown participant, no user has this id"),
        })
    })?;
    if !(0.0..=brokerflow_graphs::MONEY_LIMIT).contains(&ask) {
        return Err(bad(format!(
            "entirety ask {ask} for '{uid}' must be finite and >= 0, at most {:e}",
            brokerflow_graphs::MONEY_LIMIT
        )));
    }
    Ok(k)
}

impl Bids {
    /// Parses a bids file; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Bids, SettleError> {
        let bids: Bids = parse_bids_text(text).map_err(|message| SettleError::Bids {
            origin: origin.to_string(),
            message,
        })?;
        Ok(bids)
    }

    /// The market as declared: `truth` with these bids applied. Refuses an unknown
    /// id, a wrong role (a valuation for a provider, a cost for a user, an entirety
    /// ask by a non-provider or for a non-user) and amounts that are negative or not
    /// finite, naming the entry. Entirety asks are recorded in the declared market's
    /// `meta` under [`ENTIRETY_META_KEY`] (replacing whatever `truth` had there).
    pub fn apply(&self, truth: &Market) -> Result<ValidMarket, SettleError> {
        let mut m = truth.clone();
        let bad = |id: &str, message: String| SettleError::BadBid {
            id: id.to_string(),
            message,
        };
        for (id, &v) in &self.valuations {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(id, format!("valuation {v} must be finite and >= 0")));
            }
            match m.users.iter_mut().find(|u| &u.id == id) {
                Some(u) => u.valuation = v,
                None => {
                    return Err(bad(
                        id,
                        match truth.role_of(id) {
                            Some(r) => format!(
                                "is a {r}, not a user: only users declare valuations (put it under \"costs\")"
                            ),
                            None => "unknown participant: no user has this id".to_string(),
                        },
                    ))
                }
            }
        }
        for (id, &c) in &self.costs {
            if !c.is_finite() || c < 0.0 {
                return Err(bad(id, format!("cost {c} must be finite and >= 0")));
            }
            if let Some(b) = m.brokers.iter_mut().find(|b| &b.id == id) {
                b.cost = c;
            } else if let Some(p) = m.providers.iter_mut().find(|p| &p.id == id) {
                p.cost = c;
            } else {
                return Err(bad(
                    id,
                    match truth.role_of(id) {
                        Some(r) => format!(
                            "is a {r}: only brokers and providers declare costs (put users under \"valuations\")"
                        ),
                        None => "unknown participant: no broker or provider has this id".to_string(),
                    },
                ));
            }
        }
        for (pid, per_user) in &self.entirety {
            entirety_provider(truth, pid)?;
            for (uid, &ask) in per_user {
                entirety_user(truth, pid, uid, ask)?;
            }
        }
        if let Some(meta) = &mut m.meta {
            meta.remove(ENTIRETY_META_KEY);
        }
        if !self.entirety.is_empty() {
            let value = serde_json::to_value(&self.entirety).map_err(|e| SettleError::Bids {
                origin: "entirety".to_string(),
                message: e.to_string(),
            })?;
            m.meta
                .get_or_insert_with(Default::default)
                .insert(ENTIRETY_META_KEY.to_string(), value);
        }
        Ok(m.validate_as("the declared market (the market file with the bids applied)")?)
    }
}

/// Parses one bids object from `text` and nothing after it, refusing a key given
/// twice anywhere.
fn parse_bids_text(text: &str) -> Result<Bids, String> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let bids = <Bids as Deserialize>::deserialize(&mut *de).map_err(|e| e.to_string())?;
    de.end()
        .map_err(|e| format!("unexpected text after the bids object: {e}"))?;
    brokerflow_graphs::json::unique_keys(text).map_err(|e| e.to_string())?;
    Ok(bids)
}

/// Why a settlement could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettleError {
    /// The bids file is not valid JSON of the documented shape.
    #[error("{origin}: {message} (expected {{\"valuations\": {{\"<user>\": number}}, \"costs\": {{\"<broker or provider>\": number}}, \"entirety\": {{\"<provider>\": {{\"<user>\": number}}}}}})")]
    Bids {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A bid names an unknown participant, the wrong role, or a bad amount.
    #[error("bid for '{id}': {message}")]
    BadBid {
        /// The participant id in the bids file.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// `posted` on a market file without a `prices` table.
    #[error("the market has no posted prices (no \"prices\" table): use another mechanism, or generate the market with --posted-prices")]
    NoPostedPrices,
    /// `posted`: the prices table leaves out a (node, user) pair that the user's jobs
    /// can reach, so some allocation would find no price there.
    #[error("the posted prices are incomplete: {node} posts no price for jobs of {user}, which can reach it{}; every broker and provider a user's jobs can reach must post a price for that user", if *.more > 0 { format!(" (and {} more pairs)", .more) } else { String::new() })]
    IncompletePostedPrices {
        /// The first broker or provider without a price, in market order.
        node: String,
        /// The user it posts no price for.
        user: String,
        /// How many further pairs lack one.
        more: usize,
    },
    /// `posted`: the allocation sends jobs of a user to a node that posts no price for it.
    #[error("no posted price of {node} for jobs of {user}, but the allocation sends it {amount} of them")]
    MissingPostedPrice {
        /// The broker or provider.
        node: String,
        /// The user.
        user: String,
        /// Jobs per time unit sent.
        amount: f64,
    },
    /// `vcg` on an allocation that is not P3's optimum (design §6).
    #[error("vcg is defined only on the welfare optimum: its payments are welfare differences at P3's allocation, so it refuses the '{0}' allocation (use --allocation lp)")]
    VcgNeedsOptimum(String),
    /// A VCG re-solve found more welfare without a participant than the optimum with
    /// everybody, beyond round-off: the optimum is not exact.
    #[error("vcg: without {participant} P3 reaches {without}, more than the optimum {optimum} with everybody (beyond the tolerance {tolerance:e}): the LP optimum is not exact enough for VCG payments; try --backend microlp")]
    InexactOptimum {
        /// The participant removed.
        participant: String,
        /// W*_{−i}.
        without: f64,
        /// W*.
        optimum: f64,
        /// The relative tolerance.
        tolerance: f64,
    },
    /// An LP solve failed (while allocating, pricing or re-solving).
    #[error("{context}: {source}")]
    Lp {
        /// What was being solved.
        context: String,
        /// The solver's error.
        source: LpError,
    },
    /// The LP returned no flow (cannot happen for P3, reported rather than panicking).
    #[error("the LP returned no flow")]
    NoFlow,
    /// The allocation does not fit this market's G′.
    #[error("the allocation does not fit the market: {0}")]
    AllocationShape(String),
    /// `engine-prices` on an allocation that came without engine prices.
    #[error("engine-prices settles at the welfare-seeking engine's own node prices, and the '{0}' allocation has none (use --allocation welfare-seeking)")]
    NoEnginePrices(String),
    /// The engine refused its settings (cannot happen with the defaults).
    #[error("engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// A market built from bids or for a re-solve broke a rule of design §3.
    #[error(transparent)]
    Market(#[from] MarketError),
}

impl From<LpError> for SettleError {
    fn from(source: LpError) -> Self {
        SettleError::Lp {
            context: "P3 (maximum welfare)".to_string(),
            source,
        }
    }
}

/// One participant's row of the statement (design §6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Participant id.
    pub id: String,
    /// User, broker or provider.
    pub role: Role,
    /// Jobs per time unit: served (user), forwarded (broker), run (provider), in the
    /// trades the mechanism keeps.
    pub volume: f64,
    /// Money paid per time unit (to other participants or to the market).
    pub pays: f64,
    /// Money received per time unit.
    pub receives: f64,
    /// True value of its part of the trades (design §2) + receives − pays.
    pub utility: f64,
}

/// A settlement: one line per participant and the totals (design §6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// The allocation settled.
    pub allocation: AllocationSource,
    /// Users, brokers, providers, in market order.
    pub participants: Vec<Line>,
    /// W of the kept trades at true values (design §2).
    pub welfare: f64,
    /// W of the kept trades at declared values.
    pub declared_welfare: f64,
    /// Σ pays − Σ receives: kept by the market (≥ 0) or a deficit (< 0).
    pub surplus: f64,
    /// Caveats: prices that do not clear, lots unsold, round-off clamps, …
    pub notes: Vec<String>,
    /// The trades the mechanism keeps (the allocation itself for posted, lp-prices, vcg).
    #[serde(skip)]
    pub trades: Flow,
}

impl Statement {
    /// The line of participant `id`.
    pub fn line(&self, id: &str) -> Option<&Line> {
        self.participants.iter().find(|l| l.id == id)
    }
}

/// Money moved by a mechanism, per participant index ([`Participants`] order).
#[derive(Debug, Clone, PartialEq)]
pub struct Transfers {
    /// Paid, per participant.
    pub pays: Vec<f64>,
    /// Received, per participant.
    pub receives: Vec<f64>,
}

impl Transfers {
    /// No money moved, for `n` participants.
    pub fn zero(n: usize) -> Transfers {
        Transfers {
            pays: vec![0.0; n],
            receives: vec![0.0; n],
        }
    }

    /// `from` pays `amount` to `to` (`None`: to or from the market itself).
    pub fn pay(&mut self, from: Option<usize>, to: Option<usize>, amount: f64) {
        if amount == 0.0 {
            return;
        }
        if let Some(f) = from {
            self.pays[f] += amount;
        }
        if let Some(t) = to {
            self.receives[t] += amount;
        }
    }

    /// A signed transfer t to participant i: receives t if t > 0, pays −t otherwise.
    pub fn transfer(&mut self, i: usize, t: f64) {
        if t > 0.0 {
            self.receives[i] += t;
        } else {
            self.pays[i] -= t;
        }
    }
}

/// Participant indexing: users 0..K, brokers K..K+B, providers K+B..K+B+P.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participants {
    /// K.
    pub users: usize,
    /// B.
    pub brokers: usize,
    /// P.
    pub providers: usize,
}

impl Participants {
    /// The participants of `market`.
    pub fn of(market: &Market) -> Participants {
        Participants {
            users: market.users.len(),
            brokers: market.brokers.len(),
            providers: market.providers.len(),
        }
    }

    /// K + B + P.
    pub fn len(self) -> usize {
        self.users + self.brokers + self.providers
    }

    /// Whether there is nobody.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The participant a node of G′ stands for (`None` for bandwidth nodes and
    /// collection points, which no participant owns).
    pub fn of_node(self, g: &ExpandedGraph, n: NodeIndex) -> Option<usize> {
        match g.node(n).kind {
            NodeKind::User(i) => Some(i),
            NodeKind::Broker(i) => Some(self.users + i),
            NodeKind::Provider(i) => Some(self.users + self.brokers + i),
            NodeKind::Bandwidth(_) | NodeKind::Collection(_) => None,
        }
    }

    /// Role and market index of participant `i`.
    pub fn role(self, i: usize) -> (Role, usize) {
        if i < self.users {
            (Role::User, i)
        } else if i < self.users + self.brokers {
            (Role::Broker, i - self.users)
        } else {
            (Role::Provider, i - self.users - self.brokers)
        }
    }

    /// Participant `i`'s id.
    pub fn id(self, market: &Market, i: usize) -> String {
        match self.role(i) {
            (Role::User, j) => market.users[j].id.clone(),
            (Role::Broker, j) => market.brokers[j].id.clone(),
            (Role::Provider, j) => market.providers[j].id.clone(),
        }
    }
}

/// Per participant, its value of `flow` on `g` (design §2): v_k·f_k for users, minus
/// the unit cost of every edge it sends on (its own cost and the link's). Σ = W.
pub fn participant_values(g: &ExpandedGraph, who: Participants, flow: &Flow) -> Vec<f64> {
    let mut v = vec![0.0; who.len()];
    for (k, c) in g.commodities.iter().enumerate() {
        v[k] += c.valuation * flow.served(g, k);
        for (e, x) in flow.edges(g, k) {
            if x == 0.0 {
                continue;
            }
            let owner = tail_owner(g, who, e);
            if let Some(o) = owner {
                v[o] -= g.unit_cost(e, k) * x;
            }
        }
    }
    v
}

/// The participant that sends on edge e: the tail's owner, or for a bandwidth node
/// n_uv the link's sender u (its second edge costs nothing anyway).
fn tail_owner(g: &ExpandedGraph, who: Participants, e: EdgeIndex) -> Option<usize> {
    let (tail, _) = g.graph.edge_endpoints(e)?;
    who.of_node(g, tail)
}

/// Per participant, jobs per time unit in `flow`: served (users), forwarded (brokers),
/// run (providers).
pub fn participant_volumes(g: &ExpandedGraph, who: Participants, flow: &Flow) -> Vec<f64> {
    let mut vol = vec![0.0; who.len()];
    for (k, c) in g.commodities.iter().enumerate() {
        for (e, x) in flow.edges(g, k) {
            let Some((tail, head)) = g.graph.edge_endpoints(e) else {
                continue;
            };
            match g.node(tail).kind {
                NodeKind::Broker(_) | NodeKind::Provider(_) => {
                    if let Some(o) = who.of_node(g, tail) {
                        vol[o] += x;
                    }
                }
                NodeKind::User(_) | NodeKind::Bandwidth(_) | NodeKind::Collection(_) => {}
            }
            if head == c.sink {
                vol[k] += x;
            }
        }
    }
    vol
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
}

impl<'a> Setting<'a> {
    /// Builds both G′. `declared` must be `truth` with bids applied.
    pub fn new(truth: &'a ValidMarket, declared: &'a ValidMarket) -> Setting<'a> {
        Setting {
            truth: truth.market(),
            declared: declared.market(),
            g_true: ExpandedGraph::new(truth),
            g_declared: ExpandedGraph::new(declared),
            who: Participants::of(truth),
        }
    }

    /// Builds the statement: lines from `trades` and `transfers`, utilities at true
    /// values.
    pub fn statement(
        &self,
        mechanism: Mechanism,
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettleOptions {
    /// LP backend for P3, its duals and VCG's re-solves.
    pub backend: Backend,
}

impl Default for SettleOptions {
    fn default() -> Self {
        SettleOptions {
            backend: Backend::DEFAULT,
        }
    }
}

/// Settles `allocation` (a flow on G′ of `declared`) with `mechanism` (design §6).
///
/// `truth` has the true values, used for utilities and welfare; `declared` is
/// `truth` with the bids applied ([`Bids::apply`]), used by the mechanism.
pub fn settle(
    truth: &ValidMarket,
    declared: &ValidMarket,
    allocation: &Allocation,
    mechanism: Mechanism,
    options: &SettleOptions,
) -> Result<Statement, SettleError> {
    let s = Setting::new(truth, declared);
    check_shape(&s.g_declared, &allocation.flow)?;
    match mechanism {
        Mechanism::Posted => posted::posted(&s, allocation),
        Mechanism::LpPrices => lp_prices::lp_prices(&s, allocation, options),
        Mechanism::Vcg => vcg::vcg(&s, allocation, options),
        Mechanism::Mcafee => mcafee::mcafee(&s, allocation, options),
        Mechanism::Vickrey => vickrey::vickrey(&s, allocation),
        Mechanism::EnginePrices => engine_prices::engine_prices(&s, allocation),
        Mechanism::Mca => mca::mca(&s, allocation, options, crate::mca::Rules::default()),
    }
}

pub(crate) fn check_shape(g: &ExpandedGraph, flow: &Flow) -> Result<(), SettleError> {
    if flow.x.len() != g.commodities.len() {
        return Err(SettleError::AllocationShape(format!(
            "{} commodities in the flow, {} users in the market",
            flow.x.len(),
            g.commodities.len()
        )));
    }
    for (k, c) in g.commodities.iter().enumerate() {
        if flow.x[k].len() != c.usable.len() {
            return Err(SettleError::AllocationShape(format!(
                "commodity {} has {} flow values for {} usable edges",
                c.id,
                flow.x[k].len(),
                c.usable.len()
            )));
        }
        if flow.x[k].iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(SettleError::AllocationShape(format!(
                "commodity {} has a negative or non-finite flow",
                c.id
            )));
        }
    }
    Ok(())
}

/// One path of a flow decomposition: commodity k sends `amount` along `edges`
/// (s_k → … → provider → t_k).
#[derive(Debug, Clone, PartialEq)]
pub struct PathFlow {
    /// Commodity (user index).
    pub commodity: usize,
    /// Edges from s_k to t_k.
    pub edges: Vec<EdgeIndex>,
    /// Jobs per time unit.
    pub amount: f64,
    /// The provider that runs the jobs.
    pub provider: NodeIndex,
    /// The broker market the trade belongs to: the last broker before the provider.
    pub market: NodeIndex,
    /// How many edges lie upstream of the market broker's out-edge (s_k … → market).
    pub upstream: usize,
}

impl PathFlow {
    /// The declared transport cost of this path's jobs upstream of the market
    /// broker (s_k … → market): amount × Σ per-job edge costs.
    pub fn upstream_cost(&self, g: &ExpandedGraph) -> f64 {
        self.amount
            * self.edges[..self.upstream]
                .iter()
                .map(|&e| g.unit_cost(e, self.commodity))
                .sum::<f64>()
    }
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

/// Decomposes an acyclic per-commodity flow into s_k → t_k paths (largest bottleneck
/// first is not needed: any decomposition splits the same flow). Amounts below
/// `floor` are dropped as round-off.
pub fn decompose(g: &ExpandedGraph, flow: &Flow, floor: f64) -> Vec<PathFlow> {
    let mut paths = Vec::new();
    for (k, c) in g.commodities.iter().enumerate() {
        let mut rest: Vec<f64> = flow.x[k].clone();
        let index_of = |e: EdgeIndex| c.usable.binary_search(&e).ok();
        // Out-edges per node (positions in `usable`).
        let mut out: std::collections::HashMap<NodeIndex, Vec<usize>> = Default::default();
        for (i, &e) in c.usable.iter().enumerate() {
            if let Some((t, _)) = g.graph.edge_endpoints(e) {
                out.entry(t).or_default().push(i);
            }
        }
        let scale = c.demand.max(1.0);
        // Each round zeroes at least one edge, so at most |usable| paths.
        for _ in 0..=c.usable.len() {
            let mut edges = Vec::new();
            let mut n = c.source;
            let mut bottleneck = f64::INFINITY;
            let mut steps = 0;
            while n != c.sink && steps <= c.usable.len() {
                steps += 1;
                let next = out.get(&n).and_then(|es| {
                    es.iter()
                        .copied()
                        .filter(|&i| rest[i] > floor * scale)
                        .max_by(|&a, &b| rest[a].total_cmp(&rest[b]))
                });
                let Some(i) = next else { break };
                edges.push(c.usable[i]);
                bottleneck = bottleneck.min(rest[i]);
                n = g
                    .graph
                    .edge_endpoints(c.usable[i])
                    .map_or(c.sink, |(_, h)| h);
            }
            if n != c.sink || edges.is_empty() || !bottleneck.is_finite() {
                break;
            }
            for &e in &edges {
                if let Some(i) = index_of(e) {
                    rest[i] -= bottleneck;
                }
            }
            let provider_pos = edges.len() - 1;
            let provider = g.graph.edge_endpoints(edges[provider_pos]).map(|(t, _)| t);
            let market_pos = (0..provider_pos).rev().find(|&i| {
                g.graph
                    .edge_endpoints(edges[i])
                    .is_some_and(|(t, _)| matches!(g.node(t).kind, NodeKind::Broker(_)))
            });
            if let (Some(provider), Some(mp)) = (provider, market_pos) {
                let market = g.graph.edge_endpoints(edges[mp]).map(|(t, _)| t);
                if let Some(market) = market {
                    paths.push(PathFlow {
                        commodity: k,
                        edges,
                        amount: bottleneck,
                        provider,
                        market,
                        upstream: mp,
                    });
                }
            }
        }
    }
    paths
}

/// Per commodity, the cheapest (`longest == false`) or dearest (`true`) per-job cost
/// of reaching each node from s_k over `edges` (usable or support edges, never
/// through a provider), with edge weights `unit_cost(e, k)`. Unreached nodes are
/// `None`. `edges` must be acyclic when `longest` is set.
pub fn reach_costs(
    g: &ExpandedGraph,
    k: usize,
    edges: &[EdgeIndex],
    longest: bool,
) -> Vec<Option<f64>> {
    let mut d: Vec<Option<f64>> = vec![None; g.graph.node_count()];
    d[g.commodities[k].source.index()] = Some(0.0);
    // Bellman–Ford style passes: weights ≥ 0 (shortest) or an acyclic edge set
    // (longest) make |nodes| passes enough.
    for _ in 0..g.graph.node_count() {
        let mut changed = false;
        for &e in edges {
            let Some((t, h)) = g.graph.edge_endpoints(e) else {
                continue;
            };
            if matches!(g.node(t).kind, NodeKind::Provider(_)) {
                continue;
            }
            let Some(dt) = d[t.index()] else { continue };
            let cand = dt + g.unit_cost(e, k);
            let better = match d[h.index()] {
                None => true,
                Some(old) => {
                    if longest {
                        cand > old
                    } else {
                        cand < old
                    }
                }
            };
            if better {
                d[h.index()] = Some(cand);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    d
}

/// The edges of commodity k that carry flow (its support).
pub fn support(g: &ExpandedGraph, flow: &Flow, k: usize) -> Vec<EdgeIndex> {
    flow.edges(g, k)
        .filter(|&(_, x)| x > 0.0)
        .map(|(e, _)| e)
        .collect()
}

/// A broker→provider link of the market: broker node, provider node, the link index,
/// its G′ edges (first, second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SellLink {
    /// The broker.
    pub broker: NodeIndex,
    /// The provider.
    pub provider: NodeIndex,
    /// Index in `Market::links`.
    pub link: usize,
    /// b → p or b → n_bp.
    pub first: EdgeIndex,
    /// n_bp → p for a finite link.
    pub second: Option<EdgeIndex>,
}

/// Every broker→provider link of the market (the edges where a broker market sells).
pub fn sell_links(g: &ExpandedGraph) -> Vec<SellLink> {
    g.link_edges
        .iter()
        .enumerate()
        .filter_map(|(l, &(first, second))| {
            let (b, _) = g.graph.edge_endpoints(first)?;
            let last = second.unwrap_or(first);
            let (_, p) = g.graph.edge_endpoints(last)?;
            (matches!(g.node(b).kind, NodeKind::Broker(_))
                && matches!(g.node(p).kind, NodeKind::Provider(_)))
            .then_some(SellLink {
                broker: b,
                provider: p,
                link: l,
                first,
                second,
            })
        })
        .collect()
}

/// The edge p → t_k, if commodity k may use it.
pub fn delivery_edge(g: &ExpandedGraph, k: usize, p: NodeIndex) -> Option<EdgeIndex> {
    let c = &g.commodities[k];
    c.usable.iter().copied().find(|&e| {
        g.graph
            .edge_endpoints(e)
            .is_some_and(|(t, h)| t == p && h == c.sink)
    })
}

/// Adds `amount` of commodity k on edge e of `flow` (e must be usable by k).
pub fn add_flow(g: &ExpandedGraph, flow: &mut Flow, k: usize, e: EdgeIndex, amount: f64) -> bool {
    match g.commodities[k].usable.binary_search(&e) {
        Ok(i) => {
            flow.x[k][i] += amount;
            true
        }
        Err(_) => false,
    }
}

// Every record of the file is read from a JSON object only (brokerflow_graphs::json).
brokerflow_graphs::object_only!(Bids, "the bids", serialize);
