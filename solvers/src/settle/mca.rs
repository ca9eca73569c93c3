//! `mca`: max-consensus auctions among the providers ([MCA-Alloy]): the providers
//! settle the allocation's lots among themselves with neighbour-only messages, and
//! are paid at their winning bids.

use std::collections::BTreeMap;

use brokerflow_graphs::{Flow, Role, ValidMarket};
use petgraph::graph::NodeIndex;

use super::{
    add_flow, check_shape, decompose, delivery_edge, reimburse_broker as reimburse, sell_links,
    Allocation, Setting, SettleError, SettleOptions, ShapeError, Statement, Transfers,
};
use crate::lp::{self, LpOptions};
use crate::mca::values::{BundleValues, ItemSet, MAX_ITEMS};
use crate::mca::{run_synchronous, Policy, Rules, Scenario};

/// Jobs per time unit in one lot, at most: each (user, broker market) trade of the
/// allocation is split into ⌈q / `LOT_JOBS`⌉ equal lots. If that makes more than
/// [`MAX_ITEMS`] lots, the lot size is doubled until it does not (said in a note).
pub const LOT_JOBS: f64 = 5.0;

/// One lot on auction: a share of user k's jobs in broker market b.
#[derive(Debug, Clone, PartialEq)]
struct LotItem {
    user: usize,
    market: NodeIndex,
    /// Jobs per time unit.
    jobs: f64,
    /// This lot's share of the trade's paths (fraction of each path's amount).
    share: f64,
    /// Paths (indices into the decomposition) of the trade.
    paths: Vec<usize>,
}

/// A provider's value of a bundle of lots: its margin, filling its capacity with
/// the bundle's lots in order of margin per resource unit (the last one
/// fractionally). Sub-modular by construction: a lot added to a larger bundle
/// finds less residual capacity and displaces denser lots, so its marginal can only
/// fall ([MCA-Alloy] §II-A: "the residual capacity can only decrease as virtual
/// nodes … are added").
#[derive(Debug, Clone, PartialEq)]
struct ProviderMargins {
    /// Per provider, per lot: (margin for the whole lot, resource units) where the
    /// provider can run the lot at a positive margin.
    lots: Vec<Vec<Option<(f64, f64)>>>,
    /// Per provider, R_p (`None`: unlimited).
    capacity: Vec<Option<f64>>,
}

impl ProviderMargins {
    /// The fraction of each lot of `bundle` that provider `p` runs, by density.
    fn fill(&self, p: usize, bundle: ItemSet) -> Vec<(usize, f64)> {
        let mut lots: Vec<(usize, f64, f64)> = (0..self.lots[p].len())
            .filter(|&j| bundle & (1 << j) != 0)
            .filter_map(|j| self.lots[p][j].map(|(w, size)| (j, w, size)))
            .collect();
        lots.sort_by(|a, b| {
            let (da, db) = (a.1 / a.2.max(1e-300), b.1 / b.2.max(1e-300));
            db.total_cmp(&da).then(a.0.cmp(&b.0))
        });
        let mut room = self.capacity[p].unwrap_or(f64::INFINITY);
        lots.into_iter()
            .map(|(j, _, size)| {
                let x = if size <= room {
                    1.0
                } else {
                    (room / size).max(0.0)
                };
                room -= x * size;
                (j, x)
            })
            .collect()
    }
}

impl BundleValues for ProviderMargins {
    fn value(&self, p: usize, bundle: ItemSet) -> f64 {
        self.fill(p, bundle)
            .into_iter()
            .map(|(j, x)| self.lots[p][j].map_or(0.0, |(w, _)| w * x))
            .sum()
    }
}

/// Max-consensus auctions among providers ([MCA-Alloy] §II), settled at the
/// winning bids.
///
/// **Agents** are the market's providers, in market order (their id order for
/// ties); **neighbours** are providers linked from a common broker (the auction
/// runs on each connected group; a lot's bidders always share its broker).
/// **Items** are lots: the allocation is split into paths, the jobs of user k whose
/// last broker is b form a trade of q jobs, split into ⌈q / [`LOT_JOBS`]⌉ equal
/// lots. **Values**: provider p can run a lot of (k, b) if b links to p, k may use
/// that link and is eligible at p; its margin for the lot is q·(v_k − c_p·r_k −
/// the transport b → p) − the lot's share of the upstream transport, at declared
/// values; its value of a bundle fills its capacity R_p with the bundle's lots by
/// margin per resource unit (`ProviderMargins`, sub-modular by construction).
/// Link bandwidth b → p is not in the values (it would break sub-modularity): a
/// winner's lots through a link are cut to its remaining bandwidth when the trades
/// are built, and a note says how much.
///
/// **Protocol**: release-outbid, no target bundle limit (T = number of lots), no
/// rebidding, synchronous rounds ([`run_synchronous`]) under `rules` (\[CBBA\]'s by
/// default, design §9). A note says which rules, whether consensus was reached and
/// in how many rounds against D·|J|.
///
/// **Settlement at the winning bids**: each winner runs, of every lot it holds, the
/// fraction its capacity (then the link's bandwidth) allows; the user pays the
/// provider its declared cost for that work plus its winning bid on the lot (pro
/// rata of the part run), and reimburses the brokers' declared costs and link
/// costs along the lot's path. Budget balanced (the user pays everyone directly).
///
/// Guarantees: **individual rationality for providers** at their declared costs
/// (paid their cost plus a bid ≥ 0); a feasible flow (a sub-flow of the
/// allocation upstream, capacities respected at providers, bandwidth on b → p);
/// with sub-modular values and no rebidding, the protocol's consensus (checked
/// and reported). Does **not** guarantee: IR for users (a bid is a margin the
/// provider claims, so the user may pay up to its value), truthfulness, welfare
/// beyond the protocol's (1 − 1/e) of the lot-level optimum — the note gives the
/// welfare against P3. An allocation with more than [`MAX_ITEMS`] trades is
/// refused with a typed error (a bundle is one 64-bit set).
pub fn mca(
    s: &Setting<'_>,
    allocation: &Allocation,
    options: &SettleOptions,
    rules: Rules,
) -> Result<Statement, SettleError> {
    let g = &s.g_declared;
    let paths = decompose(g, &allocation.flow, 1e-12);
    // (user, market broker) → (jobs, path indices), in a fixed order.
    let mut trades: BTreeMap<(usize, NodeIndex), (f64, Vec<usize>)> = BTreeMap::new();
    for (i, p) in paths.iter().enumerate() {
        let t = trades.entry((p.commodity, p.market)).or_default();
        t.0 += p.amount;
        t.1.push(i);
    }
    if trades.len() > MAX_ITEMS {
        return Err(SettleError::AllocationShape(ShapeError::TooManyLots {
            limit: MAX_ITEMS,
            trades: trades.len(),
        }));
    }
    let mut lot_jobs = LOT_JOBS;
    let lots_needed = |size: f64| -> usize {
        trades
            .values()
            .map(|(q, _)| (q / size).ceil().max(1.0) as usize)
            .sum()
    };
    while lots_needed(lot_jobs) > MAX_ITEMS {
        lot_jobs *= 2.0;
    }
    let mut lots: Vec<LotItem> = Vec::new();
    for (&(user, market), (q, ps)) in &trades {
        let n = (q / lot_jobs).ceil().max(1.0) as usize;
        for _ in 0..n {
            lots.push(LotItem {
                user,
                market,
                jobs: q / n as f64,
                share: 1.0 / n as f64,
                paths: ps.clone(),
            });
        }
    }
    let providers = crate::flows::provider_nodes(g);
    let position = |n: NodeIndex| providers.iter().position(|&x| x == n);
    let links = sell_links(g);
    // Neighbours: providers linked from a common broker.
    let mut by_broker: BTreeMap<NodeIndex, Vec<usize>> = BTreeMap::new();
    for l in &links {
        if let Some(p) = position(l.provider) {
            by_broker.entry(l.broker).or_default().push(p);
        }
    }
    let mut neighbours = vec![std::collections::BTreeSet::new(); providers.len()];
    for group in by_broker.values() {
        for &a in group {
            for &b in group {
                if a != b {
                    neighbours[a].insert(b);
                }
            }
        }
    }
    // Per provider and lot: the link it would use, its margin and size.
    let mut via: Vec<Vec<Option<usize>>> = vec![vec![None; lots.len()]; providers.len()];
    let mut margins = ProviderMargins {
        lots: vec![vec![None; lots.len()]; providers.len()],
        capacity: providers.iter().map(|&n| g.node(n).capacity).collect(),
    };
    for (j, lot) in lots.iter().enumerate() {
        let k = lot.user;
        let c = &g.commodities[k];
        let upstream: f64 = lot
            .paths
            .iter()
            .map(|&i| lot.share * paths[i].upstream_cost(g))
            .sum();
        for (li, l) in links.iter().enumerate() {
            let Some(p) = position(l.provider) else {
                continue;
            };
            let Some(d) = delivery_edge(g, k, l.provider) else {
                continue;
            };
            if l.broker != lot.market
                || !c.can_use(l.first)
                || l.second.is_some_and(|e| !c.can_use(e))
            {
                continue;
            }
            let per_job = c.valuation - g.unit_cost(l.first, k) - g.unit_cost(d, k);
            let w = lot.jobs * per_job - upstream;
            if w > 0.0 && via[p][j].is_none() {
                via[p][j] = Some(li);
                margins.lots[p][j] = Some((w, c.requirement * lot.jobs));
            }
        }
    }
    // One auction per connected group of providers, over the lots its members can
    // bid on (a lot's bidders share its broker, so they are in one group); each
    // group's consensus is its own, as no message crosses between groups.
    let neighbours: Vec<Vec<usize>> = neighbours
        .into_iter()
        .map(|n| n.into_iter().collect())
        .collect();
    let mut group = vec![usize::MAX; providers.len()];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for start in 0..providers.len() {
        if group[start] != usize::MAX {
            continue;
        }
        let id = groups.len();
        let mut members = vec![start];
        group[start] = id;
        let mut i = 0;
        while i < members.len() {
            for &v in &neighbours[members[i]] {
                if group[v] == usize::MAX {
                    group[v] = id;
                    members.push(v);
                }
            }
            i += 1;
        }
        members.sort_unstable();
        groups.push(members);
    }
    // Per provider, its final bundle (global lot indices); per lot, its holder.
    let mut bundles: Vec<Vec<usize>> = vec![Vec::new(); providers.len()];
    let mut holder: Vec<Option<usize>> = vec![None; lots.len()];
    let mut final_bid: Vec<f64> = vec![0.0; lots.len()];
    let (mut all_consensus, mut rounds, mut messages, mut bound) = (true, 0, 0, 0);
    let mut ended = Vec::new();
    for members in &groups {
        let items: Vec<usize> = (0..lots.len())
            .filter(|&j| members.iter().any(|&p| margins.lots[p][j].is_some()))
            .collect();
        if items.is_empty() {
            continue;
        }
        let local = ProviderMargins {
            lots: members
                .iter()
                .map(|&p| items.iter().map(|&j| margins.lots[p][j]).collect())
                .collect(),
            capacity: members.iter().map(|&p| margins.capacity[p]).collect(),
        };
        let scenario = Scenario {
            name: s.declared.name.clone(),
            agents: members
                .iter()
                .map(|&p| g.node(providers[p]).name.clone())
                .collect(),
            items: items
                .iter()
                .map(|&j| {
                    let l = &lots[j];
                    format!("{}@{}#{j}", g.commodities[l.user].id, g.node(l.market).name)
                })
                .collect(),
            neighbours: members
                .iter()
                .map(|&p| {
                    neighbours[p]
                        .iter()
                        .filter_map(|v| members.iter().position(|m| m == v))
                        .collect()
                })
                .collect(),
            values: Box::new(local),
            policy: Policy {
                release_outbid: true,
                target_bundle: items.len(),
                rebid_lost: false,
            },
            rules,
        };
        let run = run_synchronous(&scenario, &scenario.policy, rules);
        all_consensus &= run.consensus;
        rounds = rounds.max(run.rounds);
        messages += run.messages;
        bound = bound.max(run.bound);
        if !run.consensus {
            ended.push(run.ended.name());
        }
        for (a, &p) in members.iter().enumerate() {
            bundles[p] = run.agents[a].bundle.iter().map(|&x| items[x]).collect();
        }
        for (x, &j) in items.iter().enumerate() {
            holder[j] = run.assignment[x].map(|a| members[a]);
            if let Some(a) = run.assignment[x] {
                final_bid[j] = run.agents[a].view[x].bid;
            }
        }
    }
    // Build the trades and the payments.
    let mut flow = Flow::zero(g);
    let mut t = Transfers::zero(s.who.len());
    let mut bandwidth: Vec<Option<f64>> = g.graph.node_weights().map(|n| n.capacity).collect();
    let (mut cut, mut sold) = (0.0, 0usize);
    for (p, &pn) in providers.iter().enumerate() {
        let bundle: ItemSet = bundles[p].iter().fold(0, |b, &j| b | (1 << j));
        let who_p = s.who.of_node(g, pn);
        for (j, x) in margins.fill(p, bundle) {
            let (Some(li), Some(owner)) = (via[p][j], holder[j]) else {
                continue;
            };
            if owner != p || x <= 0.0 {
                continue;
            }
            let lot = &lots[j];
            let k = lot.user;
            let link = links[li];
            let mut jobs = x * lot.jobs;
            if let Some(bw_node) = link
                .second
                .and_then(|e| g.graph.edge_endpoints(e))
                .map(|(n, _)| n)
            {
                if let Some(room) = &mut bandwidth[bw_node.index()] {
                    let fits = jobs.min(room.max(0.0));
                    cut += jobs - fits;
                    jobs = fits;
                    *room -= jobs;
                }
            }
            if jobs <= 0.0 {
                continue;
            }
            sold += 1;
            let ratio = jobs / lot.jobs;
            for &pi in &lot.paths {
                let path = &paths[pi];
                let amount = path.amount * lot.share * ratio;
                for &e in &path.edges[..path.upstream] {
                    add_flow(g, &mut flow, k, e, amount);
                    reimburse(s, &mut t, k, e, amount);
                }
            }
            add_flow(g, &mut flow, k, link.first, jobs);
            reimburse(s, &mut t, k, link.first, jobs);
            if let Some(e2) = link.second {
                add_flow(g, &mut flow, k, e2, jobs);
            }
            let Some(d) = delivery_edge(g, k, pn) else {
                continue;
            };
            add_flow(g, &mut flow, k, d, jobs);
            let bid = final_bid[j];
            let paid = g.unit_cost(d, k) * jobs + bid * jobs / (x * lot.jobs);
            t.pay(Some(k), who_p, paid);
        }
    }
    let optimum = lp::max_welfare(
        &s.g_true,
        &LpOptions {
            backend: options.backend,
            prices: false,
        },
    )?
    .flow
    .map(|f| f.welfare(&s.g_true));
    let welfare = flow.welfare(&s.g_true);
    let mut notes = vec![
        format!(
            "{} providers in {} groups sharing brokers, {} lots of at most {lot_jobs} jobs from {} trades; {sold} lots run",
            providers.len(),
            groups.len(),
            lots.len(),
            trades.len()
        ),
        if all_consensus {
            format!(
                "consensus reached in every group of providers after at most {rounds} synchronous rounds (largest bound D·|J| = {bound}), {messages} messages, {} conflict rules",
                rules.name()
            )
        } else {
            format!(
                "no consensus in {} group(s) of providers (ended: {}) after at most {rounds} rounds (largest bound D·|J| = {bound}), {} conflict rules; settled the lots exactly one provider holds",
                ended.len(),
                ended.join(", "),
                rules.name()
            )
        },
    ];
    if let Some(w_star) = optimum {
        let pct = if w_star.abs() > 1e-9 {
            format!(" ({:.1} %)", 100.0 * welfare / w_star)
        } else {
            String::new()
        };
        notes.push(format!(
            "MCA welfare {welfare:.6} vs P3 optimum {w_star:.6}{pct}, at true values"
        ));
    }
    if lot_jobs > LOT_JOBS {
        notes.push(format!(
            "lot size raised from {LOT_JOBS} to {lot_jobs} jobs to stay within {MAX_ITEMS} lots"
        ));
    }
    if cut > 0.0 {
        notes.push(format!(
            "{cut:.6} jobs of won lots cut by the bandwidth of their broker → provider link (not in the bids)"
        ));
    }
    Ok(s.statement(&Mca, &allocation.source, flow, &t, notes))
}

/// `settle --mechanism mca` under the given conflict rules: what [`super::settle`]
/// does for [`Mca`] with `options.rules` replaced by `rules`. `truth` has the true
/// values, `declared` the bids; `allocation` is a flow on G′ of `declared`.
pub fn settle_mca<D: super::Declaration + ?Sized>(
    truth: &ValidMarket,
    declared: &D,
    allocation: &Allocation,
    options: &SettleOptions,
    rules: Rules,
) -> Result<Statement, SettleError> {
    let s = Setting::new(truth, declared);
    check_shape(&s.g_declared, &allocation.flow)?;
    mca(&s, allocation, options, rules)
}

super::mechanism::declare_mechanism! {
    Mca = "mca" by mca, solves_lp: true;
    "Max-consensus auctions among providers (neighbour-only messages), paid at their winning bids: IR for providers, balanced.";
    super::Promises::on(super::Allocations::Any).individually_rational(&[Role::Provider]).budget(super::BudgetBalance::Strong);
    |s, allocation, options| mca(s, allocation, options, options.rules)
}
