//! Flows on the expanded graph G′ as settlement reads them ([MCF-Grid]): a
//! per-commodity flow split into s_k → t_k paths, the cheapest and dearest per-job
//! cost of reaching a node, the broker→provider links where a broker market sells, and
//! small edits of a flow.
//!
//! Everything here needs only `brokerflow_graphs`' types; the mechanisms of
//! [`crate::settle`] build their trades from it.

use std::collections::HashMap;

use brokerflow_graphs::{ExpandedGraph, Flow, NodeKind};
use petgraph::algo::bellman_ford;
use petgraph::graph::{EdgeIndex, Graph, NodeIndex};

/// One path of a flow decomposition: commodity k sends `amount` along `edges`
/// (s_k → … → provider → t_k).
#[derive(Debug, Clone, PartialEq)]
pub struct PathFlow {
    /// Commodity (user index).
    pub commodity: usize,
    /// Edges from s_k to t_k.
    pub edges: Vec<EdgeIndex>,
    /// Jobs per time unit.
    pub amount: f64,
    /// The provider that runs the jobs.
    pub provider: NodeIndex,
    /// The broker market the trade belongs to: the last broker before the provider.
    pub market: NodeIndex,
    /// How many edges lie upstream of the market broker's out-edge (s_k … → market).
    pub upstream: usize,
}

impl PathFlow {
    /// The declared transport cost of this path's jobs upstream of the market
    /// broker (s_k … → market): amount × Σ per-job edge costs.
    pub fn upstream_cost(&self, g: &ExpandedGraph) -> f64 {
        self.amount
            * self.edges[..self.upstream]
                .iter()
                .map(|&e| g.unit_cost(e, self.commodity))
                .sum::<f64>()
    }
}

/// Decomposes an acyclic per-commodity flow into s_k → t_k paths (largest bottleneck
/// first is not needed: any decomposition splits the same flow). Amounts below
/// `floor` are dropped as round-off.
pub fn decompose(g: &ExpandedGraph, flow: &Flow, floor: f64) -> Vec<PathFlow> {
    let mut paths = Vec::new();
    for (k, c) in g.commodities.iter().enumerate() {
        let mut rest: Vec<f64> = flow.x[k].clone();
        let index_of = |e: EdgeIndex| c.usable.binary_search(&e).ok();
        // Out-edges per node (positions in `usable`).
        let mut out: HashMap<NodeIndex, Vec<usize>> = Default::default();
        for (i, &e) in c.usable.iter().enumerate() {
            if let Some((t, _)) = g.graph.edge_endpoints(e) {
                out.entry(t).or_default().push(i);
            }
        }
        let scale = c.demand.max(1.0);
        // Each round zeroes at least one edge, so at most |usable| paths.
        for _ in 0..=c.usable.len() {
            let mut edges = Vec::new();
            let mut n = c.source;
            let mut bottleneck = f64::INFINITY;
            let mut steps = 0;
            while n != c.sink && steps <= c.usable.len() {
                steps += 1;
                let next = out.get(&n).and_then(|es| {
                    es.iter()
                        .copied()
                        .filter(|&i| rest[i] > floor * scale)
                        .max_by(|&a, &b| rest[a].total_cmp(&rest[b]))
                });
                let Some(i) = next else { break };
                edges.push(c.usable[i]);
                bottleneck = bottleneck.min(rest[i]);
                n = g
                    .graph
                    .edge_endpoints(c.usable[i])
                    .map_or(c.sink, |(_, h)| h);
            }
            if n != c.sink || edges.is_empty() || !bottleneck.is_finite() {
                break;
            }
            for &e in &edges {
                if let Some(i) = index_of(e) {
                    rest[i] -= bottleneck;
                }
            }
            let provider_pos = edges.len() - 1;
            let provider = g.graph.edge_endpoints(edges[provider_pos]).map(|(t, _)| t);
            let market_pos = (0..provider_pos).rev().find(|&i| {
                g.graph
                    .edge_endpoints(edges[i])
                    .is_some_and(|(t, _)| matches!(g.node(t).kind, NodeKind::Broker(_)))
            });
            if let (Some(provider), Some(mp)) = (provider, market_pos) {
                let market = g.graph.edge_endpoints(edges[mp]).map(|(t, _)| t);
                if let Some(market) = market {
                    paths.push(PathFlow {
                        commodity: k,
                        edges,
                        amount: bottleneck,
                        provider,
                        market,
                        upstream: mp,
                    });
                }
            }
        }
    }
    paths
}

/// The cheapest (`longest == false`) or dearest (`true`) per-job cost of reaching
/// each node of G′ from commodity k's source s_k over `edges`, never leaving a provider
/// (a provider's out-edge delivers the jobs, it does not forward them).
///
/// Edge weights are `unit_cost(e, k)`: the sender's own cost and the link's
/// (the welfare terms of [MCF-Grid]). The shortest costs are petgraph's
/// [`bellman_ford()`] on the sub-graph of `edges`; the dearest are the shortest with the
/// weights negated, which needs an acyclic `edges` (a commodity's support is: flows on
/// G′ are cycle-free per commodity).
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `k`: the commodity (user index).
/// * `edges`: the edges to travel on (commodity k's usable edges, or its support).
/// * `longest`: dearest instead of cheapest.
///
/// # Returns
/// One entry per G′ node: `Some(cost)` for a node reached from s_k (s_k itself at 0),
/// `None` for a node not reached. With `longest` on edges with a cycle of positive
/// cost the dearest costs are unbounded: every node but s_k is `None`.
///
/// # Complexity
/// O(|V|·|E|) time for |V| nodes of G′ and |E| = `edges.len()`; O(|V| + |E|) space.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::flows::reach_costs;
///
/// // tiny: u2 enters at b1 (cost 0), which reaches b2 over a link of cost 1.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let u2 = 1;
/// let d = reach_costs(&g, u2, &g.commodities[u2].usable, false);
/// let b1 = g.node_named("b1").unwrap();
/// let b2 = g.node_named("b2").unwrap();
/// assert_eq!(d[b1.index()], Some(0.0));
/// assert_eq!(d[b2.index()], Some(1.0));
/// // Jobs are never forwarded past a provider, so u2's sink is not reached.
/// assert_eq!(d[g.commodities[u2].sink.index()], None);
/// ```
///
/// Paper: [MCF-Grid] (G′ and its per-job costs).
pub fn reach_costs(
    g: &ExpandedGraph,
    k: usize,
    edges: &[EdgeIndex],
    longest: bool,
) -> Vec<Option<f64>> {
    let n = g.graph.node_count();
    let sign = if longest { -1.0 } else { 1.0 };
    let mut sub: Graph<(), f64> = Graph::with_capacity(n, edges.len());
    for _ in 0..n {
        sub.add_node(());
    }
    for &e in edges {
        let Some((t, h)) = g.graph.edge_endpoints(e) else {
            continue;
        };
        if matches!(g.node(t).kind, NodeKind::Provider(_)) {
            continue;
        }
        sub.add_edge(t, h, sign * g.unit_cost(e, k));
    }
    let source = g.commodities[k].source;
    let Ok(paths) = bellman_ford(&sub, source) else {
        // Only a positive-cost cycle under `longest`: no dearest cost is finite.
        let mut d = vec![None; n];
        d[source.index()] = Some(0.0);
        return d;
    };
    paths
        .distances
        .into_iter()
        // `+ 0.0`: a negated zero cost is −0.0, and the costs print as 0.
        .map(|x| x.is_finite().then_some(sign * x + 0.0))
        .collect()
}

/// The edges of commodity k that carry flow (its support).
pub fn support(g: &ExpandedGraph, flow: &Flow, k: usize) -> Vec<EdgeIndex> {
    flow.edges(g, k)
        .filter(|&(_, x)| x > 0.0)
        .map(|(e, _)| e)
        .collect()
}

/// A broker→provider link of the market: broker node, provider node, the link index,
/// its G′ edges (first, second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SellLink {
    /// The broker.
    pub broker: NodeIndex,
    /// The provider.
    pub provider: NodeIndex,
    /// Index in `Market::links`.
    pub link: usize,
    /// b → p or b → n_bp.
    pub first: EdgeIndex,
    /// n_bp → p for a finite link.
    pub second: Option<EdgeIndex>,
}

/// Every broker→provider link of the market (the edges where a broker market sells).
pub fn sell_links(g: &ExpandedGraph) -> Vec<SellLink> {
    g.link_edges
        .iter()
        .enumerate()
        .filter_map(|(l, &(first, second))| {
            let (b, _) = g.graph.edge_endpoints(first)?;
            let last = second.unwrap_or(first);
            let (_, p) = g.graph.edge_endpoints(last)?;
            (matches!(g.node(b).kind, NodeKind::Broker(_))
                && matches!(g.node(p).kind, NodeKind::Provider(_)))
            .then_some(SellLink {
                broker: b,
                provider: p,
                link: l,
                first,
                second,
            })
        })
        .collect()
}

/// The edge p → t_k, if commodity k may use it.
pub fn delivery_edge(g: &ExpandedGraph, k: usize, p: NodeIndex) -> Option<EdgeIndex> {
    let c = &g.commodities[k];
    c.usable.iter().copied().find(|&e| {
        g.graph
            .edge_endpoints(e)
            .is_some_and(|(t, h)| t == p && h == c.sink)
    })
}

/// Adds `amount` of commodity k on edge e of `flow` (e must be usable by k).
pub fn add_flow(g: &ExpandedGraph, flow: &mut Flow, k: usize, e: EdgeIndex, amount: f64) -> bool {
    match g.commodities[k].usable.binary_search(&e) {
        Ok(i) => {
            flow.x[k][i] += amount;
            true
        }
        Err(_) => false,
    }
}
