//! The offers file of the stream market ([Stream-Market] §2.1): supplier and customer
//! offers with time windows, and the allocator's parameters.
//!
//! JSON, unknown fields refused:
//! ```json
//! {"suppliers": [{"id": "s1", "mips": 400, "memory": 512, "start": 0, "end": 3600,
//!                 "min_price": 1e-6}],
//!  "customers": [{"id": "c1", "mi_per_input": 10, "memory": 128, "start": 0,
//!                 "end": 3600, "max_price": 3e-6, "rate": 20, "replicas": 1}],
//!  "parameters": {"delta_min": 600, "delta_setup": 0, "delta_alloc": 0,
//!                 "failure_rate": 0, "deposit_factor": 1000, "test_inputs": 12,
//!                 "slot": 600}}
//! ```
//! **Units.** All times and durations are in one unit, seconds by convention, and the
//! rates are per that unit: `mips` is million instructions per second (I_s), `rate` is
//! inputs per second (λ), `failure_rate` is failures per second (q). Prices are money
//! per million instructions (π_xmin, π_xmax), memory in any one unit (MB in the paper).
//! A customer gives either `replicas` (r ≥ 1) or `success_probability` (P(b) in
//! [0, 1), turned into r by [`replica_count`](super::replicas::replica_count)).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::StreamError;

/// A supplier offer os ∈ O_s ([Stream-Market] §2.1): surplus compute for a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct SupplierOffer {
    /// The account that posted the offer (unique across suppliers and customers).
    pub id: String,
    /// I_s: surplus million instructions per second.
    pub mips: f64,
    /// R_s: surplus memory.
    pub memory: f64,
    /// s_start.
    pub start: f64,
    /// s_end (> s_start).
    pub end: f64,
    /// π_xmin: the least price per million instructions the supplier accepts.
    pub min_price: f64,
}

/// A customer offer oc ∈ O_c ([Stream-Market] §2.1): a stream to process for a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct CustomerOffer {
    /// The account that posted the offer (unique across suppliers and customers).
    pub id: String,
    /// I_c: million instructions to process one input (> 0).
    pub mi_per_input: f64,
    /// R_c: memory the service needs.
    pub memory: f64,
    /// c_start.
    pub start: f64,
    /// c_end (> c_start).
    pub end: f64,
    /// π_xmax: the most the customer pays per million instructions.
    pub max_price: f64,
    /// λ: inputs per second (> 0).
    pub rate: f64,
    /// r: replicas wanted (≥ 1); exclusive with `success_probability`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// P(b): wanted probability that at least one replica finishes, in [0, 1);
    /// exclusive with `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_probability: Option<f64>,
}

/// The allocator's parameters ([Stream-Market] §2.2, §3.3, §3.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Parameters {
    /// δ_min: the minimum service time of an allocation (> 0).
    pub delta_min: f64,
    /// δ_setup: time to set the service up after signing (≥ 0).
    pub delta_setup: f64,
    /// δ_alloc: time to construct and sign an allocation (≥ 0).
    pub delta_alloc: f64,
    /// q: failures per second of one replica (≥ 0); p_f = 1 − e^(−qΔ).
    pub failure_rate: f64,
    /// ρ: deposit factor, π_cd = π_sd = ρ·π_s (≥ 0).
    pub deposit_factor: f64,
    /// n: hidden test inputs per contract (≥ 1).
    pub test_inputs: u32,
    /// Length of a matching slot (> 0): the allocator matches once per slot.
    pub slot: f64,
    /// The clock time of the first matching (default 0).
    #[serde(default)]
    pub now: f64,
}

/// A whole offers file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Offers {
    /// Supplier offers O_s.
    pub suppliers: Vec<SupplierOffer>,
    /// Customer offers O_c.
    pub customers: Vec<CustomerOffer>,
    /// The allocator's parameters.
    pub parameters: Parameters,
}

/// A rule of the offers file; every refusal names the file, the offer and one rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferRule {
    /// Ids are unique across suppliers and customers.
    #[error("id '{0}' is used more than once (ids are unique across suppliers and customers)")]
    DuplicateId(String),
    /// Ids are not empty, blank or padded, and hold no control or invisible
    /// characters ([`brokerflow_graphs::id_problem`]).
    #[error("id '{}' is not allowed: {problem}", .id.escape_debug())]
    BadId {
        /// The id.
        id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A number is NaN or infinite.
    #[error("{0} is not a finite number")]
    NonFinite(&'static str),
    /// A number that must be ≥ 0 is negative.
    #[error("{field} is {value}, must not be negative")]
    Negative {
        /// The field.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A number that must be > 0 is not.
    #[error("{field} is {value}, must be positive")]
    NotPositive {
        /// The field.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A window must end after it starts.
    #[error("the window [{start}, {end}] is empty: end must be after start")]
    EmptyWindow {
        /// start.
        start: f64,
        /// end.
        end: f64,
    },
    /// Exactly one of `replicas` and `success_probability`.
    #[error("give exactly one of replicas and success_probability")]
    ReplicaRequest,
    /// r ≥ 1.
    #[error("replicas is 0, must be at least 1")]
    ZeroReplicas,
    /// P(b) ∈ [0, 1).
    #[error(
        "success_probability is {0}, must be in [0, 1) (1 would need infinitely many replicas)"
    )]
    Probability(f64),
    /// n ≥ 1.
    #[error("test_inputs is 0, must be at least 1")]
    ZeroTestInputs,
    /// A product of the offers' money numbers (a customer's payment, deposit or value
    /// rate, a supplier's charge, or the customers' payments summed) exceeds
    /// [`brokerflow_graphs::MONEY_LIMIT`]: payments would overflow.
    #[error("{term} reaches {value:e}, above the limit {limit:e} (with these numbers payments overflow; scale the offers' units down)", limit = brokerflow_graphs::MONEY_LIMIT)]
    TooLarge {
        /// Which product or sum.
        term: &'static str,
        /// Its value.
        value: f64,
    },
}

impl Offers {
    /// Reads the suppliers' and customers' offers of a stream-computation market and
    /// the market's parameters from an offers file, and validates them
    /// ([`Offers::validate_as`]).
    ///
    /// # Arguments
    /// * `text`: the JSON.
    /// * `origin`: its name, quoted in errors.
    ///
    /// # Returns
    /// The offers.
    ///
    /// # Errors
    /// [`StreamError::Parse`] naming the JSON path (also for a key written twice), or
    /// [`StreamError::Invalid`] naming the offer and the [`OfferRule`] it breaks.
    ///
    /// # Complexity
    /// O(size of the text + (S + C) log (S + C)) for S suppliers and C customers (the
    /// id sets).
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::{Offers, StreamError};
    ///
    /// let missing = Offers::from_json_str("{}", "offers.json").unwrap_err();
    /// assert!(matches!(missing, StreamError::Parse { .. }));
    /// assert!(missing.to_string().starts_with("offers.json"));
    /// ```
    ///
    /// Paper: [Stream-Market] §2.1 (the offers and their attributes).
    pub fn from_json_str(text: &str, origin: &str) -> Result<Offers, StreamError> {
        let offers: Offers = brokerflow_graphs::json::read(
            text,
            origin,
            "offers",
            "the file is empty; an offers file is a JSON object {\"parameters\": …, \"suppliers\": […], \"customers\": […]}",
        )?;
        offers.validate_as(origin)?;
        Ok(offers)
    }

    /// Checks every rule of the offers file; `origin` names it in errors.
    pub fn validate_as(&self, origin: &str) -> Result<(), StreamError> {
        let fail = |at: String, rule: OfferRule| StreamError::Invalid {
            origin: origin.to_string(),
            at,
            rule,
        };
        let mut ids = BTreeSet::new();
        for (i, s) in self.suppliers.iter().enumerate() {
            let at = |f: &str| format!("suppliers[{i}] (id '{}').{f}", s.id);
            if let Some(problem) = brokerflow_graphs::id_problem(&s.id) {
                let id = s.id.clone();
                return Err(fail(
                    format!("suppliers[{i}].id"),
                    OfferRule::BadId { id, problem },
                ));
            }
            if !ids.insert(s.id.as_str()) {
                return Err(fail(at("id"), OfferRule::DuplicateId(s.id.clone())));
            }
            for (field, value, positive) in [
                ("mips", s.mips, true),
                ("memory", s.memory, false),
                ("start", s.start, false),
                ("end", s.end, false),
                ("min_price", s.min_price, false),
            ] {
                number(field, value, positive).map_err(|r| fail(at(field), r))?;
            }
            window(s.start, s.end).map_err(|r| fail(at("end"), r))?;
        }
        for (i, c) in self.customers.iter().enumerate() {
            let at = |f: &str| format!("customers[{i}] (id '{}').{f}", c.id);
            if let Some(problem) = brokerflow_graphs::id_problem(&c.id) {
                let id = c.id.clone();
                return Err(fail(
                    format!("customers[{i}].id"),
                    OfferRule::BadId { id, problem },
                ));
            }
            if !ids.insert(c.id.as_str()) {
                return Err(fail(at("id"), OfferRule::DuplicateId(c.id.clone())));
            }
            for (field, value, positive) in [
                ("mi_per_input", c.mi_per_input, true),
                ("memory", c.memory, false),
                ("start", c.start, false),
                ("end", c.end, false),
                ("max_price", c.max_price, false),
                ("rate", c.rate, true),
            ] {
                number(field, value, positive).map_err(|r| fail(at(field), r))?;
            }
            window(c.start, c.end).map_err(|r| fail(at("end"), r))?;
            match (c.replicas, c.success_probability) {
                (Some(0), None) => return Err(fail(at("replicas"), OfferRule::ZeroReplicas)),
                (Some(_), None) => {}
                (None, Some(p)) => {
                    if !(0.0..1.0).contains(&p) {
                        return Err(fail(at("success_probability"), OfferRule::Probability(p)));
                    }
                }
                _ => return Err(fail(at("replicas"), OfferRule::ReplicaRequest)),
            }
        }
        let p = &self.parameters;
        let at = |f: &str| format!("parameters.{f}");
        for (field, value, positive) in [
            ("delta_min", p.delta_min, true),
            ("delta_setup", p.delta_setup, false),
            ("delta_alloc", p.delta_alloc, false),
            ("failure_rate", p.failure_rate, false),
            ("deposit_factor", p.deposit_factor, false),
            ("slot", p.slot, true),
        ] {
            number(field, value, positive).map_err(|r| fail(at(field), r))?;
        }
        if !p.now.is_finite() {
            return Err(fail(at("now"), OfferRule::NonFinite("now")));
        }
        if p.test_inputs == 0 {
            return Err(fail(at("test_inputs"), OfferRule::ZeroTestInputs));
        }
        self.money_bound().map_err(|(at, rule)| fail(at, rule))
    }

    /// Refuses money numbers whose products overflow, naming the first field in file
    /// order where that would begin ([`brokerflow_graphs::MONEY_LIMIT`], as markets
    /// are bounded). π_s = I_c·π ≤ I_c·π_xmax, and a customer's r replicas run on r
    /// distinct suppliers, so r ≤ min(r asked, suppliers). Bounded: per customer the
    /// value rate r·λ·I_c·π_xmax (its slot market's demand × valuation), the payment
    /// over its window r·λ·(c_end − c_start)·I_c·π_xmax and with the customers before
    /// it, the deposit ρ·I_c·π_xmax and the mediation fee n·I_c·π_xmax; per supplier
    /// its charge π_xmin·I_s·(s_end − s_start) over its window and π_xmin times the
    /// instructions per second all customers ask (its slot market's cost × Σ r_k·d_k).
    fn money_bound(&self) -> Result<(), (String, OfferRule)> {
        let limit = brokerflow_graphs::MONEY_LIMIT;
        let check = |at: String, term: &'static str, value: f64| match value <= limit {
            true => Ok(()),
            false => Err((at, OfferRule::TooLarge { term, value })),
        };
        let p = &self.parameters;
        let suppliers = self.suppliers.len().max(1) as f64;
        let (mut payments, mut mips) = (0.0_f64, 0.0_f64);
        for (i, c) in self.customers.iter().enumerate() {
            let at = |f: &str| format!("customers[{i}] (id '{}').{f}", c.id);
            let r = c
                .replicas
                .map_or(suppliers, |r| f64::from(r).min(suppliers));
            let pi_s = c.mi_per_input * c.max_price;
            let rate = r * c.rate * pi_s;
            let payment = rate * (c.end - c.start);
            payments += payment;
            mips += r * c.rate * c.mi_per_input;
            check(at("rate"), "the instructions asked r·λ·I_c, summed", mips)?;
            check(at("max_price"), "the value rate r·λ·I_c·π_xmax", rate)?;
            check(
                at("max_price"),
                "the payment r·λ·(c_end − c_start)·I_c·π_xmax",
                payment,
            )?;
            check(at("max_price"), "the customers' payments summed", payments)?;
            check(
                "parameters.deposit_factor".into(),
                "the deposit ρ·I_c·π_xmax",
                p.deposit_factor * pi_s,
            )?;
            check(
                "parameters.test_inputs".into(),
                "the mediation fee n·I_c·π_xmax",
                f64::from(p.test_inputs) * pi_s,
            )?;
        }
        for (i, s) in self.suppliers.iter().enumerate() {
            let at = format!("suppliers[{i}] (id '{}').min_price", s.id);
            check(
                at.clone(),
                "the charge π_xmin·I_s·(s_end − s_start)",
                s.min_price * s.mips * (s.end - s.start),
            )?;
            check(
                at,
                "π_xmin × the instructions asked Σ r·λ·I_c",
                s.min_price * mips,
            )?;
        }
        Ok(())
    }
}

fn number(field: &'static str, value: f64, positive: bool) -> Result<(), OfferRule> {
    if !value.is_finite() {
        Err(OfferRule::NonFinite(field))
    } else if positive && value <= 0.0 {
        Err(OfferRule::NotPositive { field, value })
    } else if value < 0.0 {
        Err(OfferRule::Negative { field, value })
    } else {
        Ok(())
    }
}

fn window(start: f64, end: f64) -> Result<(), OfferRule> {
    if end > start {
        Ok(())
    } else {
        Err(OfferRule::EmptyWindow { start, end })
    }
}

// Every record of the file is read from a JSON object only (brokerflow_graphs::json).
brokerflow_graphs::object_only!(SupplierOffer, "a supplier offer", serialize);
brokerflow_graphs::object_only!(CustomerOffer, "a customer offer", serialize);
brokerflow_graphs::object_only!(Parameters, "the parameters", serialize);
brokerflow_graphs::object_only!(Offers, "the offers", serialize);
