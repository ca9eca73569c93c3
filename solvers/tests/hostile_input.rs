//! Hostile input to the solvers' readers (bids, stream offers, MCA scenarios,
//! deviations): records written as positional arrays, keys given twice (the last
//! would win), look-alike ids and overflowing bids are refused with a message naming
//! the file and the place.

use brokerflow_graphs::examples;
use brokerflow_solvers::mca::scenario::Scenario;
use brokerflow_solvers::settle::replicated::Deviation;
use brokerflow_solvers::settle::Bids;
use brokerflow_solvers::stream::offers::Offers;

fn says(msg: &str, parts: &[&str]) {
    assert!(!msg.contains('\n'), "{msg:?}");
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in: {msg}");
    }
}

fn bids_error(text: &str) -> String {
    match Bids::from_json_str(text, "bids.json") {
        Ok(b) => panic!("accepted {text}: {b:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bids_are_an_object_with_each_key_once() {
    says(
        &bids_error(r#"[{"u1": 5}]"#),
        &["bids.json: ", "the bids as a JSON object", "positional"],
    );
    // Last-one-wins would make u1 declare 7.
    says(
        &bids_error(r#"{"valuations": {"u1": 5, "u2": 1, "u1": 7}}"#),
        &["bids.json: valuations: duplicate key 'u1'"],
    );
    says(
        &bids_error(r#"{"entirety": {"p1": {"u1": 1}, "p1": {"u2": 1}}}"#),
        &["bids.json: entirety: duplicate key 'p1'"],
    );
    let ok = Bids::from_json_str(r#"{"valuations": {"u1": 5, "u2": 7}}"#, "bids.json").unwrap();
    assert_eq!(ok.valuations["u1"], 5.0);
}

/// The bids file is read by the shared JSON reader, as the market, fault, offers and
/// MCA files are: a byte-order mark is skipped; an empty file, a truncated one, text
/// after the bids, a repeated key and a mistyped value are refused at their JSON path.
#[test]
fn bids_are_read_like_every_other_json_file() {
    let bom = Bids::from_json_str("\u{feff}{\"valuations\": {\"u1\": 5}}", "bids.json").unwrap();
    assert_eq!(bom.valuations["u1"], 5.0);
    for blank in ["", "  \n"] {
        says(
            &bids_error(blank),
            &["bids.json: (top level): the file is empty (expected {"],
        );
    }
    // The text ends inside the valuations map.
    let cut = bids_error(r#"{"valuations": {"u1": 5, "#);
    says(
        &cut,
        &[
            "bids.json: valuations",
            "the text ends before the bids is complete",
        ],
    );
    says(
        &bids_error(r#"{"valuations": {"u1": 5}} {"costs": {}}"#),
        &["bids.json: (top level): unexpected text after the bids object"],
    );
    // Last-one-wins would make b1 ask 9.
    says(
        &bids_error(r#"{"costs": {"b1": 1, "p1": 2, "b1": 9}}"#),
        &["bids.json: costs: duplicate key 'b1'"],
    );
    let twice = bids_error(r#"{"valuations": {"u1": 5}, "valuations": {"u1": 7}}"#);
    says(&twice, &["bids.json: ", "duplicate", "valuations"]);
    says(
        &bids_error(r#"{"valuations": {"u1": "five"}}"#),
        &["bids.json: valuations.u1: invalid type: string \"five\""],
    );
}

#[test]
fn bids_whose_products_overflow_are_refused() {
    // posted: u1 asks 4 jobs; 4 × 1e308 is inf, and W was inf with NaN payments.
    let truth = examples::posted();
    let bids = Bids::from_json_str(r#"{"valuations": {"u1": 1e308}}"#, "bids.json").unwrap();
    let msg = bids.apply(&truth).unwrap_err().to_string();
    says(
        &msg,
        &[
            "declared market",
            "users[0] (u1)",
            "demand × valuation",
            "1e303",
        ],
    );
    let bids = Bids::from_json_str(r#"{"entirety": {"p1": {"u1": 1e308}}}"#, "bids.json").unwrap();
    says(
        &bids.apply(&truth).unwrap_err().to_string(),
        &["'p1'", "at most 1e303"],
    );
    let fine = Bids::from_json_str(r#"{"valuations": {"u1": 1e300}}"#, "bids.json").unwrap();
    assert!(fine.apply(&truth).is_ok());
}

const OFFERS: &str = include_str!("../../experiments/stream/offers.json");

fn offers_error(text: &str) -> String {
    match Offers::from_json_str(text, "offers.json") {
        Ok(_) => panic!("accepted {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn offers_are_objects_with_each_key_once_and_plain_ids() {
    assert!(Offers::from_json_str(OFFERS, "offers.json").is_ok());
    let positional = OFFERS.replace(
        r#"{"id": "s2", "mips": 200, "memory": 512, "start": 0, "end": 3600, "min_price": 4}"#,
        r#"["s2", 200, 512, 0, 3600, 4]"#,
    );
    says(
        &offers_error(&positional),
        &[
            "offers.json: suppliers[1]: ",
            "a supplier offer as a JSON object",
        ],
    );
    let params = OFFERS.replace(
        r#"{"delta_min": 600, "delta_setup": 0, "delta_alloc": 0, "failure_rate": 0,
                 "deposit_factor": 1000, "test_inputs": 12, "slot": 600}"#,
        "[600, 0, 0, 0, 1000, 12, 600]",
    );
    says(
        &offers_error(&params),
        &[
            "offers.json: parameters: ",
            "the parameters as a JSON object",
        ],
    );
    let twice = OFFERS.replace(r#""slot": 600}"#, r#""slot": 600, "now": 0, "now": 5}"#);
    says(
        &offers_error(&twice),
        &["offers.json: parameters", "duplicate"],
    );
    for (id, problem) in [
        (" ", "only whitespace"),
        ("s1\u{200b}", "invisible"),
        ("c1 ", "whitespace"),
    ] {
        let text = OFFERS.replace(
            r#""id": "s2""#,
            &format!("\"id\": {}", serde_json::to_string(id).unwrap()),
        );
        says(
            &offers_error(&text),
            &["offers.json", "suppliers[1].id", problem],
        );
    }
}

const SCENARIO: &str = include_str!("../../experiments/mca/submodular-2x2.json");

fn scenario_error(text: &str) -> String {
    match Scenario::from_json_str(text, "s.json") {
        Ok(_) => panic!("accepted {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn scenarios_are_objects_with_each_key_once_and_plain_ids() {
    assert!(Scenario::from_json_str(SCENARIO, "s.json").is_ok());
    let policy = SCENARIO.replace(
        r#"{"release_outbid": true, "target_bundle": 2, "rebid_lost": false}"#,
        "[true, 2, false]",
    );
    says(
        &scenario_error(&policy),
        &["s.json: policy: ", "the policy as a JSON object"],
    );
    // p1 would value A at 60, not 6.
    let twice = SCENARIO.replace(r#""A+B": 8}"#, r#""A+B": 8, "A": 60}"#);
    says(
        &scenario_error(&twice),
        &["s.json: values.p1: ", "duplicate key 'A'"],
    );
    let agents = SCENARIO
        .replace(r#"["p1", "p2"]"#, r#"["p1", "p1\u200d"]"#)
        .replace(r#""p2": {"#, r#""p1\u200d": {"#);
    says(
        &scenario_error(&agents),
        &["s.json", "agents[1]", "invisible"],
    );
    let items = SCENARIO.replace(r#"["A", "B"]"#, r#"["A", " "]"#);
    says(
        &scenario_error(&items),
        &["s.json", "items[1]", "only whitespace"],
    );
}

#[test]
fn deviations_are_objects_with_each_key_once() {
    let e = Deviation::list_from_json_str(r#"[["crash", "p1", "coin"]]"#, "d.json").unwrap_err();
    says(
        &e.to_string(),
        &["d.json: ", "a deviation as a JSON object"],
    );
    let e = Deviation::list_from_json_str(
        r#"[{"kind": "equivocate", "bidder": "u1", "bids": {"p1": 10, "p1": 12}}]"#,
        "d.json",
    )
    .unwrap_err();
    says(
        &e.to_string(),
        &["d.json: ", "[0].bids", "duplicate key 'p1'"],
    );
    let ok = Deviation::list_from_json_str(
        r#"[{"kind": "crash", "replica": "p1", "phase": "coin"}]"#,
        "d.json",
    );
    assert_eq!(ok.unwrap().len(), 1);
}

/// The money bound of markets ([`brokerflow_graphs::MONEY_LIMIT`] = 1e303) on the stream
/// market's offers: c1 asks 1 replica of 20 inputs/s at 10 MI each for 3600 s, so at
/// π_xmax = 1e300 its payment is 1 × 20 × 3600 × 10 × 1e300 = 7.2e305, above the limit
/// though every number alone is finite and its value rate 2e302 is below it (the
/// product is rounded in its last digits, so only 7.2…e305 is asserted).
#[test]
fn offers_whose_payments_overflow_are_refused_naming_the_field() {
    let huge = OFFERS.replace(r#""max_price": 5"#, r#""max_price": 1e300"#);
    says(
        &offers_error(&huge),
        &[
            "offers.json: customers[0] (id 'c1').max_price",
            "the payment r·λ·(c_end − c_start)·I_c·π_xmax reaches 7.2",
            "e305, above the limit 1e303",
        ],
    );
    // 1e296 × 7.2e5 = 7.2e301: accepted.
    let fine = OFFERS.replace(r#""max_price": 5"#, r#""max_price": 1e296"#);
    assert!(Offers::from_json_str(&fine, "offers.json").is_ok());
    // The deposit ρ·I_c·π_xmax: 1e300 × 10 × 5 = 5e301 < 1e303 < 1e302 × 10 × 5.
    let deposit = OFFERS.replace(r#""deposit_factor": 1000"#, r#""deposit_factor": 1e302"#);
    says(
        &offers_error(&deposit),
        &[
            "offers.json: parameters.deposit_factor",
            "the deposit ρ·I_c·π_xmax reaches 5.0",
            "e303, above the limit",
        ],
    );
    // s1 charges π_xmin·I_s·(s_end − s_start) = 1e299 × 200 × 3600 = 7.2e304.
    let supplier = OFFERS.replace(r#""min_price": 1}"#, r#""min_price": 1e299}"#);
    says(
        &offers_error(&supplier),
        &[
            "offers.json: suppliers[0] (id 's1').min_price",
            "the charge π_xmin·I_s·(s_end − s_start) reaches 7.2",
            "e304, above the limit",
        ],
    );
}

/// MCA scenario values: each alone finite, but p1's 6e302 and 5e302 already sum to
/// 1.1e303, above the limit, so any welfare over both items overflows the bound.
#[test]
fn scenario_values_whose_sum_overflows_are_refused_naming_the_value() {
    let huge = SCENARIO.replace(
        r#"{"A": 6, "B": 5, "A+B": 8}"#,
        r#"{"A": 6e302, "B": 5e302, "A+B": 8}"#,
    );
    says(
        &scenario_error(&huge),
        &[
            "s.json: values.p1.\"B\"",
            "the values' sum reaches 1.1",
            "e303, above the limit 1e303",
        ],
    );
    let fine = SCENARIO.replace(
        r#"{"A": 6, "B": 5, "A+B": 8}"#,
        r#"{"A": 6e301, "B": 5e301, "A+B": 8}"#,
    );
    assert!(Scenario::from_json_str(&fine, "s.json").is_ok());
}
