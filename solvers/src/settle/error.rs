//! Why a settlement could not be made: [`SettleError`] and the structured parts of its
//! bid and allocation variants.

use brokerflow_graphs::json::ParseError;
use brokerflow_graphs::{MarketError, Role};
use thiserror::Error;

use super::AllocationSource;
use crate::lp::LpError;

/// Why a settlement could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettleError {
    /// The bids file is not valid JSON of the documented shape: the shared JSON
    /// reader's error, which names the file and the JSON path of the offending value.
    #[error("{problem} (expected {{\"valuations\": {{\"<user>\": number}}, \"costs\": {{\"<broker or provider>\": number}}, \"entirety\": {{\"<provider>\": {{\"<user>\": number}}}}}})")]
    Bids {
        /// What is wrong with its text, and where.
        problem: ParseError,
    },
    /// A bid names an unknown participant, the wrong role, or a bad amount.
    #[error("bid for '{id}': {problem}")]
    BadBid {
        /// The participant id in the bids file (for an entirety ask: the provider).
        id: String,
        /// What is wrong.
        problem: BidProblem,
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
    /// `vcg` on an allocation that is not P3's optimum ([MCF-Grid]'s welfare LP):
    /// where the allocation came from.
    #[error("vcg is defined only on the welfare optimum: its payments are welfare differences at P3's allocation, so it refuses the '{0}' allocation (use --allocation lp)")]
    VcgNeedsOptimum(AllocationSource),
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
        context: LpContext,
        /// The solver's error.
        source: LpError,
    },
    /// The LP returned no flow (cannot happen for P3, reported rather than panicking).
    #[error("the LP returned no flow")]
    NoFlow,
    /// The allocation does not fit this market's G′, or this mechanism's limits.
    #[error("the allocation does not fit the market: {0}")]
    AllocationShape(ShapeError),
    /// `engine-prices` on an allocation that came without engine prices: where the
    /// allocation came from.
    #[error("engine-prices settles at the welfare-seeking engine's own node prices, and the '{0}' allocation has none (use --allocation welfare-seeking)")]
    NoEnginePrices(AllocationSource),
    /// The engine refused its settings (cannot happen with the defaults).
    #[error("engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// A market built from bids or for a re-solve broke a rule of the market model.
    #[error(transparent)]
    Market(#[from] MarketError),
}

impl From<LpError> for SettleError {
    fn from(source: LpError) -> Self {
        SettleError::Lp {
            context: LpContext::MaxWelfare,
            source,
        }
    }
}

/// Which LP solve of settlement failed ([`SettleError::Lp`]'s `context`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LpContext {
    /// P3, [MCF-Grid]'s welfare LP, for the `lp` allocation.
    #[error("P3 (maximum welfare)")]
    MaxWelfare,
    /// `lp-prices`: P3 with its dual, the node prices.
    #[error("lp-prices: P3 and its dual")]
    LpPrices,
    /// `vcg`: P3 re-solved without one participant (W*_{−i}).
    #[error("vcg: P3 without {participant}")]
    Without {
        /// The participant removed.
        participant: String,
    },
    /// `mcafee`: the LP that re-matches one broker market's trades.
    #[error("mcafee: re-matching a broker market")]
    McafeeRematch,
}

/// What is wrong with one bid (the participant is [`SettleError::BadBid`]'s `id`).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum BidProblem {
    /// A declared valuation below zero or not finite.
    #[error("valuation {0} must be finite and >= 0")]
    Valuation(f64),
    /// A declared cost below zero or not finite.
    #[error("cost {0} must be finite and >= 0")]
    Cost(f64),
    /// A valuation for a broker or provider.
    #[error("is a {0}, not a user: only users declare valuations (put it under \"costs\")")]
    ValuationNotUser(Role),
    /// A valuation for an id nobody has.
    #[error("unknown participant: no user has this id")]
    UnknownUser,
    /// A cost for a user.
    #[error("is a {0}: only brokers and providers declare costs (put users under \"valuations\")")]
    CostNotSeller(Role),
    /// A cost for an id nobody has.
    #[error("unknown participant: no broker or provider has this id")]
    UnknownSeller,
    /// An entirety ask by a user or broker.
    #[error("is a {0}: only providers make entirety bids (\"entirety\": {{\"<provider>\": {{\"<user>\": ask}}}})")]
    EntiretyNotProvider(Role),
    /// An entirety ask by an id nobody has.
    #[error("unknown participant: no provider has this id (in \"entirety\")")]
    EntiretyUnknownProvider,
    /// An entirety ask for a broker or provider instead of a user.
    #[error(
        "entirety ask for '{user}', which is a {role}: entirety asks are per user (the auctioneer)"
    )]
    EntiretyNotUser {
        /// The id asked for.
        user: String,
        /// Its role.
        role: Role,
    },
    /// An entirety ask for an id nobody has.
    #[error("entirety ask for '{0}': unknown participant, no user has this id")]
    EntiretyUnknownUser(String),
    /// An entirety ask below zero, not finite, or above the money limit.
    #[error("entirety ask {ask} for '{user}' must be finite and >= 0, at most {limit:e}", limit = brokerflow_graphs::MONEY_LIMIT)]
    EntiretyAmount {
        /// The user asked for.
        user: String,
        /// The ask.
        ask: f64,
    },
}

/// Why an allocation does not fit the market's G′ (or a mechanism's size limit).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// The flow has a different number of commodities than the market has users.
    #[error("{flow} commodities in the flow, {users} users in the market")]
    Commodities {
        /// Commodities in the flow.
        flow: usize,
        /// Users in the market.
        users: usize,
    },
    /// A commodity's flow has a different length than its usable edges.
    #[error("commodity {commodity} has {values} flow values for {usable} usable edges")]
    Edges {
        /// The user id.
        commodity: String,
        /// Flow values given.
        values: usize,
        /// Usable edges of the commodity.
        usable: usize,
    },
    /// A flow value below zero or not finite.
    #[error("commodity {0} has a negative or non-finite flow")]
    Negative(String),
    /// `mca`: more (user, broker market) trades than one bundle set holds.
    #[error("mca auctions at most {limit} lots (one bundle is one 64-bit set), and the allocation has {trades} (user, broker market) trades")]
    TooManyLots {
        /// The most lots one auction takes.
        limit: usize,
        /// The allocation's trades.
        trades: usize,
    },
}
