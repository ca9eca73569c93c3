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

/// Decomposes an acyclic per-commodity flow on G′ into s_k → t_k path flows, each
/// with the provider that runs its jobs and the broker market that sells them (largest
/// bottleneck first is not needed: any decomposition splits the same flow).
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: a flow on `g` without cycles per commodity (cancel them first with
///   [`crate::cycles::cancel_cycles`]).
/// * `floor`: amounts below `floor` × max(d_k, 1) are dropped as round-off.
///
/// # Returns
/// The path flows, by commodity; per commodity their amounts add up to f_k (up to the
/// dropped round-off). A path with no broker before its provider is left out.
///
/// # Complexity
/// O(Σ_k |U_k|²) time for the usable edge sets U_k: at most |U_k| + 1 paths per
/// commodity (each zeroes an edge), each found in O(|U_k|); O(|U_k|) extra space.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::flows::decompose;
/// use brokerflow_solvers::lp::{max_welfare, LpOptions};
///
/// // P3 on tiny (graphs/markets/tiny.md §7): u1 5 via p1; u2 5 via p1 and 8 via b2.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let flow = max_welfare(&g, &LpOptions::default())?.flow.unwrap();
/// let paths = decompose(&g, &flow, 1e-9);
/// let u2: Vec<f64> = paths.iter().filter(|p| p.commodity == 1).map(|p| p.amount).collect();
/// assert_eq!(u2.len(), 2);
/// assert!((u2.iter().sum::<f64>() - 13.0).abs() < 1e-6);
/// assert!(paths.iter().all(|p| p.commodity != 2)); // u3 is not served
/// # Ok::<_, brokerflow_solvers::lp::LpError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.2 (path flows on G′), as settlement reads them
/// (\[Dist-Auctioneer\]).
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

/// The support of commodity k in a flow on G′: the usable edges that carry some of it.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: a flow on `g`.
/// * `k`: the commodity (user index).
///
/// # Returns
/// The edges with x^k_e > 0, in edge order.
///
/// # Complexity
/// O(|U_k|) time and space for commodity k's usable edges U_k.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::flows::{add_flow, support};
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// let mut flow = Flow::zero(&g);
/// assert!(support(&g, &flow, 0).is_empty());
/// let e = g.commodities[0].usable[0];
/// assert!(add_flow(&g, &mut flow, 0, e, 2.0));
/// assert_eq!(support(&g, &flow, 0), vec![e]);
/// ```
///
/// Paper: [MCF-Grid] §4.2 (the flow variables x^k_e).
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

/// The G′ node of every provider, in market order (provider j of the market is
/// `NodeKind::Provider(j)`, at position j).
///
/// Paper: [MCF-Grid] §4.1.3 (the providers).
pub fn provider_nodes(g: &ExpandedGraph) -> Vec<NodeIndex> {
    let mut v: Vec<(usize, NodeIndex)> = g
        .graph
        .node_indices()
        .filter_map(|n| match g.node(n).kind {
            NodeKind::Provider(j) => Some((j, n)),
            _ => None,
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

/// Every broker→provider link of the market: where a broker market sells its users'
/// jobs to a provider.
///
/// # Arguments
/// * `g`: the expanded graph G′.
///
/// # Returns
/// One [`SellLink`] per broker→provider link, in market link order.
///
/// # Complexity
/// O(L) time and space for L market links.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::flows::sell_links;
///
/// // tiny has two: b1 → p1 (unlimited, one edge) and b2 → p2 (finite, two edges).
/// let g = ExpandedGraph::new(&examples::tiny());
/// let sells = sell_links(&g);
/// assert_eq!(sells.len(), 2);
/// assert_eq!(sells.iter().filter(|s| s.second.is_some()).count(), 1);
/// ```
///
/// Paper: [MCF-Grid] §4.1.2 (brokers buy from providers).
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

/// The delivery edge p → t_k from provider p to commodity k's collection point.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `k`: the commodity (user index).
/// * `p`: a provider node.
///
/// # Returns
/// The edge, or `None` when k may not use it (p not eligible or not reached).
///
/// # Complexity
/// O(|U_k|) time for commodity k's usable edges U_k; O(1) space.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::flows::delivery_edge;
///
/// // tiny: u1 is eligible for p1 only; u3 cannot reach p1.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let (p1, p2) = (g.node_named("p1").unwrap(), g.node_named("p2").unwrap());
/// assert!(delivery_edge(&g, 0, p1).is_some());
/// assert!(delivery_edge(&g, 0, p2).is_none());
/// assert!(delivery_edge(&g, 2, p1).is_none());
/// ```
///
/// Paper: [MCF-Grid] §4.1.4.
pub fn delivery_edge(g: &ExpandedGraph, k: usize, p: NodeIndex) -> Option<EdgeIndex> {
    let c = &g.commodities[k];
    c.usable.iter().copied().find(|&e| {
        g.graph
            .edge_endpoints(e)
            .is_some_and(|(t, h)| t == p && h == c.sink)
    })
}

/// Adds `amount` of commodity k to x^k_e in `flow`.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow to change.
/// * `k`: the commodity (user index).
/// * `e`: the edge; it must be usable by k.
/// * `amount`: what to add (negative to remove).
///
/// # Returns
/// Whether `e` is usable by k (if not, `flow` is unchanged).
///
/// # Complexity
/// O(log |U_k|) time for commodity k's usable edges U_k.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::flows::add_flow;
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// let mut flow = Flow::zero(&g);
/// // u3 enters at b2 and can never use u1's access link.
/// let u1_access = g.commodities[0].usable[0];
/// assert!(!add_flow(&g, &mut flow, 2, u1_access, 1.0));
/// assert!(add_flow(&g, &mut flow, 0, u1_access, 1.5));
/// assert_eq!(flow.get(&g, 0, u1_access), 1.5);
/// ```
///
/// Paper: [MCF-Grid] §4.2 (the flow variables x^k_e).
pub fn add_flow(g: &ExpandedGraph, flow: &mut Flow, k: usize, e: EdgeIndex, amount: f64) -> bool {
    match g.commodities[k].usable.binary_search(&e) {
        Ok(i) => {
            flow.x[k][i] += amount;
            true
        }
        Err(_) => false,
    }
}
