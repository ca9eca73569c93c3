//! The strategy experiment of [Stream-Market] §5.2: rounds of offers, allocations by
//! [`match_offers`], and contracts played out on a [`Ledger`] by suppliers that
//! process each input with probability P(s) and customers that commit correct test
//! outputs with probability P(c).
//!
//! Every round t, each supplier and customer sends one offer for the slot
//! [t·slot, (t+1)·slot] (attributes drawn from the spec's ranges, arriving in a random
//! order), the round is matched, and every allocation becomes a [`Contract`] played to Closed:
//! * the customer draws n test inputs; with probability P(c) it computes their true
//!   outputs (cost n·π_cg), otherwise it commits made-up outputs; it commits Γ and
//!   pays π_cc (gas) either way;
//! * each replica processes every input with probability P(s) (cost π_se per
//!   processed input: the tested ones drawn one by one, the other λ_Δ − n as a
//!   binomial count); a skipped test input yields a wrong output;
//! * the customer reveals α; each supplier finds O_v by hashing its outputs, posts
//!   γ(O_v) (gas π_v), and the verifier checks Γ = H(γ(O_v)); on a mismatch the
//!   mediator re-runs the tests (cost n·π_se + π_mc) and rules;
//! * the customer gains b per input that at least one replica processed (for r > 1
//!   the union is drawn as one binomial with 1 − Π(1 − P_j), an approximation).
//!
//! Utility = benefit + ledger balance − own costs. The Fig. 6-shaped sweep replays
//! the same allocations with every supplier at one P(s).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::commitment::{alpha, commitment, gamma, tested_outputs};
use super::contract::{Contract, State, Terms};
use super::ledger::{Account, Ledger};
use super::matching::{match_offers, Allocation, MatchOptions, VoidReason};
use super::offers::{CustomerOffer, Offers, Parameters, SupplierOffer};
use super::StreamError;

/// A closed range [lo, hi] to draw uniformly from.
pub type Span = [f64; 2];

/// The strategy experiment's spec (a TOML file in `experiments/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationSpec {
    /// A name, printed in outputs.
    pub name: String,
    /// The seed: same spec and seed, same bytes.
    pub seed: u64,
    /// Rounds: offers each participant sends.
    pub rounds: usize,
    /// The groups' probabilities: P(s) for supplier groups, P(c) for customer groups.
    pub groups: Vec<f64>,
    /// Suppliers per group.
    pub suppliers_per_group: usize,
    /// Customers per group.
    pub customers_per_group: usize,
    /// How offers are drawn.
    pub offers: OfferSpec,
    /// The contract's money.
    pub contract: ContractSpec,
    /// The Fig. 6 sweep: every supplier at each of these P(s).
    #[serde(default)]
    pub sweep: Vec<f64>,
}

/// How each round's offers are drawn (uniform in each range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferSpec {
    /// The slot length, also each offer's window and each allocation's Δ (seconds).
    pub slot: f64,
    /// λ: inputs per second.
    pub rate: f64,
    /// I_c: million instructions per input.
    pub mi_per_input: Span,
    /// I_s: supplier MIPS.
    pub supplier_mips: Span,
    /// R_s: supplier memory.
    pub supplier_memory: Span,
    /// R_c: customer memory.
    pub customer_memory: Span,
    /// π_xmin per million instructions.
    pub min_price: Span,
    /// π_xmax per million instructions.
    pub max_price: Span,
    /// r: replicas per customer.
    pub replicas: u32,
}

/// The contract's money, in currency (turned into ledger units by `money_unit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// n: hidden test inputs.
    pub test_inputs: u32,
    /// ρ: π_cd = π_sd = ρ·π_s.
    pub deposit_factor: f64,
    /// The ledger's unit of money (e.g. 1e-9).
    pub money_unit: f64,
    /// b / I_c: the customer's benefit per processed input, per million instructions.
    pub benefit_per_mi: f64,
    /// π_se / I_c: the supplier's cost to process one input, per million instructions.
    pub supplier_cost_per_mi: f64,
    /// π_cg / I_c: the customer's cost to generate one test output, per MI.
    pub customer_test_cost_per_mi: f64,
    /// π_v: the supplier's cost to post its output hash.
    pub post_cost: f64,
    /// π_cc: the customer's cost to commit its hash.
    pub commit_cost: f64,
    /// π_mc: the mediator's cost to post a ruling.
    pub mediation_post_cost: f64,
    /// π_a: the allocator's fee per signing party.
    pub allocator_fee: f64,
    /// π_m: the mediator's availability fee.
    pub mediator_fee: f64,
    /// Fraction of a deposit a silent party forfeits.
    pub timeout_penalty: f64,
}

/// One participant's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParticipantResult {
    /// Its id.
    pub id: String,
    /// `supplier`, `customer`, `allocator` or `mediator`.
    pub role: &'static str,
    /// Its group's probability (P(s) or P(c)); `None` for allocator and mediator.
    pub group: Option<f64>,
    /// Contracts it was party to.
    pub contracts: usize,
    /// Contracts in which it forfeited (part of) a deposit.
    pub fined: usize,
    /// Ledger balance, in currency.
    pub money: f64,
    /// Own costs (electricity, gas, test generation), in currency.
    pub costs: f64,
    /// Benefit from processed inputs (customers), in currency.
    pub benefit: f64,
    /// benefit + money − costs.
    pub utility: f64,
    /// utility / contracts (`NaN` without contracts).
    pub utility_per_contract: f64,
}

/// One point of the Fig. 6-shaped sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Every supplier's P(s).
    pub supplier_probability: f64,
    /// Mean utility per contract of the customers with P(c) = 1.
    pub verifying: f64,
    /// Mean utility per contract of the customers with P(c) = 0.
    pub not_verifying: f64,
}

/// What a simulation produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationResult {
    /// Suppliers, customers (in group order), then allocator and mediator.
    pub participants: Vec<ParticipantResult>,
    /// Per participant (same order), the cumulative utility after each round.
    pub cumulative: Vec<Vec<f64>>,
    /// Per participant (same order), the cumulative utility after each of its
    /// contracts ([Stream-Market] Fig. 5's x-axis).
    pub by_contract: Vec<Vec<f64>>,
    /// Contracts played.
    pub contracts: usize,
    /// Contracts that went to mediation.
    pub mediations: usize,
    /// Void allocations by reason name.
    pub void: Vec<(&'static str, usize)>,
    /// Σ of all ledger balances in units (0: money conserved).
    pub ledger_total: i128,
    /// The sweep (empty without one).
    pub sweep: Vec<SweepPoint>,
}

impl SimulationSpec {
    /// Checks the spec; `origin` names it in errors.
    pub fn validate_as(&self, origin: &str) -> Result<(), StreamError> {
        let fail = |field: &str, message: String| {
            Err(StreamError::Spec {
                origin: origin.to_string(),
                field: field.to_string(),
                message,
            })
        };
        let prob = |x: f64| (0.0..=1.0).contains(&x);
        if self.groups.is_empty() || !self.groups.iter().all(|&g| prob(g)) {
            return fail(
                "groups",
                "need at least one probability, each in [0, 1]".into(),
            );
        }
        if !self.sweep.iter().all(|&g| prob(g)) {
            return fail("sweep", "every P(s) must be in [0, 1]".into());
        }
        if self.rounds == 0 || self.suppliers_per_group == 0 || self.customers_per_group == 0 {
            return fail("rounds", "rounds and group sizes must be at least 1".into());
        }
        let o = &self.offers;
        for (f, s) in [
            ("offers.mi_per_input", o.mi_per_input),
            ("offers.supplier_mips", o.supplier_mips),
            ("offers.supplier_memory", o.supplier_memory),
            ("offers.customer_memory", o.customer_memory),
            ("offers.min_price", o.min_price),
            ("offers.max_price", o.max_price),
        ] {
            if !(s[0].is_finite() && s[1].is_finite() && 0.0 <= s[0] && s[0] <= s[1]) {
                return fail(f, format!("{s:?} is not a range 0 ≤ lo ≤ hi"));
            }
        }
        if o.mi_per_input[0] <= 0.0 || o.supplier_mips[0] <= 0.0 {
            return fail(
                "offers",
                "mi_per_input and supplier_mips must be positive".into(),
            );
        }
        if !(o.slot > 0.0 && o.rate > 0.0 && o.slot.is_finite() && o.rate.is_finite()) {
            return fail("offers", "slot and rate must be positive".into());
        }
        if o.replicas == 0 {
            return fail("offers.replicas", "must be at least 1".into());
        }
        let c = &self.contract;
        if c.test_inputs == 0 || f64::from(c.test_inputs) > o.rate * o.slot {
            return fail("contract.test_inputs", "must be in 1..=λ·slot".into());
        }
        if !(c.money_unit > 0.0 && c.money_unit.is_finite()) {
            return fail("contract.money_unit", "must be positive".into());
        }
        if !prob(c.timeout_penalty) {
            return fail("contract.timeout_penalty", "must be in [0, 1]".into());
        }
        for (f, v) in [
            ("deposit_factor", c.deposit_factor),
            ("benefit_per_mi", c.benefit_per_mi),
            ("supplier_cost_per_mi", c.supplier_cost_per_mi),
            ("customer_test_cost_per_mi", c.customer_test_cost_per_mi),
            ("post_cost", c.post_cost),
            ("commit_cost", c.commit_cost),
            ("mediation_post_cost", c.mediation_post_cost),
            ("allocator_fee", c.allocator_fee),
            ("mediator_fee", c.mediator_fee),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return fail(
                    &format!("contract.{f}"),
                    format!("{v} must be finite and ≥ 0"),
                );
            }
        }
        Ok(())
    }

    /// A seed for one purpose, mixing in a hash of the whole spec (so editing the
    /// spec cannot silently reuse old draws).
    fn rng(&self, purpose: &str) -> ChaCha8Rng {
        let mut h = Sha256::new();
        h.update(serde_json::to_string(self).unwrap_or_default().as_bytes());
        h.update(self.seed.to_le_bytes());
        h.update(purpose.as_bytes());
        ChaCha8Rng::from_seed(h.finalize().into())
    }
}

fn draw(rng: &mut ChaCha8Rng, s: Span) -> f64 {
    if s[1] > s[0] {
        rng.random_range(s[0]..=s[1])
    } else {
        s[0]
    }
}

/// Runs the strategy experiment of [Stream-Market] §5.2 (module doc): rounds of
/// offers matched by [`match_offers`], each allocation played out as a contract on a
/// ledger by suppliers that process inputs with probability P(s) and customers that
/// commit correct test outputs with probability P(c). Deterministic in the spec.
///
/// # Arguments
/// * `spec`: groups, rounds, offer ranges, the contract's money and the seed.
/// * `origin`: the spec's name, quoted in errors.
///
/// # Returns
/// The [`SimulationResult`]: every participant's utility, the per-group and
/// cumulative figures, and the P(s) sweep.
///
/// # Errors
/// [`StreamError`]: a spec out of range, or a round whose matching failed.
///
/// # Complexity
/// T rounds, each one [`match_offers`] over the round's offers plus O(A · r · n) for
/// A allocations of r replicas with n test inputs (the contracts), and the sweep
/// replaying the same allocations at each P(s).
///
/// # Example
/// A spec is a TOML file (`experiments/stream/*.toml`, read by the experiments
/// crate); `solvers/tests/stream_simulate.rs` checks the closed forms it must
/// reproduce.
///
/// Paper: [Stream-Market] §5.2 (Fig. 6).
pub fn simulate(spec: &SimulationSpec, origin: &str) -> Result<SimulationResult, StreamError> {
    spec.validate_as(origin)?;
    let groups = spec.groups.len();
    let n_s = groups * spec.suppliers_per_group;
    let n_c = groups * spec.customers_per_group;
    let supplier_ids: Vec<String> = (0..n_s).map(|i| format!("s{:02}", i + 1)).collect();
    let customer_ids: Vec<String> = (0..n_c).map(|i| format!("c{:02}", i + 1)).collect();
    let p_s: Vec<f64> = (0..n_s)
        .map(|i| spec.groups[i / spec.suppliers_per_group])
        .collect();
    let p_c: Vec<f64> = (0..n_c)
        .map(|i| spec.groups[i / spec.customers_per_group])
        .collect();
    // Matching does not depend on strategies: do it once.
    let mut offer_rng = spec.rng("offers");
    let o = &spec.offers;
    let mut rounds: Vec<(Vec<Allocation>, Vec<CustomerOffer>)> = Vec::new();
    let mut void_counts = [0usize; 4];
    for t in 0..spec.rounds {
        let (a, b) = (t as f64 * o.slot, (t + 1) as f64 * o.slot);
        let suppliers: Vec<SupplierOffer> = supplier_ids
            .iter()
            .map(|id| SupplierOffer {
                id: id.clone(),
                mips: draw(&mut offer_rng, o.supplier_mips),
                memory: draw(&mut offer_rng, o.supplier_memory),
                start: a,
                end: b,
                min_price: draw(&mut offer_rng, o.min_price),
            })
            .collect();
        let customers: Vec<CustomerOffer> = customer_ids
            .iter()
            .map(|id| CustomerOffer {
                id: id.clone(),
                mi_per_input: draw(&mut offer_rng, o.mi_per_input),
                memory: draw(&mut offer_rng, o.customer_memory),
                start: a,
                end: b,
                max_price: draw(&mut offer_rng, o.max_price),
                rate: o.rate,
                replicas: Some(o.replicas),
                success_probability: None,
            })
            .collect();
        // Offers arrive in a random order each round: the slot market breaks ties
        // (which of equally good suppliers serves whom) by position, and a fixed
        // order would pair customer groups with supplier groups.
        let mut suppliers = suppliers;
        let mut customers = customers;
        suppliers.shuffle(&mut offer_rng);
        customers.shuffle(&mut offer_rng);
        let offers = Offers {
            suppliers,
            customers,
            parameters: Parameters {
                delta_min: o.slot,
                delta_setup: 0.0,
                delta_alloc: 0.0,
                failure_rate: 0.0,
                deposit_factor: spec.contract.deposit_factor,
                test_inputs: spec.contract.test_inputs,
                slot: o.slot,
                now: a,
            },
        };
        offers.validate_as(origin)?;
        let outcome = match_offers(&offers, &MatchOptions::default())?;
        for v in &outcome.void {
            void_counts[v.reason as usize] += 1;
        }
        rounds.push((outcome.allocations, offers.customers));
    }
    let play = |strategies: &[f64], purpose: &str| {
        play_rounds(
            spec,
            &rounds,
            &supplier_ids,
            &customer_ids,
            strategies,
            &p_c,
            purpose,
        )
    };
    let main = play(&p_s, "strategies")?;
    let mut sweep = Vec::new();
    for (i, &ps) in spec.sweep.iter().enumerate() {
        let run = play(&vec![ps; n_s], &format!("sweep {i}"))?;
        let mean = |want: f64| {
            let v: Vec<f64> = (0..n_c)
                .filter(|&c| p_c[c] == want)
                .map(|c| run.participants[n_s + c].utility_per_contract)
                .collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        sweep.push(SweepPoint {
            supplier_probability: ps,
            verifying: mean(1.0),
            not_verifying: mean(0.0),
        });
    }
    let reasons = [
        VoidReason::Expired,
        VoidReason::NoMatch,
        VoidReason::NotEnoughReplicas,
        VoidReason::TradeReduction,
    ];
    Ok(SimulationResult {
        participants: main.participants,
        cumulative: main.cumulative,
        by_contract: main.by_contract,
        contracts: main.contracts,
        mediations: main.mediations,
        void: reasons
            .iter()
            .map(|r| (r.name(), void_counts[*r as usize]))
            .collect(),
        ledger_total: main.ledger_total,
        sweep,
    })
}

struct Played {
    participants: Vec<ParticipantResult>,
    cumulative: Vec<Vec<f64>>,
    by_contract: Vec<Vec<f64>>,
    contracts: usize,
    mediations: usize,
    ledger_total: i128,
}

/// Per participant running totals, in currency.
#[derive(Default, Clone)]
struct Tally {
    contracts: usize,
    fined: usize,
    costs: f64,
    benefit: f64,
}

fn units(x: f64, unit: f64, what: &str) -> Result<i64, StreamError> {
    let u = (x / unit).round();
    if !(u.is_finite() && u.abs() < 9.0e18) {
        return Err(StreamError::Spec {
            origin: "simulation".into(),
            field: what.into(),
            message: format!("{x} does not fit the ledger at money_unit {unit}"),
        });
    }
    Ok(u as i64)
}

/// The true output of the (deterministic) service on one input.
fn service(input: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"output:");
    h.update(input);
    h.finalize().to_vec()
}

/// A wrong output: what a party that did not process an input produces.
fn made_up(who: &str, input: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"made-up:");
    h.update(who.as_bytes());
    h.update(input);
    h.finalize().to_vec()
}

#[allow(clippy::too_many_arguments)]
fn play_rounds(
    spec: &SimulationSpec,
    rounds: &[(Vec<Allocation>, Vec<CustomerOffer>)],
    supplier_ids: &[String],
    customer_ids: &[String],
    p_s: &[f64],
    p_c: &[f64],
    purpose: &str,
) -> Result<Played, StreamError> {
    let c = &spec.contract;
    let unit = c.money_unit;
    let n = c.test_inputs;
    let (n_s, n_c) = (supplier_ids.len(), customer_ids.len());
    let mut rng = spec.rng(purpose);
    let mut ledger = Ledger::new();
    let mut tally = vec![Tally::default(); n_s + n_c + 2];
    let mediator = n_s + n_c + 1;
    let mut cumulative = vec![Vec::with_capacity(rounds.len()); n_s + n_c + 2];
    let mut by_contract: Vec<Vec<f64>> = vec![Vec::new(); n_s + n_c + 2];
    let index_s = |id: &str| supplier_ids.iter().position(|s| s == id);
    let index_c = |id: &str| customer_ids.iter().position(|s| s == id);
    let mut contracts = 0usize;
    let mut mediations = 0usize;
    for (allocations, customers) in rounds {
        for a in allocations {
            let (Some(ci), Some(offer)) = (
                index_c(&a.customer),
                customers.iter().find(|x| x.id == a.customer),
            ) else {
                continue;
            };
            let sj: Vec<usize> = a.suppliers.iter().filter_map(|s| index_s(s)).collect();
            let inputs = offer.rate * a.duration();
            let pi_s = offer.mi_per_input * a.price;
            let terms = Terms {
                customer: a.customer.clone(),
                suppliers: a.suppliers.clone(),
                payment: units(inputs * pi_s, unit, "payment")?,
                supplier_payment: units(
                    inputs * offer.mi_per_input * a.supplier_price,
                    unit,
                    "payment",
                )?,
                deposit: units(c.deposit_factor * pi_s, unit, "deposit")?,
                allocator_fee: units(c.allocator_fee, unit, "allocator_fee")?,
                mediator_fee: units(c.mediator_fee, unit, "mediator_fee")?,
                mediation_fee: units(f64::from(n) * pi_s, unit, "mediation fee")?,
                timeout_fine: units(c.timeout_penalty * c.deposit_factor * pi_s, unit, "fine")?
                    .min(units(c.deposit_factor * pi_s, unit, "deposit")?),
            };
            let mut k = Contract::new(contracts, terms)?;
            contracts += 1;
            k.add_suppliers()?;
            // The customer's hidden test inputs and what it commits to.
            let tests: Vec<Vec<u8>> = (0..n)
                .map(|i| format!("{}:{}:{i}", k.id, a.customer).into_bytes())
                .collect();
            let truth: Vec<Vec<u8>> = tests.iter().map(|x| service(x)).collect();
            let verifies = rng.random_bool(p_c[ci]);
            let committed: Vec<Vec<u8>> = if verifies {
                tally[n_s + ci].costs +=
                    f64::from(n) * c.customer_test_cost_per_mi * offer.mi_per_input;
                truth.clone()
            } else {
                tests.iter().map(|x| made_up(&a.customer, x)).collect()
            };
            tally[n_s + ci].costs += c.commit_cost;
            tally[n_s + ci].contracts += 1;
            k.customer_sign(&mut ledger, commitment(&committed))?;
            for j in 0..sj.len() {
                k.supplier_sign(&mut ledger, j)?;
                tally[sj[j]].contracts += 1;
            }
            // Running: each replica processes each input with probability P(s).
            let mut outputs: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut none_processed = 1.0;
            let mut processed_r1 = 0u64;
            for &s in &sj {
                let p = p_s[s];
                let mut done = 0u64;
                let outs: Vec<Vec<u8>> = tests
                    .iter()
                    .map(|x| {
                        if rng.random_bool(p) {
                            done += 1;
                            service(x)
                        } else {
                            made_up(&supplier_ids[s], x)
                        }
                    })
                    .collect();
                let rest = (inputs.round() as u64).saturating_sub(u64::from(n));
                done += Binomial::new(rest, p)
                    .map(|b| b.sample(&mut rng))
                    .unwrap_or(0);
                tally[s].costs +=
                    done as f64 * c.supplier_cost_per_mi * offer.mi_per_input + c.post_cost;
                none_processed *= 1.0 - p;
                processed_r1 = done;
                outputs.push(outs);
            }
            let served = if sj.len() == 1 {
                processed_r1
            } else {
                Binomial::new(inputs.round() as u64, 1.0 - none_processed)
                    .map(|b| b.sample(&mut rng))
                    .unwrap_or(0)
            };
            tally[n_s + ci].benefit += served as f64 * c.benefit_per_mi * offer.mi_per_input;
            // Cleanup: α, O_v, γ(O_v), the verifier.
            let alpha_c = alpha(&committed);
            k.reveal(alpha_c.clone())?;
            for (j, outs) in outputs.iter().enumerate() {
                k.post_output(j, gamma(&tested_outputs(&alpha_c, outs)))?;
            }
            k.verify(&mut ledger)?;
            if k.state() == State::Mediation {
                mediations += 1;
                tally[mediator].costs += f64::from(n) * c.supplier_cost_per_mi * offer.mi_per_input
                    + c.mediation_post_cost;
                k.mediate(&mut ledger, &truth, &outputs)?;
            }
            for i in sj.iter().copied().chain([n_s + ci]) {
                let acc = account(i, supplier_ids, customer_ids);
                let t = &tally[i];
                by_contract[i].push(t.benefit + ledger.balance(&acc) as f64 * unit - t.costs);
            }
            if let Some(closing) = k.closing() {
                if closing.customer_fine > 0 {
                    tally[n_s + ci].fined += 1;
                }
                for (j, &f) in closing.supplier_fines.iter().enumerate() {
                    if f > 0 {
                        tally[sj[j]].fined += 1;
                    }
                }
            }
        }
        let balances = |i: usize| -> f64 {
            let acc = account(i, supplier_ids, customer_ids);
            ledger.balance(&acc) as f64 * unit
        };
        for (i, cum) in cumulative.iter_mut().enumerate() {
            cum.push(tally[i].benefit + balances(i) - tally[i].costs);
        }
    }
    let participants = (0..n_s + n_c + 2)
        .map(|i| {
            let money = ledger.balance(&account(i, supplier_ids, customer_ids)) as f64 * unit;
            let (id, role, group) = if i < n_s {
                (supplier_ids[i].clone(), "supplier", Some(p_s[i]))
            } else if i < n_s + n_c {
                (
                    customer_ids[i - n_s].clone(),
                    "customer",
                    Some(p_c[i - n_s]),
                )
            } else if i == n_s + n_c {
                ("allocator".to_string(), "allocator", None)
            } else {
                ("mediator".to_string(), "mediator", None)
            };
            let t = &tally[i];
            ParticipantResult {
                id,
                role,
                group,
                contracts: t.contracts,
                fined: t.fined,
                money,
                costs: t.costs,
                benefit: t.benefit,
                utility: t.benefit + money - t.costs,
                utility_per_contract: (t.benefit + money - t.costs) / t.contracts as f64,
            }
        })
        .collect();
    Ok(Played {
        participants,
        cumulative,
        by_contract,
        contracts,
        mediations,
        ledger_total: ledger.total(),
    })
}

fn account(i: usize, suppliers: &[String], customers: &[String]) -> Account {
    let (n_s, n_c) = (suppliers.len(), customers.len());
    if i < n_s {
        Account::Supplier(suppliers[i].clone())
    } else if i < n_s + n_c {
        Account::Customer(customers[i - n_s].clone())
    } else if i == n_s + n_c {
        Account::Allocator
    } else {
        Account::Mediator
    }
}
