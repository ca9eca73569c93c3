//! `brokerflow evaluate`: score a routing that anyone wrote against the market and
//! against the welfare optimum P3.

use anyhow::Context;
use brokerflow_graphs::formats::flows_csv::read_flows;
use brokerflow_solvers::lp::{evaluate::evaluate, Objective};
use brokerflow_solvers::workload;

use crate::cmd::{provenance, LoadedMarket};

/// `evaluate`'s arguments: the library's.
pub type Args = brokerflow_solvers::commands::EvaluateCommand;

/// Runs `evaluate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let loaded = LoadedMarket::load(&args.market)?;
    let (market, g) = (&loaded.market, &loaded.graph);
    crate::cmd::within_limits(
        &loaded.path,
        workload::check_plan(g, &[Objective::Welfare], None, &workload::Limits::DEFAULT),
        args.size.force,
    )?;
    let text = std::fs::read_to_string(&args.flows)
        .with_context(|| format!("{}: cannot read", args.flows.display()))?;
    let flows = args.flows.display().to_string();
    let (flow, issues) = read_flows(market, g, &text, &flows)?;
    let e = evaluate(g, &flow, &issues, args.backend)
        .with_context(|| format!("{}: the welfare optimum P3", loaded.path.display()))?;
    if args.json {
        let value = e.to_json(g, &flows, provenance(&loaded, e.backend));
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", e.to_text(market, g, &flows));
    }
    if e.feasible() {
        return Ok(());
    }
    // Exit code 4 for an infeasible routing, after its report is printed.
    Err(crate::cmd::Verdict {
        code: crate::cmd::EXIT_INFEASIBLE,
        message: format!(
            "the routing is infeasible ({} violation(s))",
            e.violations.len()
        ),
    }
    .into())
}
