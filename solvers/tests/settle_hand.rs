//! Settlement (design §6) on small markets whose statements are worked out by hand;
//! every expected number is derived in the comment above its assertion.
//!
//! Conventions (design §2): a participant's value is v_k per job served for a user,
//! minus the costs of what it sends (own cost and link cost); utility = value +
//! receives − pays; surplus = Σ pays − Σ receives.

use brokerflow_graphs::{ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::Variant;
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::{
    lp_prices::LpPrices, mcafee::Mcafee, posted::Posted, vcg::Vcg, vickrey::Vickrey,
};
use brokerflow_solvers::settle::{
    mcafee::{clear, Entry},
    settle,
    vickrey::{second_price, Auction, Cover, Lot},
    Allocation, AllocationSource, Bids, Mechanism, SettleError, SettleOptions, Statement,
};

mod common;

const TOL: f64 = 1e-6;

fn market(text: &str) -> ValidMarket {
    Market::from_json_str(text, "inline").expect("valid market")
}

/// Settles `truth` with bids applied, at P3's allocation of the declared market.
fn run(
    truth: &ValidMarket,
    bids: &Bids,
    mechanism: &'static dyn Mechanism,
) -> Result<Statement, SettleError> {
    let declared = bids.apply(truth)?;
    common::settle_at_optimum(truth, &declared, &declared.market, mechanism)
}

fn truthful(truth: &ValidMarket, mechanism: &'static dyn Mechanism) -> Statement {
    run(truth, &Bids::default(), mechanism).unwrap()
}

#[track_caller]
fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= TOL * expected.abs().max(1.0),
        "{what}: got {actual}, expected {expected}"
    );
}

/// (id, volume, pays, receives, utility) for every participant, and the totals.
#[track_caller]
fn expect(s: &Statement, rows: &[(&str, f64, f64, f64, f64)], welfare: f64, surplus: f64) {
    for &(id, volume, pays, receives, utility) in rows {
        let l = s.line(id).unwrap_or_else(|| panic!("no line for {id}"));
        close(l.volume, volume, &format!("{id} volume"));
        close(l.pays, pays, &format!("{id} pays"));
        close(l.receives, receives, &format!("{id} receives"));
        close(l.utility, utility, &format!("{id} utility"));
    }
    close(s.welfare, welfare, "welfare");
    close(s.surplus, surplus, "surplus");
}

/// Market A: one unlimited broker without costs, two users, two providers.
/// u1 d=10 v=10, u2 d=10 v=6 (r=1); p1 8 units at 1, p2 8 units at 3.
/// P3 fills all 16 units: u1 gets 10, u2 (the marginal user) 6, since u2's value 6
/// exceeds p2's cost 3. W* = 10·10 + 6·6 − 8·1 − 8·3 = 136 − 32 = 104.
const MARKET_A: &str = r#"{"name": "A",
  "users": [{"id": "u1", "demand": 10, "requirement": 1, "valuation": 10},
            {"id": "u2", "demand": 10, "requirement": 1, "valuation": 6}],
  "brokers": [{"id": "b"}],
  "providers": [{"id": "p1", "capacity": 8, "cost": 1}, {"id": "p2", "capacity": 8, "cost": 3}],
  "links": [{"from": "u1", "to": "b"}, {"from": "u2", "to": "b"},
            {"from": "b", "to": "p1"}, {"from": "b", "to": "p2"}]}"#;

#[test]
fn vcg_on_market_a_matches_the_clarke_pivot_by_hand() {
    // W*_{−i} by hand (re-solving P3 without i):
    //   without u1: u2 alone takes 10 jobs, 8 at p1 (cost 8) and 2 at p2 (cost 6):
    //               60 − 14 = 46 → u1's utility 104 − 46 = 58; its value 100, so it
    //               pays 100 − 58 = 42.
    //   without u2: u1 alone, same routing: 100 − 14 = 86 → u2's utility 18; its
    //               value 36, so it pays 18.
    //   without p1: p2's 8 units go to u1: 80 − 24 = 56 → p1's utility 48; its cost
    //               8, so it receives 56.
    //   without p2: p1's 8 units go to u1: 80 − 8 = 72 → p2's utility 32; its cost
    //               24, so it receives 56.
    //   without b:  nothing can trade: 0 → b's utility 104, received (cost 0).
    // Surplus = 42 + 18 − 56 − 56 − 104 = −156 (VCG's deficit).
    let s = truthful(&market(MARKET_A), &Vcg);
    expect(
        &s,
        &[
            ("u1", 10.0, 42.0, 0.0, 58.0),
            ("u2", 6.0, 18.0, 0.0, 18.0),
            ("b", 16.0, 0.0, 104.0, 104.0),
            ("p1", 8.0, 0.0, 56.0, 48.0),
            ("p2", 8.0, 0.0, 56.0, 32.0),
        ],
        104.0,
        -156.0,
    );
}

#[test]
fn lp_prices_on_market_a_are_the_marginal_users_value() {
    // u2 is partly served, so its dual surplus is 0 and the price of a job is its
    // value, 6, at either provider (both are used, so both cost the same to reach).
    // Rents: p2: 6 − 3 = 3 per unit, p1: 6 − 1 = 5 per unit; the broker has no
    // capacity, so no rent and it passes 6 on.
    //   u1 pays 60, utility 100 − 60 = 40; u2 pays 36, utility 0;
    //   b receives 96 and pays 96; p1 receives 48, utility 48 − 8 = 40;
    //   p2 receives 48, utility 48 − 24 = 24. No bandwidth node: surplus 0.
    let s = truthful(&market(MARKET_A), &LpPrices);
    expect(
        &s,
        &[
            ("u1", 10.0, 60.0, 0.0, 40.0),
            ("u2", 6.0, 36.0, 0.0, 0.0),
            ("b", 16.0, 96.0, 96.0, 0.0),
            ("p1", 8.0, 0.0, 48.0, 40.0),
            ("p2", 8.0, 0.0, 48.0, 24.0),
        ],
        104.0,
        0.0,
    );
}

#[test]
fn lp_prices_on_tiny_use_the_hand_worked_duals_of_tiny_md() {
    // tiny.md §5: y(p1) = 3, y(u1->b1) = 16, y(b1->b2) = 2, all other 0; P3 serves
    // u1 5 (via p1), u2 13 (5 via p1, 8 via b1→b2→p2), u3 0.
    // Job prices π = cheapest cost + rent to the collection point:
    //   p1 for u1: c·r + r·y = 1 + 3 = 4;  p1 for u2: 2 + 6 = 8;  p2 for u2: 4 + 0 = 4
    //   b2 for u2: c_b2 1 + π(p2) 4 = 5
    //   b1 for u2: min(via p1: 8, via b1->b2: link 1 + rent 2 + π(b2) 5 = 8) = 8
    //   b1 for u1: π(p1) = 4;  u1's link node: rent 16 + 4 = 20.
    // u1 pays 20·5 = 100 (value 100: utility 0); u2 pays 8·13 = 104 (utility 0).
    // b1 receives 5·4 + 13·8 = 124, pays p1 5·4 + 5·8 = 60, b2 8·5 = 40 and the
    //   b1->b2 rent 8·2 = 16: 116; its link cost 8: utility 0 (its rent y = 0).
    // b2 receives 40, pays p2 8·4 = 32, costs 8: utility 0.
    // p1 receives 60, costs 5 + 10 = 15: utility 45 = 3·15. p2: 32 − 32 = 0.
    // Surplus = rents 16·5 + 2·8 = 96; W = 141 = 45 + 96.
    let truth = common::bundled("tiny.json");
    let s = truthful(&truth, &LpPrices);
    expect(
        &s,
        &[
            ("u1", 5.0, 100.0, 0.0, 0.0),
            ("u2", 13.0, 104.0, 0.0, 0.0),
            ("u3", 0.0, 0.0, 0.0, 0.0),
            ("b1", 18.0, 116.0, 124.0, 0.0),
            ("b2", 8.0, 32.0, 40.0, 0.0),
            ("p1", 10.0, 0.0, 60.0, 45.0),
            ("p2", 8.0, 0.0, 32.0, 0.0),
        ],
        141.0,
        96.0,
    );
}

#[test]
fn vcg_on_tiny_by_hand() {
    // tiny.md: W* = 141 = 19x + 6y + 2z − w at x = 5, y = 5, z = 8, w = 0.
    // Re-solves by hand with the routes of tiny.md §3:
    //   without u1 (x = 0): max 6y + 2z − w, 2y ≤ 15, y + z ≤ 25, z ≤ 8, 2z + w ≤ 19,
    //     z + w ≤ 15: y = 7.5, z = 8 (u2 ≤ 20: 15.5 ≤ 20), w = 0 → 45 + 16 = 61.
    //     u1's utility 141 − 61 = 80; value 20·5 = 100 → pays 20.
    //   without u2: 19x, x ≤ 5 → 95; u2's utility 141 − 95 = 46; value 8·13 = 104
    //     minus its costs 0 (its link is free) → pays 104 − 46 = 58.
    //   without b1: only u3 via b2 at a loss (2 − 3 < 0): 0 → b1's utility 141; its
    //     own value: link cost b1->b2 1·8 = −8 → receives 149.
    //   without b2: z = w = 0: 19x + 6y, x ≤ 5, x + 2y ≤ 15 → x = 5, y = 5: 125 →
    //     b2's utility 16; its value −c_b2·8 = −8 → receives 24.
    //   without p1: x = y = 0 (u1 only at p1): 2z − w, z ≤ 8 → 16 → p1's utility
    //     125; its value −15 → receives 140.
    //   without p2: z = w = 0 → 125 → p2's utility 16; value −32 → receives 48.
    // Surplus = 20 + 58 − 149 − 24 − 140 − 48 = −283.
    let truth = common::bundled("tiny.json");
    let s = truthful(&truth, &Vcg);
    expect(
        &s,
        &[
            ("u1", 5.0, 20.0, 0.0, 80.0),
            ("u2", 13.0, 58.0, 0.0, 46.0),
            ("u3", 0.0, 0.0, 0.0, 0.0),
            ("b1", 18.0, 0.0, 149.0, 141.0),
            ("b2", 8.0, 0.0, 24.0, 16.0),
            ("p1", 10.0, 0.0, 140.0, 125.0),
            ("p2", 8.0, 0.0, 48.0, 16.0),
        ],
        141.0,
        -283.0,
    );
}

/// A one-broker market with unit traders: users u1..u4 (d = 1, r = 1) with the given
/// valuations, providers p1..p4 (1 unit each) with the given costs; nothing else
/// costs anything.
fn unit_market(values: &[f64], costs: &[f64]) -> ValidMarket {
    let users: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                r#"{{"id": "u{}", "demand": 1, "requirement": 1, "valuation": {v}}}"#,
                i + 1
            )
        })
        .collect();
    let providers: Vec<String> = costs
        .iter()
        .enumerate()
        .map(|(i, c)| format!(r#"{{"id": "p{}", "capacity": 1, "cost": {c}}}"#, i + 1))
        .collect();
    let mut links: Vec<String> = (1..=values.len())
        .map(|i| format!(r#"{{"from": "u{i}", "to": "b"}}"#))
        .collect();
    links.extend((1..=costs.len()).map(|i| format!(r#"{{"from": "b", "to": "p{i}"}}"#)));
    market(&format!(
        r#"{{"name": "unit", "users": [{}], "brokers": [{{"id": "b"}}], "providers": [{}], "links": [{}]}}"#,
        users.join(","),
        providers.join(","),
        links.join(",")
    ))
}

#[test]
fn mcafee_with_unit_traders_clears_at_p0_when_it_fits() {
    // McAfee (1992): bids 9 ≥ 7 ≥ 5 ≥ 2, asks 1 ≤ 3 ≤ 4 ≤ 6; k = 3 (5 ≥ 4, 2 < 6).
    // p0 = (b4 + s4)/2 = (2 + 6)/2 = 4 and s3 = 4 ≤ 4 ≤ 5 = b3: all three pairs trade
    // at 4. Buyers' utilities 9−4, 7−4, 5−4 = 5, 3, 1; sellers' 4−1, 4−3, 4−4 = 3, 1, 0.
    // W = 9 + 7 + 5 − 1 − 3 − 4 = 13; surplus 0.
    let s = truthful(
        &unit_market(&[9.0, 7.0, 5.0, 2.0], &[1.0, 3.0, 4.0, 6.0]),
        &Mcafee,
    );
    expect(
        &s,
        &[
            ("u1", 1.0, 4.0, 0.0, 5.0),
            ("u2", 1.0, 4.0, 0.0, 3.0),
            ("u3", 1.0, 4.0, 0.0, 1.0),
            ("u4", 0.0, 0.0, 0.0, 0.0),
            ("b", 3.0, 0.0, 0.0, 0.0),
            ("p1", 1.0, 0.0, 4.0, 3.0),
            ("p2", 1.0, 0.0, 4.0, 1.0),
            ("p3", 1.0, 0.0, 4.0, 0.0),
            ("p4", 0.0, 0.0, 0.0, 0.0),
        ],
        13.0,
        0.0,
    );
}

#[test]
fn mcafee_with_unit_traders_reduces_one_trade_when_p0_does_not_fit() {
    // Bids 9, 7, 4.25, 3; asks 1, 3, 4, 6: k = 3 (4.25 ≥ 4), p0 = (3 + 6)/2 = 4.5 >
    // b3 = 4.25, so trade reduction: u3 and p3 drop out; u1, u2 pay b3 = 4.25, p1, p2
    // receive s3 = 4. Utilities 9 − 4.25 = 4.75, 7 − 4.25 = 2.75, 4 − 1 = 3, 4 − 3 = 1.
    // W = 9 + 7 − 1 − 3 = 12; surplus 2·(4.25 − 4) = 0.5.
    let s = truthful(
        &unit_market(&[9.0, 7.0, 4.25, 3.0], &[1.0, 3.0, 4.0, 6.0]),
        &Mcafee,
    );
    expect(
        &s,
        &[
            ("u1", 1.0, 4.25, 0.0, 4.75),
            ("u2", 1.0, 4.25, 0.0, 2.75),
            ("u3", 0.0, 0.0, 0.0, 0.0),
            ("u4", 0.0, 0.0, 0.0, 0.0),
            ("p1", 1.0, 0.0, 4.0, 3.0),
            ("p2", 1.0, 0.0, 4.0, 1.0),
            ("p3", 0.0, 0.0, 0.0, 0.0),
            ("p4", 0.0, 0.0, 0.0, 0.0),
        ],
        12.0,
        0.5,
    );
}

/// Divisible quantities: u1 d=4 v=10, u2 d=3 v=6, u3 d=2 v=2 (r = 1); p1 3 units at 1,
/// p2 3 units at 4, p3 5 units at `p3_cost`. P3: 6 units worth using (p3's cost ≥ 7
/// is above every value), u1 gets 4, u2 the remaining 2, u3 (2 < 4) nothing:
/// W = 40 + 12 − 3 − 12 = 37.
fn divisible(p3_cost: f64) -> ValidMarket {
    market(&format!(
        r#"{{"name": "divisible",
  "users": [{{"id": "u1", "demand": 4, "requirement": 1, "valuation": 10}},
            {{"id": "u2", "demand": 3, "requirement": 1, "valuation": 6}},
            {{"id": "u3", "demand": 2, "requirement": 1, "valuation": 2}}],
  "brokers": [{{"id": "b"}}],
  "providers": [{{"id": "p1", "capacity": 3, "cost": 1}}, {{"id": "p2", "capacity": 3, "cost": 4}},
                {{"id": "p3", "capacity": 5, "cost": {p3_cost}}}],
  "links": [{{"from": "u1", "to": "b"}}, {{"from": "u2", "to": "b"}}, {{"from": "u3", "to": "b"}},
            {{"from": "b", "to": "p1"}}, {{"from": "b", "to": "p2"}}, {{"from": "b", "to": "p3"}}]}}"#
    ))
}

#[test]
fn mcafee_divisible_clears_everyone_at_p0() {
    // Book: buyers u1 (4 jobs, bid 10), u2 (2 jobs, bid 6); sellers p1 (3 units, ask
    // 1), p2 (3 units, ask 4). Next bid u3 = 2, next ask p3 = 7: p0 = 4.5, and
    // 4 ≤ 4.5 ≤ 6, so all trade at 4.5: u1 pays 18 (utility 40 − 18 = 22), u2 pays 9
    // (12 − 9 = 3), p1 gets 13.5 (13.5 − 3 = 10.5), p2 13.5 (13.5 − 12 = 1.5).
    // W = 37, surplus 0.
    let s = truthful(&divisible(7.0), &Mcafee);
    expect(
        &s,
        &[
            ("u1", 4.0, 18.0, 0.0, 22.0),
            ("u2", 2.0, 9.0, 0.0, 3.0),
            ("u3", 0.0, 0.0, 0.0, 0.0),
            ("p1", 3.0, 0.0, 13.5, 10.5),
            ("p2", 3.0, 0.0, 13.5, 1.5),
            ("p3", 0.0, 0.0, 0.0, 0.0),
        ],
        37.0,
        0.0,
    );
}

#[test]
fn mcafee_divisible_trade_reduction_rematches_the_rest() {
    // Next ask p3 = 11: p0 = (2 + 11)/2 = 6.5 > 6 = lowest bid → trade reduction:
    // drop u2 (bid 6) and p2 (ask 4), 6 ≥ 4. Left: u1 (4 jobs) and p1 (3 units):
    // re-matched, u1 trades 3 jobs, paying 6 per unit (18, utility 30 − 18 = 12); p1
    // gets 4 per unit (12, utility 12 − 3 = 9). W = 30 − 3 = 27, surplus 18 − 12 = 6.
    let s = truthful(&divisible(11.0), &Mcafee);
    expect(
        &s,
        &[
            ("u1", 3.0, 18.0, 0.0, 12.0),
            ("u2", 0.0, 0.0, 0.0, 0.0),
            ("p1", 3.0, 0.0, 12.0, 9.0),
            ("p2", 0.0, 0.0, 0.0, 0.0),
        ],
        27.0,
        6.0,
    );
}

#[test]
fn mcafee_rule_in_textbook_form() {
    // McAfee's own example shape: 3 buyers, 3 sellers, one pair extra-marginal.
    // Bids 10, 8, 3 (lowest first: 3, 8, 10), asks 2, 5, 9 (highest first 9, 5, 2),
    // non-traders: none → trade reduction; the dropped pair (3, 9) has b < s, so the
    // next pair (8, 5) is dropped too; buyer 10 and seller 2 trade at 8 and 5.
    let e = |who, price| Entry { who, price };
    let c = clear(
        &[e(0, 10.0), e(1, 8.0), e(2, 3.0)],
        &[e(10, 2.0), e(11, 5.0), e(12, 9.0)],
        None,
        None,
    );
    assert_eq!(c.buyers, vec![0]);
    assert_eq!(c.sellers, vec![10]);
    assert_eq!((c.buyer_price, c.seller_price), (8.0, 5.0));
}

/// One user procuring 10 jobs (r = 2, v as given) through broker b (0.5 per job) from
/// three unlimited providers: p1 at 1 per unit over a link costing 0.1, p2 at 1.2,
/// p3 at 2; the user's own link costs 0.2 per job.
/// P3 per-job costs: via p1 0.2 + 0.5 + 0.1 + 2 = 2.8, via p2 3.1, via p3 4.7: all 10
/// go to p1 as long as v ≥ 2.8.
fn procurement(v: f64) -> ValidMarket {
    market(&format!(
        r#"{{"name": "procurement",
  "users": [{{"id": "u", "demand": 10, "requirement": 2, "valuation": {v}}}],
  "brokers": [{{"id": "b", "cost": 0.5}}],
  "providers": [{{"id": "p1", "cost": 1}}, {{"id": "p2", "cost": 1.2}}, {{"id": "p3", "cost": 2}}],
  "links": [{{"from": "u", "to": "b", "cost": 0.2}}, {{"from": "b", "to": "p1", "cost": 0.1}},
            {{"from": "b", "to": "p2"}}, {{"from": "b", "to": "p3"}}]}}"#
    ))
}

#[test]
fn vickrey_winner_is_paid_the_second_score() {
    // One lot: 10 jobs, 20 units. Scores = ask + transport from b:
    //   p1: 1·20 + 10·(0.1 + 0.5) = 26;  p2: 1.2·20 + 10·0.5 = 29;  p3: 40 + 5 = 45.
    // Reserve = 5·10 − upstream 10·0.2 = 48. p1 wins, paid 29 − its transport 6 = 23
    // (utility 23 − 20 = 3). The user pays 23 + reimburses b 6: 29; utility
    // 50 − 2 − 29 = 19. b: receives 6, costs 5 + 1: utility 0. W = 50 − 28 = 22.
    let s = truthful(&procurement(5.0), &Vickrey);
    expect(
        &s,
        &[
            ("u", 10.0, 29.0, 0.0, 19.0),
            ("b", 10.0, 0.0, 6.0, 0.0),
            ("p1", 10.0, 0.0, 23.0, 3.0),
            ("p2", 0.0, 0.0, 0.0, 0.0),
        ],
        22.0,
        0.0,
    );
}

#[test]
fn vickrey_reserve_caps_the_price() {
    // v = 2.9: reserve = 29 − 2 = 27 < second score 29, so p1 is paid 27 − 6 = 21
    // (utility 1); the user pays 21 + 6 = 27, utility 29 − 2 − 27 = 0. W = 29 − 28 = 1.
    let s = truthful(&procurement(2.9), &Vickrey);
    expect(
        &s,
        &[("u", 10.0, 27.0, 0.0, 0.0), ("p1", 10.0, 0.0, 21.0, 1.0)],
        1.0,
        0.0,
    );
    // The rule itself: lowest wins, paid the second, capped by the reserve.
    assert_eq!(
        second_price(&[(0, 5.0), (1, 3.0), (2, 4.0)], 10.0),
        Some((1, 4.0))
    );
    assert_eq!(second_price(&[(0, 5.0), (1, 3.0)], 4.5), Some((1, 4.5)));
    assert_eq!(second_price(&[(0, 5.0)], 4.0), None);
}

/// One user u (d = 10, r = 1, v = 10) reaching two broker markets over links of
/// bandwidth 5 each, so P3 splits it into two lots ([NOMAD] §2.2): lot A = 5 jobs
/// at b1, lot B = 5 jobs at b2. p1 (cost 2) is linked from b1 only, p2 (cost 3) from
/// b2 only, p3 (cost 4, capacity as given) from both, b2→p3 costing 0.2 per job.
/// P3 per-job net values: via p1 10 − 2 = 8, via p2 7, via p3 6 or 5.8: A → p1,
/// B → p2, all 10 served. No upstream costs, so the reserves are A = B = 10·5 = 50.
/// Single-lot scores: A: p1 2·5 = 10, p3 4·5 = 20; B: p2 3·5 = 15, p3 20 + 5·0.2 = 21.
/// Best single-lot cover: A → p1, B → p2, surplus (50 − 10) + (50 − 15) = 75.
fn two_lots(p3_capacity: Option<f64>) -> ValidMarket {
    let cap = p3_capacity.map_or(String::new(), |c| format!(r#", "capacity": {c}"#));
    market(&format!(
        r#"{{"name": "two-lots",
  "users": [{{"id": "u", "demand": 10, "requirement": 1, "valuation": 10}}],
  "brokers": [{{"id": "b1"}}, {{"id": "b2"}}],
  "providers": [{{"id": "p1", "cost": 2}}, {{"id": "p2", "cost": 3}}, {{"id": "p3", "cost": 4{cap}}}],
  "links": [{{"from": "u", "to": "b1", "bandwidth": 5}}, {{"from": "u", "to": "b2", "bandwidth": 5}},
            {{"from": "b1", "to": "p1"}}, {{"from": "b2", "to": "p2"}},
            {{"from": "b1", "to": "p3"}}, {{"from": "b2", "to": "p3", "cost": 0.2}}]}}"#
    ))
}

fn entirety(provider: &str, user: &str, ask: f64) -> Bids {
    Bids {
        entirety: [(
            provider.to_string(),
            [(user.to_string(), ask)].into_iter().collect(),
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

#[test]
fn vickrey_entirety_bid_below_the_best_single_lots_wins_and_is_paid_by_gva() {
    // p3 declares an entirety ask of 20 for both lots (its single asks stay 20 + 20:
    // it claims a saving from combining). Entirety score = 20 + transport 5·0.2 = 21;
    // surplus 100 − 21 = 79 > 75, so p3 takes both lots (no other provider reaches
    // both markets, so there is no other entirety bid).
    // GVA: without p3 the best cover is A → p1, B → p2, surplus 75, so p3 is paid
    // 21 + (79 − 75) = 25 = the cost of the best cover without it, minus its
    // transport 1: receives 24. The user pays p3 24 and b2 the link cost 1: 25;
    // utility 100 − 25 = 75. b2 receives 1 and bears the link cost 1: utility 0.
    // p3's true cost is linear, 4·10 = 40: utility 24 − 40 = −16 (the saving it
    // declared does not exist in the market file). W = 100 − 40 − 1 = 59, surplus 0.
    let s = run(&two_lots(None), &entirety("p3", "u", 20.0), &Vickrey).unwrap();
    expect(
        &s,
        &[
            ("u", 10.0, 25.0, 0.0, 75.0),
            ("b1", 5.0, 0.0, 0.0, 0.0),
            ("b2", 5.0, 0.0, 1.0, 0.0),
            ("p1", 0.0, 0.0, 0.0, 0.0),
            ("p2", 0.0, 0.0, 0.0, 0.0),
            ("p3", 10.0, 0.0, 24.0, -16.0),
        ],
        59.0,
        0.0,
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("1 auctions won by an entirety bid")),
        "{:?}",
        s.notes
    );
}

#[test]
fn vickrey_entirety_bid_that_loses_still_sets_the_single_lot_prices() {
    // Truthful (no entirety entries): p3's entirety ask defaults to 4·10 = 40, score
    // 41, surplus 59 < 75: the single lots win, A → p1, B → p2, surplus 75.
    //   Without p1: singles A → p3 (30) + B → p2 (35) = 65; entirety 59 → 65:
    //   p1 paid 10 + 75 − 65 = 20 = the second price on A.
    //   Without p2: singles A → p1 (40) + B → p3 (29) = 69; entirety 59 → 69:
    //   p2 paid 15 + 75 − 69 = 21 = the second price on B.
    // u pays 41, utility 100 − 41 = 59; p1 20 − 10 = 10; p2 21 − 15 = 6. W = 75.
    let truth = two_lots(None);
    let s = truthful(&truth, &Vickrey);
    expect(
        &s,
        &[
            ("u", 10.0, 41.0, 0.0, 59.0),
            ("p1", 5.0, 0.0, 20.0, 10.0),
            ("p2", 5.0, 0.0, 21.0, 6.0),
            ("p3", 0.0, 0.0, 0.0, 0.0),
        ],
        75.0,
        0.0,
    );
    // p3 declares 30: score 31, surplus 69 < 75: it loses, but it is now the
    // alternative without p1: max(65, 69) = 69, so p1 is paid 10 + 75 − 69 = 16
    // (utility 6); without p2: max(69, 69) = 69, p2 paid 15 + 6 = 21 (utility 6).
    // u pays 37, utility 63; p3 0. W = 75.
    let s = run(&truth, &entirety("p3", "u", 30.0), &Vickrey).unwrap();
    expect(
        &s,
        &[
            ("u", 10.0, 37.0, 0.0, 63.0),
            ("p1", 5.0, 0.0, 16.0, 6.0),
            ("p2", 5.0, 0.0, 21.0, 6.0),
            ("p3", 0.0, 0.0, 0.0, 0.0),
        ],
        75.0,
        0.0,
    );
}

#[test]
fn vickrey_entirety_bidder_that_cannot_take_every_lot_is_not_eligible() {
    // p3 with capacity 7 can take either lot (5 units) but not both (10): its
    // entirety ask of 20, which would win with unlimited capacity, makes no bid. p1
    // asks 1 for the entirety but b2 does not link to it: no bid either. So the
    // statement is the truthful one of the previous test (p1 paid the second price
    // 20, p2 21), and a note names both ignored asks.
    let mut bids = entirety("p3", "u", 20.0);
    bids.entirety
        .insert("p1".to_string(), [("u".to_string(), 1.0)].into());
    let s = run(&two_lots(Some(7.0)), &bids, &Vickrey).unwrap();
    expect(
        &s,
        &[
            ("u", 10.0, 41.0, 0.0, 59.0),
            ("p1", 5.0, 0.0, 20.0, 10.0),
            ("p2", 5.0, 0.0, 21.0, 6.0),
            ("p3", 0.0, 0.0, 0.0, 0.0),
        ],
        75.0,
        0.0,
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("entirety asks without a bid")
                && n.contains("p1 for u")
                && n.contains("p3 for u")),
        "{:?}",
        s.notes
    );
}

#[test]
fn vickrey_cover_search_respects_capacity_inside_one_auction() {
    // Two lots of 1 unit, reserves 10. Bidder 0 asks 1 for A and 2 for B but has
    // capacity for one lot; bidder 1 asks 3 and 6 (unlimited).
    //   Covers: A→0, B→1: surplus 9 + 4 = 13; A→1, B→0: 7 + 8 = 15 (best; taking
    //   lots greedily in order would have stopped at 13).
    //   Without 0: A→1, B→1: 7 + 4 = 11, so 0 is paid 2 + 15 − 11 = 6.
    //   Without 1: 0 takes its better lot, A: 9, so 1 is paid 3 + 15 − 9 = 9.
    let auction = Auction {
        lots: vec![
            Lot {
                reserve: 10.0,
                size: 1.0,
                bids: vec![(0, 1.0), (1, 3.0)],
            },
            Lot {
                reserve: 10.0,
                size: 1.0,
                bids: vec![(0, 2.0), (1, 6.0)],
            },
        ],
        entirety: Vec::new(),
        capacity: [(0, 1.0)].into(),
    };
    let out = auction.run();
    assert_eq!(out.cover, Cover::Lots(vec![Some(1), Some(0)]));
    close(out.surplus, 15.0, "surplus");
    close(out.paid[&0], 6.0, "bidder 0 paid");
    close(out.paid[&1], 9.0, "bidder 1 paid");
    assert!(out.exact);
}

/// One user through one broker to one provider of 6 units, with posted prices
/// b: 5, p: 3 per job. Per-job costs: link u→b 0.1, broker 0.5, provider 2.
fn posted_market(v: f64) -> ValidMarket {
    market(&format!(
        r#"{{"name": "posted",
  "users": [{{"id": "u", "demand": 10, "requirement": 1, "valuation": {v}}}],
  "brokers": [{{"id": "b", "cost": 0.5}}],
  "providers": [{{"id": "p", "capacity": 6, "cost": 2}}],
  "links": [{{"from": "u", "to": "b", "cost": 0.1}}, {{"from": "b", "to": "p"}}],
  "prices": {{"broker": {{"b": {{"u": 5}}}}, "provider": {{"p": {{"u": 3}}}}}}}}"#
    ))
}

#[test]
fn posted_prices_by_hand_and_a_profitable_misreport() {
    // v = 10: P3 serves 6 (p's capacity), W = 6·(10 − 0.1 − 0.5 − 2) = 44.4.
    // u pays b 5·6 = 30 (utility 60 − 0.6 − 30 = 29.4); b pays p 3·6 = 18 (utility
    // 30 − 18 − 3 = 9); p: 18 − 12 = 6. Surplus 0.
    let s = truthful(&posted_market(10.0), &Posted);
    expect(
        &s,
        &[
            ("u", 6.0, 30.0, 0.0, 29.4),
            ("b", 6.0, 18.0, 30.0, 9.0),
            ("p", 6.0, 0.0, 18.0, 6.0),
        ],
        44.4,
        0.0,
    );
    // v = 4: P3 still serves 6 (4 > 2.6 per job), but the user pays 5 per job:
    // utility 24 − 0.6 − 30 = −6.6 — posted prices are not individually rational.
    // Declaring 2 (< 2.6) makes P3 drop it: utility 0 > −6.6, a profitable misreport.
    let truth = posted_market(4.0);
    let honest = truthful(&truth, &Posted);
    close(
        honest.line("u").unwrap().utility,
        -6.6,
        "u utility at v = 4",
    );
    let lie = Bids {
        valuations: [("u".to_string(), 2.0)].into(),
        ..Default::default()
    };
    let s = run(&truth, &lie, &Posted).unwrap();
    close(
        s.line("u").unwrap().utility,
        0.0,
        "u utility when declaring 2",
    );
    close(
        s.line("u").unwrap().volume,
        0.0,
        "u volume when declaring 2",
    );
}

#[test]
fn posted_example_by_hand() {
    // graphs/markets/posted.json: u1 (d 4, v 10, only p1), u2 (d 4, v 6), broker b
    // (0.5 per job), p1 (6 units at 1), p2 (10 units at 2), r = 1, links free.
    // P3 per-job net values: u1 via p1 10 − 0.5 − 1 = 8.5 (p2 not eligible); u2 via
    // p1 4.5, via p2 3.5. p1's 6 units go to u1's 4 jobs first (u1 has no
    // alternative), then 2 of u2's; u2's other 2 go to p2:
    // W = 4·8.5 + 2·4.5 + 2·3.5 = 50.
    // Posted prices per job: b charges u1 3, u2 2; p1 charges u1 2, u2 1.5; p2
    // charges u2 2.5.
    //   u1 pays b 3·4 = 12, utility 40 − 12 = 28; u2 pays b 2·4 = 8, utility 24 − 8 = 16.
    //   b receives 20, pays p1 2·4 + 1.5·2 = 11 and p2 2.5·2 = 5 (16), costs
    //   0.5·8 = 4: utility 0. p1: 11 − 6 = 5. p2: 5 − 4 = 1. Surplus 0; Σ = 50 = W.
    let s = truthful(&brokerflow_graphs::examples::posted(), &Posted);
    expect(
        &s,
        &[
            ("u1", 4.0, 12.0, 0.0, 28.0),
            ("u2", 4.0, 8.0, 0.0, 16.0),
            ("b", 8.0, 16.0, 20.0, 0.0),
            ("p1", 6.0, 0.0, 11.0, 5.0),
            ("p2", 2.0, 0.0, 5.0, 1.0),
        ],
        50.0,
        0.0,
    );
}

#[test]
fn refusals_are_typed_and_clear() {
    let a = market(MARKET_A);
    // No posted prices.
    let e = run(&a, &Bids::default(), &Posted).unwrap_err();
    assert!(matches!(e, SettleError::NoPostedPrices), "{e}");
    let e = Bids::from_json_str(r#"{"valuation": {}}"#, "bids.json").unwrap_err();
    assert!(e.to_string().contains("bids.json"), "{e}");
    // VCG refuses an allocation that is not P3's.
    let g = ExpandedGraph::new(&a);
    let mut alloc = Allocation::lp(&g, Backend::DEFAULT).unwrap();
    alloc.source = AllocationSource::Engine(Variant::Fair);
    let e = settle(&a, &a, &alloc, &Vcg, &SettleOptions::default()).unwrap_err();
    assert!(matches!(e, SettleError::VcgNeedsOptimum(_)), "{e}");
    assert!(e.to_string().contains("--allocation lp"), "{e}");
}

/// Bids `text` on market A are refused when applied, the message containing `needle`
/// (unknown participant, wrong role, bad amount).
fn bids_refused(text: &str, needle: &str) {
    let a = market(MARKET_A);
    let bids = Bids::from_json_str(text, "bids.json").unwrap();
    let e = bids.apply(&a).unwrap_err();
    assert!(e.to_string().contains(needle), "{text}: {e}");
}

#[test]
fn bids_refuse_an_unknown_participant() {
    bids_refused(r#"{"valuations": {"zz": 1}}"#, "unknown participant");
}

#[test]
fn bids_refuse_a_provider_valuation() {
    bids_refused(r#"{"valuations": {"p1": 1}}"#, "is a provider");
}

#[test]
fn bids_refuse_a_user_cost() {
    bids_refused(r#"{"costs": {"u1": 1}}"#, "is a user");
}

#[test]
fn bids_refuse_a_negative_cost() {
    bids_refused(r#"{"costs": {"p1": -1}}"#, "finite and >= 0");
}

#[test]
fn bids_refuse_an_unknown_entirety_bidder() {
    bids_refused(r#"{"entirety": {"zz": {"u1": 1}}}"#, "unknown participant");
}

#[test]
fn bids_refuse_an_entirety_bid_of_a_user() {
    bids_refused(
        r#"{"entirety": {"u1": {"u2": 1}}}"#,
        "only providers make entirety bids",
    );
}

#[test]
fn bids_refuse_an_entirety_ask_for_an_unknown_user() {
    bids_refused(r#"{"entirety": {"p1": {"zz": 1}}}"#, "no user has this id");
}

#[test]
fn bids_refuse_an_entirety_ask_for_a_provider() {
    bids_refused(
        r#"{"entirety": {"p1": {"p2": 1}}}"#,
        "entirety asks are per user",
    );
}

#[test]
fn bids_refuse_a_negative_entirety_ask() {
    bids_refused(r#"{"entirety": {"p1": {"u1": -1}}}"#, "finite and >= 0");
}

/// Entirety asks `text` that do not parse: typed, naming `entirety`.
fn entirety_unreadable(text: &str) {
    let e = Bids::from_json_str(text, "bids.json").unwrap_err();
    assert!(matches!(e, SettleError::Bids { .. }), "{text}: {e}");
    assert!(e.to_string().contains("entirety"), "{text}: {e}");
}

/// A number where a per-user map belongs.
#[test]
fn entirety_asks_refuse_a_number_for_a_map() {
    entirety_unreadable(r#"{"entirety": {"p1": 3}}"#);
}

/// An unknown field beside the entirety asks.
#[test]
fn entirety_asks_refuse_an_unknown_field() {
    entirety_unreadable(r#"{"entirety": {"p1": {"u1": 3}}, "bundles": {}}"#);
}

#[test]
fn lp_prices_on_a_non_lp_allocation_say_they_do_not_clear_it() {
    // An engine-like allocation: P3's flow halved (feasible, not optimal). The
    // prices are P3's (u1 and u2 pay 6 per job, as in market A) and the statement
    // says they do not clear it: u2 now pays 6·3 = 18 for value 18, p2 gets 6·4 = 24
    // for cost 12.
    let a = market(MARKET_A);
    let g = ExpandedGraph::new(&a);
    let mut alloc = Allocation::lp(&g, Backend::DEFAULT).unwrap();
    for xs in &mut alloc.flow.x {
        xs.iter_mut().for_each(|x| *x /= 2.0);
    }
    alloc.source = AllocationSource::Engine(Variant::Fair);
    let s = settle(&a, &a, &alloc, &LpPrices, &SettleOptions::default()).unwrap();
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("do not clear the 'fair' allocation")),
        "{:?}",
        s.notes
    );
    close(s.line("u1").unwrap().pays, 30.0, "u1 pays 6·5");
    close(s.line("u2").unwrap().pays, 18.0, "u2 pays 6·3");
    close(s.welfare, 52.0, "half of W* = 104");
}
