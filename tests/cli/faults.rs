//! `brokerflow run --faults` and `compare --faults` end to end (design §5, "Faults"):
//! the trace CSV's ledger checked from the file alone, the same seed giving the same
//! bytes, the report's fields, and clear one-line refusals.

use crate::util::{market, ok, refused, run, scratch, scratch_file};

/// Every fault kind at once on tiny (b1, the link u1->b1, p1).
const MIXED: &str = r#"{"seed": 5, "faults": [
    {"from": 20, "to": 40, "kind": "node-down", "node": "p1"},
    {"from": 30, "to": 60, "kind": "link-cut", "link": ["u1", "b1"]},
    {"from": 40, "to": 70, "kind": "message-loss", "probability": 0.3},
    {"from": 50, "to": 90, "kind": "delay", "rounds": 3, "probability": 0.5},
    {"from": 20, "to": 90, "kind": "duplicate", "probability": 0.2},
    {"from": 60, "to": 100, "kind": "liar", "node": "b1", "factor": 10}
]}"#;

#[test]
fn the_trace_ledger_balances_every_round_and_the_same_seed_gives_the_same_bytes() {
    let faults = scratch_file("mixed.json", MIXED);
    let tiny = market("tiny");
    let (a, b) = (scratch("a.csv"), scratch("b.csv"));
    let out = ok(&["run", &tiny, "--faults", &faults, "--trace", &a, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    ok(&[
        "run",
        &tiny,
        "--faults",
        &faults,
        "--trace",
        &b,
        "--runtime",
        "nodes",
    ]);
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(&b).unwrap(),
        "flat and nodes differ"
    );
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "round,commodity,injected,absorbed,queued,discarded,in_flight,lost"
    );
    // Cumulative injected = absorbed + queued + in flight + discarded + lost.
    let mut sums: std::collections::BTreeMap<String, [f64; 4]> = Default::default();
    let (mut lost, mut in_flight, mut rows) = (0.0, 0.0f64, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let x: Vec<f64> = f[2..].iter().map(|s| s.parse().unwrap()).collect();
        let s = sums.entry(f[1].to_string()).or_default();
        s[0] += x[0];
        s[1] += x[1];
        s[2] += x[3];
        s[3] += x[5];
        let balance = s[0] - s[1] - x[2] - x[4] - s[2] - s[3];
        assert!(
            balance.abs() <= 1e-9 * s[0].max(1.0),
            "{line}: off by {balance}"
        );
        lost += x[5];
        in_flight = in_flight.max(x[4]);
        rows += 1;
    }
    assert!(rows > 0 && lost > 0.0 && in_flight > 0.0, "not vacuous");
    // The report: one entry per fault, the jobs lost adding up, the file's hash.
    let report = &v["faults"];
    assert_eq!(report["faults"].as_array().unwrap().len(), 6);
    let by_fault: f64 = report["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["jobs_lost"].as_f64().unwrap())
        .sum();
    assert!(
        (by_fault - lost).abs() <= 1e-9 * lost,
        "{by_fault} vs {lost}"
    );
    assert_eq!(report["recovery"]["faults_end"], 100);
    assert_eq!(
        v["provenance"]["faults"]["sha256"].as_str().unwrap().len(),
        64
    );
    assert!(v["max_capacity_violation"].as_f64().unwrap() <= 1e-9);
    // Another seed draws other losses.
    let other = scratch_file("other.json", &MIXED.replace(r#""seed": 5"#, r#""seed": 6"#));
    let c = scratch("c.csv");
    ok(&["run", &tiny, "--faults", &other, "--trace", &c]);
    assert_ne!(text, std::fs::read_to_string(&c).unwrap());
}

#[test]
fn compare_reports_every_engine_row_under_faults() {
    let faults = scratch_file("compare.json", MIXED);
    let out = ok(&[
        "compare",
        &market("tiny"),
        "--faults",
        &faults,
        "--methods",
        "lp/welfare,welfare-seeking/demand",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert!(
        rows[0].get("jobs_lost").is_none(),
        "an LP row has no faults"
    );
    assert!(rows[1]["jobs_lost"].as_f64().unwrap() > 0.0);
    assert_eq!(rows[1]["recovery"]["faults_end"], 100);
}

#[test]
fn bad_fault_files_and_timely_are_refused_up_front() {
    let tiny = market("tiny");
    let unknown = scratch_file(
        "unknown.json",
        r#"{"seed": 1, "faults": [{"from": 1, "to": 5, "kind": "node-down", "node": "b9"}]}"#,
    );
    refused(
        &["run", &tiny, "--faults", &unknown],
        "faults[0].node: unknown id 'b9'",
    );
    refused(&["compare", &tiny, "--faults", &unknown], "unknown id 'b9'");
    let array = scratch_file("array.json", "[1, []]");
    refused(
        &["run", &tiny, "--faults", &array],
        "invalid type: sequence, expected a fault file as a JSON object",
    );
    // (--runtime timely runs fault schedules now: tests/cli/timely.rs.)
    refused(
        &["run", &tiny, "--faults", &scratch("missing.json")],
        "cannot read",
    );
}

#[test]
fn an_experiment_spec_runs_its_engine_rows_under_faults() {
    let dir = std::path::PathBuf::from(scratch("spec"));
    std::fs::create_dir_all(dir.join("m")).unwrap();
    std::fs::copy(market("tiny"), dir.join("m/tiny.json")).unwrap();
    std::fs::write(dir.join("f.json"), MIXED).unwrap();
    let spec = dir.join("s.toml");
    std::fs::write(
        &spec,
        "name = \"faulty\"\nmethods = [\"welfare-seeking/demand\"]\n[engine]\nfaults = \"f.json\"\n\
         [[configuration]]\nname = \"given\"\nmarkets = [\"m/*.json\"]\n",
    )
    .unwrap();
    ok(&["experiment", spec.to_str().unwrap()]);
    let rows = std::fs::read_to_string(dir.join("faulty/scenarios.csv")).unwrap();
    let row = rows.lines().find(|l| l.starts_with("given,")).unwrap();
    let welfare: f64 = row.split(',').nth(5).unwrap().parse().unwrap();
    // The same welfare as `run --faults` on the same market and schedule.
    let out = ok(&[
        "run",
        &market("tiny"),
        "--faults",
        dir.join("f.json").to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(welfare, v["welfare"].as_f64().unwrap(), "{row}");
    // A schedule naming an id the market lacks fails the rows, naming the id.
    std::fs::write(
        dir.join("f.json"),
        MIXED.replace(r#""node": "p1""#, r#""node": "p9""#),
    )
    .unwrap();
    let out = run(&[
        "experiment",
        spec.to_str().unwrap(),
        "--out",
        dir.join("again").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = std::fs::read_to_string(dir.join("again/scenarios.csv")).unwrap();
    assert!(rows.contains("unknown id 'p9'"), "{rows}");
}
