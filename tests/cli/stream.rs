//! `brokerflow stream match|simulate` end to end, through the built binary
//! ([Stream-Market]). The offers are experiments/stream/offers.json, worked by hand
//! in solvers/tests/stream_matching.rs: c1 is served on s1 in six 600-s chunks at
//! McAfee's p0 = (2 + 4)/2 = 3; c2 finds no free supplier in any slot.

use crate::util::{assert_ok, bin, ok, path, scratch, temp_dir};

#[test]
fn match_json_has_exactly_the_documented_keys() {
    let out = ok(&[
        "stream",
        "match",
        &path("experiments/stream/offers.json"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let allocations = v["allocations"].as_array().unwrap();
    assert_eq!(allocations.len(), 6);
    for (k, a) in allocations.iter().enumerate() {
        let keys: Vec<&str> = a.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        assert_eq!(keys, ["customer", "suppliers", "start", "end", "price"]);
        assert_eq!(a["customer"], "c1");
        assert_eq!(a["suppliers"], serde_json::json!(["s1"]));
        assert_eq!(a["start"], 600.0 * k as f64);
        assert_eq!(a["end"], 600.0 * (k + 1) as f64);
        assert_eq!(a["price"], 3.0);
    }
    let void = v["void"].as_array().unwrap();
    assert_eq!(void.len(), 6);
    for x in void {
        let keys: Vec<&str> = x.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        assert_eq!(keys, ["customer", "start", "end", "reason"]);
        assert_eq!(x["reason"], "not_enough_replicas");
    }
    assert!(v["provenance"]["offers_sha256"].as_str().unwrap().len() == 64);
    assert!(!v["notes"].as_array().unwrap().is_empty());
}

#[test]
fn match_out_writes_csv_with_provenance() {
    let csv = scratch("allocations.csv");
    let out = bin()
        .args([
            "stream",
            "match",
            &path("experiments/stream/offers.json"),
            "--out",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert_ok(&out, "");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("# brokerflow "));
    assert!(text.contains("offers_sha256"));
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        rows[0],
        "kind,customer,suppliers,start,end,price,supplier_price,slot,reason"
    );
    assert_eq!(rows[1], "allocation,c1,s1,0,600,3,3,0,");
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("allocation,")).count(),
        6
    );
    assert_eq!(rows.iter().filter(|r| r.starts_with("void,c2,")).count(), 6);
}

#[test]
fn a_bad_offer_is_refused_with_file_offer_and_rule() {
    let bad = scratch("bad.json");
    let text = std::fs::read_to_string(path("experiments/stream/offers.json"))
        .unwrap()
        .replacen("\"rate\": 20", "\"rate\": -1", 1);
    std::fs::write(&bad, text).unwrap();
    let out = bin().args(["stream", "match"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json: customers[0] (id 'c1').rate: rate is -1, must be positive"),
        "{err}"
    );
}

#[test]
fn simulate_writes_the_same_bytes_twice() {
    let spec = scratch("small.toml");
    let text = std::fs::read_to_string(path("experiments/stream/no_gas.toml"))
        .unwrap()
        .replace("rounds = 100", "rounds = 3")
        .replace("suppliers_per_group = 5", "suppliers_per_group = 1")
        .replace("customers_per_group = 5", "customers_per_group = 1");
    std::fs::write(&spec, text).unwrap();
    let (a, b) = (temp_dir("run-a"), temp_dir("run-b"));
    for dir in [&a, &b] {
        let out = bin()
            .args(["stream", "simulate"])
            .arg(&spec)
            .arg("--out")
            .arg(dir)
            .output()
            .unwrap();
        assert_ok(&out, "");
    }
    for name in [
        "participants.csv",
        "groups.csv",
        "cumulative.csv",
        "sweep.csv",
        "summary.json",
        "supplier_utility.svg",
        "customer_utility.svg",
        "customer_vs_supplier_probability.svg",
    ] {
        let x = std::fs::read(a.join(name)).unwrap();
        assert_eq!(x, std::fs::read(b.join(name)).unwrap(), "{name}");
        assert!(!x.is_empty());
    }
    let participants = std::fs::read_to_string(a.join("participants.csv")).unwrap();
    assert!(participants.contains("# spec_sha256: "));
    assert_eq!(
        participants
            .lines()
            .filter(|l| l.starts_with("s0") || l.starts_with("c0"))
            .count(),
        12
    );
}

#[test]
fn a_bad_spec_is_refused_on_one_line() {
    let spec = scratch("bad.toml");
    let text = std::fs::read_to_string(path("experiments/stream/no_gas.toml"))
        .unwrap()
        .replace("rounds = 100", "rounds = 100\ncolour = \"red\"");
    std::fs::write(&spec, text).unwrap();
    let out = bin()
        .args(["stream", "simulate"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml: line 7: unknown field `colour`"),
        "{err}"
    );
}
