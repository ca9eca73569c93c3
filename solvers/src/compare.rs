//! One market, every method, design §8's measures: the per-method rows that
//! `brokerflow compare` prints and that every scenario of an experiment records.
//!
//! The LP rows are the analyst's yardsticks (design §4): P1 (maximum concurrent flow),
//! P2 and P2⁻ (best and worst routing of the amounts min(δ*,1)·d_k) and P3 (maximum
//! welfare). Each engine row (design §5) is measured against the matching optimum:
//! in *feasible* mode P2 at the amounts the engine injects, (1 − η)·min(δ*,1)·d_k,
//! for percent_of_optimum, and P2 and P2⁻ at the amounts the run served (its
//! steady flow's rates) for `gap_closed` (design §8); in *demand* mode P3.
//!
//! Engine rows also record `rounds_to_95` ([`Checkpoints`], an observer of the run):
//! the first checkpoint from which the window welfare stays ≥ 95 % of that optimum.
//!
//! Every LP is solved at most once per market, and only if a requested method needs
//! it; an engine row's optimum is solved before the engine runs (the checkpoints need
//! it). A failure (an LP error, an engine setting out of range) is recorded in the
//! rows that depend on it — never a panic, never an aborted batch.

use std::sync::Arc;
use std::time::Instant;

use brokerflow_graphs::{ExpandedGraph, Flow, Market};
use serde::Serialize;

mod row;
mod text;

pub use row::{Format, Measure, Measures, RowError, Stat, SummaryCell, TableColumn};
pub use text::{compare_json_rows, compare_table, remarks, MethodListError};

use crate::causes::Causes;
use crate::engine::faults::{self, FaultPlan, FaultReport, WelfareLog};
use crate::engine::{
    self, Engine, EngineError, EngineOptions, EngineRun, Injection, Observe, ObserverMode,
    Observers, Trace, TraceRow, Variant,
};
use crate::lp::{self, Backend, LpError, LpOptions, LpSolution, Objective};
use crate::measures::{
    gap_closed, percent_of_optimum, price_error, served_fraction, Measure as Value,
    OPTIMUM_TOLERANCE,
};

/// Rounds between two checkpoints of `rounds_to_95` ([`run_with_checkpoints`]).
pub const CHECKPOINT_ROUNDS: usize = 50;

/// The share of W* that `rounds_to_95` asks the window welfare to reach and keep.
pub const TARGET_SHARE: f64 = 0.95;

/// The two injection modes of the engine ([MCF-Grid] §5.1 step 1, design §5), without
/// P1's δ* (which [`compare_market`] solves for itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InjectionMode {
    /// a_k = (1 − η)·min(δ*,1)·d_k: the paper's runs.
    Feasible,
    /// a_k = d_k: no LP needed.
    Demand,
}

impl InjectionMode {
    /// `feasible` or `demand`.
    pub fn name(self) -> &'static str {
        match self {
            InjectionMode::Feasible => "feasible",
            InjectionMode::Demand => "demand",
        }
    }
}

/// One method of a comparison: an LP objective or an engine variant in an injection
/// mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// An LP baseline of [MCF-Grid] §4.2 (design §4).
    Lp(Objective),
    /// The distributed algorithm of [MCF-Grid] §5 (design §5).
    Engine {
        /// Push weights.
        variant: Variant,
        /// What the sources inject.
        mode: InjectionMode,
    },
}

impl Method {
    /// Every method, in `brokerflow compare`'s order: P1, P2, P2⁻, P3, then fair and
    /// utility-aware in feasible mode, then both in demand mode.
    pub const ALL: [Method; 10] = [
        Method::Lp(Objective::Concurrent),
        Method::Lp(Objective::Utility),
        Method::Lp(Objective::WorstUtility),
        Method::Lp(Objective::Welfare),
        Method::Engine {
            variant: Variant::Fair,
            mode: InjectionMode::Feasible,
        },
        Method::Engine {
            variant: Variant::UtilityAware,
            mode: InjectionMode::Feasible,
        },
        Method::Engine {
            variant: Variant::Fair,
            mode: InjectionMode::Demand,
        },
        Method::Engine {
            variant: Variant::UtilityAware,
            mode: InjectionMode::Demand,
        },
        Method::Engine {
            variant: Variant::WelfareSeeking,
            mode: InjectionMode::Feasible,
        },
        Method::Engine {
            variant: Variant::WelfareSeeking,
            mode: InjectionMode::Demand,
        },
    ];

    /// `lp`, `fair`, `utility-aware` or `welfare-seeking`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Lp(_) => "lp",
            Method::Engine { variant, .. } => variant.name(),
        }
    }

    /// The LP objective's name (`concurrent`, `utility`, `worst-utility`, `welfare`)
    /// or the injection mode's (`feasible`, `demand`).
    pub fn mode(self) -> &'static str {
        match self {
            Method::Lp(o) => o.name(),
            Method::Engine { mode, .. } => mode.name(),
        }
    }

    /// `name/mode`, e.g. `lp/welfare` or `utility-aware/feasible`: the method's label
    /// in experiment files.
    pub fn label(self) -> String {
        format!("{}/{}", self.name(), self.mode())
    }

    /// Parses a [`label`](Self::label).
    pub fn from_label(label: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.label() == label)
    }
}

/// How to compare: which methods, LP options, and the engine settings every engine
/// row uses (its `variant` and `injection` are set per row).
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The methods, in output order.
    pub methods: Vec<Method>,
    /// LP backend (prices are never needed here).
    pub lp: LpOptions,
    /// Engine settings (η, ε, window, round limit, ceiling, potential, weight floor,
    /// runtime); `variant` and `injection` are overridden per row.
    pub engine: EngineOptions,
    /// Whether engine rows keep the per-(round, commodity) trace ([`MethodRow::trace`]).
    pub trace: bool,
    /// A fault schedule every engine row runs under (design §5, "Faults"); each such
    /// row also runs its fault-free reference and reports [`MethodRow::faults`].
    pub faults: Option<FaultPlan>,
}

impl CompareOptions {
    /// Every method ([`Method::ALL`]), the default LP backend and the engine defaults.
    pub fn new() -> CompareOptions {
        CompareOptions {
            methods: Method::ALL.to_vec(),
            lp: LpOptions::default(),
            engine: EngineOptions::new(Variant::Fair, Injection::Demand),
            trace: false,
            faults: None,
        }
    }
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions::new()
    }
}

/// One method's result on one market, in design §8's measures (`None` where a
/// measure does not apply or is undefined; the reason is in `notes`).
///
/// The measures are [`Measures`] (read them as `row.welfare`: the row dereferences to
/// them); the rest is what a display or a report needs beside them.
#[derive(Debug, Clone)]
pub struct MethodRow {
    /// The method.
    pub method: Method,
    /// Its measures: the row's columns in every output.
    pub measures: Measures,
    /// The concrete LP backend of the row's LP (engine rows: of its yardstick).
    pub backend: Option<Backend>,
    /// Wall-clock seconds of this row's own solve or run (not reproducible).
    pub seconds: f64,
    /// Remarks: δ*, why a measure is undefined, a round-limit stop.
    pub notes: Vec<String>,
    /// Why the row has no result, if it failed (an LP or engine error, with its
    /// causes); the measures are then `None`.
    pub error: Option<RowError>,
    /// Engine rows with [`CompareOptions::trace`] set: the per-(round, commodity) trace.
    pub trace: Vec<TraceRow>,
    /// Engine rows under [`CompareOptions::faults`]: what each fault cost and the
    /// recovery, against the row's fault-free run.
    pub faults: Option<FaultReport>,
    /// The row's flow: the LP's optimal flow, or the engine run's window-averaged
    /// steady flow; `None` for a failed row or an LP without a bounded flow.
    pub flow: Option<Flow>,
    /// Engine rows: (round, window welfare) at the `rounds_to_95` checkpoints
    /// ([`Checkpoints`]); empty where those are not evaluated.
    pub welfare_by_round: Vec<(usize, f64)>,
}

/// A row reads as its measures (`row.welfare`), which every output shows.
impl std::ops::Deref for MethodRow {
    type Target = Measures;
    fn deref(&self) -> &Measures {
        &self.measures
    }
}

impl std::ops::DerefMut for MethodRow {
    fn deref_mut(&mut self) -> &mut Measures {
        &mut self.measures
    }
}

impl MethodRow {
    fn empty(method: Method) -> MethodRow {
        MethodRow {
            method,
            measures: Measures::default(),
            backend: None,
            seconds: 0.0,
            notes: Vec::new(),
            error: None,
            trace: Vec::new(),
            faults: None,
            flow: None,
            welfare_by_round: Vec::new(),
        }
    }

    fn failed(method: Method, error: RowError) -> MethodRow {
        MethodRow {
            error: Some(error),
            ..MethodRow::empty(method)
        }
    }
}

/// One LP's result (its error shared by every row that needs it) and its solve time.
type Outcome = (Result<LpSolution, Arc<LpError>>, f64);

/// An LP solved on demand, once.
type Solved = Option<Outcome>;

fn solve_once(slot: &mut Solved, f: impl FnOnce() -> Result<LpSolution, LpError>) -> &Outcome {
    slot.get_or_insert_with(|| {
        let start = Instant::now();
        let r = f().map_err(Arc::new);
        (r, start.elapsed().as_secs_f64())
    })
}

/// The LP solves one market's rows share, each done at most once.
struct Yardsticks<'a> {
    g: &'a ExpandedGraph,
    options: LpOptions,
    eta: f64,
    p1: Solved,
    p2: Solved,
    p2_worst: Solved,
    p3: Solved,
    /// Whether P3 is solved with its explicit dual too (exact prices), because a
    /// welfare-seeking demand row compares its prices with them: one solve serves both.
    p3_prices: bool,
    scaled_best: Solved,
    scaled_worst: Solved,
}

impl<'a> Yardsticks<'a> {
    fn delta(&mut self) -> Result<Option<f64>, RowError> {
        let (g, o) = (self.g, self.options);
        let (r, _) = solve_once(&mut self.p1, || lp::max_concurrent_flow(g, &o));
        r.as_ref()
            .map(|s| s.delta)
            .map_err(|e| RowError::Lp(Arc::clone(e)))
    }

    fn p2(&mut self, objective: Objective) -> Result<&Outcome, RowError> {
        let delta = self.delta()?;
        let (g, o) = (self.g, self.options);
        let slot = match objective {
            Objective::WorstUtility => &mut self.p2_worst,
            _ => &mut self.p2,
        };
        Ok(solve_once(slot, || {
            lp::utility_flow_at(g, objective, delta, &o)
        }))
    }

    fn p3(&mut self) -> &Outcome {
        let g = self.g;
        let o = LpOptions {
            prices: self.options.prices || self.p3_prices,
            ..self.options
        };
        solve_once(&mut self.p3, || lp::max_welfare(g, &o))
    }

    /// The optimal flow of the LP row `objective`, if it was solved and bounded.
    fn flow_of(&self, objective: Objective) -> Option<Flow> {
        let slot = match objective {
            Objective::Concurrent => &self.p1,
            Objective::Utility => &self.p2,
            Objective::WorstUtility => &self.p2_worst,
            Objective::Welfare => &self.p3,
        };
        slot.as_ref()?.0.as_ref().ok()?.flow.clone()
    }

    /// P2 or P2⁻ at the feasible-mode injection (1 − η)·min(δ*,1)·d_k.
    fn scaled(&mut self, objective: Objective) -> Result<&Outcome, RowError> {
        let delta = self.delta()?;
        let scaled = Some((1.0 - self.eta) * delta.map_or(1.0, |d| d.min(1.0)));
        let (g, o) = (self.g, self.options);
        let slot = match objective {
            Objective::WorstUtility => &mut self.scaled_worst,
            _ => &mut self.scaled_best,
        };
        Ok(solve_once(slot, || {
            lp::utility_flow_at(g, objective, scaled, &o)
        }))
    }
}

/// Compares the LP baselines and the distributed algorithm's variants on one market,
/// each against its optimum (design §8): one [`MethodRow`] per method, in the order of
/// `options.methods`.
///
/// # Arguments
/// * `market`: the validated market.
/// * `g`: its expanded graph G′.
/// * `options`: the methods, the LP options and the engine settings.
///
/// # Returns
/// The rows; a method that cannot be computed gets a row with `error` set (and so do
/// the methods whose yardstick it is: a failed P1 fails P2, P2⁻ and the feasible-mode
/// rows).
///
/// # Complexity
/// At most six LPs (P1, P2, P2⁻, P3, and P2, P2⁻ at the feasible-mode amounts), only
/// those the methods need, plus one engine run per engine method; an engine row's
/// optimum is solved before its run, which evaluates the window welfare every
/// [`CHECKPOINT_ROUNDS`] rounds for `rounds_to_95`.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::compare::{compare_market, CompareOptions, Method};
/// use brokerflow_solvers::lp::Objective;
/// let market = examples::tiny();
/// let g = ExpandedGraph::new(&market);
/// let mut options = CompareOptions::new();
/// options.methods = vec![Method::Lp(Objective::Welfare)];
/// let rows = compare_market(&market, &g, &options);
/// assert_eq!(rows[0].percent_of_optimum, Some(100.0));
/// ```
///
/// Paper: [MCF-Grid] §6 (the experiments compare exactly these).
pub fn compare_market(
    market: &Market,
    g: &ExpandedGraph,
    options: &CompareOptions,
) -> Vec<MethodRow> {
    compare_market_observed(market, g, options, &mut |_, _| {})
}

/// [`compare_market`], calling `before(i, method)` before the i-th method (from 0) is
/// computed: for a progress display. The rows are the same.
pub fn compare_market_observed(
    market: &Market,
    g: &ExpandedGraph,
    options: &CompareOptions,
    before: &mut dyn FnMut(usize, Method),
) -> Vec<MethodRow> {
    let mut y = Yardsticks {
        g,
        options: options.lp,
        eta: options.engine.eta,
        p1: None,
        p2: None,
        p2_worst: None,
        p3: None,
        p3_prices: options.methods.contains(&Method::Engine {
            variant: Variant::WelfareSeeking,
            mode: InjectionMode::Demand,
        }),
        scaled_best: None,
        scaled_worst: None,
    };
    options
        .methods
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            before(i, m);
            let row = match m {
                Method::Lp(o) => lp_row(&mut y, o).map(|mut row| {
                    row.flow = y.flow_of(o);
                    row
                }),
                Method::Engine { variant, mode } => {
                    engine_row(market, &mut y, options, variant, mode)
                }
            };
            row.unwrap_or_else(|e| MethodRow::failed(m, e))
        })
        .collect()
}

/// What a row needs of a solved LP.
#[derive(Clone, Copy)]
struct Solution {
    welfare: Option<f64>,
    served_fraction: Option<f64>,
    backend: Backend,
}

/// The solution's welfare, served fraction and backend, or its error; and its time.
fn summarise(g: &ExpandedGraph, solved: &Outcome) -> (Result<Solution, RowError>, f64) {
    let r = (solved.0.as_ref())
        .map_err(|e| RowError::Lp(Arc::clone(e)))
        .map(|s| Solution {
            welfare: s.welfare(g),
            served_fraction: s.flow.as_ref().and_then(|f| served_fraction(g, f)),
            backend: s.backend,
        });
    (r, solved.1)
}

fn bounded(objective: Objective, s: &Solution) -> Result<f64, RowError> {
    s.welfare.ok_or(RowError::NoBoundedFlow(objective))
}

fn lp_row(y: &mut Yardsticks, objective: Objective) -> Result<MethodRow, RowError> {
    let g = y.g;
    let mut row = MethodRow::empty(Method::Lp(objective));
    if objective == Objective::Welfare {
        let (r, seconds) = summarise(g, y.p3());
        let p3 = r?;
        let w = bounded(objective, &p3)?;
        row.welfare = Some(w);
        row.optimum = Some(w);
        row.percent_of_optimum = percent_of_optimum(w, w).value;
        row.served_fraction = p3.served_fraction;
        row.backend = Some(p3.backend);
        row.seconds = seconds;
        return Ok(row);
    }
    let delta = y.delta()?;
    row.delta = delta;
    if objective == Objective::Concurrent {
        let (r, seconds) = summarise(g, y.p1.as_ref().expect("solved by delta()"));
        let p1 = r?;
        row.served_fraction = p1.served_fraction;
        row.backend = Some(p1.backend);
        row.seconds = seconds;
        row.notes.push(match delta {
            Some(d) => format!("delta* = {d:.6}"),
            None => "delta* unbounded".to_string(),
        });
        return Ok(row);
    }
    // P2 and P2⁻ at min(δ*,1)·d_k: P2 is the optimum of both rows, P2⁻ the worst end
    // of gap_closed, undefined (not an error) on a cyclic market.
    let (best, best_s) = summarise(g, y.p2(Objective::Utility)?);
    let (worst, worst_s) = summarise(g, y.p2(Objective::WorstUtility)?);
    let worst = match worst {
        Ok(s) => Some((bounded(Objective::WorstUtility, &s)?, s)),
        Err(_) if g.is_cyclic() => None,
        Err(e) => return Err(e),
    };
    let (sol, seconds) = match (objective, &worst) {
        (Objective::WorstUtility, None) => {
            row.seconds = worst_s;
            row.notes
                .push("undefined: the market has a broker->broker cycle".to_string());
            return Ok(row);
        }
        (Objective::WorstUtility, Some((_, s))) => (*s, worst_s),
        _ => (best.clone()?, best_s),
    };
    let optimum = bounded(Objective::Utility, &best?)?;
    let w = bounded(objective, &sol)?;
    row.welfare = Some(w);
    row.optimum = Some(optimum);
    row.percent_of_optimum = percent_of_optimum(w, optimum).value;
    row.gap_closed = gap_closed(w, optimum, worst.map(|(w, _)| w)).value;
    row.served_fraction = sol.served_fraction;
    row.backend = Some(sol.backend);
    row.seconds = seconds;
    Ok(row)
}

fn engine_row(
    market: &Market,
    y: &mut Yardsticks,
    options: &CompareOptions,
    variant: Variant,
    mode: InjectionMode,
) -> Result<MethodRow, RowError> {
    let g = y.g;
    let mut row = MethodRow::empty(Method::Engine { variant, mode });
    let mut o = options.engine;
    o.variant = variant;
    // The yardstick of percent_of_optimum: P2 at the injected amounts (feasible), P3
    // (demand). gap_closed's ends are solved after the run, at the served amounts.
    let (optimum, backend) = match mode {
        InjectionMode::Feasible => {
            let delta = y.delta()?;
            row.delta = delta;
            o.injection = Injection::Feasible { delta };
            let scaled = y.scaled(Objective::Utility)?;
            let best = summarise(g, scaled).0?;
            let w = bounded(Objective::Utility, &best)?;
            (w, best.backend)
        }
        InjectionMode::Demand => {
            o.injection = Injection::Demand;
            let p3 = summarise(g, y.p3()).0?;
            let w = bounded(Objective::Welfare, &p3)?;
            (w, p3.backend)
        }
    };
    let start = Instant::now();
    let mut checkpoints = Checkpoints::new(Some(optimum));
    let mut trace = Trace::default();
    let mut observers = Observers::new();
    observers.push(&mut checkpoints, ObserverMode::Every(CHECKPOINT_ROUNDS));
    if options.trace {
        observers.push(&mut trace, ObserverMode::Always);
    }
    let plan = options.faults.as_ref();
    let mut log = WelfareLog::from_round(plan.map_or(0, FaultPlan::end));
    if plan.is_some() {
        observers.push(&mut log, ObserverMode::Always);
    }
    let r = engine::run_with_faults(market, g, &o, plan, &mut observers)?;
    row.seconds = start.elapsed().as_secs_f64();
    drop(observers);
    if let (Some(plan), Some(outcome)) = (plan, &r.faults) {
        let mut reference = WelfareLog::from_round(plan.end());
        faults::reference_run(market, g, &o, plan.end(), &mut reference)?;
        row.faults = Some(FaultReport::new(plan, outcome, &log, &reference));
    }
    row.rounds_to_95 = checkpoints.rounds_to_95();
    let welfare = r.welfare(g);
    let pct = percent_of_optimum(welfare, optimum);
    if let Some(reason) = pct.reason {
        row.notes.push(reason.to_string());
    }
    match r.stop {
        engine::Stop::Converged => {}
        engine::Stop::RoundLimit => row
            .notes
            .push(format!("stopped at the round limit ({})", o.max_rounds)),
        engine::Stop::NothingToRoute => row
            .notes
            .push("nothing to route: every injection is 0 (no user has demand, or none reaches an eligible provider)".to_string()),
    }
    row.welfare = Some(welfare);
    row.optimum = Some(optimum);
    row.percent_of_optimum = pct.value;
    if mode == InjectionMode::Feasible {
        // Design §8: P2 and P2⁻ at the amounts the run served, so the ε-shortfall in
        // amounts that the convergence test allows is not counted as routing. An LP
        // failure there leaves the measure undefined, with the reason.
        row.gap_closed = match served_gap_closed(g, &y.options, &r, row.delta) {
            Ok(m) => {
                if let Some(reason) = m.reason {
                    row.notes.push(format!("gap_closed: {reason}"));
                }
                m.value
            }
            Err(e) => {
                row.notes.push(Causes(&e).to_string());
                None
            }
        };
        row.gap_closed_served = row.gap_closed;
    }
    if mode == InjectionMode::Demand && variant == Variant::WelfareSeeking {
        let duals = match &y.p3().0 {
            Ok(s) => s.prices.clone(),
            Err(e) => return Err(RowError::DualPrices(Arc::clone(e))),
        };
        if let Some(duals) = duals {
            let e = price_error(&r.prices, &duals);
            row.price_error = e.value;
        }
    }
    row.served_fraction = served_fraction(g, &r.flow);
    row.rounds = Some(r.rounds);
    row.converged = Some(r.converged);
    row.backend = Some(backend);
    row.trace = trace.rows;
    row.welfare_by_round = checkpoints.curve;
    row.flow = Some(r.flow);
    Ok(row)
}

/// Why an engine row's `gap_closed` at the served amounts is undefined (a note of the
/// row, not its error).
#[derive(Debug, thiserror::Error)]
enum ServedGapError {
    /// P2 or P2⁻ at the served amounts failed. The served amounts are the steady
    /// flow's, which routes them, so this is the LP's own failure.
    #[error("P2 at the served amounts")]
    Lp(#[source] LpError),
    /// P2 there has no bounded flow.
    #[error("P2 at the served amounts: no flow")]
    NoFlow,
}

/// Design §8's gap_closed of an engine run: P2 and P2⁻ solved at its served amounts
/// s_k, the steady flow's ([`EngineRun::served`]): the run's own flow routes them, so
/// P2 there is feasible, and W counts the value of those jobs only. Undefined on a
/// cyclic market (P2⁻ undefined) or where the two ends are about equal.
fn served_gap_closed(
    g: &ExpandedGraph,
    options: &LpOptions,
    r: &EngineRun,
    delta: Option<f64>,
) -> Result<Value, ServedGapError> {
    let served: Vec<f64> = (0..g.commodities.len()).map(|k| r.served(g, k)).collect();
    let at = |objective| {
        lp::utility_flow_for(g, objective, delta, &served, options).map_err(ServedGapError::Lp)
    };
    let best = at(Objective::Utility)?
        .welfare(g)
        .ok_or(ServedGapError::NoFlow)?;
    let worst = match at(Objective::WorstUtility) {
        Ok(s) => s.welfare(g),
        Err(_) if g.is_cyclic() => None,
        Err(e) => return Err(e),
    };
    Ok(gap_closed(r.welfare(g), best, worst))
}

/// `rounds_to_95` as an observer of a run (attach it with
/// `ObserverMode::Every(CHECKPOINT_ROUNDS)`); it reads the window welfare at its
/// checkpoints and never changes the run.
///
/// `rounds_to_95` is defined here; design §8 has no such measure
/// ("welfare reaches and stays at ≥ 95 % of P3"). Checkpoints are every
/// [`CHECKPOINT_ROUNDS`]-th round and the run's last round; at each the engine's
/// [`window welfare`](Engine::window_welfare) (design §2's engine welfare of the
/// current window, as `EngineRun::welfare` reports at the end) is compared with
/// [`TARGET_SHARE`]·W*. The result is the first checkpoint round R at which it is
/// ≥ 0.95·W* and stays so at every later checkpoint; `None` if the last checkpoint
/// falls short (or there is none: nothing to route), or if the optimum is `None` or
/// at most [`OPTIMUM_TOLERANCE`] (where `percent_of_optimum` is undefined too; the
/// window welfare is then not evaluated at all). O(window × usable pairs) per
/// checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    target: Option<f64>,
    /// The first checkpoint of the current run of checkpoints at or above the target.
    since: Option<usize>,
    /// The last round checked.
    checked: usize,
    /// (round, window welfare) at every checkpoint evaluated.
    curve: Vec<(usize, f64)>,
}

impl Checkpoints {
    /// Checkpoints against the matching optimum W* (P3 in demand mode, P2 at the
    /// injected amounts in feasible mode).
    pub fn new(optimum: Option<f64>) -> Checkpoints {
        Checkpoints {
            target: optimum
                .filter(|&w| w > OPTIMUM_TOLERANCE)
                .map(|w| TARGET_SHARE * w),
            since: None,
            checked: 0,
            curve: Vec::new(),
        }
    }

    /// The measure, once the run has finished.
    pub fn rounds_to_95(&self) -> Option<usize> {
        self.since
    }

    fn check(&mut self, engine: &Engine<'_>) {
        self.checked = engine.rounds();
        if let Some(target) = self.target {
            let welfare = engine.window_welfare();
            self.curve.push((engine.rounds(), welfare));
            if welfare >= target {
                self.since.get_or_insert(engine.rounds());
            } else {
                self.since = None;
            }
        }
    }
}

impl Observe for Checkpoints {
    fn observe_round(&mut self, engine: &Engine<'_>) {
        self.check(engine);
    }

    /// The run's last round is a checkpoint too.
    fn observe_final(&mut self, engine: &Engine<'_>) {
        if engine.rounds() > self.checked {
            self.check(engine);
        }
    }
}

/// Runs the engine with [`Checkpoints`] attached — the same [`EngineRun`] as
/// [`crate::engine::run`] — and returns it with `rounds_to_95`.
///
/// rounds_to_95 is the first checkpoint from which the window welfare stays at or
/// above 95 % of W* to the end of the run. Deterministic for any thread count and
/// runtime, like the engine.
///
/// # Arguments
/// * `market`, `g`: the market and its G′.
/// * `options`: the engine options.
/// * `optimum`: the matching optimum W* (P3 in demand mode, P2 at the injected
///   amounts in feasible mode), `None` for no target.
///
/// # Returns
/// The run and its rounds_to_95 (`None` without a positive W*, or when the run never
/// gets there and stays).
///
/// # Errors
/// The engine's ([`EngineError`]).
///
/// # Complexity
/// That of [`crate::engine::run`], plus O(1) per checkpoint (every
/// [`CHECKPOINT_ROUNDS`] rounds).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::compare::run_with_checkpoints;
/// use brokerflow_solvers::engine::{EngineOptions, Injection, Variant};
/// let market = examples::tiny();
/// let g = ExpandedGraph::new(&market);
/// let o = EngineOptions::new(Variant::Fair, Injection::Demand);
/// // Without a positive optimum there is no target.
/// let (run, to_95) = run_with_checkpoints(&market, &g, &o, None).unwrap();
/// assert!(run.rounds > 0 && to_95.is_none());
/// ```
///
/// Paper: [MCF-Grid] §6 (how soon the distributed runs approach the optimum); the
/// measure is brokerflow's.
pub fn run_with_checkpoints(
    market: &Market,
    g: &ExpandedGraph,
    options: &EngineOptions,
    optimum: Option<f64>,
) -> Result<(EngineRun, Option<usize>), EngineError> {
    let mut checkpoints = Checkpoints::new(optimum);
    let mut observers = Observers::new();
    observers.push(&mut checkpoints, ObserverMode::Every(CHECKPOINT_ROUNDS));
    let run = engine::run_observed(market, g, options, &mut observers)?;
    Ok((run, checkpoints.rounds_to_95()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::{examples, ValidMarket};

    #[test]
    fn labels_round_trip_and_are_unique() {
        for m in Method::ALL {
            assert_eq!(Method::from_label(&m.label()), Some(m));
        }
        assert_eq!(Method::from_label("lp/nothing"), None);
    }

    #[test]
    fn lp_rows_measure_against_their_own_optimum() {
        let market = examples::tiny();
        let g = ExpandedGraph::new(&market);
        let mut o = CompareOptions::new();
        o.methods = vec![
            Method::Lp(Objective::Utility),
            Method::Lp(Objective::WorstUtility),
            Method::Lp(Objective::Welfare),
        ];
        let rows = compare_market(&market, &g, &o);
        assert!(rows.iter().all(|r| r.error.is_none()), "{rows:?}");
        let p2 = rows[0].welfare.unwrap();
        let p2m = rows[1].welfare.unwrap();
        let p3 = rows[2].welfare.unwrap();
        assert!(p2m <= p2 + 1e-9 && p2 <= p3 + 1e-9);
        assert_eq!(rows[1].optimum, Some(p2));
        // P2⁻ closes none of the gap, P2 all of it (when the ends differ).
        if p2 - p2m > 1e-6 {
            assert_eq!(rows[0].gap_closed, Some(1.0));
            assert_eq!(rows[1].gap_closed, Some(0.0));
        }
    }

    /// On tiny, welfare-seeking in feasible mode stops while u1's queue still drains
    /// (inside ε). Its window averages absorb more of u1 than the 5-job link u1→b1
    /// carries, but the row serves its steady flow: u1 at most a = 0.98·0.5·10 = 4.9
    /// (what its source admits, under the link's 5), so P2 at the served amounts is
    /// feasible, gap_closed is defined and at most 1, and the welfare counts no job a
    /// queue released. (Before, the row served the absorbed rates: 101.3 % of P2 and
    /// an infeasible P2 at them.)
    #[test]
    fn a_draining_queue_no_longer_inflates_the_served_amounts_or_the_welfare() {
        let market = examples::tiny();
        let g = ExpandedGraph::new(&market);
        let mut o = CompareOptions::new();
        o.methods = vec![Method::Engine {
            variant: Variant::WelfareSeeking,
            mode: InjectionMode::Feasible,
        }];
        let rows = compare_market(&market, &g, &o);
        let r = &rows[0];
        assert!(r.error.is_none(), "{r:?}");
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let u1 = r.flow.as_ref().unwrap().served(&g, 0);
        assert!(u1 <= 4.9 + 1e-12, "u1 served {u1}");
        let gap = r.gap_closed.unwrap();
        assert!((0.0..=1.0 + 1e-9).contains(&gap), "gap_closed {gap}");
    }

    #[test]
    fn a_bad_engine_setting_fails_only_the_engine_rows() {
        let market = examples::tiny();
        let g = ExpandedGraph::new(&market);
        let mut o = CompareOptions::new();
        o.engine.epsilon = -1.0;
        let rows = compare_market(&market, &g, &o);
        for r in &rows {
            match r.method {
                Method::Lp(_) => assert!(r.error.is_none(), "{r:?}"),
                Method::Engine { .. } => {
                    assert!(
                        r.error.as_ref().unwrap().to_string().contains("epsilon"),
                        "{r:?}"
                    )
                }
            }
        }
    }

    /// A failed LP fails every row that needs it, with the same typed error (one shared
    /// solve): its text with its causes is the LP error's own text, and P3's dual
    /// prices name themselves. HiGHS is compiled out of this build, so every LP fails
    /// with `LpError::NotEnabled`, whose text is written in its `#[error]`.
    #[cfg(not(feature = "highs"))]
    #[test]
    fn a_failed_lp_is_the_typed_error_of_every_row_that_needs_it() {
        let market = examples::tiny();
        let g = ExpandedGraph::new(&market);
        let mut o = CompareOptions::new();
        o.lp.backend = Backend::Highs;
        let rows = compare_market(&market, &g, &o);
        let not_enabled =
            "the highs backend is not enabled in this build (rebuild with `--features highs`)";
        assert_eq!(rows.len(), Method::ALL.len());
        for r in &rows {
            let e = r.error.as_ref().expect("every row needs an LP");
            assert!(matches!(e, RowError::Lp(_)), "{e:?}");
            assert_eq!(Causes(e).to_string(), not_enabled);
            assert!(r.percent_of_optimum.is_none());
        }
        // Every row holds the one P1 or P3 error, not a copy per row.
        let lp = |r: &MethodRow| match r.error.as_ref() {
            Some(RowError::Lp(e)) => Arc::clone(e),
            other => panic!("{other:?}"),
        };
        assert!(
            Arc::ptr_eq(&lp(&rows[1]), &lp(&rows[0])),
            "P2 fails with P1's error"
        );
        assert!(
            Arc::ptr_eq(&lp(&rows[6]), &lp(&rows[3])),
            "demand rows fail with P3's"
        );
        let prices = RowError::DualPrices(lp(&rows[3]));
        assert_eq!(
            Causes(&prices).to_string(),
            format!("P3 dual prices: {not_enabled}")
        );
        assert_eq!(
            RowError::NoBoundedFlow(Objective::Concurrent).to_string(),
            "the concurrent LP has no bounded flow"
        );
    }

    /// Every engine variant and mode, on a hand-sized and a generated market.
    fn engine_cases() -> Vec<(ValidMarket, EngineOptions)> {
        let generated = brokerflow_graphs::generate::generate(
            &brokerflow_graphs::generate::GeneratorConfig {
                users: 5,
                brokers: 3,
                providers: 3,
                ..Default::default()
            },
            1,
        )
        .unwrap();
        let mut out = Vec::new();
        for market in [examples::tiny(), generated] {
            let g = ExpandedGraph::new(&market);
            let delta = lp::max_concurrent_flow(&g, &LpOptions::default())
                .unwrap()
                .delta;
            for variant in Variant::ALL {
                for injection in [Injection::Demand, Injection::Feasible { delta }] {
                    let mut o = EngineOptions::new(variant, injection);
                    o.max_rounds = 3000;
                    out.push((market.clone(), o));
                }
            }
        }
        out
    }

    /// Driving the engine round by round changes nothing: the same `EngineRun`, every
    /// field (compared through `Debug`, so fields added later are compared too).
    #[test]
    fn checkpoints_leave_the_run_unchanged() {
        for (market, o) in engine_cases() {
            let g = ExpandedGraph::new(&market);
            let p3 = lp::max_welfare(&g, &LpOptions::default())
                .unwrap()
                .welfare(&g);
            let plain = crate::engine::run(&market, &g, &o).unwrap();
            for optimum in [p3, None, Some(1e12)] {
                let (watched, _) = run_with_checkpoints(&market, &g, &o, optimum).unwrap();
                assert_eq!(
                    format!("{watched:?}"),
                    format!("{plain:?}"),
                    "{} {:?}",
                    market.name,
                    o.variant
                );
            }
        }
    }

    /// The window welfare at every checkpoint (every 50th round and the last),
    /// recorded by a separate loop.
    fn checkpoints(market: &Market, g: &ExpandedGraph, o: &EngineOptions) -> Vec<(usize, f64)> {
        let mut e = Engine::new(market, g, o).unwrap();
        let mut out = Vec::new();
        while e.next_round() {
            if e.rounds() % 50 == 0 {
                out.push((e.rounds(), e.window_welfare()));
            }
        }
        if out.last().map(|c| c.0) != Some(e.rounds()) && e.rounds() > 0 {
            out.push((e.rounds(), e.window_welfare()));
        }
        out
    }

    /// rounds_to_95 against its definition, checked on the recorded checkpoints: R is
    /// a checkpoint, every checkpoint from R on is ≥ 0.95·W*, the one before R is not;
    /// `None` exactly when the last checkpoint falls short; undefined without a
    /// positive optimum.
    #[test]
    fn rounds_to_95_meets_its_definition() {
        let mut seen_some = 0;
        for (market, mut o) in engine_cases() {
            // A round limit that is not a multiple of 50 makes the last round a
            // checkpoint of its own.
            o.max_rounds = 730;
            o.window = 40;
            let g = ExpandedGraph::new(&market);
            let p3 = lp::max_welfare(&g, &LpOptions::default())
                .unwrap()
                .welfare(&g)
                .unwrap();
            let cps = checkpoints(&market, &g, &o);
            let last = cps.last().unwrap();
            assert!(last.0 <= 730);
            // Several optima: P3 itself, and values that put the target between
            // checkpoints' welfare.
            let mut optima = vec![p3, 1e12];
            optima.extend(cps.iter().map(|c| c.1 / 0.95));
            for w in optima {
                let (run, r) = run_with_checkpoints(&market, &g, &o, Some(w)).unwrap();
                assert_eq!(run.rounds, last.0);
                let target = 0.95 * w;
                match r {
                    None => assert!(last.1 < target || w <= OPTIMUM_TOLERANCE),
                    Some(r) => {
                        seen_some += 1;
                        let i = cps.iter().position(|c| c.0 == r).expect("a checkpoint");
                        assert!(cps[i..].iter().all(|c| c.1 >= target), "{r} {cps:?}");
                        assert!(i == 0 || cps[i - 1].1 < target, "{r} {cps:?}");
                    }
                }
            }
            assert_eq!(
                run_with_checkpoints(&market, &g, &o, Some(0.0)).unwrap().1,
                None
            );
            assert_eq!(
                run_with_checkpoints(&market, &g, &o, Some(-5.0)).unwrap().1,
                None
            );
        }
        assert!(seen_some > 0);
    }

    /// In compare_market's engine rows, rounds_to_95 agrees with percent_of_optimum
    /// at the end of the run (the last checkpoint's window welfare is the reported
    /// welfare): ≥ 95 % (with a margin for cycle cancelling) has a round, below none.
    #[test]
    fn compare_rows_carry_rounds_to_95() {
        let market = examples::tiny();
        let g = ExpandedGraph::new(&market);
        let rows = compare_market(&market, &g, &CompareOptions::new());
        for r in &rows {
            match r.method {
                Method::Lp(_) => assert_eq!(r.rounds_to_95, None),
                Method::Engine { .. } => {
                    let pct = r.percent_of_optimum.unwrap();
                    if pct >= 95.0 + 1e-6 {
                        let to = r.rounds_to_95.expect("reaches 95 %");
                        assert!(
                            to <= r.rounds.unwrap() && (to % 50 == 0 || to == r.rounds.unwrap())
                        );
                    } else if pct < 95.0 - 1e-6 {
                        assert_eq!(r.rounds_to_95, None, "{r:?}");
                    }
                }
            }
        }
    }
}
