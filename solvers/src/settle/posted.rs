//! `posted`: settlement at the market file's posted prices (design §2, §6; [MCF-Grid]
//! §4.1).

use brokerflow_graphs::{ExpandedGraph, Flow, Market, NodeKind, Prices};
use petgraph::graph::NodeIndex;

use super::{Allocation, Setting, SettleError, Statement, Transfers};

/// Settles at posted prices: whoever sends a job of user k to broker or provider n
/// pays n its posted price π^k_n ([MCF-Grid] §4.1, design §2); a broker forwarding to a
/// linked broker pays that broker's price as it would a provider's. The senders
/// also bear their link costs, which are part of their value, not a transfer.
///
/// Arguments: the setting and any allocation (its trades are all kept).
///
/// Guarantees:
/// * **budget balance, exactly**: every payment goes from one participant to
///   another, so the surplus is 0 (up to floating-point summation order);
/// * works with any allocation (`lp` or an engine run).
///
/// Does **not** guarantee:
/// * individual rationality: the allocation (P3 at declared values) ignores the
///   prices, so a user served below its price, or a broker forwarding on a dearer
///   hop than its price covers, loses money;
/// * truthfulness: a user whose value is below its price gains by under-reporting
///   until P3 drops it, and one rationed by a capacity gains by over-reporting to
///   be served more at a profitable price (the property tests find both).
///
/// Errors: [`SettleError::NoPostedPrices`] without a `prices` table;
/// [`SettleError::MissingPostedPrice`] when the allocation sends a user's jobs to a
/// node that posts no price for that user.
pub fn posted(s: &Setting<'_>, allocation: &Allocation) -> Result<Statement, SettleError> {
    let prices = s.truth.prices.as_ref().ok_or(SettleError::NoPostedPrices)?;
    let g = &s.g_declared;
    let mut t = Transfers::zero(s.who.len());
    for (k, c) in g.commodities.iter().enumerate() {
        for (l, link) in s.truth.links.iter().enumerate() {
            let (first, _) = g.link_edges[l];
            let a = allocation.flow.get(g, k, first);
            if a <= 0.0 {
                continue;
            }
            let Some((to, price)) = posted_price(prices, g, &link.to, &c.id) else {
                continue;
            };
            let price = price.ok_or_else(|| SettleError::MissingPostedPrice {
                node: link.to.clone(),
                user: c.id.clone(),
                amount: a,
            })?;
            let from = g.node_named(&link.from).and_then(|n| s.who.of_node(g, n));
            t.pay(from, s.who.of_node(g, to), a * price);
        }
    }
    let trades: Flow = allocation.flow.clone();
    Ok(s.statement(&Posted, &allocation.source, trades, &t, Vec::new()))
}

/// Checks, before any allocation is computed, that the market's posted prices cover
/// every (broker or provider, user) pair the user's jobs can reach over a usable edge
/// of G′ — the pairs at which [`posted`] may need a price.
///
/// Errors: [`SettleError::NoPostedPrices`] without a `prices` table;
/// [`SettleError::IncompletePostedPrices`] naming the first pair without a price
/// (by user, then by G′ edge).
pub fn check_posted_prices(market: &Market, g: &ExpandedGraph) -> Result<(), SettleError> {
    let prices = market.prices.as_ref().ok_or(SettleError::NoPostedPrices)?;
    let pairs = g.pairs();
    let mut missing: Vec<(String, String)> = Vec::new();
    // Over each user's usable pairs only (not users × links): every broker or
    // provider its jobs can be handed to is the head of one of them.
    for (k, c) in g.commodities.iter().enumerate() {
        for pair in pairs.range(k) {
            let to = &g.node(pairs.head(pair)).name;
            if let Some((_, None)) = posted_price(prices, g, to, &c.id) {
                missing.push((to.clone(), c.id.clone()));
            }
        }
    }
    match missing.first() {
        None => Ok(()),
        Some((node, user)) => Err(SettleError::IncompletePostedPrices {
            node: node.clone(),
            user: user.clone(),
            more: missing.len() - 1,
        }),
    }
}

/// The node a link leads to and its posted price for `user`'s jobs (`None` inside when
/// it posts none); `None` when the link leads to no broker or provider, where no price
/// is paid.
fn posted_price(
    prices: &Prices,
    g: &ExpandedGraph,
    to: &str,
    user: &str,
) -> Option<(NodeIndex, Option<f64>)> {
    let n = g.node_named(to)?;
    let table = match g.node(n).kind {
        NodeKind::Broker(_) => &prices.broker,
        NodeKind::Provider(_) => &prices.provider,
        _ => return None,
    };
    Some((n, table.get(to).and_then(|m| m.get(user)).copied()))
}

super::mechanism::declare_mechanism! {
    Posted = "posted" by posted;
    "The market file's posted prices: budget-balanced, neither IR nor truthful.";
    super::Promises::on(super::Allocations::Any).budget(super::BudgetBalance::Strong);
    check_market: check_posted_prices;
    |s, allocation, _options| posted(s, allocation)
}
