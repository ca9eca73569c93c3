//! One node as an embedding broker runs it: owned, serialisable configuration, state
//! and messages, and the three steps of a round over them ([MCF-Grid] §5.1, design §5).
//! These are a thin adapter over [`super::protocol`]: the arithmetic is the
//! protocol's, so a node run here — exchanging its messages over any transport —
//! computes exactly what the engine's runtimes compute for it. The engine's `nodes`
//! runtime runs every node through these functions.
//!
//! Types are generic over the variant ([`PushPolicy`]); a variant's own data appears
//! in them only as its policy types (nothing, for the fair variant).
//!
//! A round is three exchanges:
//! 1. [`announce`]: every node tells its in-neighbours the height of its queues;
//! 2. [`node_step`]: with its out-neighbours' announcements, a node injects (at a
//!    source), balances, and pushes jobs by reverse water-filling;
//! 3. [`deliver`]: every node takes the jobs sent to it, in the canonical order
//!    (by commodity, then sender, then edge — whatever order they arrived in); a
//!    collection point absorbs them.

use serde::{Deserialize, Serialize};

use super::protocol::{self, Heads, Local, NodeView, StateMut, StepScratch, Stepped};
use super::variants::PushPolicy;
use super::water_fill::Potential;

/// A node's fixed view of the market: what it may use, decided once from G′
/// ([`super::setup::Setup::node`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NodeConfig<P: PushPolicy> {
    /// The G′ node index.
    pub node: usize,
    /// R_n, `None` when unlimited.
    pub capacity: Option<f64>,
    /// Whether this node is a collection point (it absorbs what reaches it).
    pub collection: bool,
    /// The commodities that can use this node, in increasing commodity index.
    pub commodities: Vec<LocalCommodity<P>>,
    /// The usable out-edges, commodity by commodity (the first `out_edges` of the
    /// first commodity, then the next commodity's, …), each commodity's in increasing
    /// edge order.
    pub out: Vec<OutEdge<P>>,
}

/// What a node knows of one commodity k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct LocalCommodity<P: PushPolicy> {
    /// What every variant knows.
    #[serde(flatten)]
    pub local: Local,
    /// What the variant knows.
    #[serde(flatten)]
    pub policy: P::Commodity,
    /// How many of the node's `out` edges are this commodity's.
    pub out_edges: usize,
}

/// A usable out-edge of a commodity at a node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct OutEdge<P: PushPolicy> {
    /// G′ edge index.
    pub edge: usize,
    /// The head node n′.
    pub to: usize,
    /// Whether n′ is the commodity's collection point (its head queue is always empty).
    pub into_sink: bool,
    /// What the variant knows of the edge (e.g. its weight).
    #[serde(flatten)]
    pub policy: P::Edge,
}

impl<P: PushPolicy> NodeView<P> for NodeConfig<P> {
    fn capacity(&self) -> Option<f64> {
        self.capacity
    }
    fn len(&self) -> usize {
        self.commodities.len()
    }
    fn local(&self, i: usize) -> Local {
        self.commodities[i].local
    }
    fn commodity(&self, i: usize) -> P::Commodity {
        self.commodities[i].policy
    }
    fn out_count(&self, i: usize) -> usize {
        self.commodities[i].out_edges
    }
    fn out(&self, j: usize) -> (P::Edge, bool) {
        (self.out[j].policy, self.out[j].into_sink)
    }
}

/// A node's changing state: how many jobs of each commodity it holds, its ledger of
/// the last round, and what its variant learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct NodeState<P: PushPolicy> {
    /// Jobs held per commodity, aligned with `NodeConfig::commodities`.
    pub held: Vec<f64>,
    /// Jobs injected this round, per local commodity (sources only).
    pub injected: Vec<f64>,
    /// Jobs discarded at the ceiling this round, per local commodity (sources only).
    pub discarded: Vec<f64>,
    /// Jobs absorbed this round, per local commodity (collection points only).
    pub absorbed: Vec<f64>,
    /// λ of this node's last push (the capacity's multiplier, 0 when it did not bind);
    /// with the welfare-seeking weights a price in money per resource unit.
    pub lambda: f64,
    /// The variant's state per local commodity.
    pub policy: Vec<P::Slot>,
    /// Per out-edge (aligned with `NodeConfig::out`): x̄ of the node's last push over
    /// it, the memory of momentum.
    #[serde(default)]
    pub pushed: Vec<f64>,
}

impl<P: PushPolicy> NodeState<P> {
    /// An empty node.
    pub fn new(config: &NodeConfig<P>) -> NodeState<P> {
        let n = config.commodities.len();
        NodeState {
            held: vec![0.0; n],
            injected: vec![0.0; n],
            discarded: vec![0.0; n],
            absorbed: vec![0.0; n],
            lambda: 0.0,
            policy: config
                .commodities
                .iter()
                .map(|c| P::initial(config.collection, &c.policy))
                .collect(),
            pushed: vec![0.0; config.out.len()],
        }
    }
}

/// Phase 1 message: a node's normalised queue height per commodity, sent to its
/// in-neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Heights<P: PushPolicy> {
    /// The announcing node.
    pub from: usize,
    /// One entry per local commodity, in increasing k.
    pub heights: Vec<Announced<P>>,
}

/// One commodity's entry of a [`Heights`] message.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Announced<P: PushPolicy> {
    /// Commodity index k.
    pub k: usize,
    /// q̄ = held / queues / d_k.
    pub height: f64,
    /// What the variant announces.
    #[serde(flatten)]
    pub policy: P::Announce,
}

impl<P: PushPolicy> Heights<P> {
    /// Commodity k's entry, if the node carries k.
    pub fn of(&self, k: usize) -> Option<&Announced<P>> {
        self.heights
            .binary_search_by_key(&k, |a| a.k)
            .ok()
            .map(|i| &self.heights[i])
    }
}

/// Phase 2 message: jobs of commodity k sent over a G′ edge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Jobs<P: PushPolicy> {
    /// The sending node.
    pub from: usize,
    /// G′ edge index.
    pub edge: usize,
    /// The receiving node.
    pub to: usize,
    /// Commodity index k.
    pub k: usize,
    /// How many jobs.
    pub amount: f64,
    /// What the jobs carry for the variant.
    #[serde(flatten)]
    pub stamp: P::Stamp,
}

/// Parameters every node uses the same way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepParams {
    /// The potential Φ.
    pub potential: Potential,
}

/// Reusable buffers of [`node_step`].
#[derive(Debug, Clone)]
pub struct NodeScratch<P: PushPolicy> {
    step: StepScratch,
    order: Vec<u32>,
    heights: Vec<f64>,
    announced: Vec<P::Announce>,
    sent: Vec<f64>,
}

impl<P: PushPolicy> Default for NodeScratch<P> {
    fn default() -> Self {
        NodeScratch {
            step: StepScratch::default(),
            order: Vec::new(),
            heights: Vec::new(),
            announced: Vec::new(),
            sent: Vec::new(),
        }
    }
}

/// Phase 1 of a round of the distributed algorithm: the node's normalised queue
/// heights and its variant's announcements, for its in-neighbours.
///
/// # Arguments
/// * `config`: the node's configuration.
/// * `state`: its state.
///
/// # Returns
/// The [`Heights`] message, one entry per local commodity.
///
/// # Complexity
/// O(k) for the node's k local commodities.
///
/// # Example
/// See [`node_step`], whose doc-test builds the [`Heights`] messages a node hears.
///
/// Paper: [MCF-Grid] §5.1, after \[Awerbuch–Leighton\].
pub fn announce<P: PushPolicy>(config: &NodeConfig<P>, state: &NodeState<P>) -> Heights<P> {
    Heights {
        from: config.node,
        heights: config
            .commodities
            .iter()
            .zip(&state.held)
            .zip(&state.policy)
            .map(|((c, &held), slot)| Announced {
                k: c.local.k,
                height: protocol::height(&c.local, held),
                policy: P::announce(slot),
            })
            .collect(),
    }
}

/// Announcements resolved per out-edge, and which out-edges are open (empty: all).
struct Resolved<'a, P: PushPolicy> {
    heights: &'a [f64],
    announced: &'a [P::Announce],
    open: &'a [bool],
}

impl<P: PushPolicy> Heads<P> for Resolved<'_, P> {
    fn height(&self, j: usize) -> f64 {
        self.heights[j]
    }
    fn announced(&self, j: usize) -> P::Announce {
        self.announced[j]
    }
    fn open(&self, j: usize) -> bool {
        self.open.get(j).copied().unwrap_or(true)
    }
}

/// Phase 2, the per-node step ([`protocol::step`]): inject (at a source; in demand
/// mode, discard above the ceiling), balance, and push on every usable out-edge.
/// `heard` are the out-neighbours' announcements, in any order; the jobs sent are
/// appended to `outbox` (in push order: by commodity, then edge). Returns λ and the
/// resource units used.
///
/// # Example: a broker's round, embedded
/// ```
/// use brokerflow_solvers::engine::node::*;
/// use brokerflow_solvers::engine::protocol::Local;
/// use brokerflow_solvers::engine::variants::{fair::Fair, Nothing};
/// use brokerflow_solvers::engine::Potential;
/// // A broker of capacity 4 holding 6 jobs of commodity 0 (demand 10), with one
/// // in-queue and out-edges to two providers.
/// let local = Local { k: 0, demand: 10.0, resource: 1.0, queues: 3, injection: 0.0, ceiling: None,
///     momentum: 0.0 };
/// let edge = |edge, to| OutEdge::<Fair> { edge, to, into_sink: false, policy: Nothing {} };
/// let config = NodeConfig::<Fair> { node: 3, capacity: Some(4.0), collection: false,
///     commodities: vec![LocalCommodity { local, policy: Nothing {}, out_edges: 2 }],
///     out: vec![edge(7, 5), edge(8, 6)] };
/// let mut state = NodeState::new(&config);
/// state.held[0] = 6.0;
/// // The providers announce empty queues.
/// let heard = [Heights::<Fair> { from: 5, heights: vec![] }, Heights { from: 6, heights: vec![] }];
/// let params = StepParams { potential: Potential::Quadratic };
/// let mut sent = Vec::new();
/// let stepped = node_step(&config, &mut state, &heard.iter().collect::<Vec<_>>(), &params,
///     &mut NodeScratch::default(), &mut sent);
/// // Each tail queue holds 2 jobs (q̄ = 0.2); pushing half the height difference to
/// // each empty head queue sends 1 job per edge, within the capacity of 4.
/// assert_eq!(sent.len(), 2);
/// assert!((sent[0].amount - 1.0).abs() < 1e-12 && (state.held[0] - 4.0).abs() < 1e-12);
/// assert_eq!((stepped.lambda, stepped.used), (0.0, 2.0));
/// ```
pub fn node_step<P: PushPolicy>(
    config: &NodeConfig<P>,
    state: &mut NodeState<P>,
    heard: &[&Heights<P>],
    params: &StepParams,
    scratch: &mut NodeScratch<P>,
    outbox: &mut Vec<Jobs<P>>,
) -> Stepped {
    node_step_open(config, state, heard, params, scratch, outbox, &[])
}

/// [`node_step`] with some out-edges closed (`open[j]` false: a fault cuts out-edge j
/// or its head is down this round, design §5 "Faults"; nothing is pushed over it).
/// An empty `open` opens every edge.
pub fn node_step_open<P: PushPolicy>(
    config: &NodeConfig<P>,
    state: &mut NodeState<P>,
    heard: &[&Heights<P>],
    params: &StepParams,
    scratch: &mut NodeScratch<P>,
    outbox: &mut Vec<Jobs<P>>,
    open: &[bool],
) -> Stepped {
    // The head's announcement for every out-edge: the head's message, if it sent one,
    // and its entry for the edge's commodity.
    let order = &mut scratch.order;
    order.clear();
    order.extend(0..heard.len() as u32);
    order.sort_by_key(|&i| heard[i as usize].from);
    let message = |to: usize| -> Option<&Heights<P>> {
        order
            .binary_search_by_key(&to, |&i| heard[i as usize].from)
            .ok()
            .map(|i| heard[order[i] as usize])
    };
    scratch.heights.clear();
    scratch.announced.clear();
    let mut j = 0;
    for c in &config.commodities {
        for e in &config.out[j..j + c.out_edges] {
            let entry = message(e.to).and_then(|h| h.of(c.local.k));
            scratch.heights.push(entry.map_or(0.0, |a| a.height));
            scratch
                .announced
                .push(entry.map(|a| a.policy).unwrap_or_default());
        }
        j += c.out_edges;
    }
    for (i, c) in config.commodities.iter().enumerate() {
        state.injected[i] = c.local.injection.max(0.0);
        state.discarded[i] = 0.0;
    }
    scratch.sent.clear();
    scratch.sent.resize(config.out.len(), 0.0);
    let stepped = protocol::step(
        config,
        StateMut {
            held: &mut state.held,
            discarded: &mut state.discarded,
            slots: &mut state.policy,
            pushed: &mut state.pushed,
        },
        &Resolved::<P> {
            heights: &scratch.heights,
            announced: &scratch.announced,
            open,
        },
        params.potential,
        &mut scratch.step,
        &mut scratch.sent,
    );
    state.lambda = stepped.lambda;
    let mut j = 0;
    for (i, c) in config.commodities.iter().enumerate() {
        for e in &config.out[j..j + c.out_edges] {
            let amount = scratch.sent[j];
            if amount > 0.0 {
                outbox.push(Jobs {
                    from: config.node,
                    edge: e.edge,
                    to: e.to,
                    k: c.local.k,
                    amount,
                    stamp: P::stamp(&state.policy[i]),
                });
            }
            j += 1;
        }
    }
    stepped
}

/// Phase 3: the node takes delivery of `arrivals`, in any order: they are applied in
/// the canonical order (by commodity, then sender, then edge; [`protocol::receive`]),
/// so the result does not depend on the transport. A collection point absorbs them;
/// jobs of a commodity the node does not carry are ignored.
///
/// # Arguments
/// * `config`: the node's configuration.
/// * `state`: its state: held jobs grow, or `absorbed` records what reached t_k.
/// * `arrivals`: the jobs sent to it this round, in any order.
///
/// # Returns
/// Nothing; `state` holds the result.
///
/// # Complexity
/// O(a log a) for a arrivals (the canonical sort).
///
/// # Example
/// See [`crate::engine::run`] (a whole run on `examples::tiny()`).
///
/// Paper: [MCF-Grid] §5.1 step 4 (absorb at the collection point).
pub fn deliver<P: PushPolicy>(
    config: &NodeConfig<P>,
    state: &mut NodeState<P>,
    arrivals: &[&Jobs<P>],
) {
    let mut sorted = arrivals.to_vec();
    sorted.sort_by_key(|j| (j.k, j.from, j.edge));
    state.absorbed.iter_mut().for_each(|x| *x = 0.0);
    let mut rest = &sorted[..];
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|j| j.k == first.k).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        let Ok(i) = config
            .commodities
            .binary_search_by_key(&first.k, |c| c.local.k)
        else {
            continue;
        };
        let absorbed = protocol::receive::<P>(
            config.collection,
            &mut state.held[i],
            &mut state.policy[i],
            group.iter().map(|j| (j.amount, &j.stamp)),
        );
        if config.collection {
            state.absorbed[i] = absorbed;
        }
    }
}
