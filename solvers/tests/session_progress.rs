//! The sessions' progress callbacks on `tiny` (graphs/markets/tiny.md works its
//! numbers by hand): the LP session reports each LP's build and solve, with G′'s 16
//! usable pairs as P3's variables (17 for P1, with δ); VCG reports one re-solve per
//! participant that trades at P3's optimum — u1, u2, b1, b2, p1 and p2 (u3 is dropped
//! entirely, tiny.md §7) — six in all.

use std::sync::{Arc, Mutex};

use brokerflow_graphs::{examples, ExpandedGraph, ValidMarket};
use brokerflow_solvers::engine::settings::EngineSettings;
use brokerflow_solvers::lp::{Backend, Objective};
use brokerflow_solvers::settle::session::{self, Request, ResolveObserver, SettleSettings};
use brokerflow_solvers::settle::{AllocationRule, Bids, Declared};
use brokerflow_solvers::solve::{LpPhase, SolveRequest};

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
            "LP 1 of 2, {}: solving with microlp, then checking it independently",
            Objective::Concurrent.title()
        )
    );
    let building = |objective, position, variables| LpPhase::Building {
        objective,
        position,
        of: 2,
        variables,
    };
    // Up to 2 000 variables `auto` is microlp.
    let solving = |objective, position| LpPhase::Solving {
        objective,
        position,
        of: 2,
        backend: Backend::Microlp,
    };
    assert_eq!(
        phases,
        [
            building(Objective::Concurrent, 1, 17),
            solving(Objective::Concurrent, 1),
            building(Objective::Welfare, 2, 16),
            solving(Objective::Welfare, 2),
        ]
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
