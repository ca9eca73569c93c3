//! Deviations (design §10), for tests and demonstrations: what named replicas or
//! bidders do instead of following the protocol.
//!
//! A deviations file is a JSON list; each object has a `kind` and either `replica`
//! (a provider id among the replicas) or `bidder` (a user id):
//! ```json
//! [{"kind": "bid-vector", "replica": "p2", "bidder": "u1", "amount": 5},
//!  {"kind": "equivocate", "bidder": "u3", "bids": {"p1": 10, "p2": 12}},
//!  {"kind": "task-result", "replica": "p3", "amount": 1, "participant": "u2"},
//!  {"kind": "coin-reveal", "replica": "p4"},
//!  {"kind": "silent", "replica": "p5", "phase": "tasks"},
//!  {"kind": "crash", "replica": "p6", "phase": "coin"}]
//! ```
//! Several entries with the same lie for different replicas make a coalition (they
//! lie alike, so their forged values agree with each other).

use std::collections::{BTreeMap, BTreeSet};

use brokerflow_graphs::{Market, Role};
use serde::Deserialize;
use thiserror::Error;

use super::bid_agreement::{declared_bids, valid, BidVector};
use super::tasks::Forgery;
use super::Phase;
use crate::settle::Participants;

fn one() -> f64 {
    1.0
}

/// One deviation from the protocol.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    remote = "Self",
    tag = "kind",
    rename_all = "kebab-case",
    deny_unknown_fields
)]
pub enum Deviation {
    /// The replica broadcasts a changed bid vector — `bidder`'s bid (default: the
    /// first user's) plus `amount` (default 1) — in bid agreement, and validates
    /// its input with that vector.
    BidVector {
        /// The deviating replica.
        replica: String,
        /// Whose bid it changes.
        #[serde(default)]
        bidder: Option<String>,
        /// Added to the bid.
        #[serde(default = "one")]
        amount: f64,
    },
    /// The bidder (a user) sends different bids to different replicas: `bids` maps
    /// a replica to the valuation it receives (others receive the declared one);
    /// without `bids`, replica number j (from 0) receives the declared valuation + j.
    Equivocate {
        /// The equivocating user.
        bidder: String,
        /// Replica → valuation it receives.
        #[serde(default)]
        bids: Option<BTreeMap<String, f64>>,
    },
    /// The replica sends task results off by `amount` (default 1): vcg transfers of
    /// its payment group, mcafee payments in its output; only `participant`'s when
    /// given.
    TaskResult {
        /// The deviating replica.
        replica: String,
        /// Added to each forged result.
        #[serde(default = "one")]
        amount: f64,
        /// Only this participant's result.
        #[serde(default)]
        participant: Option<String>,
    },
    /// The replica reveals a coin share that does not match its commitment.
    CoinReveal {
        /// The deviating replica.
        replica: String,
    },
    /// The replica sends nothing from `phase` on, but stays connected.
    Silent {
        /// The deviating replica.
        replica: String,
        /// The first phase it is silent in.
        phase: Phase,
    },
    /// The replica stops at the start of `phase` and closes its connections, as a
    /// killed process does.
    Crash {
        /// The deviating replica.
        replica: String,
        /// The phase it stops at.
        phase: Phase,
    },
}

impl Deviation {
    /// Parses a deviations file (a JSON list); `origin` names it in errors.
    pub fn list_from_json_str(text: &str, origin: &str) -> Result<Vec<Deviation>, DeviationError> {
        let parse = |message: String| DeviationError::Parse {
            origin: origin.to_string(),
            message,
        };
        let list = serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
        brokerflow_graphs::json::unique_keys(text).map_err(|e| parse(e.to_string()))?;
        Ok(list)
    }

    fn kind(&self) -> &'static str {
        match self {
            Deviation::BidVector { .. } => "bid-vector",
            Deviation::Equivocate { .. } => "equivocate",
            Deviation::TaskResult { .. } => "task-result",
            Deviation::CoinReveal { .. } => "coin-reveal",
            Deviation::Silent { .. } => "silent",
            Deviation::Crash { .. } => "crash",
        }
    }
}

/// A deviations file that cannot be used.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum DeviationError {
    /// Not a JSON list of deviation objects.
    #[error("{origin}: {message} (expected a list of {{\"kind\": \"bid-vector\" | \"equivocate\" | \"task-result\" | \"coin-reveal\" | \"silent\" | \"crash\", \"replica\": \"<provider>\" or \"bidder\": \"<user>\", ...}})")]
    Parse {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A `replica` that is not one of the m replicas.
    #[error(
        "{kind}: '{id}' is not a replica (the replicas are the first m providers: {replicas})"
    )]
    UnknownReplica {
        /// The deviation's kind.
        kind: &'static str,
        /// The id given.
        id: String,
        /// The replicas, comma-separated.
        replicas: String,
    },
    /// A `bidder` or `participant` that is not a user (or not a participant).
    #[error("{kind}: '{id}' {why}")]
    UnknownParticipant {
        /// The deviation's kind.
        kind: &'static str,
        /// The id given.
        id: String,
        /// Why it does not fit.
        why: String,
    },
    /// An amount or bid that is not a finite number.
    #[error("{kind}: amount {amount} must be a finite number")]
    BadAmount {
        /// The deviation's kind.
        kind: &'static str,
        /// The amount given.
        amount: f64,
    },
    /// The same kind twice for one replica or bidder.
    #[error("{kind} is given twice for '{id}'")]
    Duplicate {
        /// The deviation's kind.
        kind: &'static str,
        /// The replica or bidder.
        id: String,
    },
    /// Every replica deviates: nobody's output would be honest.
    #[error("every replica deviates: at least one must follow the protocol")]
    NoHonestReplica,
}

/// What one replica does instead of the protocol.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Behaviour {
    /// `bid-vector`: (bid index, amount added).
    pub bid_vector: Option<(usize, f64)>,
    /// `task-result`.
    pub forgery: Option<Forgery>,
    /// `coin-reveal`.
    pub bad_reveal: bool,
    /// `silent`: from this phase.
    pub silent: Option<Phase>,
    /// `crash`: at this phase.
    pub crash: Option<Phase>,
}

impl Behaviour {
    /// Whether the replica follows the protocol.
    pub fn honest(&self) -> bool {
        *self == Behaviour::default()
    }
}

/// Deviations resolved against a market and its replicas: per replica what it does
/// and the bid vector it receives from the bidders.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Per replica, its behaviour.
    pub behaviour: Vec<Behaviour>,
    /// Per replica, the bids it received.
    pub received: Vec<BidVector>,
}

impl Plan {
    /// Resolves `deviations` for `market` (the declared one) and replicas `ids`.
    pub fn resolve(
        deviations: &[Deviation],
        market: &Market,
        ids: &[String],
    ) -> Result<Plan, DeviationError> {
        let m = ids.len();
        let who = Participants::of(market);
        let declared = declared_bids(market);
        let mut behaviour = vec![Behaviour::default(); m];
        let mut received = vec![declared.clone(); m];
        let mut seen: BTreeSet<(&'static str, String)> = BTreeSet::new();
        let replica = |kind: &'static str, id: &str| {
            ids.iter()
                .position(|r| r == id)
                .ok_or_else(|| DeviationError::UnknownReplica {
                    kind,
                    id: id.to_string(),
                    replicas: ids.join(", "),
                })
        };
        let participant = |kind: &'static str, id: &str, users_only: bool| {
            let i = (0..who.len()).find(|&i| who.id(market, i) == id);
            match i {
                Some(i) if !users_only || who.role(i).0 == Role::User => Ok(i),
                Some(i) => Err(DeviationError::UnknownParticipant {
                    kind,
                    id: id.to_string(),
                    why: format!("is a {}: only users bid in an equivocation", who.role(i).0),
                }),
                None => Err(DeviationError::UnknownParticipant {
                    kind,
                    id: id.to_string(),
                    why: "is no participant of the market".to_string(),
                }),
            }
        };
        let finite = |kind: &'static str, amount: f64| {
            if amount.is_finite() {
                Ok(amount)
            } else {
                Err(DeviationError::BadAmount { kind, amount })
            }
        };
        for d in deviations {
            let kind = d.kind();
            let key = match d {
                Deviation::Equivocate { bidder, .. } => bidder.clone(),
                Deviation::BidVector { replica, .. }
                | Deviation::TaskResult { replica, .. }
                | Deviation::CoinReveal { replica }
                | Deviation::Silent { replica, .. }
                | Deviation::Crash { replica, .. } => replica.clone(),
            };
            if !seen.insert((kind, key.clone())) {
                return Err(DeviationError::Duplicate { kind, id: key });
            }
            match d {
                Deviation::BidVector {
                    replica: r,
                    bidder,
                    amount,
                } => {
                    let j = replica(kind, r)?;
                    let i = match bidder {
                        Some(b) => participant(kind, b, false)?,
                        None => 0,
                    };
                    behaviour[j].bid_vector = Some((i, finite(kind, *amount)?));
                }
                Deviation::Equivocate { bidder, bids } => {
                    let i = participant(kind, bidder, true)?;
                    let v = market.users[i].valuation;
                    match bids {
                        Some(bids) => {
                            for (r, &b) in bids {
                                let j = replica(kind, r)?;
                                received[j][i] = valid(finite(kind, b)?);
                            }
                        }
                        None => {
                            for (j, r) in received.iter_mut().enumerate() {
                                r[i] = valid(v + j as f64);
                            }
                        }
                    }
                }
                Deviation::TaskResult {
                    replica: r,
                    amount,
                    participant: p,
                } => {
                    let j = replica(kind, r)?;
                    let p = match p {
                        Some(p) => Some(participant(kind, p, false)?),
                        None => None,
                    };
                    behaviour[j].forgery = Some(Forgery {
                        participant: p,
                        amount: finite(kind, *amount)?,
                    });
                }
                Deviation::CoinReveal { replica: r } => {
                    behaviour[replica(kind, r)?].bad_reveal = true;
                }
                Deviation::Silent { replica: r, phase } => {
                    behaviour[replica(kind, r)?].silent = Some(*phase);
                }
                Deviation::Crash { replica: r, phase } => {
                    behaviour[replica(kind, r)?].crash = Some(*phase);
                }
            }
        }
        if m > 0 && behaviour.iter().all(|b| !b.honest()) {
            return Err(DeviationError::NoHonestReplica);
        }
        Ok(Plan {
            behaviour,
            received,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> (Market, Vec<String>) {
        let m = brokerflow_graphs::examples::tiny().into_market();
        let ids = m.providers.iter().map(|p| p.id.clone()).collect();
        (m, ids)
    }

    #[test]
    fn unknown_kinds_ids_and_duplicates_are_refused() {
        let (m, ids) = tiny();
        let e = Deviation::list_from_json_str(r#"[{"kind": "bribe", "replica": "p1"}]"#, "d.json")
            .unwrap_err();
        assert!(e.to_string().contains("unknown variant `bribe`"), "{e}");
        let e = Deviation::list_from_json_str(
            r#"[{"kind": "silent", "replica": "p1", "phase": "lunch"}]"#,
            "d.json",
        )
        .unwrap_err();
        assert!(e.to_string().contains("lunch"), "{e}");
        let e = Deviation::list_from_json_str(
            r#"[{"kind": "coin-reveal", "replica": "p1", "extra": 1}]"#,
            "d.json",
        )
        .unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
        let d = |text: &str| Deviation::list_from_json_str(text, "d.json").unwrap();
        let e = Plan::resolve(
            &d(r#"[{"kind": "coin-reveal", "replica": "zz"}]"#),
            &m,
            &ids,
        );
        assert!(
            matches!(e, Err(DeviationError::UnknownReplica { .. })),
            "{e:?}"
        );
        let u = &m.users[0].id;
        let e = Plan::resolve(
            &d(&format!(r#"[{{"kind": "coin-reveal", "replica": "{u}"}}]"#)),
            &m,
            &ids,
        );
        assert!(
            matches!(e, Err(DeviationError::UnknownReplica { .. })),
            "{e:?}"
        );
        let p = &ids[0];
        let e = Plan::resolve(
            &d(&format!(r#"[{{"kind": "equivocate", "bidder": "{p}"}}]"#)),
            &m,
            &ids,
        );
        assert!(
            matches!(e, Err(DeviationError::UnknownParticipant { ref why, .. }) if why.contains("provider")),
            "{e:?}"
        );
        let e = Plan::resolve(
            &d(&format!(
                r#"[{{"kind": "coin-reveal", "replica": "{p}"}}, {{"kind": "coin-reveal", "replica": "{p}"}}]"#
            )),
            &m,
            &ids,
        );
        assert!(matches!(e, Err(DeviationError::Duplicate { .. })), "{e:?}");
        let all: String = ids
            .iter()
            .map(|r| format!(r#"{{"kind": "coin-reveal", "replica": "{r}"}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let e = Plan::resolve(&d(&format!("[{all}]")), &m, &ids);
        assert_eq!(e, Err(DeviationError::NoHonestReplica));
    }
}

// Every record of the file is read from a JSON object only (brokerflow_graphs::json).
brokerflow_graphs::object_only!(Deviation, "a deviation");
