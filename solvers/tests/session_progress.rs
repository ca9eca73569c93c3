//! The sessions' progress callbacks on `tiny` (graphs/markets/tiny.md works its
//! numbers by hand): the LP session reports each LP's build, solve and check from
//! inside the solve: 17 variables for P1 (G′'s 16 usable pairs and δ), 16 for P2, 12
//! for P3 (u3's 4 pairs lie on no route of non-negative margin), and the backend that
//! actually runs; VCG reports one re-solve per
//! participant that trades at P3's optimum — u1, u2, b1, b2, p1 and p2 (u3 is dropped
//! entirely, tiny.md §7) — six in all.

use std::sync::{Arc, Mutex};

use brokerflow_graphs::{examples, ExpandedGraph, ValidMarket};
use brokerflow_solvers::engine::settings::EngineSettings;
use brokerflow_solvers::lp::{Backend, LpStep, Objective};
use brokerflow_solvers::settle::session::{self, Request, ResolveObserver, SettleSettings};
use brokerflow_solvers::settle::{AllocationRule, Bids, Declared};
use brokerflow_solvers::solve::{LpPhase, SolveRequest};
use brokerflow_solvers::workload;

/// The phases of LP `position` of `of` (objective `objective`): `steps` in order.
fn phases_of(objective: Objective, position: usize, of: usize, steps: &[LpStep]) -> Vec<LpPhase> {
    steps
        .iter()
        .map(|&step| LpPhase {
            objective,
            position,
            of,
            step,
        })
        .collect()
}

/// One LP's three steps: built with `variables`, solved by `backend`, checked.
fn steps(lp: Objective, variables: usize, backend: Backend) -> [LpStep; 3] {
    [
        LpStep::Building { lp, variables },
        LpStep::Solving { lp, backend },
        LpStep::Checking { lp },
    ]
}

#[test]
fn the_lp_session_reports_each_lps_build_and_solve() {
    let g = ExpandedGraph::new(&examples::tiny());
    let request = SolveRequest {
        objective: vec![Objective::Concurrent, Objective::Welfare],
        backend: Backend::Auto,
    };
    let mut phases = Vec::new();
    let solved = request.solve(&g, &mut |p| phases.push(p)).unwrap();
    assert_eq!(solved.len(), 2);
    assert_eq!(
        phases[1].to_string(),
        format!(
            "LP 1 of 2, {}: solving P1 with microlp",
            Objective::Concurrent.title()
        )
    );
    // P3 is built on the usable pairs on a path of non-negative margin: u3's only
    // route u3 → b2 → p2 has margin 2 − 3 = −1 (tiny.md §7), so its 4 usable pairs
    // (e3, e7, e8, e12 in tiny.md) are pruned and P3 has 16 − 4 = 12 variables (u1's
    // route has margin 20 − 1 = 19, u2's 8 − 2 = 6 and 8 − 6 = 2: all kept), where the
    // size estimate counts all 16.
    assert_eq!(workload::lp_estimate(&g, Objective::Welfare).variables, 16);
    // Up to 2 000 variables `auto` is microlp: the backend named is the one `auto`
    // resolves for the built LP's own count, and the one that answered.
    assert_eq!(Backend::Auto.resolve(17), Backend::Microlp);
    assert_eq!(Backend::Auto.resolve(12), Backend::Microlp);
    let mut expected = phases_of(
        Objective::Concurrent,
        1,
        2,
        &steps(Objective::Concurrent, 17, Backend::Auto.resolve(17)),
    );
    expected.extend(phases_of(
        Objective::Welfare,
        2,
        2,
        &steps(Objective::Welfare, 12, Backend::Auto.resolve(12)),
    ));
    assert_eq!(phases, expected);
    for (_, r) in &solved {
        assert_eq!(r.as_ref().unwrap().solution.backend, Backend::Microlp);
    }
}

/// P2 solves P1 first for δ* (tiny: δ* = 1/2, so every user keeps an amount > 0 and
/// P2 has all 16 usable pairs); a backend named on the command line is the one that
/// runs, whatever the size.
#[test]
fn p2_reports_p1_first_and_a_named_backend_runs_as_named() {
    let g = ExpandedGraph::new(&examples::tiny());
    let request = SolveRequest {
        objective: vec![Objective::Utility],
        backend: Backend::Clarabel,
    };
    let mut phases = Vec::new();
    let solved = request.solve(&g, &mut |p| phases.push(p)).unwrap();
    let mut expected = steps(Objective::Concurrent, 17, Backend::Clarabel).to_vec();
    expected.extend(steps(Objective::Utility, 16, Backend::Clarabel));
    assert_eq!(phases, phases_of(Objective::Utility, 1, 1, &expected));
    assert_eq!(
        solved[0].1.as_ref().unwrap().solution.backend,
        Backend::Clarabel
    );
    assert_eq!(
        phases[3].to_string(),
        format!(
            "LP 1 of 1, {}: building P2 (16 variables)",
            Objective::Utility.title()
        )
    );
}

/// `tiny` at its true bids, settled by vcg at P3's allocation (or only allocated when
/// `settles` is false); the request's options count the re-solves into the returned list.
#[allow(clippy::type_complexity)]
fn vcg_on_tiny(
    settles: bool,
) -> (
    ValidMarket,
    Declared,
    Request,
    Arc<Mutex<Vec<(usize, usize)>>>,
) {
    let truth = examples::tiny();
    let g = ExpandedGraph::new(&truth);
    let declared = Bids::default().apply(&truth).unwrap();
    let settings = SettleSettings {
        allocation: AllocationRule::Lp,
        mechanism: "vcg".parse().unwrap(),
    };
    let engine = EngineSettings::default();
    let mut options = session::options(&truth, &g, &settings, &engine, None).unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    options.resolves = ResolveObserver::new(move |done, of| seen.lock().unwrap().push((done, of)));
    let request = Request {
        settings,
        engine,
        options,
        force: false,
        settles,
    };
    (truth, declared, request, calls)
}

#[test]
fn vcg_reports_one_resolve_per_trading_participant() {
    let (truth, declared, request, calls) = vcg_on_tiny(true);
    let mut phases = Vec::new();
    let settled = session::run(&truth, &declared, &request, &mut |p| {
        phases.push(p.to_string())
    });
    let statement = settled.unwrap().unwrap().statement;
    assert!((statement.welfare - 141.0).abs() < 1e-6);
    assert_eq!(
        phases,
        [
            "allocating: P3 maximum welfare at the declared bids",
            "settling: vcg"
        ]
    );
    let mut calls = calls.lock().unwrap().clone();
    calls.sort();
    assert_eq!(calls, (1..=6).map(|i| (i, 6)).collect::<Vec<_>>());
}

#[test]
fn a_session_that_only_allocates_settles_nothing_and_resolves_nothing() {
    let (truth, declared, request, calls) = vcg_on_tiny(false);
    let done = session::run(&truth, &declared, &request, &mut |_| {});
    assert!(done.unwrap().is_none());
    assert!(calls.lock().unwrap().is_empty());
}
