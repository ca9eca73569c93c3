//! Declared bids (\[NOMAD\] §2.2 for the entirety asks): the [`Bids`] file, the market
//! as declared ([`Declared`]), and the entirety asks carried beside it, typed
//! ([`EntiretyAsks`]).

use std::collections::BTreeMap;
use std::ops::Deref;

use brokerflow_graphs::{Market, ValidMarket};
use serde::{Deserialize, Serialize};

use super::error::{BidProblem, SettleError};

/// Declared bids that override the market file's values: what a user runs to see what
/// a misreport would do.
///
/// JSON, every map optional, unknown fields refused:
/// ```json
/// {"valuations": {"u1": 12}, "costs": {"p1": 0.5, "b1": 0},
///  "entirety": {"p1": {"u1": 12.5}}}
/// ```
/// `valuations` names users (v_k per job); `costs` names brokers (c_b per job) or
/// providers (c_p per resource unit). `entirety` names providers, then users: the
/// provider's *entirety ask* in [`vickrey`](super::vickrey::vickrey), the money it asks in
/// total for running all of that user's lots (\[NOMAD\] §2.2: "an entirety bid is a
/// bid for all the lots in the RDG"). Without an entry the entirety ask is the sum
/// of the provider's single-lot asks, which is also its truthful value: costs are
/// linear in [MCF-Grid]'s market model, so combining lots saves nothing. Only
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

/// Declared entirety asks (\[NOMAD\] §2.2), resolved on the market: (provider index,
/// user index) in market order → the money asked for all of that user's lots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntiretyAsks {
    /// (provider, user) → ask.
    pub asks: BTreeMap<(usize, usize), f64>,
}

impl EntiretyAsks {
    /// No entirety ask declared: every provider's entirety ask is the sum of its
    /// single-lot asks.
    pub const NONE: EntiretyAsks = EntiretyAsks {
        asks: BTreeMap::new(),
    };
}

/// The market as declared: the market file with a [`Bids`] file applied
/// ([`Bids::apply`]), and the entirety asks, which the market file has no field for.
/// Dereferences to the declared market.
#[derive(Debug, Clone)]
pub struct Declared {
    /// The market with the declared valuations and costs.
    pub market: ValidMarket,
    /// The declared entirety asks.
    pub entirety: EntiretyAsks,
}

impl Deref for Declared {
    type Target = ValidMarket;
    fn deref(&self) -> &ValidMarket {
        &self.market
    }
}

/// What a mechanism settles on as the declared side: a market with the declared
/// values, and the declared entirety asks. A plain [`ValidMarket`] declares no
/// entirety ask (the truthful default); a [`Declared`] carries those of its bids.
pub trait Declaration {
    /// The market with the declared valuations and costs.
    fn declared(&self) -> &ValidMarket;
    /// The declared entirety asks.
    fn entirety(&self) -> &EntiretyAsks;
}

impl Declaration for ValidMarket {
    fn declared(&self) -> &ValidMarket {
        self
    }
    fn entirety(&self) -> &EntiretyAsks {
        static NONE: EntiretyAsks = EntiretyAsks::NONE;
        &NONE
    }
}

impl Declaration for Declared {
    fn declared(&self) -> &ValidMarket {
        &self.market
    }
    fn entirety(&self) -> &EntiretyAsks {
        &self.entirety
    }
}

impl Bids {
    /// Parses a bids file with the shared JSON reader ([`brokerflow_graphs::json::read`]:
    /// a leading byte-order mark skipped; an empty or truncated file, text after the
    /// bids object and a key named twice refused); `origin` names it in errors, which
    /// give the JSON path of the offending value.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Bids, SettleError> {
        brokerflow_graphs::json::read(text, origin, "bids", "the file is empty")
            .map_err(|problem| SettleError::Bids { problem })
    }

    /// The market as declared: `truth` with these bids applied, and the entirety asks
    /// resolved on it. Refuses an unknown id, a wrong role (a valuation for a
    /// provider, a cost for a user, an entirety ask by a non-provider or for a
    /// non-user) and amounts that are negative or not finite, naming the entry.
    pub fn apply(&self, truth: &Market) -> Result<Declared, SettleError> {
        let mut m = truth.clone();
        let bad = |id: &str, problem: BidProblem| SettleError::BadBid {
            id: id.to_string(),
            problem,
        };
        for (id, &v) in &self.valuations {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(id, BidProblem::Valuation(v)));
            }
            match m.users.iter_mut().find(|u| &u.id == id) {
                Some(u) => u.valuation = v,
                None => {
                    return Err(bad(
                        id,
                        match truth.role_of(id) {
                            Some(r) => BidProblem::ValuationNotUser(r),
                            None => BidProblem::UnknownUser,
                        },
                    ))
                }
            }
        }
        for (id, &c) in &self.costs {
            if !c.is_finite() || c < 0.0 {
                return Err(bad(id, BidProblem::Cost(c)));
            }
            if let Some(b) = m.brokers.iter_mut().find(|b| &b.id == id) {
                b.cost = c;
            } else if let Some(p) = m.providers.iter_mut().find(|p| &p.id == id) {
                p.cost = c;
            } else {
                return Err(bad(
                    id,
                    match truth.role_of(id) {
                        Some(r) => BidProblem::CostNotSeller(r),
                        None => BidProblem::UnknownSeller,
                    },
                ));
            }
        }
        let mut entirety = EntiretyAsks::default();
        for (pid, per_user) in &self.entirety {
            let p = entirety_provider(truth, pid)?;
            for (uid, &ask) in per_user {
                let k = entirety_user(truth, pid, uid, ask)?;
                entirety.asks.insert((p, k), ask);
            }
        }
        let market =
            m.validate_as("the declared market (the market file with the bids applied)")?;
        Ok(Declared { market, entirety })
    }
}

/// The index of the provider `pid` of an entirety ask, or why it cannot bid.
fn entirety_provider(m: &Market, pid: &str) -> Result<usize, SettleError> {
    m.providers
        .iter()
        .position(|p| p.id == pid)
        .ok_or_else(|| SettleError::BadBid {
            id: pid.to_string(),
            problem: match m.role_of(pid) {
                Some(r) => BidProblem::EntiretyNotProvider(r),
                None => BidProblem::EntiretyUnknownProvider,
            },
        })
}

/// The index of the user `uid` in provider `pid`'s entirety asks, with the ask checked.
fn entirety_user(m: &Market, pid: &str, uid: &str, ask: f64) -> Result<usize, SettleError> {
    let bad = |problem: BidProblem| SettleError::BadBid {
        id: pid.to_string(),
        problem,
    };
    let k = m.users.iter().position(|u| u.id == uid).ok_or_else(|| {
        bad(match m.role_of(uid) {
            Some(role) => BidProblem::EntiretyNotUser {
                user: uid.to_string(),
                role,
            },
            None => BidProblem::EntiretyUnknownUser(uid.to_string()),
        })
    })?;
    if !(0.0..=brokerflow_graphs::MONEY_LIMIT).contains(&ask) {
        return Err(bad(BidProblem::EntiretyAmount {
            user: uid.to_string(),
            ask,
        }));
    }
    Ok(k)
}

// Every record of the file is read from a JSON object only (brokerflow_graphs::json).
brokerflow_graphs::object_only!(Bids, "the bids", serialize);
