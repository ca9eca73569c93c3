//! The welfare-seeking variant's local knowledge and its prices (design §5):
//!
//! * every node learns its cheapest cost to t_k by the distance-vector exchange in its
//!   announcements, and every source its user's scale V_k (c / (v_k − C_s) in demand
//!   mode, c / C_s in feasible mode): checked
//!   against an independent Dijkstra over k's usable edges of G′;
//! * the window-averaged multipliers λ are prices per resource unit that converge to
//!   P3's exact dual prices like 1/c: on `tiny` against the prices worked out by hand
//!   in graphs/markets/tiny.md §6 (u1->b1 16, p1 3, b1->b2 2, every other node 0), on
//!   `figure3` against the LP's dual.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{examples, ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::accounting::RoundLedger;
use brokerflow_solvers::engine::runtime::{nodes::Nodes, Executor};
use brokerflow_solvers::engine::setup::Setup;
use brokerflow_solvers::engine::variants::welfare_seeking::{WelfareSeeking, EASING};
use brokerflow_solvers::engine::{run, EngineOptions, Injection, Variant};
use brokerflow_solvers::lp::{self, LpOptions};

/// Cheapest unit cost from every node to t_k over k's usable edges: Dijkstra from the
/// collection point backwards (costs are non-negative), written here independently
/// of the engine. `None` where t_k is unreachable.
fn cheapest_to_go(g: &ExpandedGraph, k: usize) -> Vec<Option<f64>> {
    let c = &g.commodities[k];
    let mut best: Vec<Option<f64>> = vec![None; g.graph.node_count()];
    let mut done = vec![false; g.graph.node_count()];
    best[c.sink.index()] = Some(0.0);
    loop {
        let next = (0..best.len())
            .filter(|&n| !done[n] && best[n].is_some())
            .min_by(|&a, &b| best[a].unwrap().total_cmp(&best[b].unwrap()));
        let Some(n) = next else { break };
        done[n] = true;
        for &e in &c.usable {
            let (t, h) = g.graph.edge_endpoints(e).unwrap();
            if h.index() == n {
                let via = best[n].unwrap() + g.unit_cost(e, k);
                if best[t.index()].is_none_or(|old| via < old) {
                    best[t.index()] = Some(via);
                }
            }
        }
    }
    best
}

fn generated(seed: u64) -> ValidMarket {
    let config = GeneratorConfig {
        users: 8,
        brokers: 4,
        providers: 4,
        broker_link_probability: 0.3,
        ..GeneratorConfig::default()
    };
    generate(&config, seed).expect("valid generator config")
}

/// After a few rounds (more than the longest path has hops) every node's learned C^k_n
/// is the cheapest cost to t_k, and every source's V_k is, in demand mode,
/// c / (v_k − C^k_s) exactly when the user's value covers its cheapest route
/// (otherwise none: it admits nothing), and in feasible mode c / C^k_s.
#[test]
fn nodes_learn_cheapest_costs_and_scales_by_messages() {
    let mut markets = vec![examples::tiny(), examples::figure3(), examples::linked()];
    markets.extend((0..4).map(|s| generated(7000 + s)));
    for (i, m) in markets.iter().enumerate() {
        let g = ExpandedGraph::new(m);
        for injection in [Injection::Demand, Injection::Feasible { delta: Some(0.5) }] {
            let options = EngineOptions::new(Variant::WelfareSeeking, injection);
            // Every node through its own messages (the `nodes` runtime).
            let mut engine = Nodes::<WelfareSeeking>::new(&Setup::new(m, &g, &options).unwrap());
            let mut ledger = RoundLedger::new(g.commodities.len());
            for _ in 0..g.graph.node_count() + 1 {
                engine.round(&mut ledger);
            }
            let truth: Vec<Vec<Option<f64>>> = (0..g.commodities.len())
                .map(|k| cheapest_to_go(&g, k))
                .collect();
            let mut checked = 0;
            for (config, state) in engine.configs().iter().zip(engine.states()) {
                for (j, lc) in config.commodities.iter().enumerate() {
                    let want = truth[lc.local.k][config.node];
                    let got = state.policy[j].to_go.get();
                    assert!(
                        matches!((want, got), (Some(a), Some(b)) if (a - b).abs() < 1e-9),
                        "market {i}, node {}, commodity {}: learned {got:?}, cheapest {want:?}",
                        config.node,
                        lc.local.k
                    );
                    checked += 1;
                    let shaping = lc.policy;
                    if lc.local.injection > 0.0 {
                        let (c, cheapest) = (shaping.scale, want.unwrap());
                        let scale = if injection == Injection::Demand {
                            let surplus = shaping.valuation - cheapest;
                            (surplus > 0.0).then(|| c / surplus)
                        } else if cheapest > 0.0 {
                            Some(c / cheapest)
                        } else if shaping.valuation > 0.0 {
                            Some(c / shaping.valuation)
                        } else {
                            Some(c)
                        };
                        // A feasible-mode source eases V_k while its queue stands above
                        // height c and still grows (never in demand mode).
                        let eased = state.policy[j].eased;
                        if injection == Injection::Demand {
                            assert_eq!(eased, 0.0);
                        }
                        let scale = scale.map(|v| v * (-EASING * eased).exp());
                        assert_eq!(
                            state.policy[j].scale.get(),
                            scale,
                            "market {i}, source of {}",
                            lc.local.k
                        );
                    }
                }
            }
            assert!(checked > 0, "market {i}: nothing checked");
        }
    }
}

/// P3's dual prices by node name, from graphs/markets/tiny.md §6 (hand calculation).
const TINY_PRICES: [(&str, f64); 3] = [("u1->b1", 16.0), ("p1", 3.0), ("b1->b2", 2.0)];

/// Largest |λ_n − y_n| over the capacity-limited nodes of G′ for a demand-mode run at
/// c = `scale`; `y` by node index.
fn price_error(m: &Market, g: &ExpandedGraph, scale: f64, y: &[f64]) -> f64 {
    let mut options = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    options.welfare_scale = Some(scale);
    options.max_rounds = 100_000;
    let r = run(m, g, &options).unwrap();
    assert!(r.converged, "c = {scale}: not converged");
    g.graph
        .node_indices()
        .map(|n| match (g.node(n).capacity, r.prices[n.index()]) {
            (Some(_), Some(p)) => {
                assert!(p >= 0.0, "negative price at {}", g.node(n).name);
                (p - y[n.index()]).abs()
            }
            (None, None) => 0.0,
            (cap, p) => panic!("{}: capacity {cap:?} but price {p:?}", g.node(n).name),
        })
        .fold(0.0, f64::max)
}

/// The engine's prices approach P3's duals like 1/c: the queue gradient that carries
/// jobs (about 2·x̄ per hop, dimensionless) costs 2·x̄ / V_k money per hop, and V_k grows
/// with c. Each 4× step in c must cut the largest price error by at least 2.5× (4× in
/// the limit), and at c = 320 it must be within 5 % of the largest price.
#[test]
fn prices_converge_to_the_lp_duals() {
    let tiny = examples::tiny();
    let g = ExpandedGraph::new(&tiny);
    let mut y = vec![0.0; g.graph.node_count()];
    for (name, price) in TINY_PRICES {
        y[g.node_named(name).expect("tiny node").index()] = price;
    }
    let figure3 = examples::figure3();
    let g3 = ExpandedGraph::new(&figure3);
    let p3 = lp::max_welfare(
        &g3,
        &LpOptions {
            prices: true,
            ..LpOptions::default()
        },
    )
    .unwrap();
    let y3 = p3.prices.clone().expect("P3 prices");
    for (name, m, g, y) in [("tiny", &tiny, &g, &y), ("figure3", &figure3, &g3, &y3)] {
        let errors: Vec<f64> = [20.0, 80.0, 320.0]
            .iter()
            .map(|&c| price_error(m, g, c, y))
            .collect();
        let largest = y.iter().cloned().fold(0.0, f64::max);
        assert!(errors[0] > 0.0, "{name}: {errors:?}");
        assert!(
            errors[1] <= errors[0] / 2.5 && errors[2] <= errors[1] / 2.5,
            "{name}: price errors at c = 20, 80, 320: {errors:?}"
        );
        assert!(errors[2] <= 0.05 * largest, "{name}: {errors:?}");
    }
}
