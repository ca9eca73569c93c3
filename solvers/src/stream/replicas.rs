//! Replicas and spot checks in closed form ([Stream-Market] §2.2, §3.4.5).
//!
//! **Replicas.** Time to failure is exponential with rate q, so one replica fails
//! during an allocation of length Δ with probability p_f = 1 − e^(−qΔ). Replicas fail
//! independently, so all r fail with probability p_f^r, and "some replica finishes
//! with probability at least P(b)" is p_f^r ≤ 1 − P(b), i.e. (ln p_f < 0 flips the
//! inequality) r ≥ ln(1 − P(b)) / ln p_f. The paper's Eq. 3, r = (1 − P(b)) / p_f, is
//! not this bound: for p_f = 0.1 and P(b) = 0.99 it gives 0.1 replicas, fewer than
//! one, while the bound gives r = 2 (0.1² = 0.01 = 1 − 0.99).
//!
//! **Spot checks.** A supplier that skips each input independently with probability
//! f passes the n hidden test inputs only if it processed all of them, so it is caught
//! with probability 1 − (1 − f)ⁿ.

/// p_f = 1 − e^(−qΔ): one replica's failure probability over a duration Δ, time to
/// failure being exponential with rate q ([Stream-Market] §2.2).
///
/// # Arguments
/// * `failure_rate`: q, failures per time unit.
/// * `duration`: Δ, the allocation's length.
///
/// # Returns
/// p_f, in [0, 1] for q, Δ ≥ 0.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::replicas::failure_probability;
///
/// // qΔ = ln 2: half the replicas fail.
/// assert!((failure_probability(2f64.ln(), 1.0) - 0.5).abs() < 1e-12);
/// assert_eq!(failure_probability(0.3, 0.0), 0.0);
/// ```
///
/// Paper: [Stream-Market] §2.2.
pub fn failure_probability(failure_rate: f64, duration: f64) -> f64 {
    -(-failure_rate * duration).exp_m1()
}

/// Slack when rounding r up: ln(1 − P(b)) / ln p_f is often an integer in exact
/// arithmetic (0.01 = 0.1²) that floating point lands a hair above.
const REPLICA_ROUNDING: f64 = 1e-9;

/// r = ⌈ln(1 − P(b)) / ln p_f⌉, at least 1: the fewest independent replicas, each
/// failing with probability `p_f`, such that some replica finishes with probability
/// at least `success` = P(b) (the corrected [Stream-Market] Eq. 3; see the module
/// doc). With p_f = 0 one replica is certain to finish; with p_f = 1 no number is
/// enough and the result is `None`. `success` must be in [0, 1).
///
/// # Arguments
/// * `p_f`: one replica's failure probability.
/// * `success`: P(b), the customer's required probability that some replica finishes.
///
/// # Returns
/// r, or `None` when no number of replicas is enough.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::replicas::replica_count;
///
/// // The module doc's case: 0.1² = 0.01 = 1 − 0.99, so two replicas.
/// assert_eq!(replica_count(0.1, 0.99), Some(2));
/// // 0.5³ = 0.125 > 0.1 but 0.5⁴ = 0.0625 ≤ 0.1.
/// assert_eq!(replica_count(0.5, 0.9), Some(4));
/// assert_eq!(replica_count(1.0, 0.9), None);
/// ```
///
/// Paper: [Stream-Market] §2.2, Eq. 3 (corrected as the module doc explains).
pub fn replica_count(p_f: f64, success: f64) -> Option<u32> {
    if p_f <= 0.0 || success <= 0.0 {
        return Some(1);
    }
    if p_f >= 1.0 {
        return None;
    }
    let r = ((1.0 - success).ln() / p_f.ln() - REPLICA_ROUNDING).ceil();
    if r > f64::from(u32::MAX) {
        return None;
    }
    Some((r as u32).max(1))
}

/// 1 − (1 − f)ⁿ: the probability that n hidden test inputs catch a supplier that
/// skips each input with probability f ([Stream-Market] §3.4.5).
///
/// # Arguments
/// * `skip`: f, the probability of skipping an input.
/// * `tests`: n, the hidden test inputs.
///
/// # Returns
/// The probability of being caught.
///
/// # Complexity
/// O(log n).
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::replicas::detection_probability;
///
/// // Skipping half the inputs passes 3 tests with probability 1/8.
/// assert_eq!(detection_probability(0.5, 3), 1.0 - 0.125);
/// assert_eq!(detection_probability(0.0, 10), 0.0);
/// ```
///
/// Paper: [Stream-Market] §3.4.5.
pub fn detection_probability(skip: f64, tests: u32) -> f64 {
    1.0 - (1.0 - skip).powi(tests as i32)
}

/// The economics of one replica's contract in [Stream-Market] Eq. 5–6: what the
/// supplier is paid per input, spends per input, and deposits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupplierGame {
    /// n: hidden test inputs.
    pub tests: u32,
    /// λ_Δ = λ·Δ: inputs the replica is sent during the allocation.
    pub inputs: f64,
    /// π_s: payment per input.
    pub price: f64,
    /// π_se: the supplier's cost (electricity) to process one input.
    pub cost: f64,
    /// π_sd = ρ·π_s: the supplier's deposit.
    pub deposit: f64,
}

impl SupplierGame {
    /// Eq. 5 without the constant fees: U(P) = Pⁿ(λ_Δπ_s − λ_Δπ_se·P) − (1 − Pⁿ)π_sd,
    /// the expected utility of processing each input with probability P (paid in
    /// full unless caught; caught, it loses its deposit and is not paid).
    ///
    /// # Arguments
    /// * `p`: P, the probability of processing each input.
    ///
    /// # Returns
    /// U(P).
    ///
    /// # Complexity
    /// O(log n).
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::replicas::SupplierGame;
    ///
    /// let g = SupplierGame { tests: 2, inputs: 10.0, price: 1.0, cost: 0.5, deposit: 4.0 };
    /// // P = 1: paid 10, spends 5. P = 0: always caught, loses the deposit.
    /// assert_eq!(g.expected_utility(1.0), 5.0);
    /// assert_eq!(g.expected_utility(0.0), -4.0);
    /// ```
    ///
    /// Paper: [Stream-Market] §3.4.5, Eq. 5.
    pub fn expected_utility(&self, p: f64) -> f64 {
        let pn = p.powi(self.tests as i32);
        pn * (self.inputs * self.price - self.inputs * self.cost * p) - (1.0 - pn) * self.deposit
    }

    /// Eq. 6: P* = n(λ_Δπ_s + π_sd) / ((n + 1)λ_Δπ_se), where dU/dP = 0. U rises on
    /// [0, P*], so P* ≥ 1 means processing every input (P = 1) maximises U.
    /// Infinite when π_se = 0.
    ///
    /// # Returns
    /// P*.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::replicas::SupplierGame;
    ///
    /// // n = 2, λ_Δ = 10, π_s = 1, π_se = 0.5, π_sd = 4: 2·14 / (3·5) = 28/15.
    /// let g = SupplierGame { tests: 2, inputs: 10.0, price: 1.0, cost: 0.5, deposit: 4.0 };
    /// assert!((g.optimal_probability() - 28.0 / 15.0).abs() < 1e-12);
    /// ```
    ///
    /// Paper: [Stream-Market] §3.4.5, Eq. 6.
    pub fn optimal_probability(&self) -> f64 {
        let n = f64::from(self.tests);
        n * (self.inputs * self.price + self.deposit) / ((n + 1.0) * self.inputs * self.cost)
    }

    /// The least deposit factor ρ for which P* ≥ 1 (honest processing optimal), from
    /// P* = (1/e_s)(n/(n+1) + nρ/(λ_Δ(n+1))) with e_s = π_se/π_s:
    /// ρ* = λ_Δ((n+1)e_s − n)/n, floored at 0. The paper's choice ρ = λ_Δ/n gives
    /// P* = 1/e_s > 1, so it is sufficient; ρ* is the exact threshold.
    ///
    /// # Returns
    /// ρ*.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::replicas::SupplierGame;
    ///
    /// // e_s = 0.9, n = 2, λ_Δ = 10: ρ* = 10·(3·0.9 − 2)/2 = 3.5. At π_sd = ρ*·π_s,
    /// // P* is exactly 1.
    /// let mut g = SupplierGame { tests: 2, inputs: 10.0, price: 1.0, cost: 0.9, deposit: 0.0 };
    /// let rho = g.honest_deposit_factor();
    /// assert!((rho - 3.5).abs() < 1e-12);
    /// g.deposit = rho * g.price;
    /// assert!((g.optimal_probability() - 1.0).abs() < 1e-12);
    /// ```
    ///
    /// Paper: [Stream-Market] §3.4.5, Eq. 6.
    pub fn honest_deposit_factor(&self) -> f64 {
        let n = f64::from(self.tests);
        let e_s = self.cost / self.price;
        (self.inputs * ((n + 1.0) * e_s - n) / n).max(0.0)
    }
}
