//! `posted`: settlement at the market file's posted prices (design §2, §6; [MCF-Grid]
//! §4.1).

use brokerflow_graphs::{Flow, NodeKind};

use super::{Allocation, Mechanism, Setting, SettleError, Statement, Transfers};

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
            let Some(to) = g.node_named(&link.to) else {
                continue;
            };
            let table = match g.node(to).kind {
                NodeKind::Broker(_) => &prices.broker,
                NodeKind::Provider(_) => &prices.provider,
                _ => continue,
            };
            let price = table
                .get(&link.to)
                .and_then(|m| m.get(&c.id))
                .copied()
                .ok_or_else(|| SettleError::MissingPostedPrice {
                    node: link.to.clone(),
                    user: c.id.clone(),
                    amount: a,
                })?;
            let from = g.node_named(&link.from).and_then(|n| s.who.of_node(g, n));
            t.pay(from, s.who.of_node(g, to), a * price);
        }
    }
    let trades: Flow = allocation.flow.clone();
    Ok(s.statement(
        Mechanism::Posted,
        &allocation.source,
        trades,
        &t,
        Vec::new(),
    ))
}
