//! `brokerflow settle` end to end, through the built binary (design §6).
//! Expected numbers are tiny.md's hand-worked P3 prices (see
//! solvers/tests/settle_hand.rs for the derivations).

use std::path::Path;

use crate::util::{assert_ok, json, market, run, scratch, stderr};

/// `settle --json` of the market file `market` with `mechanism` and the flags `extra`.
fn settled(market: &str, mechanism: &str, extra: &[&str]) -> serde_json::Value {
    json(
        &[
            &["settle", market, "--mechanism", mechanism][..],
            extra,
            &["--json"][..],
        ]
        .concat(),
    )
}

/// design §2: payments are transfers, so Σ utility = W − surplus. Returns (W, surplus).
fn utilities_add_up(v: &serde_json::Value, what: &str) -> (f64, f64) {
    let total: f64 = v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["utility"].as_f64().unwrap())
        .sum();
    let (w, s) = (
        v["welfare"].as_f64().unwrap(),
        v["surplus"].as_f64().unwrap(),
    );
    assert!(
        (total - (w - s)).abs() < 1e-6 * w.abs().max(1.0),
        "{what}: {total} vs {w} - {s}"
    );
    (w, s)
}

#[test]
fn json_has_the_documented_fields_and_hand_numbers() {
    let t = market("tiny");
    let v = json(&["settle", &t, "--mechanism", "lp-prices", "--json"]);
    assert_eq!(v["mechanism"], "lp-prices");
    assert!(v["provenance"]["market_sha256"].is_string());
    let rows = v["participants"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    for r in rows {
        for f in ["id", "role", "volume", "pays", "receives", "utility"] {
            assert!(r.get(f).is_some(), "missing {f} in {r}");
        }
    }
    // tiny.md: W* = 141, bandwidth rents 16·5 + 2·8 = 96, p1's utility 3·15 = 45.
    assert!((v["welfare"].as_f64().unwrap() - 141.0).abs() < 1e-6);
    assert!((v["surplus"].as_f64().unwrap() - 96.0).abs() < 1e-6);
    let p1 = rows.iter().find(|r| r["id"] == "p1").unwrap();
    assert!((p1["utility"].as_f64().unwrap() - 45.0).abs() < 1e-6);
}

/// Every bundled example settles with `mechanism`, or refuses it clearly.
fn settles_or_refuses(name: &str, mechanism: &str) {
    let market_file = format!("{name}.json");
    let m = market(name);
    let out = run(&["settle", &m, "--mechanism", mechanism, "--json"]);
    let stderr = stderr(&out);
    if mechanism == "posted" && market_file != "posted.json" && !out.status.success() {
        // Only posted.json carries a price table.
        assert!(
            stderr.contains("no posted prices"),
            "{market_file}: {stderr}"
        );
        return;
    }
    assert!(out.status.success(), "{market_file} {mechanism}: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    utilities_add_up(&v, &format!("{market_file} {mechanism}"));
}

cases!(every_example_settles_with_every_mechanism_or_refuses_clearly, settles_or_refuses, {
    tiny_posted: ("tiny", "posted"),
    tiny_lp_prices: ("tiny", "lp-prices"),
    tiny_vcg: ("tiny", "vcg"),
    tiny_mcafee: ("tiny", "mcafee"),
    tiny_vickrey: ("tiny", "vickrey"),
    figure3_posted: ("figure3", "posted"),
    figure3_lp_prices: ("figure3", "lp-prices"),
    figure3_vcg: ("figure3", "vcg"),
    figure3_mcafee: ("figure3", "mcafee"),
    figure3_vickrey: ("figure3", "vickrey"),
    linked_posted: ("linked", "posted"),
    linked_lp_prices: ("linked", "lp-prices"),
    linked_vcg: ("linked", "vcg"),
    linked_mcafee: ("linked", "mcafee"),
    linked_vickrey: ("linked", "vickrey"),
    posted_posted: ("posted", "posted"),
    posted_lp_prices: ("posted", "lp-prices"),
    posted_vcg: ("posted", "vcg"),
    posted_mcafee: ("posted", "mcafee"),
    posted_vickrey: ("posted", "vickrey"),
});

/// Engine allocations (design §6: a variant run in demand mode) settle with every
/// mechanism that takes the allocation as possible trades; utilities add up to welfare
/// minus surplus.
fn engine_allocation_settles(name: &str, a: &str, mechanism: &str) {
    let market_file = format!("{name}.json");
    let t = market(name);
    let v = settled(&t, mechanism, &["--allocation", a]);
    utilities_add_up(&v, &format!("{market_file} {a} {mechanism}"));
}

cases!(engine_allocations_settle, engine_allocation_settles, {
    tiny_fair_lp_prices: ("tiny", "fair", "lp-prices"),
    tiny_fair_mcafee: ("tiny", "fair", "mcafee"),
    tiny_fair_vickrey: ("tiny", "fair", "vickrey"),
    tiny_utility_aware_lp_prices: ("tiny", "utility-aware", "lp-prices"),
    tiny_utility_aware_mcafee: ("tiny", "utility-aware", "mcafee"),
    tiny_utility_aware_vickrey: ("tiny", "utility-aware", "vickrey"),
    linked_fair_lp_prices: ("linked", "fair", "lp-prices"),
    linked_fair_mcafee: ("linked", "fair", "mcafee"),
    linked_fair_vickrey: ("linked", "fair", "vickrey"),
    linked_utility_aware_lp_prices: ("linked", "utility-aware", "lp-prices"),
    linked_utility_aware_mcafee: ("linked", "utility-aware", "mcafee"),
    linked_utility_aware_vickrey: ("linked", "utility-aware", "vickrey"),
});

/// vcg refuses an allocation other than the optimum, `--allocation a` on `name`, with a
/// message naming the one it needs (it is defined only at the optimum).
fn vcg_refuses(name: &str, a: &str) {
    let t = market(name);
    let out = run(&["settle", &t, "--allocation", a, "--mechanism", "vcg"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("vcg") && e.contains("--allocation lp"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

cases!(vcg_refuses_engine_allocations, vcg_refuses, {
    tiny_fair: ("tiny", "fair"),
    tiny_utility_aware: ("tiny", "utility-aware"),
    linked_fair: ("linked", "fair"),
    linked_utility_aware: ("linked", "utility-aware"),
});

#[test]
fn bids_override_values_and_unknown_participants_are_refused() {
    let t = market("tiny");
    // u2 declares 0: P3 drops it (tiny.md: then u1 5 via p1, nothing else pays),
    // and at its true value 8 it is left with utility 0 instead of VCG's 46.
    let bids = scratch("bids.json");
    std::fs::write(&bids, r#"{"valuations": {"u2": 0}}"#).unwrap();
    let v = settled(&t, "vcg", &["--bids", &bids]);
    let u2 = v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "u2")
        .unwrap()
        .clone();
    assert_eq!(u2["volume"].as_f64().unwrap(), 0.0);
    assert_eq!(u2["utility"].as_f64().unwrap(), 0.0);

    let bad = scratch("bad.json");
    std::fs::write(&bad, r#"{"costs": {"nobody": 1}}"#).unwrap();
    let out = run(&["settle", &t, "--mechanism", "vcg", "--bids", &bad]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("nobody") && e.contains("unknown participant"),
        "{e}"
    );
}

#[test]
fn out_writes_the_csv_and_its_totals() {
    let t = market("tiny");
    let out = scratch("statement.csv");
    let o = run(&["settle", &t, "--mechanism", "vickrey", "--out", &out]);
    assert_ok(&o, "");
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,role,volume,pays,receives,utility"));
    assert_eq!(lines.count(), 7);
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&out).with_extension("csv.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(side["mechanism"], "vickrey");
    assert!(side["provenance"].is_object());
    // Readable output names the totals.
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        text.contains("welfare") && text.contains("market surplus"),
        "{text}"
    );
}

/// `--allocation welfare-seeking` (the welfare-seeking variant, run in demand mode like fair and
/// utility-aware) settles with the mechanisms that take the allocation as possible
/// trades: utilities add up to welfare minus surplus, both promise individual
/// rationality, and no settlement beats tiny.md's hand-worked optimum W* = 141. vcg
/// refuses it with the same message as the other engine allocations
/// (`vcg_refuses_welfare_seeking`).
fn welfare_seeking_settles(name: &str, mechanism: &str) {
    let market_file = format!("{name}.json");
    let t = market(name);
    let v = settled(&t, mechanism, &["--allocation", "welfare-seeking"]);
    let what = format!("{market_file} {mechanism}");
    assert_eq!(v["mechanism"], mechanism, "{what}");
    let rows = v["participants"].as_array().unwrap();
    let utilities: Vec<f64> = rows
        .iter()
        .map(|p| p["utility"].as_f64().unwrap())
        .collect();
    assert!(utilities.iter().all(|&u| u >= -1e-9), "{what}: {v}");
    let (w, _) = utilities_add_up(&v, &what);
    if market_file == "tiny.json" {
        assert!(w <= 141.0 + 1e-6, "{what}: {w}");
    }
}

cases!(welfare_seeking_allocation_settles, welfare_seeking_settles, {
    tiny_mcafee: ("tiny", "mcafee"),
    tiny_vickrey: ("tiny", "vickrey"),
    linked_mcafee: ("linked", "mcafee"),
    linked_vickrey: ("linked", "vickrey"),
});

cases!(vcg_refuses_welfare_seeking, vcg_refuses, {
    tiny: ("tiny", "welfare-seeking"),
    linked: ("linked", "welfare-seeking"),
});

/// The two-lot market of solvers/tests/settle_hand.rs (`two_lots`): u's 10 jobs split
/// by bandwidth into lot A (5 at b1) and lot B (5 at b2); p1 (cost 2) reached from b1,
/// p2 (cost 3) from b2, p3 (cost 4) from both, b2→p3 costing 0.2 per job.
const TWO_LOTS: &str = r#"{"name": "two-lots",
  "users": [{"id": "u", "demand": 10, "requirement": 1, "valuation": 10}],
  "brokers": [{"id": "b1"}, {"id": "b2"}],
  "providers": [{"id": "p1", "cost": 2}, {"id": "p2", "cost": 3}, {"id": "p3", "cost": 4}],
  "links": [{"from": "u", "to": "b1", "bandwidth": 5}, {"from": "u", "to": "b2", "bandwidth": 5},
            {"from": "b1", "to": "p1"}, {"from": "b2", "to": "p2"},
            {"from": "b1", "to": "p3"}, {"from": "b2", "to": "p3", "cost": 0.2}]}"#;

/// The two-lot market written to a scratch file of its own for `tag` (cases run in
/// parallel).
fn two_lots(tag: &str) -> String {
    let market = scratch(&format!("two-lots-{tag}.json"));
    std::fs::write(&market, TWO_LOTS).unwrap();
    market
}

#[test]
fn vickrey_takes_entirety_asks_from_the_bids_file() {
    let market = two_lots("accepted");
    let m = market.as_str();
    // settle_hand.rs derives it: p3's entirety ask 20 (score 21) beats the single
    // lots (10 + 15); GVA pays it the best cover without it, 25, minus its transport
    // 1: p3 receives 24 for all 10 jobs; the user pays 25; surplus 0.
    let bids = scratch("entirety.json");
    std::fs::write(&bids, r#"{"entirety": {"p3": {"u": 20}}}"#).unwrap();
    let v = settled(m, "vickrey", &["--bids", &bids]);
    let row = |id: &str| {
        v["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert!((row("p3")["volume"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    assert!((row("p3")["receives"].as_f64().unwrap() - 24.0).abs() < 1e-9);
    assert!((row("u")["pays"].as_f64().unwrap() - 25.0).abs() < 1e-9);
    assert!(v["surplus"].as_f64().unwrap().abs() < 1e-9);
}

/// An entirety bid `text` on the two-lot market is refused, naming `needles`.
fn entirety_refused(tag: &str, text: &str, needles: &[&str]) {
    let market = two_lots(tag);
    let bad = scratch(&format!("bad-entirety-{tag}.json"));
    std::fs::write(&bad, text).unwrap();
    let out = run(&["settle", &market, "--mechanism", "vickrey", "--bids", &bad]);
    assert!(!out.status.success(), "{text} was accepted");
    let e = stderr(&out);
    for n in needles {
        assert!(e.contains(n), "{text}: {e}");
    }
    assert!(!e.contains("panicked"), "{e}");
}

// Unknown provider, unknown user, wrong role: refused, naming the entry.
cases!(vickrey_refuses_unknown_ids_in_entirety_asks, entirety_refused, {
    unknown_provider: (
        "unknown_provider",
        r#"{"entirety": {"p9": {"u": 1}}}"#,
        &["p9", "unknown participant"],
    ),
    unknown_user: (
        "unknown_user",
        r#"{"entirety": {"p3": {"nobody": 1}}}"#,
        &["nobody", "no user has this id"],
    ),
    a_broker: (
        "a_broker",
        r#"{"entirety": {"b1": {"u": 1}}}"#,
        &["b1", "only providers make entirety bids"],
    ),
    negative_ask: (
        "negative_ask",
        r#"{"entirety": {"p3": {"u": -2}}}"#,
        &["finite and >= 0"],
    ),
    not_per_user: ("not_per_user", r#"{"entirety": {"p3": 20}}"#, &["entirety"]),
});

#[test]
fn posted_example_settles_at_its_posted_prices() {
    // solvers/tests/settle_hand.rs (posted_example_by_hand): W = 50, surplus 0,
    // u1 pays b 12, p1 receives 11.
    let v = settled(&market("posted"), "posted", &[]);
    assert!((v["welfare"].as_f64().unwrap() - 50.0).abs() < 1e-6);
    assert!(v["surplus"].as_f64().unwrap().abs() < 1e-9);
    let rows = v["participants"].as_array().unwrap();
    let get = |id: &str, f: &str| {
        rows.iter().find(|r| r["id"] == id).unwrap()[f]
            .as_f64()
            .unwrap()
    };
    assert!((get("u1", "pays") - 12.0).abs() < 1e-9);
    assert!((get("p1", "receives") - 11.0).abs() < 1e-9);
}

/// `engine-prices`: settles the welfare-seeking allocation at its own node
/// prices on every bundled example — utilities add up to welfare minus surplus and
/// the surplus (bandwidth rents) is never negative — and refuses any other allocation
/// with a message that names the one it needs (`engine_prices_refuse_other_allocations`).
fn engine_prices_settle(name: &str) {
    let market_file = format!("{name}.json");
    let m = market(name);
    let v = settled(&m, "engine-prices", &["--allocation", "welfare-seeking"]);
    let (w, s) = utilities_add_up(&v, &market_file);
    assert!(s >= -1e-9 * w.abs().max(1.0), "{market_file}: deficit {s}");
}

cases!(engine_prices_settle_the_welfare_seeking_allocation, engine_prices_settle, {
    tiny: ("tiny"),
    figure3: ("figure3"),
    linked: ("linked"),
    posted: ("posted"),
});

fn engine_prices_refuse(name: &str, a: &str) {
    let market_file = format!("{name}.json");
    let m = market(name);
    let out = run(&[
        "settle",
        &m,
        "--allocation",
        a,
        "--mechanism",
        "engine-prices",
    ]);
    let e = stderr(&out);
    assert!(!out.status.success(), "{market_file} {a}");
    assert!(e.contains("--allocation welfare-seeking"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

cases!(engine_prices_refuse_other_allocations, engine_prices_refuse, {
    tiny_lp: ("tiny", "lp"),
    tiny_fair: ("tiny", "fair"),
    tiny_utility_aware: ("tiny", "utility-aware"),
    figure3_lp: ("figure3", "lp"),
    figure3_fair: ("figure3", "fair"),
    figure3_utility_aware: ("figure3", "utility-aware"),
    linked_lp: ("linked", "lp"),
    linked_fair: ("linked", "fair"),
    linked_utility_aware: ("linked", "utility-aware"),
    posted_lp: ("posted", "lp"),
    posted_fair: ("posted", "fair"),
    posted_utility_aware: ("posted", "utility-aware"),
});
