//! `brokerflow solve`: the LP baselines P1, P2, P2⁻ and P3 on one market, a thin
//! adapter over `brokerflow_solvers::lp::session`.

use anyhow::Context;
use brokerflow_experiments::report::{lp_dot, lp_html, LpPicture};
use brokerflow_graphs::formats::flows_csv;
use brokerflow_solvers::lp::{render, Objective};
use brokerflow_solvers::workload;

use crate::cmd::output::Outputs;
use crate::cmd::{provenance, LoadedMarket};

/// `solve`'s arguments: the library's.
pub type Args = brokerflow_solvers::commands::SolveCommand;

/// Runs `solve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let objectives = &args.request.objective;
    let single = objectives.len() == 1;
    if !single && (args.flows.is_some() || args.export_lp.is_some() || args.prices.is_some()) {
        anyhow::bail!(
            "--flows, --export-lp and --prices write one LP's result: give exactly one --objective"
        );
    }
    if args.prices.is_some() && objectives[..] != [Objective::Welfare] {
        anyhow::bail!("--prices needs --objective welfare: only P3's duals are market prices");
    }
    let files = [
        ("--flows", args.flows.as_ref()),
        ("--export-lp", args.export_lp.as_ref()),
        ("--prices", args.prices.as_ref()),
        ("--dot", args.dot.as_ref()),
        ("--report", args.report.as_ref()),
    ];
    let mut outputs = Outputs::plan(&[&args.market], &files)?;
    let loaded = LoadedMarket::load(&args.market)?;
    let (market, g) = (&loaded.market, &loaded.graph);
    let plan = workload::check_plan(g, objectives, None, &workload::Limits::DEFAULT);
    crate::cmd::within_limits(&loaded.path, plan, args.size.force)?;
    // Several LPs: each is solved and printed even when another fails (as `compare`
    // does); a failed one is a row with its error, and the command then exits 1. One
    // LP: its failure is the command's error, before any file is written.
    let spinner = crate::cmd::progress::spinner(String::new());
    let n = objectives.len();
    let results = args
        .request
        .solve(g, &mut |phase| spinner.set_message(phase.to_string()));
    spinner.finish_and_clear();
    let results = results.with_context(|| loaded.path.display().to_string())?;
    let pictured: Vec<LpPicture> = (results.iter())
        .map(|(o, r)| {
            let r = r.as_ref().map(|s| (&s.solution, s.seconds));
            (*o, r.map_err(|e| e as &(dyn std::error::Error + 'static)))
        })
        .collect();
    if let Some((_, Ok((s, _)))) = pictured.first().filter(|_| single) {
        let p = provenance(&loaded, s.backend);
        if let Some(path) = &args.export_lp {
            outputs.stage(path, render::cplex_lp(market, g, s, &p));
        }
        if let (Some(path), Some(flow)) = (&args.flows, &s.flow) {
            outputs.stage(path, flows_csv::write_flows(market, g, flow));
        }
        if let (Some(path), Some(prices)) = (&args.prices, &s.prices) {
            outputs.stage(path, render::prices_csv(g, prices));
        }
    }
    if let Some(path) = &args.dot {
        outputs.stage(path, lp_dot(market, g, &pictured, Objective::title));
    }
    if let Some(path) = &args.report {
        // The backend of the first LP with a flow, as the report's pictures show it.
        let backend = (pictured.iter())
            .find_map(|(_, r)| r.as_ref().ok().filter(|(s, _)| s.flow.is_some()))
            .map_or(args.request.backend, |(s, _)| s.backend);
        let p = provenance(&loaded, backend);
        outputs.stage(path, lp_html(market, g, &pictured, Objective::title, &p));
    }
    outputs.commit()?;
    if args.json {
        let mut values = render::outcomes_json(g, &pictured, |b| provenance(&loaded, b));
        let value = match single {
            true => values.remove(0),
            false => serde_json::Value::Array(values),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!(
            "{}",
            render::outcomes_text(market, g, &pictured, args.verbose)
        );
    }
    let failed: Vec<&str> = (pictured.iter())
        .filter(|(_, r)| r.is_err())
        .map(|(o, _)| o.name())
        .collect();
    match failed.len() {
        0 => Ok(()),
        k if k == n => anyhow::bail!("{}: none of the {n} LPs was solved", loaded.path.display()),
        k => anyhow::bail!(
            "{}: {k} of {n} LPs not solved ({}); the others are printed above",
            loaded.path.display(),
            failed.join(", ")
        ),
    }
}
