//! `engine-prices`: settlement at the welfare-seeking engine's own node prices — a
//! decentralised settlement (design §5–§6).

use super::lp_prices::settle_at_prices;
use super::{Allocation, Setting, SettleError, Statement};

/// Settles a welfare-seeking allocation at the prices its own run produced: every
/// capacity-limited node's window-averaged multiplier λ_n ([`crate::engine::EngineRun::prices`],
/// money per resource unit), applied by the same rule as `lp-prices`
/// ([`settle_at_prices`]: each job of k handed to node n is paid π^k_n, the cheapest
/// cost plus rent from n to t_k at these prices; bandwidth rents go to the market).
/// No LP is solved: every price was set by its own node from local information.
///
/// Guarantees: budget balance with surplus ≥ 0 (the only net flow to the market is
/// bandwidth rent, and λ ≥ 0); the prices approach P3's dual prices like
/// 1/welfare_scale (tested in solvers/tests/engine_welfare.rs), so the settlement
/// approaches `lp-prices` at the `lp` allocation.
///
/// Does **not** guarantee: individual rationality exactly — at a finite welfare scale
/// the prices are approximate and the engine's flow may use a route that is not the
/// cheapest at them, so a broker can pay its next hop more than it is paid (the
/// statement's utilities show it); truthfulness (prices move with bids, as for
/// `lp-prices`). Refuses allocations that came without prices (the LP's, or the fair
/// and utility-aware engine variants', whose multipliers are in weight units).
pub fn engine_prices(s: &Setting<'_>, allocation: &Allocation) -> Result<Statement, SettleError> {
    let Some(prices) = &allocation.prices else {
        return Err(SettleError::NoEnginePrices(allocation.source.clone()));
    };
    let y: Vec<f64> = prices.iter().map(|p| p.unwrap_or(0.0)).collect();
    let notes = vec![format!(
        "prices are the '{}' engine run's own window-averaged node multipliers (money per resource unit): approximate, they approach P3's dual prices like 1/welfare_scale",
        allocation.source.name()
    )];
    Ok(settle_at_prices(s, allocation, &y, &EnginePrices, notes))
}

super::mechanism::declare_mechanism! {
    EnginePrices = "engine-prices" by engine_prices;
    "The welfare-seeking engine's own node prices (no LP): surplus >= 0, IR only approximately; `--allocation welfare-seeking` only.";
    super::Promises::on(super::Allocations::EnginePrices).budget(super::BudgetBalance::Weak);
    |s, allocation, _options| engine_prices(s, allocation)
}
