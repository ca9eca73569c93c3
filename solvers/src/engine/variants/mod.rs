//! The engine's variants: how a node weighs its pushes, behind one seam.
//!
//! A variant is a [`PushPolicy`]: the weights w^k_{n,n′} of the push problem, the
//! linear penalty of each move, what a node learns from its neighbours beyond their
//! queue heights, what its jobs carry, and how a source admits jobs. Everything else —
//! injection, balancing, reverse water-filling, delivery, the ledger — is the
//! protocol's ([`super::protocol`]) and the same for every variant.
//!
//! Which to pick:
//! - [`fair`]: every move weighs 1 (the paper's standard flow balancing); serves
//!   demand without regard to value or cost.
//! - [`utility_aware`]: a move weighs the utility it makes for its sender; only matters
//!   where a node is saturated.
//! - [`welfare_seeking`]: drift-plus-penalty, aiming at welfare itself (close to the
//!   LP's maximum welfare, with prices).
//!
//! Adding a variant: write one module with a type implementing [`PushPolicy`] and add
//! one line `Name => module::Type,` to the `variants!` list below; the engine, both
//! runtimes, the owned message types and `Variant::ALL` pick it up.

pub mod fair;
pub mod utility_aware;
pub mod welfare_seeking;

use std::fmt::Debug;

use brokerflow_graphs::ExpandedGraph;
use petgraph::graph::EdgeIndex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::protocol::Local;
use super::setup::Setup;

/// What the engine's per-node data of a variant must be: small, copyable, and able to
/// travel as JSON (the owned message and state types carry it).
pub trait Wire:
    Copy + Default + Debug + PartialEq + Send + Sync + Serialize + DeserializeOwned + 'static
{
}

impl<T> Wire for T where
    T: Copy + Default + Debug + PartialEq + Send + Sync + Serialize + DeserializeOwned + 'static
{
}

/// Nothing: the data of a variant that needs none (it serialises as no fields, so
/// messages and states of such a variant carry nothing extra).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nothing {}

/// One variant of the engine: the push weights and what they need (design §5).
///
/// The protocol calls these hooks in a fixed place of every node's step
/// ([`super::protocol::step`]); every runtime runs the same step, so a variant is
/// bit-identical under every runtime by construction. Implementations are unit types;
/// all hooks are static and inlined into the step.
pub trait PushPolicy:
    Debug + Clone + Copy + Default + PartialEq + Eq + Send + Sync + 'static
{
    /// The variant's name on the command line and in outputs.
    const NAME: &'static str;
    /// One line for `--help`.
    const SUMMARY: &'static str;

    /// What the nodes of a commodity know of it beyond [`Local`] (the same at every
    /// node).
    type Commodity: Wire;
    /// What a node knows of one usable out-edge of a commodity (e.g. its weight).
    type Edge: Wire;
    /// A node's changing state per commodity beyond the jobs it holds.
    type Slot: Wire;
    /// What a node announces per commodity beside its queue height.
    type Announce: Wire;
    /// What jobs carry beside their amount.
    type Stamp: Wire;
    /// What a node needs to push one commodity this round, derived from its slot.
    type Push: Copy;

    /// What every node of commodity k knows of it beyond [`Local`] (from G′ and the
    /// options; the same at every node, as if it travelled with the jobs).
    fn configure_commodity(setup: &Setup<'_, '_>, k: usize) -> Self::Commodity;

    /// The configuration of out-edge `e` for commodity `k`.
    fn configure_edge(setup: &Setup<'_, '_>, e: EdgeIndex, k: usize) -> Self::Edge;

    /// The default demand-mode source ceiling, a queue height
    /// (`EngineOptions::ceiling`); unused by a variant whose source has its own
    /// admission rule ([`PushPolicy::uses_ceiling`]).
    const DEFAULT_CEILING: f64 = 20.0;

    /// Whether a demand-mode source discards above the queue ceiling
    /// (`EngineOptions::ceiling`); a variant with its own admission rule says no.
    fn uses_ceiling() -> bool {
        true
    }

    /// A node's initial slot for a commodity (`collection`: the node is the
    /// commodity's collection point).
    fn initial(_collection: bool, _c: &Self::Commodity) -> Self::Slot {
        Self::Slot::default()
    }

    /// What the node announces of its slot to its in-neighbours.
    fn announce(_slot: &Self::Slot) -> Self::Announce {
        Self::Announce::default()
    }

    /// Phase 0 of the step, before injecting: learn from the out-neighbours'
    /// announcements, one per usable out-edge as (edge, into the collection point,
    /// what its head announced), in out-edge order.
    fn learn(
        _local: &Local,
        _c: &Self::Commodity,
        _slot: &mut Self::Slot,
        _outs: impl ExactSizeIterator<Item = (Self::Edge, bool, Self::Announce)>,
    ) {
    }

    /// The most jobs a source may hold after injecting this round (the excess is
    /// discarded); `None`: no limit. By default the configured ceiling.
    fn ceiling(local: &Local, _c: &Self::Commodity, _slot: &Self::Slot) -> Option<f64> {
        local.ceiling
    }

    /// After injecting, before pushing: the node sees the height q̄ of its own queues of
    /// the commodity (a source can adapt what it stamps on its jobs). Default: nothing.
    fn adapt(_local: &Local, _c: &Self::Commodity, _slot: &mut Self::Slot, _height: f64) {}

    /// Whether (and with what) the node pushes this commodity this round; `None`
    /// holds every job of it.
    fn push(local: &Local, c: &Self::Commodity, slot: &Self::Slot) -> Option<Self::Push>;

    /// The (weight, penalty) of the push term of one out-edge, or `None` to send
    /// nothing over it this round. `head` is what the edge's head announced (default
    /// when it is the collection point).
    fn term(
        local: &Local,
        push: &Self::Push,
        edge: &Self::Edge,
        into_sink: bool,
        head: &Self::Announce,
    ) -> Option<(f64, f64)>;

    /// What the node's jobs of this commodity carry this round.
    fn stamp(_slot: &Self::Slot) -> Self::Stamp {
        Self::Stamp::default()
    }

    /// A node takes delivery of jobs carrying `stamp`.
    fn receive(_slot: &mut Self::Slot, _stamp: &Self::Stamp) {}
}

/// Code generic over the variant, run for one [`Variant`] by [`Variant::dispatch`]:
/// the way to go from a runtime value to the statically typed policy.
pub trait WithPolicy {
    /// What the call returns.
    type Output;
    /// Runs with the variant's policy type.
    fn call<P: PushPolicy>(self) -> Self::Output;
}

macro_rules! variants {
    ($($name:ident => $module:ident :: $policy:ident),+ $(,)?) => {
        /// The push weights w^k_{n,n′} (design §5), one per [`PushPolicy`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Variant {
            $(
                #[doc = concat!("See [`", stringify!($module), "`].")]
                $name,
            )+
        }

        impl Variant {
            /// Every variant, in documentation order.
            pub const ALL: [Variant; [$(stringify!($name)),+].len()] = [$(Variant::$name),+];

            /// The name used on the command line and in outputs.
            pub fn name(self) -> &'static str {
                match self {
                    $(Variant::$name => <$module::$policy as PushPolicy>::NAME,)+
                }
            }

            /// The variant's default demand-mode source ceiling, a queue height
            /// ([`PushPolicy::DEFAULT_CEILING`]).
            pub fn default_ceiling(self) -> f64 {
                match self {
                    $(Variant::$name => <$module::$policy as PushPolicy>::DEFAULT_CEILING,)+
                }
            }

            /// One line describing the variant.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Variant::$name => <$module::$policy as PushPolicy>::SUMMARY,)+
                }
            }

            /// Runs `w` with this variant's policy type.
            pub fn dispatch<W: WithPolicy>(self, w: W) -> W::Output {
                match self {
                    $(Variant::$name => w.call::<$module::$policy>(),)+
                }
            }
        }
    };
}

variants! {
    Fair => fair::Fair,
    UtilityAware => utility_aware::UtilityAware,
    WelfareSeeking => welfare_seeking::WelfareSeeking,
}

impl Variant {
    /// The variant named `name` ([`Variant::name`]), if any.
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl std::str::FromStr for Variant {
    type Err = super::UnknownChoice;

    fn from_str(name: &str) -> Result<Variant, Self::Err> {
        Variant::from_name(name).ok_or_else(|| {
            super::UnknownChoice::new("variant", name, Variant::ALL.map(Variant::name))
        })
    }
}

/// The registry drives the command line: every registered variant is a value of
/// `--variant`, its [`PushPolicy::SUMMARY`] the value's help.
#[cfg(feature = "clap")]
impl clap::ValueEnum for Variant {
    fn value_variants<'a>() -> &'a [Self] {
        &Variant::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.summary()))
    }
}

impl Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The smallest valuation of any user with demand and a positive valuation: the
/// default floor of utility-aware weights (1e300 if there is none, so that the floor
/// never binds).
pub(crate) fn smallest_valuation(g: &ExpandedGraph) -> f64 {
    let floor = g
        .commodities
        .iter()
        .filter(|c| c.demand > 0.0 && c.valuation > 0.0)
        .map(|c| c.valuation)
        .fold(f64::INFINITY, f64::min)
        .min(1.0e300);
    if floor.is_finite() {
        floor
    } else {
        1.0
    }
}
