//! A market for outsourced stream computation ([Stream-Market]): suppliers offer
//! compute for a window, customers ask for a stream processed at a rate for a
//! window; allocations last at least a minimum service time, replicas cover
//! failures, and deposits with hidden spot checks make skipping work a losing
//! strategy.
//!
//! - [`offers`]: the offers file and its validation;
//! - [`matching`]: slots, expiry, δ_min chunks, the four matching conditions, and
//!   each slot's brokerflow market solved by P3 ([MCF-Grid] §4.2) and priced by
//!   McAfee's double auction ([Dist-Auctioneer] §V-B1);
//! - [`replicas`]: the replica count (the paper's Eq. 3, corrected), the detection
//!   probability of n spot checks, and the supplier's game of Eq. 5–6;
//! - [`commitment`]: the SHA-256 commitments α, γ, Γ of Eq. 7;
//! - [`ledger`] and [`contract`]: the contract state machine and its money;
//! - [`simulate`]: the strategy experiment of [Stream-Market] §5.2;
//! - [`report`]: a matching's report and the experiment's CSVs, as text.
//!
//! The main design choice: the market is cut into slots, and each slot is an
//! ordinary brokerflow market, so the stream market reuses the LP, its independent
//! check and the settlement code instead of a matcher of its own; what a flow model
//! cannot say (whole replicas on distinct suppliers, memory) is a rounding step on
//! top, and outputs say so.

pub mod commitment;
pub mod contract;
pub mod ledger;
pub mod matching;
pub mod offers;
pub mod replicas;
pub mod report;
pub mod simulate;

pub use contract::{Contract, Party, State, Terms};
pub use ledger::{Account, Ledger, Transfer};
pub use matching::{match_offers, Allocation, MatchOptions, MatchOutcome, Void, VoidReason};
pub use offers::{CustomerOffer, OfferRule, Offers, Parameters, SupplierOffer};

use brokerflow_graphs::json::one_line;
use thiserror::Error;

use crate::lp::LpError;

/// Why a stream-market computation was refused or failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The text is not JSON of the offers file's shape.
    #[error(transparent)]
    Parse(#[from] brokerflow_graphs::json::ParseError),
    /// The file has the right shape but breaks a rule.
    #[error("{}", one_line(&format!("{}: {}: {}", .origin, .at, .rule)))]
    Invalid {
        /// The input's name.
        origin: String,
        /// The offer and field, e.g. `customers[2] (id 'c3').rate`.
        at: String,
        /// The rule broken.
        rule: OfferRule,
    },
    /// A slot's market did not validate (a bug: the builder makes valid markets).
    #[error("slot {slot}: the slot's market is invalid: {source}")]
    SlotMarket {
        /// Slot index.
        slot: usize,
        /// The market error.
        source: Box<brokerflow_graphs::MarketError>,
    },
    /// A slot's P3 failed.
    #[error("slot {slot}: P3 failed: {source}")]
    Lp {
        /// Slot index.
        slot: usize,
        /// The LP error.
        source: LpError,
    },
    /// A slot's P3 returned no flow.
    #[error("slot {slot}: P3 returned no flow")]
    NoFlow {
        /// Slot index.
        slot: usize,
    },
    /// The offers span more slots than one matching may run.
    #[error("the offers span {slots} slots (horizon or δ_min over the slot length), more than the {limit} one matching may run: use a longer slot")]
    TooManySlots {
        /// Slots needed.
        slots: usize,
        /// The limit.
        limit: usize,
    },
    /// A simulation spec breaks a rule.
    #[error("{origin}: {field}: {message}")]
    Spec {
        /// The spec's name.
        origin: String,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A contract refused an event.
    #[error(transparent)]
    Contract(#[from] ContractError),
}

/// Why a contract or the ledger refused an event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The event is not allowed in the contract's state.
    #[error("contract {contract}: {event} is not allowed in state {state:?}")]
    WrongState {
        /// The contract.
        contract: usize,
        /// The event.
        event: &'static str,
        /// Its state.
        state: State,
    },
    /// A party signed twice.
    #[error("contract {contract}: {party} already signed")]
    AlreadySigned {
        /// The contract.
        contract: usize,
        /// Who.
        party: Account,
    },
    /// A replica index beyond the contract's suppliers.
    #[error("contract {contract}: no replica {replica}")]
    UnknownReplica {
        /// The contract.
        contract: usize,
        /// The index.
        replica: usize,
    },
    /// Verification before every supplier posted.
    #[error("contract {contract}: not every supplier has posted its output hash")]
    NotAllPosted {
        /// The contract.
        contract: usize,
    },
    /// Terms that cannot be honoured.
    #[error("contract terms: {0}")]
    BadTerms(String),
    /// A negative transfer.
    #[error("contract {contract}: transfer of {amount} units is negative")]
    NegativeAmount {
        /// The contract.
        contract: usize,
        /// The amount.
        amount: i64,
    },
    /// A transfer to oneself.
    #[error("contract {contract}: {account} cannot pay itself")]
    SelfTransfer {
        /// The contract.
        contract: usize,
        /// The account.
        account: Account,
    },
    /// The escrow would pay out more than it holds.
    #[error("contract {contract}: escrow holds {held} units, cannot pay {amount}")]
    EscrowShort {
        /// The contract.
        contract: usize,
        /// What it holds.
        held: i64,
        /// What was asked.
        amount: i64,
    },
    /// A contract closed with money left in escrow.
    #[error("contract {contract}: closed with {held} units left in escrow")]
    EscrowLeft {
        /// The contract.
        contract: usize,
        /// What is left.
        held: i64,
    },
    /// A balance would overflow.
    #[error("contract {contract}: amount overflows the ledger's range")]
    Overflow {
        /// The contract.
        contract: usize,
    },
}
