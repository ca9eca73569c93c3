//! The contract of one allocation ([Stream-Market] §3.2, Fig. 3, §3.4–3.5): a state
//! machine Allocated → Signing → Running → (Mediation) → Closed whose every money
//! movement is a [`Ledger`] transfer.
//!
//! **Money** (whole units; `r` replicas; D = π_cd = π_sd = ρ·π_s):
//! * signing: the customer pays into escrow its deposit D, the payment r·λ_Δ·π_s
//!   (escrowed so the contract can always pay: the customer pays regardless of the
//!   outcome, [Stream-Market] §3.4.2), the mediator's availability fee π_m and the
//!   allocator's fee π_a; each supplier pays D and π_a. Once all have signed, the
//!   escrow pays the allocator its fees and the contract runs.
//! * clean close (every γ(O_v) passes Γ(O_c) = H(γ(O_v))): each supplier is paid
//!   λ_Δ·π_s at the seller's price, the gap to the buyer's price goes to the allocator
//!   (McAfee's surplus), every deposit is returned, the mediator gets π_m.
//! * mediation (some check failed): the mediator re-runs the n tests; whoever
//!   mismatches forfeits its whole deposit, and a supplier that mismatches is not
//!   paid. From the forfeited deposits the mediator is paid n·π_s; the rest, and any
//!   withheld payment, goes to the allocator as the market's treasury (the paper
//!   leaves the recipient open; refunding the customer would undo §3.4.2).
//! * timeouts: a party silent at cleanup forfeits the timeout fine (a part of its
//!   deposit, [Stream-Market] §3.2 "Timeouts"); a silent supplier is not paid. A
//!   mediator silent in Mediation: the customer and every supplier forfeit the
//!   timeout fine (§4.1's fallback), suppliers that passed are paid, and π_m goes
//!   back to the customer. A contract not fully signed by its deadline is closed
//!   with ReturnDeposits: everything escrowed goes back to who paid it (a party that
//!   never signed deposited nothing, so it only loses the allocation). A party may
//!   also request ReturnDeposits while signing; if it had signed, it forfeits half
//!   the timeout fine.
//!
//! Every contract's escrow holding is back to 0 when it closes.

use serde::Serialize;

use super::commitment::{commitment, gamma, verifies, Digest32};
use super::ledger::{Account, Ledger};
use super::ContractError;

/// A contract's state ([Stream-Market] Fig. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The allocator created the allocation on the ledger.
    Allocated,
    /// Suppliers added; waiting for every party's signature and deposit.
    Signing,
    /// Signed by all; the service runs; cleanup (α, γ) happens here.
    Running,
    /// A check failed; the mediator re-runs the tests.
    Mediation,
    /// Done; every deposit returned or forfeited.
    Closed,
}

/// A party to a contract that may act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The customer.
    Customer,
    /// The supplier of replica j.
    Supplier(usize),
}

/// The money terms of one contract, in ledger units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terms {
    /// The customer's id.
    pub customer: String,
    /// The suppliers' ids, one per replica.
    pub suppliers: Vec<String>,
    /// λ_Δ·π_s at the buyer's price: what the customer pays per replica.
    pub payment: i64,
    /// λ_Δ·π_s at the seller's price: what a supplier is paid (≤ `payment`).
    pub supplier_payment: i64,
    /// D = π_cd = π_sd = ρ·π_s.
    pub deposit: i64,
    /// π_a: the allocator's fee, paid by every signing party.
    pub allocator_fee: i64,
    /// π_m: the mediator's availability fee, paid by the customer.
    pub mediator_fee: i64,
    /// n·π_s: the mediator's pay for a mediation, taken from forfeited deposits.
    pub mediation_fee: i64,
    /// The part of a deposit a party silent at a deadline forfeits (≤ `deposit`).
    pub timeout_fine: i64,
}

impl Terms {
    /// Checks the terms: amounts ≥ 0, supplier payment ≤ payment, timeout fine ≤
    /// deposit, at least one supplier, distinct supplier ids.
    pub fn validate(&self) -> Result<(), ContractError> {
        let bad = |m: String| Err(ContractError::BadTerms(m));
        for (name, v) in [
            ("payment", self.payment),
            ("supplier_payment", self.supplier_payment),
            ("deposit", self.deposit),
            ("allocator_fee", self.allocator_fee),
            ("mediator_fee", self.mediator_fee),
            ("mediation_fee", self.mediation_fee),
            ("timeout_fine", self.timeout_fine),
        ] {
            if v < 0 {
                return bad(format!("{name} is {v}, must not be negative"));
            }
        }
        if self.supplier_payment > self.payment {
            return bad("the supplier payment exceeds the customer's payment".into());
        }
        if self.timeout_fine > self.deposit {
            return bad("the timeout fine exceeds the deposit".into());
        }
        if self.suppliers.is_empty() {
            return bad("a contract needs at least one supplier".into());
        }
        let mut ids = self.suppliers.clone();
        ids.sort();
        ids.dedup();
        if ids.len() != self.suppliers.len() {
            return bad("a supplier is listed twice (replicas are distinct suppliers)".into());
        }
        Ok(())
    }
}

/// How a contract ended, per party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closing {
    /// Whether the mediator ruled.
    pub mediated: bool,
    /// Deposit units the customer forfeited.
    pub customer_fine: i64,
    /// Deposit units each supplier forfeited.
    pub supplier_fines: Vec<i64>,
    /// Whether each supplier was paid.
    pub paid: Vec<bool>,
    /// Whether the contract was closed by ReturnDeposits before it ran.
    pub returned: bool,
}

/// One allocation's contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contract {
    /// Its number on the ledger.
    pub id: usize,
    /// Its money terms.
    pub terms: Terms,
    state: State,
    history: Vec<State>,
    customer_signed: bool,
    supplier_signed: Vec<bool>,
    committed: Option<Digest32>,
    revealed: Option<Vec<Digest32>>,
    posted: Vec<Option<Digest32>>,
    /// Suppliers silent at the cleanup deadline.
    silent: Vec<bool>,
    /// Escrow units this contract holds.
    held: i64,
    /// What each party put into escrow, for ReturnDeposits.
    escrowed: Vec<(Account, i64)>,
    closing: Option<Closing>,
}

impl Contract {
    /// `createAllocation`: the contract of one allocation in state Allocated
    /// ([Stream-Market] §3.2, Fig. 3).
    ///
    /// # Arguments
    /// * `id`: its number on the ledger.
    /// * `terms`: its money terms.
    ///
    /// # Returns
    /// The contract.
    ///
    /// # Errors
    /// [`ContractError::BadTerms`] for terms [`Terms::validate`] refuses.
    ///
    /// # Complexity
    /// O(r log r) for r replicas (the distinct-supplier check).
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract from creation to a clean close.
    ///
    /// Paper: [Stream-Market] §3.2.
    pub fn new(id: usize, terms: Terms) -> Result<Contract, ContractError> {
        terms.validate()?;
        let r = terms.suppliers.len();
        Ok(Contract {
            id,
            terms,
            state: State::Allocated,
            history: vec![State::Allocated],
            customer_signed: false,
            supplier_signed: vec![false; r],
            committed: None,
            revealed: None,
            posted: vec![None; r],
            silent: vec![false; r],
            held: 0,
            escrowed: Vec::new(),
            closing: None,
        })
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Every state entered, in order.
    pub fn history(&self) -> &[State] {
        &self.history
    }

    /// Escrow units this contract holds now.
    pub fn held(&self) -> i64 {
        self.held
    }

    /// How it closed (`None` until Closed).
    pub fn closing(&self) -> Option<&Closing> {
        self.closing.as_ref()
    }

    /// `AddSupplier` for every replica: Allocated → Signing.
    ///
    /// # Arguments
    /// * `self`: the contract, in state Allocated.
    ///
    /// # Returns
    /// `Ok(())` once in state Signing.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 (`AddSupplier`).
    pub fn add_suppliers(&mut self) -> Result<(), ContractError> {
        self.expect(State::Allocated, "add_suppliers")?;
        self.enter(State::Signing);
        Ok(())
    }

    /// `customerSign`: the customer escrows deposit, payment, π_m and π_a and commits
    /// Γ(O_c) to its n hidden test outputs.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the escrow is on.
    /// * `committed`: Γ(O_c), the commitment to the hidden test outputs.
    ///
    /// # Returns
    /// `Ok(())`; once every party has signed, the contract runs.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs, the customer
    /// signed already, or a transfer was refused.
    ///
    /// # Complexity
    /// O(r) transfers for r replicas.
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 (`customerSign`), §3.4.6.
    pub fn customer_sign(
        &mut self,
        ledger: &mut Ledger,
        committed: Digest32,
    ) -> Result<(), ContractError> {
        self.expect(State::Signing, "customer_sign")?;
        if self.customer_signed {
            return Err(ContractError::AlreadySigned {
                contract: self.id,
                party: Account::Customer(self.terms.customer.clone()),
            });
        }
        let c = Account::Customer(self.terms.customer.clone());
        let r = self.terms.suppliers.len() as i64;
        let t = self.terms.clone();
        let payment = t
            .payment
            .checked_mul(r)
            .ok_or(ContractError::Overflow { contract: self.id })?;
        self.escrow_in(ledger, &c, t.deposit, "deposit")?;
        self.escrow_in(ledger, &c, payment, "payment")?;
        self.escrow_in(ledger, &c, t.mediator_fee, "mediator fee")?;
        self.escrow_in(ledger, &c, t.allocator_fee, "allocator fee")?;
        self.customer_signed = true;
        self.committed = Some(committed);
        self.maybe_run(ledger)
    }

    /// `supplierSign` for replica `j`: the supplier escrows its deposit and π_a.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the escrow is on.
    /// * `j`: the replica.
    ///
    /// # Returns
    /// `Ok(())`; once every party has signed, the contract runs.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs, an unknown or
    /// already signed replica, or a transfer was refused.
    ///
    /// # Complexity
    /// O(r) for r replicas.
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 (`supplierSign`).
    pub fn supplier_sign(&mut self, ledger: &mut Ledger, j: usize) -> Result<(), ContractError> {
        self.expect(State::Signing, "supplier_sign")?;
        let s = self.supplier(j)?;
        if self.supplier_signed[j] {
            return Err(ContractError::AlreadySigned {
                contract: self.id,
                party: s,
            });
        }
        let t = self.terms.clone();
        self.escrow_in(ledger, &s, t.deposit, "deposit")?;
        self.escrow_in(ledger, &s, t.allocator_fee, "allocator fee")?;
        self.supplier_signed[j] = true;
        self.maybe_run(ledger)
    }

    /// The signing deadline passed with a signature missing: ReturnDeposits,
    /// Signing → Closed.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the escrow is on.
    ///
    /// # Returns
    /// `Ok(())` once Closed, every escrowed amount returned.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs, or a transfer
    /// was refused.
    ///
    /// # Complexity
    /// O(r) transfers for r replicas.
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 ("Timeouts"), §3.5 (ReturnDeposits).
    pub fn signing_timeout(&mut self, ledger: &mut Ledger) -> Result<(), ContractError> {
        self.expect(State::Signing, "signing_timeout")?;
        for (who, amount) in std::mem::take(&mut self.escrowed) {
            self.escrow_out(ledger, who, amount, "return deposits")?;
        }
        self.finish(Closing {
            mediated: false,
            customer_fine: 0,
            supplier_fines: vec![0; self.terms.suppliers.len()],
            paid: vec![false; self.terms.suppliers.len()],
            returned: true,
        })
    }

    /// `ReturnDeposits` requested by `party` during Signing ([Stream-Market] §3.5):
    /// the allocation is Closed and everything escrowed goes back to who paid it,
    /// except that a requester who had signed forfeits half the timeout fine (less
    /// than the timeout fine, as §3.5 asks) to the allocator.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the escrow is on.
    /// * `party`: who asks.
    ///
    /// # Returns
    /// `Ok(())` once Closed.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs, or a transfer
    /// was refused.
    ///
    /// # Complexity
    /// O(r) transfers for r replicas.
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.5.
    pub fn request_return(
        &mut self,
        ledger: &mut Ledger,
        party: Party,
    ) -> Result<(), ContractError> {
        self.expect(State::Signing, "request_return")?;
        let r = self.terms.suppliers.len();
        let (who, signed) = match party {
            Party::Customer => (
                Account::Customer(self.terms.customer.clone()),
                self.customer_signed,
            ),
            Party::Supplier(j) => (self.supplier(j)?, self.supplier_signed[j]),
        };
        let penalty = if signed {
            self.terms.timeout_fine / 2
        } else {
            0
        };
        let mut owed = penalty;
        for (payer, amount) in std::mem::take(&mut self.escrowed) {
            let cut = if payer == who { owed.min(amount) } else { 0 };
            owed -= cut;
            self.escrow_out(ledger, payer, amount - cut, "return deposits")?;
        }
        let forfeited = penalty - owed;
        self.escrow_out(ledger, Account::Allocator, forfeited, "return penalty")?;
        let mut supplier_fines = vec![0; r];
        let mut customer_fine = 0;
        match party {
            Party::Customer => customer_fine = forfeited,
            Party::Supplier(j) => supplier_fines[j] = forfeited,
        }
        self.finish(Closing {
            mediated: false,
            customer_fine,
            supplier_fines,
            paid: vec![false; r],
            returned: true,
        })
    }

    /// Cleanup: the customer reveals α(O_c) so the suppliers can find O_v.
    ///
    /// # Arguments
    /// * `alpha_c`: α(O_c), the hashes of the tested outputs.
    ///
    /// # Returns
    /// `Ok(())`.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs (Running).
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 (cleanup), §3.4.6.
    pub fn reveal(&mut self, alpha_c: Vec<Digest32>) -> Result<(), ContractError> {
        self.expect(State::Running, "reveal")?;
        self.revealed = Some(alpha_c);
        Ok(())
    }

    /// `PostOutput` for replica `j`: γ(O_v), the hash of its tested outputs.
    ///
    /// # Arguments
    /// * `j`: the replica.
    /// * `posted`: γ(O_v).
    ///
    /// # Returns
    /// `Ok(())`.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs (Running), or an
    /// unknown replica.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 (`PostOutput`), §3.4.6.
    pub fn post_output(&mut self, j: usize, posted: Digest32) -> Result<(), ContractError> {
        self.expect(State::Running, "post_output")?;
        self.supplier(j)?;
        self.posted[j] = Some(posted);
        Ok(())
    }

    /// The verifier, once every supplier posted: Γ(O_c) = H(γ(O_v)) for all →
    /// clean close (Running → Closed); otherwise Running → Mediation.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the contract's money moves on.
    ///
    /// # Returns
    /// `Ok(())` once the contract has moved on.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not Running, a supplier has not posted, or a
    /// transfer was refused.
    ///
    /// # Complexity
    /// O(r) hashes and transfers for r replicas.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::commitment::{alpha, commitment, gamma};
    /// use brokerflow_solvers::stream::{Account, Contract, Ledger, State, Terms};
    ///
    /// let terms = Terms {
    ///     customer: "c1".into(), suppliers: vec!["s1".into()], payment: 100,
    ///     supplier_payment: 80, deposit: 50, allocator_fee: 3, mediator_fee: 2,
    ///     mediation_fee: 10, timeout_fine: 5,
    /// };
    /// let (mut ledger, mut c) = (Ledger::new(), Contract::new(0, terms)?);
    /// let tests = vec![b"t1".to_vec(), b"t2".to_vec()];
    /// c.add_suppliers()?;
    /// c.customer_sign(&mut ledger, commitment(&tests))?;
    /// c.supplier_sign(&mut ledger, 0)?;
    /// assert_eq!(c.state(), State::Running);
    /// c.reveal(alpha(&tests))?;
    /// c.post_output(0, gamma(&tests))?;
    /// c.verify(&mut ledger)?;
    /// assert_eq!(c.state(), State::Closed);
    /// // Clean close, by hand: the customer pays 100 + π_m 2 + π_a 3, the supplier is
    /// // paid 80 less its π_a 3, the allocator gets both fees and the 20 between the
    /// // prices, the mediator π_m; deposits come back and the escrow is empty.
    /// let balance = |a: Account| ledger.balance(&a);
    /// assert_eq!(balance(Account::Customer("c1".into())), -105);
    /// assert_eq!(balance(Account::Supplier("s1".into())), 77);
    /// assert_eq!((balance(Account::Allocator), balance(Account::Mediator)), (26, 2));
    /// assert_eq!((balance(Account::Escrow), ledger.total()), (0, 0));
    /// # Ok::<_, brokerflow_solvers::stream::ContractError>(())
    /// ```
    ///
    /// Paper: [Stream-Market] §3.2 (the Verifier), §3.4.6 (Γ(O_c) = H(γ(O_v))).
    pub fn verify(&mut self, ledger: &mut Ledger) -> Result<(), ContractError> {
        self.expect(State::Running, "verify")?;
        if self.posted.iter().any(Option::is_none) {
            return Err(ContractError::NotAllPosted { contract: self.id });
        }
        self.check_posted(ledger)
    }

    /// The cleanup deadline passed. Without α the customer is the silent party and
    /// forfeits the timeout fine (suppliers are paid: they could not post). With α,
    /// every supplier that did not post forfeits the timeout fine and is not paid;
    /// the posted outputs are then verified as in [`Contract::verify`].
    ///
    /// # Arguments
    /// * `ledger`: the ledger the escrow is on.
    ///
    /// # Returns
    /// `Ok(())` once Closed or in Mediation.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs, or a transfer
    /// was refused.
    ///
    /// # Complexity
    /// O(r) hashes and transfers for r replicas.
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §3.2 ("Timeouts").
    pub fn cleanup_timeout(&mut self, ledger: &mut Ledger) -> Result<(), ContractError> {
        self.expect(State::Running, "cleanup_timeout")?;
        let r = self.terms.suppliers.len();
        if self.revealed.is_none() {
            return self.close(
                ledger,
                Closing {
                    mediated: false,
                    customer_fine: self.terms.timeout_fine,
                    supplier_fines: vec![0; r],
                    paid: vec![true; r],
                    returned: false,
                },
                true,
            );
        }
        for j in 0..r {
            self.silent[j] = self.posted[j].is_none();
        }
        self.check_posted(ledger)
    }

    /// `PostMediation`: the mediator re-ran the n test inputs (`mediator_outputs`)
    /// and read each supplier's outputs on them from the output channel
    /// (`supplier_outputs[j]`). The customer is wrong if Γ of the mediator's outputs
    /// is not its commitment; supplier j is wrong if γ of its outputs is not γ of
    /// the mediator's. Mediation → Closed.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the contract's money moves on.
    /// * `mediator_outputs`: the mediator's outputs of the n test inputs.
    /// * `supplier_outputs`: per replica, the supplier's outputs of them.
    ///
    /// # Returns
    /// `Ok(())` once Closed.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in Mediation, outputs for another
    /// number of suppliers, or a transfer was refused.
    ///
    /// # Complexity
    /// O(r · n) hashing for r replicas and n test outputs.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::commitment::{alpha, commitment, gamma};
    /// use brokerflow_solvers::stream::{Account, Contract, Ledger, State, Terms};
    ///
    /// let terms = Terms {
    ///     customer: "c1".into(), suppliers: vec!["s1".into()], payment: 100,
    ///     supplier_payment: 80, deposit: 50, allocator_fee: 3, mediator_fee: 2,
    ///     mediation_fee: 10, timeout_fine: 5,
    /// };
    /// let (mut ledger, mut c) = (Ledger::new(), Contract::new(1, terms)?);
    /// let tests = vec![b"t1".to_vec(), b"t2".to_vec()];
    /// c.add_suppliers()?;
    /// c.customer_sign(&mut ledger, commitment(&tests))?;
    /// c.supplier_sign(&mut ledger, 0)?;
    /// assert_eq!(c.state(), State::Running);
    /// c.reveal(alpha(&tests))?;
    /// // The supplier skipped t2: its γ fails the check, and the mediator finds it out.
    /// c.post_output(0, gamma(&tests[..1]))?;
    /// c.verify(&mut ledger)?;
    /// assert_eq!(c.state(), State::Mediation);
    /// c.mediate(&mut ledger, &tests, &[tests[..1].to_vec()])?;
    /// let closing = c.closing().unwrap();
    /// assert!(closing.mediated && !closing.paid[0]);
    /// assert_eq!((closing.customer_fine, closing.supplier_fines[0]), (0, 50));
    /// // Not paid and its deposit forfeited: the supplier is out its 50 and π_a 3.
    /// assert_eq!(ledger.balance(&Account::Supplier("s1".into())), -53);
    /// assert_eq!((ledger.balance(&Account::Escrow), ledger.total()), (0, 0));
    /// # Ok::<_, brokerflow_solvers::stream::ContractError>(())
    /// ```
    ///
    /// Paper: [Stream-Market] §3.2 (the Mediator), §3.4.4.
    pub fn mediate(
        &mut self,
        ledger: &mut Ledger,
        mediator_outputs: &[Vec<u8>],
        supplier_outputs: &[Vec<Vec<u8>>],
    ) -> Result<(), ContractError> {
        self.expect(State::Mediation, "mediate")?;
        let r = self.terms.suppliers.len();
        if supplier_outputs.len() != r {
            return Err(ContractError::BadTerms(format!(
                "mediation got outputs of {} suppliers, the contract has {r}",
                supplier_outputs.len()
            )));
        }
        let truth = gamma(mediator_outputs);
        let customer_wrong = self.committed != Some(commitment(mediator_outputs));
        let d = self.terms.deposit;
        let mut fines = vec![0; r];
        let mut paid = vec![true; r];
        for j in 0..r {
            if self.silent[j] {
                fines[j] = self.terms.timeout_fine;
                paid[j] = false;
            } else if gamma(&supplier_outputs[j]) != truth {
                fines[j] = d;
                paid[j] = false;
            }
        }
        self.close(
            ledger,
            Closing {
                mediated: true,
                customer_fine: if customer_wrong { d } else { 0 },
                supplier_fines: fines,
                paid,
                returned: false,
            },
            true,
        )
    }

    /// The mediator stayed silent ([Stream-Market] §4.1): the customer and every
    /// supplier forfeit the timeout fine; suppliers whose γ passed are paid; π_m goes
    /// back to the customer. Mediation → Closed.
    ///
    /// # Arguments
    /// * `ledger`: the ledger the escrow is on.
    ///
    /// # Returns
    /// `Ok(())` once Closed.
    ///
    /// # Errors
    /// [`ContractError`]: the contract is not in the state this step needs (Mediation), or
    /// a transfer was refused.
    ///
    /// # Complexity
    /// O(r) transfers for r replicas.
    ///
    /// # Example
    /// See [`Contract::verify`], which plays a contract through every step of a clean
    /// close.
    ///
    /// Paper: [Stream-Market] §4.1.
    pub fn mediation_timeout(&mut self, ledger: &mut Ledger) -> Result<(), ContractError> {
        self.expect(State::Mediation, "mediation_timeout")?;
        let paid: Vec<bool> = (0..self.terms.suppliers.len())
            .map(|j| !self.silent[j] && self.passes(j))
            .collect();
        let r = paid.len();
        self.close(
            ledger,
            Closing {
                mediated: false,
                customer_fine: self.terms.timeout_fine,
                supplier_fines: vec![self.terms.timeout_fine; r],
                paid,
                returned: false,
            },
            false,
        )
    }

    fn passes(&self, j: usize) -> bool {
        match (&self.committed, &self.posted[j]) {
            (Some(c), Some(p)) => verifies(c, p),
            _ => false,
        }
    }

    fn check_posted(&mut self, ledger: &mut Ledger) -> Result<(), ContractError> {
        let r = self.terms.suppliers.len();
        let failed = (0..r).any(|j| !self.silent[j] && !self.passes(j));
        if failed {
            self.enter(State::Mediation);
            return Ok(());
        }
        let fines: Vec<i64> = (0..r)
            .map(|j| {
                if self.silent[j] {
                    self.terms.timeout_fine
                } else {
                    0
                }
            })
            .collect();
        let paid = (0..r).map(|j| !self.silent[j]).collect();
        self.close(
            ledger,
            Closing {
                mediated: false,
                customer_fine: 0,
                supplier_fines: fines,
                paid,
                returned: false,
            },
            true,
        )
    }

    /// `ClearMarket`: pays out everything the contract holds as `closing` says.
    fn close(
        &mut self,
        ledger: &mut Ledger,
        closing: Closing,
        mediator_paid: bool,
    ) -> Result<(), ContractError> {
        let t = self.terms.clone();
        let c = Account::Customer(t.customer.clone());
        for (j, id) in t.suppliers.iter().enumerate() {
            let s = Account::Supplier(id.clone());
            if closing.paid[j] {
                self.escrow_out(ledger, s, t.supplier_payment, "payment")?;
                self.escrow_out(
                    ledger,
                    Account::Allocator,
                    t.payment - t.supplier_payment,
                    "auction surplus",
                )?;
            } else {
                self.escrow_out(ledger, Account::Allocator, t.payment, "withheld payment")?;
            }
        }
        self.escrow_out(
            ledger,
            c.clone(),
            t.deposit - closing.customer_fine,
            "return deposit",
        )?;
        for (j, id) in t.suppliers.iter().enumerate() {
            self.escrow_out(
                ledger,
                Account::Supplier(id.clone()),
                t.deposit - closing.supplier_fines[j],
                "return deposit",
            )?;
        }
        let fines = closing.customer_fine + closing.supplier_fines.iter().sum::<i64>();
        let to_mediator = if closing.mediated {
            fines.min(t.mediation_fee)
        } else {
            0
        };
        self.escrow_out(ledger, Account::Mediator, to_mediator, "mediation fee")?;
        self.escrow_out(
            ledger,
            Account::Allocator,
            fines - to_mediator,
            "forfeited deposit",
        )?;
        if mediator_paid {
            self.escrow_out(ledger, Account::Mediator, t.mediator_fee, "mediator fee")?;
        } else {
            self.escrow_out(ledger, c, t.mediator_fee, "return mediator fee")?;
        }
        self.finish(closing)
    }

    fn finish(&mut self, closing: Closing) -> Result<(), ContractError> {
        if self.held != 0 {
            return Err(ContractError::EscrowLeft {
                contract: self.id,
                held: self.held,
            });
        }
        self.closing = Some(closing);
        self.enter(State::Closed);
        Ok(())
    }

    fn maybe_run(&mut self, ledger: &mut Ledger) -> Result<(), ContractError> {
        if !self.customer_signed || self.supplier_signed.iter().any(|s| !s) {
            return Ok(());
        }
        let fees = self
            .terms
            .allocator_fee
            .checked_mul(self.terms.suppliers.len() as i64 + 1)
            .ok_or(ContractError::Overflow { contract: self.id })?;
        self.escrow_out(ledger, Account::Allocator, fees, "allocator fee")?;
        self.escrowed.clear();
        self.enter(State::Running);
        Ok(())
    }

    fn escrow_in(
        &mut self,
        ledger: &mut Ledger,
        from: &Account,
        amount: i64,
        memo: &'static str,
    ) -> Result<(), ContractError> {
        if amount == 0 {
            return Ok(());
        }
        ledger.transfer(self.id, from.clone(), Account::Escrow, amount, memo)?;
        self.held += amount;
        self.escrowed.push((from.clone(), amount));
        Ok(())
    }

    fn escrow_out(
        &mut self,
        ledger: &mut Ledger,
        to: Account,
        amount: i64,
        memo: &'static str,
    ) -> Result<(), ContractError> {
        if amount == 0 {
            return Ok(());
        }
        if amount > self.held {
            return Err(ContractError::EscrowShort {
                contract: self.id,
                held: self.held,
                amount,
            });
        }
        ledger.transfer(self.id, Account::Escrow, to, amount, memo)?;
        self.held -= amount;
        Ok(())
    }

    fn supplier(&self, j: usize) -> Result<Account, ContractError> {
        self.terms
            .suppliers
            .get(j)
            .map(|id| Account::Supplier(id.clone()))
            .ok_or(ContractError::UnknownReplica {
                contract: self.id,
                replica: j,
            })
    }

    fn expect(&self, state: State, event: &'static str) -> Result<(), ContractError> {
        if self.state == state {
            Ok(())
        } else {
            Err(ContractError::WrongState {
                contract: self.id,
                event,
                state: self.state,
            })
        }
    }

    fn enter(&mut self, state: State) {
        self.state = state;
        self.history.push(state);
    }
}
