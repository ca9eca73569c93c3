//! Re-planning (design §5): the engine's state saved after a run, and a run resumed
//! from it — on the same market, or after its numbers changed.
//!
//! **What is saved** ([`SavedState`]): every node's jobs held per commodity, the
//! variant's state of each (a welfare-seeking node's learned cost to go and V_k, …),
//! every node's last push per out-edge (momentum's memory), the window of the last
//! rounds (jobs sent, λ, the ledger's), the cumulative ledger and the convergence
//! test's progress — and its provenance: brokerflow's version, the variant, the
//! injection mode, every option that changes the rounds, a digest of the market and
//! its participants. Nodes are named by their G′ names (`b1`, `u1->b1`, `t(u1)`),
//! commodities by their users' ids. Numbers are written as the shortest decimal
//! string that reads back to the same bits (a JSON number would not: readers may
//! round its last bit), so a resumed run computes the same bits.
//!
//! **Resuming** ([`resume`]):
//! - on the *same* market (the same digest), the run continues exactly where it
//!   stopped: the same rounds, bit for bit, as if it had never stopped, on any runtime
//!   that can save (`flat` and `nodes`); the round limit counts every round since the
//!   cold start.
//! - on a market that differs *in numbers only* (demands, requirements, valuations,
//!   capacities, bandwidths, costs, posted prices) it is **re-planned**: every job held
//!   stays where it is, in jobs (heights are re-normalised by the new demands: a user
//!   whose demand grew sees its queues lower), the variant's state carries over (what
//!   it learned from stale numbers it relearns from its neighbours within a few
//!   rounds), and each push memory is kept in jobs per round (x̄·d_old/d_new). The
//!   round count and the convergence test's stretch of settled rounds start afresh;
//!   the window does too, unless G′ kept its shape (the same usable pairs and priced
//!   nodes): then the saved window is carried into the convergence test and each new
//!   round replaces its oldest, so the test reads the run's settling from the first
//!   round on instead of waiting for a fresh window to fill ([`Resumed::window_carried`]).
//!   The stretch must still reach a whole window of rounds run on the new market
//!   (and the round limit is at least a window), so whenever the run stops its window
//!   holds only new rounds: the run converges — and reports — on the new market
//!   alone. Its ledger counts the jobs carried over as injected before round 1. A
//!   source holding more than its new ceiling discards the excess in the first round,
//!   counted as discarded as every discard is. Jobs held where the new market gives them no use — a user whose
//!   demand became 0, a node no longer on any usable path of the commodity (a
//!   capacity or bandwidth set to 0), a bandwidth node of a link that became unlimited
//!   — are dropped and counted per user ([`Resumed::dropped`]).
//! - a market with other participants or links is refused, naming what appeared and
//!   what vanished; so are a state whose options differ from the run's (naming them),
//!   and a malformed or truncated file ([`read_state`], [`StateError`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use brokerflow_graphs::{ExpandedGraph, Market};
use petgraph::graph::{EdgeIndex, NodeIndex};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use thiserror::Error;

use super::accounting::{Accounting, AccountsSnapshot};
use super::runtime::{LoadError, NodesState, Runtime};
use super::{Engine, EngineError, EngineOptions, Potential, Stop, Variant};

/// The `format` field of a state file.
pub const FORMAT: &str = "brokerflow engine state";

/// The `version` of the state format this build writes and reads.
pub const VERSION: u32 = 1;

/// Why a saved state cannot be read or resumed from.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not one JSON value: empty, cut short, text after it, or a key named twice (the
    /// shared JSON reader's refusal, [`brokerflow_graphs::json::read`]), at a JSON path.
    #[error("{path}: {message}")]
    Syntax {
        /// Where (`queues[3]`; `(top level)` for the whole text).
        path: String,
        /// What is wrong, with line and column where the reader has them.
        message: String,
    },
    /// JSON of the wrong shape: a missing, unknown or mistyped field, at a JSON path.
    #[error("{path}: {message}")]
    Shape {
        /// Where (`queues[3].held`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but it breaks a rule of the format.
    #[error("{path}: {rule}")]
    Invalid {
        /// Where.
        path: String,
        /// The rule.
        rule: String,
    },
    /// Saved with other options than the run's: the options that differ, each with
    /// its saved and its current value (a list of data, not a message).
    #[error("saved with other options than this run's: {0}")]
    Options(String),
    /// The market has other participants or links than the saved one: which (a list of
    /// data, not a message).
    #[error("the market has other participants than the saved state's (a resumed market may differ in numbers only): {0}")]
    Participants(String),
    /// The runtime cannot save its state (timely).
    #[error("the {} runtime cannot save its state (use flat or nodes)", .0.name())]
    CannotSave(Runtime),
    /// The runtime refuses the saved state.
    #[error(transparent)]
    Runtime(#[from] LoadError),
}

/// A number written as the shortest decimal that reads back to the same bits (as a
/// JSON string: JSON readers may round a number's last bit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exact(pub f64);

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:?}", self.0))
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Exact, D::Error> {
        let text = String::deserialize(d)?;
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Exact(x)),
            _ => Err(D::Error::custom(format!(
                "'{text}' is not a finite number (numbers are written as strings, e.g. \"2.5\")"
            ))),
        }
    }
}

fn exact(v: &[f64]) -> Vec<Exact> {
    v.iter().copied().map(Exact).collect()
}

fn plain(v: &[Exact]) -> Vec<f64> {
    v.iter().map(|x| x.0).collect()
}

fn exact_rows(rows: &[Vec<f64>]) -> Vec<Vec<Exact>> {
    rows.iter().map(|r| exact(r)).collect()
}

fn plain_rows(rows: &[Vec<Exact>]) -> Vec<Vec<f64>> {
    rows.iter().map(|r| plain(r)).collect()
}

/// The settings that change what a round computes, as saved; a resumed run must have
/// the same (the round limit and the runtime may differ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOptions {
    /// The potential Φ.
    pub potential: Potential,
    /// η.
    pub eta: Exact,
    /// ε.
    pub epsilon: Exact,
    /// Rounds of the window.
    pub window: usize,
    /// The queue ceiling in effect (demand mode; a queue height).
    pub ceiling: Exact,
    /// The utility-aware weight floor, if set.
    pub weight_floor: Option<Exact>,
    /// The welfare-seeking scale c in effect.
    pub welfare_scale: Exact,
    /// The momentum β in effect.
    pub momentum: Exact,
}

impl SavedOptions {
    /// The saved form of `o`.
    pub fn of(o: &EngineOptions) -> SavedOptions {
        SavedOptions {
            potential: o.potential,
            eta: Exact(o.eta),
            epsilon: Exact(o.epsilon),
            window: o.window,
            ceiling: Exact(o.effective_ceiling()),
            weight_floor: o.weight_floor.map(Exact),
            welfare_scale: Exact(o.effective_welfare_scale()),
            momentum: Exact(o.effective_momentum()),
        }
    }
}

/// What made a saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateProvenance {
    /// brokerflow's version.
    pub brokerflow: String,
    /// The market's name.
    pub market: String,
    /// SHA-256 of the market's canonical JSON ([`market_digest`]).
    pub market_digest: String,
    /// The variant's name.
    pub variant: String,
    /// `feasible` or `demand`.
    pub injection: String,
    /// The options that change the rounds.
    pub options: SavedOptions,
}

/// A link, by its endpoints' ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkId {
    /// The sender.
    pub from: String,
    /// The receiver.
    pub to: String,
}

/// Who is in the market: a resumed market must have exactly these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participants {
    /// User ids.
    pub users: Vec<String>,
    /// Broker ids.
    pub brokers: Vec<String>,
    /// Provider ids.
    pub providers: Vec<String>,
    /// Links.
    pub links: Vec<LinkId>,
}

impl Participants {
    /// The participants of `m`.
    pub fn of(m: &Market) -> Participants {
        Participants {
            users: m.users.iter().map(|u| u.id.clone()).collect(),
            brokers: m.brokers.iter().map(|b| b.id.clone()).collect(),
            providers: m.providers.iter().map(|p| p.id.clone()).collect(),
            links: m
                .links
                .iter()
                .map(|l| LinkId {
                    from: l.from.clone(),
                    to: l.to.clone(),
                })
                .collect(),
        }
    }

    /// What differs from `now`, in words (`None` if nothing does): per role, the ids
    /// that appeared and those that vanished.
    pub fn differences(&self, now: &Participants) -> Option<String> {
        let mut said = Vec::new();
        let mut compare = |role: &str, old: Vec<String>, new: Vec<String>| {
            let (old, new): (BTreeSet<_>, BTreeSet<_>) =
                (old.into_iter().collect(), new.into_iter().collect());
            let appeared: Vec<_> = new.difference(&old).cloned().collect();
            let vanished: Vec<_> = old.difference(&new).cloned().collect();
            if !appeared.is_empty() {
                said.push(format!("{role} {} appeared", appeared.join(", ")));
            }
            if !vanished.is_empty() {
                said.push(format!("{role} {} vanished", vanished.join(", ")));
            }
        };
        compare("user", self.users.clone(), now.users.clone());
        compare("broker", self.brokers.clone(), now.brokers.clone());
        compare("provider", self.providers.clone(), now.providers.clone());
        let link = |l: &LinkId| format!("{} -> {}", l.from, l.to);
        compare(
            "link",
            self.links.iter().map(link).collect(),
            now.links.iter().map(link).collect(),
        );
        (!said.is_empty()).then(|| said.join("; "))
    }
}

/// The convergence test's progress half a window into a settled stretch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WelfareMark {
    /// The window welfare then.
    pub welfare: Exact,
    /// Its gross amount.
    pub gross: Exact,
}

/// One node's jobs of one commodity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedQueue {
    /// The G′ node's name.
    pub node: String,
    /// The user's id.
    pub commodity: String,
    /// Jobs held.
    pub held: Exact,
    /// The variant's state (its numbers written as [`Exact`] strings).
    pub policy: Value,
}

/// One node's last push of one commodity over one out-edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPush {
    /// The sending G′ node's name.
    pub from: String,
    /// The receiving G′ node's name.
    pub to: String,
    /// The user's id.
    pub commodity: String,
    /// x̄ = jobs / d_k.
    pub pushed: Exact,
}

/// The window of the last rounds, oldest first (only an exact continuation uses it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedWindow {
    /// Per round, the jobs sent over every out-edge, in the order of `pushes`.
    pub sent: Vec<Vec<Exact>>,
    /// Per round, λ of every node with a capacity that carries a commodity, in G′
    /// node order.
    pub lambda: Vec<Vec<Exact>>,
    /// Per round, jobs discarded per commodity (in the market's user order).
    pub discarded: Vec<Vec<Exact>>,
    /// Per round, jobs absorbed per commodity.
    pub absorbed: Vec<Vec<Exact>>,
}

/// The ledger since the cold start and over the window, per commodity in the market's
/// user order (only an exact continuation uses it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedLedger {
    /// Jobs injected since the cold start (and carried in by a re-plan).
    pub injected: Vec<Exact>,
    /// Jobs discarded since the cold start.
    pub discarded: Vec<Exact>,
    /// Jobs absorbed since the cold start.
    pub absorbed: Vec<Exact>,
    /// The window's sums of injected, discarded, absorbed.
    pub window_injected: Vec<Exact>,
    /// See `window_injected`.
    pub window_discarded: Vec<Exact>,
    /// See `window_injected`.
    pub window_absorbed: Vec<Exact>,
    /// The largest ledger residual so far.
    pub max_ledger_residual: Exact,
    /// The largest capacity excess so far.
    pub max_capacity_violation: Exact,
}

/// The engine's state after some rounds: what a run resumes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedState {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// What made it.
    pub provenance: StateProvenance,
    /// Who was in the market.
    pub participants: Participants,
    /// Per user, the demand d_k the state was computed with (pushes are normalised by
    /// it).
    pub demands: BTreeMap<String, Exact>,
    /// Rounds run since the cold start.
    pub rounds: usize,
    /// Consecutive rounds in which every commodity passed the window test.
    pub satisfied_for: usize,
    /// The welfare half a window into the current settled stretch, if any.
    pub welfare_mark: Option<WelfareMark>,
    /// Why the run stopped, if it had.
    pub stop: Option<Stop>,
    /// Every node's jobs per commodity, in G′ node order, then commodity.
    pub queues: Vec<SavedQueue>,
    /// Every node's last push per commodity and out-edge, in G′ node order, then
    /// commodity, then edge.
    pub pushes: Vec<SavedPush>,
    /// The window.
    pub window: SavedWindow,
    /// The ledger.
    pub ledger: SavedLedger,
}

/// How a run resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResumeMode {
    /// The same market: the run went on exactly as if it had never stopped.
    Continued,
    /// The market's numbers changed: queues carried over, the counts afresh (the
    /// saved window only into the convergence test, when G′ kept its shape).
    #[serde(rename = "re-planned")]
    Replanned,
}

/// What resuming did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resumed {
    /// Continued or re-planned.
    pub mode: ResumeMode,
    /// Rounds the saved run had run.
    pub rounds_before: usize,
    /// Per commodity (in the market's user order), jobs carried over into the network.
    pub carried: Vec<f64>,
    /// Per commodity, jobs dropped because the new market gives them no use where
    /// they were held.
    pub dropped: Vec<f64>,
    /// Re-planned: rounds of the saved window the convergence test started from (0:
    /// it started afresh). Each is replaced by a round on the new market, and the run
    /// stops only after at least a window of new rounds, so what it reports is of the
    /// new market alone.
    pub window_carried: usize,
}

/// SHA-256 of the market's canonical JSON: the same for the same numbers and
/// participants, whatever the file's layout.
pub fn market_digest(market: &Market) -> String {
    brokerflow_graphs::input_hash(&serde_json::to_vec(market).unwrap_or_default())
}

/// Numbers inside a variant's state as [`Exact`] strings (and back, [`unexact`]).
fn exact_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => Value::String(format!("{x:?}")),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(exact_numbers).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, exact_numbers(v))).collect())
        }
        other => other,
    }
}

fn unexact(v: Value, path: &str) -> Result<Value, StateError> {
    Ok(match v {
        Value::String(s) => match s.parse::<f64>() {
            Ok(x) if x.is_finite() => Value::from(x),
            _ => {
                return Err(StateError::Invalid {
                    path: path.to_string(),
                    rule: format!("'{s}' is not a finite number"),
                })
            }
        },
        Value::Array(a) => Value::Array(
            a.into_iter()
                .enumerate()
                .map(|(i, v)| unexact(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let p = format!("{path}.{k}");
                    Ok((k, unexact(v, &p)?))
                })
                .collect::<Result<_, StateError>>()?,
        ),
        other => other,
    })
}

/// Why a state file cannot be read: the file, or its text ([`read_state`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateFileError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {error}")]
    Read {
        /// The file as named.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Its text is not a state this build reads.
    #[error("{path}: {error}")]
    Invalid {
        /// The file as named.
        path: String,
        /// Why.
        error: StateError,
    },
}

/// Reads and checks a state file written by [`write_state`] ([`read_state`] on its
/// text); errors name the file.
pub fn read_state_file(path: &std::path::Path) -> Result<SavedState, StateFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| StateFileError::Read {
        path: name.clone(),
        error,
    })?;
    read_state(&text).map_err(|error| StateFileError::Invalid { path: name, error })
}

/// Reads a state file's text with the shared JSON reader
/// ([`brokerflow_graphs::json::read`]: a leading byte-order mark skipped; an empty or
/// truncated text, text after the state and a key named twice refused): JSON of
/// [`SavedState`]'s shape, objects only (a record written as an array is refused),
/// every number finite, the format and version this
/// build writes, held jobs and pushes ≥ 0, no queue or push listed twice. Pure: text
/// in, typed result out.
///
/// # Arguments
/// * `text`: the state file's text.
///
/// # Returns
/// The [`SavedState`].
///
/// # Errors
/// [`StateError`], naming the JSON path.
///
/// # Complexity
/// O(size of the text).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::replan::{read_state, write_state};
/// use brokerflow_solvers::engine::{Engine, EngineOptions, Injection, Observers, Variant};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// let o = EngineOptions::new(Variant::UtilityAware, Injection::Demand);
/// let (_, saved) = Engine::new(&m, &g, &o)?.run_and_save(&mut Observers::new(), &m)?;
/// // A written state reads back as the same state.
/// assert_eq!(read_state(&write_state(&saved)).unwrap(), saved);
/// assert!(read_state("[]").is_err());
/// # Ok::<_, brokerflow_solvers::engine::EngineError>(())
/// ```
///
/// Paper: none (the state file is brokerflow's, design §5).
pub fn read_state(text: &str) -> Result<SavedState, StateError> {
    let value: Value = brokerflow_graphs::json::read(
        text,
        "",
        "saved state",
        "the file is empty; a saved state is the JSON object that --save-state writes",
    )
    .map_err(|e| StateError::Syntax {
        path: if e.path.is_empty() || e.path == "." {
            "(top level)".into()
        } else {
            e.path
        },
        message: e.message,
    })?;
    objects_only(&value)?;
    let state: SavedState = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        StateError::Shape {
            path: if path == "." {
                "(top level)".into()
            } else {
                path
            },
            message: e.into_inner().to_string(),
        }
    })?;
    let invalid = |path: String, rule: &str| {
        Err(StateError::Invalid {
            path,
            rule: rule.to_string(),
        })
    };
    if state.format != FORMAT {
        return invalid("format".into(), &format!("must be \"{FORMAT}\""));
    }
    if state.version != VERSION {
        return invalid(
            "version".into(),
            &format!("this build reads version {VERSION} only"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, q) in state.queues.iter().enumerate() {
        if q.held.0 < 0.0 {
            return invalid(format!("queues[{i}].held"), "jobs held cannot be negative");
        }
        if !seen.insert((&q.node, &q.commodity)) {
            return invalid(
                format!("queues[{i}]"),
                &format!(
                    "node {} and commodity {} are listed twice",
                    q.node, q.commodity
                ),
            );
        }
        unexact(q.policy.clone(), &format!("queues[{i}].policy"))?;
    }
    let mut seen = BTreeSet::new();
    for (i, p) in state.pushes.iter().enumerate() {
        if p.pushed.0 < 0.0 {
            return invalid(format!("pushes[{i}].pushed"), "a push cannot be negative");
        }
        if !seen.insert((&p.from, &p.to, &p.commodity)) {
            return invalid(
                format!("pushes[{i}]"),
                &format!(
                    "edge {} -> {} and commodity {} are listed twice",
                    p.from, p.to, p.commodity
                ),
            );
        }
    }
    let w = &state.window;
    if [w.lambda.len(), w.discarded.len(), w.absorbed.len()]
        .iter()
        .any(|&n| n != w.sent.len())
    {
        return invalid(
            "window".into(),
            "sent, lambda, discarded and absorbed must hold the same number of rounds",
        );
    }
    if w.sent.len() > state.rounds || w.sent.len() > state.provenance.options.window {
        return invalid(
            "window".into(),
            "holds more rounds than were run or than the window has",
        );
    }
    if state.satisfied_for > state.rounds {
        return invalid("satisfied_for".into(), "cannot exceed the rounds run");
    }
    Ok(state)
}

/// Refuses a record written as an array (or anything but an object) where the format
/// has an object: serde would read a struct from a sequence of its fields.
fn objects_only(v: &Value) -> Result<(), StateError> {
    let object = |v: Option<&Value>, path: &str, null_ok: bool| -> Result<(), StateError> {
        match v {
            None | Some(Value::Object(_)) => Ok(()),
            Some(Value::Null) if null_ok => Ok(()),
            Some(_) => Err(StateError::Shape {
                path: path.to_string(),
                message: "must be a JSON object".into(),
            }),
        }
    };
    object(Some(v), "(top level)", false)?;
    for key in ["provenance", "participants", "window", "ledger", "demands"] {
        object(v.get(key), key, false)?;
    }
    object(v.get("welfare_mark"), "welfare_mark", true)?;
    if let Some(p) = v.get("provenance") {
        object(p.get("options"), "provenance.options", false)?;
    }
    let each = |list: Option<&Value>, path: &str, inner: Option<&str>| -> Result<(), StateError> {
        if let Some(Value::Array(items)) = list {
            for (i, item) in items.iter().enumerate() {
                object(Some(item), &format!("{path}[{i}]"), false)?;
                if let Some(key) = inner {
                    object(item.get(key), &format!("{path}[{i}].{key}"), false)?;
                }
            }
        }
        Ok(())
    };
    each(v.get("queues"), "queues", Some("policy"))?;
    each(v.get("pushes"), "pushes", None)?;
    each(
        v.get("participants").and_then(|p| p.get("links")),
        "participants.links",
        None,
    )?;
    Ok(())
}

/// The state as the text of a state file (pretty JSON, one field per line).
pub fn write_state(state: &SavedState) -> String {
    let mut s = serde_json::to_string_pretty(state).unwrap_or_default();
    s.push('\n');
    s
}

/// Checks that `saved` was made with the options of `options` (other than the round
/// limit and the runtime), naming each that differs.
fn same_options(saved: &StateProvenance, o: &EngineOptions) -> Result<(), StateError> {
    let now = SavedOptions::of(o);
    let s = &saved.options;
    let mut differ = Vec::new();
    if saved.variant != o.variant.name() {
        differ.push(format!(
            "variant {} (now {})",
            saved.variant,
            o.variant.name()
        ));
    }
    if saved.injection != o.injection.name() {
        differ.push(format!(
            "injection {} (now {})",
            saved.injection,
            o.injection.name()
        ));
    }
    if s.potential != now.potential {
        differ
            .push(format!("potential {:?} (now {:?})", s.potential, now.potential).to_lowercase());
    }
    let mut num = |name: &str, a: Exact, b: Exact| {
        if a.0.to_bits() != b.0.to_bits() {
            differ.push(format!("{name} {} (now {})", a.0, b.0));
        }
    };
    num("eta", s.eta, now.eta);
    num("epsilon", s.epsilon, now.epsilon);
    num("ceiling", s.ceiling, now.ceiling);
    num("welfare_scale", s.welfare_scale, now.welfare_scale);
    num("momentum", s.momentum, now.momentum);
    if s.window != now.window {
        differ.push(format!("window {} (now {})", s.window, now.window));
    }
    if s.weight_floor.map(|x| x.0.to_bits()) != now.weight_floor.map(|x| x.0.to_bits()) {
        differ.push(format!(
            "weight_floor {:?} (now {:?})",
            s.weight_floor.map(|x| x.0),
            now.weight_floor.map(|x| x.0)
        ));
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(StateError::Options(differ.join(", ")))
    }
}

impl Engine<'_> {
    /// The engine's state after the rounds run so far, for `market` (the market it runs
    /// on: its digest and participants are recorded). Fails on a runtime that cannot
    /// save (timely).
    pub fn save(&self, market: &Market) -> Result<SavedState, StateError> {
        let g = self.g;
        let nodes = (self.runtime.save()).ok_or(StateError::CannotSave(self.runtime.runtime()))?;
        let name = |n: usize| g.node(NodeIndex::new(n)).name.clone();
        let id = |k: usize| g.commodities[k].id.clone();
        let edge_head = |e: usize| {
            g.graph
                .edge_endpoints(petgraph::graph::EdgeIndex::new(e))
                .map_or(0, |(_, h)| h.index())
        };
        let a = self.accounting.snapshot();
        let o = &self.options;
        Ok(SavedState {
            format: FORMAT.to_string(),
            version: VERSION,
            provenance: StateProvenance {
                brokerflow: env!("CARGO_PKG_VERSION").to_string(),
                market: market.name.clone(),
                market_digest: market_digest(market),
                variant: o.variant.name().to_string(),
                injection: o.injection.name().to_string(),
                options: SavedOptions::of(o),
            },
            participants: Participants::of(market),
            demands: g
                .commodities
                .iter()
                .map(|c| (c.id.clone(), Exact(c.demand)))
                .collect(),
            rounds: self.rounds,
            satisfied_for: self.satisfied_for,
            welfare_mark: self.welfare_mark.map(|(w, gross)| WelfareMark {
                welfare: Exact(w),
                gross: Exact(gross),
            }),
            stop: self.stop,
            queues: nodes
                .queues
                .iter()
                .map(|(&(n, k), (held, policy))| SavedQueue {
                    node: name(n),
                    commodity: id(k),
                    held: Exact(*held),
                    policy: exact_numbers(policy.clone()),
                })
                .collect(),
            pushes: nodes
                .pushed
                .iter()
                .map(|(&(n, k, e), &x)| SavedPush {
                    from: name(n),
                    to: name(edge_head(e)),
                    commodity: id(k),
                    pushed: Exact(x),
                })
                .collect(),
            window: SavedWindow {
                sent: exact_rows(&nodes.sent),
                lambda: exact_rows(&nodes.lambda),
                discarded: exact_rows(&a.window[0]),
                absorbed: exact_rows(&a.window[1]),
            },
            ledger: SavedLedger {
                injected: exact(&a.cumulative[0]),
                discarded: exact(&a.cumulative[1]),
                absorbed: exact(&a.cumulative[2]),
                window_injected: exact(&a.sums[0]),
                window_discarded: exact(&a.sums[1]),
                window_absorbed: exact(&a.sums[2]),
                max_ledger_residual: Exact(a.max_ledger_residual),
                max_capacity_violation: Exact(a.max_capacity_violation),
            },
        })
    }
}

/// An engine for `market` (G′ `g`, `options`) resumed from `saved`: continued exactly
/// on the same market, re-planned on one whose numbers changed (see the module
/// docs). Refuses a state made with other options (the round limit and the runtime
/// may differ), for other participants, or that does not fit G′. Re-planning is the
/// distributed algorithm's answer to a market that changes: the queues it has built
/// are its memory, and it goes on from them.
///
/// # Arguments
/// * `market`, `g`: the market now and its G′.
/// * `options`: the engine options (as saved, but for the round limit and runtime).
/// * `saved`: the state a run saved.
///
/// # Returns
/// The engine, ready to run on, and what resuming did ([`Resumed`]: continued or
/// re-planned, jobs carried over and dropped per commodity).
///
/// # Errors
/// [`EngineError`]: other options, other participants, a state that does not fit G′,
/// or the engine's own refusal of the options.
///
/// # Complexity
/// O(N + |P| + S) for N nodes of G′, |P| usable pairs and S entries in the state.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::engine::replan::{resume, ResumeMode};
/// use brokerflow_solvers::engine::{Engine, EngineOptions, Injection, Observers, Variant};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// let o = EngineOptions::new(Variant::Fair, Injection::Demand);
/// let (_, saved) = Engine::new(&m, &g, &o)?.run_and_save(&mut Observers::new(), &m)?;
/// // The same market: the run goes on exactly.
/// assert_eq!(resume(&m, &g, &o, &saved)?.1.mode, ResumeMode::Continued);
/// // u1 wants 8 instead of 10: the same participants, other numbers, re-planned.
/// let mut changed = m.clone().into_market();
/// changed.users[0].demand = 8.0;
/// let changed = changed.validate().expect("still a valid market");
/// let g2 = ExpandedGraph::new(&changed);
/// assert_eq!(resume(&changed, &g2, &o, &saved)?.1.mode, ResumeMode::Replanned);
/// # Ok::<_, brokerflow_solvers::engine::EngineError>(())
/// ```
///
/// Paper: [MCF-Grid] §5 (local rounds that adapt as the market changes); design §5.
pub fn resume<'g>(
    market: &Market,
    g: &'g ExpandedGraph,
    options: &EngineOptions,
    saved: &SavedState,
) -> Result<(Engine<'g>, Resumed), EngineError> {
    same_options(&saved.provenance, options)?;
    if let Some(d) = saved.participants.differences(&Participants::of(market)) {
        return Err(StateError::Participants(d).into());
    }
    let mut engine = Engine::new(market, g, options)?;
    let same = saved.provenance.market_digest == market_digest(market);
    let commodity: HashMap<&str, usize> = g
        .commodities
        .iter()
        .enumerate()
        .map(|(k, c)| (c.id.as_str(), k))
        .collect();
    let commodities = g.commodities.len();
    let mut dropped = vec![0.0; commodities];
    // Jobs of a user the new market does not know cannot be: the participants match.
    let mut nodes = NodesState::default();
    let mut unplaced = 0usize;
    for (i, q) in saved.queues.iter().enumerate() {
        let k = commodity.get(q.commodity.as_str()).copied();
        let n = g.node_named(&q.node);
        let policy = unexact(q.policy.clone(), &format!("queues[{i}].policy"))?;
        match (n, k) {
            (Some(n), Some(k)) => {
                nodes.queues.insert((n.index(), k), (q.held.0, policy));
            }
            (_, Some(k)) => {
                // A bandwidth node of a link that became unlimited.
                dropped[k] += q.held.0;
                unplaced += 1;
            }
            (_, None) => unplaced += 1,
        }
    }
    // Where each saved push landed, in the saved order (the window's column order).
    let mut placed = Vec::with_capacity(saved.pushes.len());
    for p in &saved.pushes {
        let (Some(&k), Some(a), Some(b)) = (
            commodity.get(p.commodity.as_str()),
            g.node_named(&p.from),
            g.node_named(&p.to),
        ) else {
            unplaced += 1;
            continue;
        };
        let Some(e) = g.graph.find_edge(a, b) else {
            unplaced += 1;
            continue;
        };
        // Kept in jobs per round: x̄ is normalised by the demand.
        let old = saved.demands.get(&p.commodity).map_or(0.0, |d| d.0);
        let now = g.commodities[k].demand;
        let x = if old == now || now <= 0.0 {
            p.pushed.0
        } else {
            p.pushed.0 * old / now
        };
        nodes.pushed.insert((a.index(), k, e.index()), x);
        placed.push((a.index(), k, e.index()));
    }
    let exact_fit = same && unplaced == 0;
    // The window's columns follow the saved pushes, so a column is read as its own
    // pair only if every push lands on one of this run's out-edges (a usable pair of a
    // commodity with jobs), in the runtimes' order (node, commodity, edge).
    let pairs = g.pairs();
    let columns_fit = placed.windows(2).all(|w| w[0] < w[1])
        && placed.iter().all(|&(_, k, e)| {
            engine.injection[k] > 0.0 && pairs.find(k, EdgeIndex::new(e)).is_some()
        });
    // A re-plan on a G′ of the same shape carries the saved window into the
    // convergence test (not into the run's averages: see the module docs), when the
    // run can replace every one of its rounds before it stops.
    let carry = !same
        && unplaced == 0
        && columns_fit
        && engine.stop.is_none()
        && options.window <= options.max_rounds
        && !saved.window.sent.is_empty();
    if exact_fit || carry {
        nodes.sent = plain_rows(&saved.window.sent);
        nodes.lambda = plain_rows(&saved.window.lambda);
    }
    let window_carried = match engine.runtime.load(&mut nodes, exact_fit || carry) {
        Ok(()) if carry => {
            debug_assert!(nodes.pushed.is_empty(), "every push found its pair");
            saved.window.sent.len()
        }
        Ok(()) => 0,
        // A re-plan's window of another shape: the runtime took the queues and pushes
        // and left its window fresh ([`LoadError::is_window`]).
        Err(e) if carry && e.is_window() => 0,
        Err(e) => return Err(StateError::Runtime(e).into()),
    };
    for (&(_, k), (held, _)) in &nodes.queues {
        dropped[k] += held;
    }
    let mut carried = vec![0.0; commodities];
    {
        // What the runtime took, per commodity, in node order (the ledger's order).
        let taken = engine.runtime.save().unwrap_or_default();
        for (&(_, k), (held, _)) in &taken.queues {
            carried[k] += held;
        }
    }
    let all_taken = nodes.queues.is_empty() && nodes.pushed.is_empty();
    if same && !(all_taken && unplaced == 0) {
        return Err(StateError::Invalid {
            path: "queues".into(),
            rule: format!(
                "the state names the same market but {} of its queues and pushes do not fit its G′ (an edited file?)",
                unplaced + nodes.queues.len() + nodes.pushed.len()
            ),
        }
        .into());
    }
    let mode = if same {
        let l = &saved.ledger;
        let snapshot = AccountsSnapshot {
            cumulative: [plain(&l.injected), plain(&l.discarded), plain(&l.absorbed)],
            window: [
                plain_rows(&saved.window.discarded),
                plain_rows(&saved.window.absorbed),
            ],
            sums: [
                plain(&l.window_injected),
                plain(&l.window_discarded),
                plain(&l.window_absorbed),
            ],
            max_ledger_residual: l.max_ledger_residual.0,
            max_capacity_violation: l.max_capacity_violation.0,
        };
        engine.accounting = Accounting::restored(
            engine.injection.clone(),
            options.window,
            &snapshot,
            &engine.injection,
        )
        .ok_or_else(|| StateError::Invalid {
            path: "ledger".into(),
            rule: format!("must hold one number per user ({commodities})"),
        })?;
        engine.rounds = saved.rounds;
        engine.satisfied_for = saved.satisfied_for;
        engine.welfare_mark = saved.welfare_mark.map(|m| (m.welfare.0, m.gross.0));
        // The round limit is this run's setting, not the state's: a run stopped by
        // it goes on.
        engine.stop = saved
            .stop
            .filter(|s| *s != Stop::RoundLimit)
            .or(engine.stop);
        ResumeMode::Continued
    } else {
        // Without faults every saved round injected the old a_k: the window's sum over
        // its rounds, per round.
        let (each, window) = match window_carried {
            0 => (vec![0.0; commodities], [Vec::new(), Vec::new()]),
            rounds => (
                plain(&saved.ledger.window_injected)
                    .iter()
                    .map(|x| x / rounds as f64)
                    .collect(),
                [
                    plain_rows(&saved.window.discarded),
                    plain_rows(&saved.window.absorbed),
                ],
            ),
        };
        let snapshot = AccountsSnapshot::replanned(&carried, &each, window);
        engine.accounting =
            Accounting::restored(engine.injection.clone(), options.window, &snapshot, &each)
                .ok_or_else(|| StateError::Invalid {
                    path: "window".into(),
                    rule: format!("must hold one number per user ({commodities}) per round"),
                })?;
        ResumeMode::Replanned
    };
    Ok((
        engine,
        Resumed {
            mode,
            rounds_before: saved.rounds,
            carried,
            dropped,
            window_carried,
        },
    ))
}

/// The variant named in a state, if this build knows it.
pub fn saved_variant(saved: &SavedState) -> Option<Variant> {
    Variant::from_name(&saved.provenance.variant)
}

impl Engine<'_> {
    /// Runs to the end with `observers` watching, as [`Engine::run`], and saves the
    /// state at the end ([`Engine::save`]) for `market`. A run that broke a capacity
    /// is an error ([`super::EngineRun::valid`]), and nothing is saved.
    pub fn run_and_save(
        mut self,
        observers: &mut super::Observers<'_>,
        market: &Market,
    ) -> Result<(super::EngineRun, SavedState), EngineError> {
        self.advance(usize::MAX, observers);
        observers.finish(&self);
        let saved = self.save(market)?;
        Ok((self.finish().valid()?, saved))
    }
}
