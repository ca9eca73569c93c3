//! The steady part of a window-averaged routing: the largest flow inside it that
//! conserves jobs at every node and serves no user more than its source admitted
//! (at most its demand).
//!
//! The engine reports rates averaged over its last rounds, and while queues still
//! drift those averages are not a flow: a broker that forwards more than it receives
//! is draining its queue, a collection point can absorb more than the source injects.
//! Reporting them as they are hands the user a routing that fails its own check
//! (design §5, "what a run reports"). So the reported flow keeps what was delivered
//! along the averaged routes and nothing else; the drift is reported as its own number
//! ([`super::EngineRun::queue_drift`]). A steady flow routes its own served amounts
//! within every capacity (each pair carries at most its window average, and every
//! round respected the capacities), so those amounts are routable by construction,
//! whatever the queues still did when the run stopped.

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::NodeIndex;

/// The steady part of `flow` (acyclic per commodity, as after cycle cancelling): per
/// commodity, a flow y with 0 ≤ y ≤ x on every pair, inflow = outflow at every node
/// but s_k and t_k, and at most `bounds[k]` out of s_k.
///
/// # Arguments
/// - `g`: the expanded graph G′.
/// - `flow`: window-averaged jobs per usable (edge, commodity) pair, acyclic per
///   commodity.
/// - `bounds`: per commodity, the most it may be served (the engine passes what its
///   source admitted over the window, at most d_k, so that jobs a draining source
///   queue releases are not served).
///
/// # Returns
/// The steady flow. Capacities that `flow` respects, it respects too (it is smaller
/// on every pair).
///
/// # Complexity
/// O(Σ_k |pairs_k|) after a topological sort of each commodity's support.
///
/// # Method
/// A forward pass in topological order lets each node send at most what reaches it
/// (the source at most its bound), shrinking its out-pairs in proportion; a backward
/// pass lets each node receive at most what it sends on, shrinking its in-pairs in
/// proportion. What is left conserves jobs and keeps the averaged routes' shares.
///
/// Paper: [MCF-Grid] §5 (the window-averaged outputs of the distributed algorithm).
pub fn steady_flow(g: &ExpandedGraph, flow: &Flow, bounds: &[f64]) -> Flow {
    let pairs = g.pairs();
    let mut steady = flow.clone();
    let nodes = g.graph.node_count();
    // Scratch per node; `stamp` says which commodity last reset a node's entries.
    let mut through = vec![0.0f64; nodes];
    let mut indegree = vec![0usize; nodes];
    let mut stamp = vec![usize::MAX; nodes];
    let mut touched: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    for (k, c) in g.commodities.iter().enumerate() {
        let start = pairs.range(k).start;
        let ys = &mut steady.x[k];
        touched.clear();
        for p in pairs.range(k) {
            if ys[p - start] > 0.0 {
                for n in [pairs.tail(p).index(), pairs.head(p).index()] {
                    if stamp[n] != k {
                        stamp[n] = k;
                        through[n] = 0.0;
                        indegree[n] = 0;
                        touched.push(n);
                    }
                }
                indegree[pairs.head(p).index()] += 1;
            }
        }
        // Kahn's order of k's support (acyclic by precondition; a pair left on a cycle
        // is never ordered and is dropped, which only shrinks the flow).
        touched.sort_unstable();
        order.clear();
        order.extend(touched.iter().copied().filter(|&n| indegree[n] == 0));
        let mut next = 0;
        while next < order.len() {
            let n = order[next];
            next += 1;
            for &p in pairs.leaving_of(NodeIndex::new(n), k) {
                if ys[p - start] > 0.0 {
                    let h = pairs.head(p).index();
                    indegree[h] -= 1;
                    if indegree[h] == 0 {
                        order.push(h);
                    }
                }
            }
        }
        if order.len() < touched.len() {
            for p in pairs.range(k) {
                if indegree[pairs.head(p).index()] > 0 {
                    ys[p - start] = 0.0;
                }
            }
        }
        // Forward: send at most what arrived (the source: at most its bound).
        if stamp[c.source.index()] == k {
            through[c.source.index()] = bounds[k].max(0.0);
        }
        for &n in &order {
            if n == c.sink.index() {
                continue;
            }
            let leaving = pairs.leaving_of(NodeIndex::new(n), k);
            let out: f64 = leaving.iter().map(|&p| ys[p - start]).sum();
            let factor = if out > through[n] {
                through[n] / out
            } else {
                1.0
            };
            for &p in leaving {
                let y = &mut ys[p - start];
                if factor < 1.0 {
                    *y *= factor;
                }
                through[pairs.head(p).index()] += *y;
            }
        }
        // Backward: receive at most what is sent on.
        for &n in order.iter().rev() {
            if n == c.source.index() || n == c.sink.index() {
                continue;
            }
            let out: f64 = pairs
                .leaving_of(NodeIndex::new(n), k)
                .iter()
                .map(|&p| ys[p - start])
                .sum();
            let entering = pairs.entering_of(NodeIndex::new(n), k);
            let inflow: f64 = entering.iter().map(|&p| ys[p - start]).sum();
            if inflow > out {
                let factor = if inflow > 0.0 { out / inflow } else { 0.0 };
                for &p in entering {
                    ys[p - start] *= factor;
                }
            }
        }
    }
    steady
}
