//! The flags of the commands that solve LPs or run the engine, as a command line gives
//! them: the engine's settings and `--force`, the fault schedule, and the whole flag
//! structs of `run`, `compare`, `solve` and `evaluate` (\[MCF-Grid\] §4–5). Each field's
//! doc is its flag's help. Settlement's, the auctions' and the benchmarks' are beside
//! their computations (`settle::session`, `mca::settings`, `bench::command`).

use std::path::PathBuf;

use brokerflow_graphs::{ExpandedGraph, Market};

use crate::engine::faults::{self, FaultFile, FaultFileError};
use crate::engine::settings::EngineSettings;
use crate::engine::{InjectionMode, Runtime, Variant};
use crate::lp::Backend;
use crate::solve::SolveRequest;
use crate::workload::Force;

/// The limit `--verbose` lifts ([`SolveCommand::verbose`]).
#[allow(unused_imports)] // named by `--verbose`'s help, a doc link
use crate::lp::render::PER_USER_TABLE_LIMIT;

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

// `<variant>/<mode>` in the help is a placeholder the user reads, not HTML.
#[allow(rustdoc::invalid_html_tags)]
/// Compare on one market: the LP optima P1, P2, P2⁻, P3 and the distributed variants
/// `fair`, `utility-aware` and `welfare-seeking`, each in feasible and
/// in demand injection, with welfare,
/// percent of the matching optimum, share of the routing gap closed, served fraction,
/// rounds, rounds to reach and keep 95 % of the optimum, and time.
///
/// The optimum a distributed row is measured against: in feasible mode, P2 at the
/// amounts the engine injects ((1 − η)·min(δ*,1)·d_k); its gap_closed puts its welfare
/// between P2⁻ and P2 solved at the amounts it actually served (undefined where those
/// differ by at most 1e-3·max(1, |P2|), or on a cyclic market); in demand mode, P3.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CompareFlags {
    /// Market file (JSON).
    pub market: PathBuf,
    /// The engine's settings and `--force`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub engine: EngineFlags,
    /// Only these methods, comma-separated, in the spec's labels: lp/concurrent,
    /// lp/utility, lp/worst-utility, lp/welfare, and <variant>/<mode> for the variants
    /// fair, utility-aware, welfare-seeking and the modes feasible, demand (default:
    /// all ten).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', value_name = "LIST")
    )]
    pub methods: Option<Vec<String>>,
    /// `--faults`: engine rows run under this fault schedule (see `brokerflow run --help`), each
    /// with its fault-free run as reference: columns `lost` (jobs lost) and
    /// `recovery` (rounds after the last fault until the window welfare is back within
    /// 1 % of the fault-free run's; `never` if it is not by the end of the run).
    #[cfg_attr(feature = "clap", command(flatten))]
    pub faults: FaultFlags,
    /// Print `{"market": …, "rows": […]}` instead of a table.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// Write every method's routing as a Graphviz DOT file (one graph per method):
    /// links labelled and drawn by flow, saturated resources in red.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub dot: Option<PathBuf>,
    /// Write one self-contained HTML file (no network access): the comparison table,
    /// every method's routing on the market graph and the engine rows' convergence
    /// curves (window welfare and served per user by round).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub report: Option<PathBuf>,
}

/// Solve an LP baseline on a market: how much of each demand can be served (P1),
/// the best and worst routing of those amounts (P2, P2⁻), or the welfare optimum (P3).
///
/// Every solution is checked independently of the solver (flow conservation and
/// capacities from the graph's incidence matrix) before it is printed.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SolveCommand {
    /// Market file (JSON).
    pub market: PathBuf,
    /// Which LPs, and the solver.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub request: SolveRequest,
    /// Print one JSON object instead of the readable summary.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// Write the flow as CSV `commodity,from,to,flow` (to = `sink` for provider →
    /// collection rows; zero rows omitted).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub flows: Option<PathBuf>,
    /// Write the exact LP in CPLEX LP format, to re-solve it in any LP solver.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub export_lp: Option<PathBuf>,
    /// With `--objective welfare`: write the dual price of every resource as CSV
    /// `node,price` (bandwidth nodes named `u->v`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub prices: Option<PathBuf>,
    /// Write the routing of every solved LP as a Graphviz DOT file: links labelled and
    /// drawn by flow, saturated links, brokers and providers in red (render with
    /// `dot -Tsvg`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub dot: Option<PathBuf>,
    /// Write one self-contained HTML file (no network access): the market graph with
    /// every solved LP's flows, the table of the LPs and P3's prices.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub report: Option<PathBuf>,
    /// Print the per-user table even on a market of more than
    /// [`PER_USER_TABLE_LIMIT`] users (the totals are always printed first).
    #[cfg_attr(feature = "clap", arg(long))]
    pub verbose: bool,
    /// `--force`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub size: Force,
}

/// Score a routing written by anyone (brokerflow, a spreadsheet, another solver):
/// is it feasible (every violated constraint is named), how much of each demand
/// does it serve, what welfare does it make, and what percent of the welfare optimum
/// (P3) is that.
///
/// The flows file is CSV with the header `commodity,from,to,flow`: one row per user
/// (commodity), market link and amount, plus `provider,sink` rows for what each
/// provider completes for that user — the format `brokerflow solve --flows` writes.
///
/// Exit code 0 for a feasible routing, 4 for an infeasible one (its violations are
/// listed, and no percentage of the optimum is given for it), 1 for an error.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EvaluateCommand {
    /// Market file (JSON).
    pub market: PathBuf,
    /// The routing to score (CSV `commodity,from,to,flow`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FLOWS.csv"))]
    pub flows: PathBuf,
    /// LP backend for the P3 optimum (see `brokerflow solve --help`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub backend: Backend,
    /// Print one JSON object instead of text.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// `--force`.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub size: Force,
}
