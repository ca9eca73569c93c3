//! The `nodes` runtime: every node through the owned, serialisable per-node step and
//! its messages ([`crate::engine::node`]) — exactly what an embedding broker runs. The
//! reference the flat runtime is tested against.
//!
//! Each round every node announces (a [`Heights`] message), steps with its
//! out-neighbours' announcements (sending [`Jobs`]), and takes delivery of the jobs
//! sent to it. Inboxes are filled in *decreasing* sender order on purpose: a node
//! applies arrivals in its own canonical order, so the result must not depend on the
//! order they come in. Each node keeps its own window (its out-edges' amounts and its
//! λ over the last `window` rounds).

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::EdgeIndex;
use rayon::prelude::*;

use super::{Executor, Footprint, LoadError, Runtime};
use crate::engine::accounting::{capacity_excess, mean_of_zeros, Ring, RoundLedger};
use crate::engine::faults::{FaultOutcome, FaultPlan, Network};
use crate::engine::node::{
    announce, deliver, node_step_open, Heights, Jobs, NodeConfig, NodeScratch, NodeState,
    StepParams,
};
use crate::engine::setup::Setup;
use crate::engine::variants::PushPolicy;

mod saved;

pub(crate) use saved::{load_owned, save_owned};

/// Every node as its own owned configuration and state.
pub struct Nodes<'a, P: PushPolicy> {
    g: &'a ExpandedGraph,
    params: StepParams,
    configs: Vec<NodeConfig<P>>,
    states: Vec<NodeState<P>>,
    /// Out-neighbours of each node (the heads of its usable out-edges), to hand it
    /// their announcements.
    neighbours: Vec<Vec<usize>>,
    /// Per node: its out-edges' amounts per round, and its λ per round.
    sent: Vec<Ring>,
    lambda: Vec<Ring>,
    outboxes: Vec<Vec<Jobs<P>>>,
    /// A fault schedule's network, with per node its first out-edge in the global
    /// numbering, and the round's sent and arriving amounts in that numbering.
    faults: Option<Faulty>,
}

/// Owned nodes' state under a fault schedule: the faulty network over their
/// out-edges (numbered in node order, then as each configuration lists them), each
/// node's first out-edge in that numbering, and the round's sent and arriving amounts.
/// Shared by every runtime that runs owned nodes (over all of G′'s nodes, or a
/// worker's range of them: the draws depend on the G′ edge, not on the numbering).
pub(crate) struct Faulty {
    pub(crate) net: Network,
    pub(crate) first_out: Vec<usize>,
    pub(crate) sent: Vec<f64>,
    pub(crate) arrive: Vec<f64>,
    pub(crate) round: usize,
}

impl Faulty {
    /// The network of `configs` (in node order) under `plan`.
    pub(crate) fn new<P: PushPolicy>(
        plan: &FaultPlan,
        g: &ExpandedGraph,
        configs: &[NodeConfig<P>],
    ) -> Faulty {
        let mut first_out = Vec::with_capacity(configs.len() + 1);
        let mut at = 0;
        for c in configs {
            first_out.push(at);
            at += c.out.len();
        }
        first_out.push(at);
        Faulty {
            net: Network::new(plan, g, configs),
            first_out,
            sent: vec![0.0; at],
            arrive: vec![0.0; at],
            round: 0,
        }
    }

    /// Enters the next round ([`Network::begin`]).
    pub(crate) fn begin(&mut self) {
        self.round += 1;
        self.net.begin(self.round);
    }

    /// What node `c` announces this round: its true heights, × its factor if it lies.
    pub(crate) fn announce<P: PushPolicy>(
        &self,
        c: &NodeConfig<P>,
        s: &NodeState<P>,
    ) -> Heights<P> {
        let mut h = announce(c, s);
        if !self.net.honest(c.node) {
            let factor = self.net.factor[c.node];
            h.heights.iter_mut().for_each(|a| a.height *= factor);
        }
        h
    }

    /// The out-edges the node at position `n` (G′ node `node`) may push over this
    /// round, or `None` when it is down.
    pub(crate) fn open(&self, n: usize, node: usize) -> Option<&[bool]> {
        (!self.net.down[node]).then(|| &self.net.open[self.first_out[n]..self.first_out[n + 1]])
    }

    /// Carries the round's jobs: what every node sent (the newest rows of their
    /// windows `sent`) through the network into `arrive` ([`Network::transmit`]).
    pub(crate) fn carry(&mut self, sent: &[Ring]) {
        for (n, ring) in sent.iter().enumerate() {
            if let Some(row) = ring.newest() {
                self.sent[self.first_out[n]..self.first_out[n + 1]].copy_from_slice(row);
            }
        }
        self.net.transmit(&self.sent, &mut self.arrive);
    }

    /// The round's deliveries: one message per out-edge with jobs arriving, stamped as
    /// its sender stamps this round, in out-edge order; with `copies`, a message the
    /// network duplicates comes twice (its receiver must apply it once).
    pub(crate) fn arrivals<P: PushPolicy>(
        &self,
        configs: &[NodeConfig<P>],
        states: &[NodeState<P>],
        copies: bool,
    ) -> Vec<Jobs<P>> {
        let mut arrivals: Vec<Jobs<P>> = Vec::new();
        for (m, config) in configs.iter().enumerate() {
            let mut j = 0;
            for (i, c) in config.commodities.iter().enumerate() {
                for e in &config.out[j..j + c.out_edges] {
                    let o = self.first_out[m] + j;
                    let amount = self.arrive[o];
                    if amount > 0.0 {
                        let job = Jobs {
                            from: config.node,
                            edge: e.edge,
                            to: e.to,
                            k: c.local.k,
                            amount,
                            stamp: P::stamp(&states[m].policy[i]),
                        };
                        if copies && self.net.copied(o, self.sent[o]) {
                            arrivals.push(job);
                        }
                        arrivals.push(job);
                    }
                    j += 1;
                }
            }
        }
        arrivals
    }
}

impl<'a, P: PushPolicy> Nodes<'a, P> {
    /// Configures every node that carries a commodity ([`Setup::active_nodes`],
    /// [`Setup::node`]) and empties every queue; the other nodes of G′ step with
    /// nothing and cost nothing.
    pub fn new(setup: &Setup<'_, 'a>) -> Nodes<'a, P> {
        Nodes::with_faults(setup, None)
    }

    /// [`Nodes::new`], running the fault schedule `faults` if given.
    pub fn with_faults(setup: &Setup<'_, 'a>, faults: Option<&FaultPlan>) -> Nodes<'a, P> {
        let g = setup.graph();
        let configs: Vec<NodeConfig<P>> = setup.partition(setup.active_nodes());
        let (sent, lambda) = empty_windows(&configs, setup.options().window);
        let faults = faults.map(|plan| Faulty::new(plan, g, &configs));
        let neighbours = out_neighbours(&configs)
            .into_iter()
            .map(|heads| heads.into_iter().map(|m| position(&configs, m)).collect())
            .collect();
        Nodes {
            faults,
            g,
            params: StepParams {
                potential: setup.options().potential,
            },
            states: configs.iter().map(NodeState::new).collect(),
            neighbours,
            sent,
            lambda,
            outboxes: configs.iter().map(|_| Vec::new()).collect(),
            configs,
        }
    }

    /// Every G′ node's configuration, by G′ node index (a node that carries no
    /// commodity has none; O(nodes), for inspection).
    pub fn configs(&self) -> Vec<NodeConfig<P>> {
        let mut all: Vec<NodeConfig<P>> = self
            .g
            .graph
            .node_indices()
            .map(|n| NodeConfig {
                node: n.index(),
                capacity: self.g.node(n).capacity,
                collection: matches!(
                    self.g.node(n).kind,
                    brokerflow_graphs::NodeKind::Collection(_)
                ),
                commodities: Vec::new(),
                out: Vec::new(),
            })
            .collect();
        for c in &self.configs {
            all[c.node] = c.clone();
        }
        all
    }

    /// Every G′ node's state after the last round, by G′ node index (empty where the
    /// node carries no commodity; O(nodes), for inspection).
    pub fn states(&self) -> Vec<NodeState<P>> {
        let mut all: Vec<NodeState<P>> = self.configs().iter().map(NodeState::new).collect();
        for (c, s) in self.configs.iter().zip(&self.states) {
            all[c.node] = s.clone();
        }
        all
    }
}

/// The position of G′ node `node` among `configs` (sorted by node).
fn position<P: PushPolicy>(configs: &[NodeConfig<P>], node: usize) -> usize {
    configs
        .binary_search_by_key(&node, |c| c.node)
        .expect("the head of a usable pair carries its commodity")
}

impl<P: PushPolicy> Executor for Nodes<'_, P> {
    fn runtime(&self) -> Runtime {
        Runtime::Nodes
    }

    fn save(&self) -> Option<super::NodesState> {
        Some(self.save_state())
    }

    fn load(&mut self, state: &mut super::NodesState, window: bool) -> Result<(), LoadError> {
        self.load_state(state, window)
    }

    fn round(&mut self, ledger: &mut RoundLedger) -> f64 {
        if self.faults.is_some() {
            return self.faulty_round(ledger);
        }
        // 1. Every node announces.
        let heights: Vec<Heights<P>> = self
            .configs
            .par_iter()
            .zip(&self.states)
            .map(|(c, s)| announce(c, s))
            .collect();
        // 2. Every node steps with its out-neighbours' announcements.
        let excess = self.step_all(&heights, |_, _| Some(&[][..]));
        // 3. Deliveries, handed over in decreasing sender order: each node applies them
        //    in its own canonical order.
        let mut inbox: Vec<Vec<&Jobs<P>>> = vec![Vec::new(); self.configs.len()];
        for outbox in self.outboxes.iter().rev() {
            for job in outbox {
                inbox[position(&self.configs, job.to)].push(job);
            }
        }
        deliver_all(&self.configs, &mut self.states, &inbox, |_| false);
        // Every node's report, in node order.
        self.report(ledger);
        excess
    }

    fn moved(&self) -> Flow {
        let g = self.g;
        let len = self.lambda.first().map_or(0, Ring::len);
        let zero = mean_of_zeros(len);
        let mut flow = Flow::zero(g);
        flow.x.iter_mut().for_each(|xs| xs.fill(zero));
        self.fill(&mut flow, |ring| Some(ring.means()));
        flow
    }

    fn prices(&self) -> Vec<Option<f64>> {
        // A node that carries nothing never binds: λ = 0 in every round.
        let idle = mean_of_zeros(self.lambda.first().map_or(0, Ring::len));
        let mut prices: Vec<Option<f64>> = self
            .g
            .graph
            .node_indices()
            .map(|n| self.g.node(n).capacity.map(|_| idle))
            .collect();
        for (c, l) in self.configs.iter().zip(&self.lambda) {
            prices[c.node] = c.capacity.map(|_| l.means()[0]);
        }
        prices
    }

    fn last_round(&self) -> Option<Flow> {
        let mut flow = Flow::zero(self.g);
        self.fill(&mut flow, |ring| ring.newest().map(<[f64]>::to_vec));
        Some(flow)
    }

    fn fault_outcome(&self) -> Option<FaultOutcome> {
        self.faults.as_ref().map(|f| f.net.outcome())
    }

    fn footprint(&self) -> Footprint {
        owned_footprint(
            &self.configs,
            &self.states,
            &self.neighbours,
            &self.sent,
            &self.lambda,
        )
    }
}

impl<P: PushPolicy> Nodes<'_, P> {
    /// Writes into `flow`, per usable pair, the value `row` picks from its tail's window
    /// (leaving `flow` as it is where it gives none).
    fn fill(&self, flow: &mut Flow, row: impl Fn(&Ring) -> Option<Vec<f64>>) {
        let pairs = self.g.pairs();
        for (config, sent) in self.configs.iter().zip(&self.sent) {
            let Some(values) = row(sent) else { continue };
            let mut j = 0;
            for c in &config.commodities {
                let k = c.local.k;
                let start = pairs.range(k).start;
                for e in &config.out[j..j + c.out_edges] {
                    let p = pairs
                        .find(k, EdgeIndex::new(e.edge))
                        .expect("a configured out-edge is a usable pair");
                    flow.x[k][p - start] = values[j];
                    j += 1;
                }
            }
        }
    }

    /// A round under the fault schedule (design §5, "Faults"): down nodes neither step
    /// nor take delivery, closed out-edges get no push, liars scale what they announce,
    /// and the jobs sent pass through the faulty network ([`Network::transmit`]).
    fn faulty_round(&mut self, ledger: &mut RoundLedger) -> f64 {
        // Out of `self` for the round, so that the nodes can be stepped while it is read.
        let mut f = self.faults.take().expect("a faulty round has faults");
        f.begin();
        // 1. Every node announces (a down node's state is frozen: its last one).
        let heights: Vec<Heights<P>> = self
            .configs
            .par_iter()
            .zip(&self.states)
            .map(|(c, s)| f.announce(c, s))
            .collect();
        // 2. Every node that is up steps, over its open out-edges.
        let excess = self.step_all(&heights, |n, node| f.open(n, node));
        // 3. The network carries what was sent (in the global out-edge numbering).
        f.carry(&self.sent);
        // 4. Deliveries: one message per out-edge with jobs arriving, stamped as its
        //    sender stamps this round; down nodes take none.
        let arrivals = f.arrivals(&self.configs, &self.states, false);
        let mut inbox: Vec<Vec<&Jobs<P>>> = vec![Vec::new(); self.configs.len()];
        for job in arrivals.iter().rev() {
            inbox[position(&self.configs, job.to)].push(job);
        }
        let down = &f.net.down;
        deliver_all(&self.configs, &mut self.states, &inbox, |node| down[node]);
        // Every node's report, in node order, and the network's.
        self.report(ledger);
        ledger.in_flight.copy_from_slice(&f.net.in_flight_now);
        ledger.lost.copy_from_slice(&f.net.lost);
        self.faults = Some(f);
        excess
    }

    /// Step 2 of a round: every node steps with its out-neighbours' announcements
    /// `heights`, over the out-edges `open(n, node)` leaves open (the node at position
    /// n among the configured ones, G′ node `node`; an empty slice opens all). Where
    /// `open` says `None` the node is down: it sends nothing, its window records
    /// nothing sent and λ = 0, and it injects and discards nothing. Returns the
    /// largest capacity excess.
    fn step_all<'o>(
        &mut self,
        heights: &[Heights<P>],
        open: impl Fn(usize, usize) -> Option<&'o [bool]> + Sync + Send,
    ) -> f64 {
        let (params, neighbours) = (&self.params, &self.neighbours);
        self.configs
            .par_iter()
            .zip(&mut self.states)
            .zip(&mut self.outboxes)
            .zip(&mut self.sent)
            .zip(&mut self.lambda)
            .enumerate()
            .map_init(
                NodeScratch::<P>::default,
                |scratch, (n, ((((config, state), outbox), sent), lambda))| {
                    let Some(open) = open(n, config.node) else {
                        return step_down(state, outbox, sent, lambda);
                    };
                    let heard: Vec<&Heights<P>> =
                        neighbours[n].iter().map(|&m| &heights[m]).collect();
                    step_node(
                        config, state, &heard, params, scratch, outbox, sent, lambda, open,
                    )
                },
            )
            .reduce(|| f64::NEG_INFINITY, f64::max)
    }

    /// Every node's report of the round into `ledger`, in node order.
    fn report(&self, ledger: &mut RoundLedger) {
        ledger.clear();
        for (c, s) in self.configs.iter().zip(&self.states) {
            for (i, lc) in c.commodities.iter().enumerate() {
                ledger.add(
                    lc.local.k,
                    s.injected[i],
                    s.discarded[i],
                    s.absorbed[i],
                    s.held[i],
                );
            }
        }
    }
}

/// A down node's step of a round: it sends nothing, its window records nothing sent
/// and λ = 0, and it injects and discards nothing. Returns −∞ (no capacity used).
/// Shared by every runtime that runs owned nodes.
pub(crate) fn step_down<P: PushPolicy>(
    state: &mut NodeState<P>,
    outbox: &mut Vec<Jobs<P>>,
    sent: &mut Ring,
    lambda: &mut Ring,
) -> f64 {
    outbox.clear();
    sent.next_row().iter_mut().for_each(|x| *x = 0.0);
    sent.commit();
    lambda.next_row()[0] = 0.0;
    lambda.commit();
    state.injected.iter_mut().for_each(|x| *x = 0.0);
    state.discarded.iter_mut().for_each(|x| *x = 0.0);
    f64::NEG_INFINITY
}

/// Every node takes delivery of its `inbox` in its own canonical order, but for the
/// G′ nodes `down` names, which take none (and absorb nothing). Shared by every
/// runtime that runs owned nodes.
pub(crate) fn deliver_all<P: PushPolicy>(
    configs: &[NodeConfig<P>],
    states: &mut [NodeState<P>],
    inbox: &[Vec<&Jobs<P>>],
    down: impl Fn(usize) -> bool + Sync,
) {
    configs
        .par_iter()
        .zip(states)
        .zip(inbox)
        .for_each(|((c, s), jobs)| {
            if down(c.node) {
                s.absorbed.iter_mut().for_each(|x| *x = 0.0);
            } else {
                deliver(c, s, jobs);
            }
        });
}

/// One node's step of a round ([`node_step_open`]) with its window kept: what it sent over
/// each out-edge (0 for none) and its λ become the newest rows of `sent` and `lambda`.
/// `outbox` is cleared first; `open` closes out-edges (empty: all open). Returns the
/// node's capacity excess
/// ([`capacity_excess`]; −∞ without a capacity). Shared by every runtime that runs
/// owned nodes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step_node<P: PushPolicy>(
    config: &NodeConfig<P>,
    state: &mut NodeState<P>,
    heard: &[&Heights<P>],
    params: &StepParams,
    scratch: &mut NodeScratch<P>,
    outbox: &mut Vec<Jobs<P>>,
    sent: &mut Ring,
    lambda: &mut Ring,
    open: &[bool],
) -> f64 {
    outbox.clear();
    let stepped = node_step_open(config, state, heard, params, scratch, outbox, open);
    let row = sent.next_row();
    row.iter_mut().for_each(|x| *x = 0.0);
    let mut jobs = outbox.iter().peekable();
    let mut j = 0;
    for c in &config.commodities {
        for e in &config.out[j..j + c.out_edges] {
            if let Some(job) = jobs.next_if(|x| x.k == c.local.k && x.edge == e.edge) {
                row[j] = job.amount;
            }
            j += 1;
        }
    }
    sent.commit();
    lambda.next_row()[0] = stepped.lambda;
    lambda.commit();
    config.capacity.map_or(f64::NEG_INFINITY, |cap| {
        let excess = capacity_excess(stepped.used, cap);
        debug_assert!(
            excess <= 1e-9,
            "node {} used {} of {cap}",
            config.node,
            stepped.used
        );
        excess
    })
}

/// Per node, its out-neighbours, sorted and once each: the nodes whose announcements
/// it steps with. Shared by every runtime that runs owned nodes.
pub(crate) fn out_neighbours<P: PushPolicy>(configs: &[NodeConfig<P>]) -> Vec<Vec<usize>> {
    configs
        .iter()
        .map(|c| {
            let mut n: Vec<usize> = c.out.iter().map(|e| e.to).collect();
            n.sort_unstable();
            n.dedup();
            n
        })
        .collect()
}

/// Per node, an empty window of `window` rounds of what it sends over each out-edge,
/// and one of its λ. Shared by every runtime that runs owned nodes.
pub(crate) fn empty_windows<P: PushPolicy>(
    configs: &[NodeConfig<P>],
    window: usize,
) -> (Vec<Ring>, Vec<Ring>) {
    let sent = configs
        .iter()
        .map(|c| Ring::new(window, c.out.len()))
        .collect();
    let lambda = configs.iter().map(|_| Ring::new(window, 1)).collect();
    (sent, lambda)
}

/// The memory owned nodes hold: their configurations, states and out-neighbour lists,
/// and their windows. Shared by every runtime that runs owned nodes.
pub(crate) fn owned_footprint<P: PushPolicy>(
    configs: &[NodeConfig<P>],
    states: &[NodeState<P>],
    neighbours: &[Vec<usize>],
    sent: &[Ring],
    lambda: &[Ring],
) -> Footprint {
    let state = configs
        .iter()
        .zip(states)
        .zip(neighbours)
        .map(|((c, s), n)| node_bytes(c, s, n.len()))
        .sum();
    let window = sent.iter().chain(lambda).map(Ring::bytes).sum();
    Footprint { state, window }
}

/// Bytes of one owned node's configuration and state, with `neighbours` out-neighbour
/// indices.
fn node_bytes<P: PushPolicy>(c: &NodeConfig<P>, s: &NodeState<P>, neighbours: usize) -> usize {
    use crate::engine::node::{LocalCommodity, OutEdge};
    use std::mem::size_of;
    size_of::<NodeConfig<P>>()
        + c.commodities.len() * size_of::<LocalCommodity<P>>()
        // Each out-edge also remembers its last push (momentum).
        + c.out.len() * (size_of::<OutEdge<P>>() + size_of::<f64>())
        + size_of::<NodeState<P>>()
        + s.held.len() * (4 * size_of::<f64>() + size_of::<P::Slot>())
        + neighbours * size_of::<usize>()
}
