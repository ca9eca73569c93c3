//! The exported LP file (CPLEX LP format) re-solved by HiGHS gives the same optimum
//! as brokerflow's own solve, within 1e-6 relative. Built only with `--features highs`.
#![cfg(feature = "highs")]

use std::ffi::CString;

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::lp::{self, LpOptions, Objective, Sense};

/// Reads an LP file with HiGHS's own reader and returns its optimal objective.
fn highs_objective(path: &std::path::Path) -> f64 {
    let file = CString::new(path.to_str().unwrap()).unwrap();
    let quiet = CString::new("output_flag").unwrap();
    // SAFETY: a fresh HiGHS instance, used and destroyed here only; the C strings
    // outlive the calls.
    unsafe {
        let h = highs_sys::Highs_create();
        highs_sys::Highs_setBoolOptionValue(h, quiet.as_ptr(), 0);
        assert_eq!(
            highs_sys::Highs_readModel(h, file.as_ptr()),
            highs_sys::STATUS_OK
        );
        assert_eq!(highs_sys::Highs_run(h), highs_sys::STATUS_OK);
        assert_eq!(
            highs_sys::Highs_getModelStatus(h),
            highs_sys::MODEL_STATUS_OPTIMAL
        );
        let objective = highs_sys::Highs_getObjectiveValue(h);
        highs_sys::Highs_destroy(h);
        objective
    }
}

fn check_market(name: &str, m: &ValidMarket) {
    let g = ExpandedGraph::new(m);
    let dir = std::env::temp_dir().join(format!("brokerflow-highs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = LpOptions::default();
    let mut objectives = vec![
        Objective::Concurrent,
        Objective::Utility,
        Objective::Welfare,
    ];
    if !g.is_cyclic() {
        objectives.push(Objective::WorstUtility);
    }
    for o in objectives {
        let s = lp::solve(&g, o, &options).unwrap();
        let (f, ours) = match o {
            Objective::Concurrent => match s.delta {
                Some(d) => (lp::concurrent_formulation(&g), d),
                None => continue,
            },
            Objective::Utility | Objective::WorstUtility => {
                let sense = if o == Objective::Utility {
                    Sense::Maximise
                } else {
                    Sense::Minimise
                };
                let amounts: Vec<f64> = lp::utility_amounts(&g, s.delta)
                    .iter()
                    .map(|a| a * (1.0 - s.amount_backoff))
                    .collect();
                (
                    lp::utility_formulation(&g, sense, &amounts),
                    s.welfare(&g).unwrap(),
                )
            }
            Objective::Welfare => (lp::welfare_formulation(&g), s.welfare(&g).unwrap()),
        };
        let path = dir.join(format!("{name}-{}.lp", o.name()));
        // As `solve --export-lp` writes it: variables named by ids, with the map.
        std::fs::write(&path, f.to_cplex_lp(&g, "exported by a test")).unwrap();
        let theirs = highs_objective(&path);
        assert!(
            (theirs - ours).abs() <= 1e-6 * ours.abs().max(1.0),
            "{name} {o:?}: HiGHS {theirs} vs brokerflow {ours}"
        );
    }
}

#[test]
fn exported_lp_resolves_to_the_same_optimum() {
    check_market("tiny", &brokerflow_graphs::examples::tiny());
    check_market("linked", &brokerflow_graphs::examples::linked());
    check_market("figure3", &brokerflow_graphs::examples::figure3());
    for seed in 0..10 {
        let config = GeneratorConfig {
            users: 10 + seed as usize,
            broker_link_probability: 0.2,
            eligibility: 0.3,
            ..GeneratorConfig::default()
        };
        check_market(
            &format!("generated{seed}"),
            &generate(&config, seed).unwrap(),
        );
    }
}

/// HiGHS as a backend agrees with the pure-Rust backends on the hand-worked tiny.
#[test]
fn highs_backend_solves_tiny() {
    let g = ExpandedGraph::new(&brokerflow_graphs::examples::tiny());
    let options = LpOptions {
        backend: lp::Backend::Highs,
        prices: true,
    };
    let p3 = lp::max_welfare(&g, &options).unwrap();
    // graphs/markets/tiny.md: P3 = 141.
    assert!((p3.welfare(&g).unwrap() - 141.0).abs() < 1e-6);
}
