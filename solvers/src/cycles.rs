//! Cycle cancelling: reported flows never circulate (design §2). Removing a cycle of a
//! commodity keeps conservation, lowers every node's resource use and, costs being
//! non-negative, never lowers welfare.

use std::collections::HashMap;

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::{EdgeIndex, NodeIndex};

/// Cycle cancelling: removes every directed cycle of positive flow, commodity by
/// commodity, so each commodity's flow is acyclic (as [`crate::check::is_acyclic`]
/// sees it). Each cycle loses its smallest amount on every edge, which keeps flow
/// conservation, lowers resource use and, costs being non-negative, never lowers
/// welfare. Deterministic: cycles are found in edge order.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow to clean, changed in place.
///
/// # Returns
/// Nothing; `flow` is left acyclic per commodity with the same amounts f_k served.
///
/// # Complexity
/// O(N + Σ_k |U_k|²) time for N nodes of G′ and usable edge sets U_k: each cancelled
/// cycle zeroes an edge, and each search is linear in U_k; O(N + |U_k|) space.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::{check::is_acyclic, cycles::cancel_cycles, flows::add_flow};
///
/// // linked: brokers ba1 and bb1 are linked both ways; send 1 job of ua1 around.
/// let g = ExpandedGraph::new(&examples::linked());
/// let n = |name| g.node_named(name).unwrap();
/// let mut flow = Flow::zero(&g);
/// for w in ["ba1", "ba1->bb1", "bb1", "bb1->ba1", "ba1"].windows(2) {
///     let e = g.graph.find_edge(n(w[0]), n(w[1])).unwrap();
///     assert!(add_flow(&g, &mut flow, 0, e, 1.0));
/// }
/// assert!(!is_acyclic(&g, &flow, 0));
/// cancel_cycles(&g, &mut flow);
/// // The ring was the whole flow: nothing is left.
/// assert_eq!(flow, Flow::zero(&g));
/// ```
///
/// Paper: [MCF-Grid] §4.2 (a flow's welfare never gains from circulation); design §2.
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

/// Repeated cycle searches on one G′: O(nodes + edges) setup once, then each search is
/// linear in the commodity's usable edges (cycle cancelling searches once per cycle).
pub(crate) struct CycleSearch<'g> {
    g: &'g ExpandedGraph,
    finder: CycleFinder,
}

impl<'g> CycleSearch<'g> {
    /// Prepares searches on `g`.
    pub(crate) fn new(g: &'g ExpandedGraph) -> CycleSearch<'g> {
        CycleSearch {
            g,
            finder: CycleFinder::new(g.graph.node_count()),
        }
    }

    /// A directed cycle of commodity k's positive flow, as G′ nodes in flow order,
    /// starting at its smallest node; `None` when k's flow is acyclic.
    pub(crate) fn find(&mut self, flow: &Flow, k: usize) -> Option<Vec<NodeIndex>> {
        let (c, x) = (self.g.commodities.get(k)?, flow.x.get(k)?);
        self.finder.find(self.g, &c.usable, x)
    }
}

/// Reusable scratch for cycle detection: local numbering of the nodes a commodity's
/// positive flow touches, so each commodity costs time linear in its usable edges.
struct CycleFinder {
    local: Vec<usize>,
}

const UNSEEN: usize = usize::MAX;

impl CycleFinder {
    fn new(nodes: usize) -> CycleFinder {
        CycleFinder {
            local: vec![UNSEEN; nodes],
        }
    }

    fn find(
        &mut self,
        g: &ExpandedGraph,
        usable: &[EdgeIndex],
        x: &[f64],
    ) -> Option<Vec<NodeIndex>> {
        // Positive edges as local (tail, head) pairs.
        let mut nodes: Vec<usize> = Vec::new();
        let mut arcs: Vec<(usize, usize)> = Vec::new();
        for (&e, &v) in usable.iter().zip(x) {
            if v > 0.0 {
                if let Some((t, h)) = g.graph.edge_endpoints(e) {
                    let (t, h) = (t.index(), h.index());
                    let (Some(lt), Some(lh)) =
                        (self.number(t, &mut nodes), self.number(h, &mut nodes))
                    else {
                        continue;
                    };
                    arcs.push((lt, lh));
                }
            }
        }
        let cycle = cycle_in(nodes.len(), &arcs)
            .map(|c| c.into_iter().map(|l| NodeIndex::new(nodes[l])).collect());
        for &n in &nodes {
            self.local[n] = UNSEEN;
        }
        cycle
    }

    fn number(&mut self, n: usize, nodes: &mut Vec<usize>) -> Option<usize> {
        let slot = self.local.get_mut(n)?;
        if *slot == UNSEEN {
            *slot = nodes.len();
            nodes.push(n);
        }
        Some(*slot)
    }
}

/// A directed cycle among `arcs` on nodes 0..m (Kahn's algorithm, then a walk back
/// along predecessors inside what Kahn could not remove), in forward order.
fn cycle_in(m: usize, arcs: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut offsets = vec![0usize; m + 1];
    let mut indeg = vec![0usize; m];
    for &(t, h) in arcs {
        offsets[t + 1] += 1;
        indeg[h] += 1;
    }
    for i in 0..m {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut succ = vec![0usize; arcs.len()];
    for &(t, h) in arcs {
        succ[fill[t]] = h;
        fill[t] += 1;
    }
    let mut queue: Vec<usize> = (0..m).filter(|&n| indeg[n] == 0).collect();
    let mut removed = 0;
    while let Some(n) = queue.pop() {
        removed += 1;
        for &h in &succ[offsets[n]..offsets[n + 1]] {
            indeg[h] -= 1;
            if indeg[h] == 0 {
                queue.push(h);
            }
        }
    }
    if removed == m {
        return None;
    }
    // Every node left has a predecessor that is left too: walk back until a repeat.
    let mut pred = vec![UNSEEN; m];
    for &(t, h) in arcs {
        if indeg[t] > 0 && indeg[h] > 0 {
            pred[h] = t;
        }
    }
    let start = (0..m).find(|&n| indeg[n] > 0)?;
    let mut step = vec![UNSEEN; m];
    let mut path = Vec::new();
    let mut n = start;
    while step[n] == UNSEEN {
        step[n] = path.len();
        path.push(n);
        n = pred[n];
        if n == UNSEEN {
            return None;
        }
    }
    let mut cycle = path.split_off(step[n]);
    cycle.reverse();
    // Start the cycle at its smallest node, so the answer does not depend on the walk.
    if let Some(pos) = (0..cycle.len()).min_by_key(|&i| cycle[i]) {
        cycle.rotate_left(pos);
    }
    Some(cycle)
}

#[cfg(test)]
mod tests {
    use brokerflow_graphs::generate::{generate, GeneratorConfig};
    use brokerflow_graphs::{ExpandedGraph, Flow};
    use proptest::prelude::*;

    use super::CycleSearch;
    use crate::check::find_cycle;

    /// A generated market with linked brokers and a flow that puts 1–7 jobs on a random
    /// `density` share of every commodity's usable edges (not conserving: only the
    /// support matters for cycles).
    fn random_flow(seed: u64, density: f64) -> (ExpandedGraph, Flow) {
        let config = GeneratorConfig {
            users: 4,
            brokers: 5,
            providers: 2,
            broker_link_probability: 0.9,
            ..GeneratorConfig::default()
        };
        let market = generate(&config, seed).unwrap();
        let g = ExpandedGraph::new(&market);
        let mut flow = Flow::zero(&g);
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for x in flow.x.iter_mut() {
            for v in x.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if (state % 1000) as f64 / 1000.0 < density {
                    *v = 1.0 + (state % 7) as f64;
                }
            }
        }
        (g, flow)
    }

    #[test]
    fn the_random_flows_have_both_cyclic_and_acyclic_commodities() {
        let (mut cyclic, mut acyclic) = (0, 0);
        for seed in 0..20 {
            for density in [0.3, 0.6, 0.9] {
                let (g, flow) = random_flow(seed, density);
                for k in 0..g.commodities.len() {
                    match find_cycle(&g, &flow, k) {
                        Some(_) => cyclic += 1,
                        None => acyclic += 1,
                    }
                }
            }
        }
        assert!(
            cyclic > 20 && acyclic > 20,
            "{cyclic} cyclic, {acyclic} acyclic"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The check's cycle finder (Tarjan components) and the cancelling's (Kahn's
        /// algorithm) are separate code: on random positive subsets of a generated
        /// market's usable edges — linked brokers make cycles common — they agree on
        /// whether each commodity circulates, the check's answer is a real cycle of
        /// positive edges, and after cancelling the check sees no cycle.
        #[test]
        fn the_check_and_the_cancelling_agree_on_cycles(
            seed in 0u64..10_000,
            density in prop::sample::select(vec![0.3, 0.6, 0.9]),
        ) {
            let (g, mut flow) = random_flow(seed, density);
            let mut search = CycleSearch::new(&g);
            for k in 0..g.commodities.len() {
                let checked = find_cycle(&g, &flow, k);
                prop_assert_eq!(checked.is_some(), search.find(&flow, k).is_some());
                if let Some(cycle) = checked {
                    for j in 0..cycle.len() {
                        let (t, h) = (cycle[j], cycle[(j + 1) % cycle.len()]);
                        let e = g.graph.find_edge(t, h);
                        prop_assert!(e.is_some_and(|e| flow.get(&g, k, e) > 0.0));
                    }
                }
            }
            super::cancel_cycles(&g, &mut flow);
            for k in 0..g.commodities.len() {
                prop_assert!(find_cycle(&g, &flow, k).is_none());
            }
        }
    }
}
