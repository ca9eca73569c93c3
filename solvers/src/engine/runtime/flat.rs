//! The `flat` runtime: every node's configuration and state laid out in flat arrays —
//! by node, then commodity (a *slot* per (node, commodity)), then out-edge (a usable
//! (edge, commodity) pair) — built once, so a round allocates nothing and is a few
//! linear passes over those arrays, parallel over chunks of nodes with rayon.
//!
//! Every node still runs the protocol's step ([`protocol::step`]; a node without
//! out-edges or capacity only its learn-inject-adapt part, all the step does there)
//! and delivery ([`protocol::receive`]), on views into the arrays; what the flat layout
//! adds is precomputed addressing: per out-edge the slot of its head (where the head's
//! announced height is), per slot its arrivals in the canonical order (by sender), per
//! commodity the places of its source and collection slots (for the ledger). So it
//! computes exactly what the `nodes` runtime computes, bit for bit, for any chunking and
//! thread count (every sum has one fixed order; chunks only split the work).
//!
//! A round:
//! 1. **step**, per node in parallel: learn, inject, push; the amounts go straight
//!    into the window's row of this round (the window is kept per out-edge, i.e. by
//!    the node that sends over it), λ into the λ window;
//! 2. **deliver**, per node in parallel: each slot adds its arrivals in order, then
//!    announces its new height (double-buffered: the step reads only announcements);
//! 3. **report**: the ledger's sums of every commodity's holdings over its slots in
//!    node order (one pass over the slots), beside it per commodity what its source
//!    and collection point report (one pass over the commodities).

use std::mem::size_of;

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use super::{Executor, Footprint, LoadError, Runtime};
use crate::engine::accounting::{capacity_excess, mean_of_zeros, Ring, RoundLedger};
use crate::engine::faults::{FaultOutcome, FaultPlan, Network};
use crate::engine::node::{NodeConfig, NodeState};
use crate::engine::protocol::{self, Heads, Local, NodeView, StateMut, StepScratch, Stepped};
use crate::engine::setup::Setup;
use crate::engine::variants::PushPolicy;
use crate::engine::water_fill::Potential;

mod saved;

/// No slot.
const NONE: u32 = u32::MAX;

/// A slot's fixed data: [`Local`] without what is the same at every node of the
/// commodity (d_k, momentum) or only a source has (its injection and ceiling): those
/// are kept per commodity.
#[derive(Debug, Clone, Copy)]
struct SlotLocal {
    k: u32,
    /// The queue count, with [`SOURCE`] set at the commodity's source.
    queues: u32,
    resource: f64,
}

/// The bit of `SlotLocal::queues` that marks the commodity's source.
const SOURCE: u32 = 1 << 31;

impl SlotLocal {
    fn is_source(&self) -> bool {
        self.queues & SOURCE != 0
    }

    fn queues(&self) -> u32 {
        self.queues & !SOURCE
    }
}

/// What every node of a commodity knows of it (the same at every node), in one place:
/// a slot's step reads it with one cache line.
#[derive(Debug, Clone, Copy)]
struct KData<C> {
    /// The variant's data.
    policy: C,
    /// β of momentum on its pushes.
    momentum: f64,
    /// The source's injection and ceiling (NaN for none).
    injection: f64,
    ceiling: f64,
}

impl<C: Default> Default for KData<C> {
    fn default() -> KData<C> {
        KData {
            policy: C::default(),
            momentum: 0.0,
            injection: 0.0,
            ceiling: f64::NAN,
        }
    }
}

/// The bit of an out-edge's head slot (`Layout::head`) that marks the commodity's
/// collection point.
const INTO_SINK: u32 = 1 << 31;

/// The fixed configuration of every node that carries a commodity ("node" below: its
/// position among those).
struct Layout<P: PushPolicy> {
    /// Per node: its G′ index (increasing).
    node: Vec<u32>,
    /// Per node: its first slot (one more entry at the end).
    node_slot: Vec<u32>,
    /// Per node with a capacity, in node order: R_n.
    capacity: Vec<f64>,
    collection: Vec<bool>,
    /// Per node: whether one of its slots is a commodity's source.
    has_source: Vec<bool>,
    /// Per node: its λ column among the nodes with a capacity, which is where its R_n
    /// is (one more entry at the end: a node has a capacity where the next entry is
    /// larger).
    node_cap: Vec<u32>,
    /// Per slot.
    local: Vec<SlotLocal>,
    /// Per slot: its first out-edge (one more entry at the end).
    slot_out: Vec<u32>,
    /// Per out-edge: the variant's data, and the slot of its head with [`INTO_SINK`]
    /// set where the head is the commodity's collection point (two arrays: no padding).
    edge: Vec<P::Edge>,
    head: Vec<u32>,
    /// Every slot's arrivals, slot by slot (a slot has queues − out-edges of them),
    /// each slot's in increasing sender order: the out-edge each comes over (its
    /// amount and its jobs' stamp are kept per out-edge).
    inward: Vec<u32>,
    /// Per commodity: what its nodes know of it; its source slot and that slot's
    /// place among the sources (in slot order), its collection slot's place among the
    /// collection slots (in slot order); how many slots the commodities before it
    /// have (`k_start[k] < k_start[k + 1]`: the engine carries k).
    commodity: Vec<KData<P::Commodity>>,
    /// Per commodity: d_k (dense: every slot's height divides by it).
    demand: Vec<f64>,
    source: Vec<u32>,
    source_at: Vec<u32>,
    sink_at: Vec<u32>,
    k_start: Vec<u32>,
}

/// Every node's changing state, per slot.
struct State<P: PushPolicy> {
    held: Vec<f64>,
    /// What a slot reports besides what it holds, kept only where it can be nonzero:
    /// per source slot (in slot order) the jobs it discarded this round, per slot of a
    /// collection point (in slot order) the jobs it absorbed (a slot is never both).
    discarded: Vec<f64>,
    absorbed: Vec<f64>,
    /// Announced heights and variant announcements (read by the step, written after
    /// delivery).
    heights: Vec<f64>,
    announced: Vec<P::Announce>,
    slots: Vec<P::Slot>,
    /// Per out-edge: what the jobs its tail sends this round carry (the tail slot's
    /// stamp, copied to each of its out-edges so that an arrival reads it by the edge
    /// it came over).
    stamps: Vec<P::Stamp>,
    /// Per out-edge: x̄ of its tail's last push over it (momentum's memory).
    pushed: Vec<f64>,
}

/// Where a chunk of nodes starts in each index space.
#[derive(Debug, Clone, Copy, Default)]
struct Cut {
    chunk: usize,
    node: usize,
    slot: usize,
    out: usize,
    /// The first arrival of the chunk's first slot.
    inward: usize,
    cap: usize,
    /// The places of the chunk's first source slot and first collection slot.
    source: usize,
    sink: usize,
}

/// The flat runtime.
pub struct Flat<'a, P: PushPolicy> {
    g: &'a ExpandedGraph,
    potential: Potential,
    layout: Layout<P>,
    state: State<P>,
    /// The window: per round, every out-edge's amount and every capacity node's λ.
    sent: Ring,
    lambda: Ring,
    /// Chunk boundaries (one more than chunks), and per chunk its step buffers and
    /// largest capacity excess.
    cuts: Vec<Cut>,
    scratch: Vec<StepScratch>,
    /// Per chunk: where the step writes what a node's slots discard (as wide as the
    /// widest node), copied out at its sources.
    spill: Vec<Vec<f64>>,
    excess: Vec<f64>,
    /// A fault schedule's network, what arrives per out-edge this round, and the round.
    faults: Option<(Network, Vec<f64>, usize)>,
}

/// Work a chunk should hold, in slots + out-edges, at least.
const CHUNK_WORK: usize = 4096;

impl<'a, P: PushPolicy> Flat<'a, P> {
    /// Configures every node that carries a commodity ([`Setup::active_nodes`],
    /// [`Setup::node`]), lays the configurations out flat and precomputes the
    /// addressing. O(usable pairs · log) once; the other nodes of G′ cost nothing, in
    /// time or memory, then or in any round.
    pub fn new(setup: &Setup<'_, 'a>) -> Flat<'a, P> {
        Flat::with_faults(setup, None)
    }

    /// [`Flat::new`], running the fault schedule `faults` if given.
    pub fn with_faults(setup: &Setup<'_, 'a>, faults: Option<&FaultPlan>) -> Flat<'a, P> {
        let g = setup.graph();
        let configs: Vec<NodeConfig<P>> = setup
            .active_nodes()
            .into_par_iter()
            .map(|n| setup.node(n))
            .collect();
        let layout = Layout::new(&configs, g.commodities.len());
        let faults = faults.map(|plan| {
            let net = Network::new(plan, g, &configs);
            (net, vec![0.0; layout.out_len()], 0)
        });
        drop(configs);
        let slots = layout.local.len();
        let state = State {
            held: vec![0.0; slots],
            discarded: vec![0.0; layout.sources()],
            absorbed: vec![0.0; layout.sinks()],
            heights: vec![0.0; slots],
            slots: (0..slots)
                .map(|s| {
                    let n = layout.node_of(s);
                    let k = layout.local[s].k as usize;
                    P::initial(layout.collection[n], &layout.commodity[k].policy)
                })
                .collect(),
            announced: Vec::new(),
            stamps: vec![P::Stamp::default(); layout.out_len()],
            pushed: vec![0.0; layout.out_len()],
        };
        let mut state = state;
        state.announced = state.slots.iter().map(P::announce).collect();
        let window = setup.options().window;
        let cuts = layout.cuts(rayon::current_num_threads());
        let chunks = cuts.len() - 1;
        let widest = (0..layout.node.len())
            .map(|n| (layout.node_slot[n + 1] - layout.node_slot[n]) as usize)
            .max()
            .unwrap_or(0);
        Flat {
            g,
            potential: setup.options().potential,
            sent: Ring::new(window, layout.out_len()),
            lambda: Ring::new(window, *layout.node_cap.last().unwrap_or(&0) as usize),
            layout,
            state,
            cuts,
            scratch: (0..chunks).map(|_| StepScratch::default()).collect(),
            spill: (0..chunks).map(|_| vec![0.0; widest]).collect(),
            excess: vec![f64::NEG_INFINITY; chunks],
            faults,
        }
    }
}

impl<P: PushPolicy> Flat<'_, P> {
    /// Every G′ node's state after the last round as the owned [`NodeState`] of the
    /// `nodes` runtime (for comparing runtimes; O(nodes + slots)): a node that
    /// carries no commodity is empty.
    pub fn node_states(&self) -> Vec<NodeState<P>> {
        let (l, s) = (&self.layout, &self.state);
        let lambdas = self.lambda.newest();
        let mut states: Vec<NodeState<P>> = (0..self.g.graph.node_count())
            .map(|_| NodeState {
                held: Vec::new(),
                injected: Vec::new(),
                discarded: Vec::new(),
                absorbed: Vec::new(),
                lambda: 0.0,
                policy: Vec::new(),
                pushed: Vec::new(),
            })
            .collect();
        // Per slot: what it discarded and absorbed (0 where nothing is kept).
        let (mut discarded, mut absorbed) = (vec![0.0; l.local.len()], vec![0.0; l.local.len()]);
        let (mut sources, mut sinks) = (s.discarded.iter(), s.absorbed.iter());
        for n in 0..l.node.len() {
            for x in l.node_slot[n] as usize..l.node_slot[n + 1] as usize {
                if l.local[x].is_source() {
                    discarded[x] = *sources.next().expect("a place per source slot");
                }
                if l.collection[n] {
                    absorbed[x] = *sinks.next().expect("a place per collection slot");
                }
            }
        }
        let active = (0..l.node.len()).map(|n| {
            let slots = l.node_slot[n] as usize..l.node_slot[n + 1] as usize;
            let of = |f: &dyn Fn(usize) -> f64| slots.clone().map(f).collect::<Vec<f64>>();
            NodeState {
                held: of(&|x| s.held[x]),
                injected: of(&|x| l.local(x).injection),
                discarded: of(&|x| discarded[x]),
                absorbed: of(&|x| absorbed[x]),
                lambda: match (l.capacity(n), lambdas) {
                    (Some(_), Some(row)) => row[l.node_cap[n] as usize],
                    _ => 0.0,
                },
                policy: s.slots[slots.clone()].to_vec(),
                pushed: s.pushed[l.slot_out[slots.start] as usize..l.slot_out[slots.end] as usize]
                    .to_vec(),
            }
        });
        for (n, state) in l.node.iter().zip(active) {
            states[*n as usize] = state;
        }
        states
    }
}

impl<P: PushPolicy> Layout<P> {
    fn new(configs: &[NodeConfig<P>], commodities: usize) -> Layout<P> {
        let slots: usize = configs.iter().map(|c| c.commodities.len()).sum();
        let outs: usize = configs.iter().map(|c| c.out.len()).sum();
        assert!(
            slots < INTO_SINK as usize && outs < NONE as usize,
            "the flat runtime indexes slots with 31 bits and out-edges with 32"
        );
        let mut l = Layout {
            node: configs.iter().map(|c| c.node as u32).collect(),
            node_slot: Vec::with_capacity(configs.len() + 1),
            capacity: Vec::with_capacity(configs.len()),
            collection: Vec::with_capacity(configs.len()),
            has_source: Vec::with_capacity(configs.len()),
            node_cap: Vec::with_capacity(configs.len() + 1),
            local: Vec::with_capacity(slots),
            slot_out: Vec::with_capacity(slots + 1),
            edge: Vec::with_capacity(outs),
            head: Vec::with_capacity(outs),
            inward: Vec::new(),
            commodity: vec![KData::default(); commodities],
            demand: vec![0.0; commodities],
            source: vec![NONE; commodities],
            source_at: vec![NONE; commodities],
            sink_at: vec![NONE; commodities],
            k_start: Vec::new(),
        };
        let mut caps = 0u32;
        let (mut sources, mut collecting) = (0u32, 0u32);
        // Per out-edge: whether it leads into the collection point (a bit of `head`
        // once the heads are slots).
        let mut sinks = Vec::with_capacity(outs);
        for c in configs {
            l.node_slot.push(l.local.len() as u32);
            l.node_cap.push(caps);
            caps += u32::from(c.capacity.is_some());
            l.capacity.extend(c.capacity);
            l.collection.push(c.collection);
            l.has_source
                .push(c.commodities.iter().any(|lc| lc.local.injection > 0.0));
            let mut j = 0;
            for lc in &c.commodities {
                let (s, k) = (l.local.len() as u32, lc.local.k);
                let source = lc.local.injection > 0.0;
                assert!(lc.local.queues < SOURCE, "too many queues");
                l.local.push(SlotLocal {
                    k: k as u32,
                    queues: lc.local.queues | if source { SOURCE } else { 0 },
                    resource: lc.local.resource,
                });
                // The same at every node of k.
                l.commodity[k].policy = lc.policy;
                l.demand[k] = lc.local.demand;
                l.commodity[k].momentum = lc.local.momentum;
                l.slot_out.push(l.out_len() as u32);
                assert!(
                    !(source && c.collection),
                    "a source is never a collection point"
                );
                if source {
                    l.source[k] = s;
                    l.source_at[k] = sources;
                    sources += 1;
                    l.commodity[k].injection = lc.local.injection;
                    l.commodity[k].ceiling = lc.local.ceiling.unwrap_or(f64::NAN);
                }
                if c.collection {
                    l.sink_at[k] = collecting;
                    collecting += 1;
                }
                for e in &c.out[j..j + lc.out_edges] {
                    // The head's node for now; its slot below.
                    l.edge.push(e.policy);
                    l.head.push(e.to as u32);
                    sinks.push(e.into_sink);
                }
                j += lc.out_edges;
            }
        }
        l.node_slot.push(l.local.len() as u32);
        l.node_cap.push(caps);
        l.slot_out.push(l.out_len() as u32);
        // Each out-edge's head slot: the head node's slot of the edge's commodity.
        for s in 0..l.local.len() {
            let k = l.local[s].k;
            let outs = l.slot_out[s] as usize..l.slot_out[s + 1] as usize;
            for head in &mut l.head[outs] {
                let h = l
                    .node
                    .binary_search(head)
                    .expect("the head of a usable pair carries its commodity");
                let (h0, h1) = (l.node_slot[h] as usize, l.node_slot[h + 1] as usize);
                let at = l.local[h0..h1]
                    .binary_search_by_key(&k, |x| x.k)
                    .expect("the head of a usable pair carries its commodity");
                *head = (h0 + at) as u32;
            }
        }
        // Arrivals per slot by counting sort over the out-edges in flat order, which is
        // by sender node: each slot's arrivals end up in increasing sender order.
        let counts = |keys: &mut dyn Iterator<Item = usize>, n: usize| {
            let mut start = vec![0u32; n + 1];
            for key in keys {
                start[key + 1] += 1;
            }
            for i in 0..n {
                start[i + 1] += start[i];
            }
            start
        };
        let mut fill = counts(&mut l.head.iter().map(|&h| h as usize), l.local.len());
        l.inward = vec![0; l.out_len()];
        for (o, &h) in l.head.iter().enumerate() {
            let h = h as usize;
            l.inward[fill[h] as usize] = o as u32;
            fill[h] += 1;
        }
        for (head, into_sink) in l.head.iter_mut().zip(sinks) {
            if into_sink {
                *head |= INTO_SINK;
            }
        }
        // Each commodity's slots, in slot (= node) order.
        l.k_start = counts(&mut l.local.iter().map(|x| x.k as usize), commodities);
        l
    }

    /// Number of out-edges.
    fn out_len(&self) -> usize {
        self.head.len()
    }

    /// The head slot of out-edge o, and whether it is the commodity's collection point.
    #[inline(always)]
    fn head_of(&self, o: usize) -> (usize, bool) {
        let h = self.head[o];
        ((h & !INTO_SINK) as usize, h & INTO_SINK != 0)
    }

    /// R_n, `None` when unlimited.
    #[inline(always)]
    fn capacity(&self, n: usize) -> Option<f64> {
        let c = self.node_cap[n];
        (self.node_cap[n + 1] > c).then(|| self.capacity[c as usize])
    }

    /// Number of source slots.
    fn sources(&self) -> usize {
        self.local.iter().filter(|x| x.is_source()).count()
    }

    /// Number of slots of collection points.
    fn sinks(&self) -> usize {
        (0..self.node.len())
            .filter(|&n| self.collection[n])
            .map(|n| (self.node_slot[n + 1] - self.node_slot[n]) as usize)
            .sum()
    }

    /// The node of slot s.
    fn node_of(&self, s: usize) -> usize {
        self.node_slot.partition_point(|&x| x as usize <= s) - 1
    }

    /// Chunk boundaries: consecutive nodes holding at least [`CHUNK_WORK`] slots +
    /// out-edges each, and enough chunks for `threads` to share (at most 16 per
    /// thread).
    fn cuts(&self, threads: usize) -> Vec<Cut> {
        let total = self.local.len() + self.out_len();
        let target = CHUNK_WORK.max(total / (16 * threads.max(1)));
        let nodes = self.node.len();
        let at = |chunk, n: usize| {
            let slot = self.node_slot[n] as usize;
            Cut {
                chunk,
                node: n,
                slot,
                out: self.slot_out[slot] as usize,
                inward: 0,
                cap: self.node_cap[n] as usize,
                source: 0,
                sink: 0,
            }
        };
        // Before each node: its arrivals (queues − out-edges per slot, summed), source
        // slots and collection slots.
        let mut before = Vec::with_capacity(nodes + 1);
        before.push((0, 0, 0));
        for n in 0..nodes {
            let (mut inward, mut sources, mut sinks) = before[n];
            for s in self.node_slot[n] as usize..self.node_slot[n + 1] as usize {
                let x = &self.local[s];
                let outs = (self.slot_out[s + 1] - self.slot_out[s]) as usize;
                inward += x.queues() as usize - outs;
                sources += usize::from(x.is_source());
                sinks += usize::from(self.collection[n]);
            }
            before.push((inward, sources, sinks));
        }
        debug_assert_eq!(before[nodes].0, self.inward.len());
        let at = |chunk, n: usize| {
            let (inward, source, sink) = before[n];
            Cut {
                inward,
                source,
                sink,
                ..at(chunk, n)
            }
        };
        let mut cuts = vec![at(0, 0)];
        let mut work = 0;
        for n in 0..nodes {
            let (s0, s1) = (self.node_slot[n] as usize, self.node_slot[n + 1] as usize);
            work += (s1 - s0) + (self.slot_out[s1] - self.slot_out[s0]) as usize;
            if work >= target && n + 1 < nodes {
                cuts.push(at(cuts.len(), n + 1));
                work = 0;
            }
        }
        cuts.push(at(cuts.len(), nodes));
        cuts
    }

    fn local(&self, s: usize) -> Local {
        self.to_local(&self.local[s])
    }

    fn to_local(&self, x: &SlotLocal) -> Local {
        let kd = &self.commodity[x.k as usize];
        let (injection, ceiling) = if x.is_source() {
            (kd.injection, (!kd.ceiling.is_nan()).then_some(kd.ceiling))
        } else {
            (0.0, None)
        };
        Local {
            k: x.k as usize,
            demand: self.demand[x.k as usize],
            resource: x.resource,
            queues: x.queues(),
            injection,
            ceiling,
            momentum: kd.momentum,
        }
    }

    /// The announced height of slot s holding `held` jobs.
    fn height(&self, s: usize, held: f64) -> f64 {
        let x = &self.local[s];
        protocol::height(
            &Local {
                k: x.k as usize,
                demand: self.demand[x.k as usize],
                resource: x.resource,
                queues: x.queues(),
                injection: 0.0,
                ceiling: None,
                momentum: 0.0,
            },
            held,
        )
    }
}

/// One node as the step sees it: a view into the layout (its slots from `s0`, its
/// out-edges from `o0`).
struct FlatNode<'r, P: PushPolicy> {
    layout: &'r Layout<P>,
    capacity: Option<f64>,
    s0: usize,
    slots: usize,
    /// The node's first out-edge.
    o0: usize,
}

impl<P: PushPolicy> NodeView<P> for FlatNode<'_, P> {
    fn capacity(&self) -> Option<f64> {
        self.capacity
    }
    fn len(&self) -> usize {
        self.slots
    }
    #[inline(always)]
    fn local(&self, i: usize) -> Local {
        self.layout.local(self.s0 + i)
    }
    #[inline(always)]
    fn commodity(&self, i: usize) -> P::Commodity {
        if size_of::<P::Commodity>() == 0 {
            P::Commodity::default()
        } else {
            self.layout.commodity[self.layout.local[self.s0 + i].k as usize].policy
        }
    }
    #[inline(always)]
    fn out_count(&self, i: usize) -> usize {
        let s = self.s0 + i;
        (self.layout.slot_out[s + 1] - self.layout.slot_out[s]) as usize
    }
    #[inline(always)]
    fn out(&self, j: usize) -> (P::Edge, bool) {
        let o = self.o0 + j;
        (self.layout.edge[o], self.layout.head_of(o).1)
    }
}

/// The announcements of one node's heads, read per out-edge from the last round's.
struct FlatHeads<'r, P: PushPolicy> {
    /// The node's out-edges' heads (`Layout::head`).
    head: &'r [u32],
    /// Every slot's announced height and variant announcement.
    heights: &'r [f64],
    announced: &'r [P::Announce],
    /// The node's own slots' announced heights (delivery announces every slot that
    /// can receive; the others never hold a job, and announce the initial 0).
    own: &'r [f64],
    /// Whether the node announced its true heights (a liar's are not its own).
    honest: bool,
    /// Per out-edge: open this round (empty: all open).
    open: &'r [bool],
}

impl<P: PushPolicy> Heads<P> for FlatHeads<'_, P> {
    #[inline(always)]
    fn height(&self, j: usize) -> f64 {
        self.heights[(self.head[j] & !INTO_SINK) as usize]
    }
    #[inline(always)]
    fn announced(&self, j: usize) -> P::Announce {
        if size_of::<P::Announce>() == 0 {
            P::Announce::default()
        } else {
            self.announced[(self.head[j] & !INTO_SINK) as usize]
        }
    }
    #[inline(always)]
    fn own(&self, i: usize) -> Option<f64> {
        self.honest.then(|| self.own[i])
    }
    #[inline(always)]
    fn open(&self, j: usize) -> bool {
        self.open.get(j).copied().unwrap_or(true)
    }
}

/// Disjoint mutable parts of the state that a chunk of nodes writes, split at cuts.
trait Split: Send + Sized {
    /// Splits parts starting at `from` at the (absolute) cut `at`.
    fn split(self, from: &Cut, at: &Cut) -> (Self, Self);
}

fn split<T>(s: &mut [T], at: usize) -> (&mut [T], &mut [T]) {
    s.split_at_mut(at)
}

/// Runs `f` on every chunk (`cuts[i]..cuts[i + 1]`) with its parts, in parallel by
/// recursive halving (nothing allocated).
fn in_chunks<T: Split, F: Fn(&Cut, &Cut, T) + Sync>(cuts: &[Cut], parts: T, f: &F) {
    match cuts.len() {
        0 | 1 => {}
        2 => f(&cuts[0], &cuts[1], parts),
        n => {
            let mid = n / 2;
            let (a, b) = parts.split(&cuts[0], &cuts[mid]);
            rayon::join(
                || in_chunks(&cuts[..=mid], a, f),
                || in_chunks(&cuts[mid..], b, f),
            );
        }
    }
}

/// What the step writes.
struct StepParts<'p, P: PushPolicy> {
    held: &'p mut [f64],
    discarded: &'p mut [f64],
    slots: &'p mut [P::Slot],
    stamps: &'p mut [P::Stamp],
    sent: &'p mut [f64],
    pushed: &'p mut [f64],
    lambda: &'p mut [f64],
    scratch: &'p mut [StepScratch],
    spill: &'p mut [Vec<f64>],
    excess: &'p mut [f64],
}

impl<P: PushPolicy> Split for StepParts<'_, P> {
    fn split(self, from: &Cut, at: &Cut) -> (Self, Self) {
        let s = at.slot - from.slot;
        let (held, h) = split(self.held, s);
        let (discarded, d) = split(self.discarded, at.source - from.source);
        let (slots, sl) = split(self.slots, s);
        let (stamps, st) = split(self.stamps, at.out - from.out);
        let (sent, se) = split(self.sent, at.out - from.out);
        let (pushed, pu) = split(self.pushed, at.out - from.out);
        let (lambda, l) = split(self.lambda, at.cap - from.cap);
        let (scratch, sc) = split(self.scratch, at.chunk - from.chunk);
        let (spill, sp) = split(self.spill, at.chunk - from.chunk);
        let (excess, e) = split(self.excess, at.chunk - from.chunk);
        (
            StepParts {
                held,
                discarded,
                slots,
                stamps,
                sent,
                pushed,
                lambda,
                scratch,
                spill,
                excess,
            },
            StepParts {
                held: h,
                discarded: d,
                slots: sl,
                stamps: st,
                sent: se,
                pushed: pu,
                lambda: l,
                scratch: sc,
                spill: sp,
                excess: e,
            },
        )
    }
}

/// What delivery writes.
struct DeliverParts<'p, P: PushPolicy> {
    held: &'p mut [f64],
    absorbed: &'p mut [f64],
    heights: &'p mut [f64],
    announced: &'p mut [P::Announce],
    slots: &'p mut [P::Slot],
}

impl<P: PushPolicy> Split for DeliverParts<'_, P> {
    fn split(self, from: &Cut, at: &Cut) -> (Self, Self) {
        let s = at.slot - from.slot;
        let (held, h) = split(self.held, s);
        let (absorbed, ab) = split(self.absorbed, at.sink - from.sink);
        let (heights, he) = split(self.heights, s);
        let (announced, a) = split(self.announced, s);
        let (slots, sl) = split(self.slots, s);
        (
            DeliverParts {
                held,
                absorbed,
                heights,
                announced,
                slots,
            },
            DeliverParts {
                held: h,
                absorbed: ab,
                heights: he,
                announced: a,
                slots: sl,
            },
        )
    }
}

/// The step of every node of one chunk (`from..to`), writing `p`.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn step_chunk<P: PushPolicy>(
    layout: &Layout<P>,
    heights: &[f64],
    announced: &[P::Announce],
    potential: Potential,
    net: Option<&Network>,
    from: &Cut,
    to: &Cut,
    p: StepParts<'_, P>,
) {
    let scratch = &mut p.scratch[0];
    let spill = &mut p.spill[0];
    let mut largest = f64::NEG_INFINITY;
    // The place of the next source slot, in the chunk's `discarded`.
    let mut source = 0;
    for n in from.node..to.node {
        let (s0, s1) = (
            layout.node_slot[n] as usize,
            layout.node_slot[n + 1] as usize,
        );
        let (o0, o1) = (layout.slot_out[s0] as usize, layout.slot_out[s1] as usize);
        let capacity = layout.capacity(n);
        let (rs0, rs1) = (s0 - from.slot, s1 - from.slot);
        // The network knows nodes by G′ index.
        let gn = layout.node[n] as usize;
        if net.is_some_and(|net| net.down[gn]) {
            // Down (design §5, "Faults"): no step; it sends nothing, injects and
            // discards nothing, and its jobs carry what its state says.
            p.sent[o0 - from.out..o1 - from.out].fill(0.0);
            for x in &layout.local[s0..s1] {
                if x.is_source() {
                    p.discarded[source] = 0.0;
                    source += 1;
                }
            }
            stamp_outs(layout, from, s0..s1, &p.slots[rs0..rs1], p.stamps);
            if capacity.is_some() {
                p.lambda[layout.node_cap[n] as usize - from.cap] = 0.0;
            }
            continue;
        }
        let (honest, open) = match net {
            Some(net) => (net.honest(gn), &net.open[o0..o1]),
            None => (true, &[][..]),
        };
        let stepped = if o0 == o1 && capacity.is_none() {
            // No out-edges (a collection point): all the step does is learn, inject
            // and adapt ([`protocol::prepare`]); it pushes nothing and uses nothing.
            for (s, &own) in (s0..s1).zip(&heights[s0..s1]) {
                let local = layout.local(s);
                let r = s - from.slot;
                let discarded = if local.injection > 0.0 {
                    let at = source;
                    source += 1;
                    &mut p.discarded[at]
                } else {
                    &mut spill[0]
                };
                protocol::prepare::<P>(
                    &local,
                    &layout.commodity[local.k].policy,
                    &mut p.slots[r],
                    &mut p.held[r],
                    discarded,
                    honest.then_some(own),
                    std::iter::empty(),
                );
            }
            Stepped {
                lambda: 0.0,
                used: 0.0,
            }
        } else if s0 == s1 {
            Stepped {
                lambda: 0.0,
                used: 0.0,
            }
        } else {
            let head = &layout.head[o0..o1];
            let stepped = protocol::step(
                &FlatNode::<P> {
                    layout,
                    capacity,
                    s0,
                    slots: s1 - s0,
                    o0,
                },
                StateMut {
                    held: &mut p.held[rs0..rs1],
                    discarded: &mut spill[..s1 - s0],
                    slots: &mut p.slots[rs0..rs1],
                    pushed: &mut p.pushed[o0 - from.out..o1 - from.out],
                },
                &FlatHeads::<P> {
                    head,
                    heights,
                    announced,
                    own: &heights[s0..s1],
                    honest,
                    open,
                },
                potential,
                scratch,
                &mut p.sent[o0 - from.out..o1 - from.out],
            );
            // The step writes what a source discards (every round); keep it.
            if layout.has_source[n] {
                for (x, &d) in layout.local[s0..s1].iter().zip(spill.iter()) {
                    if x.is_source() {
                        p.discarded[source] = d;
                        source += 1;
                    }
                }
            }
            stepped
        };
        stamp_outs(layout, from, s0..s1, &p.slots[rs0..rs1], p.stamps);
        if let Some(cap) = capacity {
            p.lambda[layout.node_cap[n] as usize - from.cap] = stepped.lambda;
            let e = capacity_excess(stepped.used, cap);
            debug_assert!(e <= 1e-9, "node {n} used {} of {cap}", stepped.used);
            largest = largest.max(e);
        }
    }
    p.excess[0] = largest;
}

/// Writes the stamp of each of a node's slots (`slots`, their variant state) on each of
/// its out-edges (`stamps`, the chunk's from `from`); nothing for a variant whose jobs
/// carry nothing.
#[inline(always)]
fn stamp_outs<P: PushPolicy>(
    layout: &Layout<P>,
    from: &Cut,
    slots: std::ops::Range<usize>,
    state: &[P::Slot],
    stamps: &mut [P::Stamp],
) {
    if size_of::<P::Stamp>() == 0 || layout.slot_out[slots.start] == layout.slot_out[slots.end] {
        return;
    }
    for (s, slot) in slots.zip(state) {
        let (o0, o1) = (layout.slot_out[s] as usize, layout.slot_out[s + 1] as usize);
        if o0 < o1 {
            stamps[o0 - from.out..o1 - from.out].fill(P::stamp(slot));
        }
    }
}

/// Delivery at every node of one chunk: each slot adds what arrived over its in-edges
/// this round (`row`, by out-edge) in the canonical order, then announces.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn deliver_chunk<P: PushPolicy>(
    layout: &Layout<P>,
    row: &[f64],
    stamps: &[P::Stamp],
    net: Option<&Network>,
    from: &Cut,
    to: &Cut,
    p: DeliverParts<'_, P>,
) {
    // What jobs carry in a variant whose jobs carry nothing.
    let nothing = P::Stamp::default();
    let mut next = from.inward;
    // The place of the next collection slot, in the chunk's `absorbed`.
    let mut sink = 0;
    for n in from.node..to.node {
        let collection = layout.collection[n];
        let (down, factor) = match net {
            Some(net) => {
                let gn = layout.node[n] as usize;
                (net.down[gn], net.factor[gn])
            }
            None => (false, 1.0),
        };
        for s in layout.node_slot[n] as usize..layout.node_slot[n + 1] as usize {
            let r = s - from.slot;
            let outs = (layout.slot_out[s + 1] - layout.slot_out[s]) as usize;
            let ins = layout.local[s].queues() as usize - outs;
            if down {
                // A down node takes no delivery (absorbs nothing) and keeps its
                // announcement.
                if collection {
                    p.absorbed[sink] = 0.0;
                    sink += 1;
                }
                next += ins;
                continue;
            }
            let arrivals = layout.inward[next..next + ins].iter().map(|&o| {
                let stamp = if size_of::<P::Stamp>() > 0 {
                    &stamps[o as usize]
                } else {
                    &nothing
                };
                (row[o as usize], stamp)
            });
            next += ins;
            let absorbed =
                protocol::receive::<P>(collection, &mut p.held[r], &mut p.slots[r], arrivals);
            if collection {
                p.absorbed[sink] = absorbed;
                sink += 1;
            }
            // Only in-neighbours read a height: a slot without in-edges (a source)
            // announces to no one. A collection point's queue never changes, and
            // without faults it announces the height it announced before, the same
            // bits: it is not divided again.
            let kept = collection && net.is_none();
            if ins > 0 && !kept {
                p.heights[r] = if factor == 1.0 {
                    layout.height(s, p.held[r])
                } else {
                    layout.height(s, p.held[r]) * factor
                };
            }
            p.announced[r] = P::announce(&p.slots[r]);
        }
    }
}

/// Every commodity's jobs held after the round (`queued`, overwritten): its slots'
/// holdings summed in node order, i.e. in slot order, in one pass over the slots.
#[inline(never)]
fn queued_of<P: PushPolicy>(layout: &Layout<P>, held: &[f64], queued: &mut [f64]) {
    queued.fill(0.0);
    for (x, &h) in layout.local.iter().zip(held) {
        queued[x.k as usize] += h;
    }
}

/// Commodity k's ledger of the round besides what it holds ([`queued_of`]),
/// (injected, discarded, absorbed): only the source injects and discards and only the
/// collection point absorbs (the other slots would report zeros, and keep none).
#[inline(always)]
fn report_of<P: PushPolicy>(
    layout: &Layout<P>,
    (discarded, absorbed): (&[f64], &[f64]),
    down: Option<&[bool]>,
    k: usize,
) -> (f64, f64, f64) {
    let (injected, discarded) = match layout.source[k] {
        NONE => (0.0, 0.0),
        // A source that is down injects nothing (design §5, "Faults").
        s if down.is_some_and(|d| d[layout.node[layout.node_of(s as usize)] as usize]) => {
            (0.0, discarded[layout.source_at[k] as usize])
        }
        _ => (
            layout.commodity[k].injection,
            discarded[layout.source_at[k] as usize],
        ),
    };
    let absorbed = match layout.sink_at[k] {
        NONE => 0.0,
        at => absorbed[at as usize],
    };
    (injected, discarded, absorbed)
}

impl<P: PushPolicy> Flat<'_, P> {
    /// A flow with `means` (one value per out-edge) on the usable pairs the engine
    /// carries and `zero` on the others.
    fn flow_of(&self, means: &[f64], zero: f64) -> Flow {
        let g = self.g;
        let pairs = g.pairs();
        let mut flow = Flow::zero(g);
        flow.x.iter_mut().for_each(|xs| xs.fill(zero));
        // The out-edges of every node are its leaving pairs of the commodities the
        // engine carries, in the same order.
        let carried = |k: usize| self.layout.k_start[k] < self.layout.k_start[k + 1];
        let mut o = 0;
        for &n in &self.layout.node {
            for &p in pairs.leaving(NodeIndex::new(n as usize)) {
                let k = pairs.commodity(p);
                if carried(k) {
                    flow.x[k][p - pairs.range(k).start] = means[o];
                    o += 1;
                }
            }
        }
        debug_assert_eq!(o, self.layout.out_len());
        flow
    }
}

impl<P: PushPolicy> Executor for Flat<'_, P> {
    fn runtime(&self) -> Runtime {
        Runtime::Flat
    }

    fn save(&self) -> Option<super::NodesState> {
        Some(self.save_state())
    }

    fn load(&mut self, state: &mut super::NodesState, window: bool) -> Result<(), LoadError> {
        self.load_state(state, window)
    }

    fn round(&mut self, ledger: &mut RoundLedger) -> f64 {
        let Flat {
            layout,
            state,
            sent,
            lambda,
            cuts,
            scratch,
            spill,
            excess,
            potential,
            faults,
            ..
        } = self;
        if let Some((net, _, round)) = faults.as_mut() {
            *round += 1;
            net.begin(*round);
            // A node that starts or stops lying restates what it announced at the end
            // of the last round (announcements are read in the round they are for).
            for &gn in &net.restated {
                // The network knows nodes by G′ index; the layout by position.
                let Ok(n) = layout.node.binary_search(&(gn as u32)) else {
                    continue;
                };
                for s in layout.node_slot[n] as usize..layout.node_slot[n + 1] as usize {
                    let outs = (layout.slot_out[s + 1] - layout.slot_out[s]) as usize;
                    if layout.local[s].queues() as usize > outs {
                        let height = layout.height(s, state.held[s]);
                        let factor = net.factor[gn];
                        state.heights[s] = if factor == 1.0 {
                            height
                        } else {
                            height * factor
                        };
                    }
                }
            }
        }
        let (layout, potential) = (&*layout, *potential);
        let State {
            held,
            discarded,
            absorbed,
            heights,
            announced,
            slots,
            stamps,
            pushed,
        } = state;
        // 1. Every node steps, reading the announcements of the last round.
        let parts = StepParts::<P> {
            held,
            discarded,
            slots,
            stamps,
            sent: sent.next_row(),
            pushed,
            lambda: lambda.next_row(),
            scratch,
            spill,
            excess,
        };
        let (heights_now, announced_now) = (&*heights, &*announced);
        let net = faults.as_ref().map(|(net, _, _)| net);
        in_chunks(cuts, parts, &|from: &Cut, to: &Cut, p: StepParts<'_, P>| {
            step_chunk(
                layout,
                heights_now,
                announced_now,
                potential,
                net,
                from,
                to,
                p,
            )
        });
        // The faulty network carries what was sent: `arrive` is what is delivered.
        if let Some((net, arrive, _)) = faults.as_mut() {
            net.transmit(sent.current(), arrive);
        }
        // 2. Every node takes delivery, in the canonical order, and announces.
        let parts = DeliverParts::<P> {
            held,
            absorbed,
            heights,
            announced,
            slots,
        };
        let (net, row) = match faults.as_ref() {
            Some((net, arrive, _)) => (Some(net), &arrive[..]),
            None => (None, sent.current()),
        };
        let stamps = &*stamps;
        in_chunks(
            cuts,
            parts,
            &|from: &Cut, to: &Cut, p: DeliverParts<'_, P>| {
                deliver_chunk(layout, row, stamps, net, from, to, p)
            },
        );
        sent.commit();
        lambda.commit();
        // 3. Every commodity's ledger: its slots' holdings in node order (one pass over
        //    the slots) beside its source's and collection point's reports (one pass
        //    over the commodities).
        let (held, reports) = (&*held, (&discarded[..], &absorbed[..]));
        let down = net.map(|n| &n.down[..]);
        let RoundLedger {
            queued,
            injected,
            discarded,
            absorbed,
            ..
        } = ledger;
        rayon::join(
            || queued_of(layout, held, queued),
            || {
                for (k, ((injected, discarded), absorbed)) in
                    injected.iter_mut().zip(discarded).zip(absorbed).enumerate()
                {
                    (*injected, *discarded, *absorbed) = report_of(layout, reports, down, k);
                }
            },
        );
        if let Some((net, _, _)) = faults.as_ref() {
            ledger.in_flight.copy_from_slice(&net.in_flight_now);
            ledger.lost.copy_from_slice(&net.lost);
        }
        excess.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    fn moved(&self) -> Flow {
        self.flow_of(&self.sent.means(), mean_of_zeros(self.sent.len()))
    }

    fn last_round(&self) -> Option<Flow> {
        Some(self.flow_of(self.sent.newest()?, 0.0))
    }

    fn fault_outcome(&self) -> Option<FaultOutcome> {
        self.faults.as_ref().map(|(net, _, _)| net.outcome())
    }

    fn prices(&self) -> Vec<Option<f64>> {
        let means = self.lambda.means();
        let l = &self.layout;
        // A node that carries nothing never binds: λ = 0 in every round.
        let idle = mean_of_zeros(self.lambda.len());
        let mut prices: Vec<Option<f64>> = self
            .g
            .graph
            .node_indices()
            .map(|n| self.g.node(n).capacity.map(|_| idle))
            .collect();
        for n in 0..l.node.len() {
            prices[l.node[n] as usize] = l.capacity(n).map(|_| means[l.node_cap[n] as usize]);
        }
        prices
    }

    fn footprint(&self) -> Footprint {
        let l = &self.layout;
        let s = &self.state;
        let bytes = |n: usize, each: usize| n * each;
        let state = bytes(l.node.len() + l.node_slot.len() + l.node_cap.len(), 4)
            + bytes(l.capacity.len(), size_of::<f64>())
            + bytes(l.collection.len() + l.has_source.len(), 1)
            + bytes(l.local.len(), size_of::<SlotLocal>())
            + bytes(l.slot_out.len(), 4)
            + bytes(l.edge.len(), size_of::<P::Edge>())
            + bytes(l.head.len() + l.inward.len(), 4)
            + bytes(
                l.commodity.len(),
                size_of::<KData<P::Commodity>>() + 8 + 4 * 4,
            )
            + bytes(s.held.len() + s.heights.len(), size_of::<f64>())
            + bytes(s.discarded.len() + s.absorbed.len(), size_of::<f64>())
            + bytes(s.pushed.len(), size_of::<f64>())
            + bytes(s.stamps.len(), size_of::<P::Stamp>())
            + bytes(
                s.slots.len(),
                size_of::<P::Slot>() + size_of::<P::Announce>(),
            );
        Footprint {
            state,
            window: self.sent.bytes() + self.lambda.bytes(),
        }
    }
}
