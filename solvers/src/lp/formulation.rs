//! The constraint families of [MCF-Grid] §4.2 on G′ with per-commodity pruning: variables
//! x^k_e exist only for edges commodity k can use, and only for commodities that are
//! served at all (positive demand, not stranded).

use brokerflow_graphs::{ExpandedGraph, Flow, NodeKind};
use petgraph::graph::{EdgeIndex, NodeIndex};

use super::program::{Cmp, Domain, LinearProgram, Sense};

/// An LP over G′ together with the map from its variables back to a [`Flow`].
#[derive(Debug, Clone)]
pub struct Formulation {
    /// The LP.
    pub lp: LinearProgram,
    /// Per usable (edge, commodity) pair of G′: its variable x^k_e, or [`NO_VARIABLE`]
    /// for pairs left out.
    variable_of: Vec<usize>,
    /// Index of each finite-capacity node's resource row, by node index.
    pub capacity_rows: Vec<Option<usize>>,
}

/// How a commodity's source row reads (the only difference between P1, P2 and P3).
#[derive(Debug, Clone, Copy)]
pub enum Supply {
    /// P1: out of s_k = δ·d_k, with δ the given variable.
    Concurrent {
        /// Index of δ.
        delta: usize,
    },
    /// P2 / P2⁻: out of s_k = the given amount of every commodity (per k).
    Fixed,
    /// P3: out of s_k ≤ the given bound of every commodity (per k): d_k capped at its
    /// maximum flow ([`super::demand_caps`]).
    UpToDemand,
}

/// The variable index of a pair that has none.
const NO_VARIABLE: usize = usize::MAX;

impl Formulation {
    /// Adds x^k_e ≥ 0 for every commodity in `active` and every usable edge, with
    /// objective coefficient `objective(k, e)`.
    pub fn new(
        g: &ExpandedGraph,
        sense: Sense,
        active: &[bool],
        objective: impl Fn(usize, EdgeIndex) -> f64,
    ) -> Formulation {
        Formulation::on_pairs(g, sense, |k, _| active[k], objective)
    }

    /// Adds x^k_e ≥ 0 for every usable (edge, commodity) pair of G′ (pair ids of
    /// [`brokerflow_graphs::UsablePairs`]) with `keep(k, pair)`, with objective
    /// coefficient `objective(k, e)`; the other pairs carry no flow.
    pub fn on_pairs(
        g: &ExpandedGraph,
        sense: Sense,
        keep: impl Fn(usize, usize) -> bool,
        objective: impl Fn(usize, EdgeIndex) -> f64,
    ) -> Formulation {
        let pairs = g.pairs();
        let mut lp = LinearProgram::new(sense);
        let mut variable_of = vec![NO_VARIABLE; pairs.len()];
        for k in 0..g.commodities.len() {
            for pair in pairs.range(k) {
                if keep(k, pair) {
                    let e = pairs.edge(pair);
                    variable_of[pair] = lp.add_variable(
                        format!("x_{k}_{}", e.index()),
                        Domain::NonNegative,
                        objective(k, e),
                    );
                }
            }
        }
        Formulation {
            lp,
            variable_of,
            capacity_rows: vec![None; g.graph.node_count()],
        }
    }

    /// Flow conservation per commodity and node ([MCF-Grid] §4.2): inflow = outflow at
    /// every node but s_k and t_k, and the source row given by `supply`
    /// (`amounts[k]` for [`Supply::Fixed`] and [`Supply::UpToDemand`]).
    pub fn add_conservation(&mut self, g: &ExpandedGraph, supply: Supply, amounts: &[f64]) {
        // Scratch per node: the terms of the node's row for the current commodity.
        let mut terms: Vec<Vec<(usize, f64)>> = vec![Vec::new(); g.graph.node_count()];
        let mut touched: Vec<NodeIndex> = Vec::new();
        let pairs = g.pairs();
        for (k, c) in g.commodities.iter().enumerate() {
            for pair in pairs.range(k) {
                let j = self.variable_of[pair];
                if j == NO_VARIABLE {
                    continue;
                }
                for (n, a) in [(pairs.tail(pair), 1.0), (pairs.head(pair), -1.0)] {
                    if terms[n.index()].is_empty() {
                        touched.push(n);
                    }
                    terms[n.index()].push((j, a));
                }
            }
            touched.sort_unstable();
            for &n in &touched {
                let row = std::mem::take(&mut terms[n.index()]);
                if n == c.sink {
                    continue;
                }
                let name = format!("flow_{k}_{}", n.index());
                if n == c.source {
                    match supply {
                        Supply::Concurrent { delta } => {
                            let mut row = row;
                            row.push((delta, -c.demand));
                            self.lp.add_row(name, row, Cmp::Eq, 0.0);
                        }
                        Supply::Fixed => {
                            self.lp.add_row(name, row, Cmp::Eq, amounts[k]);
                        }
                        Supply::UpToDemand => {
                            self.lp.add_row(name, row, Cmp::Le, amounts[k]);
                        }
                    }
                } else {
                    self.lp.add_row(name, row, Cmp::Eq, 0.0);
                }
            }
            touched.clear();
        }
    }

    /// The single resource constraint per node:
    /// Σ_k r^k_n · (flow of k out of n) ≤ R_n, for every node of finite capacity that
    /// some included commodity can use.
    pub fn add_capacity(&mut self, g: &ExpandedGraph) {
        let mut terms: Vec<Vec<(usize, f64)>> = vec![Vec::new(); g.graph.node_count()];
        let pairs = g.pairs();
        for k in 0..g.commodities.len() {
            for pair in pairs.range(k) {
                let j = self.variable_of[pair];
                let tail = pairs.tail(pair);
                if j != NO_VARIABLE && g.node(tail).capacity.is_some() {
                    terms[tail.index()].push((j, g.resource_use(tail, k)));
                }
            }
        }
        for (n, row) in terms.into_iter().enumerate() {
            let node = g.node(NodeIndex::new(n));
            if let (Some(cap), false) = (node.capacity, row.is_empty()) {
                let name = format!("cap_{}_{}", kind_tag(node.kind), n);
                self.capacity_rows[n] = Some(self.lp.add_row(name, row, Cmp::Le, cap));
            }
        }
    }

    /// The LP variable x^k_e of a usable (edge, commodity) pair of G′
    /// ([`brokerflow_graphs::UsablePairs`]); `None` if its commodity is left out.
    pub fn variable(&self, pair: usize) -> Option<usize> {
        self.variable_of
            .get(pair)
            .copied()
            .filter(|&j| j != NO_VARIABLE)
    }

    /// Reads x back into a [`Flow`] (commodities left out carry none).
    pub fn flow(&self, g: &ExpandedGraph, x: &[f64]) -> Flow {
        let pairs = g.pairs();
        let mut flow = Flow::zero(g);
        for (k, xs) in flow.x.iter_mut().enumerate() {
            for (pair, v) in pairs.range(k).zip(xs.iter_mut()) {
                if let Some(j) = self.variable(pair) {
                    *v = x[j];
                }
            }
        }
        flow
    }
}

fn kind_tag(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::User(_) => "user",
        NodeKind::Broker(_) => "broker",
        NodeKind::Provider(_) => "provider",
        NodeKind::Bandwidth(_) => "link",
        NodeKind::Collection(_) => "sink",
    }
}
