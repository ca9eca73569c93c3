//! Matching over time ([Stream-Market] §2.1, §3.3) on hand-worked offer sets: the
//! four matching conditions each failing alone, expiry, δ_min chunks, replicas,
//! McAfee's prices, void reasons, and refusals of bad offers files.

use brokerflow_solvers::stream::matching::{
    chunk, is_expired, mismatches, offer_mismatches, slots_per_chunk, Condition,
};
use brokerflow_solvers::stream::{
    match_offers, CustomerOffer, MatchOptions, Offers, Parameters, StreamError, SupplierOffer,
    VoidReason,
};

fn supplier(id: &str, mips: f64, min_price: f64) -> SupplierOffer {
    SupplierOffer {
        id: id.into(),
        mips,
        memory: 512.0,
        start: 0.0,
        end: 3600.0,
        min_price,
    }
}

/// A stream of I_c·λ = 10·20 = 200 MIPS and 128 memory for [0, 3600].
fn customer(id: &str, max_price: f64) -> CustomerOffer {
    CustomerOffer {
        id: id.into(),
        mi_per_input: 10.0,
        memory: 128.0,
        start: 0.0,
        end: 3600.0,
        max_price,
        rate: 20.0,
        replicas: Some(1),
        success_probability: None,
    }
}

fn parameters() -> Parameters {
    Parameters {
        delta_min: 600.0,
        delta_setup: 0.0,
        delta_alloc: 0.0,
        failure_rate: 0.0,
        deposit_factor: 1000.0,
        test_inputs: 12,
        slot: 600.0,
        now: 0.0,
    }
}

/// The (start, end) of every allocation of `customer`, in allocation order.
fn served_windows(
    out: &brokerflow_solvers::stream::MatchOutcome,
    customer: &str,
) -> Vec<(f64, f64)> {
    out.allocations
        .iter()
        .filter(|a| a.customer == customer)
        .map(|a| (a.start, a.end))
        .collect()
}

fn run(
    suppliers: Vec<SupplierOffer>,
    customers: Vec<CustomerOffer>,
    p: Parameters,
) -> brokerflow_solvers::stream::MatchOutcome {
    let offers = Offers {
        suppliers,
        customers,
        parameters: p,
    };
    offers.validate_as("test").unwrap();
    match_offers(&offers, &MatchOptions::default()).unwrap()
}

#[test]
fn each_matching_condition_fails_alone() {
    let s = supplier("s", 200.0, 1.0);
    let c = customer("c", 2.0);
    assert!(offer_mismatches(&s, &c, 600.0).is_empty());
    // I_c·λ = 10·20.5 = 205 > 200.
    let mut fast = c.clone();
    fast.rate = 20.5;
    assert_eq!(offer_mismatches(&s, &fast, 600.0), vec![Condition::Compute]);
    let mut big = c.clone();
    big.memory = 513.0;
    assert_eq!(offer_mismatches(&s, &big, 600.0), vec![Condition::Memory]);
    let mut cheap = c.clone();
    cheap.max_price = 0.999;
    assert_eq!(offer_mismatches(&s, &cheap, 600.0), vec![Condition::Price]);
    // Windows overlapping for 599 < δ_min = 600 s.
    let mut late = c.clone();
    late.start = 3001.0;
    late.end = 5000.0;
    assert_eq!(offer_mismatches(&s, &late, 600.0), vec![Condition::Window]);
    // For a fixed chunk the supplier's window must hold it.
    assert!(mismatches(&s, &c, 3000.0, 3600.0).is_empty());
    assert_eq!(mismatches(&s, &c, 3000.0, 3601.0), vec![Condition::Window]);
    // Equality is allowed in every condition.
    let mut edge = c.clone();
    edge.max_price = 1.0;
    edge.memory = 512.0;
    assert!(offer_mismatches(&s, &edge, 600.0).is_empty());
}

#[test]
fn expiry_is_end_minus_min_setup_alloc_before_now() {
    let mut p = parameters();
    p.delta_setup = 30.0;
    p.delta_alloc = 20.0;
    // t_e = 1000 − 600 − 30 − 20 = 350.
    assert!(!is_expired(1000.0, 350.0, &p));
    assert!(is_expired(1000.0, 350.5, &p));
}

#[test]
fn an_expired_offer_gets_a_void_and_nothing_else() {
    let mut p = parameters();
    p.now = 100.0;
    p.delta_setup = 50.0;
    p.delta_alloc = 50.0;
    // c1 ends at 700: 700 − 600 − 100 = 0 < now = 100, expired at the first matching.
    let mut short = customer("c1", 5.0);
    short.end = 700.0;
    let out = run(vec![supplier("s1", 200.0, 1.0)], vec![short], p);
    assert!(out.allocations.is_empty());
    assert_eq!(out.void.len(), 1);
    assert_eq!(out.void[0].reason, VoidReason::Expired);
    assert_eq!((out.void[0].start, out.void[0].end), (0.0, 700.0));
}

/// s1 (ask 1) and s2 (ask 4) can each host one 200-MIPS stream; c1 bids 5, c2 bids 2
/// (so s2, asking 4 > 2, cannot serve c2). P3 serves c1 on s1; c2 and s2 are left
/// without volume and give McAfee's next bid 2 and next ask 4: p0 = (2 + 4)/2 = 3
/// lies between the lowest traded ask 1 and the lowest traded bid 5, so c1 trades at
/// 3 on both sides, and c2 is void for lack of a free supplier.
fn two_by_two() -> (Vec<SupplierOffer>, Vec<CustomerOffer>) {
    (
        vec![supplier("s1", 200.0, 1.0), supplier("s2", 200.0, 4.0)],
        vec![customer("c1", 5.0), customer("c2", 2.0)],
    )
}

#[test]
fn a_long_offer_is_served_in_delta_min_chunks_at_mcafees_p0() {
    let (s, c) = two_by_two();
    let out = run(s, c, parameters());
    let c1 = served_windows(&out, "c1");
    let want: Vec<(f64, f64)> = (0..6)
        .map(|k| (600.0 * k as f64, 600.0 * (k + 1) as f64))
        .collect();
    assert_eq!(c1, want);
    for a in &out.allocations {
        assert_eq!(a.suppliers, vec!["s1".to_string()]);
        assert_eq!((a.price, a.supplier_price), (3.0, 3.0));
    }
    assert_eq!(out.void.len(), 6);
    assert!(out
        .void
        .iter()
        .all(|v| v.customer == "c2" && v.reason == VoidReason::NotEnoughReplicas));
}

#[test]
fn chunks_span_ceil_delta_min_over_slot_slots() {
    // δ_min = 900 with 600-s slots: m = ⌈1.5⌉ = 2, chunks of 1200 s: [0, 1200],
    // [1200, 2400], [2400, 3600].
    let mut p = parameters();
    p.delta_min = 900.0;
    assert_eq!(slots_per_chunk(&p), 2);
    assert_eq!(chunk(1200.0, 3600.0, &p), (1200.0, 2400.0));
    assert_eq!(chunk(3000.0, 3950.0, &p), (3000.0, 3950.0));
    let (s, c) = two_by_two();
    let out = run(s, c, p);
    let c1 = served_windows(&out, "c1");
    assert_eq!(c1, vec![(0.0, 1200.0), (1200.0, 2400.0), (2400.0, 3600.0)]);
}

#[test]
fn a_short_last_chunk_keeps_delta_min_and_the_rest_expires() {
    // c1's window [0, 1500]: a chunk [0, 600], then [600, 1200]; at now = 1200 only
    // 300 < δ_min is left, so [1200, 1500] is void as expired.
    let (s, mut c) = two_by_two();
    c[0].end = 1500.0;
    let out = run(s, c, parameters());
    let c1 = served_windows(&out, "c1");
    assert_eq!(c1, vec![(0.0, 600.0), (600.0, 1200.0)]);
    let expired: Vec<(f64, f64)> = out
        .void
        .iter()
        .filter(|v| v.customer == "c1")
        .map(|v| {
            assert_eq!(v.reason, VoidReason::Expired);
            (v.start, v.end)
        })
        .collect();
    assert_eq!(expired, vec![(1200.0, 1500.0)]);
}

#[test]
fn trade_reduction_drops_the_lowest_buyer_and_highest_seller() {
    // c1 bids 5, c2 bids 3; s1 asks 1, s2 asks 2; P3 serves both, nobody is left
    // over, so McAfee reduces: c2 and s2 drop out, c1 pays b(c2) = 3 and s1 gets
    // s(s2) = 2 per million instructions; the allocator keeps the difference.
    let mut p = parameters();
    p.delta_min = 600.0;
    let mut c1 = customer("c1", 5.0);
    let mut c2 = customer("c2", 3.0);
    c1.end = 600.0;
    c2.end = 600.0;
    let out = run(
        vec![supplier("s1", 200.0, 1.0), supplier("s2", 200.0, 2.0)],
        vec![c1, c2],
        p,
    );
    assert_eq!(out.allocations.len(), 1);
    let a = &out.allocations[0];
    assert_eq!(
        (a.customer.as_str(), a.suppliers.clone()),
        ("c1", vec!["s1".to_string()])
    );
    assert_eq!((a.price, a.supplier_price), (3.0, 2.0));
    assert_eq!(out.void.len(), 1);
    assert_eq!(out.void[0].customer, "c2");
    assert_eq!(out.void[0].reason, VoidReason::TradeReduction);
}

#[test]
fn success_probability_099_with_pf_01_asks_two_distinct_suppliers() {
    let mut p = parameters();
    // p_f = 1 − e^(−q·600) = 0.1 over one 600-s chunk.
    p.failure_rate = -(0.9f64).ln() / 600.0;
    let mut c = customer("c1", 5.0);
    c.replicas = None;
    c.success_probability = Some(0.99);
    c.end = 600.0;
    // Three one-stream suppliers asking 1, 1.5 and 4.5; c2 bids 2 (s3 cannot serve
    // it). P3's best: c1 on s1 and s2 (margins 4 + 3.5 = 7.5 per unit) beats any
    // split that also serves c2 (at most 5). c2 and s3 left over give McAfee's next
    // bid 2 and next ask 4.5: p0 = 3.25, between the traded ask 1.5 and bid 5.
    let mut c2 = customer("c2", 2.0);
    c2.end = 600.0;
    let out = run(
        vec![
            supplier("s1", 200.0, 1.0),
            supplier("s2", 200.0, 1.5),
            supplier("s3", 200.0, 4.5),
        ],
        vec![c, c2],
        p,
    );
    assert_eq!(out.replicas[0], Some(2));
    let a = out.allocations.iter().find(|a| a.customer == "c1").unwrap();
    let mut on = a.suppliers.clone();
    on.sort();
    assert_eq!(on, vec!["s1".to_string(), "s2".to_string()]);
    assert_eq!(a.price, 3.25);
}

#[test]
fn no_match_and_not_enough_replicas_are_told_apart() {
    let mut p = parameters();
    p.delta_min = 600.0;
    // c1 wants 3 replicas, two suppliers match: not enough replicas.
    // c2 bids below every ask: no match.
    let mut c1 = customer("c1", 5.0);
    c1.replicas = Some(3);
    c1.end = 600.0;
    let mut c2 = customer("c2", 0.5);
    c2.end = 600.0;
    let out = run(
        vec![supplier("s1", 1000.0, 1.0), supplier("s2", 1000.0, 1.0)],
        vec![c1, c2],
        p,
    );
    assert!(out.allocations.is_empty());
    let reason = |id: &str| out.void.iter().find(|v| v.customer == id).unwrap().reason;
    assert_eq!(reason("c1"), VoidReason::NotEnoughReplicas);
    assert_eq!(reason("c2"), VoidReason::NoMatch);
}

fn refusal(text: &str) -> String {
    match Offers::from_json_str(text, "offers.json") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted: {text}"),
    }
}

const PARAMS: &str = r#""parameters": {"delta_min": 600, "delta_setup": 0, "delta_alloc": 0, "failure_rate": 0, "deposit_factor": 1000, "test_inputs": 12, "slot": 600}"#;

#[test]
fn bad_offers_are_refused_naming_file_offer_and_rule() {
    let s = r#"{"id": "s1", "mips": 200, "memory": 512, "start": 0, "end": 3600, "min_price": 1}"#;
    let c = |extra: &str| {
        format!(
            r#"{{"id": "c1", "mi_per_input": 10, "memory": 128, "start": 0, "end": 3600, "max_price": 2, "rate": 20{extra}}}"#
        )
    };
    let file = |sup: &str, cus: &str| {
        format!(r#"{{"suppliers": [{sup}], "customers": [{cus}], {PARAMS}}}"#)
    };
    let ok = file(s, &c(r#", "replicas": 1"#));
    assert!(Offers::from_json_str(&ok, "offers.json").is_ok());
    let m = refusal(&file(
        s,
        &c(r#", "replicas": 1, "success_probability": 0.9"#),
    ));
    assert!(m.starts_with("offers.json: customers[0] (id 'c1')"), "{m}");
    assert!(
        m.contains("exactly one of replicas and success_probability"),
        "{m}"
    );
    // Each refusal's message names every part listed.
    let one = c(r#", "replicas": 1"#);
    for (text, parts) in [
        (file(s, &c("")), &["exactly one"][..]),
        (
            file(s, &c(r#", "success_probability": 1.0"#)),
            &["success_probability is 1", "[0, 1)"],
        ),
        (
            file(&s.replace("\"mips\": 200", "\"mips\": -5"), &one),
            &["suppliers[0] (id 's1').mips", "must be positive"],
        ),
        (
            file(&s.replace("\"end\": 3600", "\"end\": 0"), &one),
            &["suppliers[0] (id 's1').end", "empty"],
        ),
        (
            file(s, &one.replace("c1", "s1")),
            &["'s1' is used more than once"],
        ),
        (file(s, &c(r#", "replicas": 0"#)), &["replicas is 0"]),
        (
            ok.replace("\"slot\": 600", "\"slot\": 0"),
            &["parameters.slot", "must be positive"],
        ),
        (
            ok.replace("\"test_inputs\": 12", "\"test_inputs\": 0"),
            &["parameters.test_inputs"],
        ),
        (
            ok.replace("\"rate\": 20", "\"rate\": 0"),
            &["customers[0] (id 'c1').rate"],
        ),
    ] {
        let m = refusal(&text);
        assert!(parts.iter().all(|p| m.contains(p)), "{parts:?}: {m}");
    }
    let m = refusal(&file(s, &c(r#", "replicas": 1, "colour": "red""#)));
    assert!(
        m.starts_with("offers.json: customers[0]") && m.contains("unknown field"),
        "{m}"
    );
    let m = refusal(
        &file(s, &c(r#", "replicas": 1"#).replace("\"c1\"", "\"s1\\nx\""))
            .replace("\"s1\"", "\"s1\\nx\""),
    );
    assert!(!m.contains('\n') && m.contains("s1\\nx"), "{m}");
    assert!(matches!(
        Offers::from_json_str("{", "offers.json"),
        Err(StreamError::Parse(_))
    ));
}

#[test]
fn a_horizon_of_too_many_slots_is_refused_not_run() {
    let mut c = customer("c1", 5.0);
    c.end = 1e12; // 1e12 / 600 ≈ 1.7e9 slots
    let offers = Offers {
        suppliers: vec![supplier("s1", 200.0, 1.0)],
        customers: vec![c],
        parameters: parameters(),
    };
    assert!(matches!(
        match_offers(&offers, &MatchOptions::default()),
        Err(StreamError::TooManySlots { .. })
    ));
}
