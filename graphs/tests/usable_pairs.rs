//! G′'s usable pairs against a brute-force definition, on random markets with linked
//! brokers (cycles), eligibility lists and resources that are down (capacity 0):
//! edge e = (u, v) is usable by k exactly when u is reached from s_k and t_k is reached
//! from v, through market nodes of positive capacity (design §4). The brute force
//! searches an adjacency list made from G′'s edge list, not the builder's own search;
//! it also checks that G′ is sparse (every provider → t_k edge is usable by k) and that
//! the shared pair index lists each pair once at its tail and once at its head.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{ExpandedGraph, NodeKind, ValidMarket};
use petgraph::visit::EdgeRef;
use proptest::prelude::*;

fn brute_usable(g: &ExpandedGraph, k: usize) -> Vec<usize> {
    let n = g.graph.node_count();
    let c = &g.commodities[k];
    let carries = |v: usize| {
        let node = g.node(petgraph::graph::NodeIndex::new(v));
        let other_sink = matches!(node.kind, NodeKind::Collection(_)) && v != c.sink.index();
        !other_sink && node.capacity.is_none_or(|cap| cap > 0.0)
    };
    let edges: Vec<(usize, usize, usize)> = g
        .graph
        .edge_references()
        .map(|e| (e.source().index(), e.target().index(), e.id().index()))
        .collect();
    let search = |start: usize, forward: bool| -> Vec<bool> {
        let mut seen = vec![false; n];
        seen[start] = true;
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            for &(a, b, _) in &edges {
                let (from, to) = if forward { (a, b) } else { (b, a) };
                if from == v && !seen[to] && carries(to) {
                    seen[to] = true;
                    stack.push(to);
                }
            }
        }
        seen
    };
    let from_source = search(c.source.index(), true);
    let to_sink = search(c.sink.index(), false);
    let mut usable: Vec<usize> = edges
        .iter()
        .filter(|&&(a, b, _)| from_source[a] && to_sink[b] && from_source[b] && to_sink[a])
        .map(|&(_, _, e)| e)
        .collect();
    usable.sort_unstable();
    usable
}

fn market(seed: u64, down: &[usize], eligibility: f64, broker_links: f64) -> ValidMarket {
    let config = GeneratorConfig {
        users: 6,
        brokers: 4,
        providers: 4,
        eligibility,
        broker_link_probability: broker_links,
        ..GeneratorConfig::default()
    };
    let mut m = generate(&config, seed)
        .expect("valid generator settings")
        .into_market();
    // Take some resources down: brokers, providers and links of capacity 0.
    let (nb, np, nl) = (m.brokers.len(), m.providers.len(), m.links.len());
    for &d in down {
        match d % 3 {
            0 => m.brokers[d / 3 % nb].capacity = Some(0.0),
            1 => m.providers[d / 3 % np].capacity = Some(0.0),
            _ => m.links[d / 3 % nl].bandwidth = Some(0.0),
        }
    }
    m.validate()
        .expect("a resource down is still a valid market")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn usable_pairs_match_the_brute_force_definition(
        seed in 0u64..1_000,
        down in proptest::collection::vec(0usize..60, 0..4),
        eligibility in prop_oneof![Just(0.0), Just(0.5)],
        broker_links in prop_oneof![Just(0.0), Just(0.4)],
    ) {
        let m = market(seed, &down, eligibility, broker_links);
        let g = ExpandedGraph::new(&m);
        for (k, c) in g.commodities.iter().enumerate() {
            let built: Vec<usize> = c.usable.iter().map(|e| e.index()).collect();
            prop_assert_eq!(&built, &brute_usable(&g, k), "commodity {}", &c.id);
        }
        // Sparse: every provider → t_k edge is one that k uses.
        for e in g.graph.edge_references() {
            if let NodeKind::Collection(k) = g.node(e.target()).kind {
                prop_assert!(g.commodities[k].can_use(e.id()), "unused sink edge {:?}", e.id());
            }
        }
        // The pair index: each pair once among its tail's leaving and its head's
        // entering pairs.
        let pairs = g.pairs();
        let mut at_tail = vec![0u32; pairs.len()];
        let mut at_head = vec![0u32; pairs.len()];
        for n in g.graph.node_indices() {
            for &p in pairs.leaving(n) {
                prop_assert_eq!(pairs.tail(p), n);
                at_tail[p] += 1;
            }
            for &p in pairs.entering(n) {
                prop_assert_eq!(pairs.head(p), n);
                at_head[p] += 1;
            }
        }
        prop_assert!(at_tail.iter().chain(&at_head).all(|&c| c == 1));
    }
}
