//! Properties of the LP baselines on random generated markets (design §4, §7).
//!
//! 60 markets (seeds 0..60) of 3–14 users, 2–5 brokers and 2–5 providers, with and
//! without broker→broker links and eligibility lists, at contention 0.5, 1, 2 and 4.

use brokerflow_graphs::formats::flows_csv::{read_flows, write_flows};
use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::check::{check_flow, Tolerance};
use brokerflow_solvers::lp::{self, Backend, LpOptions, LpStatus, Objective};

const MARKETS: u64 = 60;

fn market(seed: u64) -> ValidMarket {
    let config = GeneratorConfig {
        users: 3 + (seed % 12) as usize,
        brokers: 2 + (seed % 4) as usize,
        providers: 2 + ((seed / 4) % 4) as usize,
        broker_link_probability: if seed % 3 == 0 { 0.3 } else { 0.0 },
        eligibility: if seed % 2 == 0 { 0.5 } else { 0.0 },
        contention: [0.5, 1.0, 2.0, 4.0][(seed % 4) as usize],
        ..GeneratorConfig::default()
    };
    generate(&config, seed).expect("valid generator config")
}

fn rel_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn options() -> LpOptions {
    LpOptions {
        backend: Backend::DEFAULT,
        prices: true,
    }
}

#[test]
fn flows_are_feasible_acyclic_and_ordered() {
    for seed in 0..MARKETS {
        let m = market(seed);
        let g = ExpandedGraph::new(&m);
        let p1 = lp::max_concurrent_flow(&g, &options()).unwrap();
        let p2 = lp::max_utility_flow(&g, &options()).unwrap();
        let p3 = lp::max_welfare(&g, &options()).unwrap();
        let p2m = (!g.is_cyclic()).then(|| lp::min_utility_flow(&g, &options()).unwrap());
        for s in [Some(&p1), Some(&p2), Some(&p3), p2m.as_ref()]
            .into_iter()
            .flatten()
        {
            let Some(flow) = &s.flow else {
                assert_eq!(s.status, LpStatus::Unbounded);
                continue;
            };
            let report = check_flow(&g, flow, Tolerance::new(1e-6));
            assert!(
                report.ok(),
                "seed {seed} {:?}: {}",
                s.objective,
                report.summary()
            );
            assert!(
                report.cyclic.is_empty(),
                "seed {seed} {:?}: cyclic",
                s.objective
            );
        }
        let w2 = p2.welfare(&g).unwrap();
        let w3 = p3.welfare(&g).unwrap();
        assert!(
            w2 <= w3 + 1e-6 * w3.abs().max(1.0),
            "seed {seed}: P2 {w2} > P3 {w3}"
        );
        if let Some(p2m) = &p2m {
            let w2m = p2m.welfare(&g).unwrap();
            assert!(
                w2m <= w2 + 1e-6 * w2.abs().max(1.0),
                "seed {seed}: P2- {w2m} > P2 {w2}"
            );
        }
        // P1's flow, scaled to min(δ*,1), serves P2's amounts: it is one routing of
        // them, so its welfare lies between the worst and the best routing.
        if let Some(flow) = &p1.flow {
            let amounts = lp::utility_amounts(&g, p1.delta);
            for (k, a) in amounts.iter().enumerate() {
                assert!(
                    rel_close(flow.served(&g, k), *a),
                    "seed {seed} commodity {k}"
                );
            }
            let w1 = flow.welfare(&g);
            assert!(
                w1 <= w2 + 1e-6 * w2.abs().max(1.0),
                "seed {seed}: P1 flow {w1} > P2 {w2}"
            );
            if let Some(p2m) = &p2m {
                let w2m = p2m.welfare(&g).unwrap();
                assert!(
                    w1 + 1e-6 * w1.abs().max(1.0) >= w2m,
                    "seed {seed}: P1 flow below P2-"
                );
            }
        }
        // P3's served amounts respect demand; prices are non-negative, zero on slack
        // resources (complementary slackness) and the explicit dual closes the gap.
        let prices = p3.prices.as_ref().unwrap();
        let binding: Vec<usize> = p3.binding(&g).iter().map(|(n, _)| n.index()).collect();
        for (n, &p) in prices.iter().enumerate() {
            assert!(p >= 0.0, "seed {seed}: negative price");
            if p > 1e-7 {
                assert!(
                    binding.contains(&n),
                    "seed {seed}: price {p} on a slack node {n}"
                );
            }
        }
        assert!(
            p3.duality_gap.unwrap() <= 1e-6 * w3.abs().max(1.0),
            "seed {seed}: duality gap"
        );
    }
}

#[test]
fn scaling_capacities_scales_delta() {
    for seed in 0..MARKETS {
        let m = market(seed);
        let g = ExpandedGraph::new(&m);
        let base = lp::max_concurrent_flow(&g, &options()).unwrap();
        for c in [0.5, 3.0] {
            let mut scaled = m.clone().into_market();
            scaled
                .brokers
                .iter_mut()
                .for_each(|b| b.capacity = b.capacity.map(|x| x * c));
            scaled
                .providers
                .iter_mut()
                .for_each(|p| p.capacity = p.capacity.map(|x| x * c));
            scaled
                .links
                .iter_mut()
                .for_each(|l| l.bandwidth = l.bandwidth.map(|x| x * c));
            let scaled = scaled.validate().unwrap();
            let s = lp::max_concurrent_flow(&ExpandedGraph::new(&scaled), &options()).unwrap();
            match (base.delta, s.delta) {
                (Some(d), Some(ds)) => {
                    assert!(rel_close(ds, c * d), "seed {seed}: {ds} vs {c}·{d}")
                }
                (None, None) => {}
                other => panic!("seed {seed}: boundedness changed with scaling: {other:?}"),
            }
        }
    }
}

#[test]
fn evaluating_a_written_flow_reproduces_its_welfare() {
    for seed in 0..MARKETS {
        let m = market(seed);
        let g = ExpandedGraph::new(&m);
        for o in [Objective::Utility, Objective::Welfare] {
            let s = lp::solve(&g, o, &options()).unwrap();
            let flow = s.flow.as_ref().unwrap();
            let csv = write_flows(&m, &g, flow);
            let (back, issues) = read_flows(&m, &g, &csv, "written").unwrap();
            assert!(issues.is_empty(), "seed {seed}: {issues:?}");
            assert_eq!(back.welfare(&g), flow.welfare(&g), "seed {seed} {o:?}");
        }
    }
}

/// Two independent solvers (simplex and interior point) agree on every optimum.
#[test]
fn backends_agree() {
    for seed in 0..MARKETS / 3 {
        let m = market(seed);
        let g = ExpandedGraph::new(&m);
        let mut seen: Vec<(Option<f64>, f64)> = Vec::new();
        for backend in Backend::available() {
            let opts = LpOptions {
                backend,
                prices: false,
            };
            let p1 = lp::max_concurrent_flow(&g, &opts).unwrap();
            let p3 = lp::max_welfare(&g, &opts).unwrap();
            seen.push((p1.delta, p3.welfare(&g).unwrap()));
        }
        for w in seen.windows(2) {
            match (w[0].0, w[1].0) {
                (Some(a), Some(b)) => assert!(rel_close(a, b), "seed {seed}: delta {a} vs {b}"),
                (a, b) => assert_eq!(a, b, "seed {seed}"),
            }
            assert!(
                rel_close(w[0].1, w[1].1),
                "seed {seed}: P3 {} vs {}",
                w[0].1,
                w[1].1
            );
        }
    }
}
