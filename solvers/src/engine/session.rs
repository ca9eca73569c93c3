//! One run of the distributed algorithm ([MCF-Grid] §5) with everything around it,
//! as one call: the run with the caller's observers, under a fault schedule with the
//! fault-free run it is measured against, resumed from or saved to a state
//! ([`super::replan`]), with its trace, and its node prices beside P3's duals. The
//! commands that run the engine (`run`, `compare`, `settle`) share it instead of each
//! repeating the sequence.

use std::time::Instant;

use brokerflow_graphs::{ExpandedGraph, Market};
use thiserror::Error;

use super::faults::{self, FaultPlan, FaultReport, WelfareLog};
use super::replan::{self, Resumed, SavedState};
use super::{
    Engine, EngineError, EngineOptions, EngineRun, Injection, InjectionMode, ObserverMode,
    Observers, Trace, TraceRow, Variant,
};
use crate::lp::{self, Backend, LpError, LpOptions};
use crate::measures::{self, Measure};

/// What a session does around the run itself.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Run under this fault schedule, and measure it against the fault-free run of the
    /// same market and options.
    pub faults: Option<FaultPlan>,
    /// Resume from this saved state (continued on the same market, re-planned on one
    /// whose numbers changed).
    pub resume: Option<SavedState>,
    /// Save the state at the end of the run.
    pub save_state: bool,
    /// Keep the per-(round, commodity) trace.
    pub trace: bool,
    /// Compare the node prices with P3's dual prices, P3 solved by this backend (the
    /// welfare-seeking variant's prices only are money per resource unit).
    pub prices: Option<Backend>,
}

/// What a session made.
#[derive(Debug, Clone)]
pub struct EngineSession {
    /// The run.
    pub run: EngineRun,
    /// Wall-clock seconds of the run (and of its fault-free reference, if any).
    pub seconds: f64,
    /// The trace, if asked for ([`SessionOptions::trace`]).
    pub trace: Vec<TraceRow>,
    /// The state at the end, if asked for ([`SessionOptions::save_state`]).
    pub saved: Option<SavedState>,
    /// What resuming did, if the run resumed.
    pub resumed: Option<Resumed>,
    /// What each fault cost and how soon the run recovered, if it had faults.
    pub faults: Option<FaultReport>,
    /// The node prices against P3's, if asked for ([`SessionOptions::prices`]).
    pub prices: Option<PriceComparison>,
}

/// The engine's node prices against P3's exact dual prices ([MCF-Grid] §4's duals).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceComparison {
    /// P3's dual price per G′ node.
    pub duals: Vec<f64>,
    /// The price_error measure ([`measures::price_error`]).
    pub error: Measure,
}

/// Why a session refuses to start, or failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The engine refused the run, or the run broke a capacity.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// An LP beside the run (P1 for δ*, P3 for the prices) failed.
    #[error(transparent)]
    Lp(#[from] LpError),
    /// The saved state does not fit this market and these options.
    #[error("{0}")]
    Resume(EngineError),
    /// P3 has no dual prices to compare with.
    #[error("P3 gave no dual prices (no flow is possible)")]
    NoDuals,
    /// A fault schedule with a saved or resumed state.
    #[error("--faults cannot be combined with --save-state or --resume: a saved state does not carry the messages a fault schedule holds in flight")]
    FaultsWithState,
    /// A welfare scale for a variant that has none.
    #[error("--welfare-scale applies to --variant welfare-seeking only; {} has no welfare scale", .0.name())]
    WelfareScaleWithout(Variant),
    /// Prices compared for a variant whose multipliers are not prices.
    #[error("--prices needs --variant welfare-seeking: only its multipliers are prices in money per resource unit")]
    PricesWithout,
}

impl SessionOptions {
    /// Refuses, before any work, what cannot go together: faults with a saved or
    /// resumed state, a welfare scale (`welfare_scale` given) or a price comparison
    /// for a variant other than welfare-seeking.
    pub fn check(&self, variant: Variant, welfare_scale: Option<f64>) -> Result<(), SessionError> {
        if self.faults.is_some() && (self.resume.is_some() || self.save_state) {
            return Err(SessionError::FaultsWithState);
        }
        if welfare_scale.is_some() && variant != Variant::WelfareSeeking {
            return Err(SessionError::WelfareScaleWithout(variant));
        }
        if self.prices.is_some() && variant != Variant::WelfareSeeking {
            return Err(SessionError::PricesWithout);
        }
        Ok(())
    }
}

/// The injection of a mode on the market of `g`: demand as it is, feasible with P1's
/// δ* (P1 solved by `backend`).
///
/// # Arguments
/// * `mode` — what the sources inject; `g` — G′; `backend` — P1's solver.
///
/// # Returns
/// The [`Injection`], or P1's error.
///
/// # Complexity
/// One LP P1 in feasible mode; O(1) in demand mode.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::{session, Injection, InjectionMode};
/// use brokerflow_solvers::lp::Backend;
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// let a = session::injection(InjectionMode::Demand, &g, Backend::DEFAULT).unwrap();
/// assert_eq!(a, Injection::Demand);
/// ```
///
/// Paper: [MCF-Grid] §5 (feasible injection).
pub fn injection(
    mode: InjectionMode,
    g: &ExpandedGraph,
    backend: Backend,
) -> Result<Injection, LpError> {
    Ok(match mode {
        InjectionMode::Demand => Injection::Demand,
        InjectionMode::Feasible => {
            let p1 = lp::max_concurrent_flow(
                g,
                &LpOptions {
                    backend,
                    prices: false,
                },
            )?;
            Injection::Feasible { delta: p1.delta }
        }
    })
}

/// Runs a session: the engine on `market` (G′ `g`) with `options` and the caller's
/// `observers`, and what `session` asks for around it.
///
/// # Arguments
/// * `market`, `g` — the market and its G′; `options` — the engine's settings;
/// * `session` — faults, resume and save, trace, prices ([`SessionOptions::check`]ed);
/// * `observers` — the caller's (progress, checkpoints), called as in any run.
///
/// # Returns
/// The run and what came with it, or why it failed: the engine's refusal, a state
/// that does not fit, a run that broke a capacity, a failed LP.
///
/// # Complexity
/// The run's rounds (O(rounds × usable pairs)); twice with faults (the fault-free
/// reference); plus P3 with prices.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::session::{self, SessionOptions};
/// use brokerflow_solvers::engine::{EngineOptions, Injection, Observers, Variant};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
/// let s = SessionOptions { save_state: true, ..SessionOptions::default() };
/// let done = session::run(&m, &g, &o, &s, &mut Observers::new()).unwrap();
/// assert!(done.run.converged);
/// assert!(done.saved.is_some() && done.resumed.is_none());
/// ```
///
/// Paper: [MCF-Grid] §5.1 (the rounds).
pub fn run(
    market: &Market,
    g: &ExpandedGraph,
    options: &EngineOptions,
    session: &SessionOptions,
    observers: &mut Observers<'_>,
) -> Result<EngineSession, SessionError> {
    let start = Instant::now();
    let plan = session.faults.as_ref();
    let mut trace = Trace::default();
    let mut log = WelfareLog::from_round(plan.map_or(0, FaultPlan::end));
    let mut all = Observers::new();
    all.push(observers, ObserverMode::Always);
    if session.trace {
        all.push(&mut trace, ObserverMode::Always);
    }
    if plan.is_some() {
        all.push(&mut log, ObserverMode::Always);
    }
    let (run, saved, resumed) = if plan.is_some() {
        (
            super::run_with_faults(market, g, options, plan, &mut all)?,
            None,
            None,
        )
    } else {
        let (engine, resumed) = match &session.resume {
            Some(s) => {
                let (e, r) = replan::resume(market, g, options, s).map_err(SessionError::Resume)?;
                (e, Some(r))
            }
            None => (Engine::new(market, g, options)?, None),
        };
        if session.save_state {
            let (run, state) = engine.run_and_save(&mut all, market)?;
            (run, Some(state), resumed)
        } else {
            (engine.run(&mut all).valid()?, None, resumed)
        }
    };
    drop(all);
    // What each fault cost, against the fault-free run.
    let faults = match (plan, &run.faults) {
        (Some(plan), Some(outcome)) => {
            let mut reference = WelfareLog::from_round(plan.end());
            faults::reference_run(market, g, options, plan.end(), &mut reference)?;
            Some(FaultReport::new(plan, outcome, &log, &reference))
        }
        _ => None,
    };
    let seconds = start.elapsed().as_secs_f64();
    let prices = match session.prices {
        Some(backend) => {
            let p3 = lp::max_welfare(
                g,
                &LpOptions {
                    backend,
                    prices: true,
                },
            )?;
            let duals = p3.prices.ok_or(SessionError::NoDuals)?;
            let error = measures::price_error(&run.prices, &duals);
            Some(PriceComparison { duals, error })
        }
        None => None,
    };
    Ok(EngineSession {
        run,
        seconds,
        trace: trace.rows,
        saved,
        resumed,
        faults,
        prices,
    })
}
