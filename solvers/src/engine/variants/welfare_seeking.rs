//! `welfare-seeking`: drift-plus-penalty. Every push pays d_k × the move's cost
//! relative to the cheapest path (c_e + C_head − C_tail, C = the cheapest unit cost to
//! t_k; along a path these sum to its cost minus C at the source), with weight
//! d_k / V_k, so at a full node the multiplier λ is a price per resource unit in money.
//!
//! In demand mode a source admits jobs of k only while its queue height is below
//! V_k·(v_k − C_s) = c: users whose value does not cover the cheapest path admit
//! nothing. V_k = c / (v_k − C_s) in demand mode, c / C_s in feasible mode (jobs per
//! money unit: the user's own surplus or route cost sets the units); c is
//! `EngineOptions::welfare_scale`. Every node learns C by a distance-vector exchange
//! with its out-neighbours (in its announcements) and V_k from the jobs it receives
//! (the source stamps them, as the user's bid travels with its jobs in [MCF-Grid] §6).

use petgraph::graph::EdgeIndex;
use serde::{Deserialize, Serialize};

use super::PushPolicy;
use crate::engine::protocol::Local;
use crate::engine::setup::Setup;
use crate::engine::Injection;

/// The welfare-seeking variant's policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WelfareSeeking;

/// What a node needs to price the moves of one commodity k by their cost. Everything
/// else it learns from its neighbours' messages: its cheapest cost to t_k C^k_n by a
/// distance-vector exchange ([`ToGo`]), and the user's scale V_k from the jobs
/// themselves ([`Scale`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Shaping {
    /// c, dimensionless: the source sets V_k = c / (v_k − C^k_s) in demand mode (and
    /// its admission gate at height c), V_k = c / C^k_s in feasible mode, and stamps
    /// V_k on its jobs.
    pub scale: f64,
    /// Demand mode: the source admits jobs only while its value covers its cheapest
    /// route, up to height c (value-gated admission); feasible mode: no gate.
    pub gate: bool,
    /// v_k, the user's bid (it travels with its jobs, design §5).
    pub valuation: f64,
}

impl Shaping {
    /// V_k (jobs per money unit) as k's source sets it from its learned cheapest cost
    /// to go C^k_s: demand mode c / (v_k − C^k_s), `None` while the value does not
    /// cover it; feasible mode (amounts fixed, so only costs matter) c / C^k_s, or
    /// c / v_k (then c) where every route is free.
    pub fn source_scale(&self, to_go: f64) -> Option<f64> {
        if self.gate {
            let surplus = self.valuation - to_go;
            (surplus > 0.0).then(|| self.scale / surplus)
        } else if to_go > 0.0 {
            Some(self.scale / to_go)
        } else if self.valuation > 0.0 {
            Some(self.scale / self.valuation)
        } else {
            Some(self.scale)
        }
    }
}

/// An out-edge's unit cost c_e: moving one job of k over it (its sender's cost and the
/// link's), known locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// c_e.
    pub cost: f64,
}

/// An optional number in 8 bytes: costs to go and scales are finite, so NaN stands
/// for "not known". On the wire it is an `Option<f64>` (`null` for none).
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(from = "Option<f64>", into = "Option<f64>")]
pub struct Known(f64);

impl Known {
    /// Not known.
    pub const NONE: Known = Known(f64::NAN);

    /// From an option (a NaN value counts as not known).
    pub fn new(x: Option<f64>) -> Known {
        Known(x.unwrap_or(f64::NAN))
    }

    /// The value, if known.
    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }

    /// Whether it is not known.
    pub fn is_none(&self) -> bool {
        self.0.is_nan()
    }
}

impl Default for Known {
    fn default() -> Known {
        Known::NONE
    }
}

impl PartialEq for Known {
    fn eq(&self, other: &Known) -> bool {
        self.get().map(f64::to_bits) == other.get().map(f64::to_bits)
    }
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl From<Option<f64>> for Known {
    fn from(x: Option<f64>) -> Known {
        Known::new(x)
    }
}

impl From<Known> for Option<f64> {
    fn from(x: Known) -> Option<f64> {
        x.get()
    }
}

/// What a node has learned of one commodity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    /// C^k_n, this node's cheapest unit cost to t_k as learned so far from its
    /// out-neighbours (none = no route known yet; 0 at the collection point).
    pub to_go: Known,
    /// V_k, the user's scale, as set by k's source and learned from its jobs; none
    /// until known.
    pub scale: Known,
    /// At a feasible-mode source: rounds in which its queue stood above height c and
    /// still grew; V_k is eased by e^(−EASING·eased) (the network needs more pressure
    /// than the cost penalty lets through).
    #[serde(default)]
    pub eased: f64,
    /// At a source: its queue height after injecting, last round.
    #[serde(default)]
    pub last: f64,
}

/// Per round of a growing queue above height c, a feasible-mode source eases V_k by
/// this much (relative).
pub const EASING: f64 = 0.03;

/// A node's announced cost to go of one commodity: the distance-vector exchange
/// (static unit costs, so it settles after as many rounds as the longest cheapest
/// path has hops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ToGo {
    /// C^k, if the node knows one.
    #[serde(default, skip_serializing_if = "Known::is_none")]
    pub to_go: Known,
}

/// The user's V_k, stamped by its source on its jobs and carried with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// V_k, if the sender knew it.
    #[serde(default, skip_serializing_if = "Known::is_none")]
    pub scale: Known,
}

/// V_k as k's source sets it: [`Shaping::source_scale`] of its learned cost to go,
/// eased by e^(−EASING·eased) in feasible mode.
fn source_v(c: &Shaping, slot: &Learned) -> Known {
    let ease = (-EASING * slot.eased).exp();
    Known::new(
        slot.to_go
            .get()
            .and_then(|to_go| c.source_scale(to_go))
            .map(|v| v * ease),
    )
}

/// The head's cost to go over an out-edge: 0 at the collection point, else what the
/// head announced (`None`: it knows no route to t_k yet).
fn head_to_go(into_sink: bool, head: &ToGo) -> Option<f64> {
    if into_sink {
        Some(0.0)
    } else {
        head.to_go.get()
    }
}

impl PushPolicy for WelfareSeeking {
    const NAME: &'static str = "welfare-seeking";
    const SUMMARY: &'static str = "Drift-plus-penalty: pushes pay V × the move's cost, sources admit jobs only while their value covers the queue height";

    type Commodity = Shaping;
    type Edge = Cost;
    type Slot = Learned;
    type Announce = ToGo;
    type Stamp = Scale;
    /// (the weight d_k / V_k, C^k_n).
    type Push = (f64, f64);

    fn configure_commodity(setup: &Setup<'_, '_>, k: usize) -> Shaping {
        let o = setup.options();
        Shaping {
            scale: o.effective_welfare_scale(),
            gate: matches!(o.injection, Injection::Demand),
            valuation: setup.graph().commodities[k].valuation,
        }
    }

    fn configure_edge(setup: &Setup<'_, '_>, e: EdgeIndex, k: usize) -> Cost {
        Cost {
            cost: setup.graph().unit_cost(e, k),
        }
    }

    /// The source gates by value instead ([`PushPolicy::ceiling`]).
    fn uses_ceiling() -> bool {
        false
    }

    /// A collection point knows its own cost to go (0).
    fn initial(collection: bool, _: &Shaping) -> Learned {
        Learned {
            to_go: Known::new(collection.then_some(0.0)),
            scale: Known::NONE,
            eased: 0.0,
            last: 0.0,
        }
    }

    fn announce(slot: &Learned) -> ToGo {
        ToGo { to_go: slot.to_go }
    }

    /// One distance-vector step, C^k_n = min over out-edges of c_e + C^k_head; a source
    /// also sets its user's scale V_k.
    fn learn(
        local: &Local,
        c: &Shaping,
        slot: &mut Learned,
        outs: impl ExactSizeIterator<Item = (Cost, bool, ToGo)>,
    ) {
        if outs.len() > 0 {
            slot.to_go = Known::new(
                outs.filter_map(|(e, into_sink, head)| {
                    Some(e.cost + head_to_go(into_sink, &head)?)
                })
                .min_by(f64::total_cmp),
            );
        }
        if local.injection > 0.0 {
            slot.scale = source_v(c, slot);
        }
    }

    /// A feasible-mode source whose queue stands above height c and still grows eases
    /// V_k (and stamps the eased V_k on this round's jobs).
    fn adapt(local: &Local, c: &Shaping, slot: &mut Learned, height: f64) {
        if local.injection > 0.0 && !c.gate {
            if height > c.scale && height > slot.last {
                slot.eased += 1.0;
                slot.scale = source_v(c, slot);
            }
            slot.last = height;
        }
    }

    /// Demand mode: the gate is at height V_k·(v_k − C^k_s) = c, and nothing is
    /// admitted while the user's value does not cover its cheapest route (or no route
    /// is known yet). Feasible mode: no limit.
    fn ceiling(local: &Local, c: &Shaping, slot: &Learned) -> Option<f64> {
        if c.gate {
            Some(match slot.scale.get() {
                Some(_) => c.scale * local.queues as f64 * local.demand,
                None => 0.0,
            })
        } else {
            local.ceiling
        }
    }

    /// Without V_k or C_n the node holds its jobs.
    fn push(local: &Local, _: &Shaping, slot: &Learned) -> Option<(f64, f64)> {
        let (v, to_go) = (slot.scale.get()?, slot.to_go.get()?);
        Some((local.demand / v, to_go))
    }

    /// Weight d_k / V_k and penalty d_k × the reduced cost c_e + C_head − C_n ≥ 0 (zero
    /// on cheapest routes), so penalty / w = V_k × reduced cost and λ is a price per
    /// resource unit in money. An out-edge whose head knows no route to t_k yet gets
    /// nothing.
    fn term(
        local: &Local,
        &(weight, to_go): &(f64, f64),
        edge: &Cost,
        into_sink: bool,
        head: &ToGo,
    ) -> Option<(f64, f64)> {
        let head = head_to_go(into_sink, head)?;
        Some((weight, local.demand * (edge.cost + head - to_go).max(0.0)))
    }

    fn stamp(slot: &Learned) -> Scale {
        Scale { scale: slot.scale }
    }

    fn receive(slot: &mut Learned, stamp: &Scale) {
        if !stamp.scale.is_none() {
            slot.scale = stamp.scale;
        }
    }
}
