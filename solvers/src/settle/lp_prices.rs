//! `lp-prices`: competitive prices from the exact duals of P3 (design §4, §6).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use brokerflow_graphs::{ExpandedGraph, Role, TotalOrder};
use petgraph::graph::NodeIndex;

use super::{
    Allocation, AllocationSource, Mechanism, Setting, SettleError, SettleOptions, Statement,
    Transfers,
};
use crate::lp::{self, LpOptions};

/// Per commodity k and node n, the competitive price π^k_n of one job of k at n:
/// the cheapest cost-plus-rent of carrying it from n to t_k,
/// π^k_n = min over paths n → t_k of Σ_e (unit_cost(e, k) + r^k_tail(e)·y_tail(e)),
/// with y the P3 dual price per resource unit of every node (`prices`, by node
/// index). `None` where t_k is unreachable.
///
/// These are P3's dual node potentials written as prices: by complementary slackness
/// every edge an optimal P3 flow uses lies on such a cheapest path, so each broker's
/// margin per job is exactly its rent y_b, each provider's price is c_p·r_k + r_k·y_p
/// and a served user's margin v_k − π^k_{s_k} is its dual surplus ≥ 0.
pub fn job_prices(g: &ExpandedGraph, prices: &[f64]) -> Vec<Vec<Option<f64>>> {
    g.commodities
        .iter()
        .enumerate()
        .map(|(k, c)| {
            // Reverse adjacency over k's usable edges: head → (tail, weight).
            let mut into: std::collections::HashMap<NodeIndex, Vec<(NodeIndex, f64)>> =
                Default::default();
            for &e in &c.usable {
                if let Some((t, h)) = g.graph.edge_endpoints(e) {
                    let w = g.unit_cost(e, k) + g.resource_use(t, k) * prices[t.index()];
                    into.entry(h).or_default().push((t, w));
                }
            }
            let mut pi: Vec<Option<f64>> = vec![None; g.graph.node_count()];
            let mut heap = BinaryHeap::new();
            pi[c.sink.index()] = Some(0.0);
            heap.push(Reverse((TotalOrder(0.0), c.sink.index())));
            while let Some(Reverse((TotalOrder(d), n))) = heap.pop() {
                if pi[n].is_some_and(|best| d > best) {
                    continue;
                }
                for &(t, w) in into.get(&NodeIndex::new(n)).map_or(&[][..], |v| v) {
                    let cand = d + w;
                    if pi[t.index()].is_none_or(|old| cand < old) {
                        pi[t.index()] = Some(cand);
                        heap.push(Reverse((TotalOrder(cand), t.index())));
                    }
                }
            }
            pi
        })
        .collect()
}

/// Settles at competitive prices from P3's exact duals (design §4, §6): P3 is solved
/// at the declared bids with its explicit dual LP ([`lp::max_welfare`] with
/// `prices`), giving y_n per resource unit; each job of k handed to node n is paid
/// π^k_n ([`job_prices`]). A bandwidth node's rent y_n·(jobs on the link) is paid by
/// the link's sender to the market: the congestion rent is the market's surplus.
///
/// Guarantees, **with the `lp` allocation and truthful bids**, up to the solver's
/// round-off: individual rationality (a user keeps its dual surplus, a broker its
/// rent y_b per job, a provider r_k·y_p per job over its cost: all ≥ 0); surplus ≥ 0
/// (the bandwidth rents); the prices clear the market (every participant would
/// choose its allocated amounts at these prices). Where P3 is degenerate the prices
/// are one optimal dual vertex among several.
///
/// Does **not** guarantee truthfulness: prices move with the bids, so a provider or
/// user at a binding resource can shift them in its favour (the property tests find
/// such misreports). With any other allocation it still settles at P3's prices but
/// says so: they do not clear that allocation, and participants may lose money.
pub fn lp_prices(
    s: &Setting<'_>,
    allocation: &Allocation,
    options: &SettleOptions,
) -> Result<Statement, SettleError> {
    let g = &s.g_declared;
    let sol = lp::max_welfare(
        g,
        &LpOptions {
            backend: options.backend,
            prices: true,
        },
    )
    .map_err(|source| SettleError::Lp {
        context: super::error::LpContext::LpPrices,
        source,
    })?;
    let y = sol.prices.clone().ok_or(SettleError::NoFlow)?;
    let mut notes = Vec::new();
    if allocation.source != AllocationSource::Lp {
        notes.push(format!(
            "these are P3's competitive prices; they do not clear the '{}' allocation (it is not P3's optimum), so participants may lose money at them",
            allocation.source.name()
        ));
    }
    if let Some(gap) = sol.duality_gap {
        notes.push(format!(
            "P3 dual solved exactly by {}: |primal - dual| = {gap:.3e}",
            sol.backend
        ));
    }
    Ok(settle_at_prices(s, allocation, &y, &LpPrices, notes))
}

/// Settles `allocation` at node prices `y` (money per resource unit, by G′ node
/// index): each job of k handed to node n is paid π^k_n ([`job_prices`]), and a
/// bandwidth node's rent y_n·(jobs on the link) is paid by the link's sender to the
/// market. The one price rule shared by `lp-prices` (y = P3's duals) and
/// `engine-prices` (y = the welfare-seeking engine's own prices).
pub fn settle_at_prices(
    s: &Setting<'_>,
    allocation: &Allocation,
    y: &[f64],
    mechanism: &'static dyn Mechanism,
    mut notes: Vec<String>,
) -> Statement {
    let g = &s.g_declared;
    let pi = job_prices(g, y);
    let mut t = Transfers::zero(s.who.len());
    let mut rents = 0.0;
    for (k, pi_k) in pi.iter().enumerate() {
        for &(first, second) in &g.link_edges {
            let a = allocation.flow.get(g, k, first);
            if a <= 0.0 {
                continue;
            }
            let Some((u, mid)) = g.graph.edge_endpoints(first) else {
                continue;
            };
            let v = match second.and_then(|e| g.graph.edge_endpoints(e)) {
                Some((_, v)) => v,
                None => mid,
            };
            let price_v = pi_k[v.index()].unwrap_or(0.0);
            let sender = s.who.of_node(g, u);
            t.pay(sender, s.who.of_node(g, v), a * price_v);
            if second.is_some() {
                // The bandwidth node's rent: r = 1 per job.
                t.pay(sender, None, a * y[mid.index()]);
                rents += a * y[mid.index()];
            }
        }
    }
    if rents > 0.0 {
        notes.push(format!(
            "the surplus is the congestion rent of scarce links ({rents:.6} in all: each sender pays the link's price per job on it); it belongs to whoever owns the links' bandwidth, who is not a participant of this statement"
        ));
    }
    s.statement(
        mechanism,
        &allocation.source,
        allocation.flow.clone(),
        &t,
        notes,
    )
}

super::mechanism::declare_mechanism! {
    LpPrices = "lp-prices" by lp_prices, solves_lp: true;
    "Competitive prices from P3's exact duals: IR and surplus >= 0 at `lp`, not truthful.";
    super::Promises::on(super::Allocations::AnyPromisedAtOptimum).individually_rational(&Role::ALL).budget(super::BudgetBalance::Weak);
    |s, allocation, options| lp_prices(s, allocation, options)
}
