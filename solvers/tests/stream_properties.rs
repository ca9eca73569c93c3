//! Invariants of the stream market on random offer sets and random strategies
//! ([Stream-Market] §2.1, §3.2–3.5): every allocation meets the matching conditions
//! and δ_min; no supplier's MIPS or memory is exceeded at any time; money is
//! conserved to the last unit in every state; the contract never skips a state.
//! The checks are written here, independently of the matcher's own code.

use brokerflow_solvers::stream::commitment::{alpha, commitment, gamma, tested_outputs};
use brokerflow_solvers::stream::{
    match_offers, Account, Contract, CustomerOffer, Ledger, MatchOptions, Offers, Parameters,
    Party, State, SupplierOffer, Terms,
};
use proptest::prelude::*;

fn supplier_offer() -> impl Strategy<Value = (f64, f64, u32, u32, f64)> {
    (
        prop::sample::select(vec![100.0, 200.0, 300.0, 450.0, 800.0]),
        prop::sample::select(vec![128.0, 256.0, 512.0]),
        0u32..2,
        6u32..13,
        prop::sample::select(vec![0.5, 1.0, 1.5, 2.0]),
    )
}

#[allow(clippy::type_complexity)]
fn customer_offer() -> impl Strategy<Value = (f64, f64, f64, u32, u32, f64, Option<u32>)> {
    (
        prop::sample::select(vec![2.0, 5.0, 10.0]),
        prop::sample::select(vec![5.0, 10.0, 20.0]),
        prop::sample::select(vec![64.0, 128.0, 256.0]),
        0u32..3,
        2u32..11,
        prop::sample::select(vec![0.4, 1.5, 2.0, 2.5, 3.0, 4.0]),
        prop::option::of(1u32..4),
    )
}

fn offers() -> impl Strategy<Value = Offers> {
    (
        prop::collection::vec(supplier_offer(), 1..9),
        prop::collection::vec(customer_offer(), 2..11),
        prop::sample::select(vec![300.0, 600.0]),
        prop::sample::select(vec![300.0, 600.0, 900.0]),
        prop::sample::select(vec![0.0, 60.0]),
        prop::sample::select(vec![0.0, 1e-4]),
    )
        .prop_map(|(ss, cs, slot, delta_min, lead, q)| Offers {
            suppliers: ss
                .into_iter()
                .enumerate()
                .map(|(i, (mips, memory, a, len, min_price))| SupplierOffer {
                    id: format!("s{i}"),
                    mips,
                    memory,
                    start: f64::from(a) * 300.0,
                    end: f64::from(a + len) * 300.0,
                    min_price,
                })
                .collect(),
            customers: cs
                .into_iter()
                .enumerate()
                .map(
                    |(i, (mi, rate, memory, a, len, max_price, r))| CustomerOffer {
                        id: format!("c{i}"),
                        mi_per_input: mi,
                        memory,
                        start: f64::from(a) * 300.0,
                        end: f64::from(a + len) * 300.0,
                        max_price,
                        rate,
                        replicas: r,
                        success_probability: if r.is_none() { Some(0.99) } else { None },
                    },
                )
                .collect(),
            parameters: Parameters {
                delta_min,
                delta_setup: lead / 2.0,
                delta_alloc: lead / 2.0,
                failure_rate: q,
                deposit_factor: 10.0,
                test_inputs: 3,
                slot,
                now: 0.0,
            },
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn allocations_meet_the_conditions_and_no_capacity_is_exceeded(o in offers()) {
        let out = match_offers(&o, &MatchOptions::default()).unwrap();
        let p = &o.parameters;
        for a in &out.allocations {
            let c = o.customers.iter().find(|c| c.id == a.customer).unwrap();
            // δ_min, the customer's window, and service only after allocation and setup.
            prop_assert!(a.end - a.start >= p.delta_min - 1e-9);
            prop_assert!(c.start <= a.start && a.end <= c.end);
            prop_assert!(a.start >= p.now + p.delta_alloc + p.delta_setup);
            // Individually rational prices.
            prop_assert!(a.supplier_price <= a.price && a.price <= c.max_price);
            // r distinct suppliers; with P(b), r is the least with p_f^r ≤ 1 − P(b).
            let mut ids = a.suppliers.clone();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), a.suppliers.len());
            match (c.replicas, c.success_probability) {
                (Some(r), _) => prop_assert_eq!(a.suppliers.len() as u32, r),
                (None, Some(pb)) => {
                    let p_f = 1.0 - (-p.failure_rate * (a.end - a.start)).exp();
                    let r = a.suppliers.len() as i32;
                    prop_assert!(p_f.powi(r) <= 1.0 - pb + 1e-12);
                    prop_assert!(r == 1 || p_f.powi(r - 1) > 1.0 - pb - 1e-12);
                }
                _ => unreachable!(),
            }
            for id in &a.suppliers {
                let s = o.suppliers.iter().find(|s| &s.id == id).unwrap();
                prop_assert!(c.mi_per_input * c.rate <= s.mips);
                prop_assert!(c.memory <= s.memory);
                prop_assert!(s.min_price <= a.supplier_price);
                prop_assert!(s.start <= a.start && a.end <= s.end);
            }
        }
        // A customer's allocations never overlap.
        for (i, a) in out.allocations.iter().enumerate() {
            for b in &out.allocations[i + 1..] {
                if a.customer == b.customer {
                    prop_assert!(a.end <= b.start || b.end <= a.start);
                }
            }
        }
        // Load at every allocation start (where load can rise) is within capacity.
        for s in &o.suppliers {
            for t in out.allocations.iter().map(|a| a.start) {
                let (mut mips, mut mem) = (0.0, 0.0);
                for a in out.allocations.iter().filter(|a| a.start <= t && t < a.end) {
                    if a.suppliers.contains(&s.id) {
                        let c = o.customers.iter().find(|c| c.id == a.customer).unwrap();
                        mips += c.mi_per_input * c.rate;
                        mem += c.memory;
                    }
                }
                prop_assert!(mips <= s.mips, "{} at {t}: {mips} MIPS > {}", s.id, s.mips);
                prop_assert!(mem <= s.memory, "{} at {t}: {mem} memory > {}", s.id, s.memory);
            }
        }
        for v in &out.void {
            prop_assert!(v.start <= v.end);
        }
    }
}

/// What each party does in one contract.
#[derive(Debug, Clone)]
struct Script {
    r: usize,
    payment: i64,
    spread: i64,
    deposit: i64,
    fees: (i64, i64, i64),
    fine_permille: i64,
    customer_signs: bool,
    suppliers_sign: Vec<bool>,
    customer_honest: bool,
    customer_reveals: bool,
    suppliers_post: Vec<bool>,
    suppliers_honest: Vec<bool>,
    mediator_answers: bool,
    /// Who asks for ReturnDeposits after the customer's turn to sign, if anyone.
    withdraws: Option<usize>,
}

fn script() -> impl Strategy<Value = Script> {
    (1usize..4).prop_flat_map(|r| {
        (
            (0i64..1000, 0i64..1000, 0i64..5000),
            (0i64..50, 0i64..50, 0i64..200, 0i64..=1000),
            (
                prop::bool::weighted(0.9),
                prop::collection::vec(prop::bool::weighted(0.9), r),
            ),
            (any::<bool>(), prop::bool::weighted(0.9)),
            (
                prop::collection::vec(prop::bool::weighted(0.9), r),
                prop::collection::vec(any::<bool>(), r),
                prop::bool::weighted(0.8),
            ),
            prop::option::weighted(0.15, 0..=r),
        )
            .prop_map(move |(m, f, sign, cust, sup, withdraws)| Script {
                r,
                payment: m.0,
                spread: m.1.min(m.0),
                deposit: m.2,
                fees: (f.0, f.1, f.2),
                fine_permille: f.3,
                customer_signs: sign.0,
                suppliers_sign: sign.1,
                customer_honest: cust.0,
                customer_reveals: cust.1,
                suppliers_post: sup.0,
                suppliers_honest: sup.1,
                mediator_answers: sup.2,
                withdraws,
            })
    })
}

/// The arrows of Allocated → Signing → Running → (Mediation) → Closed, plus the
/// signing timeout's Signing → Closed.
fn allowed(a: State, b: State) -> bool {
    use State::*;
    matches!(
        (a, b),
        (Allocated, Signing)
            | (Signing, Running)
            | (Signing, Closed)
            | (Running, Mediation)
            | (Running, Closed)
            | (Mediation, Closed)
    )
}

/// Conservation after every event: Σ balances = 0 and the escrow holds exactly what
/// the open contracts hold, never less than zero.
fn conserved(l: &Ledger, held_elsewhere: i64, k: &Contract) -> Result<(), TestCaseError> {
    prop_assert_eq!(l.total(), 0);
    prop_assert!(l.balance(&Account::Escrow) >= 0);
    prop_assert_eq!(l.balance(&Account::Escrow), held_elsewhere + k.held());
    Ok(())
}

fn play(
    l: &mut Ledger,
    id: usize,
    sc: &Script,
    held_elsewhere: i64,
) -> Result<Contract, TestCaseError> {
    let truth: Vec<Vec<u8>> = (0..4).map(|i| format!("o{id}.{i}").into_bytes()).collect();
    let made_up: Vec<Vec<u8>> = (0..4).map(|i| format!("x{id}.{i}").into_bytes()).collect();
    let terms = Terms {
        customer: format!("c{}", id % 3),
        suppliers: (0..sc.r).map(|j| format!("s{}", (id + j) % 5)).collect(),
        payment: sc.payment,
        supplier_payment: sc.payment - sc.spread,
        deposit: sc.deposit,
        allocator_fee: sc.fees.0,
        mediator_fee: sc.fees.1,
        mediation_fee: sc.fees.2,
        timeout_fine: sc.deposit * sc.fine_permille / 1000,
    };
    let mut k = Contract::new(id, terms).unwrap();
    k.add_suppliers().unwrap();
    conserved(l, held_elsewhere, &k)?;
    let committed = if sc.customer_honest { &truth } else { &made_up };
    if sc.customer_signs {
        k.customer_sign(l, commitment(committed)).unwrap();
        conserved(l, held_elsewhere, &k)?;
    }
    if let Some(w) = sc.withdraws {
        // 0 is the customer, j + 1 supplier j.
        let party = if w == 0 {
            Party::Customer
        } else {
            Party::Supplier(w - 1)
        };
        k.request_return(l, party).unwrap();
        conserved(l, held_elsewhere, &k)?;
        return Ok(k);
    }
    for j in 0..sc.r {
        if sc.suppliers_sign[j] {
            k.supplier_sign(l, j).unwrap();
            conserved(l, held_elsewhere, &k)?;
        }
    }
    if k.state() == State::Signing {
        k.signing_timeout(l).unwrap();
        conserved(l, held_elsewhere, &k)?;
        return Ok(k);
    }
    let outputs: Vec<Vec<Vec<u8>>> = (0..sc.r)
        .map(|j| {
            if sc.suppliers_honest[j] {
                truth.clone()
            } else {
                made_up.clone()
            }
        })
        .collect();
    if sc.customer_reveals {
        let a = alpha(committed);
        k.reveal(a.clone()).unwrap();
        for (j, out) in outputs.iter().enumerate() {
            if sc.suppliers_post[j] {
                k.post_output(j, gamma(&tested_outputs(&a, out))).unwrap();
            }
        }
        if sc.suppliers_post.iter().all(|&b| b) {
            k.verify(l).unwrap();
        } else {
            k.cleanup_timeout(l).unwrap();
        }
    } else {
        k.cleanup_timeout(l).unwrap();
    }
    conserved(l, held_elsewhere, &k)?;
    if k.state() == State::Mediation {
        if sc.mediator_answers {
            k.mediate(l, &truth, &outputs).unwrap();
        } else {
            k.mediation_timeout(l).unwrap();
        }
        conserved(l, held_elsewhere, &k)?;
    }
    Ok(k)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn money_is_conserved_and_no_state_is_skipped(scripts in prop::collection::vec(script(), 1..6)) {
        let mut l = Ledger::new();
        // Contracts run one after another on one ledger; each leaves the escrow as
        // it found it.
        for (id, sc) in scripts.iter().enumerate() {
            let k = play(&mut l, id, sc, 0)?;
            prop_assert_eq!(k.state(), State::Closed);
            prop_assert_eq!(k.held(), 0);
            let h = k.history();
            prop_assert_eq!(h[0], State::Allocated);
            for w in h.windows(2) {
                prop_assert!(allowed(w[0], w[1]), "{:?} → {:?} in {:?}", w[0], w[1], h);
            }
            // Under mediation, whoever was honest (and posted) loses nothing.
            let closing = k.closing().unwrap();
            if !closing.returned && closing.mediated {
                if sc.customer_honest {
                    prop_assert_eq!(closing.customer_fine, 0);
                }
                for j in 0..sc.r {
                    if sc.suppliers_honest[j] && sc.suppliers_post[j] {
                        prop_assert_eq!(closing.supplier_fines[j], 0);
                        prop_assert!(closing.paid[j]);
                    }
                }
            }
        }
        prop_assert_eq!(l.balance(&Account::Escrow), 0);
        prop_assert_eq!(l.total(), 0);
        // Every transfer has a payer and a payee and a non-negative amount.
        for t in l.transfers() {
            prop_assert!(t.amount > 0 && t.payer != t.payee);
        }
    }
}
