//! The flows CSV (design §4, §8): exact text for a small market, exact round trips,
//! line-numbered errors, and unusable rows reported as issues rather than dropped.

use brokerflow_graphs::formats::flows_csv::{
    read_flows, write_flows, FlowIssue, FlowProblem, FlowsError, IssueKind,
};
use brokerflow_graphs::{ExpandedGraph, Flow, Market, ValidMarket};

/// Two linked markets (b1 ⇄ b2); u2 may only use p2; b3 is down (capacity 0).
const MARKET: &str = r#"{
  "name": "two linked markets",
  "users": [
    {"id": "u1", "demand": 10, "requirement": 2, "valuation": 40},
    {"id": "u2", "demand": 5, "requirement": 1, "valuation": 30, "eligible": ["p2"]}
  ],
  "brokers": [{"id": "b1", "capacity": 30}, {"id": "b2", "capacity": 12},
              {"id": "b3", "capacity": 0}],
  "providers": [{"id": "p1", "capacity": 20, "cost": 1}, {"id": "p2", "capacity": 10}],
  "links": [
    {"from": "u1", "to": "b1", "bandwidth": 12},
    {"from": "u2", "to": "b2"},
    {"from": "b1", "to": "b2", "bandwidth": 8},
    {"from": "b2", "to": "b1"},
    {"from": "b1", "to": "p1"},
    {"from": "b2", "to": "p2", "bandwidth": 10},
    {"from": "u1", "to": "b3", "bandwidth": 5},
    {"from": "b3", "to": "p1"}
  ]
}"#;

fn setup() -> (ValidMarket, ExpandedGraph) {
    let market = Market::from_json_str(MARKET, "inline").expect("valid market");
    let g = ExpandedGraph::new(&market);
    (market, g)
}

/// Sets `amount` of commodity k on market link from→to (both G′ edges of a finite
/// link) or on provider→t_k when `to` is "sink". Built from G′ directly, not with
/// `read_flows`: the flows this file expects must not come from the reader it tests.
fn set(
    market: &Market,
    g: &ExpandedGraph,
    flow: &mut Flow,
    k: usize,
    from: &str,
    to: &str,
    amount: f64,
) {
    let edges = if to == "sink" {
        let p = g.node_named(from).unwrap();
        vec![g.graph.find_edge(p, g.commodities[k].sink).unwrap()]
    } else {
        let i = market
            .links
            .iter()
            .position(|l| l.from == from && l.to == to)
            .unwrap();
        let (a, b) = g.link_edges[i];
        std::iter::once(a).chain(b).collect()
    };
    for e in edges {
        let i = g.commodities[k].usable.binary_search(&e).unwrap();
        flow.x[k][i] = amount;
    }
}

/// u1: u1→b1 8, b1→p1 6, b1→b2 2, b2→p2 2, p1→sink 6, p2→sink 2 (b2→b1 carries 0).
/// u2: u2→b2 5, b2→p2 5, p2→sink 5.
fn feasible(market: &Market, g: &ExpandedGraph) -> Flow {
    let mut f = Flow::zero(g);
    for (from, to, x) in [
        ("u1", "b1", 8.0),
        ("b1", "p1", 6.0),
        ("b1", "b2", 2.0),
        ("b2", "b1", 0.0),
        ("b2", "p2", 2.0),
        ("p1", "sink", 6.0),
        ("p2", "sink", 2.0),
    ] {
        set(market, g, &mut f, 0, from, to, x);
    }
    for (from, to, x) in [("u2", "b2", 5.0), ("b2", "p2", 5.0), ("p2", "sink", 5.0)] {
        set(market, g, &mut f, 1, from, to, x);
    }
    f
}

const FEASIBLE_CSV: &str = "\
commodity,from,to,flow
u1,u1,b1,8
u1,b1,b2,2
u1,b1,p1,6
u1,b2,p2,2
u1,p1,sink,6
u1,p2,sink,2
u2,u2,b2,5
u2,b2,p2,5
u2,p2,sink,5
";

fn read(text: &str) -> Result<(Flow, Vec<FlowIssue>), FlowsError> {
    let (market, g) = setup();
    read_flows(&market, &g, text, "flows.csv")
}

#[test]
fn writes_the_hand_checked_text_with_zero_rows_omitted() {
    let (market, g) = setup();
    let flow = feasible(&market, &g);
    assert_eq!(write_flows(&market, &g, &flow), FEASIBLE_CSV);
    assert_eq!(
        write_flows(&market, &g, &Flow::zero(&g)),
        "commodity,from,to,flow\n"
    );
}

#[test]
fn reads_the_hand_checked_text_back() {
    let (market, g) = setup();
    let (flow, issues) = read(FEASIBLE_CSV).unwrap();
    assert!(issues.is_empty());
    assert_eq!(flow, feasible(&market, &g));
    assert_eq!(flow.served(&g, 0), 8.0);
    assert_eq!(flow.served(&g, 1), 5.0);
}

#[test]
fn round_trip_is_exact_for_awkward_numbers() {
    let (market, g) = setup();
    let values = [
        1.0 / 3.0,
        0.1 + 0.2,
        1e-300,
        1e300,
        0.0,
        2.5,
        7e-7,
        123_456_789.123_456_79,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
    ];
    let mut flow = Flow::zero(&g);
    let mut next = 0;
    for x in flow.x.iter_mut() {
        for v in x.iter_mut() {
            *v = values[next % values.len()];
            next += 1;
        }
    }
    // A finite link is one row: its second G′ edge carries what its first does.
    for (k, c) in g.commodities.iter().enumerate() {
        for &(first, second) in &g.link_edges {
            if let (Ok(i), Some(Ok(j))) = (
                c.usable.binary_search(&first),
                second.map(|s| c.usable.binary_search(&s)),
            ) {
                flow.x[k][j] = flow.x[k][i];
            }
        }
    }
    let text = write_flows(&market, &g, &flow);
    let (back, issues) = read_flows(&market, &g, &text, "round trip").unwrap();
    assert!(issues.is_empty());
    for (a, b) in flow.x.iter().flatten().zip(back.x.iter().flatten()) {
        assert_eq!(a.to_bits(), b.to_bits(), "{a} read back as {b}");
    }
    assert_eq!(back, flow);
    // Written once more, it is the same text.
    assert_eq!(write_flows(&market, &g, &back), text);
}

#[test]
fn rows_the_commodity_cannot_use_are_issues_not_drops() {
    let text = "commodity,from,to,flow
u1,u1,b1,1
u1,u1,b3,1
u2,p1,sink,1.5
u2,u1,b1,2
u2,b1,p1,0
";
    let (flow, issues) = read(text).unwrap();
    let got: Vec<_> = issues
        .iter()
        .map(|i| {
            (
                i.line,
                i.commodity.as_str(),
                i.from.as_str(),
                i.to.as_str(),
                i.flow,
                i.kind,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "u1", "u1", "b3", 1.0, IssueKind::Unusable),
            (4, "u2", "p1", "sink", 1.5, IssueKind::IneligibleProvider),
            (5, "u2", "u1", "b1", 2.0, IssueKind::Unusable),
        ]
    );
    assert_eq!(
        issues[1].to_string(),
        "flows.csv: line 4: commodity u2 cannot use p1->sink (flow 1.5 not placed): the provider is not eligible for this user"
    );
    // The usable row is placed on both G′ edges of the finite link u1->b1.
    let (market, g) = setup();
    let mut expected = Flow::zero(&g);
    set(&market, &g, &mut expected, 0, "u1", "b1", 1.0);
    assert_eq!(flow, expected);
}

fn err(text: &str) -> FlowsError {
    match read(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn malformed_inputs_are_refused_with_their_line() {
    let h = "commodity,from,to,flow\n";
    let cases: Vec<(String, u64, &str)> = vec![
        (String::new(), 1, "empty input"),
        (
            "commodity,from,to\nu1,u1,b1,1\n".into(),
            1,
            "header is 'commodity,from,to'",
        ),
        (
            "# brokerflow 0.1\ncommodity,from,to,flow\n".into(),
            1,
            "header is",
        ),
        (
            format!("{h}u1,u1,b1,8\nu9,u1,b1,1\n"),
            3,
            "unknown commodity 'u9'",
        ),
        (format!("{h}u1,b1,u1,1\n"), 2, "unknown link b1->u1"),
        (format!("{h}u1,b1,sink,1\n"), 2, "unknown link b1->sink"),
        (format!("{h}u1,nobody,b1,1\n"), 2, "unknown link nobody->b1"),
        (
            format!("{h}u1,u1,b1,abc\n"),
            2,
            "flow 'abc' is not a number",
        ),
        (format!("{h}u1,u1,b1,\n"), 2, "flow '' is not a number"),
        (format!("{h}u1,u1,b1,inf\n"), 2, "flow 'inf' is not finite"),
        (format!("{h}u1,u1,b1,NaN\n"), 2, "flow 'NaN' is not finite"),
        (
            format!("{h}u1,u1,b1,1\nu1,b1,p1,-0.5\n"),
            3,
            "flow '-0.5' is negative",
        ),
        (
            format!("{h}u1,u1,b1,8\nu1,b1,p1,6\nu1,u1,b1,8\n"),
            4,
            "duplicate row for commodity u1 on u1->b1 (first on line 2)",
        ),
        (format!("{h}u1,u1,b1\n"), 2, "3 fields, expected 4"),
        (
            format!("{h}\nu1,u1,b1,1\n\nu1,u1,b1,x\n"),
            5,
            "flow 'x' is not a number",
        ),
        (
            "\n\r\ncommodity,from,to,flow\r\n\r\nu1,\"u1\",\"b\n1\",1\r\n\r\n".to_string(),
            5,
            "unknown link u1->b\n1",
        ),
        (format!("{h}u1,u1,b1,1,extra\n"), 2, "5 fields, expected 4"),
    ];
    for (text, line, message) in cases {
        let e = err(&text);
        assert_eq!(e.line(), Some(line), "{e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("flows.csv: line {line}: ")),
            "{shown}"
        );
        assert!(shown.contains(message), "{shown} (expected '{message}')");
    }
}

#[test]
fn error_kinds_are_typed() {
    let h = "commodity,from,to,flow\n";
    assert!(matches!(
        err(&format!("{h}u1,u1,b1,-1\n")),
        FlowsError::InvalidFlow {
            problem: FlowProblem::Negative,
            ..
        }
    ));
    assert!(matches!(
        err(&format!("{h}u1,u1,b1,1\nu1,u1,b1,1\n")),
        FlowsError::Duplicate {
            line: 3,
            first_line: 2,
            ..
        }
    ));
}

#[test]
fn lenient_where_harmless() {
    let (market, g) = setup();
    // CRLF line ends, a byte-order mark, spaces around the number, −0, explicit zeros.
    let text = "\u{feff}commodity,from,to,flow\r\nu1,u1,b1, 8 \r\nu1,b2,b1,-0\r\nu1,b1,p1,6\r\nu1,b1,b2,2\r\nu1,b2,p2,2\r\nu1,p1,sink,6\r\nu1,p2,sink,2\r\nu2,u2,b2,5\r\nu2,b2,p2,5\r\nu2,p2,sink,5\r\n";
    let (flow, issues) = read_flows(&market, &g, text, "crlf").unwrap();
    assert!(issues.is_empty());
    assert_eq!(flow, feasible(&market, &g));
    assert!(flow.x.iter().flatten().all(|v| v.is_sign_positive()));
}

#[test]
fn ids_that_need_quoting_round_trip() {
    let text = r#"{"name": "odd ids",
      "users": [{"id": "user, \"one\"", "demand": 2, "requirement": 1, "valuation": 3}],
      "brokers": [{"id": "b 1"}], "providers": [{"id": "p,1"}],
      "links": [{"from": "user, \"one\"", "to": "b 1", "bandwidth": 2},
                {"from": "b 1", "to": "p,1"}]}"#;
    let market = Market::from_json_str(text, "inline").unwrap();
    let g = ExpandedGraph::new(&market);
    let mut flow = Flow::zero(&g);
    flow.x[0] = vec![1.25; g.commodities[0].usable.len()];
    let csv = write_flows(&market, &g, &flow);
    assert_eq!(
        csv,
        "commodity,from,to,flow\n\"user, \"\"one\"\"\",\"user, \"\"one\"\"\",b 1,1.25\n\"user, \"\"one\"\"\",b 1,\"p,1\",1.25\n\"user, \"\"one\"\"\",\"p,1\",sink,1.25\n"
    );
    let (back, issues) = read_flows(&market, &g, &csv, "odd").unwrap();
    assert!(issues.is_empty());
    assert_eq!(back, flow);
}
