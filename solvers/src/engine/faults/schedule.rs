//! The fault file (design §5, "Faults"): `{"seed": 7, "faults": [ … ]}`, each fault a
//! half-open round range `from`..`to` and a `kind` with its own fields. [`parse`] reads
//! the text (objects only, no unknown or duplicate fields, JSON paths in errors);
//! [`FaultSchedule::check`] checks it against the market (known ids, sensible numbers,
//! no contradictory overlaps). Both refuse with one line naming the file, the JSON path
//! or id, and the rule, as the market reader does.

use std::fmt;

use brokerflow_graphs::json::{one_line, ParseError};
use brokerflow_graphs::{Market, Role};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The longest delay a fault may ask for, in rounds: longer would keep jobs in flight
/// past any sensible run (and its buffer growing for nothing).
pub const MAX_DELAY: u64 = 1_000;

/// A fault schedule: the seed of every random draw, and the faults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSchedule {
    /// Seed of the counter-based draws of message loss, delay and duplication.
    pub seed: u64,
    /// The faults, in file order (reports name them by this index).
    pub faults: Vec<Fault>,
}

/// One fault over the rounds `from ≤ round < to` (rounds count from 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    /// First round of the fault.
    pub from: u64,
    /// First round after it.
    pub to: u64,
    /// What goes wrong.
    pub kind: FaultKind,
}

/// What goes wrong during a fault (design §5, "Faults").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// A user, broker or provider neither sends nor receives; what it holds stays held.
    NodeDown {
        /// Its id.
        node: String,
    },
    /// A market link carries nothing (bandwidth 0).
    LinkCut {
        /// `[from, to]` of the link.
        link: [String; 2],
    },
    /// Each job message is lost with `probability` (seeded); its jobs count as lost.
    MessageLoss {
        /// In [0, 1].
        probability: f64,
        /// Only messages sent or received by this node.
        node: Option<String>,
        /// Only messages over this link.
        link: Option<[String; 2]>,
    },
    /// Job messages arrive `rounds` rounds late (each with `probability`, default 1).
    Delay {
        /// 1 to [`MAX_DELAY`].
        rounds: u64,
        /// In [0, 1]; `None` = every message.
        probability: Option<f64>,
    },
    /// Each message is delivered twice with `probability`; the copy is recognised and
    /// ignored (heights are states, jobs are applied once).
    Duplicate {
        /// In [0, 1].
        probability: f64,
    },
    /// The node announces its heights multiplied by `factor`.
    Liar {
        /// Its id.
        node: String,
        /// Positive and finite.
        factor: f64,
    },
}

impl FaultKind {
    /// The kind's name in the file: `node-down`, `link-cut`, `message-loss`, `delay`,
    /// `duplicate`, `liar`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::NodeDown { .. } => "node-down",
            FaultKind::LinkCut { .. } => "link-cut",
            FaultKind::MessageLoss { .. } => "message-loss",
            FaultKind::Delay { .. } => "delay",
            FaultKind::Duplicate { .. } => "duplicate",
            FaultKind::Liar { .. } => "liar",
        }
    }
}

impl fmt::Display for Fault {
    /// `node-down b1 [10, 40)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.name())?;
        match &self.kind {
            FaultKind::NodeDown { node } => write!(f, " {node}")?,
            FaultKind::LinkCut { link } => write!(f, " {}->{}", link[0], link[1])?,
            FaultKind::MessageLoss {
                probability,
                node,
                link,
            } => {
                write!(f, " p={probability}")?;
                if let Some(n) = node {
                    write!(f, " at {n}")?;
                }
                if let Some(l) = link {
                    write!(f, " on {}->{}", l[0], l[1])?;
                }
            }
            FaultKind::Delay {
                rounds,
                probability,
            } => {
                write!(f, " {rounds} rounds")?;
                if let Some(p) = probability {
                    write!(f, " p={p}")?;
                }
            }
            FaultKind::Duplicate { probability } => write!(f, " p={probability}")?,
            FaultKind::Liar { node, factor } => write!(f, " {node} x{factor}")?,
        }
        write!(f, " [{}, {})", self.from, self.to)
    }
}

/// Why a fault file was refused: one line naming the file, the JSON path or id, and the
/// rule.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FaultError {
    /// The text is not JSON of the fault file's shape (syntax, type, missing, unknown
    /// or duplicate field, an array where an object belongs).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The JSON has the right shape but breaks a rule.
    #[error("{}", one_line(&format!("{}: {}: {}", .origin, .at, .rule)))]
    Invalid {
        /// The file's name.
        origin: String,
        /// JSON path of the offender, e.g. `faults[2].node`.
        at: String,
        /// The rule broken.
        rule: FaultRule,
    },
}

impl FaultError {
    /// The rule broken, for an [`FaultError::Invalid`] refusal.
    pub fn rule(&self) -> Option<&FaultRule> {
        match self {
            FaultError::Invalid { rule, .. } => Some(rule),
            FaultError::Parse(_) => None,
        }
    }
}

/// A rule of the fault file.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum FaultRule {
    /// An id no participant of the market has.
    #[error("unknown id '{0}' (not a user, broker or provider of the market)")]
    UnknownId(String),
    /// A link the market does not have.
    #[error("the market has no link {0}->{1}")]
    UnknownLink(String, String),
    /// Rounds count from 1.
    #[error("from is 0: rounds count from 1")]
    RoundZero,
    /// An empty or reversed range.
    #[error("from {from} is not before to {to} (the range is half-open: from ≤ round < to)")]
    EmptyRange {
        /// `from`.
        from: u64,
        /// `to`.
        to: u64,
    },
    /// A probability outside [0, 1].
    #[error("probability {0} is outside [0, 1]")]
    Probability(f64),
    /// A liar's factor must be a positive finite number.
    #[error("factor {0} must be positive and finite")]
    Factor(f64),
    /// A delay of 0 or more than [`MAX_DELAY`] rounds.
    #[error("rounds {0} must be between 1 and {MAX_DELAY}")]
    DelayRounds(u64),
    /// `message-loss` takes `node` or `link`, not both.
    #[error("give node or link, not both")]
    NodeAndLink,
    /// A user announces to no one (it has no in-neighbours), so it cannot lie.
    #[error(
        "'{0}' is a user: users announce no heights (nothing sends to them), so a user cannot lie"
    )]
    LiarAtUser(String),
    /// Two faults that overlap in rounds and contradict or repeat each other.
    #[error("overlaps faults[{other}] ({what}) in rounds {from}..{to}: {why}")]
    Overlap {
        /// The index of the earlier fault.
        other: usize,
        /// That fault, in words.
        what: String,
        /// First round both are active.
        from: u64,
        /// First round after both.
        to: u64,
        /// Why the two cannot both hold.
        why: &'static str,
    },
}

/// What the fault file looks like on disk (kept apart from the public types so that
/// every field has one spelling).
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct WireSchedule {
    seed: u64,
    faults: Vec<WireFault>,
}

#[derive(Deserialize)]
#[serde(
    remote = "Self",
    tag = "kind",
    rename_all = "kebab-case",
    deny_unknown_fields
)]
enum WireFault {
    NodeDown {
        from: u64,
        to: u64,
        node: String,
    },
    LinkCut {
        from: u64,
        to: u64,
        link: [String; 2],
    },
    MessageLoss {
        from: u64,
        to: u64,
        probability: f64,
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        link: Option<[String; 2]>,
    },
    Delay {
        from: u64,
        to: u64,
        rounds: u64,
        #[serde(default)]
        probability: Option<f64>,
    },
    Duplicate {
        from: u64,
        to: u64,
        probability: f64,
    },
    Liar {
        from: u64,
        to: u64,
        node: String,
        factor: f64,
    },
}

impl From<WireFault> for Fault {
    fn from(w: WireFault) -> Fault {
        let (from, to, kind) = match w {
            WireFault::NodeDown { from, to, node } => (from, to, FaultKind::NodeDown { node }),
            WireFault::LinkCut { from, to, link } => (from, to, FaultKind::LinkCut { link }),
            WireFault::MessageLoss {
                from,
                to,
                probability,
                node,
                link,
            } => (
                from,
                to,
                FaultKind::MessageLoss {
                    probability,
                    node,
                    link,
                },
            ),
            WireFault::Delay {
                from,
                to,
                rounds,
                probability,
            } => (
                from,
                to,
                FaultKind::Delay {
                    rounds,
                    probability,
                },
            ),
            WireFault::Duplicate {
                from,
                to,
                probability,
            } => (from, to, FaultKind::Duplicate { probability }),
            WireFault::Liar {
                from,
                to,
                node,
                factor,
            } => (from, to, FaultKind::Liar { node, factor }),
        };
        Fault { from, to, kind }
    }
}

// serde's derived structs and tagged enums also take arrays (`[7, []]` as a
// schedule), which the file format does not allow: every record reads objects only.
brokerflow_graphs::object_only!(WireSchedule, "a fault file");
brokerflow_graphs::object_only!(WireFault, "a fault");

/// Parses a fault file's text (no market needed; [`FaultSchedule::check`] then checks
/// it against one). `origin` names the input in errors. Objects only, no unknown or
/// duplicate fields; numbers are checked here where no market is needed (ranges,
/// probabilities, factors, delays, `node` with `link`).
pub fn parse(text: &str, origin: &str) -> Result<FaultSchedule, FaultError> {
    let wire: WireSchedule = brokerflow_graphs::json::read(
        text,
        origin,
        "fault file",
        "the file is empty; a fault file is a JSON object {\"seed\": …, \"faults\": […]}",
    )?;
    let schedule = FaultSchedule {
        seed: wire.seed,
        faults: wire.faults.into_iter().map(Fault::from).collect(),
    };
    schedule.check_numbers(origin)?;
    Ok(schedule)
}

impl FaultSchedule {
    /// The first round after the last fault (0 when there is none): from this round on
    /// the network is whole again.
    pub fn end(&self) -> u64 {
        self.faults.iter().map(|f| f.to).max().unwrap_or(0)
    }

    /// Whether the schedule has no fault.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    fn check_numbers(&self, origin: &str) -> Result<(), FaultError> {
        let bad = |i: usize, field: &str, rule| FaultError::Invalid {
            origin: origin.to_string(),
            at: format!("faults[{i}].{field}"),
            rule,
        };
        for (i, f) in self.faults.iter().enumerate() {
            if f.from == 0 {
                return Err(bad(i, "from", FaultRule::RoundZero));
            }
            if f.from >= f.to {
                return Err(bad(
                    i,
                    "to",
                    FaultRule::EmptyRange {
                        from: f.from,
                        to: f.to,
                    },
                ));
            }
            let probability = |p: f64| (0.0..=1.0).contains(&p);
            match &f.kind {
                FaultKind::MessageLoss {
                    probability: p,
                    node,
                    link,
                } => {
                    if !probability(*p) {
                        return Err(bad(i, "probability", FaultRule::Probability(*p)));
                    }
                    if node.is_some() && link.is_some() {
                        return Err(bad(i, "link", FaultRule::NodeAndLink));
                    }
                }
                FaultKind::Duplicate { probability: p } if !probability(*p) => {
                    return Err(bad(i, "probability", FaultRule::Probability(*p)));
                }
                FaultKind::Delay {
                    rounds,
                    probability: p,
                } => {
                    if !(1..=MAX_DELAY).contains(rounds) {
                        return Err(bad(i, "rounds", FaultRule::DelayRounds(*rounds)));
                    }
                    if let Some(p) = p.filter(|p| !probability(*p)) {
                        return Err(bad(i, "probability", FaultRule::Probability(p)));
                    }
                }
                FaultKind::Liar { factor, .. } if !(factor.is_finite() && *factor > 0.0) => {
                    return Err(bad(i, "factor", FaultRule::Factor(*factor)));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks the schedule against `market` (`origin` names the fault file in errors):
    /// every id names a participant, every link is one of the market's, no user lies,
    /// and no two faults overlap in rounds where they repeat or contradict each other —
    /// the same node down twice, the same link cut twice, two losses on the same
    /// scope, two delays or two duplications at once (one probability or delay per
    /// message), two lies of one node, or a lie of a node that is down.
    pub fn check(&self, market: &Market, origin: &str) -> Result<(), FaultError> {
        self.check_numbers(origin)?;
        let bad = |i: usize, field: &str, rule| FaultError::Invalid {
            origin: origin.to_string(),
            at: format!("faults[{i}].{field}"),
            rule,
        };
        let node = |i: usize, field: &str, id: &str| match market.role_of(id) {
            Some(role) => Ok(role),
            None => Err(bad(i, field, FaultRule::UnknownId(id.to_string()))),
        };
        let link = |i: usize, field: &str, l: &[String; 2]| {
            for (j, id) in l.iter().enumerate() {
                node(i, &format!("{field}[{j}]"), id)?;
            }
            if market.links.iter().any(|x| x.from == l[0] && x.to == l[1]) {
                Ok(())
            } else {
                Err(bad(
                    i,
                    field,
                    FaultRule::UnknownLink(l[0].clone(), l[1].clone()),
                ))
            }
        };
        for (i, f) in self.faults.iter().enumerate() {
            match &f.kind {
                FaultKind::NodeDown { node: id } => {
                    node(i, "node", id)?;
                }
                FaultKind::LinkCut { link: l } => link(i, "link", l)?,
                FaultKind::MessageLoss {
                    node: id, link: l, ..
                } => {
                    if let Some(id) = id {
                        node(i, "node", id)?;
                    }
                    if let Some(l) = l {
                        link(i, "link", l)?;
                    }
                }
                FaultKind::Liar { node: id, .. } => {
                    if node(i, "node", id)? == Role::User {
                        return Err(bad(i, "node", FaultRule::LiarAtUser(id.clone())));
                    }
                }
                FaultKind::Delay { .. } | FaultKind::Duplicate { .. } => {}
            }
            for (j, g) in self.faults[..i].iter().enumerate() {
                let (from, to) = (f.from.max(g.from), f.to.min(g.to));
                if from >= to {
                    continue;
                }
                if let Some(why) = contradiction(&f.kind, &g.kind) {
                    return Err(bad(
                        i,
                        "from",
                        FaultRule::Overlap {
                            other: j,
                            what: g.to_string(),
                            from,
                            to,
                            why,
                        },
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Why two faults active in the same round cannot both hold, if they cannot.
fn contradiction(a: &FaultKind, b: &FaultKind) -> Option<&'static str> {
    use FaultKind::*;
    match (a, b) {
        (NodeDown { node: x }, NodeDown { node: y }) if x == y => {
            Some("the node is already down then")
        }
        (LinkCut { link: x }, LinkCut { link: y }) if x == y => {
            Some("the link is already cut then")
        }
        (
            MessageLoss {
                node: n1, link: l1, ..
            },
            MessageLoss {
                node: n2, link: l2, ..
            },
        ) if n1 == n2 && l1 == l2 => Some("two loss probabilities for the same messages"),
        (Delay { .. }, Delay { .. }) => Some("two delays for the same messages"),
        (Duplicate { .. }, Duplicate { .. }) => {
            Some("two duplication probabilities for the same messages")
        }
        (Liar { node: x, .. }, Liar { node: y, .. }) if x == y => {
            Some("the node cannot lie by two factors at once")
        }
        (Liar { node: x, .. }, NodeDown { node: y })
        | (NodeDown { node: y }, Liar { node: x, .. })
            if x == y =>
        {
            Some("a node that is down announces nothing, so it cannot lie")
        }
        _ => None,
    }
}

/// Reads and parses a fault file ([`parse`]).
pub fn load(path: &std::path::Path) -> Result<FaultSchedule, FaultError> {
    let origin = path.display().to_string();
    let refused = |message: String| ParseError {
        origin: origin.clone(),
        path: String::new(),
        message,
    };
    let text = std::fs::read(path).map_err(|e| refused(format!("cannot read: {e}")))?;
    let text = String::from_utf8(text).map_err(|_| refused("not UTF-8 text".to_string()))?;
    parse(&text, &origin)
}
