//! Cycle cancelling: reported flows never circulate (DESIGN §2). Removing a cycle of a
//! commodity keeps conservation, lowers every node's resource use and, costs being
//! non-negative, never lowers welfare.

use std::collections::HashMap;

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::NodeIndex;

/// Cancels every directed cycle of positive flow, commodity by commodity, so each
/// commodity's flow is acyclic. Deterministic: cycles are found in edge order.
pub fn cancel_cycles(g: &ExpandedGraph, flow: &mut Flow) {
    for k in 0..g.commodities.len() {
        while let Some(cycle) = find_cycle(g, flow, k) {
            let m = cycle
                .iter()
                .map(|&i| flow.x[k][i])
                .fold(f64::INFINITY, f64::min);
            for &i in &cycle {
                flow.x[k][i] = (flow.x[k][i] - m).max(0.0);
            }
            // The edge that carried m is now exactly 0, so each pass removes one edge.
        }
    }
}

/// Whether commodity k's positive flow has no directed cycle.
pub fn is_acyclic(g: &ExpandedGraph, flow: &Flow, k: usize) -> bool {
    find_cycle(g, flow, k).is_none()
}

/// A directed cycle of positive flow of commodity k, as positions in `usable`.
fn find_cycle(g: &ExpandedGraph, flow: &Flow, k: usize) -> Option<Vec<usize>> {
    let usable = &g.commodities[k].usable;
    let mut out: HashMap<NodeIndex, Vec<(usize, NodeIndex)>> = HashMap::new();
    let mut nodes = Vec::new();
    for (i, &e) in usable.iter().enumerate() {
        if flow.x[k][i] > 0.0 {
            let (tail, head) = g.graph.edge_endpoints(e).expect("edge of G'");
            out.entry(tail).or_default().push((i, head));
            nodes.push(tail);
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    // 0 = unvisited, 1 = on the DFS path, 2 = finished.
    let mut state: HashMap<NodeIndex, u8> = HashMap::new();
    for &start in &nodes {
        if state.get(&start).copied().unwrap_or(0) != 0 {
            continue;
        }
        // Path of (node, next out-edge to try, edge used to enter the node).
        let mut path: Vec<(NodeIndex, usize, Option<usize>)> = vec![(start, 0, None)];
        state.insert(start, 1);
        while let Some(top) = path.last_mut() {
            let (n, next) = (top.0, top.1);
            let edges = out.get(&n).map_or(&[][..], |v| v.as_slice());
            if next == edges.len() {
                state.insert(n, 2);
                path.pop();
                continue;
            }
            top.1 += 1;
            let (i, head) = edges[next];
            match state.get(&head).copied().unwrap_or(0) {
                0 => {
                    state.insert(head, 1);
                    path.push((head, 0, Some(i)));
                }
                1 => {
                    // Back edge: the cycle is head → … → n → head.
                    let from = path.iter().position(|p| p.0 == head).expect("on path");
                    let mut cycle: Vec<usize> =
                        path[from + 1..].iter().filter_map(|p| p.2).collect();
                    cycle.push(i);
                    return Some(cycle);
                }
                _ => {}
            }
        }
    }
    None
}
