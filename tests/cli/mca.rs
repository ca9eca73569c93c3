//! `brokerflow mca run|explore` and `settle --mechanism mca` end to end, through the
//! built binary, on the scenarios committed under experiments/mca/ ([MCA-Alloy]).

use crate::util::{json, path, run, temp_dir};

#[test]
fn run_json_has_the_documented_keys_and_the_hand_result() {
    let f = path("experiments/mca/hand-submodular.json");
    let v = json(&["mca", "run", &f, "--json"]);
    assert_eq!(v["consensus"], true);
    assert_eq!(v["rounds"], 1);
    assert_eq!(v["messages"], 4);
    assert_eq!(v["assignment"]["A"], "1");
    assert_eq!(v["assignment"]["C"], "2");
    assert_eq!(v["value"], 11.0);
    assert_eq!(v["optimum"], 11.0);
    assert_eq!(v["bound"], 2);
    let p = &v["provenance"];
    assert_eq!(p["brokerflow"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["policy"], "release-T2");
    assert_eq!(p["rules"], "cbba");
    assert_eq!(p["bound"], 2);
    assert_eq!(p["scenario_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn explore_json_gives_verdicts_and_a_counterexample_trace() {
    let f = path("experiments/mca/submodular-2x2.json");
    let v = json(&["mca", "explore", &f, "--policies", "all", "--json"]);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    for r in results {
        let rebid = r["policy"].as_str().unwrap().ends_with("-rebid");
        let verdict = r["verdict"].as_str().unwrap();
        assert_eq!(verdict == "converges", !rebid, "{r}");
        assert!(r["states"].as_u64().unwrap() > 0);
        assert!(r["deliveries"].as_u64().unwrap() > 0);
    }
    assert_eq!(v["provenance"]["max_deliveries"], 200);
    assert_eq!(v["provenance"]["rules"], serde_json::json!(["cbba"]));
    let explore = |rules, json: &[&'static str]| {
        let args = [
            "mca",
            "explore",
            &f,
            "--policies",
            "keep-T2-rebid",
            "--rules",
            rules,
        ];
        [&args[..], json].concat()
    };
    let one = json(&explore("bid-time", &["--json"]));
    assert_eq!(one["rules"], "bid-time");
    assert_eq!(one["verdict"], "oscillates");
    let trace = one["trace"].as_array().unwrap();
    assert_eq!(trace.len() as u64, one["deliveries"].as_u64().unwrap());
    for key in ["delivered", "before", "after", "rules", "sent"] {
        assert!(trace[0].get(key).is_some(), "{key}");
    }
    // The text form prints the same trace readably.
    let out = run(&explore("bid-time", &[]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("step 1: deliver"), "{text}");
    assert!(text.contains("cycle starts here"), "{text}");
    // Both rule sets at once: one row per (rules, policy); under CBBA rules the
    // attack leaves a dead end, whose trace shows the stamps.
    let both = json(&explore("all", &["--json"]));
    let rows = both["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["rules"].as_str(), rows[0]["verdict"].as_str()),
        (Some("cbba"), Some("no-consensus-within-bound"))
    );
    assert_eq!(
        (rows[1]["rules"].as_str(), rows[1]["verdict"].as_str()),
        (Some("bid-time"), Some("oscillates"))
    );
    assert!(rows[0]["trace"][0]["before"].get("stamps").is_some());
    let out = run(&["mca", "run", &f, "--rules", "alloy"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rules 'alloy'"));
}

/// The star that goes quiet without consensus under bid-time rules reaches it
/// under CBBA rules, on the command line as in the library.
#[test]
fn run_rules_flag_selects_the_rule_set() {
    let f = path("experiments/mca/submodular-3x2-star-deadlock.json");
    let bid_time = json(&["mca", "run", &f, "--rules", "bid-time", "--json"]);
    assert_eq!(bid_time["consensus"], false);
    assert_eq!(bid_time["provenance"]["rules"], "bid-time");
    let cbba = json(&["mca", "run", &f, "--rules", "cbba", "--json"]);
    assert_eq!(cbba["consensus"], true);
    assert_eq!(cbba["assignment"]["j0"], "a1");
}

#[test]
fn explore_bound_and_bad_input_are_reported() {
    let f = path("experiments/mca/submodular-3x2-line.json");
    let v = json(&[
        "mca",
        "explore",
        &f,
        "--policies",
        "keep-T2",
        "--max-deliveries",
        "1",
        "--json",
    ]);
    assert_eq!(v["verdict"], "no-consensus-within-bound");
    let out = run(&["mca", "explore", &f, "--policies", "keep-T9x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy 'keep-T9x'"));
    let dir = temp_dir("explore");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"agents": ["1","2"], "items": ["A"], "neighbours": [["1","7"]], "values": {},
            "policy": {"release_outbid": true, "target_bundle": 1, "rebid_lost": false}}"#,
    )
    .unwrap();
    let out = run(&["mca", "run", &bad.display().to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json")
            && err.contains("neighbours[0]")
            && err.contains("unknown agent '7'"),
        "{err}"
    );
}

#[test]
fn settle_with_mca_prints_consensus_and_welfare_beside_p3() {
    let m = path("graphs/markets/posted.json");
    let v = json(&["settle", &m, "--mechanism", "mca", "--json"]);
    assert_eq!(v["mechanism"], "mca");
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("consensus reached")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("P3 optimum")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("cbba conflict rules")),
        "{notes:?}"
    );
}

/// `settle --mechanism mca --rules RULES` on posted.json reaches consensus and says
/// which conflict rules it used.
fn settle_with_rules(rules: &str) {
    let m = path("graphs/markets/posted.json");
    let v = json(&[
        "settle",
        &m,
        "--mechanism",
        "mca",
        "--rules",
        rules,
        "--json",
    ]);
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("consensus reached in every group"),
        "{notes}"
    );
    assert!(
        notes.contains(&format!("{rules} conflict rules")),
        "{notes}"
    );
}

cases!(settle_with_mca_rules_names_them, settle_with_rules, {
    cbba: ("cbba"),
    bid_time: ("bid-time"),
});

/// `--rules` belongs to `--mechanism mca`.
#[test]
fn rules_without_mca_are_refused() {
    let m = path("graphs/markets/posted.json");
    let out = run(&["settle", &m, "--mechanism", "vcg", "--rules", "cbba"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mechanism mca only"));
}

/// `--sample`: random delivery orders, counted; JSON keys and the seed in the
/// provenance; the same seed, the same bytes.
#[test]
fn explore_sample_counts_random_orders() {
    let f = path("experiments/mca/submodular-2x2.json");
    let args = [
        "mca",
        "explore",
        &f,
        "--policies",
        "keep-T1,keep-T1-rebid",
        "--sample",
        "40",
        "--seed",
        "5",
        "--json",
    ];
    let v = json(&args);
    let rows = v["samples"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["rules"], "cbba");
    assert_eq!(rows[0]["consensus"], 40);
    assert_eq!(rows[1]["no_consensus"], 40);
    assert_eq!(v["provenance"]["seed"], 5);
    assert_eq!(v["provenance"]["walks"], 40);
    assert_eq!(run(&args).stdout, run(&args).stdout);
}
