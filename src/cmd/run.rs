//! `brokerflow run`: the distributed potential-balancing algorithm on one market.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use brokerflow_graphs::formats::flows_csv;
use brokerflow_solvers::engine::faults::{self, FaultPlan, FaultReport, WelfareLog};
use brokerflow_solvers::engine::{
    self, Engine, EngineOptions, EngineRun, Observe, ObserverMode, Observers, Trace, Variant,
};
use brokerflow_solvers::lp::{self, Backend, LpOptions};
use brokerflow_solvers::measures;
use indicatif::ProgressBar;
use serde_json::json;

use crate::cmd::output::Outputs;
use crate::cmd::LoadedMarket;

pub mod state;

pub use crate::cmd::args::engine_provenance;
use crate::cmd::args::{EngineArgs, FaultArgs, InjectArg, VariantArg};

/// Run the distributed algorithm: every user, broker, provider and link decides each
/// round from its own queues and its neighbours' messages. Reports
/// whether it converged, the steady served rate per user, welfare, and optionally the
/// per-round trace, the window-averaged flows and every broker's routing table.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON).
    pub market: PathBuf,
    /// Push weights. welfare-seeking (the default) is the one to use for routing: it
    /// reaches 99 % or more of the welfare optimum P3 on the measured markets; fair and
    /// utility-aware are the paper's two methods ([MCF-Grid] §5), kept to reproduce
    /// and compare with it.
    #[arg(long, value_enum, default_value = "welfare-seeking")]
    pub variant: VariantArg,
    /// What sources inject.
    #[arg(long, value_enum, default_value = "demand")]
    pub inject: InjectArg,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Write the trace CSV: one row per (round, commodity) with injected, absorbed,
    /// queued, discarded, in_flight and lost (the ledger: cumulative injected =
    /// cumulative absorbed + queued + in_flight + cumulative discarded + cumulative
    /// lost, every round).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the window-averaged flow as CSV `commodity,from,to,flow` (as `solve`).
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// Write every broker's routing table as CSV `broker,commodity,next_hop,fraction`.
    #[arg(long, value_name = "FILE")]
    pub routing: Option<PathBuf>,
    /// welfare-seeking only: write the engine's node prices (window-averaged λ, money
    /// per resource unit) beside P3's exact dual prices as CSV
    /// `node,engine_price,p3_price`, and report the price_error measure.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    #[command(flatten)]
    pub faults: FaultArgs,
    /// Write the engine's state after the run (every node's queues, learned prices
    /// and push memory, the window, the ledger; with the options and the market's
    /// digest), to continue it with --resume.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,
    /// Continue from a state written by --save-state: on the same market, exactly where
    /// it stopped; on a market whose numbers changed (demands, capacities, costs, …;
    /// not its participants or links), re-planned from the saved queues. Needs the
    /// options the state was saved with (--rounds and --runtime may differ).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the run's window-averaged flow as a Graphviz DOT file: links labelled and
    /// drawn by flow, saturated links, brokers and providers (within ε) in red.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Write one self-contained HTML file (no network access): the market graph with
    /// the run's flows, its convergence curves (window welfare and served per user by
    /// round), its totals and, for welfare-seeking, its node prices.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// `--faults`, shared by `run` and `compare`.
/// Runs `run` (on every process of a timely cluster; only process 0 writes).
pub fn run(mut args: Args) -> anyhow::Result<()> {
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, args.engine.runtime.into(), |role| {
        if !role.writes {
            (args.trace, args.flows, args.routing, args.prices) = (None, None, None, None);
            args.save_state = None;
        }
        if !role.writes {
            (args.dot, args.report) = (None, None);
        }
        run_here(args)
    })
}

fn run_here(args: Args) -> anyhow::Result<()> {
    let mut inputs = vec![args.market.as_path()];
    inputs.extend(args.resume.as_deref());
    let mut outputs = Outputs::plan(
        &inputs,
        &[
            ("--trace", args.trace.as_ref()),
            ("--flows", args.flows.as_ref()),
            ("--routing", args.routing.as_ref()),
            ("--prices", args.prices.as_ref()),
            ("--save-state", args.save_state.as_ref()),
            ("--dot", args.dot.as_ref()),
            ("--report", args.report.as_ref()),
        ],
    )?;
    state::check_runtime(
        args.engine.runtime.into(),
        args.save_state.is_some(),
        args.resume.is_some(),
    )?;
    let saved = args.resume.as_deref().map(state::read).transpose()?;
    let loaded = LoadedMarket::load(&args.market)?;
    let g = &loaded.graph;
    let fault_file = args.faults.load(&loaded, args.engine.runtime.into())?;
    if fault_file.is_some() && (args.resume.is_some() || args.save_state.is_some()) {
        anyhow::bail!(
            "--faults cannot be combined with --save-state or --resume: a saved state does not carry the messages a fault schedule holds in flight"
        );
    }
    if args.engine.welfare_scale.is_some() && args.variant.0 != Variant::WelfareSeeking {
        anyhow::bail!(
            "--welfare-scale applies to --variant welfare-seeking only; {} has no welfare scale",
            args.variant.0.name()
        );
    }
    if args.prices.is_some() && args.variant.0 != Variant::WelfareSeeking {
        anyhow::bail!(
            "--prices needs --variant welfare-seeking: only its multipliers are prices in money per resource unit"
        );
    }
    let p1 = match args.inject {
        InjectArg::Feasible => &[lp::Objective::Concurrent][..],
        InjectArg::Demand => &[],
    };
    args.engine.within_limits(&loaded, g, p1)?;
    let options = args.engine.options(g, args.variant.into(), args.inject)?;
    let mut trace = Trace::default();
    let mut progress = Progress::new(&options);
    let mut observers = Observers::new();
    observers.push(&mut progress, ObserverMode::Every(Progress::EVERY));
    if args.trace.is_some() || args.report.is_some() {
        observers.push(&mut trace, ObserverMode::Always);
    }
    let plan = fault_file.as_ref().map(|f| &f.plan);
    let mut log = WelfareLog::from_round(plan.map_or(0, FaultPlan::end));
    if plan.is_some() {
        observers.push(&mut log, ObserverMode::Always);
    }
    let mut welfare_curve = crate::cmd::report::WelfareCurve::default();
    if args.report.is_some() {
        observers.push(&mut welfare_curve, ObserverMode::Every(options.window));
    }
    let start = Instant::now();
    let (result, state, resumed, fault_report) = if let Some(plan) = plan {
        let result =
            engine::run_with_faults(&loaded.market, g, &options, Some(plan), &mut observers)?;
        drop(observers);
        // What each fault cost, against the fault-free run (timed apart from the run).
        let fault_report = match &result.faults {
            Some(outcome) => {
                let mut reference = WelfareLog::from_round(plan.end());
                faults::reference_run(&loaded.market, g, &options, plan.end(), &mut reference)?;
                Some(FaultReport::new(plan, outcome, &log, &reference))
            }
            None => None,
        };
        (result, None, None, fault_report)
    } else {
        let (result, state, resumed) = state::run(
            &loaded,
            g,
            &options,
            &mut observers,
            args.resume.as_deref().zip(saved.as_ref()),
            args.save_state.is_some(),
        )?;
        (result, state, resumed, None)
    };
    let seconds = start.elapsed().as_secs_f64();
    if let (Some(path), Some(s)) = (&args.save_state, &state) {
        outputs.stage(path, engine::replan::write_state(s));
    }
    if let Some(path) = &args.trace {
        outputs.stage(path, trace_csv(&loaded, &trace));
    }
    if let Some(path) = &args.flows {
        outputs.stage(
            path,
            flows_csv::write_flows(&loaded.market, g, &result.flow),
        );
    }
    if let Some(path) = &args.routing {
        let mut csv = String::from("broker,commodity,next_hop,fraction\n");
        for r in engine::routing_table(g, &result.flow) {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                r.broker, r.commodity, r.next_hop, r.fraction
            ));
        }
        outputs.stage(path, csv);
    }
    crate::cmd::report::stage_run(
        &loaded,
        &result,
        &welfare_curve.points,
        &trace.rows,
        (args.dot.as_ref(), args.report.as_ref()),
        &mut outputs,
    );
    let mut price_error = None;
    if let Some(path) = &args.prices {
        let p3 = lp::max_welfare(
            g,
            &LpOptions {
                backend: args.engine.backend,
                prices: true,
            },
        )?;
        let duals = p3
            .prices
            .context("P3 gave no dual prices (no flow is possible)")?;
        let mut csv = String::from("node,engine_price,p3_price\n");
        for n in g.graph.node_indices() {
            if let Some(price) = result.prices[n.index()] {
                csv.push_str(&format!(
                    "{},{},{}\n",
                    g.node(n).name,
                    price,
                    duals[n.index()]
                ));
            }
        }
        outputs.stage(path, csv);
        price_error = Some(measures::price_error(&result.prices, &duals));
    }
    outputs.commit()?;
    if args.json {
        let mut value = to_json(&loaded, &result, seconds);
        if let Some(e) = &price_error {
            value["price_error"] = serde_json::to_value(e)?;
        }
        if let (Some(report), Some(file)) = (&fault_report, &fault_file) {
            value["faults"] = serde_json::to_value(report)?;
            value["faults"]["lost"] = json!(g
                .commodities
                .iter()
                .zip(&result.faults.as_ref().map_or(vec![], |f| f.lost.clone()))
                .map(|(c, x)| (c.id.clone(), json!(x)))
                .collect::<serde_json::Map<_, _>>());
            value["faults"]["recovery_share"] = json!(faults::RECOVERY_SHARE);
            value["provenance"]["faults"] = file.provenance();
        }
        if let (Some(r), Some(from)) = (&resumed, &args.resume) {
            value["resumed"] = state::to_json(g, r, from);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&loaded, &result, seconds));
        if let Some(report) = &fault_report {
            print!("{}", render_faults(report, &options));
        }
        if let (Some(r), Some(from)) = (&resumed, &args.resume) {
            print!("{}", state::render(r, from));
        }
        if let Some(e) = &price_error {
            match e.value {
                Some(v) => println!(
                    "  price_error {v:.4}: largest |engine - P3 dual| / largest P3 price (the engine's prices approach the duals like 1/welfare_scale)"
                ),
                None => println!("  price_error undefined: {}", e.reason.unwrap_or("")),
            }
        }
    }
    Ok(())
}

/// Node prices of a run by node name, in G′ node order (capacity-limited nodes only).
pub fn named_prices<'a>(loaded: &'a LoadedMarket, r: &EngineRun) -> Vec<(&'a str, f64)> {
    let g = &loaded.graph;
    g.graph
        .node_indices()
        .filter_map(|n| Some((g.node(n).name.as_str(), r.prices[n.index()]?)))
        .collect()
}

/// The progress display of a run on standard error ([`crate::cmd::progress`]): rounds
/// against the round limit with an ETA, the last round's residual (the share of what
/// the sources admitted that did not reach a collection point) and how long every
/// commodity has been satisfied. Attached as an observer, from outside the rounds.
struct Progress {
    bar: ProgressBar,
    window: usize,
}

impl Progress {
    /// Rounds between two updates.
    const EVERY: usize = 20;

    fn new(o: &EngineOptions) -> Progress {
        Progress::on(
            crate::cmd::progress::counter(o.max_rounds as u64, "rounds"),
            o,
        )
    }

    fn on(bar: ProgressBar, o: &EngineOptions) -> Progress {
        Progress {
            bar,
            window: o.window,
        }
    }
}

impl Observe for Progress {
    fn observe_round(&mut self, e: &Engine<'_>) {
        self.bar.set_position(e.rounds() as u64);
        self.bar.set_message(format!(
            "residual {}, satisfied for {} of {} rounds",
            crate::cmd::fixed(e.ledger().residual(), 4),
            e.satisfied_for(),
            self.window
        ));
    }

    fn observe_final(&mut self, _: &Engine<'_>) {
        self.bar.finish_and_clear();
    }
}

fn trace_csv(loaded: &LoadedMarket, trace: &Trace) -> String {
    let mut s = String::from("round,commodity,injected,absorbed,queued,discarded,in_flight,lost\n");
    for row in &trace.rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            row.round,
            loaded.graph.commodities[row.commodity].id,
            row.injected,
            row.absorbed,
            row.queued,
            row.discarded,
            row.in_flight,
            row.lost
        ));
    }
    s
}

/// The fault report in words: per fault what it cost, then the recovery.
fn render_faults(report: &FaultReport, o: &EngineOptions) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  faults (against the fault-free run of the same market and options):"
    );
    for f in &report.faults {
        let c = &f.counters;
        let _ = writeln!(
            out,
            "    [{}] {}: {} jobs lost in {}, {} jobs delayed, {} ignored, welfare lost over its rounds {}",
            f.fault,
            f.fault_text,
            crate::cmd::fixed(c.jobs_lost, 4),
            crate::cmd::count(c.messages_lost as usize, "message"),
            crate::cmd::fixed(c.jobs_delayed, 4),
            crate::cmd::count(c.duplicates_ignored as usize, "duplicate"),
            crate::cmd::fixed(f.welfare_lost, 4)
        );
    }
    let r = &report.recovery;
    let _ = writeln!(
        out,
        "  recovery: {} (window welfare {} vs fault-free {}; ε = {} of the convergence test)",
        match r.rounds {
            Some(n) => format!(
                "window welfare within {} % of the fault-free run {} after the last fault ended (round {})",
                faults::RECOVERY_SHARE * 100.0,
                crate::cmd::count(n, "round"),
                r.faults_end
            ),
            None => format!(
                "NOT back within {} % of the fault-free run by the end of the run",
                faults::RECOVERY_SHARE * 100.0
            ),
        },
        crate::cmd::fixed(r.final_welfare, 4),
        crate::cmd::fixed(r.reference_welfare, 4),
        o.epsilon
    );
    out
}

/// The run as JSON (also used by `compare`).
pub fn to_json(loaded: &LoadedMarket, r: &EngineRun, seconds: f64) -> serde_json::Value {
    let g = &loaded.graph;
    json!({
        "variant": r.options.variant,
        "injection": r.options.injection.name(),
        "converged": r.converged,
        "stop": r.stop,
        "rounds": r.rounds,
        "served": g.commodities.iter().enumerate()
            .map(|(k, c)| (c.id.clone(), json!(r.served(g, k))))
            .collect::<serde_json::Map<_, _>>(),
        "welfare": r.welfare(g),
        "circulation_cost": r.circulation_cost(g),
        "stranded": g.stranded().map(|c| c.id.clone()).collect::<Vec<_>>(),
        "settings": {
            "eta": r.options.eta, "epsilon": r.options.epsilon, "window": r.options.window,
            "max_rounds": r.options.max_rounds, "ceiling": r.options.ceiling,
            "potential": r.options.potential, "welfare_scale": (r.options.variant == Variant::WelfareSeeking).then(|| r.options.effective_welfare_scale()),
        },
        "approximate": "served and welfare are averages over the last window of rounds, trimmed to the steady flow they carry",
        "unsteady": g.commodities.iter().zip(&r.unsteady)
            .map(|(c, x)| (c.id.clone(), json!(x)))
            .collect::<serde_json::Map<_, _>>(),
        "queue_drift": g.commodities.iter().zip(&r.queue_drift)
            .map(|(c, x)| (c.id.clone(), json!(x)))
            .collect::<serde_json::Map<_, _>>(),
        "max_ledger_residual": r.max_ledger_residual,
        "max_capacity_violation": r.max_capacity_violation,
        "prices": (r.options.variant == Variant::WelfareSeeking).then(|| {
            named_prices(loaded, r)
                .into_iter()
                .map(|(n, p)| (n.to_string(), json!(p)))
                .collect::<serde_json::Map<_, _>>()
        }),
        "prices_approximate": (r.options.variant == Variant::WelfareSeeking).then_some(
            "window-averaged multipliers λ per resource unit; they approach P3's dual prices like 1/welfare_scale"),
        "seconds": seconds,
        "provenance": engine_provenance(loaded, Backend::DEFAULT, r.options.runtime),
    })
}

fn render(loaded: &LoadedMarket, r: &EngineRun, seconds: f64) -> String {
    use std::fmt::Write;
    let g = &loaded.graph;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} variant, {} injection on market '{}'",
        r.options.variant.name(),
        r.options.injection.name(),
        loaded.market.name
    );
    let _ = writeln!(
        out,
        "  {} after {} rounds ({:.3} s); averages over the last {} rounds",
        match r.stop {
            engine::Stop::Converged => "converged",
            engine::Stop::RoundLimit => "NOT converged: round limit reached",
            engine::Stop::NothingToRoute => "nothing to route",
        },
        r.rounds,
        seconds,
        r.options.window.min(r.rounds)
    );
    let _ = writeln!(out, "  welfare W = {:.6}", r.welfare(g));
    let _ = writeln!(out, "  served (steady rate) / demand per user:");
    for (k, c) in g.commodities.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {}  {:.6} / {}{}",
            c.id,
            r.served(g, k),
            c.demand,
            if c.is_stranded() { "  stranded" } else { "" }
        );
    }
    let drift = r.queue_drift.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let unsteady = r.unsteady.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let _ = writeln!(
        out,
        "  ledger residual {:.1e}, capacity violation {:.1e}; largest queue drift {:.1e} jobs/round, largest unsteady delivery {:.1e} (not counted as served)",
        r.max_ledger_residual, r.max_capacity_violation, drift, unsteady
    );
    if r.options.variant == Variant::WelfareSeeking {
        let scarce: Vec<String> = named_prices(loaded, r)
            .into_iter()
            .filter(|&(_, p)| p > 0.0)
            .map(|(n, p)| format!("{n} {p:.4}"))
            .collect();
        let _ = writeln!(
            out,
            "  node prices (money per resource unit, window-averaged; approximate, like 1/welfare_scale): {}",
            if scarce.is_empty() { "none positive".to_string() } else { scarce.join(", ") }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::{examples, ExpandedGraph};
    use brokerflow_solvers::engine::Injection;

    #[test]
    fn the_progress_observer_follows_the_rounds_and_finishes() {
        let m = examples::tiny();
        let g = ExpandedGraph::new(&m);
        let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
        let bar = crate::cmd::progress::counter_on(
            indicatif::ProgressDrawTarget::hidden(),
            o.max_rounds as u64,
            "rounds",
        );
        let mut progress = Progress::on(bar.clone(), &o);
        let mut observers = Observers::new();
        observers.push(&mut progress, ObserverMode::Every(Progress::EVERY));
        let mut engine = Engine::new(&m, &g, &o).unwrap();
        // tiny converges after 120 rounds: 50 rounds run and are shown at 40.
        assert_eq!(engine.advance(50, &mut observers), 50);
        assert_eq!((bar.position(), bar.length()), (40, Some(20_000)));
        assert!(bar.message().starts_with("residual "), "{}", bar.message());
        assert!(
            bar.message().ends_with(" of 50 rounds"),
            "{}",
            bar.message()
        );
        drop(observers);
        progress.observe_final(&engine);
        assert!(bar.is_finished());
    }
}
