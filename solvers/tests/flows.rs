//! The flow algorithms settlement builds on (`brokerflow_solvers::flows`): the
//! per-node reach costs on a hand-computed case and against the pass-by-pass
//! relaxation they replaced, on random generated markets; and flow decomposition
//! conserving every commodity's flow.

use brokerflow_graphs::generate::{generate, GeneratorConfig, Range};
use brokerflow_graphs::{examples, ExpandedGraph, NodeKind};
use brokerflow_solvers::flows::{decompose, reach_costs, support};
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::Allocation;
use petgraph::graph::EdgeIndex;

/// The relaxation `reach_costs` used before it called petgraph's Bellman–Ford:
/// |nodes| passes over `edges`, never out of a provider, stopping when nothing changes.
fn reach_costs_by_passes(
    g: &ExpandedGraph,
    k: usize,
    edges: &[EdgeIndex],
    longest: bool,
) -> Vec<Option<f64>> {
    let mut d: Vec<Option<f64>> = vec![None; g.graph.node_count()];
    d[g.commodities[k].source.index()] = Some(0.0);
    for _ in 0..g.graph.node_count() {
        let mut changed = false;
        for &e in edges {
            let Some((t, h)) = g.graph.edge_endpoints(e) else {
                continue;
            };
            if matches!(g.node(t).kind, NodeKind::Provider(_)) {
                continue;
            }
            let Some(dt) = d[t.index()] else { continue };
            let cand = dt + g.unit_cost(e, k);
            let better = match d[h.index()] {
                None => true,
                Some(old) => {
                    if longest {
                        cand > old
                    } else {
                        cand < old
                    }
                }
            };
            if better {
                d[h.index()] = Some(cand);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    d
}

/// tiny (graphs/markets/tiny.md): u2 enters at b1 (no cost); b1 sells to p1 over a
/// free link and forwards to b2 over a link of cost 1; b2 charges 1 per job and sells
/// to p2 over a bandwidth node. Per job from u2: b1 0, p1 0, b2 1, n(b2→p2) 2, p2 2;
/// u2's sink lies behind the providers, so it is not reached; u1's bandwidth node
/// and u3 are not reached from u2. The paths are unique, so the dearest costs are the
/// same.
#[test]
fn reach_costs_on_tiny_by_hand() {
    let g = ExpandedGraph::new(&examples::tiny());
    let u2 = 1;
    let at = |d: &[Option<f64>], name: &str| d[g.node_named(name).unwrap().index()];
    for longest in [false, true] {
        let d = reach_costs(&g, u2, &g.commodities[u2].usable, longest);
        assert_eq!(at(&d, "u2"), Some(0.0));
        assert_eq!(at(&d, "b1"), Some(0.0));
        assert_eq!(at(&d, "p1"), Some(0.0));
        assert_eq!(at(&d, "b2"), Some(1.0));
        assert_eq!(at(&d, "b2->p2"), Some(2.0));
        assert_eq!(at(&d, "p2"), Some(2.0));
        assert_eq!(at(&d, "u1->b1"), None);
        assert_eq!(at(&d, "u3"), None);
        assert_eq!(d[g.commodities[u2].sink.index()], None);
    }
}

fn random_config() -> GeneratorConfig {
    GeneratorConfig {
        users: 5,
        brokers: 3,
        providers: 4,
        link_probability: Some(0.6),
        broker_link_probability: 0.4,
        eligibility: 0.25,
        valuation: Range::new(1.0, 100.0),
        ..GeneratorConfig::default()
    }
}

/// On 60 random markets, for every commodity: the cheapest costs over its usable
/// edges, and the cheapest and dearest over its support in P3's optimum (acyclic),
/// are those of the old relaxation, node for node.
#[test]
fn reach_costs_match_the_relaxation_they_replaced() {
    let mut compared = 0;
    for seed in 0..60 {
        let m = generate(&random_config(), seed).expect("valid configuration");
        let g = ExpandedGraph::new(&m);
        let p3 = Allocation::lp(&g, Backend::DEFAULT).expect("P3");
        for k in 0..g.commodities.len() {
            let usable = &g.commodities[k].usable;
            let on_support = support(&g, &p3.flow, k);
            for (edges, longest) in [(usable, false), (&on_support, false), (&on_support, true)] {
                let new = reach_costs(&g, k, edges, longest);
                let old = reach_costs_by_passes(&g, k, edges, longest);
                assert_eq!(new.len(), old.len());
                for (n, (a, b)) in new.iter().zip(&old).enumerate() {
                    match (a, b) {
                        (Some(a), Some(b)) => assert!(
                            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                            "seed {seed} commodity {k} node {n} longest {longest}: {a} vs {b}"
                        ),
                        _ => assert_eq!(a, b, "seed {seed} commodity {k} node {n}"),
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 1000, "{compared} node costs compared");
}

/// A decomposition's paths carry each commodity's whole served amount from s_k to
/// t_k, and each edge's flow is the sum of the paths through it (on P3's optimum of
/// random markets).
#[test]
fn decomposition_conserves_every_commodity() {
    for seed in 0..30 {
        let m = generate(&random_config(), seed).expect("valid configuration");
        let g = ExpandedGraph::new(&m);
        let flow = Allocation::lp(&g, Backend::DEFAULT).expect("P3").flow;
        let paths = decompose(&g, &flow, 1e-12);
        for (k, c) in g.commodities.iter().enumerate() {
            let mine: Vec<_> = paths.iter().filter(|p| p.commodity == k).collect();
            let served: f64 = mine.iter().map(|p| p.amount).sum();
            let scale = c.demand.max(1.0);
            assert!(
                (served - flow.served(&g, k)).abs() <= 1e-9 * scale,
                "seed {seed} {}: paths carry {served}, the flow serves {}",
                c.id,
                flow.served(&g, k)
            );
            for p in &mine {
                let first = g.graph.edge_endpoints(p.edges[0]).unwrap().0;
                let last = g.graph.edge_endpoints(*p.edges.last().unwrap()).unwrap().1;
                assert_eq!((first, last), (c.source, c.sink));
                assert!(matches!(g.node(p.provider).kind, NodeKind::Provider(_)));
                assert!(matches!(g.node(p.market).kind, NodeKind::Broker(_)));
            }
            for (e, x) in flow.edges(&g, k) {
                let through: f64 = mine
                    .iter()
                    .filter(|p| p.edges.contains(&e))
                    .map(|p| p.amount)
                    .sum();
                assert!(
                    (through - x).abs() <= 1e-9 * scale,
                    "seed {seed} {} edge {e:?}: paths {through}, flow {x}",
                    c.id
                );
            }
        }
    }
}
