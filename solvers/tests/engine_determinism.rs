//! Determinism of the engine (design §5): the same market run inside a 1-thread and a
//! 2-thread rayon pool gives bit-identical flows, routing tables and traces, and two
//! runs in the same pool are identical too — on both runtimes, which agree with each
//! other.
//!
//! Markets: a generated 40-user, 6-broker, 6-provider market with broker→broker links
//! (cyclic G′), eligibility lists and posted prices (seed 77), and the bundled `linked`;
//! every variant × both injection modes, traced, at most 3 000 rounds each.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{examples, ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::{
    run_observed, EngineOptions, ObserverMode, Observers, Runtime, Trace, Variant,
};

mod common;
use common::{every_variant_and_injection, fingerprint};

fn big() -> ValidMarket {
    let config = GeneratorConfig {
        users: 40,
        brokers: 6,
        providers: 6,
        broker_link_probability: 0.3,
        eligibility: 0.5,
        posted_prices: true,
        ..GeneratorConfig::default()
    };
    generate(&config, 77).expect("valid generator config")
}

fn in_pool(threads: usize, market: &Market, g: &ExpandedGraph, o: &EngineOptions) -> Vec<String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        assert_eq!(rayon::current_num_threads(), threads);
        let mut trace = Trace::default();
        let mut observers = Observers::new();
        observers.push(&mut trace, ObserverMode::Always);
        let r = run_observed(market, g, o, &mut observers).unwrap();
        fingerprint(g, &r, &trace.rows)
    })
}

#[test]
fn one_and_two_threads_give_bit_identical_runs() {
    let mut compared = 0;
    for (name, market) in [("generated seed 77", big()), ("linked", examples::linked())] {
        let g = ExpandedGraph::new(&market);
        for mut o in every_variant_and_injection(&g) {
            let (variant, injection) = (o.variant, o.injection);
            o.max_rounds = 3_000;
            let one = in_pool(1, &market, &g, &o);
            let two = in_pool(2, &market, &g, &o);
            let again = in_pool(2, &market, &g, &o);
            o.runtime = Runtime::Nodes;
            let nodes_one = in_pool(1, &market, &g, &o);
            let nodes_two = in_pool(2, &market, &g, &o);
            let what = format!("{name}, {} {}", variant.name(), injection.name());
            // Not vacuous: the run moved jobs and routed them.
            assert!(
                one.iter().any(|l| l.starts_with("route ")),
                "{what}: no routing table"
            );
            assert!(one.len() > 100, "{what}: too short a run to compare");
            for (label, other) in [
                ("2 threads", &two),
                ("2 threads, again", &again),
                ("the nodes runtime", &nodes_one),
                ("the nodes runtime on 2 threads", &nodes_two),
            ] {
                assert_eq!(
                    one.len(),
                    other.len(),
                    "{what}: 1 thread vs {label}: different lengths"
                );
                if let Some((a, b)) = one.iter().zip(other.iter()).find(|(a, b)| a != b) {
                    panic!("{what}: 1 thread vs {label} differ first at\n  {a}\n  {b}");
                }
            }
            compared += 1;
        }
    }
    // 2 markets × every variant × 2 injection modes.
    assert_eq!(compared, 2 * Variant::ALL.len() * 2);
}
