//! `brokerflow evaluate`: score a routing that anyone wrote against the market and
//! against the welfare optimum P3.

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_graphs::formats::flows_csv::read_flows;
use brokerflow_solvers::check::{check_flow, Tolerance};
use brokerflow_solvers::lp::{self, Backend, LpOptions, Objective, CHECK_TOLERANCE};
use brokerflow_solvers::measures::{percent_of_optimum, served_fraction};
use brokerflow_solvers::workload;
use serde_json::json;

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
    let (flow, issues) = read_flows(market, g, &text, &args.flows.display().to_string())?;
    let report = check_flow(g, &flow, Tolerance::new(CHECK_TOLERANCE));
    let mut violations: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    violations.extend(report.violations.iter().map(|v| v.to_string()));
    if report.omitted > 0 {
        violations.push(format!("… and {} more violations", report.omitted));
    }
    let feasible = violations.is_empty();
    let welfare = flow.welfare(g);
    let p3 = lp::max_welfare(
        g,
        &LpOptions {
            backend: args.backend,
            prices: false,
        },
    )?;
    let optimum = p3.welfare(g).expect("P3 is always bounded");
    // An infeasible routing's welfare is not comparable with the optimum: it may
    // exceed it by using capacity that does not exist.
    let pct = if feasible {
        percent_of_optimum(welfare, optimum)
    } else {
        brokerflow_solvers::measures::Measure {
            value: None,
            reason: Some("the routing is infeasible"),
        }
    };
    let served: Vec<f64> = (0..g.commodities.len())
        .map(|k| flow.served(g, k))
        .collect();
    if args.json {
        let value = json!({
            "feasible": feasible,
            "violations": violations,
            "max_conservation_residual": report.max_conservation_residual,
            "max_capacity_violation": report.max_capacity_violation,
            "max_demand_violation": report.max_demand_violation,
            "served": g.commodities.iter().zip(&served)
                .map(|(c, f)| (c.id.clone(), json!(f))).collect::<serde_json::Map<_, _>>(),
            "served_fraction": served_fraction(g, &flow),
            "welfare": welfare,
            "optimum": optimum,
            "percent_of_optimum": pct.value,
            "percent_of_optimum_reason": pct.reason,
            "tolerance": CHECK_TOLERANCE,
            "flows_file": args.flows.display().to_string(),
            "provenance": provenance(&loaded, p3.backend),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return verdict(feasible, violations.len());
    }
    println!(
        "routing {} on market '{}'",
        args.flows.display(),
        market.name
    );
    if feasible {
        println!(
            "  feasible (conservation, capacities and demands hold within relative {CHECK_TOLERANCE:e})"
        );
    } else {
        println!("  INFEASIBLE: {} violation(s):", violations.len());
        for v in &violations {
            println!("    {v}");
        }
    }
    println!("  served / demand per user:");
    for (c, f) in g.commodities.iter().zip(&served) {
        println!("    {}  {:.6} / {}", c.id, f, c.demand);
    }
    if !feasible {
        println!("  welfare W = {welfare:.6} (of an infeasible routing: not compared with the optimum W* (P3) = {optimum:.6})");
        return verdict(feasible, violations.len());
    }
    println!("  welfare W = {welfare:.6}");
    match pct.value {
        Some(p) => println!("  optimum W* (P3) = {optimum:.6}; this routing reaches {p:.2}% of it"),
        None => println!(
            "  optimum W* (P3) = {optimum:.6}; percent of optimum undefined: {}",
            pct.reason.unwrap_or("")
        ),
    }
    Ok(())
}

/// Exit code 4 for an infeasible routing, after its report is printed.
fn verdict(feasible: bool, violations: usize) -> anyhow::Result<()> {
    if feasible {
        return Ok(());
    }
    Err(crate::cmd::Verdict {
        code: crate::cmd::EXIT_INFEASIBLE,
        message: format!("the routing is infeasible ({violations} violation(s))"),
    }
    .into())
}
