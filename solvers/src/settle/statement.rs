//! A settlement's result: one [`Line`] per participant and the totals ([`Statement`]),
//! the money moved ([`Transfers`]), and who is who ([`Participants`]).
//!
//! A participant's *value* of a flow is its part of [MCF-Grid]'s welfare W: a user
//! gets v_k per job served; every sender bears its own cost and the cost of the link
//! it sends on. These parts add up to W exactly, so Σ utility = W − surplus.

use brokerflow_graphs::{ExpandedGraph, Flow, Market, NodeKind, Role};
use petgraph::graph::{EdgeIndex, NodeIndex};
use serde::Serialize;

use super::{AllocationSource, Mechanism};

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
    /// The mechanism used (serialised as its name).
    pub mechanism: &'static dyn Mechanism,
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
