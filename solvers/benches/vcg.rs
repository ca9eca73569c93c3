//! Benchmark of VCG settlement (design §6): one P3 re-solve per trading
//! participant, in parallel with rayon ([Dist-Auctioneer] parallelises exactly this step), on
//! generated markets of 20, 200 and 1 000 users with 1 and 2 threads.
//!
//! 20 and 200 users run under criterion (sizes and threads in the bench names);
//! 1 000 users — seconds per run — is timed once per thread count and printed as a
//! table with the speed-up, since criterion's minimum of 10 samples would take
//! minutes. Run: `cargo bench -p brokerflow-solvers --bench vcg`.

// criterion's macros define undocumented items.
#![allow(missing_docs)]

use brokerflow_solvers::settle::vcg::Vcg;
use std::time::Instant;

use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::bench::markets::generated;
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::{settle, Allocation, SettleOptions, Statement};
use criterion::{BenchmarkId, Criterion};

fn market(users: usize, brokers: usize, providers: usize) -> ValidMarket {
    generated(users, brokers, providers, 1).expect("valid config")
}

/// VCG on `m` (truthful bids) in a pool of `threads` threads, P3 allocation included.
fn vcg(m: &ValidMarket, threads: usize) -> Statement {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let allocation = Allocation::lp(&ExpandedGraph::new(m), Backend::DEFAULT).expect("P3");
        settle(m, m, &allocation, &Vcg, &SettleOptions::default()).expect("vcg")
    })
}

fn main() {
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    {
        let mut group = c.benchmark_group("vcg");
        for (k, b, p) in [(20, 5, 5), (200, 20, 20)] {
            let m = market(k, b, p);
            for threads in [1, 2] {
                group.bench_with_input(
                    BenchmarkId::new(format!("{k}x{b}x{p}"), format!("{threads}threads")),
                    &m,
                    |bench, m| bench.iter(|| vcg(m, threads)),
                );
            }
        }
        group.finish();
    }
    c.final_summary();
    // One timed run per thread count for every size, as a table for the README.
    println!("\n| market (K,B,P) | P3 re-solves | 1 thread s | 2 threads s | speed-up |");
    println!("|---|---:|---:|---:|---:|");
    for (k, b, p) in [(20, 5, 5), (200, 20, 20), (1000, 50, 50)] {
        let m = market(k, b, p);
        let mut seconds = Vec::new();
        let mut solves = String::new();
        for threads in [1, 2] {
            let start = Instant::now();
            let s = vcg(&m, threads);
            seconds.push(start.elapsed().as_secs_f64());
            solves = s
                .notes
                .first()
                .and_then(|n| n.split_whitespace().next())
                .unwrap_or("?")
                .to_string();
        }
        println!(
            "| {k},{b},{p} | {solves} | {:.3} | {:.3} | {:.2} |",
            seconds[0],
            seconds[1],
            seconds[0] / seconds[1]
        );
    }
}
