//! The LP baselines against closed forms worked out by hand on small markets
//! (design §4). Every test runs under every backend compiled into this build.

use brokerflow_graphs::{ExpandedGraph, Market};
use brokerflow_solvers::check::is_acyclic;
use brokerflow_solvers::lp::{self, Backend, LpError, LpOptions, LpStatus, Objective};

/// Runs the body once per available backend, with `$backend` bound.
macro_rules! each_backend {
    ($backend:ident, $body:block) => {
        for $backend in Backend::available() {
            $body
        }
    };
}

fn graph(json: &str) -> ExpandedGraph {
    ExpandedGraph::new(&Market::from_json_str(json, "test").expect("valid test market"))
}

fn opts(backend: Backend) -> LpOptions {
    LpOptions {
        backend,
        prices: true,
    }
}

fn close(a: f64, b: f64, what: &str, backend: Backend) {
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        "{backend}: {what}: got {a}, expected {b}"
    );
}

fn served(g: &ExpandedGraph, s: &lp::LpSolution, id: &str) -> f64 {
    let k = g.commodities.iter().position(|c| c.id == id).expect("user");
    s.served(g).expect("bounded")[k]
}

fn price(g: &ExpandedGraph, s: &lp::LpSolution, node: &str) -> f64 {
    s.prices.as_ref().expect("prices")[g.node_named(node).expect("node").index()]
}

/// One path u → b → p with a finite link u→b of 6.
/// δ* = bottleneck / demand = min(6 link, 8 broker, 20/2 provider) / 10 = 0.6.
/// Per job: value 5 − provider 1·2 − broker 0.5 − link 0.25 = 2.25 > 0, so P3 serves
/// as much as fits: 6 jobs, W = 13.5; P2 and P2⁻ have one route only: also 13.5.
/// Only the bandwidth node binds, so its price is the whole surplus per job, 2.25.
const SINGLE_PATH: &str = r#"{"name": "single path",
  "users": [{"id": "u", "demand": 10, "requirement": 2, "valuation": 5}],
  "brokers": [{"id": "b", "capacity": 8, "cost": 0.5}],
  "providers": [{"id": "p", "capacity": 20, "cost": 1}],
  "links": [{"from": "u", "to": "b", "bandwidth": 6, "cost": 0.25}, {"from": "b", "to": "p"}]}"#;

#[test]
fn single_path_is_the_bottleneck() {
    let g = graph(SINGLE_PATH);
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 0.6, "delta", backend);
        close(served(&g, &p1, "u"), 6.0, "P1 served", backend);
        for o in [
            Objective::Utility,
            Objective::WorstUtility,
            Objective::Welfare,
        ] {
            let s = lp::solve(&g, o, &opts(backend)).unwrap();
            close(s.welfare(&g).unwrap(), 13.5, o.name(), backend);
            close(served(&g, &s, "u"), 6.0, "served", backend);
        }
        let p3 = lp::max_welfare(&g, &opts(backend)).unwrap();
        close(price(&g, &p3, "u->b"), 2.25, "bandwidth price", backend);
        close(price(&g, &p3, "b"), 0.0, "broker price", backend);
        close(price(&g, &p3, "p"), 0.0, "provider price", backend);
    });
}

/// Two parallel brokers: b1 (R 3, cost 1) and b2 (R 4, cost 2), demand 5, value 10.
/// δ* = (3 + 4) / 5 = 1.4, so P2 serves all 5: best = 3 via b1 + 2 via b2, cost 7,
/// W = 50 − 7 = 43; worst = 4 via b2 + 1 via b1, cost 9, W = 41. P3 = P2 = 43.
/// P3 prices: b1 binds and saves 2 − 1 = 1 per job against b2, so its price is 1;
/// b2 has slack, price 0.
const PARALLEL: &str = r#"{"name": "parallel",
  "users": [{"id": "u", "demand": 5, "requirement": 1, "valuation": 10}],
  "brokers": [{"id": "b1", "capacity": 3, "cost": 1}, {"id": "b2", "capacity": 4, "cost": 2}],
  "providers": [{"id": "p"}],
  "links": [{"from": "u", "to": "b1"}, {"from": "u", "to": "b2"},
            {"from": "b1", "to": "p"}, {"from": "b2", "to": "p"}]}"#;

#[test]
fn parallel_paths_best_and_worst_routing() {
    let g = graph(PARALLEL);
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 1.4, "delta", backend);
        // P1's flow is scaled to min(δ*,1) = 1 of demand.
        close(served(&g, &p1, "u"), 5.0, "P1 served", backend);
        let p2 = lp::solve(&g, Objective::Utility, &opts(backend)).unwrap();
        close(p2.welfare(&g).unwrap(), 43.0, "P2", backend);
        let p2m = lp::solve(&g, Objective::WorstUtility, &opts(backend)).unwrap();
        close(p2m.welfare(&g).unwrap(), 41.0, "P2-", backend);
        let p3 = lp::solve(&g, Objective::Welfare, &opts(backend)).unwrap();
        close(p3.welfare(&g).unwrap(), 43.0, "P3", backend);
        close(price(&g, &p3, "b1"), 1.0, "b1 price", backend);
        close(price(&g, &p3, "b2"), 0.0, "b2 price", backend);
    });
}

/// A broker→broker chain u → b1 → b2 → b3 → p with R = 9, 7, 8 and a finite link
/// b1→b2 of 7.5: the bottleneck is b2 (7), δ* = 7/10. Value 3, b3 cost 1 per job:
/// P3 serves 7 at 2 each, W = 14.
const CHAIN: &str = r#"{"name": "chain",
  "users": [{"id": "u", "demand": 10, "requirement": 1, "valuation": 3}],
  "brokers": [{"id": "b1", "capacity": 9}, {"id": "b2", "capacity": 7},
              {"id": "b3", "capacity": 8, "cost": 1}],
  "providers": [{"id": "p"}],
  "links": [{"from": "u", "to": "b1"}, {"from": "b1", "to": "b2", "bandwidth": 7.5},
            {"from": "b2", "to": "b3"}, {"from": "b3", "to": "p"}]}"#;

#[test]
fn broker_chain() {
    let g = graph(CHAIN);
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 0.7, "delta", backend);
        let p3 = lp::solve(&g, Objective::Welfare, &opts(backend)).unwrap();
        close(p3.welfare(&g).unwrap(), 14.0, "P3", backend);
        // b2 binds and carries the whole surplus 3 − 1 = 2 per job.
        close(price(&g, &p3, "b2"), 2.0, "b2 price", backend);
    });
}

/// A broker→broker cycle b1 ⇄ b2: only b2 reaches the provider, all flow enters at
/// b1 (R 5), so δ* = 5/8. P2⁻ is refused (cyclic G′); P2/P3 flows are acyclic.
/// P3: value 4, b2 cost 1 → 3 per job × 5 = 15.
const CYCLE: &str = r#"{"name": "cycle",
  "users": [{"id": "u", "demand": 8, "requirement": 1, "valuation": 4}],
  "brokers": [{"id": "b1", "capacity": 5}, {"id": "b2", "capacity": 10, "cost": 1}],
  "providers": [{"id": "p"}],
  "links": [{"from": "u", "to": "b1"}, {"from": "b1", "to": "b2"},
            {"from": "b2", "to": "b1"}, {"from": "b2", "to": "p"}]}"#;

#[test]
fn broker_cycle() {
    let g = graph(CYCLE);
    assert!(g.is_cyclic());
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 5.0 / 8.0, "delta", backend);
        assert!(matches!(
            lp::solve(&g, Objective::WorstUtility, &opts(backend)),
            Err(LpError::CyclicWorstCase)
        ));
        for o in [
            Objective::Concurrent,
            Objective::Utility,
            Objective::Welfare,
        ] {
            let s = lp::solve(&g, o, &opts(backend)).unwrap();
            assert!(
                is_acyclic(&g, s.flow.as_ref().unwrap(), 0),
                "{backend} {o:?}"
            );
        }
        let p3 = lp::solve(&g, Objective::Welfare, &opts(backend)).unwrap();
        close(p3.welfare(&g).unwrap(), 15.0, "P3", backend);
    });
}

/// Eligibility: u1 may only use p1 (R 3), u2 may use both; demands 4 and 4.
/// u1 gets at most 3 ⇒ δ* = 3/4, with u2 served 3 from p2 (R 10) leaving p1 to u1.
/// P3 with values 10 / 1 and p2 cost 2 per unit: u2 (value 1) is not worth p2's 2,
/// and p1 is full with u1 (its value 10 beats u2's 1): P3 = 3·10 = 30, u2 served 0.
const ELIGIBILITY: &str = r#"{"name": "eligibility",
  "users": [{"id": "u1", "demand": 4, "requirement": 1, "valuation": 10, "eligible": ["p1"]},
            {"id": "u2", "demand": 4, "requirement": 1, "valuation": 1}],
  "brokers": [{"id": "b"}],
  "providers": [{"id": "p1", "capacity": 3}, {"id": "p2", "capacity": 10, "cost": 2}],
  "links": [{"from": "u1", "to": "b"}, {"from": "u2", "to": "b"},
            {"from": "b", "to": "p1"}, {"from": "b", "to": "p2"}]}"#;

#[test]
fn eligibility_restriction() {
    let g = graph(ELIGIBILITY);
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 0.75, "delta", backend);
        let p3 = lp::solve(&g, Objective::Welfare, &opts(backend)).unwrap();
        close(p3.welfare(&g).unwrap(), 30.0, "P3", backend);
        close(served(&g, &p3, "u1"), 3.0, "u1", backend);
        close(served(&g, &p3, "u2"), 0.0, "u2", backend);
        // p1 binds; one more unit there is worth u1's 10.
        close(price(&g, &p3, "p1"), 10.0, "p1 price", backend);
    });
}

/// A zero-demand user, a stranded user (its only eligible provider is down) and a
/// normal user limited by b (R 5, demand 10): δ* = 0.5, stranded = [u2], and the
/// zero-demand user is served 0 without dragging δ to 0.
const ZERO_AND_STRANDED: &str = r#"{"name": "zero and stranded",
  "users": [{"id": "u1", "demand": 0, "requirement": 1, "valuation": 3},
            {"id": "u2", "demand": 6, "requirement": 1, "valuation": 3, "eligible": ["p2"]},
            {"id": "u3", "demand": 10, "requirement": 1, "valuation": 3}],
  "brokers": [{"id": "b", "capacity": 5}],
  "providers": [{"id": "p1"}, {"id": "p2", "capacity": 0}],
  "links": [{"from": "u1", "to": "b"}, {"from": "u2", "to": "b"}, {"from": "u3", "to": "b"},
            {"from": "b", "to": "p1"}, {"from": "b", "to": "p2"}]}"#;

#[test]
fn zero_demand_and_stranded_users() {
    let g = graph(ZERO_AND_STRANDED);
    each_backend!(backend, {
        for o in [
            Objective::Concurrent,
            Objective::Utility,
            Objective::Welfare,
        ] {
            let s = lp::solve(&g, o, &opts(backend)).unwrap();
            assert_eq!(s.stranded, vec![1], "{backend} {o:?}");
            close(served(&g, &s, "u1"), 0.0, "u1", backend);
            close(served(&g, &s, "u2"), 0.0, "u2", backend);
            close(served(&g, &s, "u3"), 5.0, "u3", backend);
        }
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 0.5, "delta", backend);
    });
}

/// Unlimited everything on u1's path but u2 passes a broker of 6 (demand 4):
/// δ* = 6/4 = 1.5. With u2's broker unlimited too, nothing limits δ: unbounded, and
/// P2 then serves every demand in full.
#[test]
fn unlimited_capacities_and_unbounded_delta() {
    let limited = r#"{"name": "half limited",
      "users": [{"id": "u1", "demand": 2, "requirement": 1, "valuation": 3},
                {"id": "u2", "demand": 4, "requirement": 1, "valuation": 3}],
      "brokers": [{"id": "b1"}, {"id": "b2", "capacity": 6}],
      "providers": [{"id": "p"}],
      "links": [{"from": "u1", "to": "b1"}, {"from": "u2", "to": "b2"},
                {"from": "b1", "to": "p"}, {"from": "b2", "to": "p"}]}"#;
    let g = graph(limited);
    let unlimited = graph(&limited.replace(r#", "capacity": 6"#, ""));
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 1.5, "delta", backend);
        let p1 = lp::solve(&unlimited, Objective::Concurrent, &opts(backend)).unwrap();
        assert_eq!(p1.status, LpStatus::Unbounded);
        assert_eq!(p1.delta, None);
        assert!(p1.flow.is_none());
        let p2 = lp::solve(&unlimited, Objective::Utility, &opts(backend)).unwrap();
        close(served(&unlimited, &p2, "u1"), 2.0, "u1", backend);
        close(served(&unlimited, &p2, "u2"), 4.0, "u2", backend);
        close(p2.welfare(&unlimited).unwrap(), 18.0, "P2 = 3·6", backend);
    });
}

/// Round-trip through the dual: strong duality holds at the optimum.
#[test]
fn explicit_dual_closes_the_gap() {
    for json in [
        SINGLE_PATH,
        PARALLEL,
        CHAIN,
        CYCLE,
        ELIGIBILITY,
        ZERO_AND_STRANDED,
    ] {
        let g = graph(json);
        each_backend!(backend, {
            let p3 = lp::max_welfare(&g, &opts(backend)).unwrap();
            assert!(
                p3.duality_gap.unwrap() <= 1e-6,
                "{backend}: gap {:?}",
                p3.duality_gap
            );
        });
    }
}

/// The bundled `tiny` market against every optimum worked out by hand in
/// graphs/markets/tiny.md: δ* = 0.5 (the u1→b1 link of 5 against u1's demand of 10),
/// P2 = 130, P2⁻ = 122, P3 = 141 serving u1 5, u2 13, u3 0, with P3 prices u1->b1 16,
/// p1 3, b1->b2 2 and 0 elsewhere.
#[test]
fn tiny_matches_the_hand_worked_optima() {
    let g = ExpandedGraph::new(&brokerflow_graphs::examples::tiny());
    each_backend!(backend, {
        let p1 = lp::solve(&g, Objective::Concurrent, &opts(backend)).unwrap();
        close(p1.delta.unwrap(), 0.5, "delta", backend);
        let p2 = lp::solve(&g, Objective::Utility, &opts(backend)).unwrap();
        close(p2.welfare(&g).unwrap(), 130.0, "P2", backend);
        for (id, f) in [("u1", 5.0), ("u2", 10.0), ("u3", 5.0)] {
            close(served(&g, &p2, id), f, "P2 served", backend);
        }
        let p2m = lp::solve(&g, Objective::WorstUtility, &opts(backend)).unwrap();
        close(p2m.welfare(&g).unwrap(), 122.0, "P2-", backend);
        let p3 = lp::solve(&g, Objective::Welfare, &opts(backend)).unwrap();
        close(p3.welfare(&g).unwrap(), 141.0, "P3", backend);
        for (id, f) in [("u1", 5.0), ("u2", 13.0), ("u3", 0.0)] {
            close(served(&g, &p3, id), f, "P3 served", backend);
        }
        for (node, p) in [
            ("u1->b1", 16.0),
            ("p1", 3.0),
            ("b1->b2", 2.0),
            ("b1", 0.0),
            ("b2", 0.0),
            ("p2", 0.0),
            ("b2->p2", 0.0),
        ] {
            close(price(&g, &p3, node), p, node, backend);
        }
    });
}

/// A flow with a circulation b1 → b2 → b1 of 3 on top of 5 jobs u → b1 → b2 → p:
/// cancelling leaves 5 on b1 → b2 and 0 on b2 → b1, keeps conservation and served
/// amounts, and raises welfare by the cycle's cost (b2's cost 1 × 3 jobs).
#[test]
fn cycles_are_cancelled() {
    use brokerflow_graphs::formats::flows_csv::read_flows;
    use brokerflow_solvers::check::{check_flow, Tolerance};
    let m = Market::from_json_str(CYCLE, "cycle").unwrap();
    let g = ExpandedGraph::new(&m);
    let csv = "commodity,from,to,flow\nu,u,b1,5\nu,b1,b2,8\nu,b2,b1,3\nu,b2,p,5\nu,p,sink,5\n";
    let (mut flow, issues) = read_flows(&m, &g, csv, "cycle.csv").unwrap();
    assert!(issues.is_empty());
    assert!(!is_acyclic(&g, &flow, 0));
    let before = flow.welfare(&g);
    brokerflow_solvers::cycles::cancel_cycles(&g, &mut flow);
    assert!(is_acyclic(&g, &flow, 0));
    assert!(check_flow(&g, &flow, Tolerance::new(1e-12)).ok());
    assert_eq!(flow.served(&g, 0), 5.0);
    assert_eq!(flow.welfare(&g), before + 3.0);
}

/// The independent check catches a corrupted LP solution: one more job on one edge
/// breaks conservation at both its ends.
#[test]
fn a_corrupted_solution_is_caught() {
    use brokerflow_solvers::check::{check_flow, Tolerance};
    let g = ExpandedGraph::new(&brokerflow_graphs::examples::tiny());
    let p3 = lp::max_welfare(&g, &LpOptions::default()).unwrap();
    let mut flow = p3.flow.unwrap();
    assert!(check_flow(&g, &flow, Tolerance::new(1e-6)).ok());
    flow.x[1][0] += 1.0;
    let report = check_flow(&g, &flow, Tolerance::new(1e-6));
    assert!(!report.ok());
    assert!(report.summary().contains("u2"), "{}", report.summary());
}
