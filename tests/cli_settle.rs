//! `brokerflow settle` end to end, through the built binary (DESIGN §6, issue 6).
//! Expected numbers are tiny.md's hand-worked P3 prices (see
//! solvers/tests/settle_hand.rs for the derivations).

use std::path::PathBuf;
use std::process::Command;

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

fn json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
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
    for market in ["tiny.json", "figure3.json", "linked.json"] {
        let m = example(market);
        for mechanism in ["posted", "lp-prices", "vcg", "mcafee", "vickrey"] {
            let out = run(&["settle", &m, "--mechanism", mechanism, "--json"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if mechanism == "posted" && !out.status.success() {
                // The bundled examples carry no price table.
                assert!(stderr.contains("no posted prices"), "{market}: {stderr}");
                continue;
            }
            assert!(out.status.success(), "{market} {mechanism}: {stderr}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            // Σ utility = W − surplus (DESIGN §2: payments are transfers).
            let total: f64 = v["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["utility"].as_f64().unwrap())
                .sum();
            let w = v["welfare"].as_f64().unwrap();
            let s = v["surplus"].as_f64().unwrap();
            assert!(
                (total - (w - s)).abs() < 1e-6 * w.abs().max(1.0),
                "{market} {mechanism}: {total} vs {w} - {s}"
            );
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
                    "{market} {a} {mechanism}: {total} vs {w} - {s}"
                );
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
