//! The flags of the commands that run the engine (\[MCF-Grid\] §5) — its settings and
//! `--force`, the fault schedule, and `run`'s own — as a command line gives them. Each
//! field's doc is its flag's help.

use std::path::PathBuf;

use brokerflow_graphs::{ExpandedGraph, Market};

use super::faults::{self, FaultFile, FaultFileError};
use super::settings::EngineSettings;
use super::{InjectionMode, Runtime, Variant};
use crate::workload::Force;

/// The engine's flags as every command that runs it takes them: [`EngineSettings`]
/// and `--force` ([`Force`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EngineFlags {
    /// The engine's and the runtime's settings.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub settings: EngineSettings,
    /// `--force`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub size: Force,
}

/// `--faults`, shared by `run` and `compare`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct FaultFlags {
    /// Run under the fault schedule in FILE (JSON `{"seed": …, "faults": […]}`: nodes
    /// down, links cut, messages lost, delayed or duplicated, liars; see README
    /// "Faults"), and report what each fault cost and how soon the run recovered,
    /// against the fault-free run of the same market and options (run too). Runtimes
    /// flat and nodes (the same bits); timely refuses it.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub faults: Option<PathBuf>,
}

/// Run the distributed algorithm: every user, broker, provider and link decides each
/// round from its own queues and its neighbours' messages. Reports
/// whether it converged, the steady served rate per user, welfare, and optionally the
/// per-round trace, the window-averaged flows and every broker's routing table.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RunFlags {
    /// Market file (JSON).
    pub market: PathBuf,
    /// Push weights. welfare-seeking (the default) is the one to use for routing: it
    /// reaches 99 % or more of the welfare optimum P3 on the measured markets; fair and
    /// utility-aware are the paper's two methods ([MCF-Grid] §5), kept to reproduce
    /// and compare with it.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, default_value = "welfare-seeking")
    )]
    pub variant: Variant,
    /// What sources inject.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "demand"))]
    pub inject: InjectionMode,
    /// The engine's settings and `--force`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub engine: EngineFlags,
    /// Write the trace CSV: one row per (round, commodity) with injected, absorbed,
    /// queued, discarded, in_flight and lost (the ledger: cumulative injected =
    /// cumulative absorbed + queued + in_flight + cumulative discarded + cumulative
    /// lost, every round).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub trace: Option<PathBuf>,
    /// Write the window-averaged flow as CSV `commodity,from,to,flow` (as `solve`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub flows: Option<PathBuf>,
    /// Write every broker's routing table as CSV `broker,commodity,next_hop,fraction`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub routing: Option<PathBuf>,
    /// welfare-seeking only: write the engine's node prices (window-averaged λ, money
    /// per resource unit) beside P3's exact dual prices as CSV
    /// `node,engine_price,p3_price`, and report the price_error measure.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub prices: Option<PathBuf>,
    /// `--faults`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub faults: FaultFlags,
    /// Write the engine's state after the run (every node's queues, learned prices
    /// and push memory, the window, the ledger; with the options and the market's
    /// digest), to continue it with --resume.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub save_state: Option<PathBuf>,
    /// Continue from a state written by --save-state: on the same market, exactly where
    /// it stopped; on a market whose numbers changed (demands, capacities, costs, …;
    /// not its participants or links), re-planned from the saved queues. Needs the
    /// options the state was saved with (--rounds and --runtime may differ).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub resume: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// Write the run's window-averaged flow as a Graphviz DOT file: links labelled and
    /// drawn by flow, saturated links, brokers and providers (within ε) in red.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub dot: Option<PathBuf>,
    /// Write one self-contained HTML file (no network access): the market graph with
    /// the run's flows, its convergence curves (window welfare and served per user by
    /// round), its totals and, for welfare-seeking, its node prices.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub report: Option<PathBuf>,
}

impl std::ops::Deref for EngineFlags {
    type Target = EngineSettings;
    fn deref(&self) -> &EngineSettings {
        &self.settings
    }
}

impl FaultFlags {
    /// Reads and checks the fault file against the market, and refuses a runtime that
    /// does not run faults — before any work starts ([`faults::read_file`]).
    ///
    /// # Errors
    /// The file's [`FaultFileError`].
    pub fn load(
        &self,
        market: &Market,
        g: &ExpandedGraph,
        runtime: Runtime,
    ) -> Result<Option<FaultFile>, FaultFileError> {
        let read = |p| faults::read_file(p, runtime, market, g);
        self.faults.as_deref().map(read).transpose()
    }
}
