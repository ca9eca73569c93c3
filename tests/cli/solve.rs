//! `brokerflow solve` and `brokerflow evaluate` end to end, through the built binary.
//! Expected numbers are the hand-worked optima of graphs/markets/tiny.md.

use crate::util::{bin, json, market, ok, scratch};

#[test]
fn solve_json_has_the_documented_fields_and_hand_optima() {
    let t = market("tiny");
    let t = t.as_str();
    let p1 = json(&["solve", t, "--objective", "concurrent", "--json"]);
    for field in [
        "objective",
        "status",
        "delta",
        "welfare",
        "served",
        "stranded",
        "backend",
        "tolerance",
        "seconds",
        "max_conservation_residual",
        "max_capacity_violation",
        "provenance",
    ] {
        assert!(p1.get(field).is_some(), "missing {field}");
    }
    assert_eq!(p1["objective"], "concurrent");
    assert_eq!(p1["status"], "optimal");
    // tiny.md: δ* = 0.5, so P1 serves half of every demand (10, 20, 10).
    assert!((p1["delta"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    assert!(p1["welfare"].is_null());
    assert!((p1["served"]["u2"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    let p3 = json(&["solve", t, "--objective", "welfare", "--json"]);
    assert!((p3["welfare"].as_f64().unwrap() - 141.0).abs() < 1e-6);
    assert!((p3["served"]["u3"].as_f64().unwrap()).abs() < 1e-9);
    assert!(p3["delta"].is_null());
    // The default prints P1 and P3 as an array.
    let both = json(&["solve", t, "--json"]);
    assert_eq!(both.as_array().unwrap().len(), 2);
}

#[test]
fn unbounded_delta_is_reported_as_such() {
    let market = scratch("unbounded.json");
    std::fs::write(
        &market,
        r#"{"name": "free", "users": [{"id": "u", "demand": 3, "requirement": 1, "valuation": 1}],
            "brokers": [{"id": "b"}], "providers": [{"id": "p"}],
            "links": [{"from": "u", "to": "b"}, {"from": "b", "to": "p"}]}"#,
    )
    .unwrap();
    let v = json(&["solve", &market, "--objective", "concurrent", "--json"]);
    assert_eq!(v["status"], "unbounded");
    assert!(v["delta"].is_null());
}

#[test]
fn flows_evaluate_back_to_the_same_welfare_and_corruption_is_named() {
    let t = market("tiny");
    let t = t.as_str();
    let flows = scratch("p2.csv");
    let p2 = json(&[
        "solve",
        t,
        "--objective",
        "utility",
        "--json",
        "--flows",
        &flows,
    ]);
    // tiny.md: P2 = 130.
    assert!((p2["welfare"].as_f64().unwrap() - 130.0).abs() < 1e-6);
    let e = json(&["evaluate", t, "--flows", &flows, "--json"]);
    assert_eq!(e["feasible"], true);
    assert!((e["welfare"].as_f64().unwrap() - 130.0).abs() < 1e-6);
    // 100 · 130 / 141, the P3 optimum of tiny.md.
    assert!((e["percent_of_optimum"].as_f64().unwrap() - 100.0 * 130.0 / 141.0).abs() < 1e-6);
    // Push 6 jobs over the u1->b1 link of bandwidth 5 and keep the rest: the link's
    // capacity and conservation at b1 both break, and evaluate names them.
    let text = std::fs::read_to_string(&flows).unwrap();
    let bad = text.replace("u1,u1,b1,5", "u1,u1,b1,6");
    assert_ne!(bad, text);
    let bad_path = scratch("bad.csv");
    std::fs::write(&bad_path, bad).unwrap();
    // An infeasible routing is a verdict, exit code 4, with the report on stdout.
    let out = bin()
        .args(["evaluate", t, "--flows", &bad_path, "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["feasible"], false);
    let violations = e["violations"].to_string();
    assert!(violations.contains("u1->b1"), "{violations}");
    assert!(violations.contains("b1"), "{violations}");
}

#[test]
fn prices_and_lp_export_are_written() {
    let t = market("tiny");
    let t = t.as_str();
    let prices = scratch("prices.csv");
    let lp = scratch("p3.lp");
    let out = bin()
        .args(["solve", t, "--objective", "welfare", "--prices"])
        .arg(&prices)
        .arg("--export-lp")
        .arg(&lp)
        .output()
        .unwrap();
    assert!(out.status.success());
    let prices = std::fs::read_to_string(&prices).unwrap();
    // tiny.md: u1->b1 16, p1 3, b1->b2 2.
    assert!(prices.starts_with("node,price\n"));
    for line in ["u1->b1,16", "p1,3", "b1->b2,2", "b2,0"] {
        assert!(
            prices.lines().any(|l| l.starts_with(line)),
            "{line} in {prices}"
        );
    }
    let lp = std::fs::read_to_string(&lp).unwrap();
    assert!(lp.contains("Maximize") && lp.contains("Subject To") && lp.ends_with("End\n"));
    // --prices without P3 is refused with a clear message.
    let out = bin()
        .args(["solve", t, "--objective", "concurrent", "--prices"])
        .arg(scratch("x.csv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--objective welfare"));
}

#[test]
fn worst_utility_on_a_cyclic_market_is_refused_clearly() {
    let linked = market("linked");
    let out = bin()
        .args(["solve", &linked, "--objective", "worst-utility"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cycle"), "{err}");
    assert!(!err.contains("panicked"));
}

/// `bench peers` must not need scipy: without a usable Python it says it skipped and
/// exits 0 (the CI has no scipy).
#[test]
fn bench_peers_skips_clearly_without_scipy() {
    let out = ok(&[
        "bench",
        "peers",
        "--sizes",
        "20",
        "--python",
        "/nonexistent/python3",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("skipped"), "{text}");
    assert!(text.contains("pip install scipy numpy"), "{text}");
}
