//! A multi-commodity flow on G′ and its welfare (design §2): what every solver
//! returns and every checker, writer and measure reads.

use petgraph::graph::EdgeIndex;

use crate::expanded::ExpandedGraph;

/// x^k_e for every commodity k and every edge e that k can use.
///
/// `x[k][i]` is the flow of commodity k on edge `g.commodities[k].usable[i]`; edges a
/// commodity cannot use carry none of it by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Per commodity, aligned with that commodity's `usable` edges.
    pub x: Vec<Vec<f64>>,
}

impl Flow {
    /// The zero flow on `g`.
    pub fn zero(g: &ExpandedGraph) -> Flow {
        Flow {
            x: g.commodities
                .iter()
                .map(|c| vec![0.0; c.usable.len()])
                .collect(),
        }
    }

    /// x^k_e; 0 for an edge commodity k cannot use.
    pub fn get(&self, g: &ExpandedGraph, k: usize, e: EdgeIndex) -> f64 {
        let pairs = g.pairs();
        pairs
            .find(k, e)
            .map_or(0.0, |p| self.x[k][p - pairs.range(k).start])
    }

    /// Commodity k's (edge, flow) pairs in edge order.
    pub fn edges<'a>(
        &'a self,
        g: &'a ExpandedGraph,
        k: usize,
    ) -> impl Iterator<Item = (EdgeIndex, f64)> + 'a {
        g.commodities[k]
            .usable
            .iter()
            .copied()
            .zip(self.x[k].iter().copied())
    }

    /// f_k: what commodity k delivers to its collection point t_k.
    ///
    /// # Arguments
    /// * `g`: the expanded graph G′ the flow is on.
    /// * `k`: the commodity (user index).
    ///
    /// # Returns
    /// The flow of k on the edges into t_k.
    ///
    /// # Complexity
    /// O(in-degree of t_k).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
    ///
    /// // tiny's u1 has one route, u1 → `u1->b1` → b1 → p1 → t(u1), whose four edges are
    /// // its usable edges (graphs/markets/tiny.md §2, §3: R1, cost c_p1·r_1 = 1 per job).
    /// let g = ExpandedGraph::new(&examples::tiny());
    /// let r1 = Flow { x: vec![vec![5.0; 4], vec![0.0; 8], vec![0.0; 4]] };
    /// assert_eq!((r1.served(&g, 0), r1.served(&g, 1)), (5.0, 0.0));
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.2 (f_k).
    pub fn served(&self, g: &ExpandedGraph, k: usize) -> f64 {
        let sink = g.commodities[k].sink;
        let pairs = g.pairs();
        let start = pairs.range(k).start;
        // t_k's incoming pairs of commodity k are exactly its provider → t_k edges.
        pairs
            .entering(sink)
            .iter()
            .filter(|&&p| pairs.commodity(p) == k)
            .map(|&p| self.x[k][p - start])
            .sum::<f64>()
            + 0.0
    }

    /// Money spent moving the flow: Σ_k Σ_e unit_cost(e, k)·x^k_e (provider, broker and
    /// link costs of design §2).
    ///
    /// # Arguments
    /// * `g`: the expanded graph G′ the flow is on.
    ///
    /// # Returns
    /// The cost per time unit.
    ///
    /// # Complexity
    /// O(|P|) for |P| usable pairs.
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
    ///
    /// // tiny's u1 has one route, u1 → `u1->b1` → b1 → p1 → t(u1), whose four edges are
    /// // its usable edges (graphs/markets/tiny.md §2, §3: R1, cost c_p1·r_1 = 1 per job).
    /// let g = ExpandedGraph::new(&examples::tiny());
    /// let r1 = Flow { x: vec![vec![5.0; 4], vec![0.0; 8], vec![0.0; 4]] };
    /// assert_eq!(r1.cost(&g), 5.0);
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1 (the brokers', providers' and links' charges).
    pub fn cost(&self, g: &ExpandedGraph) -> f64 {
        (0..g.commodities.len())
            .map(|k| {
                self.edges(g, k)
                    .map(|(e, x)| g.unit_cost(e, k) * x)
                    .sum::<f64>()
            })
            .sum::<f64>()
            + 0.0
    }

    /// Σ_k r^k_n · (flow of k out of n), per G′ node index: what the flow uses of each
    /// node's one resource (design §2).
    ///
    /// # Arguments
    /// * `g`: the expanded graph G′ the flow is on.
    ///
    /// # Returns
    /// One entry per node index of `g`.
    ///
    /// # Complexity
    /// O(N + |P|) for N nodes and |P| usable pairs.
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
    ///
    /// // tiny's u1 has one route, u1 → `u1->b1` → b1 → p1 → t(u1), whose four edges are
    /// // its usable edges (graphs/markets/tiny.md §2, §3: R1, cost c_p1·r_1 = 1 per job).
    /// let g = ExpandedGraph::new(&examples::tiny());
    /// let r1 = Flow { x: vec![vec![5.0; 4], vec![0.0; 8], vec![0.0; 4]] };
    /// let used = r1.resource_use(&g);
    /// let at = |name| used[g.node_named(name).unwrap().index()];
    /// assert_eq!((at("u1->b1"), at("b1"), at("p1"), at("b2")), (5.0, 5.0, 5.0, 0.0));
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1.5 (one resource constraint per node of G′).
    pub fn resource_use(&self, g: &ExpandedGraph) -> Vec<f64> {
        let pairs = g.pairs();
        let mut used = vec![0.0; g.graph.node_count()];
        for (k, xs) in self.x.iter().enumerate() {
            for (pair, &x) in pairs.range(k).zip(xs) {
                let tail = pairs.tail(pair);
                used[tail.index()] += g.resource_use(tail, k) * x;
            }
        }
        used
    }

    /// Welfare W = Σ_k v_k f_k − costs ([MCF-Grid] §4.2, design §2): the one definition
    /// every solver, checker and measure uses.
    ///
    /// # Arguments
    /// * `g`: the expanded graph G′ the flow is on.
    ///
    /// # Returns
    /// W in money per time unit.
    ///
    /// # Complexity
    /// O(|P|) for |P| usable pairs.
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
    ///
    /// // tiny's u1 has one route, u1 → `u1->b1` → b1 → p1 → t(u1), whose four edges are
    /// // its usable edges (graphs/markets/tiny.md §2, §3: R1, cost c_p1·r_1 = 1 per job).
    /// let g = ExpandedGraph::new(&examples::tiny());
    /// let r1 = Flow { x: vec![vec![5.0; 4], vec![0.0; 8], vec![0.0; 4]] };
    /// // 19 per job net (v_1 = 20 minus 1), tiny.md §3: W = 19x.
    /// assert_eq!(r1.welfare(&g), 95.0);
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.2 (the objective of the LP).
    pub fn welfare(&self, g: &ExpandedGraph) -> f64 {
        let value: f64 = g
            .commodities
            .iter()
            .enumerate()
            .map(|(k, c)| c.valuation * self.served(g, k))
            .sum();
        value - self.cost(g)
    }
}
