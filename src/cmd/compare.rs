//! `brokerflow compare`: the LP baselines and the distributed variants on one market,
//! side by side, in the measures of design §8.

use std::path::PathBuf;

use brokerflow_solvers::compare::{compare_market_observed, CompareOptions, Method};
use brokerflow_solvers::engine::Variant;
use brokerflow_solvers::lp::{LpOptions, Objective};
use brokerflow_solvers::workload;
use serde::Serialize;
use serde_json::json;

use crate::cmd::run::{engine_provenance, EngineArgs, FaultArgs, InjectArg};
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

/// One row of the comparison (design §8's measures; `None` where one does not apply).
#[derive(Debug, Serialize)]
struct Row {
    method: &'static str,
    mode: &'static str,
    welfare: Option<f64>,
    optimum: Option<f64>,
    percent_of_optimum: Option<f64>,
    gap_closed: Option<f64>,
    served_fraction: Option<f64>,
    rounds: Option<usize>,
    /// The first checkpoint round (every 50th and the last) from which the window
    /// welfare stays ≥ 95 % of `optimum` (defined in
    /// `brokerflow_solvers::compare::run_with_checkpoints`; design §8 has no such
    /// measure).
    rounds_to_95: Option<usize>,
    /// An alias of `gap_closed`, kept for readers of older outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    gap_closed_served: Option<f64>,
    /// Welfare-seeking demand rows: node prices against P3's duals.
    #[serde(skip_serializing_if = "Option::is_none")]
    price_error: Option<f64>,
    converged: Option<bool>,
    /// Under `--faults`: jobs lost, and the recovery rounds (design §5, "Faults").
    #[serde(skip_serializing_if = "Option::is_none")]
    jobs_lost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery: Option<serde_json::Value>,
    seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// Runs `compare` (on every process of a timely cluster; only process 0 prints).
pub fn run(args: Args) -> anyhow::Result<()> {
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, args.engine.runtime.into(), |_| run_here(args))
}

fn run_here(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        None => Method::ALL.to_vec(),
        Some(labels) => parse_methods(labels)?,
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
    let engine = args.engine.options(g, Variant::Fair, InjectArg::Demand)?;
    let checked = workload::check_methods(g, &methods, &engine, &workload::Limits::DEFAULT);
    crate::cmd::within_limits(&loaded.path, checked, args.engine.size.force)?;
    let fault_file = args.faults.load(&loaded, args.engine.runtime.into())?;
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
    let rows: Vec<Row> = computed
        .into_iter()
        .map(|r| Row {
            method: r.method.name(),
            mode: r.method.mode(),
            welfare: r.welfare,
            optimum: r.optimum,
            percent_of_optimum: r.percent_of_optimum,
            gap_closed: r.gap_closed,
            served_fraction: r.served_fraction,
            rounds: r.rounds,
            rounds_to_95: r.rounds_to_95,
            gap_closed_served: r.gap_closed_served,
            price_error: r.price_error,
            converged: r.converged,
            jobs_lost: r.faults.as_ref().map(|f| f.jobs_lost),
            recovery: r
                .faults
                .as_ref()
                .and_then(|f| serde_json::to_value(&f.recovery).ok()),
            seconds: r.seconds,
            notes: {
                let mut notes = r.notes;
                if let Some(f) = &r.faults {
                    notes.push(format!(
                        "faults: {} jobs lost; {}",
                        crate::cmd::fixed(f.jobs_lost, 4),
                        match f.recovery.rounds {
                            Some(n) => format!(
                                "window welfare back within 1 % of the fault-free run {} after round {}",
                                crate::cmd::count(n, "round"),
                                f.recovery.faults_end
                            ),
                            None => "window welfare NOT back within 1 % of the fault-free run".to_string(),
                        }
                    ));
                }
                notes
            },
        })
        .collect();
    if args.json {
        let value = json!({
            "market": {
                "name": loaded.market.name,
                "file": loaded.path.display().to_string(),
                "sha256": loaded.sha256,
            },
            "rows": rows,
            "approximate": "engine rows are averages over the last window of rounds; LP rows are exact to the solver tolerance",
            "provenance": engine_provenance(&loaded, backend, options.engine.runtime),
        });
        let mut value = value;
        if let Some(f) = &fault_file {
            value["provenance"]["faults"] = f.provenance();
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&loaded, &rows));
    }
    Ok(())
}

/// `--methods`: each label once, every one known.
fn parse_methods(labels: &[String]) -> anyhow::Result<Vec<Method>> {
    let mut methods: Vec<Method> = Vec::new();
    for label in labels {
        let m = Method::from_label(label.trim()).ok_or_else(|| {
            let known: Vec<String> = Method::ALL.iter().map(|m| m.label()).collect();
            anyhow::anyhow!(
                "--methods: unknown method '{label}' (known: {})",
                known.join(", ")
            )
        })?;
        if methods.contains(&m) {
            anyhow::bail!("--methods: '{label}' is listed twice");
        }
        methods.push(m);
    }
    if methods.is_empty() {
        anyhow::bail!("--methods: give at least one method");
    }
    Ok(methods)
}

fn render(loaded: &LoadedMarket, rows: &[Row]) -> String {
    use std::fmt::Write;
    let num =
        |x: Option<f64>, digits: usize| x.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "market '{}' ({})",
        loaded.market.name,
        loaded.path.display()
    );
    let _ = writeln!(
        out,
        "  {:<15} {:<14} {:>12} {:>12} {:>8} {:>7} {:>7} {:>7} {:>6} {:>5} {:>8}",
        "method",
        "mode",
        "welfare",
        "optimum",
        "% opt",
        "gap",
        "served",
        "rounds",
        "to 95%",
        "conv",
        "seconds"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<15} {:<14} {:>12} {:>12} {:>8} {:>7} {:>7} {:>7} {:>6} {:>5} {:>8.3}{}",
            r.method,
            r.mode,
            num(r.welfare, 3),
            num(r.optimum, 3),
            num(r.percent_of_optimum, 1),
            num(r.gap_closed, 3),
            num(r.served_fraction, 3),
            r.rounds.map_or("-".to_string(), |x| x.to_string()),
            r.rounds_to_95.map_or("-".to_string(), |x| x.to_string()),
            r.converged.map_or("-", |c| if c { "yes" } else { "no" }),
            r.seconds,
            if r.notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", r.notes.join("; "))
            }
        );
    }
    let _ = writeln!(
        out,
        "  % opt: welfare as a percentage of the matching optimum (feasible mode: P2 at the injected amounts; demand mode: P3). gap: share of the gap between the worst (P2-) and best (P2) routing of the amounts a row serves that its routing closes (engine rows: at their window-averaged absorbed rates). to 95%: the first round, checked every 50 rounds and at the last, from which the engine's window welfare stays >= 95 % of the optimum. Engine rows are averages over the last window of rounds."
    );
    out
}
