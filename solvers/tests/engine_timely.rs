//! The timely runtime computes the same rounds as the flat one (design §5, "Protocol and
//! runtimes"; §12): for every variant × injection mode × potential, on 1, 2 and 4
//! worker threads and on 2 processes × 1 and × 2 workers connected over loopback (each
//! process a thread of this test with its own engine, as separate programs would run),
//! the flows, moved amounts, served amounts, window averages, prices, routing tables,
//! ledger (every round's trace), rounds and stop reason are bit-identical to `flat` —
//! on every bundled market and on random generated ones. Every process of a cluster
//! computes the whole outcome. Also: a taken port, a peer running other options and a
//! bad cluster are errors, never hangs.

use std::net::TcpListener;
use std::time::Duration;

use brokerflow_graphs::{examples, ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::runtime::timely::{with_cluster, Cluster, TimelyError};
use brokerflow_solvers::engine::{
    run_observed, EngineOptions, Injection, ObserverMode, Observers, Potential, Runtime, Stop,
    Trace, Variant,
};
use proptest::prelude::*;

mod common;
use common::{bundled_markets, every_setting, fingerprint, random_markets};

/// Loopback addresses on ports the OS hands out as free, so parallel tests never meet.
fn loopback(processes: usize) -> Vec<String> {
    let listeners: Vec<TcpListener> = (0..processes)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

/// The run's fingerprint on `runtime`, inside `cluster` for timely.
fn print_of(market: &Market, g: &ExpandedGraph, o: &EngineOptions) -> (Stop, Vec<String>) {
    let mut trace = Trace::default();
    let mut observers = Observers::new();
    observers.push(&mut trace, ObserverMode::Always);
    let r = run_observed(market, g, o, &mut observers).unwrap();
    (r.stop, fingerprint(g, &r, &trace.rows))
}

/// Every process's fingerprint of `o` on the timely runtime: `processes` threads, each
/// a process of the cluster with `workers` workers.
fn timely_prints(
    market: &Market,
    g: &ExpandedGraph,
    o: &EngineOptions,
    workers: usize,
    processes: usize,
) -> Vec<Vec<String>> {
    let o = EngineOptions {
        runtime: Runtime::Timely,
        ..*o
    };
    if processes == 1 {
        let c = Cluster::threads(workers);
        return vec![with_cluster(&c, || print_of(market, g, &o)).unwrap().0 .1];
    }
    let addresses = loopback(processes);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..processes)
            .map(|p| {
                let mut c = Cluster::processes(workers, p, addresses.clone());
                c.timeout = Duration::from_secs(60);
                s.spawn(move || with_cluster(&c, || print_of(market, g, &o)).unwrap().0 .1)
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

fn same(what: &str, expected: &[String], got: &[String]) {
    assert_eq!(expected.len(), got.len(), "{what}");
    if let Some((a, b)) = expected.iter().zip(got).find(|(a, b)| a != b) {
        panic!("{what}: flat vs timely differ first at\n  {a}\n  {b}");
    }
}

/// Every variant × injection mode × potential on one market, flat vs timely on every
/// cluster shape in `shapes` (workers, processes) with the quadratic potential and on
/// 2 workers with the exponential one (the runtime never looks at the potential: the
/// protocol's step does); returns the stop reasons.
fn all_settings(
    name: &str,
    market: &ValidMarket,
    rounds: usize,
    window: usize,
    shapes: &[(usize, usize)],
) -> Vec<Stop> {
    let g = ExpandedGraph::new(market);
    let mut stops = Vec::new();
    for (what, o) in every_setting(name, &g, rounds, window) {
        let (stop, flat) = print_of(market, &g, &o);
        stops.push(stop);
        let exponential = [(2, 1)];
        let shapes = match o.potential {
            Potential::Quadratic => shapes,
            Potential::Exponential => &exponential[..],
        };
        for &(workers, processes) in shapes {
            for (p, print) in timely_prints(market, &g, &o, workers, processes)
                .iter()
                .enumerate()
            {
                let what =
                    format!("{what}, {workers} workers × {processes} processes (process {p})");
                same(&what, &flat, print);
            }
        }
    }
    stops
}

const SHAPES: [(usize, usize); 5] = [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2)];

#[test]
fn timely_matches_flat_bit_for_bit_on_the_bundled_markets() {
    let mut stops = Vec::new();
    for (name, market) in bundled_markets() {
        stops.extend(all_settings(name, &market, 400, 100, &SHAPES));
    }
    // Not vacuous: runs converged and runs hit the limit.
    assert!(stops.contains(&Stop::Converged), "{stops:?}");
    assert!(stops.contains(&Stop::RoundLimit), "{stops:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn timely_matches_flat_bit_for_bit_on_random_markets(
        (name, market) in random_markets(),
    ) {
        all_settings(&name, &market, 200, 40, &SHAPES);
    }
}

/// A quick run on a two-process cluster at `addresses`, as process `p` with options `o`.
fn two_process_run(p: usize, addresses: &[String], o: &EngineOptions) -> Result<(), TimelyError> {
    let market = examples::figure3();
    let g = ExpandedGraph::new(&market);
    let mut c = Cluster::processes(1, p, addresses.to_vec());
    c.timeout = Duration::from_secs(5);
    with_cluster(&c, || {
        run_observed(&market, &g, o, &mut Observers::new()).unwrap();
    })
    .map(|_| ())
}

#[test]
fn a_taken_port_is_an_error_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let addresses = vec![address.clone(), loopback(1).remove(0)];
    let mut o = EngineOptions::new(Variant::Fair, Injection::Demand);
    o.runtime = Runtime::Timely;
    match two_process_run(0, &addresses, &o) {
        Err(e @ TimelyError::Listen { .. }) => {
            assert!(e.to_string().contains(&address), "{e}");
        }
        other => panic!("expected a listen error, got {other:?}"),
    }
}

#[test]
fn processes_running_other_options_refuse_each_other() {
    let addresses = loopback(2);
    let mut a = EngineOptions::new(Variant::Fair, Injection::Demand);
    a.runtime = Runtime::Timely;
    a.max_rounds = 50;
    let b = EngineOptions {
        max_rounds: 60,
        ..a
    };
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| two_process_run(0, &addresses, &a));
        let hb = s.spawn(|| two_process_run(1, &addresses, &b));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert!(
        matches!(ra, Err(TimelyError::Mismatch { process: 1, .. })),
        "{ra:?}"
    );
    assert!(
        matches!(rb, Err(TimelyError::Mismatch { process: 0, .. })),
        "{rb:?}"
    );
}

#[test]
fn a_missing_process_is_an_error_after_the_timeout() {
    let addresses = loopback(2);
    let mut o = EngineOptions::new(Variant::Fair, Injection::Demand);
    o.runtime = Runtime::Timely;
    let started = std::time::Instant::now();
    match two_process_run(0, &addresses, &o) {
        Err(TimelyError::Connect { process: 1, .. }) => {}
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}
