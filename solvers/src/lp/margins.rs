//! Margin pruning for P3: the usable pairs that some optimal welfare flow could use.
//!
//! A unit of commodity k sent along an s_k → t_k path P earns v_k − Σ_{e∈P} c^k_e
//! (value minus the unit costs of [`ExpandedGraph::unit_cost`], all ≥ 0). If every
//! path through edge e earns less than 0, no optimal P3 flow puts any k on e:
//! removing the flow of such a path keeps every constraint (conservation, capacity,
//! 0 ≤ f_k ≤ d_k) and raises W. So P3 restricted to the other pairs has the same
//! optimal flows and the same optimum; its optimal resource prices and demand duals
//! are those of P3 too (any path left out earns < 0 ≤ its prices plus λ_k, so they
//! stay dual feasible). P1 and P2 route fixed amounts and keep every usable pair.
//!
//! Complexity: two Dijkstra searches per commodity over its own usable pairs,
//! O(pairs · log pairs) in all.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use brokerflow_graphs::{ExpandedGraph, TotalOrder};
use petgraph::graph::NodeIndex;

/// Per usable pair of G′ ([`UsablePairs`](brokerflow_graphs::UsablePairs) ids): whether its edge lies on some
/// s_k → t_k path of commodity k with value − cost ≥ 0 (paths of margin exactly 0
/// are kept, so the test never hinges on round-off).
pub fn profitable_pairs(g: &ExpandedGraph) -> Vec<bool> {
    let pairs = g.pairs();
    let nodes = g.graph.node_count();
    let mut keep = vec![false; pairs.len()];
    let mut from_source = Distances::new(nodes);
    let mut to_sink = Distances::new(nodes);
    for (k, c) in g.commodities.iter().enumerate() {
        if pairs.range(k).is_empty() {
            continue;
        }
        let cost = |pair: usize| g.unit_cost(pairs.edge(pair), k);
        from_source.run(
            c.source,
            |n| pairs.leaving_of(n, k),
            |p| (pairs.head(p), cost(p)),
        );
        to_sink.run(
            c.sink,
            |n| pairs.entering_of(n, k),
            |p| (pairs.tail(p), cost(p)),
        );
        for pair in pairs.range(k) {
            let through =
                from_source.get(pairs.tail(pair)) + cost(pair) + to_sink.get(pairs.head(pair));
            // Relative slack so that a margin of exactly 0 is kept despite round-off.
            keep[pair] = through <= c.valuation + 1e-12 * c.valuation.abs().max(1.0);
        }
    }
    keep
}

/// Dijkstra distances with reusable storage: only the nodes a search reaches are
/// reset by the next one.
struct Distances {
    dist: Vec<f64>,
    reached: Vec<NodeIndex>,
}

impl Distances {
    fn new(nodes: usize) -> Distances {
        Distances {
            dist: vec![f64::INFINITY; nodes],
            reached: Vec::new(),
        }
    }

    fn get(&self, n: NodeIndex) -> f64 {
        self.dist[n.index()]
    }

    /// Shortest distances from `start` over the arcs `arcs(n)` (pair ids), each
    /// leading to `step(pair).0` at cost `step(pair).1 ≥ 0`.
    fn run<'a>(
        &mut self,
        start: NodeIndex,
        arcs: impl Fn(NodeIndex) -> &'a [usize],
        step: impl Fn(usize) -> (NodeIndex, f64),
    ) {
        for n in self.reached.drain(..) {
            self.dist[n.index()] = f64::INFINITY;
        }
        self.dist[start.index()] = 0.0;
        self.reached.push(start);
        let mut heap = BinaryHeap::new();
        heap.push((Reverse(TotalOrder(0.0)), start.index()));
        while let Some((Reverse(TotalOrder(d)), n)) = heap.pop() {
            if d > self.dist[n] {
                continue;
            }
            for &pair in arcs(NodeIndex::new(n)) {
                let (m, c) = step(pair);
                let via = d + c;
                if via < self.dist[m.index()] {
                    if self.dist[m.index()] == f64::INFINITY {
                        self.reached.push(m);
                    }
                    self.dist[m.index()] = via;
                    heap.push((Reverse(TotalOrder(via)), m.index()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::Market;

    /// u reaches p1 (cost 1 per job, value 3: margin 2) and p2 (cost 4: margin −1)
    /// through b. By hand: the pairs into and out of b's link to p2 and p2's delivery
    /// are pruned; u->b, b->p1 and p1's delivery are kept.
    #[test]
    fn negative_margin_paths_are_pruned_by_hand() {
        let m = Market::from_json_str(
            r#"{"name": "margins",
              "users": [{"id": "u", "demand": 10, "requirement": 1, "valuation": 3}],
              "brokers": [{"id": "b", "capacity": 8}],
              "providers": [{"id": "p1", "capacity": 5, "cost": 1},
                            {"id": "p2", "capacity": 5, "cost": 4}],
              "links": [{"from": "u", "to": "b"}, {"from": "b", "to": "p1"},
                        {"from": "b", "to": "p2"}]}"#,
            "test",
        )
        .unwrap();
        let g = ExpandedGraph::new(&m);
        let keep = profitable_pairs(&g);
        let pairs = g.pairs();
        let name = |n: NodeIndex| g.node(n).name.clone();
        let kept: Vec<(String, String)> = (0..pairs.len())
            .filter(|&p| keep[p])
            .map(|p| (name(pairs.tail(p)), name(pairs.head(p))))
            .collect();
        let dropped: Vec<(String, String)> = (0..pairs.len())
            .filter(|&p| !keep[p])
            .map(|p| (name(pairs.tail(p)), name(pairs.head(p))))
            .collect();
        let sink = name(g.commodities[0].sink);
        let own = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert!(kept.contains(&own("u", "b")), "{kept:?}");
        assert!(kept.contains(&own("b", "p1")), "{kept:?}");
        assert!(kept.contains(&own("p1", &sink)), "{kept:?}");
        assert_eq!(dropped, vec![own("b", "p2"), own("p2", &sink)]);
    }
}
