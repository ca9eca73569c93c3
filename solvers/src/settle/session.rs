//! One settlement as a command asks for it (design §6): the allocation — P3 at the
//! declared bids, or an engine variant's run in demand mode (\[MCF-Grid\] §5) — checked
//! against the size limits before it starts, then settled by a mechanism, with its
//! steps reported to the caller's observer. The command line's `settle` is this module
//! plus file IO and printing.

use std::path::PathBuf;
use std::sync::Arc;

use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use thiserror::Error;

use super::replicated::ReplicationSettings;
use super::{Allocation, AllocationRule, Declared, Mechanism, SettleError, SettleOptions};
use crate::commands::EngineFlags;
use crate::engine::settings::{EngineSettings, SettingsError};
use crate::engine::{InjectionMode, Runtime, Variant};
use crate::lp::Objective;
use crate::mca::{McaError, Rules};
use crate::workload::{self, TooLarge};

/// `--mechanism`'s values: the registry's names ([`super::MECHANISMS`]), with their
/// summaries as help.
#[cfg(feature = "clap")]
pub fn mechanism_parser() -> impl clap::builder::TypedValueParser<Value = &'static dyn Mechanism> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        super::MECHANISMS
            .iter()
            .map(|m| PossibleValue::new(m.name()).help(m.summary())),
    )
    .try_map(|name| name.parse::<&'static dyn Mechanism>())
}

/// What to settle and how: the allocation rule and the mechanism (design §6).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SettleSettings {
    /// Allocation to settle: lp (P3's welfare optimum at the declared bids), or the
    /// distributed engine's fair, utility-aware or welfare-seeking variant run in
    /// demand mode at the declared bids (its steady, window-averaged flow), with the
    /// engine flags below (--rounds, --window, ..., --runtime and its cluster).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "lp"))]
    pub allocation: AllocationRule,
    /// Settlement mechanism.
    #[cfg_attr(feature = "clap", arg(long, value_parser = mechanism_parser()))]
    pub mechanism: &'static dyn Mechanism,
}

// `<user>` and `<provider>` in the help are placeholders the user reads, not HTML.
#[allow(rustdoc::invalid_html_tags)]
/// Settle an allocation: a statement of who pays whom, per participant (volume,
/// pays, receives, utility = true value minus payments) and in total (welfare,
/// market surplus or deficit).
///
/// The mechanism runs on the declared bids: the market file's valuations and costs,
/// overridden by `--bids`. Utilities and welfare are at the market file's (true)
/// values, so `--bids` shows what a misreport would do to its author.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SettleCommand {
    /// Market file (JSON).
    pub market: PathBuf,
    /// The allocation and the mechanism.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub settle: SettleSettings,
    /// Declared bids overriding the market file: JSON
    /// {"valuations": {"<user>": v}, "costs": {"<broker or provider>": c},
    /// "entirety": {"<provider>": {"<user>": total ask for all of that user's lots}}}
    /// (every part optional; entirety asks are used by vickrey).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub bids: Option<PathBuf>,
    /// Write the statement as CSV `id,role,volume,pays,receives,utility`; totals and
    /// provenance go to FILE.json beside it.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the readable statement.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// The engine's settings for an engine allocation, the LP solver and `--force`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub engine: EngineFlags,
    /// The replicated auctioneer, if asked for.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub replication: ReplicationSettings,
    /// Conflict rules of --mechanism mca: cbba (information times, the default)
    /// or bid-time (see `mca --help`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "RULES"))]
    pub rules: Option<String>,
}

/// Called as VCG's P3 re-solves (one per trading participant, \[Dist-Auctioneer\])
/// finish, with (re-solves done, re-solves in all); from rayon's threads, in any order
/// of participants. The default calls nothing.
#[derive(Clone, Default)]
pub struct ResolveObserver(pub Option<Arc<dyn Fn(usize, usize) + Send + Sync>>);

impl ResolveObserver {
    /// An observer calling `f(done, of)`.
    pub fn new(f: impl Fn(usize, usize) + Send + Sync + 'static) -> ResolveObserver {
        ResolveObserver(Some(Arc::new(f)))
    }

    /// Reports that `done` of `of` re-solves have finished.
    pub fn resolved(&self, done: usize, of: usize) {
        if let Some(f) = &self.0 {
            f(done, of);
        }
    }
}

impl std::fmt::Debug for ResolveObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = if self.0.is_some() { "set" } else { "none" };
        write!(f, "ResolveObserver({set})")
    }
}

/// A step of [`run`], as its observer hears of it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Phase {
    /// The allocation is being computed by this rule.
    Allocating(AllocationRule),
    /// The allocation is being settled by this mechanism.
    Settling(&'static dyn Mechanism),
}

impl std::fmt::Display for Phase {
    /// One line for a progress display ("allocating: …", "settling: vcg").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::Allocating(rule) => match rule.variant() {
                None => write!(f, "allocating: P3 maximum welfare at the declared bids"),
                Some(v) => write!(
                    f,
                    "allocating: the {} engine run at the declared bids",
                    v.name()
                ),
            },
            Phase::Settling(m) => write!(f, "settling: {}", m.name()),
        }
    }
}

/// Why a settlement session refuses to start, or failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A runtime other than flat asked for with the LP's allocation, which runs no
    /// engine.
    #[error("--runtime {} runs the engine: use it with an engine allocation (--allocation fair, utility-aware or welfare-seeking)", .0.name())]
    RuntimeWithoutEngine(Runtime),
    /// Conflict rules for a mechanism other than `mca`.
    #[error("--rules applies to --mechanism mca only")]
    RulesWithoutMca,
    /// Conflict rules that do not parse.
    #[error(transparent)]
    Rules(McaError),
    /// Engine settings that cannot run.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The allocation's estimate is above the size limits (and `force` was not given).
    #[error(transparent)]
    TooLarge(TooLarge),
    /// The mechanism refused the market, or the allocation or settlement failed.
    #[error(transparent)]
    Settle(#[from] SettleError),
}

/// Refuses, before any file is read, settings that cannot run whatever the market:
/// engine settings that contradict each other, and an engine runtime with the LP's
/// allocation.
///
/// # Errors
/// [`SessionError::Settings`], [`SessionError::RuntimeWithoutEngine`].
pub fn check(settings: &SettleSettings, engine: &EngineSettings) -> Result<(), SessionError> {
    // Engine settings are refused up front, whichever allocation would use them.
    engine.settings(Variant::Fair)?;
    if settings.allocation.variant().is_none() && engine.runtime != Runtime::Flat {
        return Err(SessionError::RuntimeWithoutEngine(engine.runtime));
    }
    Ok(())
}

/// The [`SettleOptions`] of a session on `truth` (G′ `g`): the mechanism's own check of
/// the market first (so that its refusal comes before any allocation is computed),
/// then `rules`, the conflict rules of `mca` (\[CBBA\] by default).
///
/// # Errors
/// The mechanism's refusal, [`SessionError::RulesWithoutMca`], [`SessionError::Rules`].
pub fn options(
    truth: &ValidMarket,
    g: &ExpandedGraph,
    settings: &SettleSettings,
    engine: &EngineSettings,
    rules: Option<&str>,
) -> Result<SettleOptions, SessionError> {
    let mechanism = settings.mechanism;
    mechanism.check_market(truth, g)?;
    let mut options = SettleOptions {
        backend: engine.backend,
        ..SettleOptions::default()
    };
    if let Some(r) = rules {
        if mechanism.name() != super::mca::Mca.name() {
            return Err(SessionError::RulesWithoutMca);
        }
        options.rules = Rules::parse(r).map_err(SessionError::Rules)?;
    }
    Ok(options)
}

/// What a session made.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The statement: who pays whom.
    pub statement: super::Statement,
    /// Whether the engine's run converged (always true for the LP's allocation); a
    /// caller should say so if not, as the statement then settles the run's last
    /// window.
    pub converged: bool,
}

/// What [`run`] settles and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// The allocation rule and the mechanism.
    pub settings: SettleSettings,
    /// The engine's settings, for an engine allocation.
    pub engine: EngineSettings,
    /// The mechanism's options ([`options`]).
    pub options: SettleOptions,
    /// Start even above the size limits ([`workload::Limits::DEFAULT`]).
    pub force: bool,
    /// Settle; `false`: only allocate, as the processes of a timely cluster other than
    /// 0 do, which take part in the engine's rounds only.
    pub settles: bool,
}

/// Allocates at the declared bids and settles the allocation.
///
/// # Arguments
/// * `truth` — the market at true values; `declared` — it with the bids applied;
/// * `request` — the allocation rule, mechanism, engine settings and options;
/// * `observe` — told of each [`Phase`].
///
/// # Returns
/// The statement (`None` when the request does not settle), or why there is none.
///
/// # Complexity
/// One P3 (or one engine run of O(rounds × usable pairs)), then the mechanism's own
/// work (VCG: one P3 re-solve per trading participant).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::settings::EngineSettings;
/// use brokerflow_solvers::settle::session::{self, Request, SettleSettings};
/// use brokerflow_solvers::settle::{AllocationRule, Bids};
///
/// let truth = examples::tiny();
/// let g = ExpandedGraph::new(&truth);
/// let declared = Bids::default().apply(&truth).unwrap();
/// let settings = SettleSettings {
///     allocation: AllocationRule::Lp,
///     mechanism: "vcg".parse().unwrap(),
/// };
/// let engine = EngineSettings::default();
/// let options = session::options(&truth, &g, &settings, &engine, None).unwrap();
/// let request = Request { settings, engine, options, force: false, settles: true };
/// let done = session::run(&truth, &declared, &request, &mut |_| {}).unwrap();
/// assert!((done.unwrap().statement.welfare - 141.0).abs() < 1e-6);
/// ```
///
/// Paper: \[Dist-Auctioneer\] (VCG over P3); \[MCF-Grid\] §4–5 (the allocations).
pub fn run(
    truth: &ValidMarket,
    declared: &Declared,
    request: &Request,
    observe: &mut dyn FnMut(Phase),
) -> Result<Option<Settled>, SessionError> {
    let (settings, engine, options) = (&request.settings, &request.engine, &request.options);
    let g = ExpandedGraph::new(declared);
    let (rule, mechanism) = (settings.allocation, settings.mechanism);
    let p3 = match rule.variant().is_none() || mechanism.solves_lp() {
        true => &[Objective::Welfare][..],
        false => &[],
    };
    let rounds = rule.variant().map(|_| (engine.window, engine.rounds));
    let limits = workload::Limits::DEFAULT;
    let checked = workload::check_plan(&g, p3, rounds, &limits).and_then(|()| {
        match request.settles && mechanism.resolves_per_participant() {
            true => workload::vcg_estimate(&g).check(&limits),
            false => Ok(()),
        }
    });
    if !request.force {
        checked.map_err(SessionError::TooLarge)?;
    }
    observe(Phase::Allocating(rule));
    let (allocation, converged) = match rule.variant() {
        None => (Allocation::lp(&g, options.backend)?, true),
        Some(variant) => {
            // An engine variant run in demand mode at the declared bids ([MCF-Grid] §5).
            let o = engine.options(&g, variant, InjectionMode::Demand)?;
            Allocation::engine(declared, &g, &o)?
        }
    };
    if !request.settles {
        return Ok(None);
    }
    observe(Phase::Settling(mechanism));
    let statement = super::settle(truth, declared, &allocation, mechanism, options)?;
    Ok(Some(Settled {
        statement,
        converged,
    }))
}
