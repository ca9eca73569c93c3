//! Every contract path of [Stream-Market] §3.2 and §3.5 with its exact transfers,
//! worked by hand.
//!
//! The terms: customer c, replicas s1 and s2; payment 100 per replica at the buyer's
//! price, 80 at the seller's (so the allocator keeps 20 per replica); deposit
//! D = 1000; allocator fee 5 from each of the three parties; mediator fee 3 from the
//! customer; mediation fee n·π_s = 12; timeout fine 500. At signing the customer
//! escrows 1000 + 2·100 + 3 + 5 = 1208, each supplier 1000 + 5 = 1005; once all have
//! signed the escrow pays the allocator 15.

use brokerflow_solvers::stream::commitment::{alpha, commitment, gamma, tested_outputs};
use brokerflow_solvers::stream::{Account, Contract, ContractError, Ledger, Party, State, Terms};

fn terms() -> Terms {
    Terms {
        customer: "c".into(),
        suppliers: vec!["s1".into(), "s2".into()],
        payment: 100,
        supplier_payment: 80,
        deposit: 1000,
        allocator_fee: 5,
        mediator_fee: 3,
        mediation_fee: 12,
        timeout_fine: 500,
    }
}

fn truth() -> Vec<Vec<u8>> {
    (0..12)
        .map(|i| format!("true output {i}").into_bytes())
        .collect()
}

fn wrong() -> Vec<Vec<u8>> {
    (0..12)
        .map(|i| format!("made-up output {i}").into_bytes())
        .collect()
}

/// Signs with the customer committing to `committed`; returns the running contract.
fn running(ledger: &mut Ledger, committed: &[Vec<u8>]) -> Contract {
    let mut k = Contract::new(7, terms()).unwrap();
    k.add_suppliers().unwrap();
    k.customer_sign(ledger, commitment(committed)).unwrap();
    k.supplier_sign(ledger, 0).unwrap();
    assert_eq!(k.state(), State::Signing);
    k.supplier_sign(ledger, 1).unwrap();
    assert_eq!(k.state(), State::Running);
    assert_eq!(k.held(), 1208 + 2 * 1005 - 15);
    k
}

fn c() -> Account {
    Account::Customer("c".into())
}
fn s(i: usize) -> Account {
    Account::Supplier(format!("s{i}"))
}

fn balances(l: &Ledger) -> [i64; 5] {
    [
        l.balance(&c()),
        l.balance(&s(1)),
        l.balance(&s(2)),
        l.balance(&Account::Allocator),
        l.balance(&Account::Mediator),
    ]
}

fn closed(k: &Contract, l: &Ledger, history: &[State]) {
    assert_eq!(k.history(), history);
    assert_eq!(k.held(), 0);
    assert_eq!(l.balance(&Account::Escrow), 0);
    assert_eq!(l.total(), 0);
}

#[test]
fn clean_close() {
    let mut l = Ledger::new();
    let mut k = running(&mut l, &truth());
    let a = alpha(&truth());
    k.reveal(a.clone()).unwrap();
    for j in 0..2 {
        k.post_output(j, gamma(&tested_outputs(&a, &truth())))
            .unwrap();
    }
    k.verify(&mut l).unwrap();
    // c: −1208 + 1000; s_j: −1005 + 80 + 1000; allocator 15 + 2·20; mediator 3.
    assert_eq!(balances(&l), [-208, 75, 75, 55, 3]);
    closed(
        &k,
        &l,
        &[
            State::Allocated,
            State::Signing,
            State::Running,
            State::Closed,
        ],
    );
    // The exact transfers of the close, in order.
    let close: Vec<(Account, Account, i64)> = l
        .transfers()
        .iter()
        .skip_while(|t| t.memo != "payment" || t.payer != Account::Escrow)
        .map(|t| (t.payer.clone(), t.payee.clone(), t.amount))
        .collect();
    let e = Account::Escrow;
    assert_eq!(
        close,
        vec![
            (e.clone(), s(1), 80),
            (e.clone(), Account::Allocator, 20),
            (e.clone(), s(2), 80),
            (e.clone(), Account::Allocator, 20),
            (e.clone(), c(), 1000),
            (e.clone(), s(1), 1000),
            (e.clone(), s(2), 1000),
            (e, Account::Mediator, 3),
        ]
    );
}

#[test]
fn mediation_with_a_supplier_wrong() {
    let mut l = Ledger::new();
    let mut k = running(&mut l, &truth());
    let a = alpha(&truth());
    k.reveal(a.clone()).unwrap();
    // s2 skipped test input 5.
    let mut skipped = truth();
    skipped[5] = b"nothing".to_vec();
    k.post_output(0, gamma(&tested_outputs(&a, &truth())))
        .unwrap();
    k.post_output(1, gamma(&tested_outputs(&a, &skipped)))
        .unwrap();
    k.verify(&mut l).unwrap();
    assert_eq!(k.state(), State::Mediation);
    k.mediate(&mut l, &truth(), &[truth(), skipped]).unwrap();
    // s2 forfeits 1000 and is not paid; its 100 goes to the allocator; the mediator
    // gets 12 of the fine and its fee 3; the allocator 15 + 20 + 100 + 988.
    assert_eq!(balances(&l), [-208, 75, -1005, 1123, 15]);
    closed(
        &k,
        &l,
        &[
            State::Allocated,
            State::Signing,
            State::Running,
            State::Mediation,
            State::Closed,
        ],
    );
    let closing = k.closing().unwrap();
    assert!(closing.mediated);
    assert_eq!(closing.supplier_fines, vec![0, 1000]);
    assert_eq!(closing.paid, vec![true, false]);
}

#[test]
fn mediation_with_the_customer_wrong() {
    let mut l = Ledger::new();
    // The customer commits made-up outputs (it did not process its test inputs).
    let mut k = running(&mut l, &wrong());
    let a = alpha(&wrong());
    k.reveal(a.clone()).unwrap();
    // Honest suppliers find none of α among their outputs: O_v is empty.
    for j in 0..2 {
        k.post_output(j, gamma(&tested_outputs(&a, &truth())))
            .unwrap();
    }
    k.verify(&mut l).unwrap();
    assert_eq!(k.state(), State::Mediation);
    k.mediate(&mut l, &truth(), &[truth(), truth()]).unwrap();
    // c forfeits 1000: mediator 12 + 3, allocator 15 + 40 + 988.
    assert_eq!(balances(&l), [-1208, 75, 75, 1043, 15]);
    closed(
        &k,
        &l,
        &[
            State::Allocated,
            State::Signing,
            State::Running,
            State::Mediation,
            State::Closed,
        ],
    );
    assert_eq!(k.closing().unwrap().customer_fine, 1000);
}

#[test]
fn signing_timeout_returns_every_deposit() {
    let mut l = Ledger::new();
    let mut k = Contract::new(1, terms()).unwrap();
    k.add_suppliers().unwrap();
    k.customer_sign(&mut l, commitment(&truth())).unwrap();
    k.supplier_sign(&mut l, 0).unwrap();
    assert_eq!(l.balance(&Account::Escrow), 1208 + 1005);
    k.signing_timeout(&mut l).unwrap();
    assert_eq!(balances(&l), [0, 0, 0, 0, 0]);
    closed(&k, &l, &[State::Allocated, State::Signing, State::Closed]);
    assert!(k.closing().unwrap().returned);
}

#[test]
fn cleanup_timeout_with_the_customer_silent() {
    let mut l = Ledger::new();
    let mut k = running(&mut l, &truth());
    // No α: the suppliers cannot post; the customer forfeits the timeout fine 500,
    // which goes to the allocator; the suppliers are paid.
    k.cleanup_timeout(&mut l).unwrap();
    assert_eq!(balances(&l), [-708, 75, 75, 555, 3]);
    closed(
        &k,
        &l,
        &[
            State::Allocated,
            State::Signing,
            State::Running,
            State::Closed,
        ],
    );
}

#[test]
fn cleanup_timeout_with_a_supplier_silent() {
    let mut l = Ledger::new();
    let mut k = running(&mut l, &truth());
    let a = alpha(&truth());
    k.reveal(a.clone()).unwrap();
    k.post_output(0, gamma(&tested_outputs(&a, &truth())))
        .unwrap();
    assert_eq!(
        k.verify(&mut l),
        Err(ContractError::NotAllPosted { contract: 7 })
    );
    // s2 never posts: it forfeits 500 and its payment (100) goes to the allocator.
    k.cleanup_timeout(&mut l).unwrap();
    assert_eq!(balances(&l), [-208, 75, -505, 635, 3]);
    closed(
        &k,
        &l,
        &[
            State::Allocated,
            State::Signing,
            State::Running,
            State::Closed,
        ],
    );
}

#[test]
fn mediation_timeout_fines_everyone_the_timeout_fine() {
    let mut l = Ledger::new();
    let mut k = running(&mut l, &truth());
    let a = alpha(&truth());
    k.reveal(a.clone()).unwrap();
    k.post_output(0, gamma(&tested_outputs(&a, &truth())))
        .unwrap();
    k.post_output(1, gamma(&[])).unwrap();
    k.verify(&mut l).unwrap();
    assert_eq!(k.state(), State::Mediation);
    k.mediation_timeout(&mut l).unwrap();
    // Everyone forfeits 500; s1 passed and is paid 80; s2 is not; π_m returns to c:
    // c −1208 + 500 + 3; s1 −1005 + 80 + 500; s2 −1005 + 500;
    // allocator 15 + 20 + 100 + 1500.
    assert_eq!(balances(&l), [-705, -425, -505, 1635, 0]);
    closed(
        &k,
        &l,
        &[
            State::Allocated,
            State::Signing,
            State::Running,
            State::Mediation,
            State::Closed,
        ],
    );
}

#[test]
fn events_out_of_order_are_refused_and_move_nothing() {
    let mut l = Ledger::new();
    let mut k = Contract::new(3, terms()).unwrap();
    assert!(matches!(
        k.customer_sign(&mut l, [0; 32]),
        Err(ContractError::WrongState {
            state: State::Allocated,
            ..
        })
    ));
    assert!(matches!(
        k.verify(&mut l),
        Err(ContractError::WrongState { .. })
    ));
    k.add_suppliers().unwrap();
    assert!(k.add_suppliers().is_err());
    k.supplier_sign(&mut l, 0).unwrap();
    assert!(matches!(
        k.supplier_sign(&mut l, 0),
        Err(ContractError::AlreadySigned { .. })
    ));
    assert!(matches!(
        k.supplier_sign(&mut l, 2),
        Err(ContractError::UnknownReplica { replica: 2, .. })
    ));
    assert!(matches!(
        k.mediate(&mut l, &truth(), &[]),
        Err(ContractError::WrongState { .. })
    ));
    assert_eq!(l.balance(&Account::Escrow), 1005);
    assert_eq!(l.total(), 0);
}

#[test]
fn the_escrow_never_pays_more_than_it_holds() {
    let mut l = Ledger::new();
    l.transfer(0, c(), Account::Escrow, 10, "deposit").unwrap();
    assert_eq!(
        l.transfer(0, Account::Escrow, s(1), 11, "payment"),
        Err(ContractError::EscrowShort {
            contract: 0,
            held: 10,
            amount: 11
        })
    );
    assert!(l.transfer(0, c(), s(1), -1, "payment").is_err());
    assert!(l.transfer(0, c(), c(), 1, "payment").is_err());
    assert_eq!(l.balance(&Account::Escrow), 10);
    assert_eq!(l.transfers().len(), 1);
}

#[test]
fn terms_that_cannot_be_honoured_are_refused() {
    let mut t = terms();
    t.supplier_payment = 101;
    assert!(matches!(
        Contract::new(0, t),
        Err(ContractError::BadTerms(_))
    ));
    let mut t = terms();
    t.suppliers = vec!["s1".into(), "s1".into()];
    assert!(matches!(
        Contract::new(0, t),
        Err(ContractError::BadTerms(_))
    ));
    let mut t = terms();
    t.timeout_fine = 1001;
    assert!(matches!(
        Contract::new(0, t),
        Err(ContractError::BadTerms(_))
    ));
}

#[test]
fn return_deposits_on_request_while_signing() {
    // s2 has not signed: nothing of its to forfeit, everything goes back.
    let mut l = Ledger::new();
    let mut k = Contract::new(2, terms()).unwrap();
    k.add_suppliers().unwrap();
    k.customer_sign(&mut l, commitment(&truth())).unwrap();
    k.supplier_sign(&mut l, 0).unwrap();
    k.request_return(&mut l, Party::Supplier(1)).unwrap();
    assert_eq!(balances(&l), [0, 0, 0, 0, 0]);
    closed(&k, &l, &[State::Allocated, State::Signing, State::Closed]);
    // s1 signed, then asks for its deposit back: it forfeits 500 / 2 = 250.
    let mut l = Ledger::new();
    let mut k = Contract::new(3, terms()).unwrap();
    k.add_suppliers().unwrap();
    k.customer_sign(&mut l, commitment(&truth())).unwrap();
    k.supplier_sign(&mut l, 0).unwrap();
    k.request_return(&mut l, Party::Supplier(0)).unwrap();
    assert_eq!(balances(&l), [0, -250, 0, 250, 0]);
    closed(&k, &l, &[State::Allocated, State::Signing, State::Closed]);
    assert_eq!(k.closing().unwrap().supplier_fines, vec![250, 0]);
    assert!(matches!(
        k.request_return(&mut l, Party::Customer),
        Err(ContractError::WrongState {
            state: State::Closed,
            ..
        })
    ));
}
