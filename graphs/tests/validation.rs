//! Every rule of design §3 and every `Rule` variant, one bad input each: the market is
//! refused with the expected rule, and the one-line message names the input (origin),
//! the culprit (id or JSON path) and the rule. Valid edge cases are accepted.
//!
//! Each bad input is the valid base market below with one change, so the change is the
//! only thing that can be refused.

use brokerflow_graphs::json::ParseError;
use brokerflow_graphs::{
    Broker, ExpandedGraph, Link, Market, MarketError, Provider, Role, Rule, User, ValidMarket,
};
use serde_json::{json, Value};

mod common;

const ORIGIN: &str = "bad-market.json";

/// A valid market touching every part of the format: eligibility, finite and unlimited
/// capacities and links, broker→broker links both ways, costs, prices and meta.
fn base() -> Value {
    json!({
        "name": "base",
        "users": [
            {"id": "u1", "demand": 10, "requirement": 1.5, "valuation": 40},
            {"id": "u2", "demand": 5, "requirement": 2, "valuation": 20, "eligible": ["p1"]}
        ],
        "brokers": [{"id": "b1", "capacity": 30, "cost": 1}, {"id": "b2"}],
        "providers": [{"id": "p1", "capacity": 20, "cost": 2}, {"id": "p2"}],
        "links": [
            {"from": "u1", "to": "b1", "bandwidth": 12, "cost": 0.5},
            {"from": "u2", "to": "b1"},
            {"from": "b1", "to": "b2", "bandwidth": 8},
            {"from": "b2", "to": "b1"},
            {"from": "b1", "to": "p1", "bandwidth": 12},
            {"from": "b2", "to": "p2"}
        ],
        "prices": {"broker": {"b1": {"u1": 25}}, "provider": {"p1": {"u1": 9, "u2": 4}}},
        "meta": {"generator": "hand", "seed": 1}
    })
}

/// One change to the base market, for tables of cases.
type Change = Box<dyn Fn(&mut Value)>;

/// The base market with one change applied.
fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut v = base();
    change(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

fn push(v: &mut Value, key: &str, item: Value) {
    v[key].as_array_mut().unwrap().push(item);
}

fn link(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

fn refuse(text: &str) -> MarketError {
    common::refuse(text, ORIGIN)
}

fn assert_one_line(msg: &str) {
    assert!(
        !msg.contains('\n') && !msg.contains('\r'),
        "message is not one line: {msg:?}"
    );
}

/// Refused for `rule`; the message names the origin, every `culprits` string (JSON
/// path and/or id) and the rule's own text.
fn assert_rule(text: &str, rule: Rule, culprits: &[&str]) {
    let e = refuse(text);
    let msg = e.to_string();
    assert_eq!(e.rule(), Some(&rule), "wrong rule in: {msg}");
    assert_one_line(&msg);
    assert!(
        msg.starts_with(&format!("{ORIGIN}: ")),
        "no origin in: {msg}"
    );
    for c in culprits {
        assert!(msg.contains(c), "{c:?} not named in: {msg}");
    }
    assert!(msg.contains(&rule.to_string()), "rule not stated in: {msg}");
}

/// Refused by the parser (wrong shape): no `Rule`, the message names the origin, the
/// JSON path (`(top level)` for the whole document) and the words of the problem.
fn assert_parse(text: &str, path: &str, words: &[&str]) {
    let e = refuse(text);
    let msg = e.to_string();
    assert!(
        matches!(&e, MarketError::Parse(ParseError { path: p, .. }) if p == path || (path == "(top level)" && (p.is_empty() || p == "."))),
        "expected a parse error at {path}, got {e:?}"
    );
    assert_eq!(e.rule(), None);
    assert_one_line(&msg);
    assert!(
        msg.starts_with(&format!("{ORIGIN}: {path}: ")),
        "origin and path {path} not named in: {msg}"
    );
    for w in words {
        assert!(msg.contains(w), "{w:?} not in: {msg}");
    }
}

#[test]
fn the_base_market_is_valid() {
    let m = Market::from_json_str(&with(|_| {}), ORIGIN).unwrap();
    assert_eq!(
        (m.users.len(), m.brokers.len(), m.providers.len()),
        (2, 2, 2)
    );
    assert_eq!(m.links.len(), 6);
}

// ---- links -----------------------------------------------------------------------

#[test]
fn unknown_link_endpoint() {
    let to = with(|v| push(v, "links", link("u1", "bX")));
    assert_rule(&to, Rule::UnknownId("bX".into()), &["links[6]", "bX"]);
    let from = with(|v| push(v, "links", link("nobody", "p1")));
    assert_rule(
        &from,
        Rule::UnknownId("nobody".into()),
        &["links[6]", "nobody"],
    );
}

#[test]
fn every_disallowed_role_pair() {
    use Role::*;
    // The 9 ordered role pairs minus the 3 allowed ones (user->broker,
    // broker->broker, broker->provider); endpoints differ, so no self-loop.
    let pairs = [
        ("u1", "u2", User, User),
        ("u1", "p1", User, Provider),
        ("b1", "u1", Broker, User),
        ("p1", "u1", Provider, User),
        ("p1", "b1", Provider, Broker),
        ("p1", "p2", Provider, Provider),
    ];
    for (a, b, from, to) in pairs {
        let text = with(|v| push(v, "links", link(a, b)));
        let at = format!("links[6] ({a}->{b})");
        assert_rule(&text, Rule::WrongRolePair { from, to }, &[&at]);
    }
}

/// A link from `id` to itself is refused.
fn self_loop(id: &str) {
    let text = with(|v| push(v, "links", link(id, id)));
    assert_rule(&text, Rule::SelfLoop(id.into()), &["links[6]", id]);
}

#[test]
fn self_loops_of_a_broker() {
    self_loop("b1");
}

#[test]
fn self_loops_of_a_user() {
    self_loop("u1");
}

#[test]
fn self_loops_of_a_provider() {
    self_loop("p2");
}

#[test]
fn duplicate_link() {
    // Same ordered pair as links[0], different bandwidth: still a duplicate.
    let text = with(|v| {
        push(
            v,
            "links",
            json!({"from": "u1", "to": "b1", "bandwidth": 3}),
        )
    });
    assert_rule(
        &text,
        Rule::DuplicateLink("u1".into(), "b1".into()),
        &["links[6]", "u1->b1"],
    );
}

#[test]
fn opposite_broker_links_are_not_duplicates() {
    // b1->b2 and b2->b1 are both in the base market: two ordered pairs.
    assert!(Market::from_json_str(&with(|_| {}), ORIGIN).is_ok());
}

// ---- ids ---------------------------------------------------------------------------

#[test]
fn duplicate_ids_within_and_across_roles() {
    let cases = [
        (
            "users",
            json!({"id": "u1", "demand": 1, "requirement": 1, "valuation": 1}),
            "users[2]",
        ),
        ("brokers", json!({"id": "u1"}), "brokers[2]"),
        ("providers", json!({"id": "b2"}), "providers[2]"),
        ("providers", json!({"id": "p1"}), "providers[2]"),
    ];
    for (key, item, at) in cases {
        let id = item["id"].as_str().unwrap().to_string();
        let text = with(|v| push(v, key, item));
        assert_rule(
            &text,
            Rule::DuplicateId(id.clone()),
            &[at, &format!("'{id}'")],
        );
    }
}

/// A participant `id` added to `key` is refused as reserved: 'sink' and `t(…)` name
/// collection points, '->' bandwidth nodes.
fn reserved_id(id: &str, key: &str) {
    let text = with(|v| push(v, key, json!({ "id": id })));
    let at = format!("{key}[2] ({id})");
    assert_rule(&text, Rule::ReservedId(id.into()), &[&at]);
}

#[test]
fn reserved_ids_sink() {
    reserved_id("sink", "brokers");
}

#[test]
fn reserved_ids_arrow_inside() {
    reserved_id("a->b", "providers");
}

#[test]
fn reserved_ids_arrow() {
    reserved_id("->", "brokers");
}

#[test]
fn reserved_ids_collection_point_of_a_user() {
    reserved_id("t(u1)", "brokers");
}

#[test]
fn reserved_ids_collection_point() {
    reserved_id("t(x)", "providers");
}

#[test]
fn reserved_ids_of_users() {
    let user = with(|v| v["users"][0]["id"] = json!("sink"));
    assert_rule(&user, Rule::ReservedId("sink".into()), &["users[0] (sink)"]);
}

#[test]
fn ids_that_only_resemble_reserved_ones_are_fine() {
    let text = with(|v| {
        push(v, "brokers", json!({"id": "sinks"}));
        push(v, "brokers", json!({"id": "a-b>"}));
        push(v, "brokers", json!({"id": "t(x"}));
        push(v, "brokers", json!({"id": "at(x)"}));
    });
    Market::from_json_str(&text, ORIGIN).unwrap();
}

/// A participant called like a collection point must not alias one in G′.
#[test]
fn a_collection_point_name_cannot_be_smuggled_in() {
    let text = with(|v| {
        push(v, "brokers", json!({"id": "t(u1)"}));
        push(v, "links", link("u1", "t(u1)"));
    });
    assert_rule(
        &text,
        Rule::ReservedId("t(u1)".into()),
        &["brokers[2] (t(u1))"],
    );
}

// ---- numbers -----------------------------------------------------------------------

#[test]
fn negative_numbers() {
    let cases: Vec<(&str, &str, Change)> = vec![
        (
            "demand",
            "users[0] (u1)",
            Box::new(|v| v["users"][0]["demand"] = json!(-1)),
        ),
        (
            "valuation",
            "users[1] (u2)",
            Box::new(|v| v["users"][1]["valuation"] = json!(-1)),
        ),
        (
            "capacity",
            "brokers[0] (b1)",
            Box::new(|v| v["brokers"][0]["capacity"] = json!(-1)),
        ),
        (
            "cost",
            "brokers[1] (b2)",
            Box::new(|v| v["brokers"][1]["cost"] = json!(-1)),
        ),
        (
            "capacity",
            "providers[1] (p2)",
            Box::new(|v| v["providers"][1]["capacity"] = json!(-1)),
        ),
        (
            "cost",
            "providers[0] (p1)",
            Box::new(|v| v["providers"][0]["cost"] = json!(-1)),
        ),
        (
            "bandwidth",
            "links[2] (b1->b2)",
            Box::new(|v| v["links"][2]["bandwidth"] = json!(-1)),
        ),
        (
            "cost",
            "links[3] (b2->b1)",
            Box::new(|v| v["links"][3]["cost"] = json!(-1)),
        ),
        (
            "price",
            "prices.broker.b1.u1",
            Box::new(|v| v["prices"]["broker"]["b1"]["u1"] = json!(-1)),
        ),
        (
            "price",
            "prices.provider.p1.u2",
            Box::new(|v| v["prices"]["provider"]["p1"]["u2"] = json!(-1)),
        ),
    ];
    for (field, at, change) in cases {
        let text = with(|v| change(v));
        let rule = Rule::Negative { field, value: -1.0 };
        // The rule's text names the field and the value: "demand is -1, must not be negative".
        assert_rule(&text, rule, &[at, &format!("{field} is -1")]);
    }
}

#[test]
fn tiny_negative_numbers_are_negative_too() {
    let text = with(|v| v["providers"][0]["cost"] = json!(-1e-300));
    assert_rule(
        &text,
        Rule::Negative {
            field: "cost",
            value: -1e-300,
        },
        &["providers[0] (p1)"],
    );
}

/// JSON has no NaN or infinity. A literal that overflows f64 (1e999) is refused by
/// serde_json while parsing ("number out of range"), so it is a parse error naming the
/// path, not a `Rule::NonFinite`.
#[test]
fn non_finite_numbers_in_json_are_refused_while_parsing() {
    let base = with(|_| {});
    let huge = base.replacen("\"demand\": 10", "\"demand\": 1e999", 1);
    assert_ne!(huge, base);
    assert_parse(&huge, "users[0].demand", &["number out of range"]);
    let minus = base.replacen("\"bandwidth\": 8", "\"bandwidth\": -1e999", 1);
    assert_ne!(minus, base);
    assert_parse(&minus, "links[2].bandwidth", &["number out of range"]);
    let price = base.replacen("\"u1\": 25", "\"u1\": 1e400", 1);
    assert_ne!(price, base);
    assert_parse(&price, "prices.broker.b1.u1", &["number out of range"]);
    for word in ["NaN", "Infinity", "-Infinity"] {
        let text = base.replacen("\"valuation\": 40", &format!("\"valuation\": {word}"), 1);
        assert_ne!(text, base);
        let msg = refuse(&text).to_string();
        assert_one_line(&msg);
        assert!(msg.starts_with(ORIGIN), "{msg}");
        assert!(msg.contains("users[0].valuation"), "{msg}");
    }
}

/// A market built in code can hold NaN and infinities: `validate` refuses them.
#[test]
fn non_finite_numbers_in_code_are_refused_by_validate() {
    let good: Market = Market::from_json_str(&with(|_| {}), ORIGIN)
        .unwrap()
        .into_market();
    type Edit = Box<dyn Fn(&mut Market)>;
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "demand",
            "users[0] (u1)",
            Box::new(|m| m.users[0].demand = f64::NAN),
        ),
        (
            "requirement",
            "users[1] (u2)",
            Box::new(|m| m.users[1].requirement = f64::INFINITY),
        ),
        (
            "valuation",
            "users[0] (u1)",
            Box::new(|m| m.users[0].valuation = f64::NEG_INFINITY),
        ),
        (
            "capacity",
            "brokers[1] (b2)",
            Box::new(|m| m.brokers[1].capacity = Some(f64::INFINITY)),
        ),
        (
            "cost",
            "brokers[0] (b1)",
            Box::new(|m| m.brokers[0].cost = f64::NAN),
        ),
        (
            "capacity",
            "providers[0] (p1)",
            Box::new(|m| m.providers[0].capacity = Some(f64::NAN)),
        ),
        (
            "cost",
            "providers[1] (p2)",
            Box::new(|m| m.providers[1].cost = f64::INFINITY),
        ),
        (
            "bandwidth",
            "links[0] (u1->b1)",
            Box::new(|m| m.links[0].bandwidth = Some(f64::NAN)),
        ),
        (
            "cost",
            "links[5] (b2->p2)",
            Box::new(|m| m.links[5].cost = f64::INFINITY),
        ),
        (
            "price",
            "prices.provider.p1.u1",
            Box::new(|m| {
                let p = m.prices.as_mut().unwrap();
                p.provider
                    .get_mut("p1")
                    .unwrap()
                    .insert("u1".into(), f64::NAN);
            }),
        ),
    ];
    for (field, at, change) in cases {
        let mut m = good.clone();
        change(&mut m);
        let e = m.clone().validate_as("hand-built").unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.rule(), Some(&Rule::NonFinite { field }), "{msg}");
        assert_one_line(&msg);
        assert!(msg.starts_with("hand-built: "), "{msg}");
        assert!(msg.contains(at), "{at} not in {msg}");
        assert!(
            msg.contains(&format!("{field} is not a finite number")),
            "{msg}"
        );
        // Without an origin, validate names the input `<market>`.
        assert!(m
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("<market>: "));
    }
}

#[test]
fn requirement_must_be_positive() {
    let zero = with(|v| v["users"][1]["requirement"] = json!(0));
    assert_rule(
        &zero,
        Rule::RequirementNotPositive(0.0),
        &["users[1] (u2)", "requirement is 0"],
    );
    let negative = with(|v| v["users"][0]["requirement"] = json!(-2.5));
    assert_rule(
        &negative,
        Rule::RequirementNotPositive(-2.5),
        &["users[0] (u1)", "requirement is -2.5"],
    );
    let tiny = with(|v| v["users"][0]["requirement"] = json!(1e-300));
    Market::from_json_str(&tiny, ORIGIN).unwrap();
}

// ---- shape: missing, unknown, mistyped fields, not JSON -----------------------------

#[test]
fn every_required_field_missing() {
    let top = ["name", "users", "brokers", "providers", "links"];
    for f in top {
        let text = with(|v| {
            v.as_object_mut().unwrap().remove(f);
        });
        assert_parse(&text, "(top level)", &[&format!("missing field `{f}`")]);
    }
    let nested: [(&str, &[&str]); 4] = [
        ("users", &["id", "demand", "requirement", "valuation"]),
        ("brokers", &["id"]),
        ("providers", &["id"]),
        ("links", &["from", "to"]),
    ];
    for (key, fields) in nested {
        for f in fields {
            let text = with(|v| {
                v[key][1].as_object_mut().unwrap().remove(*f);
            });
            let path = format!("{key}[1]");
            assert_parse(&text, &path, &[&format!("missing field `{f}`")]);
        }
    }
}

#[test]
fn optional_fields_may_be_missing() {
    let text = with(|v| {
        let o = v.as_object_mut().unwrap();
        o.remove("prices");
        o.remove("meta");
        v["brokers"][0].as_object_mut().unwrap().remove("cost");
        v["providers"][0]
            .as_object_mut()
            .unwrap()
            .remove("capacity");
        v["links"][0].as_object_mut().unwrap().remove("cost");
        v["users"][1].as_object_mut().unwrap().remove("eligible");
    });
    let m = Market::from_json_str(&text, ORIGIN).unwrap();
    assert_eq!(m.prices, None);
    assert_eq!(m.brokers[0].cost, 0.0);
    assert_eq!(m.providers[0].capacity, None);
    assert_eq!(m.users[1].eligible, None);
    // Empty price tables are fine too.
    let empty = with(|v| v["prices"] = json!({}));
    Market::from_json_str(&empty, ORIGIN).unwrap();
}

#[test]
fn unknown_fields_top_level_and_nested() {
    // The path runs down to the unknown key itself.
    let cases: Vec<(&str, Change)> = vec![
        ("colour", Box::new(|v| v["colour"] = json!("red"))),
        (
            "users[1].colour",
            Box::new(|v| v["users"][1]["colour"] = json!(1)),
        ),
        (
            "brokers[0].colour",
            Box::new(|v| v["brokers"][0]["colour"] = json!(1)),
        ),
        (
            "providers[1].colour",
            Box::new(|v| v["providers"][1]["colour"] = json!(1)),
        ),
        (
            "links[4].colour",
            Box::new(|v| v["links"][4]["colour"] = json!(1)),
        ),
        (
            "prices.colour",
            Box::new(|v| v["prices"]["colour"] = json!({})),
        ),
    ];
    for (path, change) in cases {
        let text = with(|v| change(v));
        assert_parse(&text, path, &["unknown field `colour`, expected"]);
    }
    // `meta` is free-form: any key is fine there.
    let meta = with(|v| v["meta"]["colour"] = json!({"deep": [1, "x"]}));
    Market::from_json_str(&meta, ORIGIN).unwrap();
}

#[test]
fn type_errors_name_the_field_path() {
    let cases: Vec<(&str, &str, Change)> = vec![
        (
            "users[0].demand",
            "invalid type: string",
            Box::new(|v| v["users"][0]["demand"] = json!("ten")),
        ),
        (
            "users[1].eligible",
            "invalid type: string",
            Box::new(|v| v["users"][1]["eligible"] = json!("p1")),
        ),
        (
            "users[1].eligible[0]",
            "invalid type: integer",
            Box::new(|v| v["users"][1]["eligible"][0] = json!(1)),
        ),
        (
            "brokers[0].capacity",
            "invalid type: boolean",
            Box::new(|v| v["brokers"][0]["capacity"] = json!(true)),
        ),
        (
            "links[2].bandwidth",
            "invalid type: string",
            Box::new(|v| v["links"][2]["bandwidth"] = json!("8")),
        ),
        (
            "links[0].from",
            "invalid type: integer",
            Box::new(|v| v["links"][0]["from"] = json!(7)),
        ),
        (
            "name",
            "invalid type: null",
            Box::new(|v| v["name"] = json!(null)),
        ),
        (
            "users",
            "invalid type: map",
            Box::new(|v| v["users"] = json!({})),
        ),
        (
            "prices.broker.b1.u1",
            "invalid type: string",
            Box::new(|v| v["prices"]["broker"]["b1"]["u1"] = json!("25")),
        ),
        (
            "meta",
            "invalid type: sequence",
            Box::new(|v| v["meta"] = json!([1])),
        ),
    ];
    for (path, words, change) in cases {
        let text = with(|v| change(v));
        assert_parse(&text, path, &[words]);
    }
}

/// The market followed by `tail` is refused as text after the object.
fn trailing_text(tail: &str) {
    let base = with(|_| {});
    let text = format!("{base}{tail}");
    assert_parse(
        &text,
        "(top level)",
        &["unexpected text after the market object"],
    );
}

#[test]
fn trailing_text_after_the_object_an_object() {
    trailing_text(" {}");
}

#[test]
fn trailing_text_after_the_object_a_word() {
    trailing_text("x");
}

#[test]
fn trailing_text_after_the_object_a_comma() {
    trailing_text(",");
}

#[test]
fn trailing_text_after_the_object_a_bracket() {
    trailing_text("\n]");
}

#[test]
fn trailing_text_after_the_object_a_named_object() {
    trailing_text(" {\"name\": 1}");
}

#[test]
fn trailing_whitespace_is_not_text() {
    let base = with(|_| {});
    Market::from_json_str(&format!("{base} \n\t\n"), ORIGIN).unwrap();
}

/// `text` is refused in one line that says what is wrong (`says`): what the text is
/// when it is no JSON at all, else where the JSON breaks off.
fn not_json(text: &str, says: &str) {
    let e = refuse(text);
    let msg = e.to_string();
    assert!(matches!(e, MarketError::Parse(_)), "{e:?}");
    assert_one_line(&msg);
    assert!(msg.starts_with(&format!("{ORIGIN}: ")), "{msg}");
    assert!(msg.contains(says), "{text:?}: expected {says:?} in: {msg}");
}

#[test]
fn not_json_at_all_empty() {
    not_json("", "the file is empty");
}

#[test]
fn not_json_at_all_blank() {
    not_json("   ", "the file is empty");
}

#[test]
fn not_json_at_all_a_word() {
    not_json("hello", "not JSON");
}

#[test]
fn not_json_at_all_yaml() {
    not_json("name: tiny", "not YAML");
}

#[test]
fn not_json_at_all_an_open_brace() {
    not_json("{", "line 1");
}

#[test]
fn not_json_at_all_truncated() {
    not_json("{\"name\": \"x\"", "truncated");
}

/// A byte-order mark is skipped; `{}` then lacks its fields.
#[test]
fn not_json_at_all_a_byte_order_mark_then_an_empty_object() {
    not_json("\u{feff}{}", "line 1");
}

#[test]
fn json_that_is_not_an_object() {
    // JSON, but not an object (serde would read a struct from an array positionally,
    // so arrays are refused before it tries).
    assert_parse("[1, 2]", "(top level)", &["not an array"]);
    assert_parse("\"market\"", "(top level)", &["not a string"]);
    assert_parse("42", "(top level)", &["not a number"]);
    assert_parse("null", "(top level)", &["not null"]);
}

#[test]
fn an_id_with_a_line_break_still_gives_a_one_line_message() {
    let text = with(|v| {
        v["brokers"][1]["id"] = json!("evil\nid");
        push(v, "providers", json!({"id": "evil\nid"}));
    });
    let e = refuse(&text);
    // A control character is refused in the first id that has one.
    assert_eq!(
        e.rule(),
        Some(&Rule::BadId {
            id: "evil\nid".into(),
            problem: "ids must not contain control characters"
        })
    );
    let msg = e.to_string();
    assert_one_line(&msg);
    assert!(msg.contains("evil\\nid"), "{msg}");
    let key = with(|v| v["links"][0]["bad\r\nkey"] = json!(1));
    let msg = refuse(&key).to_string();
    assert_one_line(&msg);
    assert!(msg.contains("bad\\r\\nkey"), "{msg}");
    let origin_msg = Market::from_json_str("x", "two\nlines.json")
        .unwrap_err()
        .to_string();
    assert_one_line(&origin_msg);
    assert!(origin_msg.starts_with("two\\nlines.json: "), "{origin_msg}");
}

// ---- prices ------------------------------------------------------------------------

#[test]
fn prices_name_sellers_and_buyers_of_the_right_role() {
    use Role::*;
    let unknown_broker = with(|v| v["prices"]["broker"]["bX"] = json!({"u1": 1}));
    assert_rule(
        &unknown_broker,
        Rule::UnknownId("bX".into()),
        &["prices.broker.bX"],
    );
    let unknown_provider = with(|v| v["prices"]["provider"]["pX"] = json!({}));
    assert_rule(
        &unknown_provider,
        Rule::UnknownId("pX".into()),
        &["prices.provider.pX"],
    );
    let user_sells = with(|v| v["prices"]["broker"]["u1"] = json!({"u2": 1}));
    assert_rule(
        &user_sells,
        Rule::WrongRole {
            id: "u1".into(),
            found: User,
            expected: Broker,
        },
        &[
            "prices.broker.u1",
            "'u1' is a user, but a broker is required",
        ],
    );
    let provider_as_broker = with(|v| v["prices"]["broker"]["p1"] = json!({"u2": 1}));
    assert_rule(
        &provider_as_broker,
        Rule::WrongRole {
            id: "p1".into(),
            found: Provider,
            expected: Broker,
        },
        &["prices.broker.p1"],
    );
    let broker_as_provider = with(|v| v["prices"]["provider"]["b2"] = json!({"u2": 1}));
    assert_rule(
        &broker_as_provider,
        Rule::WrongRole {
            id: "b2".into(),
            found: Broker,
            expected: Provider,
        },
        &["prices.provider.b2"],
    );
    let unknown_user = with(|v| v["prices"]["broker"]["b1"]["uX"] = json!(3));
    assert_rule(
        &unknown_user,
        Rule::UnknownId("uX".into()),
        &["prices.broker.b1.uX"],
    );
    let broker_buys = with(|v| v["prices"]["provider"]["p1"]["b1"] = json!(3));
    assert_rule(
        &broker_buys,
        Rule::WrongRole {
            id: "b1".into(),
            found: Broker,
            expected: User,
        },
        &[
            "prices.provider.p1.b1",
            "'b1' is a broker, but a user is required",
        ],
    );
    let provider_buys = with(|v| v["prices"]["broker"]["b1"]["p2"] = json!(3));
    assert_rule(
        &provider_buys,
        Rule::WrongRole {
            id: "p2".into(),
            found: Provider,
            expected: User,
        },
        &["prices.broker.b1.p2"],
    );
}

// ---- eligibility -------------------------------------------------------------------

#[test]
fn eligibility_names_providers_once_each() {
    use Role::*;
    let unknown = with(|v| push(&mut v["users"][1], "eligible", json!("pX")));
    assert_rule(
        &unknown,
        Rule::UnknownId("pX".into()),
        &["users[1].eligible[1] (u2)", "pX"],
    );
    let broker = with(|v| v["users"][1]["eligible"] = json!(["b1"]));
    assert_rule(
        &broker,
        Rule::WrongRole {
            id: "b1".into(),
            found: Broker,
            expected: Provider,
        },
        &[
            "users[1].eligible[0] (u2)",
            "'b1' is a broker, but a provider is required",
        ],
    );
    let user = with(|v| v["users"][0]["eligible"] = json!(["p2", "u2"]));
    assert_rule(
        &user,
        Rule::WrongRole {
            id: "u2".into(),
            found: User,
            expected: Provider,
        },
        &["users[0].eligible[1] (u1)"],
    );
    let twice = with(|v| v["users"][1]["eligible"] = json!(["p1", "p2", "p1"]));
    assert_rule(
        &twice,
        Rule::DuplicateEligible("p1".into()),
        &["users[1].eligible[2] (u2)", "provider 'p1' is listed twice"],
    );
}

// ---- valid edge cases ----------------------------------------------------------------

fn stranded(m: &ValidMarket) -> Vec<String> {
    ExpandedGraph::new(m)
        .stranded()
        .map(|c| c.id.clone())
        .collect()
}

#[test]
fn zero_capacity_and_zero_bandwidth_are_allowed_and_strand_what_needs_them() {
    // u1's only route is u1 -> b1 -> p1; u2 (eligible p1 only) also needs b1 and p1.
    let provider_down = with(|v| v["providers"][0]["capacity"] = json!(0));
    let m = Market::from_json_str(&provider_down, ORIGIN).unwrap();
    // u1 still reaches p2 through b1 -> b2 -> p2; u2 may use p1 only, which is down.
    assert_eq!(stranded(&m), ["u2"]);

    let broker_down = with(|v| v["brokers"][0]["capacity"] = json!(0));
    let m = Market::from_json_str(&broker_down, ORIGIN).unwrap();
    // Every user enters through b1.
    assert_eq!(stranded(&m), ["u1", "u2"]);

    let link_down = with(|v| v["links"][0]["bandwidth"] = json!(0));
    let m = Market::from_json_str(&link_down, ORIGIN).unwrap();
    // u1's only link (u1 -> b1) carries nothing; u2 enters through its own link.
    assert_eq!(stranded(&m), ["u1"]);
}

#[test]
fn zero_demand_is_allowed() {
    let text = with(|v| v["users"][0]["demand"] = json!(0));
    let m = Market::from_json_str(&text, ORIGIN).unwrap();
    assert_eq!(m.users[0].demand, 0.0);
}

#[test]
fn no_links_strands_every_user() {
    let text = with(|v| v["links"] = json!([]));
    let m = Market::from_json_str(&text, ORIGIN).unwrap();
    assert_eq!(stranded(&m), ["u1", "u2"]);
}

#[test]
fn an_empty_market_is_valid() {
    let text = r#"{"name": "", "users": [], "brokers": [], "providers": [], "links": []}"#;
    let m = Market::from_json_str(text, ORIGIN).unwrap();
    assert_eq!(ExpandedGraph::new(&m).graph.node_count(), 0);
}

#[test]
fn a_user_reaching_no_eligible_provider_is_valid_and_stranded() {
    // u2 may use p2 only; p2 is reached only from b2, and nothing reaches b2 once the
    // b1 -> b2 link is gone. u1 (all providers eligible) still reaches p1.
    let text = with(|v| {
        v["users"][1]["eligible"] = json!(["p2"]);
        v["links"].as_array_mut().unwrap().remove(2);
    });
    let m = Market::from_json_str(&text, ORIGIN).unwrap();
    assert_eq!(stranded(&m), ["u2"]);
    // An empty eligibility list is valid too: that user can use no provider at all.
    let none = with(|v| v["users"][0]["eligible"] = json!([]));
    let m = Market::from_json_str(&none, ORIGIN).unwrap();
    assert_eq!(stranded(&m), ["u1"]);
}

#[test]
fn unlimited_everything() {
    let text = r#"{"name": "open",
        "users": [{"id": "u", "demand": 1e9, "requirement": 1, "valuation": 0}],
        "brokers": [{"id": "b"}], "providers": [{"id": "p"}],
        "links": [{"from": "u", "to": "b"}, {"from": "b", "to": "p"}]}"#;
    let m = Market::from_json_str(text, ORIGIN).unwrap();
    assert_eq!(m.brokers[0].capacity, None);
    assert_eq!(m.links[0].bandwidth, None);
    let g = ExpandedGraph::new(&m);
    // u, b, p, t(u): no bandwidth nodes; edges u->b, b->p, p->t(u).
    assert_eq!((g.graph.node_count(), g.graph.edge_count()), (4, 3));
    assert!(g.graph.node_weights().all(|n| n.capacity.is_none()));
    assert_eq!(g.stranded().count(), 0);
}

// ---- files ---------------------------------------------------------------------------

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "brokerflow-validation-{}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn load_of_a_missing_file_names_the_path() {
    // A directory that is never created.
    let path = std::env::temp_dir()
        .join(format!(
            "brokerflow-validation-{}-absent",
            std::process::id()
        ))
        .join("no-such-market.json");
    let e = Market::load(&path).unwrap_err();
    assert!(matches!(e, MarketError::Io { .. }), "{e:?}");
    let msg = e.to_string();
    assert_one_line(&msg);
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("cannot read"), "{msg}");
}

#[test]
fn load_names_the_file_in_rule_errors() {
    let dir = temp_dir("load");
    let path = dir.join("selfloop.json");
    std::fs::write(&path, with(|v| push(v, "links", link("b2", "b2")))).unwrap();
    let e = Market::load(&path).unwrap_err();
    assert_eq!(e.rule(), Some(&Rule::SelfLoop("b2".into())));
    assert!(e
        .to_string()
        .starts_with(&format!("{}: links[6]", path.display())));
    let good = dir.join("good.json");
    std::fs::write(&good, with(|_| {})).unwrap();
    assert_eq!(
        Market::load(&good).unwrap(),
        Market::from_json_str(&with(|_| {}), "x").unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_market_round_trips_through_its_json() {
    let m = Market::from_json_str(&with(|_| {}), ORIGIN).unwrap();
    let text = m.to_json_pretty();
    let back = Market::from_json_str(&text, "round-trip").unwrap();
    assert_eq!(back, m);
    // And the text itself is stable.
    assert_eq!(back.to_json_pretty(), text);
}

#[test]
fn a_hand_built_market_validates_and_round_trips() {
    let m = Market {
        name: "built".into(),
        users: vec![User {
            id: "u".into(),
            demand: 3.25,
            requirement: 0.5,
            valuation: 7.0,
            eligible: Some(vec!["p".into()]),
        }],
        brokers: vec![Broker {
            id: "b".into(),
            capacity: Some(0.0),
            cost: 0.125,
        }],
        providers: vec![Provider {
            id: "p".into(),
            capacity: None,
            cost: 0.0,
        }],
        links: vec![
            Link {
                from: "u".into(),
                to: "b".into(),
                bandwidth: Some(2.0),
                cost: 0.0,
            },
            Link {
                from: "b".into(),
                to: "p".into(),
                bandwidth: None,
                cost: 1.5,
            },
        ],
        prices: None,
        meta: None,
    };
    let m = m.validate().unwrap();
    assert_eq!(
        Market::from_json_str(&m.to_json_pretty(), "built").unwrap(),
        m
    );
}

/// A market edited in code reaches G′ only through validation: an unknown link id or a
/// negative demand is refused there, with its name, instead of panicking in the
/// expansion or running through a solver.
#[test]
fn markets_edited_in_code_must_validate_again_before_expansion() {
    let mut m = brokerflow_graphs::examples::tiny().into_market();
    m.links.push(brokerflow_graphs::Link {
        from: "b1".into(),
        to: "nowhere".into(),
        bandwidth: None,
        cost: 0.0,
    });
    let msg = m.validate().unwrap_err().to_string();
    assert!(msg.contains("nowhere"), "{msg}");
    let mut m = brokerflow_graphs::examples::tiny().into_market();
    m.users[1].demand = -1.0;
    let msg = m.validate().unwrap_err().to_string();
    assert!(msg.contains("u2") && msg.contains("demand"), "{msg}");
    // Unedited, it expands as before.
    let g = ExpandedGraph::new(&brokerflow_graphs::examples::tiny());
    assert_eq!(g.graph.node_count(), 13);
}
