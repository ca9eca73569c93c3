//! Benchmark of the replicated auctioneer (design §10) against the centralised
//! settlement, after [Dist-Auctioneer]'s Figs. 4–5: the double auction (mcafee) for
//! 125 … 1 000 users at m = 8 replicas, k = 1, 2, 3; VCG at 125 and 1 000 users with
//! 1, 2 and 4 payment groups (m = 3, k = 1; m = 8, k = 3; m = 8, k = 1). Channels,
//! and TCP on loopback for mcafee at k = 1.
//!
//! Every configuration runs once (seconds per run; criterion's ten samples would
//! take many minutes) and its statement is checked equal to the centralised one.
//! The centralised VCG is timed serially (one rayon thread, the paper's p = 1) and
//! with two threads. Printed as Markdown tables for the README. Run:
//! `cargo bench -p brokerflow-solvers --bench replicated`.

// A bench binary: its helpers need no docs.
#![allow(missing_docs)]

use brokerflow_solvers::settle::{mcafee::Mcafee, vcg::Vcg};
use std::time::{Duration, Instant};

use brokerflow_graphs::{ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::bench::markets::generated;
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::replicated::{
    settle_replicated, Outcome, ReplicatedRun, ReplicationConfig, TransportKind,
};
use brokerflow_solvers::settle::vcg::VcgPayments;
use brokerflow_solvers::settle::{
    settle, Allocation, Mechanism, Participants, Setting, SettleOptions, Statement,
};

fn market(users: usize) -> ValidMarket {
    generated(users, (users / 25).max(2), 8, 1).expect("valid config")
}

/// The centralised settlement in a pool of `threads` rayon threads, P3 included.
fn centralised(
    m: &ValidMarket,
    mechanism: &'static dyn Mechanism,
    threads: usize,
) -> (Statement, f64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let start = Instant::now();
    let s = pool.install(|| {
        let allocation = Allocation::lp(&ExpandedGraph::new(m), Backend::DEFAULT).expect("P3");
        settle(m, m, &allocation, mechanism, &SettleOptions::default()).expect("settle")
    });
    (s, start.elapsed().as_secs_f64())
}

/// A replicated run over channels, checked equal to the centralised statement.
fn replicated(
    m: &Market,
    mechanism: &'static dyn Mechanism,
    r: usize,
    k: usize,
    expected: &Statement,
) -> ReplicatedRun {
    over(m, mechanism, r, k, expected, TransportKind::Channels)
}

/// A replicated run over `transport`, checked equal to the centralised statement.
fn over(
    m: &Market,
    mechanism: &'static dyn Mechanism,
    r: usize,
    k: usize,
    expected: &Statement,
    transport: TransportKind,
) -> ReplicatedRun {
    let config = ReplicationConfig {
        timeout: Duration::from_secs(600),
        transport,
        ..ReplicationConfig::new(mechanism, r, k)
    };
    let run = settle_replicated(m, m, &config, &[]).expect("replicated run");
    match &run.outcome {
        Outcome::Settled(s) => assert_eq!(**s, *expected, "replicated statement differs"),
        Outcome::Aborted(a) => panic!("an honest run aborted: {a:?}"),
    }
    run
}

/// The critical path of a VCG run with one core per replica, estimated by timing
/// its tasks one after the other in this thread: task 1 (P3 and the warm-start
/// base, run by every replica at once) plus the slowest payment group's re-solves
/// (the groups run at once). Communication excluded; an estimate, not a run.
fn one_core_per_replica(m: &ValidMarket, run: &ReplicatedRun) -> f64 {
    let start = Instant::now();
    let s = Setting::new(m, m);
    let allocation = Allocation::lp(&s.g_declared, Backend::DEFAULT).expect("P3");
    let payments = VcgPayments::new(&s, &allocation, &SettleOptions::default()).expect("vcg");
    let task1 = start.elapsed().as_secs_f64();
    let who = Participants::of(m);
    let index = |id: &str| (0..who.len()).find(|&i| who.id(m, i) == id).expect("id");
    let slowest = run
        .replication
        .groups
        .iter()
        .map(|g| {
            let start = Instant::now();
            for id in &g.participants {
                payments.transfer(&s, index(id)).expect("re-solve");
            }
            start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max);
    task1 + slowest
}

fn main() {
    println!("\n### mcafee (double auction), m = 8 replicas\n");
    println!("| users | centralised s | k = 1 s | k = 2 s | k = 3 s | k = 1 over TCP s | messages (k = 1) | bytes (k = 1) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for users in [125, 250, 500, 1000] {
        let m = market(users);
        let (expected, central) = centralised(&m, &Mcafee, 1);
        let runs: Vec<ReplicatedRun> = (1..=3)
            .map(|k| replicated(&m, &Mcafee, 8, k, &expected))
            .collect();
        let tcp = over(&m, &Mcafee, 8, 1, &expected, TransportKind::Tcp);
        println!(
            "| {users} | {central:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |",
            runs[0].replication.timing.wall_seconds,
            runs[1].replication.timing.wall_seconds,
            runs[2].replication.timing.wall_seconds,
            tcp.replication.timing.wall_seconds,
            runs[0].replication.messages,
            runs[0].replication.bytes,
        );
    }
    println!("\n### vcg, payments in payment groups\n");
    println!("| users | P3 re-solves | centralised 1 thread s | centralised 2 threads s | 1 group (m = 3, k = 1) s | 2 groups (m = 8, k = 3) s | 4 groups (m = 8, k = 1) s | one core per replica, estimated: 1 / 2 / 4 groups s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    for users in [125, 1000] {
        let m = market(users);
        let (expected, serial) = centralised(&m, &Vcg, 1);
        let (_, two) = centralised(&m, &Vcg, 2);
        let solves = expected
            .notes
            .first()
            .and_then(|n| n.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        let runs: Vec<ReplicatedRun> = [(3, 1), (8, 3), (8, 1)]
            .into_iter()
            .map(|(r, k)| replicated(&m, &Vcg, r, k, &expected))
            .collect();
        let t: Vec<f64> = runs
            .iter()
            .map(|r| r.replication.timing.wall_seconds)
            .collect();
        let e: Vec<f64> = runs.iter().map(|r| one_core_per_replica(&m, r)).collect();
        println!(
            "| {users} | {solves} | {serial:.3} | {two:.3} | {:.3} | {:.3} | {:.3} | {:.3} / {:.3} / {:.3} |",
            t[0], t[1], t[2], e[0], e[1], e[2]
        );
    }
}
