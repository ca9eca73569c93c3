//! The optimality certificate and the conditioning of the LPs (design §4): every
//! reported optimum is proven by resource prices, a demand the network cannot carry is
//! capped, and no backend reports a wrong number.
//!
//! Expected values are worked by hand in graphs/markets/tiny.md: P1 δ* = 0.5,
//! P2 W = 130, P2⁻ W = 122, P3 W = 141 (u1 5 jobs, u2 13, u3 none).

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{examples, ExpandedGraph, ValidMarket};
use brokerflow_solvers::certificate::{certify, Claim};
use brokerflow_solvers::lp::{self, Backend, LpError, LpOptions, Objective};
use proptest::prelude::*;

fn options(backend: Backend) -> LpOptions {
    LpOptions {
        backend,
        prices: true,
    }
}

fn tiny_with_u1_demand(demand: f64) -> ExpandedGraph {
    let mut m = examples::tiny().into_market();
    m.users[0].demand = demand;
    ExpandedGraph::new(&m.validate().unwrap())
}

#[test]
fn p3_of_tiny_is_141_at_every_large_demand_of_u1_on_every_backend() {
    // u1 fits only 5 jobs through its link u1->b1 (bandwidth 5), whatever it asks for.
    for demand in [10.0, 1e6, 1e8, 1e10, 1e12, 1e15, 1e300] {
        let g = tiny_with_u1_demand(demand);
        for backend in Backend::available() {
            let s = lp::max_welfare(&g, &options(backend))
                .unwrap_or_else(|e| panic!("{backend} at d = {demand:e}: {e}"));
            let w = s.welfare(&g).unwrap();
            assert!(
                (w - 141.0).abs() < 1e-6,
                "{backend} at d = {demand:e}: W = {w}"
            );
            let served = s.served(&g).unwrap();
            assert!(
                (served[0] - 5.0).abs() < 1e-6,
                "{backend}: u1 served {}",
                served[0]
            );
            let c = s.certificate.expect("P3 is certified");
            assert!(
                c.ok() && (c.bound - 141.0).abs() < 1e-4,
                "{backend}: {}",
                c.summary()
            );
            // The link u1->b1 keeps its hand price 16: capping did not move it onto u1.
            let link = g.node_named("u1->b1").unwrap();
            let price = s.prices.as_ref().unwrap()[link.index()];
            assert!(
                (price - 16.0).abs() < 1e-5,
                "{backend} at {demand:e}: price {price}"
            );
        }
    }
}

#[test]
fn demand_caps_are_twice_the_max_flow_worked_by_hand() {
    let mut m = examples::tiny().into_market();
    m.users[0].demand = 1e10;
    m.users[1].demand = 1e10;
    let g = ExpandedGraph::new(&m.validate().unwrap());
    let caps = lp::demand_caps(&g);
    // u1: one link of bandwidth 5. u2 (r = 2): b1 → p1 carries 15/2 = 7.5, b1 → b2
    // (bandwidth 8) → p2 (19/2 = 9.5, link 15) carries 8: 15.5 in all. u3 keeps its 10.
    assert_eq!(caps, vec![10.0, 31.0, 10.0]);
    // Demands the network can carry are not touched.
    let g = ExpandedGraph::new(&examples::tiny());
    assert_eq!(lp::demand_caps(&g), vec![10.0, 20.0, 10.0]);
}

#[test]
fn zero_prices_prove_the_bound_worked_by_hand() {
    // With π = 0 the P3 bound is Σ_k d̄_k·max(0, v_k − cheapest path cost):
    // u1: 10 × (20 − 1) = 190; u2: 20 × (8 − 1·2) = 120; u3: 2 − (1 + 2) < 0 → 0.
    let g = ExpandedGraph::new(&examples::tiny());
    let p3 = lp::max_welfare(&g, &options(Backend::Microlp)).unwrap();
    let zero = vec![0.0; g.graph.node_count()];
    let caps = lp::demand_caps(&g);
    let c = certify(
        &g,
        p3.flow.as_ref().unwrap(),
        &zero,
        Claim::Welfare { caps: &caps },
    )
    .unwrap();
    assert!((c.bound - 310.0).abs() < 1e-9, "{}", c.summary());
    assert!(!c.ok());
}

#[test]
fn the_1e10_answer_of_46_is_rejected_by_any_prices() {
    // The answer microlp used to give at u1's demand 1e10: the optimum without u1's
    // 5 jobs (margin 20 − 1 = 19 each, 141 − 95 = 46). Feasible, not optimal.
    let g = tiny_with_u1_demand(1e10);
    let p3 = lp::max_welfare(&g, &options(Backend::Microlp)).unwrap();
    let mut wrong = p3.flow.clone().unwrap();
    wrong.x[0].iter_mut().for_each(|x| *x = 0.0);
    assert!((wrong.welfare(&g) - 46.0).abs() < 1e-9);
    let caps = lp::demand_caps(&g);
    let claim = Claim::Welfare { caps: &caps };
    let optimal_prices = p3.prices.clone().unwrap();
    let zero = vec![0.0; g.graph.node_count()];
    let doubled: Vec<f64> = optimal_prices.iter().map(|p| 2.0 * p).collect();
    for prices in [&optimal_prices, &zero, &doubled] {
        let c = certify(&g, &wrong, prices, claim).unwrap();
        assert!(!c.ok(), "{}", c.summary());
        assert!(c.bound >= 141.0 - 1e-6, "weak duality: {}", c.summary());
    }
}

#[test]
fn a_corrupted_optimum_fails_the_certificate() {
    // Take one job of u2 off its route (still feasible), and separately corrupt one
    // price: both must fail.
    let g = ExpandedGraph::new(&examples::tiny());
    let p3 = lp::max_welfare(&g, &options(Backend::Microlp)).unwrap();
    let caps = lp::demand_caps(&g);
    let claim = Claim::Welfare { caps: &caps };
    let prices = p3.prices.clone().unwrap();
    let mut less = p3.flow.clone().unwrap();
    let total = less.served(&g, 1);
    less.x[1]
        .iter_mut()
        .for_each(|x| *x *= (total - 1.0) / total);
    let c = certify(&g, &less, &prices, claim).unwrap();
    assert!(!c.ok(), "{}", c.summary());
    let mut bad = prices.clone();
    bad[g.node_named("p1").unwrap().index()] += 5.0;
    let c = certify(&g, p3.flow.as_ref().unwrap(), &bad, claim).unwrap();
    assert!(!c.ok(), "{}", c.summary());
    assert!(certify(&g, p3.flow.as_ref().unwrap(), &prices, claim)
        .unwrap()
        .ok());
}

#[test]
fn every_lp_of_tiny_is_certified_at_its_hand_optimum() {
    let g = ExpandedGraph::new(&examples::tiny());
    for backend in Backend::available() {
        let o = options(backend);
        let p1 = lp::solve(&g, Objective::Concurrent, &o).unwrap();
        let c = p1.certificate.unwrap();
        assert!(
            c.ok() && (c.bound - 0.5).abs() < 1e-6,
            "{backend} P1: {}",
            c.summary()
        );
        for (objective, hand) in [
            (Objective::Utility, 130.0),
            (Objective::WorstUtility, 122.0),
            (Objective::Welfare, 141.0),
        ] {
            let s = lp::solve(&g, objective, &o).unwrap();
            let c = s.certificate.unwrap();
            assert!(c.ok(), "{backend} {objective:?}: {}", c.summary());
            assert!(
                (c.bound - hand).abs() < 1e-4,
                "{backend} {objective:?}: {}",
                c.summary()
            );
        }
    }
}

#[test]
fn prices_of_the_wrong_shape_are_refused() {
    let g = ExpandedGraph::new(&examples::tiny());
    let p3 = lp::max_welfare(&g, &options(Backend::Microlp)).unwrap();
    let caps = lp::demand_caps(&g);
    let claim = Claim::Welfare { caps: &caps };
    let flow = p3.flow.as_ref().unwrap();
    assert!(certify(&g, flow, &[1.0], claim).is_err());
    let mut negative = vec![0.0; g.graph.node_count()];
    negative[0] = -1.0;
    assert!(certify(&g, flow, &negative, claim).is_err());
}

fn generated(seed: u64) -> ValidMarket {
    let config = GeneratorConfig {
        users: 3 + (seed % 8) as usize,
        brokers: 2 + (seed % 3) as usize,
        providers: 2 + ((seed / 3) % 3) as usize,
        broker_link_probability: if seed % 3 == 0 { 0.3 } else { 0.0 },
        eligibility: if seed % 2 == 0 { 0.5 } else { 0.0 },
        ..GeneratorConfig::default()
    };
    generate(&config, seed).expect("valid generator config")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Demands scaled by 10^U[0, 12]: every backend's P3 is either certified and equal
    /// to microlp's optimum of the capped problem to 1e-6 relative, or refused with a
    /// message — never a wrong number.
    #[test]
    fn p3_is_certified_or_refused_at_any_demand_scale(
        seed in 0u64..1000,
        exponents in proptest::collection::vec(0.0f64..12.0, 11),
    ) {
        let mut m = generated(seed).into_market();
        for (u, e) in m.users.iter_mut().zip(exponents.iter().cycle()) {
            u.demand *= 10f64.powf(*e);
        }
        let g = ExpandedGraph::new(&m.validate().unwrap());
        let reference = lp::max_welfare(&g, &options(Backend::Microlp));
        for backend in Backend::available() {
            match lp::max_welfare(&g, &options(backend)) {
                Ok(s) => {
                    let c = s.certificate.expect("P3 is certified");
                    prop_assert!(c.ok(), "{}", c.summary());
                    let w = s.welfare(&g).unwrap();
                    if let Ok(r) = &reference {
                        let wr = r.welfare(&g).unwrap();
                        prop_assert!((w - wr).abs() <= 1e-6 * w.abs().max(wr.abs()).max(1.0),
                            "{backend}: {w} vs microlp {wr}");
                    }
                }
                Err(e) => {
                    prop_assert!(matches!(e, LpError::NotOptimal { .. } | LpError::BadlyScaled { .. }
                        | LpError::CheckFailed { .. } | LpError::Backend { .. }
                        | LpError::BackendPanicked { .. } | LpError::Infeasible { .. }),
                        "{backend}: {e}");
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
