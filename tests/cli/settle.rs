//! `brokerflow settle` end to end, through the built binary (DESIGN §6, issue 6).
//! Expected numbers are tiny.md's hand-worked P3 prices (see
//! solvers/tests/settle_hand.rs for the derivations).

use std::path::PathBuf;
use std::process::Command;

use crate::util::json;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brokerflow"))
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("graphs/markets")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brokerflow-cli-settle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> std::process::Output {
    bin().args(args).output().unwrap()
}

/// DESIGN §2: payments are transfers, so Σ utility = W − surplus. Returns (W, surplus).
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
    let t = example("tiny.json");
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

#[test]
fn every_example_settles_with_every_mechanism_or_refuses_clearly() {
    for market in ["tiny.json", "figure3.json", "linked.json", "posted.json"] {
        let m = example(market);
        for mechanism in ["posted", "lp-prices", "vcg", "mcafee", "vickrey"] {
            let out = run(&["settle", &m, "--mechanism", mechanism, "--json"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if mechanism == "posted" && market != "posted.json" && !out.status.success() {
                // Only posted.json carries a price table.
                assert!(stderr.contains("no posted prices"), "{market}: {stderr}");
                continue;
            }
            assert!(out.status.success(), "{market} {mechanism}: {stderr}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            utilities_add_up(&v, &format!("{market} {mechanism}"));
        }
    }
}

/// Engine allocations (DESIGN §6: a variant run in demand mode) settle with every
/// mechanism that takes the allocation as possible trades; vcg refuses them (it is
/// defined only at the optimum); utilities add up to welfare minus surplus.
#[test]
fn engine_allocations_settle_and_vcg_refuses_them() {
    for market in ["tiny.json", "linked.json"] {
        let t = example(market);
        for a in ["fair", "utility-aware"] {
            for mechanism in ["lp-prices", "mcafee", "vickrey"] {
                let v = json(&[
                    "settle",
                    &t,
                    "--allocation",
                    a,
                    "--mechanism",
                    mechanism,
                    "--json",
                ]);
                utilities_add_up(&v, &format!("{market} {a} {mechanism}"));
            }
            let out = run(&["settle", &t, "--allocation", a, "--mechanism", "vcg"]);
            assert!(!out.status.success());
            let e = String::from_utf8_lossy(&out.stderr);
            assert!(e.contains("vcg") && e.contains("--allocation lp"), "{e}");
            assert!(!e.contains("panicked"), "{e}");
        }
    }
}

#[test]
fn bids_override_values_and_unknown_participants_are_refused() {
    let t = example("tiny.json");
    // u2 declares 0: P3 drops it (tiny.md: then u1 5 via p1, nothing else pays),
    // and at its true value 8 it is left with utility 0 instead of VCG's 46.
    let bids = scratch("bids.json");
    std::fs::write(&bids, r#"{"valuations": {"u2": 0}}"#).unwrap();
    let v = json(&[
        "settle",
        &t,
        "--mechanism",
        "vcg",
        "--bids",
        bids.to_str().unwrap(),
        "--json",
    ]);
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
    let out = run(&[
        "settle",
        &t,
        "--mechanism",
        "vcg",
        "--bids",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("nobody") && e.contains("unknown participant"),
        "{e}"
    );
}

#[test]
fn out_writes_the_csv_and_its_totals() {
    let t = example("tiny.json");
    let out = scratch("statement.csv");
    let o = run(&[
        "settle",
        &t,
        "--mechanism",
        "vickrey",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,role,volume,pays,receives,utility"));
    assert_eq!(lines.count(), 7);
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("csv.json")).unwrap())
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

/// `--allocation welfare-seeking` (issue 7's variant, run in demand mode like fair and
/// utility-aware) settles with the mechanisms that take the allocation as possible
/// trades: utilities add up to welfare minus surplus, both promise individual
/// rationality, and no settlement beats tiny.md's hand-worked optimum W* = 141. vcg
/// refuses it with the same message as the other engine allocations.
#[test]
fn welfare_seeking_allocation_settles_and_vcg_refuses_it() {
    for market in ["tiny.json", "linked.json"] {
        let t = example(market);
        for mechanism in ["mcafee", "vickrey"] {
            let v = json(&[
                "settle",
                &t,
                "--allocation",
                "welfare-seeking",
                "--mechanism",
                mechanism,
                "--json",
            ]);
            let what = format!("{market} {mechanism}");
            assert_eq!(v["mechanism"], mechanism, "{what}");
            let rows = v["participants"].as_array().unwrap();
            let utilities: Vec<f64> = rows
                .iter()
                .map(|p| p["utility"].as_f64().unwrap())
                .collect();
            assert!(utilities.iter().all(|&u| u >= -1e-9), "{what}: {v}");
            let (w, _) = utilities_add_up(&v, &what);
            if market == "tiny.json" {
                assert!(w <= 141.0 + 1e-6, "{what}: {w}");
            }
        }
        let out = run(&[
            "settle",
            &t,
            "--allocation",
            "welfare-seeking",
            "--mechanism",
            "vcg",
        ]);
        assert!(!out.status.success());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("vcg") && e.contains("--allocation lp"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

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

#[test]
fn vickrey_takes_entirety_asks_from_the_bids_file_and_refuses_unknown_ids() {
    let market = scratch("two-lots.json");
    std::fs::write(&market, TWO_LOTS).unwrap();
    let m = market.to_str().unwrap();
    // settle_hand.rs derives it: p3's entirety ask 20 (score 21) beats the single
    // lots (10 + 15); GVA pays it the best cover without it, 25, minus its transport
    // 1: p3 receives 24 for all 10 jobs; the user pays 25; surplus 0.
    let bids = scratch("entirety.json");
    std::fs::write(&bids, r#"{"entirety": {"p3": {"u": 20}}}"#).unwrap();
    let v = json(&[
        "settle",
        m,
        "--mechanism",
        "vickrey",
        "--bids",
        bids.to_str().unwrap(),
        "--json",
    ]);
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
    // Unknown provider, unknown user, wrong role: refused, naming the entry.
    for (text, needles) in [
        (
            r#"{"entirety": {"p9": {"u": 1}}}"#,
            &["p9", "unknown participant"][..],
        ),
        (
            r#"{"entirety": {"p3": {"nobody": 1}}}"#,
            &["nobody", "no user has this id"][..],
        ),
        (
            r#"{"entirety": {"b1": {"u": 1}}}"#,
            &["b1", "only providers make entirety bids"][..],
        ),
        (
            r#"{"entirety": {"p3": {"u": -2}}}"#,
            &["finite and >= 0"][..],
        ),
        (r#"{"entirety": {"p3": 20}}"#, &["entirety"][..]),
    ] {
        let bad = scratch("bad-entirety.json");
        std::fs::write(&bad, text).unwrap();
        let out = run(&[
            "settle",
            m,
            "--mechanism",
            "vickrey",
            "--bids",
            bad.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{text} was accepted");
        let e = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(e.contains(n), "{text}: {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn posted_example_settles_at_its_posted_prices() {
    // solvers/tests/settle_hand.rs (posted_example_by_hand): W = 50, surplus 0,
    // u1 pays b 12, p1 receives 11.
    let v = json(&[
        "settle",
        &example("posted.json"),
        "--mechanism",
        "posted",
        "--json",
    ]);
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

/// `engine-prices` (issue 7): settles the welfare-seeking allocation at its own node
/// prices on every bundled example — utilities add up to welfare minus surplus and
/// the surplus (bandwidth rents) is never negative — and refuses any other allocation
/// with a message that names the one it needs.
#[test]
fn engine_prices_settle_the_welfare_seeking_allocation_only() {
    for market in ["tiny.json", "figure3.json", "linked.json", "posted.json"] {
        let m = example(market);
        let v = json(&[
            "settle",
            &m,
            "--allocation",
            "welfare-seeking",
            "--mechanism",
            "engine-prices",
            "--json",
        ]);
        let (w, s) = utilities_add_up(&v, market);
        assert!(s >= -1e-9 * w.abs().max(1.0), "{market}: deficit {s}");
        for a in ["lp", "fair", "utility-aware"] {
            let out = run(&[
                "settle",
                &m,
                "--allocation",
                a,
                "--mechanism",
                "engine-prices",
            ]);
            let e = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{market} {a}");
            assert!(e.contains("--allocation welfare-seeking"), "{e}");
            assert!(!e.contains("panicked"), "{e}");
        }
    }
}
