//! One node of the distributed algorithm (seed 003 §5.1, DESIGN §5): its fixed
//! configuration, its state, the messages it exchanges, and the three public steps of a
//! round. The engine runs every node through exactly these functions, so a broker can
//! embed them in its own middleware and exchange the messages over any transport.
//!
//! A round is three exchanges:
//! 1. [`announce`]: every node tells its in-neighbours the height of its queues;
//! 2. [`node_step`]: with its out-neighbours' announcements, a node injects (at a
//!    source), balances, and pushes jobs by reverse water-filling;
//! 3. [`deliver`]: every node takes the jobs sent to it; a collection point absorbs them.

use serde::{Deserialize, Serialize};

use super::water_fill::{reverse_water_fill, Potential, Term};

/// A node's fixed view of the market: what it may use, decided once from G′.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The G′ node index.
    pub node: usize,
    /// R_n, `None` when unlimited.
    pub capacity: Option<f64>,
    /// Whether this node is a collection point (it absorbs what reaches it).
    pub collection: bool,
    /// The commodities that can use this node, by commodity index.
    pub commodities: Vec<LocalCommodity>,
}

/// What a node knows of one commodity k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalCommodity {
    /// Commodity index k.
    pub k: usize,
    /// d_k: heights are normalised by it (seed 003 §5).
    pub demand: f64,
    /// r^k_n: resource units one job of k uses here.
    pub resource: f64,
    /// Number of queues of k here: usable in-edges plus usable out-edges.
    pub queues: usize,
    /// Jobs injected per round if this node is k's source (a_k), else 0.
    pub injection: f64,
    /// Demand mode at k's source: the most jobs of k the source may hold; the excess
    /// is discarded (Awerbuch–Leighton's discard).
    pub ceiling: Option<f64>,
    /// The usable out-edges of k here.
    pub out: Vec<OutEdge>,
}

/// A usable out-edge of a commodity at a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutEdge {
    /// G′ edge index.
    pub edge: usize,
    /// The head node n′.
    pub to: usize,
    /// Weight w^k_{n,n′} of the push objective (1 in the fair variant).
    pub weight: f64,
    /// Whether n′ is k's collection point (its head queue is always empty).
    pub into_sink: bool,
    /// Linear penalty per unit of x̄ in the push objective (welfare-seeking variant:
    /// V·d_k·the move's unit cost); 0 otherwise.
    #[serde(default)]
    pub penalty: f64,
}

/// A node's changing state: how many jobs of each commodity it holds, and its ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// Jobs held per commodity, aligned with `NodeConfig::commodities`.
    pub held: Vec<f64>,
    /// Jobs injected this round, per local commodity (sources only).
    pub injected: Vec<f64>,
    /// Jobs discarded at the ceiling this round, per local commodity (sources only).
    pub discarded: Vec<f64>,
    /// Jobs absorbed this round, per local commodity (collection points only).
    pub absorbed: Vec<f64>,
}

impl NodeState {
    /// An empty node.
    pub fn new(config: &NodeConfig) -> NodeState {
        let n = config.commodities.len();
        NodeState {
            held: vec![0.0; n],
            injected: vec![0.0; n],
            discarded: vec![0.0; n],
            absorbed: vec![0.0; n],
        }
    }
}

/// Phase 1 message: a node's normalised queue height q̄ = held / queues / d_k per
/// commodity, sent to its in-neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heights {
    /// The announcing node.
    pub from: usize,
    /// (commodity k, q̄) sorted by k.
    pub heights: Vec<(usize, f64)>,
}

impl Heights {
    /// The announced height of commodity k (0 if the node holds none of k).
    pub fn of(&self, k: usize) -> f64 {
        self.heights
            .binary_search_by_key(&k, |&(c, _)| c)
            .map_or(0.0, |i| self.heights[i].1)
    }
}

/// Phase 2 message: jobs of commodity k sent over a G′ edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jobs {
    /// G′ edge index.
    pub edge: usize,
    /// The receiving node.
    pub to: usize,
    /// Commodity index k.
    pub k: usize,
    /// How many jobs.
    pub amount: f64,
}

/// Parameters every node uses the same way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepParams {
    /// The potential Φ.
    pub potential: Potential,
}

/// Phase 1: the node's queue heights, for its in-neighbours. A node's queues of k are
/// balanced (seed 003 §5.1 phase 2), so one height per commodity says it all.
pub fn announce(config: &NodeConfig, state: &NodeState) -> Heights {
    Heights {
        from: config.node,
        heights: config
            .commodities
            .iter()
            .zip(&state.held)
            .map(|(c, &held)| (c.k, height(c, held)))
            .collect(),
    }
}

fn height(c: &LocalCommodity, held: f64) -> f64 {
    if c.queues == 0 || c.demand <= 0.0 {
        0.0
    } else {
        held / c.queues as f64 / c.demand
    }
}

/// Phase 2, the per-node step of seed 003 §5.1: inject (at a source; in demand mode,
/// discard above the ceiling), balance, and push x^k_{n,n′} on every usable out-edge by
/// minimising Σ w·[Φ(q̄_t − x̄) + Φ(q̄_h + x̄)] subject to Σ r·x ≤ R_n and x̄ ≤ q̄_t
/// ([`reverse_water_fill`]). `neighbours` are the out-neighbours' announcements (in
/// any order). Returns the new state and the jobs sent.
///
/// # Example: a broker's round, embedded
/// ```
/// use brokerflow_solvers::engine::node::*;
/// use brokerflow_solvers::engine::Potential;
/// // A broker of capacity 4 holding 6 jobs of commodity 0 (demand 10), with one
/// // in-queue and out-edges to two providers.
/// let config = NodeConfig { node: 3, capacity: Some(4.0), collection: false,
///     commodities: vec![LocalCommodity { k: 0, demand: 10.0, resource: 1.0, queues: 3,
///         injection: 0.0, ceiling: None,
///         out: vec![OutEdge { edge: 7, to: 5, weight: 1.0, into_sink: false, penalty: 0.0 },
///                   OutEdge { edge: 8, to: 6, weight: 1.0, into_sink: false, penalty: 0.0 }] }] };
/// let state = NodeState { held: vec![6.0], injected: vec![0.0], discarded: vec![0.0],
///     absorbed: vec![0.0] };
/// // The providers announce empty queues.
/// let heard = [Heights { from: 5, heights: vec![] }, Heights { from: 6, heights: vec![] }];
/// let params = StepParams { potential: Potential::Quadratic };
/// let (next, sent) = node_step(&config, &state, &heard.iter().collect::<Vec<_>>(), &params);
/// // Each tail queue holds 2 jobs (q̄ = 0.2); pushing half the height difference to
/// // each empty head queue sends 1 job per edge, within the capacity of 4.
/// assert_eq!(sent.len(), 2);
/// assert!((sent[0].amount - 1.0).abs() < 1e-12 && (next.held[0] - 4.0).abs() < 1e-12);
/// ```
pub fn node_step(
    config: &NodeConfig,
    state: &NodeState,
    neighbours: &[&Heights],
    params: &StepParams,
) -> (NodeState, Vec<Jobs>) {
    let mut next = state.clone();
    next.injected.iter_mut().for_each(|x| *x = 0.0);
    next.discarded.iter_mut().for_each(|x| *x = 0.0);
    // 1. Inject, with the demand-mode ceiling at the source.
    for (i, c) in config.commodities.iter().enumerate() {
        if c.injection > 0.0 {
            next.held[i] += c.injection;
            next.injected[i] = c.injection;
            if let Some(ceiling) = c.ceiling {
                if next.held[i] > ceiling {
                    next.discarded[i] = next.held[i] - ceiling;
                    next.held[i] = ceiling;
                }
            }
        }
    }
    // 2–3. Balance (implicit: one total per commodity) and push.
    let mut by_sender: Vec<&Heights> = neighbours.to_vec();
    by_sender.sort_by_key(|h| h.from);
    let heard = |to: usize, k: usize| -> f64 {
        by_sender
            .binary_search_by_key(&to, |h| h.from)
            .map_or(0.0, |i| by_sender[i].of(k))
    };
    let mut terms = Vec::new();
    let mut owner = Vec::new();
    for (i, c) in config.commodities.iter().enumerate() {
        if next.held[i] <= 0.0 || c.out.is_empty() {
            continue;
        }
        let tail = height(c, next.held[i]);
        for (j, e) in c.out.iter().enumerate() {
            terms.push(Term {
                tail,
                head: if e.into_sink {
                    None
                } else {
                    Some(heard(e.to, c.k))
                },
                weight: e.weight,
                // Σ_k d_k·r^k_n·x̄ ≤ R_n, with x̄ = x / d_k.
                usage: c.demand * c.resource,
                penalty: e.penalty,
            });
            owner.push((i, j));
        }
    }
    let xbar = reverse_water_fill(&terms, config.capacity, params.potential);
    let mut sent = Vec::with_capacity(terms.len());
    for ((i, j), x) in owner.into_iter().zip(xbar) {
        let c = &config.commodities[i];
        let amount = (x * c.demand).min(next.held[i]);
        if amount > 0.0 {
            next.held[i] -= amount;
            let e = &c.out[j];
            sent.push(Jobs {
                edge: e.edge,
                to: e.to,
                k: c.k,
                amount,
            });
        }
    }
    (next, sent)
}

/// Phase 3: the node takes delivery of `arrivals` (in the order given, which the
/// engine fixes so sums are bit-identical); a collection point absorbs them.
pub fn deliver(config: &NodeConfig, state: &NodeState, arrivals: &[&Jobs]) -> NodeState {
    let mut next = state.clone();
    next.absorbed.iter_mut().for_each(|x| *x = 0.0);
    for job in arrivals {
        let Ok(i) = config.commodities.binary_search_by_key(&job.k, |c| c.k) else {
            continue;
        };
        if config.collection {
            next.absorbed[i] += job.amount;
        } else {
            next.held[i] += job.amount;
        }
    }
    next
}
