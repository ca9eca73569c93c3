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
    /// Welfare-seeking variant only: how moves of k are priced by their cost.
    #[serde(default)]
    pub shaping: Option<Shaping>,
}

/// What a node needs to run the welfare-seeking (drift-plus-penalty) push for one
/// commodity k (issue 7; DESIGN §5's candidate). Everything else it learns from its
/// neighbours' messages: its cheapest cost to t_k C^k_n by a distance-vector exchange
/// ([`Heights::to_go`]), and the user's scale V_k from the jobs themselves
/// ([`Jobs::scale`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shaping {
    /// c, dimensionless: the source sets V_k = c / (v_k − C^k_s) in demand mode (and
    /// its admission gate at height c), V_k = c / C^k_s in feasible mode, and stamps
    /// V_k on its jobs.
    pub scale: f64,
    /// Demand mode: the source admits jobs only while its value covers its cheapest
    /// route, up to height c (value-gated admission); feasible mode: no gate.
    pub gate: bool,
    /// v_k, the user's bid (it travels with its jobs, DESIGN §5).
    pub valuation: f64,
}

impl Shaping {
    /// V_k (jobs per money unit) as k's source sets it from its learned cheapest cost
    /// to go C^k_s: demand mode c / (v_k − C^k_s), `None` while the value does not
    /// cover it; feasible mode (amounts fixed, so only costs matter) c / C^k_s, or
    /// c / v_k (then c) where every route is free.
    pub fn source_scale(&self, to_go: f64) -> Option<f64> {
        if self.gate {
            let surplus = self.valuation - to_go;
            (surplus > 0.0).then(|| self.scale / surplus)
        } else if to_go > 0.0 {
            Some(self.scale / to_go)
        } else if self.valuation > 0.0 {
            Some(self.scale / self.valuation)
        } else {
            Some(self.scale)
        }
    }
}

/// A usable out-edge of a commodity at a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutEdge {
    /// G′ edge index.
    pub edge: usize,
    /// The head node n′.
    pub to: usize,
    /// Weight w^k_{n,n′} of the push objective (1 in the fair variant); the
    /// welfare-seeking variant uses weight / V_k (weight = d_k there).
    pub weight: f64,
    /// Whether n′ is k's collection point (its head queue is always empty).
    pub into_sink: bool,
    /// c_e: the unit cost of moving one job of k over this edge (its sender's cost and
    /// the link's), known locally; priced by the welfare-seeking variant only.
    #[serde(default)]
    pub cost: f64,
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
    /// Welfare-seeking: C^k_n, this node's cheapest unit cost to t_k as learned so far
    /// from its out-neighbours (`None` = no route known yet; 0 at a collection point).
    #[serde(default)]
    pub to_go: Vec<Option<f64>>,
    /// Welfare-seeking: V_k, the user's scale, as set by k's source and learned from
    /// its jobs; `None` until known.
    #[serde(default)]
    pub scale: Vec<Option<f64>>,
    /// λ of this node's last push (the capacity's multiplier, 0 when it did not bind);
    /// with the welfare-seeking weights a price in money per resource unit.
    #[serde(default)]
    pub lambda: f64,
}

impl NodeState {
    /// An empty node; a collection point knows its own cost to go (0).
    pub fn new(config: &NodeConfig) -> NodeState {
        let n = config.commodities.len();
        let known = |c: &LocalCommodity| (c.shaping.is_some() && config.collection).then_some(0.0);
        NodeState {
            held: vec![0.0; n],
            injected: vec![0.0; n],
            discarded: vec![0.0; n],
            absorbed: vec![0.0; n],
            to_go: config.commodities.iter().map(known).collect(),
            scale: vec![None; n],
            lambda: 0.0,
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
    /// Welfare-seeking: (commodity k, C^k) sorted by k, for every k whose cost to go
    /// the node knows — the distance-vector exchange (static unit costs, so it settles
    /// after as many rounds as the longest cheapest path has hops).
    #[serde(default)]
    pub to_go: Vec<(usize, f64)>,
}

impl Heights {
    /// The announced height of commodity k (0 if the node holds none of k).
    pub fn of(&self, k: usize) -> f64 {
        self.heights
            .binary_search_by_key(&k, |&(c, _)| c)
            .map_or(0.0, |i| self.heights[i].1)
    }

    /// The announced cost to go of commodity k, if the node knows one.
    pub fn to_go_of(&self, k: usize) -> Option<f64> {
        self.to_go
            .binary_search_by_key(&k, |&(c, _)| c)
            .ok()
            .map(|i| self.to_go[i].1)
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
    /// Welfare-seeking: the user's V_k, stamped by its source and carried with its
    /// jobs (like the bid in seed 003 §6); `None` for the other variants.
    #[serde(default)]
    pub scale: Option<f64>,
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
        to_go: config
            .commodities
            .iter()
            .zip(&state.to_go)
            .filter_map(|(c, to_go)| Some((c.k, (*to_go)?)))
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
///         injection: 0.0, ceiling: None, shaping: None,
///         out: vec![OutEdge { edge: 7, to: 5, weight: 1.0, into_sink: false, cost: 0.0 },
///                   OutEdge { edge: 8, to: 6, weight: 1.0, into_sink: false, cost: 0.0 }] }] };
/// let state = NodeState { held: vec![6.0], ..NodeState::new(&config) };
/// // The providers announce empty queues.
/// let heard = [Heights { from: 5, heights: vec![], to_go: vec![] },
///              Heights { from: 6, heights: vec![], to_go: vec![] }];
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
    let mut by_sender: Vec<&Heights> = neighbours.to_vec();
    by_sender.sort_by_key(|h| h.from);
    let announced = |to: usize| -> Option<&Heights> {
        by_sender
            .binary_search_by_key(&to, |h| h.from)
            .ok()
            .map(|i| by_sender[i])
    };
    // The head's cost to go over an out-edge: 0 at the collection point, else what the
    // head announced (`None`: it knows no route to t_k yet).
    let head_to_go = |e: &OutEdge, k: usize| -> Option<f64> {
        if e.into_sink {
            Some(0.0)
        } else {
            announced(e.to)?.to_go_of(k)
        }
    };
    // 0. Welfare-seeking: one distance-vector step, C^k_n = min over out-edges of
    //    c_e + C^k_head; a source also sets its user's scale V_k = c / (v_k − C^k_s).
    for (i, c) in config.commodities.iter().enumerate() {
        let Some(shaping) = c.shaping else {
            continue;
        };
        if !c.out.is_empty() {
            next.to_go[i] = c
                .out
                .iter()
                .filter_map(|e| Some(e.cost + head_to_go(e, c.k)?))
                .min_by(f64::total_cmp);
        }
        if c.injection > 0.0 {
            next.scale[i] = next.to_go[i].and_then(|to_go| shaping.source_scale(to_go));
        }
    }
    // 1. Inject, with the demand-mode ceiling at the source. Welfare-seeking in demand
    //    mode: the ceiling is the value gate, height V_k·(v_k − C^k_s) = c, and nothing
    //    is admitted while the user's value does not cover its cheapest route (or no
    //    route is known yet).
    for (i, c) in config.commodities.iter().enumerate() {
        if c.injection > 0.0 {
            next.held[i] += c.injection;
            next.injected[i] = c.injection;
            let gate = match c.shaping {
                Some(s) if s.gate => Some(match next.scale[i] {
                    Some(_) => s.scale * c.queues as f64 * c.demand,
                    None => 0.0,
                }),
                _ => c.ceiling,
            };
            if let Some(ceiling) = gate {
                if next.held[i] > ceiling {
                    next.discarded[i] = next.held[i] - ceiling;
                    next.held[i] = ceiling;
                }
            }
        }
    }
    // 2–3. Balance (implicit: one total per commodity) and push.
    let mut terms = Vec::new();
    let mut owner = Vec::new();
    for (i, c) in config.commodities.iter().enumerate() {
        if next.held[i] <= 0.0 || c.out.is_empty() {
            continue;
        }
        // Welfare-seeking: weight d_k / V_k and penalty d_k × the reduced cost
        // c_e + C_head − C_n ≥ 0 (zero on cheapest routes; along a path they sum to its
        // cost minus C at the source), so penalty / w = V_k × reduced cost and λ is a
        // price per resource unit in money. Without V_k or C_n the node holds its jobs.
        let shaped = match c.shaping {
            Some(_) => match (next.scale[i], next.to_go[i]) {
                (Some(v), Some(to_go)) => Some((v, to_go)),
                _ => continue,
            },
            None => None,
        };
        let tail = height(c, next.held[i]);
        for (j, e) in c.out.iter().enumerate() {
            let (weight, penalty) = match shaped {
                Some((v, to_go)) => {
                    // An out-edge whose head knows no route to t_k yet gets nothing.
                    let Some(head) = head_to_go(e, c.k) else {
                        continue;
                    };
                    (e.weight / v, c.demand * (e.cost + head - to_go).max(0.0))
                }
                None => (e.weight, 0.0),
            };
            terms.push(Term {
                tail,
                head: if e.into_sink {
                    None
                } else {
                    Some(announced(e.to).map_or(0.0, |h| h.of(c.k)))
                },
                weight,
                // Σ_k d_k·r^k_n·x̄ ≤ R_n, with x̄ = x / d_k.
                usage: c.demand * c.resource,
                penalty,
            });
            owner.push((i, j));
        }
    }
    let fill = reverse_water_fill(&terms, config.capacity, params.potential);
    next.lambda = fill.lambda;
    let mut sent = Vec::with_capacity(terms.len());
    for ((i, j), x) in owner.into_iter().zip(fill.x) {
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
                scale: c.shaping.and(next.scale[i]),
            });
        }
    }
    (next, sent)
}

/// Phase 3: the node takes delivery of `arrivals` (in the order given, which the
/// engine fixes so sums are bit-identical); a collection point absorbs them. A
/// welfare-seeking node learns its users' V_k from the jobs' stamps.
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
        if let (Some(v), Some(slot)) = (job.scale, next.scale.get_mut(i)) {
            *slot = Some(v);
        }
    }
    next
}
