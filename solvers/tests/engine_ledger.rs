//! The engine's job ledger and capacity invariants (design §5).
//!
//! 40 random generated markets (seeds 1000..1040: 2–12 users, 1–4 brokers, 1–4
//! providers, contention 0.5/1/2/4, broker→broker link probability 0/0.3/0.7,
//! eligibility 0/0.5/1, posted prices on every other seed) plus the three bundled
//! examples and a market with resources that are down (capacity 0), each × both
//! variants × both injection modes (every fourth run with the exponential potential,
//! demand mode alternately with a low queue ceiling so that discards happen):
//!
//! * from the trace alone: for every round and commodity, cumulative injected =
//!   cumulative absorbed + queued + cumulative discarded within 1e-9 relative; what is
//!   injected each round is a_k, worked out here from P1's δ*; nothing is negative;
//! * the engine's own `max_capacity_violation` and `max_ledger_residual` ≤ 1e-9;
//! * independently of the engine's accounting: a driver of the public node functions
//!   (announce → node_step → deliver over configurations built by `Setup`, one node at
//!   a time) checks, from the `Jobs`
//!   each node sends, Σ_k r^k_n·x ≤ R_n (+1e-9·max(R_n, 1)) for every node and round,
//!   with r and R read from the market file itself; that every job goes over a G′ edge
//!   of the sender that its commodity may use; that no node sends more of k than it
//!   held; and its own ledger from the node states.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{examples, ExpandedGraph, Market, NodeKind, ValidMarket};
use brokerflow_solvers::engine::node::{
    announce, deliver, node_step, Heights, Jobs, NodeConfig, NodeScratch, NodeState, StepParams,
};
use brokerflow_solvers::engine::setup::Setup;
use brokerflow_solvers::engine::variants::{PushPolicy, WithPolicy};
use brokerflow_solvers::engine::{
    run_observed, EngineOptions, Injection, ObserverMode, Observers, Potential, Trace, Variant,
};
use brokerflow_solvers::lp::{self, LpOptions};
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::Direction;

/// Number of random generated markets.
const MARKETS: u64 = 40;
/// Round limit of the traced runs (the ledger must hold in every round, converged or not).
const TRACE_ROUNDS: usize = 2_500;
/// Rounds of the independent node-function driver per run.
const DRIVEN_ROUNDS: usize = 150;

fn generated(i: u64) -> ValidMarket {
    let config = GeneratorConfig {
        users: 2 + ((i * 7) % 11) as usize,
        brokers: 1 + (i % 4) as usize,
        providers: 1 + ((i * 3 + 1) % 4) as usize,
        contention: [0.5, 1.0, 2.0, 4.0][((i / 2) % 4) as usize],
        broker_link_probability: [0.0, 0.3, 0.7][(i % 3) as usize],
        eligibility: [0.0, 0.5, 1.0][((i / 3) % 3) as usize],
        posted_prices: i % 2 == 1,
        ..GeneratorConfig::default()
    };
    generate(&config, 1000 + i).expect("valid generator config")
}

/// A market with a broker, a provider and a link that are down (capacity 0), next to
/// working ones.
fn resources_down() -> ValidMarket {
    Market::from_json_str(
        r#"{
          "name": "down",
          "users": [{"id": "u1", "demand": 6, "requirement": 1.5, "valuation": 9},
                    {"id": "u2", "demand": 4, "requirement": 1, "valuation": 3}],
          "brokers": [{"id": "b1", "capacity": 0}, {"id": "b2", "capacity": 7, "cost": 0.1}],
          "providers": [{"id": "p1", "capacity": 0, "cost": 1},
                        {"id": "p2", "capacity": 9, "cost": 0.5},
                        {"id": "p3", "capacity": 3, "cost": 2}],
          "links": [{"from": "u1", "to": "b1"}, {"from": "u1", "to": "b2", "bandwidth": 5},
                    {"from": "u2", "to": "b2"}, {"from": "b1", "to": "p2"},
                    {"from": "b2", "to": "p1"}, {"from": "b2", "to": "p2", "bandwidth": 0},
                    {"from": "b2", "to": "p3"}]
        }"#,
        "inline",
    )
    .expect("valid market")
}

fn markets() -> Vec<(String, ValidMarket)> {
    let mut all: Vec<(String, ValidMarket)> = (0..MARKETS)
        .map(|i| (format!("generated seed {}", 1000 + i), generated(i)))
        .collect();
    all.push(("tiny".into(), examples::tiny()));
    all.push(("figure3".into(), examples::figure3()));
    all.push(("linked".into(), examples::linked()));
    all.push(("down".into(), resources_down()));
    all
}

/// R_n and r^k_n straight from the market file (not from the engine's configuration).
fn capacity_of(market: &Market, g: &ExpandedGraph, n: NodeIndex) -> Option<f64> {
    match g.node(n).kind {
        NodeKind::Broker(i) => market.brokers[i].capacity,
        NodeKind::Provider(i) => market.providers[i].capacity,
        NodeKind::Bandwidth(i) => market.links[i].bandwidth,
        NodeKind::User(_) | NodeKind::Collection(_) => None,
    }
}

fn resource_of(market: &Market, g: &ExpandedGraph, n: NodeIndex, k: usize) -> f64 {
    match g.node(n).kind {
        NodeKind::Broker(_) | NodeKind::Bandwidth(_) => 1.0,
        NodeKind::Provider(_) => market.users[k].requirement,
        NodeKind::User(_) | NodeKind::Collection(_) => 0.0,
    }
}

/// The engine runs of one market: (variant, injection, potential, ceiling).
fn settings(g: &ExpandedGraph, delta: Option<f64>, index: usize) -> Vec<EngineOptions> {
    let _ = g;
    let mut all = Vec::new();
    for (v, variant) in [
        Variant::Fair,
        Variant::UtilityAware,
        Variant::WelfareSeeking,
    ]
    .into_iter()
    .enumerate()
    {
        for (j, injection) in [Injection::Feasible { delta }, Injection::Demand]
            .into_iter()
            .enumerate()
        {
            let mut o = EngineOptions::new(variant, injection);
            if (index + v + j) % 4 == 0 {
                o.potential = Potential::Exponential;
            }
            if injection == Injection::Demand && (index + v) % 2 == 0 {
                o.ceiling = Some(1.5);
            }
            all.push(o);
        }
    }
    all
}

/// a_k worked out from design §5: (1 − η)·min(δ*,1)·d_k or d_k; 0 when stranded.
fn expected_injection(g: &ExpandedGraph, o: &EngineOptions, k: usize) -> f64 {
    let c = &g.commodities[k];
    if c.is_stranded() || c.demand <= 0.0 {
        return 0.0;
    }
    match o.injection {
        Injection::Feasible { delta } => {
            (1.0 - o.eta) * delta.map_or(1.0, |d| d.min(1.0)) * c.demand
        }
        Injection::Demand => c.demand,
    }
}

#[test]
fn trace_ledger_balances_every_round_and_capacity_holds() {
    let all = markets();
    assert_eq!(all.len() as u64, MARKETS + 4);
    let (mut runs, mut rows_checked, mut discarding_runs) = (0, 0usize, 0);
    for (index, (name, market)) in all.iter().enumerate() {
        let g = ExpandedGraph::new(market);
        let delta = lp::max_concurrent_flow(&g, &LpOptions::default())
            .unwrap()
            .delta;
        for mut o in settings(&g, delta, index) {
            o.max_rounds = TRACE_ROUNDS;
            let mut trace = Trace::default();
            let mut observers = Observers::new();
            observers.push(&mut trace, ObserverMode::Always);
            let r = run_observed(market, &g, &o, &mut observers).unwrap();
            let trace = trace.rows;
            let what = format!(
                "{name}, {} {} {:?}",
                o.variant.name(),
                o.injection.name(),
                o.potential
            );
            runs += 1;
            let commodities = g.commodities.len();
            assert_eq!(
                trace.len(),
                r.rounds * commodities,
                "{what}: one row per (round, commodity)"
            );
            assert!(
                r.max_capacity_violation <= 1e-9,
                "{what}: capacity violation {}",
                r.max_capacity_violation
            );
            assert!(
                r.max_ledger_residual <= 1e-9,
                "{what}: ledger residual {}",
                r.max_ledger_residual
            );
            let mut cumulative = vec![(0.0f64, 0.0f64, 0.0f64); commodities];
            let mut any_discard = false;
            for (i, row) in trace.iter().enumerate() {
                assert_eq!(
                    row.round,
                    i / commodities + 1,
                    "{what}: rows in round order"
                );
                assert_eq!(
                    row.commodity,
                    i % commodities,
                    "{what}: rows in commodity order"
                );
                let k = row.commodity;
                let a = expected_injection(&g, &o, k);
                assert!(
                    (row.injected - a).abs() <= 1e-12 * a.max(1.0),
                    "{what}, round {}, commodity {k}: injected {} instead of a_k = {a}",
                    row.round,
                    row.injected
                );
                for (field, x) in [
                    ("absorbed", row.absorbed),
                    ("queued", row.queued),
                    ("discarded", row.discarded),
                ] {
                    assert!(
                        x.is_finite() && x >= 0.0,
                        "{what}, round {}: {field} = {x}",
                        row.round
                    );
                }
                if matches!(o.injection, Injection::Feasible { .. }) {
                    assert_eq!(row.discarded, 0.0, "{what}: feasible mode never discards");
                }
                any_discard |= row.discarded > 0.0;
                let c = &mut cumulative[k];
                c.0 += row.injected;
                c.1 += row.absorbed;
                c.2 += row.discarded;
                let balance = c.0 - c.1 - row.queued - c.2;
                assert!(
                    balance.abs() <= 1e-9 * c.0.max(f64::MIN_POSITIVE),
                    "{what}, round {}, commodity {k}: injected {} ≠ absorbed {} + queued {} + discarded {} (off by {balance:e})",
                    row.round,
                    c.0,
                    c.1,
                    row.queued,
                    c.2
                );
                rows_checked += 1;
            }
            discarding_runs += usize::from(any_discard);
        }
    }
    // 3 variants × 2 injection modes per market.
    assert_eq!(runs, 6 * (MARKETS as usize + 4));
    // Not vacuous: the discard branch of the ledger is exercised.
    assert!(
        discarding_runs >= 10,
        "only {discarding_runs} runs discarded anything"
    );
    println!("ledger: {runs} traced runs, {rows_checked} (round, commodity) rows, {discarding_runs} runs with discards");
}

/// One run of the node-function driver: (capacity checks, of which at capacity).
struct Drive<'a> {
    what: String,
    market: &'a Market,
    g: &'a ExpandedGraph,
    options: EngineOptions,
}

impl WithPolicy for Drive<'_> {
    type Output = (usize, usize);

    fn call<P: PushPolicy>(self) -> (usize, usize) {
        let (what, market, g, o) = (&self.what, self.market, self.g, &self.options);
        let (mut checks, mut binding) = (0, 0);
        let setup = Setup::new(market, g, o).unwrap();
        let configs: Vec<NodeConfig<P>> = setup.partition(g.graph.node_indices());
        assert_eq!(configs.len(), g.graph.node_count());
        let params = StepParams {
            potential: o.potential,
        };
        let mut states: Vec<NodeState<P>> = configs.iter().map(NodeState::new).collect();
        let mut scratch = NodeScratch::<P>::default();
        let commodities = g.commodities.len();
        let (mut injected, mut absorbed, mut discarded) = (
            vec![0.0; commodities],
            vec![0.0; commodities],
            vec![0.0; commodities],
        );
        for round in 1..=DRIVEN_ROUNDS {
            let heights: Vec<Heights<P>> = configs
                .iter()
                .zip(&states)
                .map(|(c, s)| announce(c, s))
                .collect();
            let mut sent_jobs = Vec::with_capacity(states.len());
            for (i, (c, s)) in configs.iter().zip(&mut states).enumerate() {
                let n = NodeIndex::new(i);
                // Neighbours from G′ itself, not from the node's configuration.
                let heard: Vec<&Heights<P>> = g
                    .graph
                    .neighbors_directed(n, Direction::Outgoing)
                    .map(|m| &heights[m.index()])
                    .collect();
                let before = s.clone();
                let mut jobs = Vec::new();
                node_step(c, s, &heard, &params, &mut scratch, &mut jobs);
                let mut used = 0.0;
                let mut sent = vec![0.0; commodities];
                for job in &jobs {
                    let e = EdgeIndex::new(job.edge);
                    let (tail, head) = g.graph.edge_endpoints(e).expect("a job names a G′ edge");
                    assert!(
                        tail == n && head.index() == job.to && job.from == i,
                        "{what}, round {round}: node {i} sent {job:?} over someone else's edge"
                    );
                    assert!(
                        g.commodities[job.k].can_use(e),
                        "{what}, round {round}: {job:?} on an edge its commodity cannot use"
                    );
                    assert!(
                        job.amount.is_finite() && job.amount >= 0.0,
                        "{what}: {job:?}"
                    );
                    used += resource_of(market, g, n, job.k) * job.amount;
                    sent[job.k] += job.amount;
                }
                if let Some(cap) = capacity_of(market, g, n) {
                    assert!(
                        used <= cap + 1e-9 * cap.max(1.0),
                        "{what}, round {round}: node {} uses {used} of its capacity {cap}",
                        g.node(n).name
                    );
                    checks += 1;
                    binding += usize::from(used > 0.0 && used >= cap * (1.0 - 1e-9));
                }
                // No node sends more of k than it held after injecting and discarding.
                for (l, lc) in c.commodities.iter().enumerate() {
                    let k = lc.local.k;
                    let had = before.held[l] + s.injected[l] - s.discarded[l];
                    assert!(
                        sent[k] <= had * (1.0 + 1e-12) + 1e-300,
                        "{what}, round {round}: node {i} sent {} of commodity {k} but held {had}",
                        sent[k],
                    );
                    assert!(s.held[l] >= 0.0, "{what}: negative queue at node {i}");
                }
                sent_jobs.push(jobs);
            }
            let mut inbox: Vec<Vec<&Jobs<P>>> = vec![Vec::new(); states.len()];
            for jobs in &sent_jobs {
                for job in jobs {
                    inbox[job.to].push(job);
                }
            }
            for ((c, s), jobs) in configs.iter().zip(&mut states).zip(&inbox) {
                deliver(c, s, jobs);
            }
            // Our own ledger, summed from the node states.
            let mut queued = vec![0.0; commodities];
            for (c, s) in configs.iter().zip(&states) {
                for (l, lc) in c.commodities.iter().enumerate() {
                    let k = lc.local.k;
                    injected[k] += s.injected[l];
                    absorbed[k] += s.absorbed[l];
                    discarded[k] += s.discarded[l];
                    queued[k] += s.held[l];
                }
            }
            for k in 0..commodities {
                let a = expected_injection(g, o, k);
                assert!(
                    (injected[k] - a * round as f64).abs() <= 1e-9 * (a * round as f64).max(1.0),
                    "{what}: injected"
                );
                let balance = injected[k] - absorbed[k] - queued[k] - discarded[k];
                assert!(
                    balance.abs() <= 1e-9 * injected[k].max(f64::MIN_POSITIVE),
                    "{what}, round {round}, commodity {k}: ledger off by {balance:e}"
                );
            }
        }
        (checks, binding)
    }
}

#[test]
fn node_functions_never_exceed_capacity_and_keep_their_own_ledger() {
    let (mut checks, mut binding) = (0usize, 0usize);
    for (index, (name, market)) in markets().iter().enumerate() {
        let g = ExpandedGraph::new(market);
        let delta = lp::max_concurrent_flow(&g, &LpOptions::default())
            .unwrap()
            .delta;
        for o in settings(&g, delta, index) {
            let what = format!(
                "{name}, {} {} {:?}",
                o.variant.name(),
                o.injection.name(),
                o.potential
            );
            let (c, b) = o.variant.dispatch(Drive {
                what,
                market,
                g: &g,
                options: o,
            });
            checks += c;
            binding += b;
        }
    }
    // Not vacuous: nodes were driven to their capacity many times.
    assert!(binding > 100, "only {binding} binding (node, round) pairs");
    println!("capacity: {checks} (node, round) checks, {binding} at capacity");
}
