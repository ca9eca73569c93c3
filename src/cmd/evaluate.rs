//! `brokerflow evaluate`: score a routing that anyone wrote against the market and
//! against the welfare optimum P3.

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_graphs::formats::flows_csv::read_flows;
use brokerflow_solvers::lp::{evaluate::evaluate, Backend, Objective};
use brokerflow_solvers::workload;

use crate::cmd::{provenance, LoadedMarket};

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
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON).
    pub market: PathBuf,
    /// The routing to score (CSV `commodity,from,to,flow`).
    #[arg(long, value_name = "FLOWS.csv")]
    pub flows: PathBuf,
    /// LP backend for the P3 optimum (see `brokerflow solve --help`).
    #[arg(long, default_value = "auto")]
    pub backend: Backend,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub size: crate::cmd::SizeArgs,
}

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
    let e = evaluate(g, &flow, &issues, args.backend)?;
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
