//! Cycle cancelling: reported flows never circulate (design §2). Removing a cycle of a
//! commodity keeps conservation, lowers every node's resource use and, costs being
//! non-negative, never lowers welfare.

use std::collections::HashMap;

use brokerflow_graphs::{ExpandedGraph, Flow};

use crate::check::CycleSearch;

/// Cancels every directed cycle of positive flow, commodity by commodity, so each
/// commodity's flow is acyclic (as [`crate::check::is_acyclic`] sees it).
/// Deterministic: cycles are found in edge order.
pub fn cancel_cycles(g: &ExpandedGraph, flow: &mut Flow) {
    let mut search = CycleSearch::new(g);
    for k in 0..g.commodities.len() {
        let Some(mut cycle) = search.find(flow, k) else {
            continue;
        };
        // G′ has at most one edge per ordered node pair, so a cycle's nodes name its edges.
        let position: HashMap<_, usize> = g.commodities[k]
            .usable
            .iter()
            .enumerate()
            .map(|(i, &e)| (g.graph.edge_endpoints(e).expect("edge of G'"), i))
            .collect();
        loop {
            let edges: Vec<usize> = (0..cycle.len())
                .map(|j| position[&(cycle[j], cycle[(j + 1) % cycle.len()])])
                .collect();
            let m = edges
                .iter()
                .map(|&i| flow.x[k][i])
                .fold(f64::INFINITY, f64::min);
            // The edge that carried m becomes exactly 0: each pass removes one edge.
            for &i in &edges {
                flow.x[k][i] = (flow.x[k][i] - m).max(0.0);
            }
            match search.find(flow, k) {
                Some(next) => cycle = next,
                None => break,
            }
        }
    }
}
