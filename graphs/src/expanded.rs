//! The expanded graph G′ ([MCF-Grid] §4.1.5, design §2): the one structure the LP
//! baselines, the distributed engine and settlement all consume.
//!
//! Every finite link (u, v) becomes u → n_uv → v through a bandwidth node named
//! `u->v` with capacity B_uv; an unlimited link stays a direct edge. Each commodity k
//! gets a collection point t_k, reached by a direct, unlimited edge from every
//! provider eligible for k that s_k reaches through nodes of positive capacity (an
//! edge no path can use is never built, so G′ grows with the links and the usable
//! (edge, commodity) pairs, not with users × providers). Then every node n has exactly one resource constraint
//! Σ_k r^k_n · (flow of k out of n) ≤ R_n.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::market::ValidMarket;
use crate::pairs::UsablePairs;

/// What a node of G′ stands for; the index points into the market's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// User k = source s_k (index into `Market::users` and into the commodities).
    User(usize),
    /// Broker (index into `Market::brokers`).
    Broker(usize),
    /// Provider (index into `Market::providers`).
    Provider(usize),
    /// Bandwidth node n_uv of a finite link (index into `Market::links`).
    Bandwidth(usize),
    /// Collection point t_k of commodity k.
    Collection(usize),
}

/// A node of G′ with its single resource constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The participant's id, `u->v` for a bandwidth node, `t(k)` for a collection point.
    pub name: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// R_n, `None` when unlimited (users, collection points, unlimited brokers/providers).
    pub capacity: Option<f64>,
    /// Cost per unit of resource used: c_b per job at brokers, c_p per resource unit at providers, 0 elsewhere.
    pub cost: f64,
}

/// An edge of G′.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    /// The market link this edge belongs to; `None` for provider → t_k edges.
    pub link: Option<usize>,
    /// Link cost c_uv per job, carried by the link's first edge (u → n_uv or u → v) only.
    pub cost: f64,
}

/// Commodity k: user k's job stream from s_k to t_k, with the edges it can use.
#[derive(Debug, Clone, PartialEq)]
pub struct Commodity {
    /// Index of the user in `Market::users`.
    pub user: usize,
    /// The user's id.
    pub id: String,
    /// s_k.
    pub source: NodeIndex,
    /// t_k.
    pub sink: NodeIndex,
    /// d_k.
    pub demand: f64,
    /// r_k.
    pub requirement: f64,
    /// v_k.
    pub valuation: f64,
    /// The edges on some s_k → t_k path through nodes of positive capacity, sorted.
    /// Empty exactly when the user is stranded.
    pub usable: Vec<EdgeIndex>,
}

impl Commodity {
    /// A user is *stranded* when it reaches no eligible provider through links and
    /// nodes of positive capacity (design §4); it is reported and left out.
    pub fn is_stranded(&self) -> bool {
        self.usable.is_empty()
    }

    /// Whether commodity k may use edge `e` (O(log |usable|); in loops over a node's
    /// edges prefer [`UsablePairs::leaving`]).
    pub fn can_use(&self, e: EdgeIndex) -> bool {
        self.usable.binary_search(&e).is_ok()
    }
}

/// The expanded graph G′ of one market ([MCF-Grid] §4.1.5, design §2). Node and edge
/// order are deterministic: users, brokers, providers, bandwidth nodes (link order),
/// collection points; link edges in link order, then provider → t_k edges by provider,
/// then commodity (only where the provider is eligible for k and reached from s_k).
#[derive(Debug, Clone)]
pub struct ExpandedGraph {
    /// The directed graph.
    pub graph: DiGraph<Node, Edge>,
    /// One commodity per user, in the market's user order.
    pub commodities: Vec<Commodity>,
    /// For every market link, the G′ edges it became: (first, second) where second is
    /// `Some` (n_uv → v) for a finite link.
    pub link_edges: Vec<(EdgeIndex, Option<EdgeIndex>)>,
    by_name: HashMap<String, NodeIndex>,
    pairs: UsablePairs,
}

impl ExpandedGraph {
    /// Builds the expanded graph G′ of a market: a bandwidth node for every finite
    /// link, a collection point t_k per user, and per commodity the edges of its
    /// s_k → t_k paths through nodes of positive capacity.
    ///
    /// Only a [`ValidMarket`] is accepted, so every id, role pair and number the
    /// expansion relies on has been checked.
    ///
    /// # Arguments
    /// * `market`: a validated market (users, brokers, providers, links).
    ///
    /// # Returns
    /// G′ with its commodities (one per user, in the market's order, each with its
    /// usable edges sorted) and the CSR index of the usable (edge, commodity) pairs.
    ///
    /// # Complexity
    /// O(K · (N + L) + |P| log |P|) time for K users, N participants, L links and |P|
    /// usable pairs: one forward and one backward search per commodity over the part of
    /// G′ it reaches. G′ has O(N + L + |P|) nodes and edges, never K × providers.
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph};
    ///
    /// // Counted by hand in graphs/markets/tiny.md §2: 3 users + 2 brokers + 2
    /// // providers + 3 bandwidth nodes + 3 collection points; 3 finite links give 2
    /// // edges each, 3 unlimited links 1 each, plus 4 provider → t_k edges.
    /// let g = ExpandedGraph::new(&examples::tiny());
    /// assert_eq!(g.graph.node_count(), 13);
    /// assert_eq!(g.graph.edge_count(), 3 * 2 + 3 + 4);
    /// assert_eq!(g.usable_pairs(), 4 + 8 + 4);
    /// assert!(g.node_named("u1->b1").is_some());
    /// assert_eq!(g.stranded().count(), 0);
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1.5.
    pub fn new(market: &ValidMarket) -> ExpandedGraph {
        let mut graph = DiGraph::new();
        let mut by_name = HashMap::new();
        let mut add = |graph: &mut DiGraph<Node, Edge>, node: Node| {
            let name = node.name.clone();
            let ix = graph.add_node(node);
            by_name.insert(name, ix);
            ix
        };
        for (i, u) in market.users.iter().enumerate() {
            add(&mut graph, node(&u.id, NodeKind::User(i), None, 0.0));
        }
        for (i, b) in market.brokers.iter().enumerate() {
            add(
                &mut graph,
                node(&b.id, NodeKind::Broker(i), b.capacity, b.cost),
            );
        }
        for (i, p) in market.providers.iter().enumerate() {
            add(
                &mut graph,
                node(&p.id, NodeKind::Provider(i), p.capacity, p.cost),
            );
        }
        let mut link_edges = Vec::with_capacity(market.links.len());
        // Bandwidth nodes first (so node order does not interleave with edges).
        let bandwidth_nodes: Vec<Option<NodeIndex>> = market
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.bandwidth.map(|bw| {
                    let name = format!("{}->{}", l.from, l.to);
                    add(
                        &mut graph,
                        node(&name, NodeKind::Bandwidth(i), Some(bw), 0.0),
                    )
                })
            })
            .collect();
        let sinks: Vec<NodeIndex> = market
            .users
            .iter()
            .enumerate()
            .map(|(k, u)| {
                let name = format!("t({})", u.id);
                add(&mut graph, node(&name, NodeKind::Collection(k), None, 0.0))
            })
            .collect();
        for (i, l) in market.links.iter().enumerate() {
            let from = by_name[&l.from];
            let to = by_name[&l.to];
            let first_cost = Edge {
                link: Some(i),
                cost: l.cost,
            };
            match bandwidth_nodes[i] {
                Some(n) => {
                    let a = graph.add_edge(from, n, first_cost);
                    let b = graph.add_edge(
                        n,
                        to,
                        Edge {
                            link: Some(i),
                            cost: 0.0,
                        },
                    );
                    link_edges.push((a, Some(b)));
                }
                None => link_edges.push((graph.add_edge(from, to, first_cost), None)),
            }
        }
        // Sparse G′ (design §12): a provider → t_k edge only where commodity k can use
        // it, i.e. the provider is eligible for k and reached from s_k through nodes of
        // positive capacity. Sizes stay O(links + usable pairs), never users × providers.
        // Edges keep the order "by provider, then commodity".
        let mut scratch = Reach::new(graph.node_count());
        let mut reached = Vec::new();
        let mut sink_pairs: Vec<(usize, usize)> = Vec::new();
        // Eligibility by stamp (O(1) per reached provider), not by scanning the user's
        // list for each one: that would cost reached × eligible per user.
        let provider_index: HashMap<&str, usize> = (market.providers.iter().enumerate())
            .map(|(p, provider)| (provider.id.as_str(), p))
            .collect();
        let mut eligible_stamp = vec![usize::MAX; market.providers.len()];
        for (k, u) in market.users.iter().enumerate() {
            for p in u.eligible.iter().flatten() {
                // A valid market names only providers here.
                if let Some(&p) = provider_index.get(p.as_str()) {
                    eligible_stamp[p] = k;
                }
            }
            forward_reach(&graph, by_name[&u.id], &mut scratch, &mut reached);
            for &n in &reached {
                if let NodeKind::Provider(p) = graph[n].kind {
                    if u.eligible.is_none() || eligible_stamp[p] == k {
                        sink_pairs.push((p, k));
                    }
                }
            }
        }
        sink_pairs.sort_unstable();
        let mut sink_edges: Vec<Vec<EdgeIndex>> = vec![Vec::new(); market.users.len()];
        for (p, k) in sink_pairs {
            let pn = by_name[&market.providers[p].id];
            sink_edges[k].push(graph.add_edge(
                pn,
                sinks[k],
                Edge {
                    link: None,
                    cost: 0.0,
                },
            ));
        }
        let mut g = ExpandedGraph {
            graph,
            commodities: Vec::new(),
            link_edges,
            by_name,
            pairs: UsablePairs::default(),
        };
        g.commodities = market
            .users
            .iter()
            .enumerate()
            .map(|(k, u)| {
                let source = g.by_name[&u.id];
                let sink = sinks[k];
                let usable = g.usable_edges(source, &sink_edges[k], &mut scratch);
                Commodity {
                    user: k,
                    id: u.id.clone(),
                    source,
                    sink,
                    demand: u.demand,
                    requirement: u.requirement,
                    valuation: u.valuation,
                    usable,
                }
            })
            .collect();
        let usable: Vec<&[EdgeIndex]> = g.commodities.iter().map(|c| &c.usable[..]).collect();
        let pairs = UsablePairs::new(g.graph.node_count(), &usable, |e| {
            g.graph.edge_endpoints(e).expect("edge of G'")
        });
        g.pairs = pairs;
        g
    }

    /// The shared CSR index of the usable (edge, commodity) pairs: pair ids by
    /// commodity, and per node the pairs leaving and entering it.
    pub fn pairs(&self) -> &UsablePairs {
        &self.pairs
    }

    /// The node named `name` (a participant id, `u->v`, or `t(k)`).
    pub fn node_named(&self, name: &str) -> Option<NodeIndex> {
        self.by_name.get(name).copied()
    }

    /// The node's data.
    pub fn node(&self, n: NodeIndex) -> &Node {
        &self.graph[n]
    }

    /// r^k_n: resource units one job of commodity k uses at node n (1 at brokers and
    /// bandwidth nodes, r_k at providers, 0 where there is no limit).
    pub fn resource_use(&self, n: NodeIndex, k: usize) -> f64 {
        match self.graph[n].kind {
            NodeKind::Broker(_) | NodeKind::Bandwidth(_) => 1.0,
            NodeKind::Provider(_) => self.commodities[k].requirement,
            NodeKind::User(_) | NodeKind::Collection(_) => 0.0,
        }
    }

    /// Money spent moving one job of commodity k over edge e: the link's cost (on its
    /// first edge) plus the sender's own cost per job (c_b at a broker, c_p·r_k at a
    /// provider). Summed over all flow this is exactly design §2's cost term of W.
    pub fn unit_cost(&self, e: EdgeIndex, k: usize) -> f64 {
        let (tail, _) = self.graph.edge_endpoints(e).expect("edge of this graph");
        self.graph[e].cost + self.graph[tail].cost * self.resource_use(tail, k)
    }

    /// Σ_k |usable_k|: the number of (edge, commodity) pairs the LP has variables for.
    pub fn usable_pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Whether G′ has a directed cycle (possible only through broker→broker links).
    pub fn is_cyclic(&self) -> bool {
        petgraph::algo::is_cyclic_directed(&self.graph)
    }

    /// The commodities whose user is stranded (design §4).
    pub fn stranded(&self) -> impl Iterator<Item = &Commodity> {
        self.commodities.iter().filter(|c| c.is_stranded())
    }

    /// Edges on some s_k → t_k path whose inner nodes all have positive capacity.
    ///
    /// Forward from s_k over market links (never through another commodity's
    /// collection point), then backward from t_k's eligible providers within that
    /// forward set: the work is proportional to the part of G′ the commodity can
    /// reach, not to all of G′, which matters with thousands of users.
    fn usable_edges(
        &self,
        source: NodeIndex,
        sink_edges: &[EdgeIndex],
        scratch: &mut Reach,
    ) -> Vec<EdgeIndex> {
        let mut reached = Vec::new();
        let forward = forward_reach(&self.graph, source, scratch, &mut reached);
        for (i, n) in reached.iter().enumerate() {
            scratch.slot[n.index()] = i as u32;
        }
        // The edges among the reached nodes, grouped by head (a local reverse CSR):
        // the backward search then visits only what s_k reaches, never a broker's
        // whole in-list of other users' links.
        let mut local: Vec<(u32, u32, EdgeIndex)> = Vec::new();
        for (i, &n) in reached.iter().enumerate() {
            if matches!(self.graph[n].kind, NodeKind::Provider(_)) {
                // Its edges go to collection points; k's own are `sink_edges`.
                continue;
            }
            for e in self.graph.edges_directed(n, Direction::Outgoing) {
                if scratch.is(e.target(), forward) {
                    local.push((scratch.slot[e.target().index()], i as u32, e.id()));
                }
            }
        }
        local.sort_unstable_by_key(|&(head, _, _)| head);
        let mut start = vec![0usize; reached.len() + 1];
        for &(head, _, _) in &local {
            start[head as usize + 1] += 1;
        }
        for i in 0..reached.len() {
            start[i + 1] += start[i];
        }
        // Backward from the reached providers' sink edges, within the reached nodes.
        let mut good = vec![false; reached.len()];
        let mut stack: Vec<usize> = Vec::new();
        let mut usable: Vec<EdgeIndex> = Vec::new();
        for &e in sink_edges {
            let (p, _) = self.graph.edge_endpoints(e).expect("edge of G'");
            if scratch.is(p, forward) {
                usable.push(e);
                let v = scratch.slot[p.index()] as usize;
                if !good[v] {
                    good[v] = true;
                    stack.push(v);
                }
            }
        }
        while let Some(v) = stack.pop() {
            for &(_, tail, e) in &local[start[v]..start[v + 1]] {
                usable.push(e);
                if !good[tail as usize] {
                    good[tail as usize] = true;
                    stack.push(tail as usize);
                }
            }
        }
        usable.sort_unstable();
        usable
    }
}

/// Marks (with a fresh stamp, returned) and lists in `reached` every market node that
/// s_k reaches over market links through nodes of positive capacity; collection points
/// are never entered, so the search stays within the market's own graph.
fn forward_reach(
    graph: &DiGraph<Node, Edge>,
    source: NodeIndex,
    scratch: &mut Reach,
    reached: &mut Vec<NodeIndex>,
) -> u32 {
    let forward = scratch.next_stamp();
    reached.clear();
    reached.push(source);
    scratch.mark(source, forward);
    let mut i = 0;
    while i < reached.len() {
        let n = reached[i];
        i += 1;
        if matches!(graph[n].kind, NodeKind::Provider(_)) {
            // A provider's only out-edges go to collection points: one per commodity
            // it serves. Walking them for every user would make loading quadratic in
            // the users that share a provider.
            continue;
        }
        for m in graph.neighbors_directed(n, Direction::Outgoing) {
            let market_node = !matches!(graph[m].kind, NodeKind::Collection(_));
            let can_carry = graph[m].capacity.is_none_or(|c| c > 0.0);
            if market_node && can_carry && !scratch.is(m, forward) {
                scratch.mark(m, forward);
                reached.push(m);
            }
        }
    }
    forward
}

/// Reusable visit marks for the per-commodity searches: stamping instead of clearing
/// keeps each search proportional to what it visits; `slot` numbers the nodes of the
/// current search.
struct Reach {
    stamp: Vec<u32>,
    slot: Vec<u32>,
    current: u32,
}

impl Reach {
    fn new(nodes: usize) -> Reach {
        Reach {
            stamp: vec![0; nodes],
            slot: vec![0; nodes],
            current: 0,
        }
    }

    /// Starts a new search.
    fn next_stamp(&mut self) -> u32 {
        self.current += 1;
        self.current
    }

    fn mark(&mut self, n: NodeIndex, stamp: u32) {
        self.stamp[n.index()] = stamp;
    }

    fn is(&self, n: NodeIndex, stamp: u32) -> bool {
        self.stamp[n.index()] == stamp
    }
}

fn node(name: &str, kind: NodeKind, capacity: Option<f64>, cost: f64) -> Node {
    Node {
        name: name.to_string(),
        kind,
        capacity,
        cost,
    }
}
