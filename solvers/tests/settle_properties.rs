//! Property tests of settlement (design §6) on random generated markets:
//! individual rationality, budget balance and truthfulness for every mechanism that
//! promises them, and — the same harness on `posted` and `lp-prices` — proof that
//! it finds profitable misreports where nothing promises truthfulness.
//!
//! Counts: every harness runs [`MARKETS`] = 200 generated markets × [`MISREPORTS`] = 10
//! misreports each (2 000 misreports per mechanism), seeds 0..200 of the
//! configuration in [`settle_config`] (of the tests' `common`). A misreport changes
//! one participant's bid: a user's valuation or a broker's or provider's cost, to a
//! random multiple in [0, 3) of the truth, to 0, or (for costs) to truth + U[0, 2);
//! for `vickrey` also a provider's entirety ask for one user (see [`entirety_lie`]).
//! The misreporter's *true* utility under the misreport is compared with its truthful
//! utility; a gain above
//! [`TOL`]·max(1, |W|) is a profitable misreport. Run with `--nocapture` to see the
//! rates printed.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{ExpandedGraph, Market, Role, ValidMarket};
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::{
    lp_prices::LpPrices, mcafee::Mcafee, posted::Posted, vcg::Vcg, vickrey::Vickrey,
};
use std::collections::BTreeMap;

use brokerflow_solvers::settle::{
    vickrey::{second_price, Auction, Cover, Lot},
    Allocation, Bids, Mechanism, Participants, Statement,
};

mod common;
use common::{settle_at_optimum, settle_config};

const MARKETS: u64 = 200;
const MISREPORTS: usize = 10;
const TOL: f64 = 1e-6;

/// Double-auction books need several traders per broker market: 8 users, 2
/// brokers and 4 providers, densely linked, otherwise as [`settle_config`].
fn books_config() -> GeneratorConfig {
    GeneratorConfig {
        users: 8,
        brokers: 2,
        providers: 4,
        link_probability: Some(0.7),
        ..settle_config()
    }
}

/// splitmix64: a deterministic stream for the misreports (no RNG dependency).
struct Stream(u64);
impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// How the allocation is obtained for a misreport.
#[derive(Clone, Copy, PartialEq)]
enum Alloc {
    /// P3 at the declared bids (what `settle --allocation lp --bids` does).
    Declared,
    /// P3 at the true bids, held fixed: the set of possible trades does not move
    /// with the misreport (design §6, mechanisms that choose their own trades).
    Fixed,
}

fn statement(
    truth: &ValidMarket,
    bids: &Bids,
    mechanism: &'static dyn Mechanism,
    alloc: Alloc,
) -> Statement {
    let declared = bids.apply(truth).expect("bids of known participants");
    let basis = match alloc {
        Alloc::Declared => &declared.market,
        Alloc::Fixed => truth,
    };
    settle_at_optimum(truth, &declared, basis, mechanism)
        .unwrap_or_else(|e| panic!("{} on {}: {e}", mechanism, truth.name))
}

/// A misreport generator: (who lies, the bids it declares).
type Lie<'a> = &'a dyn Fn(&Market, &mut Stream) -> (String, Bids);

/// Misreports of a valuation or cost by participants of `roles` ([`misreport`]).
fn by(roles: &'static [Role]) -> impl Fn(&Market, &mut Stream) -> (String, Bids) {
    move |m, rng| misreport(m, roles, rng)
}

/// One random misreport by a participant of one of `roles`.
fn misreport(truth: &Market, roles: &[Role], rng: &mut Stream) -> (String, Bids) {
    let who = Participants::of(truth);
    let candidates: Vec<usize> = (0..who.len())
        .filter(|&i| roles.contains(&who.role(i).0))
        .collect();
    let i = candidates[rng.below(candidates.len())];
    let id = who.id(truth, i);
    let (role, j) = who.role(i);
    let truth_value = match role {
        Role::User => truth.users[j].valuation,
        Role::Broker => truth.brokers[j].cost,
        Role::Provider => truth.providers[j].cost,
    };
    let lie = match rng.below(4) {
        0 => 0.0,
        1 | 2 => truth_value * 3.0 * rng.unit(),
        _ => truth_value + 2.0 * rng.unit(),
    };
    let mut bids = Bids::default();
    match role {
        Role::User => bids.valuations.insert(id.clone(), lie),
        Role::Broker | Role::Provider => bids.costs.insert(id.clone(), lie),
    };
    (id, bids)
}

#[derive(Debug, Default)]
struct Tally {
    markets: usize,
    /// Markets whose truthful statement trades anything (else the checks are void).
    trading: usize,
    misreports: usize,
    /// Truthful participants with utility below −tolerance.
    ir_violations: usize,
    /// Truthful statements with surplus below −tolerance.
    deficits: usize,
    /// Misreports that gained more than the tolerance.
    profitable: usize,
    /// Misreports that changed the misreporter's line at all (else the lie was void).
    changed: usize,
    largest_gain: f64,
    example: Option<String>,
}

/// Runs the harness: `MARKETS` markets, `MISREPORTS` misreports each drawn by `lie`
/// (e.g. [`by`] roles). `prepare` may adjust each generated market.
fn harness(
    config: &GeneratorConfig,
    mechanism: &'static dyn Mechanism,
    alloc: Alloc,
    lie: Lie<'_>,
    prepare: impl Fn(&mut Market),
) -> Tally {
    let mut t = Tally::default();
    for seed in 0..MARKETS {
        let mut truth = generate(config, seed)
            .expect("valid configuration")
            .into_market();
        prepare(&mut truth);
        let truth = truth.validate().expect("prepared market stays valid");
        let honest = statement(&truth, &Bids::default(), mechanism, alloc);
        let tol = TOL * honest.welfare.abs().max(1.0);
        t.markets += 1;
        if honest
            .participants
            .iter()
            .any(|l| l.role == Role::User && l.volume > 0.0)
        {
            t.trading += 1;
        }
        t.ir_violations += honest
            .participants
            .iter()
            .filter(|l| l.utility < -tol)
            .count();
        if honest.surplus < -tol {
            t.deficits += 1;
        }
        let mut rng = Stream(seed.wrapping_mul(7919) ^ 0x005e_771e);
        for _ in 0..MISREPORTS {
            let (id, bids) = lie(&truth, &mut rng);
            let lied = statement(&truth, &bids, mechanism, alloc);
            let before = honest.line(&id).expect("line").utility;
            let after = lied.line(&id).expect("line").utility;
            t.misreports += 1;
            if honest.line(&id) != lied.line(&id) {
                t.changed += 1;
            }
            let gain = after - before;
            if gain > tol {
                t.profitable += 1;
                if gain > t.largest_gain {
                    t.largest_gain = gain;
                    t.example = Some(format!(
                        "seed {seed}: {id} declares {:?} and gains {gain:.6} ({before:.6} → {after:.6})",
                        bids
                    ));
                }
            }
        }
    }
    println!(
        "{mechanism} ({}): {} markets ({} with trades), {} misreports ({} changed the liar's line): {} IR violations, {} deficits, {} profitable misreports ({:.1} %), largest gain {:.6}{}",
        match alloc {
            Alloc::Declared => "allocation P3 at declared bids",
            Alloc::Fixed => "allocation P3 at true bids, held fixed",
        },
        t.markets,
        t.trading,
        t.misreports,
        t.changed,
        t.ir_violations,
        t.deficits,
        t.profitable,
        100.0 * t.profitable as f64 / t.misreports.max(1) as f64,
        t.largest_gain,
        t.example.as_deref().map_or(String::new(), |e| format!("; e.g. {e}"))
    );
    t
}

/// The harness ran every misreport (200 markets × 10) and at least half of the
/// markets trade, enough to test anything.
fn assert_enough(t: &Tally) {
    assert_eq!(t.misreports, 2000);
    assert!(
        t.trading >= 100,
        "too few markets trade to test anything: {t:?}"
    );
}

const ALL: &[Role] = &Role::ALL;
const PROVIDERS: &[Role] = &[Role::Provider];
const USERS_AND_PROVIDERS: &[Role] = &[Role::User, Role::Provider];

#[test]
fn vcg_is_truthful_and_individually_rational() {
    let t = harness(&settle_config(), &Vcg, Alloc::Declared, &by(ALL), |_| {});
    assert_enough(&t);
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.profitable, 0, "{t:?}");
    // Not promised: budget balance. VCG runs deficits on these markets.
    assert!(t.deficits > 0, "{t:?}");
}

#[test]
fn mcafee_is_truthful_rational_and_budget_balanced_for_a_fixed_allocation() {
    let t = harness(
        &books_config(),
        &Mcafee,
        Alloc::Fixed,
        &by(USERS_AND_PROVIDERS),
        |_| {},
    );
    assert_enough(&t);
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
    assert_eq!(t.profitable, 0, "{t:?}");
}

#[test]
fn mcafee_with_the_allocation_re_solved_from_the_bids_is_reported() {
    // Not promised: when P3 is re-solved from the misreport, the books move with
    // the bid. Reported, and IR/budget still hold for truthful statements.
    let t = harness(
        &books_config(),
        &Mcafee,
        Alloc::Declared,
        &by(USERS_AND_PROVIDERS),
        |_| {},
    );
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
}

/// Providers without capacity limits and broker→provider links without bandwidth
/// limits: no provider's capacity couples the lots.
fn uncoupled(m: &mut Market) {
    for p in &mut m.providers {
        p.capacity = None;
    }
    let providers: Vec<String> = m.providers.iter().map(|p| p.id.clone()).collect();
    for l in &mut m.links {
        if providers.contains(&l.to) {
            l.bandwidth = None;
        }
    }
}

#[test]
fn vickrey_is_truthful_for_providers_when_capacity_does_not_couple_lots() {
    let t = harness(
        &settle_config(),
        &Vickrey,
        Alloc::Fixed,
        &by(PROVIDERS),
        uncoupled,
    );
    assert_enough(&t);
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
    assert_eq!(t.profitable, 0, "{t:?}");
}

#[test]
fn vickrey_where_capacity_couples_lots_is_rational_and_balanced() {
    // IR and budget balance hold always; provider truthfulness across coupled lots
    // is not promised — the rate is reported. Users are not promised truthfulness
    // either (their reserve is their bid).
    let t = harness(
        &settle_config(),
        &Vickrey,
        Alloc::Fixed,
        &by(PROVIDERS),
        |_| {},
    );
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
    let users = harness(
        &settle_config(),
        &Vickrey,
        Alloc::Fixed,
        &by(&[Role::User]),
        uncoupled,
    );
    assert!(
        users.profitable > 0,
        "under-bidding a reserve should pay: {users:?}"
    );
}

/// A provider misreports its entirety ask for one user ([NOMAD] §2.2): to 0, to a
/// random multiple in [0, 1.5) of c_p·r_k·d_k (its truthful ask if the user's whole
/// demand is allocated; the truthful ask is c_p·r_k times the jobs allocated), or to
/// that + U[0, 2); half of the time it misreports its cost (its single-lot asks) too.
fn entirety_lie(truth: &Market, rng: &mut Stream) -> (String, Bids) {
    let p = &truth.providers[rng.below(truth.providers.len())];
    let u = &truth.users[rng.below(truth.users.len())];
    let whole = p.cost * u.requirement * u.demand;
    let ask = match rng.below(4) {
        0 => 0.0,
        1 | 2 => whole * 1.5 * rng.unit(),
        _ => whole + 2.0 * rng.unit(),
    };
    let mut bids = Bids::default();
    bids.entirety
        .entry(p.id.clone())
        .or_default()
        .insert(u.id.clone(), ask);
    if rng.below(2) == 0 {
        bids.costs.insert(p.id.clone(), p.cost * 3.0 * rng.unit());
    }
    (p.id.clone(), bids)
}

#[test]
fn vickrey_entirety_misreports_never_pay_when_capacity_does_not_couple_auctions() {
    // Within one user's auction the generalised Vickrey rule is truthful for any bid
    // language it optimises over exactly; with unlimited providers and sell links no
    // capacity couples the users' auctions, so no lie may gain.
    let t = harness(
        &settle_config(),
        &Vickrey,
        Alloc::Fixed,
        &entirety_lie,
        uncoupled,
    );
    assert_enough(&t);
    assert!(t.changed >= 200, "the lies must change outcomes: {t:?}");
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
    assert_eq!(t.profitable, 0, "{t:?}");
}

#[test]
fn vickrey_entirety_misreports_where_capacity_couples_auctions_are_reported() {
    // Not promised across auctions coupled by capacity: the rate is printed. IR and
    // budget balance hold for the truthful statements regardless.
    let t = harness(
        &settle_config(),
        &Vickrey,
        Alloc::Fixed,
        &entirety_lie,
        |_| {},
    );
    assert_eq!(t.misreports, 2000);
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
}

#[test]
fn vickrey_with_single_lot_bids_only_is_the_per_lot_second_price() {
    // (a) The auction core on 500 random auctions of 1–4 lots and up to 5 bidders
    // without entirety bids or capacity limits: every lot is exactly a separate
    // second-price auction (same winners, each winner paid the sum of its lots'
    // min(second score, reserve)).
    let mut rng = Stream(2001);
    for case in 0..500 {
        let mut lots = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let reserve = 12.0 * rng.unit();
            let mut bids = Vec::new();
            for b in 0..5 {
                if rng.below(10) < 7 {
                    bids.push((b, 10.0 * rng.unit()));
                }
            }
            lots.push(Lot {
                reserve,
                size: 1.0,
                bids,
            });
        }
        let auction = Auction {
            lots,
            ..Auction::default()
        };
        let out = auction.run();
        let mut winners = Vec::new();
        let mut paid: BTreeMap<usize, f64> = BTreeMap::new();
        for lot in &auction.lots {
            let r = second_price(&lot.bids, lot.reserve);
            winners.push(r.map(|(w, _)| w));
            if let Some((w, p)) = r {
                *paid.entry(w).or_default() += p;
            }
        }
        assert_eq!(out.cover, Cover::Lots(winners), "case {case}: {auction:?}");
        assert!(out.exact);
        assert_eq!(
            out.paid.keys().collect::<Vec<_>>(),
            paid.keys().collect::<Vec<_>>(),
            "case {case}"
        );
        for (w, p) in &paid {
            assert!(
                (out.paid[w] - p).abs() < 1e-9,
                "case {case}: bidder {w} paid {} vs {p}",
                out.paid[w]
            );
        }
    }
    // (b) On the 200 uncoupled random markets: a bids file whose entirety entries
    // declare every provider's truthful entirety ask (c_p·r_k·jobs allocated to k)
    // settles exactly like one without entirety entries, i.e. like single-lot bids
    // only.
    let mut with_lots = 0;
    for seed in 0..MARKETS {
        let mut truth = generate(&settle_config(), seed)
            .expect("valid configuration")
            .into_market();
        uncoupled(&mut truth);
        let truth = truth.validate().expect("uncoupled market stays valid");
        let g = ExpandedGraph::new(&truth);
        let allocation = Allocation::lp(&g, Backend::DEFAULT).expect("P3");
        let mut bids = Bids::default();
        for p in &truth.providers {
            for (k, u) in truth.users.iter().enumerate() {
                let jobs = allocation.flow.served(&g, k);
                if jobs > 0.0 {
                    with_lots += 1;
                    bids.entirety
                        .entry(p.id.clone())
                        .or_default()
                        .insert(u.id.clone(), p.cost * u.requirement * jobs);
                }
            }
        }
        let plain = statement(&truth, &Bids::default(), &Vickrey, Alloc::Fixed);
        let explicit = statement(&truth, &bids, &Vickrey, Alloc::Fixed);
        let tol = 1e-9 * plain.welfare.abs().max(1.0);
        assert!(
            (plain.welfare - explicit.welfare).abs() <= tol,
            "seed {seed}"
        );
        for (a, b) in plain.participants.iter().zip(&explicit.participants) {
            assert_eq!(a.id, b.id);
            for (x, y, what) in [
                (a.volume, b.volume, "volume"),
                (a.pays, b.pays, "pays"),
                (a.receives, b.receives, "receives"),
                (a.utility, b.utility, "utility"),
            ] {
                assert!(
                    (x - y).abs() <= tol,
                    "seed {seed}: {} {what} {x} vs {y}",
                    a.id
                );
            }
        }
    }
    assert!(with_lots >= 200, "{with_lots} explicit entirety entries");
}

#[test]
fn posted_prices_are_balanced_but_the_harness_finds_profitable_misreports() {
    let t = harness(&settle_config(), &Posted, Alloc::Declared, &by(ALL), |_| {});
    assert_eq!(t.misreports, 2000);
    assert_eq!(t.deficits, 0, "posted prices are pure transfers: {t:?}");
    assert!(t.profitable > 0, "{t:?}");
}

#[test]
fn lp_prices_are_rational_but_the_harness_finds_profitable_misreports() {
    let t = harness(
        &settle_config(),
        &LpPrices,
        Alloc::Declared,
        &by(ALL),
        |_| {},
    );
    assert_eq!(t.misreports, 2000);
    assert_eq!(t.ir_violations, 0, "{t:?}");
    assert_eq!(t.deficits, 0, "{t:?}");
    assert!(t.profitable > 0, "{t:?}");
}

/// McAfee (1992) straight from the paper, for unit traders: sort bids descending,
/// asks ascending, k = the largest i with b_i ≥ s_i; p0 = (b_{k+1} + s_{k+1})/2 when
/// both exist; if s_k ≤ p0 ≤ b_k all k trade at p0, else the first k − 1 trade,
/// buyers paying b_k and sellers receiving s_k. Returns utilities (buyers, sellers).
fn textbook_mcafee(bids: &[f64], asks: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut b: Vec<(usize, f64)> = bids.iter().copied().enumerate().collect();
    let mut s: Vec<(usize, f64)> = asks.iter().copied().enumerate().collect();
    b.sort_by(|x, y| y.1.total_cmp(&x.1));
    s.sort_by(|x, y| x.1.total_cmp(&y.1));
    let k = (0..b.len().min(s.len()))
        .take_while(|&i| b[i].1 >= s[i].1)
        .count();
    let mut ub = vec![0.0; bids.len()];
    let mut us = vec![0.0; asks.len()];
    if k == 0 {
        return (ub, us);
    }
    let p0 = (k < b.len() && k < s.len()).then(|| (b[k].1 + s[k].1) / 2.0);
    let (trades, pb, ps) = match p0 {
        Some(p) if s[k - 1].1 <= p && p <= b[k - 1].1 => (k, p, p),
        _ => (k - 1, b[k - 1].1, s[k - 1].1),
    };
    for i in 0..trades {
        ub[b[i].0] = b[i].1 - pb;
        us[s[i].0] = ps - s[i].1;
    }
    (ub, us)
}

/// A one-broker market of unit traders (d = 1, r = 1, capacity 1, no other costs).
fn unit_market(values: &[f64], costs: &[f64]) -> ValidMarket {
    let mut m = Market {
        name: "unit".to_string(),
        users: Vec::new(),
        brokers: Vec::new(),
        providers: Vec::new(),
        links: Vec::new(),
        prices: None,
        meta: None,
    };
    m.brokers.push(brokerflow_graphs::Broker {
        id: "b".to_string(),
        capacity: None,
        cost: 0.0,
    });
    for (i, &v) in values.iter().enumerate() {
        m.users.push(brokerflow_graphs::User {
            id: format!("u{i}"),
            demand: 1.0,
            requirement: 1.0,
            valuation: v,
            eligible: None,
        });
        m.links.push(link(&format!("u{i}"), "b"));
    }
    for (i, &c) in costs.iter().enumerate() {
        m.providers.push(brokerflow_graphs::Provider {
            id: format!("p{i}"),
            capacity: Some(1.0),
            cost: c,
        });
        m.links.push(link("b", &format!("p{i}")));
    }
    m.validate().expect("valid unit market")
}

fn link(from: &str, to: &str) -> brokerflow_graphs::Link {
    brokerflow_graphs::Link {
        from: from.to_string(),
        to: to.to_string(),
        bandwidth: None,
        cost: 0.0,
    }
}

#[test]
fn mcafee_with_one_unit_per_trader_is_exactly_mcafee_1992() {
    // 200 random books of 1–6 buyers and 1–6 sellers with distinct values on a grid
    // of 1/8 (exact in binary, no ties), settled through the whole pipeline (P3,
    // books, re-matching) and compared with the textbook rule above.
    let mut rng = Stream(1992);
    let mut reduced = 0;
    for case in 0..200 {
        let n = 1 + rng.below(6);
        let m = 1 + rng.below(6);
        let mut pool: Vec<f64> = (1..=160).map(|i| i as f64 / 8.0).collect();
        let mut draw = |rng: &mut Stream| pool.swap_remove(rng.below(pool.len()));
        let bids: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
        let asks: Vec<f64> = (0..m).map(|_| draw(&mut rng)).collect();
        let market = unit_market(&bids, &asks);
        let s = statement(&market, &Bids::default(), &Mcafee, Alloc::Declared);
        let (ub, us) = textbook_mcafee(&bids, &asks);
        for (i, u) in ub.iter().enumerate() {
            let got = s.line(&format!("u{i}")).unwrap().utility;
            assert!(
                (got - u).abs() < 1e-9,
                "case {case} bids {bids:?} asks {asks:?}: u{i} {got} vs {u}"
            );
        }
        for (i, u) in us.iter().enumerate() {
            let got = s.line(&format!("p{i}")).unwrap().utility;
            assert!(
                (got - u).abs() < 1e-9,
                "case {case} bids {bids:?} asks {asks:?}: p{i} {got} vs {u}"
            );
        }
        if s.surplus > 0.0 {
            reduced += 1;
        }
    }
    assert!(
        reduced > 0,
        "some cases must take the trade-reduction branch"
    );
}
