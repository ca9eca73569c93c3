//! The protocol: what one node does in a round, on borrowed state (design §5,
//! "Protocol and runtimes"). Every runtime runs every node through exactly these
//! functions — the flat in-process runtime on views into its arrays, the `nodes`
//! runtime and an embedding broker on the owned types of [`super::node`] — so the
//! arithmetic, and with it every result bit, is the same whoever schedules the nodes.
//!
//! A round is three exchanges:
//! 1. **announce**: every node tells its in-neighbours its queue height per commodity,
//!    [`height`] (its queues of a commodity are balanced, so one height says it all),
//!    plus what its variant announces ([`PushPolicy::announce`]);
//! 2. **step** ([`step`]): with its out-neighbours' announcements, a node learns
//!    ([`PushPolicy::learn`]), injects (at a source, discarding above its ceiling),
//!    and pushes jobs on its usable out-edges by reverse water-filling;
//! 3. **deliver** ([`receive`]): every node takes the jobs sent to it; a collection
//!    point absorbs them.
//!
//! **Canonical order.** A node applies the jobs it receives of one commodity in
//! increasing order of their sender's G′ node index (each sender reaches it over one
//! edge, G′ having at most one edge per ordered node pair), never in arrival order:
//! sums of floating-point amounts depend on their order, and this order is the one
//! every runtime can reproduce. Different commodities never mix (each has its own
//! queue total), so a whole inbox is applied in order of (commodity, sender, edge).

use serde::{Deserialize, Serialize};

use super::variants::PushPolicy;
use super::water_fill::{fits, push, water_fill_bound, FillScratch, Potential, Term, Terms};

/// What a node knows of one commodity k that can use it, whatever the variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Local {
    /// Commodity index k.
    pub k: usize,
    /// d_k: heights are normalised by it ([MCF-Grid] §5).
    pub demand: f64,
    /// r^k_n: resource units one job of k uses here.
    pub resource: f64,
    /// Number of queues of k here: usable in-edges plus usable out-edges.
    pub queues: u32,
    /// Jobs injected per round if this node is k's source (a_k), else 0.
    pub injection: f64,
    /// Demand mode at k's source: the most jobs of k the source may hold; the excess
    /// is discarded (Awerbuch–Leighton's discard).
    pub ceiling: Option<f64>,
    /// β of momentum on pushes (0 = none): a push over an out-edge adds β × this
    /// node's last normalised push over it ([`StateMut::pushed`]).
    #[serde(default)]
    pub momentum: f64,
}

/// The normalised queue height q̄ = held / queues / d_k of a node's queues of a
/// commodity: what a node announces to its in-neighbours in phase 1 ([MCF-Grid] §5.1).
///
/// # Arguments
/// * `c`: what the node knows of commodity k (its d_k and number of queues).
/// * `held`: the jobs of k the node holds, spread evenly over its queues of k.
///
/// # Returns
/// q̄; 0 for a node with no queues of k or a commodity without demand.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::engine::protocol::{height, Local};
///
/// // 12 jobs over 3 queues of a commodity with demand 2: 12 / 3 / 2 = 2.
/// let c = Local { k: 0, demand: 2.0, resource: 1.0, queues: 3, injection: 0.0,
///                 ceiling: None, momentum: 0.0 };
/// assert_eq!(height(&c, 12.0), 2.0);
/// assert_eq!(height(&Local { queues: 0, ..c }, 12.0), 0.0);
/// ```
///
/// Paper: [MCF-Grid] §5.1 (heights normalised by d_k), after \[Awerbuch–Leighton\].
pub fn height(c: &Local, held: f64) -> f64 {
    if c.queues == 0 || c.demand <= 0.0 {
        0.0
    } else {
        held / c.queues as f64 / c.demand
    }
}

/// A node's fixed configuration as the step reads it: its capacity, and per local
/// commodity (in increasing k) its [`Local`] data, the variant's data and its usable
/// out-edges; out-edges are numbered commodity by commodity, in increasing edge order
/// within one (`j` below).
pub trait NodeView<P: PushPolicy> {
    /// R_n, `None` when unlimited.
    fn capacity(&self) -> Option<f64>;
    /// Number of local commodities.
    fn len(&self) -> usize;
    /// Whether the node carries no commodity.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Local commodity i.
    fn local(&self, i: usize) -> Local;
    /// The variant's configuration of local commodity i.
    fn commodity(&self, i: usize) -> P::Commodity;
    /// How many usable out-edges local commodity i has.
    fn out_count(&self, i: usize) -> usize;
    /// Out-edge j: the variant's configuration and whether it leads into the
    /// commodity's collection point.
    fn out(&self, j: usize) -> (P::Edge, bool);
}

/// What a node's out-neighbours announced, per out-edge j (numbered as in
/// [`NodeView`]): the head's queue height of the edge's commodity and what its
/// variant announced. Read from the round's announcements, never from state the step
/// is changing.
pub trait Heads<P: PushPolicy> {
    /// q̄ of the head of out-edge j (0 if the head holds none of its commodity).
    fn height(&self, j: usize) -> f64;
    /// What the head of out-edge j announced (default if it said nothing).
    fn announced(&self, j: usize) -> P::Announce;
    /// The height this node itself announced last round of local commodity i, if the
    /// caller kept it: a node that injects nothing (not a source) holds the same jobs
    /// as when it announced, so the step takes it instead of dividing again. `None`
    /// (the default): the step computes [`height`].
    fn own(&self, _i: usize) -> Option<f64> {
        None
    }
    /// Whether out-edge j may carry jobs this round (false while a fault cuts it or
    /// its head is down; design §5, "Faults"): a closed edge gets no push term.
    fn open(&self, _j: usize) -> bool {
        true
    }
}

/// A node's changing state, borrowed per local commodity (aligned with the
/// [`NodeView`]'s commodities).
pub struct StateMut<'a, P: PushPolicy> {
    /// Jobs held per commodity.
    pub held: &'a mut [f64],
    /// Jobs discarded at the ceiling this round, per commodity (written at sources only).
    pub discarded: &'a mut [f64],
    /// The variant's state per commodity.
    pub slots: &'a mut [P::Slot],
    /// Per out-edge j: x̄ of this node's last push over it (jobs / d_k), the memory of
    /// momentum; written by every step.
    pub pushed: &'a mut [f64],
}

/// Reusable buffers of [`step`]: nothing is allocated once they have grown to the
/// node's size.
#[derive(Debug, Clone, Default)]
pub struct StepScratch {
    terms: Terms,
    /// Per term: its out-edge j.
    owner: Vec<u32>,
    fill: FillScratch,
}

/// What a step reports besides the state it changed and the jobs it sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stepped {
    /// λ of this push (the capacity's multiplier, 0 when it did not bind); with the
    /// welfare-seeking weights a price in money per resource unit.
    pub lambda: f64,
    /// Σ_k r^k_n·x: resource units the pushes use (summed in push order).
    pub used: f64,
}

/// Steps 0–1 of [`step`] for one local commodity: learn from the out-neighbours'
/// announcements (`outs`, per out-edge), inject at the source (discarding above its
/// ceiling) and let the variant see the queue's height; returns that height, q̄_t of
/// the push. `own` is the height the node announced last round, if kept
/// ([`Heads::own`]). A runtime may run just this for a node without out-edges: it is
/// all [`step`] does there.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare<P: PushPolicy>(
    local: &Local,
    commodity: &P::Commodity,
    slot: &mut P::Slot,
    held: &mut f64,
    discarded: &mut f64,
    own: Option<f64>,
    outs: impl ExactSizeIterator<Item = (P::Edge, bool, P::Announce)>,
) -> f64 {
    // 0. Learn from the out-neighbours' announcements.
    P::learn(local, commodity, slot, outs);
    // 1. Inject, with the ceiling at the source.
    if local.injection > 0.0 {
        *held += local.injection;
        *discarded = 0.0;
        if let Some(ceiling) = P::ceiling(local, commodity, slot) {
            if *held > ceiling {
                *discarded = *held - ceiling;
                *held = ceiling;
            }
        }
    }
    // The queue's height after injecting (unchanged since the announcement at a node
    // that injects nothing).
    let tail = match own {
        Some(announced) if local.injection <= 0.0 => announced,
        _ => height(local, *held),
    };
    P::adapt(local, commodity, slot, tail);
    tail
}

/// Phase 2, the per-node step of [MCF-Grid] §5.1: learn, inject (at a source; above its
/// ceiling, discard), balance, and push x^k_{n,n′} on every usable out-edge by
/// minimising Σ w·[Φ(q̄_t − x̄) + Φ(q̄_h + x̄)] + penalty·x̄ subject to Σ r·x ≤ R_n and
/// x̄ ≤ q̄_t (reverse water-filling, as [`super::reverse_water_fill`]).
///
/// Allocates nothing once `scratch` has grown.
///
/// # Arguments
/// * `config`: the node's configuration (capacity, local commodities, out-edges).
/// * `state`: its state (queues held, learned values), changed in place.
/// * `heads`: its out-neighbours' announcements.
/// * `potential`: Φ.
/// * `scratch`: reusable buffers.
/// * `sent`: one entry per out-edge j, overwritten with the jobs sent over it (0 for
///   none).
///
/// # Returns
/// The push's multiplier λ and the resource units it uses ([`Stepped`]).
///
/// # Complexity
/// O(m log m) in the node's m (commodity, out-edge) terms when its capacity binds
/// (the breakpoints are sorted), O(m) otherwise.
///
/// # Example
/// Every runtime runs each node through this function; [`crate::engine::run`] has a
/// doc-test of a whole run on `examples::tiny()`.
///
/// Paper: [MCF-Grid] §5.1 steps 1–3, after \[Awerbuch–Leighton\].
#[inline(always)]
pub fn step<P: PushPolicy>(
    config: &impl NodeView<P>,
    state: StateMut<'_, P>,
    heads: &impl Heads<P>,
    potential: Potential,
    scratch: &mut StepScratch,
    sent: &mut [f64],
) -> Stepped {
    let StateMut {
        held,
        discarded,
        slots,
        pushed,
    } = state;
    let StepScratch { terms, owner, fill } = scratch;
    let capacity = config.capacity();
    if capacity.is_some() {
        terms.clear();
        owner.clear();
    }
    // Until the pushes are known, `sent[j]` holds out-edge j's free push x̄ (λ = 0), or
    // NaN where it gets no push term (a push is never NaN: see `push`).
    // Σ usage·x̄ at λ = 0, summed as the water-fill sums it (from −0, in term order).
    let mut free = -0.0;
    let mut first = 0;
    for i in 0..config.len() {
        let local = config.local(i);
        let commodity = config.commodity(i);
        let outs = first..first + config.out_count(i);
        first = outs.end;
        let slot = &mut slots[i];
        let tail = prepare::<P>(
            &local,
            &commodity,
            slot,
            &mut held[i],
            &mut discarded[i],
            heads.own(i),
            outs.clone().map(|j| {
                let (edge, into_sink) = config.out(j);
                (edge, into_sink, heads.announced(j))
            }),
        );
        // 2–3. Balance (implicit: one total per commodity) and the push terms, with
        //      their free pushes (λ = 0).
        let push_with = if held[i] <= 0.0 || outs.is_empty() {
            None
        } else {
            P::push(&local, &commodity, slot)
        };
        let Some(push_with) = push_with else {
            sent[outs].fill(f64::NAN);
            continue;
        };
        // Σ_k d_k·r^k_n·x̄ ≤ R_n, with x̄ = x / d_k.
        let usage = local.demand * local.resource;
        for j in outs {
            sent[j] = f64::NAN;
            if !heads.open(j) {
                continue;
            }
            let (edge, into_sink) = config.out(j);
            let Some((weight, penalty)) =
                P::term(&local, &push_with, &edge, into_sink, &heads.announced(j))
            else {
                continue;
            };
            // Momentum: a bonus of 2·w·β·x̄_last per unit makes the unconstrained push
            // (Δq̄ − penalty/w)/2 + β·x̄_last.
            let penalty = if local.momentum > 0.0 && !into_sink {
                penalty - 2.0 * weight * local.momentum * pushed[j]
            } else {
                penalty
            };
            let term = Term {
                tail,
                head: if into_sink {
                    None
                } else {
                    Some(heads.height(j))
                },
                weight,
                usage,
                penalty,
            };
            let x = push(&term, 0.0, potential);
            // A node with a capacity keeps its terms, in case the capacity binds.
            if capacity.is_some() {
                free += term.usage * x;
                terms.push(&term);
                owner.push(j as u32);
            }
            sent[j] = x;
        }
    }
    // Reverse water-filling: λ = 0 if the free pushes fit (always without a capacity).
    let lambda = match capacity {
        Some(capacity) if !fits(free, capacity) => {
            let lambda = water_fill_bound(terms, capacity, potential, fill);
            for (&j, &x) in owner.iter().zip(&fill.x) {
                sent[j as usize] = x;
            }
            lambda
        }
        _ => 0.0,
    };
    let mut used = 0.0;
    let mut first = 0;
    for (i, held) in held.iter_mut().enumerate().take(config.len()) {
        let outs = first..first + config.out_count(i);
        first = outs.end;
        if outs.is_empty() {
            continue;
        }
        let local = config.local(i);
        let (demand, resource) = (local.demand, local.resource);
        let mut left = *held;
        for j in outs {
            let x = sent[j];
            if x.is_nan() {
                sent[j] = 0.0;
                pushed[j] = 0.0;
                continue;
            }
            // Nothing to send is sending 0 (branch-free: a queue, a sum or `sent` plus
            // or minus +0 stays the same bits, as none of them is ever −0).
            let amount = (x * demand).min(left);
            let amount = if amount > 0.0 { amount } else { 0.0 };
            left -= amount;
            sent[j] = amount;
            pushed[j] = amount / demand;
            used += resource * amount;
        }
        *held = left;
    }
    Stepped { lambda, used }
}

/// Phase 3 for one local commodity: take delivery of `arrivals` (amount, stamp) in
/// the canonical order (by sender; see the module docs). Arrivals of no jobs (amount
/// ≤ 0) are ignored. At a collection point the jobs are absorbed: returns what was
/// absorbed, and `held` stays untouched; elsewhere they join `held` and 0 is returned.
/// The variant learns from the stamps ([`PushPolicy::receive`]).
///
/// # Arguments
/// * `collection`: whether the node is k's collection point t_k.
/// * `held`: the jobs of k the node holds.
/// * `slot`: the variant's learned state for k at this node.
/// * `arrivals`: (amount, stamp) per sender, in the canonical order.
///
/// # Returns
/// The jobs absorbed (0 except at a collection point).
///
/// # Complexity
/// O(a) for a arrivals.
///
/// # Example
/// See [`crate::engine::run`] (a whole run on `examples::tiny()`).
///
/// Paper: [MCF-Grid] §5.1 step 4 (absorb at the collection point).
pub fn receive<'a, P: PushPolicy>(
    collection: bool,
    held: &mut f64,
    slot: &mut P::Slot,
    arrivals: impl Iterator<Item = (f64, &'a P::Stamp)>,
) -> f64 {
    let mut absorbed = 0.0;
    for (amount, stamp) in arrivals {
        // Adding +0 changes no bits (neither sum is ever −0): branch-free.
        let jobs = if amount > 0.0 { amount } else { 0.0 };
        if collection {
            absorbed += jobs;
        } else {
            *held += jobs;
        }
        if amount > 0.0 {
            P::receive(slot, stamp);
        }
    }
    absorbed
}
