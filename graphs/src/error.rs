//! Typed errors of the model crate. Only the CLI turns them into text and exit codes.

use std::path::PathBuf;

use thiserror::Error;

use crate::json::{one_line, ParseError};
use crate::role::Role;

/// The most any money amount or volume of a market may reach: the demands' sum, the
/// resource units demanded, every demand × valuation and every cost or posted price
/// times the volume it can be charged on, and their sum, stay at or below it. It leaves five orders of
/// magnitude below the largest float (≈ 1.8e308), so the solvers' and settlements'
/// sums, differences and doublings of such amounts stay finite.
pub const MONEY_LIMIT: f64 = 1e303;

/// Why a market was refused: one line naming the input, the JSON path or id, and the rule.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MarketError {
    /// The file could not be read.
    #[error("{}", one_line(&format!("{}: cannot read: {}", .path.display(), .source)))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not JSON of the market's shape (syntax, type, missing or unknown field).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The JSON has the right shape but breaks a rule of design §3.
    #[error("{}", one_line(&format!("{}: {}: {}", .origin, .at, .rule)))]
    Invalid {
        /// The input's name (file name).
        origin: String,
        /// JSON path of the offender, with its id where it has one.
        at: String,
        /// The rule broken.
        rule: Rule,
    },
}

impl MarketError {
    /// The rule broken, for an [`MarketError::Invalid`] refusal.
    pub fn rule(&self) -> Option<&Rule> {
        match self {
            MarketError::Invalid { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

/// A rule of the market file format (design §3).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Rule {
    /// Ids must be unique across users, brokers and providers.
    #[error("id '{0}' is used more than once (ids are unique across all roles)")]
    DuplicateId(String),
    /// Ids must not use the reserved spellings.
    #[error("id '{0}' is not allowed: ids contain no '->' (reserved for bandwidth nodes), and are neither 'sink' nor of the form 't(…)' (reserved for collection points)")]
    ReservedId(String),
    /// An id that is empty, blank, padded with whitespace, or holds control or
    /// invisible characters (so that ids which look alike are alike).
    #[error("id '{}' is not allowed: {problem}", .id.escape_debug())]
    BadId {
        /// The id.
        id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A product of the market's numbers (demand × valuation, a cost or price times
    /// the volume it can be charged on, or their running sum) exceeds
    /// [`MONEY_LIMIT`]: welfare and payments would overflow.
    #[error("{term} reaches {value:e}, above the limit {limit:e} (with these numbers welfare and payments overflow; scale the market's units down)", limit = MONEY_LIMIT)]
    TooLarge {
        /// Which product or sum.
        term: &'static str,
        /// Its value.
        value: f64,
    },
    /// A reference to an id that no participant has.
    #[error("unknown id '{0}'")]
    UnknownId(String),
    /// A link between roles that cannot be linked.
    #[error("a link from a {from} to a {to} is not allowed (allowed: user->broker, broker->broker, broker->provider)")]
    WrongRolePair {
        /// Role of the sender.
        from: Role,
        /// Role of the receiver.
        to: Role,
    },
    /// A link from a node to itself.
    #[error("self-loop: a link from '{0}' to itself")]
    SelfLoop(String),
    /// Two links with the same endpoints.
    #[error("duplicate link {0}->{1} (each ordered pair may be linked once)")]
    DuplicateLink(String, String),
    /// A number that must be ≥ 0 is negative.
    #[error("{field} is {value}, must not be negative")]
    Negative {
        /// Field name.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A number that is NaN or infinite.
    #[error("{field} is not a finite number")]
    NonFinite {
        /// Field name.
        field: &'static str,
    },
    /// A requirement r_k must be > 0.
    #[error("requirement is {0}, must be positive")]
    RequirementNotPositive(f64),
    /// A price or eligibility entry names an id of the wrong role.
    #[error("'{id}' is a {found}, but a {expected} is required here")]
    WrongRole {
        /// The id.
        id: String,
        /// Its role.
        found: Role,
        /// The role required.
        expected: Role,
    },
    /// An eligibility list names the same provider twice.
    #[error("provider '{0}' is listed twice")]
    DuplicateEligible(String),
}
