//! `brokerflow compare`: the LP baselines and the distributed variants on one market,
//! side by side, in the measures of design §8.

use std::path::PathBuf;

use brokerflow_solvers::compare::{
    compare_json_rows, compare_market_observed, compare_table, CompareOptions, Method,
};
use brokerflow_solvers::engine::{report::provenance, InjectionMode, Variant};
use brokerflow_solvers::lp::{LpOptions, Objective};
use brokerflow_solvers::workload;
use serde_json::json;

use crate::cmd::args::{engine_provenance, sources, EngineArgs, FaultArgs};
use crate::cmd::LoadedMarket;

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
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON).
    pub market: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Only these methods, comma-separated, in the spec's labels: lp/concurrent,
    /// lp/utility, lp/worst-utility, lp/welfare, and <variant>/<mode> for the variants
    /// fair, utility-aware, welfare-seeking and the modes feasible, demand (default:
    /// all ten).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub methods: Option<Vec<String>>,
    /// Engine rows run under this fault schedule (see `brokerflow run --help`), each
    /// with its fault-free run as reference: columns `lost` (jobs lost) and
    /// `recovery` (rounds after the last fault until the window welfare is back within
    /// 1 % of the fault-free run's; `never` if it is not by the end of the run).
    #[command(flatten)]
    pub faults: FaultArgs,
    /// Print `{"market": …, "rows": […]}` instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write every method's routing as a Graphviz DOT file (one graph per method):
    /// links labelled and drawn by flow, saturated resources in red.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Write one self-contained HTML file (no network access): the comparison table,
    /// every method's routing on the market graph and the engine rows' convergence
    /// curves (window welfare and served per user by round).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `compare` (on every process of a timely cluster; only process 0 prints).
pub fn run(args: Args) -> anyhow::Result<()> {
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, args.engine.runtime, |_| run_here(args))
}

fn run_here(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        None => Method::ALL.to_vec(),
        Some(labels) => {
            Method::parse_list(labels).map_err(|e| anyhow::anyhow!("--methods: {e}"))?
        }
    };
    let mut outputs = crate::cmd::output::Outputs::plan(
        &[&args.market],
        &[
            ("--dot", args.dot.as_ref()),
            ("--report", args.report.as_ref()),
        ],
    )?;
    let loaded = LoadedMarket::load(&args.market)?;
    let g = &loaded.graph;
    let engine = args
        .engine
        .options(g, Variant::Fair, InjectionMode::Demand)?;
    let checked = workload::check_methods(g, &methods, &engine, &workload::Limits::DEFAULT);
    crate::cmd::within_limits(&loaded.path, checked, args.engine.size.force)?;
    let fault_file = args.faults.load(&loaded, args.engine.runtime)?;
    let options = CompareOptions {
        methods,
        lp: LpOptions {
            backend: args.engine.backend,
            prices: false,
        },
        engine,
        trace: args.report.is_some(),
        faults: fault_file.as_ref().map(|f| f.plan.clone()),
    };
    let bar = crate::cmd::progress::counter(options.methods.len() as u64, "methods");
    let computed = compare_market_observed(&loaded.market, g, &options, &mut |i, m| {
        bar.set_position(i as u64);
        bar.set_message(m.label());
    });
    bar.finish_and_clear();
    if let Some(e) = computed.iter().find_map(|r| r.error.as_ref()) {
        anyhow::bail!("{e}");
    }
    let backend = computed
        .iter()
        .find(|r| r.method == Method::Lp(Objective::Welfare))
        .and_then(|r| r.backend)
        .unwrap_or(args.engine.backend);
    crate::cmd::report::stage_compare(
        &loaded,
        &computed,
        options.engine.epsilon,
        &engine_provenance(&loaded, backend, options.engine.runtime),
        (args.dot.as_ref(), args.report.as_ref()),
        &mut outputs,
    );
    outputs.commit()?;
    if args.json {
        let runtime = options.engine.runtime;
        let value = json!({
            "market": {
                "name": loaded.market.name,
                "file": loaded.path.display().to_string(),
                "sha256": loaded.sha256,
            },
            "rows": compare_json_rows(&computed),
            "approximate": "engine rows are averages over the last window of rounds; LP rows are exact to the solver tolerance",
            "provenance": provenance(&sources(&loaded, fault_file.as_ref()), backend, runtime),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let origin = loaded.path.display().to_string();
        print!("{}", compare_table(&loaded.market.name, &origin, &computed));
    }
    Ok(())
}
