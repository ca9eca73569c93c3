//! The settlement seam: a [`Mechanism`] says who pays whom for an allocation, and
//! declares as data the guarantees it makes ([`Promises`]), which the property tests
//! check on random markets for every registered mechanism.

use std::fmt;

use brokerflow_graphs::{ExpandedGraph, Market, Role};
use serde::{Serialize, Serializer};
use thiserror::Error;

use super::{Allocation, Setting, SettleError, SettleOptions, Statement};

/// A settlement mechanism: from an allocation on the declared market to a
/// [`Statement`] of payments ([MCF-Grid] and the auctions of [Dist-Auctioneer],
/// \[NOMAD\] and [MCA-Alloy]).
///
/// A new mechanism is one file implementing this trait on a unit struct and one
/// line in [`MECHANISMS`](super::MECHANISMS); the command line, its help and the
/// property tests of the declared [`Promises`] all read the registry.
pub trait Mechanism: Send + Sync + 'static {
    /// The name used on the command line and in outputs (`vcg`, `lp-prices`, …).
    fn name(&self) -> &'static str;

    /// One line for `--help`: what it pays and what it guarantees.
    fn summary(&self) -> &'static str;

    /// The guarantees it makes, as data.
    fn promises(&self) -> Promises;

    /// Whether settling solves P3 (or its re-solves) itself, beside the allocation:
    /// the command line counts that LP in its size check.
    fn solves_lp(&self) -> bool {
        false
    }

    /// Whether settling re-solves P3 once per participant that trades (VCG's
    /// W*_{−i}): the command line then checks the size of all those solves
    /// together ([`crate::workload::vcg_estimate`]).
    fn resolves_per_participant(&self) -> bool {
        false
    }

    /// Refusals known from the market alone, before any allocation is computed
    /// (`posted` without a complete price table).
    fn check_market(&self, _market: &Market, _g: &ExpandedGraph) -> Result<(), SettleError> {
        Ok(())
    }

    /// Settles `allocation` (a flow on G′ of the declared market, already checked to
    /// fit it) in `s`.
    fn settle(
        &self,
        s: &Setting<'_>,
        allocation: &Allocation,
        options: &SettleOptions,
    ) -> Result<Statement, SettleError>;
}

/// A mechanism's guarantees at truthful bids, as the property harness checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promises {
    /// The roles whose every participant ends with utility ≥ 0 (individual
    /// rationality); empty: no promise.
    pub individually_rational: &'static [Role],
    /// What the market keeps: Σ pays − Σ receives.
    pub budget_balance: BudgetBalance,
    /// The roles for which bidding the truth is a dominant strategy (in the sense the
    /// mechanism's documentation gives, e.g. for a fixed set of possible trades);
    /// empty: not truthful.
    pub truthful_for: &'static [Role],
    /// The allocations it settles, and on which the promises hold.
    pub allocations: Allocations,
}

impl Promises {
    /// No promise on `allocations`: individually rational and truthful for nobody,
    /// no budget balance. The builder methods below add what a mechanism does promise,
    /// so that its declaration names only that.
    pub const fn on(allocations: Allocations) -> Promises {
        Promises {
            individually_rational: &[],
            budget_balance: BudgetBalance::None,
            truthful_for: &[],
            allocations,
        }
    }

    /// These promises, with every participant of `roles` individually rational.
    pub const fn individually_rational(self, roles: &'static [Role]) -> Promises {
        Promises {
            individually_rational: roles,
            ..self
        }
    }

    /// These promises, with the budget balanced as `balance` says.
    pub const fn budget(self, balance: BudgetBalance) -> Promises {
        Promises {
            budget_balance: balance,
            ..self
        }
    }

    /// These promises, with bidding the truth a dominant strategy for `roles`.
    pub const fn truthful_for(self, roles: &'static [Role]) -> Promises {
        Promises {
            truthful_for: roles,
            ..self
        }
    }
}

/// How a mechanism balances its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetBalance {
    /// Every payment goes from one participant to another: the surplus is 0.
    Strong,
    /// The market never pays in: the surplus is ≥ 0.
    Weak,
    /// No promise: the market may run a deficit.
    None,
}

/// The allocations a mechanism settles and keeps its promises on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocations {
    /// Any allocation, P3's or an engine run's; the promises hold on all of them.
    Any,
    /// Any allocation, but the promises hold only on P3's optimum (`lp`).
    AnyPromisedAtOptimum,
    /// Only P3's optimum (`lp`).
    Optimum,
    /// Only an allocation that came with the welfare-seeking engine's node prices.
    EnginePrices,
}

impl fmt::Debug for dyn Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for dyn Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Mechanisms are equal when their names are: the registry holds one per name.
impl PartialEq for dyn Mechanism {
    fn eq(&self, other: &dyn Mechanism) -> bool {
        self.name() == other.name()
    }
}

impl Eq for dyn Mechanism {}

impl Serialize for dyn Mechanism {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A mechanism name that the registry does not hold; its message lists every name
/// it does.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown mechanism '{name}' (known: {})", super::MECHANISMS.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownMechanism {
    /// The name asked for.
    pub name: String,
}

impl std::str::FromStr for &'static dyn Mechanism {
    type Err = UnknownMechanism;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::mechanism(s).ok_or_else(|| UnknownMechanism {
            name: s.to_string(),
        })
    }
}

/// Declares a registered mechanism: its unit struct and its [`Mechanism`] impl, from
///
/// - `Type = "name" by function` (and `, solves_lp: true` where settling solves P3
///   itself, `, resolves_per_participant: true` where it solves P3 again for each
///   participant): the struct, the command line's name and the function that settles;
/// - the `--help` summary, a string;
/// - the [`Promises`], an expression;
/// - optionally `check_market: function;`, the refusals known from the market alone;
/// - `|s, allocation, options| …`, how [`Mechanism::settle`] calls the function.
///
/// Every part is a required method or an override of a default; nothing else differs
/// between the mechanisms, so each file declares only these.
macro_rules! declare_mechanism {
    (
        $ty:ident = $name:literal by $function:ident $(, solves_lp: $solves_lp:literal)?
            $(, resolves_per_participant: $resolves:literal)?;
        $summary:literal;
        $promises:expr;
        $(check_market: $check:path;)?
        |$s:ident, $allocation:ident, $options:ident| $settle:expr
    ) => {
        #[doc = concat!(
            "The `", $name, "` mechanism ([`", stringify!($function), "`]), as registered in\n",
            "[`MECHANISMS`](super::MECHANISMS)."
        )]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty;

        impl $crate::settle::Mechanism for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn summary(&self) -> &'static str {
                $summary
            }

            fn promises(&self) -> $crate::settle::Promises {
                $promises
            }

            $(fn solves_lp(&self) -> bool {
                $solves_lp
            })?

            $(fn resolves_per_participant(&self) -> bool {
                $resolves
            })?

            $(fn check_market(
                &self,
                market: &brokerflow_graphs::Market,
                g: &brokerflow_graphs::ExpandedGraph,
            ) -> Result<(), $crate::settle::SettleError> {
                $check(market, g)
            })?

            fn settle(
                &self,
                $s: &$crate::settle::Setting<'_>,
                $allocation: &$crate::settle::Allocation,
                $options: &$crate::settle::SettleOptions,
            ) -> Result<$crate::settle::Statement, $crate::settle::SettleError> {
                $settle
            }
        }
    };
}

pub(super) use declare_mechanism;
