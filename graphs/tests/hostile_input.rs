//! Hostile market files that look harmless: records written as positional arrays,
//! keys given twice (the last would win), ids that look alike or blank, and numbers
//! each finite whose products overflow. Each is refused with a one-line message
//! naming the file, the JSON path or id, and the rule.

use brokerflow_graphs::{examples, Market, MarketError, Rule, MONEY_LIMIT};
use serde_json::{json, Value};

mod common;

const ORIGIN: &str = "hostile.json";

/// tiny (graphs/markets/tiny.json): Σ d_k = 40 jobs, Σ r_k·d_k = 60 resource units.
fn tiny() -> Value {
    serde_json::to_value(examples::tiny().market()).unwrap()
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut v = tiny();
    change(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

fn refuse(text: &str) -> MarketError {
    common::refuse(text, ORIGIN)
}

/// Refused before validation, naming `path` and saying each of `says`.
fn assert_parse(text: &str, path: &str, says: &[&str]) {
    let e = refuse(text);
    let msg = e.to_string();
    assert!(matches!(&e, MarketError::Parse(_)), "{e:?}");
    assert!(msg.starts_with(&format!("{ORIGIN}: {path}: ")), "{msg}");
    assert!(!msg.contains('\n'), "{msg:?}");
    for s in says {
        assert!(msg.contains(s), "expected {s:?} in: {msg}");
    }
}

#[test]
fn records_are_objects_never_positional_arrays() {
    // serde's derive reads a struct from the array of its fields in order: each of
    // these was accepted as the object it spells.
    let user = with(|v| v["users"][0] = json!(["u1", 10, 1, 20]));
    assert_parse(
        &user,
        "users[0]",
        &["a user as a JSON object", "positional"],
    );
    let broker = with(|v| v["brokers"][1] = json!(["b2", 20, 1]));
    assert_parse(&broker, "brokers[1]", &["a broker as a JSON object"]);
    let provider = with(|v| v["providers"][0] = json!(["p1", 15, 1]));
    assert_parse(&provider, "providers[0]", &["a provider as a JSON object"]);
    let link = with(|v| v["links"][2] = json!(["u3", "b2", null, 0]));
    assert_parse(&link, "links[2]", &["a link as a JSON object"]);
    let prices = with(|v| v["prices"] = json!([]));
    assert_parse(&prices, "prices", &["the prices table as a JSON object"]);
    // The whole market as an array is refused before serde sees it.
    let m = examples::tiny();
    let whole = json!([m.name, m.users, m.brokers, m.providers, m.links]).to_string();
    assert_parse(&whole, "(top level)", &["not an array"]);
    // The objects themselves still read.
    assert!(Market::from_json_str(&with(|_| ()), ORIGIN).is_ok());
}

#[test]
fn a_key_given_twice_is_refused_at_any_depth() {
    // In posted prices the last key would win: u1 would pay 100 at b, not 3.
    let prices = r#"{"name": "p", "users": [{"id": "u1", "demand": 4, "requirement": 1, "valuation": 10}, {"id": "u2", "demand": 4, "requirement": 1, "valuation": 6}],
      "brokers": [{"id": "b"}], "providers": [{"id": "p1"}],
      "links": [{"from": "u1", "to": "b"}, {"from": "u2", "to": "b"}, {"from": "b", "to": "p1"}],
      "prices": {"broker": {"b": {"u1": 3, "u2": 2, "u1": 100}}, "provider": {"p1": {"u1": 1, "u2": 1}}}}"#;
    assert_parse(prices, "prices.broker.b", &["duplicate key 'u1'", "line 4"]);
    // Without the repetition the same file is accepted.
    assert!(Market::from_json_str(&prices.replace(", \"u1\": 100", ""), ORIGIN).is_ok());
    // A seller given twice, and keys repeated in the free-form meta.
    let seller = prices.replace(
        r#""provider": {"p1": {"u1": 1, "u2": 1}}"#,
        r#""provider": {"p1": {"u1": 1}, "p1": {"u2": 1}}"#,
    );
    let seller = seller.replace(", \"u1\": 100", "");
    assert_parse(&seller, "prices.provider", &["duplicate key 'p1'"]);
    let meta = with(|v| v["meta"] = json!({"source": "x"}))
        .replace(r#""source": "x""#, r#""source": "x", "source": "y""#);
    assert_parse(&meta, "meta", &["duplicate key 'source'"]);
    // A repeated field of a record was refused already, and still is.
    let field = with(|_| ()).replacen(r#""demand": 10"#, r#""demand": 10, "demand": 11"#, 1);
    assert!(
        refuse(&field).to_string().contains("duplicate field"),
        "{field}"
    );
}

/// A broker id `id` is refused as a bad id whose problem contains `problem`, the
/// message naming it (escaped) and where it is.
fn bad_id_refused(id: &str, problem: &str) {
    let text = with(|v| {
        v["brokers"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "id": id }))
    });
    let e = refuse(&text);
    let msg = e.to_string();
    assert!(
        matches!(e.rule(), Some(Rule::BadId { id: i, problem: p }) if i == id && p.contains(problem)),
        "{id:?}: {msg}"
    );
    assert!(msg.starts_with(&format!("{ORIGIN}: brokers[2] (")), "{msg}");
    assert!(msg.contains(&id.escape_debug().to_string()), "{msg}");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_empty() {
    bad_id_refused("", "must not be empty");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_space() {
    bad_id_refused(" ", "only whitespace");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_an_ideographic_space() {
    bad_id_refused("\u{3000}", "only whitespace");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_leading_whitespace() {
    bad_id_refused(" b3", "start or end with whitespace");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_trailing_whitespace() {
    bad_id_refused("b3\t", "start or end with whitespace");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_control_character() {
    bad_id_refused("b\u{7}3", "control characters");
}

/// A zero-width space: the id looks like b1.
#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_zero_width_space() {
    bad_id_refused("b1\u{200b}", "invisible");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_zero_width_joiner() {
    bad_id_refused("b\u{200d}1", "invisible");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_byte_order_mark() {
    bad_id_refused("\u{feff}b1", "invisible");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_right_to_left_override() {
    bad_id_refused("b\u{202e}1", "invisible");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_left_to_right_isolate() {
    bad_id_refused("b\u{2066}1", "invisible");
}

#[test]
fn ids_that_are_blank_padded_or_hold_invisible_characters_are_refused_a_soft_hyphen() {
    bad_id_refused("b\u{ad}1", "invisible");
}

/// A broker id `id` with spaces inside or any visible script is accepted.
fn visible_id_accepted(id: &str) {
    let text = with(|v| {
        v["brokers"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "id": id }))
    });
    assert!(Market::from_json_str(&text, ORIGIN).is_ok(), "{id}");
}

#[test]
fn ids_inside_may_have_spaces_and_any_visible_script_a_space_inside() {
    visible_id_accepted("broker one");
}

#[test]
fn ids_inside_may_have_spaces_and_any_visible_script_latin_with_a_diacritic() {
    visible_id_accepted("Bröker-1");
}

#[test]
fn ids_inside_may_have_spaces_and_any_visible_script_chinese() {
    visible_id_accepted("经纪人");
}

#[test]
fn ids_inside_may_have_spaces_and_any_visible_script_punctuation() {
    visible_id_accepted("b_1.x");
}

/// Refused for a money product `term` at `at` (the message names both).
fn assert_too_large(text: &str, at: &str, term: &str) {
    let e = refuse(text);
    let msg = e.to_string();
    assert!(
        matches!(e.rule(), Some(Rule::TooLarge { term: t, .. }) if *t == term),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!("{ORIGIN}: {at}: {term} reaches")),
        "{msg}"
    );
    assert!(msg.contains("1e303"), "{msg}");
}

#[test]
fn numbers_whose_products_overflow_are_refused_naming_the_field() {
    assert_eq!(MONEY_LIMIT, 1e303);
    // Each of these numbers is finite; with them W = Σ v_k·d_k − … was inf and
    // payments NaN. u1 asks d = 10 jobs.
    let value = with(|v| v["users"][0]["valuation"] = json!(1e308));
    assert_too_large(&value, "users[0] (u1)", "demand × valuation");
    let value = with(|v| v["users"][0]["valuation"] = json!(1e303)); // 1e304
    assert_too_large(&value, "users[0] (u1)", "demand × valuation");
    // Two terms of 6e302 (u1: 10 × 6e301, u2: 20 × 3e301) each fit; their sum does not.
    let sum = with(|v| {
        v["users"][0]["valuation"] = json!(6e301);
        v["users"][1]["valuation"] = json!(3e301);
    });
    assert_too_large(&sum, "users[1] (u2)", "demand × valuation");
    let demand = with(|v| v["users"][2]["demand"] = json!(1e308));
    assert_too_large(&demand, "users[2] (u3)", "the demands' sum Σ d_k");
    // u2 needs 2 units per job: 2e303 resource units for 1e303 jobs (which fit).
    let units = with(|v| v["users"][1]["demand"] = json!(1e303));
    assert_too_large(
        &units,
        "users[1] (u2)",
        "the resource units demanded Σ r_k·d_k",
    );
    // Costs and prices, times the most they can be charged on: 40 jobs, 60 units.
    let broker = with(|v| v["brokers"][1]["cost"] = json!(1e302)); // 4e303
    assert_too_large(&broker, "brokers[1] (b2)", "cost × Σ d_k");
    let provider = with(|v| v["providers"][1]["cost"] = json!(2e301)); // 1.2e303
    assert_too_large(&provider, "providers[1] (p2)", "cost × Σ r_k·d_k");
    let link = with(|v| v["links"][3]["cost"] = json!(1e302));
    assert_too_large(&link, "links[3] (b1->b2)", "cost × Σ d_k");
    let price = with(|v| v["prices"] = json!({"provider": {"p2": {"u2": 1e302}}}));
    assert_too_large(&price, "prices.provider.p2.u2", "price × Σ d_k");
    // Large but representable amounts are accepted: 10 × 1e301 and 60 × 1e300.
    let large = with(|v| {
        v["users"][0]["valuation"] = json!(1e301);
        v["providers"][1]["cost"] = json!(1e300);
    });
    assert!(Market::from_json_str(&large, ORIGIN).is_ok());
}
