//! The steady part of a window-averaged routing (design §5), worked by hand on tiny's
//! G′, and as a property of every engine run: the reported flow passes the same
//! independent check as an LP's, and serves at most each demand.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{examples, ExpandedGraph, Flow};
use brokerflow_solvers::check::{check_flow, Tolerance};
use brokerflow_solvers::engine;
use brokerflow_solvers::engine::steady::steady_flow;

mod common;
use common::every_variant_and_injection;

/// Puts `x` jobs of commodity `k` on the G′ edge between the nodes named `from`, `to`.
fn put(g: &ExpandedGraph, flow: &mut Flow, k: usize, from: &str, to: &str, x: f64) {
    let e = g
        .graph
        .find_edge(g.node_named(from).unwrap(), g.node_named(to).unwrap())
        .unwrap_or_else(|| panic!("no edge {from} -> {to}"));
    let pair = g.pairs().find(k, e).expect("usable pair");
    flow.x[k][pair - g.pairs().range(k).start] = x;
}

fn get(g: &ExpandedGraph, flow: &Flow, k: usize, from: &str, to: &str) -> f64 {
    let e = g
        .graph
        .find_edge(g.node_named(from).unwrap(), g.node_named(to).unwrap())
        .unwrap();
    flow.get(g, k, e)
}

/// u3's only route: u3 → b2 → b2->p2 → p2 → t(u3).
const U3: [(&str, &str); 4] = [
    ("u3", "b2"),
    ("b2", "b2->p2"),
    ("b2->p2", "p2"),
    ("p2", "t(u3)"),
];

fn u3_route(g: &ExpandedGraph, amounts: [f64; 4]) -> Flow {
    let mut flow = Flow::zero(g);
    for ((from, to), x) in U3.iter().zip(amounts) {
        put(g, &mut flow, 2, from, to, x);
    }
    flow
}

fn demands(g: &ExpandedGraph) -> Vec<f64> {
    g.commodities.iter().map(|c| c.demand).collect()
}

#[test]
fn a_draining_queue_is_not_served() {
    // b2 forwards 6 per round but receives 4: 2 per round come out of its queue.
    let g = ExpandedGraph::new(&examples::tiny());
    let y = steady_flow(&g, &u3_route(&g, [4.0, 6.0, 6.0, 6.0]), &demands(&g));
    for (from, to) in U3 {
        assert_eq!(get(&g, &y, 2, from, to), 4.0, "{from} -> {to}");
    }
}

#[test]
fn a_filling_queue_keeps_what_is_sent_on() {
    // b2 receives 8 and forwards 6: the 2 that pile up are not part of the flow.
    let g = ExpandedGraph::new(&examples::tiny());
    let y = steady_flow(&g, &u3_route(&g, [8.0, 6.0, 6.0, 6.0]), &demands(&g));
    for (from, to) in U3 {
        assert_eq!(get(&g, &y, 2, from, to), 6.0, "{from} -> {to}");
    }
}

#[test]
fn no_user_is_served_more_than_its_demand() {
    // u3's demand is 10; averages of 12 (a queue at the source draining) become 10.
    let g = ExpandedGraph::new(&examples::tiny());
    let y = steady_flow(&g, &u3_route(&g, [12.0; 4]), &demands(&g));
    assert_eq!(y.served(&g, 2), 10.0);
    assert!(check_flow(&g, &y, Tolerance::EXACT).ok());
}

#[test]
fn branches_keep_their_shares() {
    // u2 (demand 20) receives 10 at b1 but b1 sends 4 to p1 and 8 towards b2: each
    // branch keeps its share of the 10 (10/3 and 20/3); b2 sends only 5 on, so the
    // branch through b2 shrinks to 5 back to b1, and b1 receives 10/3 + 5 from u2.
    let g = ExpandedGraph::new(&examples::tiny());
    let mut x = Flow::zero(&g);
    for (from, to, v) in [
        ("u2", "b1", 10.0),
        ("b1", "p1", 4.0),
        ("p1", "t(u2)", 4.0),
        ("b1", "b1->b2", 8.0),
        ("b1->b2", "b2", 8.0),
        ("b2", "b2->p2", 5.0),
        ("b2->p2", "p2", 5.0),
        ("p2", "t(u2)", 5.0),
    ] {
        put(&g, &mut x, 1, from, to, v);
    }
    let y = steady_flow(&g, &x, &demands(&g));
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(get(&g, &y, 1, "b1", "p1"), 10.0 / 3.0));
    assert!(close(get(&g, &y, 1, "b1", "b1->b2"), 5.0));
    assert!(close(get(&g, &y, 1, "b2", "b2->p2"), 5.0));
    assert!(close(get(&g, &y, 1, "u2", "b1"), 10.0 / 3.0 + 5.0));
    assert!(close(y.served(&g, 1), 10.0 / 3.0 + 5.0));
    assert!(check_flow(&g, &y, Tolerance::new(1e-12)).ok());
}

#[test]
fn every_engine_run_reports_a_feasible_flow_within_demand() {
    for seed in 0..30u64 {
        let config = GeneratorConfig {
            users: 3 + (seed % 8) as usize,
            brokers: 2 + (seed % 3) as usize,
            providers: 2 + ((seed / 3) % 3) as usize,
            broker_link_probability: if seed % 3 == 0 { 0.3 } else { 0.0 },
            contention: [0.5, 1.0, 2.0, 4.0][(seed % 4) as usize],
            ..GeneratorConfig::default()
        };
        let market = generate(&config, seed).unwrap();
        let g = ExpandedGraph::new(&market);
        for mut options in every_variant_and_injection(&g) {
            let (variant, injection) = (options.variant, options.injection);
            options.max_rounds = 3_000;
            let r = engine::run(&market, &g, &options).unwrap();
            let report = check_flow(&g, &r.flow, Tolerance::new(1e-9));
            assert!(report.ok(), "seed {seed} {variant:?}: {}", report.summary());
            for (k, c) in g.commodities.iter().enumerate() {
                // Within demand up to the round-off of summing the trimmed edge
                // amounts (one part in 10^12).
                assert!(
                    r.served(&g, k) <= c.demand * (1.0 + 1e-12),
                    "seed {seed} {variant:?} {injection:?}: {} served {} of demand {}",
                    c.id,
                    r.served(&g, k),
                    c.demand
                );
                // The trimmed part and the drift are reported, not hidden: what the
                // averages delivered is the steady flow plus the unsteady part.
                assert!(r.unsteady[k] >= -1e-9, "seed {seed}: {}", r.unsteady[k]);
            }
        }
    }
}
