//! VCG's shortcuts against the definition ([Dist-Auctioneer]): skipping
//! participants without volume and warm-starting the other re-solves must give the
//! same payments as solving P3 without *every* participant from scratch, on its own
//! expanded market, with another backend (clarabel).

use brokerflow_graphs::generate::{generate, GeneratorConfig, Range};
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::vcg::Vcg;
use brokerflow_solvers::settle::vcg::{welfare_without, Resolve};
use brokerflow_solvers::settle::{
    participant_values, settle, Allocation, Participants, SettleOptions,
};

/// Small markets with broker→broker links (cycles), eligibility lists and scarce
/// capacity, so that some participants trade and some do not.
fn config() -> GeneratorConfig {
    GeneratorConfig {
        users: 10,
        brokers: 3,
        providers: 4,
        link_probability: Some(0.5),
        broker_link_probability: 0.3,
        eligibility: 0.25,
        valuation: Range::new(1.0, 50.0),
        ..GeneratorConfig::default()
    }
}

/// The Clarke transfers by definition: t_i = (W* − V̂_i) − W*_{−i}, W*_{−i} solved
/// from scratch for every participant, traders or not.
fn transfers_by_definition(m: &ValidMarket, allocation: &Allocation) -> Vec<f64> {
    let g = ExpandedGraph::new(m);
    let who = Participants::of(m);
    let optimum = allocation.flow.welfare(&g);
    let values = participant_values(&g, who, &allocation.flow);
    let cold = SettleOptions {
        backend: Backend::Clarabel,
        ..SettleOptions::default()
    };
    (0..who.len())
        .map(|i| {
            let (role, index) = who.role(i);
            let w = welfare_without(m, role, index, &cold).unwrap().min(optimum);
            (optimum - values[i]) - w
        })
        .collect()
}

#[test]
fn skipping_and_warm_starts_give_the_payments_of_full_re_solves() {
    assert_eq!(Resolve::for_backend(Backend::DEFAULT), Resolve::Warm);
    let mut idle = 0;
    let mut trading = 0;
    for seed in 0..40 {
        let m = generate(&config(), seed).unwrap();
        let g = ExpandedGraph::new(&m);
        let allocation = Allocation::lp(&g, Backend::Microlp).unwrap();
        let s = settle(&m, &m, &allocation, &Vcg, &SettleOptions::default()).unwrap();
        assert!(
            s.notes[0].contains("warm-started"),
            "seed {seed}: {:?}",
            s.notes
        );
        let expected = transfers_by_definition(&m, &allocation);
        let tol = 1e-6 * s.declared_welfare.abs().max(1.0);
        for (line, t) in s.participants.iter().zip(&expected) {
            let got = line.receives - line.pays;
            assert!(
                (got - t).abs() <= tol,
                "seed {seed}, {}: transfer {got}, by definition {t}",
                line.id
            );
            if line.volume > 0.0 {
                trading += 1;
            } else {
                idle += 1;
            }
        }
    }
    // Both rules were exercised.
    assert!(idle > 20 && trading > 100, "idle {idle}, trading {trading}");
}
