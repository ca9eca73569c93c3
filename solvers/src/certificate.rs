//! The optimality certificate every LP optimum must pass before it is reported.
//!
//! [`crate::check`] proves a solution *feasible*; this module proves it *optimal*, from
//! the market's G′ and a vector of resource prices π ≥ 0 alone — independent of the LP
//! builder (it never reads a row, a variable index or a dual of a conservation row)
//! and of the solver (any π ≥ 0 gives a valid bound; the solver's prices merely make it
//! tight).
//!
//! # The bound (Lagrangian duality, design §4)
//!
//! Price every node n of finite capacity R_n at π_n ≥ 0 and let the length of a usable
//! (edge, commodity) pair (u → v, k) be ℓ = c^k_e + r^k_u·π_u — the money a job of k
//! spends on that hop, its sender's resource included (c^k_e is G′'s
//! [`ExpandedGraph::unit_cost`]). Since Σ_n π_n·(resource used at n) ≤ Σ_n π_n·R_n for
//! every feasible flow, and a flow of k costs at least f_k times k's shortest s_k → t_k
//! length dist_k:
//!
//! | LP | certified bound |
//! |---|---|
//! | P1 | δ ≤ Σ_n R_n π_n / Σ_k d_k·dist_k, lengths r^k_u·π_u only |
//! | P2 at amounts a_k | W ≤ Σ_k v_k a_k + Σ_n R_n π_n − Σ_k a_k·dist_k |
//! | P2⁻ at amounts a_k | W ≥ Σ_k v_k a_k − Σ_n R_n π_n + Σ_k a_k·dist⁻_k, dist⁻ with lengths r^k_u·π_u − c^k_e (acyclic G′) |
//! | P3, 0 ≤ f_k ≤ d̄_k | W ≤ Σ_n R_n π_n + Σ_k d̄_k·max(0, v_k − dist_k) |
//!
//! (d̄_k is the demand the LP bounds f_k by: d_k capped at twice k's single-commodity
//! maximum flow, [`crate::lp::demand_caps`].) The reported optimum is certified when it lies
//! within [`CERTIFICATE_TOLERANCE`] (relative to the size of the objective) of its
//! bound: then no feasible solution can be better by more than that. The gap is
//! exactly the complementary-slackness sum (flow on pairs of positive reduced cost,
//! prices on resources with slack, value left on unserved demand), reported alongside
//! as [`Certificate::max_reduced_cost`] and [`Certificate::max_price_slack`].
//!
//! Distances are Bellman–Ford over each commodity's usable pairs towards t_k (a cycle
//! of negative length would make the bound −∞ and is reported, never looped on).

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::NodeIndex;
use serde::Serialize;

/// Relative tolerance of the certificate: |bound − optimum| ≤ this × the objective's
/// scale (δ for P1; max(1, Σ_k v_k f_k, total cost) for P2, P2⁻ and P3). Loose enough
/// for the backends' optimality tolerances (≈ 1e-8 relative for clarabel's interior
/// point, round-off for the simplex codes), tight enough that a wrong optimum fails.
pub const CERTIFICATE_TOLERANCE: f64 = 1e-6;

/// Which optimum a certificate is for, with what that LP fixes.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// P1: the maximum concurrent flow δ* over the commodities in `active`.
    Concurrent {
        /// The reported δ*.
        delta: f64,
        /// Commodities that were part of P1 (positive demand, not stranded).
        active: &'a [bool],
    },
    /// P2: the most welfare at served amounts `amounts` (per commodity).
    BestRouting {
        /// The fixed amounts a_k.
        amounts: &'a [f64],
    },
    /// P2⁻: the least welfare at served amounts `amounts`.
    WorstRouting {
        /// The fixed amounts a_k.
        amounts: &'a [f64],
    },
    /// P3: the most welfare with 0 ≤ f_k ≤ `caps[k]`.
    Welfare {
        /// The demand bounds d̄_k of the LP.
        caps: &'a [f64],
    },
}

/// The residuals of an optimality certificate: how far the reported optimum is from
/// the dual bound that the resource prices prove.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Certificate {
    /// The reported optimum (δ* for P1, W for the others).
    pub optimum: f64,
    /// The dual bound the prices prove (an upper bound for maximisations, a lower
    /// bound for P2⁻).
    pub bound: f64,
    /// |bound − optimum|, the primal–dual objective gap.
    pub gap: f64,
    /// The gap allowed: [`CERTIFICATE_TOLERANCE`] × the objective's scale.
    pub allowed: f64,
    /// Largest reduced cost of a pair that carries flow (complementary slackness:
    /// 0 at an optimum), in money (P1: in price units) per job.
    pub max_reduced_cost: f64,
    /// Largest π_n·(R_n − used_n) over priced resources (complementary slackness:
    /// a resource with slack has price 0).
    pub max_price_slack: f64,
}

impl Certificate {
    /// Whether the optimum is proven to the tolerance.
    pub fn ok(&self) -> bool {
        self.gap.is_finite() && self.gap <= self.allowed
    }

    /// One line saying why a certificate failed (or that it passed).
    pub fn summary(&self) -> String {
        format!(
            "objective {} vs dual bound {} (gap {:.3e}, allowed {:.3e}; largest reduced cost on flow {:.3e}, largest price × slack {:.3e})",
            self.optimum, self.bound, self.gap, self.allowed, self.max_reduced_cost, self.max_price_slack
        )
    }
}

/// Why no certificate could be formed at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CertificateError {
    /// Prices of the wrong length, negative or not finite.
    #[error("the resource prices are not a non-negative finite vector over G′'s nodes")]
    BadPrices,
    /// A commodity's lengths have a negative cycle (P2⁻ on a cyclic G′, or negative
    /// costs): the bound would be −∞.
    #[error(
        "commodity {0}: the priced lengths have a negative cycle, so the prices prove no bound"
    )]
    NegativeCycle(String),
}

/// Certifies `claim` for `flow` on `g` with resource prices `prices` (per node index;
/// 0 where a node has no capacity or its price is unknown).
///
/// # Arguments
/// - `g`: the expanded graph G′ of the market.
/// - `flow`: the reported flow (used for the complementary-slackness residuals and,
///   for P2, P2⁻ and P3, the reported welfare).
/// - `prices`: π_n ≥ 0 per node index of G′.
/// - `claim`: which LP's optimum the flow claims to be.
///
/// # Returns
/// The [`Certificate`] (check [`Certificate::ok`]), or why none can be formed.
///
/// # Complexity
/// O(Σ_k |pairs_k| · |nodes_k|) worst case (Bellman–Ford per commodity); on acyclic
/// commodities one or two passes, i.e. linear in the usable pairs.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::certificate::{certify, Claim};
/// use brokerflow_solvers::lp::{self, LpOptions, Objective};
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// let p3 = lp::solve(&g, Objective::Welfare, &LpOptions::default()).unwrap();
/// // The solver's own certificate passed; any other prices give a weaker bound.
/// let proven = p3.certificate.unwrap();
/// assert!(proven.ok());
/// let zero = vec![0.0; g.graph.node_count()];
/// let caps = lp::demand_caps(&g);
/// let loose = certify(&g, p3.flow.as_ref().unwrap(), &zero, Claim::Welfare { caps: &caps }).unwrap();
/// assert!(loose.bound > proven.bound);
/// ```
///
/// Paper: [MCF-Grid] §4.2 (the LPs); the bound is LP duality with the capacity rows
/// priced (design §4).
pub fn certify(
    g: &ExpandedGraph,
    flow: &Flow,
    prices: &[f64],
    claim: Claim<'_>,
) -> Result<Certificate, CertificateError> {
    if prices.len() != g.graph.node_count() || prices.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(CertificateError::BadPrices);
    }
    let pairs = g.pairs();
    let price = |n: NodeIndex| -> f64 {
        if g.node(n).capacity.is_some() {
            prices[n.index()]
        } else {
            0.0
        }
    };
    // Σ_n R_n π_n and the complementary slackness of the capacity rows.
    let used = flow.resource_use(g);
    let mut priced_capacity = 0.0;
    let mut max_price_slack: f64 = 0.0;
    for n in g.graph.node_indices() {
        if let Some(cap) = g.node(n).capacity {
            let p = price(n);
            if p > 0.0 {
                priced_capacity += cap * p;
                max_price_slack = max_price_slack.max(p * (cap - used[n.index()]).max(0.0));
            }
        }
    }
    let mut dist = Distances::new(g.graph.node_count());
    let mut max_reduced_cost: f64 = 0.0;
    // Σ_k weight_k · dist_k and, for P3, Σ_k d̄_k · max(0, v_k − dist_k).
    let mut path_term = 0.0;
    for (k, c) in g.commodities.iter().enumerate() {
        let weight = match claim {
            Claim::Concurrent { active, .. } => {
                if active[k] {
                    c.demand
                } else {
                    0.0
                }
            }
            Claim::BestRouting { amounts } | Claim::WorstRouting { amounts } => amounts[k],
            Claim::Welfare { caps } => caps[k],
        };
        if weight <= 0.0 || pairs.range(k).is_empty() {
            continue;
        }
        let length = |pair: usize| -> f64 {
            let tail = pairs.tail(pair);
            let resource = g.resource_use(tail, k) * price(tail);
            match claim {
                Claim::Concurrent { .. } => resource,
                Claim::BestRouting { .. } | Claim::Welfare { .. } => {
                    g.unit_cost(pairs.edge(pair), k) + resource
                }
                Claim::WorstRouting { .. } => resource - g.unit_cost(pairs.edge(pair), k),
            }
        };
        dist.run(g, k, &length)
            .map_err(|()| CertificateError::NegativeCycle(c.id.clone()))?;
        let d = dist.at(c.source);
        path_term += match claim {
            Claim::Welfare { .. } => weight * (c.valuation - d).max(0.0),
            _ => weight * d,
        };
        for (pair, &x) in pairs.range(k).zip(&flow.x[k]) {
            if x > 0.0 {
                let rc = length(pair) + dist.at(pairs.head(pair)) - dist.at(pairs.tail(pair));
                max_reduced_cost = max_reduced_cost.max(rc);
            }
        }
    }
    let value: f64 = (0..g.commodities.len())
        .map(|k| g.commodities[k].valuation * flow.served(g, k))
        .sum();
    let cost = flow.cost(g);
    let welfare_scale = 1f64.max(value.abs()).max(cost.abs());
    let (optimum, bound, scale) = match claim {
        Claim::Concurrent { delta, .. } => {
            let bound = if path_term > 0.0 {
                priced_capacity / path_term
            } else {
                f64::INFINITY
            };
            (
                delta,
                bound,
                delta.abs().max(bound.abs()).max(f64::MIN_POSITIVE),
            )
        }
        Claim::BestRouting { amounts } => {
            let gross = gross_value(g, amounts);
            (
                value - cost,
                gross + priced_capacity - path_term,
                welfare_scale,
            )
        }
        Claim::WorstRouting { amounts } => {
            let gross = gross_value(g, amounts);
            (
                value - cost,
                gross - priced_capacity + path_term,
                welfare_scale,
            )
        }
        Claim::Welfare { .. } => (value - cost, priced_capacity + path_term, welfare_scale),
    };
    // For P1 the scale is δ itself, so an infinite bound gives a NaN gap: not ok.
    let gap = (bound - optimum).abs();
    Ok(Certificate {
        optimum,
        bound,
        gap,
        allowed: CERTIFICATE_TOLERANCE * if scale.is_finite() { scale } else { 0.0 },
        max_reduced_cost,
        max_price_slack,
    })
}

fn gross_value(g: &ExpandedGraph, amounts: &[f64]) -> f64 {
    g.commodities
        .iter()
        .zip(amounts)
        .map(|(c, a)| c.valuation * a)
        .sum()
}

/// Shortest distances to t_k over one commodity's usable pairs, on scratch reused
/// across commodities.
struct Distances {
    to_sink: Vec<f64>,
    touched: Vec<usize>,
}

impl Distances {
    fn new(nodes: usize) -> Distances {
        Distances {
            to_sink: vec![f64::INFINITY; nodes],
            touched: Vec::new(),
        }
    }

    fn at(&self, n: NodeIndex) -> f64 {
        self.to_sink[n.index()]
    }

    /// Bellman–Ford towards t_k; `Err` on a negative cycle.
    fn run(
        &mut self,
        g: &ExpandedGraph,
        k: usize,
        length: &impl Fn(usize) -> f64,
    ) -> Result<(), ()> {
        for n in self.touched.drain(..) {
            self.to_sink[n] = f64::INFINITY;
        }
        let pairs = g.pairs();
        let range = pairs.range(k);
        for pair in range.clone() {
            self.touched.push(pairs.tail(pair).index());
            self.touched.push(pairs.head(pair).index());
        }
        let sink = g.commodities[k].sink.index();
        self.to_sink[sink] = 0.0;
        self.touched.push(sink);
        // At most |nodes_k| passes settle every shortest path; one more that still
        // improves proves a negative cycle. Backwards over the pairs, which G′ lists
        // roughly source to sink, most commodities settle in one pass.
        let passes = range.len() + 2;
        for _ in 0..passes {
            let mut changed = false;
            for pair in range.clone().rev() {
                let head = self.to_sink[pairs.head(pair).index()];
                if head == f64::INFINITY {
                    continue;
                }
                let through = length(pair) + head;
                let tail = &mut self.to_sink[pairs.tail(pair).index()];
                if through < *tail {
                    *tail = through;
                    changed = true;
                }
            }
            if !changed {
                return Ok(());
            }
        }
        Err(())
    }
}
