//! Every runtime computes the same rounds (design §5, "Protocol and runtimes"): for
//! every variant × injection mode × potential, the `flat` and the `nodes` runtime, each
//! inside a 1-thread and a 2-thread rayon pool, give bit-identical flows, moved
//! amounts, served amounts, window averages, prices, routing tables, ledger (every
//! round's trace and the largest residuals), rounds and stop reason — on random generated markets
//! (proptest, with broker→broker cycles, eligibility lists, posted prices, scarce and
//! plentiful capacity) and on every bundled market.

use std::sync::LazyLock;

use brokerflow_graphs::{ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::faults::FaultPlan;
use brokerflow_solvers::engine::{
    run_observed, run_with_faults, EngineOptions, ObserverMode, Observers, Runtime, Stop, Trace,
};
use proptest::prelude::*;

mod common;
use common::{bundled_markets, every_setting, fault_schedules, fingerprint, random_markets};

static POOLS: LazyLock<[rayon::ThreadPool; 2]> = LazyLock::new(|| {
    [1, 2].map(|t| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
    })
});

/// Runs `o` on every runtime × pool; panics at the first difference. Returns the run's
/// stop reason.
fn same_everywhere(what: &str, market: &Market, g: &ExpandedGraph, o: &EngineOptions) -> Stop {
    let mut reference: Option<(String, Vec<String>)> = None;
    let mut stop = Stop::NothingToRoute;
    for runtime in Runtime::ALL {
        for pool in POOLS.iter() {
            let label = format!(
                "{} on {} threads",
                runtime.name(),
                pool.current_num_threads()
            );
            let o = EngineOptions { runtime, ..*o };
            let (run, print) = pool.install(|| {
                let mut trace = Trace::default();
                let mut observers = Observers::new();
                observers.push(&mut trace, ObserverMode::Always);
                let r = run_observed(market, g, &o, &mut observers).unwrap();
                let print = fingerprint(g, &r, &trace.rows);
                (r, print)
            });
            stop = run.stop;
            match &reference {
                None => reference = Some((label, print)),
                Some((first, expected)) => {
                    assert_eq!(expected.len(), print.len(), "{what}: {first} vs {label}");
                    if let Some((a, b)) = expected.iter().zip(&print).find(|(a, b)| a != b) {
                        panic!("{what}: {first} vs {label} differ first at\n  {a}\n  {b}");
                    }
                }
            }
        }
    }
    stop
}

/// Every variant × injection mode × potential on one market; returns the stop reasons.
fn all_settings(name: &str, market: &ValidMarket, rounds: usize, window: usize) -> Vec<Stop> {
    let g = ExpandedGraph::new(market);
    every_setting(name, &g, rounds, window)
        .iter()
        .map(|(what, o)| same_everywhere(what, market, &g, o))
        .collect()
}

#[test]
fn runtimes_agree_bit_for_bit_on_the_bundled_markets() {
    let mut stops = Vec::new();
    for (name, market) in bundled_markets() {
        stops.extend(all_settings(name, &market, 700, 200));
    }
    // Not vacuous: runs converged and runs hit the limit.
    assert!(stops.contains(&Stop::Converged), "{stops:?}");
    assert!(stops.contains(&Stop::RoundLimit), "{stops:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn runtimes_agree_bit_for_bit_on_random_markets(
        (name, market) in random_markets(),
    ) {
        all_settings(&name, &market, 800, 60);
    }
}

/// Under every fault kind alone and a mixed schedule (design §5, "Faults"), the `flat`
/// and the `nodes` runtime, each on 1 and 2 threads, give the same bits — every
/// variant × injection mode × potential on the bundled markets; and `timely` (one
/// worker here) gives them too.
#[test]
fn runtimes_agree_bit_for_bit_under_faults() {
    let mut lossy = 0;
    for (name, market) in bundled_markets() {
        let g = ExpandedGraph::new(&market);
        for (kind, schedule) in fault_schedules(&market) {
            let plan = FaultPlan::new(&schedule, &market, &g, &kind).unwrap();
            for (what, o) in every_setting(name, &g, 400, 60) {
                let what = format!("{what}, {kind}");
                let mut reference: Option<(String, Vec<String>)> = None;
                for runtime in [Runtime::Flat, Runtime::Nodes] {
                    for pool in POOLS.iter() {
                        let label = format!(
                            "{} on {} threads",
                            runtime.name(),
                            pool.current_num_threads()
                        );
                        let o = EngineOptions { runtime, ..o };
                        let (print, lost) = pool.install(|| {
                            let mut trace = Trace::default();
                            let mut observers = Observers::new();
                            observers.push(&mut trace, ObserverMode::Always);
                            let r = run_with_faults(&market, &g, &o, Some(&plan), &mut observers)
                                .unwrap();
                            let lost: f64 = r.faults.as_ref().unwrap().lost.iter().sum();
                            (fingerprint(&g, &r, &trace.rows), lost)
                        });
                        if lost > 0.0 {
                            lossy += 1;
                        }
                        match &reference {
                            None => reference = Some((label, print)),
                            Some((first, expected)) => {
                                assert_eq!(
                                    expected.len(),
                                    print.len(),
                                    "{what}: {first} vs {label}"
                                );
                                if let Some((a, b)) =
                                    expected.iter().zip(&print).find(|(a, b)| a != b)
                                {
                                    panic!(
                                        "{what}: {first} vs {label} differ first at\n  {a}\n  {b}"
                                    );
                                }
                            }
                        }
                    }
                }
                let o = EngineOptions {
                    runtime: Runtime::Timely,
                    ..o
                };
                // Timely runs fault schedules now (was: refused), with the same bits (its
                // clusters: engine_timely.rs).
                let mut trace = Trace::default();
                let mut observers = Observers::new();
                observers.push(&mut trace, ObserverMode::Always);
                let r = run_with_faults(&market, &g, &o, Some(&plan), &mut observers).unwrap();
                drop(observers);
                let print = fingerprint(&g, &r, &trace.rows);
                let (first, expected) = reference.as_ref().expect("a reference run");
                assert_eq!(expected, &print, "{what}: {first} vs timely");
            }
        }
    }
    // Not vacuous: jobs were lost (and the lost column compared).
    assert!(lossy > 0);
}
