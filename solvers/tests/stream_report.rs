//! The stream market's report ([Stream-Market]): a hand-made matching outcome printed
//! as text, JSON and CSV, every expected line written out by hand from the outcome.

use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::stream::report::{mean, MatchReport};
use brokerflow_solvers::stream::{Allocation, MatchOutcome, Offers, Void, VoidReason};

const OFFERS: &str = r#"{
  "suppliers": [{"id": "s1", "mips": 200, "memory": 512, "start": 0, "end": 1200, "min_price": 1}],
  "customers": [
    {"id": "c1", "mi_per_input": 10, "memory": 128, "start": 0, "end": 600, "max_price": 4, "rate": 2, "replicas": 1},
    {"id": "c,2", "mi_per_input": 10, "memory": 128, "start": 0, "end": 1200, "max_price": 2, "rate": 2, "replicas": 1}
  ],
  "parameters": {"delta_min": 600, "delta_setup": 0, "delta_alloc": 0, "failure_rate": 0, "deposit_factor": 1000, "test_inputs": 12, "slot": 600}
}"#;

fn outcome() -> MatchOutcome {
    MatchOutcome {
        allocations: vec![Allocation {
            customer: "c1".into(),
            suppliers: vec!["s1".into()],
            start: 0.0,
            end: 600.0,
            price: 3.0,
            supplier_price: 2.5,
            slot: 0,
        }],
        void: vec![Void {
            customer: "c,2".into(),
            start: 600.0,
            end: 1200.0,
            reason: VoidReason::NoMatch,
        }],
        slots: Vec::new(),
        replicas: vec![Some(1), None],
    }
}

#[test]
fn text_csv_and_json_say_what_the_outcome_holds() {
    let offers = Offers::from_json_str(OFFERS, "o.json").unwrap();
    let outcome = outcome();
    let report = MatchReport::new(&offers, &outcome, "o.json", OFFERS, Backend::Microlp);
    let note = brokerflow_solvers::stream::matching::ROUNDING_NOTE;

    assert_eq!(
        report.render(false),
        format!(
            "o.json: 1 allocations, 1 void, 0 slot markets\n  c1 [0, 600] on s1 at 3 per MI (suppliers get 2.5)\n  c,2 [600, 1200] void: no_match\nnote: {note}\n"
        )
    );

    let csv = report.allocations_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("# brokerflow "), "{csv}");
    assert!(lines[1].starts_with("# provenance: {"), "{csv}");
    assert_eq!(lines[2], format!("# note: {note}"));
    assert_eq!(
        &lines[3..],
        [
            "kind,customer,suppliers,start,end,price,supplier_price,slot,reason",
            "allocation,c1,s1,0,600,3,2.5,0,",
            "void,\"c,2\",,600,1200,,,,no_match",
        ]
    );

    let json: serde_json::Value = serde_json::from_str(&report.render(true)).unwrap();
    assert_eq!(json["allocations"][0]["price"], 3.0);
    assert_eq!(json["void"][0]["reason"], "no_match");
    assert_eq!(json["replicas"]["c1"], 1);
    assert!(json["replicas"]["c,2"].is_null());
    assert_eq!(json["provenance"]["lp_backend"], "microlp");
    assert_eq!(
        json["provenance"]["offers_sha256"],
        brokerflow_graphs::input_hash(OFFERS.as_bytes())
    );
}

#[test]
fn means_are_arithmetic() {
    assert_eq!(mean([2.0, 4.0].into_iter()), 3.0);
    assert!(mean(std::iter::empty()).is_nan());
}
