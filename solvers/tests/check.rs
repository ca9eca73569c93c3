//! The independent check (design §4) on small hand-built markets: a feasible flow
//! passes with residuals exactly 0, and every kind of corruption is caught and named.

use brokerflow_graphs::formats::flows_csv::{read_flows, HEADER};
use brokerflow_graphs::{ExpandedGraph, Flow, Market, ValidMarket};
use brokerflow_solvers::check::{
    check_flow, check_flow_with, find_cycle, is_acyclic, verify, DemandLimit, NodeRole, Tolerance,
    Violation,
};

/// Two linked markets (b1 ⇄ b2). u2 may only use p2.
///
/// Hand-built feasible flow (every number checked by hand):
/// * u1 (d=10, r=2): u1→b1 8; b1→p1 6; b1→b2 2; b2→p2 2; p1→sink 6; p2→sink 2. f=8.
/// * u2 (d=5, r=1): u2→b2 5; b2→p2 5; p2→sink 5. f=5.
///
/// Resource use: b1 8 ≤ 30; b2 2+5=7 ≤ 12; p1 6·2=12 ≤ 20; p2 2·2+5·1=9 ≤ 10;
/// u1->b1 8 ≤ 12; b1->b2 2 ≤ 8; b2->p2 7 ≤ 10.
const MARKET: &str = r#"{
  "name": "two linked markets",
  "users": [
    {"id": "u1", "demand": 10, "requirement": 2, "valuation": 40},
    {"id": "u2", "demand": 5, "requirement": 1, "valuation": 30, "eligible": ["p2"]}
  ],
  "brokers": [{"id": "b1", "capacity": 30}, {"id": "b2", "capacity": 12}],
  "providers": [{"id": "p1", "capacity": 20, "cost": 1}, {"id": "p2", "capacity": 10}],
  "links": [
    {"from": "u1", "to": "b1", "bandwidth": 12},
    {"from": "u2", "to": "b2"},
    {"from": "b1", "to": "b2", "bandwidth": 8},
    {"from": "b2", "to": "b1"},
    {"from": "b1", "to": "p1"},
    {"from": "b2", "to": "p2", "bandwidth": 10}
  ]
}"#;

fn setup() -> (ValidMarket, ExpandedGraph) {
    let market = Market::from_json_str(MARKET, "inline").expect("valid market");
    let g = ExpandedGraph::new(&market);
    (market, g)
}

/// Adds `amount` of `user` on market link from→to (both G′ edges of a finite link),
/// or on provider→t_k when `to` is "sink": the flows CSV's row `user,from,to,|amount|`
/// as the library reads it, added with `amount`'s sign (a corrupt flow may be negative,
/// which the CSV refuses).
fn add(
    market: &Market,
    g: &ExpandedGraph,
    flow: &mut Flow,
    user: &str,
    from: &str,
    to: &str,
    amount: f64,
) {
    let row = format!("{HEADER}\n{user},{from},{to},{}\n", amount.abs());
    let (one, issues) = read_flows(market, g, &row, "row").expect("a link of the market");
    assert!(issues.is_empty(), "{user} cannot use {from}->{to}");
    for (xs, ys) in flow.x.iter_mut().zip(&one.x) {
        for (x, y) in xs.iter_mut().zip(ys) {
            *x += amount.signum() * y;
        }
    }
}

fn feasible(market: &Market, g: &ExpandedGraph) -> Flow {
    let mut f = Flow::zero(g);
    for (from, to, x) in [
        ("u1", "b1", 8.0),
        ("b1", "p1", 6.0),
        ("b1", "b2", 2.0),
        ("b2", "p2", 2.0),
        ("p1", "sink", 6.0),
        ("p2", "sink", 2.0),
    ] {
        add(market, g, &mut f, "u1", from, to, x);
    }
    for (from, to, x) in [("u2", "b2", 5.0), ("b2", "p2", 5.0), ("p2", "sink", 5.0)] {
        add(market, g, &mut f, "u2", from, to, x);
    }
    f
}

fn print(report: &brokerflow_solvers::check::CheckReport) -> String {
    report
        .violations
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn feasible_flow_passes_with_zero_residuals() {
    let (market, g) = setup();
    let flow = feasible(&market, &g);
    let report = check_flow(&g, &flow, Tolerance::EXACT);
    assert!(report.ok(), "{}", print(&report));
    assert_eq!(report.max_conservation_residual, 0.0);
    assert_eq!(report.max_capacity_violation, 0.0);
    assert_eq!(report.max_demand_violation, 0.0);
    assert_eq!(report.min_flow, 0.0); // b2→b1 and u2's unused edges carry 0
    assert_eq!(report.served, vec![8.0, 5.0]);
    assert!(report.cyclic.is_empty());
    assert!(verify(&g, &flow, Tolerance::default()).is_ok());
    assert!(is_acyclic(&g, &flow, 0) && is_acyclic(&g, &flow, 1));
    // The incidence matrix's f_k agrees with the model's own served().
    assert_eq!(flow.served(&g, 0), 8.0);
    assert_eq!(flow.served(&g, 1), 5.0);
}

#[test]
fn zero_flow_passes() {
    let (_, g) = setup();
    let report = check_flow(&g, &Flow::zero(&g), Tolerance::EXACT);
    assert!(report.ok());
    assert_eq!(report.served, vec![0.0, 0.0]);
}

#[test]
fn extra_flow_on_one_edge_breaks_conservation_at_its_ends() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    add(&market, &g, &mut flow, "u1", "b1", "p1", 1.0);
    let report = check_flow(&g, &flow, Tolerance::default());
    assert!(!report.ok());
    assert_eq!(report.max_conservation_residual, 1.0);
    let at = |node: &str| {
        report.violations.iter().find_map(|v| match v {
            Violation::Conservation {
                commodity,
                node: n,
                inflow,
                outflow,
                ..
            } if commodity == "u1" && n == node => Some((*inflow, *outflow)),
            _ => None,
        })
    };
    assert_eq!(at("b1"), Some((8.0, 9.0)));
    assert_eq!(at("p1"), Some((7.0, 6.0)));
    assert_eq!(report.violation_count(), 2, "{}", print(&report));
    let text = print(&report);
    assert!(
        text.contains("commodity u1 at node b1: inflow 8 ≠ outflow 9"),
        "{text}"
    );
    let err = verify(&g, &flow, Tolerance::default()).unwrap_err();
    assert!(err.to_string().contains("commodity u1 at node b1"), "{err}");
    assert_eq!(err.report().violation_count(), 2);
}

#[test]
fn extra_flow_into_the_sink_is_a_source_imbalance() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    add(&market, &g, &mut flow, "u2", "p2", "sink", 0.5);
    let report = check_flow(&g, &flow, Tolerance::default());
    // f_2 = 5.5 reaches t(u2) but u2 sends only 5, and p2 sends more than it gets.
    assert_eq!(report.served[1], 5.5);
    let nodes: Vec<_> = report
        .violations
        .iter()
        .filter(|v| matches!(v, Violation::Conservation { .. }))
        .map(|v| (v.commodity().unwrap(), v.node().unwrap(), v.residual()))
        .collect();
    assert_eq!(nodes, vec![("u2", "u2", -0.5), ("u2", "p2", 0.5)]);
}

#[test]
fn exceeded_capacity_names_the_provider() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    // Move 3 jobs of u1 from p1 to p2 (via b1->b2, b2->p2): still conserving, demand
    // untouched, but p2 now uses 5·2 + 5·1 = 15 of 10.
    for (from, to, x) in [
        ("b1", "p1", -3.0),
        ("p1", "sink", -3.0),
        ("b1", "b2", 3.0),
        ("b2", "p2", 3.0),
        ("p2", "sink", 3.0),
    ] {
        add(&market, &g, &mut flow, "u1", from, to, x);
    }
    let report = check_flow(&g, &flow, Tolerance::default());
    assert_eq!(report.max_conservation_residual, 0.0);
    assert_eq!(report.max_capacity_violation, 5.0);
    assert_eq!(
        report.violations,
        vec![Violation::Capacity {
            node: "p2".into(),
            role: NodeRole::Provider,
            used: 15.0,
            capacity: 10.0
        }]
    );
    assert_eq!(
        report.violations[0].to_string(),
        "provider p2: uses 15 of capacity 10"
    );
}

#[test]
fn exceeded_bandwidth_names_the_link() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    // 5 more of u1 over u1->b1 (13 of 12) to p1 (22 of 20), f_1 = 13 > 10: the
    // bandwidth node is named as the link it stands for.
    for (from, to) in [("u1", "b1"), ("b1", "p1"), ("p1", "sink")] {
        add(&market, &g, &mut flow, "u1", from, to, 5.0);
    }
    let report = check_flow(&g, &flow, Tolerance::default());
    assert!(report
        .violations
        .iter()
        .any(|v| v.to_string() == "link u1->b1: uses 13 of capacity 12"));
}

#[test]
fn exceeded_demand_names_the_commodity() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    for (from, to) in [("u2", "b2"), ("b2", "p2"), ("p2", "sink")] {
        add(&market, &g, &mut flow, "u2", from, to, 1.0);
    }
    // b2 uses 8 ≤ 12, p2 4+6 = 10 ≤ 10, b2->p2 8 ≤ 10: only the demand is broken.
    let report = check_flow(&g, &flow, Tolerance::default());
    assert_eq!(report.max_demand_violation, 1.0);
    assert_eq!(
        report.violations,
        vec![Violation::Demand {
            commodity: "u2".into(),
            served: 6.0,
            limit: 5.0
        }]
    );
    // P1's δ may exceed 1: with the limit scaled, the same flow passes.
    assert!(check_flow_with(&g, &flow, Tolerance::default(), DemandLimit::Scaled(1.2)).ok());
    assert!(check_flow_with(&g, &flow, Tolerance::default(), DemandLimit::Unbounded).ok());
}

#[test]
fn negative_flow_is_caught() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    // A conserving negative circulation: b1->b2 −1 and b2->b1 −1 (u1).
    add(&market, &g, &mut flow, "u1", "b2", "b1", -1.0);
    add(&market, &g, &mut flow, "u1", "b1", "b2", -1.0);
    let report = check_flow(&g, &flow, Tolerance::default());
    assert_eq!(report.min_flow, -1.0);
    assert_eq!(report.max_conservation_residual, 0.0);
    let negatives: Vec<_> = report
        .violations
        .iter()
        .filter_map(|v| match v {
            Violation::Negative {
                commodity,
                edge,
                flow,
            } => Some((commodity.as_str(), edge.as_str(), *flow)),
            _ => None,
        })
        .collect();
    assert_eq!(negatives, vec![("u1", "link b2->b1", -1.0)]);
}

#[test]
fn a_cycle_is_found_and_flagged() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    // u1 circulates b1 → b1->b2 → b2 → b1: conserving, within every capacity.
    add(&market, &g, &mut flow, "u1", "b1", "b2", 1.0);
    add(&market, &g, &mut flow, "u1", "b2", "b1", 1.0);
    assert!(!is_acyclic(&g, &flow, 0));
    assert!(is_acyclic(&g, &flow, 1));
    let cycle: Vec<&str> = find_cycle(&g, &flow, 0)
        .unwrap()
        .into_iter()
        .map(|n| g.node(n).name.as_str())
        .collect();
    assert_eq!(cycle, vec!["b1", "b1->b2", "b2"]);
    let report = check_flow(&g, &flow, Tolerance::default());
    assert_eq!(report.max_conservation_residual, 0.0);
    assert_eq!(report.max_capacity_violation, 0.0);
    assert_eq!(report.cyclic, vec![0]);
    assert_eq!(
        report.violations,
        vec![Violation::Cycle {
            commodity: "u1".into(),
            nodes: vec!["b1".into(), "b1->b2".into(), "b2".into()]
        }]
    );
    assert_eq!(
        report.violations[0].to_string(),
        "commodity u1 circulates: b1 → b1->b2 → b2 → b1"
    );
    // Out-of-range commodity: no flow, no cycle, no panic.
    assert!(is_acyclic(&g, &flow, 7));
}

#[test]
fn tolerance_is_relative_and_strict_when_exact() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    add(&market, &g, &mut flow, "u1", "b1", "p1", 1e-9);
    // 1e-9 < 1e-6·max(1, d=10): accepted by default, rejected by the exact check.
    let loose = check_flow(&g, &flow, Tolerance::default());
    assert!(loose.ok());
    assert!(loose.max_conservation_residual > 0.0);
    assert!(!check_flow(&g, &flow, Tolerance::EXACT).ok());
    // ≈1.0e-4 > 1e-6·10: rejected by default.
    add(&market, &g, &mut flow, "u1", "b1", "p1", 1e-4);
    assert!(!check_flow(&g, &flow, Tolerance::default()).ok());
    // A nonsense tolerance is as strict as 0.
    let mut flow = feasible(&market, &g);
    add(&market, &g, &mut flow, "u1", "b1", "p1", 1e-9);
    assert!(!check_flow(&g, &flow, Tolerance::new(f64::NAN)).ok());
    assert!(!check_flow(&g, &flow, Tolerance::new(-1.0)).ok());
}

#[test]
fn malformed_flows_are_reported_not_panicked_on() {
    let (market, g) = setup();
    let mut flow = feasible(&market, &g);
    flow.x[0][0] = f64::NAN;
    let report = check_flow(&g, &flow, Tolerance::default());
    assert!(report
        .violations
        .iter()
        .any(|v| matches!(v, Violation::NonFinite { commodity, .. } if commodity == "u1")));

    let mut short = feasible(&market, &g);
    short.x[1].pop();
    let report = check_flow(&g, &short, Tolerance::default());
    assert!(matches!(report.violations[0], Violation::Shape { .. }));

    let mut missing = feasible(&market, &g);
    missing.x.pop();
    assert!(!check_flow(&g, &missing, Tolerance::default()).ok());
    let empty = Flow { x: Vec::new() };
    assert!(!check_flow(&g, &empty, Tolerance::default()).ok());
}

#[test]
fn stranded_user_carries_nothing_and_passes() {
    let text = r#"{"name": "stranded",
      "users": [{"id": "u1", "demand": 4, "requirement": 1, "valuation": 5},
                {"id": "u2", "demand": 3, "requirement": 1, "valuation": 5}],
      "brokers": [{"id": "b1"}, {"id": "b2", "capacity": 0}],
      "providers": [{"id": "p1", "capacity": 4}],
      "links": [{"from": "u1", "to": "b1"}, {"from": "u2", "to": "b2"},
                {"from": "b1", "to": "p1"}, {"from": "b2", "to": "p1"}]}"#;
    let market = Market::from_json_str(text, "inline").unwrap();
    let g = ExpandedGraph::new(&market);
    assert!(g.commodities[1].is_stranded());
    let mut flow = Flow::zero(&g);
    flow.x[0] = vec![4.0; g.commodities[0].usable.len()];
    let report = check_flow(&g, &flow, Tolerance::EXACT);
    assert!(report.ok(), "{}", print(&report));
    assert_eq!(report.served, vec![4.0, 0.0]);
}
