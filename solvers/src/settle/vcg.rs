//! `vcg`: Vickrey–Clarke–Groves payments over P3 ([Dist-Auctioneer]), computed in parallel
//! as [Dist-Auctioneer] §V parallelises its payment step ("the payments for each user can be
//! computed independently").

use brokerflow_graphs::{ExpandedGraph, Market, Role};
use rayon::prelude::*;

use super::{
    participant_values, participant_volumes, Allocation, AllocationSource, Setting, SettleError,
    SettleOptions, Statement, Transfers, SETTLE_TOLERANCE,
};
use crate::lp::{self, Backend, LpOptions, WarmLp};

/// The declared market without participant `i` ("the welfare difference
/// its presence makes"): a user's demand set to 0, a broker's or provider's capacity
/// set to 0 (a resource that is down). Nothing else changes, so the
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
    let m = without(declared, role, index)
        .validate()
        .map_err(|e| lp::LpError::InvalidMarket(Box::new(e)))?;
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

/// How VCG computes each W*_{−i}.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// P3 solved once with microlp's simplex; each W*_{−i} re-solved from its optimal
    /// basis with the one row "participant i carries no flow" added ([`WarmLp`]). The
    /// default (backends `auto` and `microlp`).
    Warm,
    /// Each W*_{−i} solved from scratch on the market without i ([`welfare_without`]),
    /// with the backend asked for (`clarabel`, `highs`).
    Cold,
}

impl Resolve {
    /// The re-solve method for a backend: warm where the backend allows it (microlp,
    /// and `auto`, which means microlp or clarabel), cold otherwise.
    pub fn for_backend(backend: Backend) -> Resolve {
        match backend {
            Backend::Auto | Backend::Microlp => Resolve::Warm,
            _ => Resolve::Cold,
        }
    }
}

/// The warm-start machinery: P3 of the declared market solved once, and per
/// participant the LP variables of the flow leaving its node of G′ (forcing them to
/// 0 is exactly removing the participant: a user's demand or a broker's or
/// provider's capacity set to 0, as [`without`] does).
struct WarmP3 {
    lp: WarmLp,
    rows: Vec<Vec<(usize, f64)>>,
}

impl WarmP3 {
    fn new(g: &ExpandedGraph, s: &Setting<'_>) -> Result<WarmP3, lp::LpError> {
        let f = lp::welfare_formulation(g);
        let warm = WarmLp::new(&f.lp)?;
        let pairs = g.pairs();
        let mut rows = vec![Vec::new(); s.who.len()];
        for n in g.graph.node_indices() {
            let Some(i) = s.who.of_node(g, n) else {
                continue;
            };
            rows[i] = pairs
                .leaving(n)
                .iter()
                .filter_map(|&pair| f.variable(pair))
                .map(|j| (j, 1.0))
                .collect();
        }
        Ok(WarmP3 { lp: warm, rows })
    }
}

/// VCG with the Clarke pivot over P3 ([Dist-Auctioneer]). With x* P3's allocation at the
/// declared bids and W* its declared welfare, participant i receives the signed
/// transfer t_i = (W* − V̂_i(x*)) − W*_{−i}: everyone else's declared welfare with
/// it, minus the best they could do without it. Users pay (t_i ≤ 0), brokers and
/// providers are paid. Its utility is then V_i(x*) + t_i, which for a truthful
/// participant is W* − W*_{−i} ≥ 0.
///
/// One P3 re-solve per participant that trades (volume > 0), in parallel with rayon
/// (RAYON_NUM_THREADS sets the threads; the results do not depend on it). A
/// participant with no volume gets t_i = 0 without a solve, exactly: x* is feasible
/// without it, so W*_{−i} = W*. The re-solves are warm-started where the backend
/// allows ([`Resolve`]); a warm re-solve that fails falls back to a cold one with
/// clarabel, and the statement's notes say how many did.
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
///
/// The same three steps as [`VcgPayments`] exposes them (the allocation's
/// preparation, one transfer per participant, the statement), so that the replicated
/// auctioneer (design §10) can split the middle step over payment groups.
pub fn vcg(
    s: &Setting<'_>,
    allocation: &Allocation,
    options: &SettleOptions,
) -> Result<Statement, SettleError> {
    let payments = VcgPayments::new(s, allocation, options)?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<VcgTransfer, SettleError>> = (0..s.who.len())
        .into_par_iter()
        .map(|i| {
            let t = payments.transfer(s, i);
            if payments.trades(i) {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                options.resolves.resolved(n, payments.trading);
            }
            t
        })
        .collect();
    let transfers = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(payments.statement(s, allocation, &transfers))
}

/// One participant's VCG transfer as [`VcgPayments::transfer`] computes it: the
/// signed t_i, how far its re-solve was clamped to W*, and whether its warm re-solve
/// failed and was re-done cold (the last two feed the statement's notes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VcgTransfer {
    /// t_i: received if > 0, paid if < 0.
    pub transfer: f64,
    /// max(0, W*_{−i} − W*) before the clamp (round-off).
    pub clamp: f64,
    /// The warm re-solve failed and a cold one was used.
    pub fell_back: bool,
}

/// VCG over P3 split into its three steps ([Dist-Auctioneer] §V's Algorithm 1): the
/// allocation's data and the warm-start base ([`VcgPayments::new`], task 1), one
/// independent transfer per participant ([`VcgPayments::transfer`], tasks 2.S) and
/// the statement ([`VcgPayments::statement`], task 3). [`vcg`] runs them in one
/// process; the replicated auctioneer (design §10) runs the transfers in payment
/// groups. Same inputs, same bits, whichever runs them.
pub struct VcgPayments {
    declared_values: Vec<f64>,
    volumes: Vec<f64>,
    optimum: f64,
    tolerance: f64,
    trading: usize,
    warm: Option<WarmP3>,
    cold_backend: Backend,
    notes: Vec<String>,
}

impl VcgPayments {
    /// Task 1's data: declared values and volumes at x*, W*, and P3 solved once
    /// with microlp as the warm-start base (or the reason it is not used, as a note).
    /// Refuses any allocation other than `lp` ([`SettleError::VcgNeedsOptimum`]).
    pub fn new(
        s: &Setting<'_>,
        allocation: &Allocation,
        options: &SettleOptions,
    ) -> Result<VcgPayments, SettleError> {
        if allocation.source != AllocationSource::Lp {
            return Err(SettleError::VcgNeedsOptimum(allocation.source.clone()));
        }
        let g = &s.g_declared;
        let x = &allocation.flow;
        let declared_values = participant_values(g, s.who, x);
        let volumes = participant_volumes(g, s.who, x);
        let optimum: f64 = x.welfare(g);
        let tolerance = SETTLE_TOLERANCE * optimum.abs().max(1.0);
        let trading = volumes.iter().filter(|&&v| v > 0.0).count();
        let mut notes = Vec::new();
        // The warm base must be P3's optimum too; if microlp cannot solve it, or finds
        // another optimum value, every re-solve is done cold.
        let warm = match Resolve::for_backend(options.backend) {
            Resolve::Warm if trading > 0 => match WarmP3::new(g, s) {
                Ok(w) if (w.lp.optimum() - optimum).abs() <= tolerance => Some(w),
                Ok(w) => {
                    notes.push(format!(
                        "warm start unused: microlp's P3 optimum {} differs from W* = {optimum}",
                        w.lp.optimum()
                    ));
                    None
                }
                Err(e) => {
                    notes.push(format!("warm start unused: microlp on P3: {e}"));
                    None
                }
            },
            _ => None,
        };
        let cold_backend = match (&warm, options.backend) {
            (Some(_), _) | (None, Backend::Auto | Backend::Microlp) => Backend::Clarabel,
            (None, b) => b,
        };
        Ok(VcgPayments {
            declared_values,
            volumes,
            optimum,
            tolerance,
            trading,
            warm,
            cold_backend,
            notes,
        })
    }

    /// Whether participant `i` trades (volume > 0 at x*): only those need a re-solve.
    pub fn trades(&self, i: usize) -> bool {
        self.volumes.get(i).is_some_and(|&v| v > 0.0)
    }

    /// Participant `i`'s transfer (a task 2.S of [Dist-Auctioneer] for one member of
    /// S): one P3 re-solve without it, or exactly 0 if it does not trade.
    pub fn transfer(&self, s: &Setting<'_>, i: usize) -> Result<VcgTransfer, SettleError> {
        let zero = VcgTransfer {
            transfer: 0.0,
            clamp: 0.0,
            fell_back: false,
        };
        if !self.trades(i) {
            return Ok(zero);
        }
        let (role, index) = s.who.role(i);
        let cold = || {
            let cold = SettleOptions {
                backend: self.cold_backend,
                ..SettleOptions::default()
            };
            welfare_without(s.declared, role, index, &cold)
        };
        let (w, fell_back) = match &self.warm {
            Some(w) => match w.lp.optimum_with_row_at_most_zero(&w.rows[i]) {
                Ok(v) => (Ok(v), false),
                Err(_) => (cold(), true),
            },
            None => (cold(), false),
        };
        let w = w.map_err(|source| SettleError::Lp {
            context: super::error::LpContext::Without {
                participant: s.who.id(s.truth, i).to_string(),
            },
            source,
        })?;
        let optimum = self.optimum;
        let clamp = (w - optimum).max(0.0);
        if clamp > self.tolerance {
            return Err(SettleError::InexactOptimum {
                participant: s.who.id(s.truth, i),
                without: w,
                optimum,
                tolerance: SETTLE_TOLERANCE,
            });
        }
        let w = w.min(optimum);
        let v_hat = self.declared_values[i];
        let mut t = (optimum - v_hat) - w;
        if v_hat + t < 0.0 {
            t = -v_hat;
        }
        Ok(VcgTransfer {
            transfer: t,
            clamp,
            fell_back,
        })
    }

    /// The statement from every participant's transfer, in [`super::Participants`]
    /// order (task 3), with notes on the re-solves.
    pub fn statement(
        &self,
        s: &Setting<'_>,
        allocation: &Allocation,
        results: &[VcgTransfer],
    ) -> Statement {
        let mut transfers = Transfers::zero(s.who.len());
        let mut largest_clamp: f64 = 0.0;
        let mut fell_back = 0;
        for (i, r) in results.iter().enumerate() {
            transfers.transfer(i, r.transfer);
            largest_clamp = largest_clamp.max(r.clamp);
            fell_back += usize::from(r.fell_back);
        }
        let cold_backend = self.cold_backend;
        let how = match &self.warm {
            Some(_) => {
                "warm-started from P3's optimal basis with microlp's dual simplex".to_string()
            }
            None => format!("each from scratch with {cold_backend}"),
        };
        let mut notes = self.notes.clone();
        notes.insert(
            0,
            format!(
                "{} P3 re-solves (one per trading participant; the others pay and receive 0 exactly), {how}",
                self.trading
            ),
        );
        if fell_back > 0 {
            notes.push(format!(
                "{fell_back} warm re-solves failed and were re-done from scratch with {cold_backend}"
            ));
        }
        if largest_clamp > 0.0 {
            notes.push(format!(
                "round-off: a re-solve exceeded W* by up to {largest_clamp:.3e}; clamped to W* (W*_-i <= W* holds exactly)"
            ));
        }
        s.statement(
            &Vcg,
            &allocation.source,
            allocation.flow.clone(),
            &transfers,
            notes,
        )
    }
}

super::mechanism::declare_mechanism! {
    Vcg = "vcg" by vcg, solves_lp: true, resolves_per_participant: true;
    "Vickrey-Clarke-Groves over P3: efficient, truthful, IR; may run a deficit; `lp` only.";
    super::Promises::on(super::Allocations::Optimum).individually_rational(&Role::ALL).truthful_for(&Role::ALL);
    |s, allocation, options| vcg(s, allocation, options)
}
