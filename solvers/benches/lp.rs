//! Criterion benchmarks of the LP baselines (design §4): build and solve of P1 and P3
//! on generated markets, sizes in the bench names, per pure-Rust backend. The largest
//! sizes and planar30 are in `brokerflow bench lp`, which runs each measurement in its
//! own process under a time limit.

// criterion's macros define undocumented items.
#![allow(missing_docs)]

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::bench::markets::{generated, LP_SIZES};
use brokerflow_solvers::lp::{self, Backend, LpOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn market(users: usize, brokers: usize, providers: usize) -> ExpandedGraph {
    ExpandedGraph::new(&generated(users, brokers, providers, 1).expect("valid config"))
}

fn lp_baselines(c: &mut Criterion) {
    let mut group = c.benchmark_group("lp");
    group.sample_size(10);
    // The three smallest sizes of `brokerflow bench lp`.
    for &(k, b, p) in &LP_SIZES[..3] {
        let g = market(k, b, p);
        let size = format!("{k}x{b}x{p}");
        group.bench_with_input(BenchmarkId::new("build_p3", &size), &g, |bench, g| {
            bench.iter(|| lp::welfare_formulation(g))
        });
        for backend in Backend::available() {
            let options = LpOptions {
                backend,
                prices: false,
            };
            group.bench_with_input(
                BenchmarkId::new(format!("p1_{backend}"), &size),
                &g,
                |bench, g| bench.iter(|| lp::max_concurrent_flow(g, &options).unwrap()),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("p3_{backend}"), &size),
                &g,
                |bench, g| bench.iter(|| lp::max_welfare(g, &options).unwrap()),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, lp_baselines);
criterion_main!(benches);
