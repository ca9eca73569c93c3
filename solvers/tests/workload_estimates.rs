//! The LP size estimate against the LPs actually built (an independent count: the
//! formulation's own rows and variables), on the bundled markets and random ones with
//! cycles, eligibility lists and scarce capacity: exact for P1, an upper bound for P3 (which keeps only the pairs on paths of non-negative margin).

mod common;

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::lp::{self, Objective};
use brokerflow_solvers::workload::lp_estimate;
use proptest::prelude::*;

fn check(label: &str, g: &ExpandedGraph) {
    let p1 = lp_estimate(g, Objective::Concurrent);
    let built = lp::concurrent_formulation(g).lp;
    assert_eq!(p1.variables, built.variables(), "{label}: P1 variables");
    assert_eq!(p1.constraints, built.rows.len(), "{label}: P1 rows");
    let p3 = lp_estimate(g, Objective::Welfare);
    let built = lp::welfare_formulation(g).lp;
    assert!(p3.variables >= built.variables(), "{label}: P3 variables");
    assert!(p3.constraints >= built.rows.len(), "{label}: P3 rows");
}

/// The bundled market `name` (of `common::bundled_markets`) estimates its LPs.
fn bundled_market_estimates_its_lps(name: &str) {
    check(name, &ExpandedGraph::new(&common::bundled_market(name)));
}

#[test]
fn bundled_markets_estimate_their_lps_tiny() {
    bundled_market_estimates_its_lps("tiny");
}

#[test]
fn bundled_markets_estimate_their_lps_figure3() {
    bundled_market_estimates_its_lps("figure3");
}

#[test]
fn bundled_markets_estimate_their_lps_linked() {
    bundled_market_estimates_its_lps("linked");
}

#[test]
fn bundled_markets_estimate_their_lps_posted() {
    bundled_market_estimates_its_lps("posted");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_markets_estimate_their_lps((label, market) in common::random_markets()) {
        check(&label, &ExpandedGraph::new(&market));
    }
}
