//! `vcg`: Vickrey–Clarke–Groves payments over P3 (DESIGN §6), computed in parallel
//! as seed 000 §V parallelises its payment step ("the payments for each user can be
//! computed independently").

use brokerflow_graphs::{ExpandedGraph, Market, Role};
use rayon::prelude::*;

use super::{
    participant_values, participant_volumes, Allocation, AllocationSource, Mechanism, Setting,
    SettleError, SettleOptions, Statement, Transfers, SETTLE_TOLERANCE,
};
use crate::lp::{self, LpOptions};

/// The declared market without participant `i` (DESIGN §6, "the welfare difference
/// its presence makes"): a user's demand set to 0, a broker's or provider's capacity
/// set to 0 (a resource that is down, DESIGN §3). Nothing else changes, so the
/// result does not depend on i's own bid.
pub fn without(declared: &Market, role: Role, index: usize) -> Market {
    let mut m = declared.clone();
    match role {
        Role::User => m.users[index].demand = 0.0,
        Role::Broker => m.brokers[index].capacity = Some(0.0),
        Role::Provider => m.providers[index].capacity = Some(0.0),
    }
    m
}

/// W*_{−i}: P3's optimum on the declared market without participant `i`.
pub fn welfare_without(
    declared: &Market,
    role: Role,
    index: usize,
    options: &SettleOptions,
) -> Result<f64, lp::LpError> {
    let m = without(declared, role, index);
    let g = ExpandedGraph::new(&m);
    let s = lp::max_welfare(
        &g,
        &LpOptions {
            backend: options.backend,
            prices: false,
        },
    )?;
    Ok(s.welfare(&g).unwrap_or(0.0))
}

/// VCG with the Clarke pivot over P3 (DESIGN §6). With x* P3's allocation at the
/// declared bids and W* its declared welfare, participant i receives the signed
/// transfer t_i = (W* − V̂_i(x*)) − W*_{−i}: everyone else's declared welfare with
/// it, minus the best they could do without it. Users pay (t_i ≤ 0), brokers and
/// providers are paid. Its utility is then V_i(x*) + t_i, which for a truthful
/// participant is W* − W*_{−i} ≥ 0.
///
/// One P3 re-solve per participant that trades (volume > 0), in parallel with rayon
/// (RAYON_NUM_THREADS sets the threads). A participant with no volume gets t_i = 0
/// without a solve, exactly: x* is feasible without it, so W*_{−i} = W*.
///
/// Guarantees (at the exact optimum): efficiency (the allocation is P3's);
/// dominant-strategy truthfulness for every user, broker and provider (W*_{−i} does
/// not depend on i's bid, and i's utility is the true welfare of the chosen
/// allocation minus that constant); individual rationality.
///
/// Does **not** guarantee budget balance: the market usually runs a deficit
/// (providers are paid their marginal contribution, users charged less than that).
///
/// **Round-off** never makes a truthful participant's utility negative: (1) W*_{−i}
/// ≤ W* holds exactly (removing i only shrinks the feasible set), so a re-solve that
/// comes out above W* is clamped to W* — beyond [`SETTLE_TOLERANCE`] relative that
/// is an error ([`SettleError::InexactOptimum`]), below it a note; (2) the transfer
/// is then rounded in the participant's favour: if V̂_i + t_i < 0 in floating point,
/// t_i = −V̂_i, which makes V̂_i + t_i exactly 0.
///
/// Refuses any allocation other than `lp` ([`SettleError::VcgNeedsOptimum`]).
pub fn vcg(
    s: &Setting<'_>,
    allocation: &Allocation,
    options: &SettleOptions,
) -> Result<Statement, SettleError> {
    if allocation.source != AllocationSource::Lp {
        return Err(SettleError::VcgNeedsOptimum(
            allocation.source.name().to_string(),
        ));
    }
    let g = &s.g_declared;
    let x = &allocation.flow;
    let declared_values = participant_values(g, s.who, x);
    let volumes = participant_volumes(g, s.who, x);
    let optimum: f64 = x.welfare(g);
    let tolerance = SETTLE_TOLERANCE * optimum.abs().max(1.0);
    let results: Vec<Result<(f64, f64), SettleError>> = (0..s.who.len())
        .into_par_iter()
        .map(|i| {
            if volumes[i] <= 0.0 {
                return Ok((0.0, 0.0));
            }
            let (role, index) = s.who.role(i);
            let w = welfare_without(s.declared, role, index, options).map_err(|source| {
                SettleError::Lp {
                    context: format!("vcg: P3 without {}", s.who.id(s.truth, i)),
                    source,
                }
            })?;
            let clamp = (w - optimum).max(0.0);
            if clamp > tolerance {
                return Err(SettleError::InexactOptimum {
                    participant: s.who.id(s.truth, i),
                    without: w,
                    optimum,
                    tolerance: SETTLE_TOLERANCE,
                });
            }
            let w = w.min(optimum);
            let v_hat = declared_values[i];
            let mut t = (optimum - v_hat) - w;
            if v_hat + t < 0.0 {
                t = -v_hat;
            }
            Ok((t, clamp))
        })
        .collect();
    let mut transfers = Transfers::zero(s.who.len());
    let mut largest_clamp: f64 = 0.0;
    for (i, r) in results.into_iter().enumerate() {
        let (t, clamp) = r?;
        transfers.transfer(i, t);
        largest_clamp = largest_clamp.max(clamp);
    }
    let solves = volumes.iter().filter(|&&v| v > 0.0).count();
    let mut notes = vec![format!(
        "{solves} P3 re-solves (one per trading participant; the others pay and receive 0 exactly)"
    )];
    if largest_clamp > 0.0 {
        notes.push(format!(
            "round-off: a re-solve exceeded W* by up to {largest_clamp:.3e}; clamped to W* (W*_-i <= W* holds exactly)"
        ));
    }
    Ok(s.statement(
        Mechanism::Vcg,
        &allocation.source,
        x.clone(),
        &transfers,
        notes,
    ))
}
