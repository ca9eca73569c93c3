//! Configuring nodes from G′: each node's fixed view of the market, built for one
//! node, for a set of nodes, or for all of them — never more than what was asked for
//! (a deployment configures each node from its own links; a runtime that runs nodes
//! elsewhere configures each partition where it runs).

use brokerflow_graphs::{ExpandedGraph, Market, NodeKind};
use petgraph::graph::{EdgeIndex, NodeIndex};

use super::node::{LocalCommodity, NodeConfig, OutEdge};
use super::protocol::Local;
use super::variants::{smallest_valuation, PushPolicy};
use super::{EngineError, EngineOptions, Injection};

/// What configuring a node needs: the market, its G′, validated options, and the
/// market-wide weight floor. O(commodities) to create (the floor); each node then
/// costs O(its usable pairs).
#[derive(Debug, Clone, Copy)]
pub struct Setup<'m, 'g> {
    market: &'m Market,
    g: &'g ExpandedGraph,
    options: EngineOptions,
    floor: f64,
}

impl<'m, 'g> Setup<'m, 'g> {
    /// Validates the options (a setting out of range is an error).
    pub fn new(
        market: &'m Market,
        g: &'g ExpandedGraph,
        options: &EngineOptions,
    ) -> Result<Setup<'m, 'g>, EngineError> {
        validate(options)?;
        super::magnitudes::check(market)?;
        Ok(Setup {
            market,
            g,
            options: *options,
            floor: options
                .weight_floor
                .unwrap_or_else(|| smallest_valuation(g)),
        })
    }

    /// The market.
    pub fn market(&self) -> &'m Market {
        self.market
    }

    /// Its G′.
    pub fn graph(&self) -> &'g ExpandedGraph {
        self.g
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The positive floor of utility-aware weights (before the ×d_k): the option, or
    /// the smallest valuation of any user with demand.
    pub fn weight_floor(&self) -> f64 {
        self.floor
    }

    /// a_k: what commodity k's source injects per round; 0 for stranded or zero-demand
    /// users (they carry no commodity, and no node is configured for them).
    pub fn injection(&self, k: usize) -> f64 {
        let c = &self.g.commodities[k];
        if c.is_stranded() || c.demand <= 0.0 {
            return 0.0;
        }
        match self.options.injection {
            Injection::Feasible { delta } => {
                (1.0 - self.options.eta) * delta.map_or(1.0, |d| d.min(1.0)) * c.demand
            }
            Injection::Demand => c.demand,
        }
    }

    /// a_k for every commodity.
    pub fn injections(&self) -> Vec<f64> {
        (0..self.g.commodities.len())
            .map(|k| self.injection(k))
            .collect()
    }

    /// Node n's configuration: per commodity that can use it (and carries jobs), in
    /// increasing k, its queue count (usable in-edges plus out-edges), injection,
    /// ceiling and usable out-edges in increasing edge order, with the variant's data.
    /// O(n's usable pairs).
    pub fn node<P: PushPolicy>(&self, n: NodeIndex) -> NodeConfig<P> {
        let (g, o) = (self.g, &self.options);
        let pairs = g.pairs();
        let (leaving, entering) = (pairs.leaving(n), pairs.entering(n));
        let collection = matches!(g.node(n).kind, NodeKind::Collection(_));
        let mut config = NodeConfig {
            node: n.index(),
            capacity: g.node(n).capacity,
            collection,
            commodities: Vec::new(),
            out: Vec::new(),
        };
        // Both lists are sorted by (commodity, edge): merge them commodity by commodity.
        let (mut a, mut b) = (0, 0);
        while a < leaving.len() || b < entering.len() {
            let k = match (leaving.get(a), entering.get(b)) {
                (Some(&p), Some(&q)) => pairs.commodity(p).min(pairs.commodity(q)),
                (Some(&p), None) => pairs.commodity(p),
                (None, Some(&q)) => pairs.commodity(q),
                (None, None) => unreachable!(),
            };
            let outs = leaving[a..]
                .iter()
                .take_while(|&&p| pairs.commodity(p) == k)
                .count();
            let ins = entering[b..]
                .iter()
                .take_while(|&&q| pairs.commodity(q) == k)
                .count();
            let out_pairs = &leaving[a..a + outs];
            (a, b) = (a + outs, b + ins);
            let injection = self.injection(k);
            if injection <= 0.0 {
                continue;
            }
            let c = &g.commodities[k];
            let source = n == c.source;
            config.commodities.push(LocalCommodity {
                local: Local {
                    k,
                    demand: c.demand,
                    resource: g.resource_use(n, k),
                    queues: u32::try_from(outs + ins).expect("fewer than 2^32 queues at a node"),
                    injection: if source { injection } else { 0.0 },
                    ceiling: (source
                        && matches!(o.injection, Injection::Demand)
                        && P::uses_ceiling())
                    .then_some(o.effective_ceiling() * (outs + ins) as f64 * c.demand),
                    momentum: o.effective_momentum(),
                },
                policy: P::configure_commodity(self, k),
                out_edges: outs,
            });
            for &p in out_pairs {
                let e: EdgeIndex = pairs.edge(p);
                let head = pairs.head(p);
                config.out.push(OutEdge {
                    edge: e.index(),
                    to: head.index(),
                    into_sink: head == c.sink,
                    policy: P::configure_edge(self, e, k),
                });
            }
        }
        config
    }

    /// The nodes that carry some commodity (are on a usable pair of a commodity that
    /// injects), in increasing index: the only nodes a runtime needs to configure and
    /// run — every other node's step is empty. O(usable pairs · log), independent of
    /// how many nodes G′ has (an imported benchmark may have millions that no
    /// commodity can use).
    pub fn active_nodes(&self) -> Vec<NodeIndex> {
        let pairs = self.g.pairs();
        let mut nodes: Vec<NodeIndex> = (0..self.g.commodities.len())
            .filter(|&k| self.injection(k) > 0.0)
            .flat_map(|k| pairs.range(k))
            .flat_map(|p| [pairs.tail(p), pairs.head(p)])
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The configurations of `nodes`, in the order given.
    pub fn partition<P: PushPolicy>(
        &self,
        nodes: impl IntoIterator<Item = NodeIndex>,
    ) -> Vec<NodeConfig<P>> {
        nodes.into_iter().map(|n| self.node(n)).collect()
    }
}

pub(super) fn validate(o: &EngineOptions) -> Result<(), EngineError> {
    let bad = |name, value: f64, rule| Err(EngineError::Setting { name, value, rule });
    if !(0.0..1.0).contains(&o.eta) {
        return bad("eta", o.eta, "0 ≤ η < 1");
    }
    if !(o.epsilon > 0.0 && o.epsilon < 1.0) {
        return bad("epsilon", o.epsilon, "0 < ε < 1");
    }
    // Summation round-off of the defaults (0.02 + 0.03) must not trip the rule.
    if o.eta + o.epsilon > super::MAX_SLACK + 1e-12 {
        return bad(
            "eta + epsilon",
            o.eta + o.epsilon,
            "η + ε ≤ 0.05 (feasible injection gives up η of the LP's amounts and convergence tolerates ε more; together they keep a converged run within 5 % of them)",
        );
    }
    if o.window == 0 {
        return bad("window", 0.0, "at least 1 round");
    }
    if o.max_rounds == 0 {
        return bad("rounds", 0.0, "at least 1 round");
    }
    if let Some(c) = o.ceiling {
        if !(c > 0.0 && c <= super::magnitudes::LARGEST) {
            return bad("ceiling", c, "a positive queue height, at most 1e100");
        }
    }
    if let Some(b) = o.momentum {
        if !(0.0..1.0).contains(&b) {
            return bad("momentum", b, "in [0, 1)");
        }
    }
    if let Some(c) = o.welfare_scale {
        if !(c > 0.0 && c <= super::magnitudes::LARGEST) {
            return bad("welfare_scale", c, "positive, at most 1e100");
        }
    }
    if let Some(f) = o.weight_floor {
        if !(f.is_finite() && f > 0.0) {
            return bad("weight_floor", f, "positive");
        }
    }
    Ok(())
}
