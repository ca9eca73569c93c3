//! `vickrey`: NOMAD's sealed-bid second-price procurement (\[NOMAD\] §2.2–2.4, design
//! §6): one auction per user, whose lots are the user's jobs in each broker market,
//! with single-lot bids and entirety bids, settled by the generalised Vickrey rule.

use std::collections::BTreeMap;

use brokerflow_graphs::{Flow, NodeKind, Role};
use petgraph::graph::NodeIndex;

use super::{
    add_flow, decompose, delivery_edge, reimburse_broker as reimburse, sell_links, Allocation,
    Setting, SettleError, Statement, Transfers,
};

/// One lot's sealed-bid second-price (Vickrey) procurement auction (\[NOMAD\] §2.1:
/// "the winning bid then pays the amount of the second"): `scores` are the
/// bidders' (index, score) where a lower score is a better offer, `reserve` the most
/// the buyer accepts. The lowest score wins (ties by index) if it is within the
/// reserve; the winner is paid min(second-lowest score, reserve) — the reserve alone
/// if there is no second bidder. Returns (winner, the score it is paid), or `None`
/// if nobody is within the reserve. This is what [`Auction::run`] does for one lot
/// without entirety bids and without a capacity that binds.
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

/// One lot of a user's auction (\[NOMAD\] §2.2: "a lot is an individual set of goods
/// in an auction, which are bid on as a unit").
#[derive(Debug, Clone, PartialEq)]
pub struct Lot {
    /// The most the auctioneer accepts to pay for this lot (its declared worth).
    pub reserve: f64,
    /// Resource units a bidder needs to run the whole lot (counted against
    /// [`Auction::capacity`]).
    pub size: f64,
    /// Single-lot bids (bidder, score), lower is better; at most one per bidder.
    /// Ties go to the earlier entry.
    pub bids: Vec<(usize, f64)>,
}

/// One sealed-bid procurement auction with entirety bids (\[NOMAD\] §2.2), in the
/// abstract: lots, single-lot bids on each, entirety bids on all of them, and the
/// bidders' remaining capacities.
///
/// A *cover* is what the auctioneer buys: either each lot to at most one of its
/// single-lot bidders (a lot may stay unsold), with no bidder given more lots than
/// its capacity holds, or all lots to one entirety bidder. Its surplus is Σ over
/// the lots bought of (reserve − score), resp. Σ reserves − the entirety score.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Auction {
    /// The lots, in the fixed order of the search (ties go to earlier lots' bids).
    pub lots: Vec<Lot>,
    /// Entirety bids (bidder, score for all lots together); ties go to the earlier
    /// entry. The caller admits only bidders able to take every lot together.
    pub entirety: Vec<(usize, f64)>,
    /// Remaining capacity (resource units) of bidders whose capacity is limited;
    /// absent bidders are unlimited.
    pub capacity: BTreeMap<usize, f64>,
}

/// What an [`Auction`] buys.
#[derive(Debug, Clone, PartialEq)]
pub enum Cover {
    /// Lot i goes to bidder `winners[i]` (`None`: unsold).
    Lots(Vec<Option<usize>>),
    /// All lots go to this entirety bidder.
    Entirety(usize),
}

/// The result of an [`Auction`]: the best cover and what each winner is paid.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The cover bought.
    pub cover: Cover,
    /// Its surplus S* (Σ reserves of the lots bought − Σ winning scores).
    pub surplus: f64,
    /// Winner → the score it is paid: its own winning score(s) + S* − S*₋ᵢ, where
    /// S*₋ᵢ is the best surplus without any of its bids (the generalised Vickrey
    /// payment, \[NOMAD\] §2.2's GVA for procurement).
    pub paid: BTreeMap<usize, f64>,
    /// Whether every cover search was exhaustive (see [`SEARCH_LIMIT`]).
    pub exact: bool,
}

/// Nodes one cover search may visit before it settles for the best cover found so
/// far (then [`Outcome::exact`] is false and payments are clamped to at least the
/// winning scores, keeping IR). The search is exhaustive with branch and bound; it
/// reaches the limit only when capacities bind across many lots of one user.
pub const SEARCH_LIMIT: usize = 1 << 20;

/// The search state of [`Auction::single_cover`].
struct Search<'a> {
    auction: &'a Auction,
    /// Per lot, indices into its bids, best first (score, then position).
    order: Vec<Vec<usize>>,
    /// bound[i] = Σ_{j ≥ i} max(0, reserve_j − best score_j): capacity ignored.
    bound: Vec<f64>,
    used: BTreeMap<usize, f64>,
    current: Vec<Option<usize>>,
    best: Option<(f64, Vec<Option<usize>>)>,
    eps: f64,
    nodes: usize,
}

impl Search<'_> {
    fn fits(&self, bidder: usize, size: f64) -> bool {
        let used = self.used.get(&bidder).copied().unwrap_or(0.0);
        self.auction.capacity.get(&bidder).is_none_or(|&cap| {
            let need = used + size;
            cap >= need - 1e-9 * need.max(1.0)
        })
    }

    fn visit(&mut self, i: usize, value: f64) {
        self.nodes += 1;
        if let Some((best, _)) = &self.best {
            if value + self.bound[i] <= best + self.eps || self.nodes > SEARCH_LIMIT {
                return;
            }
        }
        let lots = &self.auction.lots;
        if i == lots.len() {
            if self.best.as_ref().is_none_or(|(b, _)| value > b + self.eps) {
                self.best = Some((value, self.current.clone()));
            }
            return;
        }
        let lot = &lots[i];
        for j in 0..self.order[i].len() {
            let (bidder, score) = lot.bids[self.order[i][j]];
            if score > lot.reserve || !self.fits(bidder, lot.size) {
                continue;
            }
            *self.used.entry(bidder).or_insert(0.0) += lot.size;
            self.current[i] = Some(bidder);
            self.visit(i + 1, value + (lot.reserve - score));
            self.current[i] = None;
            *self.used.entry(bidder).or_insert(0.0) -= lot.size;
        }
        self.visit(i + 1, value);
    }
}

impl Auction {
    /// The best single-lot cover without `without`'s bids: (surplus, winners, exact).
    fn single_cover(&self, without: Option<usize>) -> (f64, Vec<Option<usize>>, bool) {
        let n = self.lots.len();
        let mut order = Vec::with_capacity(n);
        let mut bound = vec![0.0; n + 1];
        for lot in &self.lots {
            let mut o: Vec<usize> = (0..lot.bids.len())
                .filter(|&j| Some(lot.bids[j].0) != without)
                .collect();
            o.sort_by(|&a, &b| lot.bids[a].1.total_cmp(&lot.bids[b].1).then(a.cmp(&b)));
            order.push(o);
        }
        for i in (0..n).rev() {
            let lot = &self.lots[i];
            let gain = order[i]
                .first()
                .map_or(0.0, |&j| (lot.reserve - lot.bids[j].1).max(0.0));
            bound[i] = bound[i + 1] + gain;
        }
        let scale = 1.0 + self.lots.iter().map(|l| l.reserve.abs()).sum::<f64>();
        let mut search = Search {
            auction: self,
            order,
            bound,
            used: BTreeMap::new(),
            current: vec![None; n],
            best: None,
            eps: 1e-12 * scale,
            nodes: 0,
        };
        search.visit(0, 0.0);
        let exact = search.nodes <= SEARCH_LIMIT;
        let (surplus, winners) = search.best.unwrap_or((0.0, vec![None; n]));
        (surplus, winners, exact)
    }

    /// The best cover without `without`'s bids (`None`: with everybody): the single-
    /// lot cover unless an entirety bid gives strictly more surplus. Returns (cover,
    /// surplus, exact).
    pub fn best_cover(&self, without: Option<usize>) -> (Cover, f64, bool) {
        let (single, winners, exact) = self.single_cover(without);
        let reserves: f64 = self.lots.iter().map(|l| l.reserve).sum();
        let scale = 1.0 + self.lots.iter().map(|l| l.reserve.abs()).sum::<f64>();
        let entire = self
            .entirety
            .iter()
            .enumerate()
            .filter(|(_, (b, _))| Some(*b) != without)
            .min_by(|(i, a), (j, b)| a.1.total_cmp(&b.1).then(i.cmp(j)))
            .map(|(_, &(b, score))| (b, reserves - score));
        match entire {
            Some((b, surplus)) if !self.lots.is_empty() && surplus > single + 1e-12 * scale => {
                (Cover::Entirety(b), surplus, exact)
            }
            _ => (Cover::Lots(winners), single, exact),
        }
    }

    /// Winner determination and generalised Vickrey payments (\[NOMAD\] §2.2): the
    /// best cover, and each winner paid its own winning score(s) plus what its
    /// presence adds to the best surplus (S* − S*₋ᵢ). With single-lot bids only and
    /// no capacity that binds, every lot is a separate [`second_price`] auction.
    pub fn run(&self) -> Outcome {
        let (cover, surplus, mut exact) = self.best_cover(None);
        let mut won: BTreeMap<usize, f64> = BTreeMap::new();
        match &cover {
            Cover::Entirety(b) => {
                let score = self
                    .entirety
                    .iter()
                    .filter(|(x, _)| x == b)
                    .map(|&(_, s)| s)
                    .fold(f64::INFINITY, f64::min);
                won.insert(*b, score);
            }
            Cover::Lots(winners) => {
                for (lot, w) in self.lots.iter().zip(winners) {
                    if let Some(w) = *w {
                        let score = lot
                            .bids
                            .iter()
                            .find(|(x, _)| *x == w)
                            .map_or(0.0, |&(_, s)| s);
                        *won.entry(w).or_insert(0.0) += score;
                    }
                }
            }
        }
        let mut paid = BTreeMap::new();
        for (&w, &score) in &won {
            let (_, without, e) = self.best_cover(Some(w));
            exact &= e;
            let mut p = score + surplus - without;
            if !e {
                p = p.max(score);
            }
            paid.insert(w, p);
        }
        Outcome {
            cover,
            surplus,
            paid,
            exact,
        }
    }
}

/// NOMAD's sealed-bid procurement with entirety bids (\[NOMAD\] §2.2–2.4: "the
/// winning bid then pays the amount of the second"; "an entirety bid is a bid for
/// all the lots in the RDG and allows the bidder to benefit from savings resulting
/// from the combined bids"; a depot "makes either just a single lot bid or an
/// entirety bid for each auction, and waits on the outcome of that auction before
/// bidding again").
///
/// **Auctions and lots.** One auction per user k, the user being the auctioneer
/// (NOMAD's application registering its RDG). The allocation is split into paths;
/// k's jobs in broker market b (paths whose last broker is b) form one lot of q_b
/// jobs, r_k·q_b resource units. A lot is bought whole: one provider runs all of it
/// (NOMAD's "a depot bidding on this lot is expected to provide all resources
/// specified").
///
/// **Bids.** A *single-lot bid* on lot b comes from every provider p that b links
/// to, eligible for k, with enough *remaining* capacity (and bandwidth on b→p) for
/// the lot: score = declared c_p·r_k·q_b + q_b·(the link's cost + c_b) — the ask plus
/// the public transport it implies. An *entirety bid* comes from every provider
/// that can take all of k's lots together (eligible, linked from every lot's broker
/// with bandwidth for that lot, remaining capacity for Σ_b r_k·q_b): score = its
/// entirety ask + the same transport summed over the lots. The entirety ask is the
/// bids file's `entirety` entry ([`Bids`](super::Bids)) or, without one, the sum of
/// the provider's single-lot asks, c_p·r_k·Σ_b q_b — its truthful value, since costs
/// are linear (design §2). A lower declared entirety ask claims a saving from
/// combining that the market file cannot express; the statement still values the
/// provider's work at its market-file cost.
///
/// **Winner determination.** The reserve of lot b is v̂_k·q_b − the upstream
/// transport of the lot (what it is worth to the user, at the declared valuation).
/// The user buys the cover of largest surplus ([`Auction`]): each lot to one of its
/// single-lot bidders or unsold, no provider given more lots than it has capacity
/// for (an exhaustive branch-and-bound search), or all lots to one entirety bidder
/// if that is strictly better (so the total reserve caps an entirety win).
///
/// **Payments.** The generalised Vickrey (VCG procurement) rule over this bid
/// language: each winner is paid its own winning score plus (best surplus with
/// it − best surplus without any of its bids), minus its transport; the user also
/// reimburses the brokers' declared costs and link costs along the lot's path. With
/// single-lot bids only (no `entirety` entries) and no capacity binding inside one
/// user's auction this is exactly the per-lot second price: every winner is paid
/// min(second-lowest score, reserve) per lot ([`second_price`]).
///
/// **Order.** Users' auctions run one at a time in a fixed order no bid affects
/// (user index), and each win uses up provider capacity and link bandwidth: NOMAD's
/// "waiting on the outcome of that auction before bidding again".
///
/// Guarantees: **truthfulness for providers within one user's auction** under this
/// bid language (a provider's best single-lot and entirety asks are its true costs,
/// whatever the others bid), hence overall whenever no provider's capacity or
/// sell-link bandwidth couples the users' auctions (e.g. unlimited providers);
/// **individual rationality** for truthful users and providers (a winner is paid at
/// least its score; the user pays at most the reserves of what it buys); **budget
/// balance, exactly** (the user pays the winners directly: surplus 0); a feasible
/// flow (a sub-flow of the allocation's upstream part, capacities respected
/// downstream).
///
/// Does **not** guarantee: truthfulness across auctions coupled by capacity (a
/// provider may lose one user's auction on purpose to keep capacity for a dearer one
/// — the property tests count how often); truthfulness for users (the reserve is
/// the user's bid: under-bidding pays); efficiency (lots are fixed by the
/// allocation, auctions are greedy in user order, and a lot no single provider can
/// take whole stays unsold); the core (with entirety bids, single-lot winners
/// together may be paid more than the best entirety bid, a known trait of VCG).
pub fn vickrey(s: &Setting<'_>, allocation: &Allocation) -> Result<Statement, SettleError> {
    let g = &s.g_declared;
    let asks = &s.entirety.asks;
    let paths = decompose(g, &allocation.flow, 1e-12);
    let links = sell_links(g);
    // User → market broker → (jobs, path indices), in a fixed order.
    let mut users: BTreeMap<usize, BTreeMap<NodeIndex, (f64, Vec<usize>)>> = BTreeMap::new();
    for (i, p) in paths.iter().enumerate() {
        let lot = users
            .entry(p.commodity)
            .or_default()
            .entry(p.market)
            .or_default();
        lot.0 += p.amount;
        lot.1.push(i);
    }
    let provider_node: BTreeMap<usize, NodeIndex> = crate::flows::provider_nodes(g)
        .into_iter()
        .enumerate()
        .collect();
    let mut capacity: Vec<Option<f64>> = g.graph.node_weights().map(|n| n.capacity).collect();
    let fits =
        |cap: Option<f64>, need: f64| cap.is_none_or(|cap| cap >= need - 1e-9 * need.max(1.0));
    let mut trades = Flow::zero(g);
    let mut t = Transfers::zero(s.who.len());
    let (mut lots_total, mut sold, mut by_entirety) = (0usize, 0usize, 0usize);
    let mut ignored: Vec<String> = Vec::new();
    let mut inexact: Vec<String> = Vec::new();
    for (&k, markets) in &users {
        let c = &g.commodities[k];
        let lots: Vec<(NodeIndex, f64, &Vec<usize>)> =
            markets.iter().map(|(&b, (q, ps))| (b, *q, ps)).collect();
        lots_total += lots.len();
        // Per lot, provider index → the link it would use (single-lot bidders).
        let mut via: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); lots.len()];
        let mut auction = Auction::default();
        for (li, &(b, q, lot_paths)) in lots.iter().enumerate() {
            let units = c.requirement * q;
            let upstream: f64 = lot_paths.iter().map(|&i| paths[i].upstream_cost(g)).sum();
            let mut bids = Vec::new();
            for (i, l) in links.iter().enumerate() {
                let NodeKind::Provider(j) = g.node(l.provider).kind else {
                    continue;
                };
                let usable = l.broker == b
                    && c.can_use(l.first)
                    && l.second.is_none_or(|e| c.can_use(e))
                    && delivery_edge(g, k, l.provider).is_some()
                    && fits(capacity[l.provider.index()], units)
                    && l.second.is_none_or(|e| {
                        g.graph
                            .edge_endpoints(e)
                            .is_some_and(|(n, _)| fits(capacity[n.index()], q))
                    });
                if usable {
                    let score = g.node(l.provider).cost * units + q * g.unit_cost(l.first, k);
                    bids.push((j, score));
                    via[li].insert(j, i);
                }
            }
            auction.lots.push(Lot {
                reserve: c.valuation * q - upstream,
                size: units,
                bids,
            });
        }
        let total_units: f64 = auction.lots.iter().map(|l| l.size).sum();
        for (&j, &n) in &provider_node {
            let cap = capacity[n.index()];
            if let Some(cap) = cap {
                auction.capacity.insert(j, cap);
            }
            let everywhere = via.iter().all(|v| v.contains_key(&j));
            if !everywhere || !fits(cap, total_units) {
                if asks.contains_key(&(j, k)) {
                    ignored.push(format!("{} for {}", g.node(n).name, c.id));
                }
                continue;
            }
            let transport: f64 = lots
                .iter()
                .zip(&via)
                .map(|(&(_, q, _), v)| q * g.unit_cost(links[v[&j]].first, k))
                .sum();
            let ask = asks
                .get(&(j, k))
                .copied()
                .unwrap_or(g.node(n).cost * total_units);
            auction.entirety.push((j, ask + transport));
        }
        let outcome = auction.run();
        // Lot index → winner, from the cover.
        let winners: Vec<Option<usize>> = match &outcome.cover {
            Cover::Lots(w) => w.clone(),
            Cover::Entirety(j) => {
                by_entirety += 1;
                vec![Some(*j); lots.len()]
            }
        };
        let mut transport_of: BTreeMap<usize, f64> = BTreeMap::new();
        for (li, (&(_, q, lot_paths), w)) in lots.iter().zip(&winners).enumerate() {
            let Some(j) = *w else { continue };
            let Some(&i) = via[li].get(&j) else { continue };
            sold += 1;
            let link = links[i];
            *transport_of.entry(j).or_insert(0.0) += q * g.unit_cost(link.first, k);
            for &pi in lot_paths {
                let p = &paths[pi];
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
                *cap -= c.requirement * q;
            }
            reimburse(s, &mut t, k, link.first, q);
        }
        for (j, paid) in &outcome.paid {
            let transport = transport_of.get(j).copied().unwrap_or(0.0);
            let who = provider_node.get(j).and_then(|&n| s.who.of_node(g, n));
            t.pay(Some(k), who, paid - transport);
        }
        if !outcome.exact {
            inexact.push(c.id.clone());
        }
    }
    let mut notes = vec![format!(
        "{} user auctions, {lots_total} lots, {sold} sold ({by_entirety} auctions won by an entirety bid), {} unsold (no provider could take the lot within the reserve)",
        users.len(),
        lots_total - sold
    )];
    for &(j, k) in asks.keys() {
        if !users.contains_key(&k) {
            if let Some(&n) = provider_node.get(&j) {
                ignored.push(format!("{} for {}", g.node(n).name, g.commodities[k].id));
            }
        }
    }
    if !inexact.is_empty() {
        notes.push(format!(
            "cover search limit reached in the auctions of {}: best cover found, payments clamped to at least the winning scores",
            inexact.join(", ")
        ));
    }
    if !ignored.is_empty() {
        notes.push(format!(
            "entirety asks without a bid (the user has no lots, or the provider cannot take all of them): {}",
            ignored.join(", ")
        ));
    }
    Ok(s.statement(&Vickrey, &allocation.source, trades, &t, notes))
}

super::mechanism::declare_mechanism! {
    Vickrey = "vickrey" by vickrey;
    "NOMAD's second-price procurement, one auction per user over its lots, with single-lot and entirety bids: IR, balanced, truthful for providers within each user's auction.";
    super::Promises::on(super::Allocations::Any).individually_rational(&Role::ALL).budget(super::BudgetBalance::Strong).truthful_for(&[Role::Provider]);
    |s, allocation, _options| vickrey(s, allocation)
}
