//! The timely runtime computes the same rounds as the flat one (design §5, "Protocol and
//! runtimes"; §12): for every variant × injection mode × potential, on 1, 2 and 4
//! worker threads and on 2 processes × 1 and × 2 workers connected over loopback (each
//! process a thread of this test with its own engine, as separate programs would run),
//! the flows, moved amounts, served amounts, window averages, prices, routing tables,
//! ledger (every round's trace), rounds and stop reason are bit-identical to `flat` —
//! on every bundled market and on random generated ones. Every process of a cluster
//! computes the whole outcome. Under every fault kind alone and a mixed schedule
//! (every variant, bundled and generated markets) the faulty rounds, the ledger with
//! its jobs in flight and lost, the faults' counters and the fault report are
//! bit-identical to `flat` and `nodes`, on 1 and 2 workers and 2 processes; a state
//! saved on timely is the same bytes as flat's and nodes', and resuming one (the same
//! market, or a re-plan) continues as flat does. Also: a taken port, a peer running
//! other options and a bad cluster are errors, never hangs. Every cluster gets a
//! loopback address of its own, and a cluster that met another program on its ports
//! runs again on new ones, so parallel tests and test programs never meet.

use std::net::TcpListener;
use std::time::Duration;

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{examples, ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::faults::{
    reference_run, FaultPlan, FaultReport, FaultSchedule, WelfareLog,
};
use brokerflow_solvers::engine::runtime::timely::{with_cluster, Cluster, TimelyError};
use brokerflow_solvers::engine::{
    replan, run_observed, run_with_faults, Engine, EngineOptions, Injection, ObserverMode,
    Observers, Potential, Runtime, Stop, Trace, TraceRow, Variant,
};
use proptest::prelude::*;

mod common;
use common::{bundled_markets, every_setting, fault_schedules, fingerprint, random_markets};

/// A loopback address of this cluster's own (all of 127.0.0.0/8 is this machine),
/// drawn from the process id, a counter and the clock, so that two test programs (or
/// two tests) running at once almost never share one.
fn own_host() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut h = (u64::from(std::process::id()) << 32)
        ^ (COUNT.fetch_add(1, Ordering::Relaxed) << 20)
        ^ nanos;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let byte = |i: u32| 1 + ((h >> (8 * i)) % 254) as u8;
    format!("127.{}.{}.{}", byte(0), byte(1), byte(2))
}

/// Addresses on this cluster's own loopback host ([`own_host`]), on ports the system
/// hands out as free there.
fn loopback(processes: usize) -> Vec<String> {
    let host = own_host();
    let listeners: Vec<TcpListener> = (0..processes)
        .map(|_| TcpListener::bind((host.as_str(), 0)).unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

/// Runs `f` on every process of a cluster of `processes` (each a thread of this test,
/// as separate programs would run) with `workers` workers each; returns every
/// process's result, in process order. A cluster that fails (another program took or
/// reached its ports between choosing and using them; or, rarely and not understood
/// yet, a cluster that stalls in its first round while other tests' clusters run in
/// this program) runs again on new ports, up to 3 times, saying so on standard error:
/// a result is only ever compared from a cluster that ran to the end.
fn on_cluster<T: Send>(workers: usize, processes: usize, f: impl Fn() -> T + Sync) -> Vec<T> {
    if processes == 1 {
        let c = Cluster::threads(workers);
        return vec![with_cluster(&c, &f).unwrap().0];
    }
    for _ in 0..3 {
        let addresses = loopback(processes);
        let results: Vec<Result<T, TimelyError>> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..processes)
                .map(|p| {
                    let mut c = Cluster::processes(workers, p, addresses.clone());
                    c.timeout = Duration::from_secs(20);
                    let f = &f;
                    s.spawn(move || with_cluster(&c, f).map(|r| r.0))
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        if let Some(e) = results.iter().find_map(|r| r.as_ref().err()) {
            eprintln!("a cluster at {addresses:?} failed ({e}); running it again on new ports");
            continue;
        }
        return results.into_iter().map(Result::unwrap).collect();
    }
    panic!("three clusters in a row failed");
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
    on_cluster(workers, processes, || print_of(market, g, &o).1)
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
            // The cause is the source, not repeated in the text (the CLI adds it).
            let source = std::error::Error::source(&e)
                .expect("the io error")
                .to_string();
            assert!(!e.to_string().contains(&source), "{e}");
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

/// The cluster shapes (workers, processes) the fault and state tests run on.
const FAULT_SHAPES: [(usize, usize); 3] = [(1, 1), (2, 1), (1, 2)];

/// The ledger from the trace alone, every round and commodity (cumulative injected =
/// cumulative absorbed + queued + in flight + cumulative discarded + cumulative lost):
/// the largest relative imbalance.
fn ledger_imbalance(trace: &[TraceRow], commodities: usize) -> f64 {
    let mut sums = vec![[0.0f64; 4]; commodities];
    let mut worst = 0.0f64;
    for row in trace {
        let s = &mut sums[row.commodity];
        s[0] += row.injected;
        s[1] += row.absorbed;
        s[2] += row.discarded;
        s[3] += row.lost;
        let balance = s[0] - s[1] - row.queued - row.in_flight - s[2] - s[3];
        worst = worst.max(balance.abs() / s[0].max(1.0));
    }
    worst
}

/// A faulty run's fingerprint: the run's ([`fingerprint`], the trace with its jobs in
/// flight and lost included), the faults' counters and the fault report against the
/// fault-free reference run, all floats by their bits (Debug prints the shortest text
/// that reads back to the same bits). Also checks the ledger every round.
fn faulty_print(m: &Market, g: &ExpandedGraph, o: &EngineOptions, plan: &FaultPlan) -> Vec<String> {
    let mut trace = Trace::default();
    let mut log = WelfareLog::from_round(plan.end());
    let mut observers = Observers::new();
    observers.push(&mut trace, ObserverMode::Always);
    observers.push(&mut log, ObserverMode::Always);
    let r = run_with_faults(m, g, o, Some(plan), &mut observers).unwrap();
    drop(observers);
    let imbalance = ledger_imbalance(&trace.rows, g.commodities.len());
    assert!(
        imbalance < 1e-9,
        "{:?}: ledger off by {imbalance}",
        o.runtime
    );
    let outcome = r.faults.clone().expect("a faulty run reports its faults");
    let mut reference = WelfareLog::from_round(plan.end());
    reference_run(m, g, o, plan.end(), &mut reference).unwrap();
    let report = FaultReport::new(plan, &outcome, &log, &reference);
    let mut print = fingerprint(g, &r, &trace.rows);
    print.push(format!("outcome {outcome:?}"));
    print.push(format!("report {report:?}"));
    print
}

/// `schedule` on `market` with `o`: flat, nodes and timely on every [`FAULT_SHAPES`]
/// (every process) give the same fingerprint; returns flat's outcome's
/// (jobs lost, jobs in flight at some round, copies ignored) to show the faults bit.
fn faults_everywhere(
    what: &str,
    market: &ValidMarket,
    schedule: &FaultSchedule,
    o: &EngineOptions,
) -> (f64, f64, u64) {
    let g = ExpandedGraph::new(market);
    let plan = FaultPlan::new(schedule, market, &g, what).unwrap();
    let on = |runtime| EngineOptions { runtime, ..*o };
    let flat = faulty_print(market, &g, &on(Runtime::Flat), &plan);
    same(
        &format!("{what} on nodes"),
        &flat,
        &faulty_print(market, &g, &on(Runtime::Nodes), &plan),
    );
    let timely = on(Runtime::Timely);
    for (workers, processes) in FAULT_SHAPES {
        let prints = on_cluster(workers, processes, || {
            faulty_print(market, &g, &timely, &plan)
        });
        for (p, print) in prints.iter().enumerate() {
            same(
                &format!("{what}, {workers} workers × {processes} processes (process {p})"),
                &flat,
                print,
            );
        }
    }
    let mut trace = Trace::default();
    let mut observers = Observers::new();
    observers.push(&mut trace, ObserverMode::Always);
    let r = run_with_faults(market, &g, &on(Runtime::Flat), Some(&plan), &mut observers).unwrap();
    drop(observers);
    let outcome = r.faults.unwrap();
    let in_flight = trace.rows.iter().map(|t| t.in_flight).fold(0.0, f64::max);
    let copies = outcome.counters.iter().map(|c| c.duplicates_ignored).sum();
    (outcome.lost.iter().sum(), in_flight, copies)
}

/// A short run: the faults (rounds 20 to 100) and some rounds after them.
fn short(variant: Variant, injection: Injection) -> EngineOptions {
    let mut o = EngineOptions::new(variant, injection);
    o.max_rounds = 160;
    o.window = 30;
    o
}

#[test]
fn every_fault_kind_runs_on_timely_bit_for_bit_as_on_flat_and_nodes() {
    let market = examples::linked();
    let g = ExpandedGraph::new(&market);
    let (mut lost, mut in_flight, mut copies) = (0.0, 0.0, 0);
    for (kind, schedule) in fault_schedules(&market) {
        // Every variant under every kind; the mixed schedule on both injection modes.
        let options: Vec<EngineOptions> = if kind == "mixed" {
            common::every_variant_and_injection(&g)
                .into_iter()
                .map(|o| short(o.variant, o.injection))
                .collect()
        } else {
            Variant::ALL
                .into_iter()
                .map(|v| short(v, Injection::Demand))
                .collect()
        };
        for o in options {
            let what = format!("linked, {kind}, {:?} {:?}", o.variant, o.injection);
            let (l, f, c) = faults_everywhere(&what, &market, &schedule, &o);
            lost += l;
            in_flight = f64::max(in_flight, f);
            copies += c;
        }
    }
    // Not vacuous: jobs were lost, delayed jobs were in flight, copies were ignored.
    assert!(
        lost > 0.0 && in_flight > 0.0 && copies > 0,
        "{lost} {in_flight} {copies}"
    );
}

#[test]
fn a_mixed_fault_schedule_runs_on_timely_as_on_flat_on_other_markets() {
    let mut markets: Vec<(String, ValidMarket)> = vec![("figure3".into(), examples::figure3())];
    for seed in 1..=2u64 {
        let config = GeneratorConfig {
            users: 4 + seed as usize,
            brokers: 2,
            providers: 2 + seed as usize,
            broker_link_probability: 0.5,
            ..GeneratorConfig::default()
        };
        markets.push((
            format!("generated {seed}"),
            generate(&config, seed).unwrap(),
        ));
    }
    for (name, market) in &markets {
        let (kind, mixed) = fault_schedules(market).pop().unwrap();
        assert_eq!(kind, "mixed");
        for variant in Variant::ALL {
            let o = short(variant, Injection::Demand);
            faults_everywhere(&format!("{name}, mixed, {variant:?}"), market, &mixed, &o);
        }
    }
}

/// The state file's text after `rounds` rounds of `o` on `runtime` (every process's, on
/// timely's cluster shapes).
fn saved_text(m: &ValidMarket, g: &ExpandedGraph, o: &EngineOptions, rounds: usize) -> String {
    let mut e = Engine::new(m, g, o).unwrap();
    e.advance(rounds, &mut Observers::new());
    replan::write_state(&e.save(m).unwrap())
}

/// `saved` resumed with `o` on `m` and run to the end: the run's fingerprint, and what
/// resuming carried and dropped.
fn resumed_print(
    m: &ValidMarket,
    g: &ExpandedGraph,
    o: &EngineOptions,
    saved: &replan::SavedState,
) -> Vec<String> {
    let (e, resumed) = replan::resume(m, g, o, saved).unwrap();
    let r = e.run(&mut Observers::new());
    let mut print = fingerprint(g, &r, &[]);
    print.push(format!("resumed {resumed:?}"));
    print
}

#[test]
fn timely_saves_the_same_state_bytes_and_resumes_as_flat() {
    for (name, market) in [
        ("figure3", examples::figure3()),
        ("linked", examples::linked()),
    ] {
        let g = ExpandedGraph::new(&market);
        // Demands changed for the re-plan: the first user's × 1.5, the last's × 0.5.
        let mut changed = market.clone().into_market();
        changed.users[0].demand *= 1.5;
        let last = changed.users.len() - 1;
        changed.users[last].demand *= 0.5;
        let changed = changed.validate().unwrap();
        let g2 = ExpandedGraph::new(&changed);
        for variant in Variant::ALL {
            let mut o = EngineOptions::new(variant, Injection::Demand);
            (o.max_rounds, o.window) = (400, 50);
            let on = |runtime| EngineOptions { runtime, ..o };
            let what = format!("{name} {variant:?}");
            // Saved mid-run (the window full, nothing converged): the same bytes.
            let flat = saved_text(&market, &g, &on(Runtime::Flat), 137);
            assert_eq!(
                saved_text(&market, &g, &on(Runtime::Nodes), 137),
                flat,
                "{what}"
            );
            let timely = on(Runtime::Timely);
            for (workers, processes) in FAULT_SHAPES {
                for text in on_cluster(workers, processes, || saved_text(&market, &g, &timely, 137))
                {
                    assert_eq!(text, flat, "{what}: saved on {workers} × {processes}");
                }
            }
            // Resumed on the same market and re-planned: as flat resumes.
            let saved = replan::read_state(&flat).unwrap();
            let same_market = resumed_print(&market, &g, &on(Runtime::Flat), &saved);
            let replanned = resumed_print(&changed, &g2, &on(Runtime::Flat), &saved);
            for (workers, processes) in FAULT_SHAPES {
                let shape = format!("{what}, {workers} workers × {processes} processes");
                for print in on_cluster(workers, processes, || {
                    resumed_print(&market, &g, &timely, &saved)
                }) {
                    same(&format!("{shape}, resumed"), &same_market, &print);
                }
                for print in on_cluster(workers, processes, || {
                    resumed_print(&changed, &g2, &timely, &saved)
                }) {
                    same(&format!("{shape}, re-planned"), &replanned, &print);
                }
            }
        }
    }
}
