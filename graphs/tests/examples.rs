//! The bundled example markets (`graphs/markets/*.json`): they load, and their
//! expanded graphs G′ have the sizes counted by hand (the counting is written out
//! beside each assertion; for `tiny` in full in `graphs/markets/tiny.md` §2).
//! For `tiny`, the hand-derived optimal routings of tiny.md are rebuilt as flows and
//! their welfare is checked against the hand numbers.

use brokerflow_graphs::examples::{self, FIGURE3_JSON, LINKED_JSON, POSTED_JSON, TINY_JSON};
use brokerflow_graphs::{ExpandedGraph, Flow, Market, NodeKind, ValidMarket};
use petgraph::visit::EdgeRef;

mod common;

/// Tolerance for sums of a few round decimals.
const EPS: f64 = 1e-9;

fn node(g: &ExpandedGraph, name: &str) -> petgraph::graph::NodeIndex {
    g.node_named(name)
        .unwrap_or_else(|| panic!("G' has no node named {name}"))
}

/// "tail -> head" names of commodity k's usable edges, sorted.
fn usable_names(g: &ExpandedGraph, k: usize) -> Vec<String> {
    let mut names: Vec<String> = g.commodities[k]
        .usable
        .iter()
        .map(|&e| {
            let (a, b) = g.graph.edge_endpoints(e).expect("edge of G'");
            format!("{} => {}", g.node(a).name, g.node(b).name)
        })
        .collect();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn per_commodity(g: &ExpandedGraph) -> Vec<usize> {
    g.commodities.iter().map(|c| c.usable.len()).collect()
}

/// Number of provider → collection point edges of G′.
fn provider_to_collection_edges(g: &ExpandedGraph) -> usize {
    g.graph
        .edge_references()
        .filter(|e| {
            matches!(g.node(e.source()).kind, NodeKind::Provider(_))
                && matches!(g.node(e.target()).kind, NodeKind::Collection(_))
        })
        .count()
}

/// The example `bundled` (its text `text`) is named `name`, loads from its file
/// `file`, and the bundled text parses to it.
fn example_loads_and_matches_its_file(bundled: ValidMarket, text: &str, file: &str, name: &str) {
    assert_eq!(bundled.name, name);
    let from_disk = Market::load(common::bundled_path(file)).expect("example file loads");
    assert_eq!(
        bundled, from_disk,
        "{file}: bundled text differs from the file"
    );
    assert_eq!(
        Market::from_json_str(text, file).expect("bundled text parses"),
        bundled
    );
}

#[test]
fn tiny_loads_and_matches_its_file() {
    example_loads_and_matches_its_file(examples::tiny(), TINY_JSON, "tiny.json", "tiny");
}

#[test]
fn figure3_loads_and_matches_its_file() {
    example_loads_and_matches_its_file(
        examples::figure3(),
        FIGURE3_JSON,
        "figure3.json",
        "figure3",
    );
}

#[test]
fn linked_loads_and_matches_its_file() {
    example_loads_and_matches_its_file(examples::linked(), LINKED_JSON, "linked.json", "linked");
}

#[test]
fn posted_loads_and_matches_its_file() {
    example_loads_and_matches_its_file(examples::posted(), POSTED_JSON, "posted.json", "posted");
}

#[test]
fn example_sizes_are_as_described() {
    // (users, brokers, providers, links), read off each file.
    let sizes = |m: &Market| {
        (
            m.users.len(),
            m.brokers.len(),
            m.providers.len(),
            m.links.len(),
        )
    };
    assert_eq!(sizes(&examples::tiny()), (3, 2, 2, 6));
    assert_eq!(sizes(&examples::figure3()), (5, 5, 5, 15));
    assert_eq!(sizes(&examples::linked()), (4, 4, 4, 14));
    assert_eq!(sizes(&examples::posted()), (2, 1, 2, 4));
}

#[test]
fn tiny_expanded_graph_counted_by_hand() {
    let g = ExpandedGraph::new(&examples::tiny());
    // Nodes: 3 users + 2 brokers + 2 providers + 3 bandwidth nodes (u1->b1, b1->b2,
    // b2->p2: the finite links) + 3 collection points = 13.
    assert_eq!(g.graph.node_count(), 13);
    // Edges: 3 finite links × 2 + 3 unlimited links × 1 = 9 link edges, plus
    // provider → t(k) where k is eligible and reaches the provider: p1 to t(u1), t(u2)
    // and p2 to t(u2), t(u3) (u1 may use p1 only; u3 reaches b2 and p2 only) = 4.
    // 9 + 4 = 13.
    assert_eq!(g.graph.edge_count(), 13);
    // Usable pairs: u1 4 (u1 → u1->b1 → b1 → p1 → t(u1)); u2 8 (u2 → b1, then p1 →
    // t(u2), or b1 → b1->b2 → b2 → b2->p2 → p2 → t(u2)); u3 4 (u3 → b2 → b2->p2 → p2 →
    // t(u3)). 4 + 8 + 4 = 16.
    assert_eq!(per_commodity(&g), vec![4, 8, 4]);
    assert_eq!(g.usable_pairs(), 16);
    assert_eq!(
        usable_names(&g, 0),
        sorted(&["u1 => u1->b1", "u1->b1 => b1", "b1 => p1", "p1 => t(u1)"])
    );
    assert_eq!(
        usable_names(&g, 1),
        sorted(&[
            "u2 => b1",
            "b1 => p1",
            "p1 => t(u2)",
            "b1 => b1->b2",
            "b1->b2 => b2",
            "b2 => b2->p2",
            "b2->p2 => p2",
            "p2 => t(u2)",
        ])
    );
    assert_eq!(
        usable_names(&g, 2),
        sorted(&["u3 => b2", "b2 => b2->p2", "b2->p2 => p2", "p2 => t(u3)"])
    );
    // u3 cannot reach p1 (no link b2 → b1), so sparse G′ has no p1 → t(u3) at all.
    assert!(g
        .graph
        .find_edge(node(&g, "p1"), node(&g, "t(u3)"))
        .is_none());
    // The shared pair index agrees with the per-commodity lists, and per node it lists
    // exactly the pairs whose edge leaves or enters that node.
    let pairs = g.pairs();
    assert_eq!(pairs.len(), 16);
    for (k, c) in g.commodities.iter().enumerate() {
        assert_eq!(pairs.edges_of(k), &c.usable[..]);
    }
    for n in g.graph.node_indices() {
        for &p in pairs.leaving(n) {
            assert_eq!(g.graph.edge_endpoints(pairs.edge(p)).unwrap().0, n);
        }
        for &p in pairs.entering(n) {
            assert_eq!(g.graph.edge_endpoints(pairs.edge(p)).unwrap().1, n);
        }
    }
    let leaving: usize = g.graph.node_indices().map(|n| pairs.leaving(n).len()).sum();
    assert_eq!(leaving, 16);
    // b1 sends u1 to p1 and u2 to p1 or b1->b2: three pairs, by commodity.
    let b1 = pairs.leaving(node(&g, "b1"));
    assert_eq!(b1.len(), 3);
    assert!(b1
        .windows(2)
        .all(|w| pairs.commodity(w[0]) <= pairs.commodity(w[1])));
}

#[test]
fn figure3_expanded_graph_counted_by_hand() {
    let g = ExpandedGraph::new(&examples::figure3());
    // Nodes: 5 users + 5 brokers + 5 providers + 15 bandwidth nodes (all 15 links are
    // finite) + 5 collection points = 35.
    assert_eq!(g.graph.node_count(), 35);
    // Edges: 15 finite links × 2 = 30, plus one provider → t(k) edge per provider
    // that user k reaches (no eligibility lists): u1 p1; u2 p2, p3; u3 p2, p3, p4;
    // u4 p3, p4; u5 p4, p5 = 10. 30 + 10 = 40.
    assert_eq!(g.graph.edge_count(), 40);
    // Usable pairs (every link is two edges, each provider one edge to t(k)):
    //   u1: u1→b1→p1 and u1→b3→p1: 4 links × 2 + p1→t = 9
    //   u2: u2→b2, b2→p2, b2→p3: 3 × 2 + 2 sink edges = 8
    //   u3: u3→b2, u3→b4, b2→p2, b2→p3, b4→p3, b4→p4: 6 × 2 + p2, p3, p4 → t = 15
    //   u4: u4→b4, b4→p3, b4→p4: 3 × 2 + 2 = 8
    //   u5: u5→b5, b5→p5, b5→p4: 3 × 2 + 2 = 8
    // 9 + 8 + 15 + 8 + 8 = 48.
    assert_eq!(per_commodity(&g), vec![9, 8, 15, 8, 8]);
    assert_eq!(g.usable_pairs(), 48);
}

#[test]
fn linked_expanded_graph_counted_by_hand() {
    let g = ExpandedGraph::new(&examples::linked());
    // Finite links: ua1→ba1, ua2→ba2, ba2→pa1, ub1→bb1, bb1→pb2, ba1→bb1, bb1→ba1,
    // ba2→bb2 = 8; unlimited: ua2→ba1, ba1→pa1, ba2→pa2, ub2→bb2, bb1→pb1, bb2→pb2 = 6.
    // Nodes: 4 users + 4 brokers + 4 providers + 8 bandwidth nodes + 4 collection
    // points = 24.
    assert_eq!(g.graph.node_count(), 24);
    // Edges: 8 × 2 + 6 × 1 = 22 link edges, plus one provider → t(k) edge per
    // provider k reaches: ua1 (ba1, bb1) pa1, pb1, pb2; ua2 (ba1, ba2, bb1, bb2) all 4;
    // ub1 (bb1, ba1) pa1, pb1, pb2; ub2 (bb2) pb2 = 3 + 4 + 3 + 1 = 11. 22 + 11 = 33.
    assert_eq!(g.graph.edge_count(), 33);
    // Usable pairs. ba1 and bb1 form a strongly connected block C through ba1->bb1
    // and bb1->ba1; C's 8 edges (ba1→pa1; ba1→ba1->bb1→bb1; bb1→bb1->ba1→ba1;
    // bb1→pb1; bb1→bb1->pb2→pb2) are usable by every commodity that enters C, with
    // pa1, pb1, pb2 → t(k) (3 edges).
    //   ua1: ua1→ua1->ba1→ba1 (2) + 8 + 3 = 13
    //   ua2: ua2→ba1 (1) + ua2→ua2->ba2→ba2 (2) + ba2→pa2 (1) + ba2→ba2->pa1→pa1 (2)
    //        + ba2→ba2->bb2→bb2 (2) + bb2→pb2 (1) + 8 + pa1, pa2, pb1, pb2 → t (4) = 21
    //   ub1: ub1→ub1->bb1→bb1 (2) + 8 + 3 = 13
    //   ub2: ub2→bb2, bb2→pb2, pb2→t(ub2) = 3
    // 13 + 21 + 13 + 3 = 50.
    assert_eq!(per_commodity(&g), vec![13, 21, 13, 3]);
    assert_eq!(g.usable_pairs(), 50);
}

#[test]
fn no_example_has_a_stranded_user() {
    for m in [examples::tiny(), examples::figure3(), examples::linked()] {
        let g = ExpandedGraph::new(&m);
        let stranded: Vec<&str> = g.stranded().map(|c| c.id.as_str()).collect();
        assert!(stranded.is_empty(), "{}: stranded {stranded:?}", m.name);
    }
}

#[test]
fn only_linked_is_cyclic() {
    // tiny's one broker→broker link runs b1 → b2 only; figure3 has none; linked has
    // ba1 → bb1 and bb1 → ba1.
    assert!(!ExpandedGraph::new(&examples::tiny()).is_cyclic());
    assert!(!ExpandedGraph::new(&examples::figure3()).is_cyclic());
    let g = ExpandedGraph::new(&examples::linked());
    assert!(g.is_cyclic());
    // The cycle: ba1 → ba1->bb1 → bb1 → bb1->ba1 → ba1.
    let path = ["ba1", "ba1->bb1", "bb1", "bb1->ba1", "ba1"];
    for w in path.windows(2) {
        assert!(
            g.graph.find_edge(node(&g, w[0]), node(&g, w[1])).is_some(),
            "no edge {} -> {}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn tiny_eligibility_removes_exactly_p2_to_t_u1() {
    let market = examples::tiny();
    let g = ExpandedGraph::new(&market);
    // 2 providers × 3 users = 6 possible edges, minus p2 → t(u1) (not eligible) and
    // p1 → t(u3) (u3 cannot reach p1: sparse G′ builds only edges a path can use).
    assert_eq!(provider_to_collection_edges(&g), 4);
    for p in ["p1", "p2"] {
        for u in ["u1", "u2", "u3"] {
            let present = g
                .graph
                .find_edge(node(&g, p), node(&g, &format!("t({u})")))
                .is_some();
            let expected = (p, u) != ("p2", "u1") && (p, u) != ("p1", "u3");
            assert_eq!(present, expected, "{p} -> t({u})");
        }
    }
    // Without the restriction the edge comes back, and u1 can use the detour to p2:
    // its usable set grows from 4 to 4 + b1 → b1->b2 → b2 → b2->p2 → p2 → t(u1) = 9.
    let mut open = market.clone().into_market();
    open.users[0].eligible = None;
    let g = ExpandedGraph::new(&open.validate().unwrap());
    assert_eq!(provider_to_collection_edges(&g), 5);
    assert_eq!(g.graph.edge_count(), 14);
    assert_eq!(per_commodity(&g), vec![9, 8, 4]);
}

#[test]
fn figure3_and_linked_have_no_eligibility_restriction() {
    // No eligibility lists: one edge per provider a user reaches (counted in the
    // hand counts above): figure3 10 of 5 × 5, linked 11 of 4 × 4.
    assert_eq!(
        provider_to_collection_edges(&ExpandedGraph::new(&examples::figure3())),
        10
    );
    assert_eq!(
        provider_to_collection_edges(&ExpandedGraph::new(&examples::linked())),
        11
    );
}

/// Adds `amount` of commodity `k` along the G′ path through the named nodes.
fn add_path(g: &ExpandedGraph, flow: &mut Flow, k: usize, path: &[&str], amount: f64) {
    for w in path.windows(2) {
        let e = g
            .graph
            .find_edge(node(g, w[0]), node(g, w[1]))
            .unwrap_or_else(|| panic!("no edge {} -> {}", w[0], w[1]));
        let i = g.commodities[k]
            .usable
            .binary_search(&e)
            .unwrap_or_else(|_| panic!("{} -> {} not usable by {k}", w[0], w[1]));
        flow.x[k][i] += amount;
    }
}

// The routes of tiny.md §3, as G′ paths.
const R1: &[&str] = &["u1", "u1->b1", "b1", "p1", "t(u1)"];
const R2A: &[&str] = &["u2", "b1", "p1", "t(u2)"];
const R2B: &[&str] = &["u2", "b1", "b1->b2", "b2", "b2->p2", "p2", "t(u2)"];
const R3: &[&str] = &["u3", "b2", "b2->p2", "p2", "t(u3)"];

/// The tiny.md flow with x on R1, y on R2a, z on R2b, w on R3.
fn tiny_flow(g: &ExpandedGraph, x: f64, y: f64, z: f64, w: f64) -> Flow {
    let mut f = Flow::zero(g);
    add_path(g, &mut f, 0, R1, x);
    add_path(g, &mut f, 1, R2A, y);
    add_path(g, &mut f, 1, R2B, z);
    add_path(g, &mut f, 2, R3, w);
    f
}

/// Resource used at each capacitated node: Σ_k r^k_n · (flow of k out of n).
fn within_capacity(g: &ExpandedGraph, f: &Flow) -> bool {
    g.graph.node_indices().all(|n| {
        let Some(cap) = g.node(n).capacity else {
            return true;
        };
        let used: f64 = (0..g.commodities.len())
            .map(|k| {
                f.edges(g, k)
                    .filter(|&(e, _)| g.graph.edge_endpoints(e).is_some_and(|(t, _)| t == n))
                    .map(|(_, x)| g.resource_use(n, k) * x)
                    .sum::<f64>()
            })
            .sum();
        used <= cap + EPS
    })
}

#[test]
fn tiny_route_costs_are_the_hand_costs() {
    // tiny.md §3: cost per job of R1 1, R2a 2, R2b 6 (link 1 + b2 1 + p2 2·2), R3 3.
    let g = ExpandedGraph::new(&examples::tiny());
    let cost = |k: usize, path: &[&str]| -> f64 {
        path.windows(2)
            .map(|w| {
                let e = g
                    .graph
                    .find_edge(node(&g, w[0]), node(&g, w[1]))
                    .expect("edge on route");
                g.unit_cost(e, k)
            })
            .sum()
    };
    assert!((cost(0, R1) - 1.0).abs() < EPS);
    assert!((cost(1, R2A) - 2.0).abs() < EPS);
    assert!((cost(1, R2B) - 6.0).abs() < EPS);
    assert!((cost(2, R3) - 3.0).abs() < EPS);
}

#[test]
fn tiny_hand_optima_have_the_hand_welfare() {
    let g = ExpandedGraph::new(&examples::tiny());
    // (x, y, z, w) of tiny.md: P2 (5, 5, 5, 5) → 130; P2⁻ (5, 3, 7, 5) → 122;
    // P3 (5, 5, 8, 0) → 141. A P1 optimum at δ* = 0.5: (5, 4, 6, 5).
    for (what, (x, y, z, w), welfare) in [
        ("P2", (5.0, 5.0, 5.0, 5.0), 130.0),
        ("P2-", (5.0, 3.0, 7.0, 5.0), 122.0),
        ("P3", (5.0, 5.0, 8.0, 0.0), 141.0),
        ("P1", (5.0, 4.0, 6.0, 5.0), 126.0),
    ] {
        let f = tiny_flow(&g, x, y, z, w);
        assert!(within_capacity(&g, &f), "{what} exceeds a capacity");
        assert!(
            (f.welfare(&g) - welfare).abs() < EPS,
            "{what}: welfare {} != {welfare}",
            f.welfare(&g)
        );
        let served = [f.served(&g, 0), f.served(&g, 1), f.served(&g, 2)];
        assert_eq!(served, [x, y + z, w], "{what}");
    }
    // One more u2 job on either route of P3 breaks a capacity (p1, or b1->b2).
    assert!(!within_capacity(&g, &tiny_flow(&g, 5.0, 5.5, 8.0, 0.0)));
    assert!(!within_capacity(&g, &tiny_flow(&g, 5.0, 5.0, 8.5, 0.0)));
    // The P2⁻ routing is at p2's limit: 0.5 more on the detour is infeasible.
    assert!(!within_capacity(&g, &tiny_flow(&g, 5.0, 2.5, 7.5, 5.0)));
}

#[test]
fn tiny_meta_records_the_hand_optima() {
    // tiny.json's meta must say what tiny.md derives (kept in sync by this test).
    let m = examples::tiny();
    let meta = m.meta.clone().expect("tiny has meta");
    let h = &meta["hand_optima"];
    assert_eq!(h["delta"], 0.5);
    assert_eq!(h["p2_welfare"], 130);
    assert_eq!(h["p2_minus_welfare"], 122);
    assert_eq!(h["p3_welfare"], 141);
    assert_eq!(
        h["p3_served"],
        serde_json::json!({"u1": 5, "u2": 13, "u3": 0})
    );
    assert_eq!(
        h["p3_prices"],
        serde_json::json!({"b1": 0, "b2": 0, "p1": 3, "p2": 0,
                           "u1->b1": 16, "b1->b2": 2, "b2->p2": 0})
    );
    assert_eq!(h["graph_nodes"], 13);
    assert_eq!(h["graph_edges"], 13);
    assert_eq!(h["usable_pairs"], 16);
}
