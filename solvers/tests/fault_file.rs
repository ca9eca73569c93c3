//! The fault file reader (design §5, "Faults"): every rule refused with one line naming
//! the file, the JSON path or id, and the rule; a good file read as written.

use brokerflow_graphs::{examples, ExpandedGraph};
use brokerflow_solvers::engine::faults::{parse, FaultError, FaultKind, FaultPlan, FaultRule};

/// Parses `faults` (the array's text) and checks it against tiny; the error's text.
fn refusal(faults: &str) -> (FaultError, String) {
    let text = format!(r#"{{"seed": 1, "faults": [{faults}]}}"#);
    let market = examples::tiny();
    let g = ExpandedGraph::new(&market);
    let e = parse(&text, "f.json")
        .and_then(|s| FaultPlan::new(&s, &market, &g, "f.json").map(|_| ()))
        .expect_err(faults);
    let message = e.to_string();
    assert!(message.starts_with("f.json: "), "{message}");
    assert!(!message.contains('\n'), "{message}");
    (e, message)
}

fn rule(faults: &str) -> (FaultRule, String) {
    let (e, message) = refusal(faults);
    (e.rule().cloned().expect(&message), message)
}

#[test]
fn a_good_file_is_read_as_written() {
    let s = parse(
        r#"{"seed": 7, "faults": [
            {"from": 3, "to": 9, "kind": "message-loss", "probability": 0.5, "link": ["u1", "b1"]},
            {"from": 1, "to": 2, "kind": "delay", "rounds": 4}]}"#,
        "f.json",
    )
    .unwrap();
    assert_eq!(s.seed, 7);
    assert_eq!(s.end(), 9);
    assert_eq!(
        s.faults[1].kind,
        FaultKind::Delay {
            rounds: 4,
            probability: None
        }
    );
    let market = examples::tiny();
    FaultPlan::new(&s, &market, &ExpandedGraph::new(&market), "f.json").unwrap();
}

#[test]
fn every_rule_is_refused_naming_the_path_and_the_rule() {
    let down = |node: &str, from: u64, to: u64| {
        format!(r#"{{"from": {from}, "to": {to}, "kind": "node-down", "node": "{node}"}}"#)
    };
    let (r, m) = rule(&down("nobody", 1, 5));
    assert_eq!(r, FaultRule::UnknownId("nobody".into()));
    assert!(m.contains("faults[0].node"), "{m}");
    let (r, m) = rule(r#"{"from": 1, "to": 5, "kind": "link-cut", "link": ["u1", "p1"]}"#);
    assert_eq!(r, FaultRule::UnknownLink("u1".into(), "p1".into()));
    assert!(m.contains("faults[0].link"), "{m}");
    let (r, _) = rule(r#"{"from": 1, "to": 5, "kind": "link-cut", "link": ["u1", "zz"]}"#);
    assert_eq!(r, FaultRule::UnknownId("zz".into()));
    assert_eq!(rule(&down("b1", 0, 5)).0, FaultRule::RoundZero);
    assert_eq!(
        rule(&down("b1", 5, 5)).0,
        FaultRule::EmptyRange { from: 5, to: 5 }
    );
    assert_eq!(
        rule(&down("b1", 6, 5)).0,
        FaultRule::EmptyRange { from: 6, to: 5 }
    );
    let (r, _) = rule(
        r#"{"from": 1, "to": 5, "kind": "message-loss", "probability": 0.1, "node": "b1", "link": ["u1", "b1"]}"#,
    );
    assert_eq!(r, FaultRule::NodeAndLink);
    let (r, _) = rule(r#"{"from": 1, "to": 5, "kind": "liar", "node": "u1", "factor": 2}"#);
    assert_eq!(r, FaultRule::LiarAtUser("u1".into()));
    // Overlaps that repeat or contradict; the same ones apart in rounds are fine.
    let overlapping = [
        (down("b1", 1, 10), down("b1", 9, 12)),
        (
            r#"{"from": 1, "to": 10, "kind": "link-cut", "link": ["u1", "b1"]}"#.to_string(),
            r#"{"from": 5, "to": 6, "kind": "link-cut", "link": ["u1", "b1"]}"#.to_string(),
        ),
        (
            r#"{"from": 1, "to": 10, "kind": "message-loss", "probability": 0.1}"#.to_string(),
            r#"{"from": 5, "to": 6, "kind": "message-loss", "probability": 0.3}"#.to_string(),
        ),
        (
            r#"{"from": 1, "to": 10, "kind": "delay", "rounds": 1}"#.to_string(),
            r#"{"from": 5, "to": 6, "kind": "delay", "rounds": 2}"#.to_string(),
        ),
        (
            r#"{"from": 1, "to": 10, "kind": "duplicate", "probability": 0.1}"#.to_string(),
            r#"{"from": 9, "to": 16, "kind": "duplicate", "probability": 0.1}"#.to_string(),
        ),
        (
            r#"{"from": 1, "to": 10, "kind": "liar", "node": "b1", "factor": 2}"#.to_string(),
            r#"{"from": 5, "to": 6, "kind": "liar", "node": "b1", "factor": 3}"#.to_string(),
        ),
        (
            down("b1", 1, 10),
            r#"{"from": 5, "to": 6, "kind": "liar", "node": "b1", "factor": 3}"#.to_string(),
        ),
    ];
    for (a, b) in &overlapping {
        let (r, m) = rule(&format!("{a}, {b}"));
        assert!(matches!(r, FaultRule::Overlap { other: 0, .. }), "{m}");
        assert!(m.contains("faults[1]"), "{m}");
        let apart = b
            .replace(r#""from": 5, "to": 6"#, r#""from": 20, "to": 30"#)
            .replace(r#""from": 9, "to": 12"#, r#""from": 10, "to": 12"#)
            .replace(r#""from": 9, "to": 16"#, r#""from": 10, "to": 16"#);
        let text = format!(r#"{{"seed": 1, "faults": [{a}, {apart}]}}"#);
        let market = examples::tiny();
        let s = parse(&text, "f.json").unwrap();
        FaultPlan::new(&s, &market, &ExpandedGraph::new(&market), "f.json")
            .unwrap_or_else(|e| panic!("{a} then {apart}: {e}"));
    }
    // Different scopes of loss may overlap.
    let scoped = r#"{"from": 1, "to": 10, "kind": "message-loss", "probability": 0.1},
        {"from": 1, "to": 10, "kind": "message-loss", "probability": 0.1, "node": "b1"}"#;
    let market = examples::tiny();
    let s = parse(&format!(r#"{{"seed": 1, "faults": [{scoped}]}}"#), "f.json").unwrap();
    FaultPlan::new(&s, &market, &ExpandedGraph::new(&market), "f.json").unwrap();
}

#[test]
fn malformed_files_are_refused_with_their_json_path() {
    let cases = [
        ("", "(top level)", "empty"),
        ("[7, []]", "(top level)", "a JSON object"),
        (
            r#"{"seed": 1, "faults": [[1, 5, "node-down", "b1"]]}"#,
            "faults[0]",
            "a JSON object",
        ),
        (
            r#"{"seed": 1, "faults": [], "extra": 1}"#,
            "extra",
            "unknown field",
        ),
        (
            r#"{"seed": 1, "seed": 2, "faults": []}"#,
            "(top level)",
            "duplicate field",
        ),
        (
            r#"{"seed": 1, "faults": [{"from": 1, "to": 2, "kind": "crash", "node": "b1"}]}"#,
            "faults[0].kind",
            "unknown variant",
        ),
        (
            r#"{"seed": 1, "faults": [{"from": 1, "to": 2, "kind": "node-down", "node": "b1", "node": "b2"}]}"#,
            "faults[0]",
            "duplicate field",
        ),
        (
            r#"{"seed": 1, "faults": [{"from": 1, "to": 2, "kind": "node-down", "nod": "b1"}]}"#,
            "faults[0]",
            "unknown field",
        ),
        (
            r#"{"seed": 1, "faults": [{"from": 1, "kind": "node-down", "node": "b1"}]}"#,
            "faults[0]",
            "missing field `to`",
        ),
        (r#"{"faults": []}"#, "(top level)", "missing field `seed`"),
        (r#"{"seed": -1, "faults": []}"#, "seed", "invalid value"),
        (
            r#"{"seed": 1, "faults": []} {}"#,
            "(top level)",
            "unexpected text",
        ),
        (
            r#"{"seed": 1, "faults": [{"from": 1,"#,
            "faults[0]",
            "truncated",
        ),
    ];
    for (text, path, why) in cases {
        let e = parse(text, "f.json").expect_err(text);
        let m = e.to_string();
        assert!(m.starts_with(&format!("f.json: {path}: ")), "{text}: {m}");
        assert!(m.contains(why), "{text}: {m}");
        assert!(!m.contains('\n'), "{m}");
    }
}

/// A probability `p` outside [0, 1] is refused in message-loss (naming its path),
/// duplicate and delay.
fn probability_refused(p: &str) {
    let (r, m) = rule(&format!(
        r#"{{"from": 1, "to": 5, "kind": "message-loss", "probability": {p}}}"#
    ));
    assert!(matches!(r, FaultRule::Probability(_)), "{m}");
    assert!(m.contains("faults[0].probability"), "{m}");
    let (r, _) = rule(&format!(
        r#"{{"from": 1, "to": 5, "kind": "duplicate", "probability": {p}}}"#
    ));
    assert!(matches!(r, FaultRule::Probability(_)));
    let (r, _) = rule(&format!(
        r#"{{"from": 1, "to": 5, "kind": "delay", "rounds": 2, "probability": {p}}}"#
    ));
    assert!(matches!(r, FaultRule::Probability(_)));
}

#[test]
fn a_negative_probability_is_refused() {
    probability_refused("-0.1");
}

#[test]
fn a_probability_above_one_is_refused() {
    probability_refused("1.5");
}

/// A liar's factor `f` that is not positive is refused.
fn factor_refused(f: &str) {
    let (r, m) = rule(&format!(
        r#"{{"from": 1, "to": 5, "kind": "liar", "node": "b1", "factor": {f}}}"#
    ));
    assert!(matches!(r, FaultRule::Factor(_)), "{m}");
}

#[test]
fn a_liar_factor_of_zero_is_refused() {
    factor_refused("0");
}

#[test]
fn a_negative_liar_factor_is_refused() {
    factor_refused("-2");
}

/// A delay of `d` rounds outside 1..=1000 is refused.
fn delay_rounds_refused(d: &str) {
    let (r, m) = rule(&format!(
        r#"{{"from": 1, "to": 5, "kind": "delay", "rounds": {d}}}"#
    ));
    assert!(matches!(r, FaultRule::DelayRounds(_)), "{m}");
}

#[test]
fn a_delay_of_zero_rounds_is_refused() {
    delay_rounds_refused("0");
}

#[test]
fn a_delay_of_1001_rounds_is_refused() {
    delay_rounds_refused("1001");
}

#[test]
fn a_delay_of_u64_max_rounds_is_refused() {
    delay_rounds_refused("18446744073709551615");
}
