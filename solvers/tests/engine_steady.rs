//! Convergence that is not fooled (design §5): a run stops when every commodity's
//! amounts have settled — what its source admits reaches its collection point, within
//! ε — and the window welfare has settled too, never while a queue is still filling.
//! And momentum on pushes (design §5's push, [Local-MCF]) adds β × the node's own last
//! push, by hand.

use brokerflow_graphs::{ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::node::*;
use brokerflow_solvers::engine::protocol::Local;
use brokerflow_solvers::engine::variants::{fair::Fair, Nothing};
use brokerflow_solvers::engine::{
    run_observed, EngineOptions, Injection, ObserverMode, Observers, Potential, Trace, Variant,
};
use brokerflow_solvers::lp::{self, LpOptions};

/// costs-K5 seed 68 of experiments/welfare.toml (`brokerflow experiment
/// experiments/welfare.toml --emit costs-K5 68`): P3 = 0.81 money, and one user (u4)
/// admits 2.64 jobs per round into a broker whose outgoing link carries 2.40. The
/// earlier test (admitted − absorbed ≤ ε·d_k per round, ε·d_k = 0.35) stopped while
/// that queue was still filling, at 78.6 % of P3 (experiments/welfare.md).
fn seed68() -> ValidMarket {
    let path = format!(
        "{}/tests/data/costs-K5-seed68.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Market::load(&path).unwrap()
}

/// Runs welfare-seeking in demand mode with the trace, returns (percent of P3,
/// rounds, window, trace rows).
fn demand_run(o: EngineOptions) -> (f64, usize, usize, Trace) {
    let m = seed68();
    let g = ExpandedGraph::new(&m);
    let p3 = lp::max_welfare(&g, &LpOptions::default()).unwrap();
    let optimum = p3.welfare(&g).unwrap();
    let mut trace = Trace::default();
    let mut observers = Observers::new();
    observers.push(&mut trace, ObserverMode::Always);
    let r = run_observed(&m, &g, &o, &mut observers).unwrap();
    assert!(r.converged, "{} rounds", r.rounds);
    (100.0 * r.welfare(&g) / optimum, r.rounds, o.window, trace)
}

/// Over the last window, per commodity: |jobs held at the end − at the start| (what
/// was admitted and not absorbed, by the ledger), and what was admitted.
fn last_window_drift(trace: &Trace, rounds: usize, window: usize) -> Vec<(f64, f64)> {
    let k_max = trace.rows.iter().map(|r| r.commodity).max().unwrap() + 1;
    let at = |round: usize, k: usize| {
        trace
            .rows
            .iter()
            .find(|r| r.round == round && r.commodity == k)
            .unwrap()
    };
    (0..k_max)
        .map(|k| {
            let admitted: f64 = trace
                .rows
                .iter()
                .filter(|r| r.commodity == k && r.round > rounds - window)
                .map(|r| r.injected - r.discarded)
                .sum();
            let drift = (at(rounds, k).queued - at(rounds - window, k).queued).abs();
            (drift, admitted)
        })
        .collect()
}

#[test]
fn a_filling_queue_no_longer_stops_the_run() {
    // The settings of the earlier runs (window 200, no momentum, c = 20) with the
    // settled test: the run goes on until the queue has filled.
    let mut o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    o.window = 200;
    o.momentum = Some(0.0);
    o.welfare_scale = Some(20.0);
    let (percent, rounds, window, trace) = demand_run(o);
    assert!(percent >= 99.0, "{percent} % of P3 after {rounds} rounds");
    for (k, (drift, admitted)) in last_window_drift(&trace, rounds, window).iter().enumerate() {
        // The ledger's own account of the last window: held jobs moved by at most ε
        // of what was admitted (or of a tenth of the demand, for a trickle).
        assert!(
            *drift <= 0.03 * admitted.max(0.1 * 15.2 * window as f64) + 1e-9,
            "commodity {k}: held jobs moved by {drift} over the last window, {admitted} admitted"
        );
    }
    // And at the defaults. The welfare is the steady flow's (no value of jobs a
    // draining queue released), so it cannot exceed P3; window averages that counted
    // those jobs reported 100.5 % here. 98 % is the acceptance bar of the worst decile.
    let (percent, rounds, window, trace) = demand_run(EngineOptions::new(
        Variant::WelfareSeeking,
        Injection::Demand,
    ));
    assert!(percent >= 98.0, "{percent} % of P3 after {rounds} rounds");
    assert!(
        percent <= 100.0 + 1e-6,
        "{percent} % of P3 after {rounds} rounds"
    );
    assert!(rounds <= 1000, "{rounds} rounds");
    for (drift, admitted) in last_window_drift(&trace, rounds, window) {
        assert!(drift <= 0.03 * admitted.max(0.1 * 15.2 * window as f64) + 1e-9);
    }
}

/// A broker of capacity 100 holding 6 jobs of one commodity (demand 10, 3 queues:
/// q̄ = 0.2) with two out-edges to empty providers; last round it pushed x̄ = 0.1 over
/// the first and nothing over the second.
fn momentum_step(beta: f64) -> (Vec<f64>, Vec<f64>) {
    let local = Local {
        k: 0,
        demand: 10.0,
        resource: 1.0,
        queues: 3,
        injection: 0.0,
        ceiling: None,
        momentum: beta,
    };
    let edge = |edge, to| OutEdge::<Fair> {
        edge,
        to,
        into_sink: false,
        policy: Nothing {},
    };
    let config = NodeConfig::<Fair> {
        node: 3,
        capacity: Some(100.0),
        collection: false,
        commodities: vec![LocalCommodity {
            local,
            policy: Nothing {},
            out_edges: 2,
        }],
        out: vec![edge(7, 5), edge(8, 6)],
    };
    let mut state = NodeState::new(&config);
    state.held[0] = 6.0;
    state.pushed = vec![0.1, 0.0];
    let heard = [
        Heights::<Fair> {
            from: 5,
            heights: vec![],
        },
        Heights {
            from: 6,
            heights: vec![],
        },
    ];
    let mut sent = Vec::new();
    node_step(
        &config,
        &mut state,
        &heard.iter().collect::<Vec<_>>(),
        &StepParams {
            potential: Potential::Quadratic,
        },
        &mut NodeScratch::default(),
        &mut sent,
    );
    (sent.iter().map(|j| j.amount).collect(), state.pushed)
}

#[test]
fn momentum_adds_beta_times_the_last_push() {
    // Without momentum: x̄ = (0.2 − 0) / 2 = 0.1 per edge, 1 job each.
    let (sent, pushed) = momentum_step(0.0);
    assert_eq!(sent.len(), 2);
    assert!((sent[0] - 1.0).abs() < 1e-12 && (sent[1] - 1.0).abs() < 1e-12);
    assert!((pushed[0] - 0.1).abs() < 1e-12 && (pushed[1] - 0.1).abs() < 1e-12);
    // β = 0.5: the first edge gets 0.1 + 0.5 × 0.1 = 0.15 (1.5 jobs), the second 0.1.
    let (sent, pushed) = momentum_step(0.5);
    assert!((sent[0] - 1.5).abs() < 1e-12, "{sent:?}");
    assert!((sent[1] - 1.0).abs() < 1e-12, "{sent:?}");
    assert!((pushed[0] - 0.15).abs() < 1e-12 && (pushed[1] - 0.1).abs() < 1e-12);
}
