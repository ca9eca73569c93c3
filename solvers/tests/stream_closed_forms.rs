//! Closed forms of [Stream-Market] §2.2 and §3.4.5 against hand calculation: the
//! replica count (Eq. 3 corrected), the detection probability of n spot checks, and
//! the supplier's optimal processing probability P* of Eq. 6.

use brokerflow_solvers::stream::commitment::{alpha, commitment, gamma, tested_outputs, verifies};
use brokerflow_solvers::stream::replicas::{
    detection_probability, failure_probability, replica_count, SupplierGame,
};
use sha2::{Digest, Sha256};

#[test]
fn replicas_for_pf_01_and_pb_099_is_two() {
    // 0.1² = 0.01 = 1 − 0.99, so two replicas are exactly enough and one is not
    // (0.1 > 0.01). The paper's Eq. 3, (1 − P(b))/p_f = 0.01/0.1 = 0.1, is below one.
    assert_eq!(replica_count(0.1, 0.99), Some(2));
    assert_eq!(replica_count(0.1, 0.9), Some(1)); // 0.1 ≤ 0.1
    assert_eq!(replica_count(0.1, 0.991), Some(3)); // 0.01 > 0.009 ≥ 0.001
    assert_eq!(replica_count(0.5, 0.9), Some(4)); // 0.5³ = 0.125 > 0.1 ≥ 0.0625
    assert_eq!(replica_count(0.0, 0.999), Some(1)); // a replica that never fails
    assert_eq!(replica_count(1.0, 0.5), None); // one that always fails
}

#[test]
fn replica_count_is_the_least_r_with_pf_to_the_r_at_most_one_minus_pb() {
    for &p_f in &[0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 0.95] {
        for &pb in &[0.5, 0.9, 0.95, 0.99, 0.999, 0.999_999] {
            let r = replica_count(p_f, pb).unwrap() as i32;
            let slack = 1e-12;
            assert!(
                p_f.powi(r) <= 1.0 - pb + slack,
                "p_f {p_f}, P(b) {pb}, r {r}"
            );
            if r > 1 {
                assert!(
                    p_f.powi(r - 1) > 1.0 - pb - slack,
                    "p_f {p_f}, P(b) {pb}, r {r}"
                );
            }
        }
    }
}

#[test]
fn failure_probability_is_one_minus_exp_minus_q_delta() {
    // q = 1/1000 per second over Δ = 600 s: 1 − e^(−0.6) = 0.451188363905973…
    assert!((failure_probability(1e-3, 600.0) - 0.451_188_363_905_973).abs() < 1e-12);
    assert_eq!(failure_probability(0.0, 600.0), 0.0);
    // The q that makes p_f = 0.1 over 600 s: −ln(0.9)/600.
    let q = -(0.9f64).ln() / 600.0;
    assert!((failure_probability(q, 600.0) - 0.1).abs() < 1e-12);
}

#[test]
fn detection_with_twelve_tests() {
    // 1 − 0.9¹² = 1 − 0.282429536481 = 0.717570463519;
    // 1 − 0.99¹² = 1 − 0.886384871716… = 0.113615128283…
    assert!((detection_probability(0.1, 12) - 0.717_570_463_519).abs() < 1e-12);
    assert!((detection_probability(0.01, 12) - 0.113_615_128_283_6).abs() < 1e-12);
    assert_eq!(format!("{:.3}", detection_probability(0.1, 12)), "0.718");
    assert_eq!(format!("{:.3}", detection_probability(0.01, 12)), "0.114");
    assert_eq!(detection_probability(0.0, 12), 0.0);
    assert_eq!(detection_probability(1.0, 12), 1.0);
}

/// Table 6's values: n = 12, λ_Δ = 12 000, π_s = 2·10⁻⁵, π_sd = 0.02, π_se = 7·10⁻⁸.
fn table6() -> SupplierGame {
    SupplierGame {
        tests: 12,
        inputs: 12_000.0,
        price: 2e-5,
        cost: 7e-8,
        deposit: 0.02,
    }
}

#[test]
fn optimal_probability_of_eq6_at_table6() {
    // P* = 12·(12 000·2e-5 + 0.02) / (13·12 000·7e-8) = 12·0.26 / 0.01092 = 3.12 / 0.01092
    //    = 285.714285…; ρ = 1000 = λ_Δ/n, so also P* = 1/e_s = 2e-5/7e-8.
    let g = table6();
    assert!((g.optimal_probability() - 3.12 / 0.01092).abs() < 1e-9);
    assert!((g.optimal_probability() - 2e-5 / 7e-8).abs() < 1e-9);
    assert!(g.optimal_probability() > 1.0);
}

#[test]
fn honest_deposit_threshold_makes_p_star_one() {
    // e_s = 0.99: ρ* = 12 000·(13·0.99 − 12)/12 = 1000·0.87 = 870, and at ρ = 870,
    // P* = (1/0.99)(12/13 + 12·870/(12 000·13)) = (1/0.99)(0.99) = 1.
    let mut g = SupplierGame {
        tests: 12,
        inputs: 12_000.0,
        price: 1.0,
        cost: 0.99,
        deposit: 0.0,
    };
    assert!((g.honest_deposit_factor() - 870.0).abs() < 1e-9);
    g.deposit = 870.0 * g.price;
    assert!((g.optimal_probability() - 1.0).abs() < 1e-12);
    // The paper's ρ = λ_Δ/n = 1000 is above the threshold: P* = 1/e_s.
    g.deposit = 1000.0 * g.price;
    assert!((g.optimal_probability() - 1.0 / 0.99).abs() < 1e-12);
}

#[test]
fn expected_utility_peaks_at_p_star() {
    // With P* inside (0, 1) the grid maximum of Eq. 5 sits at P*; with P* > 1 at P = 1.
    let inside = SupplierGame {
        tests: 3,
        inputs: 100.0,
        price: 1.0,
        cost: 2.0,
        deposit: 10.0,
    };
    // P* = 3·(100 + 10)/(4·100·2) = 330/800 = 0.4125.
    assert!((inside.optimal_probability() - 0.4125).abs() < 1e-12);
    let best = |g: &SupplierGame| {
        (0..=10_000)
            .map(|i| i as f64 / 10_000.0)
            .max_by(|a, b| g.expected_utility(*a).total_cmp(&g.expected_utility(*b)))
            .unwrap()
    };
    assert!((best(&inside) - 0.4125).abs() <= 1e-4);
    assert_eq!(best(&table6()), 1.0);
    // Eq. 5 at P = 1 is the honest payoff λ_Δ(π_s − π_se) = 12 000·(2e-5 − 7e-8) = 0.23916.
    assert!((table6().expected_utility(1.0) - 0.23916).abs() < 1e-12);
    // At P = 0 the supplier is caught for sure and loses its deposit.
    assert!((table6().expected_utility(0.0) + 0.02).abs() < 1e-15);
}

#[test]
fn commitments_are_sha256_as_in_eq7() {
    let outputs: Vec<Vec<u8>> = vec![b"o1".to_vec(), b"output two".to_vec()];
    // γ: SHA-256 over each output prefixed by its length as 8 little-endian bytes.
    let mut bytes = Vec::new();
    for o in &outputs {
        bytes.extend_from_slice(&(o.len() as u64).to_le_bytes());
        bytes.extend_from_slice(o);
    }
    let g: [u8; 32] = Sha256::digest(&bytes).into();
    assert_eq!(gamma(&outputs), g);
    let big: [u8; 32] = Sha256::digest(g).into();
    assert_eq!(commitment(&outputs), big);
    assert!(verifies(&big, &g));
    assert_eq!(
        alpha(&outputs)[1],
        <[u8; 32]>::from(Sha256::digest(b"output two"))
    );
    // The supplier finds O_v among its outputs by α, in α's order; a wrong output on a
    // tested input is missing, so γ(O_v) fails.
    let mine = vec![b"other".to_vec(), b"output two".to_vec(), b"o1".to_vec()];
    let found = tested_outputs(&alpha(&outputs), &mine);
    assert_eq!(found, outputs);
    assert!(verifies(&big, &gamma(&found)));
    let skipped = vec![b"other".to_vec(), b"o1".to_vec()];
    assert!(!verifies(
        &big,
        &gamma(&tested_outputs(&alpha(&outputs), &skipped))
    ));
}
