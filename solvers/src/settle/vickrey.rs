//! `vickrey`: NOMAD's sealed-bid second-price procurement (seed 001 §2.2–2.4, DESIGN
//! §6), one auction per lot, with entirety bids.

use std::collections::BTreeMap;

use brokerflow_graphs::{Flow, NodeKind};
use petgraph::graph::NodeIndex;

use super::{
    add_flow, decompose, delivery_edge, sell_links, Allocation, Mechanism, Setting, SettleError,
    Statement, Transfers,
};

/// One lot's sealed-bid second-price (Vickrey) procurement auction: `scores` are the
/// bidders' (index, score) where a lower score is a better offer, `reserve` the most
/// the buyer accepts. The lowest score wins (ties by index) if it is within the
/// reserve; the winner is paid min(second-lowest score, reserve) — the reserve alone
/// if there is no second bidder. Returns (winner, the score it is paid), or `None`
/// if nobody is within the reserve.
pub fn second_price(scores: &[(usize, f64)], reserve: f64) -> Option<(usize, f64)> {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let &(winner, best) = s.first()?;
    if best > reserve {
        return None;
    }
    let paid = s.get(1).map_or(reserve, |&(_, second)| second.min(reserve));
    Some((winner, paid))
}

/// Sealed-bid second-price procurement per lot with entirety bids (seed 001: "the
/// winning bid then pays the amount of the second"; "an entirety bid is a bid for
/// all the lots"; a depot "makes either just a single lot bid or an entirety bid
/// for each auction, and waits on the outcome of that auction before bidding
/// again").
///
/// **Lots.** The allocation is split into paths; user k's jobs in broker market b
/// (paths whose last broker is b) form one lot of q jobs, r_k·q resource units. A
/// lot is bought entire: every bid is an entirety bid for the whole lot, and one
/// provider runs all of it (NOMAD's "a depot bidding on this lot is expected to
/// provide all resources specified").
///
/// **Auction.** The user is the auctioneer. Bidders: providers that b links to,
/// eligible for k, with enough *remaining* capacity (and remaining bandwidth on the
/// link b→p) for the whole lot. Score = declared c_p·r_k·q + q·(the link's cost plus
/// c_b) — the provider's ask plus the public transport it implies. Reserve = v̂_k·q −
/// the upstream transport of the lot (what the lot is worth to the user). The lowest
/// score wins and is paid the second-lowest score (capped by the reserve) minus its
/// own transport; the user also reimburses the brokers' declared costs along the
/// lot's path. Lots are auctioned one at a time in a fixed order that no bid
/// affects (broker, then user), and each win uses up capacity: NOMAD's "wait on the
/// outcome before bidding again".
///
/// Guarantees: **individual rationality** for truthful users and providers;
/// **budget balance, exactly** (the user pays the winner directly: surplus 0);
/// **truthfulness for providers within each lot's auction** (second price), hence
/// overall whenever no provider's capacity or sell-link bandwidth couples the lots
/// (e.g. unlimited providers); a feasible flow (a sub-flow of the allocation's
/// upstream part, capacities respected downstream).
///
/// Does **not** guarantee: truthfulness for users (the reserve is the user's bid:
/// with one bidder the user pays its own bid, so under-bidding pays); truthfulness
/// for a provider whose capacity couples lots (it may lose an early lot on purpose
/// to keep capacity for a dearer one — the property tests count how often);
/// efficiency (a lot that no single provider can take entire stays unsold). Bids on
/// bundles of several lots are not offered: under DESIGN §2's linear costs a
/// provider's entirety bid for a bundle equals the sum of its single-lot bids, so it
/// never beats the single-lot auctions.
pub fn vickrey(s: &Setting<'_>, allocation: &Allocation) -> Result<Statement, SettleError> {
    let g = &s.g_declared;
    let paths = decompose(g, &allocation.flow, 1e-12);
    let links = sell_links(g);
    // Lots in a fixed order: (market broker, user) → path indices and jobs.
    let mut lots: BTreeMap<(NodeIndex, usize), (f64, Vec<usize>)> = BTreeMap::new();
    for (i, p) in paths.iter().enumerate() {
        let lot = lots.entry((p.market, p.commodity)).or_default();
        lot.0 += p.amount;
        lot.1.push(i);
    }
    let mut capacity: Vec<Option<f64>> = g.graph.node_weights().map(|n| n.capacity).collect();
    let mut trades = Flow::zero(g);
    let mut t = Transfers::zero(s.who.len());
    let mut notes = Vec::new();
    let mut unsold = 0usize;
    for (&(b, k), (q, lot_paths)) in &lots {
        let q = *q;
        let c = &g.commodities[k];
        let units = c.requirement * q;
        let fits =
            |cap: Option<f64>, need: f64| cap.is_none_or(|cap| cap >= need - 1e-9 * need.max(1.0));
        let upstream: f64 = lot_paths
            .iter()
            .map(|&i| {
                let p = &paths[i];
                p.amount
                    * p.edges[..p.upstream]
                        .iter()
                        .map(|&e| g.unit_cost(e, k))
                        .sum::<f64>()
            })
            .sum();
        let reserve = c.valuation * q - upstream;
        let bidders: Vec<(usize, f64)> = links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.broker == b)
            .filter(|(_, l)| {
                c.can_use(l.first)
                    && l.second.is_none_or(|e| c.can_use(e))
                    && delivery_edge(g, k, l.provider).is_some()
                    && fits(capacity[l.provider.index()], units)
                    && l.second.is_none_or(|e| {
                        g.graph
                            .edge_endpoints(e)
                            .is_some_and(|(n, _)| fits(capacity[n.index()], q))
                    })
            })
            .map(|(i, l)| {
                let score = g.node(l.provider).cost * units + q * g.unit_cost(l.first, k);
                (i, score)
            })
            .collect();
        let Some((w, paid_score)) = second_price(&bidders, reserve) else {
            unsold += 1;
            continue;
        };
        let link = links[w];
        let transport = q * g.unit_cost(link.first, k);
        // Upstream part of the lot, as allocated.
        for &i in lot_paths {
            let p = &paths[i];
            for &e in &p.edges[..p.upstream] {
                add_flow(g, &mut trades, k, e, p.amount);
                reimburse(s, &mut t, k, e, p.amount);
            }
        }
        add_flow(g, &mut trades, k, link.first, q);
        if let Some(e2) = link.second {
            add_flow(g, &mut trades, k, e2, q);
            if let Some((n, _)) = g.graph.edge_endpoints(e2) {
                if let Some(cap) = &mut capacity[n.index()] {
                    *cap -= q;
                }
            }
        }
        if let Some(d) = delivery_edge(g, k, link.provider) {
            add_flow(g, &mut trades, k, d, q);
        }
        if let Some(cap) = &mut capacity[link.provider.index()] {
            *cap -= units;
        }
        reimburse(s, &mut t, k, link.first, q);
        t.pay(
            Some(k),
            s.who.of_node(g, link.provider),
            paid_score - transport,
        );
    }
    notes.push(format!(
        "{} lots auctioned, {} sold, {unsold} unsold (no single provider could take the whole lot within the reserve)",
        lots.len(),
        lots.len() - unsold
    ));
    Ok(s.statement(Mechanism::Vickrey, &allocation.source, trades, &t, notes))
}

/// The user reimburses the sending broker its declared per-job cost on edge e.
fn reimburse(s: &Setting<'_>, t: &mut Transfers, k: usize, e: petgraph::graph::EdgeIndex, a: f64) {
    let g = &s.g_declared;
    let Some((tail, _)) = g.graph.edge_endpoints(e) else {
        return;
    };
    if matches!(g.node(tail).kind, NodeKind::Broker(_)) {
        t.pay(Some(k), s.who.of_node(g, tail), g.unit_cost(e, k) * a);
    }
}
