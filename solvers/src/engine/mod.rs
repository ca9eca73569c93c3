//! The distributed potential-balancing algorithm (seed 003 §5, after Awerbuch–Leighton;
//! DESIGN §5): every user, broker, provider and bandwidth node decides each round on
//! local information and its neighbours' messages alone.
//!
//! [`run`] drives rounds over every node of G′ through the public per-node functions of
//! [`node`] — [`node::announce`], [`node::node_step`], [`node::deliver`] — data-parallel
//! over nodes with rayon and bit-identical for any thread count (every sum is taken in
//! a fixed order). It keeps a job ledger per commodity (injected = absorbed + queued +
//! discarded), checks every node's capacity every round, and stops when every
//! commodity has been satisfied over the sliding window for a whole window of rounds,
//! or at the round limit.
//!
//! Variants differ only in the push weights ([`Variant`]); injection modes in what the
//! sources inject ([`Injection`]).

pub mod node;
mod water_fill;

use std::collections::VecDeque;

use brokerflow_graphs::{ExpandedGraph, Flow, Market, NodeKind};
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

pub use water_fill::{reverse_water_fill, Potential, Term, WaterFill};

use node::{
    announce, deliver, node_step, Heights, Jobs, LocalCommodity, NodeConfig, NodeState, OutEdge,
    Shaping, StepParams,
};

/// The push weights w^k_{n,n′} (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// w = 1 everywhere: the paper's standard feasible flow balancing.
    Fair,
    /// w = d_k × the utility moving one job of k over the edge generates for its
    /// sender, floored at a positive value (seed 003 §6 "utility-aware").
    UtilityAware,
    /// Drift-plus-penalty (issue 7): w = d_k / V_k, and every push also
    /// pays d_k × the move's cost relative to the cheapest path (c_e + C_head − C_tail,
    /// C = cheapest cost to t_k; the sum along a path is its cost minus C at the
    /// source), so at a full node λ is a price per resource unit. In demand mode a
    /// source admits jobs of k only while its queue height is below V_k·(v_k − C_s):
    /// users whose value does not cover the cheapest path admit nothing.
    /// V_k = `welfare_scale` / (v_k − C_s) in demand mode, `welfare_scale` / C_s in
    /// feasible mode (jobs per money unit: the user's own surplus or route cost sets
    /// the units). Every node learns C by a distance-vector exchange with its
    /// out-neighbours (in the height announcements) and V_k from its user's jobs
    /// ([`node::Shaping`]).
    WelfareSeeking,
}

impl Variant {
    /// Every variant, in documentation order.
    pub const ALL: [Variant; 3] = [
        Variant::Fair,
        Variant::UtilityAware,
        Variant::WelfareSeeking,
    ];

    /// The name used on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Fair => "fair",
            Variant::UtilityAware => "utility-aware",
            Variant::WelfareSeeking => "welfare-seeking",
        }
    }
}

/// What the sources inject each round (DESIGN §5 step 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Injection {
    /// a_k = (1 − η)·min(δ*,1)·d_k: the paper's runs; needs P1's δ* (`None` =
    /// unbounded, i.e. min(δ*,1) = 1).
    Feasible {
        /// P1's δ*.
        delta: Option<f64>,
    },
    /// a_k = d_k, no LP needed; sources discard above a queue ceiling.
    Demand,
}

impl Injection {
    /// `feasible` or `demand`.
    pub fn name(self) -> &'static str {
        match self {
            Injection::Feasible { .. } => "feasible",
            Injection::Demand => "demand",
        }
    }
}

/// Every setting of a run, with documented defaults (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EngineOptions {
    /// Push weights.
    pub variant: Variant,
    /// Injection mode.
    pub injection: Injection,
    /// Potential Φ; default quadratic.
    pub potential: Potential,
    /// η, the slack of feasible injection; default 0.02 (η + ε ≤ 0.05).
    pub eta: f64,
    /// ε of the convergence test; default 0.03.
    pub epsilon: f64,
    /// Rounds in the sliding window of convergence and of the reported averages;
    /// default 200.
    pub window: usize,
    /// Round limit; default 20 000.
    pub max_rounds: usize,
    /// Demand mode: a source holds at most `ceiling`·d_k jobs and discards the excess;
    /// default 20. Pushes only go downhill, so a long path needs tall source queues:
    /// measured on figure3 (every demand fits), a ceiling of 4 served about half of
    /// the demand, 20 all of it; higher ceilings converge slower (tiny: 232 rounds at
    /// 4, 827 at 20, 6 684 at 200).
    pub ceiling: f64,
    /// Positive floor of utility-aware weights (before the ×d_k); `None` = the
    /// smallest valuation of any user with demand (DESIGN §5: a floor of that order
    /// converges, 1e-3 often does not).
    pub weight_floor: Option<f64>,
    /// Welfare-seeking variant: the dimensionless c of V_k = c / C^k_s (feasible mode)
    /// or V_k = c / (v_k − C^k_s) (demand mode); error shrinks like
    /// 1/c, rounds grow like c. `None` = 20 in demand mode, 5 in feasible mode.
    pub welfare_scale: Option<f64>,
    /// Keep the per-(round, commodity) trace.
    pub trace: bool,
}

impl EngineOptions {
    /// The welfare-seeking variant's c in effect: `welfare_scale`, or its default (20 in
    /// demand mode, 5 in feasible mode).
    pub fn effective_welfare_scale(&self) -> f64 {
        self.welfare_scale.unwrap_or(match self.injection {
            Injection::Demand => 20.0,
            Injection::Feasible { .. } => 5.0,
        })
    }

    /// The defaults for a variant and injection mode.
    pub fn new(variant: Variant, injection: Injection) -> EngineOptions {
        EngineOptions {
            variant,
            injection,
            potential: Potential::Quadratic,
            eta: 0.02,
            epsilon: 0.03,
            window: 200,
            max_rounds: 20_000,
            ceiling: 20.0,
            weight_floor: None,
            welfare_scale: None,
            trace: false,
        }
    }
}

/// Settings that make no sense.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A numeric setting out of range.
    #[error("{name} = {value} is out of range: {rule}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The rule.
        rule: &'static str,
    },
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// Every commodity was satisfied over the window.
    Converged,
    /// The round limit came first.
    RoundLimit,
    /// No commodity carries demand (nothing to route).
    NothingToRoute,
}

/// One row of the trace: what happened to commodity k in one round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TraceRow {
    /// Round number, from 1.
    pub round: usize,
    /// Commodity index.
    pub commodity: usize,
    /// Jobs injected at the source this round.
    pub injected: f64,
    /// Jobs absorbed at the collection point this round.
    pub absorbed: f64,
    /// Jobs held anywhere in the network after the round.
    pub queued: f64,
    /// Jobs discarded at the source this round.
    pub discarded: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct EngineRun {
    /// The options it ran with.
    pub options: EngineOptions,
    /// Whether every commodity was satisfied over the window.
    pub converged: bool,
    /// Rounds run.
    pub rounds: usize,
    /// Why it stopped.
    pub stop: Stop,
    /// Window-averaged flow per (edge, commodity) with circulation cancelled: the
    /// routing in steady state, acyclic per commodity as every reported flow (DESIGN §2).
    pub flow: Flow,
    /// Window-averaged jobs moved per (edge, commodity), circulation included: what
    /// the engine's costs are counted on.
    pub moved: Flow,
    /// Per commodity, window-averaged jobs injected per round.
    pub injected: Vec<f64>,
    /// Per commodity, window-averaged jobs discarded per round.
    pub discarded: Vec<f64>,
    /// Per commodity, the injection a_k (0 for stranded or zero-demand users).
    pub injection: Vec<f64>,
    /// Largest |injected − absorbed − queued − discarded| seen, relative to what was
    /// injected (the ledger, checked every round).
    pub max_ledger_residual: f64,
    /// Largest relative excess of any node's use over its capacity in any round.
    pub max_capacity_violation: f64,
    /// Per G′ node, the window-averaged multiplier λ of its capacity in the push
    /// problem (`None` for nodes of unlimited capacity). In the welfare-seeking variant
    /// this is the node's own price in money per resource unit — a decentralised
    /// counterpart of P3's dual price of the node (DESIGN §4); in the fair and
    /// utility-aware variants it is in weight units and not a price.
    pub prices: Vec<Option<f64>>,
    /// The trace, if asked for.
    pub trace: Vec<TraceRow>,
}

impl EngineRun {
    /// Steady absorbed rate of commodity k: what it is served.
    pub fn served(&self, g: &ExpandedGraph, k: usize) -> f64 {
        self.flow.served(g, k)
    }

    /// DESIGN §2's engine welfare on window-averaged rates: values count absorbed jobs,
    /// costs every job moved (also jobs that circulated, which the reported `flow` no
    /// longer shows; see [`EngineRun::circulation_cost`]).
    pub fn welfare(&self, g: &ExpandedGraph) -> f64 {
        self.flow.welfare(g) - self.circulation_cost(g)
    }

    /// Cost per round of jobs that moved in circles (broker→broker links both ways)
    /// during the window: the welfare of the reported flow minus the engine's welfare.
    pub fn circulation_cost(&self, g: &ExpandedGraph) -> f64 {
        (self.moved.cost(g) - self.flow.cost(g)).max(0.0)
    }
}

/// A broker's routing table entry: the share of its commodity-k jobs sent to a next
/// hop (a provider or a linked broker), from the window-averaged flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// The broker's id.
    pub broker: String,
    /// The user (commodity) id.
    pub commodity: String,
    /// The next hop's id.
    pub next_hop: String,
    /// Fraction of the broker's outflow of k, in [0, 1].
    pub fraction: f64,
}

/// Runs the distributed algorithm on G′ (seed 003 §5.1): rounds of announce, step
/// (inject, balance, push) and deliver (absorb), until converged or the round limit.
pub fn run(
    market: &Market,
    g: &ExpandedGraph,
    options: &EngineOptions,
) -> Result<EngineRun, EngineError> {
    let mut engine = Engine::new(market, g, options)?;
    while engine.next_round() {}
    Ok(engine.finish())
}

/// The round engine as explicit state (init / next round / finish), so a caller can
/// watch or drive it round by round; [`run`] is the usual entry point.
pub struct Engine<'g> {
    g: &'g ExpandedGraph,
    options: EngineOptions,
    injection: Vec<f64>,
    configs: Vec<NodeConfig>,
    states: Vec<NodeState>,
    params: StepParams,
    /// Out-neighbours of each node, to hand it their announcements.
    neighbours: Vec<Vec<usize>>,
    /// Position of commodity k's first usable edge in the flat (edge, k) layout.
    offsets: Vec<usize>,
    window: Window,
    cumulative: Ledger,
    trace: Vec<TraceRow>,
    max_ledger_residual: f64,
    max_capacity_violation: f64,
    rounds: usize,
    /// Consecutive rounds in which every commodity passed the window test.
    satisfied_for: usize,
    stop: Option<Stop>,
}

impl<'g> Engine<'g> {
    /// Configures every node from G′ and empties every queue.
    pub fn new(
        market: &Market,
        g: &'g ExpandedGraph,
        options: &EngineOptions,
    ) -> Result<Engine<'g>, EngineError> {
        validate(options)?;
        let injection = injections(g, options);
        let configs = node_configs(market, g, options, &injection);
        let states = configs.iter().map(NodeState::new).collect();
        let neighbours = configs
            .iter()
            .map(|c| {
                let mut n: Vec<usize> = c
                    .commodities
                    .iter()
                    .flat_map(|lc| lc.out.iter().map(|e| e.to))
                    .collect();
                n.sort_unstable();
                n.dedup();
                n
            })
            .collect();
        let offsets = g
            .commodities
            .iter()
            .scan(0, |acc, c| {
                let o = *acc;
                *acc += c.usable.len();
                Some(o)
            })
            .collect();
        let stop = injection
            .iter()
            .all(|&a| a <= 0.0)
            .then_some(Stop::NothingToRoute);
        Ok(Engine {
            g,
            options: *options,
            params: StepParams {
                potential: options.potential,
            },
            window: Window::new(options.window, g.commodities.len()),
            cumulative: Ledger::new(g.commodities.len()),
            injection,
            configs,
            states,
            neighbours,
            offsets,
            trace: Vec::new(),
            max_ledger_residual: 0.0,
            max_capacity_violation: 0.0,
            rounds: 0,
            satisfied_for: 0,
            stop,
        })
    }

    /// Every node's fixed configuration, by G′ node index.
    pub fn configs(&self) -> &[NodeConfig] {
        &self.configs
    }

    /// Every node's state after the last round, by G′ node index.
    pub fn states(&self) -> &[NodeState] {
        &self.states
    }

    /// Rounds run so far.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// DESIGN §2's engine welfare of the current window (values of absorbed jobs,
    /// costs of every job moved): what [`EngineRun::welfare`] would report if the run
    /// stopped now. O(window × usable pairs); for traces, not for every round.
    pub fn window_welfare(&self) -> f64 {
        self.window
            .average_flow(self.g, &self.offsets)
            .welfare(self.g)
    }

    /// Runs one round; returns whether the run goes on (not converged, under the limit).
    pub fn next_round(&mut self) -> bool {
        if self.stop.is_some() {
            return false;
        }
        if self.rounds >= self.options.max_rounds {
            self.stop = Some(Stop::RoundLimit);
            return false;
        }
        self.rounds += 1;
        let (g, configs, states) = (self.g, &self.configs, &self.states);
        let heights: Vec<Heights> = configs
            .par_iter()
            .zip(states)
            .map(|(c, s)| announce(c, s))
            .collect();
        let stepped: Vec<(NodeState, Vec<Jobs>)> = (0..configs.len())
            .into_par_iter()
            .map(|i| {
                let heard: Vec<&Heights> =
                    self.neighbours[i].iter().map(|&n| &heights[n]).collect();
                node_step(&configs[i], &states[i], &heard, &self.params)
            })
            .collect();
        // Delivery in sender order, so every receiver sums in the same order.
        let mut inbox: Vec<Vec<&Jobs>> = vec![Vec::new(); configs.len()];
        let mut moved = vec![0.0; g.usable_pairs()];
        let mut used = vec![0.0; configs.len()];
        for (sender, (_, jobs)) in stepped.iter().enumerate() {
            for job in jobs {
                inbox[job.to].push(job);
                if let Ok(i) = g.commodities[job.k]
                    .usable
                    .binary_search(&EdgeIndex::new(job.edge))
                {
                    moved[self.offsets[job.k] + i] += job.amount;
                }
                used[sender] += g.resource_use(NodeIndex::new(sender), job.k) * job.amount;
            }
        }
        for (n, c) in configs.iter().enumerate() {
            if let Some(cap) = c.capacity {
                let excess = (used[n] - cap) / cap.max(1.0);
                self.max_capacity_violation = self.max_capacity_violation.max(excess);
                debug_assert!(excess <= 1e-9, "node {n} used {} of {cap}", used[n]);
            }
        }
        let delivered: Vec<NodeState> = (0..configs.len())
            .into_par_iter()
            .map(|i| deliver(&configs[i], &stepped[i].0, &inbox[i]))
            .collect();
        drop(inbox);
        self.states = delivered;
        let lambda = self.states.iter().map(|s| s.lambda).collect();
        self.window.lambdas.push_back(lambda);
        if self.window.lambdas.len() > self.window.size {
            self.window.lambdas.pop_front();
        }
        self.account(moved);
        true
    }

    /// The ledger of the round just run (summed in node order), the trace, the window
    /// and the convergence test.
    fn account(&mut self, moved: Vec<f64>) {
        let commodities = self.g.commodities.len();
        let mut this = Ledger::new(commodities);
        for (c, s) in self.configs.iter().zip(&self.states) {
            for (i, lc) in c.commodities.iter().enumerate() {
                this.injected[lc.k] += s.injected[i];
                this.discarded[lc.k] += s.discarded[i];
                this.absorbed[lc.k] += s.absorbed[i];
                this.queued[lc.k] += s.held[i];
            }
        }
        self.cumulative.add(&this);
        let total = &self.cumulative;
        for k in 0..commodities {
            let residual =
                (total.injected[k] - total.absorbed[k] - this.queued[k] - total.discarded[k]).abs()
                    / total.injected[k].max(1.0);
            self.max_ledger_residual = self.max_ledger_residual.max(residual);
            debug_assert!(residual <= 1e-9, "ledger of commodity {k}: {residual}");
            if self.options.trace {
                self.trace.push(TraceRow {
                    round: self.rounds,
                    commodity: k,
                    injected: this.injected[k],
                    absorbed: this.absorbed[k],
                    queued: this.queued[k],
                    discarded: this.discarded[k],
                });
            }
        }
        self.window.push(moved, this);
        // Converged once the window test has held for a whole window of rounds, so
        // the reported averages cover a steady state, not the ramp-up.
        if self.window.full() && satisfied(self.g, &self.options, &self.injection, &self.window) {
            self.satisfied_for += 1;
        } else {
            self.satisfied_for = 0;
        }
        if self.satisfied_for >= self.options.window {
            self.stop = Some(Stop::Converged);
        }
    }

    /// The outcome: window-averaged flows and rates, ledger and capacity checks.
    pub fn finish(self) -> EngineRun {
        let stop = self.stop.unwrap_or(Stop::RoundLimit);
        let moved = self.window.average_flow(self.g, &self.offsets);
        let mut flow = moved.clone();
        crate::cycles::cancel_cycles(self.g, &mut flow);
        EngineRun {
            options: self.options,
            converged: stop == Stop::Converged,
            rounds: self.rounds,
            stop,
            flow,
            moved,
            injected: self.window.average(|l| &l.injected),
            discarded: self.window.average(|l| &l.discarded),
            injection: self.injection,
            max_ledger_residual: self.max_ledger_residual,
            max_capacity_violation: self.max_capacity_violation,
            prices: self
                .configs
                .iter()
                .enumerate()
                .map(|(n, c)| c.capacity.map(|_| self.window.average_lambda(n)))
                .collect(),
            trace: self.trace,
        }
    }
}

fn validate(o: &EngineOptions) -> Result<(), EngineError> {
    let bad = |name, value: f64, rule| Err(EngineError::Setting { name, value, rule });
    if !(0.0..1.0).contains(&o.eta) {
        return bad("eta", o.eta, "0 ≤ η < 1");
    }
    if !(o.epsilon > 0.0 && o.epsilon < 1.0) {
        return bad("epsilon", o.epsilon, "0 < ε < 1");
    }
    if o.window == 0 {
        return bad("window", 0.0, "at least 1 round");
    }
    if o.max_rounds == 0 {
        return bad("rounds", 0.0, "at least 1 round");
    }
    if !(o.ceiling.is_finite() && o.ceiling > 0.0) {
        return bad("ceiling", o.ceiling, "a positive multiple of demand");
    }
    if let Some(c) = o.welfare_scale {
        if !(c.is_finite() && c > 0.0) {
            return bad("welfare_scale", c, "positive");
        }
    }
    if let Some(f) = o.weight_floor {
        if !(f.is_finite() && f > 0.0) {
            return bad("weight_floor", f, "positive");
        }
    }
    Ok(())
}

/// a_k per commodity: 0 for stranded or zero-demand users (they carry no commodity).
fn injections(g: &ExpandedGraph, o: &EngineOptions) -> Vec<f64> {
    g.commodities
        .iter()
        .map(|c| {
            if c.is_stranded() || c.demand <= 0.0 {
                return 0.0;
            }
            match o.injection {
                Injection::Feasible { delta } => {
                    (1.0 - o.eta) * delta.map_or(1.0, |d| d.min(1.0)) * c.demand
                }
                Injection::Demand => c.demand,
            }
        })
        .collect()
}

/// Builds every node's fixed configuration from G′ (the only global step: a real
/// deployment would configure each node from its own links).
fn node_configs(
    market: &Market,
    g: &ExpandedGraph,
    o: &EngineOptions,
    injection: &[f64],
) -> Vec<NodeConfig> {
    let floor = o.weight_floor.unwrap_or_else(|| {
        g.commodities
            .iter()
            .filter(|c| c.demand > 0.0 && c.valuation > 0.0)
            .map(|c| c.valuation)
            .fold(f64::INFINITY, f64::min)
            .min(1.0e300)
    });
    let floor = if floor.is_finite() { floor } else { 1.0 };
    let mut configs: Vec<NodeConfig> = g
        .graph
        .node_indices()
        .map(|n| NodeConfig {
            node: n.index(),
            capacity: g.node(n).capacity,
            collection: matches!(g.node(n).kind, NodeKind::Collection(_)),
            commodities: Vec::new(),
        })
        .collect();
    for (k, c) in g.commodities.iter().enumerate() {
        if injection[k] <= 0.0 {
            continue;
        }
        // Welfare-seeking: the node learns its cost to go and the user's V_k from
        // messages (node::node_step); it is configured with the move costs and c.
        let shaping = (o.variant == Variant::WelfareSeeking).then(|| Shaping {
            scale: o.effective_welfare_scale(),
            gate: matches!(o.injection, Injection::Demand),
            valuation: c.valuation,
        });
        // Queues per node: usable in-edges plus out-edges of k.
        let fresh = |n: NodeIndex| LocalCommodity {
            k,
            demand: c.demand,
            resource: g.resource_use(n, k),
            queues: 0,
            injection: if n == c.source { injection[k] } else { 0.0 },
            // The welfare-seeking source gates by value instead (node::node_step).
            ceiling: match (o.injection, n == c.source, o.variant) {
                (Injection::Demand, true, Variant::Fair | Variant::UtilityAware) => {
                    Some(o.ceiling * c.demand)
                }
                _ => None,
            },
            out: Vec::new(),
            shaping,
        };
        let mut local: std::collections::BTreeMap<usize, LocalCommodity> = Default::default();
        for &e in &c.usable {
            let (tail, head) = g.graph.edge_endpoints(e).expect("edge of G'");
            let weight = match o.variant {
                Variant::Fair => 1.0,
                Variant::UtilityAware => c.demand * utility_of_move(market, g, e, k).max(floor),
                // Divided by V_k at the node, once V_k is known.
                Variant::WelfareSeeking => c.demand,
            };
            let t = local.entry(tail.index()).or_insert_with(|| fresh(tail));
            t.queues += 1;
            t.out.push(OutEdge {
                edge: e.index(),
                to: head.index(),
                weight,
                into_sink: head == c.sink,
                cost: g.unit_cost(e, k),
            });
            local
                .entry(head.index())
                .or_insert_with(|| fresh(head))
                .queues += 1;
        }
        for (n, lc) in local {
            configs[n].commodities.push(lc);
        }
    }
    configs
}

/// The utility moving one job of k over G′ edge e generates for its sender (DESIGN §5):
/// with posted prices, the sender's margin; without, v_k minus the costs the sender
/// incurs (its own and the link's). A bandwidth node carries its link's sender's weight.
fn utility_of_move(market: &Market, g: &ExpandedGraph, e: EdgeIndex, k: usize) -> f64 {
    let c = &g.commodities[k];
    let (tail, head) = g.graph.edge_endpoints(e).expect("edge of G'");
    // The market-level move: sender u, receiver v, and the link's first G′ edge.
    let (sender, receiver, first) = match (g.node(tail).kind, g.node(head).kind) {
        (NodeKind::Bandwidth(l), _) => {
            let (first, _) = g.link_edges[l];
            let (u, _) = g.graph.edge_endpoints(first).expect("edge of G'");
            (u, head, first)
        }
        (_, NodeKind::Bandwidth(l)) => {
            let (_, second) = g.link_edges[l];
            let second = second.expect("a bandwidth node's link has two edges");
            let (_, v) = g.graph.edge_endpoints(second).expect("edge of G'");
            (tail, v, e)
        }
        _ => (tail, head, e),
    };
    let cost = g.unit_cost(first, k);
    let price = |n: NodeIndex| -> Option<f64> {
        let prices = market.prices.as_ref()?;
        let id = &g.node(n).name;
        let user = &c.id;
        match g.node(n).kind {
            NodeKind::Broker(_) => prices.broker.get(id)?.get(user).copied(),
            NodeKind::Provider(_) => prices.provider.get(id)?.get(user).copied(),
            _ => None,
        }
    };
    let gets = match g.node(sender).kind {
        NodeKind::User(_) => Some(c.valuation),
        _ => price(sender),
    };
    let pays = match g.node(receiver).kind {
        NodeKind::Collection(_) => Some(0.0),
        _ => price(receiver),
    };
    match (gets, pays) {
        (Some(gets), Some(pays)) => gets - pays - cost,
        _ => c.valuation - cost,
    }
}

/// Whether every commodity is satisfied over the window (DESIGN §5): feasible mode,
/// absorbed ≥ (1 − ε)·injected; demand mode, admitted − absorbed ≤ ε·d_k per round.
fn satisfied(g: &ExpandedGraph, o: &EngineOptions, injection: &[f64], w: &Window) -> bool {
    let rounds = w.len() as f64;
    (0..g.commodities.len()).all(|k| {
        if injection[k] <= 0.0 {
            return true;
        }
        let injected = w.sum.injected[k];
        let absorbed = w.sum.absorbed[k];
        match o.injection {
            Injection::Feasible { .. } => absorbed >= (1.0 - o.epsilon) * injected,
            Injection::Demand => {
                let admitted = injected - w.sum.discarded[k];
                (admitted - absorbed) / rounds <= o.epsilon * g.commodities[k].demand
            }
        }
    })
}

/// Per-commodity amounts of one round, or sums of rounds.
#[derive(Debug, Clone)]
struct Ledger {
    injected: Vec<f64>,
    discarded: Vec<f64>,
    absorbed: Vec<f64>,
    queued: Vec<f64>,
}

impl Ledger {
    fn new(n: usize) -> Ledger {
        Ledger {
            injected: vec![0.0; n],
            discarded: vec![0.0; n],
            absorbed: vec![0.0; n],
            queued: vec![0.0; n],
        }
    }

    fn add(&mut self, o: &Ledger) {
        for k in 0..self.injected.len() {
            self.injected[k] += o.injected[k];
            self.discarded[k] += o.discarded[k];
            self.absorbed[k] += o.absorbed[k];
        }
    }

    fn subtract(&mut self, o: &Ledger) {
        for k in 0..self.injected.len() {
            self.injected[k] -= o.injected[k];
            self.discarded[k] -= o.discarded[k];
            self.absorbed[k] -= o.absorbed[k];
        }
    }
}

/// The last `size` rounds: flows moved and ledgers, for averages and convergence.
/// The ledger sums run (add the new round, subtract the one leaving): O(commodities)
/// per round, and deterministic, since the operations come in the same order.
struct Window {
    size: usize,
    moved: VecDeque<Vec<f64>>,
    ledgers: VecDeque<Ledger>,
    sum: Ledger,
    /// λ of every node, per round.
    lambdas: VecDeque<Vec<f64>>,
}

impl Window {
    fn new(size: usize, commodities: usize) -> Window {
        Window {
            size,
            moved: VecDeque::with_capacity(size + 1),
            ledgers: VecDeque::with_capacity(size + 1),
            sum: Ledger::new(commodities),
            lambdas: VecDeque::with_capacity(size + 1),
        }
    }

    fn push(&mut self, moved: Vec<f64>, ledger: Ledger) {
        self.sum.add(&ledger);
        self.moved.push_back(moved);
        self.ledgers.push_back(ledger);
        if self.moved.len() > self.size {
            self.moved.pop_front();
            if let Some(old) = self.ledgers.pop_front() {
                self.sum.subtract(&old);
            }
        }
    }

    fn len(&self) -> usize {
        self.moved.len()
    }

    fn full(&self) -> bool {
        self.moved.len() == self.size
    }

    fn average(&self, field: impl Fn(&Ledger) -> &Vec<f64>) -> Vec<f64> {
        let n = self.len().max(1) as f64;
        field(&self.sum).iter().map(|x| x / n).collect()
    }

    fn average_lambda(&self, n: usize) -> f64 {
        let total: f64 = self.lambdas.iter().map(|l| l[n]).sum();
        total / self.lambdas.len().max(1) as f64
    }

    fn average_flow(&self, g: &ExpandedGraph, offsets: &[usize]) -> Flow {
        let mut flow = Flow::zero(g);
        let n = self.len().max(1) as f64;
        for (k, xs) in flow.x.iter_mut().enumerate() {
            for (i, x) in xs.iter_mut().enumerate() {
                let total: f64 = self.moved.iter().map(|m| m[offsets[k] + i]).sum();
                *x = total / n;
            }
        }
        flow
    }
}

/// Every broker's routing table from a flow: per (commodity, next hop), the share of
/// the broker's outflow of that commodity (DESIGN §5). Next hops are market
/// participants: a bandwidth node stands for the link's receiver.
pub fn routing_table(g: &ExpandedGraph, flow: &Flow) -> Vec<Route> {
    let mut routes = Vec::new();
    for n in g.graph.node_indices() {
        if !matches!(g.node(n).kind, NodeKind::Broker(_)) {
            continue;
        }
        for (k, c) in g.commodities.iter().enumerate() {
            let out: Vec<(NodeIndex, f64)> = g
                .graph
                .edges(n)
                .filter(|e| c.can_use(e.id()))
                .map(|e| {
                    let hop = match g.node(e.target()).kind {
                        NodeKind::Bandwidth(l) => {
                            let second = g.link_edges[l].1.expect("two edges");
                            g.graph.edge_endpoints(second).expect("edge").1
                        }
                        _ => e.target(),
                    };
                    (hop, flow.get(g, k, e.id()))
                })
                .collect();
            let total: f64 = out.iter().map(|(_, x)| x).sum();
            if total <= 0.0 {
                continue;
            }
            let mut out = out;
            out.sort_by_key(|(hop, _)| *hop);
            for (hop, x) in out {
                if x > 0.0 {
                    routes.push(Route {
                        broker: g.node(n).name.clone(),
                        commodity: c.id.clone(),
                        next_hop: g.node(hop).name.clone(),
                        fraction: x / total,
                    });
                }
            }
        }
    }
    routes
}
