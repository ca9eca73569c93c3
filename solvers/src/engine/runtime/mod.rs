//! Runtimes: how the nodes of G′ are scheduled (design §5, "Protocol and runtimes").
//! Every runtime runs every node through the protocol's step ([`super::protocol`]) and
//! reports per node; the engine's accounting reduces the reports in a fixed order. So
//! every runtime computes the same rounds, bit for bit, for any thread count.
//!
//! Which to pick:
//! - [`Runtime::Flat`] (default): the in-process runtime over flat state — per-pair
//!   arrays laid out by node and commodity, preallocated, nothing allocated in the
//!   round loop — parallel over chunks of nodes with rayon. The fast one.
//! - [`Runtime::Nodes`]: every node through the public, serialisable per-node step and
//!   its messages ([`super::node`]), as an embedding broker runs it. The reference.
//! - [`Runtime::Timely`]: the same owned per-node step on timely-dataflow \[Timely\],
//!   over worker threads and processes on several machines ([`timely`]).

pub mod flat;
pub mod nodes;
pub mod timely;

use std::collections::BTreeMap;

use brokerflow_graphs::Flow;
use serde::Serialize;
use thiserror::Error;

use super::accounting::RoundLedger;
use super::faults::{FaultOutcome, FaultPlan};
use super::setup::Setup;
use super::variants::{PushPolicy, WithPolicy};

/// The engine's runtimes.
///
/// The first paragraph of each variant's doc is its help on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// In process over flat arrays, parallel over chunks of nodes (fast).
    ///
    /// Flat state, preallocated ([`flat`]); the default.
    #[default]
    Flat,
    /// Every node through the public per-node step and its messages, as a broker
    /// embeds it (the reference; the same result, slower).
    ///
    /// The owned per-node step and its messages ([`nodes`]).
    Nodes,
    /// The per-node step on timely-dataflow, over --workers threads and --processes
    /// (local, or on several machines with --hosts); the same result.
    ///
    /// The cluster comes from [`timely::with_cluster`] ([`timely`]).
    Timely,
}

impl Runtime {
    /// Every runtime.
    pub const ALL: [Runtime; 3] = [Runtime::Flat, Runtime::Nodes, Runtime::Timely];

    /// `flat`, `nodes` or `timely`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Flat => "flat",
            Runtime::Nodes => "nodes",
            Runtime::Timely => "timely",
        }
    }

    /// The runtime named `name`, if any.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::str::FromStr for Runtime {
    type Err = super::UnknownChoice;

    fn from_str(name: &str) -> Result<Runtime, Self::Err> {
        Runtime::from_name(name).ok_or_else(|| {
            super::UnknownChoice::new("runtime", name, Runtime::ALL.map(Runtime::name))
        })
    }
}

/// Memory a runtime holds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Footprint {
    /// Configuration and round state: everything a round reads and writes.
    pub state: usize,
    /// The sliding window: every node's out-edge amounts and λ over the last `window`
    /// rounds (the history the reported averages are taken over).
    pub window: usize,
}

/// A runtime: runs rounds of every node and keeps every node's window.
pub trait Executor: Send {
    /// Which runtime this is.
    fn runtime(&self) -> Runtime;

    /// Runs one round of every node (announce, step, deliver) and writes every node's
    /// report into `ledger` (cleared first; reduced in node order). Returns the largest
    /// capacity excess of any node this round ([`super::accounting::capacity_excess`];
    /// −∞ when no node has a capacity).
    fn round(&mut self, ledger: &mut RoundLedger) -> f64;

    /// Window-averaged jobs moved per usable (edge, commodity) pair, circulation
    /// included.
    fn moved(&self) -> Flow;

    /// Per G′ node, the window-averaged λ (`None` for nodes of unlimited capacity).
    fn prices(&self) -> Vec<Option<f64>>;

    /// The memory held.
    fn footprint(&self) -> Footprint;

    /// The jobs moved per usable (edge, commodity) pair in the last round alone (for
    /// per-round welfare); `None` where the runtime does not keep it.
    fn last_round(&self) -> Option<Flow> {
        None
    }

    /// What the faults did so far, on a runtime running a fault schedule.
    fn fault_outcome(&self) -> Option<FaultOutcome> {
        None
    }

    /// Every node's state and the window, to save ([`super::replan`]); `None` where
    /// the runtime cannot give it.
    fn save(&self) -> Option<NodesState> {
        None
    }

    /// Takes every node's state out of `state` (what it takes is removed from the
    /// maps; what is left, the caller counts as dropped), and the window too when
    /// `window`. Refuses state that does not fit ([`LoadError`]); a window that does
    /// not fit ([`LoadError::is_window`]) is refused whole, after the nodes' state was
    /// taken and before anything of the window was, so the runtime runs on from the
    /// nodes' state with its window empty.
    fn load(&mut self, _state: &mut NodesState, _window: bool) -> Result<(), LoadError> {
        Err(LoadError::Unsupported(self.runtime()))
    }
}

/// Why a runtime refuses a saved state ([`Executor::load`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The runtime keeps no state to resume from (timely).
    #[error("the {} runtime cannot resume from a saved state (use flat or nodes)", .0.name())]
    Unsupported(Runtime),
    /// A queue's saved variant state is not the variant's.
    #[error("the variant's state of {commodity} at node {node}")]
    Policy {
        /// The commodity's index.
        commodity: usize,
        /// The node's index in G′.
        node: usize,
        /// Why the variant's reader refused it.
        #[source]
        source: serde_json::Error,
    },
    /// The window's rows of jobs sent do not match this run's out-edges.
    #[error("the saved window does not fit: {rows} rows of jobs sent, {out_edges} out-edges here")]
    SentRows {
        /// Rows saved.
        rows: usize,
        /// Out-edges of this run.
        out_edges: usize,
    },
    /// A round of the window's prices does not match this run's priced nodes.
    #[error(
        "the saved window does not fit: {prices} prices per round, {priced} priced nodes here"
    )]
    PriceColumns {
        /// Prices saved in the round.
        prices: usize,
        /// Priced nodes of this run.
        priced: usize,
    },
    /// The window's shape (jobs sent per out-edge, prices per priced node) does not
    /// match this run's.
    #[error("the saved window does not fit: {out_edges} out-edges and {priced} priced nodes here")]
    WindowShape {
        /// Out-edges of this run.
        out_edges: usize,
        /// Priced nodes of this run.
        priced: usize,
    },
    /// The window holds another number of rounds of prices than of jobs sent.
    #[error("the saved window must hold as many rounds of prices as of jobs sent")]
    PriceRounds,
    /// The saved window has more rounds than this run's window.
    #[error("the saved window is longer than this run's window")]
    TooLong,
}

impl LoadError {
    /// Whether the error is the window's shape (jobs sent, prices, rounds), not a
    /// node's state: the runtime then took the nodes' state and left its window empty
    /// ([`Executor::load`]).
    pub fn is_window(&self) -> bool {
        matches!(
            self,
            LoadError::SentRows { .. }
                | LoadError::PriceColumns { .. }
                | LoadError::WindowShape { .. }
                | LoadError::PriceRounds
                | LoadError::TooLong
        )
    }
}

/// Every node's changing state and the window, keyed by G′ indices: what a runtime
/// saves and resumes from ([`super::replan`] names the keys for a file). Key order is
/// the runtimes' own order — by node, then commodity, then edge — and the window's
/// columns follow it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodesState {
    /// Per (G′ node, commodity k): jobs held and the variant's state as JSON.
    pub queues: BTreeMap<(usize, usize), (f64, serde_json::Value)>,
    /// Per (G′ node, commodity k, G′ edge): x̄ of the node's last push over the edge
    /// (momentum's memory).
    pub pushed: BTreeMap<(usize, usize, usize), f64>,
    /// The window, oldest round first: per round, the jobs sent over every out-edge,
    /// in the order of `pushed`.
    pub sent: Vec<Vec<f64>>,
    /// The window, oldest round first: per round, λ of every node with a capacity
    /// that carries some commodity, in node order.
    pub lambda: Vec<Vec<f64>>,
}

impl Runtime {
    /// Whether the runtime runs fault schedules (design §5, "Faults"): every runtime
    /// does, with the same bits.
    pub fn supports_faults(self) -> bool {
        matches!(self, Runtime::Flat | Runtime::Nodes | Runtime::Timely)
    }
}

/// Builds a runtime for the setup's variant, running `faults` if given (only on a
/// runtime that [`Runtime::supports_faults`]; the engine refuses the others first).
pub(crate) fn executor<'g>(
    setup: &Setup<'_, 'g>,
    runtime: Runtime,
    faults: Option<&FaultPlan>,
) -> Box<dyn Executor + 'g> {
    struct Build<'s, 'm, 'g, 'f> {
        setup: &'s Setup<'m, 'g>,
        runtime: Runtime,
        faults: Option<&'f FaultPlan>,
    }
    impl<'g> WithPolicy for Build<'_, '_, 'g, '_> {
        type Output = Box<dyn Executor + 'g>;
        fn call<P: PushPolicy>(self) -> Self::Output {
            match self.runtime {
                Runtime::Flat => Box::new(flat::Flat::<P>::with_faults(self.setup, self.faults)),
                Runtime::Nodes => Box::new(nodes::Nodes::<P>::with_faults(self.setup, self.faults)),
                Runtime::Timely => {
                    Box::new(timely::Timely::<P>::with_faults(self.setup, self.faults))
                }
            }
        }
    }
    setup.options().variant.dispatch(Build {
        setup,
        runtime,
        faults,
    })
}
