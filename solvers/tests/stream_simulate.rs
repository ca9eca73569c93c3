//! The strategy experiment of [Stream-Market] §5.2 on a small spec: reproducible,
//! money conserved, and the orderings the game analysis predicts.

use brokerflow_solvers::stream::simulate::{simulate, SimulationSpec};

/// Table 6's money without gas, 2 groups of 3, 6 rounds.
fn spec() -> SimulationSpec {
    serde_json::from_value(serde_json::json!({
        "name": "small",
        "seed": 7,
        "rounds": 6,
        "groups": [0.0, 1.0],
        "suppliers_per_group": 3,
        "customers_per_group": 3,
        "sweep": [0.6, 1.0],
        "offers": {
            "slot": 600.0, "rate": 20.0, "mi_per_input": [10.0, 10.0],
            "supplier_mips": [200.0, 600.0], "supplier_memory": [2048.0, 4096.0],
            "customer_memory": [128.0, 256.0], "min_price": [1.0e-6, 2.0e-6],
            "max_price": [2.0e-6, 3.5e-6], "replicas": 1
        },
        "contract": {
            "test_inputs": 12, "deposit_factor": 1000.0, "money_unit": 1.0e-12,
            "benefit_per_mi": 3.5e-6, "supplier_cost_per_mi": 7.0e-9,
            "customer_test_cost_per_mi": 7.0e-9, "post_cost": 0.0, "commit_cost": 0.0,
            "mediation_post_cost": 0.0, "allocator_fee": 0.0, "mediator_fee": 3.3e-5,
            "timeout_penalty": 0.5
        }
    }))
    .unwrap()
}

#[test]
fn same_spec_same_result_and_money_conserved() {
    let a = simulate(&spec(), "small").unwrap();
    let b = simulate(&spec(), "small").unwrap();
    assert_eq!(a, b);
    assert!(a.contracts > 0);
    assert_eq!(a.ledger_total, 0);
    let mut other = spec();
    other.seed = 8;
    assert_ne!(
        simulate(&other, "small").unwrap().participants,
        a.participants
    );
}

#[test]
fn honest_suppliers_and_verifying_customers_do_better() {
    let r = simulate(&spec(), "small").unwrap();
    let per_contract = |role: &str, group: f64| {
        let v: Vec<f64> = r
            .participants
            .iter()
            .filter(|p| p.role == role && p.group == Some(group) && p.contracts > 0)
            .map(|p| p.utility_per_contract)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    // P(s) = 0 is caught on every contract (1 − 0¹² = 1): it loses its deposit
    // ρ·π_s > 0 and is not paid; P(s) = 1 is paid λ_Δ·π_s ≥ its cost λ_Δ·π_se.
    assert!(per_contract("supplier", 0.0) < 0.0);
    assert!(per_contract("supplier", 1.0) > 0.0);
    for p in r.participants.iter().filter(|p| p.role == "supplier") {
        assert_eq!(
            p.fined > 0,
            p.group == Some(0.0) && p.contracts > 0,
            "{p:?}"
        );
    }
    // A customer that commits made-up outputs is found wrong by every mediation and
    // forfeits ρ·π_s; everything else it gets is the same, so verifying is better at
    // every P(s) of the sweep.
    for point in &r.sweep {
        assert!(point.verifying > point.not_verifying, "{point:?}");
    }
}

#[test]
fn a_bad_spec_is_refused() {
    let mut s = spec();
    s.groups = vec![1.5];
    let e = simulate(&s, "small.toml").unwrap_err().to_string();
    assert!(e.starts_with("small.toml: groups"), "{e}");
}
