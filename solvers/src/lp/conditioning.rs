//! Conditioning of the LPs before they are solved: a demand the network cannot carry
//! is capped at what it can, and numbers a backend cannot resolve are refused.
//!
//! A user who wants "as much as possible" writes a demand of 10¹⁰; P3's row
//! f_k ≤ d_k then mixes 10¹⁰ with capacities of 5, and the simplex and interior-point
//! codes lose the small numbers to round-off (an optimum of 46 reported for 141). No
//! user can receive more than its own maximum flow through G′ alone — one commodity,
//! capacities as they are — so capping d_k at twice that changes no feasible set, no
//! optimum and no price, only the conditioning. (Twice, not once: a bound the flow
//! can reach would tie with the network's own bottleneck, and the dual could then
//! price the user's demand row instead of the bottleneck — a degenerate, misleading
//! price. A bound the flow can never reach is slack at every optimum, so every optimal
//! dual puts its price on the network, as it does for the uncapped LP.)

use brokerflow_graphs::ExpandedGraph;
use petgraph::graph::NodeIndex;

use super::{Backend, Formulation, LpError};

/// d̄_k = min(d_k, 2 × the maximum flow of commodity k alone through G′), per commodity
/// (0 for stranded users and d_k ≤ 0). The LP bounds f_k by d̄_k; the reported demand
/// stays the market's.
///
/// # Arguments
/// - `g`: the expanded graph G′.
///
/// # Returns
/// One cap per commodity, in commodity order.
///
/// # Complexity
/// A commodity whose demand fits through its first hops (the bandwidth or capacity out
/// of s_k) costs O(its pairs); others run Dinic's algorithm on their usable pairs with
/// node capacities R_n / r^k_n: O(V²·E) per such commodity, far less in practice.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// let mut market = examples::tiny().into_market();
/// market.users[0].demand = 1e10; // u1 reaches b1 through a link of bandwidth 5
/// let g = ExpandedGraph::new(&market.validate().unwrap());
/// assert_eq!(brokerflow_solvers::lp::demand_caps(&g)[0], 10.0); // 2 × 5
/// assert_eq!(brokerflow_solvers::lp::demand_caps(&g)[2], 10.0); // u3's own demand
/// ```
///
/// Paper: [MCF-Grid] §4.2 (P3's demand rows); design §4.
pub fn demand_caps(g: &ExpandedGraph) -> Vec<f64> {
    let mut net = Network::default();
    g.commodities
        .iter()
        .enumerate()
        .map(|(k, c)| {
            if c.demand <= 0.0 || c.is_stranded() {
                return 0.0;
            }
            if c.demand <= 2.0 * first_hop_bound(g, k) {
                return c.demand;
            }
            net.build(g, k);
            let flow = net.max_flow(c.demand);
            // Trust the cap only with its proof: a cut of G′ whose capacity (read from
            // the graph, not from the residuals) is no more than the flow found.
            match net.cut_capacity() {
                Some(cut) if 2.0 * flow < c.demand && cut <= flow * (1.0 + 1e-9) => 2.0 * flow,
                _ => c.demand,
            }
        })
        .collect()
}

/// An upper bound on the maximum flow of k alone: what can leave s_k through its first
/// hops (each head's own throughput for k, bandwidth nodes and brokers capacity
/// R / r^k), and what can reach t_k from the eligible providers. A cut either way.
fn first_hop_bound(g: &ExpandedGraph, k: usize) -> f64 {
    let pairs = g.pairs();
    let c = &g.commodities[k];
    let through = |n: NodeIndex| -> f64 {
        match g.node(n).capacity {
            Some(cap) => {
                let r = g.resource_use(n, k);
                if r > 0.0 {
                    cap / r
                } else {
                    f64::INFINITY
                }
            }
            None => f64::INFINITY,
        }
    };
    let mut out = 0.0;
    let mut into = 0.0;
    for pair in pairs.range(k) {
        if pairs.tail(pair) == c.source {
            out += through(pairs.head(pair));
        }
        if pairs.head(pair) == c.sink {
            into += through(pairs.tail(pair));
        }
    }
    f64::min(out, into)
}

/// A flow network for one commodity: every G′ node n of k's pairs split into n_in → n_out
/// with capacity R_n / r^k_n (unlimited where n has no capacity), every usable pair an
/// unlimited arc n_out → m_in.
#[derive(Default)]
struct Network {
    /// Per arc: head, residual capacity; arc i^1 is i's reverse.
    head: Vec<usize>,
    residual: Vec<f64>,
    /// Per arc: its capacity as built from G′.
    capacity: Vec<f64>,
    /// Adjacency (arc ids) per network node.
    arcs: Vec<Vec<usize>>,
    /// G′ node index → local node id (in = 2·id, out = 2·id + 1).
    local: std::collections::HashMap<usize, usize>,
    source: usize,
    sink: usize,
    level: Vec<i64>,
    next: Vec<usize>,
}

impl Network {
    fn build(&mut self, g: &ExpandedGraph, k: usize) {
        self.head.clear();
        self.residual.clear();
        self.capacity.clear();
        self.arcs.clear();
        self.local.clear();
        let pairs = g.pairs();
        let id = |n: NodeIndex, net: &mut Network| -> usize {
            let len = net.local.len();
            let l = *net.local.entry(n.index()).or_insert(len);
            if l == len {
                net.arcs.push(Vec::new());
                net.arcs.push(Vec::new());
                let cap = match g.node(n).capacity {
                    Some(cap) if g.resource_use(n, k) > 0.0 => cap / g.resource_use(n, k),
                    _ => f64::INFINITY,
                };
                net.add_arc(2 * l, 2 * l + 1, cap);
            }
            l
        };
        for pair in pairs.range(k) {
            let u = id(pairs.tail(pair), self);
            let v = id(pairs.head(pair), self);
            self.add_arc(2 * u + 1, 2 * v, f64::INFINITY);
        }
        let c = &g.commodities[k];
        self.source = 2 * id(c.source, self);
        self.sink = 2 * id(c.sink, self) + 1;
    }

    fn add_arc(&mut self, from: usize, to: usize, cap: f64) {
        self.arcs[from].push(self.head.len());
        self.head.push(to);
        self.residual.push(cap);
        self.capacity.push(cap);
        self.arcs[to].push(self.head.len());
        self.head.push(from);
        self.residual.push(0.0);
        self.capacity.push(0.0);
    }

    /// Dinic's algorithm, stopping once `limit` is reached.
    fn max_flow(&mut self, limit: f64) -> f64 {
        let nodes = self.arcs.len();
        let mut total = 0.0;
        // Residuals below this are round-off of earlier augmentations, not capacity.
        let largest = self
            .residual
            .iter()
            .filter(|r| r.is_finite())
            .fold(1.0f64, |m, &r| m.max(r));
        let eps = 1e-12 * largest.min(limit.max(1.0));
        while total < limit {
            self.level = vec![-1; nodes];
            self.level[self.source] = 0;
            let mut queue = std::collections::VecDeque::from([self.source]);
            while let Some(u) = queue.pop_front() {
                for &a in &self.arcs[u] {
                    let v = self.head[a];
                    if self.residual[a] > eps && self.level[v] < 0 {
                        self.level[v] = self.level[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            if self.level[self.sink] < 0 {
                break;
            }
            self.next = vec![0; nodes];
            loop {
                let pushed = self.augment(self.source, limit - total, eps);
                if pushed <= eps {
                    break;
                }
                total += pushed;
                if total >= limit {
                    break;
                }
            }
        }
        total
    }

    /// The capacity of the cut after [`Network::max_flow`]: the arcs leaving the nodes
    /// still reachable from the source in the residual network, at their capacity as
    /// built from G′;
    /// `None` if an unlimited arc leaves them (then it is no cut of finite capacity).
    fn cut_capacity(&self) -> Option<f64> {
        let reachable = |v: usize| self.level[v] >= 0;
        let mut cut = 0.0;
        for u in 0..self.arcs.len() {
            if !reachable(u) {
                continue;
            }
            for &a in &self.arcs[u] {
                // Forward arcs are the even ones.
                if a % 2 == 0 && !reachable(self.head[a]) {
                    if !self.capacity[a].is_finite() {
                        return None;
                    }
                    cut += self.capacity[a];
                }
            }
        }
        Some(cut)
    }

    fn augment(&mut self, u: usize, want: f64, eps: f64) -> f64 {
        if u == self.sink {
            return want;
        }
        while self.next[u] < self.arcs[u].len() {
            let a = self.arcs[u][self.next[u]];
            let v = self.head[a];
            if self.residual[a] > eps && self.level[v] == self.level[u] + 1 {
                let got = self.augment(v, want.min(self.residual[a]), eps);
                if got > eps {
                    self.residual[a] -= got;
                    self.residual[a ^ 1] += got;
                    return got;
                }
            }
            self.next[u] += 1;
        }
        0.0
    }
}

/// The largest ratio of two non-zero magnitudes among an LP's numbers that `backend`
/// resolves to the check's relative tolerance (1e-6): the simplex codes (microlp,
/// HiGHS) work in double precision with absolute tolerances near 1e-9, clarabel's
/// interior point stops at a relative gap near 1e-8.
/// `auto` takes the smaller range of the backends it may pick.
pub fn dynamic_range(backend: Backend) -> f64 {
    backend.implementation().map_or(1e8, |b| b.dynamic_range())
}

/// Refuses an LP whose market numbers span more than [`dynamic_range`] — demand
/// bounds (`bounds`, or d_k for P1), valuations, requirements, capacities and costs of
/// what the LP uses — naming the largest, before any solve.
pub(super) fn check_scale(
    g: &ExpandedGraph,
    f: &Formulation,
    backend: Backend,
    bounds: Option<&[f64]>,
) -> Result<(), LpError> {
    let backend = backend.resolve(f.lp.variables());
    let pairs = g.pairs();
    let mut largest: (f64, String) = (0.0, String::new());
    let mut smallest = f64::INFINITY;
    let mut see = |value: f64, what: &dyn Fn() -> String| {
        let m = value.abs();
        if m > 0.0 && m.is_finite() {
            smallest = smallest.min(m);
            if m > largest.0 {
                largest = (m, what());
            }
        }
    };
    let mut used = vec![false; g.graph.node_count()];
    for (k, c) in g.commodities.iter().enumerate() {
        let bound = bounds.map_or(c.demand, |b| b[k]);
        if bound <= 0.0 || pairs.range(k).is_empty() || c.is_stranded() {
            continue;
        }
        let capped = bound < c.demand;
        see(bound, &|| {
            if capped {
                format!("user {}'s demand (capped at twice its maximum flow)", c.id)
            } else {
                format!("user {}'s demand", c.id)
            }
        });
        see(c.valuation, &|| format!("user {}'s valuation", c.id));
        see(c.requirement, &|| format!("user {}'s requirement", c.id));
        for pair in pairs.range(k) {
            let tail = pairs.tail(pair);
            if !used[tail.index()] {
                used[tail.index()] = true;
                let node = g.node(tail);
                if let Some(cap) = node.capacity {
                    see(cap, &|| format!("the capacity of {}", node.name));
                }
                see(node.cost, &|| format!("the cost of {}", node.name));
            }
            let e = pairs.edge(pair);
            see(g.graph[e].cost, &|| {
                let (u, v) = g.graph.edge_endpoints(e).expect("edge of G'");
                format!("the cost of link {} -> {}", g.node(u).name, g.node(v).name)
            });
        }
    }
    let limit = dynamic_range(backend);
    if largest.0 > 0.0 && largest.0 / smallest > limit {
        return Err(LpError::BadlyScaled {
            backend,
            what: largest.1,
            value: largest.0,
            limit,
        });
    }
    Ok(())
}
