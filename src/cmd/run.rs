//! `brokerflow run`: the distributed potential-balancing algorithm on one market.

use brokerflow_experiments::report::{self as pictures, WelfareCurve};
use brokerflow_graphs::formats::flows_csv;
use brokerflow_solvers::engine::session::{self, SessionError, SessionOptions};
use brokerflow_solvers::engine::{replan, report, Engine, InjectionMode};
use brokerflow_solvers::engine::{Observe, ObserverMode, Observers};
use brokerflow_solvers::lp;
use indicatif::ProgressBar;

use crate::cmd::args::{engine_provenance, engine_within_limits, load_faults, sources};
use crate::cmd::output::Outputs;
use crate::cmd::LoadedMarket;

/// `run`'s arguments: the library's.
pub type Args = brokerflow_solvers::commands::RunFlags;

/// Runs `run` (on every process of a timely cluster; only process 0 writes).
pub fn run(mut args: Args) -> anyhow::Result<()> {
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, args.engine.runtime, |role| {
        // Saving gathers every process's nodes, and the report's welfare curve every
        // process's window: every process does both, process 0 writes.
        let (save, curve) = (args.save_state.is_some(), args.report.is_some());
        if !role.writes {
            (args.trace, args.flows, args.routing, args.prices) = (None, None, None, None);
            (args.save_state, args.dot, args.report) = (None, None, None);
        }
        run_here(args, save, curve)
    })
}

/// `run` in this process; `save`: the run saves its state, `curve`: it records the
/// report's welfare curve (each written only where its flag is still given).
fn run_here(args: Args, save: bool, curve: bool) -> anyhow::Result<()> {
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
    let runtime = args.engine.runtime;
    let resume = args
        .resume
        .as_deref()
        .map(replan::read_state_file)
        .transpose()?;
    let loaded = LoadedMarket::load(&args.market)?;
    let g = &loaded.graph;
    let fault_file = load_faults(&args.faults, &loaded, runtime)?;
    let plan = SessionOptions {
        faults: fault_file.as_ref().map(|f| f.plan.clone()),
        resume,
        save_state: save,
        trace: args.trace.is_some() || args.report.is_some(),
        prices: args.prices.is_some().then_some(args.engine.backend),
    };
    plan.check(args.variant, args.engine.welfare_scale)?;
    let p1 = match args.inject {
        InjectionMode::Feasible => &[lp::Objective::Concurrent][..],
        InjectionMode::Demand => &[],
    };
    engine_within_limits(&args.engine, &loaded, g, p1)?;
    let options = args.engine.options(g, args.variant, args.inject)?;
    let bar = crate::cmd::progress::counter(options.max_rounds as u64, "rounds");
    let (mut progress, mut welfare_curve) = (Progress(bar), WelfareCurve::default());
    let mut observers = Observers::new();
    observers.push(&mut progress, ObserverMode::Every(EVERY));
    if curve {
        observers.push(&mut welfare_curve, ObserverMode::Every(options.window));
    }
    let done = match session::run(&loaded.market, g, &options, &plan, &mut observers) {
        Err(SessionError::Resume(e)) => {
            let from = args.resume.as_deref().unwrap_or(&args.market).display();
            anyhow::bail!("--resume {from}: {e}")
        }
        other => other?,
    };
    drop(observers);
    let r = &done.run;
    let staged = [
        (
            &args.save_state,
            done.saved.as_ref().map(replan::write_state),
        ),
        (&args.trace, Some(report::trace_csv(g, &done.trace))),
        (
            &args.flows,
            Some(flows_csv::write_flows(&loaded.market, g, &r.flow)),
        ),
        (&args.routing, Some(report::routing_csv(g, &r.flow))),
    ];
    for (path, text) in staged {
        if let (Some(path), Some(text)) = (path, text) {
            outputs.stage(path, text);
        }
    }
    if let Some(path) = &args.dot {
        outputs.stage(path, pictures::run_dot(&loaded.market, g, r));
    }
    if let Some(path) = &args.report {
        let p = engine_provenance(&loaded, lp::Backend::DEFAULT, r.options.runtime);
        let curve = &welfare_curve.points;
        outputs.stage(
            path,
            pictures::run_html(&loaded.market, g, r, curve, &done.trace, &p),
        );
    }
    if let (Some(path), Some(p)) = (&args.prices, &done.prices) {
        outputs.stage(path, report::prices_csv(g, r, &p.duals));
    }
    outputs.commit()?;
    let mut sources = sources(&loaded, fault_file.as_ref());
    sources.resumed_from = args.resume.as_ref().map(|p| p.display().to_string());
    if args.json {
        let value = report::session_json(g, &done, &sources);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!(
            "{}",
            report::session_text(&loaded.market, g, &done, &sources)
        );
    }
    Ok(())
}

/// The progress display of a run on standard error ([`crate::cmd::progress`]): rounds
/// against the round limit and [`report::progress_message`], every [`EVERY`] rounds.
struct Progress(ProgressBar);

/// Rounds between two updates of the progress display.
const EVERY: usize = 20;

impl Observe for Progress {
    fn observe_round(&mut self, e: &Engine<'_>) {
        self.0.set_position(e.rounds() as u64);
        self.0.set_message(report::progress_message(e));
    }

    fn observe_final(&mut self, _: &Engine<'_>) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::{examples, ExpandedGraph};
    use brokerflow_solvers::engine::{EngineOptions, Injection, Variant};

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
        let mut progress = Progress(bar.clone());
        let mut observers = Observers::new();
        observers.push(&mut progress, ObserverMode::Every(EVERY));
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
