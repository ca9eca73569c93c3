//! A run's served amounts are routable and its welfare counts no job a draining queue
//! released: the served amounts are the steady flow's, bounded by what each source
//! admitted over the window ([MCF-Grid] §5's window-averaged outputs).

use brokerflow_graphs::{examples, ExpandedGraph, Flow, Market};
use brokerflow_solvers::check::{check_flow, Tolerance};
use brokerflow_solvers::compare::{compare_market, CompareOptions, InjectionMode, Method};
use brokerflow_solvers::engine::{self, EngineOptions, Injection, Variant};
use brokerflow_solvers::lp::{self, LpOptions, Objective};

mod common;
use common::repo_file;

/// Total jobs per round over the G′ edge `from` → `to`, every commodity.
fn over(g: &ExpandedGraph, flow: &Flow, from: &str, to: &str) -> f64 {
    let e = g
        .graph
        .find_edge(g.node_named(from).unwrap(), g.node_named(to).unwrap())
        .unwrap_or_else(|| panic!("no edge {from} -> {to}"));
    (0..g.commodities.len()).map(|k| flow.get(g, k, e)).sum()
}

/// tiny (graphs/markets/tiny.md, by hand): u1's only way out is the link u1→b1 of
/// bandwidth 5, b1→b2 carries 8 and b2→p2 15. In feasible mode every source admits
/// a_k = (1 − η)·δ*·d_k = 0.98·0.5·d_k: 4.9 for u1, 9.8 for u2, 4.9 for u3. Every
/// variant in both modes serves within those bandwidths and at most what its sources
/// admitted, its flow passes the independent check, and its welfare is at most its
/// flow's (W counts the costs of every job moved, the values of the served ones only).
#[test]
fn on_tiny_the_served_amounts_fit_the_bandwidths() {
    let m = examples::tiny();
    let g = ExpandedGraph::new(&m);
    let feasible = Injection::Feasible { delta: Some(0.5) };
    for variant in Variant::ALL {
        for injection in [feasible, Injection::Demand] {
            let what = format!("{} {}", variant.name(), injection.name());
            let r = engine::run(&m, &g, &EngineOptions::new(variant, injection)).unwrap();
            assert!(r.converged, "{what}: {} rounds", r.rounds);
            let report = check_flow(&g, &r.flow, Tolerance::new(1e-9));
            assert!(report.ok(), "{what}: {}", report.summary());
            let u1 = r.served(&g, 0);
            assert!(
                u1 <= 5.0 + 1e-9,
                "{what}: u1 served {u1} over its 5-job link"
            );
            for (from, to, bandwidth) in [
                ("u1", "u1->b1", 5.0),
                ("b1", "b1->b2", 8.0),
                ("b2", "b2->p2", 15.0),
            ] {
                let x = over(&g, &r.flow, from, to);
                assert!(x <= bandwidth + 1e-9, "{what}: {x} over {from}->{to}");
            }
            for (k, c) in g.commodities.iter().enumerate() {
                let admitted = r.injected[k] - r.discarded[k];
                assert!(
                    r.served(&g, k) <= admitted * (1.0 + 1e-12),
                    "{what}: {} served {} of {admitted} admitted",
                    c.id,
                    r.served(&g, k)
                );
                if injection == feasible {
                    let a = 0.98 * 0.5 * c.demand;
                    assert!(
                        r.served(&g, k) <= a * (1.0 + 1e-12),
                        "{what}: {} served {} > a = {a}",
                        c.id,
                        r.served(&g, k)
                    );
                }
            }
            let (w, wf) = (r.welfare(&g), r.flow.welfare(&g));
            assert!(
                w <= wf + 1e-9 * wf.abs().max(1.0),
                "{what}: W {w} > W(flow) {wf}"
            );
        }
    }
}

/// Every bundled market file × variant × mode, as `compare` runs them: P2 at the
/// amounts a row served is feasible (solved here again, independently of the row),
/// and no row carries a note that it was not; in feasible mode gap_closed is at most
/// 1 where it is defined (W ≤ W(flow) ≤ P2 at the served amounts).
#[test]
fn p2_at_the_served_amounts_is_feasible_on_every_bundled_market() {
    let dir = repo_file("graphs/markets");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut o = CompareOptions::new();
    o.methods = Variant::ALL
        .iter()
        .flat_map(|&variant| {
            [InjectionMode::Feasible, InjectionMode::Demand]
                .map(|mode| Method::Engine { variant, mode })
        })
        .collect();
    let lp_options = LpOptions::default();
    let mut rows = 0;
    for file in &files {
        let m = Market::load(file).unwrap();
        let g = ExpandedGraph::new(&m);
        let delta = lp::max_concurrent_flow(&g, &lp_options).unwrap().delta;
        for row in compare_market(&m, &g, &o) {
            let what = format!("{} {:?}", file.display(), row.method);
            assert!(row.error.is_none(), "{what}: {:?}", row.error);
            let flow = row.flow.as_ref().unwrap();
            let served: Vec<f64> = (0..g.commodities.len())
                .map(|k| flow.served(&g, k))
                .collect();
            let p2 = lp::utility_flow_for(&g, Objective::Utility, delta, &served, &lp_options);
            assert!(p2.is_ok(), "{what}: P2 at {served:?}: {:?}", p2.err());
            for note in &row.notes {
                assert!(!note.contains("P2 at the served amounts"), "{what}: {note}");
            }
            if let Some(gap) = row.gap_closed {
                assert!(gap <= 1.0 + 1e-6, "{what}: gap_closed {gap}");
            }
            rows += 1;
        }
    }
    assert_eq!(rows, files.len() * 6);
}
