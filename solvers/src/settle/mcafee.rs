//! `mcafee`: McAfee's (1992) trade-reduction double auction, one per broker market,
//! for divisible quantities (design §6; [Dist-Auctioneer] §V-B1, which runs a truthful,
//! budget-balanced double auction and allocates by water-filling).

use std::collections::BTreeMap;

use brokerflow_graphs::{ExpandedGraph, Flow, NodeKind, Role};
use petgraph::graph::NodeIndex;

use super::{
    add_flow, decompose, delivery_edge, reach_costs, sell_links, Allocation, SellLink, Setting,
    SettleError, SettleOptions, Statement, Transfers,
};
use crate::lp::{solve_lp, Cmp, Domain, LinearProgram, Sense};

/// One trader's entry in a broker market's book.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// User index (buyers) or provider node index (sellers).
    pub who: usize,
    /// Bid (buyers) or ask (sellers) per resource unit.
    pub price: f64,
}

/// The outcome of McAfee's rule on one book.
#[derive(Debug, Clone, PartialEq)]
pub struct Clearing {
    /// Buyers that trade.
    pub buyers: Vec<usize>,
    /// Sellers that trade.
    pub sellers: Vec<usize>,
    /// Price per unit every trading buyer pays.
    pub buyer_price: f64,
    /// Price per unit every trading seller receives.
    pub seller_price: f64,
    /// Whether the trade-reduction branch was taken (else everyone trades at p0).
    pub reduced: bool,
}

/// McAfee's (1992) rule on a book ([Dist-Auctioneer] §V-B1's double auction): `buyers` and
/// `sellers` are the traders of the possible trades, `next_buyer` and `next_seller`
/// the best bid and ask among those that cannot trade (McAfee's b_{k+1}, s_{k+1}).
///
/// Sort bids b_(1) ≤ b_(2) ≤ … (lowest first) and asks s_(1) ≥ s_(2) ≥ … (highest
/// first). If both next bids exist, p0 = (b_{k+1} + s_{k+1}) / 2 and
/// s_(1) ≤ p0 ≤ b_(1), everybody trades at p0 (exact budget balance). Otherwise the
/// trade reduction: drop the lowest buyer and the highest seller — and, should that
/// buyer's bid be below that seller's ask, the next pair too, until the dropped pair
/// has b ≥ s; the rest trade, buyers paying the last dropped bid, sellers receiving
/// the last dropped ask. With one unit per trader and the efficient k traders this
/// is exactly McAfee's mechanism (one pair dropped). Ties break by trader index.
pub fn clear(
    buyers: &[Entry],
    sellers: &[Entry],
    next_buyer: Option<f64>,
    next_seller: Option<f64>,
) -> Clearing {
    let mut b = buyers.to_vec();
    let mut s = sellers.to_vec();
    b.sort_by(|x, y| x.price.total_cmp(&y.price).then(y.who.cmp(&x.who)));
    s.sort_by(|x, y| y.price.total_cmp(&x.price).then(y.who.cmp(&x.who)));
    let none = Clearing {
        buyers: Vec::new(),
        sellers: Vec::new(),
        buyer_price: 0.0,
        seller_price: 0.0,
        reduced: true,
    };
    if b.is_empty() || s.is_empty() {
        return none;
    }
    if let (Some(nb), Some(ns)) = (next_buyer, next_seller) {
        let p0 = (nb + ns) / 2.0;
        if s[0].price <= p0 && p0 <= b[0].price {
            return Clearing {
                buyers: b.iter().map(|e| e.who).collect(),
                sellers: s.iter().map(|e| e.who).collect(),
                buyer_price: p0,
                seller_price: p0,
                reduced: false,
            };
        }
    }
    for i in 0..b.len().min(s.len()) {
        if b[i].price >= s[i].price {
            return Clearing {
                buyers: b[i + 1..].iter().map(|e| e.who).collect(),
                sellers: s[i + 1..].iter().map(|e| e.who).collect(),
                buyer_price: b[i].price,
                seller_price: s[i].price,
                reduced: true,
            };
        }
    }
    none
}

/// McAfee's trade-reduction double auction per broker market, for divisible
/// quantities (design §6; [Dist-Auctioneer] §V-B1).
///
/// **The books.** The allocation is split into paths; a path belongs to the broker
/// market of its last broker b (the one that sells to the provider). In market b:
/// * buyers are the users it serves: quantity q_k = k's jobs in market b, bid per
///   resource unit β_k = (v̂_k − τ_k)/r_k, where τ_k is the per-job transport (link
///   and broker costs) k is charged: the average upstream cost of its allocated
///   paths into b (upstream flows are only ever scaled, so the average holds for
///   any traded amount) plus the dearest sell link of b k may use (a flat charge, so
///   that a buyer's value per unit does not depend on where the re-matching sends
///   it; what exceeds the link actually used goes to the market);
/// * sellers are the providers it reaches: supply u_p = the resource units p runs
///   in market b, ask = declared c_p per resource unit;
/// * McAfee's next bids come from those that could reach market b but have no
///   volume there (users priced with their cheapest transport, providers linked
///   from b).
///
/// **The trades.** [`clear`] picks who trades and the two prices. The kept buyers'
/// jobs are then re-matched to the kept sellers over b's sell links by a small LP
/// that maximises jobs traded (capacities: q_k, u_p, link bandwidths; nothing in
/// it depends on a bid), and their upstream paths are scaled to the traded
/// amounts, so the result is a feasible sub-flow of the allocation's.
///
/// **Money.** A buyer pays the market price per resource unit, reimburses every
/// broker's declared per-job cost (own cost and sent-on links) along its jobs'
/// paths, and pays the market the flat sell-link charge's excess over the link used; a seller receives its price per resource unit; brokers, the
/// auctioneers, end with utility 0 when they declare true costs.
///
/// Guarantees: **truthful** for users and providers for a fixed allocation (a
/// trader's bid only decides whether it trades; its prices are set by others);
/// **individual rationality** for truthful users and providers; **budget balance**:
/// surplus = Σ (buyer price − seller price)·units + the sell-link excess ≥ 0 (no
/// price gap in the p0 case);
/// gives up at most the trades of one buyer and one seller per market when the
/// dropped pair is ordered (b ≥ s) as in McAfee.
///
/// Does **not** guarantee: efficiency (trades are dropped); truthfulness for brokers
/// (they are the auctioneers); truthfulness when the allocation itself is computed
/// from the same bids (`lp`): a bid that changes P3's allocation changes the books.
pub fn mcafee(
    s: &Setting<'_>,
    allocation: &Allocation,
    options: &SettleOptions,
) -> Result<Statement, SettleError> {
    let g = &s.g_declared;
    let paths = decompose(g, &allocation.flow, 1e-12);
    let links = sell_links(g);
    // Per market: buyer quantities, seller units, path indices.
    let mut books: BTreeMap<NodeIndex, Book> = BTreeMap::new();
    for (i, p) in paths.iter().enumerate() {
        let book = books.entry(p.market).or_default();
        *book.quantity.entry(p.commodity).or_default() += p.amount;
        *book.units.entry(p.provider).or_default() +=
            p.amount * g.commodities[p.commodity].requirement;
        book.paths.push(i);
    }
    let shortest: Vec<Vec<Option<f64>>> = (0..g.commodities.len())
        .map(|k| reach_costs(g, k, &g.commodities[k].usable, false))
        .collect();
    let mut trades = Flow::zero(g);
    let mut t = Transfers::zero(s.who.len());
    let mut notes = Vec::new();
    for (&b, book) in &books {
        let b_links: Vec<&SellLink> = links.iter().filter(|l| l.broker == b).collect();
        let usable_links = |k: usize| {
            b_links
                .iter()
                .copied()
                .filter(move |l| {
                    let c = &g.commodities[k];
                    c.can_use(l.first) && delivery_edge(g, k, l.provider).is_some()
                })
                .map(move |l| g.unit_cost(l.first, k))
        };
        let bid = |k: usize, transport: f64| {
            let c = &g.commodities[k];
            (c.valuation - transport) / c.requirement
        };
        // Flat sell-link charge per buyer: the dearest link of b it may use.
        let mut flat: BTreeMap<usize, f64> = BTreeMap::new();
        let buyers: Vec<Entry> = book
            .quantity
            .iter()
            .filter_map(|(&k, &q)| {
                let up = book
                    .paths
                    .iter()
                    .map(|&i| &paths[i])
                    .filter(|p| p.commodity == k)
                    .map(|p| {
                        p.amount
                            * p.edges[..p.upstream]
                                .iter()
                                .map(|&e| g.unit_cost(e, k))
                                .sum::<f64>()
                    })
                    .sum::<f64>()
                    / q;
                let sell = usable_links(k)
                    .fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.max(c))))?;
                flat.insert(k, sell);
                Some(Entry {
                    who: k,
                    price: bid(k, up + sell),
                })
            })
            .collect();
        let next_buyer = (0..g.commodities.len())
            .filter(|k| !book.quantity.contains_key(k) && g.commodities[*k].demand > 0.0)
            .filter_map(|k| {
                let up = shortest[k][b.index()]?;
                let sell = usable_links(k)
                    .fold(None, |m: Option<f64>, c| Some(m.map_or(c, |m| m.min(c))))?;
                Some(bid(k, up + sell))
            })
            .max_by(f64::total_cmp);
        let ask = |p: NodeIndex| g.node(p).cost;
        let sellers: Vec<Entry> = book
            .units
            .keys()
            .map(|&p| Entry {
                who: p.index(),
                price: ask(p),
            })
            .collect();
        let next_seller = b_links
            .iter()
            .filter(|l| !book.units.contains_key(&l.provider))
            .filter(|l| g.node(l.provider).capacity.is_none_or(|c| c > 0.0))
            .map(|l| ask(l.provider))
            .min_by(f64::total_cmp);
        let clearing = clear(&buyers, &sellers, next_buyer, next_seller);
        if clearing.buyers.is_empty() || clearing.sellers.is_empty() {
            notes.push(format!(
                "market {}: no trade survives the trade reduction",
                g.node(b).name
            ));
            continue;
        }
        let kept_sellers: Vec<NodeIndex> = clearing
            .sellers
            .iter()
            .map(|&p| NodeIndex::new(p))
            .collect();
        let matched = rematch(g, book, &b_links, &clearing.buyers, &kept_sellers, options)?;
        for &k in &clearing.buyers {
            let r = g.commodities[k].requirement;
            let traded: f64 = matched.iter().filter(|m| m.0 == k).map(|m| m.2).sum();
            if traded <= 0.0 {
                continue;
            }
            let scale = (traded / book.quantity[&k]).min(1.0);
            for &pi in &book.paths {
                let path = &paths[pi];
                if path.commodity != k {
                    continue;
                }
                for &e in &path.edges[..path.upstream] {
                    let a = scale * path.amount;
                    add_flow(g, &mut trades, k, e, a);
                    reimburse(s, g, &mut t, k, e, a);
                }
            }
            t.pay(Some(k), None, clearing.buyer_price * r * traded);
        }
        for &(k, l, x) in &matched {
            let link = b_links[l];
            let r = g.commodities[k].requirement;
            add_flow(g, &mut trades, k, link.first, x);
            if let Some(e2) = link.second {
                add_flow(g, &mut trades, k, e2, x);
            }
            if let Some(d) = delivery_edge(g, k, link.provider) {
                add_flow(g, &mut trades, k, d, x);
            }
            reimburse(s, g, &mut t, k, link.first, x);
            let excess = flat.get(&k).copied().unwrap_or(0.0) - g.unit_cost(link.first, k);
            t.pay(Some(k), None, excess.max(0.0) * x);
            t.pay(
                None,
                s.who.of_node(g, link.provider),
                clearing.seller_price * r * x,
            );
        }
        notes.push(format!(
            "market {}: {} buyers, {} sellers trade; buyers pay {:.6}, sellers get {:.6} per resource unit ({})",
            g.node(b).name,
            clearing.buyers.len(),
            clearing.sellers.len(),
            clearing.buyer_price,
            clearing.seller_price,
            if clearing.reduced { "trade reduction" } else { "everyone at p0" }
        ));
    }
    Ok(s.statement(&Mcafee, &allocation.source, trades, &t, notes))
}

/// A broker market's book: what the allocation trades in it.
#[derive(Debug, Default)]
struct Book {
    /// Buyer (user index) → jobs.
    quantity: BTreeMap<usize, f64>,
    /// Seller (provider node) → resource units.
    units: BTreeMap<NodeIndex, f64>,
    /// Indices of the paths in this market.
    paths: Vec<usize>,
}

/// The buyer of a job on edge e reimburses the sending broker its declared cost.
fn reimburse(
    s: &Setting<'_>,
    g: &ExpandedGraph,
    t: &mut Transfers,
    k: usize,
    e: petgraph::graph::EdgeIndex,
    amount: f64,
) {
    let Some((tail, _)) = g.graph.edge_endpoints(e) else {
        return;
    };
    if matches!(g.node(tail).kind, NodeKind::Broker(_)) {
        t.pay(Some(k), s.who.of_node(g, tail), g.unit_cost(e, k) * amount);
    }
}

/// Re-matches kept buyers to kept sellers over the market's sell links: max Σ x
/// s.t. Σ_l x_kl ≤ q_k, Σ_k r_k·x_kl (over p's links) ≤ u_p, Σ_k x_kl ≤ B_l.
/// Returns (buyer, index into `b_links`, jobs).
fn rematch(
    g: &ExpandedGraph,
    book: &Book,
    b_links: &[&SellLink],
    buyers: &[usize],
    sellers: &[NodeIndex],
    options: &SettleOptions,
) -> Result<Vec<(usize, usize, f64)>, SettleError> {
    let mut lp = LinearProgram::new(Sense::Maximise);
    let mut vars = Vec::new();
    for &k in buyers {
        for (l, link) in b_links.iter().enumerate() {
            let c = &g.commodities[k];
            let ok = sellers.contains(&link.provider)
                && c.can_use(link.first)
                && link.second.is_none_or(|e| c.can_use(e))
                && delivery_edge(g, k, link.provider).is_some();
            if ok {
                let j = lp.add_variable(format!("x_{k}_{l}"), Domain::NonNegative, 1.0);
                vars.push((k, l, j));
            }
        }
    }
    if vars.is_empty() {
        return Ok(Vec::new());
    }
    for &k in buyers {
        let terms: Vec<(usize, f64)> = vars
            .iter()
            .filter(|v| v.0 == k)
            .map(|v| (v.2, 1.0))
            .collect();
        lp.add_row(format!("q_{k}"), terms, Cmp::Le, book.quantity[&k]);
    }
    for &p in sellers {
        let terms: Vec<(usize, f64)> = vars
            .iter()
            .filter(|v| b_links[v.1].provider == p)
            .map(|v| (v.2, g.commodities[v.0].requirement))
            .collect();
        let units = book.units.get(&p).copied().unwrap_or(0.0);
        lp.add_row(format!("u_{}", p.index()), terms, Cmp::Le, units);
    }
    for (l, link) in b_links.iter().enumerate() {
        let Some(bw) = link.second.and_then(|e| {
            g.graph
                .edge_endpoints(e)
                .and_then(|(n, _)| g.node(n).capacity)
        }) else {
            continue;
        };
        let terms: Vec<(usize, f64)> = vars
            .iter()
            .filter(|v| v.1 == l)
            .map(|v| (v.2, 1.0))
            .collect();
        if !terms.is_empty() {
            lp.add_row(format!("bw_{l}"), terms, Cmp::Le, bw);
        }
    }
    let x = solve_lp(&lp, options.backend).map_err(|source| SettleError::Lp {
        context: super::error::LpContext::McafeeRematch,
        source,
    })?;
    Ok(vars
        .iter()
        .filter_map(|&(k, l, j)| {
            let v = x.get(j).copied().unwrap_or(0.0);
            (v > 1e-12).then_some((k, l, v))
        })
        .collect())
}

super::mechanism::declare_mechanism! {
    Mcafee = "mcafee" by mcafee;
    "McAfee's trade-reduction double auction per broker market: truthful (for a fixed allocation), IR, surplus >= 0; drops trades.";
    super::Promises::on(super::Allocations::Any).individually_rational(&Role::ALL).budget(super::BudgetBalance::Weak).truthful_for(&[Role::User, Role::Provider]);
    |s, allocation, options| mcafee(s, allocation, options)
}
